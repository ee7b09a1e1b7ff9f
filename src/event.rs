//! What the engine tells its front ends while it works. Events carry data
//! and message ids, never sentences; the TUI and the headless printer render.

use serde::Serialize;

use crate::outcome::CheckResult;

#[derive(Debug, Clone)]
pub enum Event {
    /// Checks began on a host.
    ChecksStarted { host: String },
    /// One check's outcome (on a host, or across hosts).
    CheckFinished(CheckResult),
    /// Every check of a host is in.
    ChecksHostDone { host: String, secs: f64 },
    /// Deploy began: the hosts and how many steps each will take.
    DeployStarted { steps: Vec<(String, usize)> },
    /// A deploy step began on a host.
    StepStarted { host: String, step: String },
    /// A deploy step ended on a host.
    DeployStep {
        host: String,
        step: String,
        outcome: StepOutcome,
        secs: f64,
    },
    /// Bytes of an image archive sent to a host so far.
    ImageProgress { host: String, sent: u64, total: u64 },
    /// One line of a host's log (commands, hooks, container output).
    HostLog { host: String, line: String },
    /// A lock left by a dead run was taken over (`--resume`): where (a
    /// host, or `namespace/NS`) and who held it.
    LockTakenOver {
        place: String,
        run: String,
        pid: u32,
        installer: String,
    },
    /// The run's lock on a host could not be touched: after
    /// `deploy::lock::STALE_AFTER` another run would take this one for dead.
    /// `said` is why, in the operator's words.
    LockNotTouched {
        host: String,
        said: crate::i18n::Msg,
    },
    /// The hosts (or the namespace) said which installation the run is,
    /// and it is not the one this machine took it for: `said` tells which
    /// and why, in the operator's words.
    InstallIdentified {
        install: String,
        hosts: Vec<String>,
        said: crate::i18n::Msg,
    },
    /// A rolling upgrade's backup, taken before anything is replaced: what
    /// happened, in the operator's words (a part taken, the backup written
    /// or left out and why).
    Backup { said: crate::i18n::Msg },
    /// This machine had no record of the installation's generated secrets:
    /// they were read back from its hosts (or its namespace) and recorded.
    SecretsAdopted {
        install: String,
        names: Vec<String>,
        /// The hosts (or `namespace/NS`) they were read from.
        from: Vec<String>,
    },
}

impl Event {
    /// The operator's sentence for secrets read back from the installation.
    pub fn secrets_adopted(&self) -> Option<crate::i18n::Msg> {
        let Event::SecretsAdopted {
            install,
            names,
            from,
        } = self
        else {
            return None;
        };
        Some(
            crate::i18n::Msg::new("adopt.secrets")
                .arg("install", install)
                .arg("names", names.join(", "))
                .arg("from", from.join(", ")),
        )
    }

    /// The operator's sentence for a lock taken over from a dead run.
    pub fn lock_taken_over(&self) -> Option<crate::i18n::Msg> {
        let Event::LockTakenOver {
            place,
            run,
            pid,
            installer,
        } = self
        else {
            return None;
        };
        Some(
            crate::i18n::Msg::new("headless.lock-taken-over")
                .arg("host", place)
                .arg("run", run)
                .arg("pid", pid)
                .arg("installer", installer),
        )
    }
}

/// How a deploy step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum StepOutcome {
    /// It changed something on the host.
    Changed,
    /// It found everything already as wanted.
    Unchanged,
    /// An earlier run of this install finished it (`--resume`); not run again.
    Done,
    /// It failed; the host goes no further in this run.
    Failed {
        /// What went wrong (a catalogue message; raw system errors inside).
        #[serde(rename = "error")]
        message: crate::i18n::Msg,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        /// The host's log lines before the failure.
        #[serde(rename = "last-lines", skip_serializing_if = "Vec::is_empty")]
        last_lines: Vec<String>,
    },
    /// Not run: the host failed earlier, a dependency is missing, or the
    /// operator stopped the run.
    Skipped { reason: crate::i18n::Msg },
}

impl StepOutcome {
    /// The machine-readable word for it (JSON, logs).
    pub fn word(&self) -> &'static str {
        match self {
            StepOutcome::Changed => "changed",
            StepOutcome::Unchanged => "unchanged",
            StepOutcome::Done => "done",
            StepOutcome::Failed { .. } => "failed",
            StepOutcome::Skipped { .. } => "skipped",
        }
    }
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            StepOutcome::Changed | StepOutcome::Unchanged | StepOutcome::Done
        )
    }
}

pub type EventSender = tokio::sync::mpsc::Sender<Event>;
