//! Read-only looks at an installation on a cluster (`cdwiz status`): how
//! far each component's workload is and why its pods are not ready, and
//! whether its objects are still what this profile and bundle render (a
//! server-side apply in dry-run: the server says what it would change,
//! nothing is written); the entry asked once through its Service.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::apply::{apply_as, objects};
use super::rollout::{ask, pod_reasons, progress, proxy_uri};
use super::{selector, workload_kind};
use crate::bundle::{Component, Manifest};
use crate::i18n::Msg;
use crate::profile::Answers;
use crate::render::RenderedFile;

/// An object whose server copy is not what this profile and bundle render.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ObjectDrift {
    /// Its kind and name (`Deployment web`).
    pub object: String,
    /// The cluster has no such object.
    pub missing: bool,
}

/// One component's workload as the cluster has it.
#[derive(Debug, Serialize)]
pub struct WorkloadStatus {
    pub name: String,
    /// `Deployment` or `StatefulSet`, as rendered.
    pub kind: String,
    /// Whether the cluster has the workload.
    pub found: bool,
    /// Replicas its spec asks for, ready, and of the current spec.
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    /// Container restarts over its pods.
    pub restarts: i64,
    /// The images its pods run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// When a container of it last started (RFC 3339).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub since: String,
    /// Its pods that are not ready, each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    /// Its objects that differ from the rendered ones, or are missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<ObjectDrift>,
    /// Why its objects could not be compared (none: they were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_error: Option<Msg>,
}

impl WorkloadStatus {
    /// Nothing known of it yet.
    fn new(name: &str, kind: &str) -> WorkloadStatus {
        WorkloadStatus {
            name: name.to_string(),
            kind: kind.to_string(),
            found: false,
            desired: 0,
            ready: 0,
            updated: 0,
            restarts: 0,
            images: Vec::new(),
            since: String::new(),
            waiting: Vec::new(),
            drifted: Vec::new(),
            compare_error: None,
        }
    }

    pub fn well(&self) -> bool {
        self.found
            && self.ready >= self.desired
            && self.updated >= self.desired
            && self.drifted.is_empty()
    }
}

/// The rendered objects of `file` (`namespace`, or a component) that
/// differ from the cluster's; an error when they cannot be compared (the
/// user may read but not patch, say).
pub async fn drifted(
    client: &kube::Client,
    answers: &Answers,
    rendered: &[RenderedFile],
    file: &str,
) -> Result<Vec<ObjectDrift>, Msg> {
    let ns = crate::plan::namespace(&answers.topology);
    let mut out = Vec::new();
    for o in objects(rendered, file).map_err(|e| e.message)? {
        let (before, differs) = apply_as(client, ns, &o, true)
            .await
            .map_err(|e| e.message)?;
        if differs {
            out.push(ObjectDrift {
                object: format!(
                    "{} {}",
                    o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("?"),
                    o.metadata.name.as_deref().unwrap_or("?")
                ),
                missing: before.is_none(),
            });
        }
    }
    Ok(out)
}

/// One component's workload, its pods and its drift.
pub async fn workload(
    client: &kube::Client,
    answers: &Answers,
    rendered: &[RenderedFile],
    c: &Component,
) -> WorkloadStatus {
    let ns = crate::plan::namespace(&answers.topology);
    let kind = objects(rendered, &c.name)
        .map(|o| workload_kind(&o))
        .unwrap_or_else(|_| "Deployment".into());
    let mut s = WorkloadStatus::new(&c.name, &kind);
    match drifted(client, answers, rendered, &c.name).await {
        Ok(d) => s.drifted = d,
        Err(e) => s.compare_error = Some(e),
    }
    if let Ok(p) = progress(client, ns, &kind, &c.name).await {
        s.found = true;
        (s.desired, s.ready, s.updated) = (p.want, p.ready, p.updated);
    }
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&selector(answers, &c.name)))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    pods_into(&mut s, &pods);
    s
}

/// Restarts, images, the last start and the pods not ready.
fn pods_into(s: &mut WorkloadStatus, pods: &[Pod]) {
    let mut not_ready = Vec::new();
    for p in pods {
        let status = p.status.clone().unwrap_or_default();
        for c in status.container_statuses.iter().flatten() {
            s.restarts += i64::from(c.restart_count);
            let started = c
                .state
                .as_ref()
                .and_then(|st| st.running.as_ref())
                .and_then(|r| r.started_at.as_ref())
                .map(|t| t.0.to_rfc3339());
            if let Some(t) = started.filter(|t| *t > s.since) {
                s.since = t;
            }
        }
        for c in p.spec.iter().flat_map(|sp| &sp.containers) {
            if let Some(image) = c.image.clone().filter(|i| !s.images.contains(i)) {
                s.images.push(image);
            }
        }
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if !ready {
            not_ready.push(p.clone());
        }
    }
    s.waiting = pod_reasons(&not_ready);
}

/// The entry component's Service, asked once through the API server:
/// its proxy path, and the cause when it does not answer.
pub async fn entry(
    client: &kube::Client,
    answers: &Answers,
    manifest: &Manifest,
) -> Option<(String, Result<(), String>)> {
    let entry = crate::plan::entry(manifest)?;
    let uri = proxy_uri(
        crate::plan::namespace(&answers.topology),
        &entry.component,
        entry.port,
        &entry.verify,
    );
    let answered = ask(client, &uri).await;
    Some((uri, answered))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, image: &str, ready: bool, restarts: i32) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": name },
            "spec": { "containers": [{ "name": "web", "image": image }] },
            "status": {
                "phase": "Running",
                "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }],
                "containerStatuses": [{
                    "name": "web", "image": image, "imageID": "", "ready": ready,
                    "restartCount": restarts,
                    "state": { "running": { "startedAt": format!("2026-12-0{}T10:00:00Z", 1 + restarts) } },
                    "lastState": if restarts > 0 {
                        serde_json::json!({ "terminated": { "exitCode": 1, "reason": "Error" } })
                    } else {
                        serde_json::json!({})
                    }
                }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn pods_give_restarts_images_the_last_start_and_who_is_not_ready() {
        let mut s = WorkloadStatus::new("web", "Deployment");
        (s.found, s.desired, s.ready, s.updated) = (true, 2, 1, 2);
        pods_into(
            &mut s,
            &[
                pod("web-a", "cd/web:1", true, 0),
                pod("web-b", "cd/web:1", false, 3),
            ],
        );
        assert_eq!(s.restarts, 3);
        assert_eq!(s.images, ["cd/web:1"]);
        assert_eq!(s.since, "2026-12-04T10:00:00+00:00");
        assert_eq!(s.waiting.len(), 1);
        assert!(
            s.waiting[0].starts_with("web-b Running (restarted 3 times, last exit code 1"),
            "{:?}",
            s.waiting
        );
        assert!(!s.well(), "1 of 2 ready");
        s.ready = 2;
        assert!(s.well());
        s.drifted.push(ObjectDrift {
            object: "Service web".into(),
            missing: true,
        });
        assert!(!s.well(), "drifted");
    }
}
