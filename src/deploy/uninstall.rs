//! Uninstall: the steps of deploy backwards on every host — containers in
//! reverse dependency order (keepalived first, stopped gracefully so that
//! it gives the VIP back), configs, secrets, the /etc/hosts block and the
//! install record; the data only with `purge`. Idempotent; a host that
//! cannot be reached is reported and the others are still cleaned.

use std::sync::Arc;
use std::time::Duration;

use crate::connect::Connector;
use crate::profile::Answers;
use crate::ssh::quote;

use super::{INSTALL_RECORD, container, keys, ordered};

const CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// What uninstall did on one host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UninstallResult {
    pub host: String,
    pub containers_removed: usize,
    pub files_removed: bool,
    pub data_removed: bool,
    /// cdwiz's own key was removed from the login's `authorized_keys`.
    pub key_removed: bool,
    /// Keys of other machines the install record listed, removed.
    pub other_keys_removed: usize,
    /// Why the host was left as it was (it could not be reached).
    pub skipped: Option<String>,
}

pub async fn uninstall(
    answers: &Answers,
    manifest: &crate::bundle::Manifest,
    connector: Arc<Connector>,
    purge: bool,
) -> Vec<UninstallResult> {
    let _ = connector.prepare().await;
    let mut reverse: Vec<String> = ordered(&manifest.components)
        .into_iter()
        .map(|c| c.name.clone())
        .collect();
    reverse.reverse();
    let keep_key = answers.ssh.keep_key;
    let runs = answers.hosts.iter().map(|h| {
        let connector = connector.clone();
        let reverse = reverse.clone();
        let (addr, data_dir) = (
            h.address.clone(),
            crate::plan::data_dir(h),
        );
        async move {
            let mut result = UninstallResult {
                host: addr.clone(),
                containers_removed: 0,
                files_removed: false,
                data_removed: false,
                key_removed: false,
                other_keys_removed: 0,
                skipped: None,
            };
            let conn = match connector.connect(&addr).await {
                Ok(c) => c,
                Err(e) => {
                    result.skipped = Some(e.to_string());
                    return result;
                }
            };
            let local = crate::paths::runtime_dir().join(format!(
                "cdwiz-{}-{}.sock",
                std::process::id(),
                addr.replace(':', "_")
            ));
            match conn.docker_api(local).await.map(|api| api.docker) {
                Ok(fwd) => {
                    for name in &reverse {
                        match container::remove(&fwd.docker, name).await {
                            Ok(true) => result.containers_removed += 1,
                            Ok(false) => {}
                            Err(e) => result.skipped = Some(e),
                        }
                    }
                }
                Err(e) => result.skipped = Some(e.to_string()),
            }
            // The keys of every machine that deployed, as the record lists
            // them (this one's is removed last, below: the session uses it).
            let others: Vec<keys::RecordedKey> = if keep_key {
                Vec::new()
            } else {
                conn.run(
                    &format!("cat {} 2>/dev/null || true", quote(INSTALL_RECORD)),
                    CMD_TIMEOUT,
                )
                .await
                .ok()
                .and_then(|o| serde_json::from_str::<serde_json::Value>(o.stdout.trim()).ok())
                .map(|r| keys::recorded(&r))
                .unwrap_or_default()
                .into_iter()
                .filter(|k| !(conn.own_key.as_ref() == Some(&k.key) && k.user == conn.user))
                .collect()
            };
            let base = format!("{data_dir}/cd");
            let mut script = format!(
                "removed=no; for p in {c} {s} {r}; do if [ -e \"$p\" ]; then rm -rf \"$p\"; removed=yes; fi; done; \
                 if grep -qx '# cdwiz begin' /etc/hosts; then {hosts}; fi; \
                 echo $removed",
                hosts = super::prepare::replace_etc_hosts(
                    "sed '/^# cdwiz begin$/,/^# cdwiz end$/d' /etc/hosts"
                ),
                c = quote(&format!("{base}/config")),
                s = quote(&format!("{base}/secrets")),
                r = quote(INSTALL_RECORD),
            );
            if purge {
                script = format!(
                    "{script}; if [ -d {b} ]; then rm -rf {b}; echo purged; fi",
                    b = quote(&base)
                );
            }
            if !others.is_empty() {
                script = format!("{script}\n{}", keys::remove_script(&others));
            }
            if let Ok(out) = conn.run(&script, CMD_TIMEOUT).await {
                result.files_removed = out.stdout.lines().next() == Some("yes");
                result.data_removed = out.stdout.contains("purged");
                result.other_keys_removed =
                    out.stdout.lines().filter(|l| *l == "key-removed").count();
            }
            // Last: the key this session logged in with.
            if !keep_key {
                match conn.remove_own_key().await {
                    Ok(removed) => result.key_removed = removed,
                    Err(e) => result.skipped = Some(e.to_string()),
                }
            }
            conn.close().await;
            result
        }
    });
    let results = futures_util::future::join_all(runs).await;
    if !keep_key && let Err(e) = connector.remove_own_key_from_jump().await {
        tracing::warn!("cannot remove cdwiz's key from the jump host: {e}");
    }
    results
}
