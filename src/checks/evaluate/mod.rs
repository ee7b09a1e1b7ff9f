//! Judging one host's facts against what the product and the answers need.
//! Pure: facts in, results out (unit-tested without hosts).

use std::collections::HashMap;

mod data_disk;

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
    pub interface: Option<String>,
    pub vip: Option<String>,
    pub architectures: Vec<String>,
    pub requirements: Requirements,
    /// This machine's clock (seconds since the epoch) when the probe was sent.
    pub sent_at: f64,
    /// The id of the installation these answers make (a host that carries it
    /// already is being installed again, not taken).
    pub install_id: String,
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

const SUPPORTED_OS: &[(&str, &[&str])] = &[
    ("centos", &["7", "8"]),
    ("rhel", &["7", "8", "9"]),
    ("rocky", &["8", "9"]),
    ("almalinux", &["8", "9"]),
    ("kylin", &["V10", "v10", "10"]),
    ("uos", &["20"]),
    ("openEuler", &["20.03", "22.03", "24.03"]),
    ("openeuler", &["20.03", "22.03", "24.03"]),
    ("ubuntu", &["18.04", "20.04", "22.04", "24.04"]),
    ("debian", &["10", "11", "12"]),
];

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

/// Every per-host check except the connectivity ones, from the probe's facts.
pub fn evaluate_host(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();
    let needs = ctx.needs();

    // OS
    let (id, ver, name) = (
        fact(facts, "os.id"),
        fact(facts, "os.version"),
        fact(facts, "os.name"),
    );
    let supported = SUPPORTED_OS.iter().any(|(i, vs)| {
        *i == id
            && vs
                .iter()
                .any(|v| ver == *v || ver.starts_with(&format!("{v}.")))
    });
    out.push(if supported {
        r(
            "os.distribution",
            Status::Pass,
            m("os.distribution.ok").arg("os", name),
        )
    } else {
        r(
            "os.distribution",
            Status::Warn,
            m("os.distribution.unknown").arg("os", name),
        )
        .hint(m("os.distribution.hint"))
    });
    let kernel = fact(facts, "kernel");
    out.push(if !version_at_least(kernel, "3.10") {
        r(
            "os.kernel",
            Status::Fail,
            m("os.kernel.old").arg("kernel", kernel).arg("need", "3.10"),
        )
        .hint(m("os.kernel.hint"))
    } else if !version_at_least(kernel, "4.0") && !kernel.contains("el7") {
        r(
            "os.kernel",
            Status::Warn,
            m("os.kernel.overlay").arg("kernel", kernel),
        )
        .hint(m("os.kernel.hint"))
    } else {
        r(
            "os.kernel",
            Status::Pass,
            m("os.kernel.ok").arg("kernel", kernel),
        )
    });
    let arch = match fact(facts, "arch") {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        other => other,
    };
    out.push(if ctx.architectures.iter().any(|a| a == arch) {
        r("os.arch", Status::Pass, m("os.arch.ok").arg("arch", arch))
    } else {
        r(
            "os.arch",
            Status::Fail,
            m("os.arch.missing")
                .arg("arch", arch)
                .arg("bundle", ctx.architectures.join(", ")),
        )
        .hint(m("os.arch.hint"))
    });

    // Resources
    let cpus = num(facts, "cpus").unwrap_or(0.0) as u32;
    out.push(if cpus >= needs.cpus {
        r(
            "res.cpu",
            Status::Pass,
            m("res.cpu.ok").arg("have", cpus).arg("need", needs.cpus),
        )
    } else {
        r(
            "res.cpu",
            Status::Fail,
            m("res.cpu.low").arg("have", cpus).arg("need", needs.cpus),
        )
        .hint(m("res.cpu.hint"))
    });
    let mem_gib = num(facts, "mem.kb").unwrap_or(0.0) / 1024.0 / 1024.0;
    // Reported memory is a little under the installed size: allow 5 %.
    out.push(if mem_gib >= f64::from(needs.memory_gib) * 0.95 {
        r(
            "res.memory",
            Status::Pass,
            m("res.memory.ok")
                .arg("have", format!("{mem_gib:.1}"))
                .arg("need", needs.memory_gib),
        )
    } else {
        r(
            "res.memory",
            Status::Fail,
            m("res.memory.low")
                .arg("have", format!("{mem_gib:.1}"))
                .arg("need", needs.memory_gib),
        )
        .hint(m("res.memory.hint"))
    });
    let avail_gib = num(facts, "data.dir.avail.kb").unwrap_or(0.0) / 1024.0 / 1024.0;
    let base = fact(facts, "data.dir.base").to_string();
    let disk_will_hold = ctx.format_data_disk && fact(facts, "disk.present") == "yes";
    out.push(if disk_will_hold {
        let bytes = num(facts, "disk.bytes").unwrap_or(0.0) / 1024.0 / 1024.0 / 1024.0;
        if bytes >= f64::from(needs.data_gib) {
            r(
                "res.data-space",
                Status::Pass,
                m("res.data-space.disk")
                    .arg("have", format!("{bytes:.1}"))
                    .arg("need", needs.data_gib),
            )
        } else {
            r(
                "res.data-space",
                Status::Fail,
                m("res.data-space.disk-small")
                    .arg("have", format!("{bytes:.1}"))
                    .arg("need", needs.data_gib),
            )
        }
    } else if avail_gib >= f64::from(needs.data_gib) {
        r(
            "res.data-space",
            Status::Pass,
            m("res.data-space.ok")
                .arg("have", format!("{avail_gib:.1}"))
                .arg("need", needs.data_gib)
                .arg("dir", &base),
        )
    } else {
        r(
            "res.data-space",
            Status::Fail,
            m("res.data-space.low")
                .arg("have", format!("{avail_gib:.2}"))
                .arg("need", needs.data_gib)
                .arg("dir", &base),
        )
        .hint(m("res.data-space.hint"))
        .fix(format!(
            "du -xsh {}/* | sort -h | tail",
            base.trim_end_matches('/')
        ))
    });
    out.push(match &ctx.data_disk {
        None => r("res.data-disk", Status::Skip, m("res.data-disk.none")),
        Some(disk) if fact(facts, "disk.present") != "yes" => r(
            "res.data-disk",
            Status::Fail,
            m("res.data-disk.missing").arg("disk", disk),
        )
        .hint(m("res.data-disk.missing-hint"))
        .fix("lsblk -d -o NAME,SIZE,TYPE,MOUNTPOINT"),
        Some(disk) => data_disk(ctx, facts, disk),
    });
    let probe_fits = num(facts, "data.dir.avail.kb").is_some_and(|kb| kb >= 16.0 * 1024.0);
    out.push(match num(facts, "disk.write.mb_s") {
        // Too full to write the 16 MiB probe: res.data-space already says so.
        None if !probe_fits => r(
            "res.disk-write",
            Status::Skip,
            m("res.disk-write.no-room").arg("dir", &base),
        ),
        None => r(
            "res.disk-write",
            Status::Fail,
            m("res.disk-write.unwritable").arg("dir", &base),
        )
        .fix(format!(
            "touch {}/.cdwiz-test && rm {}/.cdwiz-test",
            base, base
        )),
        Some(v) if v < DISK_WRITE_FAIL => r(
            "res.disk-write",
            Status::Fail,
            m("res.disk-write.slow")
                .arg("have", v)
                .arg("need", DISK_WRITE_FAIL),
        ),
        Some(v) if v < DISK_WRITE_WARN => r(
            "res.disk-write",
            Status::Warn,
            m("res.disk-write.slow")
                .arg("have", v)
                .arg("need", DISK_WRITE_WARN),
        ),
        Some(v) => r(
            "res.disk-write",
            Status::Pass,
            m("res.disk-write.ok").arg("have", v),
        ),
    });
    out.push(match num(facts, "disk.fsync.ms") {
        None => r("res.disk-fsync", Status::Skip, m("res.disk-fsync.unknown")),
        Some(v) if v > FSYNC_FAIL_MS => r(
            "res.disk-fsync",
            Status::Fail,
            m("res.disk-fsync.slow")
                .arg("have", v)
                .arg("limit", FSYNC_FAIL_MS),
        ),
        Some(v) if v > FSYNC_WARN_MS => r(
            "res.disk-fsync",
            Status::Warn,
            m("res.disk-fsync.slow")
                .arg("have", v)
                .arg("limit", FSYNC_WARN_MS),
        ),
        Some(v) => r(
            "res.disk-fsync",
            Status::Pass,
            m("res.disk-fsync.ok").arg("have", v),
        ),
    });

    // Network
    let listening: Vec<u16> = fact(facts, "ports.listening")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    // A re-run: the ports this very installation listens on are not taken.
    let prior: Option<serde_json::Value> = serde_json::from_str(fact(facts, "prior.install")).ok();
    let ours = prior
        .as_ref()
        .filter(|p| p["install"].as_str() == Some(ctx.install_id.as_str()));
    let own_ports: Vec<u16> = ours
        .and_then(|p| p["ports"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64())
                .map(|v| v as u16)
                .collect()
        })
        .unwrap_or_default();
    let taken: Vec<u16> = ctx
        .ports
        .iter()
        .copied()
        .filter(|p| listening.contains(p) && !own_ports.contains(p))
        .collect();
    out.push(if taken.is_empty() {
        r(
            "net.ports",
            Status::Pass,
            m("net.ports.ok").arg("ports", join(&ctx.ports)),
        )
    } else {
        let filter = taken
            .iter()
            .map(|p| format!("sport = :{p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        r(
            "net.ports",
            Status::Fail,
            m("net.ports.taken").arg("ports", join(&taken)),
        )
        .hint(m("net.ports.hint"))
        .fix(format!("ss -ltnp '( {filter} )'"))
    });
    if ctx.topology == TopologyKind::HaKeepalived {
        let iface = ctx.interface.clone().unwrap_or_default();
        out.push(if fact(facts, "iface.exists") == "yes" {
            r(
                "net.interface",
                Status::Pass,
                m("net.interface.ok").arg("iface", &iface),
            )
        } else {
            r(
                "net.interface",
                Status::Fail,
                m("net.interface.missing").arg("iface", &iface),
            )
            .fix("ip -br addr")
        });
        let vip = ctx.vip.clone().unwrap_or_default();
        let cidrs = fact(facts, "iface.addrs");
        out.push(if cidrs.split_whitespace().any(|c| in_subnet(&vip, c)) {
            r(
                "net.vip-subnet",
                Status::Pass,
                m("net.vip-subnet.ok")
                    .arg("vip", &vip)
                    .arg("subnet", cidrs.trim()),
            )
        } else {
            r(
                "net.vip-subnet",
                Status::Fail,
                m("net.vip-subnet.outside")
                    .arg("vip", &vip)
                    .arg("iface", &iface)
                    .arg("subnet", cidrs.trim()),
            )
            .hint(m("net.vip-subnet.hint"))
        });
        out.push(if fact(facts, "vip.answers") == "yes" && ours.is_some() {
            // A re-run: this installation's keepalived holds it.
            r(
                "net.vip-free",
                Status::Pass,
                m("net.vip-free.own").arg("vip", &vip),
            )
        } else if fact(facts, "vip.answers") == "yes" {
            r(
                "net.vip-free",
                Status::Fail,
                m("net.vip-free.taken").arg("vip", &vip),
            )
            .hint(m("net.vip-free.hint"))
            .fix(format!("ip neigh show {vip}"))
        } else {
            r(
                "net.vip-free",
                Status::Pass,
                m("net.vip-free.ok").arg("vip", &vip),
            )
        });
    } else {
        for id in ["net.interface", "net.vip-subnet", "net.vip-free"] {
            out.push(r(
                id,
                Status::Skip,
                m("common.not-this-topology").arg("topology", ctx.topology.as_str()),
            ));
        }
    }
    // Time
    let skew = num(facts, "time.epoch").map(|t| t - ctx.sent_at);
    out.push(match skew {
        None => r("time.skew", Status::Skip, m("time.skew.unknown")),
        Some(s) if s.abs() > SKEW_FAIL_S => r(
            "time.skew",
            Status::Fail,
            m("time.skew.off").arg("secs", format!("{s:+.1}")),
        )
        .hint(m("time.skew.hint"))
        .fix(format!("date -s @{:.0}", ctx.sent_at)),
        Some(s) if s.abs() > SKEW_WARN_S => r(
            "time.skew",
            Status::Warn,
            m("time.skew.off").arg("secs", format!("{s:+.1}")),
        )
        .hint(m("time.skew.hint")),
        Some(s) => r(
            "time.skew",
            Status::Pass,
            m("time.skew.ok").arg("secs", format!("{s:+.1}")),
        ),
    });
    let sync = fact(facts, "time.sync");
    out.push(if sync.is_empty() {
        r("time.sync", Status::Warn, m("time.sync.none"))
            .hint(m("time.sync.hint"))
            .fix("systemctl enable --now chronyd")
    } else {
        r(
            "time.sync",
            Status::Pass,
            m("time.sync.ok").arg("daemon", sync),
        )
    });

    // Runtime
    let client = fact(facts, "docker.client");
    let server = fact(facts, "docker.server");
    let need = &ctx.requirements.docker_min;
    out.push(if client.is_empty() {
        r(
            "runtime.docker",
            Status::Fail,
            m("runtime.docker.absent").arg("need", need),
        )
        .hint(m("runtime.docker.absent-hint"))
    } else if server.is_empty() {
        r(
            "runtime.docker",
            Status::Fail,
            m("runtime.docker.stopped").arg("version", client),
        )
        .hint(m("runtime.docker.stopped-hint"))
        .fix("systemctl start docker || service docker start")
    } else if !version_at_least(server, need) {
        r(
            "runtime.docker",
            Status::Fail,
            m("runtime.docker.old")
                .arg("version", server)
                .arg("need", need),
        )
    } else {
        r(
            "runtime.docker",
            Status::Pass,
            m("runtime.docker.ok").arg("version", server),
        )
    });
    let storage = fact(facts, "docker.storage");
    out.push(if server.is_empty() {
        r(
            "runtime.storage",
            Status::Skip,
            m("runtime.storage.unknown"),
        )
    } else if storage == "overlay2" {
        r(
            "runtime.storage",
            Status::Pass,
            m("runtime.storage.ok").arg("driver", storage),
        )
    } else {
        r(
            "runtime.storage",
            Status::Warn,
            m("runtime.storage.other").arg("driver", storage),
        )
        .hint(m("runtime.storage.hint"))
    });

    // System
    let selinux = fact(facts, "selinux");
    out.push(if selinux == "enforcing" {
        r("sys.selinux", Status::Warn, m("sys.selinux.enforcing"))
            .hint(m("sys.selinux.hint"))
            .fix("setenforce 0 && sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config")
    } else {
        r("sys.selinux", Status::Pass, m("sys.selinux.ok").arg("mode", if selinux.is_empty() { "disabled" } else { selinux }))
    });
    let fw = fact(facts, "firewall");
    out.push(if fw.is_empty() {
        r("sys.firewall", Status::Pass, m("sys.firewall.ok"))
    } else {
        let fix = if fw.contains("firewalld") {
            "systemctl disable --now firewalld"
        } else {
            "ufw disable"
        };
        r(
            "sys.firewall",
            Status::Warn,
            m("sys.firewall.active").arg("firewall", fw),
        )
        .hint(m("sys.firewall.hint").arg("ports", join(&ctx.ports)))
        .fix(fix)
    });
    let swap = num(facts, "swap.kb").unwrap_or(0.0);
    out.push(if swap > 0.0 {
        r(
            "sys.swap",
            Status::Warn,
            m("sys.swap.on").arg("mib", format!("{:.0}", swap / 1024.0)),
        )
        .hint(m("sys.swap.hint"))
        .fix("swapoff -a && sed -i '/\\sswap\\s/ s/^#*/#/' /etc/fstab")
    } else {
        r("sys.swap", Status::Pass, m("sys.swap.off"))
    });
    let have_map = num(facts, "sysctl.vm.max_map_count").unwrap_or(0.0) as u64;
    out.push(match ctx.requirements.sysctl.get("vm.max_map_count") {
        Some(need) if have_map < *need => r("sys.max-map-count", Status::Warn, m("sys.max-map-count.low").arg("have", have_map).arg("need", need))
            .hint(m("sys.max-map-count.hint"))
            .fix(format!("sysctl -w vm.max_map_count={need} && echo 'vm.max_map_count={need}' > /etc/sysctl.d/90-cdwiz.conf")),
        _ => r("sys.max-map-count", Status::Pass, m("sys.max-map-count.ok").arg("have", have_map)),
    });
    let nofile = fact(facts, "nofile");
    let nofile_n: u64 = if nofile == "unlimited" {
        u64::MAX
    } else {
        nofile.parse().unwrap_or(0)
    };
    let nofile_min = ctx.requirements.nofile;
    out.push(if nofile_n >= nofile_min {
        r("sys.nofile", Status::Pass, m("sys.nofile.ok").arg("have", nofile))
    } else {
        r("sys.nofile", Status::Warn, m("sys.nofile.low").arg("have", nofile).arg("need", nofile_min))
            .fix(format!("printf '* soft nofile {nofile_min}\\n* hard nofile {nofile_min}\\n' > /etc/security/limits.d/90-cdwiz.conf"))
    });

    // Prior install
    let record = fact(facts, "prior.install");
    out.push(if record.is_empty() {
        r("prior.install", Status::Pass, m("prior.install.none"))
    } else if ours.is_some() {
        r("prior.install", Status::Pass, m("prior.install.same"))
    } else {
        r(
            "prior.install",
            Status::Warn,
            m("prior.install.found").arg("record", record),
        )
        .hint(m("prior.install.hint"))
    });
    out
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
