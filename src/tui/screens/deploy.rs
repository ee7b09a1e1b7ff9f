//! Deploy: the overall gauge, each host's progress and current step, and
//! its log streaming live in split panes (all hosts, or one zoomed with
//! scroll-back). Quitting asks, then stops between steps.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};

use crate::tui::app::{App, Command, HostProgress};
use crate::tui::chrome::{Keys, SPINNER, Theme, block};

pub fn keys(app: &App) -> Keys {
    let mut k = vec![("↑↓", "wizard.key.choose"), ("z", "wizard.key.zoom")];
    if app.deploy.zoom {
        k.push(("PgUp/PgDn", "wizard.key.scroll"));
    }
    if !app.deploy.running {
        k.push(("Enter", "wizard.key.next"));
    }
    k
}

fn state_text(app: &App, h: &HostProgress) -> String {
    if let Some(e) = &h.failed {
        return format!("✗ {e}");
    }
    let label = h
        .current
        .as_deref()
        .map(|s| cdwiz::deploy::step_label(s, &app.locale));
    match (&label, h.bytes) {
        (Some(step), Some((sent, total))) if total > 0 => {
            format!("{step} {} / {} MB", sent / 1_000_000, total / 1_000_000)
        }
        (Some(step), _) => format!("{} {step}", SPINNER[app.spinner % SPINNER.len()]),
        (None, _) if h.total > 0 && h.finished >= h.total => {
            format!("✓ {}", app.t("wizard.deploy.host-done"))
        }
        (None, _) => app.t("wizard.deploy.waiting"),
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = Theme::of(app);
    let d = &app.deploy;
    let (done, total) = d.totals();
    let hosts_h = (d.hosts.len() as u16 + 2).min(area.height / 2).max(3);
    let [gauge, list, panes] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(hosts_h),
        Constraint::Min(3),
    ])
    .areas(area);
    let ratio = if total == 0 {
        0.0
    } else {
        done as f64 / total as f64
    };
    let label = if d.stopping {
        app.t("wizard.deploy.stopping")
    } else {
        format!("{done}/{total}")
    };
    f.render_widget(
        Gauge::default()
            .block(block(app.t("wizard.deploy.title")))
            .gauge_style(theme.pass())
            .ratio(ratio.clamp(0.0, 1.0))
            .label(label),
        gauge,
    );
    let mut lines = Vec::new();
    for (i, (host, h)) in d.hosts.iter().enumerate() {
        let label = if host == cdwiz::deploy::CLUSTER {
            app.t("deploy.cluster")
        } else {
            host.clone()
        };
        let bar_w = 10usize;
        let filled = (h.finished * bar_w)
            .checked_div(h.total)
            .unwrap_or(0)
            .min(bar_w);
        let text = format!(
            "{} [{}{}] {:>2}/{:<2} {}",
            cdwiz::i18n::pad(&label, 16),
            "#".repeat(filled),
            ".".repeat(bar_w - filled),
            h.finished,
            h.total,
            state_text(app, h)
        );
        let style = if i == d.selected {
            theme.focus()
        } else if h.failed.is_some() {
            theme.fail()
        } else {
            ratatui::style::Style::default()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    f.render_widget(
        Paragraph::new(lines).block(block(app.t(
            if app.answers.topology.kind == cdwiz::profile::TopologyKind::K8s {
                "wizard.deploy.components"
            } else {
                "wizard.deploy.hosts"
            },
        ))),
        list,
    );

    // Log panes: the zoomed host, or a grid of every host.
    let hosts: Vec<(&String, &HostProgress)> = d.hosts.iter().collect();
    if hosts.is_empty() {
        return;
    }
    let shown: Vec<(&String, &HostProgress)> = if d.zoom {
        vec![hosts[d.selected.min(hosts.len() - 1)]]
    } else {
        hosts
    };
    let n = shown.len();
    let cols = if panes.width >= 120 {
        3
    } else if n > 1 {
        2
    } else {
        1
    }
    .min(n);
    let rows = n.div_ceil(cols);
    let row_areas = Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(panes);
    for (r, row_area) in row_areas.iter().enumerate() {
        let cells =
            Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(*row_area);
        for c in 0..cols {
            let Some((host, h)) = shown.get(r * cols + c) else {
                continue;
            };
            let area = cells[c];
            let height = area.height.saturating_sub(2) as usize;
            let end = h
                .log
                .len()
                .saturating_sub(if d.zoom { d.scroll } else { 0 });
            let start = end.saturating_sub(height);
            let text: Vec<Line> = h
                .log
                .range(start..end)
                .map(|l| Line::from(l.clone()))
                .collect();
            let title = if host.as_str() == cdwiz::deploy::CLUSTER {
                app.t("deploy.cluster")
            } else {
                (*host).clone()
            };
            f.render_widget(Paragraph::new(text).block(block(title)), area);
        }
    }
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let n = app.deploy.hosts.len();
    let d = &mut app.deploy;
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => d.selected = d.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
            d.selected = (d.selected + 1).min(n.saturating_sub(1))
        }
        KeyCode::Char('z') => {
            d.zoom = !d.zoom;
            d.scroll = 0;
        }
        KeyCode::PageUp => d.scroll = d.scroll.saturating_add(10),
        KeyCode::PageDown => d.scroll = d.scroll.saturating_sub(10),
        KeyCode::End => d.scroll = 0,
        KeyCode::Enter => return app.next(),
        KeyCode::Char('r') => return app.retry(),
        _ => {}
    }
    None
}
