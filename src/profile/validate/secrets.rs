//! Whether the secrets and files the answers name can be had here.

use crate::i18n::Msg;
use crate::profile::pattern::{self};
use crate::profile::{Answers, Jump, Problem, TopologyKind};

/// Checks that the secrets the answers name can be had here: the variables
/// are set, the files exist with mode 0600. `base` is the profile's
/// directory (relative file paths start there).
pub fn check_secret_sources(a: &Answers, base: &std::path::Path) -> Vec<Problem> {
    let mut out = Vec::new();
    if a.topology.kind == TopologyKind::K8s {
        registry_sources(a, base, &mut out);
    }
    if !a.uses_hosts() {
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

/// The registry's password and CA certificate (`k8s`): the variable set,
/// the password file 0600, the certificate a readable PEM file.
fn registry_sources(a: &Answers, base: &std::path::Path, out: &mut Vec<Problem>) {
    let t = &a.topology;
    if t.registry.is_none() {
        return;
    }
    if let Some(var) = &t.registry_password_env
        && crate::secret_env::get(var).is_none()
    {
        out.push(
            Problem::new(
                "topology.registry-password-env",
                Msg::new("profile.env-unset").arg("var", var),
            )
            .hint(Msg::new("profile.env-unset-hint").arg("var", var)),
        );
    }
    if let Some(f) = &t.registry_password_file
        && let Some(p) = secret_file_problem(
            "topology.registry-password-file",
            &base.join(crate::paths::expand_home(f)),
        )
    {
        out.push(p);
    }
    if let Some(f) = &t.registry_ca {
        let path = base.join(crate::paths::expand_home(f));
        match std::fs::read_to_string(&path) {
            Err(e) => out.push(Problem::new(
                "topology.registry-ca",
                Msg::new("profile.file-unreadable")
                    .arg("path", pattern::shown(&path.display().to_string()))
                    .arg("error", e),
            )),
            Ok(text) if !text.contains("-----BEGIN CERTIFICATE-----") => out.push(
                Problem::new(
                    "topology.registry-ca",
                    Msg::new("profile.registry-ca-not-pem")
                        .arg("path", pattern::shown(&path.display().to_string())),
                )
                .hint(Msg::new("profile.registry-ca-hint")),
            ),
            Ok(_) => {}
        }
    }
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
