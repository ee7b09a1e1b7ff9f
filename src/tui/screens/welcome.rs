//! Welcome: what cdwiz does, the language, and how to start.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::{App, Command};
use crate::tui::chrome::{Keys, Theme, block};

pub fn keys(_: &App) -> Keys {
    vec![
        ("Enter", "wizard.key.start"),
        ("↑↓", "wizard.key.choose"),
        ("l", "wizard.key.language"),
    ]
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = Theme::of(app);
    let [intro, info] = Layout::vertical([Constraint::Min(6), Constraint::Length(10)]).areas(area);
    let mut lines = vec![
        Line::from(Span::styled(app.t("wizard.welcome.heading"), theme.title())),
        Line::default(),
        Line::from(app.t("wizard.welcome.intro")),
        Line::default(),
    ];
    for (i, k) in [
        "wizard.welcome.step1",
        "wizard.welcome.step2",
        "wizard.welcome.step3",
    ]
    .iter()
    .enumerate()
    {
        lines.push(Line::from(format!("  {}. {}", i + 1, app.t(k))));
    }
    // After Status: its lines in place of the introduction.
    let (lines, title) = match &app.status {
        Some(status) => (
            status.iter().map(|l| Line::from(l.clone())).collect(),
            app.t("wizard.welcome.status-title"),
        ),
        None => (lines, app.t("wizard.welcome.title")),
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(title)),
        intro,
    );
    let profile = match &app.profile {
        Some(p) => format!("{} {}", app.t("wizard.welcome.profile"), p.display()),
        None => app.t("wizard.welcome.no-profile"),
    };
    let lang = format!(
        "{} {}",
        app.t("wizard.welcome.language"),
        if app.locale == "zh-CN" {
            "简体中文 (l: English)"
        } else {
            "English (l: 简体中文)"
        }
    );
    let mut lines = vec![Line::from(profile), Line::from(lang), Line::default()];
    for (i, a) in app.welcome_actions().iter().enumerate() {
        let mut text = app.t(a);
        if *a == "wizard.welcome.action-resume"
            && let Some((_, run)) = &app.resumable
        {
            text = format!("{text} ({run})");
        }
        lines.push(if i == app.welcome_row {
            Line::from(Span::styled(format!("▶ {text}"), theme.focus()))
        } else {
            Line::from(format!("  {text}"))
        });
    }
    lines.push(Line::from(Span::styled(
        app.t("wizard.welcome.press-enter"),
        theme.pass(),
    )));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(String::new())),
        info,
    );
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Enter => app.welcome_choose(),
        KeyCode::Up | KeyCode::Char('k') => {
            app.welcome_row = app.welcome_row.saturating_sub(1);
            None
        }
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
            app.welcome_row = (app.welcome_row + 1).min(app.welcome_actions().len() - 1);
            None
        }
        KeyCode::Char('l') => {
            app.locale = if app.locale == "zh-CN" {
                "en".into()
            } else {
                "zh-CN".into()
            };
            None
        }
        _ => None,
    }
}
