//! Logs to the run directory (never to the screen under a UI), with every
//! secret value replaced by `***` before it reaches the file.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone)]
struct Redacting {
    file: Arc<Mutex<tracing_appender::rolling::RollingFileAppender>>,
}

/// Every secret value known so far: the operator's, then the generated ones
/// once the run has them.
fn secrets() -> &'static std::sync::RwLock<Vec<String>> {
    static SECRETS: std::sync::OnceLock<std::sync::RwLock<Vec<String>>> =
        std::sync::OnceLock::new();
    SECRETS.get_or_init(|| std::sync::RwLock::new(Vec::new()))
}

/// Adds values to redact from everything logged from now on (the
/// generated secrets, known only once the run has loaded them).
pub fn redact_also<S: AsRef<str>>(values: &[S]) {
    let mut all = secrets().write().unwrap_or_else(|e| e.into_inner());
    for v in values {
        let v = v.as_ref();
        if !v.is_empty() && !all.iter().any(|x| x == v) {
            all.push(v.to_string());
        }
    }
    // Longest first, so that a secret containing another is hidden whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut text = String::from_utf8_lossy(buf).into_owned();
        for s in secrets().read().unwrap_or_else(|e| e.into_inner()).iter() {
            text = text.replace(s.as_str(), "***");
        }
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.write_all(text.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = Redacting;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Sends this process's logs to `<run>/logs/cdwiz.log`.
pub fn to_run_dir(run_dir: &Path, secrets: Vec<&str>) -> Option<()> {
    let file = tracing_appender::rolling::never(run_dir.join("logs"), "cdwiz.log");
    redact_also(&secrets);
    let writer = Redacting {
        file: Arc::new(Mutex::new(file)),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CDWIZ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(writer)
        .try_init()
        .ok()
}

/// Logs to stderr, for the plain commands (sandbox, validate).
pub fn to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CDWIZ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
}
