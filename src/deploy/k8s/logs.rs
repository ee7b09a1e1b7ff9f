//! The pods' logs of a component, into its pane while its rollout is
//! waited for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use tokio::task::JoinHandle;

use super::{Clients, POLL};
use crate::deploy::Run;

/// Follows the logs of the component's pods into its pane while its
/// rollout is waited for: every pod that has started is followed once.
pub(super) struct LogFollower {
    task: JoinHandle<()>,
    stop: tokio_util::sync::CancellationToken,
    /// Lines logged so far, per pod followed.
    followed: Arc<Mutex<BTreeMap<String, usize>>>,
}

pub(super) fn started(p: &Pod) -> bool {
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
    pub(super) fn start(
        run: &Run<'_>,
        clients: &Clients,
        ns: &str,
        component: &str,
        select: String,
    ) -> Self {
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
    pub(super) async fn finish(
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
