//! `cdwiz drill`: the HA acceptance record a pre-sales engineer hands the
//! customer. With the installation whole (`status` all well) and a write
//! loop going through the platform's entry (the manifest's `entry.drill`,
//! four writes a second), each host in turn loses the platform's
//! containers at once, as in a power loss; the drill measures how long the
//! entry failed writes, keeps the host out a while longer, brings its
//! containers back and waits until every cluster is whole again before the
//! next host. At the end every acknowledged write is read back. The hosts
//! are locked against other runs meanwhile; a drill stopped by Ctrl-C
//! brings back the host it took out first.

mod hosts;
mod report;
pub mod writes;

pub use report::{DrillReport, HostDrill};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::connect::{Connector, Secrets, Targets};
use crate::i18n::Msg;
use crate::profile::{Answers, TopologyKind};
use crate::run::{ErrorKind, RunError};
use crate::status::{StatusReport, StatusRequest};

/// How long the entry may fail writes after a host went out before the
/// drill calls it a failure (and stops).
const ENTRY_BOUND: Duration = Duration::from_secs(120);
/// How long every cluster may take to be whole again after a host's
/// containers started.
const WHOLE_BOUND: Duration = Duration::from_secs(300);
/// How often the drill asks whether the clusters are whole.
const POLL: Duration = Duration::from_secs(3);

/// What a drill needs.
pub struct DrillRequest {
    pub answers: Answers,
    /// The profile file, for error lines.
    pub profile: PathBuf,
    pub base: PathBuf,
    pub data_dir: PathBuf,
    pub locale: String,
    /// How long a host stays out after the entry took writes again.
    pub hold: Duration,
    /// Ctrl-C: the host that is out comes back, and the drill ends.
    pub cancel: CancellationToken,
}

/// What the drill is doing, as it does it.
#[derive(Debug, Clone)]
pub enum DrillEvent {
    /// The write loop started through `entry`.
    Started { entry: String, hosts: usize },
    /// `host` lost the platform's containers; what it led then.
    HostOut { host: String, held: Vec<String> },
    /// Writes acknowledged again, `secs` after the host went out.
    EntryBack { host: String, secs: f64 },
    /// The host's containers started again.
    HostBack { host: String },
    /// Every cluster whole again, `secs` after the host came back.
    Whole { host: String, secs: f64 },
    /// The acknowledged writes being read back.
    Reading { acknowledged: usize },
}

/// Why a drill did not run.
#[derive(Debug)]
pub enum DrillError {
    /// Bad input, or the hosts are held by another run (exit 2).
    Run(RunError),
    /// The installation is not whole before the drill: what is not well
    /// (exit 5): a drill proves failover from a whole installation only.
    NotWell(Vec<Msg>),
}

impl From<RunError> for DrillError {
    fn from(e: RunError) -> Self {
        DrillError::Run(e)
    }
}

/// What the drill is about to do, for the operator to confirm.
#[derive(Debug, Clone)]
pub struct DrillPlan {
    /// Where the writes go (`http://host:port`).
    pub entry: String,
    /// The hosts taken out in turn, in this order.
    pub hosts: Vec<String>,
}

/// Runs the drill on every host of the answers that runs a component, in
/// the profile's order, once the installation is found whole and
/// `confirm` agreed to the plan (nothing is touched before).
pub async fn drill(
    mut req: DrillRequest,
    confirm: &(dyn Fn(&DrillPlan) -> bool + Sync),
    events: &(dyn Fn(DrillEvent) + Sync),
) -> Result<Option<DrillReport>, DrillError> {
    crate::installation::adopt(&req.data_dir, &mut req.answers);
    let locale = req.locale.clone();
    let a = &req.answers;
    let bad = |line: String| RunError::new(ErrorKind::BadInput, vec![line]);
    let bundle = crate::run::manifest_only(a, &req.base, &req.data_dir, &req.profile, &locale)?;
    let shown = req.profile.display().to_string();
    if a.topology.kind == TopologyKind::K8s {
        let m = Msg::new("drill.error.k8s").render(&locale);
        return Err(bad(format!("{shown}: {m}")).into());
    }
    let m = &bundle.manifest;
    let Some((requests, base, write)) = requests(a, m) else {
        let m = Msg::new("drill.error.no-requests")
            .arg("bundle", bundle.dir.display())
            .render(&locale);
        return Err(bad(m).into());
    };
    let secrets = crate::run::secrets_or_profile(None, a, &req.base, &req.profile, &locale)?;

    // Whole before anything is touched.
    let before = status(&req, &secrets).await?;
    let problems = before.problems();
    if !problems.is_empty() {
        return Err(DrillError::NotWell(problems));
    }

    let order: Vec<String> = a
        .hosts
        .iter()
        .map(|h| h.address.clone())
        .filter(|addr| {
            m.components
                .iter()
                .any(|c| crate::plan::placement(a, c).contains(addr))
        })
        .collect();
    let plan = DrillPlan {
        entry: base.clone(),
        hosts: order.clone(),
    };
    if !confirm(&plan) {
        return Ok(None);
    }
    let askpass = crate::connect::askpass_program();
    let mut connector = Connector::new(a, secrets.clone(), &req.data_dir, &req.base, askpass);
    connector.install_key = false;
    let connector = Arc::new(connector);
    let targets = Targets::open(&connector, a).await;
    if let Some((addr, why)) = targets.unreachable.iter().next() {
        let line = format!("{addr}: {}", why.failure.message().render(&locale));
        targets.close().await;
        return Err(bad(line).into());
    }
    let run = format!("drill-{}", crate::rundir::new_run_id());
    let me = crate::deploy::lock::Holder::me(&run);
    if let Err(refused) = crate::deploy::lock::acquire_all(&targets, &me, false).await {
        let lines = refused
            .iter()
            .map(|(h, r)| format!("{h}: {}", r.message().render(&locale)))
            .collect();
        targets.close().await;
        return Err(RunError::new(ErrorKind::Refused, lines).into());
    }
    let heartbeat = crate::deploy::lock::heartbeat(&targets, Default::default());
    let target = writes::Target {
        base: base.clone(),
        write,
    };
    let install = a.install.clone().unwrap_or_default();
    let writer = writes::Writer::start(target, format!("cdwiz drill {install} {run}"));
    let mut report = DrillReport::new(&base, &run, order.len());
    events(DrillEvent::Started {
        entry: base.clone(),
        hosts: order.len(),
    });
    // The writes settle before the first host goes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut last = before;
    for addr in &order {
        if req.cancel.is_cancelled() {
            report.interrupted = true;
            break;
        }
        let Some(t) = targets.hosts.get(addr) else {
            continue;
        };
        let here: Vec<&crate::bundle::Component> = crate::deploy::ordered(&m.components)
            .into_iter()
            .filter(|c| crate::plan::placement(a, c).contains(addr))
            .collect();
        let (one, whole) = one_host(&req, &secrets, t, &here, &writer, &last, events).await;
        let stop = one.error.is_some() || whole.is_none();
        report.hosts.push(one);
        match whole {
            Some(now) => last = now,
            None => break,
        }
        if stop {
            break;
        }
    }
    report.interrupted |= req.cancel.is_cancelled();
    let written = writer.stop().await;
    events(DrillEvent::Reading {
        acknowledged: written.iter().filter(|w| w.id.is_some()).count(),
    });
    let (lost, unread) = writes::read_back(&written, &base, |id| {
        requests.read_path(id).unwrap_or_default()
    })
    .await;
    report.count(&written, lost, unread);
    heartbeat.abort();
    let _ = heartbeat.await;
    crate::deploy::lock::release_all(&targets, &run).await;
    targets.close().await;
    Ok(Some(report))
}

/// The manifest's drill requests, where they go (`http://host[:port]`)
/// and the write's path; none when it names none, or names them wrongly.
fn requests(
    a: &Answers,
    m: &crate::bundle::Manifest,
) -> Option<(crate::bundle::EntryDrill, String, String)> {
    let requests = m.entry.as_ref()?.drill.clone()?;
    let (host, port, _) = crate::plan::entry_url(a, m)?;
    let write = requests.write_path()?.to_string();
    requests.read_path(1)?;
    Some((requests, crate::deploy::url(&host, port, ""), write))
}

/// One host out and back: what it led, how long writes failed, how long
/// until the clusters were whole again (with the status that said so;
/// none: not within the bound, or the drill was stopped).
async fn one_host(
    req: &DrillRequest,
    secrets: &Secrets,
    t: &crate::connect::Target,
    here: &[&crate::bundle::Component],
    writer: &writes::Writer,
    last: &StatusReport,
    events: &(dyn Fn(DrillEvent) + Sync),
) -> (HostDrill, Option<StatusReport>) {
    let addr = t.address.clone();
    let mut one = HostDrill::new(&addr, held(last, &addr));
    let docker = match t.docker().await {
        Ok(d) => d,
        Err(e) => {
            one.error = Some(e);
            return (one, None);
        }
    };
    let out = Instant::now();
    if let Err(e) = hosts::take_out(docker, here).await {
        one.error = Some(Msg::new("drill.error.take-out").arg("error", e));
        let _ = hosts::bring_back(docker, here).await;
        return (one, None);
    }
    events(DrillEvent::HostOut {
        host: addr.clone(),
        held: one.held.clone(),
    });
    // Writes acknowledged again (or the bound, or Ctrl-C).
    while !writer.acknowledged_since(out)
        && out.elapsed() < ENTRY_BOUND
        && !req.cancel.is_cancelled()
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let window: Vec<writes::Write> = writer
        .writes()
        .into_iter()
        .filter(|w| w.asked >= out)
        .collect();
    let gap = writes::gap(&window, out);
    if let Some(g) = gap {
        events(DrillEvent::EntryBack {
            host: addr.clone(),
            secs: g.as_secs_f64(),
        });
        // Out a while longer: the platform keeps working without it.
        tokio::select! {
            _ = req.cancel.cancelled() => {}
            _ = tokio::time::sleep(req.hold) => {}
        }
    } else if !req.cancel.is_cancelled() {
        one.error = Some(Msg::new("drill.error.entry").arg("secs", ENTRY_BOUND.as_secs()));
    }
    let back = hosts::bring_back(docker, here).await;
    let window: Vec<writes::Write> = writer
        .writes()
        .into_iter()
        .filter(|w| w.asked >= out)
        .collect();
    one.measure(&window, writes::gap(&window, out));
    if let Err(e) = back {
        one.error = Some(
            Msg::new("drill.error.bring-back")
                .arg("error", e)
                .arg("profile", req.profile.display()),
        );
        return (one, None);
    }
    events(DrillEvent::HostBack { host: addr.clone() });
    if req.cancel.is_cancelled() {
        return (one, None);
    }
    let started = Instant::now();
    let mut problems = Vec::new();
    while started.elapsed() < WHOLE_BOUND && !req.cancel.is_cancelled() {
        match status(req, secrets).await {
            Ok(now) if now.problems().is_empty() => {
                one.whole_secs = Some(started.elapsed().as_secs_f64());
                events(DrillEvent::Whole {
                    host: addr,
                    secs: started.elapsed().as_secs_f64(),
                });
                return (one, Some(now));
            }
            Ok(now) => problems = now.problems(),
            Err(_) => {}
        }
        tokio::select! {
            _ = req.cancel.cancelled() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    if !req.cancel.is_cancelled() {
        let what: Vec<String> = problems.iter().map(|p| p.render(&req.locale)).collect();
        one.error = Some(
            Msg::new("drill.error.not-whole")
                .arg("secs", WHOLE_BOUND.as_secs())
                .arg("problems", what.join("; ")),
        );
    }
    (one, None)
}

/// What `addr` led in `report`: its members that are primaries or leaders,
/// and the VIP if it held it.
fn held(report: &StatusReport, addr: &str) -> Vec<String> {
    let mut out: Vec<String> = report
        .clusters
        .iter()
        .flat_map(|c| {
            c.members
                .iter()
                .filter(|m| m.address == addr)
                .filter_map(|m| m.role.as_deref())
                .filter(|r| matches!(*r, "primary" | "leader"))
                .map(|r| format!("{} {r}", c.component))
                .collect::<Vec<_>>()
        })
        .collect();
    if report
        .vip
        .as_ref()
        .is_some_and(|v| v.held_by.iter().any(|h| h == addr))
    {
        out.push("VIP".into());
    }
    out
}

/// `cdwiz status` of the drill's installation, now.
async fn status(req: &DrillRequest, secrets: &Secrets) -> Result<StatusReport, RunError> {
    crate::status::status(StatusRequest {
        answers: req.answers.clone(),
        profile: req.profile.clone(),
        base: req.base.clone(),
        data_dir: req.data_dir.clone(),
        secrets: Some(secrets.clone()),
        locale: req.locale.clone(),
    })
    .await
}
