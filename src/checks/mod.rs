//! Host checks: a catalogue of what a host needs, measured live over SSH in
//! one round trip per host (all hosts in parallel), plus checks across hosts.
//! Results are events and a report; failures block unless waived.

mod cross;
mod evaluate;
pub mod probe;
pub mod report;
pub mod run;

use serde::Serialize;

use crate::i18n::Msg;

pub use evaluate::{HostContext, evaluate_host};
pub use run::{CheckRun, run_checks};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Connectivity,
    Os,
    Resources,
    Network,
    Time,
    Runtime,
    System,
    Prior,
}

/// One entry of the catalogue. Its title, details and hints are catalogue
/// messages under `check.<id>.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckDef {
    pub id: &'static str,
    pub family: Family,
    /// Judged across all hosts rather than on one.
    pub cross_host: bool,
}

const fn host(id: &'static str, family: Family) -> CheckDef {
    CheckDef {
        id,
        family,
        cross_host: false,
    }
}

const fn cross(id: &'static str, family: Family) -> CheckDef {
    CheckDef {
        id,
        family,
        cross_host: true,
    }
}

/// Every check, in the order reports list them.
pub const CATALOGUE: &[CheckDef] = &[
    host("ssh.reach", Family::Connectivity),
    host("ssh.login", Family::Connectivity),
    host("ssh.root", Family::Connectivity),
    host("os.distribution", Family::Os),
    host("os.kernel", Family::Os),
    host("os.arch", Family::Os),
    host("res.cpu", Family::Resources),
    host("res.memory", Family::Resources),
    host("res.data-space", Family::Resources),
    host("res.data-disk", Family::Resources),
    host("res.disk-write", Family::Resources),
    host("res.disk-fsync", Family::Resources),
    host("net.ports", Family::Network),
    host("net.interface", Family::Network),
    host("net.vip-subnet", Family::Network),
    host("net.vip-free", Family::Network),
    host("net.peers", Family::Network),
    cross("net.hostname-unique", Family::Network),
    cross("net.latency", Family::Network),
    host("time.skew", Family::Time),
    host("time.sync", Family::Time),
    cross("time.skew-hosts", Family::Time),
    host("runtime.docker", Family::Runtime),
    host("runtime.docker-api", Family::Runtime),
    host("runtime.storage", Family::Runtime),
    host("sys.selinux", Family::System),
    host("sys.firewall", Family::System),
    host("sys.swap", Family::System),
    host("sys.max-map-count", Family::System),
    host("sys.nofile", Family::System),
    host("prior.install", Family::Prior),
];

/// The catalogue entry for `id`.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    CATALOGUE.iter().find(|c| c.id == id)
}

/// A host check or a cluster check (`k8s` topology) of this id exists.
pub fn known(id: &str) -> bool {
    find(id).is_some() || crate::cluster::CHECKS.contains(&id)
}

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

/// A waiver: check `id` on `host` (or every host) is accepted for `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub id: String,
    pub host: Option<String>,
    pub reason: String,
}

impl Waiver {
    /// Parses `ID[@HOST]=REASON` (the `--accept-check` flag).
    pub fn parse(text: &str) -> Result<Waiver, Msg> {
        let (target, reason) = text
            .split_once('=')
            .ok_or_else(|| Msg::new("waiver.format").arg("text", text))?;
        let (id, host) = match target.split_once('@') {
            Some((id, host)) => (id, Some(host.to_string())),
            None => (target, None),
        };
        if reason.trim().is_empty() {
            return Err(Msg::new("waiver.reason").arg("text", text));
        }
        Ok(Waiver {
            id: id.to_string(),
            host,
            reason: reason.trim().to_string(),
        })
    }

    /// Unknown check ids are bad input.
    pub fn validate(&self) -> Result<(), Msg> {
        if !known(&self.id) {
            let known: Vec<&str> = CATALOGUE.iter().map(|c| c.id).collect();
            return Err(Msg::new("waiver.unknown")
                .arg("id", &self.id)
                .arg("known", known.join(", ")));
        }
        Ok(())
    }

    fn covers(&self, r: &CheckResult) -> bool {
        self.id == r.id && (self.host.is_none() || self.host == r.host)
    }
}

/// Marks the warnings and failures the waivers cover.
pub fn apply_waivers(results: &mut [CheckResult], waivers: &[Waiver]) {
    for r in results.iter_mut() {
        if matches!(r.status, Status::Warn | Status::Fail)
            && let Some(w) = waivers.iter().find(|w| w.covers(r))
        {
            r.waived = Some(w.reason.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_at_least_25_checks_in_every_family_with_unique_ids() {
        assert!(CATALOGUE.len() >= 25);
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
        for f in [
            Family::Connectivity,
            Family::Os,
            Family::Resources,
            Family::Network,
            Family::Time,
            Family::Runtime,
            Family::System,
            Family::Prior,
        ] {
            assert!(CATALOGUE.iter().any(|c| c.family == f), "{f:?}");
        }
    }

    #[test]
    fn every_check_has_a_title_in_the_catalogue() {
        for c in CATALOGUE {
            let key = format!("check.{}.title", c.id);
            let text = crate::i18n::text(&key, "en");
            assert_ne!(text, key, "no title for {}", c.id);
        }
    }

    #[test]
    fn waivers_parse_validate_and_cover() {
        let w = Waiver::parse("res.memory@192.0.2.11=PoC with 8 GiB").unwrap();
        assert_eq!(w.host.as_deref(), Some("192.0.2.11"));
        assert!(w.validate().is_ok());
        assert!(Waiver::parse("res.memory").is_err());
        assert!(Waiver::parse("res.memory=").is_err());
        assert!(
            Waiver::parse("res.nope=x")
                .unwrap()
                .validate()
                .unwrap_err()
                .render("en")
                .contains("unknown check id")
        );
        let mut r = vec![
            CheckResult::new(
                "res.memory",
                Some("192.0.2.11"),
                Status::Fail,
                Msg::new("x"),
            ),
            CheckResult::new(
                "res.memory",
                Some("192.0.2.12"),
                Status::Fail,
                Msg::new("x"),
            ),
        ];
        apply_waivers(&mut r, &[w]);
        assert!(!r[0].blocks());
        assert!(r[1].blocks());
    }
}
