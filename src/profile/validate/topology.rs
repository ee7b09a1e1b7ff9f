//! What each topology needs and what it must not have.

use super::{dns_label, ip};
use crate::i18n::Msg;
use crate::pattern::{self, Kind};
use crate::profile::{Answers, Problem, TopologyKind};

pub(super) fn topology(a: &Answers, out: &mut Vec<Problem>) {
    fields_of_other_kinds(a, out);
    host_count(a, out);
    match a.topology.kind {
        TopologyKind::Single => {}
        TopologyKind::HaKeepalived => keepalived(a, out),
        TopologyKind::HaLb => load_balancer(a, out),
        TopologyKind::K8s => k8s(a, out),
    }
}

/// A field that belongs to another topology is a mistake, not a no-op.
fn fields_of_other_kinds(a: &Answers, out: &mut Vec<Problem>) {
    let t = &a.topology;
    let kind = t.kind;
    let only = |field: &str, present: bool, for_kind: TopologyKind, out: &mut Vec<Problem>| {
        if present && kind != for_kind {
            out.push(Problem::new(
                format!("topology.{field}"),
                Msg::new("profile.only-for-kind")
                    .arg("kind", for_kind.as_str())
                    .arg("this", kind.as_str()),
            ));
        }
    };
    for (field, present, for_kind) in [
        ("vip", t.vip.is_some(), TopologyKind::HaKeepalived),
        (
            "interface",
            t.interface.is_some(),
            TopologyKind::HaKeepalived,
        ),
        (
            "virtual-router-id",
            t.virtual_router_id.is_some(),
            TopologyKind::HaKeepalived,
        ),
        ("lb-address", t.lb_address.is_some(), TopologyKind::HaLb),
        ("lb-port", t.lb_port.is_some(), TopologyKind::HaLb),
        ("kubeconfig", t.kubeconfig.is_some(), TopologyKind::K8s),
        ("context", t.context.is_some(), TopologyKind::K8s),
        ("namespace", t.namespace.is_some(), TopologyKind::K8s),
        (
            "storage-class",
            t.storage_class.is_some(),
            TopologyKind::K8s,
        ),
        ("registry", t.registry.is_some(), TopologyKind::K8s),
        ("pull-secret", t.pull_secret.is_some(), TopologyKind::K8s),
        ("replicas", !t.replicas.is_empty(), TopologyKind::K8s),
        (
            "rollout-timeout",
            t.rollout_timeout.is_some(),
            TopologyKind::K8s,
        ),
        ("images", t.images.is_some(), TopologyKind::K8s),
        (
            "registry-user",
            t.registry_user.is_some(),
            TopologyKind::K8s,
        ),
        (
            "registry-password-env",
            t.registry_password_env.is_some(),
            TopologyKind::K8s,
        ),
        (
            "registry-password-file",
            t.registry_password_file.is_some(),
            TopologyKind::K8s,
        ),
        ("registry-ca", t.registry_ca.is_some(), TopologyKind::K8s),
        ("registry-http", t.registry_http, TopologyKind::K8s),
    ] {
        only(field, present, for_kind, out);
    }
}

/// How many hosts (or masters) each topology needs.
fn host_count(a: &Answers, out: &mut Vec<Problem>) {
    let kind = a.topology.kind;
    let masters = a.masters().len();
    match kind {
        TopologyKind::Single => {
            if a.hosts.len() != 1 {
                out.push(
                    Problem::new(
                        "hosts",
                        Msg::new("profile.single-one-host").arg("count", a.hosts.len()),
                    )
                    .hint(Msg::new("profile.single-one-host-hint")),
                );
            }
        }
        TopologyKind::HaKeepalived | TopologyKind::HaLb => {
            if masters < 2 {
                out.push(
                    Problem::new(
                        "hosts",
                        Msg::new("profile.ha-two-masters")
                            .arg("kind", kind.as_str())
                            .arg("count", masters),
                    )
                    .hint(Msg::new("profile.ha-two-masters-hint")),
                );
            }
        }
        TopologyKind::K8s => {
            let nodes = a.topology.images == Some(crate::profile::ImageDelivery::Nodes);
            if nodes && a.hosts.is_empty() {
                out.push(
                    Problem::new("hosts", Msg::new("profile.k8s-nodes-needed"))
                        .hint(Msg::new("profile.k8s-nodes-needed-hint")),
                );
            } else if !nodes && !a.hosts.is_empty() {
                out.push(
                    Problem::new("hosts", Msg::new("profile.k8s-no-hosts"))
                        .hint(Msg::new("profile.k8s-no-hosts-hint")),
                );
            }
        }
    }
}

/// An existing cluster: no hosts, no hooks, and the names the API will see.
fn k8s(a: &Answers, out: &mut Vec<Problem>) {
    let t = &a.topology;
    let h = &a.hooks;
    if h.pre_deploy.is_some() || h.post_deploy.is_some() || h.on_error.is_some() {
        out.push(
            Problem::new("hooks", Msg::new("profile.k8s-no-hooks"))
                .hint(Msg::new("profile.k8s-no-hooks-hint")),
        );
    }
    if t.kubeconfig.as_deref().is_none_or(|k| k.trim().is_empty()) {
        out.push(
            Problem::new("topology.kubeconfig", Msg::new("profile.k8s-kubeconfig"))
                .hint(Msg::new("profile.k8s-kubeconfig-hint")),
        );
    }
    match t.namespace.as_deref() {
        None | Some("") => out.push(Problem::new(
            "topology.namespace",
            Msg::new("profile.k8s-namespace"),
        )),
        Some(ns) if !dns_label(ns) => out.push(Problem::new(
            "topology.namespace",
            Msg::new("profile.k8s-namespace-bad").arg("ns", pattern::shown(ns)),
        )),
        Some(_) => {}
    }
    if let Some(ps) = t.pull_secret.as_deref()
        && !dns_label(ps)
    {
        out.push(Problem::new(
            "topology.pull-secret",
            Msg::new("profile.k8s-name-bad").arg("value", pattern::shown(ps)),
        ));
    }
    if let Some(r) = t.registry.as_deref()
        && let Err(m) = pattern::check(Kind::Registry, r)
    {
        out.push(Problem::new("topology.registry", m).hint(Msg::new("profile.registry-bad-hint")));
    }
    registry_access(t, out);
    if let Some(secs) = t.rollout_timeout
        && !(10..=86_400).contains(&secs)
    {
        out.push(Problem::new(
            "topology.rollout-timeout",
            Msg::new("profile.range").arg("min", 10).arg("max", 86_400),
        ));
    }
    for (name, n) in &t.replicas {
        if !dns_label(name) && !pattern::has_control(name) {
            out.push(Problem::new(
                format!("topology.replicas.{name}"),
                Msg::new("profile.k8s-name-bad").arg("value", pattern::shown(name)),
            ));
        }
        if *n == 0 || *n > 100 {
            out.push(Problem::new(
                format!("topology.replicas.{name}"),
                Msg::new("profile.range").arg("min", 1).arg("max", 100),
            ));
        }
    }
}

/// How cdwiz reaches the registry it pushes to: each setting needs the
/// registry (and pushing), a user needs a password and the other way
/// round, and the names are what they say.
fn registry_access(t: &crate::profile::Topology, out: &mut Vec<Problem>) {
    use crate::profile::ImageDelivery;
    let settings = [
        ("registry-user", t.registry_user.is_some()),
        ("registry-password-env", t.registry_password_env.is_some()),
        ("registry-password-file", t.registry_password_file.is_some()),
        ("registry-ca", t.registry_ca.is_some()),
        ("registry-http", t.registry_http),
    ];
    if t.images == Some(ImageDelivery::Nodes) && t.registry.is_some() {
        out.push(
            Problem::new(
                "topology.images",
                Msg::new("profile.k8s-nodes-and-registry"),
            )
            .hint(Msg::new("profile.k8s-nodes-and-registry-hint")),
        );
    }
    if t.registry.is_none() {
        if t.images == Some(ImageDelivery::Push) {
            out.push(
                Problem::new(
                    "topology.images",
                    Msg::new("profile.registry-needed-to-push"),
                )
                .hint(Msg::new("profile.registry-needed-hint")),
            );
        }
        for (field, present) in settings {
            if present {
                out.push(
                    Problem::new(
                        format!("topology.{field}"),
                        Msg::new("profile.registry-setting-alone"),
                    )
                    .hint(Msg::new("profile.registry-needed-hint")),
                );
            }
        }
        return;
    }
    let password = t.registry_password_env.is_some() || t.registry_password_file.is_some();
    if t.registry_password_env.is_some() && t.registry_password_file.is_some() {
        out.push(Problem::new(
            "topology.registry-password-file",
            Msg::new("profile.registry-password-both"),
        ));
    }
    match t.registry_user.as_deref() {
        Some(u) if u.is_empty() || u.contains(':') || pattern::has_control(u) => {
            out.push(Problem::new(
                "topology.registry-user",
                Msg::new("profile.registry-user-bad").arg("value", pattern::shown(u)),
            ))
        }
        Some(_) if !password => out.push(
            Problem::new(
                "topology.registry-user",
                Msg::new("profile.registry-password-missing"),
            )
            .hint(Msg::new("profile.registry-password-hint")),
        ),
        None if password => out.push(Problem::new(
            if t.registry_password_env.is_some() {
                "topology.registry-password-env"
            } else {
                "topology.registry-password-file"
            },
            Msg::new("profile.registry-user-missing"),
        )),
        _ => {}
    }
    if t.registry_http && t.registry_ca.is_some() {
        out.push(Problem::new(
            "topology.registry-ca",
            Msg::new("profile.registry-ca-with-http"),
        ));
    }
}

/// The VIP keepalived moves: an address of the hosts' family, not a host's own.
fn keepalived(a: &Answers, out: &mut Vec<Problem>) {
    let t = &a.topology;
    match t.vip.as_deref() {
        None => out.push(
            Problem::new("topology.vip", Msg::new("profile.vip-missing"))
                .hint(Msg::new("profile.vip-missing-hint")),
        ),
        Some(v) => match ip(v) {
            None => out.push(Problem::new(
                "topology.vip",
                Msg::new("profile.not-ip").arg("value", pattern::shown(v)),
            )),
            Some(vip) => {
                if let Some(i) = a.hosts.iter().position(|h| ip(&h.address) == Some(vip)) {
                    out.push(Problem::new(
                        "topology.vip",
                        Msg::new("profile.vip-is-host")
                            .arg("vip", pattern::shown(v))
                            .arg("i", i),
                    ));
                }
                for (i, h) in a.hosts.iter().enumerate() {
                    if let Some(addr) = ip(&h.address)
                        && addr.is_ipv4() != vip.is_ipv4()
                    {
                        out.push(Problem::new(
                            "topology.vip",
                            Msg::new("profile.vip-ip-version")
                                .arg("vip", pattern::shown(v))
                                .arg("i", i)
                                .arg("address", pattern::shown(&h.address)),
                        ));
                        break;
                    }
                }
            }
        },
    }
    if t.interface.as_deref().is_none_or(|i| i.trim().is_empty()) {
        out.push(
            Problem::new("topology.interface", Msg::new("profile.interface-missing"))
                .hint(Msg::new("profile.interface-missing-hint")),
        );
    }
    if t.virtual_router_id == Some(0) {
        out.push(Problem::new(
            "topology.virtual-router-id",
            Msg::new("profile.range").arg("min", 1).arg("max", 255),
        ));
    }
}

/// The customer's load balancer: where it answers.
fn load_balancer(a: &Answers, out: &mut Vec<Problem>) {
    let t = &a.topology;
    match t.lb_address.as_deref() {
        None => out.push(
            Problem::new(
                "topology.lb-address",
                Msg::new("profile.lb-address-missing"),
            )
            .hint(Msg::new("profile.lb-address-missing-hint")),
        ),
        Some(v) if ip(v).is_none() && !pattern::hostname(v) => out.push(Problem::new(
            "topology.lb-address",
            Msg::new("profile.not-ip-or-name").arg("value", pattern::shown(v)),
        )),
        Some(_) => {}
    }
    match t.lb_port {
        None => out.push(Problem::new(
            "topology.lb-port",
            Msg::new("profile.lb-port-missing"),
        )),
        Some(0) => out.push(Problem::new(
            "topology.lb-port",
            Msg::new("profile.range").arg("min", 1).arg("max", 65535),
        )),
        Some(_) => {}
    }
}
