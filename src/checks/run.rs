//! Running the checks: every host in parallel (bounded), one SSH round trip
//! for the probe, then the cross-host checks, then the waivers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::cross::{self, LatencyMatrix};
use super::probe::{self, ProbeSpec};
use super::{CATALOGUE, CheckResult, HostContext, Status, Waiver, apply_waivers, evaluate_host};
use crate::bundle::Manifest;
use crate::connect::{ConnectFailure, Connector, Stage, Target, Targets, Unopened};
use crate::event::{Event, EventSender};
use crate::i18n::Msg;
use crate::profile::{Answers, TopologyKind};

/// How many hosts are checked at once.
pub const DEFAULT_CONCURRENCY: usize = 16;
const PROBE_TIMEOUT: Duration = Duration::from_secs(45);

/// Everything one run of the checks found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRun {
    pub results: Vec<CheckResult>,
    pub latency: LatencyMatrix,
    pub waivers: Vec<Waiver>,
    pub hosts: Vec<String>,
    pub secs: f64,
}

impl CheckRun {
    /// Failures nobody waived.
    pub fn blocking(&self) -> Vec<&CheckResult> {
        self.results.iter().filter(|r| r.blocks()).collect()
    }
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }
}

fn m(key: &str) -> Msg {
    Msg::new(format!("check.{key}"))
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

async fn emit(tx: &Option<EventSender>, e: Event) {
    if let Some(tx) = tx {
        let _ = tx.send(e).await;
    }
}

/// Runs every check on every host of the answers, on the connections of
/// `targets` (opened once for the whole run).
pub async fn run_checks(
    answers: &Answers,
    manifest: &Manifest,
    targets: &Targets,
    connector: &Connector,
    waivers: Vec<Waiver>,
    concurrency: usize,
    tx: Option<EventSender>,
) -> CheckRun {
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let addresses: Vec<String> = answers.hosts.iter().map(|h| h.address.clone()).collect();
    let t = &answers.topology;
    let install_id = crate::profile::install_id(answers);
    let mut tasks = Vec::new();
    for host in &answers.hosts {
        let ctx = HostContext {
            address: host.address.clone(),
            roles: host.roles.clone(),
            topology: t.kind,
            data_dir: host.data_dir.clone(),
            data_disk: host.data_disk.clone(),
            format_data_disk: host.format_data_disk,
            ports: manifest.ports(),
            interface: t.interface.clone(),
            vip: t.vip.clone(),
            architectures: manifest.architectures(),
            requirements: manifest.requirements.clone(),
            sent_at: 0.0,
            install_id: install_id.clone(),
        };
        let spec = ProbeSpec {
            data_dir: host.data_dir.clone(),
            data_disk: host.data_disk.clone(),
            ports: manifest.ports(),
            interface: t
                .interface
                .clone()
                .filter(|_| t.kind == TopologyKind::HaKeepalived),
            vip: t
                .vip
                .clone()
                .filter(|_| t.kind == TopologyKind::HaKeepalived),
            peers: addresses
                .iter()
                .filter(|a| **a != host.address)
                .cloned()
                .collect(),
            // A port the platform itself uses between hosts.
            peer_port: manifest.ports().first().copied().unwrap_or(22),
        };
        let opened = match targets.hosts.get(&host.address) {
            Some(t) => Ok(t.clone()),
            None => Err(targets.unreachable.get(&host.address).cloned()),
        };
        let login = Login {
            user: connector.for_host(&host.address).user,
            port: connector.for_host(&host.address).port,
            known_hosts: connector.known_hosts.clone(),
        };
        let (limit, tx) = (limit.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            check_host(ctx, spec, opened, login, &tx).await
        }));
    }
    let mut results = Vec::new();
    let mut facts: BTreeMap<String, HashMap<String, String>> = BTreeMap::new();
    for task in tasks {
        if let Ok((r, f)) = task.await {
            results.extend(r);
            if let Some((addr, f)) = f {
                facts.insert(addr, f);
            }
        }
    }
    let down: Vec<String> = results
        .iter()
        .filter(|r| r.id == "ssh.reach" && r.status == Status::Fail)
        .filter_map(|r| r.host.clone())
        .collect();
    let (cross_results, cross_facts) = cross::evaluate(&facts, &down);
    for r in &cross_results {
        emit(&tx, Event::CheckFinished(r.clone())).await;
    }
    results.extend(cross_results);
    apply_waivers(&mut results, &waivers);
    let order = |r: &CheckResult| {
        (
            CATALOGUE
                .iter()
                .position(|c| c.id == r.id)
                .unwrap_or(usize::MAX),
            r.host
                .as_ref()
                .and_then(|h| addresses.iter().position(|a| a == h))
                .unwrap_or(usize::MAX),
        )
    };
    results.sort_by_key(order);
    CheckRun {
        results,
        latency: cross_facts.latency,
        waivers,
        hosts: addresses.clone(),
        secs: started.elapsed().as_secs_f64(),
    }
}

type HostOutcome = (Vec<CheckResult>, Option<(String, HashMap<String, String>)>);

/// What the ssh.* checks say of a host's login.
struct Login {
    user: String,
    port: u16,
    known_hosts: std::path::PathBuf,
}

async fn check_host(
    mut ctx: HostContext,
    spec: ProbeSpec,
    opened: Result<Arc<Target>, Option<Unopened>>,
    login: Login,
    tx: &Option<EventSender>,
) -> HostOutcome {
    let started = Instant::now();
    let addr = ctx.address.clone();
    let h = Some(addr.as_str());
    emit(tx, Event::ChecksStarted { host: addr.clone() }).await;
    let mut out = Vec::new();
    let mut facts = None;
    // Every host check after `from` is not judged, for `why`.
    let skip_rest = |from: &str, out: &mut Vec<CheckResult>, why: Msg| {
        let after = CATALOGUE.iter().position(|c| c.id == from).unwrap_or(0);
        for c in CATALOGUE.iter().skip(after + 1).filter(|c| !c.cross_host) {
            out.push(CheckResult::new(c.id, h, Status::Skip, why.clone()));
        }
    };
    let reached = |rtt: Duration| {
        CheckResult::new(
            "ssh.reach",
            h,
            Status::Pass,
            m("ssh.reach.ok").arg("ms", format!("{:.1}", rtt.as_secs_f64() * 1000.0)),
        )
    };
    let logged_in = || {
        CheckResult::new(
            "ssh.login",
            h,
            Status::Pass,
            m("ssh.login.ok").arg("user", &login.user),
        )
    };
    match opened {
        Err(None) => {
            // Not opened at all (the run did not ask for it).
            skip_rest("ssh.reach", &mut out, m("common.not-reached"));
        }
        Err(Some(Unopened {
            stage: Stage::Reach,
            failure: e,
            ..
        })) => {
            out.push(
                CheckResult::new(
                    "ssh.reach",
                    h,
                    Status::Fail,
                    m("ssh.reach.fail").arg("detail", &e),
                )
                .hint(m("ssh.reach.hint"))
                .fix(format!("ping -c 3 {addr}; nc -vz {addr} {}", login.port)),
            );
            skip_rest("ssh.reach", &mut out, m("common.not-reached"));
        }
        Err(Some(Unopened {
            failure: ConnectFailure::NoRoot(d),
            rtt,
            ..
        })) => {
            out.push(reached(rtt.unwrap_or_default()));
            out.push(logged_in());
            out.push(
                CheckResult::new(
                    "ssh.root",
                    h,
                    Status::Fail,
                    m("ssh.root.fail").arg("detail", d),
                )
                .hint(m("ssh.root.hint")),
            );
            skip_rest("ssh.root", &mut out, m("common.not-reached"));
        }
        Err(Some(Unopened {
            failure: e, rtt, ..
        })) => {
            out.push(reached(rtt.unwrap_or_default()));
            let (key, hint) = match &e {
                ConnectFailure::AuthRejected(_) => {
                    ("ssh.login.rejected", "ssh.login.rejected-hint")
                }
                ConnectFailure::HostKeyChanged(_) => {
                    ("ssh.login.hostkey", "ssh.login.hostkey-hint")
                }
                ConnectFailure::Bastion(_) => ("ssh.login.bastion", "ssh.login.bastion-hint"),
                _ => ("ssh.login.fail", "ssh.login.fail-hint"),
            };
            let mut r = CheckResult::new("ssh.login", h, Status::Fail, m(key).arg("detail", &e))
                .hint(m(hint));
            if matches!(e, ConnectFailure::HostKeyChanged(_)) {
                r = r.fix(format!(
                    "ssh-keygen -R {addr} -f {}",
                    login.known_hosts.display()
                ));
            }
            out.push(r);
            skip_rest("ssh.login", &mut out, m("common.not-reached"));
        }
        Ok(target) => {
            out.push(reached(target.rtt));
            out.push(logged_in());
            out.push(CheckResult::new(
                "ssh.root",
                h,
                Status::Pass,
                m("ssh.root.ok"),
            ));
            ctx.sent_at = now();
            match target.conn.run(&probe::script(&spec), PROBE_TIMEOUT).await {
                Ok(o) if o.stdout.contains("probe.done=yes") => {
                    let f = probe::parse(&o.stdout);
                    out.extend(evaluate_host(&ctx, &f));
                    let engine_runs = f.get("docker.server").is_some_and(|v| !v.is_empty());
                    out.push(docker_api(&target, engine_runs).await);
                    if let Some(name) = f.get("hostname") {
                        target.set_hostname(name);
                    }
                    facts = Some((addr.clone(), f));
                }
                failed => {
                    let detail = match failed {
                        Ok(o) => o.stderr.lines().last().unwrap_or("").to_string(),
                        Err(e) => e.to_string(),
                    };
                    // Everything the probe would have measured.
                    skip_rest(
                        "ssh.root",
                        &mut out,
                        m("common.probe-failed").arg("detail", &detail),
                    );
                }
            }
        }
    }
    for r in &out {
        emit(tx, Event::CheckFinished(r.clone())).await;
    }
    emit(
        tx,
        Event::ChecksHostDone {
            host: addr,
            secs: started.elapsed().as_secs_f64(),
        },
    )
    .await;
    (out, facts)
}

/// `runtime.docker-api`: the engine's API reached exactly as deploy will
/// reach it (the forwarded socket, or through sudo: the run's own), before
/// anything is changed.
async fn docker_api(target: &Target, engine_runs: bool) -> CheckResult {
    let h = Some(target.address.as_str());
    let m = |key: &str| Msg::new(format!("check.{key}"));
    if !engine_runs {
        return CheckResult::new(
            "runtime.docker-api",
            h,
            Status::Skip,
            m("runtime.docker-api.no-engine"),
        );
    }
    let how = if target.docker_via_sudo {
        "sudo docker system dial-stdio"
    } else {
        "ssh"
    };
    let fail = |detail: String| {
        CheckResult::new(
            "runtime.docker-api",
            h,
            Status::Fail,
            m("runtime.docker-api.fail").arg("detail", detail),
        )
        .hint(m("runtime.docker-api.hint"))
    };
    match target.docker() {
        Ok(docker) => match docker.version().await {
            Ok(v) => CheckResult::new(
                "runtime.docker-api",
                h,
                Status::Pass,
                m("runtime.docker-api.ok")
                    .arg("version", v.version.unwrap_or_default())
                    .arg("how", how),
            ),
            Err(e) => fail(e.to_string()),
        },
        Err(e) => fail(e.args.get("error").cloned().unwrap_or_default()).fix(format!(
            "echo '{} ALL=(root) /usr/bin/docker system dial-stdio' > /etc/sudoers.d/cdwiz-docker",
            target.conn.user
        )),
    }
}
