//! Host checks: a catalogue of what a host needs, measured live over SSH in
//! one round trip per host (all hosts in parallel), plus checks across hosts.
//! Results are events and a report; failures block unless waived.

mod cross;
pub mod distro;
mod evaluate;
pub mod probe;
pub mod report;
pub mod run;

use serde::Serialize;

use crate::i18n::Msg;

pub use crate::catalogue::{CATALOGUE, CheckDef, Family, find, known};
pub use crate::outcome::{CheckResult, Status};
pub use evaluate::{HostContext, evaluate_host};
pub use run::{CheckRun, run_checks};

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
