//! What each kind of profile string may hold. A profile travels between
//! engineers and is untrusted: every string that reaches an ssh config, a
//! shell, a template or a path is matched against a pattern for what it is
//! (a user name, a host, a path, an interface…) before anything uses it, and
//! no string anywhere in a profile may hold a control character.

use std::net::IpAddr;

use crate::i18n::Msg;

/// What a string stands for; each kind has its own pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A login name on a Linux host: `[A-Za-z_][A-Za-z0-9_.-]*`, at most 32.
    UserName,
    /// An IP address or a DNS host name.
    Host,
    /// `[user@]host[:port]`.
    JumpSpec,
    /// An absolute path on a host, of plain path characters, no `..`.
    HostPath,
    /// A block device path: `/dev/...` of plain path characters, no `..`.
    DevicePath,
    /// A Linux network interface name (at most 15 characters).
    Interface,
    /// A path on the operator's machine (file names as they come; no
    /// control characters, no `"`, which would end a quoted ssh config value).
    LocalPath,
    /// A Kubernetes DNS subdomain name (a StorageClass).
    DnsSubdomain,
    /// An image registry prefix: `host[:port][/path]`, no scheme.
    Registry,
    /// An IANA time zone name such as `Asia/Shanghai`.
    TimeZone,
    /// The platform's administrator account name.
    AccountName,
}

impl Kind {
    /// The catalogue key of the problem: the value and what it should
    /// look like.
    fn message(self) -> &'static str {
        match self {
            Kind::UserName => "profile.pattern.user-name",
            Kind::Host => "profile.pattern.host",
            Kind::JumpSpec => "profile.pattern.jump",
            Kind::HostPath => "profile.pattern.host-path",
            Kind::DevicePath => "profile.pattern.device-path",
            Kind::Interface => "profile.pattern.interface",
            Kind::LocalPath => "profile.pattern.local-path",
            Kind::DnsSubdomain => "profile.pattern.dns-subdomain",
            Kind::Registry => "profile.pattern.registry",
            Kind::TimeZone => "profile.pattern.timezone",
            Kind::AccountName => "profile.pattern.account-name",
        }
    }

    fn matches(self, s: &str) -> bool {
        match self {
            Kind::UserName => user_name(s),
            Kind::Host => host(s),
            Kind::JumpSpec => jump_spec(s),
            Kind::HostPath => host_path(s),
            Kind::DevicePath => s.starts_with("/dev/") && s.len() > 5 && host_path(s),
            Kind::Interface => {
                (1..=15).contains(&s.len())
                    && !s.starts_with(['-', '.'])
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            }
            Kind::LocalPath => !s.is_empty() && !s.contains('"'),
            Kind::DnsSubdomain => dns_subdomain(s),
            Kind::Registry => registry(s),
            Kind::TimeZone => {
                (1..=64).contains(&s.len())
                    && s.split('/').all(|p| {
                        !p.is_empty()
                            && p != ".."
                            && p != "."
                            && !p.starts_with('-')
                            && p.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
                    })
            }
            Kind::AccountName => {
                (1..=64).contains(&s.len())
                    && s.starts_with(|c: char| c.is_ascii_alphabetic())
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-@".contains(&b))
            }
        }
    }
}

/// Checks `value` as a `kind`; the error names what it should look like.
/// A value with a control character is left to [`control_char`], which
/// reports it once.
pub fn check(kind: Kind, value: &str) -> Result<(), Msg> {
    if has_control(value) || kind.matches(value) {
        return Ok(());
    }
    Err(Msg::new(kind.message()).arg("value", shown(value)))
}

/// True when `s` holds a control character (C0, DEL or C1): a newline in
/// an ssh config or a template starts a new directive, an escape sequence
/// rewrites the operator's screen.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// The problem for a string with a control character, naming the first.
pub fn control_char(value: &str) -> Msg {
    let c = value.chars().find(|c| c.is_control()).unwrap_or('\0');
    Msg::new("profile.control-char")
        .arg("value", shown(value))
        .arg("char", format!("U+{:04X}", u32::from(c)))
}

/// A value as an error shows it: control characters escaped, so that the
/// message itself cannot carry them to a terminal.
pub fn shown(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

fn user_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A DNS host name: labels of letters, digits and `-`, not all digits.
pub fn hostname(s: &str) -> bool {
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

fn host(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok() || hostname(s)
}

fn jump_spec(s: &str) -> bool {
    let (user, rest) = match s.split_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, s),
    };
    if user.is_some_and(|u| !user_name(u)) {
        return false;
    }
    if host(rest) {
        return true;
    }
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    match rest.rsplit_once(':') {
        Some((h, p)) => {
            let h = h.strip_suffix(']').unwrap_or(h);
            host(h) && p.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

fn host_path(s: &str) -> bool {
    s.starts_with('/')
        && s.len() <= 4096
        && s.split('/')
            .skip(1)
            .all(|p| p != ".." && p != "." && !p.starts_with('-'))
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.+-".contains(&b))
}

fn dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `host[:port][/path]` as the OCI reference grammar has it: a lowercase
/// path of `[a-z0-9._-]` components.
fn registry(s: &str) -> bool {
    let (hostport, path) = match s.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let host_ok = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => host(h) && p.parse::<u16>().is_ok_and(|p| p > 0),
        _ => host(hostport),
    };
    host_ok && path.is_none_or(|p| p.split('/').all(repository_component))
}

/// One `/`-separated part of a repository name, as the OCI distribution
/// spec has it: runs of lowercase letters and digits joined by one `.`,
/// one or two `_`, or any number of `-` (so no leading, trailing or doubled
/// dots; registries refuse such names when pushed to).
fn repository_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{Kind, check, has_control};

    fn ok(kind: Kind, v: &str) -> bool {
        check(kind, v).is_ok()
    }

    #[test]
    fn user_names_refuse_options_and_shell() {
        assert!(ok(Kind::UserName, "root"));
        assert!(ok(Kind::UserName, "deploy.ops-1"));
        assert!(!ok(Kind::UserName, "-oProxyCommand=touch"));
        assert!(!ok(Kind::UserName, "a b"));
        assert!(!ok(Kind::UserName, "$(id)"));
        assert!(!ok(Kind::UserName, ""));
    }

    #[test]
    fn jump_specs() {
        for good in [
            "bastion",
            "ops@198.51.100.10",
            "ops@198.51.100.10:2222",
            "2001:db8::5",
            "[2001:db8::5]:22",
            "jump.example.com:22",
        ] {
            assert!(ok(Kind::JumpSpec, good), "{good}");
        }
        for bad in [
            "-oProxyCommand=x",
            "a@b@c",
            "host:0",
            "host:port",
            "ho st",
            "bastion\n  ProxyCommand touch /tmp/x",
        ] {
            assert!(!ok(Kind::JumpSpec, bad) || has_control(bad), "{bad} passed");
        }
    }

    #[test]
    fn host_paths_are_plain_and_absolute() {
        assert!(ok(Kind::HostPath, "/data"));
        assert!(ok(Kind::HostPath, "/srv/cd_data-2/x.y"));
        for bad in [
            "data",
            "/data; touch x",
            "/a/../etc",
            "/a b",
            "/$(id)",
            "/a/-rf",
        ] {
            assert!(!ok(Kind::HostPath, bad), "{bad}");
        }
        assert!(ok(Kind::DevicePath, "/dev/disk/by-id/virtio-abc_1"));
        assert!(!ok(Kind::DevicePath, "/dev/"));
        assert!(!ok(Kind::DevicePath, "/dev/../etc/passwd"));
        assert!(!ok(Kind::DevicePath, "vdb"));
    }

    #[test]
    fn interfaces_registries_time_zones() {
        assert!(ok(Kind::Interface, "eth0"));
        assert!(ok(Kind::Interface, "bond0.100"));
        assert!(!ok(Kind::Interface, "$(reboot)"));
        assert!(!ok(Kind::Interface, "eth0 notify x"));
        assert!(!ok(Kind::Interface, "averyveryverylongname"));
        assert!(ok(Kind::Registry, "registry.example.com/cd"));
        assert!(ok(Kind::Registry, "192.0.2.5:5000/cd/images"));
        assert!(!ok(Kind::Registry, "https://registry.example.com"));
        assert!(!ok(Kind::Registry, "registry.example.com/CD"));
        assert!(ok(Kind::Registry, "192.0.2.10:5000/cd/sub_part/a--b"));
        for bad in [
            "registry.example.com/cd/",
            "registry.example.com//cd",
            "registry.example.com/cd..x",
            "registry.example.com/cd.",
            "registry.example.com/-cd",
            "registry.example.com/c___d",
            "registry.example.com:99999/cd",
            "registry.example.com/cd:1.0",
            "registry.example.com/cd@sha256",
        ] {
            assert!(!ok(Kind::Registry, bad), "{bad}");
        }
        assert!(!ok(Kind::Registry, "r.example.com//x"));
        assert!(ok(Kind::TimeZone, "Asia/Shanghai"));
        assert!(ok(Kind::TimeZone, "Etc/GMT+8"));
        assert!(!ok(Kind::TimeZone, "../../etc/passwd"));
        assert!(!ok(Kind::TimeZone, "Asia/Shanghai; id"));
        assert!(ok(Kind::DnsSubdomain, "fast-ssd.example"));
        assert!(!ok(Kind::DnsSubdomain, "Fast SSD"));
        assert!(ok(Kind::AccountName, "admin"));
        assert!(!ok(Kind::AccountName, "admin'--"));
    }

    #[test]
    fn control_characters_are_found() {
        assert!(has_control("a\nb"));
        assert!(has_control("\u{1b}[2J"));
        assert!(has_control("\u{9b}"));
        assert!(!has_control("数据盘 /data"));
    }
}
