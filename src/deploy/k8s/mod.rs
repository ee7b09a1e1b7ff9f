//! Deploy onto an existing Kubernetes cluster (the `k8s` topology), through
//! the Kubernetes API: the namespace, then the Secret made from the
//! generated credentials, then per component in dependency order a
//! server-side apply of its rendered manifests and a wait for its rollout
//! (its pods' logs streaming into its pane meanwhile), then a request to
//! the entry component through its Service (the API server's proxy).
//!
//! Panes are components (and `cluster` for the namespace, the Secret and
//! the verify step); the state file, `--resume`, the stop request and the
//! report work as for hosts. Server-side apply with one field manager makes
//! a second run change nothing; a step reports `changed` only when the
//! object on the server differs afterwards.

mod apply;
pub mod inspect;
mod lease;
mod logs;
mod push;
mod rollout;
mod uninstall;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kube::api::Api;
use tokio::task::JoinHandle;

use super::{CLUSTER, DeployReport, Input, Run, RunContext};
use crate::bundle::Component;
use crate::cluster::INSTALL_LABEL;
use crate::event::{Event, StepOutcome};
use crate::i18n::Msg;
use crate::plan::cluster_components;
use apply::{apply, apply_secrets, objects};
use logs::LogFollower;
use rollout::{verify, wait_rollout};

pub use apply::api_cause;
pub use uninstall::{Removed, uninstall};

/// The field manager cdwiz applies as.
pub const FIELD_MANAGER: &str = "cdwiz";
const POLL: Duration = Duration::from_secs(1);
/// How long a followed log may stay quiet before its request ends.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(3600);

/// The clients a cluster deploy needs: one for requests (bounded read
/// time) and one for followed logs (a quiet pod is not an error).
#[derive(Clone)]
pub struct Clients {
    pub api: kube::Client,
    pub logs: kube::Client,
}

impl Clients {
    /// Both clients for the answers' cluster (`base`: the profile's directory).
    pub async fn connect(
        answers: &crate::profile::Answers,
        base: &std::path::Path,
    ) -> Result<Clients, Msg> {
        use crate::cluster::connect;
        let api = connect::connect(answers, base, None)
            .await
            .map_err(|e| e.message())?;
        let logs = connect::connect(answers, base, Some(FOLLOW_TIMEOUT))
            .await
            .map_err(|e| e.message())?;
        Ok(Clients {
            api: api.client,
            logs: logs.client,
        })
    }
}

/// The pane of the push of the bundle's images into the registry.
pub const REGISTRY: &str = "registry";

/// Whether the deploy pushes the bundle's images (into the profile's
/// registry) before the first apply.
pub fn pushes(answers: &crate::profile::Answers, manifest: &crate::bundle::Manifest) -> bool {
    let t = &answers.topology;
    t.image_delivery() == crate::profile::ImageDelivery::Push
        && t.registry.is_some()
        && !manifest.images.is_empty()
}

/// Whether the deploy loads the bundle's images onto the nodes the profile
/// lists (over SSH, into their Docker engines) before the first apply.
pub fn loads_onto_nodes(
    answers: &crate::profile::Answers,
    manifest: &crate::bundle::Manifest,
) -> bool {
    answers.topology.images == Some(crate::profile::ImageDelivery::Nodes)
        && !manifest.images.is_empty()
}

/// The steps each pane will go through, in order.
pub fn planned_steps(
    answers: &crate::profile::Answers,
    manifest: &crate::bundle::Manifest,
) -> Vec<(String, Vec<String>)> {
    let mut out = vec![(
        CLUSTER.to_string(),
        vec!["namespace".to_string(), "secret".to_string()],
    )];
    if pushes(answers, manifest) {
        out.insert(0, (REGISTRY.to_string(), vec!["push".to_string()]));
    }
    if loads_onto_nodes(answers, manifest) {
        for (i, h) in answers.hosts.iter().enumerate() {
            out.insert(i, (h.address.clone(), vec!["images".to_string()]));
        }
    }
    let components = cluster_components(manifest);
    for c in super::ordered(components.iter().copied()) {
        out.push((c.name.clone(), vec!["apply".into(), "rollout".into()]));
    }
    if manifest.entry.is_some()
        && let Some((_, steps)) = out.iter_mut().find(|(p, _)| p == CLUSTER)
    {
        steps.push("verify".into());
    }
    out
}

/// The label selector of a component's pods.
fn selector(answers: &crate::profile::Answers, component: &str) -> String {
    format!(
        "app.kubernetes.io/name={component},{INSTALL_LABEL}={}",
        crate::profile::install_id(answers)
    )
}

/// Takes the run lock of the install's namespace (a Lease; the namespace
/// is created first when it does not exist yet), and keeps it renewed
/// until the returned guard is released.
pub async fn lock(
    input: &Input<'_>,
    clients: &Clients,
    me: &crate::deploy::lock::Holder,
    take_over_stale: bool,
) -> Result<(LockGuard, Option<crate::deploy::lock::Holder>), crate::deploy::lock::LockRefusal> {
    let ns = crate::plan::namespace(&input.answers.topology).to_string();
    let client = &clients.api;
    // The Lease lives in the namespace: a missing one is created bare, with
    // only the install's label; the `namespace` step then applies the rest.
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces = Api::<Namespace>::all(client.clone());
    let failed = |e: kube::Error| crate::deploy::lock::LockRefusal::Failed(api_cause(&e));
    if namespaces.get_opt(&ns).await.map_err(failed)?.is_none() {
        let bare = Namespace {
            metadata: kube::core::ObjectMeta {
                name: Some(ns.clone()),
                labels: Some(
                    [(
                        INSTALL_LABEL.to_string(),
                        crate::profile::install_id(input.answers),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        match namespaces.create(&Default::default(), &bare).await {
            Ok(_) | Err(kube::Error::Api(kube::core::ErrorResponse { code: 409, .. })) => {}
            Err(e) => return Err(failed(e)),
        }
    }
    let taken = lease::acquire(client, &ns, me, take_over_stale).await?;
    let (client, me2, ns2) = (client.clone(), me.clone(), ns.clone());
    let heartbeat = tokio::spawn(async move {
        loop {
            tokio::time::sleep(crate::deploy::lock::HEARTBEAT).await;
            lease::renew(&client, &ns2, &me2).await;
        }
    });
    Ok((
        LockGuard {
            client: clients.api.clone(),
            ns,
            run: me.run.clone(),
            heartbeat,
        },
        taken,
    ))
}

/// A held cluster lock: renewed until released.
pub struct LockGuard {
    client: kube::Client,
    ns: String,
    run: String,
    heartbeat: JoinHandle<()>,
}

impl LockGuard {
    pub async fn release(self) {
        self.heartbeat.abort();
        lease::release(&self.client, &self.ns, &self.run).await;
    }
}

/// Deploys onto the answers' cluster, the bundle's images pushed into
/// `registry` first when the answers say so.
pub async fn deploy(
    input: &Input<'_>,
    clients: &Clients,
    registry: Option<&crate::registry::Registry>,
    nodes: Option<&crate::connect::Targets>,
    ctx: &RunContext,
) -> DeployReport {
    let started = Instant::now();
    let run = Run::new(input, ctx);
    let manifest = &input.bundle.manifest;
    let planned = planned_steps(input.answers, manifest);
    run.emit(Event::DeployStarted {
        steps: planned.iter().map(|(h, s)| (h.clone(), s.len())).collect(),
    })
    .await;
    let mut images_failed = false;
    if pushes(input.answers, manifest) {
        run.step(REGISTRY, "push", || push::push_images(&run, registry))
            .await;
        images_failed = run.failed(REGISTRY);
    } else if loads_onto_nodes(input.answers, manifest) {
        // Every node at once, as the host topologies load theirs.
        let none = crate::connect::Targets::default();
        let nodes = nodes.unwrap_or(&none);
        crate::deploy::unreachable(&run, nodes, &planned).await;
        let loads = nodes
            .hosts
            .values()
            .map(|t| run.step(&t.address, "images", || crate::deploy::load_images(&run, t)));
        futures_util::future::join_all(loads).await;
        images_failed = input.answers.hosts.iter().any(|h| run.failed(&h.address));
    } else if !manifest.images.is_empty() {
        ctx.logs.log(
            CLUSTER,
            "images: not pushed (the profile says the cluster's registry has them: images: present)",
        );
    }
    let ns = crate::plan::namespace(&input.answers.topology).to_string();
    let client = &clients.api;
    run.step(CLUSTER, "namespace", || async {
        let mut changed = false;
        for o in objects(input.rendered, "namespace")? {
            changed |= apply(client, &ns, &o).await?;
        }
        Ok(changed)
    })
    .await;
    run.step(CLUSTER, "secret", || apply_secrets(input, client, registry))
        .await;

    let components = cluster_components(manifest);
    let mut up: BTreeSet<String> = BTreeSet::new();
    for c in super::ordered(components.iter().copied()) {
        let missing: Vec<&str> = c
            .depends_on
            .iter()
            .filter(|d| components.iter().any(|x| &&x.name == d) && !up.contains(*d))
            .map(String::as_str)
            .collect();
        let blocked = if images_failed {
            Some(Msg::new("deploy.skip.push-failed"))
        } else if run.failed(CLUSTER) {
            Some(Msg::new("deploy.skip.cluster-failed"))
        } else if !missing.is_empty() {
            Some(Msg::new("deploy.skip.needs").arg("names", missing.join(", ")))
        } else {
            None
        };
        if let Some(reason) = blocked
            && !ctx.cancel.is_cancelled()
        {
            for step in ["apply", "rollout"] {
                let reason = reason.clone();
                run.record(&c.name, step, StepOutcome::Skipped { reason }, 0.0)
                    .await;
            }
            continue;
        }
        if component(&run, clients, &ns, c).await {
            up.insert(c.name.clone());
        }
    }
    verify_entry(&run, client, &ns, &up).await;
    run.finish(&planned, None, started)
}

/// One component: its manifests applied, then its rollout waited for with
/// its pods' logs in its pane. True when it rolled out.
async fn component(run: &Run<'_>, clients: &Clients, ns: &str, c: &Component) -> bool {
    let input = run.input;
    let client = &clients.api;
    let objs = match objects(input.rendered, &c.name) {
        Ok(o) => o,
        Err(e) => {
            run.step(&c.name, "apply", || async { Err::<bool, _>(e) })
                .await;
            return false;
        }
    };
    let kind = workload_kind(&objs);
    let applied = run
        .step(&c.name, "apply", || async {
            let mut changed = false;
            for o in &objs {
                let what = format!(
                    "{} {}",
                    o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("?"),
                    o.metadata.name.as_deref().unwrap_or("?")
                );
                let this = apply(client, ns, o).await?;
                run.ctx.logs.log(
                    &c.name,
                    &format!("{what}: {}", if this { "applied" } else { "unchanged" }),
                );
                changed |= this;
            }
            Ok(changed)
        })
        .await;
    if !applied {
        return false;
    }
    let timeout = Duration::from_secs(u64::from(
        input
            .answers
            .topology
            .rollout_timeout
            .unwrap_or(crate::profile::DEFAULT_ROLLOUT_TIMEOUT),
    ));
    let select = selector(input.answers, &c.name);
    let follower = LogFollower::start(run, clients, ns, &c.name, select.clone());
    let ok = run
        .step(&c.name, "rollout", || {
            wait_rollout(run, client, ns, &c.name, &kind, &select, timeout)
        })
        .await;
    follower.finish(run, client, ns, &c.name, &select).await;
    ok
}

/// The kind of a component's workload among its objects.
fn workload_kind(objs: &[kube::api::DynamicObject]) -> String {
    objs.iter()
        .filter_map(|o| o.types.as_ref())
        .map(|t| t.kind.clone())
        .find(|k| k == "Deployment" || k == "StatefulSet")
        .unwrap_or_else(|| "Deployment".into())
}

/// The entry component answers through its Service (skipped when it is down).
async fn verify_entry(run: &Run<'_>, client: &kube::Client, ns: &str, up: &BTreeSet<String>) {
    let Some(entry) = crate::plan::entry(&run.input.bundle.manifest) else {
        return;
    };
    if up.contains(&entry.component) {
        run.step(CLUSTER, "verify", || {
            verify(run, client, ns, &entry.component, entry.port, &entry.verify)
        })
        .await;
    } else {
        run.record(
            CLUSTER,
            "verify",
            StepOutcome::Skipped {
                reason: Msg::new("deploy.k8s.entry-down").arg("name", &entry.component),
            },
            0.0,
        )
        .await;
    }
}
