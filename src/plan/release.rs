//! A deploy onto hosts that already carry the product: which release each
//! host has (its install record), what this run does to it (install, the
//! same release, an upgrade or a downgrade), and the refusals made before
//! anything is touched: a bundle of another product, or an older release
//! without `--allow-downgrade`.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::i18n::Msg;

/// The release one host carries, as its install record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub host: String,
    pub product: String,
    pub version: String,
}

/// What a run does to the installation's release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// No host carries the product yet (or only new hosts are added).
    Install,
    /// Every host that carries it has this bundle's release.
    Same,
    /// Some hosts carry another release of the product: from → to.
    Upgrade {
        from: String,
        to: String,
    },
    Downgrade {
        from: String,
        to: String,
    },
}

impl Change {
    /// A new release replaces a running one.
    pub fn replaces(&self) -> bool {
        matches!(self, Change::Upgrade { .. } | Change::Downgrade { .. })
    }

    /// It goes host by host: a new release on several hosts.
    pub fn rolls(&self, hosts: usize) -> bool {
        self.replaces() && hosts > 1
    }

    /// Its word in the plan.
    pub fn word(&self) -> &'static str {
        match self {
            Change::Install => "install",
            Change::Same => "same",
            Change::Upgrade { .. } => "upgrade",
            Change::Downgrade { .. } => "downgrade",
        }
    }
}

/// Compares two release versions part by part (`1.10.0` after `1.9.2`);
/// parts that are not numbers compare as text, and a release before its
/// pre-release suffix (`2.0.0-rc1` before `2.0.0`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (Vec<String>, Option<String>) {
        let v = v.split('+').next().unwrap_or(v);
        let (main, pre) = match v.split_once('-') {
            Some((m, p)) => (m, Some(p.to_string())),
            None => (v, None),
        };
        (main.split('.').map(str::to_string).collect(), pre)
    };
    let part = |x: &str, y: &str| match (x.parse::<u64>(), y.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => x.cmp(y),
    };
    let ((am, ap), (bm, bp)) = (split(a), split(b));
    for i in 0..am.len().max(bm.len()) {
        let x = am.get(i).map_or("0", String::as_str);
        let y = bm.get(i).map_or("0", String::as_str);
        let o = part(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    match (ap, bp) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

/// What `installed` (the hosts' records) and the bundle's `product` and
/// `version` make of this run; the refusals' messages when it may not go.
/// An older release is refused unless `allow_downgrade`, or unless some
/// hosts still run it (an upgrade that stopped half way is taken back).
pub fn change(
    installed: &[Installed],
    product: &str,
    version: &str,
    allow_downgrade: bool,
) -> Result<Change, Vec<Msg>> {
    let mut refusals = Vec::new();
    for i in installed.iter().filter(|i| i.product != product) {
        refusals.push(
            Msg::new("release.other-product")
                .arg("host", &i.host)
                .arg("installed", &i.product)
                .arg("bundle", product),
        );
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let newest = installed
        .iter()
        .map(|i| i.version.as_str())
        .max_by(|a, b| compare_versions(a, b));
    let Some(newest) = newest else {
        return Ok(Change::Install);
    };
    // A rollout that stopped half way leaves hosts on both releases; going
    // back to the one some hosts still run is a rollback, not a downgrade.
    let rollback = installed.iter().any(|i| i.version == version);
    if compare_versions(newest, version) == Ordering::Greater {
        if !allow_downgrade && !rollback {
            let hosts: Vec<&str> = installed
                .iter()
                .filter(|i| compare_versions(&i.version, version) == Ordering::Greater)
                .map(|i| i.host.as_str())
                .collect();
            return Err(vec![
                Msg::new("release.downgrade-refused")
                    .arg("installed", newest)
                    .arg("bundle", version)
                    .arg("hosts", hosts.join(", ")),
            ]);
        }
        return Ok(Change::Downgrade {
            from: newest.to_string(),
            to: version.to_string(),
        });
    }
    match installed.iter().find(|i| i.version != version) {
        Some(old) => Ok(Change::Upgrade {
            from: old.version.clone(),
            to: version.to_string(),
        }),
        None => Ok(Change::Same),
    }
}

/// A product and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub product: String,
    pub version: String,
}

/// The release a run puts on the hosts against the one they run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedRelease {
    pub product: String,
    /// What the hosts run now (none: not installed, or not known here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    /// install, same, upgrade, downgrade, or refused (another product; an
    /// older release without `--allow-downgrade`).
    pub change: String,
    /// Several hosts take a new release one at a time.
    pub host_by_host: bool,
}

/// `plan` with the release `manifest` puts on the hosts against `installed`
/// (this machine's record of what they run).
pub fn with_release(
    mut plan: Plan,
    manifest: &crate::bundle::Manifest,
    installed: Option<&Release>,
) -> Plan {
    let hosts: Vec<Installed> = installed
        .map(|r| Installed {
            host: String::new(),
            product: r.product.clone(),
            version: r.version.clone(),
        })
        .into_iter()
        .collect();
    plan.release = Some(planned_release(manifest, &hosts, plan.hosts.len(), false));
    plan
}

/// The release `manifest` puts on `hosts` hosts against what `installed`
/// (their records) run.
pub fn planned_release(
    manifest: &crate::bundle::Manifest,
    installed: &[Installed],
    hosts: usize,
    allow_downgrade: bool,
) -> PlannedRelease {
    let product = &manifest.product;
    let decided = change(installed, &product.name, &product.version, allow_downgrade).ok();
    let from = installed
        .iter()
        .map(|i| i.version.as_str())
        .max_by(|a, b| compare_versions(a, b))
        .map(str::to_string);
    PlannedRelease {
        product: product.name.clone(),
        from,
        to: product.version.clone(),
        change: decided.as_ref().map_or("refused", |c| c.word()).to_string(),
        host_by_host: decided.is_some_and(|c| c.rolls(hosts)),
    }
}

/// The release each record names (a record without one names none).
pub fn installed(records: &[(String, serde_json::Value)]) -> Vec<Installed> {
    records
        .iter()
        .filter_map(|(host, record)| {
            Some(Installed {
                host: host.clone(),
                product: record.get("product")?.as_str()?.to_string(),
                version: record.get("version")?.as_str()?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(host: &str, product: &str, version: &str) -> Installed {
        Installed {
            host: host.into(),
            product: product.into(),
            version: version.into(),
        }
    }

    #[test]
    fn versions_compare_by_number_and_pre_releases_come_first() {
        assert_eq!(compare_versions("1.10.0", "1.9.2"), Ordering::Greater);
        assert_eq!(compare_versions("0.2.0", "0.2"), Ordering::Equal);
        assert_eq!(compare_versions("2.0.0-rc1", "2.0.0"), Ordering::Less);
        assert_eq!(
            compare_versions("2.0.0-rc2", "2.0.0-rc1"),
            Ordering::Greater
        );
        assert_eq!(compare_versions("3.1.4+build7", "3.1.4"), Ordering::Equal);
    }

    #[test]
    fn a_run_is_an_install_the_same_an_upgrade_or_a_refused_downgrade() {
        assert_eq!(change(&[], "cd", "1.0.0", false), Ok(Change::Install));
        let both = [on("a", "cd", "1.0.0"), on("b", "cd", "1.0.0")];
        assert_eq!(change(&both, "cd", "1.0.0", false), Ok(Change::Same));
        assert_eq!(
            change(&both, "cd", "1.1.0", false),
            Ok(Change::Upgrade {
                from: "1.0.0".into(),
                to: "1.1.0".into()
            })
        );
        // All on the newer release: going back must be asked for.
        let newer = [on("a", "cd", "1.1.0"), on("b", "cd", "1.1.0")];
        let refused = change(&newer, "cd", "1.0.0", false).unwrap_err();
        assert_eq!(refused[0].key, "release.downgrade-refused");
        assert_eq!(refused[0].args["hosts"], "a, b");
        let back = Ok(Change::Downgrade {
            from: "1.1.0".into(),
            to: "1.0.0".into(),
        });
        assert_eq!(change(&newer, "cd", "1.0.0", true), back);
        // A stopped upgrade (one host on each): the old bundle takes it back.
        let mixed = [on("a", "cd", "1.1.0"), on("b", "cd", "1.0.0")];
        assert_eq!(change(&mixed, "cd", "1.0.0", false), back);
        // Going on with it is an upgrade of the hosts left behind.
        assert_eq!(
            change(&mixed, "cd", "1.1.0", false),
            Ok(Change::Upgrade {
                from: "1.0.0".into(),
                to: "1.1.0".into()
            })
        );
        let other = change(&[on("a", "tke", "1.0.0")], "cd", "1.0.0", true).unwrap_err();
        assert_eq!(other[0].key, "release.other-product");
    }
}
