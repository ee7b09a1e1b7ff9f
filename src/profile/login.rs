//! The login in force for each host and for the bastion: the top-level
//! `ssh:` with a host's own `ssh:` (or the bastion's mapping) laid over it,
//! key by key. Everything that logs in reads these, never `ssh:` directly.

use super::{Answers, Host, Jump, SshAuth};

/// How to log in to one host. Secrets are named (variable, file), never held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub port: u16,
    pub auth: SshAuth,
    pub key_file: Option<String>,
    /// auth password only.
    pub password_env: Option<String>,
    /// auth password only.
    pub password_file: Option<String>,
    pub sudo_password_env: Option<String>,
}

impl Login {
    /// `user@address:port (auth …)`, naming where secrets come from, never
    /// a secret: what `validate --plan` shows.
    pub fn describe(&self, address: &str) -> String {
        self.describe_with(address, true)
    }

    fn describe_with(&self, address: &str, sudo: bool) -> String {
        let host = if address.contains(':') {
            format!("[{address}]")
        } else {
            address.to_string()
        };
        let mut s = format!(
            "{}@{host}:{} ({}",
            self.user,
            self.port,
            auth_word(self.auth)
        );
        match self.auth {
            SshAuth::Key => {
                if let Some(k) = &self.key_file {
                    s.push_str(&format!(" {k}"));
                }
            }
            SshAuth::Password => {
                if let Some(v) = &self.password_env {
                    s.push_str(&format!(" from ${v}"));
                } else if let Some(f) = &self.password_file {
                    s.push_str(&format!(" from {f}"));
                }
            }
            SshAuth::Agent => {}
        }
        if sudo && self.user != "root" {
            match &self.sudo_password_env {
                Some(v) => s.push_str(&format!(", sudo password from ${v}")),
                None => s.push_str(", sudo without password"),
            }
        }
        s.push(')');
        s
    }
}

fn auth_word(a: SshAuth) -> &'static str {
    match a {
        SshAuth::Password => "password",
        SshAuth::Key => "key",
        SshAuth::Agent => "agent",
    }
}

/// How to log in to the bastion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BastionLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SshAuth,
    pub key_file: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
}

impl BastionLogin {
    /// Like [`Login::describe`], for the bastion (no sudo there).
    pub fn describe(&self) -> String {
        Login {
            user: self.user.clone(),
            port: self.port,
            auth: self.auth,
            key_file: self.key_file.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            sudo_password_env: None,
        }
        .describe_with(&self.host, false)
    }
}

impl Answers {
    /// The login in force for `host`.
    pub fn login(&self, host: &Host) -> Login {
        let d = &self.ssh;
        let o = host.ssh.clone().unwrap_or_default();
        let auth = o.auth.unwrap_or(d.auth);
        // A password source given for the host replaces the default's.
        let (password_env, password_file) = if o.password_env.is_some() || o.password_file.is_some()
        {
            (o.password_env, o.password_file)
        } else {
            (d.password_env.clone(), d.password_file.clone())
        };
        let password = auth == SshAuth::Password;
        Login {
            user: o.user.unwrap_or_else(|| d.user.clone()),
            port: o.port.unwrap_or(d.port),
            auth,
            key_file: o.key_file.or_else(|| d.key_file.clone()),
            password_env: password_env.filter(|_| password),
            password_file: password_file.filter(|_| password),
            sudo_password_env: o.sudo_password_env.or_else(|| d.sudo_password_env.clone()),
        }
    }

    /// The login in force for the host at `address`, or the defaults.
    pub fn login_for(&self, address: &str) -> Login {
        match self.hosts.iter().find(|h| h.address == address) {
            Some(h) => self.login(h),
            None => {
                let h = Host {
                    address: address.to_string(),
                    roles: Vec::new(),
                    data_disk: None,
                    format_data_disk: false,
                    data_dir: String::new(),
                    ssh: None,
                    arch: None,
                };
                self.login(&h)
            }
        }
    }

    /// The bastion's login: `[user@]host[:port]` logs in like the hosts'
    /// defaults; a mapping's keys override them.
    pub fn bastion(&self) -> Option<BastionLogin> {
        let d = &self.ssh;
        let password = |auth: SshAuth, env: Option<String>, file: Option<String>| {
            if auth == SshAuth::Password {
                (env, file)
            } else {
                (None, None)
            }
        };
        match d.jump.as_ref()? {
            Jump::Spec(spec) => {
                let (user, host, port) = crate::ssh::jump::parse(spec, &d.user);
                let (password_env, password_file) =
                    password(d.auth, d.password_env.clone(), d.password_file.clone());
                Some(BastionLogin {
                    host,
                    port,
                    user,
                    auth: d.auth,
                    key_file: d.key_file.clone(),
                    password_env,
                    password_file,
                })
            }
            Jump::Login(j) => {
                let auth = j.auth.unwrap_or(d.auth);
                let (env, file) = if j.password_env.is_some() || j.password_file.is_some() {
                    (j.password_env.clone(), j.password_file.clone())
                } else {
                    (d.password_env.clone(), d.password_file.clone())
                };
                let (password_env, password_file) = password(auth, env, file);
                Some(BastionLogin {
                    host: j.host.clone(),
                    port: j.port.unwrap_or(22),
                    user: j.user.clone().unwrap_or_else(|| d.user.clone()),
                    auth,
                    key_file: j.key_file.clone().or_else(|| {
                        (auth == SshAuth::Key && j.auth.is_none())
                            .then(|| d.key_file.clone())
                            .flatten()
                    }),
                    password_env,
                    password_file,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::profile::SshAuth;

    #[test]
    fn a_hosts_login_overrides_the_defaults_key_by_key() {
        let a: crate::profile::Answers = serde_yaml::from_str(
            "version: 1\nbundle: ./b\ntopology: { kind: single }\n\
             ssh: { user: root, auth: password, password-env: PW, jump: { host: 198.51.100.10, user: ops, auth: key, key-file: ~/.ssh/bastion } }\n\
             hosts:\n  - { address: 192.0.2.11, roles: [master], ssh: { user: deploy, port: 2222, password-file: ~/h11.pw, sudo-password-env: PW } }\n  - { address: 192.0.2.12, roles: [master] }\n",
        )
        .unwrap();
        let l = a.login(&a.hosts[0]);
        assert_eq!(
            (l.user.as_str(), l.port, l.auth),
            ("deploy", 2222, SshAuth::Password)
        );
        assert_eq!(l.password_env, None);
        assert_eq!(l.password_file.as_deref(), Some("~/h11.pw"));
        let b = a.bastion().unwrap();
        assert_eq!((b.user.as_str(), b.auth, b.port), ("ops", SshAuth::Key, 22));
        assert_eq!(b.key_file.as_deref(), Some("~/.ssh/bastion"));
        assert_eq!(b.password_env, None);
        let d = a.login(&a.hosts[1]);
        assert_eq!((d.user.as_str(), d.port), ("root", 22));
        assert_eq!(d.password_env.as_deref(), Some("PW"));
        assert_eq!(
            l.describe("192.0.2.11"),
            "deploy@192.0.2.11:2222 (password from ~/h11.pw, sudo password from $PW)"
        );
    }
}
