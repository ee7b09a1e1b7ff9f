//! The sandbox product: stand-ins for the CD platform's components (a
//! database, a cache, a backend whose health proves it reaches both with the
//! credentials it was given, a web frontend), built from Debian packages
//! into one runtime image and written as a bundle a profile can point at.
//!
//! All four components share one image (one archive, four names) so a host
//! loads the bytes once.

use std::path::{Path, PathBuf};

use bollard::Docker;
use std::time::Instant;

use super::rootfs::{self, PRODUCT as RECIPE, PRODUCT_ARM64};
use super::{Progress, SandboxError, SandboxEvent, said};
use crate::bundle::{
    Bundle, Component, Entry, Health, ImageArchive, MANIFEST_FILE, Manifest, Placement,
    PlacementCount, Product, Requirements,
};

pub const PRODUCT: &str = "cd-sandbox";
pub const VERSION: &str = "0.1.0";
/// The release after [`VERSION`] (same components, its own images): what
/// the rolling upgrade is tested with. Its backend answers `GET /version`
/// with it, as [`VERSION`]'s does with its own.
pub const NEXT_VERSION: &str = "0.2.0";
const VERSIONS: [&str; 2] = [VERSION, NEXT_VERSION];
/// In each release's image: the release it is.
const VERSION_FILE: &str = "etc/cd-sandbox/version";
const ENTRY: &str = rootfs::PRODUCT_ENTRY;

/// Where the sandbox bundle lives under the sandbox directory.
pub fn bundle_dir(sandbox_dir: &Path) -> PathBuf {
    bundle_dir_of(sandbox_dir, VERSION)
}

/// Where the sandbox bundle of `version` lives under the sandbox directory.
pub fn bundle_dir_of(sandbox_dir: &Path, version: &str) -> PathBuf {
    sandbox_dir
        .join("bundle")
        .join(format!("{PRODUCT}-{version}"))
}

fn reference(component: &str, version: &str) -> String {
    format!("{PRODUCT}/{component}:{version}")
}

/// The product's components of `version`, in dependency order.
fn components(version: &str) -> Vec<Component> {
    let c = |name: &str, ports: &[u16], deps: &[&str], http: Option<&str>, count| Component {
        name: name.into(),
        image: reference(name, version),
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
        cluster: None,
        upgrade: None,
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
    // The release's schema step: recorded in the database, once per upgrade.
    database.upgrade = Some(crate::bundle::UpgradeHook {
        command: vec![ENTRY.into(), "migrate".into()],
    });
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

/// Makes sure the sandbox bundles (one per release) exist and are intact,
/// building them when one is missing, damaged or made from another recipe,
/// and that the engine `docker` holds the product's images (a `bundle
/// build` source). Returns the first release's bundle.
pub async fn ensure_bundle(
    docker: &Docker,
    sandbox_dir: &Path,
    progress: &Progress<'_>,
) -> Result<Bundle, SandboxError> {
    ensure_bundle_of(docker, sandbox_dir, VERSION, progress).await
}

/// [`ensure_bundle`], returning the bundle of `version` (one of the
/// sandbox product's releases).
pub async fn ensure_bundle_of(
    docker: &Docker,
    sandbox_dir: &Path,
    version: &str,
    progress: &Progress<'_>,
) -> Result<Bundle, SandboxError> {
    let all = || -> Option<Vec<Bundle>> {
        VERSIONS
            .iter()
            .map(|v| existing_of(sandbox_dir, v))
            .collect()
    };
    let pick = |bundles: Vec<Bundle>| {
        bundles
            .into_iter()
            .find(|b| b.manifest.product.version == version)
            .ok_or_else(|| SandboxError::from(said("sandbox.err.bundle").arg("detail", version)))
    };
    let build_dir = sandbox_dir.join("build");
    // Looked for before and again under the build lock (another process may
    // have built them meanwhile).
    let mut lock = None;
    loop {
        if let Some(bundles) = all() {
            for b in &bundles {
                ensure_engine_images(docker, b).await?;
            }
            return pick(bundles);
        }
        if lock.is_some() {
            break;
        }
        lock = Some(rootfs::lock(&build_dir.join("bundle.lock")).await?);
    }
    let started = Instant::now();
    let dir = bundle_dir(sandbox_dir);
    progress(SandboxEvent::BuildingBundle {
        dir: dir.clone(),
        emulated: false,
    });
    let result = build(docker, sandbox_dir, &build_dir).await;
    for leftover in ["product-image.tar", "product"] {
        let p = build_dir.join(leftover);
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
    result?;
    progress(SandboxEvent::BundleBuilt {
        dir,
        secs: started.elapsed().as_secs_f64(),
    });
    pick(all().ok_or_else(|| said("sandbox.err.bundle").arg("detail", version))?)
}

/// The first release's sandbox bundle if it is built, intact and of the
/// current recipe.
pub fn existing(sandbox_dir: &Path) -> Option<Bundle> {
    existing_of(sandbox_dir, VERSION)
}

/// The sandbox bundle of `version` if it is built, intact and of the
/// current recipe; its manifest is rewritten when this cdwiz's differs (the
/// images stay).
pub fn existing_of(sandbox_dir: &Path, version: &str) -> Option<Bundle> {
    let dir = bundle_dir_of(sandbox_dir, version);
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
    if components(version)
        .iter()
        .any(|c| !have.contains(&&c.image))
    {
        return None;
    }
    // One made before `bundle build` made it (another archive name).
    let built = format!("images/amd64/{PRODUCT}-{version}-amd64.tar");
    if bundle
        .manifest
        .images
        .iter()
        .any(|i| i.file != Path::new(&built))
    {
        return None;
    }
    bundle
        .verify_cached(Some(&sandbox_dir.join("bundle-hashes.json")))
        .ok()?;
    let wanted = manifest(version, bundle.manifest.images.clone());
    if bundle.manifest != wanted {
        let text = serde_yaml::to_string(&wanted).ok()?;
        crate::rundir::write_atomic(&dir.join(MANIFEST_FILE), &text).ok()?;
        bundle.manifest = wanted;
    }
    Some(bundle)
}

/// Loads the bundle's archive into `docker` when one of its images is not
/// there (the engine was reset, the bundle came from elsewhere).
async fn ensure_engine_images(docker: &Docker, bundle: &Bundle) -> Result<(), SandboxError> {
    for archive in &bundle.manifest.images {
        let mut present = true;
        for r in &archive.references {
            present &= crate::docker::has_image(docker, r).await?;
        }
        if !present {
            crate::docker::load_file(docker, &bundle.dir.join(&archive.file)).await?;
        }
    }
    Ok(())
}

/// The vendor's path, run on the sandbox product: its root filesystem made
/// into one image per release (the release's own small layer on top),
/// loaded into the engine, and each release's bundle written from the
/// engine by `bundle build` (as a release engineer's would be).
async fn build(docker: &Docker, sandbox_dir: &Path, build_dir: &Path) -> Result<(), SandboxError> {
    let layer = rootfs::prepare(&RECIPE, build_dir).await?;
    for version in VERSIONS {
        let archive = build_dir.join("product-image.tar");
        let refs: Vec<String> = components(version)
            .iter()
            .map(|c| c.image.clone())
            .collect();
        let top = release_layer(version).map_err(SandboxError::io(&archive))?;
        let (archive_path, layer_path) = (archive.clone(), layer.clone());
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
            crate::docker::archive::write_image_archive_file(
                &archive_path,
                &refs,
                &layer_path,
                Some(&top),
                &[ENTRY],
                "amd64",
            )
        })
        .await
        .map_err(|e| said("sandbox.err.task").arg("error", e))?
        .map_err(SandboxError::io(&archive))?;
        crate::docker::load_file(docker, &archive).await?;
        let _ = std::fs::remove_file(&archive);
        let source = build_dir.join("product");
        std::fs::create_dir_all(&source).map_err(SandboxError::io(&source))?;
        let text = serde_yaml::to_string(&manifest(version, Vec::new()))
            .map_err(|e| said("sandbox.err.bundle").arg("detail", e))?;
        let path = source.join(MANIFEST_FILE);
        std::fs::write(&path, text).map_err(SandboxError::io(&path))?;
        let out = bundle_dir_of(sandbox_dir, version);
        let req = crate::bundle::build::BuildRequest {
            manifest: &path,
            archs: vec!["amd64".into()],
            out: &out,
        };
        crate::bundle::build::build(docker, &req, &|_| {})
            .await
            .map_err(|e| SandboxError::BundleBuild(e.messages()))?;
        std::fs::write(out.join(".recipe"), RECIPE.hash()).map_err(SandboxError::io(&out))?;
    }
    rootfs::consumed(&RECIPE, build_dir);
    Ok(())
}

/// A release's own small layer: the file that says which release it is.
fn release_layer(version: &str) -> std::io::Result<Vec<u8>> {
    crate::docker::archive::layer_tar(&[
        crate::docker::archive::LayerEntry::Dir {
            path: "etc/cd-sandbox",
            mode: 0o755,
        },
        crate::docker::archive::LayerEntry::File {
            path: VERSION_FILE,
            mode: 0o644,
            data: format!("{version}\n").as_bytes(),
        },
    ])
}

/// Where the first release's bundle for amd64 and arm64 lives.
pub fn multiarch_dir(sandbox_dir: &Path) -> PathBuf {
    sandbox_dir
        .join("bundle")
        .join(format!("{PRODUCT}-{VERSION}-amd64-arm64"))
}

/// What a multi-architecture bundle was built from.
fn multiarch_recipe() -> String {
    format!("{} {}", RECIPE.hash(), PRODUCT_ARM64.hash())
}

/// The first release's sandbox bundle with an amd64 and an arm64 archive,
/// each built from Debian's packages for its architecture (arm64 under
/// qemu-user), for clusters of both: built on first use (the arm64 root
/// filesystem takes minutes under emulation), then kept.
pub async fn ensure_multiarch_bundle(
    docker: &Docker,
    sandbox_dir: &Path,
    progress: &Progress<'_>,
) -> Result<Bundle, SandboxError> {
    let dir = multiarch_dir(sandbox_dir);
    let existing = || -> Option<Bundle> {
        let recorded = std::fs::read_to_string(dir.join(".recipe")).ok()?;
        if recorded.trim() != multiarch_recipe() {
            return None;
        }
        let bundle = Bundle::open(&dir).ok()?;
        bundle
            .verify_cached(Some(&sandbox_dir.join("bundle-hashes.json")))
            .ok()?;
        (bundle.manifest == manifest(VERSION, bundle.manifest.images.clone())).then_some(bundle)
    };
    if let Some(b) = existing() {
        return Ok(b);
    }
    // The amd64 images are in this machine's engine once their bundle is.
    ensure_bundle(docker, sandbox_dir, progress).await?;
    let build_dir = sandbox_dir.join("build");
    let _lock = rootfs::lock(&build_dir.join("bundle-multiarch.lock")).await?;
    if let Some(b) = existing() {
        return Ok(b);
    }
    let started = Instant::now();
    progress(SandboxEvent::BuildingBundle {
        dir: dir.clone(),
        emulated: !cdwiz_sandbox_rootfs::is_native(PRODUCT_ARM64.arch),
    });
    let layer = rootfs::prepare(&PRODUCT_ARM64, &build_dir).await?;
    // The arm64 build under `<tag>-arm64` beside the amd64 one, where
    // `bundle build` looks for another architecture's build.
    let refs: Vec<String> = components(VERSION)
        .iter()
        .filter_map(|c| crate::bundle::build::arch_tag(&c.image, "arm64"))
        .collect();
    let archive = build_dir.join("product-arm64-image.tar");
    let top = release_layer(VERSION).map_err(SandboxError::io(&archive))?;
    let (archive_path, layer_path) = (archive.clone(), layer.clone());
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        crate::docker::archive::write_image_archive_file(
            &archive_path,
            &refs,
            &layer_path,
            Some(&top),
            &[ENTRY],
            "arm64",
        )
    })
    .await
    .map_err(|e| said("sandbox.err.task").arg("error", e))?
    .map_err(SandboxError::io(&archive))?;
    let loaded = crate::docker::load_file(docker, &archive).await;
    let _ = std::fs::remove_file(&archive);
    loaded?;
    let source = build_dir.join("product-multiarch");
    std::fs::create_dir_all(&source).map_err(SandboxError::io(&source))?;
    let text = serde_yaml::to_string(&manifest(VERSION, Vec::new()))
        .map_err(|e| said("sandbox.err.bundle").arg("detail", e))?;
    let path = source.join(MANIFEST_FILE);
    std::fs::write(&path, text).map_err(SandboxError::io(&path))?;
    let req = crate::bundle::build::BuildRequest {
        manifest: &path,
        archs: vec!["amd64".into(), "arm64".into()],
        out: &dir,
    };
    let built = crate::bundle::build::build(docker, &req, &|_| {}).await;
    let _ = std::fs::remove_dir_all(&source);
    built.map_err(|e| SandboxError::BundleBuild(e.messages()))?;
    std::fs::write(dir.join(".recipe"), multiarch_recipe()).map_err(SandboxError::io(&dir))?;
    rootfs::consumed(&PRODUCT_ARM64, &build_dir);
    progress(SandboxEvent::BundleBuilt {
        dir: dir.clone(),
        secs: started.elapsed().as_secs_f64(),
    });
    existing().ok_or_else(|| {
        said("sandbox.err.bundle")
            .arg("detail", dir.display())
            .into()
    })
}

/// The sandbox product's manifest around its image archives.
fn manifest(version: &str, images: Vec<ImageArchive>) -> Manifest {
    Manifest {
        version: 1,
        product: Product {
            name: PRODUCT.into(),
            version: version.into(),
        },
        images,
        components: components(version),
        // A small stand-in product: what any sandbox host offers.
        requirements: Requirements {
            nofile: 16384,
            // The test cluster is Kubernetes 1.20 (the newest Debian has).
            kubernetes: crate::bundle::KubernetesRange {
                min: "1.20".into(),
                max: "1.33".into(),
            },
            ..Default::default()
        },
        entry: Some(Entry {
            component: "web".into(),
            port: None,
            verify: Some("/api/health".into()),
        }),
    }
}
