//! Checks of an existing Kubernetes cluster (the `k8s` topology), through
//! the Kubernetes API with the `kube` client: the kubeconfig and context,
//! the API server's reach and version, Ready nodes and their architectures,
//! a StorageClass, and the namespace (free, or this install's own).
//! Results are ordinary check results (host `None`), so reports, waivers
//! and both front ends treat them like host checks.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::checks::{CheckResult, Status};
use crate::event::{Event, EventSender};
use crate::i18n::Msg;
use crate::profile::Answers;

/// The cluster checks, in order.
pub const CHECKS: &[&str] = &[
    "k8s.kubeconfig",
    "k8s.context",
    "k8s.api",
    "k8s.version",
    "k8s.nodes",
    "k8s.storage-class",
    "k8s.namespace",
];

/// Oldest and newest Kubernetes minor versions the product supports.
pub const SUPPORTED: ((u32, u32), (u32, u32)) = ((1, 27), (1, 33));

const TIMEOUT: Duration = Duration::from_secs(10);

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
    skip_from(from, &mut out);
    out
}

/// The checks after `from` that could not be judged.
fn skip_from(from: &str, out: &mut Vec<CheckResult>) {
    let start = CHECKS
        .iter()
        .position(|c| *c == from)
        .map_or(CHECKS.len(), |i| i + 1);
    for id in &CHECKS[start..] {
        out.push(r(id, Status::Skip, m("k8s.skipped")));
    }
}

async fn emit_all(tx: &Option<EventSender>, results: &[CheckResult]) {
    if let Some(tx) = tx {
        for res in results {
            let _ = tx.send(Event::CheckFinished(res.clone())).await;
        }
    }
}

/// Runs the cluster checks for the answers (`base`: the profile's directory).
pub async fn check(
    answers: &Answers,
    base: &Path,
    architectures: &[String],
    tx: Option<EventSender>,
) -> Vec<CheckResult> {
    let out = run(answers, base, architectures).await;
    emit_all(&tx, &out).await;
    out
}

async fn run(answers: &Answers, base: &Path, architectures: &[String]) -> Vec<CheckResult> {
    let t = &answers.topology;
    let mut out = Vec::new();
    let file = t.kubeconfig.as_deref().unwrap_or("~/.kube/config");
    let file = file.strip_prefix("./").unwrap_or(file);
    let path = base.join(crate::paths::expand_home(file));
    let kubeconfig = match Kubeconfig::read_from(&path) {
        Ok(k) => {
            out.push(r(
                "k8s.kubeconfig",
                Status::Pass,
                m("k8s.kubeconfig.ok").arg("path", path.display()),
            ));
            k
        }
        Err(e) => {
            return stop(
                out,
                r(
                    "k8s.kubeconfig",
                    Status::Fail,
                    m("k8s.kubeconfig.unreadable")
                        .arg("path", path.display())
                        .arg("error", e),
                )
                .hint(m("k8s.kubeconfig.hint")),
            );
        }
    };
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let context = t
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone());
    let context = match context {
        Some(c) if names.contains(&c.as_str()) => {
            out.push(r(
                "k8s.context",
                Status::Pass,
                m("k8s.context.ok").arg("context", &c),
            ));
            c
        }
        Some(c) => {
            return stop(
                out,
                r(
                    "k8s.context",
                    Status::Fail,
                    m("k8s.context.unknown")
                        .arg("context", &c)
                        .arg("path", path.display())
                        .arg("known", names.join(", ")),
                )
                .fix(format!(
                    "kubectl --kubeconfig {} config get-contexts",
                    path.display()
                )),
            );
        }
        None => {
            return stop(
                out,
                r(
                    "k8s.context",
                    Status::Fail,
                    m("k8s.context.none").arg("path", path.display()),
                )
                .hint(m("k8s.context.none-hint").arg("known", names.join(", "))),
            );
        }
    };
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..Default::default()
    };
    let client = match kube::Config::from_custom_kubeconfig(kubeconfig, &options).await {
        Ok(mut config) => {
            config.connect_timeout = Some(TIMEOUT);
            config.read_timeout = Some(TIMEOUT);
            let url = config.cluster_url.to_string();
            kube::Client::try_from(config)
                .map(|c| (c, url))
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    let (client, url) = match client {
        Ok(c) => c,
        Err(e) => {
            let fail = r(
                "k8s.api",
                Status::Fail,
                m("k8s.api.config").arg("context", &context).arg("error", e),
            );
            return stop(out, fail);
        }
    };
    let info = match tokio::time::timeout(TIMEOUT * 2, client.apiserver_version()).await {
        Ok(Ok(info)) => info,
        answer => {
            let error = match answer {
                Ok(Err(e)) => root_cause(&e),
                _ => format!("no answer in {} s", (TIMEOUT * 2).as_secs()),
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
    let minor: u32 = info.minor.trim_end_matches('+').parse().unwrap_or(0);
    let major: u32 = info.major.parse().unwrap_or(0);
    let ((lo_maj, lo_min), (hi_maj, hi_min)) = SUPPORTED;
    let range = format!("{lo_maj}.{lo_min}–{hi_maj}.{hi_min}");
    out.push(
        if (major, minor) >= (lo_maj, lo_min) && (major, minor) <= (hi_maj, hi_min) {
            r(
                "k8s.version",
                Status::Pass,
                m("k8s.version.ok")
                    .arg("version", format!("{major}.{minor}"))
                    .arg("range", &range),
            )
        } else {
            r(
                "k8s.version",
                Status::Fail,
                m("k8s.version.unsupported")
                    .arg("version", format!("{major}.{minor}"))
                    .arg("range", &range),
            )
        },
    );

    // Nodes: Ready ones, and an architecture the bundle has images for.
    out.push(
        match Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await
        {
            Err(e) => r(
                "k8s.nodes",
                Status::Fail,
                m("k8s.api.denied")
                    .arg("what", "nodes")
                    .arg("error", root_cause(&e)),
            ),
            Ok(nodes) => {
                let ready: Vec<String> = nodes
                    .items
                    .iter()
                    .filter(|n| {
                        n.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|c| {
                                c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                            })
                    })
                    .filter_map(|n| {
                        n.status
                            .as_ref()?
                            .node_info
                            .as_ref()
                            .map(|i| i.architecture.clone())
                    })
                    .collect();
                if ready.is_empty() {
                    r(
                        "k8s.nodes",
                        Status::Fail,
                        m("k8s.nodes.none").arg("total", nodes.items.len()),
                    )
                } else if !architectures.is_empty()
                    && !ready.iter().any(|a| architectures.contains(a))
                {
                    r(
                        "k8s.nodes",
                        Status::Fail,
                        m("k8s.nodes.arch")
                            .arg("have", ready.join(", "))
                            .arg("bundle", architectures.join(", ")),
                    )
                } else {
                    r(
                        "k8s.nodes",
                        Status::Pass,
                        m("k8s.nodes.ok")
                            .arg("ready", ready.len())
                            .arg("total", nodes.items.len()),
                    )
                }
            }
        },
    );

    // A StorageClass: the named one, or the cluster's default.
    out.push(
        match Api::<StorageClass>::all(client.clone())
            .list(&ListParams::default())
            .await
        {
            Err(e) => r(
                "k8s.storage-class",
                Status::Fail,
                m("k8s.api.denied")
                    .arg("what", "storageclasses")
                    .arg("error", root_cause(&e)),
            ),
            Ok(list) => {
                let name_of = |s: &StorageClass| s.metadata.name.clone().unwrap_or_default();
                match t.storage_class.as_deref() {
                    Some(want) if list.items.iter().any(|s| name_of(s) == want) => r(
                        "k8s.storage-class",
                        Status::Pass,
                        m("k8s.storage-class.ok").arg("name", want),
                    ),
                    Some(want) => r(
                        "k8s.storage-class",
                        Status::Fail,
                        m("k8s.storage-class.missing").arg("name", want).arg(
                            "known",
                            list.items
                                .iter()
                                .map(name_of)
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
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
        },
    );

    // The namespace: free, or owned by this very install.
    let ns = t.namespace.clone().unwrap_or_default();
    let install = crate::deploy::secrets::install_id(answers);
    out.push(match Api::<Namespace>::all(client).get_opt(&ns).await {
        Err(e) => r(
            "k8s.namespace",
            Status::Fail,
            m("k8s.api.denied")
                .arg("what", "namespaces")
                .arg("error", root_cause(&e)),
        ),
        Ok(None) => r(
            "k8s.namespace",
            Status::Pass,
            m("k8s.namespace.free").arg("ns", &ns),
        ),
        Ok(Some(n)) => {
            let labels = n.metadata.labels.unwrap_or_default();
            if labels.get("cdwiz.io/install") == Some(&install) {
                r(
                    "k8s.namespace",
                    Status::Pass,
                    m("k8s.namespace.own").arg("ns", &ns),
                )
            } else {
                let owner = labels
                    .get("app.kubernetes.io/managed-by")
                    .cloned()
                    .unwrap_or_else(|| "?".into());
                r(
                    "k8s.namespace",
                    Status::Fail,
                    m("k8s.namespace.taken").arg("ns", &ns).arg("owner", owner),
                )
                .hint(m("k8s.namespace.hint"))
            }
        }
    });
    out
}

/// The innermost error: "connection refused", not three layers of wrapping.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let inner = cur.to_string();
    let outer = e.to_string();
    if inner == outer {
        outer
    } else {
        format!("{outer}: {inner}")
    }
}
