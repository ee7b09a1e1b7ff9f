//! The hosts of one run: one SSH master per host (and one Docker API
//! through it), opened once and shared by the checks, the lock, the deploy
//! and its hooks. A host that could not be opened keeps why, and at which
//! stage (its SSH port, or the login).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ConnectFailure, Connector, HostConn};
use crate::profile::Answers;
use crate::ssh::docker_forward::ForwardedDocker;

pub struct Target {
    pub address: String,
    pub conn: HostConn,
    docker: Result<ForwardedDocker, String>,
    /// Whether the Docker API goes through `sudo docker system dial-stdio`.
    pub docker_via_sudo: bool,
    /// The host's name (for /etc/hosts): from the checks' probe, else asked
    /// once before a deploy needs it.
    hostname: Mutex<Option<String>>,
    /// The profile's data dir, without a trailing slash.
    pub data_dir: String,
    /// How long the SSH port took to answer.
    pub rtt: Duration,
}

impl Target {
    /// The host's Docker engine, or why it cannot be reached.
    pub fn docker(&self) -> Result<&bollard::Docker, crate::i18n::Msg> {
        self.docker
            .as_ref()
            .map(|d| &d.docker)
            .map_err(|e| crate::i18n::Msg::new("deploy.error.no-docker").arg("error", e))
    }

    /// The host's name, when known.
    pub fn hostname(&self) -> String {
        self.hostname
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// Records the host's name (the checks' probe read it).
    pub fn set_hostname(&self, name: &str) {
        *self.hostname.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(crate::text::line(name.trim()));
    }
}

/// At which stage a host could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Its SSH port did not answer.
    Reach,
    /// The port answered; the login or becoming root failed.
    Login,
}

/// Why a host could not be opened.
#[derive(Debug, Clone)]
pub struct Unopened {
    pub stage: Stage,
    pub failure: ConnectFailure,
    /// How long the SSH port took to answer (a login failure).
    pub rtt: Option<Duration>,
}

impl std::fmt::Display for Unopened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.failure.fmt(f)
    }
}

#[derive(Default)]
pub struct Targets {
    pub hosts: BTreeMap<String, Arc<Target>>,
    /// Hosts that could not be opened, and why.
    pub unreachable: BTreeMap<String, Unopened>,
}

impl Targets {
    /// Connects to every host of the answers in parallel.
    pub async fn open(connector: &Arc<Connector>, answers: &Answers) -> Targets {
        let mut targets = Targets::default();
        let all: Vec<&str> = answers.hosts.iter().map(|h| h.address.as_str()).collect();
        targets.reopen(connector, answers, &all).await;
        targets
    }

    /// (Re)connects `addresses`, replacing what was open for them.
    pub async fn reopen(
        &mut self,
        connector: &Arc<Connector>,
        answers: &Answers,
        addresses: &[&str],
    ) {
        // Done once here, not by each host at the same time.
        let key_problem = connector.prepare().await.err();
        let opens = answers
            .hosts
            .iter()
            .filter(|h| addresses.contains(&h.address.as_str()))
            .map(|h| {
                let connector = connector.clone();
                let key_problem = key_problem.clone();
                let (addr, data_dir) = (h.address.clone(), crate::plan::data_dir(h));
                async move {
                    let r = open_one(&connector, &addr, data_dir, key_problem).await;
                    (addr, r)
                }
            });
        for (addr, r) in futures_util::future::join_all(opens).await {
            self.hosts.remove(&addr);
            self.unreachable.remove(&addr);
            match r {
                Ok(t) => {
                    self.hosts.insert(addr, Arc::new(t));
                }
                Err(e) => {
                    self.unreachable.insert(addr, e);
                }
            }
        }
    }

    /// Reconnects the hosts whose SSH master has gone (an idle wizard
    /// outlives it), and with `retry`, those that could not be opened.
    pub async fn refresh(&mut self, connector: &Arc<Connector>, answers: &Answers, retry: bool) {
        let checks = self
            .hosts
            .values()
            .map(|t| async move { (t.address.clone(), t.conn.session.check().await.is_ok()) });
        let mut stale: Vec<String> = futures_util::future::join_all(checks)
            .await
            .into_iter()
            .filter(|(_, alive)| !alive)
            .map(|(a, _)| a)
            .collect();
        if retry {
            stale.extend(self.unreachable.keys().cloned());
        }
        if stale.is_empty() {
            return;
        }
        let stale: Vec<&str> = stale.iter().map(String::as_str).collect();
        self.reopen(connector, answers, &stale).await;
    }

    /// Asks the hosts whose name is not known yet (the checks did not run).
    pub async fn ensure_hostnames(&self) {
        let asks = self
            .hosts
            .values()
            .filter(|t| t.hostname.lock().is_ok_and(|h| h.is_none()))
            .map(|t| async move {
                if let Ok(o) = t.conn.run("hostname", Duration::from_secs(30)).await {
                    t.set_hostname(&o.stdout);
                }
            });
        futures_util::future::join_all(asks).await;
    }
}

/// Reaches, logs in, and opens the Docker API of one host.
async fn open_one(
    connector: &Connector,
    addr: &str,
    data_dir: String,
    key_problem: Option<ConnectFailure>,
) -> Result<Target, Unopened> {
    let rtt = connector.reach(addr).await.map_err(|failure| Unopened {
        stage: Stage::Reach,
        failure,
        rtt: None,
    })?;
    let login = match key_problem {
        Some(e) => Err(e),
        None => connector.login(addr).await,
    };
    let conn = login.map_err(|failure| Unopened {
        stage: Stage::Login,
        failure,
        rtt: Some(rtt),
    })?;
    // Each opening its own socket: a host opened again drops the old one.
    static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let local = crate::paths::runtime_dir().join(format!(
        "cdwiz-{}-{n}-{}.sock",
        std::process::id(),
        addr.replace(':', "_")
    ));
    let (docker, via_sudo) = match conn.docker_api(local).await {
        Ok(api) => (Ok(api.docker), api.via_sudo),
        Err(e) => (Err(e.to_string()), false),
    };
    Ok(Target {
        address: addr.to_string(),
        conn,
        docker,
        docker_via_sudo: via_sudo,
        hostname: Mutex::new(None),
        data_dir,
        rtt,
    })
}
