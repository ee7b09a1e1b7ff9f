//! The rules a well-formed profile must also follow: topology requirements,
//! addresses, roles, where secrets come from. Every problem at once, each
//! with its field path.

use std::collections::HashMap;
use std::net::IpAddr;

mod secrets;
mod ssh;
mod strings;
mod timezone;
mod topology;

use super::{Answers, PROFILE_VERSION, Problem};
use crate::i18n::Msg;
use crate::pattern;

pub use secrets::check_secret_sources;
use ssh::ssh;
use strings::{control_chars, strings};
use topology::topology;

/// Checks the answers; an empty list means they are good.
pub fn validate(a: &Answers) -> Vec<Problem> {
    let mut out = Vec::new();
    control_chars(a, &mut out);
    strings(a, &mut out);
    timezone::timezone(a, &mut out);
    if a.version != PROFILE_VERSION {
        out.push(
            Problem::new(
                "version",
                Msg::new("profile.version")
                    .arg("want", PROFILE_VERSION)
                    .arg("have", a.version),
            )
            .hint(Msg::new("profile.version-hint").arg("want", PROFILE_VERSION)),
        );
    }
    if a.bundle.trim().is_empty() && crate::paths::bundle_beside_binary().is_none() {
        out.push(
            Problem::new("bundle", Msg::new("profile.bundle-missing"))
                .hint(Msg::new("profile.bundle-missing-hint")),
        );
    }
    topology(a, &mut out);
    if a.uses_hosts() {
        ssh(a, &mut out);
        hosts(a, &mut out);
    }
    for (i, w) in a.accept_checks.iter().enumerate() {
        let at = format!("accept-checks[{i}]");
        if w.check.trim().is_empty() {
            out.push(Problem::new(
                format!("{at}.check"),
                Msg::new("profile.check-missing"),
            ));
        } else if !crate::catalogue::known(&w.check) {
            let known: Vec<&str> = crate::catalogue::CATALOGUE.iter().map(|c| c.id).collect();
            let mut p = Problem::new(
                format!("{at}.check"),
                Msg::new("profile.check-unknown").arg("id", pattern::shown(&w.check)),
            );
            let guess = known
                .iter()
                .map(|k| (strsim::damerau_levenshtein(k, &w.check), *k))
                .min()
                .filter(|(d, _)| *d <= 3);
            p = match guess {
                Some((_, k)) => p.hint(Msg::new("profile.did-you-mean").arg("best", k)),
                None => p.hint(Msg::new("profile.known-ids").arg("ids", known.join(", "))),
            };
            out.push(p);
        }
        if w.reason.trim().is_empty() {
            out.push(
                Problem::new(format!("{at}.reason"), Msg::new("profile.reason-missing"))
                    .hint(Msg::new("profile.reason-missing-hint")),
            );
        }
        if let Some(h) = &w.host
            && !a.hosts.iter().any(|x| &x.address == h)
        {
            out.push(Problem::new(
                format!("{at}.host"),
                Msg::new("profile.not-a-host").arg("host", pattern::shown(h)),
            ));
        }
    }
    out
}

pub(super) fn ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

fn hosts(a: &Answers, out: &mut Vec<Problem>) {
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    // (`k8s` with `images: nodes` says what its hosts are for itself.)
    if a.hosts.is_empty() && a.topology.kind != super::TopologyKind::K8s {
        out.push(
            Problem::new("hosts", Msg::new("profile.no-hosts"))
                .hint(Msg::new("profile.no-hosts-hint")),
        );
    }
    for (i, h) in a.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        match ip(&h.address) {
            None => out.push(
                Problem::new(
                    format!("{at}.address"),
                    Msg::new("profile.not-ip").arg("value", pattern::shown(&h.address)),
                )
                .hint(Msg::new("profile.not-ip-hint")),
            ),
            Some(addr) => {
                if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        Msg::new("profile.address-special")
                            .arg("value", pattern::shown(&h.address)),
                    ));
                }
                if let Some(first) = seen.insert(addr, i) {
                    out.push(Problem::new(
                        format!("{at}.address"),
                        Msg::new("profile.address-duplicate")
                            .arg("value", pattern::shown(&h.address))
                            .arg("first", first),
                    ));
                }
            }
        }
        if h.roles.is_empty() {
            out.push(
                Problem::new(format!("{at}.roles"), Msg::new("profile.roles-missing"))
                    .hint(Msg::new("profile.roles-missing-hint")),
            );
        }
        let mut roles = h.roles.clone();
        roles.sort();
        roles.dedup();
        if roles.len() != h.roles.len() {
            out.push(Problem::new(
                format!("{at}.roles"),
                Msg::new("profile.role-twice"),
            ));
        }
        if h.format_data_disk && h.data_disk.is_none() {
            out.push(Problem::new(
                format!("{at}.format-data-disk"),
                Msg::new("profile.format-no-disk"),
            ));
        }
        if !h.data_dir.starts_with('/') && !pattern::has_control(&h.data_dir) {
            out.push(Problem::new(
                format!("{at}.data-dir"),
                Msg::new("profile.not-absolute").arg("value", pattern::shown(&h.data_dir)),
            ));
        } else if h.data_dir == "/" {
            out.push(Problem::new(
                format!("{at}.data-dir"),
                Msg::new("profile.data-dir-root"),
            ));
        }
    }
}

pub(super) fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
