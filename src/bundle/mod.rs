//! Product bundles: a directory with `manifest.yaml` (the product's
//! components as data) and image archives per architecture with their
//! sha256, verified before anything is touched on a host.

pub mod build;
mod component;
mod hash_cache;
pub mod pack;
mod rewrite;
pub mod templates;
pub mod verify;

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use component::{
    Backup, Cluster, ClusterForm, Component, Health, Placement, PlacementCount, Quorum, UpgradeHook,
};

pub use crate::paths::BUNDLE_MANIFEST as MANIFEST_FILE;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub product: Product,
    pub images: Vec<ImageArchive>,
    pub components: Vec<Component>,
    #[serde(default)]
    pub requirements: Requirements,
    /// Where the finished platform is checked end to end, and where
    /// operators open it: a component's port, through the single host, the
    /// VIP or the load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
}

/// The platform's front door.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Entry {
    /// The component that answers (its first port unless `port` is given).
    pub component: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// A path that answers 2xx only when the platform works end to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
    /// The requests `cdwiz drill` may make through the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<EntryDrill>,
}

/// What the HA drill may ask of the platform: `write` (`POST /api/notes`)
/// stores the request's body and answers 2xx with `{"id": N}` once it is
/// committed; `read` (`GET /api/notes/{id}`) answers 200 with that body,
/// 404 when the platform has no such write, anything else when it could
/// not tell (asked again).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EntryDrill {
    pub write: String,
    pub read: String,
}

impl EntryDrill {
    /// The write's path (after `POST `).
    pub fn write_path(&self) -> Option<&str> {
        self.write
            .strip_prefix("POST ")
            .filter(|p| p.starts_with('/'))
    }

    /// The read's path for `id` (after `GET `, `{id}` replaced).
    pub fn read_path(&self, id: u64) -> Option<String> {
        let p = self
            .read
            .strip_prefix("GET ")
            .filter(|p| p.starts_with('/'))?;
        p.contains("{id}")
            .then(|| p.replace("{id}", &id.to_string()))
    }
}

/// What the product needs of a host, per role; host checks measure against it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Requirements {
    #[serde(default)]
    pub master: RoleRequirements,
    #[serde(default)]
    pub worker: RoleRequirements,
    /// Kernel settings the components need at least, e.g. `vm.max_map_count: 262144`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sysctl: std::collections::BTreeMap<String, u64>,
    /// Oldest Docker engine the product runs on.
    #[serde(default = "default_docker_min")]
    pub docker_min: String,
    /// Open files a process may hold.
    #[serde(default = "default_nofile")]
    pub nofile: u64,
    /// The Kubernetes versions the product runs on (the `k8s` topology).
    #[serde(default)]
    pub kubernetes: KubernetesRange,
}

/// Oldest and newest Kubernetes minor versions, e.g. `1.27` and `1.33`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubernetesRange {
    pub min: String,
    pub max: String,
}

impl Default for KubernetesRange {
    fn default() -> Self {
        KubernetesRange {
            min: "1.27".into(),
            max: "1.33".into(),
        }
    }
}

impl KubernetesRange {
    /// (major, minor) of `1.27`-like text; `None` when it is not one.
    pub fn parse(v: &str) -> Option<(u32, u32)> {
        let (major, minor) = v.trim().trim_start_matches('v').split_once('.')?;
        let minor = minor.split('.').next()?.trim_end_matches('+');
        Some((major.parse().ok()?, minor.parse().ok()?))
    }

    /// Whether `(major, minor)` lies in the range.
    pub fn contains(&self, v: (u32, u32)) -> bool {
        match (Self::parse(&self.min), Self::parse(&self.max)) {
            (Some(lo), Some(hi)) => lo <= v && v <= hi,
            _ => false,
        }
    }
}

fn default_nofile() -> u64 {
    65536
}

impl Default for Requirements {
    fn default() -> Self {
        Requirements {
            master: RoleRequirements::default(),
            worker: RoleRequirements::default(),
            sysctl: Default::default(),
            docker_min: default_docker_min(),
            nofile: default_nofile(),
            kubernetes: KubernetesRange::default(),
        }
    }
}

fn default_docker_min() -> String {
    "20.10".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RoleRequirements {
    pub cpus: u32,
    pub memory_gib: u32,
    /// Free space in the data dir.
    pub data_gib: u32,
}

impl Default for RoleRequirements {
    fn default() -> Self {
        RoleRequirements {
            cpus: 1,
            memory_gib: 1,
            data_gib: 1,
        }
    }
}

impl Manifest {
    /// Every port any component listens on, sorted.
    pub fn ports(&self) -> Vec<u16> {
        let mut p: Vec<u16> = self
            .components
            .iter()
            .flat_map(|c| c.ports.clone())
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    /// What is wrong between the manifest's parts: duplicate or unknown
    /// component names, an image no archive provides.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let names: Vec<&str> = self.components.iter().map(|c| c.name.as_str()).collect();
        for (i, c) in self.components.iter().enumerate() {
            if names[..i].contains(&c.name.as_str()) {
                out.push(format!("components[{i}]: a second component `{}`", c.name));
            }
            for d in &c.depends_on {
                if !names.contains(&d.as_str()) {
                    out.push(format!(
                        "components[{i}] ({}).depends-on: no component `{d}`",
                        c.name
                    ));
                }
            }
            if let Some(b) = &c.backup {
                for (field, cmd) in [
                    ("dump", &b.dump),
                    ("check", &b.check),
                    ("restore", &b.restore),
                ] {
                    if cmd.is_empty() {
                        out.push(format!(
                            "components[{i}] ({}).backup.{field}: an empty command",
                            c.name
                        ));
                    }
                }
            }
            if !self.images.is_empty()
                && !self.images.iter().any(|a| a.references.contains(&c.image))
            {
                out.push(format!(
                    "components[{i}] ({}).image: `{}` is in none of the bundle's image archives",
                    c.name, c.image
                ));
            }
        }
        self.name_problems(&mut out);
        if let Some(e) = &self.entry
            && !names.contains(&e.component.as_str())
        {
            out.push(format!("entry.component: no component `{}`", e.component));
        }
        if let Some(d) = self.entry.as_ref().and_then(|e| e.drill.as_ref()) {
            let plain = |p: &str| p.bytes().all(|b| b.is_ascii_graphic());
            if !d.write_path().is_some_and(plain) {
                out.push(format!(
                    "entry.drill.write: `{}` is not `POST /path`",
                    crate::pattern::shown(&d.write)
                ));
            }
            if !d.read_path(1).is_some_and(|p| plain(&p)) {
                out.push(format!(
                    "entry.drill.read: `{}` is not `GET /path/{{id}}`",
                    crate::pattern::shown(&d.read)
                ));
            }
        }
        let k = &self.requirements.kubernetes;
        for (field, v) in [("min", &k.min), ("max", &k.max)] {
            if KubernetesRange::parse(v).is_none() {
                out.push(format!(
                    "requirements.kubernetes.{field}: `{v}` is not a version like 1.27"
                ));
            }
        }
        out
    }

    /// Names from the bundle that become paths, container names, mount
    /// points or environment keys on the hosts: a bundle is untrusted input,
    /// so each is matched against what it may be (no `..`, no absolute path
    /// where a relative one belongs, no shell or control characters).
    fn name_problems(&self, out: &mut Vec<String>) {
        let word = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && !s.starts_with('-')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        };
        let relative = |s: &str| !s.starts_with('/') && s.split('/').all(word);
        let absolute = |s: &str| s.starts_with('/') && s.len() > 1 && s[1..].split('/').all(word);
        let mut bad = |at: String, v: &str, what: &str| {
            out.push(format!(
                "{at}: `{}` is not {what}",
                crate::pattern::shown(v)
            ))
        };
        if !word(&self.product.name) {
            bad("product.name".into(), &self.product.name, "a plain name");
        }
        // The version names the bundle's archives and the offline file.
        if !word(&self.product.version) {
            bad(
                "product.version".into(),
                &self.product.version,
                "a version such as 3.2.0",
            );
        }
        for (i, a) in self.images.iter().enumerate() {
            let f = a.file.to_string_lossy();
            if !relative(&f) {
                bad(format!("images[{i}].file"), &f, "a path inside the bundle");
            }
        }
        for (i, c) in self.components.iter().enumerate() {
            let at = |f: &str| format!("components[{i}].{f}");
            let dns = !c.name.is_empty()
                && c.name.len() <= 63
                && c.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !c.name.starts_with('-')
                && !c.name.ends_with('-');
            if !dns {
                bad(
                    at("name"),
                    &c.name,
                    "a name of lowercase letters, digits and `-`",
                );
            }
            for n in &c.secrets {
                if !word(n) {
                    bad(at("secrets"), n, "a plain file name");
                }
            }
            for (dir, mount) in &c.volumes {
                if !relative(dir) {
                    bad(at("volumes"), dir, "a path under the data dir");
                }
                if !absolute(mount) {
                    bad(at("volumes"), mount, "an absolute path in the container");
                }
            }
            for (file, mount) in &c.configs {
                if !relative(file) {
                    bad(at("configs"), file, "a rendered file's relative path");
                }
                if !absolute(mount) {
                    bad(at("configs"), mount, "an absolute path in the container");
                }
            }
            for k in c.env.keys() {
                // Docker takes dots and dashes too (`discovery.type`).
                let ok = k.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_')
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if !ok {
                    bad(at("env"), k, "an environment variable name");
                }
            }
            for cap in &c.cap_add {
                if cap.is_empty() || !cap.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                    bad(at("cap-add"), cap, "a capability name such as NET_ADMIN");
                }
            }
        }
    }

    /// Architectures the bundle carries images for.
    pub fn architectures(&self) -> Vec<String> {
        let mut a: Vec<String> = self.images.iter().map(|i| i.arch.clone()).collect();
        a.sort();
        a.dedup();
        a
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Product {
    pub name: String,
    pub version: String,
}

/// One image archive (`docker save` format) in the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageArchive {
    /// Path relative to the bundle directory.
    pub file: PathBuf,
    /// `amd64` or `arm64`.
    pub arch: String,
    pub sha256: String,
    pub size: u64,
    /// Image references the archive provides.
    pub references: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid bundle manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error(
        "{path}: sha256 is {actual}, the manifest says {expected}: the file is damaged or \
         was changed; copy the bundle again"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

impl BundleError {
    /// What is wrong and what to do, in the operator's language.
    pub fn message(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match self {
            BundleError::Io { path, source } => Msg::new("bundle.io")
                .arg("path", path.display())
                .arg("error", source),
            BundleError::Manifest { path, message } => Msg::new("bundle.manifest")
                .arg("path", path.display())
                .arg("error", message),
            BundleError::Checksum {
                path,
                expected,
                actual,
            } => Msg::new("bundle.checksum")
                .arg("path", path.display())
                .arg("expected", expected)
                .arg("actual", actual),
        }
    }
}

/// A bundle directory and its parsed manifest.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Bundle {
    /// Reads `dir/manifest.yaml`.
    pub fn open(dir: &Path) -> Result<Bundle, BundleError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| BundleError::Io {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest =
            serde_yaml::from_str(&text).map_err(|e| BundleError::Manifest {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let problems = manifest.problems();
        if !problems.is_empty() {
            return Err(BundleError::Manifest {
                path,
                message: problems.join("; "),
            });
        }
        Ok(Bundle {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// Checks every image archive's size and sha256 against the manifest.
    pub fn verify(&self) -> Result<(), BundleError> {
        self.verify_cached(None)
    }

    /// [`verify`](Self::verify), remembering each archive's hash in
    /// `cache` while the archive is unchanged.
    pub fn verify_cached(&self, cache: Option<&Path>) -> Result<(), BundleError> {
        let mut cache = cache.map(hash_cache::HashCache::open);
        for image in &self.manifest.images {
            let path = self.dir.join(&image.file);
            let actual = match cache.as_mut() {
                Some(c) => c.sha256(&path)?,
                None => sha256_file(&path)?,
            };
            if actual != image.sha256 {
                return Err(BundleError::Checksum {
                    path,
                    expected: image.sha256.clone(),
                    actual,
                });
            }
        }
        if let Some(c) = cache {
            c.save();
        }
        Ok(())
    }
}

/// The sha256 of a file, in hex, read in a streaming way.
pub fn sha256_file(path: &Path) -> Result<String, BundleError> {
    let io = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::Manifest;

    fn manifest() -> Manifest {
        serde_yaml::from_str(include_str!("../../assets/products/cd/manifest.yaml")).unwrap()
    }

    #[test]
    fn the_shipped_manifest_has_no_problems() {
        assert_eq!(manifest().problems(), Vec::<String>::new());
    }

    #[test]
    fn bundle_names_cannot_leave_their_place() {
        let mut m = manifest();
        let c = &mut m.components[0];
        c.secrets.push("../../etc/shadow".into());
        c.volumes.insert("../../root".into(), "/x".into());
        c.volumes.insert("ok".into(), "relative".into());
        c.configs.insert("/etc/passwd".into(), "/etc/x".into());
        c.env.insert("A B".into(), "x".into());
        c.cap_add.push("SYS_ADMIN; id".into());
        c.name = "db\nx".into();
        m.product.version = "../../x".into();
        let problems = m.problems().join("\n");
        for want in [
            "secrets: `../../etc/shadow`",
            "volumes: `../../root`",
            "volumes: `relative`",
            "configs: `/etc/passwd`",
            "env: `A B`",
            "cap-add: `SYS_ADMIN; id`",
            "name: `db\\nx`",
            "product.version: `../../x`",
        ] {
            assert!(problems.contains(want), "{want} missing from:\n{problems}");
        }
    }
}
