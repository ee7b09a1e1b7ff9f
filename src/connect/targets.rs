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
    /// The host's Docker API, opened on first use (the checks open it while
    /// their probe runs; a failure is not kept, so an engine started since
    /// is found), and whether it goes through `sudo docker system
    /// dial-stdio`.
    docker: tokio::sync::OnceCell<(ForwardedDocker, bool)>,
    /// The host's name (for /etc/hosts): from the checks' probe, else asked
    /// once before a deploy needs it.
    hostname: Mutex<Option<String>>,
    /// The profile's data dir, without a trailing slash.
    pub data_dir: String,
    /// How long the SSH port took to answer.
    pub rtt: Duration,
}

impl Target {
    /// The host's Docker engine (its API opened on first use), or why it
    /// cannot be reached.
    pub async fn docker(&self) -> Result<&bollard::Docker, crate::i18n::Msg> {
        self.docker_api()
            .await
            .map(|(d, _, _)| d)
            .map_err(|e| crate::i18n::Msg::new("deploy.error.no-docker").arg("error", e))
    }

    /// The host's Docker API, the engine's version as it answered when the
    /// API was opened, and whether it goes through sudo; or why it cannot
    /// be had (the underlying error, for the checks).
    pub async fn docker_api(&self) -> Result<(&bollard::Docker, &str, bool), String> {
        let (d, via_sudo) = self
            .docker
            .get_or_try_init(|| async {
                // Each opening its own socket: a host opened again drops
                // the old one.
                static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let local = crate::paths::runtime_dir().join(format!(
                    "cdwiz-{}-{n}-{}.sock",
                    std::process::id(),
                    self.address.replace(':', "_")
                ));
                self.conn
                    .docker_api(local)
                    .await
                    .map(|api| (api.docker, api.via_sudo))
                    .map_err(|e| e.to_string())
            })
            .await?;
        Ok((&d.docker, d.engine_version.as_str(), *via_sudo))
    }

    /// The host's name, when known.
    pub fn hostname(&self) -> String {
        self.hostname
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// Closes the connection (its Docker API first).
    pub async fn close(self) {
        drop(self.docker);
        self.conn.close().await;
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

/// The run's connection to a host, by address: the one open, or opened
/// now (`Err(None)`: not one of the run's hosts).
pub type Opener = Arc<
    dyn Fn(
            String,
        )
            -> futures_util::future::BoxFuture<'static, Result<Arc<Target>, Option<Unopened>>>
        + Send
        + Sync,
>;

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
    /// outlives it), opens those never opened, and with `retry`, those that
    /// could not be opened.
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
        // Hosts never opened (a check of one host came first).
        stale.extend(
            answers
                .hosts
                .iter()
                .map(|h| h.address.clone())
                .filter(|a| !self.hosts.contains_key(a) && !self.unreachable.contains_key(a)),
        );
        if stale.is_empty() {
            return;
        }
        let stale: Vec<&str> = stale.iter().map(String::as_str).collect();
        self.reopen(connector, answers, &stale).await;
    }

    /// An opener that gives the hosts already open (and why the others
    /// are not).
    pub fn opened(&self) -> Opener {
        let hosts = self.hosts.clone();
        let unopened = self.unreachable.clone();
        Arc::new(move |address: String| {
            let r = match hosts.get(&address) {
                Some(t) => Ok(t.clone()),
                None => Err(unopened.get(&address).cloned()),
            };
            Box::pin(async move { r })
        })
    }

    /// An opener that opens each host of `answers` when asked, recording
    /// it in `into` (for the rest of the run). `connector.prepare()` is
    /// done once, before.
    pub async fn opening(
        into: &Arc<Mutex<Targets>>,
        connector: &Arc<Connector>,
        answers: &Answers,
    ) -> Opener {
        let key_problem = connector.prepare().await.err();
        let data_dirs: BTreeMap<String, String> = answers
            .hosts
            .iter()
            .map(|h| (h.address.clone(), crate::plan::data_dir(h)))
            .collect();
        let (into, connector) = (into.clone(), connector.clone());
        Arc::new(move |address: String| {
            let (into, connector, key_problem) =
                (into.clone(), connector.clone(), key_problem.clone());
            let data_dir = data_dirs.get(&address).cloned();
            Box::pin(async move {
                let data_dir = data_dir.ok_or(None)?;
                let r = open_one(&connector, &address, data_dir, key_problem).await;
                let mut t = into.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(target) => {
                        let target = Arc::new(target);
                        t.unreachable.remove(&address);
                        t.hosts.insert(address, target.clone());
                        Ok(target)
                    }
                    Err(e) => {
                        t.hosts.remove(&address);
                        t.unreachable.insert(address, e.clone());
                        Err(Some(e))
                    }
                }
            })
        })
    }

    /// Closes every host's connection, all at once (a connection still in
    /// use elsewhere closes when its last user lets it go).
    pub async fn close(self) {
        let closes = self.hosts.into_values().map(|t| async move {
            if let Ok(t) = Arc::try_unwrap(t) {
                t.close().await;
            }
        });
        futures_util::future::join_all(closes).await;
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
    Ok(Target {
        address: addr.to_string(),
        conn,
        docker: tokio::sync::OnceCell::new(),
        hostname: Mutex::new(None),
        data_dir,
        rtt,
    })
}
