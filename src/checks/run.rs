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
use crate::connect::{ConnectFailure, Connector, Opener, Stage, Target, Unopened};
use crate::event::{Event, EventSender};
use crate::i18n::Msg;
use crate::profile::Answers;

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

/// Runs every check on every host of the answers, each on the run's
/// connection to it that `open` gives (opening it when it is not yet: a
/// host is probed as soon as it is logged in, not after the slowest).
/// `vip_installed`: this installation's keepalived already announces the
/// VIP (a host joining it sees the VIP answer).
pub async fn run_checks(
    answers: &Answers,
    manifest: &Manifest,
    open: Opener,
    connector: &Connector,
    waivers: Vec<Waiver>,
    vip_installed: bool,
    tx: Option<EventSender>,
) -> CheckRun {
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(DEFAULT_CONCURRENCY));
    let addresses: Vec<String> = answers.hosts.iter().map(|h| h.address.clone()).collect();
    let t = &answers.topology;
    let vip = crate::plan::vip(answers);
    let install_id = crate::profile::install_id(answers);
    let mut tasks = Vec::new();
    for host in &answers.hosts {
        let mut placed_ports: Vec<u16> = manifest
            .components
            .iter()
            .filter(|c| crate::plan::placement(answers, c).contains(&host.address))
            .flat_map(|c| c.ports.iter().copied())
            .collect();
        placed_ports.sort_unstable();
        placed_ports.dedup();
        let ctx = HostContext {
            address: host.address.clone(),
            roles: host.roles.clone(),
            topology: t.kind,
            data_dir: crate::plan::data_dir(host),
            data_disk: host.data_disk.clone(),
            format_data_disk: host.format_data_disk,
            ports: manifest.ports(),
            placed_ports,
            interface: vip
                .as_ref()
                .map(|v| v.interface.clone())
                .filter(|i| !i.is_empty()),
            vip: vip.as_ref().map(|v| v.address.clone()),
            architectures: manifest.architectures(),
            declared_arch: host.arch.map(|a| a.as_str().to_string()),
            requirements: manifest.requirements.clone(),
            sent_at: 0.0,
            received_at: 0.0,
            install_id: install_id.clone(),
            vip_installed,
        };
        let spec = ProbeSpec {
            data_dir: crate::plan::data_dir(host),
            data_disk: host.data_disk.clone(),
            ports: manifest.ports(),
            interface: vip
                .as_ref()
                .map(|v| v.interface.clone())
                .filter(|i| !i.is_empty()),
            vip: vip.as_ref().map(|v| v.address.clone()),
            peers: addresses
                .iter()
                .filter(|a| **a != host.address)
                .cloned()
                .collect(),
            // A port the platform itself uses between hosts.
            peer_port: manifest.ports().first().copied().unwrap_or(22),
        };
        let opening = open(host.address.clone());
        let login = Login {
            user: connector.for_host(&host.address).user,
            port: connector.for_host(&host.address).port,
            known_hosts: connector.known_hosts.clone(),
        };
        let (limit, tx) = (limit.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let opened = opening.await;
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
    sort_results(&mut results, &addresses);
    CheckRun {
        results,
        latency: cross_facts.latency,
        waivers,
        hosts: addresses.clone(),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Results in report order: by check as the catalogue lists them, then by
/// host as the profile does (cross-host results last).
pub fn sort_results(results: &mut [CheckResult], hosts: &[String]) {
    results.sort_by_key(|r| {
        (
            CATALOGUE
                .iter()
                .position(|c| c.id == r.id)
                .unwrap_or(usize::MAX),
            r.host
                .as_ref()
                .and_then(|h| hosts.iter().position(|a| a == h))
                .unwrap_or(usize::MAX),
        )
    });
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
    emit(tx, Event::ChecksStarted { host: addr.clone() }).await;
    let (out, facts) = match opened {
        Err(why) => (not_opened(&addr, why, &login), None),
        Ok(target) => {
            let h = Some(addr.as_str());
            let mut out = vec![
                reached(h, target.rtt),
                logged_in(h, &login, target.conn.first_key.as_deref()),
                CheckResult::new("ssh.root", h, Status::Pass, m("ssh.root.ok")),
            ];
            ctx.sent_at = now();
            let (probed, facts) = probe_host(&mut ctx, &spec, &target).await;
            out.extend(probed);
            (out, facts.map(|f| (addr.clone(), f)))
        }
    };
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

/// Every host check after `from`, not judged, for `why`.
fn skipped_after(from: &str, h: Option<&str>, why: Msg) -> Vec<CheckResult> {
    let after = CATALOGUE.iter().position(|c| c.id == from).unwrap_or(0);
    CATALOGUE
        .iter()
        .skip(after + 1)
        .filter(|c| !c.cross_host)
        .map(|c| CheckResult::new(c.id, h, Status::Skip, why.clone()))
        .collect()
}

fn reached(h: Option<&str>, rtt: Duration) -> CheckResult {
    CheckResult::new(
        "ssh.reach",
        h,
        Status::Pass,
        m("ssh.reach.ok").arg("ms", format!("{:.1}", rtt.as_secs_f64() * 1000.0)),
    )
}

/// Logged in; on the installation's first contact with the host, the
/// fingerprint of the key now remembered for it, to compare with the
/// host's own.
fn logged_in(h: Option<&str>, login: &Login, first_key: Option<&str>) -> CheckResult {
    let said = match first_key {
        Some(fp) => m("ssh.login.ok-first")
            .arg("user", &login.user)
            .arg("fp", fp),
        None => m("ssh.login.ok").arg("user", &login.user),
    };
    CheckResult::new("ssh.login", h, Status::Pass, said)
}

/// The connectivity checks of a host that could not be opened (`None`:
/// the run did not ask for it), and every later check skipped.
fn not_opened(addr: &str, why: Option<Unopened>, login: &Login) -> Vec<CheckResult> {
    let h = Some(addr);
    let unreached = m("common.not-reached");
    let Some(Unopened {
        stage,
        failure,
        rtt,
    }) = why
    else {
        return skipped_after("ssh.reach", h, unreached);
    };
    if stage == Stage::Reach {
        let mut out = vec![
            CheckResult::new(
                "ssh.reach",
                h,
                Status::Fail,
                m("ssh.reach.fail").arg_msg("detail", failure.message().clone()),
            )
            .hint(m("ssh.reach.hint"))
            .fix(format!("ping -c 3 {addr}; nc -vz {addr} {}", login.port)),
        ];
        out.extend(skipped_after("ssh.reach", h, unreached));
        return out;
    }
    let mut out = vec![reached(h, rtt.unwrap_or_default())];
    if let ConnectFailure::NoRoot(d) = &failure {
        out.push(logged_in(h, login, None));
        out.push(
            CheckResult::new(
                "ssh.root",
                h,
                Status::Fail,
                m("ssh.root.fail").arg_msg("detail", d.clone()),
            )
            .hint(m("ssh.root.hint")),
        );
        out.extend(skipped_after("ssh.root", h, unreached));
        return out;
    }
    let (key, hint) = match &failure {
        ConnectFailure::AuthRejected(_) => ("ssh.login.rejected", "ssh.login.rejected-hint"),
        ConnectFailure::HostKeyChanged(m) if m.key == "connect.hostkey-unexpected" => (
            "ssh.login.hostkey-unexpected",
            "ssh.login.hostkey-unexpected-hint",
        ),
        ConnectFailure::HostKeyChanged(_) => ("ssh.login.hostkey", "ssh.login.hostkey-hint"),
        ConnectFailure::Bastion(_) => ("ssh.login.bastion", "ssh.login.bastion-hint"),
        _ => ("ssh.login.fail", "ssh.login.fail-hint"),
    };
    let mut r = CheckResult::new(
        "ssh.login",
        h,
        Status::Fail,
        m(key).arg_msg("detail", failure.message().clone()),
    )
    .hint(m(hint));
    if key == "ssh.login.hostkey" {
        // Only once the host's administrator has confirmed the new key.
        let name = crate::connect::known_hosts_name(addr, login.port);
        r = r.fix(format!(
            "ssh-keygen -R '{name}' -f {}",
            login.known_hosts.display()
        ));
    }
    out.push(r);
    out.extend(skipped_after("ssh.login", h, unreached));
    out
}

/// The probe (one round trip; the Docker API opens over the same
/// connection meanwhile, as deploy will use it) and what it measured.
async fn probe_host(
    ctx: &mut HostContext,
    spec: &ProbeSpec,
    target: &Target,
) -> (Vec<CheckResult>, Option<HashMap<String, String>>) {
    let script = probe::script(spec);
    let (probed, _) = tokio::join!(target.conn.run(&script, PROBE_TIMEOUT), target.docker_api());
    ctx.received_at = now();
    let ctx = &*ctx;
    let h = Some(ctx.address.as_str());
    match probed {
        Ok(o) if o.stdout.contains("probe.done=yes") => {
            let mut f = probe::parse(&o.stdout);
            // When this machine sent the probe and had its answer: the window
            // in which the host read its clock (for the hosts' skew).
            f.insert("probe.sent".into(), format!("{:.3}", ctx.sent_at));
            f.insert("probe.received".into(), format!("{:.3}", ctx.received_at));
            let mut out = evaluate_host(ctx, &f);
            let engine_runs = f.get("docker.server").is_some_and(|v| !v.is_empty());
            out.push(docker_api(target, engine_runs).await);
            if let Some(name) = f.get("hostname") {
                target.set_hostname(name);
            }
            (out, Some(f))
        }
        failed => {
            let detail = match failed {
                Ok(o) => o.stderr.lines().last().unwrap_or("").to_string(),
                Err(e) => e.to_string(),
            };
            // Everything the probe would have measured.
            let why = m("common.probe-failed").arg("detail", &detail);
            (skipped_after("ssh.root", h, why), None)
        }
    }
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
    let how = |via_sudo: bool| {
        if via_sudo {
            "sudo docker system dial-stdio"
        } else {
            "ssh"
        }
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
    match target.docker_api().await {
        // Opening the API asked the engine its version through it.
        Ok((_, version, via_sudo)) => CheckResult::new(
            "runtime.docker-api",
            h,
            Status::Pass,
            m("runtime.docker-api.ok")
                .arg("version", version)
                .arg("how", how(via_sudo)),
        ),
        Err(e) => fail(e).fix(format!(
            "echo '{} ALL=(root) /usr/bin/docker system dial-stdio' > /etc/sudoers.d/cdwiz-docker",
            target.conn.user
        )),
    }
}
