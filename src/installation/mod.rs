//! Which installation a profile describes. An installation outlives its
//! membership: hosts are added and removed, and it stays the same one (its
//! generated secrets, its run records, the install record on its hosts).
//! Its id is random, made when this machine first meets it
//! ([`resolve`]), and kept in two places: under the data dir
//! (`installs/<id>/`, with the hosts of its latest run) and in the install
//! record on each of its hosts. Before a run reaches the hosts, this
//! machine's records say which installation the profile's hosts were
//! (the known one sharing the most hosts); once it reaches them, their
//! records decide ([`identify`]): two customers on the same private
//! addresses are two installations, and a second engineer's laptop joins
//! the one its hosts carry.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::plan::{Membership, Release};
use crate::profile::{Answers, TopologyKind};

mod identity;

pub use identity::{
    Identity, Switched, adopt, identify, meet, new_id, placed, record_placed, resolve, switch,
    well_formed_id,
};

const MEMBERS_FILE: &str = "members.json";
/// The answers of the latest run (references to secrets only, as in a
/// profile): how to reach a host that is later removed from the profile.
const ANSWERS_FILE: &str = "answers.yaml";

/// The release the installation's hosts run, as of its latest deploy from
/// this machine that finished on every host.
const RELEASE_FILE: &str = "release.json";

/// Records the release every host of the installation now runs.
pub fn record_release(data_dir: &Path, id: &str, r: &Release) -> std::io::Result<()> {
    let d = dir(data_dir, id);
    std::fs::create_dir_all(&d)?;
    let text = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    crate::rundir::write_atomic(&d.join(RELEASE_FILE), &text)
}

/// The release the installation ran after its latest complete deploy from
/// this machine, if recorded.
pub fn release(data_dir: &Path, id: &str) -> Option<Release> {
    let text = std::fs::read_to_string(dir(data_dir, id).join(RELEASE_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// What an installation is made of, as of its latest run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Members {
    pub kind: TopologyKind,
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Members {
    pub fn of(a: &Answers) -> Members {
        Members {
            kind: a.topology.kind,
            hosts: a.hosts.iter().map(|h| h.address.clone()).collect(),
            context: a.topology.context.clone(),
            namespace: a.topology.namespace.clone(),
        }
    }

    /// How many hosts the two share, when they can be the same
    /// installation at all (none: they cannot).
    pub(super) fn shared(&self, other: &Members) -> Option<usize> {
        if self.kind != other.kind {
            return None;
        }
        if self.kind == TopologyKind::K8s {
            let same = self.context == other.context && self.namespace == other.namespace;
            return same.then_some(1);
        }
        let n = self
            .hosts
            .iter()
            .filter(|h| other.hosts.contains(h))
            .count();
        (n > 0).then_some(n)
    }
}

pub(super) fn dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("installs").join(id)
}

/// The installation's members as of its latest run, if recorded.
pub fn members(data_dir: &Path, id: &str) -> Option<Members> {
    let text = std::fs::read_to_string(dir(data_dir, id).join(MEMBERS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Records `a`'s hosts as the installation's members, and `a` as its
/// latest answers (a run is about to make the hosts so).
pub fn record(data_dir: &Path, id: &str, a: &Answers) -> std::io::Result<()> {
    let d = dir(data_dir, id);
    std::fs::create_dir_all(&d)?;
    let text = serde_yaml::to_string(a).map_err(std::io::Error::other)?;
    crate::rundir::write_atomic(&d.join(ANSWERS_FILE), &text)?;
    let text = serde_json::to_string_pretty(&Members::of(a)).map_err(std::io::Error::other)?;
    crate::rundir::write_atomic(&d.join(MEMBERS_FILE), &text)
}

/// The answers of the installation's latest run, if recorded.
pub fn last_answers(data_dir: &Path, id: &str) -> Option<Answers> {
    let text = std::fs::read_to_string(dir(data_dir, id).join(ANSWERS_FILE)).ok()?;
    let mut a: Answers = serde_yaml::from_str(&text).ok()?;
    a.install = Some(id.to_string());
    Some(a)
}

/// A component that runs on one host only (its data with it) and would
/// run on another one with the new hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    pub component: String,
    pub from: String,
    pub to: String,
}

/// The one-host components `after` would place elsewhere than `before`
/// did: their data stays behind, so such a change is refused.
pub fn moved(before: &Answers, after: &Answers, manifest: &crate::bundle::Manifest) -> Vec<Moved> {
    manifest
        .components
        .iter()
        .filter(|c| c.placement.count == crate::bundle::PlacementCount::One)
        .filter_map(|c| {
            let from = crate::plan::placement(before, c).into_iter().next()?;
            let to = crate::plan::placement(after, c).into_iter().next()?;
            (from != to).then(|| Moved {
                component: c.name.clone(),
                from,
                to,
            })
        })
        .collect()
}

/// The plan, with how its hosts compare with the installation's last run
/// from this machine (`data_dir`).
pub fn with_membership(a: &Answers, data_dir: &Path) -> crate::plan::Plan {
    let mut a = a.clone();
    adopt(data_dir, &mut a);
    let mut p = crate::plan::plan(&a);
    p.membership = known_membership(data_dir, &a);
    p
}

/// The profile's hosts against its installation's last recorded run; none
/// when this machine has no record of it (a first install, or one made
/// elsewhere).
pub fn known_membership(data_dir: &Path, a: &Answers) -> Option<Membership> {
    members(data_dir, &crate::profile::install_id(a))?;
    Some(membership(data_dir, a))
}

/// The profile's hosts against its installation's last recorded run.
pub fn membership(data_dir: &Path, a: &Answers) -> Membership {
    let id = crate::profile::install_id(a);
    let before = members(data_dir, &id).map(|m| m.hosts).unwrap_or_default();
    let now: Vec<String> = a.hosts.iter().map(|h| h.address.clone()).collect();
    Membership {
        new: now
            .iter()
            .filter(|h| !before.contains(h))
            .cloned()
            .collect(),
        kept: now.iter().filter(|h| before.contains(h)).cloned().collect(),
        removed: before
            .iter()
            .filter(|h| !now.contains(h))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn answers(kind: &str, hosts: &[&str]) -> Answers {
        let hosts: String = hosts
            .iter()
            .map(|h| format!("  - {{ address: {h}, roles: [master] }}\n"))
            .collect();
        let vip = if kind == "ha-keepalived" {
            ", vip: 192.0.2.100"
        } else {
            ""
        };
        serde_yaml::from_str(&format!(
            "version: 1\nbundle: b\ntopology: {{ kind: {kind}{vip} }}\n\
             ssh: {{ user: root, auth: key, key-file: ~/.ssh/id }}\nhosts:\n{hosts}"
        ))
        .unwrap()
    }

    #[test]
    fn an_installation_keeps_its_id_as_hosts_come_and_go() {
        let data = tempfile::tempdir().unwrap();
        let d = data.path();
        let first = answers("ha-keepalived", &["192.0.2.1", "192.0.2.2"]);
        let id = resolve(d, &first);
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        // Not known until a run met or deployed it: a new one each time.
        assert_ne!(resolve(d, &first), id);
        record(d, &id, &first).unwrap();

        let grown = answers("ha-keepalived", &["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        assert_eq!(resolve(d, &grown), id);
        let mut g = grown.clone();
        adopt(d, &mut g);
        assert_eq!(
            membership(d, &g),
            Membership {
                new: vec!["192.0.2.3".into()],
                kept: vec!["192.0.2.1".into(), "192.0.2.2".into()],
                removed: vec![],
            }
        );
        record(d, &id, &grown).unwrap();
        // The first host goes: still the same installation.
        let shrunk = answers("ha-keepalived", &["192.0.2.2", "192.0.2.3"]);
        assert_eq!(resolve(d, &shrunk), id);
        let mut s = shrunk.clone();
        adopt(d, &mut s);
        assert_eq!(membership(d, &s).removed, vec!["192.0.2.1".to_string()]);

        // Other hosts, or another kind on the same hosts: another one.
        let other = answers("ha-keepalived", &["198.51.100.1", "198.51.100.2"]);
        assert_ne!(resolve(d, &other), id);
        let single = answers("single", &["192.0.2.2"]);
        assert_ne!(resolve(d, &single), id);
        assert!(
            membership(d, &{
                let mut o = other.clone();
                adopt(d, &mut o);
                o
            })
            .is_first()
        );
    }
}
