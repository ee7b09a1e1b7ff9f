//! What a check found: its status and result, as the checks produce them
//! and events, reports and screens carry them.

use serde::Serialize;

use crate::i18n::Msg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    /// Not judged (the host could not be reached, or the check does not
    /// apply to this topology).
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// The outcome of one check on one host (or across hosts: `host` is none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub status: Status,
    pub detail: Msg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Msg>,
    /// The exact shell command that fixes it, ready to copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Accepted by the operator, with this reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
}

impl CheckResult {
    pub fn new(id: &'static str, host: Option<&str>, status: Status, detail: Msg) -> Self {
        CheckResult {
            id,
            host: host.map(str::to_string),
            status,
            detail,
            hint: None,
            fix: None,
            waived: None,
        }
    }
    pub fn hint(mut self, hint: Msg) -> Self {
        self.hint = Some(hint);
        self
    }
    pub fn fix(mut self, command: impl Into<String>) -> Self {
        self.fix = Some(command.into());
        self
    }
    /// A failure nobody waived: it blocks the way on.
    pub fn blocks(&self) -> bool {
        self.status == Status::Fail && self.waived.is_none()
    }
}
