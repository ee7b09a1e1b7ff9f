//! Waiting for a component's rollout, and saying why it did not finish;
//! the check through the entry component's Service.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::POLL;
use super::apply::{api_cause, api_error};
use crate::deploy::{CLUSTER, Run, StepError};
use crate::i18n::Msg;

const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// How far a workload's rollout is.
#[derive(Debug, Default)]
pub(super) struct Progress {
    pub(super) want: i32,
    pub(super) ready: i32,
    pub(super) updated: i32,
    observed: bool,
}

impl Progress {
    fn done(&self) -> bool {
        self.observed && self.ready >= self.want && self.updated >= self.want
    }
}

pub(super) async fn progress(
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
pub(super) fn pod_reasons(pods: &[Pod]) -> Vec<String> {
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

/// The newest Warning event about a pod (why its sandbox or volume
/// could not be made, say), if any.
pub(super) async fn last_warning(client: &kube::Client, ns: &str, pod: &Pod) -> Option<String> {
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
pub(super) async fn wait_rollout(
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
pub(super) async fn verify(
    run: &Run<'_>,
    client: &kube::Client,
    ns: &str,
    service: &str,
    port: u16,
    path: &str,
) -> Result<bool, StepError> {
    let path = slashed(path);
    let uri = proxy_uri(ns, service, port, &path);
    run.ctx.logs.log(CLUSTER, &format!("GET {uri}"));
    let started = Instant::now();
    loop {
        let error = match ask(client, &uri).await {
            Ok(()) => {
                run.ctx
                    .logs
                    .log(CLUSTER, &format!("service {service}:{port}{path} answers"));
                return Ok(false);
            }
            Err(e) => e,
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

fn slashed(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The API server's proxy to a Service's port, at `path`.
pub(crate) fn proxy_uri(ns: &str, service: &str, port: u16, path: &str) -> String {
    format!(
        "/api/v1/namespaces/{ns}/services/{service}:{port}/proxy{}",
        slashed(path)
    )
}

/// One GET through the API server (2xx: `Ok`), else the cause.
pub(crate) async fn ask(client: &kube::Client, uri: &str) -> Result<(), String> {
    let request = http::Request::get(uri)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    client
        .request_text(request)
        .await
        .map(|_| ())
        .map_err(|e| api_cause(&e))
}
