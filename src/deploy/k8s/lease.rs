//! The run lock on a Kubernetes cluster: a Lease `cdwiz-lock` in the
//! install's namespace, the cluster's own primitive for "one holder at a
//! time". Its holder identity is the same [`Holder`] as a host's lock file
//! (run, installer machine, pid, start), renewed while the run lives; a
//! second run is refused naming the holder; a Lease not renewed for
//! [`STALE_AFTER`] (or whose process is gone on
//! this machine) is taken over only with `--resume`. Creating and
//! replacing it with the server's resource version makes two runs racing
//! for it see one winner.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::ObjectMeta;

use super::apply::api_cause;
use crate::deploy::lock::{Holder, LockRefusal, STALE_AFTER};

/// The Lease's name in the namespace.
pub const LEASE: &str = "cdwiz-lock";

pub(super) fn now() -> MicroTime {
    MicroTime(k8s_openapi::chrono::Utc::now())
}

pub(super) fn lease(me: &Holder, resource_version: Option<String>) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE.into()),
            resource_version,
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "cdwiz".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: serde_json::to_string(me).ok(),
            lease_duration_seconds: Some(STALE_AFTER.as_secs() as i32),
            acquire_time: Some(now()),
            renew_time: Some(now()),
            ..Default::default()
        }),
    }
}

pub(super) fn failed(e: &kube::Error) -> LockRefusal {
    LockRefusal::Failed(api_cause(e))
}

/// The holder a Lease names, and how long ago it was renewed.
pub(super) fn holder_of(l: &Lease) -> (Holder, std::time::Duration) {
    let spec = l.spec.clone().unwrap_or_default();
    let holder = spec
        .holder_identity
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_else(|| Holder::unknown(spec.holder_identity.as_deref().unwrap_or("?")));
    let age = spec
        .renew_time
        .map(|t| (k8s_openapi::chrono::Utc::now() - t.0).num_seconds().max(0) as u64)
        .unwrap_or(u64::MAX / 2);
    (holder, std::time::Duration::from_secs(age))
}

/// Takes the lock in `ns` (which must exist). Returns the holder it took
/// over from, if any.
pub async fn acquire(
    client: &kube::Client,
    ns: &str,
    me: &Holder,
    take_over_stale: bool,
) -> Result<Option<Holder>, LockRefusal> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    let Some(existing) = api.get_opt(LEASE).await.map_err(|e| failed(&e))? else {
        return match api.create(&PostParams::default(), &lease(me, None)).await {
            Ok(_) => Ok(None),
            // Another run created it between our read and our write.
            Err(kube::Error::Api(r)) if r.code == 409 => {
                Box::pin(acquire(client, ns, me, false)).await
            }
            Err(e) => Err(failed(&e)),
        };
    };
    let (holder, age) = holder_of(&existing);
    let Some(dead) = holder.judge(age, me, take_over_stale)? else {
        return Ok(None);
    };
    let version = existing.metadata.resource_version.clone();
    api.replace(LEASE, &PostParams::default(), &lease(me, version))
        .await
        .map_err(|e| failed(&e))?;
    Ok(Some(dead))
}

/// Renews the lock so that other runs see this one alive.
pub async fn renew(client: &kube::Client, ns: &str, me: &Holder) {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    if let Ok(Some(mut l)) = api.get_opt(LEASE).await
        && holder_of(&l).0.run == me.run
    {
        if let Some(spec) = l.spec.as_mut() {
            spec.renew_time = Some(now());
        }
        let _ = api.replace(LEASE, &PostParams::default(), &l).await;
    }
}

/// Deletes the lock if `run` holds it.
pub async fn release(client: &kube::Client, ns: &str, run: &str) {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    if let Ok(Some(l)) = api.get_opt(LEASE).await
        && holder_of(&l).0.run == run
    {
        let _ = api.delete(LEASE, &DeleteParams::default()).await;
    }
}
