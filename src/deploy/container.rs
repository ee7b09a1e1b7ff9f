//! One component's container on one host, through the host's Docker API:
//! created or replaced only when its spec (image id, command, env, mounts,
//! mounted config contents, capabilities) changed; its output followed into
//! the host's log while it starts; stopped gracefully before removal (so
//! that keepalived gives its VIP back).

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, LogsOptions, RemoveContainerOptions,
    StartContainerOptions, StopContainerOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::hostlog::HostLogs;
use crate::bundle::Component;
use crate::docker::is_not_found;

pub const LABEL_SPEC: &str = "io.cdwiz.spec";
pub const LABEL_COMPONENT: &str = "io.cdwiz.component";

/// The container name of a component.
pub fn name(component: &str) -> String {
    format!("cd-{component}")
}

/// What a component's container is made of on one host.
pub struct Wanted<'a> {
    pub component: &'a Component,
    pub env: Vec<String>,
    /// `<data-dir>/cd` on the host.
    pub base: String,
    /// Contents of the mounted config files, in `component.configs` order.
    pub config_contents: Vec<&'a str>,
}

impl Wanted<'_> {
    pub(crate) fn binds(&self) -> Vec<String> {
        let c = self.component;
        let base = &self.base;
        let mut binds: Vec<String> = c
            .volumes
            .iter()
            .map(|(v, p)| format!("{base}/{v}:{p}"))
            .collect();
        binds.extend(
            c.secrets
                .iter()
                .map(|s| format!("{base}/secrets/{s}:/run/secrets/{s}:ro")),
        );
        binds.extend(
            c.configs
                .iter()
                .map(|(f, p)| format!("{base}/config/{f}:{p}:ro")),
        );
        binds
    }

    fn spec(&self, image_id: &str) -> String {
        let c = self.component;
        let mut h = Sha256::new();
        let mut parts = vec![
            image_id.to_string(),
            c.command.join("\u{1f}"),
            self.env.join("\u{1f}"),
            self.binds().join("\u{1f}"),
        ];
        // Only added when present, so that containers made before configs
        // and capabilities existed keep their spec.
        if !c.cap_add.is_empty() {
            parts.push(c.cap_add.join("\u{1f}"));
        }
        for content in &self.config_contents {
            parts.push(content.to_string());
        }
        for part in parts {
            h.update(part.as_bytes());
            h.update([0]);
        }
        format!("{:x}", h.finalize())
    }
}

/// What `c`'s container on the host `addr` (data dir `data_dir`) is made
/// of, from the rendered files: the install's and the component's env files
/// and its mounted configs.
pub fn wanted<'a>(
    rendered: &'a [crate::render::RenderedFile],
    addr: &str,
    data_dir: &str,
    c: &'a Component,
) -> Result<Wanted<'a>, crate::i18n::Msg> {
    let file = |name: &str| {
        rendered
            .iter()
            .find(|f| f.path == std::path::Path::new(addr).join(name))
            .map(|f| f.content.as_str())
    };
    let mut env = super::parse_env(file("cd.env").unwrap_or_default());
    env.extend(super::parse_env(
        file(&format!("{}.env", c.name)).unwrap_or_default(),
    ));
    let mut config_contents = Vec::new();
    for name in c.configs.keys() {
        config_contents.push(file(name).ok_or_else(|| {
            crate::i18n::Msg::new("deploy.error.config-missing").arg("name", name)
        })?);
    }
    Ok(Wanted {
        component: c,
        env,
        base: format!("{data_dir}/cd"),
        config_contents,
    })
}

/// The spec label `want` would carry on this host (its image as the host
/// has it).
pub async fn wanted_spec(docker: &Docker, want: &Wanted<'_>) -> Result<String, String> {
    let image_id = docker
        .inspect_image(&want.component.image)
        .await
        .map_err(|e| format!("image {}: {e}", want.component.image))?
        .id
        .unwrap_or_default();
    Ok(want.spec(&image_id))
}

/// Whether an existing container carries `spec`, and whether it runs.
fn spec_and_state(
    existing: &bollard::models::ContainerInspectResponse,
    spec: &str,
) -> (bool, bool) {
    let same = existing
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(LABEL_SPEC))
        .is_some_and(|s| s == spec);
    let running = existing
        .state
        .as_ref()
        .and_then(|s| s.running)
        .unwrap_or(false);
    (same, running)
}

/// Whether the host runs `want` as it is (same spec, running).
pub async fn is_current(docker: &Docker, want: &Wanted<'_>) -> Result<bool, String> {
    let spec = wanted_spec(docker, want).await?;
    match docker
        .inspect_container(&name(&want.component.name), None::<InspectContainerOptions>)
        .await
    {
        Ok(existing) => Ok(matches!(spec_and_state(&existing, &spec), (true, true))),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(format!("inspect {}: {e}", name(&want.component.name))),
    }
}

/// Whether the component's container runs on this host now.
pub async fn runs(docker: &Docker, component: &str) -> Result<bool, String> {
    let name = name(component);
    match docker
        .inspect_container(&name, None::<InspectContainerOptions>)
        .await
    {
        Ok(existing) => Ok(existing
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false)),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(format!("inspect {name}: {e}")),
    }
}

/// Stops the component's container, giving it `grace` seconds (0: at
/// once, as a power loss would); one already stopped, or none, is fine.
/// Docker marks it stopped, so its restart policy leaves it down until it
/// is started again (a deploy run does that).
pub async fn stop(docker: &Docker, component: &str, grace: i32) -> Result<(), String> {
    let name = name(component);
    let stopped = docker
        .stop_container(
            &name,
            Some(StopContainerOptions {
                t: Some(grace),
                ..Default::default()
            }),
        )
        .await;
    match stopped {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(format!("stop {name}: {e}")),
    }
}

/// Creates and starts the container, or leaves it when its spec is the
/// same and it runs; returns whether anything changed.
pub async fn ensure(docker: &Docker, want: &Wanted<'_>) -> Result<bool, String> {
    let c = want.component;
    let spec = wanted_spec(docker, want).await?;
    let name = name(&c.name);
    match docker
        .inspect_container(&name, None::<InspectContainerOptions>)
        .await
    {
        Ok(existing) => {
            let (same, running) = spec_and_state(&existing, &spec);
            if same && running {
                return Ok(false);
            }
            if same {
                docker
                    .start_container(&name, None::<StartContainerOptions>)
                    .await
                    .map_err(|e| format!("start {name}: {e}"))?;
                return Ok(true);
            }
            remove(docker, &c.name).await?;
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(format!("inspect {name}: {e}")),
    }
    let labels = [
        (LABEL_SPEC.to_string(), spec),
        (LABEL_COMPONENT.to_string(), c.name.clone()),
    ];
    let cmd = (!c.command.is_empty()).then(|| c.command.clone());
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body(want, cmd, labels.into(), true),
        )
        .await
        .map_err(|e| format!("create {name}: {e}"))?;
    docker
        .start_container(&name, None::<StartContainerOptions>)
        .await
        .map_err(|e| format!("start {name}: {e}"))?;
    Ok(true)
}

/// The container of `want`'s component: its image, environment and mounts
/// on the host's network, labelled `labels`. A service (`service`) also
/// gets the component's capabilities and is restarted unless stopped; a
/// one-off run of `cmd` gets neither.
fn body(
    want: &Wanted<'_>,
    cmd: Option<Vec<String>>,
    labels: HashMap<String, String>,
    service: bool,
) -> ContainerCreateBody {
    let c = want.component;
    ContainerCreateBody {
        image: Some(c.image.clone()),
        cmd,
        env: Some(want.env.clone()),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some("host".into()),
            binds: Some(want.binds()),
            cap_add: (service && !c.cap_add.is_empty()).then(|| c.cap_add.clone()),
            restart_policy: service.then_some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Stops (gracefully, 10 s) and removes a component's container; `Ok(false)`
/// when there was none.
pub async fn remove(docker: &Docker, component: &str) -> Result<bool, String> {
    let name = name(component);
    match docker
        .stop_container(
            &name,
            Some(StopContainerOptions {
                t: Some(10),
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => return Ok(false),
        // Already stopped (304) and the like: removal below decides.
        Err(_) => {}
    }
    match docker
        .remove_container(
            &name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(format!("remove {name}: {e}")),
    }
}

/// Follows the container's output into the host's log until the returned
/// handle is aborted (or the container stops).
pub fn follow(
    docker: Docker,
    component: &str,
    host: &str,
    logs: Arc<HostLogs>,
) -> tokio::task::JoinHandle<()> {
    follow_named(docker, &name(component), component, host, logs)
}

/// [`follow`] of the container `name`, its lines prefixed with `prefix`.
fn follow_named(
    docker: Docker,
    name: &str,
    prefix: &str,
    host: &str,
    logs: Arc<HostLogs>,
) -> tokio::task::JoinHandle<()> {
    let (name, host, prefix) = (name.to_string(), host.to_string(), prefix.to_string());
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i32 - 1)
        .unwrap_or_default();
    tokio::spawn(async move {
        let mut stream = docker.logs(
            &name,
            Some(LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                since,
                ..Default::default()
            }),
        );
        let mut partial = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            while let Some(i) = partial.find('\n') {
                let line: String = partial.drain(..=i).collect();
                logs.log(&host, &format!("[{prefix}] {}", line.trim_end()));
            }
        }
        if !partial.trim().is_empty() {
            logs.log(&host, &format!("[{prefix}] {}", partial.trim_end()));
        }
    })
}

/// Removes the container `name` whatever its state (gone already: fine).
async fn force_remove(docker: &Docker, name: &str) {
    let options = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    let _ = docker.remove_container(name, Some(options)).await;
}

/// Runs `command` once in a container of `want`'s image with its
/// environment and mounts (host network), its output into the host's log;
/// the container is removed afterwards. Returns the exit code.
pub async fn run_once(
    docker: &Docker,
    want: &Wanted<'_>,
    command: &[String],
    host: &str,
    logs: Arc<HostLogs>,
    timeout: std::time::Duration,
) -> Result<i64, String> {
    let c = want.component;
    let name = format!("{}-upgrade", name(&c.name));
    force_remove(docker, &name).await;
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body(
                want,
                Some(command.to_vec()),
                [(LABEL_COMPONENT.to_string(), format!("{}-upgrade", c.name))].into(),
                false,
            ),
        )
        .await
        .map_err(|e| format!("create {name}: {e}"))?;
    let result = async {
        docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("start {name}: {e}"))?;
        let follower = follow_named(docker.clone(), &name, &c.name, host, logs);
        let mut waits = docker.wait_container(
            &name,
            None::<bollard::query_parameters::WaitContainerOptions>,
        );
        let waited = tokio::time::timeout(timeout, waits.next()).await;
        // Let the last lines arrive before the follower stops.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        follower.abort();
        match waited {
            Err(_) => Err(format!(
                "{name} did not finish within {} s",
                timeout.as_secs()
            )),
            Ok(None) => Err(format!("{name}: no exit status")),
            Ok(Some(Ok(r))) => Ok(r.status_code),
            // A non-zero exit comes back as an error carrying the code.
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
                Ok(code)
            }
            Ok(Some(Err(e))) => Err(format!("wait {name}: {e}")),
        }
    }
    .await;
    force_remove(docker, &name).await;
    result
}
