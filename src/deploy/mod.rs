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

mod components;
pub mod container;
pub mod health;
mod host;
pub use host::config_files;
pub(crate) use host::{load_images, unreachable};
pub mod hostlog;
pub mod k8s;
pub mod keys;
pub mod lock;
pub mod prepare;
pub mod readback;
pub mod secrets;
pub mod state;
mod step;
pub mod summary;
mod uninstall;
mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::bundle::{Bundle, Component};
use crate::event::{Event, EventSender, StepOutcome};
use crate::i18n::Msg;
use crate::plan::placement;
use crate::profile::{Answers, Hooks};
use crate::render::RenderedFile;
use hostlog::HostLogs;
use state::StateStore;

pub use crate::connect::{Target, Targets};
pub(crate) use step::{Run, StepError};
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
/// After a component without a health check (keepalived) is replaced on a
/// host in service: time for it to take its part again (a VRRP election
/// takes about three advertisement intervals) before the next host's goes.
const SETTLE: Duration = Duration::from_secs(3);

/// What to deploy.
pub struct Input<'a> {
    pub answers: &'a Answers,
    pub bundle: &'a Bundle,
    pub rendered: &'a [RenderedFile],
    pub generated: &'a BTreeMap<String, String>,
    /// The keys each host's install record lists (cdwiz's keys of every
    /// machine that deployed), kept when this run writes the record.
    pub recorded_keys: &'a BTreeMap<String, Vec<keys::RecordedKey>>,
    /// Operator scripts run on every host around the deploy: their text,
    /// read from the files the profile names.
    pub hooks: &'a Hooks,
    /// A new release replaces the running one on several hosts: the
    /// components go host by host (see `components::roll`).
    pub rolling: bool,
    /// The hosts carry the platform already (it serves): a component that
    /// runs on several hosts is replaced on one at a time, each healthy (or,
    /// without a health check, settled) before the next.
    pub in_service: bool,
    /// A newer release replaces the running one: the manifest's upgrade
    /// hooks run first (see `components::upgrade_hooks`).
    pub upgrading: bool,
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
    /// Each host's architecture and the image archive of the bundle it
    /// gets (from the checks; none when they were not run).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub machines: BTreeMap<String, Machine>,
    /// The backup a rolling upgrade took before it replaced anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<std::path::PathBuf>,
}

/// A host's architecture and the archive it is given.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Machine {
    pub arch: String,
    /// The bundle's archive for it, relative to the bundle (none: the
    /// bundle has none for this architecture).
    pub archive: Option<String>,
}

impl Machine {
    /// Each checked host's architecture (its `os.arch` result) and the
    /// bundle's archive for it.
    pub fn from_checks(
        results: &[crate::outcome::CheckResult],
        bundle: &Bundle,
    ) -> BTreeMap<String, Machine> {
        results
            .iter()
            .filter(|r| r.id == "os.arch")
            .filter_map(|r| {
                let arch = r.detail.args.get("arch")?.clone();
                let archive = bundle
                    .manifest
                    .images
                    .iter()
                    .find(|i| i.arch == arch)
                    .map(|i| i.file.display().to_string());
                Some((r.host.clone()?, Machine { arch, archive }))
            })
            .collect()
    }
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

/// A step's name for a person in `locale` ("component backend" → "组件
/// backend"); JSON, the state file and logs keep the name itself.
pub fn step_label(step: &str, locale: &str) -> String {
    let (key, name) = if let Some(c) = step.strip_prefix("component ") {
        ("deploy.step.component", c)
    } else if let Some(h) = step.strip_prefix("hook ") {
        ("deploy.step.hook", h)
    } else if let Some(c) = step.strip_prefix("upgrade ") {
        ("deploy.step.upgrade", c)
    } else {
        match step {
            "prepare" | "runtime" | "images" | "configs" | "verify" | "namespace" | "secret"
            | "remove" | "apply" | "rollout" | "push" => (step, ""),
            _ => return step.to_string(),
        }
    };
    if name.is_empty() {
        crate::i18n::text(&format!("deploy.step.{key}"), locale)
    } else {
        crate::i18n::Msg::new(key).arg("name", name).render(locale)
    }
}

/// A phase's name (see [`phase_of`]) for a person in `locale`.
pub fn phase_label(phase: &str, locale: &str) -> String {
    crate::i18n::text(&format!("deploy.phase.{phase}"), locale)
}

/// The phase a step belongs to (for the failure summary).
pub fn phase_of(step: &str) -> &'static str {
    match step {
        s if s.starts_with("component ") => "components",
        s if s.starts_with("hook ") => "hooks",
        s if s.starts_with("upgrade ") => "upgrade",
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
    if crate::plan::entry_url(answers, &bundle.manifest).is_some() {
        out.push((CLUSTER.to_string(), vec!["verify".to_string()]));
    }
    out
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
    let planned = planned_steps(answers, input.bundle, input.hooks);
    run.emit(Event::DeployStarted {
        steps: planned.iter().map(|(h, s)| (h.clone(), s.len())).collect(),
    })
    .await;
    let placed: BTreeMap<String, Vec<String>> = input
        .bundle
        .manifest
        .components
        .iter()
        .map(|c| (c.name.clone(), placement(answers, c)))
        .collect();
    host::unreachable(&run, targets, &planned).await;
    host::prepare_all(&run, targets, &placed).await;
    // A hook that fails stops the upgrade before any host is touched.
    let hook_failed = if input.upgrading {
        components::upgrade_hooks(&run, targets, &placed).await
    } else {
        None
    };
    let up = if input.rolling || hook_failed.is_some() {
        components::roll(&run, targets, &placed, hook_failed).await
    } else {
        components::start_all(&run, targets, &placed).await
    };
    let url = verify::entry(&run, &up).await;
    host::after(&run, targets).await;
    run.finish(&planned, url, started)
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
