//! What a deploy's preparation leaves on a host besides its containers,
//! against what a run would make it, asked in one round trip per host: the
//! config files (by sha256; a missing one differs), the kernel settings the
//! product needs, and the cdwiz block of /etc/hosts with the host's own
//! name; the blocks are judged once every host has answered (each should
//! hold every host's name).

use std::collections::BTreeMap;
use std::time::Duration;

use super::HostStatus;
use crate::connect::Target;
use crate::deploy::prepare::{hosts_block, hosts_block_drift};
use crate::i18n::Msg;
use crate::render::RenderedFile;

const NAME: &str = "@@cdwiz-status-name";
const BLOCK: &str = "@@cdwiz-status-block";
const SYSCTL: &str = "@@cdwiz-status-sysctl";

/// What one host answered.
pub(super) struct Seen {
    /// Config files that differ from the rendered ones, by path.
    pub files: Vec<String>,
    /// Kernel settings below their minimum, each said.
    pub settings: Vec<Msg>,
    /// The host's own name and its cdwiz block in /etc/hosts.
    pub name: String,
    pub block: String,
}

/// Asks the host in one round trip.
pub(super) async fn ask(
    t: &Target,
    rendered: &[RenderedFile],
    sysctl: &BTreeMap<String, u64>,
) -> Option<Seen> {
    use sha2::{Digest, Sha256};
    let want: Vec<(String, String)> =
        crate::deploy::config_files(rendered, &t.address, &t.data_dir)
            .map(|(path, content)| (path, format!("{:x}", Sha256::digest(content.as_bytes()))))
            .collect();
    let paths: Vec<String> = want.iter().map(|(p, _)| crate::ssh::quote(p)).collect();
    let proc_paths: Vec<String> = sysctl
        .keys()
        .map(|k| crate::ssh::quote(&proc_path(k)))
        .collect();
    let script = format!(
        "{sums}echo {NAME}; hostname; echo {BLOCK}; \
         sed -n '/^# cdwiz begin$/,/^# cdwiz end$/p' /etc/hosts | sed '1d;$d'; \
         echo {SYSCTL}; for p in {procs}; do printf '%s %s\\n' \"$p\" \"$(cat \"$p\" 2>/dev/null)\"; done; true",
        sums = if paths.is_empty() {
            String::new()
        } else {
            format!("sha256sum -- {} 2>/dev/null; ", paths.join(" "))
        },
        procs = proc_paths.join(" "),
    );
    let out = t.conn.run(&script, Duration::from_secs(30)).await.ok()?;
    let (sums, rest) = out.stdout.split_once(NAME)?;
    let (name, rest) = rest.split_once(BLOCK)?;
    let (block, values) = rest.split_once(SYSCTL)?;
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
    for (key, min) in sysctl {
        let value = values
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{} ", proc_path(key))))
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
    Some(Seen {
        files,
        settings,
        name: crate::text::line(name.trim()),
        block: block.trim_matches('\n').to_string(),
    })
}

fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Each host's cdwiz block against every host's own name: the lines it
/// lacks, and those no host gives. Hosts that gave no name (not reached)
/// are not judged, nor are their lines in the others' blocks.
pub(super) fn judge_blocks(hosts: &mut [HostStatus], seen: &BTreeMap<String, (String, String)>) {
    let named: Vec<(String, String)> = seen
        .iter()
        .filter(|(_, (name, _))| !name.is_empty())
        .map(|(addr, (name, _))| (addr.clone(), name.clone()))
        .collect();
    let unknown: Vec<String> = hosts
        .iter()
        .map(|h| h.address.clone())
        .filter(|a| !named.iter().any(|(n, _)| n == a))
        .collect();
    let want = hosts_block(&named);
    for h in hosts.iter_mut() {
        let Some((_, block)) = seen.get(&h.address) else {
            continue;
        };
        let (missing, extra) = hosts_block_drift(&want, block, &unknown);
        if !missing.is_empty() {
            h.drifted_settings
                .push(Msg::new("status.drift.hosts-missing").arg("lines", missing.join("; ")));
        }
        if !extra.is_empty() {
            h.drifted_settings
                .push(Msg::new("status.drift.hosts-extra").arg("lines", extra.join("; ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(address: &str) -> HostStatus {
        HostStatus {
            address: address.into(),
            unreachable: None,
            components: Vec::new(),
            drifted_files: Vec::new(),
            drifted_settings: Vec::new(),
        }
    }

    #[test]
    fn blocks_are_judged_against_every_named_host_but_not_the_unreached() {
        let mut hosts = vec![host("10.0.0.1"), host("10.0.0.2"), host("10.0.0.3")];
        let full = "10.0.0.1 cd-1\n10.0.0.2 cd-2\n10.0.0.3 cd-3";
        let seen = BTreeMap::from([
            (
                "10.0.0.1".to_string(),
                ("cd-1".to_string(), full.to_string()),
            ),
            (
                "10.0.0.2".to_string(),
                (
                    "cd-2".to_string(),
                    "10.0.0.1 cd-1\n10.0.0.3 cd-3\n10.0.0.9 gone".to_string(),
                ),
            ),
        ]);
        judge_blocks(&mut hosts, &seen);
        assert!(
            hosts[0].drifted_settings.is_empty(),
            "{:?}",
            hosts[0].drifted_settings
        );
        let keys: Vec<(&str, &str)> = hosts[1]
            .drifted_settings
            .iter()
            .map(|m| (m.key.as_str(), m.args["lines"].as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("status.drift.hosts-missing", "10.0.0.2 cd-2"),
                ("status.drift.hosts-extra", "10.0.0.9 gone")
            ]
        );
        assert!(hosts[2].drifted_settings.is_empty());
    }
}
