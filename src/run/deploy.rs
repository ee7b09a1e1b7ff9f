//! A session's deploy: the generated secrets, the hosts (locked, on the
//! run's connections) or the cluster (its lease), the engine's deploy, and
//! what it leaves: `state.json`, `logs/`, `deploy.json`, `summary.md`.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{ErrorKind, RunError, Session, emit, taken_over};
use crate::deploy::hostlog::HostLogs;
use crate::deploy::k8s::Clients;
use crate::deploy::lock::Holder;
use crate::deploy::state::StateStore;
use crate::deploy::{DeployReport, RunContext};
use crate::event::EventSender;
use crate::plan::release::Change;
use crate::registry::Registry;

/// What a finished (or stopped) deploy left.
pub struct Finished {
    pub report: DeployReport,
    /// The installation's generated secrets.
    pub secrets: PathBuf,
    pub summary: PathBuf,
    pub state: PathBuf,
    pub logs: PathBuf,
}

impl Session {
    /// Deploys (or resumes) onto the hosts or the cluster, then gives back
    /// every lock this run holds. `take_over` a lock whose run is dead.
    pub async fn deploy(
        &mut self,
        take_over: bool,
        cancel: CancellationToken,
        tx: Option<EventSender>,
    ) -> Result<Finished, RunError> {
        self.listener.set(&tx);
        let result = self.deploy_locked(take_over, cancel, tx).await;
        self.release().await;
        result
    }

    async fn deploy_locked(
        &mut self,
        take_over: bool,
        cancel: CancellationToken,
        tx: Option<EventSender>,
    ) -> Result<Finished, RunError> {
        let failed = |lines: Vec<String>| RunError::new(ErrorKind::Deploy, lines);
        // Hosts the profile no longer names: refused before anything is
        // touched, unless the operator asked for their removal.
        let gone = self.removal()?;
        self.verify_archives().await?;
        let (registry, clients) = self.reach(take_over, &tx).await?;
        // Another product, or an older release unasked: refused here, before
        // anything is touched.
        let records = if self.on_cluster() {
            Vec::new()
        } else {
            self.records().await
        };
        let change = if self.on_cluster() {
            Change::Install
        } else {
            self.release_change(&records)?
        };
        let recorded_keys = crate::deploy::keys::by_host(&records);
        // The installation's generated secrets: this machine's record, else
        // read back from where its last deploy put them, else made anew.
        if change != Change::Install || self.on_cluster() {
            self.adopt_secrets(clients.as_ref(), &tx).await?;
        }
        let (secrets_path, generated) =
            super::inputs::generated_secrets(&self.answers, &self.bundle, &self.data_dir)
                .map_err(|e| failed(vec![e]))?;
        let mut redact: Vec<String> = self
            .secrets
            .values()
            .iter()
            .map(|s| s.to_string())
            .collect();
        redact.extend(generated.values().cloned());
        crate::redact::add(&redact);

        if let Some(gone) = &gone {
            self.remove_hosts(gone, &tx).await;
        }
        // The installation is now these hosts (found again by them).
        let install = crate::profile::install_id(&self.answers);
        crate::installation::record(&self.data_dir, &install, &self.answers).map_err(|e| {
            failed(vec![format!(
                "{}: {e}",
                self.data_dir.join("installs").join(&install).display()
            )])
        })?;
        let state = Arc::new(StateStore::new(&self.run_dir, self.state.clone()));
        let _ = state.save();
        let logs = Arc::new(HostLogs::new(&self.run_dir, redact, tx.clone()));
        let ctx = RunContext {
            run_id: self.run_id.clone(),
            state: state.clone(),
            logs,
            cancel,
            tx: tx.clone(),
            concurrency: crate::deploy::DEFAULT_CONCURRENCY,
            resume: self.trust_state,
        };
        let input = crate::deploy::Input {
            answers: &self.answers,
            bundle: &self.bundle,
            rendered: &self.rendered,
            generated: &generated,
            recorded_keys: &recorded_keys,
            hooks: &self.hooks,
            rolling: change.rolls(self.answers.hosts.len()),
            in_service: change != Change::Install,
            upgrading: matches!(change, Change::Upgrade { .. }),
        };
        // A rolling upgrade backs the data up before it replaces anything;
        // a restore too, before it puts the backup's data back (then the
        // deploy puts its release back and starts what the restore
        // stopped).
        let backup = match (&change, &self.targets) {
            (_, Some(targets)) if self.restoring.is_some() => {
                let backup = self.backup_first(targets, &records, &tx, "restore").await?;
                self.restore_data(targets, &tx).await?;
                backup
            }
            (Change::Upgrade { .. }, Some(targets)) => {
                self.backup_first(targets, &records, &tx, "upgrade").await?
            }
            _ => None,
        };
        let mut report = match (&clients, &self.targets) {
            (Some(clients), _) => {
                self.on_the_cluster(&input, clients, registry.as_ref(), &ctx, take_over)
                    .await?
            }
            (None, Some(targets)) => crate::deploy::deploy(&input, targets, &ctx).await,
            (None, None) => return Err(failed(vec!["no hosts were opened".into()])),
        };
        report.backup = backup;
        drop(ctx);
        self.record_where(&install, &state, report.ok());
        // A retry in this session goes on from what this one finished.
        self.state = state.snapshot();
        self.trust_state = true;
        Ok(self.write_reports(report, secrets_path, state.path()))
    }

    /// Every image archive against its checksum, once per session (the
    /// sandbox's bundle is verified when opened).
    async fn verify_archives(&mut self) -> Result<(), RunError> {
        if self.verified || self.answers.bundle == "sandbox" {
            return Ok(());
        }
        // Hashing reads every archive: off the async threads.
        let (bundle, cache) = (
            self.bundle.clone(),
            super::inputs::hash_cache(&self.data_dir),
        );
        let verified = tokio::task::spawn_blocking(move || bundle.verify_cached(Some(&cache)))
            .await
            .map_err(|e| RunError::new(ErrorKind::Deploy, vec![e.to_string()]))?;
        verified.map_err(|e| {
            RunError::new(ErrorKind::BadInput, vec![e.message().render(&self.locale)])
        })?;
        self.verified = true;
        Ok(())
    }

    /// What the deploy works through: on a cluster its registry (if the
    /// profile names one), its clients and the nodes images are loaded
    /// onto; on hosts, their locks (taken here).
    async fn reach(
        &mut self,
        take_over: bool,
        tx: &Option<EventSender>,
    ) -> Result<(Option<Registry>, Option<Clients>), RunError> {
        if !self.on_cluster() {
            self.lock(take_over, tx).await?;
            return Ok((None, None));
        }
        let locale = self.locale.clone();
        let registry = Registry::of(
            &self.answers.topology,
            &self.base,
            self.secrets.registry_password.as_deref(),
        )
        .map_err(|e| RunError::new(ErrorKind::BadInput, vec![e.render(&locale)]))?;
        // The nodes the images are loaded onto (`images: nodes`).
        self.open_hosts(None).await;
        let clients = Clients::connect(&self.answers, &self.base)
            .await
            .map_err(|e| RunError::new(ErrorKind::Deploy, vec![e.render(&locale)]))?;
        Ok((registry, Some(clients)))
    }

    /// The deploy on a cluster, one run at a time per namespace (a Lease
    /// in it, given back when done).
    async fn on_the_cluster(
        &self,
        input: &crate::deploy::Input<'_>,
        clients: &Clients,
        registry: Option<&Registry>,
        ctx: &RunContext,
        take_over: bool,
    ) -> Result<DeployReport, RunError> {
        let me = Holder::me(&self.run_id);
        let ns = crate::plan::namespace(&self.answers.topology);
        let guard = match crate::deploy::k8s::lock(input, clients, &me, take_over).await {
            Ok((guard, taken)) => {
                if let Some(h) = taken {
                    emit(&ctx.tx, taken_over(format!("namespace/{ns}"), h)).await;
                }
                guard
            }
            Err(refused) => {
                return Err(self.refusal(&[(format!("namespace/{ns}"), refused)]));
            }
        };
        let report =
            crate::deploy::k8s::deploy(input, clients, registry, self.targets.as_ref(), ctx).await;
        guard.release().await;
        Ok(report)
    }

    /// Where the installation now is (its record, its secrets): what tells
    /// a later run that hosts without its record lost it; and, after a
    /// deploy that finished everywhere (`complete`), the release they run.
    fn record_where(&self, install: &str, state: &StateStore, complete: bool) {
        let placed: Vec<String> = if self.on_cluster() {
            let ns = crate::plan::namespace(&self.answers.topology);
            state
                .is_done(crate::deploy::CLUSTER, "secret")
                .then(|| format!("namespace/{ns}"))
                .into_iter()
                .collect()
        } else {
            self.answers
                .hosts
                .iter()
                .filter(|h| state.is_done(&h.address, "configs"))
                .map(|h| h.address.clone())
                .collect()
        };
        if let Err(e) = crate::installation::record_placed(&self.data_dir, install, &placed) {
            tracing::warn!(error = %e, "cannot record where the installation is");
        }
        if complete {
            // Every host runs this release now (the plan's "from" next time).
            let product = &self.bundle.manifest.product;
            let release = crate::plan::Release {
                product: product.name.clone(),
                version: product.version.clone(),
            };
            if let Err(e) = crate::installation::record_release(&self.data_dir, install, &release) {
                tracing::warn!(error = %e, "cannot record the installation's release");
            }
        }
    }

    /// Each checked host's architecture and the bundle's archive for it
    /// (the Review screen, the completion report).
    pub fn machines(&self) -> std::collections::BTreeMap<String, crate::deploy::Machine> {
        self.last_checks
            .as_ref()
            .map(|c| crate::deploy::Machine::from_checks(&c.results, &self.bundle))
            .unwrap_or_default()
    }

    /// Writes `deploy.json` and `summary.md` for a finished deploy.
    fn write_reports(
        &self,
        mut report: DeployReport,
        secrets_path: PathBuf,
        state: &std::path::Path,
    ) -> Finished {
        let locale = self.locale.as_str();
        report.machines = self.machines();
        tracing::info!(
            changed = report.changed(),
            failures = report.failures.len(),
            cancelled = report.cancelled,
            secs = report.secs,
            "deploy finished"
        );
        let _ = crate::rundir::write_atomic(
            &self.run_dir.join("deploy.json"),
            &serde_json::to_string_pretty(&report).unwrap_or_default(),
        );
        let summary = self.run_dir.join("summary.md");
        let product = format!(
            "{} {}",
            self.bundle.manifest.product.name, self.bundle.manifest.product.version
        );
        let md = crate::deploy::summary::to_markdown(
            &report,
            &self.answers,
            &product,
            &crate::deploy::summary::Paths {
                profile: &self.profile,
                run_dir: &self.run_dir,
                secrets: &secrets_path,
                state,
            },
            locale,
        );
        let _ = crate::rundir::write_atomic(&summary, &md);
        Finished {
            report,
            secrets: secrets_path,
            summary,
            state: state.to_path_buf(),
            logs: self.run_dir.join("logs"),
        }
    }
}
