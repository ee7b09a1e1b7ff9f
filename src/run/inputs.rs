//! What a run reads from this machine before it reaches the hosts: the
//! bundle (its images verified before a deploy), the hook scripts, the
//! installation's generated secrets (loaded or made), and the fingerprint
//! of what a run's finished steps depend on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::bundle::Bundle;
use crate::i18n::Msg;
use crate::profile::Answers;
use crate::profile::Hooks;
use crate::render::RenderedFile;

/// Where the answers' bundle is: `sandbox`, a path relative to `base`
/// (the profile's directory), or, when none is given, the one beside cdwiz.
pub fn bundle_dir(answers: &Answers, base: &Path, data_dir: &Path) -> PathBuf {
    if answers.bundle == "sandbox" {
        return crate::sandbox::bundle::bundle_dir(&crate::sandbox::sandbox_root(data_dir));
    }
    if answers.bundle.trim().is_empty()
        && let Some(beside) = crate::paths::bundle_beside_binary()
    {
        return beside;
    }
    let p = crate::paths::expand_home(&answers.bundle);
    if p.is_absolute() { p } else { base.join(p) }
}

/// Opens the answers' bundle; with `verify_images`, every image archive
/// must match its checksum (before a deploy touches any host). The error
/// says what to do.
pub fn open_bundle(
    answers: &Answers,
    base: &Path,
    data_dir: &Path,
    verify_images: bool,
) -> Result<Bundle, Msg> {
    let dir = bundle_dir(answers, base, data_dir);
    if answers.bundle == "sandbox" {
        // Verified when opened; rebuilt by `sandbox up` when out of date.
        return crate::sandbox::bundle::existing(&crate::sandbox::sandbox_root(data_dir))
            .ok_or_else(|| Msg::new("bundle.sandbox-missing").arg("dir", dir.display()));
    }
    let bundle = Bundle::open(&dir).map_err(|e| e.message())?;
    if verify_images {
        bundle
            .verify_cached(Some(&hash_cache(data_dir)))
            .map_err(|e| e.message())?;
    }
    Ok(bundle)
}

/// Where the bundle archives' hashes are remembered (see
/// [`Bundle::verify_cached`]).
pub fn hash_cache(data_dir: &Path) -> PathBuf {
    data_dir.join("bundle-hashes.json")
}

/// Reads the hook scripts the profile names (relative to `base`), each
/// one in the profile's folder or trusted by the operator.
pub fn read_hooks(answers: &Answers, base: &Path) -> Result<Hooks, Vec<String>> {
    answers.hooks.read(|name, path| {
        let full = base.join(crate::paths::expand_home(path));
        if !crate::consent::file_allowed(&full, base) {
            // Validation refuses it first; nothing reads it unconsented.
            return Err(format!(
                "hooks.{name}: {} is outside the profile's folder and not trusted (--trust)",
                full.display()
            ));
        }
        std::fs::read_to_string(&full)
            .map_err(|e| format!("hooks.{name}: cannot read {}: {e}", full.display()))
    })
}

/// What a finished step depends on: the answers (but their waivers), the
/// manifest and every rendered file. A resumed run trusts its finished
/// steps only while the fingerprint is the same.
pub fn fingerprint(answers: &Answers, bundle: &Bundle, rendered: &[RenderedFile]) -> String {
    // Accepting a check's result changes no step's outcome.
    let mut answers = answers.clone();
    answers.accept_checks.clear();
    let mut h = Sha256::new();
    h.update(serde_yaml::to_string(&answers).unwrap_or_default());
    h.update([0]);
    h.update(serde_yaml::to_string(&bundle.manifest).unwrap_or_default());
    for f in rendered {
        h.update([0]);
        h.update(f.path.display().to_string());
        h.update([0]);
        h.update(&f.content);
    }
    format!("{:x}", h.finalize())
}

/// The names of the secrets the bundle's components are given, sorted.
pub fn secret_names(bundle: &Bundle) -> Vec<String> {
    let mut names: Vec<String> = bundle
        .manifest
        .components
        .iter()
        .flat_map(|c| c.secrets.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The installation's generated secrets (made on first use, 0600) and
/// where they are.
pub fn generated_secrets(
    answers: &Answers,
    bundle: &Bundle,
    data_dir: &Path,
) -> Result<(PathBuf, BTreeMap<String, String>), String> {
    let names = secret_names(bundle);
    let path = crate::deploy::secrets::path(data_dir, answers);
    let generated = crate::deploy::secrets::load_or_create(&path, &names)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, generated))
}
