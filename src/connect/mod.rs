//! From the answers to a working root shell on each host: TCP reach, SSH
//! login (key, agent, or a password used once to install cdwiz's own key;
//! each host's own login, through a bastion with its own), and sudo for
//! non-root users. `secrets` reads what the answers point at, `host` is a
//! logged-in host (commands as root, the Docker API, cdwiz's key), `failure`
//! says why a host could not be reached or logged in to.

mod failure;
mod host;
mod host_keys;
mod secrets;
mod targets;

use std::path::{Path, PathBuf};
use std::time::Duration;

use openssh::{KnownHosts, Session, SessionBuilder};

use crate::i18n::Msg;
use crate::profile::{Answers, BastionLogin, HostKeyPolicy, Login, SshAuth};
use crate::ssh::{self, SshTarget};

pub use failure::ConnectFailure;
use failure::{classify, error_chain, method};
pub use host::{DockerApi, HostConn, own_key_line};
use host::{Sudo, key_blob, remove_key_script};
use host_keys::pin_known_hosts;
pub use host_keys::{
    KNOWN_HOSTS_DIR, carry_over, drop_file, forget, known_hosts_file, known_hosts_name,
    remembered_fingerprints,
};
pub use secrets::{HostSecrets, Secrets, read_secrets, resolve_secrets};
pub use targets::{Opener, Stage, Target, Targets, Unopened};

/// This program: what answers ssh's password prompt (`SSH_ASKPASS`) when a
/// login uses a password.
pub fn askpass_program() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cdwiz"))
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
    /// The bastion's login in force.
    pub jump: Option<BastionLogin>,
    /// The login in force of each host that has one of its own.
    pub per_host: std::collections::HashMap<String, Login>,
    pub strict_host_keys: bool,
    pub connect_timeout: Duration,
    pub secrets: Secrets,
    /// cdwiz's own key, installed on password-only hosts.
    pub own_key: PathBuf,
    pub known_hosts: PathBuf,
    /// The cdwiz binary that answers ssh's password prompt.
    pub askpass: PathBuf,
    /// With a password login, install cdwiz's key where it is missing
    /// (false for read-only commands: they change nothing on a host).
    pub install_key: bool,
}

impl Connector {
    /// The connector for the answers' hosts; `base` is the profile's folder
    /// (where `ssh.known-hosts` is read from).
    pub fn new(
        a: &Answers,
        secrets: Secrets,
        data_dir: &Path,
        base: &Path,
        askpass: PathBuf,
    ) -> Self {
        let known_hosts = known_hosts_file(data_dir, a);
        pin_known_hosts(&known_hosts, a, base);
        let per_host = a
            .hosts
            .iter()
            .filter(|h| h.ssh.is_some())
            .map(|h| (h.address.clone(), a.login(h)))
            .collect();
        Connector {
            user: a.ssh.user.clone(),
            port: a.ssh.port,
            auth: a.ssh.auth,
            key_file: a.ssh.key_file.as_deref().map(crate::paths::expand_home),
            jump: a.bastion(),
            per_host,
            strict_host_keys: a.ssh.host_key_policy == HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(u64::from(a.ssh.connect_timeout.max(1))),
            secrets,
            own_key: own_key_file(data_dir, &crate::profile::install_id(a)),
            known_hosts,
            askpass,
            install_key: true,
        }
    }

    /// This connector with `address`'s own login in place of the defaults.
    pub fn for_host(&self, address: &str) -> Connector {
        let mut c = self.clone();
        if let Some(l) = self.per_host.get(address) {
            c.user = l.user.clone();
            c.port = l.port;
            c.auth = l.auth;
            c.key_file = l.key_file.as_deref().map(crate::paths::expand_home);
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
                SshAuth::Key => j.key_file.as_deref().map(crate::paths::expand_home),
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
        c.key_file = j.key_file.as_deref().map(crate::paths::expand_home);
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
            Ok(Err(e)) => Err(ConnectFailure::Unreachable(
                Msg::new("connect.refused")
                    .arg("address", address)
                    .arg("port", port)
                    .arg("error", e),
            )),
            Err(_) => Err(ConnectFailure::Unreachable(
                Msg::new("connect.no-answer")
                    .arg("address", address)
                    .arg("port", port)
                    .arg("secs", self.connect_timeout.as_secs()),
            )),
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
                crate::ssh::jump::config(j, &self.known_hosts, self.strict_host_keys).map_err(
                    |e| ConnectFailure::Other(Msg::new("connect.jump-config").arg("error", e)),
                )?,
            ),
            None => None,
        };
        if let Some(j) = &jump {
            b.config_file(&j.path).jump_hosts([crate::ssh::jump::ALIAS]);
        }
        let e = match b.connect_mux(address).await {
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
                return Err(ConnectFailure::Unreachable(
                    Msg::new("connect.bastion-cannot-reach")
                        .arg("address", address)
                        .arg("bastion", j.describe())
                        .arg("port", self.port),
                ));
            }
        }
        Err(match failure {
            ConnectFailure::AuthRejected(d) => ConnectFailure::AuthRejected(
                Msg::new("connect.login-refused")
                    .arg_msg("said", d)
                    .arg("user", &self.user)
                    .arg("address", address)
                    .arg_msg("how", method(self.auth)),
            ),
            other => other,
        })
    }

    /// Why the bastion itself fails, if it does; `None` when it logs in.
    async fn diagnose_bastion(&self, b: &crate::ssh::jump::Bastion) -> Option<ConnectFailure> {
        let (direct, host) = self.to_bastion()?;
        let how = method(direct.auth);
        match direct.session(&host, b.key.as_deref()).await {
            Ok(s) => {
                let _ = s.close().await;
                None
            }
            Err(ConnectFailure::AuthRejected(d)) => Some(ConnectFailure::Bastion(
                Msg::new("connect.bastion-refused")
                    .arg("bastion", b.describe())
                    .arg_msg("how", how)
                    .arg_msg("said", d),
            )),
            Err(other) => Some(ConnectFailure::Bastion(
                Msg::new("connect.bastion-failed")
                    .arg("bastion", b.describe())
                    .arg_msg("error", other.message().clone()),
            )),
        }
    }

    /// cdwiz's own public key as `type blob`, when the pair exists.
    pub fn own_public_key(&self) -> Option<String> {
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
        let out = out.map_err(|e| ConnectFailure::Other(Msg::from(e.to_string())))?;
        Ok(out.code == 0 && out.stdout.trim() == "removed")
    }

    /// Makes sure cdwiz's own key pair exists (0600).
    pub async fn ensure_own_key(&self) -> Result<(), ConnectFailure> {
        if self.own_key.exists() {
            return Ok(());
        }
        if let Some(dir) = self.own_key.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ConnectFailure::Other(file_error(dir, e)))?;
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
                ConnectFailure::Other(Msg::new("connect.ssh-keygen-missing").arg("error", e))
            })?;
        if !out.status.success() {
            return Err(ConnectFailure::Other(
                Msg::new("connect.ssh-keygen")
                    .arg("error", String::from_utf8_lossy(&out.stderr).trim()),
            ));
        }
        let mut tmp_pub = tmp.clone().into_os_string();
        tmp_pub.push(".pub");
        let mut own_pub = self.own_key.clone().into_os_string();
        own_pub.push(".pub");
        std::fs::rename(&tmp_pub, &own_pub)
            .and_then(|_| std::fs::rename(&tmp, &self.own_key))
            .map_err(|e| ConnectFailure::Other(file_error(&self.own_key, e)))
    }

    /// What every connection needs, done once before the hosts are
    /// contacted in parallel: cdwiz's own key, and for password logins
    /// through a bastion, that key on the bastion (installed with the same
    /// password, as for the hosts).
    pub async fn prepare(&self) -> Result<(), ConnectFailure> {
        // What a killed cdwiz could not remove.
        crate::ssh::docker_forward::sweep_stale_sockets(&crate::paths::runtime_dir());
        if !self.any_password() || (!self.install_key && !self.own_key.exists()) {
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
            Err(ConnectFailure::AuthRejected(_)) if !self.install_key => {
                Err(ConnectFailure::AuthRejected(
                    Msg::new("connect.key-not-installed").arg("address", &j),
                ))
            }
            Err(ConnectFailure::AuthRejected(_)) => {
                direct.bootstrap_key(&host).await.map_err(|e| {
                    ConnectFailure::AuthRejected(
                        Msg::new("connect.jump-host")
                            .arg("jump", &j)
                            .arg_msg("error", e.message().clone()),
                    )
                })
            }
            Err(e) => Err(ConnectFailure::Unreachable(
                Msg::new("connect.jump-host")
                    .arg("jump", &j)
                    .arg_msg("error", e.message().clone()),
            )),
        }
    }

    /// Installs cdwiz's public key for the login user with the password
    /// (once per host; later logins use the key).
    async fn bootstrap_key(&self, address: &str) -> Result<(), ConnectFailure> {
        let password = self.secrets.ssh_password.as_deref().ok_or_else(|| {
            ConnectFailure::AuthRejected(Msg::new("connect.no-password").arg("address", address))
        })?;
        let mut pubkey_path = self.own_key.clone().into_os_string();
        pubkey_path.push(".pub");
        let pubkey_path = PathBuf::from(pubkey_path);
        let pubkey = std::fs::read_to_string(&pubkey_path)
            .map_err(|e| ConnectFailure::Other(file_error(&pubkey_path, e)))?;
        let script = ssh::authorized_keys::add_script();
        let pubkey = own_key_line(&pubkey);
        let out = ssh::askpass::run_with_password(
            &self.target(address),
            password,
            &self.askpass,
            &script,
            Some(format!("{}\n", pubkey.trim()).as_bytes()),
            self.connect_timeout + Duration::from_secs(20),
        )
        .await
        .map_err(|e| ConnectFailure::Other(Msg::from(e.to_string())))?;
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
        self.reach(address).await?;
        self.login(address).await
    }

    /// Logs in to `address` (its port known to answer) and becomes root;
    /// on the installation's first contact with the host, the connection
    /// says the fingerprint of the key now remembered for it, and a
    /// changed key the one remembered before.
    pub async fn login(&self, address: &str) -> Result<HostConn, ConnectFailure> {
        let port = self.for_host(address).port;
        let remembered = remembered_fingerprints(&self.known_hosts, address, port).await;
        if let Some(expected) = crate::consent::expected_host_key(address) {
            self.pin(address, port, &expected, &remembered).await?;
        }
        let mut conn = self.login_as_root(address).await.map_err(|f| match f {
            ConnectFailure::HostKeyChanged(m) if !remembered.is_empty() => {
                ConnectFailure::HostKeyChanged(m.arg("was", remembered.join(", ")))
            }
            f => f,
        })?;
        if remembered.is_empty() {
            conn.first_key = remembered_fingerprints(&self.known_hosts, address, port)
                .await
                .into_iter()
                .next();
        }
        Ok(conn)
    }

    async fn login_as_root(&self, address: &str) -> Result<HostConn, ConnectFailure> {
        if self.per_host.contains_key(address) {
            return Box::pin(self.for_host(address).login_as_root(address)).await;
        }
        let session = match self.auth {
            SshAuth::Key => self.session(address, self.key_file.as_deref()).await?,
            SshAuth::Agent => self.session(address, None).await?,
            SshAuth::Password => {
                // A look that installs nothing has no use for a new pair.
                if !self.install_key && !self.own_key.exists() {
                    return Err(ConnectFailure::AuthRejected(
                        Msg::new("connect.key-not-installed").arg("address", address),
                    ));
                }
                self.ensure_own_key().await?;
                match self.session(address, Some(&self.own_key)).await {
                    Ok(s) => s,
                    Err(ConnectFailure::AuthRejected(_)) if !self.install_key => {
                        return Err(ConnectFailure::AuthRejected(
                            Msg::new("connect.key-not-installed").arg("address", address),
                        ));
                    }
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
                .map_err(|e| ConnectFailure::Other(Msg::from(e.to_string())))?;
            if probe.code == 0 {
                Sudo::NoPassword
            } else if self.secrets.sudo_password.is_some() {
                Sudo::WithPassword
            } else {
                return Err(ConnectFailure::NoRoot(
                    Msg::new("connect.sudo-needs-password")
                        .arg("address", address)
                        .arg("user", &self.user),
                ));
            }
        };
        let conn = HostConn {
            address: address.to_string(),
            session: std::sync::Arc::new(session),
            user: self.user.clone(),
            own_key: (self.auth == SshAuth::Password)
                .then(|| self.own_public_key())
                .flatten(),
            first_key: None,
            sudo,
            sudo_password: self.secrets.sudo_password.clone(),
        };
        if conn.sudo == Sudo::WithPassword {
            let check = conn
                .run("id -u", Duration::from_secs(15))
                .await
                .map_err(|e| ConnectFailure::Other(Msg::from(e.to_string())))?;
            if check.stdout.trim() != "0" {
                return Err(ConnectFailure::NoRoot(
                    Msg::new("connect.sudo-refused")
                        .arg("address", address)
                        .arg("user", &self.user),
                ));
            }
        }
        Ok(conn)
    }
}

/// Where cdwiz's own key for installation `install` is kept: one pair per
/// installation (made at its first password login), so no two customers'
/// hosts trust the same key.
pub fn own_key_file(data_dir: &Path, install: &str) -> PathBuf {
    data_dir.join("keys").join(install).join("id_ed25519")
}

/// Installation `to` takes over the key pair of `from` when it has none of
/// its own (the key the run's logins installed stays the one in use).
/// True when `from`'s pair is still there afterwards: then its key is not
/// `to`'s.
pub fn carry_key(data_dir: &Path, from: &str, to: &str) -> std::io::Result<bool> {
    let (from, to) = (
        data_dir.join("keys").join(from),
        data_dir.join("keys").join(to),
    );
    if !from.is_dir() {
        return Ok(false);
    }
    if to.exists() {
        return Ok(true);
    }
    std::fs::rename(&from, &to)?;
    Ok(false)
}

/// A local file cdwiz could not read or write.
fn file_error(path: &Path, e: std::io::Error) -> Msg {
    Msg::new("connect.file")
        .arg("path", path.display())
        .arg("error", e)
}
