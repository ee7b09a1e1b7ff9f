//! Whether the secrets and files the answers name may be taken here (the
//! operator's consent, see [`crate::consent`]) and can be had (the
//! variables set, the files there, 0600 where they hold a secret).

use crate::i18n::Msg;
use crate::pattern;
use crate::profile::sources::{Source, SourceKind, sources};
use crate::profile::{Answers, Problem};

/// Checks that the secrets and files the answers name may be taken and
/// can be had here. `base` is the profile's directory (relative file paths
/// start there). A source the operator has not consented to is refused
/// without being read; nothing else is said about it.
pub fn check_secret_sources(a: &Answers, base: &std::path::Path) -> Vec<Problem> {
    let mut out = Vec::new();
    for s in sources(a) {
        if let Some(p) = consent_problem(&s, base) {
            out.push(p);
            continue;
        }
        let path = s.path(base);
        match (s.kind, path) {
            (SourceKind::Env, _) if crate::secret_env::get(&s.value).is_none() => {
                out.push(
                    Problem::new(s.field, Msg::new("profile.env-unset").arg("var", &s.value))
                        .hint(Msg::new("profile.env-unset-hint").arg("var", &s.value)),
                );
            }
            (SourceKind::SecretFile, Some(p)) => out.extend(secret_file_problem(&s.field, &p)),
            (SourceKind::Hook, Some(p)) => {
                if let Err(e) = std::fs::File::open(&p).and_then(|f| {
                    if f.metadata()?.is_file() {
                        Ok(())
                    } else {
                        Err(std::io::Error::other("not a file"))
                    }
                }) {
                    out.push(
                        Problem::new(
                            s.field,
                            Msg::new("profile.file-unreadable")
                                .arg("path", pattern::shown(&p.display().to_string()))
                                .arg("error", e),
                        )
                        .hint(Msg::new("profile.hook-hint")),
                    );
                }
            }
            (SourceKind::KnownHosts, Some(p)) => {
                if let Err(e) = std::fs::read_to_string(&p) {
                    out.push(Problem::new(
                        s.field,
                        Msg::new("profile.file-unreadable")
                            .arg("path", pattern::shown(&p.display().to_string()))
                            .arg("error", e),
                    ));
                }
            }
            (SourceKind::Certificate, Some(p)) => match std::fs::read_to_string(&p) {
                Err(e) => out.push(Problem::new(
                    s.field,
                    Msg::new("profile.file-unreadable")
                        .arg("path", pattern::shown(&p.display().to_string()))
                        .arg("error", e),
                )),
                Ok(text) if !text.contains("-----BEGIN CERTIFICATE-----") => out.push(
                    Problem::new(
                        s.field,
                        Msg::new("profile.registry-ca-not-pem")
                            .arg("path", pattern::shown(&p.display().to_string())),
                    )
                    .hint(Msg::new("profile.registry-ca-hint")),
                ),
                Ok(_) => {}
            },
            // The kubeconfig is read by the cluster checks (which say what
            // is wrong with it); ssh reads the key file.
            _ => {}
        }
    }
    out
}

/// Why the source may not be taken without the operator's consent: a
/// variable outside `CDWIZ_*`, a file outside the profile's folder.
fn consent_problem(s: &Source, base: &std::path::Path) -> Option<Problem> {
    if s.consented(base) {
        return None;
    }
    let Some(p) = s.path(base) else {
        return Some(
            Problem::new(
                s.field.clone(),
                Msg::new("profile.env-not-consented")
                    .arg("var", &s.value)
                    .arg("prefix", crate::consent::ENV_PREFIX),
            )
            .hint(Msg::new("profile.env-not-consented-hint").arg("var", &s.value)),
        );
    };
    let shown = std::fs::canonicalize(&p).unwrap_or(p);
    let shown = pattern::shown(&shown.display().to_string());
    let folder = if base.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        base
    };
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    Some(
        Problem::new(
            s.field.clone(),
            Msg::new("profile.file-not-consented")
                .arg("path", &shown)
                .arg("folder", pattern::shown(&folder.display().to_string())),
        )
        .hint(Msg::new("profile.file-not-consented-hint").arg("path", &shown)),
    )
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
