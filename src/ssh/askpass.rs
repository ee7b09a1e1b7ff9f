//! Password logins without the password on any command line, in any file or
//! in any log: cdwiz runs the system `ssh` with `SSH_ASKPASS` pointing at a
//! cdwiz binary, which fetches the password from a unix socket in a private
//! (0700) directory that only this process serves, and only to its own user.
//!
//! Used once per password-only host, to install cdwiz's key (DESIGN.md §5).

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

use super::{RemoteOutput, SshError, SshTarget};

/// Set in the environment of `ssh` so that the askpass helper finds the socket.
pub const SOCKET_ENV: &str = "CDWIZ_ASKPASS_SOCKET";

/// How many prompts one served password answers (ssh asks once per attempt).
const MAX_ANSWERS: usize = 3;

/// The helper side: called as `$SSH_ASKPASS "prompt"`; prints the password.
/// Returns `None` when this process was not started as the askpass helper.
pub fn helper_main() -> Option<i32> {
    let socket = std::env::var_os(SOCKET_ENV)?;
    Some(match fetch(Path::new(&socket)) {
        Ok(password) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let ok = out.write_all(password.as_bytes()).is_ok()
                && out.write_all(b"\n").is_ok()
                && out.flush().is_ok();
            if ok { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("cdwiz askpass: cannot read the password from {socket:?}: {e}");
            1
        }
    })
}

fn fetch(socket: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut password = String::new();
    s.read_to_string(&mut password)?;
    Ok(password)
}

/// Serves one password to askpass helpers for as long as it lives.
struct PasswordServer {
    dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl PasswordServer {
    fn start(password: String) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("cdwiz-askpass-")
            .tempdir_in(crate::paths::runtime_dir())?;
        let owner = std::fs::metadata(dir.path())?.uid();
        let listener = UnixListener::bind(dir.path().join("s"))?;
        let task = tokio::spawn(async move {
            let mut answered = 0;
            while answered < MAX_ANSWERS {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                // Only our own user may ask (the directory is 0700 as well).
                if stream.peer_cred().map(|c| c.uid()).ok() != Some(owner) {
                    continue;
                }
                let _ = stream.write_all(password.as_bytes()).await;
                let _ = stream.shutdown().await;
                answered += 1;
            }
        });
        Ok(PasswordServer { dir, task })
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("s")
    }
}

impl Drop for PasswordServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `script` on the target with password authentication through the
/// system `ssh`. `askpass_program` is a cdwiz binary (normally the running
/// one, `std::env::current_exe()`). `input` goes to the script's stdin.
pub async fn run_with_password(
    target: &SshTarget,
    password: &str,
    askpass_program: &Path,
    script: &str,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<RemoteOutput, SshError> {
    let host = target.address.clone();
    let server = PasswordServer::start(password.to_string()).map_err(|e| SshError::Other {
        host: host.clone(),
        message: format!("cannot prepare the password prompt: {e}"),
    })?;
    let mut known_hosts = OsString::from("UserKnownHostsFile=");
    known_hosts.push(&target.known_hosts);
    let jump = match &target.jump {
        Some(j) => Some(
            super::jump::config(j, &target.known_hosts, false).map_err(|e| SshError::Other {
                host: host.clone(),
                message: format!("cannot write the jump host's ssh config: {e}"),
            })?,
        ),
        None => None,
    };
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.arg("-F")
        .arg(
            jump.as_ref()
                .map(|j| j.path.as_os_str())
                .unwrap_or("/dev/null".as_ref()),
        )
        .args(["-o", "BatchMode=no"])
        .args(["-o", "PubkeyAuthentication=no"])
        .args([
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ])
        .args(["-o", "NumberOfPasswordPrompts=1"])
        .args(["-o", "StrictHostKeyChecking=accept-new"])
        .arg("-o")
        .arg(known_hosts)
        .arg("-o")
        .arg(format!(
            "ConnectTimeout={}",
            target.connect_timeout.as_secs().max(1)
        ))
        .args(jump.iter().flat_map(|_| ["-J", super::jump::ALIAS]))
        .arg("-p")
        .arg(target.port.to_string())
        .arg("--")
        .arg(target.destination())
        .arg(format!("sh -c {}", super::quote(script)))
        .env("SSH_ASKPASS", askpass_program)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env(SOCKET_ENV, server.socket())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| SshError::Other {
        host: host.clone(),
        message: format!("cannot start the system `ssh` client: {e}; install openssh-client"),
    })?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(data).await.ok();
        drop(stdin);
    }
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| SshError::Timeout {
            host: host.clone(),
            command: script.to_string(),
            secs: timeout.as_secs(),
        })?
        .map_err(|e| SshError::Other {
            host: host.clone(),
            message: format!("ssh: {e}"),
        })?;
    drop(server);
    Ok(RemoteOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
