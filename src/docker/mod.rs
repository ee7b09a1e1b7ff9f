//! Talking to Docker engines through the Docker API (bollard): the local
//! engine that hosts the sandbox, and hosts' engines reached over SSH.

pub mod archive;

use std::time::Duration;

use bollard::Docker;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::StreamExt;

/// Seconds bollard waits for one API response before giving up.
const API_TIMEOUT_SECS: u64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "no Docker engine answers at {socket}: {reason}. Install and start one \
         (on Debian/Ubuntu as root: `apt-get install -y docker.io && (systemctl start docker || dockerd &)`), \
         or run `scripts/setup-machine`"
    )]
    NoEngine { socket: String, reason: String },
    #[error("Docker API call `{call}` failed: {source}")]
    Api {
        call: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("loading {file} into the engine failed: {reason}")]
    Load { file: String, reason: String },
    #[error("command `{command}` in container {container} exited with {code}: {output}")]
    ExecFailed {
        container: String,
        command: String,
        code: i64,
        output: String,
    },
}

impl DockerError {
    pub fn api(call: impl Into<String>, source: bollard::errors::Error) -> Self {
        DockerError::Api {
            call: call.into(),
            source,
        }
    }
}

/// Connects to the engine at a unix socket and agrees on an API version both
/// sides speak (Debian's engine is 20.10, API 1.41).
pub async fn connect_unix(socket: &str) -> Result<Docker, DockerError> {
    let no_engine = |reason: String| DockerError::NoEngine {
        socket: socket.to_string(),
        reason,
    };
    let docker = Docker::connect_with_unix(socket, API_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        .map_err(|e| no_engine(e.to_string()))?;
    let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
        .await
        .map_err(|_| no_engine("no answer within 10 s".into()))?
        .map_err(|e| no_engine(e.to_string()))?;
    Ok(docker)
}

/// The engine on this machine: `$DOCKER_HOST` when it is a unix socket, else
/// `/var/run/docker.sock`.
pub async fn connect_local() -> Result<Docker, DockerError> {
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| h.starts_with("unix://"))
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
    connect_unix(&socket).await
}

/// What a command run in a container printed, and how it ended.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub code: i64,
    pub output: String,
}

/// Runs `cmd` in a running container and collects its combined output.
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
) -> Result<ExecOutput, DockerError> {
    let created = docker
        .create_exec(
            container,
            ExecConfig {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| DockerError::api(format!("exec in {container}"), e))?;
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&created.id, None::<StartExecOptions>)
        .await
        .map_err(|e| DockerError::api(format!("exec in {container}"), e))?
    {
        while let Some(chunk) = output.next().await {
            let chunk = chunk.map_err(|e| DockerError::api(format!("exec in {container}"), e))?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| DockerError::api(format!("exec in {container}"), e))?;
    Ok(ExecOutput {
        code: inspected.exit_code.unwrap_or(-1),
        output: text,
    })
}

/// Like [`exec`], but a non-zero exit is an error carrying the output.
pub async fn exec_ok(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
) -> Result<String, DockerError> {
    let out = exec(docker, container, cmd).await?;
    if out.code != 0 {
        return Err(DockerError::ExecFailed {
            container: container.to_string(),
            command: cmd.join(" "),
            code: out.code,
            output: out.output.trim().to_string(),
        });
    }
    Ok(out.output)
}

/// Loads an image archive (`docker save` format) from a file into the
/// engine, as `docker load` does.
pub async fn load_file(docker: &Docker, path: &std::path::Path) -> Result<(), DockerError> {
    let failed = |reason: String| DockerError::Load {
        file: path.display().to_string(),
        reason,
    };
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let body = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
        .filter_map(|r| async move { r.ok() });
    let mut load = docker.import_image_stream(
        bollard::query_parameters::ImportImageOptions::default(),
        body,
        None,
    );
    while let Some(item) = load.next().await {
        let info = item.map_err(|e| failed(e.to_string()))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(failed(err));
        }
    }
    Ok(())
}

/// True when the engine has an image with this reference.
pub async fn has_image(docker: &Docker, reference: &str) -> Result<bool, DockerError> {
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(DockerError::api(format!("inspect image {reference}"), e)),
    }
}

/// True for the API's "no such object" answer.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
