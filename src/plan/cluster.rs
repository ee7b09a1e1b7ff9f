//! The `k8s` topology's target: the cluster, its namespace, and the names
//! the workloads use for the images and their pull secret.

use serde::Serialize;

use crate::profile::{Topology, TopologyKind};

/// The k8s topology's target, with its defaults spelled out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedCluster {
    pub kubeconfig: String,
    pub context: String,
    pub namespace: String,
    pub storage_class: String,
    pub images_from: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub replicas: std::collections::BTreeMap<String, u32>,
    pub rollout_timeout_secs: u32,
}

/// The namespace the platform goes into on a cluster: the profile's
/// `topology.namespace`, which validation requires for `k8s` (empty for
/// the other topologies, which have none).
pub fn namespace(t: &Topology) -> &str {
    t.namespace.as_deref().unwrap_or_default()
}

/// The cluster the answers' topology targets, with its defaults spelled
/// out (none unless `k8s`).
pub fn planned(t: &Topology) -> Option<PlannedCluster> {
    (t.kind == TopologyKind::K8s).then(|| PlannedCluster {
        kubeconfig: t
            .kubeconfig
            .clone()
            .unwrap_or_else(|| "~/.kube/config".into()),
        context: t
            .context
            .clone()
            .unwrap_or_else(|| "(the kubeconfig's current context)".into()),
        namespace: crate::plan::namespace(t).to_string(),
        storage_class: t
            .storage_class
            .clone()
            .unwrap_or_else(|| "(the cluster's default)".into()),
        images_from: images_from(t),
        replicas: t.replicas.clone(),
        rollout_timeout_secs: t
            .rollout_timeout
            .unwrap_or(crate::profile::DEFAULT_ROLLOUT_TIMEOUT),
    })
}

/// Where the cluster's images come from, and who puts them there.
fn images_from(t: &Topology) -> String {
    use crate::profile::ImageDelivery;
    match (t.image_delivery(), t.registry.as_deref()) {
        (ImageDelivery::Push, Some(r)) => format!(
            "{r} (cdwiz pushes the bundle's images, as {})",
            t.registry_user.as_deref().unwrap_or("anonymous")
        ),
        (ImageDelivery::Nodes, _) => "the nodes in hosts (cdwiz loads the images over SSH)".into(),
        (_, Some(r)) => format!("{r} (images: present, nothing pushed)"),
        (_, None) => "(image names as in the bundle)".into(),
    }
}

/// `image` as the cluster pulls it: under the registry prefix, its own
/// name kept (`registry.example.com/cd` + `cd/backend:3.2` →
/// `registry.example.com/cd/cd/backend:3.2`).
pub fn target_name(prefix: &str, image: &str) -> String {
    format!("{}/{image}", prefix.trim_end_matches('/'))
}

/// The image pull secret the workloads name: the profile's, else (with a
/// registry user) the one cdwiz makes from the push credentials,
/// `<product>-registry`.
pub fn pull_secret(t: &Topology, product: &str) -> Option<String> {
    t.pull_secret.clone().or_else(|| {
        (t.registry.is_some() && t.registry_user.is_some()).then(|| format!("{product}-registry"))
    })
}
