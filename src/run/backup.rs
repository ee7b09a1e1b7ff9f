//! `cdwiz backup` and `cdwiz backup --verify` as commands: the profile's
//! bundle and secrets, every host reached (and, for a backup, locked
//! against other runs while it is taken), then the backup room's work.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ErrorKind, RunError};
use crate::backup::{BackupEvent, Index, Taking, Verified, Written};
use crate::bundle::{Component, Manifest};
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
    /// `before` is `upgrade` or `restore` (what the messages say).
    pub(super) async fn backup_first(
        &self,
        targets: &Targets,
        records: &[(String, serde_json::Value)],
        tx: &Option<crate::event::EventSender>,
        before: &str,
    ) -> Result<Option<PathBuf>, RunError> {
        let key = |k: &str| format!("backup.{before}.{k}");
        let say = |said: Msg| async move {
            if let Some(tx) = tx {
                let _ = tx.send(crate::event::Event::Backup { said }).await;
            }
        };
        if self.no_backup {
            say(Msg::new(key("skipped"))).await;
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
            say(Msg::new(key("mixed")).arg("versions", versions.join(", "))).await;
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
                say(Msg::new(key("taken")).arg("path", w.dir.display())).await;
                Ok(Some(w.dir))
            }
            Err(why) => Err(RunError::new(
                ErrorKind::Deploy,
                vec![
                    Msg::new(key("failed"))
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

/// A backup a restore puts back: read, summed and matched to the run
/// before any host is asked.
pub struct Restoring {
    pub dir: PathBuf,
    pub index: Index,
}

impl Restoring {
    /// The backup in `dir`, when it is whole (every part's size and
    /// sha256), of this installation, and of the release the profile's
    /// bundle is (the deploy after the data puts that release back); what
    /// is wrong otherwise (bad input, nothing touched).
    pub fn open(
        dir: &Path,
        a: &Answers,
        m: &Manifest,
        locale: &str,
    ) -> Result<Restoring, RunError> {
        let bad = |lines: Vec<String>| RunError::new(ErrorKind::BadInput, lines);
        if a.topology.kind == TopologyKind::K8s {
            return Err(bad(vec![Msg::new("backup.error.k8s").render(locale)]));
        }
        let index = crate::backup::read(dir).map_err(|m| bad(vec![m.render(locale)]))?;
        let damaged = crate::backup::check_sums(dir, &index);
        if !damaged.is_empty() {
            let mut lines = vec![
                Msg::new("backup.verify.damaged")
                    .arg("path", dir.display())
                    .render(locale),
            ];
            lines.extend(damaged.iter().map(|m| format!("  {}", m.render(locale))));
            return Err(bad(lines));
        }
        let install = crate::profile::install_id(a);
        if index.install != install {
            return Err(bad(vec![
                Msg::new("backup.error.another")
                    .arg("path", dir.display())
                    .arg("found", &index.install)
                    .arg("install", &install)
                    .render(locale),
            ]));
        }
        if (index.product.as_str(), index.version.as_str())
            != (m.product.name.as_str(), m.product.version.as_str())
        {
            return Err(bad(vec![
                Msg::new("backup.restore.other-release")
                    .arg("path", dir.display())
                    .arg("backup", format!("{} {}", index.product, index.version))
                    .arg(
                        "bundle",
                        format!("{} {}", m.product.name, m.product.version),
                    )
                    .render(locale),
            ]));
        }
        Ok(Restoring {
            dir: dir.to_path_buf(),
            index,
        })
    }
}

/// The components that write to the ones being restored: each that
/// depends on one of them, directly or through another (the backend, the
/// web tier), not themselves restored.
fn writers<'m>(m: &'m Manifest, restored: &[&str]) -> Vec<&'m Component> {
    let mut reached: Vec<&str> = restored.to_vec();
    loop {
        let more: Vec<&str> = m
            .components
            .iter()
            .filter(|c| !reached.contains(&c.name.as_str()))
            .filter(|c| c.depends_on.iter().any(|d| reached.contains(&d.as_str())))
            .map(|c| c.name.as_str())
            .collect();
        if more.is_empty() {
            break;
        }
        reached.extend(more);
    }
    m.components
        .iter()
        .filter(|c| reached.contains(&c.name.as_str()) && !restored.contains(&c.name.as_str()))
        .collect()
}

/// Where a part is put in its member's container while it is restored.
const RESTORE_INSIDE: &str = "/tmp";

impl super::Session {
    /// The restore's data step: the platform's writers stopped on every
    /// host, then each data part put back by its component's
    /// `backup.restore` in the member that leads. A part that fails stops
    /// the run with the writers still stopped (said, with what to do).
    pub(super) async fn restore_data(
        &self,
        targets: &Targets,
        tx: &Option<crate::event::EventSender>,
    ) -> Result<(), RunError> {
        let Some(r) = &self.restoring else {
            return Ok(());
        };
        let say = |said: Msg| async move {
            if let Some(tx) = tx {
                let _ = tx.send(crate::event::Event::Backup { said }).await;
            }
        };
        let failed = |m: Msg| RunError::new(ErrorKind::Deploy, vec![m.render(&self.locale)]);
        let a = &self.answers;
        let m = &self.bundle.manifest;
        let parts: Vec<&crate::backup::Part> = r
            .index
            .parts
            .iter()
            .filter(|p| p.kind == crate::backup::Kind::Data)
            .collect();
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        let writers = writers(m, &names);
        for w in &writers {
            for addr in crate::plan::placement(a, w) {
                let Some(t) = targets.hosts.get(&addr) else {
                    continue;
                };
                let docker = t.docker().await.map_err(|e| failed(e.clone()))?;
                crate::deploy::container::stop(docker, &w.name, 10)
                    .await
                    .map_err(|e| {
                        failed(
                            Msg::new("backup.restore.stop-failed")
                                .arg("host", &addr)
                                .arg("error", e),
                        )
                    })?;
            }
        }
        let stopped: Vec<&str> = writers.iter().map(|c| c.name.as_str()).collect();
        say(Msg::new("backup.restore.writers-stopped").arg("components", stopped.join(", "))).await;
        for part in parts {
            let Some(c) = m.components.iter().find(|c| c.name == part.name) else {
                return Err(failed(
                    Msg::new("backup.verify.no-check").arg("component", &part.name),
                ));
            };
            let Some(spec) = &c.backup else {
                return Err(failed(
                    Msg::new("backup.verify.no-check").arg("component", &part.name),
                ));
            };
            let (addr, docker) = leader(a, c, targets).await.ok_or_else(|| {
                failed(Msg::new("backup.error.no-member").arg("component", &c.name))
            })?;
            let file = crate::backup::part_path(&r.dir, part).unwrap_or_default();
            let container = crate::deploy::container::name(&c.name);
            let base = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let inside = format!("{RESTORE_INSIDE}/{base}");
            let mut argv: Vec<&str> = spec.restore.iter().map(String::as_str).collect();
            argv.push(&inside);
            let ran = async {
                crate::docker::copy_into(docker, &container, &file, RESTORE_INSIDE)
                    .await
                    .map_err(|e| e.to_string())?;
                let out = crate::docker::exec(docker, &container, &argv)
                    .await
                    .map_err(|e| e.to_string());
                let _ = crate::docker::exec(docker, &container, &["rm", "-f", &inside]).await;
                let out = out?;
                if out.code == 0 {
                    Ok(out.output)
                } else {
                    let last = out.output.lines().rev().find(|l| !l.trim().is_empty());
                    Err(format!(
                        "`{}` exited with {}: {}",
                        argv.join(" "),
                        out.code,
                        crate::text::line(last.unwrap_or("-").trim())
                    ))
                }
            }
            .await;
            match ran {
                Ok(said) => {
                    let last = said.lines().rev().find(|l| !l.trim().is_empty());
                    say(Msg::new("backup.restore.part")
                        .arg("part", &part.name)
                        .arg("host", &addr)
                        .arg("created", &r.index.created)
                        .arg("said", crate::text::line(last.unwrap_or("-").trim())))
                    .await;
                }
                Err(e) => {
                    return Err(failed(
                        Msg::new("backup.restore.failed")
                            .arg("part", &part.name)
                            .arg("host", &addr)
                            .arg("error", e)
                            .arg("profile", self.profile.display()),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The running member of `c` that leads (its `cluster.role` says
/// primary or leader), or its only running one when it forms no cluster.
async fn leader<'t>(
    a: &Answers,
    c: &Component,
    targets: &'t Targets,
) -> Option<(String, &'t bollard::Docker)> {
    let container = crate::deploy::container::name(&c.name);
    let role = c
        .cluster
        .as_ref()
        .map(|k| k.role.clone())
        .unwrap_or_default();
    for addr in crate::plan::placement(a, c) {
        let Some(t) = targets.hosts.get(&addr) else {
            continue;
        };
        let Ok(docker) = t.docker().await else {
            continue;
        };
        if !crate::deploy::container::runs(docker, &c.name)
            .await
            .unwrap_or(false)
        {
            continue;
        }
        if role.is_empty() {
            return Some((addr, docker));
        }
        let argv: Vec<&str> = role.iter().map(String::as_str).collect();
        let said = crate::docker::exec(docker, &container, &argv).await;
        if said.is_ok_and(|o| o.code == 0 && matches!(o.output.trim(), "primary" | "leader")) {
            return Some((addr, docker));
        }
    }
    None
}
