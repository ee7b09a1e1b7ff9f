//! Per-host deploy logs: every line goes to `logs/<host>.log` in the run
//! directory and to the front end as an event; the last lines of each host
//! are kept for its failure summary. Secrets are replaced by `***` first.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::event::{Event, EventSender};

/// Lines kept per host for the failure summary.
pub const TAIL: usize = 20;

/// A host's open log file and its last lines.
type HostLog = (Option<std::fs::File>, VecDeque<String>);

pub struct HostLogs {
    dir: PathBuf,
    secrets: Vec<String>,
    tx: Option<EventSender>,
    inner: Mutex<HashMap<String, HostLog>>,
}

impl HostLogs {
    pub fn new(run_dir: &Path, secrets: Vec<String>, tx: Option<EventSender>) -> HostLogs {
        let _ = std::fs::create_dir_all(run_dir.join("logs"));
        HostLogs {
            dir: run_dir.join("logs"),
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
            tx,
            inner: Mutex::new(HashMap::new()),
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for s in &self.secrets {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "***");
            }
        }
        text
    }

    /// Where a host's log is.
    pub fn path(&self, host: &str) -> PathBuf {
        self.dir
            .join(format!("{}.log", host.replace(['/', ':'], "_")))
    }

    /// Logs every line of `text` for `host`.
    pub fn log(&self, host: &str, text: &str) {
        for raw in text.lines() {
            let line = self.redact(&crate::text::line(raw.trim_end()));
            {
                let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                let (file, tail) = inner.entry(host.to_string()).or_insert_with(|| {
                    let f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(self.path(host))
                        .ok();
                    (f, VecDeque::new())
                });
                if let Some(f) = file {
                    let _ = writeln!(f, "{} {line}", timestamp());
                }
                if tail.len() == TAIL {
                    tail.pop_front();
                }
                tail.push_back(line.clone());
            }
            if let Some(tx) = &self.tx {
                // A slow front end drops log lines rather than stall the deploy.
                let _ = tx.try_send(Event::HostLog {
                    host: host.to_string(),
                    line,
                });
            }
        }
    }

    /// The host's last lines.
    pub fn tail(&self, host: &str) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .get(host)
            .map(|(_, t)| t.iter().cloned().collect())
            .unwrap_or_default()
    }
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_go_to_the_file_and_the_tail_without_secrets() {
        let tmp = tempfile::tempdir().unwrap();
        let logs = super::HostLogs::new(tmp.path(), vec!["hunter22".into()], None);
        for i in 0..30 {
            logs.log("10.0.0.1", &format!("line {i} password=hunter22"));
        }
        let tail = logs.tail("10.0.0.1");
        assert_eq!(tail.len(), super::TAIL);
        assert_eq!(tail.last().unwrap(), "line 29 password=***");
        let file = std::fs::read_to_string(logs.path("10.0.0.1")).unwrap();
        assert_eq!(file.lines().count(), 30);
        assert!(!file.contains("hunter22"));
    }
}
