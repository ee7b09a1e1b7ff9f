//! Server-side apply: the rendered manifests as objects, applied with
//! cdwiz's field manager; whether the server's copy changed; the Secret
//! made from the generated credentials.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind, ObjectMeta};
use serde::Deserialize;
use serde_json::Value;

use super::FIELD_MANAGER;
use crate::cluster::INSTALL_LABEL;
use crate::deploy::{Input, StepError};
use crate::i18n::Msg;
use crate::render::RenderedFile;
use crate::text::root_cause;

/// The objects of one rendered file (`k8s/<name>.yaml`), in file order.
pub(super) fn objects(
    rendered: &[RenderedFile],
    name: &str,
) -> Result<Vec<DynamicObject>, StepError> {
    let path = format!("k8s/{name}.yaml");
    let file = rendered
        .iter()
        .find(|f| f.path.to_str() == Some(path.as_str()))
        .ok_or_else(|| Msg::new("deploy.k8s.not-rendered").arg("file", &path))?;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&file.content) {
        let value = serde_yaml::Value::deserialize(doc).map_err(|e| {
            Msg::new("deploy.k8s.bad-manifest")
                .arg("file", &path)
                .arg("error", e)
        })?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_yaml::from_value(value).map_err(|e| {
            Msg::new("deploy.k8s.bad-manifest")
                .arg("file", &path)
                .arg("error", e)
        })?;
        out.push(obj);
    }
    Ok(out)
}

/// What of an object the server may change on its own or per request:
/// left out when comparing before and after an apply.
pub(super) fn comparable(obj: &DynamicObject) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(Value::Object(meta)) = o.get_mut("metadata") {
            for k in ["resourceVersion", "managedFields", "generation"] {
                meta.remove(k);
            }
        }
    }
    v
}

/// The API of an object's kind (namespaced in `ns`, but for a
/// Namespace), its name and how to name it in a message (`Deployment web`).
pub(super) fn api_of(
    client: &kube::Client,
    ns: &str,
    obj: &DynamicObject,
) -> Result<(Api<DynamicObject>, String, String), StepError> {
    let types = obj.types.clone().unwrap_or_default();
    let gvk = GroupVersionKind::try_from(&types)
        .map_err(|e| Msg::new("deploy.k8s.bad-object").arg("error", e))?;
    let ar = ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = if types.kind == "Namespace" {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), ns, &ar)
    };
    let name = obj.metadata.name.clone().unwrap_or_default();
    let what = format!("{} {name}", types.kind);
    Ok((api, name, what))
}

/// Server-side applies one object (with `dry_run`, the server only says
/// what it would become: nothing is written); what it was before, and
/// whether it changed (would change).
pub(super) async fn apply_as(
    client: &kube::Client,
    ns: &str,
    obj: &DynamicObject,
    dry_run: bool,
) -> Result<(Option<DynamicObject>, bool), StepError> {
    let (api, name, what) = api_of(client, ns, obj)?;
    let before = api
        .get_opt(&name)
        .await
        .map_err(|e| api_error("get", &what, &e))?;
    if dry_run && before.is_none() {
        // Missing: nothing to compare (its namespace may be missing too).
        return Ok((None, true));
    }
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = dry_run;
    let after = api
        .patch(&name, &params, &Patch::Apply(obj))
        .await
        .map_err(|e| api_error("apply", &what, &e))?;
    let changed = before.as_ref().map(comparable) != Some(comparable(&after));
    Ok((before, changed))
}

/// Server-side applies one object; whether the server's copy changed.
pub(super) async fn apply(
    client: &kube::Client,
    ns: &str,
    obj: &DynamicObject,
) -> Result<bool, StepError> {
    Ok(apply_as(client, ns, obj, false).await?.1)
}

pub(super) fn api_error(verb: &str, what: &str, e: &kube::Error) -> StepError {
    Msg::new("deploy.k8s.api")
        .arg("verb", verb)
        .arg("what", what)
        .arg("error", api_cause(e))
        .into()
}

/// The API server's own words for a refused request (its message and HTTP
/// code), or the transport's innermost error.
pub fn api_cause(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(r) => format!("{} (HTTP {})", r.message, r.code),
        other => root_cause(other),
    }
}

pub(super) fn labels(input: &Input<'_>) -> BTreeMap<String, String> {
    let product = &input.bundle.manifest.product;
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".into(), "cdwiz".into()),
        ("app.kubernetes.io/part-of".into(), product.name.clone()),
        (
            INSTALL_LABEL.into(),
            crate::profile::install_id(input.answers),
        ),
    ])
}

/// The Secret the workloads mount (`<product>-secrets`), from the
/// generated credentials; and, when cdwiz pushes with credentials and the
/// profile names no pull secret of its own, the image pull secret made
/// from them.
pub(super) async fn apply_secrets(
    input: &Input<'_>,
    client: &kube::Client,
    registry: Option<&crate::registry::Registry>,
) -> Result<bool, StepError> {
    let product = &input.bundle.manifest.product.name;
    let generated = input
        .generated
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
        .collect();
    let mut changed = apply_secret(
        input,
        client,
        &format!("{product}-secrets"),
        "Opaque",
        generated,
    )
    .await?;
    let t = &input.answers.topology;
    if t.pull_secret.is_none()
        && let Some(name) = crate::plan::pull_secret(t, product)
        && let Some(json) = registry.and_then(|r| r.docker_config_json())
    {
        let data = BTreeMap::from([(".dockerconfigjson".to_string(), ByteString(json))]);
        changed |=
            apply_secret(input, client, &name, "kubernetes.io/dockerconfigjson", data).await?;
    }
    Ok(changed)
}

async fn apply_secret(
    input: &Input<'_>,
    client: &kube::Client,
    name: &str,
    kind: &str,
    data: BTreeMap<String, ByteString>,
) -> Result<bool, StepError> {
    let ns = crate::plan::namespace(&input.answers.topology).to_string();
    let name = name.to_string();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels(input)),
            ..Default::default()
        },
        type_: Some(kind.into()),
        data: Some(data),
        ..Default::default()
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let what = format!("Secret {name}");
    let before = api
        .get_opt(&name)
        .await
        .map_err(|e| api_error("get", &what, &e))?;
    let after = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .map_err(|e| api_error("apply", &what, &e))?;
    Ok(before.map(|b| b.data) != Some(after.data))
}
