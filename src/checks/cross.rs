//! Checks judged across hosts: unique hostnames, the host-to-host latency
//! matrix, clock skew between hosts.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{CheckResult, Status};
use crate::i18n::Msg;

/// Round-trip times between hosts in ms: `from -> to -> rtt` (none: no answer).
pub type LatencyMatrix = BTreeMap<String, BTreeMap<String, Option<f64>>>;

/// Pairs slower than this warn (ms).
pub const LATENCY_WARN_MS: f64 = 5.0;
const HOST_SKEW_WARN_S: f64 = 2.0;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CrossFacts {
    pub latency: LatencyMatrix,
}

fn m(key: &str) -> Msg {
    Msg::new(format!("check.{key}"))
}

/// `facts` by host address, for the hosts that were probed; `down` are the
/// hosts this machine could not reach (their own `ssh.reach` says so, so a
/// peer that cannot reach them is not blamed for it).
pub fn evaluate(
    facts: &BTreeMap<String, HashMap<String, String>>,
    down: &[String],
) -> (Vec<CheckResult>, CrossFacts) {
    let mut out = Vec::new();
    peers(facts, down, &mut out);
    hostnames(facts, &mut out);
    let latency = latency_matrix(facts);
    if facts.len() > 1 {
        out.push(latency_check(&latency));
        if let Some(skew) = skew(facts) {
            out.push(skew);
        }
    } else {
        for id in ["net.latency", "time.skew-hosts"] {
            out.push(CheckResult::new(
                id,
                None,
                Status::Skip,
                m("net.peers.alone"),
            ));
        }
    }
    (out, CrossFacts { latency })
}

/// `net.peers`: each host reaches the others on the platform's port.
fn peers(
    facts: &BTreeMap<String, HashMap<String, String>>,
    down: &[String],
    out: &mut Vec<CheckResult>,
) {
    for (addr, f) in facts {
        let peers: Vec<&str> = f
            .keys()
            .filter_map(|k| k.strip_prefix("peer.")?.strip_suffix(".tcp"))
            .collect();
        let mut unreachable: Vec<&str> = peers
            .iter()
            .copied()
            .filter(|p| f.get(&format!("peer.{p}.tcp")).map(String::as_str) != Some("yes"))
            .filter(|p| !down.iter().any(|d| d == p))
            .collect();
        unreachable.sort();
        let h = Some(addr.as_str());
        out.push(if peers.is_empty() {
            CheckResult::new("net.peers", h, Status::Skip, m("net.peers.alone"))
        } else if unreachable.is_empty() {
            CheckResult::new(
                "net.peers",
                h,
                Status::Pass,
                m("net.peers.ok")
                    .arg("count", peers.len())
                    .arg("port", f.get("peer.port").map_or("?", String::as_str)),
            )
        } else {
            CheckResult::new(
                "net.peers",
                h,
                Status::Fail,
                m("net.peers.unreachable")
                    .arg("peers", unreachable.join(", "))
                    .arg("port", f.get("peer.port").map_or("?", String::as_str)),
            )
            .hint(m("net.peers.hint"))
        });
    }
}

/// `net.hostname-unique`: no two hosts answer to the same name.
fn hostnames(facts: &BTreeMap<String, HashMap<String, String>>, out: &mut Vec<CheckResult>) {
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (addr, f) in facts {
        if let Some(name) = f.get("hostname") {
            by_name
                .entry(name.as_str())
                .or_default()
                .push(addr.as_str());
        }
    }
    for (name, addrs) in &by_name {
        for addr in addrs {
            out.push(if addrs.len() > 1 {
                let others: Vec<&str> = addrs.iter().copied().filter(|a| a != addr).collect();
                CheckResult::new(
                    "net.hostname-unique",
                    Some(addr),
                    Status::Fail,
                    m("net.hostname-unique.dup")
                        .arg("name", name)
                        .arg("others", others.join(", ")),
                )
                .hint(m("net.hostname-unique.hint"))
                .fix(format!(
                    "hostnamectl set-hostname {name}-{}",
                    addr.rsplit(['.', ':']).next().unwrap_or("x")
                ))
            } else {
                CheckResult::new(
                    "net.hostname-unique",
                    Some(addr),
                    Status::Pass,
                    m("net.hostname-unique.ok").arg("name", name),
                )
            });
        }
    }
}

/// Round-trip times each host measured to the others.
fn latency_matrix(facts: &BTreeMap<String, HashMap<String, String>>) -> LatencyMatrix {
    let mut latency = LatencyMatrix::new();
    for (from, f) in facts {
        for (to, _) in facts.iter().filter(|(to, _)| *to != from) {
            let rtt = f
                .get(&format!("peer.{to}.rtt_ms"))
                .and_then(|v| v.parse::<f64>().ok());
            latency
                .entry(from.clone())
                .or_default()
                .insert(to.clone(), rtt);
        }
    }
    latency
}

/// `net.latency`: every pair under [`LATENCY_WARN_MS`].
fn latency_check(latency: &LatencyMatrix) -> CheckResult {
    let slow: Vec<String> = latency
        .iter()
        .flat_map(|(from, row)| {
            row.iter().filter_map(move |(to, rtt)| match rtt {
                Some(ms) if *ms > LATENCY_WARN_MS => Some(format!("{from} → {to} {ms:.1} ms")),
                _ => None,
            })
        })
        .collect();
    let worst = latency
        .values()
        .flat_map(|row| row.values().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    if slow.is_empty() {
        CheckResult::new(
            "net.latency",
            None,
            Status::Pass,
            m("net.latency.ok").arg("worst", format!("{worst:.2}")),
        )
    } else {
        CheckResult::new(
            "net.latency",
            None,
            Status::Warn,
            m("net.latency.slow")
                .arg("pairs", slow.join("; "))
                .arg("limit", LATENCY_WARN_MS),
        )
        .hint(m("net.latency.hint"))
    }
}

/// `time.skew-hosts`: the hosts' clocks agree (none: fewer than two told the
/// time). Each host read its clock at some moment between this machine
/// sending the probe and having its answer, and hosts are probed as each is
/// logged in, not all at once: so each clock's offset from this machine's is
/// known to lie in a window, and two clocks are at least as far apart as
/// their windows (a slow host is not a skewed one).
fn skew(facts: &BTreeMap<String, HashMap<String, String>>) -> Option<CheckResult> {
    let num = |f: &HashMap<String, String>, k: &str| f.get(k)?.parse::<f64>().ok();
    let windows: Vec<(f64, f64)> = facts
        .values()
        .filter_map(|f| {
            let t = num(f, "time.epoch")?;
            Some(match (num(f, "probe.sent"), num(f, "probe.received")) {
                (Some(sent), Some(received)) if received >= sent => (t - received, t - sent),
                _ => (t, t),
            })
        })
        .collect();
    if windows.len() < 2 {
        return None;
    }
    let latest_low = windows.iter().map(|w| w.0).fold(f64::MIN, f64::max);
    let earliest_high = windows.iter().map(|w| w.1).fold(f64::MAX, f64::min);
    let spread = (latest_low - earliest_high).max(0.0);
    Some(if spread > HOST_SKEW_WARN_S {
        CheckResult::new(
            "time.skew-hosts",
            None,
            Status::Warn,
            m("time.skew-hosts.off").arg("secs", format!("{spread:.1}")),
        )
        .hint(m("time.skew.hint"))
    } else {
        CheckResult::new(
            "time.skew-hosts",
            None,
            Status::Pass,
            m("time.skew-hosts.ok").arg("secs", format!("{spread:.1}")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(list: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, HashMap<String, String>> {
        list.iter()
            .map(|(a, kv)| {
                (
                    a.to_string(),
                    kv.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn peers_unreachable_fail_unless_this_machine_cannot_reach_them_either() {
        let f = facts(&[
            (
                "192.0.2.11",
                &[("peer.192.0.2.12.tcp", "no"), ("peer.192.0.2.13.tcp", "no")],
            ),
            (
                "192.0.2.12",
                &[
                    ("peer.192.0.2.11.tcp", "yes"),
                    ("peer.192.0.2.13.tcp", "no"),
                ],
            ),
        ]);
        let (r, _) = evaluate(&f, &["192.0.2.13".to_string()]);
        let peers = |h: &str| {
            r.iter()
                .find(|r| r.id == "net.peers" && r.host.as_deref() == Some(h))
                .unwrap()
        };
        assert_eq!(peers("192.0.2.11").status, Status::Fail);
        assert_eq!(peers("192.0.2.11").detail.args["peers"], "192.0.2.12");
        assert_eq!(peers("192.0.2.12").status, Status::Pass);
    }

    #[test]
    fn duplicate_hostnames_fail_on_both_hosts_and_slow_pairs_warn() {
        let f = facts(&[
            (
                "192.0.2.11",
                &[
                    ("hostname", "node1"),
                    ("peer.192.0.2.12.rtt_ms", "0.2"),
                    ("time.epoch", "10.0"),
                ],
            ),
            (
                "192.0.2.12",
                &[
                    ("hostname", "node1"),
                    ("peer.192.0.2.11.rtt_ms", "9.5"),
                    ("time.epoch", "10.5"),
                ],
            ),
        ]);
        let (r, cross) = evaluate(&f, &[]);
        let dup: Vec<_> = r.iter().filter(|r| r.id == "net.hostname-unique").collect();
        assert_eq!(dup.len(), 2);
        assert!(
            dup.iter()
                .all(|r| r.status == Status::Fail && r.fix.is_some())
        );
        let lat = r.iter().find(|r| r.id == "net.latency").unwrap();
        assert_eq!(lat.status, Status::Warn);
        assert_eq!(cross.latency["192.0.2.12"]["192.0.2.11"], Some(9.5));
        assert_eq!(
            r.iter().find(|r| r.id == "time.skew-hosts").unwrap().status,
            Status::Pass
        );
    }

    /// Hosts probed seconds apart (one logged in late, one answered slowly)
    /// read their clocks seconds apart: that is no skew. Clocks that disagree
    /// beyond their windows are.
    #[test]
    fn hosts_probed_at_different_moments_are_not_skewed() {
        let host = |t: &'static str,
                    sent: &'static str,
                    received: &'static str|
         -> Vec<(&'static str, &'static str)> {
            vec![
                ("time.epoch", t),
                ("probe.sent", sent),
                ("probe.received", received),
            ]
        };
        let skew_of = |a: Vec<(&'static str, &'static str)>,
                       b: Vec<(&'static str, &'static str)>| {
            let f = facts(&[("192.0.2.11", &a), ("192.0.2.12", &b)]);
            let (r, _) = evaluate(&f, &[]);
            let s = r
                .iter()
                .find(|r| r.id == "time.skew-hosts")
                .unwrap()
                .clone();
            (s.status, s.detail.args["secs"].clone())
        };
        // The second host was logged in 5 s later and read its clock then.
        assert_eq!(
            skew_of(
                host("100.2", "100.0", "100.5"),
                host("105.3", "105.0", "106.0")
            ),
            (Status::Pass, "0.0".to_string())
        );
        // Its clock is 5 s ahead: the windows cannot explain it.
        assert_eq!(
            skew_of(
                host("100.2", "100.0", "100.5"),
                host("110.3", "105.0", "106.0")
            ),
            (Status::Warn, "4.1".to_string())
        );
    }
}
