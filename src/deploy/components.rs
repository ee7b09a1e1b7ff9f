//! The components phase: in dependency order across hosts, each healthy
//! before the components that need it; or, when a new release replaces a
//! running one on several hosts, host by host (rolling), each host healthy
//! before the next is touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::step::{Run, StepError};
use super::{HEALTH_TIMEOUT, Target, Targets, container, health, ordered};

/// How long a member's handover may take (a switchover waits for a
/// standby to catch up and be promoted).
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(120);
use crate::bundle::Component;
use crate::event::StepOutcome;
use crate::i18n::Msg;

/// Starts every component where it is placed; which hosts each runs on.
pub(super) async fn start_all(
    run: &Run<'_>,
    targets: &Targets,
    placed: &BTreeMap<String, Vec<String>>,
) -> HashMap<String, BTreeSet<String>> {
    let manifest = &run.input.bundle.manifest;
    let ctx = run.ctx;
    let mut up: HashMap<String, BTreeSet<String>> = HashMap::new();
    for c in ordered(&manifest.components) {
        let missing: Vec<&String> = c
            .depends_on
            .iter()
            .filter(|d| {
                placed.get(*d).is_some_and(|p| !p.is_empty())
                    && up.get(*d).is_none_or(|u| u.is_empty())
            })
            .collect();
        let step = format!("component {}", c.name);
        let runs = placed[&c.name].iter().filter_map(|addr| {
            let t = targets.hosts.get(addr)?;
            let (run, step, missing) = (run, &step, &missing);
            Some(async move {
                if !missing.is_empty() && !run.failed(addr) && !ctx.cancel.is_cancelled() {
                    let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                    run.record(
                        addr,
                        step,
                        StepOutcome::Skipped {
                            reason: Msg::new("deploy.skip.needs").arg("names", names.join(", ")),
                        },
                        0.0,
                    )
                    .await;
                    return None;
                }
                run.step(addr, step, || start_component(run, t, c))
                    .await
                    .then(|| addr.clone())
            })
        });
        // In service, a component on several hosts is replaced on one at a
        // time, so that the others serve meanwhile (keepalived's VIP, the
        // backends behind the web tier).
        let bootstrap_first = c
            .cluster
            .as_ref()
            .is_some_and(|k| k.form == crate::bundle::ClusterForm::BootstrapThenJoin);
        let ok: BTreeSet<String> = if run.input.in_service && placed[&c.name].len() > 1 {
            let mut ok = BTreeSet::new();
            for one in runs {
                ok.extend(one.await);
            }
            ok
        } else if bootstrap_first && placed[&c.name].len() > 1 {
            // A cluster that forms around its first member: that one is
            // started and healthy before the others join it.
            let mut runs = runs.collect::<Vec<_>>().into_iter();
            // Only the first member's own host may go first (one that was
            // not reached leaves nobody to join).
            let reached = targets.hosts.contains_key(&placed[&c.name][0]);
            let first = match runs.next() {
                Some(one) if reached => one.await,
                _ => None,
            };
            match first {
                Some(bootstrap) => {
                    let mut ok: BTreeSet<String> = futures_util::future::join_all(runs)
                        .await
                        .into_iter()
                        .flatten()
                        .collect();
                    ok.insert(bootstrap);
                    ok
                }
                None => {
                    let bootstrap = placed[&c.name][0].clone();
                    for addr in placed[&c.name].iter().skip(1) {
                        if !run.failed(addr) && !ctx.cancel.is_cancelled() {
                            let reason = Msg::new("deploy.skip.bootstrap")
                                .arg("name", &c.name)
                                .arg("host", &bootstrap);
                            run.record(addr, &step, StepOutcome::Skipped { reason }, 0.0)
                                .await;
                        }
                    }
                    BTreeSet::new()
                }
            }
        } else {
            futures_util::future::join_all(runs)
                .await
                .into_iter()
                .flatten()
                .collect()
        };
        up.insert(c.name.clone(), ok);
    }

    up
}

/// The rolling components phase: one host at a time in the profile's
/// order, every component placed there in dependency order, each healthy
/// before the next; the host's install record then says the new release.
/// Before a host's containers are replaced its keepalived is stopped, so the
/// VIP moves to a master that serves. A host that fails stops the rollout:
/// the hosts after it are not touched (they keep the release they run).
pub(super) async fn roll(
    run: &Run<'_>,
    targets: &Targets,
    placed: &BTreeMap<String, Vec<String>>,
    stopped_at: Option<String>,
) -> HashMap<String, BTreeSet<String>> {
    let manifest = &run.input.bundle.manifest;
    let mut up: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut stopped_at = stopped_at;
    for h in &run.input.answers.hosts {
        let addr = &h.address;
        let Some(t) = targets.hosts.get(addr) else {
            // Could not be opened: failed at its first step already.
            stopped_at.get_or_insert_with(|| addr.clone());
            continue;
        };
        let here: Vec<&Component> = ordered(&manifest.components)
            .into_iter()
            .filter(|c| placed[&c.name].contains(addr))
            .collect();
        if run.failed(addr) {
            // Failed before its turn (an earlier phase, an upgrade hook):
            // not touched, and the rollout stops here.
            stopped_at.get_or_insert_with(|| addr.clone());
            continue;
        }
        if let Some(first) = &stopped_at {
            for c in &here {
                run.record(
                    addr,
                    &format!("component {}", c.name),
                    StepOutcome::Skipped {
                        reason: Msg::new("deploy.skip.rollout-stopped").arg("host", first),
                    },
                    0.0,
                )
                .await;
            }
            continue;
        }
        if run.ctx.cancel.is_cancelled() {
            // The operator stopped the run: nothing more is touched (each
            // step is recorded as stopped).
            for c in &here {
                run.step(addr, &format!("component {}", c.name), || async {
                    Ok::<bool, StepError>(false)
                })
                .await;
            }
            continue;
        }
        if let Err(e) = hand_over_vip(run, t, &here).await {
            run.ctx.logs.log(addr, &format!("keepalived: {e}"));
        }
        for c in &here {
            let step = format!("component {}", c.name);
            let replace = || async move {
                hand_over(run, t, c).await?;
                start_component(run, t, c).await
            };
            if run.step(addr, &step, replace).await {
                up.entry(c.name.clone()).or_default().insert(addr.clone());
            }
        }
        if run.failed(addr) {
            stopped_at.get_or_insert_with(|| addr.clone());
            continue;
        }
        if run.ctx.cancel.is_cancelled() {
            continue;
        }
        let record = super::host::install_record_file(run.input, t).await;
        let files = [super::step::FileSpec {
            path: super::INSTALL_RECORD.to_string(),
            mode: "644",
            content: record.as_bytes(),
        }];
        if let Err(e) = super::step::put_files(t, &files).await {
            run.ctx
                .logs
                .log(addr, &format!("install record: {}", e.message.render("en")));
        }
        run.ctx.logs.log(
            addr,
            &format!("rollout: {addr} runs {}", manifest.product.version),
        );
    }
    up
}

/// The manifest's upgrade hooks, in dependency order, each once on the
/// first host its component runs on, from the new image with the
/// component's environment and mounts. The host where one failed (nothing
/// is upgraded then), if any.
pub(super) async fn upgrade_hooks(
    run: &Run<'_>,
    targets: &Targets,
    placed: &BTreeMap<String, Vec<String>>,
) -> Option<String> {
    for c in ordered(&run.input.bundle.manifest.components) {
        let Some(hook) = &c.upgrade else {
            continue;
        };
        // A component this topology does not place has nothing to migrate.
        let Some(addr) = placed[&c.name].first() else {
            continue;
        };
        let step = format!("upgrade {}", c.name);
        let ok = match targets.hosts.get(addr) {
            Some(t) => {
                run.step(addr, &step, || run_hook(run, t, c, &hook.command))
                    .await
            }
            None => false,
        };
        if !ok {
            return Some(addr.clone());
        }
    }
    None
}

async fn run_hook(
    run: &Run<'_>,
    t: &Target,
    c: &Component,
    command: &[String],
) -> Result<bool, StepError> {
    let docker = t.docker().await?;
    let addr = t.address.as_str();
    let want = container::wanted(run.input.rendered, addr, &t.data_dir, c)?;
    let logs = run.ctx.logs.clone();
    logs.log(
        addr,
        &format!("upgrade hook of {}: {}", c.name, command.join(" ")),
    );
    let code = container::run_once(docker, &want, command, addr, logs, super::HOOK_TIMEOUT)
        .await
        .map_err(Msg::from)?;
    if code != 0 {
        return Err(StepError {
            message: Msg::new("deploy.error.upgrade-hook")
                .arg("component", &c.name)
                .arg("code", code),
            code: Some(code as i32),
        });
    }
    Ok(true)
}

/// Stops this host's keepalived (gracefully: it gives the VIP up at once)
/// when any of the host's containers is about to be replaced; the
/// keepalived step starts it again once the rest is healthy.
async fn hand_over_vip(run: &Run<'_>, t: &Target, here: &[&Component]) -> Result<(), String> {
    if !here.iter().any(|c| c.name == "keepalived") {
        return Ok(());
    }
    let docker = t.docker().await.map_err(|e| e.render("en"))?;
    let addr = t.address.as_str();
    let mut replaced = false;
    for c in here {
        let want = container::wanted(run.input.rendered, addr, &t.data_dir, c)
            .map_err(|m| m.render("en"))?;
        replaced |= !container::is_current(docker, &want).await?;
    }
    if replaced && container::remove(docker, "keepalived").await? {
        run.ctx.logs.log(
            addr,
            "keepalived stopped: the VIP moves to another master while this host is replaced",
        );
        // The new holder announces itself (gratuitous ARP) within a second.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(())
}

/// Before a running member of a cluster is replaced in service: the
/// manifest's `cluster.handover` command in its container, so that what it
/// leads (a database's primary, a cache's) moves to another member first
/// and the clients see a planned switchover, not a lost member. Nothing
/// when the member stays as it is or does not run. When the handover
/// fails, the member is not replaced (the rollout stops at this host).
async fn hand_over(run: &Run<'_>, t: &Target, c: &Component) -> Result<(), StepError> {
    let Some(cmd) = c
        .cluster
        .as_ref()
        .map(|k| &k.handover)
        .filter(|h| !h.is_empty())
    else {
        return Ok(());
    };
    let docker = t.docker().await?;
    let addr = t.address.as_str();
    let want = container::wanted(run.input.rendered, addr, &t.data_dir, c)?;
    if container::is_current(docker, &want).await? || !container::runs(docker, &c.name).await? {
        return Ok(());
    }
    let name = container::name(&c.name);
    let shown = cmd.join(" ");
    run.ctx
        .logs
        .log(addr, &format!("handover of {name}: {shown}"));
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let asked = crate::docker::exec(docker, &name, &argv);
    let out = tokio::time::timeout(HANDOVER_TIMEOUT, asked).await;
    let failed = |code: String, output: String| {
        Msg::new("deploy.error.handover")
            .arg("container", &name)
            .arg("code", code)
            .arg("output", output)
    };
    match out {
        Err(_) => Err(failed(
            format!("no end within {} s", HANDOVER_TIMEOUT.as_secs()),
            "-".into(),
        )
        .into()),
        Ok(Err(e)) => Err(failed("-".into(), e.to_string()).into()),
        Ok(Ok(out)) => {
            for line in out.output.lines().filter(|l| !l.trim().is_empty()) {
                run.ctx
                    .logs
                    .log(addr, &format!("{name}: {}", crate::text::line(line)));
            }
            if out.code == 0 {
                return Ok(());
            }
            let last = out.output.lines().rev().find(|l| !l.trim().is_empty());
            let last = crate::text::line(last.unwrap_or("-").trim());
            Err(failed(out.code.to_string(), last).into())
        }
    }
}

async fn start_component(run: &Run<'_>, t: &Target, c: &Component) -> Result<bool, StepError> {
    let docker = t.docker().await?;
    let addr = t.address.as_str();
    let want = container::wanted(run.input.rendered, addr, &t.data_dir, c)?;
    let changed = container::ensure(docker, &want).await?;
    if changed {
        run.ctx
            .logs
            .log(addr, &format!("started {}", container::name(&c.name)));
    }
    if let Some(h) = &c.health {
        let follower =
            changed.then(|| container::follow(docker.clone(), &c.name, addr, run.ctx.logs.clone()));
        let name = container::name(&c.name);
        let healthy = health::wait(addr, h, Some((docker, &name)), HEALTH_TIMEOUT).await;
        if let Some(f) = follower {
            // Let the last lines arrive before the follower stops.
            tokio::time::sleep(Duration::from_millis(if healthy.is_err() {
                1000
            } else {
                200
            }))
            .await;
            f.abort();
        }
        healthy.map_err(|e| {
            Msg::new("deploy.error.unhealthy")
                .arg("container", container::name(&c.name))
                .arg_msg("error", e)
        })?;
    } else if changed && run.input.in_service {
        tokio::time::sleep(super::SETTLE).await;
    }
    Ok(changed)
}
