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
    // The release and membership lines wrap to the tree's width.
    let width = tree.width.saturating_sub(2).max(10) as usize;
    let mut lines: Vec<Line<'static>> = membership_lines(app, &theme)
        .into_iter()
        .chain(cluster_lines(app, &theme))
        .chain(source_lines(app, &theme))
        .flat_map(|l| wrap(l, width))
        .collect();
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

/// The clusters the components form, grouped by the hosts they span
/// and the losses they survive (one line each, however many components).
fn cluster_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    if app.clusters.is_empty() {
        return Vec::new();
    }
    let mut groups: Vec<(Vec<String>, u32, Vec<String>)> = Vec::new();
    for c in &app.clusters {
        let members: Vec<String> = c.members.iter().map(|m| m.address.clone()).collect();
        match groups
            .iter_mut()
            .find(|(m, t, _)| *m == members && *t == c.tolerates)
        {
            Some((_, _, names)) => names.push(c.component.clone()),
            None => groups.push((members, c.tolerates, vec![c.component.clone()])),
        }
    }
    let mut out = vec![Line::from(Span::styled(
        app.t("wizard.review.clusters"),
        theme.title(),
    ))];
    for (members, tolerates, names) in groups {
        let m = cdwiz::i18n::Msg::new("wizard.review.cluster")
            .arg("names", names.join(", "))
            .arg("members", members.join(", "))
            .arg("tolerates", tolerates);
        out.push(Line::from(format!("  {}", m.render(&app.locale))));
    }
    out.push(Line::from(""));
    out
}

/// What the run takes from this machine: each variable and file, the
/// files' hashes (not a secret's).
fn source_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    if app.sources.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Line::from(Span::styled(
        app.t("wizard.review.sources"),
        theme.title(),
    ))];
    for s in &app.sources {
        out.push(Line::from(format!("  {}: {}", s.field, s.from)));
        if let Some(h) = &s.sha256 {
            out.push(Line::from(format!("    sha256 {h}")));
        }
    }
    out.push(Line::from(""));
    out
}

/// `line` cut into lines of at most `width` columns (styles kept).
fn wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    use unicode_width::UnicodeWidthChar;
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in line.spans {
        let mut text = String::new();
        for ch in span.content.chars() {
            let w = ch.width().unwrap_or(0);
            if used + w > width && used > 0 {
                current.push(Span::styled(std::mem::take(&mut text), span.style));
                out.push(Line::from(std::mem::take(&mut current)));
                used = 0;
            }
            text.push(ch);
            used += w;
        }
        current.push(Span::styled(text, span.style));
    }
    out.push(Line::from(current));
    out
}

/// A release that replaces the hosts' one (an upgrade, a downgrade, or a
/// refused older bundle); nothing for an install or the same release.
fn release_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let Some(r) = app.release.as_ref() else {
        return Vec::new();
    };
    let from = r.from.clone().unwrap_or_default();
    let how = app.t(if r.host_by_host {
        "wizard.review.host-by-host"
    } else {
        "wizard.review.in-place"
    });
    let (key, style) = match r.change.as_str() {
        "upgrade" => ("wizard.review.upgrade", theme.pass()),
        "downgrade" => ("wizard.review.downgrade", theme.warn()),
        "refused" => ("wizard.review.release-refused", theme.fail()),
        _ => return Vec::new(),
    };
    let text = cdwiz::i18n::Msg::new(key)
        .arg("from", from)
        .arg("to", &r.to)
        .arg("how", how)
        .render(&app.locale);
    vec![Line::from(Span::styled(text, style)), Line::from("")]
}

/// Each host's architecture and the archive it gets, when not every host
/// is amd64 (a 信创 site's arm64 hosts, a mixed cluster).
fn machine_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    if app.machines.values().all(|m| m.arch == "amd64") {
        return Vec::new();
    }
    let mut lines = vec![Line::from(Span::styled(
        app.t("wizard.review.machines"),
        theme.title(),
    ))];
    for (host, m) in &app.machines {
        // The file's name says enough (its folder is the architecture's).
        let (archive, style) = match &m.archive {
            Some(a) => (a.rsplit('/').next().unwrap_or(a).to_string(), theme.pass()),
            None => (app.t("summary.no-archive"), theme.fail()),
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{host} {} ", m.arch)),
            Span::styled(archive, style),
        ]));
    }
    lines.push(Line::from(""));
    lines
}

/// Which hosts join, stay and leave the installation (nothing for a
/// first install), and the release the hosts get.
fn membership_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = release_lines(app, theme);
    lines.extend(machine_lines(app, theme));
    let Some(m) = app.membership.as_ref().filter(|m| !m.is_first()) else {
        return lines;
    };
    for (key, hosts, style) in [
        ("wizard.review.new", &m.new, theme.pass()),
        ("wizard.review.kept", &m.kept, theme.title()),
        ("wizard.review.removed", &m.removed, theme.fail()),
    ] {
        if !hosts.is_empty() {
            // A full-width colon brings its own space.
            let label = app.t(key);
            let gap = if label.ends_with('：') { "" } else { " " };
            lines.push(Line::from(vec![
                Span::styled(label, style),
                Span::raw(format!("{gap}{}", hosts.join(", "))),
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
