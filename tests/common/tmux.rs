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
