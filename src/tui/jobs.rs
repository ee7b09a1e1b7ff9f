//! The wizard's engine work: one run session (`cdwiz::run`) for as long as
//! the answers and secrets stay the same, so that the checks, the deploy
//! and a retry share its run directory and its SSH connections. Each job
//! runs in a task and reports back as a [`Msg`].

use std::path::PathBuf;
use std::sync::Arc;

use cdwiz::event::Event;
use cdwiz::profile::Answers;
use cdwiz::run::{Request, RunError, RunPlace, Session};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::app::{App, Outcome};

/// Messages from the engine tasks to the UI.
pub enum Msg {
    Engine(Event),
    ChecksDone(f64, String),
    Rendered(Result<Vec<cdwiz::render::RenderedFile>, String>),
    /// The clusters the components form on the hosts (Review).
    Clusters(Vec<cdwiz::plan::PlannedComponentCluster>),
    /// The release the deploy would put on the hosts against theirs.
    Release(Option<cdwiz::plan::PlannedRelease>),
    /// Each checked host's architecture and the archive it gets.
    Machines(std::collections::BTreeMap<String, cdwiz::deploy::Machine>),
    DeployDone(Outcome),
    Uninstalled(String),
    /// `cdwiz status` as lines, and its one-line summary.
    Status(Vec<String>, String),
}

/// What a job needs of the wizard's state, taken when it starts.
pub struct Job {
    request: Request,
    slot: Arc<Mutex<Option<Session>>>,
    /// Problems with the secret sources (the job reports them instead).
    problems: Vec<String>,
    tx: mpsc::Sender<Msg>,
    events: mpsc::Sender<Event>,
}

impl Job {
    pub fn new(
        app: &App,
        place: RunPlace,
        slot: Arc<Mutex<Option<Session>>>,
        tx: mpsc::Sender<Msg>,
        events: mpsc::Sender<Event>,
    ) -> Job {
        let request = Request {
            answers: app.answers.clone(),
            profile: app.profile_path(),
            base: app.profile_dir(),
            data_dir: cdwiz::paths::data_dir(),
            place,
            secrets: app.secrets(),
            waivers: Vec::new(),
            verify_images: false,
            askpass: cdwiz::connect::askpass_program(),
            // The wizard does not remove hosts yet (refused, with the
            // headless command to do it).
            remove_hosts: false,
            allow_downgrade: false,
            purge_removed: false,
            no_backup: false,
            restore_from: None,
            locale: app.locale.clone(),
        };
        Job {
            request,
            slot,
            problems: app.secret_problems(),
            tx,
            events,
        }
    }

    /// The session serving this job's answers: the one open, or a new one.
    async fn with_session<T>(
        self,
        work: impl AsyncFnOnce(&mut Session, mpsc::Sender<Event>) -> T,
    ) -> Result<T, Vec<String>> {
        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        let mut slot = self.slot.lock().await;
        let req = self.request;
        let answers = req.answers.clone();
        let fits = slot.as_ref().is_some_and(|s| {
            s.serves(&req.answers, &req.secrets)
                && match &req.place {
                    RunPlace::Dir { dir, .. } => s.run_dir == *dir,
                    _ => true,
                }
        });
        if !fits {
            // The old session's connections close before the new ones open.
            if let Some(old) = slot.take() {
                old.close().await;
            }
            *slot = Some(
                Session::prepare_blocking(req)
                    .await
                    .map_err(|e: RunError| e.lines)?,
            );
        }
        let session = slot.as_mut().ok_or_else(Vec::new)?;
        session.adopt_waivers(&answers);
        Ok(work(session, self.events).await)
    }

    /// The checks of every host (or `only` one), on the session's hosts.
    pub async fn checks(self, only: Option<String>) {
        let (tx, locale) = (self.tx.clone(), self.request.locale.clone());
        let done = self
            .with_session(async |s: &mut Session, events| {
                let run = s.check(only.as_deref(), Some(events)).await;
                let (_, md) = s.check_reports();
                (run.secs, md)
            })
            .await;
        let (secs, note) = match done {
            Ok((secs, md)) => {
                // Let the forwarded results arrive first.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let note = cdwiz::i18n::Msg::new("wizard.checks.report").arg("path", md.display());
                (secs, note.render(&locale))
            }
            Err(lines) => (0.0, lines.join("\n")),
        };
        let _ = tx.send(Msg::ChecksDone(secs, note)).await;
    }

    /// The rendered files, for the Review screen.
    pub async fn render(self) {
        let tx = self.tx.clone();
        let r = self
            .with_session(async |s: &mut Session, _| {
                let clusters = cdwiz::plan::clusters(&s.answers, &s.bundle.manifest);
                (
                    s.rendered.clone(),
                    s.planned_release().await,
                    s.machines(),
                    clusters,
                )
            })
            .await
            .map_err(|lines| lines.join("\n"));
        let (r, release, machines, clusters) = match r {
            Ok((files, release, machines, clusters)) => (Ok(files), release, machines, clusters),
            Err(e) => (Err(e), None, Default::default(), Vec::new()),
        };
        let _ = tx.send(Msg::Clusters(clusters)).await;
        let _ = tx.send(Msg::Rendered(r)).await;
        let _ = tx.send(Msg::Release(release)).await;
        let _ = tx.send(Msg::Machines(machines)).await;
    }

    /// Deploys (`take_over` a dead run's lock), then reports the outcome.
    pub async fn deploy(self, run_dir: PathBuf, take_over: bool, cancel: CancellationToken) {
        let (tx, locale) = (self.tx.clone(), self.request.locale.clone());
        let mut outcome = Outcome {
            run_dir,
            ..Default::default()
        };
        let done = self
            .with_session(async |s: &mut Session, events| {
                s.deploy(take_over, cancel, Some(events)).await
            })
            .await;
        match done.and_then(|r| r.map_err(|e| e.lines)) {
            Err(lines) => {
                outcome
                    .failures
                    .push(("*".into(), "prepare".into(), lines.join("; "), Vec::new()));
            }
            Ok(f) => {
                let report = &f.report;
                outcome.ok = report.ok();
                outcome.cancelled = report.cancelled;
                outcome.url = report.url.clone();
                outcome.secs = report.secs;
                outcome.secrets = f.secrets.clone();
                outcome.summary = f.summary.clone();
                outcome.failures = report
                    .failures
                    .iter()
                    .map(|e| {
                        let message = e.message.render(&locale);
                        (
                            e.host.clone(),
                            e.step.clone(),
                            message,
                            e.last_lines.clone(),
                        )
                    })
                    .collect();
            }
        }
        let _ = tx.send(Msg::DeployDone(outcome)).await;
    }
}

/// The loaded profile, for the Welcome screen's Status and Uninstall.
pub struct Welcome {
    pub answers: Answers,
    pub profile: PathBuf,
    pub base: PathBuf,
    pub data_dir: PathBuf,
    pub secrets: cdwiz::connect::Secrets,
    pub locale: String,
}

/// Removes the answers' installation (data kept); what to tell the operator.
pub async fn uninstall(w: Welcome) -> String {
    let locale = w.locale.clone();
    let req = cdwiz::run::UninstallRequest {
        answers: w.answers,
        profile: w.profile,
        base: w.base,
        workdir: w.data_dir.clone(),
        data_dir: w.data_dir,
        secrets: Some(w.secrets),
        purge: false,
        locale: w.locale,
    };
    let render = |m: cdwiz::i18n::Msg| m.render(&locale);
    let done = match cdwiz::run::uninstall(req).await {
        Ok((done, _)) => done,
        Err(e) => return e.lines.join("\n"),
    };
    let skipped = done.unreachable();
    match done {
        cdwiz::run::Uninstalled::Cluster { namespace, removed } => render(
            cdwiz::i18n::Msg::new("wizard.welcome.k8s-uninstalled")
                .arg("count", removed.values().map(Vec::len).sum::<usize>())
                .arg("ns", namespace),
        ),
        cdwiz::run::Uninstalled::Hosts { hosts } => render(
            cdwiz::i18n::Msg::new("wizard.welcome.uninstalled")
                .arg("hosts", hosts.len() - skipped)
                .arg(
                    "containers",
                    hosts.iter().map(|r| r.containers_removed).sum::<usize>(),
                )
                .arg("skipped", skipped),
        ),
    }
}

/// `cdwiz status` of the answers' installation: its lines and a summary.
pub async fn status(w: Welcome) -> (Vec<String>, String) {
    let locale = w.locale.clone();
    let req = cdwiz::status::StatusRequest {
        answers: w.answers,
        profile: w.profile,
        base: w.base,
        data_dir: w.data_dir,
        secrets: Some(w.secrets),
        locale: w.locale,
    };
    match cdwiz::status::status(req).await {
        Err(e) => (e.lines.clone(), e.lines.join(" ")),
        Ok(report) => {
            let problems = report.problems();
            let lines = crate::cli_status::text_lines(&report, &problems, &locale);
            let summary = lines.last().cloned().unwrap_or_default();
            let summary = if problems.is_empty() {
                summary
            } else {
                cdwiz::i18n::Msg::new("status.not-well")
                    .arg("count", problems.len())
                    .render(&locale)
            };
            (lines, summary)
        }
    }
}
