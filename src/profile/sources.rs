//! Everything of this machine's the answers take: the environment
//! variables and files they name, each at the field path it was written at
//! (the logins in force: a host's own, the bastion's, or the defaults).
//! What validation checks (consent, set, 0600), and what `validate --plan`,
//! Review and the run's `answers.yaml` list.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Answers, Jump, TopologyKind};

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// An environment variable holding a secret.
    Env,
    /// A file (mode 0600) holding a secret.
    SecretFile,
    /// A script run as root on every host.
    Hook,
    /// The cluster's kubeconfig (credentials for its API).
    Kubeconfig,
    /// A CA certificate (PEM).
    Certificate,
    /// A private key ssh signs with (it never leaves this machine).
    KeyFile,
    /// The host keys the hosts must present (`ssh.known-hosts`).
    KnownHosts,
}

impl SourceKind {
    /// Whether the file holds a secret: no hash of it is shown anywhere
    /// (a short password's hash is a password).
    pub fn secret(self) -> bool {
        matches!(self, SourceKind::SecretFile | SourceKind::KeyFile)
    }

    /// Whether the file a profile names must lie in its folder (or be
    /// trusted): everything but a key file, which ssh only signs with.
    pub fn needs_consent(self) -> bool {
        self != SourceKind::KeyFile
    }
}

/// One thing the answers take from this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The field it is written at, e.g. `hosts[1].ssh.password-env`.
    pub field: String,
    pub kind: SourceKind,
    /// The variable's name, or the file as written.
    pub value: String,
}

impl Source {
    /// The file it names, resolved against the profile's folder `base`
    /// (`~` is the home directory); none for a variable.
    pub fn path(&self, base: &Path) -> Option<PathBuf> {
        if self.kind == SourceKind::Env {
            return None;
        }
        let v = self.value.strip_prefix("./").unwrap_or(&self.value);
        Some(base.join(crate::paths::expand_home(v)))
    }

    /// Whether the operator lets the answers take it (see
    /// [`crate::consent`]): a `CDWIZ_*` variable or one allowed, a file in
    /// the profile's folder `base` or one trusted, any key file.
    pub fn consented(&self, base: &Path) -> bool {
        match self.path(base) {
            None => crate::consent::env_allowed(&self.value),
            Some(p) => !self.kind.needs_consent() || crate::consent::file_allowed(&p, base),
        }
    }

    /// As listed, with its full path and hash.
    pub fn listed(&self, base: &Path) -> ListedSource {
        let path = self.path(base);
        ListedSource {
            from: match &path {
                None => format!("env {}", self.value),
                Some(p) => std::fs::canonicalize(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string(),
            },
            sha256: path
                .filter(|_| !self.kind.secret())
                .and_then(|p| crate::consent::sha256(&p)),
            field: self.field.clone(),
            kind: self.kind,
        }
    }
}

/// Every source the answers take, once per field path, in profile order.
pub fn sources(a: &Answers) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    let mut add = |field: String, kind: SourceKind, value: &Option<String>| {
        if let Some(v) = value
            && !out.iter().any(|s| s.field == field)
        {
            out.push(Source {
                field,
                kind,
                value: v.clone(),
            });
        }
    };
    let t = &a.topology;
    if t.kind == TopologyKind::K8s {
        add(
            "topology.kubeconfig".into(),
            SourceKind::Kubeconfig,
            &t.kubeconfig,
        );
        if t.registry.is_some() {
            add(
                "topology.registry-password-env".into(),
                SourceKind::Env,
                &t.registry_password_env,
            );
            add(
                "topology.registry-password-file".into(),
                SourceKind::SecretFile,
                &t.registry_password_file,
            );
            add(
                "topology.registry-ca".into(),
                SourceKind::Certificate,
                &t.registry_ca,
            );
        }
    }
    if !a.uses_hosts() {
        return out;
    }
    add(
        "ssh.known-hosts".into(),
        SourceKind::KnownHosts,
        &a.ssh.known_hosts,
    );
    for (name, path) in a.hooks.named() {
        add(
            format!("hooks.{name}"),
            SourceKind::Hook,
            &Some(path.to_string()),
        );
    }
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
        add(
            at("password-env", own.password_env.is_some()),
            SourceKind::Env,
            &login.password_env,
        );
        add(
            at("password-file", own.password_file.is_some()),
            SourceKind::SecretFile,
            &login.password_file,
        );
        add(
            at("sudo-password-env", own.sudo_password_env.is_some()),
            SourceKind::Env,
            &login.sudo_password_env,
        );
        if login.auth == super::SshAuth::Key {
            add(
                at("key-file", own.key_file.is_some()),
                SourceKind::KeyFile,
                &login.key_file,
            );
        }
    }
    if let Some(b) = a.bastion() {
        let own = match &a.ssh.jump {
            Some(Jump::Login(j)) => Some(j),
            _ => None,
        };
        let own_password =
            own.is_some_and(|j| j.password_env.is_some() || j.password_file.is_some());
        let own_key = own.is_some_and(|j| j.key_file.is_some());
        let at = |f: &str, own_has: bool| {
            if own_has {
                format!("ssh.jump.{f}")
            } else {
                format!("ssh.{f}")
            }
        };
        add(
            at("password-env", own_password),
            SourceKind::Env,
            &b.password_env,
        );
        add(
            at("password-file", own_password),
            SourceKind::SecretFile,
            &b.password_file,
        );
        if b.auth == super::SshAuth::Key {
            add(at("key-file", own_key), SourceKind::KeyFile, &b.key_file);
        }
    }
    out
}

/// A source as `validate --plan`, Review and `answers.yaml` list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListedSource {
    pub field: String,
    pub kind: SourceKind,
    /// `env NAME`, or the file's full path.
    pub from: String,
    /// The file's SHA-256; none for a variable, a secret (its hash would
    /// give a short password away) or a file that cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl ListedSource {
    /// One line: `hooks.pre-deploy: /p/hook.sh sha256:ab12…`.
    pub fn line(&self) -> String {
        match &self.sha256 {
            Some(h) => format!("{}: {} sha256:{h}", self.field, self.from),
            None => format!("{}: {}", self.field, self.from),
        }
    }
}

/// The sources listed with their full paths and hashes.
pub fn listed(a: &Answers, base: &Path) -> Vec<ListedSource> {
    sources(a).iter().map(|s| s.listed(base)).collect()
}

/// The sources the operator has not consented to yet, as listed (what the
/// wizard asks about).
pub fn unconsented(a: &Answers, base: &Path) -> Vec<ListedSource> {
    sources(a)
        .iter()
        .filter(|s| !s.consented(base))
        .map(|s| s.listed(base))
        .collect()
}
