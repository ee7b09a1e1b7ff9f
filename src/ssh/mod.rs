//! SSH to hosts with the system OpenSSH (the `openssh` crate): one multiplexed
//! master connection per host, many commands over it, timeouts everywhere,
//! every value shell-quoted.

pub mod askpass;
pub mod authorized_keys;
pub mod docker_forward;
pub mod jump;

use std::path::PathBuf;
use std::time::Duration;

use openssh::{KnownHosts, Session, SessionBuilder, Stdio};

const EXIT_127_MARKER: &str = "cdwiz:exit-127";

/// How long a master connection outlives its last command: bounded, so that
/// the masters of a killed cdwiz log out by themselves within a minute. A
/// run keeps its masters busy (the run lock's heartbeat every 15 s).
pub const MASTER_IDLE: openssh::ControlPersist =
    openssh::ControlPersist::IdleFor(std::num::NonZeroUsize::new(45).unwrap());

/// How to reach one host.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Private key file; `None` uses the agent and the user's default keys.
    pub key: Option<PathBuf>,
    /// Where host keys are remembered (accept-new policy).
    pub known_hosts: PathBuf,
    pub connect_timeout: Duration,
    /// A bastion to go through, with its own login.
    pub jump: Option<jump::Bastion>,
}

impl SshTarget {
    pub fn destination(&self) -> String {
        format!("{}@{}", self.user, self.address)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{host}: cannot connect over SSH: {source}")]
    Connect {
        host: String,
        #[source]
        source: openssh::Error,
    },
    #[error("{host}: running `{command}` failed: {source}")]
    Command {
        host: String,
        command: String,
        #[source]
        source: openssh::Error,
    },
    #[error("{host}: `{command}` did not finish within {secs} s")]
    Timeout {
        host: String,
        command: String,
        secs: u64,
    },
    #[error("{host}: `{command}` exited with {code}: {stderr}")]
    Failed {
        host: String,
        command: String,
        code: i32,
        stderr: String,
    },
    #[error("{host}: {message}")]
    Other { host: String, message: String },
}

/// Opens the master connection to a host.
pub async fn connect(target: &SshTarget) -> Result<Session, SshError> {
    let mut b = SessionBuilder::default();
    b.user(target.user.clone())
        .port(target.port)
        .known_hosts_check(KnownHosts::Add)
        .user_known_hosts_file(&target.known_hosts)
        .connect_timeout(target.connect_timeout)
        .server_alive_interval(Duration::from_secs(5))
        .control_directory(crate::paths::runtime_dir())
        .control_persist(MASTER_IDLE)
        // The operator's ~/.ssh/config must not change where or how we connect.
        .config_file("/dev/null");
    if let Some(key) = &target.key {
        b.keyfile(key);
    }
    let jump = match &target.jump {
        Some(j) => {
            Some(
                jump::config(j, &target.known_hosts, false).map_err(|e| SshError::Other {
                    host: target.address.clone(),
                    message: format!("cannot write the jump host's ssh config: {e}"),
                })?,
            )
        }
        None => None,
    };
    if let Some(j) = &jump {
        b.config_file(&j.path).jump_hosts([jump::ALIAS]);
    }
    b.connect_mux(&target.address)
        .await
        .map_err(|source| SshError::Connect {
            host: target.address.clone(),
            source,
        })
}

/// What a remote command printed and how it exited.
#[derive(Debug, Clone)]
pub struct RemoteOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `sh -c SCRIPT`, passing a real exit 127 of the script back through a
/// marker line on stderr: the openssh crate takes 127 for "ssh could not
/// start the command" and drops the output.
fn wrap_127(script: &str) -> String {
    format!(
        "sh -c {}; r=$?; if [ $r -eq 127 ]; then printf '\\n%s\\n' {EXIT_127_MARKER} >&2; exit 1; fi; exit $r",
        quote(script)
    )
}

/// Runs a shell script on the host (`sh -c SCRIPT`), with a time limit.
/// Values interpolated into `script` must already be quoted with [`quote`].
pub async fn run_script(
    session: &Session,
    host: &str,
    script: &str,
    timeout: Duration,
) -> Result<RemoteOutput, SshError> {
    run_script_with_input(session, host, script, None, timeout).await
}

/// Like [`run_script`], feeding `input` on the command's standard input
/// (how secrets reach a remote command: never in its arguments).
pub async fn run_script_with_input(
    session: &Session,
    host: &str,
    script: &str,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<RemoteOutput, SshError> {
    run_script_streaming(session, host, script, input, timeout, &|_| {}).await
}

/// Like [`run_script_with_input`], handing every line of stdout and stderr
/// to `on_line` as it arrives (a hook's output into the host's log pane).
pub async fn run_script_streaming(
    session: &Session,
    host: &str,
    script: &str,
    input: Option<&[u8]>,
    timeout: Duration,
    on_line: &(dyn Fn(&str) + Sync),
) -> Result<RemoteOutput, SshError> {
    use tokio::io::AsyncWriteExt;
    let command_err = |source| SshError::Command {
        host: host.to_string(),
        command: script.to_string(),
        source,
    };
    let work = async {
        let mut cmd = session.raw_command(wrap_127(script));
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().await.map_err(command_err)?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin().take()) {
            stdin.write_all(data).await.ok();
            stdin.shutdown().await.ok();
        }
        let (Some(out), Some(err)) = (child.stdout().take(), child.stderr().take()) else {
            return Err(SshError::Other {
                host: host.to_string(),
                message: "no output pipes".into(),
            });
        };
        let (stdout, mut stderr) = tokio::join!(
            read_lines(out, on_line, false),
            read_lines(err, on_line, true)
        );
        let status = child.wait().await.map_err(command_err)?;
        let mut code = status.code().unwrap_or(-1);
        if let Some(rest) = stderr.strip_suffix(&format!("\n{EXIT_127_MARKER}\n")) {
            stderr = rest.to_string();
            code = 127;
        }
        Ok(RemoteOutput {
            code,
            stdout,
            stderr,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| SshError::Timeout {
            host: host.to_string(),
            command: script.to_string(),
            secs: timeout.as_secs(),
        })?
}

/// Every line of `pipe` to `on_line` (the exit-127 marker excepted, on
/// stderr) and, all together and byte for byte, as the result.
async fn read_lines<R: tokio::io::AsyncRead + Unpin>(
    pipe: R,
    on_line: &(dyn Fn(&str) + Sync),
    is_stderr: bool,
) -> String {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut reader = BufReader::new(pipe);
    let mut all = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                all.extend_from_slice(&line);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                if !(is_stderr && text == EXIT_127_MARKER) {
                    on_line(text);
                }
            }
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Like [`run_script`], but a non-zero exit is an error; returns stdout.
pub async fn run_script_ok(
    session: &Session,
    host: &str,
    script: &str,
    timeout: Duration,
) -> Result<String, SshError> {
    let out = run_script(session, host, script, timeout).await?;
    if out.code != 0 {
        return Err(SshError::Failed {
            host: host.to_string(),
            command: script.to_string(),
            code: out.code,
            stderr: out.stderr.trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// Quotes one value for a POSIX shell.
pub fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b))
    {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quote_leaves_plain_words_and_wraps_the_rest() {
        assert_eq!(quote("/dev/vdb"), "/dev/vdb");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
