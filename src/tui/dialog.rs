//! The Hosts screen's two dialogs, each editing the one `Answers`: a host's
//! own values (its login user and port, data disk, data dir; applied to
//! this host or to every host) and the login of all hosts (auth, key file,
//! sudo password, bastion).

use cdwiz::profile::{Answers, Arch, HostSsh, Jump, JumpLogin, SshAuth};

use super::form::{Field, Form};

/// Where the typed sudo password goes (never into the profile, which names
/// this variable instead).
pub const SUDO_PASSWORD_ENV: &str = "CDWIZ_SUDO_PASSWORD";

/// Where the bastion's typed password goes.
pub const JUMP_PASSWORD_ENV: &str = "CDWIZ_JUMP_PASSWORD";

/// Where a host's own typed password goes: `CDWIZ_SSH_PASSWORD_` and the
/// address with `_` for its dots and colons.
pub fn host_password_env(address: &str) -> String {
    format!("CDWIZ_SSH_PASSWORD_{}", address.replace(['.', ':'], "_"))
}

/// Passwords typed in a dialog (kept by the wizard, never saved).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Typed {
    pub sudo_password: Option<String>,
    pub jump_password: Option<String>,
    /// By host address.
    pub host_passwords: Vec<(String, String)>,
}

/// A host's architecture as typed: empty is "as the host says".
fn parse_arch(word: &str) -> Result<Option<Arch>, &'static str> {
    match word.trim() {
        "" => Ok(None),
        "amd64" | "x86_64" => Ok(Some(Arch::Amd64)),
        "arm64" | "aarch64" => Ok(Some(Arch::Arm64)),
        _ => Err("wizard.dialog.arch-bad"),
    }
}

fn parse_auth(word: &str) -> Result<SshAuth, &'static str> {
    match word {
        "password" => Ok(SshAuth::Password),
        "key" => Ok(SshAuth::Key),
        "agent" => Ok(SshAuth::Agent),
        _ => Err("wizard.dialog.auth-bad"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogKind {
    /// One host's values, by address.
    Host(String),
    /// The login of every host and the bastion.
    Login,
}

pub struct Dialog {
    pub kind: DialogKind,
    pub form: Form,
    /// The bastion fields as shown: unchanged, a loaded mapping stays as
    /// it was.
    shown_jump: (String, String),
}

fn auth_word(a: SshAuth) -> &'static str {
    match a {
        SshAuth::Password => "password",
        SshAuth::Key => "key",
        SshAuth::Agent => "agent",
    }
}

/// The bastion as one line (`user@host:port`) and its key file.
fn jump_shown(a: &Answers) -> (String, String) {
    match &a.ssh.jump {
        None => (String::new(), String::new()),
        Some(Jump::Spec(s)) => (s.clone(), String::new()),
        Some(Jump::Login(j)) => {
            let mut s = String::new();
            if let Some(u) = &j.user {
                s.push_str(&format!("{u}@"));
            }
            s.push_str(&j.host);
            if let Some(p) = j.port {
                s.push_str(&format!(":{p}"));
            }
            (s, j.key_file.clone().unwrap_or_default())
        }
    }
}

impl Dialog {
    /// The dialog for the host at `address`, with its values in force.
    pub fn host(a: &Answers, address: &str) -> Option<Dialog> {
        let h = a.hosts.iter().find(|h| h.address == address)?;
        let login = a.login(h);
        let format = Field::toggle(
            "hosts.format-data-disk",
            "wizard.field.format-data-disk",
            h.format_data_disk,
        );
        Some(Dialog {
            kind: DialogKind::Host(address.to_string()),
            form: Form::new(vec![
                Field::line("hosts.ssh.user", "wizard.field.ssh-user", &login.user),
                Field::line(
                    "hosts.ssh.port",
                    "wizard.field.ssh-port",
                    &login.port.to_string(),
                ),
                Field::line(
                    "hosts.ssh.auth",
                    "wizard.field.ssh-auth",
                    auth_word(login.auth),
                ),
                Field::line(
                    "hosts.ssh.key-file",
                    "wizard.field.key-file",
                    login.key_file.as_deref().unwrap_or(""),
                ),
                Field::masked("hosts.ssh.password", "wizard.field.host-password"),
                Field::line(
                    "hosts.data-disk",
                    "wizard.field.data-disk",
                    h.data_disk.as_deref().unwrap_or(""),
                ),
                format,
                Field::line("hosts.data-dir", "wizard.field.data-dir", &h.data_dir),
                Field::line(
                    "hosts.arch",
                    "wizard.field.arch",
                    h.arch.map(Arch::as_str).unwrap_or(""),
                ),
            ]),
            shown_jump: Default::default(),
        })
    }

    /// The login dialog, with the answers' values.
    pub fn login(a: &Answers) -> Dialog {
        let (jump, jump_key) = jump_shown(a);
        Dialog {
            kind: DialogKind::Login,
            form: Form::new(vec![
                Field::line("ssh.auth", "wizard.field.ssh-auth", auth_word(a.ssh.auth)),
                Field::line(
                    "ssh.key-file",
                    "wizard.field.key-file",
                    a.ssh.key_file.as_deref().unwrap_or(""),
                ),
                Field::masked("ssh.sudo-password", "wizard.field.sudo-password"),
                Field::line("ssh.jump", "wizard.field.jump", &jump),
                Field::line("ssh.jump.key-file", "wizard.field.jump-key-file", &jump_key),
                Field::masked("ssh.jump.password", "wizard.field.jump-password"),
            ]),
            shown_jump: (jump, jump_key),
        }
    }

    /// The title's catalogue key and what it names.
    pub fn title(&self) -> (&'static str, String) {
        match &self.kind {
            DialogKind::Host(a) => ("wizard.dialog.host", a.clone()),
            DialogKind::Login => ("wizard.dialog.login", String::new()),
        }
    }

    fn value(&self, path: &str) -> String {
        self.form.get(path).map(|f| f.value()).unwrap_or_default()
    }

    /// Writes the dialog into the answers: a host dialog to its host, and
    /// with `all` the focused field's value to every other host too. Returns the passwords typed (never saved:
    /// the profile names the variable each would come from). A value that
    /// cannot be used is an error (a catalogue key); nothing is written then.
    pub fn apply(&self, a: &mut Answers, all: bool) -> Result<Typed, &'static str> {
        match &self.kind {
            DialogKind::Host(address) => self.apply_host(a, address, all),
            DialogKind::Login => self.apply_login(a),
        }
    }

    fn apply_host(&self, a: &mut Answers, address: &str, all: bool) -> Result<Typed, &'static str> {
        let mut typed = Typed::default();
        let port: u16 = self
            .value("hosts.ssh.port")
            .parse()
            .map_err(|_| "wizard.dialog.port-bad")?;
        let auth = parse_auth(&self.value("hosts.ssh.auth"))?;
        let key = self.value("hosts.ssh.key-file");
        let password = self.value("hosts.ssh.password");
        let user = self.value("hosts.ssh.user");
        let disk = self.value("hosts.data-disk");
        let format = self
            .form
            .get("hosts.format-data-disk")
            .is_some_and(|f| f.checked);
        let dir = self.value("hosts.data-dir");
        let arch = parse_arch(&self.value("hosts.arch"))?;
        // Every field to this host; with `all`, the focused one to the others.
        let focused = self.form.fields.get(self.form.focus).map(|f| f.path);
        let d = a.ssh.clone();
        for h in a.hosts.iter_mut() {
            let this = h.address == address;
            let set = |path: &str| this || (all && focused == Some(path));
            let mut o = h.ssh.clone().unwrap_or_default();
            if set("hosts.ssh.user") {
                o.user = (!user.is_empty() && user != d.user).then(|| user.clone());
            }
            if set("hosts.ssh.port") {
                o.port = (port != d.port).then_some(port);
            }
            if set("hosts.ssh.auth") {
                o.auth = (auth != d.auth).then_some(auth);
            }
            if set("hosts.ssh.key-file") {
                o.key_file =
                    (!key.is_empty() && Some(&key) != d.key_file.as_ref()).then(|| key.clone());
            }
            let host_auth = o.auth.unwrap_or(d.auth);
            if host_auth != SshAuth::Password {
                o.password_env = None;
                o.password_file = None;
            } else if set("hosts.ssh.password") && !password.is_empty() {
                typed
                    .host_passwords
                    .push((h.address.clone(), password.clone()));
                o.password_env = Some(host_password_env(&h.address));
                o.password_file = None;
            } else if d.auth != SshAuth::Password
                && o.password_env.is_none()
                && o.password_file.is_none()
            {
                o.password_env = Some(host_password_env(&h.address));
            }
            h.ssh = (o != HostSsh::default()).then_some(o);
            if set("hosts.data-disk") || set("hosts.format-data-disk") {
                h.data_disk = (!disk.is_empty()).then(|| disk.clone());
                h.format_data_disk = format && !disk.is_empty();
            }
            if set("hosts.data-dir") {
                h.data_dir = if dir.is_empty() {
                    "/data".into()
                } else {
                    dir.clone()
                };
            }
            if set("hosts.arch") {
                h.arch = arch;
            }
        }
        Ok(typed)
    }

    fn apply_login(&self, a: &mut Answers) -> Result<Typed, &'static str> {
        let mut typed = Typed::default();
        let auth = parse_auth(&self.value("ssh.auth"))?;
        let s = &mut a.ssh;
        s.auth = auth;
        let key = self.value("ssh.key-file");
        s.key_file = (!key.is_empty()).then_some(key);
        if auth == SshAuth::Password {
            if s.password_env.is_none() && s.password_file.is_none() {
                s.password_env = Some("CDWIZ_SSH_PASSWORD".into());
            }
        } else {
            s.password_env = None;
            s.password_file = None;
        }
        let shown = (self.value("ssh.jump"), self.value("ssh.jump.key-file"));
        let jump_password = self.value("ssh.jump.password");
        if shown != self.shown_jump || !jump_password.is_empty() {
            s.jump = match shown {
                (j, _) if j.is_empty() => None,
                (j, k) if k.is_empty() && jump_password.is_empty() => Some(Jump::Spec(j)),
                (j, k) => {
                    let (user, host, port) = cdwiz::ssh::jump::parse(&j, &s.user);
                    let by_password = k.is_empty();
                    Some(Jump::Login(JumpLogin {
                        host,
                        port: (port != 22).then_some(port),
                        user: Some(user),
                        auth: Some(if by_password {
                            SshAuth::Password
                        } else {
                            SshAuth::Key
                        }),
                        key_file: (!by_password).then_some(k),
                        password_env: by_password.then(|| JUMP_PASSWORD_ENV.to_string()),
                        password_file: None,
                    }))
                }
            };
            if !jump_password.is_empty() {
                typed.jump_password = Some(jump_password);
            }
        }
        let sudo = self.value("ssh.sudo-password");
        if !sudo.is_empty() {
            s.sudo_password_env
                .get_or_insert_with(|| SUDO_PASSWORD_ENV.to_string());
            typed.sudo_password = Some(sudo);
        }
        Ok(typed)
    }
}
