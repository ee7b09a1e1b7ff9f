//! `collect` of an installation on a cluster: through the Kubernetes API,
//! read-only, the objects that carry the installation's label (workloads,
//! Services, ConfigMaps, volume claims, pods) as YAML without their
//! managed fields, the Secrets by name and keys only (never a value), the
//! namespace's events, each pod container's last log lines (and those of
//! its previous run when it restarted), the nodes and the server version.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Event as KubeEvent, Node, PersistentVolumeClaim, Pod, Secret, Service,
};
use kube::api::{Api, ListParams, LogParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::LOG_LINES;
use crate::cluster::INSTALL_LABEL;
use crate::deploy::k8s::api_cause;
use crate::profile::Answers;

type Files = Vec<(String, Vec<u8>)>;

/// Every file of the installation's namespace, named under `cluster/`;
/// an error only when the cluster cannot be asked at all.
pub(super) async fn files(a: &Answers, base: &std::path::Path) -> Result<Files, crate::i18n::Msg> {
    let client = crate::cluster::connect(a, base, None)
        .await
        .map_err(|e| e.message())?
        .client;
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| crate::i18n::Msg::from(api_cause(&e)))?;
    let ns = crate::plan::namespace(&a.topology).to_string();
    let lp = ListParams::default().labels(&format!(
        "{INSTALL_LABEL}={}",
        crate::profile::install_id(a)
    ));
    let mut out: Files = vec![(
        "cluster/version.json".into(),
        serde_json::to_vec_pretty(&version).unwrap_or_default(),
    )];
    out.push((
        "cluster/nodes.txt".into(),
        nodes(&client).await.into_bytes(),
    ));
    let (deployments, statefulsets, services, configmaps, claims, pods) = tokio::join!(
        list::<Deployment>(&client, &ns, &lp),
        list::<StatefulSet>(&client, &ns, &lp),
        list::<Service>(&client, &ns, &lp),
        list::<ConfigMap>(&client, &ns, &lp),
        list::<PersistentVolumeClaim>(&client, &ns, &lp),
        list::<Pod>(&client, &ns, &lp),
    );
    yamls(&mut out, "Deployment", deployments);
    yamls(&mut out, "StatefulSet", statefulsets);
    yamls(&mut out, "Service", services);
    yamls(&mut out, "ConfigMap", configmaps);
    yamls(&mut out, "PersistentVolumeClaim", claims);
    let pods = pods.unwrap_or_default();
    out.extend(logs(&client, &ns, &pods).await);
    yamls(&mut out, "Pod", Ok(pods));
    out.push((
        "cluster/secrets.txt".into(),
        secrets(&client, &ns, &lp).await.into_bytes(),
    ));
    out.push((
        "cluster/events.txt".into(),
        events(&client, &ns).await.into_bytes(),
    ));
    Ok(out)
}

async fn list<K>(client: &kube::Client, ns: &str, lp: &ListParams) -> Result<Vec<K>, String>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), ns)
        .list(lp)
        .await
        .map(|l| l.items)
        .map_err(|e| api_cause(&e))
}

/// Each object as `cluster/<Kind>/<name>.yaml` (without managed fields);
/// a list that could not be had, as `cluster/<Kind>.error`.
fn yamls<K: kube::Resource + Serialize>(
    out: &mut Files,
    kind: &str,
    items: Result<Vec<K>, String>,
) {
    match items {
        Err(e) => out.push((format!("cluster/{kind}.error"), e.into_bytes())),
        Ok(items) => {
            for mut item in items {
                item.meta_mut().managed_fields = None;
                let name = item.meta().name.clone().unwrap_or_default();
                if safe(&name) {
                    let yaml = serde_yaml::to_string(&item).unwrap_or_default();
                    out.push((format!("cluster/{kind}/{name}.yaml"), yaml.into_bytes()));
                }
            }
        }
    }
}

/// A name the API server accepted is a DNS label or subdomain; anything
/// else would not be one, and is not made into a path.
fn safe(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// Each container's last lines, and its previous run's when it restarted.
async fn logs(client: &kube::Client, ns: &str, pods: &[Pod]) -> Files {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut out = Files::new();
    for p in pods {
        let Some(pod) = p.metadata.name.as_deref().filter(|n| safe(n)) else {
            continue;
        };
        let statuses = p
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten());
        for c in statuses.filter(|c| safe(&c.name)) {
            let runs = if c.restart_count > 0 {
                vec![false, true]
            } else {
                vec![false]
            };
            for previous in runs {
                let params = LogParams {
                    container: Some(c.name.clone()),
                    tail_lines: Some(LOG_LINES as i64),
                    previous,
                    ..Default::default()
                };
                let text = api
                    .logs(pod, &params)
                    .await
                    .unwrap_or_else(|e| format!("(no log: {})", api_cause(&e)));
                let which = if previous { ".previous" } else { "" };
                out.push((
                    format!("cluster/logs/{pod}/{}{which}.log", c.name),
                    text.into_bytes(),
                ));
            }
        }
    }
    out
}

/// The installation's Secrets: name, type and the names of their keys.
async fn secrets(client: &kube::Client, ns: &str, lp: &ListParams) -> String {
    match list::<Secret>(client, ns, lp).await {
        Err(e) => format!("(not listed: {e})\n"),
        Ok(items) => {
            let mut t = String::from("name type keys (values are never collected)\n");
            // Their values are hidden wherever else they show (a log, a
            // ConfigMap), whether or not this machine knows them.
            let values: Vec<String> = items
                .iter()
                .flat_map(|s| s.data.iter().flat_map(BTreeMap::values))
                .filter_map(|v| String::from_utf8(v.0.clone()).ok())
                .collect();
            super::hide_secrets(&values);
            for s in items {
                let keys: Vec<&String> = s.data.iter().flat_map(BTreeMap::keys).collect();
                t.push_str(&format!(
                    "{} {} {}\n",
                    s.metadata.name.as_deref().unwrap_or("?"),
                    s.type_.as_deref().unwrap_or("?"),
                    keys.iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            t
        }
    }
}

/// The namespace's events, oldest first: time, type, reason, object, message.
async fn events(client: &kube::Client, ns: &str) -> String {
    match list::<KubeEvent>(client, ns, &ListParams::default()).await {
        Err(e) => format!("(not listed: {e})\n"),
        Ok(mut items) => {
            let when = |e: &KubeEvent| {
                e.last_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .or(e.event_time.as_ref().map(|t| t.0))
            };
            items.sort_by_key(|e| when(e));
            items
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {} {}/{}: {}\n",
                        when(e).map(|t| t.to_rfc3339()).unwrap_or_default(),
                        e.type_.as_deref().unwrap_or("?"),
                        e.reason.as_deref().unwrap_or("?"),
                        e.involved_object.kind.as_deref().unwrap_or("?"),
                        e.involved_object.name.as_deref().unwrap_or("?"),
                        e.message.as_deref().unwrap_or("").trim_end()
                    )
                })
                .collect()
        }
    }
}

/// One line per node: name, Ready, version, architecture, OS, allocatable.
async fn nodes(client: &kube::Client) -> String {
    let nodes = match Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Ok(l) => l.items,
        Err(e) => return format!("(not listed: {})\n", api_cause(&e)),
    };
    let mut t = String::from("name ready kubelet arch os cpu memory\n");
    for n in nodes {
        let status = n.status.unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.status.clone())
            .unwrap_or_else(|| "?".into());
        let info = status.node_info.unwrap_or_default();
        let alloc = status.allocatable.unwrap_or_default();
        let q = |k: &str| alloc.get(k).map(|q| q.0.clone()).unwrap_or_default();
        t.push_str(&format!(
            "{} {ready} {} {} {} {} {}\n",
            n.metadata.name.unwrap_or_default(),
            info.kubelet_version,
            info.architecture,
            info.os_image.replace(' ', "_"),
            q("cpu"),
            q("memory"),
        ));
    }
    t
}
