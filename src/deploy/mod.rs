//! Deploy: the product onto the hosts, phase by phase (k0sctl-style), each
//! phase on all its hosts in parallel. Every step checks before it acts, so
//! a second run changes nothing: files are written only when their content
//! differs, images loaded only when missing, containers recreated only when
//! their spec changed.
//!
//! Not yet here (issue 9): the state file and `--resume`, the run lock,
//! hooks, data-disk formatting, keepalived, uninstall.

mod health;
pub mod secrets;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::{
    CreateContainerOptions, ImportImageOptions, InspectContainerOptions, RemoveContainerOptions,
    StartContainerOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::bundle::{Bundle, Component};
use crate::connect::{Connector, HostConn};
use crate::docker::{has_image, is_not_found};
use crate::event::{Event, EventSender};
use crate::profile::Answers;
use crate::render::{RenderedFile, placement};
use crate::ssh::docker_forward::{ForwardedDocker, forward_docker};
use crate::ssh::quote;

const LABEL_SPEC: &str = "io.cdwiz.spec";
/// Where a host remembers which installation it carries.
pub const INSTALL_RECORD: &str = "/etc/cdwiz/install.json";
const HEALTH_TIMEOUT: Duration = Duration::from_secs(180);
const CMD_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
#[error("{host}: {step}: {message}")]
pub struct DeployError {
    pub host: String,
    pub step: String,
    pub message: String,
}

fn fail(host: &str, step: &str, message: impl ToString) -> DeployError {
    DeployError {
        host: host.to_string(),
        step: step.to_string(),
        message: message.to_string(),
    }
}

/// What one step did on one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepResult {
    pub host: String,
    pub step: String,
    pub changed: bool,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct DeployReport {
    pub steps: Vec<StepResult>,
    pub secs: f64,
}

impl DeployReport {
    pub fn changed(&self) -> usize {
        self.steps.iter().filter(|s| s.changed).count()
    }
}

struct Host {
    conn: HostConn,
    docker: ForwardedDocker,
    data_dir: String,
}

async fn emit(tx: &Option<EventSender>, r: &StepResult) {
    if let Some(tx) = tx {
        let _ = tx
            .send(Event::DeployStep {
                host: r.host.clone(),
                step: r.step.clone(),
                changed: r.changed,
            })
            .await;
    }
}

/// Components in dependency order (manifest order among equals).
fn ordered(components: &[Component]) -> Vec<&Component> {
    let mut done: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    while out.len() < components.len() {
        let before = out.len();
        for c in components {
            if !done.contains(&c.name.as_str())
                && c.depends_on
                    .iter()
                    .all(|d| done.contains(&d.as_str()) || !components.iter().any(|x| &x.name == d))
            {
                done.push(&c.name);
                out.push(c);
            }
        }
        if out.len() == before {
            // A dependency cycle: keep the manifest's order for the rest.
            out.extend(
                components
                    .iter()
                    .filter(|c| !done.contains(&c.name.as_str())),
            );
            break;
        }
    }
    out
}

/// Writes `content` to `path` on the host unless it is already there
/// (content goes over stdin, never into a command line). Returns whether it
/// changed anything.
async fn put_file(
    host: &Host,
    addr: &str,
    path: &str,
    mode: &str,
    content: &str,
) -> Result<bool, DeployError> {
    let script = format!(
        "f={p}; umask 077; mkdir -p \"$(dirname \"$f\")\"; t=\"$f.cdwiz-new\"; cat > \"$t\"; \
         if [ -f \"$f\" ] && cmp -s \"$t\" \"$f\"; then rm -f \"$t\"; echo same; \
         else chmod {mode} \"$t\" && mv \"$t\" \"$f\" && echo changed; fi",
        p = quote(path)
    );
    let out = host
        .conn
        .run_with_input(&script, Some(content.as_bytes()), CMD_TIMEOUT)
        .await
        .map_err(|e| fail(addr, "configs", e))?;
    if out.code != 0 {
        return Err(fail(
            addr,
            "configs",
            format!("writing {path}: {}", out.stderr.trim()),
        ));
    }
    Ok(out.stdout.trim() == "changed")
}

fn parse_env(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && l.contains('='))
        .map(str::to_string)
        .collect()
}

/// Deploys the bundle's components onto the answers' hosts.
pub async fn deploy(
    answers: &Answers,
    bundle: &Bundle,
    rendered: &[RenderedFile],
    connector: Arc<Connector>,
    generated: &BTreeMap<String, String>,
    tx: Option<EventSender>,
) -> Result<DeployReport, DeployError> {
    let started = Instant::now();
    let mut report = DeployReport::default();
    let manifest = &bundle.manifest;
    let placed: BTreeMap<String, Vec<String>> = manifest
        .components
        .iter()
        .map(|c| (c.name.clone(), placement(answers, c)))
        .collect();

    // Phase connect: a root shell and the Docker engine of every host.
    connector
        .prepare()
        .await
        .map_err(|e| fail("*", "connect", e))?;
    let mut hosts: HashMap<String, Arc<Host>> = HashMap::new();
    let connects = answers.hosts.iter().map(|h| {
        let connector = connector.clone();
        let (addr, data_dir) = (
            h.address.clone(),
            h.data_dir.trim_end_matches('/').to_string(),
        );
        async move {
            let conn = connector
                .connect(&addr)
                .await
                .map_err(|e| fail(&addr, "connect", e))?;
            let local = crate::paths::runtime_dir().join(format!(
                "cdwiz-{}-{}.sock",
                std::process::id(),
                addr
            ));
            let docker = forward_docker(&conn.session, &addr, local)
                .await
                .map_err(|e| fail(&addr, "runtime", e))?;
            Ok::<_, DeployError>((
                addr,
                Host {
                    conn,
                    docker,
                    data_dir,
                },
            ))
        }
    });
    for r in futures_util::future::join_all(connects).await {
        let (addr, host) = r?;
        hosts.insert(addr, Arc::new(host));
    }

    // Phase prepare + images + configs, per host in parallel.
    let per_host = answers.hosts.iter().map(|h| {
        let host = hosts[&h.address].clone();
        let addr = h.address.clone();
        let here: Vec<&Component> = manifest
            .components
            .iter()
            .filter(|c| placed[&c.name].contains(&addr))
            .collect();
        let tx = tx.clone();
        async move {
            let mut steps = Vec::new();
            let base = format!("{}/cd", host.data_dir);
            // prepare: directories for volumes, secrets, configs.
            let mut dirs = vec![format!("{base}/config"), format!("{base}/secrets")];
            dirs.extend(
                here.iter()
                    .flat_map(|c| c.volumes.keys().map(|v| format!("{base}/{v}"))),
            );
            let script = format!(
                "mkdir -p {} && chmod 700 {}",
                dirs.iter().map(|d| quote(d)).collect::<Vec<_>>().join(" "),
                quote(&format!("{base}/secrets"))
            );
            let out = host
                .conn
                .run(&script, CMD_TIMEOUT)
                .await
                .map_err(|e| fail(&addr, "prepare", e))?;
            if out.code != 0 {
                return Err(fail(&addr, "prepare", out.stderr.trim()));
            }
            let mut changed = false;
            let mut names: Vec<&String> = here.iter().flat_map(|c| c.secrets.iter()).collect();
            names.sort();
            names.dedup();
            for n in names {
                let value = generated
                    .get(n)
                    .ok_or_else(|| fail(&addr, "prepare", format!("no generated secret `{n}`")))?;
                changed |=
                    put_file(&host, &addr, &format!("{base}/secrets/{n}"), "600", value).await?;
            }
            // The record the checks recognise on a later run as this install.
            let record = serde_json::json!({
                "install": secrets::install_id(answers),
                "product": manifest.product.name,
                "version": manifest.product.version,
                "ports": manifest.ports(),
            });
            changed |=
                put_file(&host, &addr, INSTALL_RECORD, "644", &format!("{record}\n")).await?;
            let r = StepResult {
                host: addr.clone(),
                step: "prepare".into(),
                changed,
            };
            emit(&tx, &r).await;
            steps.push(r);

            // images: load an archive only when one of its images is missing.
            let mut changed = false;
            for image in &manifest.images {
                let mut missing = false;
                for reference in &image.references {
                    if !has_image(&host.docker.docker, reference)
                        .await
                        .map_err(|e| fail(&addr, "images", e))?
                    {
                        missing = true;
                    }
                }
                if missing {
                    let file = tokio::fs::File::open(bundle.dir.join(&image.file))
                        .await
                        .map_err(|e| {
                            fail(&addr, "images", format!("{}: {e}", image.file.display()))
                        })?;
                    let body = tokio_util::io::ReaderStream::new(file)
                        .filter_map(|r| async move { r.ok() });
                    let mut load = host.docker.docker.import_image_stream(
                        ImportImageOptions::default(),
                        body,
                        None,
                    );
                    while let Some(item) = load.next().await {
                        let info = item.map_err(|e| fail(&addr, "images", e))?;
                        if let Some(err) = info.error_detail.and_then(|d| d.message) {
                            return Err(fail(&addr, "images", err));
                        }
                    }
                    changed = true;
                }
            }
            let r = StepResult {
                host: addr.clone(),
                step: "images".into(),
                changed,
            };
            emit(&tx, &r).await;
            steps.push(r);
            Ok::<_, DeployError>(steps)
        }
    });
    for r in futures_util::future::join_all(per_host).await {
        report.steps.extend(r?);
    }
    // configs: the rendered files of each host.
    let mut changed_by_host: BTreeMap<String, bool> = BTreeMap::new();
    for f in rendered {
        let mut parts = f.path.components();
        let Some(first) = parts.next() else { continue };
        let addr = first.as_os_str().to_string_lossy().to_string();
        let Some(host) = hosts.get(&addr) else {
            continue;
        };
        let rel = parts.as_path().display().to_string();
        let changed = put_file(
            host,
            &addr,
            &format!("{}/cd/config/{rel}", host.data_dir),
            "644",
            &f.content,
        )
        .await?;
        *changed_by_host.entry(addr).or_default() |= changed;
    }
    for (addr, changed) in changed_by_host {
        let r = StepResult {
            host: addr,
            step: "configs".into(),
            changed,
        };
        emit(&tx, &r).await;
        report.steps.push(r);
    }

    // components, in dependency order across hosts; each healthy before the next.
    for c in ordered(&manifest.components) {
        let runs = placed[&c.name].iter().map(|addr| {
            let host = hosts[addr].clone();
            let rendered_env = |name: &str| {
                rendered
                    .iter()
                    .find(|f| f.path == Path::new(addr).join(name))
                    .map(|f| parse_env(&f.content))
                    .unwrap_or_default()
            };
            let mut env = rendered_env("cd.env");
            env.extend(rendered_env(&format!("{}.env", c.name)));
            let tx = tx.clone();
            async move {
                let changed = ensure_container(&host, addr, c, env).await?;
                if let Some(h) = &c.health {
                    health::wait(addr, h, HEALTH_TIMEOUT)
                        .await
                        .map_err(|e| fail(addr, &format!("component {}", c.name), e))?;
                }
                let r = StepResult {
                    host: addr.clone(),
                    step: format!("component {}", c.name),
                    changed,
                };
                emit(&tx, &r).await;
                Ok::<_, DeployError>(r)
            }
        });
        for r in futures_util::future::join_all(runs).await {
            report.steps.push(r?);
        }
    }
    for (_, host) in hosts {
        if let Ok(h) = Arc::try_unwrap(host) {
            drop(h.docker);
            h.conn.close().await;
        }
    }
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Creates the component's container, or leaves it when its spec is the
/// same; returns whether anything changed.
async fn ensure_container(
    host: &Host,
    addr: &str,
    c: &Component,
    env: Vec<String>,
) -> Result<bool, DeployError> {
    let step = format!("component {}", c.name);
    let docker: &Docker = &host.docker.docker;
    let image_id = docker
        .inspect_image(&c.image)
        .await
        .map_err(|e| fail(addr, &step, format!("image {}: {e}", c.image)))?
        .id
        .unwrap_or_default();
    let base = format!("{}/cd", host.data_dir);
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
    let mut h = Sha256::new();
    for part in [
        &image_id,
        &c.command.join("\u{1f}"),
        &env.join("\u{1f}"),
        &binds.join("\u{1f}"),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let spec = format!("{:x}", h.finalize());
    let name = format!("cd-{}", c.name);
    match docker
        .inspect_container(&name, None::<InspectContainerOptions>)
        .await
    {
        Ok(existing) => {
            let same = existing
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(LABEL_SPEC))
                == Some(&spec);
            let running = existing.state.and_then(|s| s.running).unwrap_or(false);
            if same && running {
                return Ok(false);
            }
            if same {
                docker
                    .start_container(&name, None::<StartContainerOptions>)
                    .await
                    .map_err(|e| fail(addr, &step, e))?;
                return Ok(true);
            }
            docker
                .remove_container(
                    &name,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await
                .map_err(|e| fail(addr, &step, e))?;
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(fail(addr, &step, e)),
    }
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(c.image.clone()),
                cmd: (!c.command.is_empty()).then(|| c.command.clone()),
                env: Some(env),
                labels: Some(HashMap::from([
                    (LABEL_SPEC.to_string(), spec),
                    ("io.cdwiz.component".to_string(), c.name.clone()),
                ])),
                host_config: Some(HostConfig {
                    network_mode: Some("host".into()),
                    binds: Some(binds),
                    restart_policy: Some(RestartPolicy {
                        name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                        maximum_retry_count: None,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| fail(addr, &step, e))?;
    docker
        .start_container(&name, None::<StartContainerOptions>)
        .await
        .map_err(|e| fail(addr, &step, e))?;
    Ok(true)
}

/// What uninstall did on one host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UninstallResult {
    pub host: String,
    pub containers_removed: usize,
    pub files_removed: bool,
    pub data_removed: bool,
    /// Why the host was left as it was (it could not be reached).
    pub skipped: Option<String>,
}

/// Removes the installation from every host: containers (in reverse
/// dependency order), configs, secrets and the install record; the data
/// only with `purge`. Idempotent; a host that cannot be reached is reported
/// and the others are still cleaned.
pub async fn uninstall(
    answers: &Answers,
    manifest: &crate::bundle::Manifest,
    connector: Arc<Connector>,
    purge: bool,
) -> Vec<UninstallResult> {
    let _ = connector.prepare().await;
    let mut reverse: Vec<String> = ordered(&manifest.components)
        .into_iter()
        .map(|c| c.name.clone())
        .collect();
    reverse.reverse();
    let runs = answers.hosts.iter().map(|h| {
        let connector = connector.clone();
        let reverse = reverse.clone();
        let (addr, data_dir) = (h.address.clone(), h.data_dir.trim_end_matches('/').to_string());
        async move {
            let mut result = UninstallResult {
                host: addr.clone(),
                containers_removed: 0,
                files_removed: false,
                data_removed: false,
                skipped: None,
            };
            let conn = match connector.connect(&addr).await {
                Ok(c) => c,
                Err(e) => {
                    result.skipped = Some(e.to_string());
                    return result;
                }
            };
            let local = crate::paths::runtime_dir()
                .join(format!("cdwiz-{}-{}.sock", std::process::id(), addr));
            match forward_docker(&conn.session, &addr, local).await {
                Ok(fwd) => {
                    for name in &reverse {
                        let removed = fwd
                            .docker
                            .remove_container(
                                &format!("cd-{name}"),
                                Some(RemoveContainerOptions {
                                    force: true,
                                    ..Default::default()
                                }),
                            )
                            .await;
                        if removed.is_ok() {
                            result.containers_removed += 1;
                        }
                    }
                }
                Err(e) => result.skipped = Some(e.to_string()),
            }
            let base = format!("{data_dir}/cd");
            let mut script = format!(
                "removed=no; for p in {c} {s} {r}; do if [ -e \"$p\" ]; then rm -rf \"$p\"; removed=yes; fi; done; echo $removed",
                c = quote(&format!("{base}/config")),
                s = quote(&format!("{base}/secrets")),
                r = quote(INSTALL_RECORD),
            );
            if purge {
                script = format!(
                    "{script}; if [ -d {b} ]; then rm -rf {b}; echo purged; fi",
                    b = quote(&base)
                );
            }
            if let Ok(out) = conn.run(&script, CMD_TIMEOUT).await {
                result.files_removed = out.stdout.lines().next() == Some("yes");
                result.data_removed = out.stdout.contains("purged");
            }
            conn.close().await;
            result
        }
    });
    futures_util::future::join_all(runs).await
}
