//! The hosts of one run: one SSH master and one forwarded Docker socket per
//! host, opened once and used by the lock, the deploy and its hooks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::connect::{ConnectFailure, Connector, HostConn};
use crate::profile::Answers;
use crate::ssh::docker_forward::ForwardedDocker;

use super::lock::{self, Holder, LockRefusal};

pub struct Target {
    pub address: String,
    pub conn: HostConn,
    docker: Result<ForwardedDocker, String>,
    /// The host's name (for /etc/hosts).
    pub hostname: String,
    /// The profile's data dir, without a trailing slash.
    pub data_dir: String,
}

impl Target {
    /// The host's Docker engine, or why it cannot be reached.
    pub fn docker(&self) -> Result<&bollard::Docker, crate::i18n::Msg> {
        self.docker
            .as_ref()
            .map(|d| &d.docker)
            .map_err(|e| crate::i18n::Msg::new("deploy.error.no-docker").arg("error", e))
    }
}

pub struct Targets {
    pub hosts: BTreeMap<String, Arc<Target>>,
    /// Hosts that could not be reached, and why.
    pub unreachable: BTreeMap<String, String>,
}

impl Targets {
    /// Connects to every host of the answers in parallel.
    pub async fn open(
        connector: &Arc<Connector>,
        answers: &Answers,
    ) -> Result<Targets, ConnectFailure> {
        connector.prepare().await?;
        let opens = answers.hosts.iter().map(|h| {
            let connector = connector.clone();
            let (addr, data_dir) = (
                h.address.clone(),
                h.data_dir.trim_end_matches('/').to_string(),
            );
            async move {
                let conn = match connector.connect(&addr).await {
                    Ok(c) => c,
                    Err(e) => return (addr, Err(e.to_string())),
                };
                let hostname = conn
                    .run("hostname", Duration::from_secs(30))
                    .await
                    .map(|o| crate::text::line(o.stdout.trim()))
                    .unwrap_or_default();
                let local = crate::paths::runtime_dir().join(format!(
                    "cdwiz-{}-{}.sock",
                    std::process::id(),
                    addr.replace(':', "_")
                ));
                let docker = conn
                    .docker_api(local)
                    .await
                    .map(|api| api.docker)
                    .map_err(|e| e.to_string());
                let t = Target {
                    address: addr.clone(),
                    conn,
                    docker,
                    hostname,
                    data_dir,
                };
                (addr, Ok(t))
            }
        });
        let mut targets = Targets {
            hosts: BTreeMap::new(),
            unreachable: BTreeMap::new(),
        };
        for (addr, r) in futures_util::future::join_all(opens).await {
            match r {
                Ok(t) => {
                    targets.hosts.insert(addr, Arc::new(t));
                }
                Err(e) => {
                    targets.unreachable.insert(addr, e);
                }
            }
        }
        Ok(targets)
    }

    /// Takes the run lock on every reachable host. On any refusal, the
    /// locks taken are given back and every refusal is returned. On
    /// success, the holders taken over (stale locks) are returned.
    pub async fn lock(
        &self,
        me: &Holder,
        take_over_stale: bool,
    ) -> Result<Vec<(String, Holder)>, Vec<(String, LockRefusal)>> {
        let takes = self.hosts.values().map(|t| async move {
            (
                t.address.clone(),
                lock::acquire(&t.conn, me, take_over_stale).await,
            )
        });
        let results = futures_util::future::join_all(takes).await;
        let refused: Vec<(String, LockRefusal)> = results
            .iter()
            .filter_map(|(a, r)| r.as_ref().err().map(|e| (a.clone(), e.clone())))
            .collect();
        if !refused.is_empty() {
            self.release(&me.run).await;
            return Err(refused);
        }
        Ok(results
            .into_iter()
            .filter_map(|(a, r)| r.ok().flatten().map(|h| (a, h)))
            .collect())
    }

    /// Touches every lock every [`lock::HEARTBEAT`] until aborted.
    pub fn heartbeat(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lock::HEARTBEAT).await;
                futures_util::future::join_all(me.hosts.values().map(|t| lock::touch(&t.conn)))
                    .await;
            }
        })
    }

    /// Gives back the locks `run` holds.
    pub async fn release(&self, run: &str) {
        futures_util::future::join_all(self.hosts.values().map(|t| lock::release(&t.conn, run)))
            .await;
    }
}
