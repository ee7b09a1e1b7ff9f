//! The sandbox product: stand-ins for the CD platform's components (a
//! database, a cache, a backend whose health proves it reaches both with the
//! credentials it was given, a web frontend), built from Debian packages
//! into one runtime image and written as a bundle a profile can point at.
//!
//! All four components share one image (one archive, four names) so a host
//! loads the bytes once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use super::rootfs::{self, Recipe};
use super::{Progress, SandboxError, SandboxEvent};
use crate::bundle::{
    Bundle, Component, Entry, Health, ImageArchive, MANIFEST_FILE, Manifest, Placement,
    PlacementCount, Product, Requirements,
};

pub const PRODUCT: &str = "cd-sandbox";
pub const VERSION: &str = "0.1.0";
const ENTRY: &str = "/usr/local/bin/cd-sandbox-entry";

const RECIPE: Recipe = Recipe {
    packages: &[
        "postgresql",
        "redis-server",
        "nginx-light",
        "socat",
        "keepalived",
        "ca-certificates",
    ],
    customize: include_str!("../../assets/sandbox/product/customize.sh"),
    files: &[(
        ENTRY,
        0o755,
        include_str!("../../assets/sandbox/product/entry.sh"),
    )],
};

/// Where the sandbox bundle lives under the sandbox directory.
pub fn bundle_dir(sandbox_dir: &Path) -> PathBuf {
    sandbox_dir
        .join("bundle")
        .join(format!("{PRODUCT}-{VERSION}"))
}

fn reference(component: &str) -> String {
    format!("{PRODUCT}/{component}:{VERSION}")
}

/// The product's components, in dependency order.
fn components() -> Vec<Component> {
    let c = |name: &str, ports: &[u16], deps: &[&str], http: Option<&str>, count| Component {
        name: name.into(),
        image: reference(name),
        command: vec![ENTRY.into(), name.into()],
        ports: ports.to_vec(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        health: ports.first().map(|&port| Health {
            port,
            http: http.map(str::to_string),
        }),
        env: Default::default(),
        secrets: Vec::new(),
        volumes: Default::default(),
        configs: Default::default(),
        cap_add: Vec::new(),
        placement: Placement {
            count,
            ..Default::default()
        },
    };
    let env = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut database = c("database", &[5432], &[], None, PlacementCount::One);
    database.secrets = vec!["db_password".into()];
    database.env = env(&[("DB_USER", "cd"), ("DB_NAME", "cd")]);
    database.volumes = env(&[("database", "/var/lib/cd/database")]);
    let mut cache = c("cache", &[6379], &[], None, PlacementCount::One);
    cache.secrets = vec!["cache_password".into()];
    cache.volumes = env(&[("cache", "/var/lib/cd/cache")]);
    let mut backend = c(
        "backend",
        &[8080],
        &["database", "cache"],
        Some("/health"),
        PlacementCount::All,
    );
    backend.secrets = vec!["db_password".into(), "cache_password".into()];
    backend.env = env(&[
        ("DB_HOST", "{{ endpoints.database.host }}"),
        ("DB_PORT", "{{ endpoints.database.port }}"),
        ("DB_USER", "cd"),
        ("DB_NAME", "cd"),
        ("CACHE_HOST", "{{ endpoints.cache.host }}"),
        ("CACHE_PORT", "{{ endpoints.cache.port }}"),
    ]);
    let mut web = c("web", &[80], &["backend"], Some("/"), PlacementCount::All);
    web.env = env(&[
        ("BACKEND_HOST", "{{ endpoints.backend.host }}"),
        ("BACKEND_PORT", "{{ endpoints.backend.port }}"),
    ]);
    // keepalived runs from the product image too (ha-keepalived only).
    let mut keepalived = c("keepalived", &[], &["web"], None, PlacementCount::All);
    keepalived.command = [
        "keepalived",
        "--dont-fork",
        "--log-console",
        "-f",
        "/etc/keepalived/keepalived.conf",
    ]
    .map(String::from)
    .to_vec();
    keepalived.configs = env(&[(
        "keepalived/keepalived.conf",
        "/etc/keepalived/keepalived.conf",
    )]);
    keepalived.cap_add = ["NET_ADMIN", "NET_BROADCAST", "NET_RAW"]
        .map(String::from)
        .to_vec();
    keepalived.placement.topologies = vec![crate::profile::TopologyKind::HaKeepalived];
    vec![database, cache, backend, web, keepalived]
}

/// Makes sure the sandbox bundle exists and is intact, building it when it
/// is missing, damaged or made from another recipe.
pub async fn ensure_bundle(
    sandbox_dir: &Path,
    progress: &Progress<'_>,
) -> Result<Bundle, SandboxError> {
    let dir = bundle_dir(sandbox_dir);
    let current = || existing(sandbox_dir);
    if let Some(b) = current() {
        return Ok(b);
    }
    let build_dir = sandbox_dir.join("build");
    let _lock = rootfs::lock(&build_dir.join("bundle.lock")).await?;
    if let Some(b) = current() {
        return Ok(b);
    }
    let started = Instant::now();
    progress(SandboxEvent::BuildingBundle { dir: dir.clone() });
    let root = build_dir.join("product-rootfs");
    let layer = build_dir.join("product-layer.tar");
    let staging = dir.with_extension("partial");
    let result = build(&root, &layer, &build_dir, &staging).await;
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_file(&layer);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    std::fs::write(staging.join(".recipe"), RECIPE.hash()).map_err(SandboxError::io(&staging))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(SandboxError::io(&dir))?;
    }
    std::fs::rename(&staging, &dir).map_err(SandboxError::io(&dir))?;
    progress(SandboxEvent::BundleBuilt {
        dir: dir.clone(),
        secs: started.elapsed().as_secs_f64(),
    });
    Bundle::open(&dir).map_err(|e| SandboxError::Other(e.to_string()))
}

/// The sandbox bundle if it is built, intact and of the current recipe; its
/// manifest is rewritten when this cdwiz's differs (the images stay).
pub fn existing(sandbox_dir: &Path) -> Option<Bundle> {
    let dir = bundle_dir(sandbox_dir);
    let recorded = std::fs::read_to_string(dir.join(".recipe")).ok()?;
    if recorded.trim() != RECIPE.hash() {
        return None;
    }
    let mut bundle = Bundle::open(&dir).ok()?;
    // An archive made before a component was added lacks its image.
    let have: Vec<&String> = bundle
        .manifest
        .images
        .iter()
        .flat_map(|i| &i.references)
        .collect();
    if components().iter().any(|c| !have.contains(&&c.image)) {
        return None;
    }
    bundle
        .verify_cached(Some(&sandbox_dir.join("bundle-hashes.json")))
        .ok()?;
    let wanted = manifest(bundle.manifest.images.first()?.clone());
    if bundle.manifest != wanted {
        let text = serde_yaml::to_string(&wanted).ok()?;
        crate::rundir::write_atomic(&dir.join(MANIFEST_FILE), &text).ok()?;
        bundle.manifest = wanted;
    }
    Some(bundle)
}

async fn build(root: &Path, layer: &Path, logs: &Path, staging: &Path) -> Result<(), SandboxError> {
    rootfs::build(&RECIPE, root, logs, "product").await?;
    let out = std::fs::File::create(layer).map_err(SandboxError::io(layer))?;
    let status = rootfs::tar_command(root)
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(|e| SandboxError::Other(format!("cannot run tar: {e}")))?;
    if !status.success() {
        return Err(SandboxError::Other(format!(
            "tar of {} exited with {status}",
            root.display()
        )));
    }
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(SandboxError::io(staging))?;
    }
    let rel = PathBuf::from(format!("images/amd64/{PRODUCT}-runtime-{VERSION}.tar"));
    let archive = staging.join(&rel);
    let parent = archive.parent().unwrap_or(staging);
    std::fs::create_dir_all(parent).map_err(SandboxError::io(parent))?;
    let refs: Vec<String> = components().iter().map(|c| c.image.clone()).collect();
    let (archive_path, layer_path, refs_owned) =
        (archive.clone(), layer.to_path_buf(), refs.clone());
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = refs_owned.iter().map(String::as_str).collect();
        crate::docker::archive::write_image_archive_file(
            &archive_path,
            &refs,
            &layer_path,
            &[ENTRY],
        )
    })
    .await
    .map_err(|e| SandboxError::Other(format!("image archive: {e}")))?
    .map_err(SandboxError::io(&archive))?;
    let sha256 =
        crate::bundle::sha256_file(&archive).map_err(|e| SandboxError::Other(e.to_string()))?;
    let size = std::fs::metadata(&archive)
        .map_err(SandboxError::io(&archive))?
        .len();
    let manifest = manifest(ImageArchive {
        file: rel,
        arch: "amd64".into(),
        sha256,
        size,
        references: refs,
    });
    let text = serde_yaml::to_string(&manifest)
        .map_err(|e| SandboxError::Other(format!("bundle manifest: {e}")))?;
    let path = staging.join(MANIFEST_FILE);
    std::fs::write(&path, text).map_err(SandboxError::io(&path))
}

/// The sandbox product's manifest around its image archive.
fn manifest(image: ImageArchive) -> Manifest {
    Manifest {
        version: 1,
        product: Product {
            name: PRODUCT.into(),
            version: VERSION.into(),
        },
        images: vec![image],
        components: components(),
        // A small stand-in product: what any sandbox host offers.
        requirements: Requirements {
            nofile: 16384,
            ..Default::default()
        },
        entry: Some(Entry {
            component: "web".into(),
            port: None,
            verify: Some("/api/health".into()),
        }),
    }
}
