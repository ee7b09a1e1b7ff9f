//! Hosts: the addresses (one per line; a pasted list becomes host rows),
//! how to log in (the password masked, never saved), the data disk; the
//! parsed hosts with their roles beside.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use cdwiz::profile::Role;

use super::form_view;
use crate::tui::app::{App, Command};
use crate::tui::chrome::{Keys, Theme, block};
use crate::tui::form::FormKey;

pub fn keys(_: &App) -> Keys {
    vec![
        ("Tab", "wizard.key.next-field"),
        ("Ctrl-R", "wizard.key.roles"),
        ("Enter", "wizard.key.next"),
    ]
}

/// Problems that are not profile validation: a password to log in with.
fn extra(app: &App) -> Vec<(String, String)> {
    if app.needs_password() {
        vec![("ssh.password".into(), app.t("wizard.hosts.password-needed"))]
    } else {
        Vec::new()
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = Theme::of(app);
    let [form, table] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let inner = block(app.t("wizard.hosts.title"));
    let form_area = inner.inner(form);
    f.render_widget(inner, form);
    form_view::draw(f, form_area, app, &app.hosts_form, &extra(app));
    let mut lines = Vec::new();
    for h in &app.answers.hosts {
        let roles: Vec<String> = h
            .roles
            .iter()
            .map(|r| {
                app.t(match r {
                    Role::Master => "wizard.role.master",
                    Role::Worker => "wizard.role.worker",
                })
            })
            .collect();
        let bad = app
            .problems
            .iter()
            .any(|p| p.path.starts_with("hosts[") && p.message.render("en").contains(&h.address));
        let mark = if bad {
            Span::styled("✗ ", theme.fail())
        } else {
            Span::styled("✓ ", theme.pass())
        };
        lines.push(Line::from(vec![
            mark,
            Span::raw(format!("{:<16} {}", h.address, roles.join("+"))),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            app.t("wizard.hosts.none"),
            theme.dim(),
        )));
    }
    lines.push(Line::default());
    for p in app.problems_for(&["hosts", "ssh"]).iter().take(4) {
        lines.push(Line::from(Span::styled(
            format!("✗ {}: {}", p.path, p.message.render(&app.locale)),
            theme.fail(),
        )));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block(format!(
                "{} ({})",
                app.t("wizard.hosts.list"),
                app.answers.hosts.len()
            ))),
        table,
    );
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('r') {
        app.cycle_roles();
        return None;
    }
    match app.hosts_form.on_key(key) {
        FormKey::Edited => {
            app.sync();
            None
        }
        FormKey::Next => app.next(),
        _ => None,
    }
}
