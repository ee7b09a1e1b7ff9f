//! System: SELinux, firewall, swap, kernel and process limits.

use std::collections::HashMap;

use super::*;

pub(super) fn check(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();

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
        let fix = firewall_fix(fw, ctx);
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
    out
}

/// Opens the platform's ports (and VRRP between keepalived's masters) in the
/// firewall that runs, rather than stopping it: a security team keeps its
/// firewall.
fn firewall_fix(fw: &str, ctx: &HostContext) -> String {
    let ports = &ctx.ports;
    if fw.contains("firewalld") {
        if ports.is_empty() {
            return "systemctl disable --now firewalld".into();
        }
        let mut add: Vec<String> = ports
            .iter()
            .map(|p| format!("--add-port={p}/tcp"))
            .collect();
        if ctx.topology == TopologyKind::HaKeepalived {
            add.push("--add-protocol=vrrp".into());
        }
        format!(
            "firewall-cmd --permanent {} && firewall-cmd --reload",
            add.join(" ")
        )
    } else if ports.is_empty() {
        "ufw disable".into()
    } else {
        ports
            .iter()
            .map(|p| format!("ufw allow {p}/tcp"))
            .collect::<Vec<_>>()
            .join(" && ")
    }
}
