//! What every screen shares: the step bar at the top, the footer with the
//! keys that matter now, the message line, the help overlay and the quit
//! dialog; styles that honour `NO_COLOR` (symbols carry the meaning too).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Screen};
use cdwiz::i18n::Msg;

pub struct Theme {
    pub no_color: bool,
}

impl Theme {
    pub fn of(app: &App) -> Theme {
        Theme {
            no_color: app.no_color,
        }
    }
    fn fg(&self, c: Color) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }
    pub fn pass(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn fail(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().fg(Color::DarkGray)
        }
    }
    pub fn focus(&self) -> Style {
        if self.no_color {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        }
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}

/// The keys a screen offers now: (key, catalogue key of what it does).
pub type Keys = Vec<(&'static str, &'static str)>;

pub const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// Draws the frame around a screen and returns the area inside.
pub fn frame(f: &mut Frame, app: &App, keys: &Keys) -> Rect {
    let theme = Theme::of(app);
    let width = f.area().width as usize;
    let foot_lines = footer_lines(app, keys, width);
    // The message wraps (up to three lines) rather than losing its end.
    let msg_height = app.message.as_ref().map_or(1, |m| {
        let cols = unicode_width::UnicodeWidthStr::width(m.as_str()) + 1;
        cols.div_ceil(width.max(1)).clamp(1, 3)
    });
    let [top, body, msg, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(msg_height as u16),
        Constraint::Length(foot_lines.len() as u16),
    ])
    .areas(f.area());
    // The step bar: the current screen stands out; only what fits.
    let mut spans = vec![Span::styled(" cdwiz ", theme.title())];
    let cur = Screen::ALL
        .iter()
        .position(|s| *s == app.screen)
        .unwrap_or(0);
    for (i, s) in Screen::ALL.iter().enumerate() {
        // Narrow terminals name only the current step.
        let text = if i == cur || f.area().width >= 110 {
            format!(
                " {}.{} ",
                i + 1,
                app.t(&format!("wizard.{}.title", s.key()))
            )
        } else {
            format!(" {} ", i + 1)
        };
        spans.push(if i == cur {
            Span::styled(text, theme.focus())
        } else {
            Span::styled(text, theme.dim())
        });
    }
    f.render_widget(Paragraph::new(Line::from(spans)), top);
    if let Some(m) = &app.message {
        f.render_widget(
            Paragraph::new(Span::styled(format!(" {m}"), theme.warn())).wrap(Wrap { trim: false }),
            msg,
        );
    }
    let lines: Vec<Line> = foot_lines
        .into_iter()
        .map(|items| {
            let mut spans = Vec::new();
            for (k, label) in items {
                spans.push(Span::styled(format!(" {k} "), theme.focus()));
                spans.push(Span::raw(format!(" {label} ")));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), foot);
    body
}

/// Every key of the screen, Enter first, then the others, then `?` and
/// `q`: on one line when they fit, else on as many as they need (at most
/// three; the help lists them all in any case).
fn footer_lines(app: &App, keys: &Keys, width: usize) -> Vec<Vec<(String, String)>> {
    let mut ordered: Vec<&(&str, &str)> = keys.iter().filter(|(k, _)| *k == "Enter").collect();
    ordered.extend(keys.iter().filter(|(k, _)| *k != "Enter"));
    ordered.extend(COMMON.iter());
    let mut lines: Vec<Vec<(String, String)>> = vec![Vec::new()];
    let mut used = 0;
    for (k, what) in ordered {
        let label = app.t(what);
        let w = unicode_width::UnicodeWidthStr::width(format!(" {k}  {label} ").as_str());
        if used + w > width && !lines.last().is_none_or(Vec::is_empty) {
            if lines.len() == 3 {
                break;
            }
            lines.push(Vec::new());
            used = 0;
        }
        used += w;
        if let Some(line) = lines.last_mut() {
            line.push((k.to_string(), label));
        }
    }
    lines
}

const COMMON: [(&str, &str); 2] = [("?", "wizard.key.help"), ("q", "wizard.key.quit")];

/// Keys that work everywhere but the footer has no room for (the help lists them).
const ALWAYS: [(&str, &str); 1] = [("F1", "wizard.key.help")];

/// The help overlay: every key of the current screen.
pub fn help(f: &mut Frame, app: &App, keys: &Keys) {
    let area = centered(f.area(), 60, 16);
    f.render_widget(Clear, area);
    let mut lines = vec![Line::from(app.t("wizard.help.intro")), Line::default()];
    let all = [
        ("Tab", "wizard.key.next-field"),
        ("S-Tab", "wizard.key.prev-field"),
        ("↑↓ j k", "wizard.key.move"),
        ("Esc", "wizard.key.back"),
        ("Ctrl-C", "wizard.key.quit"),
    ];
    for (k, what) in keys
        .iter()
        .chain(all.iter())
        .chain(COMMON.iter())
        .chain(ALWAYS.iter())
    {
        lines.push(Line::from(vec![
            Span::styled(format!("{k:>8}  "), Theme::of(app).title()),
            Span::raw(app.t(what)),
        ]));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(app.t("wizard.help.title")),
        ),
        area,
    );
}

/// The quit dialog.
pub fn confirm_quit(f: &mut Frame, app: &App) {
    let area = centered(f.area(), 56, 5);
    f.render_widget(Clear, area);
    let text = if app.deploy.running {
        app.t("wizard.quit.during-deploy")
    } else {
        app.t("wizard.quit.confirm")
    };
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(app.t("wizard.quit.title")),
        ),
        area,
    );
}

/// The profile takes from this machine what the operator has not
/// consented to: each variable and file (with its hash, not a secret's),
/// and the two answers.
pub fn consent(f: &mut Frame, app: &App) {
    let theme = Theme::of(app);
    let mut lines = vec![Line::from(app.t("wizard.consent.intro")), Line::from("")];
    for s in &app.consent {
        lines.push(Line::from(Span::styled(
            format!("{}  ({})", s.from, s.field),
            theme.title(),
        )));
        if let Some(h) = &s.sha256 {
            lines.push(Line::from(format!("  sha256 {h}")));
        }
    }
    // Above the footer; its answers stay in sight on its frame, however
    // long the list.
    let room = Rect {
        height: f.area().height.saturating_sub(3),
        ..f.area()
    };
    let area = centered(room, 100, lines.len() as u16 + 6);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            block(format!(
                "{} ({})",
                app.t("wizard.consent.title"),
                app.consent.len()
            ))
            .title_bottom(Line::from(format!(
                " {} ",
                Msg::new("wizard.consent.keys")
                    .arg("count", app.consent.len())
                    .render(&app.locale)
            ))),
        ),
        area,
    );
}

/// A rectangle of at most `w`×`h` in the middle of `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn block(title: String) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(title)
}
