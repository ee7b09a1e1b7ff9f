//! `cdwiz backup` and `cdwiz backup --verify` as commands: the profile's
//! bundle and secrets, every host reached (and, for a backup, locked
//! against other runs while it is taken), then the backup room's work.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ErrorKind, RunError};
use crate::backup::{BackupEvent, Taking, Verified, Written};
use crate::connect::{Connector, Secrets, Targets};
use crate::i18n::Msg;
use crate::profile::{Answers, TopologyKind};

/// What a backup needs.
pub struct BackupRequest {
    pub answers: Answers,
    /// The profile file, for error lines.
    pub profile: PathBuf,
    pub base: PathBuf,
    pub data_dir: PathBuf,
    pub locale: String,
    /// The folder to write (it must not exist); none: under the data dir,
    /// `backups/<install>-<time>`.
    pub out: Option<PathBuf>,
    /// Keep the generated secrets in it (in clear, 0600).
    pub include_secrets: bool,
}

/// Takes the backup; `events` hears of each part. Exit kinds: bad input
/// or the hosts held by another run (2), a host or a part that could not
/// be read (`Deploy`: 4).
pub async fn backup(
    mut req: BackupRequest,
    events: &(dyn Fn(BackupEvent) + Sync),
) -> Result<Written, RunError> {
    crate::installation::adopt(&req.data_dir, &mut req.answers);
    let locale = req.locale.clone();
    let a = &req.answers;
    let bad = |m: Msg| RunError::new(ErrorKind::BadInput, vec![m.render(&locale)]);
    let bundle = super::manifest_only(a, &req.base, &req.data_dir, &req.profile, &locale)?;
    if a.topology.kind == TopologyKind::K8s {
        return Err(bad(Msg::new("backup.error.k8s")));
    }
    let out = req
        .out
        .clone()
        .unwrap_or_else(|| crate::backup::default_dir(&req.data_dir, a));
    if out.exists() {
        return Err(bad(
            Msg::new("backup.error.exists").arg("path", out.display())
        ));
    }
    let secrets = super::secrets_or_profile(None, a, &req.base, &req.profile, &locale)?;
    crate::redact::add(&secrets.values());
    let targets = open(a, secrets, &req.data_dir, &req.base, &locale, true).await?;
    let run = format!("backup-{}", crate::rundir::new_run_id());
    let me = crate::deploy::lock::Holder::me(&run);
    if let Err(refused) = crate::deploy::lock::acquire_all(&targets, &me, false).await {
        let lines = refused
            .iter()
            .map(|(h, r)| format!("{h}: {}", r.message().render(&locale)))
            .collect();
        targets.close().await;
        return Err(RunError::new(ErrorKind::Refused, lines));
    }
    let heartbeat = crate::deploy::lock::heartbeat(&targets, Default::default());
    let taking = Taking {
        answers: a,
        manifest: &bundle.manifest,
        targets: &targets,
        data_dir: &req.data_dir,
        out: &out,
        include_secrets: req.include_secrets,
    };
    let taken = crate::backup::take(taking, events).await;
    heartbeat.abort();
    let _ = heartbeat.await;
    crate::deploy::lock::release_all(&targets, &run).await;
    targets.close().await;
    taken.map_err(|m| RunError::new(ErrorKind::Deploy, vec![m.render(&locale)]))
}

/// Every host of `a` reached; with `all`, none unreachable (each named
/// otherwise), else at least one.
async fn open(
    a: &Answers,
    secrets: Secrets,
    data_dir: &std::path::Path,
    base: &std::path::Path,
    locale: &str,
    all: bool,
) -> Result<Targets, RunError> {
    let mut connector = Connector::new(
        a,
        secrets,
        data_dir,
        base,
        crate::connect::askpass_program(),
    );
    connector.install_key = false;
    let targets = Targets::open(&Arc::new(connector), a).await;
    if targets.unreachable.is_empty() || !all && !targets.hosts.is_empty() {
        return Ok(targets);
    }
    let lines = targets
        .unreachable
        .iter()
        .map(|(addr, why)| format!("{addr}: {}", why.failure.message().render(locale)))
        .collect();
    targets.close().await;
    Err(RunError::new(ErrorKind::Deploy, lines))
}

/// What a verification needs.
pub struct VerifyRequest {
    pub answers: Answers,
    pub profile: PathBuf,
    pub base: PathBuf,
    pub data_dir: PathBuf,
    pub locale: String,
    /// The backup's folder.
    pub dir: PathBuf,
}

/// Why a backup was not verified.
#[derive(Debug)]
pub enum VerifyError {
    /// Bad input: no backup there, a profile problem, another
    /// installation's backup (exit 2); a host not reached (`Deploy`).
    Run(RunError),
    /// Parts that are not what the index recorded (exit 6).
    Damaged(Vec<Msg>),
}

impl From<RunError> for VerifyError {
    fn from(e: RunError) -> Self {
        VerifyError::Run(e)
    }
}

/// Verifies the backup in `req.dir`: read and summed before any host is
/// asked, then restored part by part in throwaway containers.
pub async fn verify(mut req: VerifyRequest) -> Result<Verified, VerifyError> {
    crate::installation::adopt(&req.data_dir, &mut req.answers);
    let locale = req.locale.clone();
    let a = &req.answers;
    let bad = |m: Msg| RunError::new(ErrorKind::BadInput, vec![m.render(&locale)]);
    let index = crate::backup::read(&req.dir).map_err(bad)?;
    let damaged = crate::backup::check_sums(&req.dir, &index);
    if !damaged.is_empty() {
        return Err(VerifyError::Damaged(damaged));
    }
    let install = crate::profile::install_id(a);
    if index.install != install {
        return Err(bad(Msg::new("backup.error.another")
            .arg("path", req.dir.display())
            .arg("found", &index.install)
            .arg("install", &install))
        .into());
    }
    let bundle = super::manifest_only(a, &req.base, &req.data_dir, &req.profile, &locale)?;
    let secrets = super::secrets_or_profile(None, a, &req.base, &req.profile, &locale)?;
    // One host with the image is enough to restore in.
    let targets = open(a, secrets, &req.data_dir, &req.base, &locale, false).await?;
    let verified =
        crate::backup::verify(&req.dir, index, a, &bundle.manifest, &targets, &locale).await;
    targets.close().await;
    Ok(verified)
}

impl super::Session {
    /// Before a rolling upgrade replaces anything: a backup of the
    /// installation with the hosts this run holds (each part said to the
    /// front end), its folder; none when asked not to (`--no-backup`, said
    /// too), when the bundle names nothing to back up, or when the hosts
    /// already run two releases (an upgrade that stopped half way: a backup
    /// is of one release, and the one before that upgrade is what to
    /// restore). A backup that fails stops the upgrade before anything is
    /// touched.
    pub(super) async fn backup_first(
        &self,
        targets: &Targets,
        records: &[(String, serde_json::Value)],
        tx: &Option<crate::event::EventSender>,
    ) -> Result<Option<PathBuf>, RunError> {
        let say = |said: Msg| async move {
            if let Some(tx) = tx {
                let _ = tx.send(crate::event::Event::Backup { said }).await;
            }
        };
        if self.no_backup {
            say(Msg::new("backup.upgrade.skipped")).await;
            return Ok(None);
        }
        let m = &self.bundle.manifest;
        if !m.components.iter().any(|c| c.backup.is_some()) {
            return Ok(None);
        }
        let mut versions: Vec<&str> = records
            .iter()
            .filter_map(|(_, r)| r.get("version")?.as_str())
            .collect();
        versions.sort_unstable();
        versions.dedup();
        if versions.len() > 1 {
            say(Msg::new("backup.upgrade.mixed").arg("versions", versions.join(", "))).await;
            return Ok(None);
        }
        let out = crate::backup::default_dir(&self.data_dir, &self.answers);
        // Each part as it is taken; the events are sent in order.
        let (parts_tx, mut parts_rx) = tokio::sync::mpsc::unbounded_channel::<BackupEvent>();
        let events = move |e: BackupEvent| {
            let _ = parts_tx.send(e);
        };
        let taking = Taking {
            answers: &self.answers,
            manifest: m,
            targets,
            data_dir: &self.data_dir,
            out: &out,
            include_secrets: false,
        };
        let taken = {
            let take = crate::backup::take(taking, &events);
            tokio::pin!(take);
            loop {
                tokio::select! {
                    done = &mut take => break done,
                    Some(e) = parts_rx.recv() => say(part_said(&e)).await,
                }
            }
        };
        drop(events);
        while let Ok(e) = parts_rx.try_recv() {
            say(part_said(&e)).await;
        }
        match taken {
            Ok(w) => {
                say(Msg::new("backup.upgrade.taken").arg("path", w.dir.display())).await;
                Ok(Some(w.dir))
            }
            Err(why) => Err(RunError::new(
                ErrorKind::Deploy,
                vec![
                    Msg::new("backup.upgrade.failed")
                        .arg("error", why.render(&self.locale))
                        .arg("profile", self.profile.display())
                        .render(&self.locale),
                ],
            )),
        }
    }
}

/// What the front end is told of a part of the upgrade's backup.
fn part_said(e: &BackupEvent) -> Msg {
    match e {
        BackupEvent::Taking { part, host } => Msg::new("backup.event.taking")
            .arg("part", part)
            .arg("host", host),
        BackupEvent::Progress { part, bytes } => Msg::new("backup.event.progress")
            .arg("part", part)
            .arg("size", crate::text::bytes(*bytes)),
        BackupEvent::Taken {
            part,
            host,
            bytes,
            secs,
        } => Msg::new("backup.event.taken")
            .arg("part", part)
            .arg("host", host)
            .arg("size", crate::text::bytes(*bytes))
            .arg("secs", format!("{secs:.1}")),
    }
}
