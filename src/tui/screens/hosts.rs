//! Hosts: the addresses (one per line; a pasted list becomes host rows),
//! how to log in (the password masked, never saved), the data disk; the
//! parsed hosts with their roles and own values beside. Ctrl-E edits the
//! cursor line's host (Ctrl-A gives the focused value to every host),
//! Ctrl-L the login of all (auth, key file, sudo password, bastion).

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

pub fn keys(app: &App) -> Keys {
    if app.dialog.is_some() {
        return vec![
            ("Enter", "wizard.key.apply"),
            ("Ctrl-A", "wizard.key.apply-all"),
            ("Esc", "wizard.key.cancel"),
        ];
    }
    vec![
        ("Tab", "wizard.key.next-field"),
        ("Ctrl-R", "wizard.key.roles"),
        ("Ctrl-E", "wizard.key.host-edit"),
        ("Ctrl-L", "wizard.key.login"),
        ("Enter", "wizard.key.next"),
    ]
}

/// Problems that are not profile validation: a password to log in with.
fn extra(app: &App) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if app.needs_password() {
        out.push(("ssh.password".into(), app.t("wizard.hosts.password-needed")));
    }
    let missing = app.hosts_without_password();
    if !missing.is_empty() {
        out.push((
            "hosts".into(),
            cdwiz::i18n::Msg::new("wizard.hosts.host-password-needed")
                .arg("hosts", missing.join(", "))
                .render(&app.locale),
        ));
    }
    out
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
    let login_shown = |h: &cdwiz::profile::Host| {
        let l = app.answers.login(h);
        let mut extra = Vec::new();
        if l.user != app.answers.ssh.user || l.port != app.answers.ssh.port {
            extra.push(format!("{}:{}", l.user, l.port));
        }
        if let Some(d) = &h.data_disk {
            extra.push(d.clone());
        }
        if h.data_dir != "/data" {
            extra.push(h.data_dir.clone());
        }
        extra.join(" ")
    };
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
            Span::styled(format!(" {}", login_shown(h)), theme.dim()),
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
    if let Some(d) = &app.dialog {
        let rows = d.form.fields.len() as u16 * 2 + 3;
        // On a narrow screen the dialog takes the whole width: a wide
        // (Chinese) character under its left edge would break the border.
        let width = if f.area().width < 100 {
            f.area().width
        } else {
            64
        };
        let area = crate::tui::chrome::centered(f.area(), width, rows);
        f.render_widget(ratatui::widgets::Clear, area);
        let (key, what) = d.title();
        let outer = block(format!("{} {what}", app.t(key)).trim_end().to_string());
        let inner = outer.inner(area);
        f.render_widget(outer, area);
        form_view::draw(f, inner, app, &d.form, &[]);
    }
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if let Some(d) = &mut app.dialog {
        if ctrl && key.code == KeyCode::Char('a') {
            app.apply_dialog(true);
            return None;
        }
        if d.form.on_key(key) == FormKey::Next {
            app.apply_dialog(false);
        }
        return None;
    }
    if ctrl && key.code == KeyCode::Char('r') {
        app.cycle_roles();
        return None;
    }
    if ctrl && key.code == KeyCode::Char('e') {
        app.edit_host();
        return None;
    }
    if ctrl && key.code == KeyCode::Char('l') {
        app.edit_login();
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
