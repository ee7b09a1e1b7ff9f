//! Settings: what the topology needs (VIP, interface, router id; the load
//! balancer; the cluster), the administrator, time zone and bundle.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::form_view;
use crate::tui::app::{App, Command};
use crate::tui::chrome::{Keys, block};
use crate::tui::form::FormKey;

pub fn keys(_: &App) -> Keys {
    vec![
        ("Tab", "wizard.key.next-field"),
        ("Enter", "wizard.key.next"),
    ]
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let b = block(format!(
        "{} — {}",
        app.t("wizard.settings.title"),
        app.t(&format!(
            "wizard.topology.{}",
            app.answers.topology.kind.as_str()
        ))
    ));
    let inner = b.inner(area);
    f.render_widget(b, area);
    form_view::draw(f, inner, app, &app.settings_form, &[]);
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match app.settings_form.on_key(key) {
        FormKey::Edited => {
            app.sync();
            None
        }
        FormKey::Next => app.next(),
        _ => None,
    }
}
