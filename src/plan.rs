//! The plan: what the answers mean for the hosts (which host does what and
//! where the platform will answer), derived from the answers and nothing else.

use serde::Serialize;

use crate::profile::{Answers, Role, TopologyKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    pub topology: TopologyKind,
    /// Where the platform answers once installed: the single host, the VIP
    /// or the load balancer (`host:port` for a load balancer).
    pub entry: Option<String>,
    pub hosts: Vec<PlannedHost>,
    /// The bastion the hosts are reached through, and its login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bastion: Option<String>,
    /// Hosts that run keepalived and share the VIP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vip_holders: Vec<String>,
    /// k8s: where on the cluster the platform goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<PlannedCluster>,
}

/// The k8s topology's target, with its defaults spelled out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedCluster {
    pub kubeconfig: String,
    pub context: String,
    pub namespace: String,
    pub storage_class: String,
    pub images_from: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub replicas: std::collections::BTreeMap<String, u32>,
    pub rollout_timeout_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedHost {
    pub address: String,
    pub login: String,
    pub roles: Vec<Role>,
    pub data_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_disk: Option<String>,
    pub format_data_disk: bool,
}

/// Where a host keeps the platform: its data dir as the profile gives it,
/// without a trailing slash (the one spelling every part uses).
pub fn data_dir(h: &crate::profile::Host) -> String {
    let d = h.data_dir.trim_end_matches('/');
    if d.is_empty() { "/".into() } else { d.into() }
}

/// The URL the platform answers on once deployed (the manifest's entry
/// through the single host, the VIP or the load balancer): host, port and
/// the path to verify.
pub fn entry_url(
    answers: &Answers,
    manifest: &crate::bundle::Manifest,
) -> Option<(String, u16, String)> {
    let entry = manifest.entry.as_ref()?;
    let component = manifest
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

/// The plan for validated answers.
pub fn plan(a: &Answers) -> Plan {
    let t = &a.topology;
    let masters = a.masters();
    let entry = match t.kind {
        TopologyKind::Single => a.hosts.first().map(|h| h.address.clone()),
        TopologyKind::HaKeepalived => t.vip.clone(),
        TopologyKind::HaLb => t
            .lb_address
            .as_ref()
            .map(|addr| format!("{addr}:{}", t.lb_port.unwrap_or(0))),
        TopologyKind::K8s => None,
    };
    let roles_sorted = |r: &[Role]| {
        let mut r = r.to_vec();
        r.sort();
        r.dedup();
        r
    };
    Plan {
        topology: t.kind,
        entry,
        hosts: a
            .hosts
            .iter()
            .map(|h| PlannedHost {
                address: h.address.clone(),
                login: a.login(h).describe(&h.address),
                roles: roles_sorted(&h.roles),
                data_dir: data_dir(h),
                data_disk: h.data_disk.clone(),
                format_data_disk: h.format_data_disk,
            })
            .collect(),
        bastion: a
            .bastion()
            .filter(|_| t.kind != TopologyKind::K8s)
            .map(|b| b.describe()),
        vip_holders: if t.kind == TopologyKind::HaKeepalived {
            masters
        } else {
            Vec::new()
        },
        cluster: (t.kind == TopologyKind::K8s).then(|| PlannedCluster {
            kubeconfig: t
                .kubeconfig
                .clone()
                .unwrap_or_else(|| "~/.kube/config".into()),
            context: t
                .context
                .clone()
                .unwrap_or_else(|| "(the kubeconfig's current context)".into()),
            namespace: t.namespace.clone().unwrap_or_default(),
            storage_class: t
                .storage_class
                .clone()
                .unwrap_or_else(|| "(the cluster's default)".into()),
            images_from: t
                .registry
                .clone()
                .unwrap_or_else(|| "(image names as in the bundle)".into()),
            replicas: t.replicas.clone(),
            rollout_timeout_secs: t
                .rollout_timeout
                .unwrap_or(crate::profile::DEFAULT_ROLLOUT_TIMEOUT),
        }),
    }
}
