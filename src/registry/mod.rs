//! The customer's image registry (the `k8s` topology): the bundle's images
//! pushed into it through the OCI distribution API (`oci-client`), under
//! the profile's `registry` prefix, before the cluster is asked to pull
//! them. Only what the registry lacks is sent: an image whose manifest is
//! there already costs one request; a blob another repository of the
//! registry holds is mounted, not sent; an interrupted push, run again,
//! sends only the blobs that did not arrive (a blob cut off mid-way is
//! sent again from its start).

pub mod archive;
pub mod check;
mod error;
mod push;

use std::path::Path;
use std::time::Duration;

use oci_client::Reference;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;

pub use archive::Image;
pub use error::RegistryError;
pub use push::{Plan, PushEvent, PushSummary, cluster_images, push, survey};

use crate::i18n::Msg;
use crate::profile::Topology;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Bytes as the push's lines and messages show them.
pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A registry cdwiz pushes to: where, as whom, trusting what.
pub struct Registry {
    /// `host[:port]/path` as the profile gives it.
    pub prefix: String,
    /// The user pushed as (none: anonymous).
    pub user: Option<String>,
    pub(crate) client: oci_client::Client,
    pub(crate) auth: RegistryAuth,
    host: String,
    path: String,
}

impl Registry {
    /// The registry of a `k8s` topology (`None` when it names none), the
    /// CA certificate read relative to `base`.
    pub fn of(t: &Topology, base: &Path, password: Option<&str>) -> Result<Option<Registry>, Msg> {
        let Some(prefix) = t.registry.clone() else {
            return Ok(None);
        };
        let (host, path) = match prefix.split_once('/') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (prefix.clone(), String::new()),
        };
        let mut config = ClientConfig {
            protocol: if t.registry_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            user_agent: concat!("cdwiz/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        if let Some(ca) = &t.registry_ca {
            let file = base.join(crate::paths::expand_home(ca));
            let data = std::fs::read(&file).map_err(|e| {
                Msg::new("registry.ca-unreadable")
                    .arg("path", file.display())
                    .arg("error", e)
            })?;
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        // reqwest is built without a TLS provider of its own: it uses the
        // process's, ring (as kube does). Installing it twice is no error.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = oci_client::Client::try_from(config).map_err(|e| {
            Msg::new("registry.client")
                .arg("registry", &prefix)
                .arg("error", crate::text::root_cause(&e))
        })?;
        let auth = match (&t.registry_user, password) {
            (Some(u), Some(p)) => RegistryAuth::Basic(u.clone(), p.to_string()),
            _ => RegistryAuth::Anonymous,
        };
        Ok(Some(Registry {
            prefix,
            user: t.registry_user.clone(),
            client,
            auth,
            host,
            path,
        }))
    }

    /// The registry's reference for a bundle image reference.
    pub fn reference(&self, image: &str) -> Reference {
        let (name, tag, digest) = split_reference(image);
        let repository = if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.path)
        };
        match digest {
            Some(d) => Reference::with_digest(self.host.clone(), repository, d.to_string()),
            None => Reference::with_tag(self.host.clone(), repository, tag.to_string()),
        }
    }

    /// A `kubernetes.io/dockerconfigjson` Secret's `.dockerconfigjson`
    /// for this registry's credentials (none when anonymous).
    pub fn docker_config_json(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let RegistryAuth::Basic(user, password) = &self.auth else {
            return None;
        };
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        serde_json::to_vec(&serde_json::json!({
            "auths": { self.host.clone(): { "username": user, "password": password, "auth": auth } }
        }))
        .ok()
    }

    /// The same repository at `digest`.
    pub(crate) fn at_digest(r: &Reference, digest: &str) -> Reference {
        Reference::with_digest(
            r.registry().to_string(),
            r.repository().to_string(),
            digest.to_string(),
        )
    }
}

/// `name[:tag][@digest]` into its parts (`latest` when there is no tag).
fn split_reference(image: &str) -> (&str, &str, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], &rest[slash + i + 1..], digest),
        None => (rest, "latest", digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_keep_their_names_under_the_prefix() {
        assert_eq!(
            split_reference("cd/backend:3.2"),
            ("cd/backend", "3.2", None)
        );
        assert_eq!(
            split_reference("host:5000/cd/web"),
            ("host:5000/cd/web", "latest", None)
        );
        assert_eq!(
            split_reference("cd/x@sha256:ab"),
            ("cd/x", "latest", Some("sha256:ab"))
        );
        let mut t = Topology::of(crate::profile::TopologyKind::K8s);
        t.registry = Some("192.0.2.10:5000/site".into());
        let r = Registry::of(&t, Path::new("."), None).unwrap().unwrap();
        let rf = r.reference("cd-sandbox/database:0.1.0");
        assert_eq!(rf.registry(), "192.0.2.10:5000");
        assert_eq!(rf.repository(), "site/cd-sandbox/database");
        assert_eq!(rf.tag(), Some("0.1.0"));
        assert_eq!(
            crate::plan::target_name("192.0.2.10:5000/site", "cd-sandbox/database:0.1.0"),
            "192.0.2.10:5000/site/cd-sandbox/database:0.1.0"
        );
    }
}
