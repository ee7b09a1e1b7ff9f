//! The verify phase: the platform's front door answers end to end (through
//! the single host, the VIP or the load balancer).

use std::collections::{BTreeSet, HashMap};

use super::step::Run;
use super::{CLUSTER, VERIFY_TIMEOUT, health, url};
use crate::event::StepOutcome;
use crate::i18n::Msg;
use crate::plan::entry_url;

/// Verifies the entry when its component runs; the platform's URL.
pub(super) async fn entry(run: &Run<'_>, up: &HashMap<String, BTreeSet<String>>) -> Option<String> {
    let (input, ctx) = (run.input, run.ctx);
    let manifest = &input.bundle.manifest;
    let mut report_url = None;
    if let Some((host, port, path)) = entry_url(input.answers, &input.bundle.manifest) {
        let target_url = url(&host, port, &path);
        report_url = Some(url(&host, port, "/"));
        let entry_up = manifest
            .entry
            .as_ref()
            .is_some_and(|e| up.get(&e.component).is_some_and(|u| !u.is_empty()));
        if entry_up {
            let (logs, target_url) = (&ctx.logs, &target_url);
            run.step(CLUSTER, "verify", || async move {
                logs.log(CLUSTER, &format!("GET {target_url}"));
                let h = crate::bundle::Health {
                    port,
                    http: Some(path.clone()),
                    command: Vec::new(),
                };
                health::wait(&host, &h, None, VERIFY_TIMEOUT)
                    .await
                    .map_err(|e| {
                        Msg::new("deploy.error.verify")
                            .arg("url", target_url)
                            .arg_msg("error", e)
                    })?;
                logs.log(CLUSTER, &format!("{target_url} answers"));
                Ok(false)
            })
            .await;
        } else {
            run.record(
                CLUSTER,
                "verify",
                StepOutcome::Skipped {
                    reason: Msg::new("deploy.skip.entry-down"),
                },
                0.0,
            )
            .await;
        }
    }

    report_url
}
