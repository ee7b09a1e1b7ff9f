//! A host's Docker engine reached through its SSH master connection: the
//! remote `/var/run/docker.sock` forwarded to a local unix socket that
//! bollard talks to. The engine is never exposed on the network.

use std::path::{Path, PathBuf};

use bollard::Docker;
use openssh::{ForwardType, Session, Socket};

use super::SshError;

pub const REMOTE_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A forwarded engine; the local socket file is removed on drop.
pub struct ForwardedDocker {
    pub docker: Docker,
    local: PathBuf,
}

impl Drop for ForwardedDocker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.local);
    }
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
    let docker =
        Docker::connect_with_unix(&local.to_string_lossy(), 600, bollard::API_DEFAULT_VERSION)
            .map_err(|e| fail(format!("Docker API over the forwarded socket: {e}")))?;
    let docker = docker.negotiate_version().await.map_err(|e| {
        fail(format!(
            "the host's Docker engine does not answer on {REMOTE_DOCKER_SOCKET}: {e}"
        ))
    })?;
    Ok(ForwardedDocker { docker, local })
}
