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
        lines.extend(labelled(app, "summary.url", url, area.width));
    }
    lines.extend(labelled(
        app,
        "summary.admin-user",
        &app.answers.settings.admin_user,
        area.width,
    ));
    lines.extend(labelled(
        app,
        "summary.credentials",
        o.secrets.display(),
        area.width,
    ));
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
        lines.extend(labelled(app, "summary.resume", "", area.width));
        lines.push(Line::from(Span::styled(
            format!("  cdwiz --profile {profile} --non-interactive --resume"),
            theme.title(),
        )));
    }
    lines.extend(labelled(
        app,
        "summary.run-dir",
        o.run_dir.display(),
        area.width,
    ));
    lines.extend(labelled(
        app,
        "wizard.summary.report",
        o.summary.display(),
        area.width,
    ));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(app.t("wizard.summary.title"))),
        area,
    );
}

/// `label: value` with the operator's language's colon; the value on a
/// line of its own when both do not fit in `width` (a path is not broken).
fn labelled(app: &App, key: &str, value: impl std::fmt::Display, width: u16) -> Vec<Line<'static>> {
    let value = value.to_string();
    let line = |v: &str| {
        cdwiz::i18n::Msg::new("wizard.labelled")
            .arg("label", app.t(key))
            .arg("value", v)
            .render(&app.locale)
            .trim_end()
            .to_string()
    };
    let whole = line(&value);
    if unicode_width::UnicodeWidthStr::width(whole.as_str()) + 2 <= width as usize {
        return vec![Line::from(whole)];
    }
    vec![Line::from(line("")), Line::from(format!("  {value}"))]
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Enter => app.next(),
        KeyCode::Char('r') => app.retry(),
        _ => None,
    }
}
