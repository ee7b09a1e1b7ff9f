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

/// Adds values to redact from everything logged from now on.
pub fn redact_also<S: AsRef<str>>(values: &[S]) {
    cdwiz::redact::add(values);
}

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = cdwiz::redact::apply(&String::from_utf8_lossy(buf));
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
