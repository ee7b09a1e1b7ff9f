//! The wizard's state and its update function: keys and engine events in,
//! state changes and commands for the runner out. Drawing only reads it
//! (`screens::*::draw(&App)`); nothing here touches the terminal or the
//! network, so tests feed keys and events and assert on the state.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cdwiz::checks::Status;
use cdwiz::event::{Event, StepOutcome};
use cdwiz::profile::{Answers, Problem, Role, Topology, TopologyKind};
use cdwiz::render::RenderedFile;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

mod answers;
mod consent;
mod views;
mod waiver;
mod welcome;

use answers::default_answers;

pub use views::{ChecksView, DeployView, HostProgress, Outcome};

use super::form::Form;
use super::screens;

/// Lines of log kept per host on the deploy screen (older lines are
/// dropped: memory stays flat however long the deploy runs).
pub const LOG_LINES: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Screen {
    Welcome,
    Topology,
    Hosts,
    Settings,
    Checks,
    Review,
    Deploy,
    Summary,
}

impl Screen {
    pub const ALL: [Screen; 8] = [
        Screen::Welcome,
        Screen::Topology,
        Screen::Hosts,
        Screen::Settings,
        Screen::Checks,
        Screen::Review,
        Screen::Deploy,
        Screen::Summary,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Screen::Welcome => "welcome",
            Screen::Topology => "topology",
            Screen::Hosts => "hosts",
            Screen::Settings => "settings",
            Screen::Checks => "checks",
            Screen::Review => "review",
            Screen::Deploy => "deploy",
            Screen::Summary => "summary",
        }
    }
}

/// What the runner must do for the app (work that leaves the process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    RunChecks,
    /// The checks of one host again (the others' results stay).
    RunChecksFor(String),
    Render,
    Deploy,
    /// Deploy again in the same run: finished steps are skipped, failed
    /// hosts retried.
    Retry,
    /// Go on with an earlier unfinished run (its run directory), taking
    /// over the lock its dead process left.
    Resume(PathBuf),
    /// Remove the loaded profile's installation (data kept).
    Uninstall,
    /// `cdwiz status` of the loaded profile's installation.
    Status,
    /// Stop the deploy between steps.
    StopDeploy,
    SaveProfile(PathBuf),
    Quit,
}

pub struct App {
    pub screen: Screen,
    pub locale: String,
    pub answers: Answers,
    pub profile: Option<PathBuf>,
    pub hosts_form: Form,
    pub settings_form: Form,
    /// Roles as the operator set them, by address.
    pub roles: BTreeMap<String, Vec<Role>>,
    /// The data disk, its format flag and the data dir the hosts form showed
    /// when it was built: a field still at that value leaves every host's
    /// own value alone; an edited one applies to every host.
    hosts_form_shown: (String, bool, String),
    pub topology_row: usize,
    pub problems: Vec<Problem>,
    pub checks: ChecksView,
    pub rendered: Result<Vec<RenderedFile>, String>,
    /// The hosts against the installation's last run from this machine
    /// (none: a first install), shown on Review.
    pub membership: Option<cdwiz::installation::Membership>,
    /// The release the deploy would put on the hosts against theirs.
    pub release: Option<cdwiz::plan::PlannedRelease>,
    /// The clusters the components form on the hosts (Review).
    pub clusters: Vec<cdwiz::plan::PlannedComponentCluster>,
    /// Each checked host's architecture and the archive it gets (shown on
    /// Review when not every host is amd64).
    pub machines: std::collections::BTreeMap<String, cdwiz::deploy::Machine>,
    pub review_row: usize,
    pub review_scroll: u16,
    pub deploy: DeployView,
    pub outcome: Option<Outcome>,
    pub help: bool,
    pub confirm_quit: bool,
    /// What a loaded profile takes from this machine without the
    /// operator's consent yet (variables outside `CDWIZ_*`, files outside
    /// its folder): asked about before anything else.
    pub consent: Vec<cdwiz::profile::sources::ListedSource>,
    /// What the answers take from this machine, shown on Review.
    pub sources: Vec<cdwiz::profile::sources::ListedSource>,
    /// The reason being typed to accept a check's result.
    pub waiving: Option<super::form::Field>,
    /// A dialog of the Hosts screen (one host's values, or the login).
    pub dialog: Option<super::dialog::Dialog>,
    /// Passwords typed in the Hosts screen's dialogs (never saved).
    pub typed: super::dialog::Typed,
    /// The Welcome screen's selected action.
    pub welcome_row: usize,
    /// An unfinished run of the loaded profile's install: its directory and id.
    pub resumable: Option<(PathBuf, String)>,
    /// Uninstall runs.
    pub busy: bool,
    /// The Welcome screen's Status panel: the lines of `cdwiz status`.
    pub status: Option<Vec<String>>,
    pub message: Option<String>,
    pub spinner: usize,
    pub no_color: bool,
}

const PASSWORD_FIELD: &str = "ssh.password";

impl App {
    /// A new wizard, pre-filled from `answers` when a profile was given.
    pub fn new(answers: Option<Answers>, profile: Option<PathBuf>, locale: &str) -> App {
        let prefilled = answers.is_some();
        let answers = answers.unwrap_or_else(default_answers);
        let mut app = App {
            screen: Screen::Welcome,
            locale: locale.to_string(),
            hosts_form: Form::default(),
            settings_form: Form::default(),
            hosts_form_shown: Default::default(),
            roles: answers
                .hosts
                .iter()
                .map(|h| (h.address.clone(), h.roles.clone()))
                .collect(),
            topology_row: [
                TopologyKind::Single,
                TopologyKind::HaKeepalived,
                TopologyKind::HaLb,
                TopologyKind::K8s,
            ]
            .iter()
            .position(|k| *k == answers.topology.kind)
            .unwrap_or(0),
            answers,
            profile,
            problems: Vec::new(),
            checks: ChecksView::default(),
            rendered: Ok(Vec::new()),
            membership: None,
            clusters: Vec::new(),
            release: None,
            machines: Default::default(),
            review_row: 0,
            review_scroll: 0,
            deploy: DeployView::default(),
            outcome: None,
            help: false,
            confirm_quit: false,
            consent: Vec::new(),
            sources: Vec::new(),
            waiving: None,
            dialog: None,
            typed: Default::default(),
            welcome_row: 0,
            resumable: None,
            busy: false,
            status: None,
            message: None,
            spinner: 0,
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        };
        if prefilled {
            app.ask_consent();
        }
        app.build_forms();
        if prefilled {
            // Saved answers: each form opens on its Next button.
            app.hosts_form.focus_next_button();
            app.settings_form.focus_next_button();
        }
        app.validate();
        app
    }

    /// The loaded profile's path, or where a new one is saved.
    pub fn profile_path(&self) -> PathBuf {
        self.profile
            .clone()
            .unwrap_or_else(|| PathBuf::from("cdwiz-profile.yaml"))
    }

    pub fn t(&self, key: &str) -> String {
        cdwiz::i18n::text(key, &self.locale)
    }

    fn validate(&mut self) {
        self.problems = cdwiz::profile::validate(&self.answers);
    }

    /// Problems whose field path starts with one of `prefixes`.
    pub fn problems_for(&self, prefixes: &[&str]) -> Vec<&Problem> {
        self.problems
            .iter()
            .filter(|p| prefixes.iter().any(|x| p.path.starts_with(x)))
            .collect()
    }

    fn go(&mut self, screen: Screen) -> Option<Command> {
        self.screen = screen;
        self.message = None;
        match screen {
            Screen::Checks => {
                self.checks = ChecksView {
                    running: true,
                    ..Default::default()
                };
                Some(Command::RunChecks)
            }
            Screen::Review => {
                self.rendered = Ok(Vec::new());
                self.release = None;
                let plan =
                    cdwiz::installation::with_membership(&self.answers, &cdwiz::paths::data_dir());
                self.membership = plan.membership.clone();
                self.sources =
                    cdwiz::plan::with_sources(plan, &self.answers, &self.profile_dir()).sources;
                self.review_row = 0;
                Some(Command::Render)
            }
            Screen::Deploy => {
                self.deploy = DeployView {
                    running: true,
                    ..Default::default()
                };
                Some(Command::Deploy)
            }
            _ => None,
        }
    }

    /// Moves on from the current screen if it allows.
    pub fn next(&mut self) -> Option<Command> {
        match self.screen {
            Screen::Welcome => self.go(Screen::Topology),
            Screen::Topology => {
                let kind = TOPOLOGIES[self.topology_row];
                if kind != self.answers.topology.kind {
                    self.answers.topology = Topology::of(kind);
                    self.roles.clear();
                    self.rebuild_settings_form();
                }
                self.sync();
                self.go(if kind == TopologyKind::K8s {
                    Screen::Settings
                } else {
                    Screen::Hosts
                })
            }
            Screen::Hosts => {
                self.sync();
                if self.problems_for(&["hosts", "ssh"]).is_empty()
                    && !self.needs_password()
                    && self.hosts_without_password().is_empty()
                {
                    self.go(Screen::Settings)
                } else {
                    self.message = Some(self.t("wizard.fix-first"));
                    None
                }
            }
            Screen::Settings => {
                self.sync();
                if self.problems.is_empty() {
                    self.go(Screen::Checks)
                } else {
                    self.message = Some(self.t("wizard.fix-first"));
                    None
                }
            }
            Screen::Checks => {
                if self.checks.running {
                    return None;
                }
                if self.checks.count(Status::Fail) > 0 {
                    self.message = Some(self.t("wizard.checks.blocked"));
                    None
                } else if self.checks.count(Status::Warn) > 0 && !self.checks.warns_accepted {
                    self.message = Some(self.t("wizard.checks.accept-warns"));
                    None
                } else {
                    self.go(Screen::Review)
                }
            }
            Screen::Review => match &self.rendered {
                Ok(files) if !files.is_empty() => self.go(Screen::Deploy),
                _ => None,
            },
            Screen::Deploy => {
                if self.deploy.running {
                    None
                } else {
                    self.go(Screen::Summary)
                }
            }
            Screen::Summary => Some(Command::Quit),
        }
    }

    fn back(&mut self) {
        let prev = match self.screen {
            Screen::Topology => Screen::Welcome,
            Screen::Hosts => Screen::Topology,
            Screen::Settings if self.answers.topology.kind == TopologyKind::K8s => Screen::Topology,
            Screen::Settings => Screen::Hosts,
            Screen::Checks if !self.checks.running => Screen::Settings,
            Screen::Review => Screen::Checks,
            other => other,
        };
        self.screen = prev;
        self.message = None;
    }

    /// Whether a text field has the keyboard (letters are text then).
    pub fn typing(&self) -> bool {
        if self.waiving.is_some() {
            return true;
        }
        if let Some(d) = &self.dialog {
            return d.form.typing();
        }
        match self.screen {
            Screen::Hosts => self.hosts_form.typing(),
            Screen::Settings => self.settings_form.typing(),
            _ => false,
        }
    }

    /// `?` asks for help unless it is typed into a field that already
    /// holds text (a password may contain it); F1 always does.
    fn wants_help(&self, key: &KeyEvent) -> bool {
        match key.code {
            KeyCode::F(1) => true,
            KeyCode::Char('?') if !self.typing() => true,
            KeyCode::Char('?') => {
                if self.waiving.is_some() {
                    return false;
                }
                match (&self.dialog, self.screen) {
                    (Some(d), _) => d.form.typing_into_empty(),
                    (None, Screen::Hosts) => self.hosts_form.typing_into_empty(),
                    (None, Screen::Settings) => self.settings_form.typing_into_empty(),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if !self.consent.is_empty() {
            return self.on_consent_key(key);
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    if self.deploy.running {
                        self.deploy.stopping = true;
                        Some(Command::StopDeploy)
                    } else {
                        Some(Command::Quit)
                    }
                }
                _ => None,
            };
        }
        if self.help {
            self.help = false;
            return None;
        }
        if ctrl && key.code == KeyCode::Char('c') {
            self.confirm_quit = true;
            return None;
        }
        if self.wants_help(&key) {
            self.help = true;
            return None;
        }
        if !self.typing() && key.code == KeyCode::Char('q') {
            self.confirm_quit = true;
            return None;
        }
        if key.code == KeyCode::Esc {
            if self.waiving.take().is_none() && self.dialog.take().is_none() {
                self.back();
            }
            return None;
        }
        match self.screen {
            Screen::Welcome => screens::welcome::on_key(self, key),
            Screen::Topology => screens::topology::on_key(self, key),
            Screen::Hosts => screens::hosts::on_key(self, key),
            Screen::Settings => screens::settings::on_key(self, key),
            Screen::Checks => screens::checks::on_key(self, key),
            Screen::Review => screens::review::on_key(self, key),
            Screen::Deploy => screens::deploy::on_key(self, key),
            Screen::Summary => screens::summary::on_key(self, key),
        }
    }

    /// An event from the engine.
    pub fn on_event(&mut self, e: Event) {
        match e {
            Event::ChecksStarted { .. } => {}
            Event::CheckFinished(r) => {
                let host = r.host.clone().unwrap_or_else(|| "*".into());
                if self.checks.only.as_ref().is_some_and(|o| *o != host) {
                    return;
                }
                self.checks.results.insert((r.id.to_string(), host), r);
            }
            Event::ChecksHostDone { host, .. } => self.checks.hosts_done.push(host),
            Event::DeployStarted { steps } => {
                for (h, n) in steps {
                    self.deploy.hosts.entry(h).or_default().total = n;
                }
            }
            Event::StepStarted { host, step } => {
                self.deploy.hosts.entry(host).or_default().current = Some(step);
            }
            Event::DeployStep { host, outcome, .. } => {
                let h = self.deploy.hosts.entry(host).or_default();
                match outcome {
                    StepOutcome::Failed { message, .. } => {
                        h.failed = Some(message.render(&self.locale))
                    }
                    StepOutcome::Skipped { .. } => {}
                    _ => h.finished += 1,
                }
                h.current = None;
                h.bytes = None;
            }
            Event::ImageProgress { host, sent, total } => {
                self.deploy.hosts.entry(host).or_default().bytes = Some((sent, total));
            }
            Event::LockTakenOver { ref place, .. } => {
                let host = place.clone();
                let line = e
                    .lock_taken_over()
                    .map(|m| m.render(&self.locale))
                    .unwrap_or_default();
                self.on_event(Event::HostLog { host, line });
            }
            Event::LockNotTouched { host, said } => {
                let line = said.render(&self.locale);
                self.on_event(Event::HostLog { host, line });
            }
            Event::InstallIdentified { hosts, said, .. } => {
                let line = said.render(&self.locale);
                for host in hosts {
                    let line = line.clone();
                    self.on_event(Event::HostLog { host, line });
                }
            }
            Event::Backup { said } => {
                let line = said.render(&self.locale);
                for host in self.deploy.hosts.keys().cloned().collect::<Vec<_>>() {
                    let line = line.clone();
                    self.on_event(Event::HostLog { host, line });
                }
            }
            Event::SecretsAdopted { ref from, .. } => {
                let line = e
                    .secrets_adopted()
                    .map(|m| m.render(&self.locale))
                    .unwrap_or_default();
                for host in from.clone() {
                    let line = line.clone();
                    self.on_event(Event::HostLog { host, line });
                }
            }
            Event::HostLog { host, line } => {
                let h = self.deploy.hosts.entry(host).or_default();
                if h.log.len() == LOG_LINES {
                    h.log.pop_front();
                }
                h.log.push_back(line);
            }
        }
    }

    /// Pasted text: into the focused field (a list of IPs becomes rows).
    pub fn on_paste(&mut self, text: &str) {
        let form = match self.screen {
            Screen::Hosts => &mut self.hosts_form,
            Screen::Settings => &mut self.settings_form,
            _ => return,
        };
        if form.paste(text) {
            self.sync();
        }
    }

    /// After a failed or stopped deploy: go on where it stopped.
    pub fn retry(&mut self) -> Option<Command> {
        if self.deploy.running || self.outcome.as_ref().is_none_or(|o| o.ok) {
            return None;
        }
        self.outcome = None;
        self.screen = Screen::Deploy;
        self.message = None;
        self.deploy = DeployView {
            running: true,
            ..Default::default()
        };
        Some(Command::Retry)
    }

    pub fn checks_done(&mut self, secs: f64) {
        self.checks.running = false;
        self.checks.only = None;
        self.checks.secs = Some(secs);
    }

    pub fn deploy_done(&mut self, outcome: Outcome) {
        self.deploy.running = false;
        self.outcome = Some(outcome);
        self.screen = Screen::Summary;
    }

    pub fn on_tick(&mut self) {
        self.spinner = self.spinner.wrapping_add(1);
    }

    /// Whether something on screen moves by itself (then ticks redraw).
    pub fn animating(&self) -> bool {
        (self.screen == Screen::Checks && self.checks.running)
            || (self.screen == Screen::Deploy && self.deploy.running)
    }
}

pub const TOPOLOGIES: [TopologyKind; 4] = [
    TopologyKind::Single,
    TopologyKind::HaKeepalived,
    TopologyKind::HaLb,
    TopologyKind::K8s,
];
