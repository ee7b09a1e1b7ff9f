//! Which installation a run is: a random id made when this machine first
//! meets an installation, found again by the hosts it shares with a
//! profile, and confirmed (or replaced) by what the hosts' records say once
//! a run reaches them.

use std::path::Path;

use super::{Members, dir, members, release};
use crate::profile::Answers;

/// The hosts of an installation this machine has met but not deployed.
const MET_FILE: &str = "met.json";
/// The hosts whose install record (and generated secrets) this machine
/// put there: the installation has been on them.
const PLACED_FILE: &str = "placed.json";
/// Marks an installation its hosts no longer carry (they were found to be
/// another one): kept for its records, no longer found by its hosts.
const RETIRED_FILE: &str = "retired";
/// A new installation's id: 16 random hex digits.
pub fn new_id() -> String {
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if read.is_err() {
        // No /dev/urandom: the clock's nanoseconds and the process id.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes = (t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(40)).to_le_bytes();
    }
    format!("{:016x}", u64::from_le_bytes(bytes))
}

/// Whether `id` is an installation's id: 16 hex digits (as [`new_id`]
/// makes them, and as older cdwiz made them from the answers).
pub fn well_formed_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The installation `a` describes as this machine knows it: the known one
/// (deployed or met) sharing the most hosts with it, else a new one.
pub fn resolve(data_dir: &Path, a: &Answers) -> String {
    let wanted = Members::of(a);
    let mut best: Option<(usize, String)> = None;
    let mut ids: Vec<String> = std::fs::read_dir(data_dir.join("installs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    for id in ids {
        if dir(data_dir, &id).join(RETIRED_FILE).exists() {
            continue;
        }
        let Some(m) = members(data_dir, &id).or_else(|| met(data_dir, &id)) else {
            continue;
        };
        if let Some(n) = m.shared(&wanted)
            && best.as_ref().is_none_or(|(b, _)| n > *b)
        {
            best = Some((n, id));
        }
    }
    best.map_or_else(new_id, |(_, id)| id)
}

/// `a` with its installation resolved (see [`resolve`]).
pub fn adopt(data_dir: &Path, a: &mut Answers) {
    a.install = Some(resolve(data_dir, a));
}

/// The hosts of an installation this machine met (a run reached them)
/// before any deploy, if recorded.
fn met(data_dir: &Path, id: &str) -> Option<Members> {
    let text = std::fs::read_to_string(dir(data_dir, id).join(MET_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records that a run reached `a`'s hosts as installation `id`, when this
/// machine has no record of it yet (so the next run finds it again, with
/// the host keys it accepted).
pub fn meet(data_dir: &Path, id: &str, a: &Answers) -> std::io::Result<()> {
    let d = dir(data_dir, id);
    if d.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(&d)?;
    let text = serde_json::to_string_pretty(&Members::of(a)).map_err(std::io::Error::other)?;
    crate::rundir::write_atomic(&d.join(MET_FILE), &text)
}

/// The hosts this machine put the installation on (its record, its
/// secrets): those of a deploy that reached them, and every member of one
/// that finished.
pub fn placed(data_dir: &Path, id: &str) -> Vec<String> {
    let mut hosts: Vec<String> = std::fs::read_to_string(dir(data_dir, id).join(PLACED_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if release(data_dir, id).is_some()
        && let Some(m) = members(data_dir, id)
    {
        hosts.extend(m.hosts);
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Adds `hosts` to those the installation has been put on.
pub fn record_placed(data_dir: &Path, id: &str, hosts: &[String]) -> std::io::Result<()> {
    let mut all = placed(data_dir, id);
    let before = all.len();
    all.extend(hosts.iter().cloned());
    all.sort();
    all.dedup();
    if all.len() == before && dir(data_dir, id).join(PLACED_FILE).exists() {
        return Ok(());
    }
    let d = dir(data_dir, id);
    std::fs::create_dir_all(&d)?;
    let text = serde_json::to_string_pretty(&all).map_err(std::io::Error::other)?;
    crate::rundir::write_atomic(&d.join(PLACED_FILE), &text)
}

/// Which installation a run is, once its hosts answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The one this machine took it for.
    Same,
    /// The installation the hosts' records name (another machine made it,
    /// or made it anew over this machine's): this run continues it.
    Joins { install: String, hosts: Vec<String> },
    /// This machine's installation was put on these hosts and none of them
    /// carries it any more (uninstalled, or other machines at another site
    /// on the same addresses): a new installation, with new secrets.
    New { install: String, hosts: Vec<String> },
}

/// What the hosts that answered say of the installation `candidate`
/// (`answered`: each host that answered, with the installation its record
/// names, if any). Hosts that agree on another installation are that one;
/// hosts that carry none of it although this machine put `candidate` on
/// them make a new one; else it stays `candidate`.
pub fn identify(
    data_dir: &Path,
    candidate: &str,
    answered: &[(String, Option<String>)],
) -> Identity {
    // What a host says is not trusted: an id that is not one (it would
    // become a path here) counts as no record.
    let answered: Vec<(String, Option<String>)> = answered
        .iter()
        .map(|(h, id)| (h.clone(), id.clone().filter(|i| well_formed_id(i))))
        .collect();
    let answered = answered.as_slice();
    let mut ids: Vec<&str> = answered
        .iter()
        .filter_map(|(_, id)| id.as_deref())
        .collect();
    ids.sort();
    ids.dedup();
    if ids.contains(&candidate) {
        return Identity::Same;
    }
    if let [only] = ids.as_slice() {
        return Identity::Joins {
            install: only.to_string(),
            hosts: answered
                .iter()
                .filter(|(_, id)| id.as_deref() == Some(only))
                .map(|(h, _)| h.clone())
                .collect(),
        };
    }
    let placed = placed(data_dir, candidate);
    let gone: Vec<String> = answered
        .iter()
        .filter(|(h, _)| placed.contains(h))
        .map(|(h, _)| h.clone())
        .collect();
    if gone.is_empty() {
        Identity::Same
    } else {
        Identity::New {
            install: new_id(),
            hosts: gone,
        }
    }
}

/// What a [`switch`] left for the run to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switched {
    /// `from` has a key pair of its own, not `to`'s: what its logins
    /// installed on the hosts is to be taken away.
    pub other_key: bool,
    /// `from` is forgotten (this machine had only met it): its key pair
    /// goes once its key is off the hosts.
    pub forgotten: bool,
}

/// The run goes on as installation `to` instead of `from`: the host keys it
/// accepted for `a`'s hosts go with it, and its key pair when `to` has
/// none; `from` is forgotten when this machine only met it (no deploy,
/// nothing of it anywhere else), else retired (its records kept, no longer
/// found by its hosts).
pub fn switch(data_dir: &Path, from: &str, to: &str, a: &Answers) -> std::io::Result<Switched> {
    crate::connect::carry_over(data_dir, from, to, a)?;
    let only_met_before = only_met(data_dir, from);
    // A retired installation keeps its key (its other hosts may trust it).
    let other_key = if only_met_before {
        crate::connect::carry_key(data_dir, from, to)?
    } else {
        crate::connect::own_key_file(data_dir, from).exists()
    };
    meet(data_dir, to, a)?;
    let _ = std::fs::remove_file(dir(data_dir, to).join(RETIRED_FILE));
    let d = dir(data_dir, from);
    if only_met_before {
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        crate::connect::drop_file(data_dir, from);
    } else {
        crate::rundir::write_atomic(&d.join(RETIRED_FILE), &format!("{to}\n"))?;
    }
    Ok(Switched {
        other_key,
        forgotten: only_met_before,
    })
}

/// Whether this machine only met installation `id` (or never recorded it):
/// no deploy, nothing of it anywhere else.
fn only_met(data_dir: &Path, id: &str) -> bool {
    match std::fs::read_dir(dir(data_dir, id)) {
        Ok(e) => e.flatten().all(|e| e.file_name() == MET_FILE),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::answers;
    use super::super::{Release, record, record_release};
    use super::*;

    #[test]
    fn the_hosts_records_say_which_installation_a_run_is() {
        let data = tempfile::tempdir().unwrap();
        let d = data.path();
        let a = answers("ha-keepalived", &["192.0.2.1", "192.0.2.2"]);
        let h = |id: Option<&str>| -> Vec<(String, Option<String>)> {
            vec![
                ("192.0.2.1".into(), id.map(str::to_string)),
                ("192.0.2.2".into(), None),
            ]
        };
        // Met only: hosts without a record keep it; hosts with its record too.
        let x = resolve(d, &a);
        meet(d, &x, &a).unwrap();
        assert_eq!(resolve(d, &a), x);
        assert_eq!(identify(d, &x, &h(None)), Identity::Same);
        assert_eq!(identify(d, &x, &h(Some(&x))), Identity::Same);
        // Hosts that carry another one: that one, named with its hosts.
        assert_eq!(
            identify(d, &x, &h(Some("0123456789abcdef"))),
            Identity::Joins {
                install: "0123456789abcdef".into(),
                hosts: vec!["192.0.2.1".into()]
            }
        );
        // What is not an id is no record (it would become a path here).
        assert_eq!(identify(d, &x, &h(Some("../../etc/x"))), Identity::Same);
        assert_eq!(
            identify(d, &x, &h(Some("0123456789ABCDEF"))),
            Identity::Same
        );
        // Two others: neither is taken; a new one stays new.
        let two = vec![
            (
                "192.0.2.1".to_string(),
                Some("1111111111111111".to_string()),
            ),
            (
                "192.0.2.2".to_string(),
                Some("2222222222222222".to_string()),
            ),
        ];
        assert_eq!(identify(d, &x, &two), Identity::Same);
        // Put on 192.0.2.1, which no longer carries it: a new installation.
        record_placed(d, &x, &["192.0.2.1".to_string()]).unwrap();
        assert_eq!(placed(d, &x), ["192.0.2.1"]);
        let Identity::New { install, hosts } = identify(d, &x, &h(None)) else {
            panic!("a placed installation gone from its host is a new one");
        };
        assert_ne!(install, x);
        assert_eq!(hosts, ["192.0.2.1"]);
        // A finished deploy puts it on every member.
        let y = resolve(d, &answers("single", &["198.51.100.7"]));
        let single = answers("single", &["198.51.100.7"]);
        record(d, &y, &single).unwrap();
        assert!(placed(d, &y).is_empty());
        record_release(
            d,
            &y,
            &Release {
                product: "cd".into(),
                version: "1".into(),
            },
        )
        .unwrap();
        assert_eq!(placed(d, &y), ["198.51.100.7"]);
    }

    #[test]
    fn a_switch_carries_the_host_keys_and_forgets_an_installation_only_met() {
        let data = tempfile::tempdir().unwrap();
        let d = data.path();
        let a = answers("single", &["192.0.2.1"]);
        let kh = d.join(crate::connect::KNOWN_HOSTS_DIR);
        std::fs::create_dir_all(&kh).unwrap();
        let line = "192.0.2.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
        std::fs::write(kh.join("aaaaaaaaaaaaaaaa"), line).unwrap();
        meet(d, "aaaaaaaaaaaaaaaa", &a).unwrap();
        let key = |id: &str| crate::connect::own_key_file(d, id);
        std::fs::create_dir_all(key("aaaaaaaaaaaaaaaa").parent().unwrap()).unwrap();
        std::fs::write(key("aaaaaaaaaaaaaaaa"), "a's key").unwrap();
        // Only met, and the other has no key: its key goes with it.
        assert_eq!(
            switch(d, "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", &a).unwrap(),
            Switched {
                other_key: false,
                forgotten: true
            }
        );
        assert_eq!(
            std::fs::read_to_string(key("bbbbbbbbbbbbbbbb")).unwrap(),
            "a's key"
        );
        assert!(!key("aaaaaaaaaaaaaaaa").exists());
        assert_eq!(
            std::fs::read_to_string(kh.join("bbbbbbbbbbbbbbbb")).unwrap(),
            line
        );
        assert!(!kh.join("aaaaaaaaaaaaaaaa").exists());
        assert!(!d.join("installs/aaaaaaaaaaaaaaaa").exists());
        assert_eq!(resolve(d, &a), "bbbbbbbbbbbbbbbb");
        // One that was deployed stays (its secrets, its runs).
        record(d, "bbbbbbbbbbbbbbbb", &a).unwrap();
        assert_eq!(
            switch(d, "bbbbbbbbbbbbbbbb", "cccccccccccccccc", &a).unwrap(),
            Switched {
                other_key: true,
                forgotten: false
            }
        );
        assert!(
            key("bbbbbbbbbbbbbbbb").exists(),
            "a retired one keeps its key"
        );
        assert!(d.join("installs/bbbbbbbbbbbbbbbb/members.json").exists());
        assert!(kh.join("cccccccccccccccc").exists());
        assert_eq!(resolve(d, &a), "cccccccccccccccc");
        // Found again on its hosts: no longer retired.
        switch(d, "cccccccccccccccc", "bbbbbbbbbbbbbbbb", &a).unwrap();
        assert_eq!(resolve(d, &a), "bbbbbbbbbbbbbbbb");
    }
}
