//! Checks: a grid of checks × hosts filling in live, the selected cell's
//! detail with its hint and fix command; fails block, warns need an
//! explicit accept.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use cdwiz::checks::{CATALOGUE, CheckResult, Status};

use crate::tui::app::{App, Command};
use crate::tui::chrome::{Keys, SPINNER, Theme, block};

pub fn keys(app: &App) -> Keys {
    if app.waiving.is_some() {
        return vec![("Enter", "wizard.key.accept"), ("Esc", "wizard.key.cancel")];
    }
    let mut k = vec![("←↑↓→", "wizard.key.move")];
    if !is_cluster(app) {
        k.push(("r", "wizard.key.rerun-host"));
    }
    k.extend([("R", "wizard.key.rerun"), ("w", "wizard.key.waive")]);
    if app.checks.count(Status::Warn) > 0 {
        k.push(("a", "wizard.key.accept-warns"));
    }
    k.push(("Enter", "wizard.key.next"));
    k
}

/// Rows: the host checks (id, whether it runs across hosts), or on a
/// Kubernetes cluster the cluster checks (all in the one `*` column).
pub fn rows(app: &App) -> Vec<(&'static str, bool)> {
    if is_cluster(app) {
        cdwiz::catalogue::CLUSTER_CHECKS
            .iter()
            .map(|id| (*id, true))
            .collect()
    } else {
        CATALOGUE.iter().map(|d| (d.id, d.cross_host)).collect()
    }
}

fn is_cluster(app: &App) -> bool {
    app.answers.topology.kind == cdwiz::profile::TopologyKind::K8s
}

/// Columns: the hosts, then `*` for checks across hosts (on a cluster,
/// only `*`: the cluster).
pub fn columns(app: &App) -> Vec<String> {
    if is_cluster(app) {
        return vec!["*".into()];
    }
    let mut c: Vec<String> = app
        .answers
        .hosts
        .iter()
        .map(|h| h.address.clone())
        .collect();
    c.push("*".into());
    c
}

/// The selected cell: check id and column (host, or `*`).
pub fn selected(app: &App) -> Option<(String, String)> {
    let id = rows(app).get(app.checks.row)?.0.to_string();
    let host = columns(app).get(app.checks.col)?.clone();
    Some((id, host))
}

fn cell<'a>(app: &'a App, id: &str, host: &str) -> Option<&'a CheckResult> {
    app.checks.results.get(&(id.to_string(), host.to_string()))
}

fn symbol(app: &App, r: Option<&CheckResult>, theme: &Theme) -> Span<'static> {
    match r {
        None if app.checks.running => Span::raw(SPINNER[app.spinner % SPINNER.len()]),
        None => Span::raw(" "),
        Some(r) if r.waived.is_some() => Span::styled("~", theme.warn()),
        Some(r) => match r.status {
            Status::Pass => Span::styled("✓", theme.pass()),
            Status::Warn => Span::styled("!", theme.warn()),
            Status::Fail => Span::styled("✗", theme.fail()),
            Status::Skip => Span::styled("-", theme.dim()),
        },
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let theme = Theme::of(app);
    let [grid, detail] = Layout::vertical([Constraint::Min(5), Constraint::Length(7)]).areas(area);
    let cols = columns(app);
    draw_grid(f, grid, app, &theme, &cols);
    let id = rows(app).get(app.checks.row).map(|r| r.0).unwrap_or("");
    let host = cols.get(app.checks.col).cloned().unwrap_or_default();
    draw_detail(f, detail, app, &theme, id, &host);
    if let Some(field) = &app.waiving {
        let area = crate::tui::chrome::centered(f.area(), 70, 3);
        f.render_widget(ratatui::widgets::Clear, area);
        let mut input = field.input.clone();
        input.set_block(block(format!(
            "{} {id} @ {host}",
            app.t("wizard.checks.reason")
        )));
        f.render_widget(&input, area);
    }
}

/// The running spinner, or the counts once the checks are done.
fn title(app: &App) -> String {
    if app.checks.running {
        format!(
            "{} {}",
            app.t(if is_cluster(app) {
                "wizard.checks.running-cluster"
            } else {
                "wizard.checks.running"
            }),
            SPINNER[app.spinner % SPINNER.len()]
        )
    } else {
        cdwiz::i18n::Msg::new("wizard.checks.summary")
            .arg("pass", app.checks.count(Status::Pass))
            .arg("warn", app.checks.count(Status::Warn))
            .arg("fail", app.checks.count(Status::Fail))
            .render(&app.locale)
    }
}

/// Checks down, hosts across, one symbol per cell; the selected cell focused.
fn draw_grid(f: &mut Frame, grid: Rect, app: &App, theme: &Theme, cols: &[String]) {
    let b = block(title(app));
    let inner = b.inner(grid);
    f.render_widget(b, grid);
    let col_w = if is_cluster(app) { 10usize } else { 6usize };
    // The titles take what the host columns leave, between 14 and 30 columns.
    let width = inner.width as usize;
    let id_w = width
        .saturating_sub(col_w * cols.len())
        .clamp(14, 30)
        .min(width);
    // Hosts that do not fit scroll sideways with the selection.
    let fit = ((width - id_w) / col_w).max(1);
    let first_col = app.checks.col.saturating_sub(fit - 1);
    let shown = first_col..(first_col + fit).min(cols.len());
    let more_left = first_col > 0;
    let more_right = shown.end < cols.len();
    let mut header = vec![Span::raw(fit_to(
        match (more_left, more_right) {
            (true, true) => "«  »",
            (true, false) => "«",
            (false, true) => "»",
            (false, false) => "",
        },
        id_w,
    ))];
    for c in &cols[shown.clone()] {
        // The last part of the address tells the hosts apart.
        let short = if c == "*" && is_cluster(app) {
            app.t("deploy.cluster")
        } else if c == "*" {
            "*".to_string()
        } else {
            let tail: String = c.rsplit(['.', ':']).next().unwrap_or(c).to_string();
            format!(".{tail}")
        };
        let w = unicode_width::UnicodeWidthStr::width(short.as_str()).min(col_w);
        let left = (col_w - w) / 2;
        let centred = format!(
            "{}{short}{}",
            " ".repeat(left),
            " ".repeat(col_w - w - left)
        );
        header.push(Span::styled(centred, theme.title()));
    }
    let visible = (inner.height as usize).saturating_sub(1).max(1);
    let first = app.checks.row.saturating_sub(visible.saturating_sub(1));
    let mut lines = vec![Line::from(header)];
    for (i, (id, cross_host)) in rows(app).into_iter().enumerate().skip(first).take(visible) {
        let selected_row = i == app.checks.row;
        // The check's title in the operator's language; its id is on the
        // detail line.
        let name = fit_to(&app.t(&format!("check.{id}.title")), id_w);
        let mut spans = vec![if selected_row {
            Span::styled(name, theme.title())
        } else {
            Span::raw(name)
        }];
        for (j, c) in cols.iter().enumerate().skip(shown.start).take(shown.len()) {
            let applies = (c == "*") == cross_host;
            let sym = if applies {
                symbol(app, cell(app, id, c), theme)
            } else {
                Span::raw(" ")
            };
            let pad_l = (col_w - 1) / 2;
            let pad_r = col_w - 1 - pad_l;
            let style = if selected_row && j == app.checks.col {
                theme.focus()
            } else {
                sym.style
            };
            spans.push(Span::styled(
                format!("{}{}{}", " ".repeat(pad_l), sym.content, " ".repeat(pad_r)),
                style,
            ));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// `text` cut or padded to exactly `width` terminal columns (a Chinese
/// character takes two), with `…` where it was cut; one column of gap kept.
fn fit_to(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let room = width.saturating_sub(1);
    if unicode_width::UnicodeWidthStr::width(text) <= room {
        return cdwiz::i18n::pad(text, width);
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w + 1 > room {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    cdwiz::i18n::pad(&out, width)
}

/// The selected cell: its detail, hint and fix.
fn draw_detail(f: &mut Frame, detail: Rect, app: &App, theme: &Theme, id: &str, host: &str) {
    let mut text = vec![Line::from(Span::styled(
        if is_cluster(app) {
            format!("{id}: {}", app.t(&format!("check.{id}.title")))
        } else {
            format!("{id} @ {host}: {}", app.t(&format!("check.{id}.title")))
        },
        theme.title(),
    ))];
    match cell(app, id, host) {
        Some(r) => {
            text.push(Line::from(r.detail.render(&app.locale)));
            if let Some(reason) = &r.waived {
                let m = cdwiz::i18n::Msg::new("wizard.checks.waived").arg("reason", reason);
                text.push(Line::from(Span::styled(
                    m.render(&app.locale),
                    theme.warn(),
                )));
            }
            if let Some(h) = &r.hint {
                text.push(Line::from(Span::styled(
                    h.render(&app.locale),
                    theme.warn(),
                )));
            }
            if let Some(fix) = &r.fix {
                text.push(Line::from(format!("{} {fix}", app.t("wizard.checks.fix"))));
            }
        }
        None => {
            // A cell that no check lands in says where to look instead.
            let cross = rows(app).iter().any(|(r, cross)| *r == id && *cross);
            let key = match (cross, host == "*") {
                (true, false) => "wizard.checks.across-hosts",
                (false, true) => "wizard.checks.per-host",
                _ => "wizard.checks.pending",
            };
            text.push(Line::from(Span::styled(app.t(key), theme.dim())))
        }
    }
    if let Some(n) = &app.checks.note {
        for l in n.lines() {
            text.push(Line::from(Span::styled(l.to_string(), theme.dim())));
        }
    }
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block(app.t("wizard.checks.detail"))),
        detail,
    );
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    if let Some(field) = &mut app.waiving {
        if key.code == KeyCode::Enter {
            app.finish_waiver();
        } else {
            field.input.input(key);
        }
        return None;
    }
    if key.code == KeyCode::Char('w') && !app.checks.running {
        app.start_waiver();
        return None;
    }
    let cols = columns(app).len();
    let last_row = rows(app).len().saturating_sub(1);
    let c = &mut app.checks;
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => c.row = c.row.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => c.row = (c.row + 1).min(last_row),
        KeyCode::Left | KeyCode::Char('h') | KeyCode::BackTab => c.col = c.col.saturating_sub(1),
        KeyCode::Right | KeyCode::Char('l') | KeyCode::Tab => c.col = (c.col + 1).min(cols - 1),
        KeyCode::Char('a') if !c.running => c.warns_accepted = true,
        KeyCode::Char('R') if !c.running => {
            *c = Default::default();
            c.running = true;
            return Some(Command::RunChecks);
        }
        KeyCode::Char('r') if !c.running => {
            // The selected column's host; on `*`, every host.
            let cols = columns(app);
            let c = &mut app.checks;
            let host = cols.get(c.col).cloned().unwrap_or_default();
            if host == "*" {
                *c = Default::default();
                c.running = true;
                return Some(Command::RunChecks);
            }
            c.results.retain(|(_, h), _| *h != host);
            c.running = true;
            c.only = Some(host.clone());
            return Some(Command::RunChecksFor(host));
        }
        KeyCode::Enter => return app.next(),
        _ => {}
    }
    None
}
