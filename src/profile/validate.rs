//! The rules a well-formed profile must also follow: topology requirements,
//! addresses, roles, where secrets come from. Every problem at once, each
//! with its field path.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Answers, PROFILE_VERSION, Problem, SshAuth, TopologyKind};
use crate::i18n::Msg;

/// Checks the answers; an empty list means they are good.
pub fn validate(a: &Answers) -> Vec<Problem> {
    let mut out = Vec::new();
    if a.version != PROFILE_VERSION {
        out.push(
            Problem::new(
                "version",
                Msg::new("profile.version")
                    .arg("want", PROFILE_VERSION)
                    .arg("have", a.version),
            )
            .hint(Msg::new("profile.version-hint").arg("want", PROFILE_VERSION)),
        );
    }
    if a.bundle.trim().is_empty() {
        out.push(
            Problem::new("bundle", Msg::new("profile.bundle-missing"))
                .hint(Msg::new("profile.bundle-missing-hint")),
        );
    }
    topology(a, &mut out);
    if a.topology.kind != TopologyKind::K8s {
        ssh(a, &mut out);
        hosts(a, &mut out);
    }
    for (i, w) in a.accept_checks.iter().enumerate() {
        let at = format!("accept-checks[{i}]");
        if w.check.trim().is_empty() {
            out.push(Problem::new(
                format!("{at}.check"),
                Msg::new("profile.check-missing"),
            ));
        } else if !crate::checks::known(&w.check) {
            let known: Vec<&str> = crate::checks::CATALOGUE.iter().map(|c| c.id).collect();
            let mut p = Problem::new(
                format!("{at}.check"),
                Msg::new("profile.check-unknown").arg("id", &w.check),
            );
            let guess = known
                .iter()
                .map(|k| (strsim::damerau_levenshtein(k, &w.check), *k))
                .min()
                .filter(|(d, _)| *d <= 3);
            p = match guess {
                Some((_, k)) => p.hint(Msg::new("profile.did-you-mean").arg("best", k)),
                None => p.hint(Msg::new("profile.known-ids").arg("ids", known.join(", "))),
            };
            out.push(p);
        }
        if w.reason.trim().is_empty() {
            out.push(
                Problem::new(format!("{at}.reason"), Msg::new("profile.reason-missing"))
                    .hint(Msg::new("profile.reason-missing-hint")),
            );
        }
        if let Some(h) = &w.host
            && !a.hosts.iter().any(|x| &x.address == h)
        {
            out.push(Problem::new(
                format!("{at}.host"),
                Msg::new("profile.not-a-host").arg("host", h),
            ));
        }
    }
    out
}

fn ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

fn topology(a: &Answers, out: &mut Vec<Problem>) {
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
    ] {
        only(field, present, for_kind, out);
    }

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
            if !a.hosts.is_empty() {
                out.push(
                    Problem::new("hosts", Msg::new("profile.k8s-no-hosts"))
                        .hint(Msg::new("profile.k8s-no-hosts-hint")),
                );
            }
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
                    Msg::new("profile.k8s-namespace-bad").arg("ns", ns),
                )),
                Some(_) => {}
            }
            if let Some(ps) = t.pull_secret.as_deref()
                && !dns_label(ps)
            {
                out.push(Problem::new(
                    "topology.pull-secret",
                    Msg::new("profile.k8s-name-bad").arg("value", ps),
                ));
            }
            if let Some(r) = t.registry.as_deref()
                && (r.trim().is_empty() || r.contains("://") || r.contains(' '))
            {
                out.push(
                    Problem::new(
                        "topology.registry",
                        Msg::new("profile.registry-bad").arg("value", r),
                    )
                    .hint(Msg::new("profile.registry-bad-hint")),
                );
            }
            if let Some(secs) = t.rollout_timeout
                && !(10..=86_400).contains(&secs)
            {
                out.push(Problem::new(
                    "topology.rollout-timeout",
                    Msg::new("profile.range").arg("min", 10).arg("max", 86_400),
                ));
            }
            for (name, n) in &t.replicas {
                if *n == 0 || *n > 100 {
                    out.push(Problem::new(
                        format!("topology.replicas.{name}"),
                        Msg::new("profile.range").arg("min", 1).arg("max", 100),
                    ));
                }
            }
        }
    }
    if kind == TopologyKind::HaKeepalived {
        match t.vip.as_deref() {
            None => out.push(
                Problem::new("topology.vip", Msg::new("profile.vip-missing"))
                    .hint(Msg::new("profile.vip-missing-hint")),
            ),
            Some(v) => match ip(v) {
                None => out.push(Problem::new(
                    "topology.vip",
                    Msg::new("profile.not-ip").arg("value", v),
                )),
                Some(vip) => {
                    if let Some(i) = a.hosts.iter().position(|h| ip(&h.address) == Some(vip)) {
                        out.push(Problem::new(
                            "topology.vip",
                            Msg::new("profile.vip-is-host").arg("vip", v).arg("i", i),
                        ));
                    }
                    for (i, h) in a.hosts.iter().enumerate() {
                        if let Some(addr) = ip(&h.address)
                            && addr.is_ipv4() != vip.is_ipv4()
                        {
                            out.push(Problem::new(
                                "topology.vip",
                                Msg::new("profile.vip-ip-version")
                                    .arg("vip", v)
                                    .arg("i", i)
                                    .arg("address", &h.address),
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
    if kind == TopologyKind::HaLb {
        match t.lb_address.as_deref() {
            None => out.push(
                Problem::new(
                    "topology.lb-address",
                    Msg::new("profile.lb-address-missing"),
                )
                .hint(Msg::new("profile.lb-address-missing-hint")),
            ),
            Some(v) if ip(v).is_none() && !hostname(v) => out.push(Problem::new(
                "topology.lb-address",
                Msg::new("profile.not-ip-or-name").arg("value", v),
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
}

fn ssh(a: &Answers, out: &mut Vec<Problem>) {
    let s = &a.ssh;
    if s.port == 0 {
        out.push(Problem::new(
            "ssh.port",
            Msg::new("profile.range").arg("min", 1).arg("max", 65535),
        ));
    }
    if s.user.trim().is_empty() {
        out.push(
            Problem::new("ssh.user", Msg::new("profile.user-missing"))
                .hint(Msg::new("profile.user-missing-hint")),
        );
    }
    if s.connect_timeout == 0 {
        out.push(Problem::new(
            "ssh.connect-timeout",
            Msg::new("profile.timeout-zero"),
        ));
    }
    let env_name_ok = |v: &str| {
        !v.is_empty()
            && !v.starts_with(|c: char| c.is_ascii_digit())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    for (field, value) in [
        ("password-env", &s.password_env),
        ("sudo-password-env", &s.sudo_password_env),
    ] {
        if let Some(v) = value
            && !env_name_ok(v)
        {
            out.push(
                Problem::new(
                    format!("ssh.{field}"),
                    Msg::new("profile.env-name").arg("value", v),
                )
                .hint(Msg::new("profile.env-name-hint")),
            );
        }
    }
    match s.auth {
        SshAuth::Password => {
            if s.password_env.is_none() && s.password_file.is_none() {
                out.push(
                    Problem::new("ssh", Msg::new("profile.password-source"))
                        .hint(Msg::new("profile.password-source-hint")),
                );
            }
            if s.password_env.is_some() && s.password_file.is_some() {
                out.push(Problem::new("ssh", Msg::new("profile.password-both")));
            }
        }
        SshAuth::Key => {
            if s.key_file.is_none() {
                out.push(
                    Problem::new("ssh.key-file", Msg::new("profile.key-file-missing"))
                        .hint(Msg::new("profile.key-file-missing-hint")),
                );
            }
        }
        SshAuth::Agent => {}
    }
    if s.auth != SshAuth::Password {
        for (field, present) in [
            ("password-env", s.password_env.is_some()),
            ("password-file", s.password_file.is_some()),
        ] {
            if present {
                out.push(Problem::new(
                    format!("ssh.{field}"),
                    Msg::new("profile.only-with-password"),
                ));
            }
        }
    }
    if let Some(j) = &s.jump {
        let host = j.rsplit('@').next().unwrap_or(j);
        let host = host.split(':').next().unwrap_or(host);
        if ip(host).is_none() && !hostname(host) {
            out.push(Problem::new(
                "ssh.jump",
                Msg::new("profile.jump-bad").arg("value", j),
            ));
        }
    }
}

fn hosts(a: &Answers, out: &mut Vec<Problem>) {
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    if a.hosts.is_empty() {
        out.push(
            Problem::new("hosts", Msg::new("profile.no-hosts"))
                .hint(Msg::new("profile.no-hosts-hint")),
        );
    }
    for (i, h) in a.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        match ip(&h.address) {
            None => out.push(
                Problem::new(
                    format!("{at}.address"),
                    Msg::new("profile.not-ip").arg("value", &h.address),
                )
                .hint(Msg::new("profile.not-ip-hint")),
            ),
            Some(addr) => {
                if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        Msg::new("profile.address-special").arg("value", &h.address),
                    ));
                }
                if let Some(first) = seen.insert(addr, i) {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        Msg::new("profile.address-duplicate")
                            .arg("value", &h.address)
                            .arg("first", first),
                    ));
                }
            }
        }
        if h.roles.is_empty() {
            out.push(
                Problem::new(format!("{at}.roles"), Msg::new("profile.roles-missing"))
                    .hint(Msg::new("profile.roles-missing-hint")),
            );
        }
        let mut roles = h.roles.clone();
        roles.sort();
        roles.dedup();
        if roles.len() != h.roles.len() {
            out.push(Problem::new(
                format!("{at}.roles"),
                Msg::new("profile.role-twice"),
            ));
        }
        if let Some(d) = &h.data_disk
            && (!d.starts_with("/dev/") || d.len() <= 5)
        {
            out.push(Problem::new(
                format!("{at}.data-disk"),
                Msg::new("profile.data-disk-bad").arg("value", d),
            ));
        }
        if h.format_data_disk && h.data_disk.is_none() {
            out.push(Problem::new(
                format!("{at}.format-data-disk"),
                Msg::new("profile.format-no-disk"),
            ));
        }
        if !h.data_dir.starts_with('/') || h.data_dir.split('/').any(|p| p == "..") {
            out.push(Problem::new(
                format!("{at}.data-dir"),
                Msg::new("profile.not-absolute").arg("value", &h.data_dir),
            ));
        } else if h.data_dir == "/" {
            out.push(Problem::new(
                format!("{at}.data-dir"),
                Msg::new("profile.data-dir-root"),
            ));
        }
    }
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
        })
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Checks that the secrets the answers name can be had here: the variables
/// are set, the files exist with mode 0600. `base` is the profile's
/// directory (relative file paths start there).
pub fn check_secret_sources(a: &Answers, base: &std::path::Path) -> Vec<Problem> {
    let mut out = Vec::new();
    if a.topology.kind == TopologyKind::K8s {
        return out;
    }
    let s = &a.ssh;
    let envs = [
        (
            "ssh.password-env",
            s.password_env
                .as_deref()
                .filter(|_| s.auth == SshAuth::Password),
        ),
        ("ssh.sudo-password-env", s.sudo_password_env.as_deref()),
    ];
    for (path, var) in envs {
        if let Some(var) = var
            && std::env::var_os(var).is_none_or(|v| v.is_empty())
        {
            out.push(
                Problem::new(path, Msg::new("profile.env-unset").arg("var", var))
                    .hint(Msg::new("profile.env-unset-hint").arg("var", var)),
            );
        }
    }
    if let Some(f) = s
        .password_file
        .as_deref()
        .filter(|_| s.auth == SshAuth::Password)
    {
        let p = base.join(crate::paths::expand_home(f));
        match std::fs::metadata(&p) {
            Err(e) => out.push(Problem::new(
                "ssh.password-file",
                Msg::new("profile.file-unreadable")
                    .arg("path", p.display())
                    .arg("error", e),
            )),
            Ok(m) => {
                use std::os::unix::fs::PermissionsExt;
                if m.permissions().mode() & 0o077 != 0 {
                    out.push(
                        Problem::new(
                            "ssh.password-file",
                            Msg::new("profile.file-mode")
                                .arg("path", p.display())
                                .arg("mode", format!("{:o}", m.permissions().mode() & 0o777)),
                        )
                        .hint(format!("chmod 600 {}", p.display())),
                    );
                }
            }
        }
    }
    out
}
