//! The wizard's state and its update function: keys and engine events in,
//! state changes and commands for the runner out. Drawing only reads it
//! (`screens::*::draw(&App)`); nothing here touches the terminal or the
//! network, so tests feed keys and events and assert on the state.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use cdwiz::checks::{CheckResult, Status};
use cdwiz::event::{Event, StepOutcome};
use cdwiz::profile::{
    AcceptCheck, Answers, Host, Problem, Role, SshAuth, SshSettings, Topology, TopologyKind,
};
use cdwiz::render::RenderedFile;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::form::{Field, Form};
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
    /// Stop the deploy between steps.
    StopDeploy,
    SaveProfile(PathBuf),
    Quit,
}

/// A check cell: running until its result arrives.
#[derive(Debug, Default)]
pub struct ChecksView {
    pub running: bool,
    pub results: BTreeMap<(String, String), CheckResult>,
    pub hosts_done: Vec<String>,
    /// Selected row (check) and column (host).
    pub row: usize,
    pub col: usize,
    pub warns_accepted: bool,
    pub secs: Option<f64>,
    pub note: Option<String>,
    /// Re-running one host: results for other hosts are ignored.
    pub only: Option<String>,
}

impl ChecksView {
    pub fn count(&self, s: Status) -> usize {
        self.results
            .values()
            .filter(|r| r.status == s && r.waived.is_none())
            .count()
    }
}

/// One host's row and log on the deploy screen.
#[derive(Debug, Default, Clone)]
pub struct HostProgress {
    pub total: usize,
    pub finished: usize,
    pub current: Option<String>,
    pub failed: Option<String>,
    pub log: VecDeque<String>,
    pub bytes: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
pub struct DeployView {
    pub running: bool,
    pub stopping: bool,
    pub hosts: BTreeMap<String, HostProgress>,
    pub selected: usize,
    pub zoom: bool,
    /// Lines scrolled back from the end in the zoomed pane (0: follow).
    pub scroll: usize,
}

impl DeployView {
    pub fn totals(&self) -> (usize, usize) {
        self.hosts
            .values()
            .fold((0, 0), |(f, t), h| (f + h.finished, t + h.total))
    }
}

/// The VRRP router id the settings form shows when the profile gives none
/// (what the rendered keepalived.conf uses then).
const DEFAULT_ROUTER_ID: u8 = cdwiz::profile::DEFAULT_VIRTUAL_ROUTER_ID;
/// What the finished deploy left, for the summary screen.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: bool,
    pub cancelled: bool,
    pub url: Option<String>,
    pub failures: Vec<(String, String, String, Vec<String>)>,
    pub run_dir: PathBuf,
    pub secrets: PathBuf,
    pub summary: PathBuf,
    pub secs: f64,
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
    pub review_row: usize,
    pub review_scroll: u16,
    pub deploy: DeployView,
    pub outcome: Option<Outcome>,
    pub help: bool,
    pub confirm_quit: bool,
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
            review_row: 0,
            review_scroll: 0,
            deploy: DeployView::default(),
            outcome: None,
            help: false,
            confirm_quit: false,
            waiving: None,
            dialog: None,
            typed: Default::default(),
            welcome_row: 0,
            resumable: None,
            busy: false,
            message: None,
            spinner: 0,
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        };
        app.build_forms();
        if prefilled {
            // Saved answers: each form opens on its Next button.
            app.hosts_form.focus_next_button();
            app.settings_form.focus_next_button();
        }
        app.validate();
        app
    }

    pub fn t(&self, key: &str) -> String {
        cdwiz::i18n::text(key, &self.locale)
    }

    /// The password typed on the hosts screen (never saved).
    pub fn typed_password(&self) -> Option<String> {
        self.hosts_form
            .get(PASSWORD_FIELD)
            .map(|f| f.value())
            .filter(|v| !v.is_empty())
    }

    fn build_forms(&mut self) {
        let a = &self.answers;
        let ips: Vec<String> = a.hosts.iter().map(|h| h.address.clone()).collect();
        let first = a.hosts.first();
        self.hosts_form_shown = (
            first.and_then(|h| h.data_disk.clone()).unwrap_or_default(),
            first.is_some_and(|h| h.format_data_disk),
            first
                .map(|h| h.data_dir.clone())
                .unwrap_or_else(|| "/data".into()),
        );
        self.hosts_form = Form::new(vec![
            Field::multi("hosts", "wizard.field.hosts", &ips.join("\n")),
            Field::line("ssh.user", "wizard.field.ssh-user", &a.ssh.user),
            Field::line("ssh.port", "wizard.field.ssh-port", &a.ssh.port.to_string()),
            Field::masked(PASSWORD_FIELD, "wizard.field.ssh-password"),
            Field::line(
                "hosts.data-disk",
                "wizard.field.data-disk",
                first.and_then(|h| h.data_disk.as_deref()).unwrap_or(""),
            ),
            Field::toggle(
                "hosts.format-data-disk",
                "wizard.field.format-data-disk",
                first.is_some_and(|h| h.format_data_disk),
            ),
            Field::line(
                "hosts.data-dir",
                "wizard.field.data-dir",
                first.map(|h| h.data_dir.as_str()).unwrap_or("/data"),
            ),
        ]);
        self.rebuild_settings_form();
    }

    fn rebuild_settings_form(&mut self) {
        let a = &self.answers;
        let t = &a.topology;
        let mut fields = Vec::new();
        match t.kind {
            TopologyKind::HaKeepalived => {
                fields.push(Field::line(
                    "topology.vip",
                    "wizard.field.vip",
                    t.vip.as_deref().unwrap_or(""),
                ));
                fields.push(Field::line(
                    "topology.interface",
                    "wizard.field.interface",
                    t.interface.as_deref().unwrap_or("eth0"),
                ));
                fields.push(Field::line(
                    "topology.virtual-router-id",
                    "wizard.field.router-id",
                    &t.virtual_router_id.unwrap_or(DEFAULT_ROUTER_ID).to_string(),
                ));
            }
            TopologyKind::HaLb => {
                fields.push(Field::line(
                    "topology.lb-address",
                    "wizard.field.lb-address",
                    t.lb_address.as_deref().unwrap_or(""),
                ));
                fields.push(Field::line(
                    "topology.lb-port",
                    "wizard.field.lb-port",
                    &t.lb_port.map(|p| p.to_string()).unwrap_or_default(),
                ));
            }
            TopologyKind::K8s => {
                fields.push(Field::line(
                    "topology.kubeconfig",
                    "wizard.field.kubeconfig",
                    t.kubeconfig.as_deref().unwrap_or("~/.kube/config"),
                ));
                fields.push(Field::line(
                    "topology.context",
                    "wizard.field.context",
                    t.context.as_deref().unwrap_or(""),
                ));
                fields.push(Field::line(
                    "topology.namespace",
                    "wizard.field.namespace",
                    t.namespace.as_deref().unwrap_or("cd"),
                ));
                fields.push(Field::line(
                    "topology.storage-class",
                    "wizard.field.storage-class",
                    t.storage_class.as_deref().unwrap_or(""),
                ));
                fields.push(Field::line(
                    "topology.registry",
                    "wizard.field.registry",
                    t.registry.as_deref().unwrap_or(""),
                ));
                fields.push(Field::line(
                    "topology.pull-secret",
                    "wizard.field.pull-secret",
                    t.pull_secret.as_deref().unwrap_or(""),
                ));
                fields.push(Field::line(
                    "topology.rollout-timeout",
                    "wizard.field.rollout-timeout",
                    &t.rollout_timeout
                        .unwrap_or(cdwiz::deploy::k8s::ROLLOUT_TIMEOUT)
                        .to_string(),
                ));
            }
            TopologyKind::Single => {}
        }
        fields.push(Field::line(
            "settings.admin-user",
            "wizard.field.admin-user",
            &a.settings.admin_user,
        ));
        fields.push(Field::line(
            "settings.timezone",
            "wizard.field.timezone",
            &a.settings.timezone,
        ));
        fields.push(Field::line("bundle", "wizard.field.bundle", &a.bundle));
        let focus_button = !self.settings_form.fields.is_empty() && self.settings_form.on_button();
        self.settings_form = Form::new(fields);
        if focus_button {
            self.settings_form.focus_next_button();
        }
    }

    /// Writes the forms into the answers and validates them.
    pub fn sync(&mut self) {
        let hf = &self.hosts_form;
        let get = |f: &Form, k: &str| f.get(k).map(|x| x.value()).unwrap_or_default();
        let ips: Vec<String> = get(hf, "hosts")
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let kind = self.answers.topology.kind;
        let disk = get(hf, "hosts.data-disk");
        let format = hf.get("hosts.format-data-disk").is_some_and(|f| f.checked);
        let data_dir = get(hf, "hosts.data-dir");
        let n = ips.len();
        let before = std::mem::take(&mut self.answers.hosts);
        let (shown_disk, shown_format, shown_dir) = self.hosts_form_shown.clone();
        self.answers.hosts = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                let mut h = Host {
                    address: ip.clone(),
                    roles: self
                        .roles
                        .get(ip)
                        .cloned()
                        .unwrap_or_else(|| default_roles(kind, i, n)),
                    data_disk: (!disk.is_empty()).then(|| disk.clone()),
                    format_data_disk: format && !disk.is_empty(),
                    data_dir: if data_dir.is_empty() {
                        "/data".into()
                    } else {
                        data_dir.clone()
                    },
                    ssh: None,
                };
                // A host that was there keeps its own login (not edited on
                // this form) and each value the operator left as shown.
                if let Some(old) = before.iter().find(|o| o.address == *ip) {
                    h.ssh = old.ssh.clone();
                    if disk == shown_disk {
                        h.data_disk = old.data_disk.clone();
                    }
                    if format == shown_format && disk == shown_disk {
                        h.format_data_disk = old.format_data_disk;
                    }
                    if data_dir == shown_dir {
                        h.data_dir = old.data_dir.clone();
                    }
                }
                h
            })
            .collect();
        self.answers.ssh.user = get(hf, "ssh.user");
        if let Ok(p) = get(hf, "ssh.port").parse() {
            self.answers.ssh.port = p;
        }
        let sf = &self.settings_form;
        let t = &mut self.answers.topology;
        let opt = |k: &str| Some(get(sf, k)).filter(|v| !v.is_empty());
        match kind {
            TopologyKind::HaKeepalived => {
                t.vip = opt("topology.vip");
                t.interface = opt("topology.interface");
                let id = opt("topology.virtual-router-id").and_then(|v| v.parse().ok());
                // The form shows keepalived's default when none was given;
                // left as shown, the profile keeps saying nothing.
                if !(t.virtual_router_id.is_none() && id == Some(DEFAULT_ROUTER_ID)) {
                    t.virtual_router_id = id;
                }
            }
            TopologyKind::HaLb => {
                t.lb_address = opt("topology.lb-address");
                t.lb_port = opt("topology.lb-port").and_then(|v| v.parse().ok());
            }
            TopologyKind::K8s => {
                t.kubeconfig = opt("topology.kubeconfig");
                t.context = opt("topology.context");
                t.namespace = opt("topology.namespace");
                t.storage_class = opt("topology.storage-class");
                t.registry = opt("topology.registry");
                t.pull_secret = opt("topology.pull-secret");
                // The default is not written into the answers; what is not
                // a number is out of range (validation says so).
                t.rollout_timeout = opt("topology.rollout-timeout")
                    .map(|v| v.trim().parse().unwrap_or(0))
                    .filter(|v| *v != cdwiz::deploy::k8s::ROLLOUT_TIMEOUT);
            }
            TopologyKind::Single => {}
        }
        if let Some(v) = opt("settings.admin-user") {
            self.answers.settings.admin_user = v;
        }
        if let Some(v) = opt("settings.timezone") {
            self.answers.settings.timezone = v;
        }
        if let Some(v) = opt("bundle") {
            self.answers.bundle = v;
        }
        self.validate();
    }

    /// Password login with no typed password and no environment variable.
    pub fn needs_password(&self) -> bool {
        let ssh = &self.answers.ssh;
        ssh.auth == SshAuth::Password
            && self.typed_password().is_none()
            && ssh.password_file.is_none()
            && ssh
                .password_env
                .as_ref()
                .is_none_or(|v| cdwiz::secret_env::get(v).is_none())
    }

    /// Hosts with a password login of their own (their own `password-env`
    /// or `password-file`) and no password yet: not typed in their dialog,
    /// not in their variable.
    pub fn hosts_without_password(&self) -> Vec<String> {
        self.answers
            .hosts
            .iter()
            .filter(|h| {
                let own = h
                    .ssh
                    .as_ref()
                    .is_some_and(|o| o.password_env.is_some() || o.password_file.is_some());
                let l = self.answers.login(h);
                own && l.auth == SshAuth::Password
                    && l.password_file.is_none()
                    && !self
                        .typed
                        .host_passwords
                        .iter()
                        .any(|(a, _)| *a == h.address)
                    && l.password_env
                        .as_ref()
                        .is_none_or(|v| cdwiz::secret_env::get(v).is_none())
            })
            .map(|h| h.address.clone())
            .collect()
    }

    /// Cycles the roles of the host on the address field's cursor line:
    /// master → master+worker → worker → master.
    /// The host on the address field's cursor line.
    fn cursor_host(&self) -> Option<&Host> {
        let row = self
            .hosts_form
            .get("hosts")
            .map(|f| f.input.cursor().0)
            .unwrap_or(0);
        self.answers.hosts.get(row)
    }

    /// Opens the dialog of the host on the address field's cursor line.
    pub fn edit_host(&mut self) {
        if let Some(h) = self.cursor_host() {
            self.dialog = super::dialog::Dialog::host(&self.answers, &h.address.clone());
        }
    }

    /// Opens the login dialog.
    pub fn edit_login(&mut self) {
        self.dialog = Some(super::dialog::Dialog::login(&self.answers));
    }

    /// Writes the open dialog into the answers (with `all`, a host dialog's
    /// focused value to every host) and closes it; a value that cannot be used keeps it open
    /// with the reason.
    pub fn apply_dialog(&mut self, all: bool) {
        let Some(d) = &self.dialog else {
            return;
        };
        match d.apply(&mut self.answers, all) {
            Ok(typed) => {
                let t = &mut self.typed;
                if typed.sudo_password.is_some() {
                    t.sudo_password = typed.sudo_password;
                }
                if typed.jump_password.is_some() {
                    t.jump_password = typed.jump_password;
                }
                for (address, pw) in typed.host_passwords {
                    t.host_passwords.retain(|(a, _)| *a != address);
                    t.host_passwords.push((address, pw));
                }
                self.dialog = None;
                self.message = None;
                self.validate();
            }
            Err(key) => self.message = Some(self.t(key)),
        }
    }

    pub fn cycle_roles(&mut self) {
        let row = self
            .hosts_form
            .get("hosts")
            .map(|f| f.input.cursor().0)
            .unwrap_or(0);
        let Some(h) = self.answers.hosts.get(row) else {
            return;
        };
        let next = match h.roles.as_slice() {
            [Role::Master] => vec![Role::Master, Role::Worker],
            [Role::Master, Role::Worker] => vec![Role::Worker],
            _ => vec![Role::Master],
        };
        self.roles.insert(h.address.clone(), next);
        self.sync();
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
                    self.answers.topology = Topology {
                        kind,
                        vip: None,
                        interface: None,
                        virtual_router_id: None,
                        lb_address: None,
                        lb_port: None,
                        kubeconfig: None,
                        context: None,
                        namespace: None,
                        storage_class: None,
                        registry: None,
                        pull_secret: None,
                        replicas: Default::default(),
                        rollout_timeout: None,
                    };
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

    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
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
        if !self.typing() {
            match key.code {
                KeyCode::Char('?') => {
                    self.help = true;
                    return None;
                }
                KeyCode::Char('q') => {
                    self.confirm_quit = true;
                    return None;
                }
                _ => {}
            }
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

    /// The Welcome screen's actions, in order (catalogue keys).
    pub fn welcome_actions(&self) -> Vec<&'static str> {
        let mut v = vec![if self.profile.is_some() {
            "wizard.welcome.action-continue"
        } else {
            "wizard.welcome.action-new"
        }];
        if self.resumable.is_some() {
            v.push("wizard.welcome.action-resume");
        }
        if self.profile.is_some() {
            v.push("wizard.welcome.action-uninstall");
        }
        v.push("wizard.welcome.action-quit");
        v
    }

    /// Enter on the Welcome screen.
    pub fn welcome_choose(&mut self) -> Option<Command> {
        let actions = self.welcome_actions();
        match actions.get(self.welcome_row).copied() {
            Some("wizard.welcome.action-resume") => {
                let (dir, _) = self.resumable.clone()?;
                self.screen = Screen::Deploy;
                self.deploy = DeployView {
                    running: true,
                    ..Default::default()
                };
                Some(Command::Resume(dir))
            }
            Some("wizard.welcome.action-uninstall") if !self.busy => {
                self.busy = true;
                self.message = Some(self.t("wizard.welcome.uninstalling"));
                Some(Command::Uninstall)
            }
            Some("wizard.welcome.action-quit") => Some(Command::Quit),
            Some("wizard.welcome.action-uninstall") => None,
            _ => self.next(),
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

    /// Starts typing the reason to accept the selected check's result.
    pub fn start_waiver(&mut self) {
        let Some((id, host)) = screens::checks::selected(self) else {
            return;
        };
        let r = self.checks.results.get(&(id, host));
        if r.is_some_and(|r| matches!(r.status, Status::Fail | Status::Warn) && r.waived.is_none())
        {
            self.waiving = Some(super::form::Field::line(
                "accept-checks.reason",
                "wizard.checks.reason",
                "",
            ));
        }
    }

    /// Accepts the selected check with the typed reason: it no longer
    /// blocks, the report and the saved profile carry the reason.
    pub fn finish_waiver(&mut self) {
        let Some(field) = self.waiving.take() else {
            return;
        };
        let reason = field.value();
        if reason.is_empty() {
            self.message = Some(self.t("wizard.checks.reason-needed"));
            return;
        }
        let Some((id, host)) = screens::checks::selected(self) else {
            return;
        };
        if let Some(r) = self.checks.results.get_mut(&(id.clone(), host.clone())) {
            r.waived = Some(reason.clone());
            self.answers.accept_checks.push(AcceptCheck {
                check: id,
                host: (host != "*").then_some(host),
                reason,
            });
        }
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

    /// The answers as a profile to save: the typed password is not in it
    /// (the profile names the variable it comes from instead).
    pub fn profile_answers(&self) -> Answers {
        let mut a = self.answers.clone();
        if a.ssh.auth == SshAuth::Password
            && a.ssh.password_env.is_none()
            && a.ssh.password_file.is_none()
        {
            a.ssh.password_env = Some("CDWIZ_SSH_PASSWORD".into());
        }
        a.accept_checks.extend(
            self.checks
                .results
                .values()
                .filter(|r| {
                    r.status == Status::Warn && r.waived.is_none() && self.checks.warns_accepted
                })
                .filter(|r| {
                    !self
                        .answers
                        .accept_checks
                        .iter()
                        .any(|w| w.check == r.id && w.host == r.host)
                })
                .map(|r| AcceptCheck {
                    check: r.id.to_string(),
                    host: r.host.clone(),
                    reason: "accepted in the wizard".into(),
                }),
        );
        a
    }
}

pub const TOPOLOGIES: [TopologyKind; 4] = [
    TopologyKind::Single,
    TopologyKind::HaKeepalived,
    TopologyKind::HaLb,
    TopologyKind::K8s,
];

fn default_roles(kind: TopologyKind, i: usize, n: usize) -> Vec<Role> {
    match kind {
        TopologyKind::Single => vec![Role::Master, Role::Worker],
        // HA: every host a master; the last also a worker.
        _ if i + 1 == n => vec![Role::Master, Role::Worker],
        _ => vec![Role::Master],
    }
}

fn default_answers() -> Answers {
    Answers {
        version: cdwiz::profile::PROFILE_VERSION,
        bundle: "sandbox".into(),
        topology: Topology {
            kind: TopologyKind::Single,
            vip: None,
            interface: None,
            virtual_router_id: None,
            lb_address: None,
            lb_port: None,
            kubeconfig: None,
            context: None,
            namespace: None,
            storage_class: None,
            registry: None,
            pull_secret: None,
            replicas: Default::default(),
            rollout_timeout: None,
        },
        ssh: SshSettings {
            auth: SshAuth::Password,
            password_env: Some("CDWIZ_SSH_PASSWORD".into()),
            ..Default::default()
        },
        hosts: Vec::new(),
        settings: Default::default(),
        accept_checks: Vec::new(),
        hooks: Default::default(),
    }
}
