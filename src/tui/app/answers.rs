//! The wizard's forms and dialogs against the one `Answers`: building the
//! forms from the answers, writing what the operator typed back (keeping
//! what a form does not show), the Hosts screen's dialogs, and the answers
//! as a profile to save.

use std::path::{Path, PathBuf};

use cdwiz::connect::Secrets;
use cdwiz::profile::{
    AcceptCheck, Answers, Host, Role, SshAuth, SshSettings, Topology, TopologyKind,
};

use super::{App, PASSWORD_FIELD};
use crate::tui::form::{Field, Form};
use cdwiz::checks::Status;

/// The VRRP router id the settings form shows when the profile gives none
/// (what the rendered keepalived.conf uses then).
const DEFAULT_ROUTER_ID: u8 = cdwiz::profile::DEFAULT_VIRTUAL_ROUTER_ID;
/// The registry password typed on the settings screen (never saved).
const REGISTRY_PASSWORD_FIELD: &str = "topology.registry-password";
/// The variable the settings form names for the registry password.
const REGISTRY_PASSWORD_ENV: &str = "CDWIZ_REGISTRY_PASSWORD";

impl App {
    /// The profile's directory (relative bundle and hook paths), else here.
    pub fn profile_dir(&self) -> PathBuf {
        self.profile
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The secrets of the answers: what their variables and files hold,
    /// and what the operator typed (never saved).
    pub fn secrets(&self) -> Secrets {
        let mut s = cdwiz::connect::read_secrets(&self.answers, &self.profile_dir());
        // A password typed for the defaults serves every host that takes its
        // password (or sudo password) from the defaults, own login or not.
        let inherits = |address: &str, own: fn(&cdwiz::profile::HostSsh) -> bool| {
            self.answers
                .hosts
                .iter()
                .find(|h| h.address == address)
                .is_none_or(|h| !h.ssh.as_ref().is_some_and(own))
        };
        if let Some(typed) = self.typed_password() {
            s.ssh_password = Some(typed.clone());
            for (address, h) in s.hosts.iter_mut() {
                if inherits(address, |o| {
                    o.password_env.is_some() || o.password_file.is_some()
                }) {
                    h.ssh_password = Some(typed.clone());
                }
            }
        }
        let typed = &self.typed;
        if let Some(pw) = &typed.sudo_password {
            s.sudo_password = Some(pw.clone());
            for (address, h) in s.hosts.iter_mut() {
                if inherits(address, |o| o.sudo_password_env.is_some()) {
                    h.sudo_password = Some(pw.clone());
                }
            }
        }
        if let Some(pw) = &typed.jump_password {
            s.jump_password = Some(pw.clone());
        }
        for (address, pw) in &typed.host_passwords {
            s.hosts.entry(address.clone()).or_default().ssh_password = Some(pw.clone());
        }
        if let Some(pw) = self.typed_registry_password()
            && self.answers.topology.registry_user.is_some()
        {
            s.registry_password = Some(pw);
        }
        s
    }

    /// The registry password typed on the settings screen (never saved).
    pub fn typed_registry_password(&self) -> Option<String> {
        self.settings_form
            .get(REGISTRY_PASSWORD_FIELD)
            .map(|f| f.value())
            .filter(|v| !v.is_empty())
    }

    /// What is wrong with the secret sources the answers name, checked as
    /// headless checks them (the variable set, the file 0600, `~` for the
    /// home directory), but for the secrets the operator typed here.
    pub fn secret_problems(&self) -> Vec<String> {
        let typed_host = |path: &str| {
            let i: usize = path
                .strip_prefix("hosts[")
                .and_then(|r| r.split(']').next())
                .and_then(|n| n.parse().ok())?;
            let address = &self.answers.hosts.get(i)?.address;
            Some(self.typed.host_passwords.iter().any(|(a, _)| a == address))
        };
        let typed = |path: &str| {
            if path.ends_with("sudo-password-env") {
                return path.starts_with("ssh.") && self.typed.sudo_password.is_some();
            }
            if path.starts_with("ssh.jump.") {
                return self.typed.jump_password.is_some();
            }
            if path.starts_with("hosts[") {
                return typed_host(path).unwrap_or(false);
            }
            if path.starts_with("topology.registry-password-") {
                return self.typed_registry_password().is_some();
            }
            path.starts_with("ssh.password-") && self.typed_password().is_some()
        };
        let file = self.profile.clone().unwrap_or_default();
        cdwiz::profile::check_secret_sources(&self.answers, &self.profile_dir())
            .into_iter()
            .filter(|p| !typed(&p.path))
            .map(|p| p.render_in(Some(&file), &self.locale))
            .collect()
    }

    /// The password typed on the hosts screen (never saved).
    pub fn typed_password(&self) -> Option<String> {
        self.hosts_form
            .get(PASSWORD_FIELD)
            .map(|f| f.value())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn build_forms(&mut self) {
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

    pub(super) fn rebuild_settings_form(&mut self) {
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
                fields.push(Field::toggle(
                    "topology.images",
                    "wizard.field.images-present",
                    t.images == Some(cdwiz::profile::ImageDelivery::Present),
                ));
                fields.push(Field::line(
                    "topology.registry-user",
                    "wizard.field.registry-user",
                    t.registry_user.as_deref().unwrap_or(""),
                ));
                fields.push(Field::line(
                    "topology.registry-password-env",
                    "wizard.field.registry-password-env",
                    t.registry_password_env
                        .as_deref()
                        .unwrap_or(REGISTRY_PASSWORD_ENV),
                ));
                fields.push(Field::masked(
                    REGISTRY_PASSWORD_FIELD,
                    "wizard.field.registry-password",
                ));
                fields.push(Field::line(
                    "topology.registry-ca",
                    "wizard.field.registry-ca",
                    t.registry_ca.as_deref().unwrap_or(""),
                ));
                fields.push(Field::toggle(
                    "topology.registry-http",
                    "wizard.field.registry-http",
                    t.registry_http,
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
                        .unwrap_or(cdwiz::profile::DEFAULT_ROLLOUT_TIMEOUT)
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
                    arch: None,
                };
                // A host that was there keeps its own login and architecture
                // (not edited on this form) and each value the operator left
                // as shown.
                if let Some(old) = before.iter().find(|o| o.address == *ip) {
                    h.ssh = old.ssh.clone();
                    h.arch = old.arch;
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
                let checked = |k: &str| sf.get(k).is_some_and(|f| f.checked);
                t.images = if checked("topology.images") {
                    Some(cdwiz::profile::ImageDelivery::Present)
                } else {
                    // `push` said outright stays said; else the default.
                    t.images
                        .filter(|d| *d == cdwiz::profile::ImageDelivery::Push)
                };
                t.registry_user = opt("topology.registry-user");
                // The password's variable matters only with a user (the
                // form shows the default name either way).
                t.registry_password_env = opt("topology.registry-password-env")
                    .filter(|_| t.registry_user.is_some() && t.registry_password_file.is_none());
                t.registry_ca = opt("topology.registry-ca");
                t.registry_http = checked("topology.registry-http");
                // The default is not written into the answers; what is not
                // a number is out of range (validation says so).
                t.rollout_timeout = opt("topology.rollout-timeout")
                    .map(|v| v.trim().parse().unwrap_or(0))
                    .filter(|v| *v != cdwiz::profile::DEFAULT_ROLLOUT_TIMEOUT);
                // What the operator typed (or saw and kept: a loaded
                // profile's were asked about first) is consented to.
                if let Some(var) = &t.registry_password_env {
                    cdwiz::consent::allow_env(var);
                }
                let base = self.profile_dir();
                for s in cdwiz::profile::sources::sources(&self.answers) {
                    if matches!(
                        s.field.as_str(),
                        "topology.kubeconfig" | "topology.registry-ca"
                    ) && let Some(p) = s.path(&base)
                    {
                        cdwiz::consent::trust(&p);
                    }
                }
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
    pub(super) fn cursor_host(&self) -> Option<&Host> {
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
            self.dialog = crate::tui::dialog::Dialog::host(&self.answers, &h.address.clone());
        }
    }

    /// Opens the login dialog.
    pub fn edit_login(&mut self) {
        self.dialog = Some(crate::tui::dialog::Dialog::login(&self.answers));
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
                    reason: self.t("wizard.checks.accepted-reason"),
                }),
        );
        a
    }
}

fn default_roles(kind: TopologyKind, i: usize, n: usize) -> Vec<Role> {
    match kind {
        TopologyKind::Single => vec![Role::Master, Role::Worker],
        // HA: every host a master; the last also a worker.
        _ if i + 1 == n => vec![Role::Master, Role::Worker],
        _ => vec![Role::Master],
    }
}

pub(super) fn default_answers() -> Answers {
    Answers {
        version: cdwiz::profile::PROFILE_VERSION,
        // An unpacked offline installer's bundle, else the sandbox's.
        bundle: cdwiz::paths::bundle_beside_binary()
            .map_or_else(|| "sandbox".into(), |d| d.display().to_string()),
        topology: Topology::of(TopologyKind::Single),
        ssh: SshSettings {
            auth: SshAuth::Password,
            password_env: Some("CDWIZ_SSH_PASSWORD".into()),
            ..Default::default()
        },
        hosts: Vec::new(),
        settings: Default::default(),
        accept_checks: Vec::new(),
        hooks: Default::default(),
        install: None,
    }
}
