//! The interactive wizard: one owner of the UI state (`App`) that draws;
//! engine work (checks, rendering, deploy) runs in tasks that send events
//! back; a `select!` over the terminal's events, those messages and a tick
//! that only runs while something on screen moves. The terminal is restored
//! on every exit, panics included; logs go to the run directory's file.

pub mod app;
pub mod bench;
mod chrome;
mod dialog;
mod form;
mod screens;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cdwiz::connect::Connector;
use cdwiz::deploy::state::{State, StateStore};
use cdwiz::deploy::{RunContext, Targets};
use cdwiz::event::Event;
use cdwiz::pipeline;
use cdwiz::profile::TopologyKind;
use cdwiz::render::RenderedFile;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use app::{App, Command, Outcome};

/// Messages from the engine tasks to the UI.
enum Msg {
    Engine(Event),
    ChecksDone(f64, String),
    Rendered(Result<Vec<RenderedFile>, String>),
    DeployDone(Outcome),
    Uninstalled(String),
}

/// Runs the wizard until the operator quits; the exit code.
pub async fn run(profile: Option<PathBuf>, locale: String) -> u8 {
    let answers = match &profile {
        Some(p) => match cdwiz::profile::load_file_for_wizard(p) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("{}", e.render(&locale));
                return crate::headless::EXIT_BAD_INPUT;
            }
        },
        None => None,
    };
    let data_dir = cdwiz::paths::data_dir();
    let resumable = answers.as_ref().and_then(|a| {
        cdwiz::deploy::state::find_resumable(&data_dir, &cdwiz::deploy::secrets::install_id(a))
    });
    let mut app = App::new(answers, profile, &locale);
    app.resumable = resumable.map(|(dir, s)| (dir, s.run));
    let terminal = ratatui::init();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    let code = Runner::new().run(terminal, &mut app).await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
    code
}

struct Runner {
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    data_dir: PathBuf,
    run_dir: Option<PathBuf>,
    cancel: CancellationToken,
}

impl Runner {
    fn new() -> Runner {
        let (tx, rx) = mpsc::channel(8192);
        Runner {
            tx,
            rx,
            data_dir: cdwiz::paths::data_dir(),
            run_dir: None,
            cancel: CancellationToken::new(),
        }
    }

    async fn run(&mut self, mut terminal: DefaultTerminal, app: &mut App) -> u8 {
        let mut events = EventStream::new();
        let mut tick = tokio::time::interval(Duration::from_millis(120));
        let _ = terminal.draw(|f| screens::draw(f, app));
        loop {
            let command = tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => app.on_key(k),
                    Some(Ok(TermEvent::Paste(text))) => {
                        app.on_paste(&text);
                        None
                    }
                    Some(Ok(_)) => None,
                    Some(Err(_)) | None => Some(Command::Quit),
                },
                Some(msg) = self.rx.recv() => {
                    self.on_msg(app, msg);
                    None
                }
                _ = tick.tick(), if app.animating() => {
                    app.on_tick();
                    None
                }
            };
            if let Some(c) = command {
                if c == Command::Quit {
                    return 0;
                }
                self.start(app, c);
            }
            let _ = terminal.draw(|f| screens::draw(f, app));
        }
    }

    fn on_msg(&mut self, app: &mut App, msg: Msg) {
        match msg {
            Msg::Engine(e) => app.on_event(e),
            Msg::ChecksDone(secs, note) => {
                app.checks.note = Some(note);
                app.checks_done(secs);
            }
            Msg::Rendered(r) => app.rendered = r,
            Msg::DeployDone(o) => app.deploy_done(o),
            Msg::Uninstalled(note) => {
                app.busy = false;
                app.message = Some(note);
            }
        }
    }

    /// The profile's directory (relative bundle and hook paths), else here.
    fn base(app: &App) -> PathBuf {
        app.profile_dir()
    }

    /// The wizard's run directory, made (with its log) on first use.
    fn run_dir(&mut self, app: &App) -> PathBuf {
        if let Some(d) = &self.run_dir {
            return d.clone();
        }
        let id = cdwiz::rundir::new_run_id();
        // A data dir that cannot be written falls back to a private (0700)
        // directory of its own, never to the shared temp dir itself.
        let dir = cdwiz::rundir::create(&self.data_dir, &id)
            .or_else(|e| {
                tracing::warn!("cannot create the run directory in the data dir: {e}");
                let private = tempfile::Builder::new()
                    .prefix("cdwiz-run-")
                    .tempdir()?
                    .keep();
                cdwiz::rundir::create(&private, &id)
            })
            .unwrap_or_else(|_| self.data_dir.join("runs").join(&id));
        let secrets = app.secrets();
        let _ = crate::logging::to_run_dir(&dir, secrets.values());
        tracing::info!(run = %id, "wizard run");
        self.run_dir = Some(dir.clone());
        dir
    }

    fn forward(&self) -> mpsc::Sender<Event> {
        let (etx, mut erx) = mpsc::channel::<Event>(4096);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(e) = erx.recv().await {
                if tx.send(Msg::Engine(e)).await.is_err() {
                    break;
                }
            }
        });
        etx
    }

    fn start(&mut self, app: &mut App, c: Command) {
        let answers = app.answers.clone();
        let base = Self::base(app);
        let data_dir = self.data_dir.clone();
        let tx = self.tx.clone();
        let locale = app.locale.clone();
        match c {
            Command::Quit => {}
            Command::StopDeploy => self.cancel.cancel(),
            Command::SaveProfile(path) => {
                let text = serde_yaml::to_string(&app.profile_answers()).unwrap_or_default();
                let note = match cdwiz::rundir::write_atomic(&path, &text) {
                    Ok(()) => cdwiz::i18n::Msg::new("wizard.review.saved")
                        .arg("path", path.display())
                        .render(&locale),
                    Err(e) => format!("{}: {e}", path.display()),
                };
                app.message = Some(note);
            }
            Command::RunChecks | Command::RunChecksFor(_) => {
                let mut answers = answers;
                if let Command::RunChecksFor(host) = &c {
                    answers.hosts.retain(|h| &h.address == host);
                }
                let run_dir = self.run_dir(app);
                let connector = Arc::new(Connector::new(
                    &answers,
                    app.secrets(),
                    &data_dir,
                    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cdwiz")),
                ));
                let events = self.forward();
                // The profile's accepted deviations, and those accepted here.
                let waivers: Vec<cdwiz::checks::Waiver> = answers
                    .accept_checks
                    .iter()
                    .map(|w| cdwiz::checks::Waiver {
                        id: w.check.clone(),
                        host: w.host.clone(),
                        reason: w.reason.clone(),
                    })
                    .collect();
                tokio::spawn(async move {
                    let manifest = match pipeline::open_bundle(&answers, &base, &data_dir, false) {
                        Ok(b) => b.manifest,
                        Err(e) => {
                            let _ = tx.send(Msg::ChecksDone(0.0, e.render(&locale))).await;
                            return;
                        }
                    };
                    let run = if answers.topology.kind == TopologyKind::K8s {
                        // The cluster's checks, through the Kubernetes API.
                        cdwiz::cluster::run_checks(
                            &answers,
                            &base,
                            &manifest,
                            waivers,
                            Some(events),
                        )
                        .await
                    } else {
                        cdwiz::checks::run_checks(
                            &answers,
                            &manifest,
                            connector,
                            waivers,
                            cdwiz::checks::run::DEFAULT_CONCURRENCY,
                            Some(events),
                        )
                        .await
                    };
                    let md = run_dir.join("checks.md");
                    let _ = cdwiz::rundir::write_atomic(
                        &run_dir.join("checks.json"),
                        &cdwiz::checks::report::to_json(&run),
                    );
                    let _ = cdwiz::rundir::write_atomic(
                        &md,
                        &cdwiz::checks::report::to_markdown(&run, &locale),
                    );
                    // Let the forwarded results arrive first.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let note = cdwiz::i18n::Msg::new("wizard.checks.report")
                        .arg("path", md.display())
                        .render(&locale);
                    let _ = tx.send(Msg::ChecksDone(run.secs, note)).await;
                });
            }
            Command::Render => {
                tokio::spawn(async move {
                    let r = pipeline::open_bundle(&answers, &base, &data_dir, false)
                        .map_err(|e| e.render(&locale))
                        .and_then(|b| {
                            cdwiz::render::render(&answers, &b.manifest, Some(&b.dir))
                                .map_err(|e| e.to_string())
                        });
                    let _ = tx.send(Msg::Rendered(r)).await;
                });
            }
            Command::Uninstall => {
                let connector = Arc::new(Connector::new(
                    &answers,
                    app.secrets(),
                    &data_dir,
                    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cdwiz")),
                ));
                tokio::spawn(async move {
                    if answers.topology.kind == TopologyKind::K8s {
                        let note = match cdwiz::deploy::k8s::Clients::connect(&answers, &base).await
                        {
                            Err(e) => e.render(&locale),
                            Ok(c) => match cdwiz::deploy::k8s::uninstall(&answers, &c.api, false)
                                .await
                            {
                                Err(e) => e.render(&locale),
                                Ok(removed) => {
                                    cdwiz::i18n::Msg::new("wizard.welcome.k8s-uninstalled")
                                        .arg("count", removed.values().map(Vec::len).sum::<usize>())
                                        .arg(
                                            "ns",
                                            answers.topology.namespace.clone().unwrap_or_default(),
                                        )
                                        .render(&locale)
                                }
                            },
                        };
                        let _ = tx.send(Msg::Uninstalled(note)).await;
                        return;
                    }
                    let dir = pipeline::bundle_dir(&answers, &base, &data_dir);
                    let note = match cdwiz::bundle::Bundle::open(&dir) {
                        Err(e) => e.to_string(),
                        Ok(b) => {
                            let results =
                                cdwiz::deploy::uninstall(&answers, &b.manifest, connector, false)
                                    .await;
                            let skipped = results.iter().filter(|r| r.skipped.is_some()).count();
                            cdwiz::i18n::Msg::new("wizard.welcome.uninstalled")
                                .arg("hosts", results.len() - skipped)
                                .arg(
                                    "containers",
                                    results.iter().map(|r| r.containers_removed).sum::<usize>(),
                                )
                                .arg("skipped", skipped)
                                .render(&locale)
                        }
                    };
                    let _ = tx.send(Msg::Uninstalled(note)).await;
                });
            }
            Command::Deploy | Command::Retry | Command::Resume(_) => {
                let resume = c != Command::Deploy;
                let take_over = matches!(c, Command::Resume(_));
                if let Command::Resume(dir) = &c {
                    self.run_dir = Some(dir.clone());
                    let _ = crate::logging::to_run_dir(dir, app.secrets().values());
                }
                let run_dir = self.run_dir(app);
                let secrets = app.secrets();
                let connector = Arc::new(Connector::new(
                    &answers,
                    secrets.clone(),
                    &data_dir,
                    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cdwiz")),
                ));
                self.cancel = CancellationToken::new();
                let cancel = self.cancel.clone();
                let events = self.forward();
                let profile = app
                    .profile
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("cdwiz-profile.yaml"));
                let redact: Vec<String> = secrets.values().iter().map(|s| s.to_string()).collect();
                tokio::spawn(async move {
                    let outcome = deploy(DeployJob {
                        resume,
                        take_over,
                        answers,
                        base,
                        data_dir,
                        run_dir,
                        connector,
                        cancel,
                        events,
                        profile,
                        redact,
                        locale,
                    })
                    .await;
                    let _ = tx.send(Msg::DeployDone(outcome)).await;
                });
            }
        }
    }
}

/// Where the wizard deploys: locked hosts (with their lock's heartbeat),
/// or a cluster.
enum Place {
    Hosts(Arc<Targets>, tokio::task::JoinHandle<()>),
    /// The clients, and the namespace's lock once taken.
    Cluster(
        Box<cdwiz::deploy::k8s::Clients>,
        Option<cdwiz::deploy::k8s::LockGuard>,
    ),
}

struct DeployJob {
    /// Go on from the state file of the run directory (finished steps are
    /// not run again; a failed host is retried).
    resume: bool,
    /// Take over a lock left by the dead process of the run resumed.
    take_over: bool,
    answers: cdwiz::profile::Answers,
    base: PathBuf,
    data_dir: PathBuf,
    run_dir: PathBuf,
    connector: Arc<Connector>,
    cancel: CancellationToken,
    events: mpsc::Sender<Event>,
    profile: PathBuf,
    redact: Vec<String>,
    locale: String,
}

/// The wizard's deploy: the same engine calls as the headless one.
async fn deploy(j: DeployJob) -> Outcome {
    let mut outcome = Outcome {
        run_dir: j.run_dir.clone(),
        ..Default::default()
    };
    let fail = |mut o: Outcome, message: String| {
        o.failures
            .push(("*".into(), "prepare".into(), message, Vec::new()));
        o
    };
    let bundle = match pipeline::open_bundle(&j.answers, &j.base, &j.data_dir, true) {
        Ok(b) => b,
        Err(e) => return fail(outcome, e.render(&j.locale)),
    };
    let rendered = match cdwiz::render::render(&j.answers, &bundle.manifest, Some(&bundle.dir)) {
        Ok(r) => r,
        Err(e) => return fail(outcome, e.to_string()),
    };
    let hooks = match pipeline::read_hooks(&j.answers, &j.base) {
        Ok(h) => h,
        Err(e) => return fail(outcome, e.join("; ")),
    };
    let (secrets_path, generated) =
        match pipeline::generated_secrets(&j.answers, &bundle, &j.data_dir) {
            Ok(g) => g,
            Err(e) => return fail(outcome, e),
        };
    outcome.secrets = secrets_path.clone();
    let run_id = j
        .run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Hosts are opened and locked; a cluster is reached through its API.
    let mut place = if j.answers.topology.kind == TopologyKind::K8s {
        match cdwiz::deploy::k8s::Clients::connect(&j.answers, &j.base).await {
            Ok(c) => Place::Cluster(Box::new(c), None),
            Err(e) => return fail(outcome, e.render(&j.locale)),
        }
    } else {
        let targets = match Targets::open(&j.connector, &j.answers).await {
            Ok(t) => Arc::new(t),
            Err(e) => return fail(outcome, e.to_string()),
        };
        let me = cdwiz::deploy::lock::Holder::me(&run_id);
        if let Err(refused) = targets.lock(&me, j.take_over).await {
            let msg: Vec<String> = refused
                .iter()
                .map(|(h, why)| format!("{h}: {why}"))
                .collect();
            return fail(outcome, msg.join("; "));
        }
        let heartbeat = targets.heartbeat();
        Place::Hosts(targets, heartbeat)
    };
    let fingerprint = pipeline::fingerprint(&j.answers, &bundle, &rendered);
    let earlier =
        cdwiz::deploy::state::load(&j.run_dir).filter(|s| j.resume && s.fingerprint == fingerprint);
    let trust = earlier.is_some();
    let state = Arc::new(StateStore::new(
        &j.run_dir,
        earlier.unwrap_or_else(|| State {
            run: run_id.clone(),
            install: cdwiz::deploy::secrets::install_id(&j.answers),
            fingerprint,
            profile: j.profile.clone(),
            ..Default::default()
        }),
    ));
    let _ = state.save();
    let mut redact = j.redact.clone();
    redact.extend(generated.values().cloned());
    crate::logging::redact_also(&redact);
    let logs = Arc::new(cdwiz::deploy::hostlog::HostLogs::new(
        &j.run_dir,
        redact,
        Some(j.events.clone()),
    ));
    let ctx = RunContext {
        run_id: run_id.clone(),
        state: state.clone(),
        logs,
        cancel: j.cancel.clone(),
        tx: Some(j.events.clone()),
        concurrency: cdwiz::deploy::DEFAULT_CONCURRENCY,
        resume: trust,
    };
    let input = cdwiz::deploy::Input {
        answers: &j.answers,
        bundle: &bundle,
        rendered: &rendered,
        generated: &generated,
        hooks: &hooks,
    };
    if let Place::Cluster(clients, guard) = &mut place {
        let me = cdwiz::deploy::lock::Holder::me(&run_id);
        match cdwiz::deploy::k8s::lock(&input, clients, &me, j.take_over).await {
            Ok((g, _)) => *guard = Some(g),
            Err(refused) => return fail(outcome, refused.message().render(&j.locale)),
        }
    }
    let report = match &place {
        Place::Hosts(targets, _) => cdwiz::deploy::deploy(&input, targets, &ctx).await,
        Place::Cluster(clients, _) => cdwiz::deploy::k8s::deploy(&input, clients, &ctx).await,
    };
    match place {
        Place::Hosts(targets, heartbeat) => {
            heartbeat.abort();
            targets.release(&run_id).await;
        }
        Place::Cluster(_, guard) => {
            if let Some(g) = guard {
                g.release().await;
            }
        }
    }
    let summary = j.run_dir.join("summary.md");
    let product = format!(
        "{} {}",
        bundle.manifest.product.name, bundle.manifest.product.version
    );
    let md = cdwiz::deploy::summary::to_markdown(
        &report,
        &j.answers,
        &product,
        &cdwiz::deploy::summary::Paths {
            profile: &j.profile,
            run_dir: &j.run_dir,
            secrets: &secrets_path,
            state: state.path(),
        },
        &j.locale,
    );
    let _ = cdwiz::rundir::write_atomic(&summary, &md);
    outcome.ok = report.ok();
    outcome.cancelled = report.cancelled;
    outcome.url = report.url.clone();
    outcome.secs = report.secs;
    outcome.summary = summary;
    outcome.failures = report
        .failures
        .iter()
        .map(|f| {
            (
                f.host.clone(),
                f.step.clone(),
                f.message.render(&j.locale),
                f.last_lines.clone(),
            )
        })
        .collect();
    outcome
}
