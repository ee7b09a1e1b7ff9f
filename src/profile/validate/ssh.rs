//! The logins: the top-level `ssh:`, each host's own and the bastion's,
//! and the login in force for each host.

use crate::i18n::Msg;
use crate::pattern;
use crate::profile::{Answers, Jump, Problem, SshAuth};

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

pub(super) fn ssh(a: &Answers, out: &mut Vec<Problem>) {
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
