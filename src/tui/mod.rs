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
mod jobs;
mod screens;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cdwiz::event::Event;
use cdwiz::run::{RunPlace, Session};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use app::{App, Command};
use jobs::{Job, Msg};

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
        let install = cdwiz::installation::resolve(&data_dir, a);
        cdwiz::deploy::state::find_resumable(&data_dir, &install)
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
    /// The run session the checks, the deploy and a retry share.
    session: Arc<tokio::sync::Mutex<Option<Session>>>,
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
            session: Arc::new(tokio::sync::Mutex::new(None)),
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
                    // The run's connections close (and its locks go) now,
                    // all hosts at once, unless a job still holds them.
                    let idle = self.session.try_lock().ok().and_then(|mut s| s.take());
                    if let Some(s) = idle {
                        s.close().await;
                    }
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
            Msg::Clusters(c) => app.clusters = c,
            Msg::Release(r) => app.release = r,
            Msg::Machines(m) => app.machines = m,
            Msg::DeployDone(o) => app.deploy_done(o),
            Msg::Uninstalled(note) => {
                app.busy = false;
                app.message = Some(note);
            }
            Msg::Status(lines, summary) => {
                app.busy = false;
                app.status = Some(lines);
                app.message = Some(summary);
            }
        }
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

    /// What the Welcome screen's Status and Uninstall work on.
    fn welcome(&self, app: &App) -> jobs::Welcome {
        jobs::Welcome {
            answers: app.answers.clone(),
            profile: app.profile_path(),
            base: app.profile_dir(),
            data_dir: self.data_dir.clone(),
            secrets: app.secrets(),
            locale: app.locale.clone(),
        }
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
                let only = match c {
                    Command::RunChecksFor(host) => Some(host),
                    _ => None,
                };
                tokio::spawn(self.job(app, false).checks(only));
            }
            Command::Render => {
                tokio::spawn(self.job(app, false).render());
            }
            Command::Status => {
                let (job, tx) = (jobs::status(self.welcome(app)), self.tx.clone());
                tokio::spawn(async move {
                    let (lines, summary) = job.await;
                    let _ = tx.send(Msg::Status(lines, summary)).await;
                });
            }
            Command::Uninstall => {
                let (job, tx) = (jobs::uninstall(self.welcome(app)), self.tx.clone());
                tokio::spawn(async move {
                    let _ = tx.send(Msg::Uninstalled(job.await)).await;
                });
            }
            Command::Deploy | Command::Retry | Command::Resume(_) => {
                if let Command::Resume(dir) = &c {
                    self.run_dir = Some(dir.clone());
                    let _ = crate::logging::to_run_dir(dir, app.secrets().values());
                }
                self.cancel = CancellationToken::new();
                let job = self.job(app, c != Command::Deploy);
                let run_dir = self.run_dir(app);
                let take_over = matches!(c, Command::Resume(_));
                tokio::spawn(job.deploy(run_dir, take_over, self.cancel.clone()));
            }
        }
    }

    /// A job on the wizard's run directory (`resume`: its finished steps
    /// count while nothing they depend on changed).
    fn job(&mut self, app: &App, resume: bool) -> Job {
        let dir = self.run_dir(app);
        let events = self.forward();
        Job::new(
            app,
            RunPlace::Dir { dir, resume },
            self.session.clone(),
            self.tx.clone(),
            events,
        )
    }
}
