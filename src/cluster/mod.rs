//! Checks of an existing Kubernetes cluster (the `k8s` topology), through
//! the Kubernetes API with the `kube` client: the kubeconfig and context,
//! the API server's reach and version, Ready nodes with their
//! architectures and allocatable resources, a StorageClass, the namespace
//! (free, or this install's own) and the permissions the install needs.
//! Results are ordinary check results (host `None`), so reports, waivers
//! and both front ends treat them like host checks.

pub mod connect;
pub mod quantity;

use std::path::Path;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, PostParams};

use crate::text::root_cause;
pub use connect::{ConnectError, Connected, connect};

use crate::bundle::{KubernetesRange, Manifest};
use crate::catalogue::CLUSTER_CHECKS;
use crate::checks::{CheckResult, Status};
use crate::event::{Event, EventSender};
use crate::i18n::Msg;
use crate::profile::Answers;

/// The label every object of an installation carries (its install id).
pub const INSTALL_LABEL: &str = "cdwiz.io/install";

fn r(id: &'static str, status: Status, detail: Msg) -> CheckResult {
    CheckResult::new(id, None, status, detail)
}

fn m(key: &str) -> Msg {
    Msg::new(format!("check.{key}"))
}

/// A failure that leaves the rest of the checks unjudged: `out` with the
/// failure and a skip for every check after it.
fn stop(mut out: Vec<CheckResult>, failure: CheckResult) -> Vec<CheckResult> {
    let from = failure.id;
    out.push(failure);
    let start = CLUSTER_CHECKS
        .iter()
        .position(|c| *c == from)
        .map_or(CLUSTER_CHECKS.len(), |i| i + 1);
    for id in &CLUSTER_CHECKS[start..] {
        out.push(r(id, Status::Skip, m("k8s.skipped")));
    }
    out
}

/// Runs the cluster checks for the answers (`base`: the profile's
/// directory), applies the waivers, and sends each result as an event:
/// a check run like the hosts' one, with no hosts.
pub async fn run_checks(
    answers: &Answers,
    base: &Path,
    bundle: &crate::bundle::Bundle,
    registry_password: Option<&str>,
    waivers: Vec<crate::checks::Waiver>,
    tx: Option<EventSender>,
) -> crate::checks::run::CheckRun {
    let started = std::time::Instant::now();
    // The registry is asked whatever the cluster answered: it is another
    // machine, and its problems are worth knowing in the same round.
    let (mut results, registry) = tokio::join!(
        run(answers, base, &bundle.manifest),
        crate::registry::check::check(answers, base, bundle, registry_password)
    );
    results.retain(|r| r.id != registry.id);
    results.push(registry);
    crate::checks::apply_waivers(&mut results, &waivers);
    if let Some(tx) = &tx {
        for res in &results {
            let _ = tx.send(Event::CheckFinished(res.clone())).await;
        }
    }
    crate::checks::run::CheckRun {
        results,
        latency: Default::default(),
        waivers,
        hosts: Vec::new(),
        secs: started.elapsed().as_secs_f64(),
    }
}

fn connect_failure(e: &ConnectError) -> CheckResult {
    let id = CLUSTER_CHECKS
        .iter()
        .copied()
        .find(|c| *c == e.check())
        .unwrap_or("k8s.api");
    let res = r(id, Status::Fail, e.message());
    match e {
        ConnectError::Kubeconfig { .. } => res.hint(m("k8s.kubeconfig.hint")),
        ConnectError::UnknownContext { path, .. } => res.fix(format!(
            "kubectl --kubeconfig {} config get-contexts",
            path.display()
        )),
        ConnectError::NoContext { known, .. } => {
            res.hint(m("k8s.context.none-hint").arg("known", known.join(", ")))
        }
        ConnectError::Config { .. } => res,
        ConnectError::Exec { command, .. } => {
            res.hint(m("k8s.kubeconfig.exec-hint").arg("command", crate::ssh::quote(command)))
        }
        ConnectError::TokenFile { file, .. } => {
            res.hint(m("k8s.kubeconfig.token-file-hint").arg("file", file.display()))
        }
    }
}

async fn run(answers: &Answers, base: &Path, manifest: &Manifest) -> Vec<CheckResult> {
    let t = &answers.topology;
    let mut out = Vec::new();
    let (path, kubeconfig) = match connect::read(answers, base) {
        Ok(k) => k,
        Err(e) => return stop(out, connect_failure(&e)),
    };
    let context = connect::context(answers, &path, &kubeconfig);
    // Nothing the kubeconfig names runs, or is sent, unasked: said as the
    // kubeconfig's failure, before any client exists.
    if let Ok(c) = &context
        && let Err(e) = connect::runs_nothing_unasked(&path, &kubeconfig, c)
    {
        return stop(out, connect_failure(&e));
    }
    out.push(r(
        "k8s.kubeconfig",
        Status::Pass,
        m("k8s.kubeconfig.ok").arg("path", path.display()),
    ));
    let context = match context {
        Ok(c) => c,
        Err(e) => return stop(out, connect_failure(&e)),
    };
    out.push(r(
        "k8s.context",
        Status::Pass,
        m("k8s.context.ok").arg("context", &context),
    ));
    let (client, url) = match connect::client(kubeconfig, &context, None).await {
        Ok(c) => c,
        Err(e) => return stop(out, connect_failure(&e)),
    };
    let wait = connect::TIMEOUT * 2;
    let info = match tokio::time::timeout(wait, client.apiserver_version()).await {
        Ok(Ok(info)) => info,
        answer => {
            let error = match answer {
                Ok(Err(e)) => root_cause(&e),
                _ => format!("no answer in {} s", wait.as_secs()),
            };
            let fail = r(
                "k8s.api",
                Status::Fail,
                m("k8s.api.unreachable")
                    .arg("url", &url)
                    .arg("error", error),
            )
            .hint(m("k8s.api.hint"));
            return stop(out, fail);
        }
    };
    out.push(r(
        "k8s.api",
        Status::Pass,
        m("k8s.api.ok")
            .arg("url", &url)
            .arg("version", &info.git_version),
    ));
    out.push(version(&info, &manifest.requirements.kubernetes));
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await;
    out.extend(nodes_and_resources(nodes, manifest));
    out.push(storage_class(&client, t.storage_class.as_deref()).await);
    let ns = crate::plan::namespace(t).to_string();
    let install = crate::profile::install_id(answers);
    let (ns_result, ns_exists) = namespace(&client, &ns, &install).await;
    out.push(ns_result);
    out.push(rbac(&client, &ns, ns_exists).await);
    out
}

fn version(
    info: &k8s_openapi::apimachinery::pkg::version::Info,
    range: &KubernetesRange,
) -> CheckResult {
    let minor: u32 = info.minor.trim_end_matches('+').parse().unwrap_or(0);
    let major: u32 = info.major.parse().unwrap_or(0);
    let span = format!("{}–{}", range.min, range.max);
    let have = format!("{major}.{minor}");
    if range.contains((major, minor)) {
        r(
            "k8s.version",
            Status::Pass,
            m("k8s.version.ok").arg("version", have).arg("range", span),
        )
    } else {
        r(
            "k8s.version",
            Status::Fail,
            m("k8s.version.unsupported")
                .arg("version", have)
                .arg("range", span),
        )
    }
}

fn is_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `k8s.nodes` (Ready nodes, an architecture the bundle has images for)
/// and `k8s.resources` (their allocatable CPU and memory against what
/// the product needs).
fn nodes_and_resources(
    nodes: Result<kube::core::ObjectList<Node>, kube::Error>,
    manifest: &Manifest,
) -> Vec<CheckResult> {
    let nodes = match nodes {
        Ok(n) => n,
        Err(e) => {
            let denied = m("k8s.api.denied")
                .arg("what", "nodes")
                .arg("error", root_cause(&e));
            return vec![
                r("k8s.nodes", Status::Fail, denied),
                r("k8s.resources", Status::Skip, m("k8s.skipped")),
            ];
        }
    };
    let ready: Vec<&Node> = nodes.items.iter().filter(|n| is_ready(n)).collect();
    let arches: Vec<String> = ready
        .iter()
        .filter_map(|n| Some(n.status.as_ref()?.node_info.as_ref()?.architecture.clone()))
        .collect();
    let wanted = manifest.architectures();
    let total = nodes.items.len();
    let nodes_result = if ready.is_empty() {
        r(
            "k8s.nodes",
            Status::Fail,
            m("k8s.nodes.none").arg("total", total),
        )
        .hint(m("k8s.nodes.hint"))
    } else if !wanted.is_empty() && !arches.iter().any(|a| wanted.contains(a)) {
        r(
            "k8s.nodes",
            Status::Fail,
            m("k8s.nodes.arch")
                .arg("have", arches.join(", "))
                .arg("bundle", wanted.join(", ")),
        )
    } else {
        r(
            "k8s.nodes",
            Status::Pass,
            m("k8s.nodes.ok")
                .arg("ready", ready.len())
                .arg("total", total),
        )
    };
    let (mut cpu, mut mem) = (0u64, 0u64);
    for n in &ready {
        if let Some(a) = n.status.as_ref().and_then(|s| s.allocatable.as_ref()) {
            cpu += a
                .get("cpu")
                .and_then(|q| quantity::cpu_millis(&q.0))
                .unwrap_or(0);
            mem += a
                .get("memory")
                .and_then(|q| quantity::bytes(&q.0))
                .unwrap_or(0);
        }
    }
    let need = &manifest.requirements.master;
    let (need_cpu, need_mem) = (
        u64::from(need.cpus) * 1000,
        u64::from(need.memory_gib) << 30,
    );
    let gib = |b: u64| format!("{:.1}", b as f64 / f64::from(1u32 << 30));
    let cores = |m: u64| format!("{:.1}", m as f64 / 1000.0);
    let detail = |key: &str| {
        m(key)
            .arg("cpu", cores(cpu))
            .arg("memory", gib(mem))
            .arg("need-cpu", need.cpus)
            .arg("need-memory", need.memory_gib)
            .arg("ready", ready.len())
    };
    let resources = if ready.is_empty() {
        r("k8s.resources", Status::Skip, m("k8s.skipped"))
    } else if cpu < need_cpu || mem < need_mem {
        r("k8s.resources", Status::Fail, detail("k8s.resources.short"))
            .hint(m("k8s.resources.hint"))
    } else {
        r("k8s.resources", Status::Pass, detail("k8s.resources.ok"))
    };
    vec![nodes_result, resources]
}

/// A StorageClass: the named one, or the cluster's default.
async fn storage_class(client: &kube::Client, wanted: Option<&str>) -> CheckResult {
    let list = match Api::<StorageClass>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(l) => l,
        Err(e) => {
            return r(
                "k8s.storage-class",
                Status::Fail,
                m("k8s.api.denied")
                    .arg("what", "storageclasses")
                    .arg("error", root_cause(&e)),
            );
        }
    };
    let name_of = |s: &StorageClass| s.metadata.name.clone().unwrap_or_default();
    let known = || {
        let names: Vec<String> = list.items.iter().map(name_of).collect();
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(", ")
        }
    };
    match wanted {
        Some(want) if list.items.iter().any(|s| name_of(s) == want) => r(
            "k8s.storage-class",
            Status::Pass,
            m("k8s.storage-class.ok").arg("name", want),
        ),
        Some(want) => r(
            "k8s.storage-class",
            Status::Fail,
            m("k8s.storage-class.missing")
                .arg("name", want)
                .arg("known", known()),
        ),
        None => match list.items.iter().find(|s| {
            s.metadata.annotations.as_ref().is_some_and(|a| {
                a.get("storageclass.kubernetes.io/is-default-class")
                    .map(String::as_str)
                    == Some("true")
            })
        }) {
            Some(s) => r(
                "k8s.storage-class",
                Status::Pass,
                m("k8s.storage-class.default").arg("name", name_of(s)),
            ),
            None => r(
                "k8s.storage-class",
                Status::Fail,
                m("k8s.storage-class.no-default"),
            )
            .hint(m("k8s.storage-class.hint")),
        },
    }
}

/// The namespace: free, or owned by this very install. Also says whether
/// it exists (the install then needs no right to create namespaces).
/// The installation whose label the namespace `ns` carries, when cdwiz
/// made it (`Ok(None)`: not there, not cdwiz's, or a label that is no
/// installation's id).
pub async fn installed_in(client: &kube::Client, ns: &str) -> Result<Option<String>, kube::Error> {
    let found = Api::<Namespace>::all(client.clone()).get_opt(ns).await?;
    let labels = found.and_then(|n| n.metadata.labels).unwrap_or_default();
    let ours = labels
        .get("app.kubernetes.io/managed-by")
        .is_some_and(|m| m == "cdwiz");
    Ok(labels
        .get(INSTALL_LABEL)
        .filter(|id| ours && crate::installation::well_formed_id(id))
        .cloned())
}

async fn namespace(client: &kube::Client, ns: &str, install: &str) -> (CheckResult, bool) {
    match Api::<Namespace>::all(client.clone()).get_opt(ns).await {
        Err(e) => (
            r(
                "k8s.namespace",
                Status::Fail,
                m("k8s.api.denied")
                    .arg("what", "namespaces")
                    .arg("error", root_cause(&e)),
            ),
            false,
        ),
        Ok(None) => (
            r(
                "k8s.namespace",
                Status::Pass,
                m("k8s.namespace.free").arg("ns", ns),
            ),
            false,
        ),
        Ok(Some(n)) => {
            let labels = n.metadata.labels.unwrap_or_default();
            let result = match labels.get(INSTALL_LABEL) {
                Some(id) if id == install => r(
                    "k8s.namespace",
                    Status::Pass,
                    m("k8s.namespace.own").arg("ns", ns),
                ),
                Some(id) => r(
                    "k8s.namespace",
                    Status::Fail,
                    m("k8s.namespace.other-install")
                        .arg("ns", ns)
                        .arg("install", id),
                )
                .hint(m("k8s.namespace.hint")),
                None => {
                    let owner = labels
                        .get("app.kubernetes.io/managed-by")
                        .cloned()
                        .unwrap_or_else(|| "-".into());
                    r(
                        "k8s.namespace",
                        Status::Fail,
                        m("k8s.namespace.taken").arg("ns", ns).arg("owner", owner),
                    )
                    .hint(m("k8s.namespace.hint"))
                }
            };
            (result, true)
        }
    }
}

/// What the install does through the API: (verb, group, resource,
/// subresource). Uninstall deletes the same kinds.
pub const NEEDED: &[(&str, &str, &str, &str)] = &[
    ("create", "", "secrets", ""),
    ("patch", "", "secrets", ""),
    ("create", "", "configmaps", ""),
    ("patch", "", "configmaps", ""),
    ("create", "", "services", ""),
    ("patch", "", "services", ""),
    ("create", "apps", "deployments", ""),
    ("patch", "apps", "deployments", ""),
    ("get", "apps", "deployments", ""),
    ("create", "apps", "statefulsets", ""),
    ("patch", "apps", "statefulsets", ""),
    ("get", "apps", "statefulsets", ""),
    ("list", "", "pods", ""),
    ("get", "", "pods", "log"),
    ("get", "", "services", "proxy"),
    ("delete", "apps", "deployments", ""),
    ("delete", "apps", "statefulsets", ""),
    ("get", "coordination.k8s.io", "leases", ""),
    ("create", "coordination.k8s.io", "leases", ""),
    ("update", "coordination.k8s.io", "leases", ""),
    ("delete", "coordination.k8s.io", "leases", ""),
];

/// `k8s.rbac`: asks the API server (SelfSubjectAccessReview) whether the
/// kubeconfig's user may do what the install does in the namespace.
async fn rbac(client: &kube::Client, ns: &str, ns_exists: bool) -> CheckResult {
    let mut wanted: Vec<(&str, &str, &str, &str, Option<&str>)> = NEEDED
        .iter()
        .map(|(v, g, res, sub)| (*v, *g, *res, *sub, Some(ns)))
        .collect();
    if ns_exists {
        wanted.push(("patch", "", "namespaces", "", None));
    } else {
        wanted.push(("create", "", "namespaces", "", None));
    }
    let api = Api::<SelfSubjectAccessReview>::all(client.clone());
    let asks = wanted.iter().map(|(verb, group, resource, sub, ns)| {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_string()),
                    group: Some(group.to_string()),
                    resource: Some(resource.to_string()),
                    subresource: (!sub.is_empty()).then(|| sub.to_string()),
                    namespace: ns.map(str::to_string),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api = api.clone();
        async move { api.create(&PostParams::default(), &review).await }
    });
    let answers = futures_util::future::join_all(asks).await;
    let mut denied = Vec::new();
    for ((verb, group, resource, sub, _), answer) in wanted.iter().zip(answers) {
        match answer {
            Ok(review) if review.status.as_ref().is_some_and(|s| s.allowed) => {}
            Ok(_) => {
                let what = [*group, *resource]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("/");
                let what = if sub.is_empty() {
                    what
                } else {
                    format!("{what}/{sub}")
                };
                denied.push(format!("{verb} {what}"));
            }
            Err(e) => {
                return r(
                    "k8s.rbac",
                    Status::Fail,
                    m("k8s.rbac.unanswered").arg("error", root_cause(&e)),
                );
            }
        }
    }
    if denied.is_empty() {
        r(
            "k8s.rbac",
            Status::Pass,
            m("k8s.rbac.ok").arg("count", wanted.len()).arg("ns", ns),
        )
    } else {
        r(
            "k8s.rbac",
            Status::Fail,
            m("k8s.rbac.denied")
                .arg("ns", ns)
                .arg("denied", denied.join(", ")),
        )
        .hint(m("k8s.rbac.hint").arg("ns", ns))
    }
}
