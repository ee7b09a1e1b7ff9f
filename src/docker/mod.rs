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
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
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

/// How a command with its standard output streamed ended: its exit code
/// and the last of what it wrote to standard error.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub code: i64,
    pub bytes: u64,
    pub errors: String,
}

/// The most of a command's standard error kept for its error message.
const ERRORS_KEPT: usize = 4096;

fn keep_tail(text: &mut String, more: &[u8]) {
    text.push_str(&String::from_utf8_lossy(more));
    if text.len() > ERRORS_KEPT {
        let mut cut = text.len() - ERRORS_KEPT;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text.drain(..cut);
    }
}

/// Runs `cmd` in a running container, handing its standard output to
/// `sink` as it comes (any size, bytes as they are); standard error is
/// kept apart (its last part).
pub async fn exec_stream(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    sink: &mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send),
) -> Result<Streamed, DockerError> {
    use bollard::container::LogOutput;
    let call = || format!("exec in {container}");
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
        .map_err(|e| DockerError::api(call(), e))?;
    let (mut bytes, mut errors) = (0u64, String::new());
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&created.id, None::<StartExecOptions>)
        .await
        .map_err(|e| DockerError::api(call(), e))?
    {
        while let Some(chunk) = output.next().await {
            match chunk.map_err(|e| DockerError::api(call(), e))? {
                LogOutput::StdOut { message } => {
                    bytes += message.len() as u64;
                    sink(&message).map_err(|e| DockerError::Io {
                        what: call(),
                        source: e,
                    })?;
                }
                other => keep_tail(&mut errors, &other.into_bytes()),
            }
        }
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| DockerError::api(call(), e))?;
    Ok(Streamed {
        code: inspected.exit_code.unwrap_or(-1),
        bytes,
        errors,
    })
}

/// Copies the local `file` into `container` (created or running) as
/// `dir/<its name>`, mode 0600, streamed as it is read.
pub async fn copy_into(
    docker: &Docker,
    container: &str,
    file: &std::path::Path,
    dir: &str,
) -> Result<(), DockerError> {
    use bollard::query_parameters::UploadToContainerOptions;
    let tar = archive::one_file_stream(file)
        .await
        .map_err(|e| DockerError::Io {
            what: file.display().to_string(),
            source: e,
        })?;
    docker
        .upload_to_container(
            container,
            Some(UploadToContainerOptions {
                path: dir.to_string(),
                ..Default::default()
            }),
            bollard::body_try_stream(tar),
        )
        .await
        .map_err(|e| DockerError::api(format!("copy into {container}"), e))
}

/// Runs `cmd` once in a new container of `image` named `name`, with no
/// network, after copying the local `file` into it at `dir/<its name>`;
/// its combined output and exit code. The container is removed after,
/// whatever happened; one of the same name left by an earlier run is
/// removed first. `limit` bounds the run (the container is then killed).
pub async fn run_with_file(
    docker: &Docker,
    image: &str,
    name: &str,
    cmd: &[String],
    file: &std::path::Path,
    dir: &str,
    limit: Duration,
) -> Result<ExecOutput, DockerError> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    use bollard::query_parameters::{
        CreateContainerOptions, LogsOptions, RemoveContainerOptions, StartContainerOptions,
        WaitContainerOptions,
    };
    let call = |what: &str| format!("{what} {name}");
    let remove = || async {
        let _ = docker
            .remove_container(
                name,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
    };
    remove().await;
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.to_string()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(image.to_string()),
                cmd: Some(cmd.to_vec()),
                labels: Some([("io.cdwiz.throwaway".to_string(), "1".to_string())].into()),
                host_config: Some(HostConfig {
                    network_mode: Some("none".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| DockerError::api(call("create"), e))?;
    let ran = async {
        copy_into(docker, name, file, dir).await?;
        docker
            .start_container(name, None::<StartContainerOptions>)
            .await
            .map_err(|e| DockerError::api(call("start"), e))?;
        let mut waited = docker.wait_container(name, None::<WaitContainerOptions>);
        let code = match tokio::time::timeout(limit, waited.next()).await {
            Err(_) => -1,
            Ok(Some(Ok(w))) => w.status_code,
            // A non-zero exit comes as an error carrying its code.
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => code,
            Ok(Some(Err(e))) => return Err(DockerError::api(call("wait for"), e)),
            Ok(None) => -1,
        };
        let mut logs = docker.logs(
            name,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let mut output = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            keep_tail(&mut output, &chunk.into_bytes());
        }
        Ok(ExecOutput { code, output })
    }
    .await;
    remove().await;
    ran
}
