//! The sandbox product's bundles: its root filesystem made into one image
//! per release, and a bundle per release and edition (see
//! [`super::product`]) written from the engine by `bundle build`; found,
//! checked and rebuilt when the recipe, the entry script or the manifest
//! changed.

use std::path::{Path, PathBuf};

use bollard::Docker;
use std::time::Instant;

use super::rootfs::{self, PRODUCT as RECIPE, PRODUCT_ARM64};
use super::{Progress, SandboxError, SandboxEvent, said};
use crate::bundle::{Bundle, MANIFEST_FILE};

use super::product::{ENTRY, VERSIONS, components, manifest};
pub use super::product::{Edition, NEXT_VERSION, PRODUCT, VERSION};

/// In each release's image: the release it is.
const VERSION_FILE: &str = "etc/cd-sandbox/version";
/// The entry script every component runs (in each release's own layer).
const ENTRY_SCRIPT: &str = include_str!("../../assets/sandbox/product/entry.sh");

/// What a built sandbox bundle was made from: the root filesystem's recipe
/// and the entry script.
fn product_recipe() -> String {
    use sha2::Digest;
    let script = format!("{:x}", sha2::Sha256::digest(ENTRY_SCRIPT));
    format!("{}+{}", RECIPE.hash(), &script[..12])
}

/// Where the sandbox bundle lives under the sandbox directory.
pub fn bundle_dir(sandbox_dir: &Path) -> PathBuf {
    bundle_dir_of(sandbox_dir, VERSION)
}

/// Where the sandbox bundle of `version` lives under the sandbox directory.
pub fn bundle_dir_of(sandbox_dir: &Path, version: &str) -> PathBuf {
    bundle_dir_for(sandbox_dir, Edition::Classic, version)
}

/// Where the sandbox bundle of `edition` and `version` lives.
pub fn bundle_dir_for(sandbox_dir: &Path, edition: Edition, version: &str) -> PathBuf {
    sandbox_dir
        .join("bundle")
        .join(edition.bundle_name(version))
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
    ensure_bundle_for(docker, sandbox_dir, Edition::Classic, version, progress).await
}

/// [`ensure_bundle`], returning the bundle of `edition` and `version`.
pub async fn ensure_bundle_for(
    docker: &Docker,
    sandbox_dir: &Path,
    edition: Edition,
    version: &str,
    progress: &Progress<'_>,
) -> Result<Bundle, SandboxError> {
    let all = || -> Option<Vec<(Edition, Bundle)>> {
        Edition::ALL
            .iter()
            .flat_map(|e| VERSIONS.iter().map(move |v| (*e, *v)))
            .map(|(e, v)| Some((e, existing_for(sandbox_dir, e, v)?)))
            .collect()
    };
    let pick = |bundles: Vec<(Edition, Bundle)>| {
        bundles
            .into_iter()
            .find(|(e, b)| *e == edition && b.manifest.product.version == version)
            .map(|(_, b)| b)
            .ok_or_else(|| SandboxError::from(said("sandbox.err.bundle").arg("detail", version)))
    };
    let build_dir = sandbox_dir.join("build");
    // Looked for before and again under the build lock (another process may
    // have built them meanwhile).
    let mut lock = None;
    loop {
        if let Some(bundles) = all() {
            for (_, b) in &bundles {
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
    existing_for(sandbox_dir, Edition::Classic, version)
}

/// [`existing_of`] for the bundle of `edition`.
pub fn existing_for(sandbox_dir: &Path, edition: Edition, version: &str) -> Option<Bundle> {
    let dir = bundle_dir_for(sandbox_dir, edition, version);
    let recorded = std::fs::read_to_string(dir.join(".recipe")).ok()?;
    if recorded.trim() != product_recipe() {
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
    if components(edition, version)
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
    let wanted = manifest(edition, version, bundle.manifest.images.clone());
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
        // The replicated edition's components are the classic one's and more.
        let refs: Vec<String> = components(Edition::Replicated, version)
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
        for edition in Edition::ALL {
            let source = build_dir.join("product");
            std::fs::create_dir_all(&source).map_err(SandboxError::io(&source))?;
            let text = serde_yaml::to_string(&manifest(edition, version, Vec::new()))
                .map_err(|e| said("sandbox.err.bundle").arg("detail", e))?;
            let path = source.join(MANIFEST_FILE);
            std::fs::write(&path, text).map_err(SandboxError::io(&path))?;
            let out = bundle_dir_for(sandbox_dir, edition, version);
            // The sandbox's own cache, made anew: one an older cdwiz wrote
            // (a manifest this one no longer reads) must not stop it.
            let _ = std::fs::remove_dir_all(&out);
            let req = crate::bundle::build::BuildRequest {
                manifest: &path,
                archs: vec!["amd64".into()],
                out: &out,
            };
            crate::bundle::build::build(docker, &req, &|_| {})
                .await
                .map_err(|e| SandboxError::BundleBuild(e.messages()))?;
            std::fs::write(out.join(".recipe"), product_recipe())
                .map_err(SandboxError::io(&out))?;
        }
    }
    rootfs::consumed(&RECIPE, build_dir);
    Ok(())
}

/// A release's own small layer: the file that says which release it is,
/// and the entry script.
fn release_layer(version: &str) -> std::io::Result<Vec<u8>> {
    crate::docker::archive::layer_tar(&[
        crate::docker::archive::LayerEntry::Dir {
            path: "etc/cd-sandbox",
            mode: 0o755,
        },
        crate::docker::archive::LayerEntry::File {
            path: ENTRY.trim_start_matches('/'),
            mode: 0o755,
            data: ENTRY_SCRIPT.as_bytes(),
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
    format!("{} {}", product_recipe(), PRODUCT_ARM64.hash())
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
        (bundle.manifest == manifest(Edition::Classic, VERSION, bundle.manifest.images.clone()))
            .then_some(bundle)
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
    let refs: Vec<String> = components(Edition::Classic, VERSION)
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
    let text = serde_yaml::to_string(&manifest(Edition::Classic, VERSION, Vec::new()))
        .map_err(|e| said("sandbox.err.bundle").arg("detail", e))?;
    let path = source.join(MANIFEST_FILE);
    std::fs::write(&path, text).map_err(SandboxError::io(&path))?;
    let _ = std::fs::remove_dir_all(&dir);
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
