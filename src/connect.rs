//! From the answers to a working root shell on each host: TCP reach, SSH
//! login (key, agent, or a password used once to install cdwiz's own key),
//! and sudo for non-root users. Failures are classified so that checks and
//! deploy can say which step failed and what to do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use openssh::{KnownHosts, Session, SessionBuilder};

use crate::profile::{Answers, HostKeyPolicy, Problem, SshAuth};
use crate::ssh::{self, RemoteOutput, SshError, SshTarget, quote};

/// Secrets the answers point at, read once. Never printed.
#[derive(Clone, Default)]
pub struct Secrets {
    /// The default login's password.
    pub ssh_password: Option<String>,
    /// The default login's sudo password.
    pub sudo_password: Option<String>,
    /// The bastion's password, when it logs in with one.
    pub jump_password: Option<String>,
    /// Hosts with a login of their own, by address.
    pub hosts: std::collections::HashMap<String, HostSecrets>,
}

/// One host's own login secrets.
#[derive(Clone, Default)]
pub struct HostSecrets {
    pub ssh_password: Option<String>,
    pub sudo_password: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { <redacted> }")
    }
}

impl Secrets {
    /// Every secret value, for redaction from logs and reports.
    pub fn values(&self) -> Vec<&str> {
        [&self.ssh_password, &self.sudo_password, &self.jump_password]
            .into_iter()
            .chain(
                self.hosts
                    .values()
                    .flat_map(|h| [&h.ssh_password, &h.sudo_password]),
            )
            .flatten()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Reads the secrets the answers name (environment variables, 0600 files
/// relative to `base`).
pub fn resolve_secrets(a: &Answers, base: &Path) -> Result<Secrets, Vec<Problem>> {
    let problems = crate::profile::check_secret_sources(a, base);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(read_secrets(a, base))
}

/// Reads what the secret sources of the answers hold, as far as they can be
/// read (the wizard asks for what is missing); [`resolve_secrets`] checks
/// them first.
pub fn read_secrets(a: &Answers, base: &Path) -> Secrets {
    let read = |env: &Option<String>, file: &Option<String>| match (env, file) {
        (Some(var), _) => crate::secret_env::get(var),
        (None, Some(file)) => {
            let p = base.join(crate::paths::expand_home(file));
            std::fs::read_to_string(&p)
                .ok()
                .map(|t| t.trim_end_matches(['\n', '\r']).to_string())
        }
        (None, None) => None,
    };
    let s = &a.ssh;
    let mut out = Secrets::default();
    if s.auth == SshAuth::Password {
        out.ssh_password = read(&s.password_env, &s.password_file);
    }
    out.sudo_password = read(&s.sudo_password_env, &None);
    for h in a.hosts.iter().filter(|h| h.ssh.is_some()) {
        let login = a.login(h);
        out.hosts.insert(
            h.address.clone(),
            HostSecrets {
                ssh_password: read(&login.password_env, &login.password_file),
                sudo_password: read(&login.sudo_password_env, &None),
            },
        );
    }
    if let Some(b) = a.bastion() {
        out.jump_password = read(&b.password_env, &b.password_file);
    }
    out
}

/// Why a host could not be reached or logged in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing answered on the SSH port within the timeout.
    Unreachable(String),
    /// The host refused the login (wrong password, key not accepted).
    AuthRejected(String),
    /// The host's key differs from the one remembered.
    HostKeyChanged(String),
    /// Logged in, but no root: sudo refused or asked for a password we lack.
    NoRoot(String),
    /// The bastion refused the login or could not be reached (the host
    /// behind it was never asked).
    Bastion(String),
    Other(String),
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectFailure::Unreachable(d)
            | ConnectFailure::AuthRejected(d)
            | ConnectFailure::HostKeyChanged(d)
            | ConnectFailure::NoRoot(d)
            | ConnectFailure::Bastion(d)
            | ConnectFailure::Other(d) => f.write_str(d),
        }
    }
}

/// How a logged-in user becomes root.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sudo {
    AlreadyRoot,
    NoPassword,
    WithPassword,
}

/// A logged-in host: commands run as root.
pub struct HostConn {
    pub address: String,
    /// Shared with the tasks that carry the Docker API through sudo.
    pub session: std::sync::Arc<Session>,
    /// The login user.
    pub user: String,
    /// cdwiz's own public key (`type blob`), when this login used it: it
    /// is in the login user's `authorized_keys` because cdwiz put it there.
    pub own_key: Option<String>,
    sudo: Sudo,
    sudo_password: Option<String>,
}

impl HostConn {
    /// Runs `script` as root (through sudo when the login user is not root).
    pub async fn run(&self, script: &str, timeout: Duration) -> Result<RemoteOutput, SshError> {
        self.run_with_input(script, None, timeout).await
    }

    /// Like [`run`](Self::run), with `input` on the script's stdin (after the
    /// sudo password, which `sudo -S` reads first).
    pub async fn run_with_input(
        &self,
        script: &str,
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<RemoteOutput, SshError> {
        let (wrapped, stdin) = self.as_root(script, input);
        ssh::run_script_with_input(
            &self.session,
            &self.address,
            &wrapped,
            stdin.as_deref(),
            timeout,
        )
        .await
    }

    /// Like [`run_with_input`](Self::run_with_input), handing each output
    /// line to `on_line` as it arrives.
    pub async fn run_streaming(
        &self,
        script: &str,
        input: Option<&[u8]>,
        timeout: Duration,
        on_line: &(dyn Fn(&str) + Sync),
    ) -> Result<RemoteOutput, SshError> {
        let (wrapped, stdin) = self.as_root(script, input);
        ssh::run_script_streaming(
            &self.session,
            &self.address,
            &wrapped,
            stdin.as_deref(),
            timeout,
            on_line,
        )
        .await
    }

    /// The script as root (through sudo when needed) and its stdin (after
    /// the sudo password, which `sudo -S` reads first).
    fn as_root(&self, script: &str, input: Option<&[u8]>) -> (String, Option<Vec<u8>>) {
        match self.sudo {
            Sudo::AlreadyRoot => (script.to_string(), input.map(<[u8]>::to_vec)),
            Sudo::NoPassword => (
                format!("sudo -n sh -c {}", quote(script)),
                input.map(<[u8]>::to_vec),
            ),
            Sudo::WithPassword => {
                // sudo reads the password line only when it prompts; when it
                // does not (a rule without a password for `sh`, a cached
                // timestamp), the line would become the script's input. So
                // a root shell of ours first reads up to a one-time marker,
                // discarding whatever sudo left, and only then starts the
                // script on the rest: the script never sees the password.
                let marker = one_time_marker();
                let mut bytes = format!(
                    "{}\n{marker}\n",
                    self.sudo_password.as_deref().unwrap_or_default()
                )
                .into_bytes();
                bytes.extend_from_slice(input.unwrap_or_default());
                let gate = format!(
                    "while IFS= read -r l; do if [ \"$l\" = {marker} ]; then exec sh -c \"$1\"; fi; \
                     done; echo 'cdwiz: sudo consumed the input' >&2; exit 125"
                );
                (
                    format!(
                        "sudo -S -p '' sh -c {} cdwiz-sudo {}",
                        quote(&gate),
                        quote(script)
                    ),
                    Some(bytes),
                )
            }
        }
    }

    /// The host's Docker engine API, reached the way the login allows: its
    /// socket forwarded over SSH when the login user may open it (root, or
    /// a member of the `docker` group), else carried through sudo (`sudo
    /// docker system dial-stdio`, one per API connection). The socket's
    /// permissions on the host are never changed. `local` is the unix
    /// socket bollard talks to.
    pub async fn docker_api(&self, local: PathBuf) -> Result<DockerApi, SshError> {
        let socket = crate::ssh::docker_forward::REMOTE_DOCKER_SOCKET;
        let direct = self.sudo == Sudo::AlreadyRoot || {
            let probe = format!("test -r {socket} && test -w {socket}");
            ssh::run_script(
                &self.session,
                &self.address,
                &probe,
                Duration::from_secs(15),
            )
            .await
            .is_ok_and(|o| o.code == 0)
        };
        if direct {
            let fwd =
                crate::ssh::docker_forward::forward_docker(&self.session, &self.address, local)
                    .await?;
            return Ok(DockerApi {
                docker: fwd,
                via_sudo: false,
            });
        }
        let (command, prefix) = self.as_root("exec docker system dial-stdio", None);
        let fwd = crate::ssh::docker_forward::bridge_docker(
            self.session.clone(),
            &self.address,
            local,
            command,
            prefix,
        )
        .await?;
        Ok(DockerApi {
            docker: fwd,
            via_sudo: true,
        })
    }

    /// Removes cdwiz's own key from the login user's `authorized_keys`
    /// (as that user, not as root). `Ok(true)` when a line was removed.
    pub async fn remove_own_key(&self) -> Result<bool, SshError> {
        let Some(key) = &self.own_key else {
            return Ok(false);
        };
        let out = ssh::run_script(
            &self.session,
            &self.address,
            &remove_key_script(key),
            Duration::from_secs(30),
        )
        .await?;
        if out.code != 0 {
            return Err(SshError::Failed {
                host: self.address.clone(),
                command: "remove cdwiz's key from authorized_keys".into(),
                code: out.code,
                stderr: crate::text::line(out.stderr.trim()),
            });
        }
        Ok(out.stdout.trim() == "removed")
    }

    pub async fn close(self) {
        if let Ok(session) = std::sync::Arc::try_unwrap(self.session) {
            let _ = session.close().await;
        }
    }
}

/// The `authorized_keys` line cdwiz installs: its key, restricted to what
/// cdwiz needs (commands and forwarding the Docker socket; no agent or X11
/// forwarding, no pty, no ~/.ssh/rc).
pub fn own_key_line(public_key: &str) -> String {
    format!("restrict,port-forwarding {}", public_key.trim())
}

/// `type blob` of a public key line (what identifies it in authorized_keys
/// whatever its options and comment).
fn key_blob(public_key: &str) -> Option<String> {
    let mut words = public_key.split_whitespace();
    let kind = words.find(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-"))?;
    Some(format!("{kind} {}", words.next()?))
}

/// A script, run as the login user, that removes every line holding `key`
/// from `~/.ssh/authorized_keys`; prints `removed` or `absent`.
fn remove_key_script(key: &str) -> String {
    format!(
        "f=\"$HOME/.ssh/authorized_keys\"; k={k}; \
         if [ -f \"$f\" ] && grep -qF -- \"$k\" \"$f\"; then \
         t=$(mktemp \"$f.XXXXXX\") || exit 1; grep -vF -- \"$k\" \"$f\" > \"$t\"; \
         chmod 600 \"$t\" && mv \"$t\" \"$f\" && echo removed; else echo absent; fi",
        k = quote(key)
    )
}

/// A line no password equals by chance: what separates the sudo password
/// from a command's own input.
fn one_time_marker() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(format!(
        "{:?}{}{}",
        std::time::SystemTime::now(),
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    ));
    format!("cdwiz-input-{:x}", h.finalize())[..44].to_string()
}

/// The bastion's login as the connector uses it.
#[derive(Debug, Clone)]
pub struct JumpLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SshAuth,
    pub key_file: Option<PathBuf>,
}

/// A host's own login (what differs from the connector's defaults).
#[derive(Debug, Clone)]
pub struct HostLogin {
    pub user: String,
    pub port: u16,
    pub auth: SshAuth,
    pub key_file: Option<PathBuf>,
}

/// A host's Docker API and how it is reached.
pub struct DockerApi {
    pub docker: crate::ssh::docker_forward::ForwardedDocker,
    /// Through `sudo docker system dial-stdio` (the login user may not
    /// open the socket).
    pub via_sudo: bool,
}

/// Opens root shells on the hosts of one set of answers. `user` … `key_file`
/// and `secrets` are the defaults; `per_host` holds the hosts whose login
/// differs.
#[derive(Debug, Clone)]
pub struct Connector {
    pub user: String,
    pub port: u16,
    pub auth: SshAuth,
    pub key_file: Option<PathBuf>,
    pub jump: Option<JumpLogin>,
    pub per_host: std::collections::HashMap<String, HostLogin>,
    pub strict_host_keys: bool,
    pub connect_timeout: Duration,
    pub secrets: Secrets,
    /// cdwiz's own key, installed on password-only hosts.
    pub own_key: PathBuf,
    pub known_hosts: PathBuf,
    /// The cdwiz binary that answers ssh's password prompt.
    pub askpass: PathBuf,
}

impl Connector {
    pub fn new(a: &Answers, secrets: Secrets, data_dir: &Path, askpass: PathBuf) -> Self {
        let per_host = a
            .hosts
            .iter()
            .filter(|h| h.ssh.is_some())
            .map(|h| {
                let l = a.login(h);
                (
                    h.address.clone(),
                    HostLogin {
                        user: l.user,
                        port: l.port,
                        auth: l.auth,
                        key_file: l.key_file.as_deref().map(crate::paths::expand_home),
                    },
                )
            })
            .collect();
        Connector {
            user: a.ssh.user.clone(),
            port: a.ssh.port,
            auth: a.ssh.auth,
            key_file: a.ssh.key_file.as_deref().map(crate::paths::expand_home),
            jump: a.bastion().map(|b| JumpLogin {
                host: b.host,
                port: b.port,
                user: b.user,
                auth: b.auth,
                key_file: b.key_file.as_deref().map(crate::paths::expand_home),
            }),
            per_host,
            strict_host_keys: a.ssh.host_key_policy == HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(u64::from(a.ssh.connect_timeout.max(1))),
            secrets,
            own_key: data_dir.join("keys").join("id_ed25519"),
            known_hosts: data_dir.join("known_hosts"),
            askpass,
        }
    }

    /// This connector with `address`'s own login in place of the defaults.
    pub fn for_host(&self, address: &str) -> Connector {
        let mut c = self.clone();
        if let Some(l) = self.per_host.get(address) {
            c.user = l.user.clone();
            c.port = l.port;
            c.auth = l.auth;
            c.key_file = l.key_file.clone();
            let own = self.secrets.hosts.get(address).cloned().unwrap_or_default();
            c.secrets.ssh_password = own.ssh_password;
            c.secrets.sudo_password = own.sudo_password;
        }
        c.per_host.clear();
        c
    }

    /// The bastion as ssh reaches it: with its key file, or with cdwiz's
    /// own key when it logs in with a password (installed by `prepare`).
    fn bastion(&self) -> Option<crate::ssh::jump::Bastion> {
        self.jump.as_ref().map(|j| crate::ssh::jump::Bastion {
            host: j.host.clone(),
            port: j.port,
            user: j.user.clone(),
            key: match j.auth {
                SshAuth::Key => j.key_file.clone(),
                SshAuth::Password => Some(self.own_key.clone()),
                SshAuth::Agent => None,
            },
        })
    }

    /// A connector that logs in to the bastion itself (no jump).
    fn to_bastion(&self) -> Option<(Connector, String)> {
        let j = self.jump.as_ref()?;
        let mut c = self.clone();
        c.user = j.user.clone();
        c.port = j.port;
        c.auth = j.auth;
        c.key_file = j.key_file.clone();
        c.jump = None;
        c.per_host.clear();
        c.secrets.ssh_password = self.secrets.jump_password.clone();
        Some((c, j.host.clone()))
    }

    /// Whether any login (a host's, the defaults, the bastion's) uses a
    /// password, so needs cdwiz's own key.
    fn any_password(&self) -> bool {
        self.auth == SshAuth::Password
            || self.per_host.values().any(|l| l.auth == SshAuth::Password)
            || self
                .jump
                .as_ref()
                .is_some_and(|j| j.auth == SshAuth::Password)
    }

    fn target(&self, address: &str) -> SshTarget {
        SshTarget {
            address: address.to_string(),
            port: self.port,
            user: self.user.clone(),
            key: None,
            known_hosts: self.known_hosts.clone(),
            connect_timeout: self.connect_timeout,
            jump: self.bastion(),
        }
    }

    /// TCP reach of the SSH port, measured from this machine; through a
    /// bastion, the bastion's port (the hosts behind it are judged by login).
    pub async fn reach(&self, address: &str) -> Result<Duration, ConnectFailure> {
        let started = std::time::Instant::now();
        let (address, port) = match &self.jump {
            Some(j) => (j.host.clone(), j.port),
            None => (address.to_string(), self.for_host(address).port),
        };
        let address = address.as_str();
        match tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect((address, port)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(started.elapsed()),
            Ok(Err(e)) => Err(ConnectFailure::Unreachable(format!(
                "{address}:{port}: {e}"
            ))),
            Err(_) => Err(ConnectFailure::Unreachable(format!(
                "{address}:{port}: no answer within {} s",
                self.connect_timeout.as_secs()
            ))),
        }
    }

    async fn session(&self, address: &str, key: Option<&Path>) -> Result<Session, ConnectFailure> {
        let mut b = SessionBuilder::default();
        b.user(self.user.clone())
            .port(self.port)
            .known_hosts_check(if self.strict_host_keys {
                KnownHosts::Strict
            } else {
                KnownHosts::Add
            })
            .user_known_hosts_file(&self.known_hosts)
            .connect_timeout(self.connect_timeout)
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(crate::paths::runtime_dir())
            .control_persist(crate::ssh::MASTER_IDLE)
            .config_file("/dev/null");
        if let Some(k) = key {
            b.keyfile(k);
        }
        let bastion = self.bastion();
        let jump = match &bastion {
            Some(j) => Some(
                crate::ssh::jump::config(j, &self.known_hosts, self.strict_host_keys)
                    .map_err(|e| ConnectFailure::Other(format!("jump host config: {e}")))?,
            ),
            None => None,
        };
        if let Some(j) = &jump {
            b.config_file(&j.path).jump_hosts([crate::ssh::jump::ALIAS]);
        }
        let e = match b.connect(address).await {
            Ok(session) => return Ok(session),
            Err(e) => e,
        };
        let text = error_chain(&e);
        let failure = classify(address, &text);
        // Through a bastion ssh often cannot tell which side failed (the
        // jump's own words go elsewhere): ask the bastion itself.
        if let Some(j) = &bastion
            && !matches!(failure, ConnectFailure::HostKeyChanged(_))
        {
            if let Some(f) = Box::pin(self.diagnose_bastion(j)).await {
                return Err(f);
            }
            if text.contains("kex_exchange_identification") || text.contains("UNKNOWN port") {
                return Err(ConnectFailure::Unreachable(format!(
                    "{address}: the bastion {} logs in, but cannot reach {address}:{} \
                     (the host is down, or the bastion may not connect to it)",
                    j.describe(),
                    self.port
                )));
            }
        }
        Err(match failure {
            ConnectFailure::AuthRejected(d) => ConnectFailure::AuthRejected(format!(
                "{d} (the host refused {}@{address} by {})",
                self.user,
                method(self.auth, "the password")
            )),
            other => other,
        })
    }

    /// Why the bastion itself fails, if it does; `None` when it logs in.
    async fn diagnose_bastion(&self, b: &crate::ssh::jump::Bastion) -> Option<ConnectFailure> {
        let (direct, host) = self.to_bastion()?;
        let how = method(direct.auth, "its password");
        match direct.session(&host, b.key.as_deref()).await {
            Ok(s) => {
                let _ = s.close().await;
                None
            }
            Err(ConnectFailure::AuthRejected(d)) => Some(ConnectFailure::Bastion(format!(
                "the bastion {} refused the login by {how}: {d}",
                b.describe()
            ))),
            Err(other) => Some(ConnectFailure::Bastion(format!(
                "the bastion {}: {other}",
                b.describe()
            ))),
        }
    }

    /// cdwiz's own public key as `type blob`, when the pair exists.
    fn own_public_key(&self) -> Option<String> {
        let mut p = self.own_key.clone().into_os_string();
        p.push(".pub");
        key_blob(&std::fs::read_to_string(p).ok()?)
    }

    /// Removes cdwiz's key from the bastion's `authorized_keys`, where a
    /// password login put it. `Ok(false)` when there is nothing to remove.
    pub async fn remove_own_key_from_jump(&self) -> Result<bool, ConnectFailure> {
        let (Some(j), Some(key)) = (&self.jump, self.own_public_key()) else {
            return Ok(false);
        };
        if j.auth != SshAuth::Password {
            return Ok(false);
        }
        let Some((direct, host)) = self.to_bastion() else {
            return Ok(false);
        };
        let session = direct.session(&host, Some(&self.own_key)).await?;
        let out = ssh::run_script(
            &session,
            &host,
            &remove_key_script(&key),
            Duration::from_secs(30),
        )
        .await;
        let _ = session.close().await;
        let out = out.map_err(|e| ConnectFailure::Other(e.to_string()))?;
        Ok(out.code == 0 && out.stdout.trim() == "removed")
    }

    /// Makes sure cdwiz's own key pair exists (0600).
    pub async fn ensure_own_key(&self) -> Result<(), ConnectFailure> {
        if self.own_key.exists() {
            return Ok(());
        }
        if let Some(dir) = self.own_key.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ConnectFailure::Other(format!("{}: {e}", dir.display())))?;
        }
        // Made under a temporary name and renamed: another cdwiz may be
        // doing the same.
        let tmp = self
            .own_key
            .with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let out = tokio::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "cdwiz"])
            .arg("-f")
            .arg(&tmp)
            .output()
            .await
            .map_err(|e| {
                ConnectFailure::Other(format!("ssh-keygen: {e}; install openssh-client"))
            })?;
        if !out.status.success() {
            return Err(ConnectFailure::Other(format!(
                "ssh-keygen: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut tmp_pub = tmp.clone().into_os_string();
        tmp_pub.push(".pub");
        let mut own_pub = self.own_key.clone().into_os_string();
        own_pub.push(".pub");
        std::fs::rename(&tmp_pub, &own_pub)
            .and_then(|_| std::fs::rename(&tmp, &self.own_key))
            .map_err(|e| ConnectFailure::Other(format!("{}: {e}", self.own_key.display())))
    }

    /// What every connection needs, done once before the hosts are
    /// contacted in parallel: cdwiz's own key, and for password logins
    /// through a bastion, that key on the bastion (installed with the same
    /// password, as for the hosts).
    pub async fn prepare(&self) -> Result<(), ConnectFailure> {
        if !self.any_password() {
            return Ok(());
        }
        self.ensure_own_key().await?;
        let Some((direct, host)) = self
            .to_bastion()
            .filter(|(d, _)| d.auth == SshAuth::Password)
        else {
            return Ok(());
        };
        let j = self
            .bastion()
            .map(|b| b.describe())
            .unwrap_or_else(|| host.clone());
        match direct.session(&host, Some(&self.own_key)).await {
            Ok(s) => {
                let _ = s.close().await;
                Ok(())
            }
            Err(ConnectFailure::AuthRejected(_)) => direct
                .bootstrap_key(&host)
                .await
                .map_err(|e| ConnectFailure::AuthRejected(format!("the jump host {j}: {e}"))),
            Err(e) => Err(ConnectFailure::Unreachable(format!(
                "the jump host {j}: {e}"
            ))),
        }
    }

    /// Installs cdwiz's public key for the login user with the password
    /// (once per host; later logins use the key).
    async fn bootstrap_key(&self, address: &str) -> Result<(), ConnectFailure> {
        let password = self.secrets.ssh_password.as_deref().ok_or_else(|| {
            ConnectFailure::AuthRejected(format!("{address}: no password to log in with"))
        })?;
        let mut pubkey_path = self.own_key.clone().into_os_string();
        pubkey_path.push(".pub");
        let pubkey_path = PathBuf::from(pubkey_path);
        let pubkey = std::fs::read_to_string(&pubkey_path)
            .map_err(|e| ConnectFailure::Other(format!("{}: {e}", pubkey_path.display())))?;
        let script = "umask 077; mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && \
                      read -r key && (grep -qxF \"$key\" ~/.ssh/authorized_keys || \
                      printf '%s\\n' \"$key\" >> ~/.ssh/authorized_keys)";
        let pubkey = own_key_line(&pubkey);
        let out = ssh::askpass::run_with_password(
            &self.target(address),
            password,
            &self.askpass,
            script,
            Some(format!("{}\n", pubkey.trim()).as_bytes()),
            self.connect_timeout + Duration::from_secs(20),
        )
        .await
        .map_err(|e| ConnectFailure::Other(e.to_string()))?;
        if out.code != 0 {
            let said = if out.stderr.trim().is_empty() {
                format!("installing cdwiz's key exited with {}", out.code)
            } else {
                out.stderr
            };
            return Err(classify(address, &said));
        }
        Ok(())
    }

    /// A root shell on `address`, with its own login when it has one.
    pub async fn connect(&self, address: &str) -> Result<HostConn, ConnectFailure> {
        if self.per_host.contains_key(address) {
            return Box::pin(self.for_host(address).connect(address)).await;
        }
        self.reach(address).await?;
        let session = match self.auth {
            SshAuth::Key => self.session(address, self.key_file.as_deref()).await?,
            SshAuth::Agent => self.session(address, None).await?,
            SshAuth::Password => {
                self.ensure_own_key().await?;
                match self.session(address, Some(&self.own_key)).await {
                    Ok(s) => s,
                    Err(ConnectFailure::AuthRejected(_)) => {
                        self.bootstrap_key(address).await?;
                        self.session(address, Some(&self.own_key)).await?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let sudo = if self.user == "root" {
            Sudo::AlreadyRoot
        } else {
            let probe = ssh::run_script(&session, address, "sudo -n true", Duration::from_secs(15))
                .await
                .map_err(|e| ConnectFailure::Other(e.to_string()))?;
            if probe.code == 0 {
                Sudo::NoPassword
            } else if self.secrets.sudo_password.is_some() {
                Sudo::WithPassword
            } else {
                return Err(ConnectFailure::NoRoot(format!(
                    "{address}: {} cannot run sudo without a password and the profile names no \
                     `sudo-password-env`",
                    self.user
                )));
            }
        };
        let conn = HostConn {
            address: address.to_string(),
            session: std::sync::Arc::new(session),
            user: self.user.clone(),
            own_key: (self.auth == SshAuth::Password)
                .then(|| self.own_public_key())
                .flatten(),
            sudo,
            sudo_password: self.secrets.sudo_password.clone(),
        };
        if conn.sudo == Sudo::WithPassword {
            let check = conn
                .run("id -u", Duration::from_secs(15))
                .await
                .map_err(|e| ConnectFailure::Other(e.to_string()))?;
            if check.stdout.trim() != "0" {
                return Err(ConnectFailure::NoRoot(format!(
                    "{address}: sudo refused the password of {}",
                    self.user
                )));
            }
        }
        Ok(conn)
    }
}

/// How a login was tried, for messages.
fn method(auth: SshAuth, password: &str) -> String {
    match auth {
        SshAuth::Key => "its key file".into(),
        SshAuth::Password => format!("cdwiz's key, installed with {password}"),
        SshAuth::Agent => "the agent's keys".into(),
    }
}

/// An error and its causes on one line (openssh puts ssh's own words last).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn classify(address: &str, text: &str) -> ConnectFailure {
    let line = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect::<Vec<_>>()
        .join(" ");
    let detail = format!("{address}: {}", line.trim());
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("Host key verification failed")
    {
        // ssh's banner is long; keep the facts: the new fingerprint and
        // where the old key is remembered.
        let after = |marker: &str| {
            text.split_once(marker)
                .map(|(_, rest)| {
                    rest.split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_end_matches('.')
                })
                .filter(|s| !s.is_empty())
        };
        match (after("sent by the remote host is"), after("Offending ")) {
            (Some(fp), _) => {
                let old = text
                    .split_once("Offending ")
                    .and_then(|(_, r)| r.split_once(" key in "))
                    .and_then(|(_, r)| r.split_whitespace().next())
                    .unwrap_or("the known hosts file");
                ConnectFailure::HostKeyChanged(format!(
                    "{address}: it now presents {fp}; the key remembered in {old} differs"
                ))
            }
            _ => ConnectFailure::HostKeyChanged(detail),
        }
    } else if text.contains("Permission denied")
        || text.contains("Too many authentication failures")
    {
        ConnectFailure::AuthRejected(detail)
    } else if text.contains("Connection timed out")
        || text.contains("No route to host")
        || text.contains("Connection refused")
    {
        ConnectFailure::Unreachable(detail)
    } else {
        ConnectFailure::Other(detail)
    }
}
