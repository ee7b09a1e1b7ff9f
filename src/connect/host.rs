//! A logged-in host: commands as root (through sudo when needed, the sudo
//! password kept from the command), the host's Docker API as the login
//! allows, and cdwiz's own key in the login's `authorized_keys`.

use std::path::PathBuf;
use std::time::Duration;

use openssh::Session;

use crate::ssh::{self, RemoteOutput, SshError, quote};

/// How a logged-in user becomes root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Sudo {
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
    /// The fingerprint of the host's key when this login was the
    /// installation's first contact with it (the key is now remembered).
    pub first_key: Option<String>,
    pub(super) sudo: Sudo,
    pub(super) sudo_password: Option<String>,
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

    /// The address this login comes from as the host sees it
    /// (`$SSH_CLIENT`), when it used cdwiz's own key: that key's `from=`
    /// there. Asked when a record needs it, not at every login.
    pub async fn seen_from(&self) -> Option<String> {
        self.own_key.as_ref()?;
        let out = ssh::run_script(
            &self.session,
            &self.address,
            "printf '%s' \"${SSH_CLIENT%% *}\"",
            Duration::from_secs(15),
        )
        .await
        .ok()?;
        let seen = out.stdout.trim().to_string();
        crate::ssh::authorized_keys::plain_address(&seen).then_some(seen)
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
    format!(
        "{} {}",
        crate::ssh::authorized_keys::OWN_KEY_OPTIONS,
        public_key.trim()
    )
}

/// `type blob` of a public key line (what identifies it in authorized_keys
/// whatever its options and comment).
pub(super) fn key_blob(public_key: &str) -> Option<String> {
    let (kind, blob) = crate::ssh::authorized_keys::key_fields(public_key)?;
    Some(format!("{kind} {blob}"))
}

/// A script, run as the login user, that removes `key` from
/// `~/.ssh/authorized_keys`; prints `removed` or `absent`.
pub(super) fn remove_key_script(key: &str) -> String {
    crate::ssh::authorized_keys::remove_own_script(key)
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

/// A host's Docker API and how it is reached.
pub struct DockerApi {
    pub docker: crate::ssh::docker_forward::ForwardedDocker,
    /// Through `sudo docker system dial-stdio` (the login user may not
    /// open the socket).
    pub via_sudo: bool,
}
