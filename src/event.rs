//! What the engine tells its front ends while it works. Events carry data
//! and message ids, never sentences; the TUI and the headless printer render.

use crate::checks::CheckResult;

#[derive(Debug, Clone)]
pub enum Event {
    /// Checks began on a host.
    ChecksStarted { host: String },
    /// One check's outcome (on a host, or across hosts).
    CheckFinished(CheckResult),
    /// Every check of a host is in.
    ChecksHostDone { host: String, secs: f64 },
    /// A deploy step finished on a host; `changed` is false when it found
    /// everything already as wanted.
    DeployStep {
        host: String,
        step: String,
        changed: bool,
    },
}

pub type EventSender = tokio::sync::mpsc::Sender<Event>;
