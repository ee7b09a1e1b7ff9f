//! Secrets handed to cdwiz in environment variables (`password-env`,
//! `sudo-password-env`). They are taken out of the process environment at
//! start-up, before any thread or child exists, and kept here: the ssh
//! processes cdwiz starts (masters that may outlive a killed cdwiz among
//! them) inherit no password they do not need.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// The variables every run may name without a profile (the wizard's
/// defaults and the README's examples).
pub const DEFAULT_NAMES: [&str; 2] = ["CDWIZ_SSH_PASSWORD", "CDWIZ_SUDO_PASSWORD"];

fn taken() -> &'static Mutex<HashMap<String, String>> {
    static TAKEN: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    TAKEN.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The keys whose value names a secret's variable: a key of another name
/// (`x-env: PATH`) is refused when the profile loads, and names nothing
/// here.
pub const ENV_KEYS: [&str; 3] = ["password-env", "sudo-password-env", "registry-password-env"];

/// The names of the variables a profile's `*-env` keys point at (at any
/// depth, so per-host logins are covered too). A profile that cannot be
/// read names none; loading it later reports why.
pub fn names_in_profile(path: &Path) -> Vec<String> {
    fn walk(v: &serde_yaml::Value, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for (k, item) in m {
                    match (k.as_str(), item.as_str()) {
                        (Some(key), Some(name)) if ENV_KEYS.contains(&key) => {
                            out.push(name.to_string())
                        }
                        _ => walk(item, out),
                    }
                }
            }
            serde_yaml::Value::Sequence(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(v) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_yaml::from_str::<serde_yaml::Value>(&t).ok())
    {
        walk(&v, &mut out);
    }
    out
}

/// Moves the named variables from the environment into cdwiz's own keeping.
///
/// # Safety
/// Call before any other thread exists (at the top of `main`): changing the
/// environment races with threads that read it.
pub unsafe fn take<S: AsRef<str>>(names: &[S]) {
    let mut kept = taken().lock().unwrap_or_else(|e| e.into_inner());
    for name in names {
        let name = name.as_ref();
        let valid = !name.is_empty()
            && !name.contains(['=', '\0'])
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            continue;
        }
        if let Ok(value) = std::env::var(name) {
            kept.insert(name.to_string(), value);
            // SAFETY: the caller guarantees no other thread exists yet.
            unsafe { std::env::remove_var(name) };
        }
    }
}

/// A secret variable's value: taken at start-up, else still in the
/// environment (a library caller, a name typed in the wizard later).
pub fn get(name: &str) -> Option<String> {
    let kept = taken().lock().unwrap_or_else(|e| e.into_inner());
    kept.get(name)
        .cloned()
        .or_else(|| std::env::var(name).ok())
        .filter(|v| !v.is_empty())
}
