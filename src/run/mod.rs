//! One run, owned by the engine: whoever drives it (the wizard, headless),
//! the same sequence and the same run directory. [`Session::prepare`] reads
//! the bundle, renders, reads the hooks, finds what a resumed run finished,
//! and writes `answers.yaml` and `rendered/`; then the front end opens the
//! hosts (one SSH master per host for the whole run), locks them, checks
//! ([`Session::check`]: `checks.json`, `checks.md`), deploys
//! ([`Session::deploy`]: `state.json`, `logs/`, `deploy.json`,
//! `summary.md`) and releases. Front ends turn options or screens into a
//! [`Request`], and events into lines or widgets.

mod adopt;
pub mod backup;
mod deploy;
mod identify;
mod inputs;
mod membership;
pub mod release;
mod reports;
mod session_checks;
mod uninstall;

pub use inputs::open_bundle;
pub use uninstall::{UninstallRequest, Uninstalled, uninstall};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bundle::Bundle;
use crate::checks::{CheckRun, Waiver};
use crate::connect::{Connector, Secrets, Targets};
use crate::deploy::lock::{self, Holder, LockRefusal};
use crate::deploy::state::State;
use crate::event::{Event, EventSender};
use crate::i18n::Msg;
use crate::profile::Hooks;
use crate::profile::{Answers, TopologyKind};
use crate::render::RenderedFile;

pub use deploy::Finished;

/// What a front end asks for.
pub struct Request {
    pub answers: Answers,
    /// The profile file (named in the state file and the summary).
    pub profile: PathBuf,
    /// Where relative bundle, hook and secret paths start.
    pub base: PathBuf,
    /// cdwiz's data dir (keys, known hosts, generated secrets, sandbox).
    pub data_dir: PathBuf,
    /// Which run directory to use.
    pub place: RunPlace,
    /// The secrets the answers point at (read and checked by the caller:
    /// the wizard adds what the operator typed).
    pub secrets: Secrets,
    /// Waivers besides the profile's (`--accept-check`).
    pub waivers: Vec<Waiver>,
    /// Verify every image archive now (before any host is touched); else
    /// the first deploy does.
    pub verify_images: bool,
    /// The cdwiz binary that answers ssh's password prompt.
    pub askpass: PathBuf,
    /// Hosts the installation had and the profile no longer names are
    /// uninstalled by the deploy (their data kept); else such a deploy is
    /// refused.
    pub remove_hosts: bool,
    /// A bundle older than the hosts' release may replace it.
    pub allow_downgrade: bool,
    /// The removed hosts' data goes too (the operator confirmed it).
    pub purge_removed: bool,
    /// A rolling upgrade (or a restore) goes without the backup it takes
    /// first.
    pub no_backup: bool,
    /// Put this backup's data back before the deploy (which then puts its
    /// release back): `cdwiz restore`.
    pub restore_from: Option<PathBuf>,
    pub locale: String,
}

/// Which run directory a run writes.
#[derive(Debug, Clone)]
pub enum RunPlace {
    /// A new one under `base/runs`.
    New(PathBuf),
    /// The newest unfinished run of this installation under `base/runs`
    /// (`--resume`), else a new one.
    Latest(PathBuf),
    /// This one; with `resume`, its finished steps count when nothing they
    /// depend on changed.
    Dir { dir: PathBuf, resume: bool },
}

/// What became of a request to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// Not asked for.
    No,
    /// Asked for, and there was no unfinished run.
    NothingToResume,
    /// Its finished steps are trusted.
    Trusted,
    /// The profile, the bundle or a rendered file changed: every step runs.
    Changed,
}

/// Why a run stopped before (or instead of) deploying.
#[derive(Debug)]
pub struct RunError {
    pub kind: ErrorKind,
    /// What is wrong, where and what to do, one line each.
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The profile, the bundle, a hook or a secret (exit 2).
    BadInput,
    /// Another run holds the hosts or the namespace (exit 2).
    Refused,
    /// This machine could not write the run directory (exit 1).
    Io,
    /// The deploy could not begin (exit 4).
    Deploy,
}

impl RunError {
    pub(crate) fn new(kind: ErrorKind, lines: Vec<String>) -> RunError {
        RunError { kind, lines }
    }
}

/// The answers' bundle for a command that needs only its manifest
/// (uninstall, status): opened, its archives neither read nor verified.
pub(crate) fn manifest_only(
    a: &Answers,
    base: &Path,
    data_dir: &Path,
    profile: &Path,
    locale: &str,
) -> Result<Bundle, RunError> {
    let dir = inputs::bundle_dir(a, base, data_dir);
    Bundle::open(&dir).map_err(|e| {
        RunError::new(
            ErrorKind::BadInput,
            vec![format!(
                "{}: {}",
                profile.display(),
                e.message().render(locale)
            )],
        )
    })
}

/// What the run takes from this machine, as comments for `answers.yaml`
/// (which stays a profile): each source with its file's hash, as
/// `validate --plan` lists them.
fn sources_comment(a: &Answers, base: &Path) -> String {
    let listed = crate::profile::sources::listed(a, base);
    if listed.is_empty() {
        return String::new();
    }
    let mut out = String::from("# Taken from this machine:\n");
    for s in listed {
        out.push_str(&format!("#   {}\n", crate::text::line(&s.line())));
    }
    out
}

/// The secrets a front end holds, else those the profile's sources name.
pub(crate) fn secrets_or_profile(
    given: Option<Secrets>,
    a: &Answers,
    base: &Path,
    profile: &Path,
    locale: &str,
) -> Result<Secrets, RunError> {
    match given {
        Some(s) => Ok(s),
        None => crate::connect::resolve_secrets(a, base).map_err(|problems| {
            RunError::new(
                ErrorKind::BadInput,
                problems
                    .iter()
                    .map(|p| p.render_in(Some(profile), locale))
                    .collect(),
            )
        }),
    }
}

/// One run: its inputs, its run directory, its hosts.
pub struct Session {
    pub answers: Answers,
    pub bundle: Bundle,
    pub rendered: Vec<RenderedFile>,
    pub hooks: Hooks,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub resumed: Resumed,
    profile: PathBuf,
    base: PathBuf,
    data_dir: PathBuf,
    state: State,
    trust_state: bool,
    verified: bool,
    waivers: Vec<Waiver>,
    secrets: Secrets,
    connector: Arc<Connector>,
    targets: Option<Targets>,
    /// The locks' heartbeat while the hosts are locked, and the front
    /// end's channel it speaks to.
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    listener: lock::Listener,
    /// The installation's answers as of its latest run from this machine.
    before: Option<Answers>,
    /// The checks as reported (`checks.json`, `checks.md`).
    last_checks: Option<CheckRun>,
    remove_hosts: bool,
    allow_downgrade: bool,
    purge_removed: bool,
    no_backup: bool,
    /// The backup a restore puts back (read and summed before any host).
    restoring: Option<backup::Restoring>,
    askpass: PathBuf,
    locale: String,
}

impl Session {
    /// Everything that needs no host: waivers, bundle, render, hooks, the
    /// run directory with `answers.yaml` and `rendered/`, and the state a
    /// resumed run goes on from.
    pub fn prepare(mut req: Request) -> Result<Session, RunError> {
        // Which installation: the same one as hosts come and go (met from
        // here on: the next run finds it again, with the key pair and host
        // keys this one makes, until its hosts say otherwise).
        crate::installation::adopt(&req.data_dir, &mut req.answers);
        if let Some(id) = &req.answers.install
            && let Err(e) = crate::installation::meet(&req.data_dir, id, &req.answers)
        {
            tracing::warn!(error = %e, "cannot record the installation");
        }
        let bad = |lines: Vec<String>| RunError::new(ErrorKind::BadInput, lines);
        let locale = req.locale.as_str();
        let waivers = waivers(&req, locale).map_err(bad)?;
        let a = &req.answers;
        let bundle =
            inputs::open_bundle(a, &req.base, &req.data_dir, req.verify_images).map_err(|e| {
                bad(vec![format!(
                    "{}: {}",
                    req.profile.display(),
                    e.render(locale)
                )])
            })?;
        // A template or manifest problem is found before anything is
        // contacted.
        let rendered =
            crate::render::render(a, &bundle.manifest, Some(&bundle.dir)).map_err(|e| {
                bad(vec![format!(
                    "{}: {}",
                    bundle.dir.display(),
                    e.message().render(locale)
                )])
            })?;
        let hooks = inputs::read_hooks(a, &req.base).map_err(bad)?;
        let install = crate::profile::install_id(a);
        let restoring = match &req.restore_from {
            Some(dir) => Some(backup::Restoring::open(dir, a, &bundle.manifest, locale)?),
            None => None,
        };
        let fingerprint = inputs::fingerprint(a, &bundle, &rendered);

        let (earlier, resumed, run_dir) = match &req.place {
            RunPlace::New(base) => (None, Resumed::No, new_dir(base)?),
            RunPlace::Latest(base) => match crate::deploy::state::find_resumable(base, &install) {
                Some((dir, s)) => (Some(s), Resumed::Changed, dir),
                None => (None, Resumed::NothingToResume, new_dir(base)?),
            },
            RunPlace::Dir { dir, resume } => {
                let earlier = resume.then(|| crate::deploy::state::load(dir)).flatten();
                let resumed = if earlier.is_some() {
                    Resumed::Changed
                } else {
                    Resumed::No
                };
                ensure_dir(dir)?;
                (earlier, resumed, dir.clone())
            }
        };
        let trust_state = earlier
            .as_ref()
            .is_some_and(|s| s.fingerprint == fingerprint);
        let resumed = if trust_state {
            Resumed::Trusted
        } else {
            resumed
        };
        let run_id = run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut state = earlier.unwrap_or_default();
        state.run = run_id.clone();
        let before = crate::installation::last_answers(&req.data_dir, &install);
        state.install = install;
        state.profile = req.profile.clone();
        state.complete = false;
        if !trust_state {
            state.done.clear();
        }
        state.fingerprint = fingerprint;

        let io = |e: String| RunError::new(ErrorKind::Io, vec![e]);
        let mut yaml = serde_yaml::to_string(a).unwrap_or_default();
        yaml.push_str(&sources_comment(a, &req.base));
        crate::rundir::write_atomic(&run_dir.join("answers.yaml"), &yaml)
            .map_err(|e| io(format!("{}: {e}", run_dir.join("answers.yaml").display())))?;
        crate::render::write(&rendered, &run_dir.join("rendered"))
            .map_err(|e| io(e.to_string()))?;
        let install_file = run_dir.join(crate::rundir::INSTALL_FILE);
        crate::rundir::write_atomic(&install_file, &format!("{}\n", state.install))
            .map_err(|e| io(format!("{}: {e}", install_file.display())))?;
        crate::redact::add(&req.secrets.values());

        let connector = Arc::new(Connector::new(
            a,
            req.secrets.clone(),
            &req.data_dir,
            &req.base,
            req.askpass.clone(),
        ));
        Ok(Session {
            answers: req.answers,
            bundle,
            rendered,
            hooks,
            run_id,
            run_dir,
            resumed,
            profile: req.profile,
            base: req.base,
            data_dir: req.data_dir,
            state,
            trust_state,
            verified: req.verify_images,
            waivers,
            secrets: req.secrets,
            connector,
            targets: None,
            heartbeat: None,
            listener: lock::Listener::default(),
            before,
            last_checks: None,
            remove_hosts: req.remove_hosts,
            // A restore puts the backup's release back, older or not.
            allow_downgrade: req.allow_downgrade || restoring.is_some(),
            purge_removed: req.purge_removed,
            no_backup: req.no_backup,
            restoring,
            askpass: req.askpass,
            locale: req.locale,
        })
    }

    /// Whether this session was made for these answers and secrets (else
    /// a front end prepares a new one).
    /// Waivers aside: accepting a check's result changes nothing a run
    /// connects to or renders (see [`adopt_waivers`](Self::adopt_waivers)).
    pub fn serves(&self, answers: &Answers, secrets: &Secrets) -> bool {
        let mut a = answers.clone();
        a.accept_checks.clone_from(&self.answers.accept_checks);
        a.install.clone_from(&self.answers.install);
        self.answers == a && self.secrets.values() == secrets.values()
    }

    /// [`prepare`](Self::prepare) off the async threads (it reads and may
    /// hash the bundle).
    pub async fn prepare_blocking(req: Request) -> Result<Session, RunError> {
        tokio::task::spawn_blocking(move || Session::prepare(req))
            .await
            .unwrap_or_else(|e| Err(RunError::new(ErrorKind::Io, vec![e.to_string()])))
    }

    /// Whether the hosts are the Kubernetes API (no SSH).
    pub fn on_cluster(&self) -> bool {
        self.answers.topology.kind == TopologyKind::K8s
    }

    /// Where the rendered files are.
    pub fn rendered_dir(&self) -> PathBuf {
        self.run_dir.join("rendered")
    }

    /// Opens every host (none on a cluster); again, only those whose SSH
    /// master has gone, and `only` always; while unlocked (the wizard
    /// checking again), also those that could not be opened before.
    pub async fn open_hosts(&mut self, only: Option<&str>) {
        if !self.answers.uses_hosts() {
            return;
        }
        match (&mut self.targets, only) {
            (None, _) => {
                self.targets = Some(Targets::open(&self.connector, &self.answers).await);
            }
            (Some(t), Some(host)) => t.reopen(&self.connector, &self.answers, &[host]).await,
            (Some(t), None) => {
                let retry = self.heartbeat.is_none();
                t.refresh(&self.connector, &self.answers, retry).await
            }
        }
    }

    /// Takes the run lock on every opened host (none on a cluster: its
    /// lease is taken by the deploy) and keeps it alive; `take_over` a lock
    /// whose run is dead. Lock takeovers are told as events.
    pub async fn lock(
        &mut self,
        take_over: bool,
        tx: &Option<EventSender>,
    ) -> Result<(), RunError> {
        self.listener.set(tx);
        if self.heartbeat.is_some() || self.on_cluster() {
            return Ok(());
        }
        self.open_hosts(None).await;
        let Some(targets) = &self.targets else {
            return Ok(());
        };
        let me = Holder::me(&self.run_id);
        match lock::acquire_all(targets, &me, take_over).await {
            Ok(taken) => {
                for (host, h) in taken {
                    emit(tx, taken_over(host, h)).await;
                }
                self.heartbeat = Some(lock::heartbeat(targets, self.listener.clone()));
                Ok(())
            }
            Err(refused) => Err(self.refusal(&refused)),
        }
    }

    fn refusal(&self, refused: &[(String, LockRefusal)]) -> RunError {
        let locale = self.locale.as_str();
        let lines: Vec<String> = refused
            .iter()
            .map(|(host, why)| {
                Msg::new("headless.lock-refused")
                    .arg("host", host)
                    .arg("why", why.message().render(locale))
                    .render(locale)
            })
            .collect();
        tracing::warn!(?lines, "run lock refused");
        RunError::new(ErrorKind::Refused, lines)
    }

    /// Gives back the locks this run holds.
    pub async fn release(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
            if let Some(t) = &self.targets {
                lock::release_all(t, &self.run_id).await;
            }
        }
    }

    /// Gives back the locks and closes every connection of the run, all
    /// hosts at once.
    pub async fn close(mut self) {
        self.release().await;
        if let Some(t) = self.targets.take() {
            t.close().await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

fn taken_over(place: String, h: Holder) -> Event {
    Event::LockTakenOver {
        place,
        run: h.run,
        pid: h.pid,
        installer: h.installer,
    }
}

async fn emit(tx: &Option<EventSender>, e: Event) {
    if let Some(tx) = tx {
        let _ = tx.send(e).await;
    }
}

/// The profile's waivers and the request's, each checked against the
/// catalogue.
fn waivers(req: &Request, locale: &str) -> Result<Vec<Waiver>, Vec<String>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, w) in req.answers.accept_checks.iter().enumerate() {
        let w = Waiver {
            id: w.check.clone(),
            host: w.host.clone(),
            reason: w.reason.clone(),
        };
        match w.validate() {
            Ok(()) => out.push(w),
            Err(e) => errors.push(format!(
                "{}: accept-checks[{i}].check: {}",
                req.profile.display(),
                e.render(locale)
            )),
        }
    }
    for w in &req.waivers {
        match w.validate() {
            Ok(()) => out.push(w.clone()),
            Err(e) => errors.push(format!("--accept-check {}", e.render(locale))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn new_dir(base: &Path) -> Result<PathBuf, RunError> {
    crate::rundir::create(base, &crate::rundir::new_run_id()).map_err(|e| {
        RunError::new(
            ErrorKind::Io,
            vec![format!(
                "cannot create the run directory under {}: {e}",
                base.join("runs").display()
            )],
        )
    })
}

/// A given run directory, made (0700, with `logs/`) when missing.
fn ensure_dir(dir: &Path) -> Result<(), RunError> {
    let (Some(runs), Some(id)) = (dir.parent(), dir.file_name()) else {
        return Ok(());
    };
    let base = runs.parent().unwrap_or(Path::new("."));
    crate::rundir::create(base, &id.to_string_lossy())
        .map(|_| ())
        .map_err(|e| {
            RunError::new(
                ErrorKind::Io,
                vec![format!(
                    "cannot create the run directory {}: {e}",
                    dir.display()
                )],
            )
        })
}
