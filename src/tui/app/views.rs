//! What the checks and deploy screens show, as the engine's events fill it
//! in, and what a finished deploy left for the summary screen.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use cdwiz::checks::{CheckResult, Status};

/// A check cell: running until its result arrives.
#[derive(Debug, Default)]
pub struct ChecksView {
    pub running: bool,
    pub results: BTreeMap<(String, String), CheckResult>,
    pub hosts_done: Vec<String>,
    /// Selected row (check) and column (host).
    pub row: usize,
    pub col: usize,
    pub warns_accepted: bool,
    pub secs: Option<f64>,
    pub note: Option<String>,
    /// Re-running one host: results for other hosts are ignored.
    pub only: Option<String>,
}

impl ChecksView {
    pub fn count(&self, s: Status) -> usize {
        self.results
            .values()
            .filter(|r| r.status == s && r.waived.is_none())
            .count()
    }
}

/// One host's row and log on the deploy screen.
#[derive(Debug, Default, Clone)]
pub struct HostProgress {
    pub total: usize,
    pub finished: usize,
    pub current: Option<String>,
    pub failed: Option<String>,
    pub log: VecDeque<String>,
    pub bytes: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
pub struct DeployView {
    pub running: bool,
    pub stopping: bool,
    pub hosts: BTreeMap<String, HostProgress>,
    pub selected: usize,
    pub zoom: bool,
    /// Lines scrolled back from the end in the zoomed pane (0: follow).
    pub scroll: usize,
}

impl DeployView {
    pub fn totals(&self) -> (usize, usize) {
        self.hosts
            .values()
            .fold((0, 0), |(f, t), h| (f + h.finished, t + h.total))
    }
}

/// What the finished deploy left, for the summary screen.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: bool,
    pub cancelled: bool,
    pub url: Option<String>,
    pub failures: Vec<(String, String, String, Vec<String>)>,
    pub run_dir: PathBuf,
    pub secrets: PathBuf,
    pub summary: PathBuf,
    pub secs: f64,
}
