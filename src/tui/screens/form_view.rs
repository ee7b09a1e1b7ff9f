//! Draws a form: each field with its label, its input and, below it, the
//! first validation problem for its path (the same rules as `cdwiz
//! validate`), updated as the operator types.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::tui::app::App;
use crate::tui::chrome::Theme;
use crate::tui::form::{Form, Kind};

/// Rows a field takes: multi-line inputs get a box.
fn height(kind: Kind) -> u16 {
    match kind {
        Kind::Multi => 7,
        _ => 2,
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, form: &Form, extra: &[(String, String)]) {
    let theme = Theme::of(app);
    let mut constraints: Vec<Constraint> = form
        .fields
        .iter()
        .map(|fl| Constraint::Length(height(fl.kind)))
        .collect();
    constraints.push(Constraint::Length(1));
    constraints.push(Constraint::Min(0));
    let rows = Layout::vertical(constraints).split(area);
    let label_w = form
        .fields
        .iter()
        .filter(|fl| fl.kind != Kind::Multi)
        .map(|fl| unicode_width::UnicodeWidthStr::width(app.t(fl.label).as_str()))
        .max()
        .unwrap_or(10) as u16
        + 2;
    for (i, field) in form.fields.iter().enumerate() {
        let focused = form.focus == i;
        let row = rows[i];
        let problem = app
            .problems
            .iter()
            .find(|p| {
                p.path == field.path
                    || (p.path.starts_with(field.path)
                        && p.path[field.path.len()..].starts_with(['[', '.']))
                    || (field.path.starts_with("hosts.")
                        && p.path.starts_with("hosts[")
                        && p.path.ends_with(&field.path["hosts".len()..]))
            })
            .map(|p| p.message.render(&app.locale))
            .or_else(|| {
                extra
                    .iter()
                    .find(|(path, _)| path == field.path)
                    .map(|(_, m)| m.clone())
            });
        let label_style = if focused {
            theme.focus()
        } else {
            theme.title()
        };
        if field.kind == Kind::Multi {
            let [boxed, note] =
                Layout::vertical([Constraint::Length(6), Constraint::Length(1)]).areas(row);
            let mut input = field.input.clone();
            input.set_block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Span::styled(app.t(field.label), label_style)),
            );
            if !focused {
                input.set_cursor_style(ratatui::style::Style::default());
            }
            f.render_widget(&input, boxed);
            if let Some(p) = problem {
                f.render_widget(
                    Paragraph::new(Span::styled(format!("  ✗ {p}"), theme.fail())),
                    note,
                );
            }
            continue;
        }
        let [line, note] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(row);
        let [label, value] =
            Layout::horizontal([Constraint::Length(label_w), Constraint::Min(4)]).areas(line);
        f.render_widget(
            Paragraph::new(Span::styled(app.t(field.label), label_style)),
            label,
        );
        if field.kind == Kind::Toggle {
            let mark = if field.checked { "[x]" } else { "[ ]" };
            f.render_widget(
                Paragraph::new(format!("{mark} {}", app.t("wizard.toggle-hint"))),
                value,
            );
        } else {
            let mut input = field.input.clone();
            if !focused {
                input.set_cursor_style(ratatui::style::Style::default());
            }
            input.set_cursor_line_style(ratatui::style::Style::default());
            f.render_widget(&input, value);
        }
        if let Some(p) = problem {
            f.render_widget(
                Paragraph::new(Span::styled(format!("  ✗ {p}"), theme.fail())),
                note,
            );
        }
    }
    let button = format!("[ {} ]", app.t("wizard.button.next"));
    let style = if form.on_button() {
        theme.focus()
    } else {
        theme.title()
    };
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(button, style))),
        rows[form.fields.len()],
    );
}
