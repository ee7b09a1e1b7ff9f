//! Every check cdwiz knows, in the order reports list them: the host
//! checks (their family, whether judged across hosts) and the cluster
//! checks. Their titles, details and hints are messages under
//! `check.<id>.*`. The profile (waivers), the checks and the reports read
//! it here.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Connectivity,
    Os,
    Resources,
    Network,
    Time,
    Runtime,
    System,
    Prior,
}

/// One entry of the catalogue. Its title, details and hints are catalogue
/// messages under `check.<id>.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckDef {
    pub id: &'static str,
    pub family: Family,
    /// Its result is for all hosts together (the grid's `*` column), not
    /// one host's (`net.hostname-unique` is judged across hosts but its
    /// result is each host's own).
    pub cross_host: bool,
}

const fn host(id: &'static str, family: Family) -> CheckDef {
    CheckDef {
        id,
        family,
        cross_host: false,
    }
}

const fn cross(id: &'static str, family: Family) -> CheckDef {
    CheckDef {
        id,
        family,
        cross_host: true,
    }
}

/// Every check, in the order reports list them.
pub const CATALOGUE: &[CheckDef] = &[
    host("ssh.reach", Family::Connectivity),
    host("ssh.login", Family::Connectivity),
    host("ssh.root", Family::Connectivity),
    host("os.distribution", Family::Os),
    host("os.kernel", Family::Os),
    host("os.arch", Family::Os),
    host("res.cpu", Family::Resources),
    host("res.memory", Family::Resources),
    host("res.data-space", Family::Resources),
    host("res.data-disk", Family::Resources),
    host("res.disk-write", Family::Resources),
    host("res.disk-fsync", Family::Resources),
    host("net.ports", Family::Network),
    host("net.interface", Family::Network),
    host("net.vip-subnet", Family::Network),
    host("net.vip-free", Family::Network),
    host("net.peers", Family::Network),
    host("net.hostname-unique", Family::Network),
    cross("net.latency", Family::Network),
    host("time.skew", Family::Time),
    host("time.sync", Family::Time),
    cross("time.skew-hosts", Family::Time),
    host("runtime.docker", Family::Runtime),
    host("runtime.docker-api", Family::Runtime),
    host("runtime.storage", Family::Runtime),
    host("sys.selinux", Family::System),
    host("sys.firewall", Family::System),
    host("sys.swap", Family::System),
    host("sys.max-map-count", Family::System),
    host("sys.nofile", Family::System),
    host("prior.install", Family::Prior),
];

/// The catalogue entry for `id`.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    CATALOGUE.iter().find(|c| c.id == id)
}

/// The cluster checks (`k8s` topology), in order.
pub const CLUSTER_CHECKS: &[&str] = &[
    "k8s.kubeconfig",
    "k8s.context",
    "k8s.api",
    "k8s.version",
    "k8s.nodes",
    "k8s.resources",
    "k8s.storage-class",
    "k8s.namespace",
    "k8s.rbac",
    "k8s.registry",
];

/// A host check or a cluster check (`k8s` topology) of this id exists.
pub fn known(id: &str) -> bool {
    find(id).is_some() || CLUSTER_CHECKS.contains(&id)
}
