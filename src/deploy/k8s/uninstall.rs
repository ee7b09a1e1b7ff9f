//! Uninstall from a cluster: what carries the installation's label.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

use super::apply::api_cause;
use crate::cluster::INSTALL_LABEL;
use crate::i18n::Msg;

/// What an uninstall removed from the cluster: kind → names.
pub type Removed = BTreeMap<String, Vec<String>>;

/// Deletes what this installation created in its namespace (found by the
/// install label): workloads, Services, ConfigMaps, the Secret; with
/// `purge`, also the volume claims (the data) and the namespace itself
/// when cdwiz created it. A second uninstall finds nothing and says so.
pub async fn uninstall(
    answers: &crate::profile::Answers,
    client: &kube::Client,
    purge: bool,
) -> Result<Removed, Msg> {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Service};
    let ns = crate::plan::namespace(&answers.topology).to_string();
    let install = crate::profile::install_id(answers);
    let select = format!("{INSTALL_LABEL}={install}");
    let lp = ListParams::default().labels(&select);
    let dp = kube::api::DeleteParams::background();
    let mut removed = Removed::new();
    macro_rules! delete_all {
        ($ty:ty, $kind:expr) => {{
            let api: Api<$ty> = Api::namespaced(client.clone(), &ns);
            let list = api.list(&lp).await.map_err(|e| {
                Msg::new("deploy.k8s.uninstall")
                    .arg("what", $kind)
                    .arg("error", api_cause(&e))
            })?;
            for item in list.items {
                let name = item.metadata.name.clone().unwrap_or_default();
                match api.delete(&name, &dp).await {
                    Ok(_) | Err(kube::Error::Api(kube::core::ErrorResponse { code: 404, .. })) => {
                        removed.entry($kind.to_string()).or_default().push(name);
                    }
                    Err(e) => {
                        return Err(Msg::new("deploy.k8s.uninstall")
                            .arg("what", format!("{} {name}", $kind))
                            .arg("error", api_cause(&e)));
                    }
                }
            }
        }};
    }
    delete_all!(Deployment, "Deployment");
    delete_all!(StatefulSet, "StatefulSet");
    delete_all!(Service, "Service");
    delete_all!(ConfigMap, "ConfigMap");
    delete_all!(Secret, "Secret");
    if purge {
        delete_all!(PersistentVolumeClaim, "PersistentVolumeClaim");
        let api: Api<Namespace> = Api::all(client.clone());
        let ours = api
            .get_opt(&ns)
            .await
            .map_err(|e| {
                Msg::new("deploy.k8s.uninstall")
                    .arg("what", "Namespace")
                    .arg("error", api_cause(&e))
            })?
            .and_then(|n| n.metadata.labels)
            .is_some_and(|l| l.get(INSTALL_LABEL) == Some(&install));
        if ours {
            api.delete(&ns, &dp).await.map_err(|e| {
                Msg::new("deploy.k8s.uninstall")
                    .arg("what", "Namespace")
                    .arg("error", api_cause(&e))
            })?;
            removed
                .entry("Namespace".into())
                .or_default()
                .push(ns.clone());
        }
    }
    Ok(removed)
}
