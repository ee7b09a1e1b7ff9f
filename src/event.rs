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
}

pub type EventSender = tokio::sync::mpsc::Sender<Event>;
