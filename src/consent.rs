//! What the operator lets a profile take from this machine. A profile is
//! untrusted (someone else may have written it): the environment variables
//! it names are limited to `CDWIZ_*`, and the files it names (secret files,
//! hook scripts, a kubeconfig, a CA certificate) to its own folder, unless
//! the operator consents: `--allow-env NAME` and `--trust PATH` on the
//! command line, or the wizard's dialog listing each one.
//!
//! The consent is the process's own, given once by the front end before
//! anything is read (like [`crate::secret_env`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The prefix of the variables any profile may name.
pub const ENV_PREFIX: &str = "CDWIZ_";

#[derive(Default)]
struct Given {
    env: BTreeSet<String>,
    /// Canonical paths (as given when they cannot be resolved).
    files: BTreeSet<PathBuf>,
    /// Whole command lines a kubeconfig may run to log in.
    commands: BTreeSet<String>,
    /// The host keys the operator expects (`--expect-host-key`), by host.
    host_keys: std::collections::BTreeMap<String, String>,
}

fn given() -> &'static Mutex<Given> {
    static GIVEN: OnceLock<Mutex<Given>> = OnceLock::new();
    GIVEN.get_or_init(|| Mutex::new(Given::default()))
}

fn lock() -> std::sync::MutexGuard<'static, Given> {
    given().lock().unwrap_or_else(|e| e.into_inner())
}

/// The operator lets profiles name the variable `name`.
pub fn allow_env(name: &str) {
    lock().env.insert(name.to_string());
}

/// The operator lets profiles read the file at `path` (resolved here,
/// symlinks followed: the file consented to is the one read).
pub fn trust(path: &Path) {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    lock().files.insert(p);
}

/// The operator lets a kubeconfig run this command line (as cdwiz shows
/// it) to log in.
pub fn allow_exec(command: &str) {
    lock().commands.insert(command.trim().to_string());
}

/// Whether a kubeconfig may run `command` (the whole line).
pub fn exec_allowed(command: &str) -> bool {
    lock().commands.contains(command.trim())
}

/// The operator expects the host `host` to present the key whose
/// fingerprint is `fingerprint` (`SHA256:…`).
pub fn expect_host_key(host: &str, fingerprint: &str) {
    lock()
        .host_keys
        .insert(host.to_string(), fingerprint.trim().to_string());
}

/// The fingerprint the operator expects of `host`'s key, if any.
pub fn expected_host_key(host: &str) -> Option<String> {
    lock().host_keys.get(host).cloned()
}

/// Whether a profile may name the variable `name`.
pub fn env_allowed(name: &str) -> bool {
    name.starts_with(ENV_PREFIX) || lock().env.contains(name)
}

/// Whether a profile in `folder` may read `path`: it lies inside that
/// folder once every symlink is resolved, or the operator trusts it. A
/// path that does not resolve (no such file) is allowed here: reading it
/// fails, and says so.
pub fn file_allowed(path: &Path, folder: &Path) -> bool {
    let Ok(real) = std::fs::canonicalize(path) else {
        return true;
    };
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let inside = std::fs::canonicalize(folder).is_ok_and(|f| real.starts_with(f));
    inside || lock().files.contains(&real)
}

/// The file's SHA-256 (hex), for the operator to compare with
/// `sha256sum`; none when it cannot be read.
pub fn sha256(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).ok()?;
    Some(format!("{:x}", Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_outside_the_prefix_need_consent() {
        assert!(env_allowed("CDWIZ_SSH_PASSWORD"));
        assert!(!env_allowed("AWS_SECRET_ACCESS_KEY_T1"));
        allow_env("AWS_SECRET_ACCESS_KEY_T1");
        assert!(env_allowed("AWS_SECRET_ACCESS_KEY_T1"));
        assert!(!env_allowed("cdwiz_lower"));
    }

    #[test]
    fn files_outside_the_folder_need_consent_even_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = tmp.path().join("profile");
        std::fs::create_dir(&folder).unwrap();
        let outside = tmp.path().join("id_ed25519");
        std::fs::write(&outside, "key").unwrap();
        let inside = folder.join("hook.sh");
        std::fs::write(&inside, "true").unwrap();
        std::os::unix::fs::symlink(&outside, folder.join("link")).unwrap();
        assert!(file_allowed(&inside, &folder));
        assert!(!file_allowed(&outside, &folder));
        assert!(!file_allowed(&folder.join("link"), &folder));
        assert!(!file_allowed(&folder.join("../id_ed25519"), &folder));
        trust(&folder.join("link"));
        assert!(file_allowed(&outside, &folder));
        assert!(file_allowed(&folder.join("link"), &folder));
    }
}
