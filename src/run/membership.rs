//! A deploy whose hosts differ from the installation's last run: hosts the
//! profile no longer names are uninstalled (with `--remove-hosts`; data
//! kept), and a change that would move a one-host component (and leave its
//! data behind) is refused before anything is touched.

use std::sync::Arc;
use std::time::Instant;

use super::{ErrorKind, RunError, Session};
use crate::connect::Connector;
use crate::event::{Event, EventSender, StepOutcome};
use crate::i18n::Msg;
use crate::profile::Answers;

/// The step name of a host's removal in deploy lines and events.
pub const REMOVE_STEP: &str = "remove";

impl Session {
    /// The installation's hosts this run removes (their logins as of the
    /// last run), or why the run is refused.
    pub(super) fn removal(&self) -> Result<Option<Answers>, RunError> {
        let Some(before) = self.before.as_ref().filter(|_| !self.on_cluster()) else {
            return Ok(None);
        };
        let locale = self.locale.as_str();
        let bad = |lines: Vec<String>| RunError::new(ErrorKind::BadInput, lines);
        let moved = crate::installation::moved(before, &self.answers, &self.bundle.manifest);
        if !moved.is_empty() {
            return Err(bad(moved
                .iter()
                .map(|m| {
                    Msg::new("install.moves")
                        .arg("component", &m.component)
                        .arg("from", &m.from)
                        .arg("to", &m.to)
                        .render(locale)
                })
                .collect()));
        }
        let now: Vec<&str> = self
            .answers
            .hosts
            .iter()
            .map(|h| h.address.as_str())
            .collect();
        let mut gone = before.clone();
        gone.hosts.retain(|h| !now.contains(&h.address.as_str()));
        if gone.hosts.is_empty() {
            return Ok(None);
        }
        if !self.remove_hosts {
            let hosts: Vec<&str> = gone.hosts.iter().map(|h| h.address.as_str()).collect();
            return Err(bad(vec![
                Msg::new("install.removed-refused")
                    .arg("hosts", hosts.join(", "))
                    .arg("count", hosts.len())
                    .render(locale),
            ]));
        }
        Ok(Some(gone))
    }

    /// Uninstalls the platform from the removed hosts (data kept unless the
    /// operator asked for `--purge --yes`); a host
    /// that cannot be reached is said so and left out of the installation
    /// all the same.
    pub(super) async fn remove_hosts(&self, gone: &Answers, tx: &Option<EventSender>) {
        let connector = Arc::new(Connector::new(
            gone,
            self.secrets.clone(),
            &self.data_dir,
            &self.base,
            self.askpass.clone(),
        ));
        let started = Instant::now();
        let results =
            crate::deploy::uninstall(gone, &self.bundle.manifest, connector, self.purge_removed)
                .await;
        for r in results {
            let outcome = match r.skipped {
                None => StepOutcome::Changed,
                Some(reason) => StepOutcome::Skipped {
                    reason: Msg::new("install.remove-unreachable").arg("reason", reason),
                },
            };
            if let Some(tx) = tx {
                let _ = tx
                    .send(Event::DeployStep {
                        host: r.host,
                        step: REMOVE_STEP.into(),
                        outcome,
                        secs: started.elapsed().as_secs_f64(),
                    })
                    .await;
            }
        }
    }
}
