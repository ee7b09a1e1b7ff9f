//! Generated secrets of one installation (database, cache, admin passwords):
//! made once, kept in a 0600 file, reused by every later run on the same
//! hosts so that a re-run never changes a password under a running platform.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::profile::Answers;

/// Where one installation's generated secrets live.
pub fn path(data_dir: &Path, answers: &Answers) -> PathBuf {
    data_dir
        .join("installs")
        .join(crate::profile::install_id(answers))
        .join("secrets.yaml")
}

/// The installation's generated secrets, if this machine has them (read,
/// never created): what is hidden from what cdwiz writes.
pub fn values(data_dir: &Path, answers: &Answers) -> Vec<String> {
    std::fs::read_to_string(path(data_dir, answers))
        .ok()
        .and_then(|t| serde_yaml::from_str::<BTreeMap<String, String>>(&t).ok())
        .map(|m| m.into_values().collect())
        .unwrap_or_default()
}

/// The characters of a generated secret.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// A generated secret's length.
const LENGTH: usize = 24;

/// Whether `value` could be a secret cdwiz generated: its length, its
/// alphabet. What a host hands back as one must be (it goes into configs
/// and commands, and into what is hidden from logs).
pub fn well_formed(value: &str) -> bool {
    value.len() == LENGTH && value.bytes().all(|b| ALPHABET.contains(&b))
}

fn random_secret() -> std::io::Result<String> {
    let mut bytes = [0u8; LENGTH];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Loads the secrets at `path`, adding any of `names` that is missing, and
/// writes them back (0600) when something was added.
pub fn load_or_create(path: &Path, names: &[String]) -> std::io::Result<BTreeMap<String, String>> {
    let mut secrets: BTreeMap<String, String> = match std::fs::read_to_string(path) {
        Ok(text) => serde_yaml::from_str(&text).map_err(std::io::Error::other)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let mut added = false;
    for n in names {
        if !secrets.contains_key(n) {
            secrets.insert(n.clone(), random_secret()?);
            added = true;
        }
    }
    if added {
        store(path, &secrets)?;
    }
    Ok(secrets)
}

/// Writes the installation's secrets at `path` (0600, whole or not at all).
pub fn store(path: &Path, secrets: &BTreeMap<String, String>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::rundir::write_atomic(
        path,
        &serde_yaml::to_string(secrets).map_err(std::io::Error::other)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_well_formed_and_others_not() {
        for _ in 0..20 {
            assert!(well_formed(&random_secret().unwrap()));
        }
        for bad in [
            "",
            "short",
            "abcdefghijkmnopqrstuvwx;",
            "abcdefghijkmnopqrstuvwxyz",
            "abcdefghijkmnopqrstuvw\n",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}
