//! The rules a well-formed profile must also follow: topology requirements,
//! addresses, roles, where secrets come from. Every problem at once, each
//! with its field path.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Answers, PROFILE_VERSION, Problem, SshAuth, TopologyKind};

/// Checks the answers; an empty list means they are good.
pub fn validate(a: &Answers) -> Vec<Problem> {
    let mut out = Vec::new();
    if a.version != PROFILE_VERSION {
        out.push(
            Problem::new(
                "version",
                format!(
                    "this cdwiz reads profile version {PROFILE_VERSION}, not {}",
                    a.version
                ),
            )
            .hint(format!("set `version: {PROFILE_VERSION}`")),
        );
    }
    if a.bundle.trim().is_empty() {
        out.push(
            Problem::new("bundle", "no product bundle given")
                .hint("the bundle directory, or `sandbox` for the sandbox's bundle"),
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
            out.push(Problem::new(format!("{at}.check"), "no check id given"));
        } else if crate::checks::find(&w.check).is_none() {
            let known: Vec<&str> = crate::checks::CATALOGUE.iter().map(|c| c.id).collect();
            let mut p = Problem::new(
                format!("{at}.check"),
                format!("unknown check id `{}`", w.check),
            );
            let guess = known
                .iter()
                .map(|k| (strsim::damerau_levenshtein(k, &w.check), *k))
                .min()
                .filter(|(d, _)| *d <= 3);
            p = match guess {
                Some((_, k)) => p.hint(format!("did you mean `{k}`?")),
                None => p.hint(format!("known ids: {}", known.join(", "))),
            };
            out.push(p);
        }
        if w.reason.trim().is_empty() {
            out.push(
                Problem::new(format!("{at}.reason"), "an accepted check needs a reason")
                    .hint("the reason goes into the report handed to the customer"),
            );
        }
        if let Some(h) = &w.host
            && !a.hosts.iter().any(|x| &x.address == h)
        {
            out.push(Problem::new(
                format!("{at}.host"),
                format!("`{h}` is not one of the profile's hosts"),
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
                format!(
                    "only used by kind {}, this topology is {}",
                    for_kind.as_str(),
                    kind.as_str()
                ),
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
                        format!(
                            "topology single takes exactly one host, not {}",
                            a.hosts.len()
                        ),
                    )
                    .hint("for several hosts choose ha-keepalived or ha-lb"),
                );
            }
        }
        TopologyKind::HaKeepalived | TopologyKind::HaLb => {
            if masters < 2 {
                out.push(
                    Problem::new(
                        "hosts",
                        format!(
                            "topology {} needs at least 2 hosts with role master, this profile has {masters}",
                            kind.as_str()
                        ),
                    )
                    .hint("add `master` to the roles of a second host, or choose topology single"),
                );
            }
        }
        TopologyKind::K8s => {
            if !a.hosts.is_empty() {
                out.push(
                    Problem::new(
                        "hosts",
                        "topology k8s installs onto a cluster, not onto hosts",
                    )
                    .hint("remove `hosts`, or choose a host topology"),
                );
            }
            if t.kubeconfig.as_deref().is_none_or(|k| k.trim().is_empty()) {
                out.push(
                    Problem::new(
                        "topology.kubeconfig",
                        "topology k8s needs a kubeconfig file",
                    )
                    .hint("e.g. `kubeconfig: ~/.kube/config`"),
                );
            }
            match t.namespace.as_deref() {
                None | Some("") => out.push(Problem::new(
                    "topology.namespace",
                    "topology k8s needs a namespace to install into",
                )),
                Some(ns) if !dns_label(ns) => out.push(Problem::new(
                    "topology.namespace",
                    format!("`{ns}` is not a valid namespace (lowercase letters, digits and `-`, at most 63)"),
                )),
                Some(_) => {}
            }
        }
    }
    if kind == TopologyKind::HaKeepalived {
        match t.vip.as_deref() {
            None => out.push(
                Problem::new("topology.vip", "topology ha-keepalived needs a vip")
                    .hint("a free address in the masters' subnet, e.g. `vip: 192.0.2.100`"),
            ),
            Some(v) => {
                match ip(v) {
                    None => out.push(Problem::new(
                        "topology.vip",
                        format!("`{v}` is not an IP address"),
                    )),
                    Some(vip) => {
                        if let Some(i) = a.hosts.iter().position(|h| ip(&h.address) == Some(vip)) {
                            out.push(Problem::new(
                            "topology.vip",
                            format!("`{v}` is the address of hosts[{i}]; the VIP must be a free address"),
                        ));
                        }
                        for (i, h) in a.hosts.iter().enumerate() {
                            if let Some(addr) = ip(&h.address)
                                && addr.is_ipv4() != vip.is_ipv4()
                            {
                                out.push(Problem::new(
                                    "topology.vip",
                                    format!(
                                        "`{v}` and hosts[{i}] (`{}`) are not the same IP version",
                                        h.address
                                    ),
                                ));
                                break;
                            }
                        }
                    }
                }
            }
        }
        if t.interface.as_deref().is_none_or(|i| i.trim().is_empty()) {
            out.push(
                Problem::new(
                    "topology.interface",
                    "topology ha-keepalived needs the interface that carries the VIP",
                )
                .hint("e.g. `interface: eth0`; `ip -br addr` on a master lists them"),
            );
        }
        if t.virtual_router_id == Some(0) {
            out.push(Problem::new(
                "topology.virtual-router-id",
                "must be from 1 to 255",
            ));
        }
    }
    if kind == TopologyKind::HaLb {
        match t.lb_address.as_deref() {
            None => out.push(
                Problem::new(
                    "topology.lb-address",
                    "topology ha-lb needs the load balancer's address",
                )
                .hint("the address the customer's load balancer answers on"),
            ),
            Some(v) if ip(v).is_none() && !hostname(v) => out.push(Problem::new(
                "topology.lb-address",
                format!("`{v}` is neither an IP address nor a host name"),
            )),
            Some(_) => {}
        }
        match t.lb_port {
            None => out.push(Problem::new(
                "topology.lb-port",
                "topology ha-lb needs the load balancer's port",
            )),
            Some(0) => out.push(Problem::new("topology.lb-port", "must be from 1 to 65535")),
            Some(_) => {}
        }
    }
}

fn ssh(a: &Answers, out: &mut Vec<Problem>) {
    let s = &a.ssh;
    if s.port == 0 {
        out.push(Problem::new("ssh.port", "must be from 1 to 65535"));
    }
    if s.user.trim().is_empty() {
        out.push(Problem::new("ssh.user", "no user given").hint("usually `root`"));
    }
    if s.connect_timeout == 0 {
        out.push(Problem::new(
            "ssh.connect-timeout",
            "must be at least 1 second",
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
                    format!("`{v}` is not an environment variable name"),
                )
                .hint("the name of a variable that holds the secret, e.g. CDWIZ_SSH_PASSWORD, not the secret itself"),
            );
        }
    }
    match s.auth {
        SshAuth::Password => {
            if s.password_env.is_none() && s.password_file.is_none() {
                out.push(
                    Problem::new("ssh", "auth password needs `password-env` or `password-file`")
                        .hint("e.g. `password-env: CDWIZ_SSH_PASSWORD`; the password itself never goes in the profile"),
                );
            }
            if s.password_env.is_some() && s.password_file.is_some() {
                out.push(Problem::new(
                    "ssh",
                    "give either `password-env` or `password-file`, not both",
                ));
            }
        }
        SshAuth::Key => {
            if s.key_file.is_none() {
                out.push(
                    Problem::new("ssh.key-file", "auth key needs `key-file`")
                        .hint("e.g. `key-file: ~/.ssh/id_ed25519`, or `auth: agent`"),
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
                    "only used with `auth: password`",
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
                format!("`{j}` is not `[user@]host[:port]`"),
            ));
        }
    }
}

fn hosts(a: &Answers, out: &mut Vec<Problem>) {
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    if a.hosts.is_empty() {
        out.push(
            Problem::new("hosts", "no hosts given")
                .hint("list them as `- { address: 192.0.2.11, roles: [master] }`"),
        );
    }
    for (i, h) in a.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        match ip(&h.address) {
            None => out.push(
                Problem::new(
                    format!("{at}.address"),
                    format!("`{}` is not an IP address", h.address),
                )
                .hint("write the host's IPv4 or IPv6 address, e.g. 192.0.2.11"),
            ),
            Some(addr) => {
                if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        format!("`{}` cannot be a host's address", h.address),
                    ));
                }
                if let Some(first) = seen.insert(addr, i) {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        format!("`{}` is already hosts[{first}]", h.address),
                    ));
                }
            }
        }
        if h.roles.is_empty() {
            out.push(
                Problem::new(format!("{at}.roles"), "no roles given")
                    .hint("`roles: [master]`, `[worker]` or `[master, worker]`"),
            );
        }
        let mut roles = h.roles.clone();
        roles.sort();
        roles.dedup();
        if roles.len() != h.roles.len() {
            out.push(Problem::new(
                format!("{at}.roles"),
                "a role is listed twice",
            ));
        }
        if let Some(d) = &h.data_disk
            && (!d.starts_with("/dev/") || d.len() <= 5)
        {
            out.push(Problem::new(
                format!("{at}.data-disk"),
                format!("`{d}` is not a device path such as /dev/vdb"),
            ));
        }
        if h.format_data_disk && h.data_disk.is_none() {
            out.push(Problem::new(
                format!("{at}.format-data-disk"),
                "there is no `data-disk` to format",
            ));
        }
        if !h.data_dir.starts_with('/') || h.data_dir.split('/').any(|p| p == "..") {
            out.push(Problem::new(
                format!("{at}.data-dir"),
                format!("`{}` is not an absolute path", h.data_dir),
            ));
        } else if h.data_dir == "/" {
            out.push(Problem::new(
                format!("{at}.data-dir"),
                "the data dir cannot be `/`",
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
                Problem::new(path, format!("the environment variable {var} is not set")).hint(
                    format!("export {var}=... before running cdwiz (it stays out of the profile)"),
                ),
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
                format!("cannot read {}: {e}", p.display()),
            )),
            Ok(m) => {
                use std::os::unix::fs::PermissionsExt;
                if m.permissions().mode() & 0o077 != 0 {
                    out.push(
                        Problem::new(
                            "ssh.password-file",
                            format!(
                                "{} can be read by other users (mode {:o})",
                                p.display(),
                                m.permissions().mode() & 0o777
                            ),
                        )
                        .hint(format!("chmod 600 {}", p.display())),
                    );
                }
            }
        }
    }
    out
}
