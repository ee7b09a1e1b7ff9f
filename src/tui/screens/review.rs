//! Review: the rendered configuration as a tree of files with a preview;
//! save the answers as a profile (without the password).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::{App, Command};
use crate::tui::chrome::{Keys, Theme, block};

pub fn keys(_: &App) -> Keys {
    vec![
        ("↑↓", "wizard.key.choose"),
        ("PgUp/PgDn", "wizard.key.scroll"),
        ("s", "wizard.key.save"),
        ("Enter", "wizard.key.deploy"),
    ]
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = Theme::of(app);
    let files = match &app.rendered {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            f.render_widget(
                Paragraph::new(app.t("wizard.review.rendering"))
                    .block(block(app.t("wizard.review.title"))),
                area,
            );
            return;
        }
        Err(e) => {
            f.render_widget(
                Paragraph::new(Span::styled(e.clone(), theme.fail()))
                    .wrap(Wrap { trim: true })
                    .block(block(app.t("wizard.review.title"))),
                area,
            );
            return;
        }
    };
    let [tree, preview] =
        Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(area);
    let mut lines = membership_lines(app, &theme);
    let mut last_dir = String::new();
    for (i, file) in files.iter().enumerate() {
        let path = file.path.display().to_string();
        let (dir, name) = match path.split_once('/') {
            Some((d, n)) => (d.to_string(), n.to_string()),
            None => (String::new(), path.clone()),
        };
        if dir != last_dir {
            lines.push(Line::from(Span::styled(format!("{dir}/"), theme.title())));
            last_dir = dir;
        }
        let text = format!("  {name}");
        lines.push(if i == app.review_row {
            Line::from(Span::styled(text, theme.focus()))
        } else {
            Line::from(text)
        });
    }
    // Keep the selected file in view.
    let height = tree.height.saturating_sub(2) as usize;
    let sel_line = lines
        .iter()
        .position(|l| l.style == theme.focus() || l.spans.iter().any(|s| s.style == theme.focus()))
        .unwrap_or(0);
    let skip = sel_line.saturating_sub(height.saturating_sub(1));
    f.render_widget(
        Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()).block(block(format!(
            "{} ({})",
            app.t("wizard.review.files"),
            files.len()
        ))),
        tree,
    );
    let file = &files[app.review_row.min(files.len() - 1)];
    f.render_widget(
        Paragraph::new(file.content.clone())
            .scroll((app.review_scroll, 0))
            .block(block(file.path.display().to_string())),
        preview,
    );
}

/// Which hosts join, stay and leave the installation (nothing for a
/// first install).
fn membership_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let Some(m) = app.membership.as_ref().filter(|m| !m.is_first()) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for (key, hosts, style) in [
        ("wizard.review.new", &m.new, theme.pass()),
        ("wizard.review.kept", &m.kept, theme.title()),
        ("wizard.review.removed", &m.removed, theme.fail()),
    ] {
        if !hosts.is_empty() {
            lines.push(Line::from(vec![
                Span::styled(app.t(key), style),
                Span::raw(format!(" {}", hosts.join(", "))),
            ]));
        }
    }
    if !m.removed.is_empty() {
        lines.push(Line::from(Span::styled(
            app.t("wizard.review.removed-hint"),
            theme.fail(),
        )));
    }
    lines.push(Line::from(""));
    lines
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let n = app.rendered.as_ref().map(|f| f.len()).unwrap_or(0);
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.review_row = app.review_row.saturating_sub(1);
            app.review_scroll = 0;
        }
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
            app.review_row = (app.review_row + 1).min(n.saturating_sub(1));
            app.review_scroll = 0;
        }
        KeyCode::PageDown => app.review_scroll = app.review_scroll.saturating_add(10),
        KeyCode::PageUp => app.review_scroll = app.review_scroll.saturating_sub(10),
        KeyCode::Char('s') => {
            return Some(Command::SaveProfile(app.profile_path()));
        }
        KeyCode::Enter => return app.next(),
        _ => {}
    }
    None
}
