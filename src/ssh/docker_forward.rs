//! A host's Docker engine reached through its SSH master connection: the
//! remote `/var/run/docker.sock` forwarded to a local unix socket that
//! bollard talks to. The engine is never exposed on the network.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard::Docker;
use openssh::{ForwardType, Session, Socket};

use super::SshError;

pub const REMOTE_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A forwarded engine; the local socket file is removed on drop (and the
/// bridge's tasks, when it goes through sudo, are stopped).
pub struct ForwardedDocker {
    pub docker: Docker,
    /// The engine's version, as it answered when the API was opened.
    pub engine_version: String,
    local: PathBuf,
    bridge: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for ForwardedDocker {
    fn drop(&mut self) {
        if let Some(task) = self.bridge.take() {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.local);
    }
}

/// Removes the forwarded sockets (`cdwiz-<pid>-….sock` in `dir`) of cdwiz
/// processes that are gone (killed before they could remove their own).
pub fn sweep_stale_sockets(dir: &Path) {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.ends_with(".sock"))
            .and_then(|n| n.strip_prefix("cdwiz-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let is_socket = e.file_type().is_ok_and(|t| t.is_socket());
        if is_socket && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The engine through a command on the host that speaks the API on its
/// stdin/stdout (`sudo docker system dial-stdio`): a local unix socket whose
/// every connection starts that command over the SSH master and carries the
/// bytes both ways. `prefix` is written first (sudo's password and the
/// marker that keeps it from the command).
pub async fn bridge_docker(
    session: Arc<Session>,
    host: &str,
    local: PathBuf,
    command: String,
    prefix: Option<Vec<u8>>,
) -> Result<ForwardedDocker, SshError> {
    let _ = std::fs::remove_file(&local);
    let listener = tokio::net::UnixListener::bind(&local).map_err(|e| SshError::Other {
        host: host.to_string(),
        message: format!("cannot listen on {}: {e}", local.display()),
    })?;
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let (session, command, prefix) = (session.clone(), command.clone(), prefix.clone());
            conns.spawn(async move {
                let _ = carry(session, &command, prefix.as_deref(), stream).await;
            });
            while conns.try_join_next().is_some() {}
        }
    });
    let path = local.to_string_lossy().into_owned();
    let mut fwd = ForwardedDocker {
        docker: Docker::connect_with_unix(&path, 600, bollard::API_DEFAULT_VERSION).map_err(
            |e| SshError::Other {
                host: host.to_string(),
                message: format!("Docker API through sudo: {e}"),
            },
        )?,
        engine_version: String::new(),
        local,
        bridge: Some(task),
    };
    (fwd.docker, fwd.engine_version) =
        negotiate(&fwd.docker, &path)
            .await
            .map_err(|e| SshError::Other {
                host: host.to_string(),
                message: format!(
                    "the Docker engine does not answer through `sudo docker system dial-stdio`: {e}"
                ),
            })?;
    Ok(fwd)
}

/// Asks the engine its version once: a client speaking the API version
/// both sides know, and the engine's own version.
async fn negotiate(
    docker: &Docker,
    path: &str,
) -> Result<(Docker, String), bollard::errors::Error> {
    let v = docker.version().await?;
    let mut client = *bollard::API_DEFAULT_VERSION;
    if let Some((major, minor)) = v.api_version.as_deref().and_then(|a| a.split_once('.'))
        && let (Ok(major), Ok(minor)) = (major.parse(), minor.parse())
    {
        let server = bollard::ClientVersion {
            major_version: major,
            minor_version: minor,
        };
        if server < client {
            client = server;
        }
    }
    let docker = Docker::connect_with_unix(path, 600, &client)?;
    Ok((docker, v.version.unwrap_or_default()))
}

/// One API connection: the command's stdin and stdout joined to `stream`.
async fn carry(
    session: Arc<Session>,
    command: &str,
    prefix: Option<&[u8]>,
    stream: tokio::net::UnixStream,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut cmd = Session::to_raw_command(session, command);
    cmd.stdin(openssh::Stdio::piped())
        .stdout(openssh::Stdio::piped())
        .stderr(openssh::Stdio::null());
    let mut child = cmd.spawn().await.map_err(std::io::Error::other)?;
    let (Some(mut stdin), Some(mut stdout)) = (child.stdin().take(), child.stdout().take()) else {
        return Err(std::io::Error::other("no pipes"));
    };
    if let Some(p) = prefix {
        stdin.write_all(p).await?;
    }
    let (mut from_api, mut to_api) = stream.into_split();
    // The command's stdin is closed (dropped: a pipe has no half-close) when
    // the client is done, so that the command ends and its SSH channel is
    // given back (sshd allows only so many per connection).
    let up = async move {
        let _ = tokio::io::copy(&mut from_api, &mut stdin).await;
        drop(stdin);
    };
    let down = async move {
        let _ = tokio::io::copy(&mut stdout, &mut to_api).await;
        let _ = to_api.shutdown().await;
    };
    tokio::join!(up, down);
    let _ = child.wait().await;
    Ok(())
}

/// Forwards `host`'s Docker socket to `local` (which must not exist yet) and
/// connects to it.
pub async fn forward_docker(
    session: &Session,
    host: &str,
    local: PathBuf,
) -> Result<ForwardedDocker, SshError> {
    let _ = std::fs::remove_file(&local);
    session
        .request_port_forward(
            ForwardType::Local,
            Socket::UnixSocket {
                path: local.as_path().into(),
            },
            Socket::UnixSocket {
                path: Path::new(REMOTE_DOCKER_SOCKET).into(),
            },
        )
        .await
        .map_err(|source| SshError::Command {
            host: host.to_string(),
            command: format!("forward {REMOTE_DOCKER_SOCKET}"),
            source,
        })?;
    let fail = |message: String| {
        let _ = std::fs::remove_file(&local);
        SshError::Other {
            host: host.to_string(),
            message,
        }
    };
    let path = local.to_string_lossy().into_owned();
    let docker = Docker::connect_with_unix(&path, 600, bollard::API_DEFAULT_VERSION)
        .map_err(|e| fail(format!("Docker API over the forwarded socket: {e}")))?;
    let (docker, engine_version) = negotiate(&docker, &path).await.map_err(|e| {
        fail(format!(
            "the host's Docker engine does not answer on {REMOTE_DOCKER_SOCKET}: {e}"
        ))
    })?;
    Ok(ForwardedDocker {
        docker,
        engine_version,
        local,
        bridge: None,
    })
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    #[test]
    fn only_the_sockets_of_gone_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let socket = |name: &str| {
            let p = dir.path().join(name);
            std::os::unix::net::UnixListener::bind(&p).unwrap();
            p
        };
        // No process has pid 4294967; this one is alive.
        let gone = socket("cdwiz-4294967-0-192.0.2.11.sock");
        let alive = socket(&format!("cdwiz-{}-0-192.0.2.12.sock", std::process::id()));
        let not_ours = socket("other-4294967.sock");
        let plain = dir.path().join("cdwiz-4294967-1-192.0.2.13.sock");
        std::fs::write(&plain, "not a socket").unwrap();
        sweep_stale_sockets(dir.path());
        assert!(!gone.exists());
        assert!(alive.exists() && not_ours.exists() && plain.exists());
    }
}
