//! Summary: success with the URL and where everything is, or the failing
//! host, step and last log lines with the one command that resumes.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::{App, Command};
use crate::tui::chrome::{Keys, Theme, block};

pub fn keys(app: &App) -> Keys {
    if app.outcome.as_ref().is_some_and(|o| !o.ok) {
        vec![("r", "wizard.key.retry"), ("Enter", "wizard.key.finish")]
    } else {
        vec![("Enter", "wizard.key.finish")]
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = Theme::of(app);
    let Some(o) = &app.outcome else {
        f.render_widget(
            Paragraph::new("").block(block(app.t("wizard.summary.title"))),
            area,
        );
        return;
    };
    let mut lines = Vec::new();
    let (title, style) = if o.ok {
        (app.t("summary.title-ok"), theme.pass())
    } else if o.cancelled {
        (app.t("summary.title-stopped"), theme.warn())
    } else {
        (app.t("summary.title-failed"), theme.fail())
    };
    lines.push(Line::from(Span::styled(
        format!("{} ({:.0} s)", title, o.secs),
        style,
    )));
    lines.push(Line::default());
    if let Some(url) = &o.url {
        lines.push(Line::from(format!("{}: {url}", app.t("summary.url"))));
    }
    lines.push(Line::from(format!(
        "{}: {}",
        app.t("summary.admin-user"),
        app.answers.settings.admin_user
    )));
    lines.push(Line::from(format!(
        "{}: {}",
        app.t("summary.credentials"),
        o.secrets.display()
    )));
    for (host, step, message, last) in &o.failures {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            cdwiz::i18n::Msg::new("headless.failure")
                .arg("host", host)
                .arg("step", cdwiz::deploy::step_label(step, &app.locale))
                .arg(
                    "phase",
                    cdwiz::deploy::phase_label(cdwiz::deploy::phase_of(step), &app.locale),
                )
                .arg("error", message)
                .render(&app.locale),
            theme.fail(),
        )));
        for l in last.iter().rev().take(5).rev() {
            lines.push(Line::from(Span::styled(format!("    {l}"), theme.dim())));
        }
    }
    lines.push(Line::default());
    if !o.ok {
        let profile = app.profile_path().display().to_string();
        lines.push(Line::from(format!("{}:", app.t("summary.resume"))));
        lines.push(Line::from(Span::styled(
            format!("  cdwiz --profile {profile} --non-interactive --resume"),
            theme.title(),
        )));
    }
    lines.push(Line::from(format!(
        "{}: {}",
        app.t("summary.run-dir"),
        o.run_dir.display()
    )));
    lines.push(Line::from(format!(
        "{}: {}",
        app.t("wizard.summary.report"),
        o.summary.display()
    )));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(app.t("wizard.summary.title"))),
        area,
    );
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Enter => app.next(),
        KeyCode::Char('r') => app.retry(),
        _ => None,
    }
}
