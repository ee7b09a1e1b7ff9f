//! The keys cdwiz put into logins' `authorized_keys` on a host, as its
//! install record lists them. Each machine that deploys has a key of its
//! own (another engineer's laptop, a reinstalled one), so the record keeps
//! every one of them and `uninstall`, from whichever machine, removes them
//! all: a security review finds none left behind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ssh::quote;

/// One key cdwiz installed, and for whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RecordedKey {
    pub user: String,
    /// `type blob`.
    pub key: String,
    pub options: String,
    pub removed_by_uninstall: bool,
}

/// What cdwiz writes before a key in `authorized_keys` (and `from=`).
pub use crate::ssh::authorized_keys::OWN_KEY_OPTIONS as OPTIONS;

impl RecordedKey {
    /// A key that could be cdwiz's own, for a user name that could be a
    /// login: what a record may make uninstall act on.
    fn well_formed(&self) -> bool {
        let mut words = self.key.split(' ');
        let (Some(kind), Some(blob), None) = (words.next(), words.next(), words.next()) else {
            return false;
        };
        // An ed25519 key's blob is 68 characters: a shorter one would be a
        // prefix that a looser match could take for any key.
        kind == "ssh-ed25519"
            && blob.len() == 68
            && blob.starts_with("AAAAC3NzaC1lZDI1NTE5")
            && blob
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            && crate::pattern::check(crate::pattern::Kind::UserName, &self.user).is_ok()
    }
}

/// The keys an install record lists (`ssh-keys`, or an older record's
/// single `ssh-key`); what is not well formed is left out.
pub fn recorded(record: &serde_json::Value) -> Vec<RecordedKey> {
    let list = match (record.get("ssh-keys"), record.get("ssh-key")) {
        (Some(keys), _) => serde_json::from_value::<Vec<RecordedKey>>(keys.clone()).ok(),
        (None, Some(key)) => serde_json::from_value::<RecordedKey>(key.clone())
            .ok()
            .map(|k| vec![k]),
        (None, None) => None,
    };
    list.unwrap_or_default()
        .into_iter()
        .filter(RecordedKey::well_formed)
        .collect()
}

/// Each host's recorded keys, from `(host, record)` pairs.
pub fn by_host(records: &[(String, serde_json::Value)]) -> BTreeMap<String, Vec<RecordedKey>> {
    records
        .iter()
        .map(|(host, r)| (host.clone(), recorded(r)))
        .collect()
}

/// The recorded keys with `own` (this run's) among them, in the order
/// they came; `own` replaces a recorded entry of the same key and user.
pub fn merged(recorded: &[RecordedKey], own: Option<RecordedKey>) -> Vec<RecordedKey> {
    let mut out: Vec<RecordedKey> = recorded.to_vec();
    if let Some(own) = own {
        match out
            .iter_mut()
            .find(|k| k.key == own.key && k.user == own.user)
        {
            Some(k) => *k = own,
            None => out.push(own),
        }
    }
    out
}

/// A script, run as root, that removes each key from its user's
/// `authorized_keys` (the file keeps its owner and mode); prints
/// `key-removed` for each one it found.
pub fn remove_script(keys: &[RecordedKey]) -> String {
    keys.iter()
        .filter(|k| k.removed_by_uninstall && k.well_formed())
        .map(|k| {
            let home = format!(
                "$( (getent passwd {u} || grep '^'{u}':' /etc/passwd) 2>/dev/null | head -n 1 | cut -d: -f6)",
                u = quote(&k.user)
            );
            // Each in a subshell: a refused (symlinked) file stops only its own.
            format!(
                "( {} )",
                crate::ssh::authorized_keys::remove_script(&home, &k.key, "key-removed", None)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed ed25519 blob (68 characters) ending in `tail`.
    fn b(tail: &str) -> String {
        let head = "AAAAC3NzaC1lZDI1NTE5AAAAI";
        format!("{head}{}{tail}", "x".repeat(68 - head.len() - tail.len()))
    }

    fn key(user: &str, blob: &str) -> RecordedKey {
        let blob = if blob.len() < 20 {
            b(blob)
        } else {
            blob.to_string()
        };
        RecordedKey {
            user: user.into(),
            key: format!("ssh-ed25519 {blob}"),
            options: OPTIONS.into(),
            removed_by_uninstall: true,
        }
    }

    #[test]
    fn old_and_new_records_give_their_keys_and_bad_ones_are_dropped() {
        let old = serde_json::json!({ "ssh-key": key("root", "AAAA1") });
        assert_eq!(recorded(&old), [key("root", "AAAA1")]);
        let new = serde_json::json!({ "ssh-keys": [
            key("root", "AAAA1"),
            key("ops", "AAAA2"),
            key("root", "AAAA3; rm -rf /"),
            key("$(reboot)", "AAAA4"),
            { "user": "root", "key": "ssh-rsa AAAA5", "options": OPTIONS, "removed-by-uninstall": true },
            // A short blob: a prefix of every ed25519 key.
            { "user": "root", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "options": OPTIONS, "removed-by-uninstall": true },
        ] });
        assert_eq!(recorded(&new), [key("root", "AAAA1"), key("ops", "AAAA2")]);
        assert!(recorded(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn this_runs_key_joins_the_recorded_ones_once() {
        let (a, b) = (key("root", "AAAA1"), key("root", "AAAA2"));
        let both = vec![a.clone(), b.clone()];
        assert_eq!(merged(std::slice::from_ref(&a), Some(b.clone())), both);
        assert_eq!(merged(&both, Some(a.clone())), both);
        let mut kept = a.clone();
        kept.removed_by_uninstall = false;
        assert_eq!(merged(std::slice::from_ref(&a), Some(kept.clone())), [kept]);
        assert_eq!(merged(std::slice::from_ref(&a), None), [a]);
    }

    #[test]
    fn only_keys_uninstall_may_remove_get_a_line() {
        let mut kept = key("ops", "AAAA2");
        kept.removed_by_uninstall = false;
        let script = remove_script(&[key("root", "AAAA1"), kept]);
        assert!(script.contains(&b("AAAA1")), "{script}");
        assert!(!script.contains(&b("AAAA2")), "{script}");
    }
}
