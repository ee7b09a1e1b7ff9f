//! The components phase: in dependency order across hosts, each healthy
//! before the components that need it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::step::{Run, StepError};
use super::{HEALTH_TIMEOUT, Target, Targets, container, health, ordered};
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
        let ok: BTreeSet<String> = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect();
        up.insert(c.name.clone(), ok);
    }

    up
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
        let healthy = health::wait(addr, h, HEALTH_TIMEOUT).await;
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
    }
    Ok(changed)
}
