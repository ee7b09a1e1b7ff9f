//! Which hosts run each component: the manifest's placement (roles,
//! topologies, one or all) over the profile's hosts.

use crate::bundle::{Component, Manifest, PlacementCount};
use crate::profile::Answers;

/// Which hosts run a component, in the profile's host order.
pub fn placement(answers: &Answers, c: &Component) -> Vec<String> {
    let topologies = &c.placement.topologies;
    if !topologies.is_empty() && !topologies.contains(&answers.topology.kind) {
        return Vec::new();
    }
    let eligible: Vec<String> = answers
        .hosts
        .iter()
        .filter(|h| h.roles.iter().any(|r| c.placement.roles.contains(r)))
        .map(|h| h.address.clone())
        .collect();
    let eligible = if eligible.is_empty() {
        // A role the topology has no host for: fall back on the first host.
        answers
            .hosts
            .iter()
            .take(1)
            .map(|h| h.address.clone())
            .collect()
    } else {
        eligible
    };
    match c.placement.count {
        PlacementCount::One => eligible.into_iter().take(1).collect(),
        PlacementCount::All => eligible,
        PlacementCount::Exactly(n) => eligible.into_iter().take(n as usize).collect(),
    }
}

/// The components that run on a Kubernetes cluster (their placement names
/// no topologies, or `k8s` among them), in manifest order.
pub fn cluster_components(manifest: &Manifest) -> Vec<&Component> {
    manifest
        .components
        .iter()
        .filter(|c| {
            c.placement.topologies.is_empty()
                || c.placement
                    .topologies
                    .contains(&crate::profile::TopologyKind::K8s)
        })
        .collect()
}
