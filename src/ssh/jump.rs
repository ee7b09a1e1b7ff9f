//! Going through a bastion (`ssh.jump: [user@]host[:port]`). OpenSSH applies
//! command-line options such as `-i` to the destination only, so the jump
//! host gets its own entry in a small generated ssh config (passed with
//! `-F`, which OpenSSH hands on to the jump connection too).

use std::path::{Path, PathBuf};

/// The name the jump host goes by in the generated config.
pub const ALIAS: &str = "cdwiz-jump";

/// `[user@]host[:port]` split, with the login user and port 22 as defaults.
pub fn parse(spec: &str, default_user: &str) -> (String, String, u16) {
    let (user, rest) = match spec.split_once('@') {
        Some((u, r)) => (u.to_string(), r),
        None => (default_user.to_string(), spec),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_string(), p.parse().unwrap_or(22)),
        _ => (rest.to_string(), 22),
    };
    (user, host, port)
}

/// A generated ssh config naming the jump host; removed on drop.
pub struct JumpConfig {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// Writes the config for `spec`, logging in to it like the hosts: with
/// `key` when given, remembering its key in `known_hosts`.
pub fn config(
    spec: &str,
    default_user: &str,
    key: Option<&Path>,
    known_hosts: &Path,
    strict: bool,
) -> std::io::Result<JumpConfig> {
    // The profile was validated; this guards the config file itself, where
    // a newline or a quote would start a directive of its own.
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string());
    crate::profile::pattern::check(crate::profile::pattern::Kind::JumpSpec, spec)
        .map_err(|_| bad("the jump host is not [user@]host[:port]"))?;
    let (user, host, port) = parse(spec, default_user);
    let plain = |s: &str| !crate::profile::pattern::has_control(s) && !s.contains('"');
    if crate::profile::pattern::has_control(spec)
        || crate::profile::pattern::check(crate::profile::pattern::Kind::UserName, &user).is_err()
        || !plain(&known_hosts.display().to_string())
        || key.is_some_and(|k| !plain(&k.display().to_string()))
    {
        return Err(bad(
            "a value of the jump host's ssh config is not plain text",
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("cdwiz-ssh-")
        .tempdir_in(crate::paths::runtime_dir())?;
    let path = dir.path().join("config");
    let mut text = format!(
        "Host {ALIAS}\n  HostName {host}\n  User {user}\n  Port {port}\n  \
         UserKnownHostsFile \"{}\"\n  StrictHostKeyChecking {}\n",
        known_hosts.display(),
        if strict { "yes" } else { "accept-new" }
    );
    if let Some(k) = key {
        text.push_str(&format!("  IdentityFile \"{}\"\n", k.display()));
    }
    std::fs::write(&path, text)?;
    Ok(JumpConfig { _dir: dir, path })
}

#[cfg(test)]
mod tests {
    use super::{config, parse};

    #[test]
    fn a_jump_value_cannot_add_directives() {
        let kh = std::path::Path::new("/nonexistent/known_hosts");
        for spec in [
            "bastion\n  ProxyCommand touch /tmp/cdwiz-pwned",
            "-oProxyCommand=touch@bastion",
            "bastion ProxyCommand=x",
        ] {
            assert!(config(spec, "root", None, kh, false).is_err(), "{spec:?}");
        }
        assert!(config("bastion", "-oProxyCommand=x", None, kh, false).is_err());
    }

    #[test]
    fn parses_user_host_and_port() {
        assert_eq!(
            parse("ops@203.0.113.5:2222", "root"),
            ("ops".into(), "203.0.113.5".into(), 2222)
        );
        assert_eq!(
            parse("bastion", "root"),
            ("root".into(), "bastion".into(), 22)
        );
        assert_eq!(
            parse("2001:db8::5", "root"),
            ("root".into(), "2001:db8::5".into(), 22)
        );
    }
}
