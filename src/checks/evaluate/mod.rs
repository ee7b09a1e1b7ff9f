//! Judging one host's facts against what the product and the answers need.
//! Pure: facts in, results out (unit-tested without hosts).

use std::collections::HashMap;

mod data_disk;
mod network;
mod os;
mod prior;
mod resources;
mod runtime;
mod system;
mod time;

use super::distro::{self, Distro, Family, ReleaseFiles};
use super::{CheckResult, Status};
use crate::bundle::{Requirements, RoleRequirements};
use crate::i18n::Msg;
use crate::profile::{Role, TopologyKind};
use data_disk::data_disk;

/// What one host is expected to offer.
#[derive(Debug, Clone)]
pub struct HostContext {
    pub address: String,
    pub roles: Vec<Role>,
    pub topology: TopologyKind,
    pub data_dir: String,
    pub data_disk: Option<String>,
    pub format_data_disk: bool,
    pub ports: Vec<u16>,
    /// The ports of the components this installation runs on the host:
    /// the only ones a re-run finds its own listening on.
    pub placed_ports: Vec<u16>,
    pub interface: Option<String>,
    pub vip: Option<String>,
    pub architectures: Vec<String>,
    /// The architecture the profile gives the host, if any.
    pub declared_arch: Option<String>,
    pub requirements: Requirements,
    /// This machine's clock (seconds since the epoch) when the probe was sent.
    pub sent_at: f64,
    /// This machine's clock when the probe's answer came back: a host whose
    /// clock agrees read its time between the two (however slow the round
    /// trip was).
    pub received_at: f64,
    /// The id of the installation these answers make (a host that carries it
    /// already is being installed again, not taken).
    pub install_id: String,
    /// This installation already announces the VIP (from its other hosts).
    pub vip_installed: bool,
}

impl HostContext {
    /// The larger of the requirements of the host's roles.
    fn needs(&self) -> RoleRequirements {
        let mut n = RoleRequirements {
            cpus: 0,
            memory_gib: 0,
            data_gib: 0,
        };
        for r in &self.roles {
            let req = match r {
                Role::Master => &self.requirements.master,
                Role::Worker => &self.requirements.worker,
            };
            n.cpus = n.cpus.max(req.cpus);
            n.memory_gib = n.memory_gib.max(req.memory_gib);
            n.data_gib = n.data_gib.max(req.data_gib);
        }
        n
    }
}

/// Supported systems: `ID` (lower-cased) and `VERSION_ID`s (a version
/// also matches its point releases: `9` matches `9.5`; compared without
/// case: Kylin says `V10`).
const SUPPORTED_OS: &[(&str, &[&str])] = &[
    ("centos", &["7", "8"]),
    ("rhel", &["7", "8", "9"]),
    ("rocky", &["8", "9"]),
    ("almalinux", &["8", "9"]),
    ("kylin", &["v10"]),
    ("uos", &["20"]),
    ("openeuler", &["20.03", "22.03", "24.03"]),
    ("ubuntu", &["18.04", "20.04", "22.04", "24.04"]),
    ("debian", &["10", "11", "12"]),
];

/// The host's system, from its release files; its family from the package
/// managers the probe found when it found any.
pub(super) fn host_distro(facts: &HashMap<String, String>) -> Distro {
    let mut d = distro::identify(&ReleaseFiles::from_facts(facts));
    if let Some(seen) = Family::observed(fact(facts, "pkg.managers")) {
        d.family = seen;
    }
    d
}

/// Disk write throughput below this fails, below WARN warns (MB/s).
const DISK_WRITE_FAIL: f64 = 10.0;
const DISK_WRITE_WARN: f64 = 50.0;
/// Synchronous 4 KiB write latency above this warns / fails (ms).
const FSYNC_WARN_MS: f64 = 10.0;
const FSYNC_FAIL_MS: f64 = 100.0;
const SKEW_WARN_S: f64 = 2.0;
const SKEW_FAIL_S: f64 = 30.0;

pub(super) fn num(facts: &HashMap<String, String>, key: &str) -> Option<f64> {
    facts.get(key).and_then(|v| v.trim().parse().ok())
}

pub(super) fn fact<'a>(facts: &'a HashMap<String, String>, key: &str) -> &'a str {
    facts.get(key).map(String::as_str).unwrap_or("")
}

/// Compares dotted versions numerically (`20.10.24` >= `20.10`).
pub(crate) fn version_at_least(have: &str, need: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap_or(0))
            .collect()
    };
    parse(have) >= parse(need)
}

/// Every per-host check except the connectivity ones, from the probe's
/// facts, family by family (one file each).
pub fn evaluate_host(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    [
        os::check,
        resources::check,
        network::check,
        time::check,
        runtime::check,
        system::check,
        prior::check,
    ]
    .iter()
    .flat_map(|family| family(ctx, facts))
    .collect()
}

/// The install record on the host when it is this very installation's (a
/// re-run).
fn own_record(ctx: &HostContext, facts: &HashMap<String, String>) -> Option<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(fact(facts, "prior.install"))
        .ok()
        .filter(|p| p["install"].as_str() == Some(ctx.install_id.as_str()))
}

fn join(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `addr` lies in `cidr` (`10.0.0.5/24`).
pub(crate) fn in_subnet(addr: &str, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(a), Ok(n), Ok(bits)) = (
        addr.parse::<std::net::Ipv4Addr>(),
        net.parse::<std::net::Ipv4Addr>(),
        bits.parse::<u32>(),
    ) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(a) & mask) == (u32::from(n) & mask)
}

#[cfg(test)]
mod tests;
