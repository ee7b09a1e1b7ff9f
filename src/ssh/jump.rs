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

/// The bastion as ssh reaches it: where, as whom, with which key (`None`:
/// the agent's and the user's default keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key: Option<PathBuf>,
}

impl Bastion {
    /// `[user@]host[:port]`, with `default_user` when none is given.
    pub fn from_spec(spec: &str, default_user: &str) -> Bastion {
        let (user, host, port) = parse(spec, default_user);
        Bastion {
            host,
            port,
            user,
            key: None,
        }
    }

    /// `user@host:port`, for messages.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// A generated ssh config naming the jump host; removed on drop.
pub struct JumpConfig {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// Writes the config for `bastion`, remembering its key in `known_hosts`.
/// Keys from the agent are offered to it as well (OpenSSH's default).
pub fn config(bastion: &Bastion, known_hosts: &Path, strict: bool) -> std::io::Result<JumpConfig> {
    use crate::pattern::{self, Kind};
    // The profile was validated; this guards the config file itself, where
    // a newline or a quote would start a directive of its own.
    let plain = |s: &str| !pattern::has_control(s) && !s.contains('"');
    if pattern::check(Kind::Host, &bastion.host).is_err()
        || pattern::has_control(&bastion.host)
        || pattern::check(Kind::UserName, &bastion.user).is_err()
        || pattern::has_control(&bastion.user)
        || bastion.port == 0
        || !plain(&known_hosts.display().to_string())
        || bastion
            .key
            .as_ref()
            .is_some_and(|k| !plain(&k.display().to_string()))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a value of the jump host's ssh config is not plain text",
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("cdwiz-ssh-")
        .tempdir_in(crate::paths::runtime_dir())?;
    let path = dir.path().join("config");
    let mut text = format!(
        "Host {ALIAS}\n  HostName {}\n  User {}\n  Port {}\n  \
         UserKnownHostsFile \"{}\"\n  StrictHostKeyChecking {}\n  BatchMode yes\n",
        bastion.host,
        bastion.user,
        bastion.port,
        known_hosts.display(),
        if strict { "yes" } else { "accept-new" }
    );
    if let Some(k) = &bastion.key {
        text.push_str(&format!("  IdentityFile \"{}\"\n", k.display()));
    }
    std::fs::write(&path, text)?;
    Ok(JumpConfig { _dir: dir, path })
}

#[cfg(test)]
mod tests {
    use super::{Bastion, config, parse};

    #[test]
    fn a_jump_value_cannot_add_directives() {
        let kh = std::path::Path::new("/nonexistent/known_hosts");
        let b = |host: &str, user: &str| Bastion {
            host: host.into(),
            port: 22,
            user: user.into(),
            key: None,
        };
        for (host, user) in [
            ("bastion\n  ProxyCommand touch /tmp/cdwiz-pwned", "root"),
            ("bastion ProxyCommand=x", "root"),
            ("bastion", "-oProxyCommand=x"),
            ("bastion", "ops\nProxyCommand x"),
        ] {
            assert!(
                config(&b(host, user), kh, false).is_err(),
                "{host:?} {user:?}"
            );
        }
        let mut keyed = b("bastion", "ops");
        keyed.key = Some("/k\"\nProxyCommand x".into());
        assert!(config(&keyed, kh, false).is_err());
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
