//! The host keys an installation accepts: its own known-hosts file, the
//! keys a profile pins in advance (`ssh.known-hosts`) or the operator
//! expects (`--expect-host-key`), and the fingerprints said of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ConnectFailure, Connector, file_error};
use crate::i18n::Msg;
use crate::profile::Answers;

/// How known_hosts names the host at `address:port`.
pub fn known_hosts_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// The lines `file` holds for the host `name` (`ssh-keygen -F`, which
/// reads hashed entries too).
fn entries_for(name: &str, file: &Path) -> Vec<String> {
    std::process::Command::new("ssh-keygen")
        .args(["-F", name, "-f"])
        .arg(file)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The `SHA256:…` words of `ssh-keygen -l` output.
fn fingerprints_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("SHA256:"))
        .map(str::to_string)
        .collect()
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
    let shared = data_dir.join("known_hosts");
    if !file.exists() && shared.is_file() && std::fs::create_dir_all(&dir).is_ok() {
        let kept: String = names(a)
            .iter()
            .flat_map(|n| entries_for(n, &shared))
            .map(|l| format!("{l}\n"))
            .collect();
        if !kept.is_empty() {
            let _ = crate::rundir::write_atomic(&file, &kept);
        }
    }
    let _ = std::fs::create_dir_all(&dir);
    file
}

/// The host keys installation `from` accepted for `a`'s hosts, taken over
/// by installation `to` (a run found its hosts to be `to`'s): they replace
/// what `to` remembered for those hosts.
pub fn carry_over(data_dir: &Path, from: &str, to: &str, a: &Answers) -> std::io::Result<()> {
    let dir = data_dir.join(KNOWN_HOSTS_DIR);
    let (from, to) = (dir.join(from), dir.join(to));
    if !from.is_file() {
        return Ok(());
    }
    let mut lines = String::new();
    for name in names(a) {
        let found = entries_for(&name, &from);
        if !found.is_empty() {
            forget(&name, &to);
            lines.extend(found.iter().map(|l| format!("{l}\n")));
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir)?;
    let mut text = std::fs::read_to_string(&to).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&lines);
    crate::rundir::write_atomic(&to, &text)
}

/// Forgets every host key installation `id` accepted (its file goes).
pub fn drop_file(data_dir: &Path, id: &str) {
    let _ = std::fs::remove_file(data_dir.join(KNOWN_HOSTS_DIR).join(id));
}

/// How known_hosts names the answers' hosts (each at its login's port)
/// and their bastion.
fn names(a: &Answers) -> Vec<String> {
    let mut names: Vec<String> = a
        .hosts
        .iter()
        .map(|h| known_hosts_name(&h.address, a.login(h).port))
        .collect();
    names.extend(a.bastion().map(|b| known_hosts_name(&b.host, b.port)));
    names
}

/// Forgets the host `name` in `file` (`ssh-keygen -R`, which rewrites the
/// file beside itself), leaving no copy of the old one behind.
pub fn forget(name: &str, file: &Path) {
    let _ = std::process::Command::new("ssh-keygen")
        .args(["-R", name, "-f"])
        .arg(file)
        .output();
    let mut old = file.to_path_buf().into_os_string();
    old.push(".old");
    let _ = std::fs::remove_file(old);
}

/// The keys the profile pins (`ssh.known-hosts`, consented like every
/// file it names) replace what the installation remembers for the hosts
/// they list: ssh then takes exactly those keys, and refuses another
/// before anything is sent. A file that cannot be read pins nothing
/// (validation says why).
pub(super) fn pin_known_hosts(known_hosts: &Path, a: &Answers, base: &Path) {
    let Some(source) = crate::profile::sources::sources(a)
        .into_iter()
        .find(|s| s.kind == crate::profile::sources::SourceKind::KnownHosts)
    else {
        return;
    };
    let Some(pinned) = source.path(base).filter(|_| source.consented(base)) else {
        return;
    };
    let mut lines = String::new();
    for name in names(a) {
        let found = entries_for(&name, &pinned);
        if !found.is_empty() {
            forget(&name, known_hosts);
            lines.extend(found.iter().map(|l| format!("{l}\n")));
        }
    }
    if lines.is_empty() {
        return;
    }
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
    fingerprints_in(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .next()
}

/// The fingerprints of every key `known_hosts` remembers for the host at
/// `address:port` (`ssh-keygen -l -F`; asked without blocking the runtime).
pub async fn remembered_fingerprints(known_hosts: &Path, address: &str, port: u16) -> Vec<String> {
    tokio::process::Command::new("ssh-keygen")
        .args(["-l", "-F", &known_hosts_name(address, port), "-f"])
        .arg(known_hosts)
        .output()
        .await
        .map(|o| fingerprints_in(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default()
}

impl Connector {
    /// The host's key is the one the operator expects, before anything
    /// (a password among it) goes to the host: the remembered one compared,
    /// else the keys the host offers are asked for (`ssh-keyscan`, no
    /// login) and the expected one, if offered, remembered for the
    /// installation. Through a bastion the keys cannot be asked for
    /// beforehand: refused, said so.
    pub(super) async fn pin(
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
}
