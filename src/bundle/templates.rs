//! The templates a bundle renders with: its own `templates/`, else the
//! ones built into cdwiz, by name. A bundle is untrusted, so a name is
//! looked up only inside its folder.

use std::path::{Path, PathBuf};

/// Templates built into cdwiz, by name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "host/docker-compose.yml.j2",
        include_str!("../../templates/host/docker-compose.yml.j2"),
    ),
    (
        "host/cd.env.j2",
        include_str!("../../templates/host/cd.env.j2"),
    ),
    (
        "host/component.env.j2",
        include_str!("../../templates/host/component.env.j2"),
    ),
    (
        "keepalived/keepalived.conf.j2",
        include_str!("../../templates/keepalived/keepalived.conf.j2"),
    ),
    (
        "mysql/replication.cnf.j2",
        include_str!("../../templates/mysql/replication.cnf.j2"),
    ),
    (
        "orchestrator/orchestrator.conf.json.j2",
        include_str!("../../templates/orchestrator/orchestrator.conf.json.j2"),
    ),
    (
        "k8s/namespace.yaml.j2",
        include_str!("../../templates/k8s/namespace.yaml.j2"),
    ),
    (
        "k8s/component.yaml.j2",
        include_str!("../../templates/k8s/component.yaml.j2"),
    ),
];

/// Whether the template `name` exists: the bundle's `templates/`, else
/// cdwiz's own.
pub fn has_template(bundle_dir: Option<&Path>, name: &str) -> bool {
    bundle_dir.is_some_and(|d| matches!(template_file(&d.join("templates"), name), Ok(Some(_))))
        || BUILTIN.iter().any(|(n, _)| *n == name)
}

/// The file of the template `name` in `dir` (a bundle's `templates/`),
/// none when it has no such file. A bundle is untrusted: a name that is
/// absolute or steps out (`..`), or a file that resolves (symlinks
/// followed) outside `dir`, is refused with why, so that no template can
/// read a file of this machine's.
pub fn template_file(dir: &Path, name: &str) -> Result<Option<PathBuf>, String> {
    use std::path::Component;
    let relative = Path::new(name);
    if name.is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(format!(
            "template name `{name}` is not a plain path inside the bundle's templates/"
        ));
    }
    let p = dir.join(relative);
    if std::fs::symlink_metadata(&p).is_err() {
        return Ok(None);
    }
    let real = std::fs::canonicalize(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let inside = std::fs::canonicalize(dir).is_ok_and(|d| real.starts_with(d));
    if !inside {
        return Err(format!(
            "{} leads out of the bundle's templates/ (to {})",
            p.display(),
            real.display()
        ));
    }
    Ok(real.is_file().then_some(real))
}

/// The text of the template `name`: the bundle's (`bundle_dir/templates/`),
/// else cdwiz's own; none when neither has it; why not when the name or
/// the file reaches out of the bundle.
pub fn source(bundle_dir: Option<&Path>, name: &str) -> Result<Option<String>, String> {
    match bundle_dir {
        Some(d) => {
            if let Some(p) = template_file(&d.join("templates"), name)? {
                return std::fs::read_to_string(&p)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", p.display()));
            }
        }
        // No bundle folder: still no name that reaches out.
        None if template_file(Path::new("."), name).is_err() => {
            return Err(format!("template name `{name}` is not a plain path"));
        }
        None => {}
    }
    Ok(BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t.to_string()))
}
