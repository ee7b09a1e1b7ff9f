//! The rules a well-formed profile must also follow: topology requirements,
//! addresses, roles, where secrets come from. Every problem at once, each
//! with its field path.

use std::collections::HashMap;
use std::net::IpAddr;

use super::pattern::{self, Kind};
use super::{Answers, Jump, PROFILE_VERSION, Problem, SshAuth, TopologyKind};
use crate::i18n::Msg;

/// Checks the answers; an empty list means they are good.
pub fn validate(a: &Answers) -> Vec<Problem> {
    let mut out = Vec::new();
    control_chars(a, &mut out);
    strings(a, &mut out);
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
                Msg::new("profile.check-unknown").arg("id", pattern::shown(&w.check)),
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
                Msg::new("profile.not-a-host").arg("host", pattern::shown(h)),
            ));
        }
    }
    out
}

/// Every string of the answers (values and keys) free of control
/// characters, each offender named by its field path.
fn control_chars(a: &Answers, out: &mut Vec<Problem>) {
    fn walk(v: &serde_yaml::Value, at: &str, out: &mut Vec<Problem>) {
        use serde_yaml::Value;
        match v {
            Value::String(s) if pattern::has_control(s) => {
                out.push(Problem::new(at, pattern::control_char(s)));
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{at}[{i}]"), out);
                }
            }
            Value::Mapping(m) => {
                for (k, item) in m {
                    let key = k.as_str().unwrap_or_default();
                    let path = if at.is_empty() {
                        key.to_string()
                    } else {
                        format!("{at}.{key}")
                    };
                    if pattern::has_control(key) {
                        out.push(Problem::new(path.clone(), pattern::control_char(key)));
                    }
                    walk(item, &path, out);
                }
            }
            Value::Tagged(t) => walk(&t.value, at, out),
            _ => {}
        }
    }
    if let Ok(v) = serde_yaml::to_value(a) {
        walk(&v, "", out);
    }
}

/// The strings that reach a shell, an ssh config, a template or a path,
/// each matched against the pattern of what it is.
fn strings(a: &Answers, out: &mut Vec<Problem>) {
    let mut field = |path: String, kind: Kind, value: Option<&str>| {
        if let Some(v) = value
            && let Err(m) = pattern::check(kind, v)
        {
            out.push(Problem::new(path, m));
        }
    };
    let t = &a.topology;
    if a.bundle != "sandbox" && !a.bundle.trim().is_empty() {
        field("bundle".into(), Kind::LocalPath, Some(&a.bundle));
    }
    field(
        "topology.interface".into(),
        Kind::Interface,
        t.interface.as_deref().filter(|i| !i.trim().is_empty()),
    );
    field(
        "topology.kubeconfig".into(),
        Kind::LocalPath,
        t.kubeconfig.as_deref().filter(|k| !k.trim().is_empty()),
    );
    field(
        "topology.storage-class".into(),
        Kind::DnsSubdomain,
        t.storage_class.as_deref(),
    );
    field(
        "settings.admin-user".into(),
        Kind::AccountName,
        Some(&a.settings.admin_user),
    );
    field(
        "settings.timezone".into(),
        Kind::TimeZone,
        Some(&a.settings.timezone),
    );
    field(
        "settings.registry-domain".into(),
        Kind::Registry,
        a.settings.registry_domain.as_deref(),
    );
    for (name, path) in a.hooks.named() {
        field(format!("hooks.{name}"), Kind::LocalPath, Some(path));
    }
    if a.topology.kind == TopologyKind::K8s {
        return;
    }
    let s = &a.ssh;
    field(
        "ssh.user".into(),
        Kind::UserName,
        Some(&s.user)
            .filter(|u| !u.trim().is_empty())
            .map(|u| u.as_str()),
    );
    match &s.jump {
        Some(Jump::Spec(spec)) => field("ssh.jump".into(), Kind::JumpSpec, Some(spec)),
        Some(Jump::Login(j)) => {
            field("ssh.jump.host".into(), Kind::Host, Some(&j.host));
            field("ssh.jump.user".into(), Kind::UserName, j.user.as_deref());
            field(
                "ssh.jump.key-file".into(),
                Kind::LocalPath,
                j.key_file.as_deref(),
            );
            field(
                "ssh.jump.password-file".into(),
                Kind::LocalPath,
                j.password_file.as_deref(),
            );
        }
        None => {}
    }
    field(
        "ssh.key-file".into(),
        Kind::LocalPath,
        s.key_file.as_deref(),
    );
    field(
        "ssh.password-file".into(),
        Kind::LocalPath,
        s.password_file.as_deref(),
    );
    for (i, h) in a.hosts.iter().enumerate() {
        if let Some(o) = &h.ssh {
            field(
                format!("hosts[{i}].ssh.user"),
                Kind::UserName,
                o.user.as_deref(),
            );
            field(
                format!("hosts[{i}].ssh.key-file"),
                Kind::LocalPath,
                o.key_file.as_deref(),
            );
            field(
                format!("hosts[{i}].ssh.password-file"),
                Kind::LocalPath,
                o.password_file.as_deref(),
            );
        }
        field(
            format!("hosts[{i}].data-disk"),
            Kind::DevicePath,
            h.data_disk.as_deref(),
        );
        field(
            format!("hosts[{i}].data-dir"),
            Kind::HostPath,
            Some(&h.data_dir)
                .filter(|d| d.starts_with('/'))
                .map(|d| d.as_str()),
        );
    }
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
                out.push(
                    Problem::new("topology.registry", m)
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
    if kind == TopologyKind::HaLb {
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
}

fn env_name_ok(v: &str) -> bool {
    !v.is_empty()
        && !v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The fields one `ssh:`-shaped mapping gives, for the rules that hold at
/// every level (top, a host's own, the bastion's).
struct Level<'a> {
    at: String,
    port: Option<u16>,
    user: Option<&'a str>,
    auth: Option<SshAuth>,
    password_env: Option<&'a str>,
    password_file: Option<&'a str>,
    sudo_password_env: Option<&'a str>,
}

fn level(l: &Level, out: &mut Vec<Problem>) {
    let at = |f: &str| format!("{}.{f}", l.at);
    if l.port == Some(0) {
        out.push(Problem::new(
            at("port"),
            Msg::new("profile.range").arg("min", 1).arg("max", 65535),
        ));
    }
    if l.user.is_some_and(|u| u.trim().is_empty()) {
        out.push(
            Problem::new(at("user"), Msg::new("profile.user-missing"))
                .hint(Msg::new("profile.user-missing-hint")),
        );
    }
    for (field, value) in [
        ("password-env", l.password_env),
        ("sudo-password-env", l.sudo_password_env),
    ] {
        if let Some(v) = value
            && !env_name_ok(v)
        {
            out.push(
                Problem::new(
                    at(field),
                    Msg::new("profile.env-name").arg("value", pattern::shown(v)),
                )
                .hint(Msg::new("profile.env-name-hint")),
            );
        }
    }
    if l.password_env.is_some() && l.password_file.is_some() {
        out.push(Problem::new(
            l.at.clone(),
            Msg::new("profile.password-both"),
        ));
    }
    // Password fields with another auth at the same level are a mistake.
    if l.auth.is_some_and(|a| a != SshAuth::Password) {
        for (field, present) in [
            ("password-env", l.password_env.is_some()),
            ("password-file", l.password_file.is_some()),
        ] {
            if present {
                out.push(Problem::new(
                    at(field),
                    Msg::new("profile.only-with-password"),
                ));
            }
        }
    }
}

/// The rules for the login in force: a password login has a source, a key
/// login a key file. `at` is where the operator fixes it.
fn effective(auth: SshAuth, has_password: bool, has_key: bool, at: &str, out: &mut Vec<Problem>) {
    match auth {
        SshAuth::Password if !has_password => out.push(
            Problem::new(at, Msg::new("profile.password-source"))
                .hint(Msg::new("profile.password-source-hint")),
        ),
        SshAuth::Key if !has_key => out.push(
            Problem::new(
                format!("{at}.key-file"),
                Msg::new("profile.key-file-missing"),
            )
            .hint(Msg::new("profile.key-file-missing-hint")),
        ),
        _ => {}
    }
}

fn ssh(a: &Answers, out: &mut Vec<Problem>) {
    let s = &a.ssh;
    let mut found = Vec::new();
    level(
        &Level {
            at: "ssh".into(),
            port: Some(s.port),
            user: Some(&s.user),
            auth: Some(s.auth),
            password_env: s.password_env.as_deref(),
            password_file: s.password_file.as_deref(),
            sudo_password_env: s.sudo_password_env.as_deref(),
        },
        &mut found,
    );
    if s.connect_timeout == 0 {
        found.push(Problem::new(
            "ssh.connect-timeout",
            Msg::new("profile.timeout-zero"),
        ));
    }
    for (i, h) in a.hosts.iter().enumerate() {
        let login = a.login(h);
        let own = h.ssh.clone().unwrap_or_default();
        if let Some(o) = &h.ssh {
            level(
                &Level {
                    at: format!("hosts[{i}].ssh"),
                    port: o.port,
                    user: o.user.as_deref(),
                    auth: Some(login.auth),
                    password_env: o.password_env.as_deref(),
                    password_file: o.password_file.as_deref(),
                    sudo_password_env: o.sudo_password_env.as_deref(),
                },
                &mut found,
            );
        }
        // Where the fix goes: the host's own mapping when it chose the auth
        // or the secret, else the defaults.
        let here = own.auth.is_some()
            || own.password_env.is_some()
            || own.password_file.is_some()
            || own.key_file.is_some();
        effective(
            login.auth,
            login.password_env.is_some() || login.password_file.is_some(),
            login.key_file.is_some(),
            &if here {
                format!("hosts[{i}].ssh")
            } else {
                "ssh".to_string()
            },
            &mut found,
        );
    }
    if let Some(Jump::Login(j)) = &s.jump {
        level(
            &Level {
                at: "ssh.jump".into(),
                port: j.port,
                user: j.user.as_deref(),
                auth: j.auth,
                password_env: j.password_env.as_deref(),
                password_file: j.password_file.as_deref(),
                sudo_password_env: None,
            },
            &mut found,
        );
        if let Some(b) = a.bastion() {
            effective(
                b.auth,
                b.password_env.is_some() || b.password_file.is_some(),
                b.key_file.is_some(),
                "ssh.jump",
                &mut found,
            );
        }
    }
    // Hosts relying on the same defaults report a problem of those once.
    for p in found {
        if !out
            .iter()
            .any(|q| q.path == p.path && q.message == p.message)
        {
            out.push(p);
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
                    Msg::new("profile.not-ip").arg("value", pattern::shown(&h.address)),
                )
                .hint(Msg::new("profile.not-ip-hint")),
            ),
            Some(addr) => {
                if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        Msg::new("profile.address-special")
                            .arg("value", pattern::shown(&h.address)),
                    ));
                }
                if let Some(first) = seen.insert(addr, i) {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        Msg::new("profile.address-duplicate")
                            .arg("value", pattern::shown(&h.address))
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
        if h.format_data_disk && h.data_disk.is_none() {
            out.push(Problem::new(
                format!("{at}.format-data-disk"),
                Msg::new("profile.format-no-disk"),
            ));
        }
        if !h.data_dir.starts_with('/') && !pattern::has_control(&h.data_dir) {
            out.push(Problem::new(
                format!("{at}.data-dir"),
                Msg::new("profile.not-absolute").arg("value", pattern::shown(&h.data_dir)),
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

/// Checks that the secrets the answers name can be had here: the variables
/// are set, the files exist with mode 0600. `base` is the profile's
/// directory (relative file paths start there).
pub fn check_secret_sources(a: &Answers, base: &std::path::Path) -> Vec<Problem> {
    let mut out = Vec::new();
    if a.topology.kind == TopologyKind::K8s {
        return out;
    }
    for (name, path) in a.hooks.named() {
        let full = base.join(crate::paths::expand_home(path));
        if let Err(e) = std::fs::File::open(&full).and_then(|f| {
            if f.metadata()?.is_file() {
                Ok(())
            } else {
                Err(std::io::Error::other("not a file"))
            }
        }) {
            out.push(
                Problem::new(
                    format!("hooks.{name}"),
                    Msg::new("profile.file-unreadable")
                        .arg("path", pattern::shown(&full.display().to_string()))
                        .arg("error", e),
                )
                .hint(Msg::new("profile.hook-hint")),
            );
        }
    }
    // Every secret source a login in force names, at the path it was
    // written at (a host's own, the bastion's, or the defaults).
    let mut sources: Vec<(String, Source)> = Vec::new();
    let mut add = |path: String, src: Source| {
        if !sources.iter().any(|(p, s)| p == &path && s == &src) {
            sources.push((path, src));
        }
    };
    for (i, h) in a.hosts.iter().enumerate() {
        let login = a.login(h);
        let own = h.ssh.clone().unwrap_or_default();
        let at = |field: &str, own_has: bool| {
            if own_has {
                format!("hosts[{i}].ssh.{field}")
            } else {
                format!("ssh.{field}")
            }
        };
        if let Some(v) = &login.password_env {
            add(
                at("password-env", own.password_env.is_some()),
                Source::Env(v.clone()),
            );
        }
        if let Some(f) = &login.password_file {
            add(
                at("password-file", own.password_file.is_some()),
                Source::File(f.clone()),
            );
        }
        if let Some(v) = &login.sudo_password_env {
            add(
                at("sudo-password-env", own.sudo_password_env.is_some()),
                Source::Env(v.clone()),
            );
        }
    }
    if let Some(b) = a.bastion() {
        let own = match &a.ssh.jump {
            Some(Jump::Login(j)) => j.password_env.is_some() || j.password_file.is_some(),
            _ => false,
        };
        let at = |f: &str| {
            if own {
                format!("ssh.jump.{f}")
            } else {
                format!("ssh.{f}")
            }
        };
        if let Some(v) = b.password_env {
            add(at("password-env"), Source::Env(v));
        }
        if let Some(f) = b.password_file {
            add(at("password-file"), Source::File(f));
        }
    }
    for (path, src) in sources {
        match src {
            Source::Env(var) => {
                if crate::secret_env::get(&var).is_none() {
                    out.push(
                        Problem::new(path, Msg::new("profile.env-unset").arg("var", &var))
                            .hint(Msg::new("profile.env-unset-hint").arg("var", &var)),
                    );
                }
            }
            Source::File(f) => {
                if let Some(p) =
                    secret_file_problem(&path, &base.join(crate::paths::expand_home(&f)))
                {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Where a secret comes from.
#[derive(PartialEq)]
enum Source {
    Env(String),
    File(String),
}

/// A secret file must be readable here and by nobody else (0600).
fn secret_file_problem(path: &str, p: &std::path::Path) -> Option<Problem> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(p) {
        Err(e) => Some(Problem::new(
            path,
            Msg::new("profile.file-unreadable")
                .arg("path", p.display())
                .arg("error", e),
        )),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => Some(
            Problem::new(
                path,
                Msg::new("profile.file-mode")
                    .arg("path", p.display())
                    .arg("mode", format!("{:o}", m.permissions().mode() & 0o777)),
            )
            .hint(format!("chmod 600 {}", p.display())),
        ),
        Ok(_) => None,
    }
}
