//! The real binary in a tmux window: start it, send keys, wait for what
//! the screen shows.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::cdwiz_bin;

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn new(name: &str) -> Tmux {
        let t = Tmux {
            socket: format!("cdwiz-{name}-{}", std::process::id()),
        };
        let _ = t.cmd(&["kill-server"]);
        t
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux")
    }

    /// Starts `cdwiz args` in a 160×48 window, in `dir`, with `env`.
    pub fn start(&self, dir: &Path, env: &[(&str, &str)], args: &str) {
        let mut line = String::new();
        for (k, v) in env {
            line.push_str(&format!("{k}={} ", cdwiz::ssh::quote(v)));
        }
        line.push_str(&format!("{} {args}; sleep 600", cdwiz_bin()));
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args([
                "new-session",
                "-d",
                "-s",
                "w",
                "-x",
                "160",
                "-y",
                "48",
                "-c",
            ])
            .arg(dir)
            .arg(format!("env {line}"))
            .output()
            .expect("tmux");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "w"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.cmd(&["send-keys", "-t", "w", k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "w", "-l", text]);
        std::thread::sleep(Duration::from_millis(100));
    }

    /// The text the wizard shows in its focus style (black on cyan: the
    /// focused field's label, or the focused button), read from the
    /// screen's colours.
    pub fn focused(&self) -> String {
        let raw =
            String::from_utf8_lossy(&self.cmd(&["capture-pane", "-e", "-p", "-t", "w"]).stdout)
                .into_owned();
        focused_text(&raw)
    }

    /// Moves the focus with Tab to the field labelled `label` (or the
    /// button of that text, e.g. `[ Next ]`), waiting for each move to show
    /// on the screen; fails with the screen when no field of that label
    /// comes round.
    pub fn focus(&self, label: &str) {
        let mut seen = Vec::new();
        for _ in 0..40 {
            let now = self.wait_focus_change(seen.last().map(String::as_str));
            if now.split('|').any(|run| run == label) {
                return;
            }
            if seen.contains(&now) {
                break;
            }
            seen.push(now);
            self.keys(&["Tab"]);
        }
        panic!(
            "no field labelled {label:?} takes the focus (focused in turn: {seen:?}):\n{}",
            self.screen()
        );
    }

    /// The focused text once it differs from `before` (at most 5 s).
    fn wait_focus_change(&self, before: Option<&str>) -> String {
        let started = Instant::now();
        loop {
            let now = self.focused();
            if before != Some(now.as_str()) || started.elapsed() > Duration::from_secs(5) {
                return now;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen shows `what`; fails with the screen.
    pub fn wait_for(&self, what: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            if started.elapsed() > limit {
                panic!("the screen never showed {what:?}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The text drawn on a cyan background (SGR 46, or 48;5;6) in a captured
/// screen with its escape sequences, cells joined, runs separated by `|`.
pub fn focused_text(raw: &str) -> String {
    let mut runs: Vec<String> = Vec::new();
    for line in raw.lines() {
        let mut cyan = false;
        let mut run = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' && chars.peek() == Some(&'[') {
                chars.next();
                let mut params = String::new();
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() {
                        break;
                    }
                    params.push(p);
                }
                let codes: Vec<&str> = params.split(';').collect();
                let mut i = 0;
                while i < codes.len() {
                    match codes[i] {
                        "" | "0" | "49" => cyan = false,
                        "46" => cyan = true,
                        "48" if codes.get(i + 1) == Some(&"5") => {
                            cyan = codes.get(i + 2) == Some(&"6");
                            i += 2;
                        }
                        c if c.len() == 2 && c.starts_with('4') => cyan = false,
                        c if c.len() == 3 && c.starts_with("10") => cyan = false,
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            if cyan {
                run.push(c);
            } else if !run.trim().is_empty() {
                runs.push(run.trim().to_string());
                run.clear();
            } else {
                run.clear();
            }
        }
        if !run.trim().is_empty() {
            runs.push(run.trim().to_string());
        }
    }
    runs.join("|")
}
