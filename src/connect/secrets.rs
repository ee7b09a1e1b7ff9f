//! The secrets the answers point at (environment variables, 0600 files),
//! read once per run, per login in force. Never printed.

use std::path::Path;

use crate::profile::{Answers, Problem, SshAuth};

/// Secrets the answers point at, read once. Never printed.
#[derive(Clone, Default)]
pub struct Secrets {
    /// The default login's password.
    pub ssh_password: Option<String>,
    /// The default login's sudo password.
    pub sudo_password: Option<String>,
    /// The bastion's password, when it logs in with one.
    pub jump_password: Option<String>,
    /// Hosts with a login of their own, by address.
    pub hosts: std::collections::HashMap<String, HostSecrets>,
    /// The registry user's password (`k8s`, pushing the images).
    pub registry_password: Option<String>,
}

/// One host's own login secrets.
#[derive(Clone, Default)]
pub struct HostSecrets {
    pub ssh_password: Option<String>,
    pub sudo_password: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { <redacted> }")
    }
}

impl Secrets {
    /// Every secret value, for redaction from logs and reports.
    pub fn values(&self) -> Vec<&str> {
        [
            &self.ssh_password,
            &self.sudo_password,
            &self.jump_password,
            &self.registry_password,
        ]
        .into_iter()
        .chain(
            self.hosts
                .values()
                .flat_map(|h| [&h.ssh_password, &h.sudo_password]),
        )
        .flatten()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect()
    }
}

/// Reads the secrets the answers name (environment variables, 0600 files
/// relative to `base`).
pub fn resolve_secrets(a: &Answers, base: &Path) -> Result<Secrets, Vec<Problem>> {
    let problems = crate::profile::check_secret_sources(a, base);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(read_secrets(a, base))
}

/// Reads what the secret sources of the answers hold, as far as they can be
/// read (the wizard asks for what is missing); [`resolve_secrets`] checks
/// them first.
pub fn read_secrets(a: &Answers, base: &Path) -> Secrets {
    // Nothing the operator has not consented to is read (validation says
    // why; see `crate::consent`).
    let read = |env: &Option<String>, file: &Option<String>| match (env, file) {
        (Some(var), _) if crate::consent::env_allowed(var) => crate::secret_env::get(var),
        (None, Some(file)) => {
            let p = base.join(crate::paths::expand_home(file));
            if !crate::consent::file_allowed(&p, base) {
                return None;
            }
            std::fs::read_to_string(&p)
                .ok()
                .map(|t| t.trim_end_matches(['\n', '\r']).to_string())
        }
        _ => None,
    };
    let s = &a.ssh;
    let mut out = Secrets::default();
    if s.auth == SshAuth::Password {
        out.ssh_password = read(&s.password_env, &s.password_file);
    }
    out.sudo_password = read(&s.sudo_password_env, &None);
    for h in a.hosts.iter().filter(|h| h.ssh.is_some()) {
        let login = a.login(h);
        out.hosts.insert(
            h.address.clone(),
            HostSecrets {
                ssh_password: read(&login.password_env, &login.password_file),
                sudo_password: read(&login.sudo_password_env, &None),
            },
        );
    }
    if let Some(b) = a.bastion() {
        out.jump_password = read(&b.password_env, &b.password_file);
    }
    let t = &a.topology;
    if t.registry_user.is_some() {
        out.registry_password = read(&t.registry_password_env, &t.registry_password_file);
    }
    out
}
