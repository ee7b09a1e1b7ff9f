//! The release a run changes, as the hosts' install records say (the
//! rules are the plan's: [`crate::plan::release`]); refused before
//! anything is touched when it may not go.

use std::time::Duration;

use super::{ErrorKind, RunError, Session};
use crate::deploy::INSTALL_RECORD;
use crate::plan::release::{Change, change, installed};

impl Session {
    /// Decides from the hosts' install records (see [`records`](Self::records))
    /// what this run does to the release; refuses before anything is
    /// touched when it may not go.
    pub(super) fn release_change(
        &self,
        records: &[(String, serde_json::Value)],
    ) -> Result<Change, RunError> {
        let product = &self.bundle.manifest.product;
        change(
            &installed(records),
            &product.name,
            &product.version,
            self.allow_downgrade,
        )
        .map_err(|msgs| {
            let locale = self.locale.as_str();
            RunError::new(
                ErrorKind::BadInput,
                msgs.iter().map(|m| m.render(locale)).collect(),
            )
        })
    }

    /// The release this run would put on the hosts against what their
    /// records say they run (the wizard's Review; nothing on a cluster).
    pub async fn planned_release(&self) -> Option<crate::plan::PlannedRelease> {
        if self.on_cluster() || self.targets.is_none() {
            return None;
        }
        let installed = installed(&self.records().await);
        Some(crate::plan::planned_release(
            &self.bundle.manifest,
            &installed,
            self.answers.hosts.len(),
            self.allow_downgrade,
        ))
    }

    /// Each opened host's install record (a host without one carries
    /// nothing yet, and is not listed).
    pub(super) async fn records(&self) -> Vec<(String, serde_json::Value)> {
        self.answered()
            .await
            .into_iter()
            .filter_map(|(host, record)| Some((host, record?)))
            .collect()
    }

    /// Each opened host that answered, with its install record if it
    /// carries one (one that is not JSON counts as none).
    pub(super) async fn answered(&self) -> Vec<(String, Option<serde_json::Value>)> {
        let Some(targets) = &self.targets else {
            return Vec::new();
        };
        let reads = targets.hosts.values().map(|t| async move {
            let script = format!(
                "cat {} 2>/dev/null || true",
                crate::ssh::quote(INSTALL_RECORD)
            );
            let out = t.conn.run(&script, Duration::from_secs(30)).await.ok()?;
            let record = serde_json::from_str(out.stdout.trim()).ok();
            Some((t.address.clone(), record))
        });
        futures_util::future::join_all(reads)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
