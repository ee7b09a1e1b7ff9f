//! What a deploy's preparation leaves on a host besides its containers,
//! against what a run would make it, asked in one round trip: the config
//! files (by sha256; a missing one differs), the cdwiz block of /etc/hosts
//! (the cluster's names), and the kernel settings the product needs.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::bundle::Manifest;
use crate::connect::{Target, Targets};
use crate::deploy::prepare::{hosts_block, hosts_block_drift};
use crate::i18n::Msg;
use crate::render::RenderedFile;

const BLOCK: &str = "@@cdwiz-status-block";
const SYSCTL: &str = "@@cdwiz-status-sysctl";

/// What every host should hold, from the hosts that could be asked.
pub(super) struct Expected {
    /// The cdwiz block's lines.
    block: String,
    /// Hosts whose name is not known (not reached): their lines are not judged.
    unknown: Vec<String>,
    /// Kernel settings and their minimum.
    sysctl: BTreeMap<String, u64>,
}

impl Expected {
    pub(super) async fn of(targets: &Targets, manifest: &Manifest) -> Expected {
        targets.ensure_hostnames().await;
        let (named, nameless): (Vec<_>, Vec<_>) = targets
            .hosts
            .values()
            .map(|t| (t.address.clone(), t.hostname()))
            .partition(|(_, name)| !name.is_empty());
        let mut unknown: Vec<String> = targets.unreachable.keys().cloned().collect();
        unknown.extend(nameless.into_iter().map(|(a, _)| a));
        Expected {
            block: hosts_block(&named),
            unknown,
            sysctl: manifest.requirements.sysctl.clone(),
        }
    }
}

/// The config files that differ, and the settings that do, each said.
pub(super) async fn drift(
    t: &Target,
    rendered: &[RenderedFile],
    expected: &Expected,
) -> (Vec<String>, Vec<Msg>) {
    use sha2::{Digest, Sha256};
    let want: Vec<(String, String)> =
        crate::deploy::config_files(rendered, &t.address, &t.data_dir)
            .map(|(path, content)| (path, format!("{:x}", Sha256::digest(content.as_bytes()))))
            .collect();
    let paths: Vec<String> = want.iter().map(|(p, _)| crate::ssh::quote(p)).collect();
    let sysctl: Vec<String> = expected
        .sysctl
        .keys()
        .map(|k| crate::ssh::quote(&format!("/proc/sys/{}", k.replace('.', "/"))))
        .collect();
    let script = format!(
        "{sums}echo {BLOCK}; sed -n '/^# cdwiz begin$/,/^# cdwiz end$/p' /etc/hosts | sed '1d;$d'; \
         echo {SYSCTL}; for p in {sysctl}; do printf '%s %s\\n' \"$p\" \"$(cat \"$p\" 2>/dev/null)\"; done; true",
        sums = if paths.is_empty() {
            String::new()
        } else {
            format!("sha256sum -- {} 2>/dev/null; ", paths.join(" "))
        },
        sysctl = sysctl.join(" "),
    );
    let Ok(out) = t.conn.run(&script, Duration::from_secs(30)).await else {
        return (Vec::new(), Vec::new());
    };
    let (sums, rest) = out.stdout.split_once(BLOCK).unwrap_or((&out.stdout, ""));
    let (block, values) = rest.split_once(SYSCTL).unwrap_or((rest, ""));
    let have: std::collections::HashMap<&str, &str> = sums
        .lines()
        .filter_map(|l| {
            let (hash, path) = l.split_once("  ")?;
            Some((path, hash))
        })
        .collect();
    let files = want
        .into_iter()
        .filter(|(p, h)| have.get(p.as_str()) != Some(&h.as_str()))
        .map(|(p, _)| p)
        .collect();
    let mut settings = Vec::new();
    let (missing, extra) = hosts_block_drift(&expected.block, block, &expected.unknown);
    if !missing.is_empty() {
        settings.push(Msg::new("status.drift.hosts-missing").arg("lines", missing.join("; ")));
    }
    if !extra.is_empty() {
        settings.push(Msg::new("status.drift.hosts-extra").arg("lines", extra.join("; ")));
    }
    for (key, min) in &expected.sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let value = values
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{path} ")))
            .and_then(|v| v.trim().parse::<u64>().ok());
        if value.is_none_or(|v| v < *min) {
            settings.push(
                Msg::new("status.drift.sysctl")
                    .arg("key", key)
                    .arg("value", value.map_or("?".to_string(), |v| v.to_string()))
                    .arg("min", min),
            );
        }
    }
    (files, settings)
}
