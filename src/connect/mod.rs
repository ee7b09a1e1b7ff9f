//! From the answers to a working root shell on each host: TCP reach, SSH
//! login (key, agent, or a password used once to install cdwiz's own key;
//! each host's own login, through a bastion with its own), and sudo for
//! non-root users. `secrets` reads what the answers point at, `host` is a
//! logged-in host (commands as root, the Docker API, cdwiz's key), `failure`
//! says why a host could not be reached or logged in to.

mod failure;
mod host;
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

/// Where each installation's known hosts are, under the data dir.
pub const KNOWN_HOSTS_DIR: &str = "known_hosts.d";

/// The host keys one installation has accepted: its own file under the
/// data dir (`known_hosts.d/<id>`), not one for every customer, so that a
/// reused private address at another site is a first contact there, not a
/// changed key here. Made on first use (its folder, and the keys an older
/// cdwiz remembered for these hosts in the data dir's shared file). Kept
/// apart from `installs/`, whose folders say which installations exist.
pub fn known_hosts_file(data_dir: &Path, a: &Answers) -> PathBuf {
    let dir = data_dir.join(KNOWN_HOSTS_DIR);
    let file = dir.join(crate::profile::install_id(a));
    if !file.exists() && std::fs::create_dir_all(&dir).is_ok() {
        let shared = data_dir.join("known_hosts");
        if shared.is_file() {
            let mut kept = String::new();
            let mut names: Vec<String> = a.hosts.iter().map(|h| h.address.clone()).collect();
            names.extend(a.bastion().map(|b| b.host));
            for name in names {
                let Ok(out) = std::process::Command::new("ssh-keygen")
                    .args(["-F", &name, "-f"])
                    .arg(&shared)
                    .output()
                else {
                    continue;
                };
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    if !line.starts_with('#') && !line.trim().is_empty() {
                        kept.push_str(line);
                        kept.push('\n');
                    }
                }
            }
            if !kept.is_empty() {
                let _ = crate::rundir::write_atomic(&file, &kept);
            }
        }
    }
    file
}

/// The keys the profile pins (`ssh.known-hosts`, consented like every
/// file it names) replace what the installation remembers for the hosts
/// they list: ssh then takes exactly those keys, and refuses another
/// before anything is sent. A file that cannot be read pins nothing
/// (validation says why).
fn pin_known_hosts(known_hosts: &Path, a: &Answers, base: &Path) {
    let Some(source) = crate::profile::sources::sources(a)
        .into_iter()
        .find(|s| s.kind == crate::profile::sources::SourceKind::KnownHosts)
    else {
        return;
    };
    let Some(pinned) = source.path(base) else {
        return;
    };
    if !source.consented(base) {
        return;
    }
    let mut names: Vec<String> = a
        .hosts
        .iter()
        .map(|h| {
            let port = a.login(h).port;
            if port == 22 {
                h.address.clone()
            } else {
                format!("[{}]:{port}", h.address)
            }
        })
        .collect();
    names.extend(a.bastion().map(|b| {
        if b.port == 22 {
            b.host
        } else {
            format!("[{}]:{}", b.host, b.port)
        }
    }));
    let keygen = |args: &[&str], file: &Path| {
        std::process::Command::new("ssh-keygen")
            .args(args)
            .arg(file)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let mut lines = String::new();
    let mut listed = Vec::new();
    for name in &names {
        let found: Vec<String> = keygen(&["-F", name, "-f"], &pinned)
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        if !found.is_empty() {
            listed.push(name.clone());
            for l in found {
                lines.push_str(&l);
                lines.push('\n');
            }
        }
    }
    if listed.is_empty() {
        return;
    }
    for name in &listed {
        let _ = keygen(&["-R", name, "-f"], known_hosts);
    }
    let mut old = known_hosts.to_path_buf().into_os_string();
    old.push(".old");
    let _ = std::fs::remove_file(old);
    let mut text = std::fs::read_to_string(known_hosts).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&lines);
    let _ = crate::rundir::write_atomic(known_hosts, &text);
}

/// The fingerprint (`SHA256:…`) of one `known_hosts` line.
async fn fingerprint_of(line: &str) -> Option<String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("ssh-keygen")
        .args(["-l", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let _ = stdin.write_all(format!("{line}\n").as_bytes()).await;
    drop(stdin);
    let out = child.wait_with_output().await.ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .map(str::to_string)
}

/// The fingerprint of the key `known_hosts` remembers for the host at
/// `address:port` (`ssh-keygen -l -F`), if it remembers one (the first,
/// where it remembers several of its keys).
pub fn remembered_fingerprint(known_hosts: &Path, address: &str, port: u16) -> Option<String> {
    remembered_fingerprints(known_hosts, address, port)
        .into_iter()
        .next()
}

/// The fingerprints of every key `known_hosts` remembers for the host.
pub fn remembered_fingerprints(known_hosts: &Path, address: &str, port: u16) -> Vec<String> {
    let name = if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    };
    let Ok(out) = std::process::Command::new("ssh-keygen")
        .args(["-l", "-F", &name, "-f"])
        .arg(known_hosts)
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with("SHA256:"))
        .map(str::to_string)
        .collect()
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
            own_key: data_dir.join("keys").join("id_ed25519"),
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
    /// says the fingerprint of the key now remembered for it.
    pub async fn login(&self, address: &str) -> Result<HostConn, ConnectFailure> {
        let port = self.for_host(address).port;
        let remembered = remembered_fingerprints(&self.known_hosts, address, port);
        if let Some(expected) = crate::consent::expected_host_key(address) {
            self.pin(address, port, &expected, &remembered).await?;
        }
        let known = !remembered.is_empty();
        let mut conn = self.login_as_root(address).await?;
        if !known {
            conn.first_key = remembered_fingerprint(&self.known_hosts, address, port);
        }
        Ok(conn)
    }

    /// The host's key is the one the operator expects, before anything
    /// (a password among it) goes to the host: the remembered one compared,
    /// else the keys the host offers are asked for (`ssh-keyscan`, no
    /// login) and the expected one, if offered, remembered for the
    /// installation. Through a bastion the keys cannot be asked for
    /// beforehand: refused, said so.
    async fn pin(
        &self,
        address: &str,
        port: u16,
        expected: &str,
        remembered: &[String],
    ) -> Result<(), ConnectFailure> {
        let unexpected = |presented: String| {
            ConnectFailure::HostKeyChanged(
                Msg::new("connect.hostkey-unexpected")
                    .arg("address", address)
                    .arg("expected", expected)
                    .arg("presented", presented),
            )
        };
        if !remembered.is_empty() {
            return if remembered.iter().any(|fp| fp == expected) {
                Ok(())
            } else {
                Err(unexpected(remembered.join(", ")))
            };
        }
        if self.jump.is_some() {
            return Err(ConnectFailure::Other(
                Msg::new("connect.hostkey-pin-bastion").arg("address", address),
            ));
        }
        let scan = tokio::time::timeout(
            self.connect_timeout + Duration::from_secs(5),
            tokio::process::Command::new("ssh-keyscan")
                .args(["-T", &self.connect_timeout.as_secs().max(1).to_string()])
                .args(["-p", &port.to_string(), "--", address])
                .output(),
        )
        .await
        .map_err(|_| {
            ConnectFailure::Unreachable(
                Msg::new("connect.no-answer")
                    .arg("address", address)
                    .arg("port", port)
                    .arg("secs", self.connect_timeout.as_secs()),
            )
        })?
        .map_err(|e| ConnectFailure::Other(Msg::from(format!("ssh-keyscan: {e}"))))?;
        let lines = String::from_utf8_lossy(&scan.stdout).into_owned();
        let mut offered = Vec::new();
        for line in lines
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let fp = fingerprint_of(line).await;
            if fp.as_deref() == Some(expected) {
                let mut known = std::fs::read_to_string(&self.known_hosts).unwrap_or_default();
                if !known.is_empty() && !known.ends_with('\n') {
                    known.push('\n');
                }
                known.push_str(line);
                known.push('\n');
                return crate::rundir::write_atomic(&self.known_hosts, &known)
                    .map_err(|e| ConnectFailure::Other(file_error(&self.known_hosts, e)));
            }
            offered.extend(fp);
        }
        Err(unexpected(if offered.is_empty() {
            "(no key)".into()
        } else {
            offered.join(", ")
        }))
    }

    async fn login_as_root(&self, address: &str) -> Result<HostConn, ConnectFailure> {
        if self.per_host.contains_key(address) {
            return Box::pin(self.for_host(address).login_as_root(address)).await;
        }
        let session = match self.auth {
            SshAuth::Key => self.session(address, self.key_file.as_deref()).await?,
            SshAuth::Agent => self.session(address, None).await?,
            SshAuth::Password => {
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

/// A local file cdwiz could not read or write.
fn file_error(path: &Path, e: std::io::Error) -> Msg {
    Msg::new("connect.file")
        .arg("path", path.display())
        .arg("error", e)
}
