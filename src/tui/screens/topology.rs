//! Topology: one of four, each with a diagram and what it needs.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::{App, Command, TOPOLOGIES};
use crate::tui::chrome::{Keys, Theme, block};

pub fn keys(_: &App) -> Keys {
    vec![("↑↓", "wizard.key.choose"), ("Enter", "wizard.key.next")]
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = Theme::of(app);
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(area);
    let lines: Vec<Line> = TOPOLOGIES
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mark = if i == app.topology_row { "▶ " } else { "  " };
            let text = format!(
                "{mark}{}",
                app.t(&format!("wizard.topology.{}", k.as_str()))
            );
            if i == app.topology_row {
                Line::from(Span::styled(text, theme.focus()))
            } else {
                Line::from(text)
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(block(app.t("wizard.topology.title"))),
        list,
    );
    let kind = TOPOLOGIES[app.topology_row].as_str();
    let mut text = vec![
        Line::from(app.t(&format!("wizard.topology.{kind}.about"))),
        Line::default(),
    ];
    for l in diagram(app, kind) {
        text.push(Line::from(Span::styled(l.to_string(), theme.title())));
    }
    text.push(Line::default());
    text.push(Line::from(app.t(&format!("wizard.topology.{kind}.needs"))));
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(block(app.t(&format!("wizard.topology.{kind}")))),
        detail,
    );
}

/// The topology as a small picture, its words in the operator's language
/// (`wizard.diagram.*`).
fn diagram(app: &App, kind: &str) -> Vec<String> {
    let t = |k: &str| app.t(&format!("wizard.diagram.{k}"));
    let masters = || {
        let m = format!("[{}]", t("master"));
        format!(" {m} {m} {m}")
    };
    match kind {
        "single" => vec![format!("  [ {} ]", t("single"))],
        "ha-keepalived" => vec![
            format!("        {}", t("vip")),
            "      /       |       \\".to_string(),
            masters(),
        ],
        "ha-lb" => vec![
            format!("     {}", t("lb")),
            "      /       |       \\".to_string(),
            masters(),
        ],
        _ => vec![format!("  {}", t("k8s"))],
    }
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.topology_row = app.topology_row.saturating_sub(1);
            None
        }
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
            app.topology_row = (app.topology_row + 1).min(TOPOLOGIES.len() - 1);
            None
        }
        KeyCode::Enter => app.next(),
        _ => None,
    }
}
