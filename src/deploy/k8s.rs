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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind, ObjectMeta};
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::{CLUSTER, DeployReport, Input, Run, RunContext, StepError};
use crate::bundle::Component;
use crate::cluster::{INSTALL_LABEL, root_cause};
use crate::event::{Event, StepOutcome};
use crate::i18n::Msg;
use crate::render::cluster_components;

/// The field manager cdwiz applies as.
pub const FIELD_MANAGER: &str = "cdwiz";
/// Seconds a component may take to become ready, unless the answers say.
pub const ROLLOUT_TIMEOUT: u32 = 300;
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_secs(1);
/// How long a followed log may stay quiet before its request is renewed.
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

/// The steps each pane will go through, in order.
pub fn planned_steps(input_manifest: &crate::bundle::Manifest) -> Vec<(String, Vec<String>)> {
    let mut out = vec![(
        CLUSTER.to_string(),
        vec!["namespace".to_string(), "secret".to_string()],
    )];
    let components = cluster_components(input_manifest);
    for c in ordered(&components) {
        out.push((c.name.clone(), vec!["apply".into(), "rollout".into()]));
    }
    if input_manifest.entry.is_some() {
        out[0].1.push("verify".into());
    }
    out
}

fn ordered<'a>(components: &[&'a Component]) -> Vec<&'a Component> {
    let owned: Vec<Component> = components.iter().map(|c| (*c).clone()).collect();
    super::ordered(&owned)
        .into_iter()
        .filter_map(|c| components.iter().find(|x| x.name == c.name).copied())
        .collect()
}

/// The namespace of the answers.
fn namespace(input: &Input<'_>) -> String {
    input.answers.topology.namespace.clone().unwrap_or_default()
}

/// The objects of one rendered file (`k8s/<name>.yaml`), in file order.
fn objects(input: &Input<'_>, name: &str) -> Result<Vec<DynamicObject>, StepError> {
    let path = format!("k8s/{name}.yaml");
    let file = input
        .rendered
        .iter()
        .find(|f| f.path.to_str() == Some(path.as_str()))
        .ok_or_else(|| Msg::new("deploy.k8s.not-rendered").arg("file", &path))?;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&file.content) {
        let value = serde_yaml::Value::deserialize(doc).map_err(|e| {
            Msg::new("deploy.k8s.bad-manifest")
                .arg("file", &path)
                .arg("error", e)
        })?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_yaml::from_value(value).map_err(|e| {
            Msg::new("deploy.k8s.bad-manifest")
                .arg("file", &path)
                .arg("error", e)
        })?;
        out.push(obj);
    }
    Ok(out)
}

/// What of an object the server may change on its own or per request:
/// left out when comparing before and after an apply.
fn comparable(obj: &DynamicObject) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(Value::Object(meta)) = o.get_mut("metadata") {
            for k in ["resourceVersion", "managedFields", "generation"] {
                meta.remove(k);
            }
        }
    }
    v
}

/// Server-side applies one object; whether the server's copy changed.
async fn apply(client: &kube::Client, ns: &str, obj: &DynamicObject) -> Result<bool, StepError> {
    let types = obj.types.clone().unwrap_or_default();
    let gvk = GroupVersionKind::try_from(&types)
        .map_err(|e| Msg::new("deploy.k8s.bad-object").arg("error", e))?;
    let ar = ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = if types.kind == "Namespace" {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), ns, &ar)
    };
    let name = obj.metadata.name.clone().unwrap_or_default();
    let what = format!("{} {name}", types.kind);
    let before = api
        .get_opt(&name)
        .await
        .map_err(|e| api_error("get", &what, &e))?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let after = api
        .patch(&name, &params, &Patch::Apply(obj))
        .await
        .map_err(|e| api_error("apply", &what, &e))?;
    Ok(before.map(|b| comparable(&b)) != Some(comparable(&after)))
}

fn api_error(verb: &str, what: &str, e: &kube::Error) -> StepError {
    Msg::new("deploy.k8s.api")
        .arg("verb", verb)
        .arg("what", what)
        .arg("error", api_cause(e))
        .into()
}

/// The API server's own words for a refused request (its message and HTTP
/// code), or the transport's innermost error.
pub fn api_cause(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(r) => format!("{} (HTTP {})", r.message, r.code),
        other => root_cause(other),
    }
}

fn labels(input: &Input<'_>) -> BTreeMap<String, String> {
    let product = &input.bundle.manifest.product;
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".into(), "cdwiz".into()),
        ("app.kubernetes.io/part-of".into(), product.name.clone()),
        (
            INSTALL_LABEL.into(),
            crate::deploy::secrets::install_id(input.answers),
        ),
    ])
}

/// The Secret the workloads mount (`<product>-secrets`), from the
/// generated credentials.
async fn apply_secret(input: &Input<'_>, client: &kube::Client) -> Result<bool, StepError> {
    let ns = namespace(input);
    let name = format!("{}-secrets", input.bundle.manifest.product.name);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels(input)),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            input
                .generated
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let what = format!("Secret {name}");
    let before = api
        .get_opt(&name)
        .await
        .map_err(|e| api_error("get", &what, &e))?;
    let after = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .map_err(|e| api_error("apply", &what, &e))?;
    Ok(before.map(|b| b.data) != Some(after.data))
}

/// How far a workload's rollout is.
#[derive(Debug, Default)]
struct Progress {
    want: i32,
    ready: i32,
    updated: i32,
    observed: bool,
}

impl Progress {
    fn done(&self) -> bool {
        self.observed && self.ready >= self.want && self.updated >= self.want
    }
}

async fn progress(
    client: &kube::Client,
    ns: &str,
    kind: &str,
    name: &str,
) -> Result<Progress, kube::Error> {
    if kind == "StatefulSet" {
        let s = Api::<StatefulSet>::namespaced(client.clone(), ns)
            .get(name)
            .await?;
        let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let generation = s.metadata.generation.unwrap_or(0);
        let st = s.status.unwrap_or_default();
        Ok(Progress {
            want,
            ready: st.ready_replicas.unwrap_or(0),
            updated: st.updated_replicas.unwrap_or(0),
            observed: st.observed_generation.unwrap_or(0) >= generation && generation > 0,
        })
    } else {
        let d = Api::<Deployment>::namespaced(client.clone(), ns)
            .get(name)
            .await?;
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let generation = d.metadata.generation.unwrap_or(0);
        let st = d.status.unwrap_or_default();
        Ok(Progress {
            want,
            ready: st
                .available_replicas
                .unwrap_or(0)
                .min(st.ready_replicas.unwrap_or(0)),
            updated: st.updated_replicas.unwrap_or(0),
            observed: st.observed_generation.unwrap_or(0) >= generation && generation > 0,
        })
    }
}

/// Why the pods of a component are not ready, one phrase per pod.
fn pod_reasons(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .map(|p| {
            let name = p.metadata.name.clone().unwrap_or_default();
            let status = p.status.clone().unwrap_or_default();
            let phase = status.phase.clone().unwrap_or_else(|| "Unknown".into());
            let unscheduled = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .and_then(|c| c.message.clone());
            let waiting = status.container_statuses.iter().flatten().find_map(|c| {
                let w = c.state.as_ref()?.waiting.as_ref()?;
                Some(match &w.message {
                    Some(m) => format!("{}: {m}", w.reason.clone().unwrap_or_default()),
                    None => w.reason.clone().unwrap_or_default(),
                })
            });
            // A container that keeps exiting: how often, and how it last ended.
            let restarts = status.container_statuses.iter().flatten().find_map(|c| {
                if c.restart_count == 0 {
                    return None;
                }
                let last = c.last_state.as_ref()?.terminated.as_ref()?;
                Some(format!(
                    "restarted {} times, last exit code {} ({})",
                    c.restart_count,
                    last.exit_code,
                    last.reason.clone().unwrap_or_default()
                ))
            });
            let why: Vec<String> = [unscheduled.or(waiting), restarts]
                .into_iter()
                .flatten()
                .collect();
            if why.is_empty() {
                format!("{name} {phase}")
            } else {
                format!("{name} {phase} ({})", why.join("; "))
            }
        })
        .collect()
}

fn selector(input: &Input<'_>, component: &str) -> String {
    format!(
        "app.kubernetes.io/name={component},{INSTALL_LABEL}={}",
        crate::deploy::secrets::install_id(input.answers)
    )
}

/// Follows the logs of the component's pods into its pane while its
/// rollout is waited for: every pod that has started is followed once.
struct LogFollower {
    task: JoinHandle<()>,
    stop: tokio_util::sync::CancellationToken,
    /// Lines logged so far, per pod followed.
    followed: Arc<Mutex<BTreeMap<String, usize>>>,
}

fn started(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.state
                    .as_ref()
                    .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
            })
        })
}

impl LogFollower {
    fn start(run: &Run<'_>, clients: &Clients, ns: &str, component: &str, select: String) -> Self {
        let logs = run.ctx.logs.clone();
        let (client, follow_client) = (clients.api.clone(), clients.logs.clone());
        let (ns, component) = (ns.to_string(), component.to_string());
        let followed: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let seen = followed.clone();
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let pods: Api<Pod> = Api::namespaced(client, &ns);
            let follow: Api<Pod> = Api::namespaced(follow_client, &ns);
            // Dropped (aborted) with this task: the followers end with it.
            let mut tasks = tokio::task::JoinSet::new();
            loop {
                if let Ok(list) = pods.list(&ListParams::default().labels(&select)).await {
                    for p in list.items.iter().filter(|p| started(p)) {
                        let Some(name) = p.metadata.name.clone() else {
                            continue;
                        };
                        {
                            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                            if seen.contains_key(&name) {
                                continue;
                            }
                            seen.insert(name.clone(), 0);
                        }
                        let (follow, logs, component, seen) = (
                            follow.clone(),
                            logs.clone(),
                            component.clone(),
                            seen.clone(),
                        );
                        tasks.spawn(async move {
                            let params = LogParams {
                                container: Some(component.clone()),
                                follow: true,
                                ..Default::default()
                            };
                            let Ok(stream) = follow.log_stream(&name, &params).await else {
                                return;
                            };
                            let mut lines = stream.lines();
                            while let Some(Ok(line)) = lines.next().await {
                                logs.log(&component, &format!("[{name}] {line}"));
                                if let Some(n) = seen
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .get_mut(&name)
                                {
                                    *n += 1;
                                }
                            }
                        });
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stopped.cancelled() => {
                        // Every follower ended before the counts are read.
                        tasks.shutdown().await;
                        return;
                    }
                }
            }
        });
        LogFollower {
            task,
            stop,
            followed,
        }
    }

    /// Stops following, then fetches each started pod's log once more and
    /// logs what the followers had not got to (a pod that started too late
    /// to be followed, or lines still in flight), so a quick rollout still
    /// shows its pods' output.
    async fn finish(
        self,
        run: &Run<'_>,
        client: &kube::Client,
        ns: &str,
        component: &str,
        select: &str,
    ) {
        self.stop.cancel();
        let _ = self.task.await;
        let followed = self
            .followed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let Ok(list) = pods.list(&ListParams::default().labels(select)).await else {
            return;
        };
        for p in list.items.iter().filter(|p| started(p)) {
            let Some(name) = p.metadata.name.as_deref() else {
                continue;
            };
            let params = LogParams {
                container: Some(component.to_string()),
                limit_bytes: Some(1 << 20),
                ..Default::default()
            };
            if let Ok(text) = pods.logs(name, &params).await {
                let done = followed.get(name).copied().unwrap_or(0);
                for line in text.lines().skip(done) {
                    run.ctx.logs.log(component, &format!("[{name}] {line}"));
                }
            }
        }
    }
}

/// The newest Warning event about a pod (why its sandbox or volume
/// could not be made, say), if any.
async fn last_warning(client: &kube::Client, ns: &str, pod: &Pod) -> Option<String> {
    use k8s_openapi::api::core::v1::Event as KubeEvent;
    let name = pod.metadata.name.as_deref()?;
    let events: Api<KubeEvent> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!("involvedObject.name={name},type=Warning"));
    let list = events.list(&lp).await.ok()?;
    list.items
        .into_iter()
        .max_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0))
        .and_then(|e| e.message)
}

/// Waits until the component's workload is rolled out: every replica
/// updated and ready. Whether it had to wait (a rollout happened).
async fn wait_rollout(
    run: &Run<'_>,
    client: &kube::Client,
    ns: &str,
    component: &str,
    kind: &str,
    select: &str,
    timeout: Duration,
) -> Result<bool, StepError> {
    let started = Instant::now();
    let mut last = String::new();
    let mut waited = false;
    loop {
        let p = progress(client, ns, kind, component)
            .await
            .map_err(|e| api_error("get", &format!("{kind} {component}"), &e))?;
        let now = format!("{} of {} ready, {} updated", p.ready, p.want, p.updated);
        if now != last {
            run.ctx
                .logs
                .log(component, &format!("{kind} {component}: {now}"));
            last = now;
        }
        if p.done() {
            return Ok(waited);
        }
        waited = true;
        if run.ctx.cancel.is_cancelled() {
            return Err(Msg::new("deploy.k8s.rollout-stopped").into());
        }
        if started.elapsed() >= timeout {
            let pods = Api::<Pod>::namespaced(client.clone(), ns)
                .list(&ListParams::default().labels(select))
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            let mut reasons = pod_reasons(&pods);
            for (reason, p) in reasons.iter_mut().zip(&pods) {
                if let Some(warning) = last_warning(client, ns, p).await {
                    reason.push_str(&format!(": {warning}"));
                }
            }
            let mut msg = Msg::new("deploy.k8s.rollout-timeout")
                .arg("kind", kind)
                .arg("name", component)
                .arg("secs", timeout.as_secs())
                .arg("ready", p.ready)
                .arg("want", p.want);
            msg = if reasons.is_empty() {
                msg.arg("pods", Msg::new("deploy.k8s.no-pods").render("en"))
            } else {
                msg.arg("pods", reasons.join("; "))
            };
            for r in &reasons {
                run.ctx.logs.log(component, &format!("pod {r}"));
            }
            return Err(msg.into());
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = run.ctx.cancel.cancelled() => {}
        }
    }
}

/// Asks the entry component through its Service (the API server's proxy)
/// until it answers 2xx.
async fn verify(
    run: &Run<'_>,
    client: &kube::Client,
    ns: &str,
    service: &str,
    port: u16,
    path: &str,
) -> Result<bool, StepError> {
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let uri = format!("/api/v1/namespaces/{ns}/services/{service}:{port}/proxy{path}");
    run.ctx.logs.log(CLUSTER, &format!("GET {uri}"));
    let started = Instant::now();
    loop {
        let request = http::Request::get(&uri)
            .body(Vec::new())
            .map_err(|e| Msg::from(e.to_string()))?;
        let error = match client.request_text(request).await {
            Ok(_) => {
                run.ctx
                    .logs
                    .log(CLUSTER, &format!("service {service}:{port}{path} answers"));
                return Ok(false);
            }
            Err(e) => api_cause(&e),
        };
        if started.elapsed() >= VERIFY_TIMEOUT || run.ctx.cancel.is_cancelled() {
            return Err(Msg::new("deploy.k8s.verify")
                .arg("service", format!("{service}:{port}{path}"))
                .arg("ns", ns)
                .arg("error", error)
                .into());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Takes the run lock of the install's namespace (a Lease; the namespace
/// is created first when it does not exist yet), and keeps it renewed
/// until the returned guard is released.
pub async fn lock(
    input: &Input<'_>,
    clients: &Clients,
    me: &super::lock::Holder,
    take_over_stale: bool,
) -> Result<(LockGuard, Option<super::lock::Holder>), super::lock::LockRefusal> {
    let ns = namespace(input);
    let client = &clients.api;
    let exists = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .get_opt(&ns)
        .await
        .map_err(|e| super::lock::LockRefusal::Failed(api_cause(&e)))?
        .is_some();
    if !exists {
        let objs = objects(input, "namespace")
            .map_err(|e| super::lock::LockRefusal::Failed(e.message.render("en")))?;
        for o in objs {
            apply(client, &ns, &o)
                .await
                .map_err(|e| super::lock::LockRefusal::Failed(e.message.render("en")))?;
        }
    }
    let taken = super::lease::acquire(client, &ns, me, take_over_stale).await?;
    let (client, me2, ns2) = (client.clone(), me.clone(), ns.clone());
    let heartbeat = tokio::spawn(async move {
        loop {
            tokio::time::sleep(super::lock::HEARTBEAT).await;
            super::lease::renew(&client, &ns2, &me2).await;
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
        super::lease::release(&self.client, &self.ns, &self.run).await;
    }
}

/// Deploys onto the answers' cluster.
pub async fn deploy(input: &Input<'_>, clients: &Clients, ctx: &RunContext) -> DeployReport {
    let started = Instant::now();
    let run = Run::new(input, ctx);
    let manifest = &input.bundle.manifest;
    let planned = planned_steps(manifest);
    run.emit(Event::DeployStarted {
        steps: planned.iter().map(|(h, s)| (h.clone(), s.len())).collect(),
    })
    .await;
    let ns = namespace(input);
    let client = &clients.api;
    run.step(CLUSTER, "namespace", || async {
        let mut changed = false;
        for o in objects(input, "namespace")? {
            changed |= apply(client, &ns, &o).await?;
        }
        Ok(changed)
    })
    .await;
    run.step(CLUSTER, "secret", || apply_secret(input, client))
        .await;

    let timeout = Duration::from_secs(u64::from(
        input
            .answers
            .topology
            .rollout_timeout
            .unwrap_or(ROLLOUT_TIMEOUT),
    ));
    let components = cluster_components(manifest);
    let mut up: BTreeSet<String> = BTreeSet::new();
    for c in ordered(&components) {
        let missing: Vec<&str> = c
            .depends_on
            .iter()
            .filter(|d| components.iter().any(|x| &&x.name == d) && !up.contains(*d))
            .map(String::as_str)
            .collect();
        let blocked = if run.failed(CLUSTER) {
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
        let objs = match objects(input, &c.name) {
            Ok(o) => o,
            Err(e) => {
                run.step(&c.name, "apply", || async { Err::<bool, _>(e) })
                    .await;
                continue;
            }
        };
        let kind = objs
            .iter()
            .filter_map(|o| o.types.as_ref())
            .map(|t| t.kind.clone())
            .find(|k| k == "Deployment" || k == "StatefulSet")
            .unwrap_or_else(|| "Deployment".into());
        let applied = run
            .step(&c.name, "apply", || async {
                let mut changed = false;
                for o in &objs {
                    let what = format!(
                        "{} {}",
                        o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("?"),
                        o.metadata.name.as_deref().unwrap_or("?")
                    );
                    let this = apply(client, &ns, o).await?;
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
            continue;
        }
        let select = selector(input, &c.name);
        let follower = LogFollower::start(&run, clients, &ns, &c.name, select.clone());
        let ok = run
            .step(&c.name, "rollout", || {
                wait_rollout(&run, client, &ns, &c.name, &kind, &select, timeout)
            })
            .await;
        follower.finish(&run, client, &ns, &c.name, &select).await;
        if ok {
            up.insert(c.name.clone());
        }
    }

    if let Some(entry) = &manifest.entry {
        let port = entry.port.or_else(|| {
            components
                .iter()
                .find(|c| c.name == entry.component)
                .and_then(|c| c.ports.first().copied())
        });
        match port {
            Some(port) if up.contains(&entry.component) => {
                let path = entry.verify.clone().unwrap_or_else(|| "/".into());
                run.step(CLUSTER, "verify", || {
                    verify(&run, client, &ns, &entry.component, port, &path)
                })
                .await;
            }
            _ => {
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
    }
    run.finish(&planned, None, started)
}

/// What an uninstall removed from the cluster: kind → names.
pub type Removed = BTreeMap<String, Vec<String>>;

/// Deletes what this installation created in its namespace (found by the
/// install label): workloads, Services, ConfigMaps, the Secret; with
/// `purge`, also the volume claims (the data) and the namespace itself
/// when cdwiz created it. A second uninstall finds nothing and says so.
pub async fn uninstall(
    answers: &crate::profile::Answers,
    client: &kube::Client,
    purge: bool,
) -> Result<Removed, Msg> {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Service};
    let ns = answers.topology.namespace.clone().unwrap_or_default();
    let install = crate::deploy::secrets::install_id(answers);
    let select = format!("{INSTALL_LABEL}={install}");
    let lp = ListParams::default().labels(&select);
    let dp = kube::api::DeleteParams::background();
    let mut removed = Removed::new();
    macro_rules! delete_all {
        ($ty:ty, $kind:expr) => {{
            let api: Api<$ty> = Api::namespaced(client.clone(), &ns);
            let list = api.list(&lp).await.map_err(|e| {
                Msg::new("deploy.k8s.uninstall")
                    .arg("what", $kind)
                    .arg("error", api_cause(&e))
            })?;
            for item in list.items {
                let name = item.metadata.name.clone().unwrap_or_default();
                match api.delete(&name, &dp).await {
                    Ok(_) | Err(kube::Error::Api(kube::core::ErrorResponse { code: 404, .. })) => {
                        removed.entry($kind.to_string()).or_default().push(name);
                    }
                    Err(e) => {
                        return Err(Msg::new("deploy.k8s.uninstall")
                            .arg("what", format!("{} {name}", $kind))
                            .arg("error", api_cause(&e)));
                    }
                }
            }
        }};
    }
    delete_all!(Deployment, "Deployment");
    delete_all!(StatefulSet, "StatefulSet");
    delete_all!(Service, "Service");
    delete_all!(ConfigMap, "ConfigMap");
    delete_all!(Secret, "Secret");
    if purge {
        delete_all!(PersistentVolumeClaim, "PersistentVolumeClaim");
        let api: Api<Namespace> = Api::all(client.clone());
        let ours = api
            .get_opt(&ns)
            .await
            .map_err(|e| {
                Msg::new("deploy.k8s.uninstall")
                    .arg("what", "Namespace")
                    .arg("error", api_cause(&e))
            })?
            .and_then(|n| n.metadata.labels)
            .is_some_and(|l| l.get(INSTALL_LABEL) == Some(&install));
        if ours {
            api.delete(&ns, &dp).await.map_err(|e| {
                Msg::new("deploy.k8s.uninstall")
                    .arg("what", "Namespace")
                    .arg("error", api_cause(&e))
            })?;
            removed
                .entry("Namespace".into())
                .or_default()
                .push(ns.clone());
        }
    }
    Ok(removed)
}
