//! Strings of the answers: no control character anywhere, and each value
//! that reaches a shell, an ssh config, a template or a path matched against
//! the pattern of what it is.

use crate::pattern::{self, Kind};
use crate::profile::{Answers, Jump, Problem};

/// Every string of the answers (values and keys) free of control
/// characters, each offender named by its field path.
pub(super) fn control_chars(a: &Answers, out: &mut Vec<Problem>) {
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
pub(super) fn strings(a: &Answers, out: &mut Vec<Problem>) {
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
    if !a.uses_hosts() {
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
