//! Deploy: the product onto the hosts, phase by phase (k0sctl-style), each
//! phase on its hosts in parallel with a concurrency bound:
//! pre-deploy hook → prepare (data disk, sysctl, /etc/hosts, directories,
//! secrets, install record) → runtime → images → configs → components in
//! dependency order across hosts (keepalived is one of them) → verify
//! through the single host, the VIP or the load balancer → post-deploy hook.
//!
//! Every step checks before it acts, so a second run changes nothing; each
//! finished step is written to the state file, so `--resume` skips it. A
//! host that fails stops there (its on-error hook runs) and the others go
//! on; the operator's stop request is honoured between steps.

pub mod container;
mod health;
pub mod hostlog;
pub mod k8s;
pub mod lock;
pub mod prepare;
pub mod secrets;
pub mod state;
pub mod summary;
mod targets;
mod uninstall;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::query_parameters::ImportImageOptions;
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::bundle::{Bundle, Component};
use crate::docker::has_image;
use crate::event::{Event, EventSender, StepOutcome};
use crate::i18n::Msg;
use crate::profile::{Answers, TopologyKind};
use crate::render::{RenderedFile, placement};
use crate::ssh::quote;
use hostlog::HostLogs;
use state::StateStore;

pub use targets::{Target, Targets};
pub use uninstall::{UninstallResult, uninstall};

/// Where a host remembers which installation it carries.
pub const INSTALL_RECORD: &str = "/etc/cdwiz/install.json";
/// The host name of steps that concern the whole cluster (verify).
pub const CLUSTER: &str = "cluster";
pub const DEFAULT_CONCURRENCY: usize = 16;
const HEALTH_TIMEOUT: Duration = Duration::from_secs(180);
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);
const CMD_TIMEOUT: Duration = Duration::from_secs(120);
const HOOK_TIMEOUT: Duration = Duration::from_secs(600);

/// Operator scripts run on every host around the deploy (their text, read
/// from the files the profile names).
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    pub pre_deploy: Option<String>,
    pub post_deploy: Option<String>,
    pub on_error: Option<String>,
}

/// What to deploy.
pub struct Input<'a> {
    pub answers: &'a Answers,
    pub bundle: &'a Bundle,
    pub rendered: &'a [RenderedFile],
    pub generated: &'a BTreeMap<String, String>,
    pub hooks: &'a Hooks,
}

/// How this run goes about it.
pub struct RunContext {
    pub run_id: String,
    pub state: Arc<StateStore>,
    pub logs: Arc<HostLogs>,
    pub cancel: CancellationToken,
    pub tx: Option<EventSender>,
    pub concurrency: usize,
    /// Trust the state file's finished steps (`--resume`).
    pub resume: bool,
}

/// What one step did on one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepRecord {
    pub host: String,
    pub step: String,
    #[serde(flatten)]
    pub outcome: StepOutcome,
    pub secs: u64,
}

/// A host's failure, with what the operator needs to act on it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub host: String,
    pub phase: String,
    pub step: String,
    pub message: Msg,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    pub last_lines: Vec<String>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct DeployReport {
    pub steps: Vec<StepRecord>,
    pub failures: Vec<Failure>,
    /// The operator stopped the run.
    pub cancelled: bool,
    /// Where the platform answers (`http://…`), when verified or planned.
    pub url: Option<String>,
    pub secs: f64,
}

impl DeployReport {
    pub fn changed(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.outcome == StepOutcome::Changed)
            .count()
    }
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && !self.cancelled
    }
}

/// An error of one step.
#[derive(Debug)]
struct StepError {
    message: Msg,
    code: Option<i32>,
}

impl<T: ToString> From<T> for StepError {
    fn from(e: T) -> Self {
        StepError {
            message: Msg::from(e.to_string()),
            code: None,
        }
    }
}

impl From<Msg> for StepError {
    fn from(message: Msg) -> Self {
        StepError {
            message,
            code: None,
        }
    }
}

/// The phase a step belongs to (for the failure summary).
pub fn phase_of(step: &str) -> &'static str {
    match step {
        s if s.starts_with("component ") => "components",
        s if s.starts_with("hook ") => "hooks",
        "prepare" => "prepare",
        "runtime" => "runtime",
        "images" => "images",
        "configs" => "configs",
        "verify" => "verify",
        "namespace" | "secret" | "apply" => "apply",
        "rollout" => "rollout",
        _ => "deploy",
    }
}

/// Components in dependency order (the given order among equals); a
/// dependency on a component not among them does not hold one back.
pub fn ordered<'a>(components: impl IntoIterator<Item = &'a Component>) -> Vec<&'a Component> {
    let components: Vec<&Component> = components.into_iter().collect();
    let mut done: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    while out.len() < components.len() {
        let before = out.len();
        for c in &components {
            if !done.contains(&c.name.as_str())
                && c.depends_on
                    .iter()
                    .all(|d| done.contains(&d.as_str()) || !components.iter().any(|x| &x.name == d))
            {
                done.push(&c.name);
                out.push(*c);
            }
        }
        if out.len() == before {
            // A dependency cycle: keep the given order for the rest.
            out.extend(
                components
                    .iter()
                    .filter(|c| !done.contains(&c.name.as_str())),
            );
            break;
        }
    }
    out
}

/// The steps each host will go through, in order (`cluster` for verify).
pub fn planned_steps(
    answers: &Answers,
    bundle: &Bundle,
    hooks: &Hooks,
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for h in &answers.hosts {
        let mut steps = Vec::new();
        if hooks.pre_deploy.is_some() {
            steps.push("hook pre-deploy".to_string());
        }
        steps.extend(["prepare", "runtime", "images", "configs"].map(String::from));
        for c in ordered(&bundle.manifest.components) {
            if placement(answers, c).contains(&h.address) {
                steps.push(format!("component {}", c.name));
            }
        }
        if hooks.post_deploy.is_some() {
            steps.push("hook post-deploy".to_string());
        }
        out.push((h.address.clone(), steps));
    }
    if entry_url(answers, bundle).is_some() {
        out.push((CLUSTER.to_string(), vec!["verify".to_string()]));
    }
    out
}

/// The URL the platform answers on once deployed (the manifest's entry
/// through the single host, the VIP or the load balancer).
pub fn entry_url(answers: &Answers, bundle: &Bundle) -> Option<(String, u16, String)> {
    let entry = bundle.manifest.entry.as_ref()?;
    let component = bundle
        .manifest
        .components
        .iter()
        .find(|c| c.name == entry.component)?;
    let port = entry.port.or_else(|| component.ports.first().copied())?;
    let t = &answers.topology;
    let (host, port) = match t.kind {
        TopologyKind::Single => (answers.hosts.first()?.address.clone(), port),
        TopologyKind::HaKeepalived => (t.vip.clone()?, port),
        TopologyKind::HaLb => (t.lb_address.clone()?, t.lb_port.unwrap_or(port)),
        TopologyKind::K8s => return None,
    };
    Some((
        host,
        port,
        entry.verify.clone().unwrap_or_else(|| "/".into()),
    ))
}

/// Formats an address and port for a URL (brackets for IPv6).
pub fn url(host: &str, port: u16, path: &str) -> String {
    let h = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if port == 80 {
        format!("http://{h}{path}")
    } else {
        format!("http://{h}:{port}{path}")
    }
}

struct Run<'a> {
    input: &'a Input<'a>,
    ctx: &'a RunContext,
    steps: Mutex<Vec<StepRecord>>,
    failures: Mutex<BTreeMap<String, Failure>>,
    limit: Semaphore,
}

impl<'a> Run<'a> {
    fn new(input: &'a Input<'a>, ctx: &'a RunContext) -> Run<'a> {
        Run {
            input,
            ctx,
            steps: Mutex::new(Vec::new()),
            failures: Mutex::new(BTreeMap::new()),
            limit: Semaphore::new(ctx.concurrency.max(1)),
        }
    }

    /// The report of the run: its steps and failures (a step skipped
    /// without a failure of its own becomes one, so a blocked run says
    /// why); marks the state complete when every planned step is done.
    fn finish(
        self,
        planned: &[(String, Vec<String>)],
        url: Option<String>,
        started: Instant,
    ) -> DeployReport {
        let ctx = self.ctx;
        let steps = self.steps.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut failures: Vec<Failure> = self
            .failures
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_values()
            .collect();
        let cancelled = ctx.cancel.is_cancelled();
        let all_done = planned
            .iter()
            .all(|(h, s)| s.iter().all(|s| ctx.state.is_done(h, s)));
        let _ = ctx.state.set_complete(failures.is_empty() && all_done);
        if failures.is_empty()
            && !cancelled
            && let Some(s) = steps
                .iter()
                .find(|s| matches!(s.outcome, StepOutcome::Skipped { .. }))
            && let StepOutcome::Skipped { reason } = &s.outcome
        {
            // Skipped without a failure of its own: say why.
            failures.push(Failure {
                host: s.host.clone(),
                phase: phase_of(&s.step).into(),
                step: s.step.clone(),
                message: reason.clone(),
                code: None,
                last_lines: ctx.logs.tail(&s.host),
            });
        }
        DeployReport {
            steps,
            failures,
            cancelled,
            url,
            secs: started.elapsed().as_secs_f64(),
        }
    }

    fn failed(&self, host: &str) -> bool {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(host)
    }

    async fn emit(&self, e: Event) {
        if let Some(tx) = &self.ctx.tx {
            let _ = tx.send(e).await;
        }
    }

    async fn record(&self, host: &str, step: &str, outcome: StepOutcome, secs: f64) {
        self.ctx.logs.log(
            host,
            &format!(
                "{step}: {}{}",
                outcome.word(),
                match &outcome {
                    StepOutcome::Failed { message, .. } => format!(": {}", message.render("en")),
                    StepOutcome::Skipped { reason } => format!(": {}", reason.render("en")),
                    _ => format!(" ({secs:.1} s)"),
                }
            ),
        );
        self.steps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(StepRecord {
                host: host.into(),
                step: step.into(),
                outcome: outcome.clone(),
                secs: secs.round() as u64,
            });
        self.emit(Event::DeployStep {
            host: host.into(),
            step: step.into(),
            outcome,
            secs,
        })
        .await;
    }

    /// Runs one step on one host unless the host already failed, the run
    /// was stopped, or (resuming) an earlier run finished it. Returns
    /// whether the host may go on.
    async fn step<F, Fut>(&self, host: &str, step: &str, f: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<bool, StepError>>,
    {
        if self.failed(host) {
            return false;
        }
        if self.ctx.cancel.is_cancelled() {
            self.record(
                host,
                step,
                StepOutcome::Skipped {
                    reason: Msg::new("deploy.skip.stopped"),
                },
                0.0,
            )
            .await;
            return false;
        }
        if self.ctx.resume && self.ctx.state.is_done(host, step) {
            self.record(host, step, StepOutcome::Done, 0.0).await;
            return true;
        }
        let _permit = self.limit.acquire().await;
        self.emit(Event::StepStarted {
            host: host.into(),
            step: step.into(),
        })
        .await;
        self.ctx.logs.log(host, &format!("{step}: started"));
        let started = Instant::now();
        let result = f().await;
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(changed) => {
                if let Err(e) = self.ctx.state.mark_done(host, step) {
                    tracing::warn!(%e, "cannot write the state file");
                }
                let outcome = if changed {
                    StepOutcome::Changed
                } else {
                    StepOutcome::Unchanged
                };
                self.record(host, step, outcome, secs).await;
                true
            }
            Err(mut e) => {
                e.message = e.message.map_args(|a| self.ctx.logs.redact(a));
                let _ = self
                    .ctx
                    .state
                    .mark_failed(host, step, &e.message.render("en"));
                let last_lines = self.ctx.logs.tail(host);
                self.record(
                    host,
                    step,
                    StepOutcome::Failed {
                        message: e.message.clone(),
                        code: e.code,
                        last_lines,
                    },
                    secs,
                )
                .await;
                self.failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        host.to_string(),
                        Failure {
                            host: host.into(),
                            phase: phase_of(step).into(),
                            step: step.into(),
                            message: e.message,
                            code: e.code,
                            last_lines: self.ctx.logs.tail(host),
                        },
                    );
                false
            }
        }
    }
}

/// Runs `script` as root on the host, its output into the host's log;
/// a non-zero exit is the step's error (with `what` and the last stderr line).
async fn run_logged(
    target: &Target,
    logs: &HostLogs,
    what: &str,
    script: &str,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<String, StepError> {
    let out = target
        .conn
        .run_with_input(script, input, timeout)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    logs.log(&target.address, &out.stdout);
    logs.log(&target.address, &out.stderr);
    if out.code != 0 {
        let last = out.stderr.trim().lines().last().unwrap_or("").to_string();
        return Err(StepError {
            message: Msg::new("deploy.error.exited")
                .arg("what", what)
                .arg("code", out.code)
                .arg("last", last),
            code: Some(out.code),
        });
    }
    Ok(out.stdout)
}

/// Writes `content` to `path` on the host unless it is already there
/// (content goes over stdin, never into a command line); whether it changed.
async fn put_file(
    target: &Target,
    path: &str,
    mode: &str,
    content: &str,
) -> Result<bool, StepError> {
    let script = format!(
        "f={p}; umask 077; mkdir -p \"$(dirname \"$f\")\"; \
         t=$(mktemp \"$(dirname \"$f\")/.cdwiz-new.XXXXXX\") || exit 1; cat > \"$t\"; \
         if [ -f \"$f\" ] && cmp -s \"$t\" \"$f\"; then rm -f \"$t\"; echo same; \
         else chmod {mode} \"$t\" && mv \"$t\" \"$f\" && echo changed; fi",
        p = quote(path)
    );
    let out = target
        .conn
        .run_with_input(&script, Some(content.as_bytes()), CMD_TIMEOUT)
        .await
        .map_err(|e| {
            Msg::new("deploy.error.write")
                .arg("path", path)
                .arg("error", e)
        })?;
    if out.code != 0 {
        return Err(Msg::new("deploy.error.write")
            .arg("path", path)
            .arg("error", out.stderr.trim())
            .into());
    }
    Ok(out.stdout.trim() == "changed")
}

fn parse_env(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && l.contains('='))
        .map(str::to_string)
        .collect()
}

fn version_at_least(have: &str, min: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parts(have) >= parts(min)
}

/// Deploys the bundle onto the targets. Never returns early on a host's
/// failure: the report says which hosts failed where.
pub async fn deploy(input: &Input<'_>, targets: &Targets, ctx: &RunContext) -> DeployReport {
    let started = Instant::now();
    let run = Run::new(input, ctx);
    let answers = input.answers;
    let manifest = &input.bundle.manifest;
    let planned = planned_steps(answers, input.bundle, input.hooks);
    run.emit(Event::DeployStarted {
        steps: planned.iter().map(|(h, s)| (h.clone(), s.len())).collect(),
    })
    .await;
    let placed: BTreeMap<String, Vec<String>> = manifest
        .components
        .iter()
        .map(|c| (c.name.clone(), placement(answers, c)))
        .collect();

    // Hosts that could not be reached fail at their first step.
    for (addr, why) in &targets.unreachable {
        let first = planned
            .iter()
            .find(|(h, _)| h == addr)
            .and_then(|(_, s)| s.first().cloned())
            .unwrap_or_else(|| "prepare".into());
        run.step(addr, &first, || async {
            Err::<bool, _>(StepError::from(
                Msg::new("deploy.error.unreachable").arg("why", why),
            ))
        })
        .await;
    }

    // Per host: hook, prepare, runtime, images, configs.
    let hosts_entries: Vec<(String, String)> = targets
        .hosts
        .values()
        .map(|t| (t.address.clone(), t.hostname.clone()))
        .collect();
    let per_host = targets.hosts.values().map(|t| {
        let run = &run;
        let placed = &placed;
        let hosts_entries = &hosts_entries;
        async move {
            let addr = t.address.as_str();
            if let Some(hook) = &input.hooks.pre_deploy {
                run.step(addr, "hook pre-deploy", || {
                    run_hook(t, &run.ctx.logs, "pre-deploy", hook, &run.ctx.run_id)
                })
                .await;
            }
            run.step(addr, "prepare", || {
                prepare_host(run, t, placed, hosts_entries)
            })
            .await;
            run.step(addr, "runtime", || async {
                let docker = t.docker()?;
                let v = docker
                    .version()
                    .await
                    .map_err(|e| Msg::new("deploy.error.docker-api").arg("error", e))?;
                let have = v.version.unwrap_or_default();
                let min = &manifest.requirements.docker_min;
                run.ctx.logs.log(
                    addr,
                    &format!("Docker engine {have} (at least {min} needed)"),
                );
                if !version_at_least(&have, min) {
                    return Err(Msg::new("deploy.error.docker-old")
                        .arg("have", have)
                        .arg("min", min)
                        .into());
                }
                Ok(false)
            })
            .await;
            run.step(addr, "images", || load_images(run, t)).await;
            run.step(addr, "configs", || async {
                let mut changed = false;
                for f in input.rendered {
                    let mut parts = f.path.components();
                    let Some(first) = parts.next() else { continue };
                    if first.as_os_str() != addr {
                        continue;
                    }
                    let rel = parts.as_path().display().to_string();
                    let path = format!("{}/cd/config/{rel}", t.data_dir);
                    if put_file(t, &path, "644", &f.content).await? {
                        run.ctx.logs.log(addr, &format!("wrote {path}"));
                        changed = true;
                    }
                }
                Ok(changed)
            })
            .await;
        }
    });
    futures_util::future::join_all(per_host).await;

    // Components, in dependency order across hosts; each healthy before
    // the components that need it.
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
            let (run, step, missing) = (&run, &step, &missing);
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

    // Verify end to end through the platform's front door.
    let mut report_url = None;
    if let Some((host, port, path)) = entry_url(answers, input.bundle) {
        let target_url = url(&host, port, &path);
        report_url = Some(url(&host, port, "/"));
        let entry_up = manifest
            .entry
            .as_ref()
            .is_some_and(|e| up.get(&e.component).is_some_and(|u| !u.is_empty()));
        if entry_up {
            let (logs, target_url) = (&ctx.logs, &target_url);
            run.step(CLUSTER, "verify", || async move {
                logs.log(CLUSTER, &format!("GET {target_url}"));
                let h = crate::bundle::Health {
                    port,
                    http: Some(path.clone()),
                };
                health::wait(&host, &h, VERIFY_TIMEOUT).await.map_err(|e| {
                    Msg::new("deploy.error.verify")
                        .arg("url", target_url)
                        .arg("error", e)
                })?;
                logs.log(CLUSTER, &format!("{target_url} answers"));
                Ok(false)
            })
            .await;
        } else {
            run.record(
                CLUSTER,
                "verify",
                StepOutcome::Skipped {
                    reason: Msg::new("deploy.skip.entry-down"),
                },
                0.0,
            )
            .await;
        }
    }

    // Hooks after the deploy: post-deploy on the hosts that made it,
    // on-error on the hosts that failed.
    let after = targets.hosts.values().map(|t| {
        let run = &run;
        async move {
            let addr = t.address.as_str();
            if run.failed(addr) {
                if let Some(hook) = &input.hooks.on_error {
                    run.ctx.logs.log(addr, "running the on-error hook");
                    let _ = run_hook(t, &run.ctx.logs, "on-error", hook, &run.ctx.run_id).await;
                }
            } else if let Some(hook) = &input.hooks.post_deploy {
                run.step(addr, "hook post-deploy", || {
                    run_hook(t, &run.ctx.logs, "post-deploy", hook, &run.ctx.run_id)
                })
                .await;
            }
        }
    });
    futures_util::future::join_all(after).await;

    run.finish(&planned, report_url, started)
}

async fn run_hook(
    t: &Target,
    logs: &HostLogs,
    phase: &str,
    script: &str,
    run_id: &str,
) -> Result<bool, StepError> {
    let wrapped = format!(
        "CDWIZ_PHASE={phase} CDWIZ_HOST={host} CDWIZ_RUN={run} CDWIZ_DATA_DIR={dir} sh -s",
        phase = quote(phase),
        host = quote(&t.address),
        run = quote(run_id),
        dir = quote(&t.data_dir),
    );
    logs.log(&t.address, &format!("hook {phase}: running"));
    // The hook's output goes to the host's log line by line, as it runs.
    let addr = t.address.clone();
    let out = t
        .conn
        .run_streaming(&wrapped, Some(script.as_bytes()), HOOK_TIMEOUT, &|line| {
            logs.log(&addr, &format!("[{phase}] {line}"))
        })
        .await
        .map_err(|e| format!("the {phase} hook: {e}"))?;
    if out.code != 0 {
        let last = out.stderr.trim().lines().last().unwrap_or("").to_string();
        return Err(StepError {
            message: Msg::new("deploy.error.exited")
                .arg("what", format!("the {phase} hook"))
                .arg("code", out.code)
                .arg("last", last),
            code: Some(out.code),
        });
    }
    Ok(true)
}

async fn prepare_host(
    run: &Run<'_>,
    t: &Target,
    placed: &BTreeMap<String, Vec<String>>,
    hosts_entries: &[(String, String)],
) -> Result<bool, StepError> {
    let input = run.input;
    let manifest = &input.bundle.manifest;
    let logs = &run.ctx.logs;
    let addr = t.address.as_str();
    let mut changed = false;
    let profile_host = input.answers.hosts.iter().find(|h| h.address == addr);
    if let Some(h) = profile_host
        && h.format_data_disk
        && let Some(disk) = &h.data_disk
    {
        let script = prepare::data_disk_script(disk, &t.data_dir);
        match run_logged(t, logs, "data disk", &script, None, CMD_TIMEOUT).await {
            Ok(out) => changed |= out.lines().last() == Some("changed"),
            Err(mut e) => {
                if let Some(code) = e.code {
                    let last = e.message.args.get("last").cloned().unwrap_or_default();
                    e.message = prepare::data_disk_problem(code, disk, &t.data_dir, &last);
                }
                return Err(e);
            }
        }
    }
    if !manifest.requirements.sysctl.is_empty() {
        let script = prepare::sysctl_script(&manifest.requirements.sysctl);
        let out = run_logged(t, logs, "sysctl", &script, None, CMD_TIMEOUT).await?;
        changed |= out.lines().last() == Some("changed");
    }
    let out = run_logged(
        t,
        logs,
        "/etc/hosts",
        &prepare::hosts_file_script(hosts_entries),
        None,
        CMD_TIMEOUT,
    )
    .await?;
    changed |= out.trim() == "changed";

    let here: Vec<&Component> = manifest
        .components
        .iter()
        .filter(|c| placed[&c.name].iter().any(|a| a == addr))
        .collect();
    let base = format!("{}/cd", t.data_dir);
    let mut dirs = vec![format!("{base}/config"), format!("{base}/secrets")];
    dirs.extend(
        here.iter()
            .flat_map(|c| c.volumes.keys().map(|v| format!("{base}/{v}"))),
    );
    let script = format!(
        "for d in {}; do [ -d \"$d\" ] || {{ mkdir -p \"$d\" && echo \"created $d\"; }}; done; chmod 700 {}",
        dirs.iter().map(|d| quote(d)).collect::<Vec<_>>().join(" "),
        quote(&format!("{base}/secrets"))
    );
    let out = run_logged(t, logs, "directories", &script, None, CMD_TIMEOUT).await?;
    changed |= !out.trim().is_empty();
    let mut names: Vec<&String> = here.iter().flat_map(|c| c.secrets.iter()).collect();
    names.sort();
    names.dedup();
    for n in names {
        let value = input
            .generated
            .get(n)
            .ok_or_else(|| format!("no generated secret `{n}`"))?;
        if put_file(t, &format!("{base}/secrets/{n}"), "600", value).await? {
            logs.log(addr, &format!("wrote secret {base}/secrets/{n} (0600)"));
            changed = true;
        }
    }
    // The record the checks recognise on a later run as this install.
    let mut record = serde_json::json!({
        "install": secrets::install_id(input.answers),
        "product": manifest.product.name,
        "version": manifest.product.version,
        "ports": manifest.ports(),
    });
    // What cdwiz left in a login's authorized_keys, for the security team
    // and for uninstall.
    if let Some(key) = &t.conn.own_key {
        record["ssh-key"] = serde_json::json!({
            "user": t.conn.user,
            "key": key,
            "options": "restrict,port-forwarding",
            "removed-by-uninstall": !input.answers.ssh.keep_key,
        });
    }
    changed |= put_file(t, INSTALL_RECORD, "644", &format!("{record}\n")).await?;
    Ok(changed)
}

/// Loads each image archive whose images the host lacks, with progress.
async fn load_images(run: &Run<'_>, t: &Target) -> Result<bool, StepError> {
    let docker = t.docker()?;
    let bundle = run.input.bundle;
    let logs = &run.ctx.logs;
    let addr = t.address.clone();
    let mut changed = false;
    for image in &bundle.manifest.images {
        let mut missing = Vec::new();
        for reference in &image.references {
            if !has_image(docker, reference)
                .await
                .map_err(|e| Msg::new("deploy.error.docker-api").arg("error", e))?
            {
                missing.push(reference.as_str());
            }
        }
        if missing.is_empty() {
            continue;
        }
        let total = image.size;
        logs.log(
            &addr,
            &format!(
                "loading {} ({} MB) for {}",
                image.file.display(),
                total / 1_000_000,
                missing.join(", ")
            ),
        );
        let file = tokio::fs::File::open(bundle.dir.join(&image.file))
            .await
            .map_err(|e| {
                Msg::new("deploy.error.load")
                    .arg("file", image.file.display())
                    .arg("error", e)
            })?;
        let sent = Arc::new(AtomicU64::new(0));
        let (tx, host, counter) = (run.ctx.tx.clone(), addr.clone(), sent.clone());
        let body =
            tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).filter_map(move |r| {
                let (tx, host, counter) = (tx.clone(), host.clone(), counter.clone());
                async move {
                    let chunk = r.ok()?;
                    let before = counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    let after = before + chunk.len() as u64;
                    // An event every 8 MiB.
                    if let Some(tx) = &tx
                        && before >> 23 != after >> 23
                    {
                        let _ = tx.try_send(Event::ImageProgress {
                            host,
                            sent: after,
                            total,
                        });
                    }
                    Some(chunk)
                }
            });
        let started = Instant::now();
        let mut load = docker.import_image_stream(ImportImageOptions::default(), body, None);
        let mut broken = None;
        while let Some(item) = load.next().await {
            let info = match item {
                Ok(info) => info,
                // The engine's answer ended mid-line (seen when its
                // forwarded socket closes early): what counts is whether
                // the images are there, asked below.
                Err(e) => {
                    broken = Some(e.to_string());
                    break;
                }
            };
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(Msg::new("deploy.error.load")
                    .arg("file", image.file.display())
                    .arg("error", err)
                    .into());
            }
            if let Some(s) = info.stream {
                logs.log(&addr, s.trim());
            }
        }
        if let Some(error) = broken {
            let mut absent = Vec::new();
            for reference in &image.references {
                if !has_image(docker, reference).await.unwrap_or(false) {
                    absent.push(reference.as_str());
                }
            }
            if !absent.is_empty() {
                return Err(Msg::new("deploy.error.load")
                    .arg("file", image.file.display())
                    .arg("error", error)
                    .into());
            }
            logs.log(
                &addr,
                &format!(
                    "the engine's answer ended early ({error}), but all {} images are loaded",
                    image.references.len()
                ),
            );
        }
        let bytes = sent.load(Ordering::Relaxed);
        logs.log(
            &addr,
            &format!(
                "loaded {} MB in {:.1} s",
                bytes / 1_000_000,
                started.elapsed().as_secs_f64()
            ),
        );
        changed = true;
    }
    Ok(changed)
}

async fn start_component(run: &Run<'_>, t: &Target, c: &Component) -> Result<bool, StepError> {
    let docker = t.docker()?;
    let addr = t.address.as_str();
    let rendered = run.input.rendered;
    let file = |name: &str| {
        rendered
            .iter()
            .find(|f| f.path == Path::new(addr).join(name))
            .map(|f| f.content.as_str())
    };
    let mut env = parse_env(file("cd.env").unwrap_or_default());
    env.extend(parse_env(
        file(&format!("{}.env", c.name)).unwrap_or_default(),
    ));
    let mut config_contents = Vec::new();
    for name in c.configs.keys() {
        config_contents.push(
            file(name).ok_or_else(|| Msg::new("deploy.error.config-missing").arg("name", name))?,
        );
    }
    let want = container::Wanted {
        component: c,
        env,
        base: format!("{}/cd", t.data_dir),
        config_contents,
    };
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
                .arg("error", e)
        })?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_versions_compare_numerically() {
        assert!(version_at_least("20.10.24+dfsg1", "20.10"));
        assert!(version_at_least("24.0.7", "20.10"));
        assert!(!version_at_least("19.03.15", "20.10"));
        assert!(!version_at_least("", "20.10"));
    }

    #[test]
    fn urls_bracket_ipv6_and_drop_port_80() {
        assert_eq!(url("192.0.2.1", 80, "/x"), "http://192.0.2.1/x");
        assert_eq!(url("2001:db8::1", 8443, "/"), "http://[2001:db8::1]:8443/");
    }
}
