//! Network: ports, the VIP's interface and address, peers.

use std::collections::HashMap;

use super::*;

pub(super) fn check(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();

    let listening: Vec<u16> = fact(facts, "ports.listening")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    // A re-run: the ports this very installation listens on are not taken,
    // where it runs the component that has them (another program on a
    // port of a component that runs elsewhere takes it).
    let ours = own_record(ctx, facts);
    let own_ports: Vec<u16> = ours
        .as_ref()
        .and_then(|p| p["ports"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64())
                .map(|v| v as u16)
                .filter(|p| ctx.placed_ports.contains(p))
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
        out.push(
            if fact(facts, "vip.answers") == "yes" && (ours.is_some() || ctx.vip_installed) {
                // A re-run, or a host joining: this installation's keepalived
                // holds it.
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
            },
        );
    } else {
        for id in ["net.interface", "net.vip-subnet", "net.vip-free"] {
            out.push(r(
                id,
                Status::Skip,
                m("common.not-this-topology").arg("topology", ctx.topology.as_str()),
            ));
        }
    }
    out
}
