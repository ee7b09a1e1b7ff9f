//! The session's checks: running them (every host, or one again), the
//! reports that stay whole across re-checks, and waivers accepted after
//! the checks ran.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Session, reports};
use crate::checks::{self, CheckRun, Waiver};
use crate::connect::Targets;
use crate::event::EventSender;
use crate::profile::{Answers, TopologyKind};

impl Session {
    /// Takes the waivers of `answers` (accepted since the session began);
    /// a waiver that names no check is left out, and said in the log.
    pub fn adopt_waivers(&mut self, answers: &Answers) {
        if self.answers.accept_checks == answers.accept_checks {
            return;
        }
        self.answers
            .accept_checks
            .clone_from(&answers.accept_checks);
        self.waivers.retain(|w| {
            answers
                .accept_checks
                .iter()
                .any(|a| a.check == w.id && a.host == w.host)
        });
        for a in &answers.accept_checks {
            let w = Waiver {
                id: a.check.clone(),
                host: a.host.clone(),
                reason: a.reason.clone(),
            };
            if self
                .waivers
                .iter()
                .any(|x| x.id == w.id && x.host == w.host)
            {
                continue;
            }
            match w.validate() {
                Ok(()) => self.waivers.push(w),
                Err(e) => tracing::warn!("waiver {}: {}", w.id, e.render("en")),
            }
        }
        // What the run directory says follows: the answers with their
        // waivers, and the reports with each accepted result and its reason.
        let path = self.run_dir.join("answers.yaml");
        let yaml = serde_yaml::to_string(&self.answers).unwrap_or_default();
        if let Err(e) = crate::rundir::write_atomic(&path, &yaml) {
            tracing::warn!("{}: {e}", path.display());
        }
        if let Some(last) = &mut self.last_checks {
            for r in &mut last.results {
                r.waived = None;
            }
            checks::apply_waivers(&mut last.results, &self.waivers);
            last.waivers.clone_from(&self.waivers);
            reports::write_checks(&self.run_dir, last, &self.locale);
        }
    }

    /// Whether this installation, as its last run from this machine left
    /// it, announces the same VIP on hosts that are still in it.
    fn vip_installed(&self) -> bool {
        let Some(before) = &self.before else {
            return false;
        };
        let kept = before
            .hosts
            .iter()
            .any(|b| self.answers.hosts.iter().any(|h| h.address == b.address));
        kept && before.topology.kind == TopologyKind::HaKeepalived
            && before.topology.vip.is_some()
            && before.topology.vip == self.answers.topology.vip
    }

    /// Runs the checks (every host, or `only` one) on the run's
    /// connections, and writes `checks.json` and `checks.md`.
    pub async fn check(&mut self, only: Option<&str>, tx: Option<EventSender>) -> CheckRun {
        let run = self.check_once(only, tx.clone()).await;
        // The hosts' records say which installation this is; when that is
        // not the one this machine took it for, its checks (which compare
        // the records with it) are asked again.
        if only.is_none() && self.identify(&tx).await {
            return self.check_once(only, tx).await;
        }
        run
    }

    async fn check_once(&mut self, only: Option<&str>, tx: Option<EventSender>) -> CheckRun {
        self.listener.set(&tx);
        let mut answers = self.answers.clone();
        if let Some(host) = only {
            answers.hosts.retain(|h| h.address == host);
        }
        let run = if self.on_cluster() {
            crate::cluster::run_checks(
                &answers,
                &self.base,
                &self.bundle,
                self.secrets.registry_password.as_deref(),
                self.waivers.clone(),
                tx,
            )
            .await
        } else {
            // Hosts not open yet are opened by the checks themselves, each
            // probed as soon as it is logged in.
            let fresh = Arc::new(std::sync::Mutex::new(Targets::default()));
            let open = match self.targets {
                Some(_) => {
                    self.open_hosts(only).await;
                    self.targets.as_ref().map(Targets::opened)
                }
                None => None,
            };
            let open = match open {
                Some(open) => open,
                None => Targets::opening(&fresh, &self.connector, &self.answers).await,
            };
            let run = checks::run_checks(
                &answers,
                &self.bundle.manifest,
                open,
                &self.connector,
                self.waivers.clone(),
                self.vip_installed(),
                tx,
            )
            .await;
            if self.targets.is_none() {
                let opened = std::mem::take(&mut *fresh.lock().unwrap_or_else(|e| e.into_inner()));
                self.targets = Some(opened);
            }
            run
        };
        tracing::info!(secs = run.secs, "checks done");
        // The report stays whole: one host checked again replaces that
        // host's results in the last full run's.
        let whole = match (only, self.last_checks.take()) {
            (Some(host), Some(mut last)) => {
                last.results.retain(|r| r.host.as_deref() != Some(host));
                last.results.extend(
                    run.results
                        .iter()
                        .filter(|r| r.host.as_deref() == Some(host))
                        .cloned(),
                );
                checks::run::sort_results(&mut last.results, &last.hosts);
                last
            }
            _ => run.clone(),
        };
        reports::write_checks(&self.run_dir, &whole, &self.locale);
        self.last_checks = Some(whole);
        run
    }

    /// Where the checks' reports are: (json, markdown).
    pub fn check_reports(&self) -> (PathBuf, PathBuf) {
        reports::check_paths(&self.run_dir)
    }
}
