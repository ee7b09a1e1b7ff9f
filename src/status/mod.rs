//! `cdwiz status`: how the installation the profile describes is doing,
//! read-only (no lock taken, nothing changed): per host and component
//! whether its container runs, answers its health check, how often it
//! restarted, its image and since when; whether it drifted from what this
//! profile and bundle would make; which master holds the VIP; whether the
//! platform answers end to end. On a cluster (the `k8s` topology), the
//! same per component through the Kubernetes API (`cluster.rs`).

mod cluster;
mod members;
mod system;

pub use members::{ClusterMembers, MemberState};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::InspectContainerOptions;
use serde::Serialize;

use crate::bundle::{Bundle, Component};
use crate::connect::{Connector, Secrets, Target, Targets};
use crate::deploy::{container, health};
use crate::i18n::Msg;
use crate::profile::{Answers, TopologyKind};
use crate::render::RenderedFile;
use crate::run::{ErrorKind, RunError};

/// What `status` needs; `secrets: None` reads the profile's sources.
pub struct StatusRequest {
    pub answers: Answers,
    /// The profile file, for error lines.
    pub profile: PathBuf,
    pub base: PathBuf,
    pub data_dir: PathBuf,
    pub secrets: Option<Secrets>,
    pub locale: String,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub hosts: Vec<HostStatus>,
    /// ha-keepalived: the VIP and the masters that hold it now (one when
    /// all is well).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip: Option<VipStatus>,
    /// The platform's entry, asked from this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryStatus>,
    /// k8s: the installation's namespace and workloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
    /// The clusters the components form on the hosts, member by member.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterMembers>,
}

pub use crate::deploy::k8s::inspect::{ObjectDrift, WorkloadStatus};

/// An installation on a cluster, as its API has it.
#[derive(Debug, Serialize)]
pub struct ClusterStatus {
    pub namespace: String,
    /// Why the cluster could not be asked (none: it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<Msg>,
    /// The namespace's own objects that differ from the rendered ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<ObjectDrift>,
    /// Why the namespace could not be compared (none: it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_error: Option<Msg>,
    pub components: Vec<WorkloadStatus>,
}

#[derive(Debug, Serialize)]
pub struct HostStatus {
    pub address: String,
    /// Why the host could not be asked (none: it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<Msg>,
    pub components: Vec<ComponentStatus>,
    /// Config files on the host that differ from what this profile and
    /// bundle render (or are missing), by path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted_files: Vec<String>,
    /// The cdwiz block of /etc/hosts and the kernel settings, where they
    /// are not what a run would make them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted_settings: Vec<Msg>,
}

#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    pub name: String,
    pub container: String,
    /// Docker's word for it (`running`, `exited`, `restarting`, …), or
    /// `missing`.
    pub state: String,
    /// Its health check from this machine (none: it has none, or it is not
    /// running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_error: Option<Msg>,
    pub restarts: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// When it was last started (Docker's RFC 3339 time).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub since: String,
    /// How it differs from what this profile and bundle would make.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Msg>,
    /// The role a cluster member says it has (its manifest's
    /// `cluster.role` command), when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VipStatus {
    pub address: String,
    pub held_by: Vec<String>,
    /// Masters that could not be asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct EntryStatus {
    pub url: String,
    pub answers: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Msg>,
}

impl ComponentStatus {
    pub fn well(&self) -> bool {
        self.state == "running" && self.healthy != Some(false) && self.drift.is_none()
    }
}

impl StatusReport {
    /// What is not well, one message each (empty: all is well).
    pub fn problems(&self) -> Vec<Msg> {
        let mut out = Vec::new();
        for h in &self.hosts {
            if let Some(why) = &h.unreachable {
                out.push(
                    Msg::new("status.problem.unreachable")
                        .arg("host", &h.address)
                        .arg_msg("why", why.clone()),
                );
            }
            for f in &h.drifted_files {
                out.push(
                    Msg::new("status.problem.file")
                        .arg("host", &h.address)
                        .arg("path", f),
                );
            }
            for s in &h.drifted_settings {
                out.push(
                    Msg::new("status.problem.setting")
                        .arg("host", &h.address)
                        .arg_msg("what", s.clone()),
                );
            }
            for c in h.components.iter().filter(|c| !c.well()) {
                out.push(
                    Msg::new("status.problem.component")
                        .arg("host", &h.address)
                        .arg("name", &c.name),
                );
            }
        }
        if let Some(v) = &self.vip
            && v.held_by.len() != 1
        {
            out.push(
                Msg::new("status.problem.vip")
                    .arg("vip", &v.address)
                    .arg("count", v.held_by.len()),
            );
        }
        out.extend(self.clusters.iter().flat_map(ClusterMembers::problems));
        if let Some(c) = &self.cluster {
            out.extend(c.problems());
        }
        if let Some(e) = self.entry.as_ref().filter(|e| !e.answers) {
            out.push(Msg::new("status.problem.entry").arg("url", &e.url));
        }
        out
    }
}

/// Asks every host of the answers, all at once, then the VIP and the entry.
pub async fn status(mut req: StatusRequest) -> Result<StatusReport, RunError> {
    crate::installation::adopt(&req.data_dir, &mut req.answers);
    let locale = req.locale.as_str();
    let a = &req.answers;
    let bad = |lines: Vec<String>| RunError::new(ErrorKind::BadInput, lines);
    // The manifest and the rendered files, to compare with.
    let bundle = crate::run::manifest_only(a, &req.base, &req.data_dir, &req.profile, locale)?;
    let rendered = crate::render::render(a, &bundle.manifest, Some(&bundle.dir)).map_err(|e| {
        bad(vec![format!(
            "{}: {}",
            bundle.dir.display(),
            e.message().render(locale)
        )])
    })?;
    if a.topology.kind == TopologyKind::K8s {
        return Ok(cluster::status(a, &req.base, &bundle, &rendered).await);
    }
    let secrets = crate::run::secrets_or_profile(req.secrets, a, &req.base, &req.profile, locale)?;
    let askpass = crate::connect::askpass_program();
    let mut connector = Connector::new(a, secrets, &req.data_dir, &req.base, askpass);
    // Read-only: cdwiz's key is used where a check or deploy put it, never
    // installed by a look.
    connector.install_key = false;
    let connector = Arc::new(connector);
    let targets = Targets::open(&connector, a).await;

    let asks = a.hosts.iter().map(|h| {
        let (targets, rendered, bundle) = (&targets, &rendered, &bundle);
        async move {
            let addr = h.address.clone();
            match targets.hosts.get(&addr) {
                Some(t) => host_status(t, a, &bundle.manifest, rendered).await,
                None => (
                    HostStatus {
                        unreachable: Some(
                            targets
                                .unreachable
                                .get(&addr)
                                .map(|u| u.failure.message().clone())
                                .unwrap_or_else(|| Msg::from("")),
                        ),
                        address: addr,
                        components: Vec::new(),
                        drifted_files: Vec::new(),
                        drifted_settings: Vec::new(),
                    },
                    None,
                ),
            }
        }
    });
    let (asked, vip, entry) = tokio::join!(
        futures_util::future::join_all(asks),
        vip_status(a, &targets),
        entry_status(a, &bundle),
    );
    targets.close().await;
    // The cdwiz blocks of /etc/hosts, once every host has given its name.
    let (mut hosts, blocks): (Vec<HostStatus>, Vec<_>) = asked.into_iter().unzip();
    let blocks: std::collections::BTreeMap<String, (String, String)> =
        blocks.into_iter().flatten().collect();
    system::judge_blocks(&mut hosts, &blocks);
    let clusters = members::clusters(&crate::plan::clusters(a, &bundle.manifest), &hosts);
    Ok(StatusReport {
        hosts,
        vip,
        entry,
        cluster: None,
        clusters,
    })
}

/// Every component placed on the host, as its Docker engine has it; and
/// the host's name and cdwiz block of /etc/hosts, to be judged with the
/// others' (see `system::judge_blocks`).
async fn host_status(
    t: &Target,
    a: &Answers,
    manifest: &crate::bundle::Manifest,
    rendered: &[RenderedFile],
) -> (HostStatus, Option<(String, (String, String))>) {
    let seen = system::ask(t, rendered, &manifest.requirements.sysctl).await;
    let (files, settings, block) = match seen {
        Some(s) => (
            s.files,
            s.settings,
            Some((t.address.clone(), (s.name, s.block))),
        ),
        None => (Vec::new(), Vec::new(), None),
    };
    let mut out = HostStatus {
        address: t.address.clone(),
        unreachable: None,
        components: Vec::new(),
        drifted_files: files,
        drifted_settings: settings,
    };
    let docker = match t.docker().await {
        Ok(d) => d,
        Err(e) => {
            out.unreachable = Some(e);
            return (out, block);
        }
    };
    let here = manifest
        .components
        .iter()
        .filter(|c| crate::plan::placement(a, c).contains(&t.address));
    for c in here {
        out.components
            .push(component_status(docker, t, c, rendered).await);
    }
    (out, block)
}

async fn component_status(
    docker: &bollard::Docker,
    t: &Target,
    c: &Component,
    rendered: &[RenderedFile],
) -> ComponentStatus {
    let name = container::name(&c.name);
    let mut s = ComponentStatus {
        name: c.name.clone(),
        container: name.clone(),
        state: "missing".into(),
        healthy: None,
        health_error: None,
        restarts: 0,
        image: String::new(),
        since: String::new(),
        drift: None,
        role: None,
    };
    let found = match docker
        .inspect_container(&name, None::<InspectContainerOptions>)
        .await
    {
        Ok(found) => found,
        Err(e) if crate::docker::is_not_found(&e) => {
            s.drift = Some(Msg::new("status.drift.missing"));
            return s;
        }
        Err(e) => {
            s.state = "unknown".into();
            s.health_error = Some(Msg::from(e.to_string()));
            return s;
        }
    };
    let state = found.state.unwrap_or_default();
    s.state = state
        .status
        .map(|v| v.to_string())
        .unwrap_or_else(|| "unknown".into());
    s.since = state.started_at.unwrap_or_default();
    s.restarts = found.restart_count.unwrap_or(0);
    let config = found.config.unwrap_or_default();
    s.image = config.image.unwrap_or_default();
    let label = config
        .labels
        .as_ref()
        .and_then(|l| l.get(container::LABEL_SPEC))
        .cloned();
    s.drift = match container::wanted(rendered, &t.address, &t.data_dir, c) {
        Err(e) => Some(e),
        Ok(want) => match container::wanted_spec(docker, &want).await {
            Err(e) => Some(Msg::new("status.drift.image").arg("error", e)),
            Ok(spec) if Some(&spec) != label.as_ref() => Some(Msg::new("status.drift.spec")),
            Ok(_) => None,
        },
    };
    let role = c
        .cluster
        .as_ref()
        .map(|k| &k.role)
        .filter(|r| !r.is_empty());
    if let Some(cmd) = role.filter(|_| s.state == "running") {
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let asked = crate::docker::exec(docker, &name, &cmd);
        if let Ok(Ok(out)) = tokio::time::timeout(Duration::from_secs(5), asked).await
            && out.code == 0
        {
            s.role = members::role_of(&out.output);
        }
    }
    if let Some(h) = c.health.as_ref().filter(|_| s.state == "running") {
        match health::probe(&t.address, h, Some((docker, &name))).await {
            Ok(()) => s.healthy = Some(true),
            Err(e) => {
                s.healthy = Some(false);
                s.health_error = Some(e);
            }
        }
    }
    s
}

/// Which masters carry the VIP on its interface now.
async fn vip_status(a: &Answers, targets: &Targets) -> Option<VipStatus> {
    let vip = crate::plan::vip(a)?;
    let script = format!(
        "ip -o addr show dev {} 2>/dev/null",
        crate::ssh::quote(&vip.interface)
    );
    let asks = vip.holders.iter().map(|m| {
        let (script, address) = (&script, vip.address.as_str());
        async move {
            let Some(t) = targets.hosts.get(m) else {
                return (m.clone(), None);
            };
            let held = t
                .conn
                .run(script, Duration::from_secs(10))
                .await
                .ok()
                .map(|o| {
                    o.stdout
                        .split_whitespace()
                        .any(|w| w.split('/').next() == Some(address))
                });
            (m.clone(), held)
        }
    });
    let answers = futures_util::future::join_all(asks).await;
    Some(VipStatus {
        address: vip.address.clone(),
        held_by: answers
            .iter()
            .filter(|(_, h)| *h == Some(true))
            .map(|(m, _)| m.clone())
            .collect(),
        unknown: answers
            .iter()
            .filter(|(_, h)| h.is_none())
            .map(|(m, _)| m.clone())
            .collect(),
    })
}

/// The manifest's entry through the single host, the VIP or the load
/// balancer, asked once from this machine.
async fn entry_status(a: &Answers, bundle: &Bundle) -> Option<EntryStatus> {
    let (host, port, path) = crate::plan::entry_url(a, &bundle.manifest)?;
    let url = crate::deploy::url(&host, port, &path);
    let check = crate::bundle::Health {
        port,
        http: Some(path),
        command: Vec::new(),
    };
    let answered = health::probe(&host, &check, None).await;
    Some(EntryStatus {
        url,
        answers: answered.is_ok(),
        error: answered.err(),
    })
}
