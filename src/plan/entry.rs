//! Where the platform answers: the manifest's entry component and port,
//! reached through the single host, the VIP or the load balancer.

use crate::bundle::Manifest;
use crate::profile::{Answers, TopologyKind};

/// The manifest's entry, its defaults spelled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The component that answers.
    pub component: String,
    /// Its port: the entry's own, else the component's first.
    pub port: u16,
    /// The path a deploy verifies (`/` unless the manifest says).
    pub verify: String,
}

/// The manifest's entry; none when it names none, or names a component
/// it lacks or one without a port.
pub fn entry(manifest: &Manifest) -> Option<Entry> {
    let e = manifest.entry.as_ref()?;
    let component = manifest.components.iter().find(|c| c.name == e.component)?;
    Some(Entry {
        component: e.component.clone(),
        port: e.port.or_else(|| component.ports.first().copied())?,
        verify: e.verify.clone().unwrap_or_else(|| "/".into()),
    })
}

/// The URL the platform answers on once deployed (the manifest's entry
/// through the single host, the VIP or the load balancer): host, port and
/// the path to verify.
pub fn entry_url(answers: &Answers, manifest: &Manifest) -> Option<(String, u16, String)> {
    let entry = entry(manifest)?;
    let (host, lb_port) = address(answers)?;
    Some((host, lb_port.unwrap_or(entry.port), entry.verify))
}

/// Where the platform answers, by topology: the single host, the VIP or the
/// load balancer (with the load balancer's own port, when it has one).
pub(super) fn address(a: &Answers) -> Option<(String, Option<u16>)> {
    let t = &a.topology;
    match t.kind {
        TopologyKind::Single => Some((a.hosts.first()?.address.clone(), None)),
        TopologyKind::HaKeepalived => Some((t.vip.clone()?, None)),
        TopologyKind::HaLb => Some((t.lb_address.clone()?, Some(t.lb_port.unwrap_or(0)))),
        TopologyKind::K8s => None,
    }
}
