//! `cdwiz bundle build`: the vendor's offline bundle made from a product
//! manifest and the images in a Docker engine. Per architecture, every image
//! the manifest names is found (as its own tag, or as `<tag>-<arch>` when
//! the engine holds another architecture's build under the plain tag),
//! exported with `/images/get`, and rewritten into one archive with fixed
//! timestamps and owners and the manifest's names as its tags, so building
//! twice from the same images gives the same bytes. Nothing is written
//! until every image of every architecture is found; the bundle appears
//! whole (staged beside its place, checked as `bundle verify` checks it,
//! then renamed) or not at all.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;

use super::{ImageArchive, MANIFEST_FILE, Manifest};
use crate::i18n::Msg;

/// What to build.
pub struct BuildRequest<'a> {
    /// The product's manifest (its `images` are replaced).
    pub manifest: &'a Path,
    /// Architectures to carry: `amd64`, `arm64` (none: the engine's own).
    pub archs: Vec<String>,
    /// The bundle directory to write (replaced if it holds a bundle).
    pub out: &'a Path,
}

/// Progress of a build.
#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// An image was found for an architecture (under `source`).
    Found {
        arch: String,
        reference: String,
        source: String,
    },
    /// Bytes of an architecture's archive written so far, of about `total`.
    Writing {
        arch: String,
        bytes: u64,
        total: u64,
    },
    /// An architecture's archive is complete.
    Written {
        arch: String,
        file: PathBuf,
        sha256: String,
        size: u64,
    },
}

/// Why a build wrote nothing.
#[derive(Debug)]
pub enum BuildError {
    /// The input is wrong (a missing or wrong-architecture image, a bad
    /// manifest, an output directory that is not a bundle): every problem.
    Input(Vec<Msg>),
    /// Something failed on the way (the engine, the disk).
    Failed(Msg),
}

impl BuildError {
    pub fn messages(&self) -> Vec<Msg> {
        match self {
            BuildError::Input(m) => m.clone(),
            BuildError::Failed(m) => vec![m.clone()],
        }
    }
}

/// The architectures cdwiz installs, by the name Docker and the bundle use;
/// `x86_64` and `aarch64` are taken as their aliases.
pub fn normalize_arch(arch: &str) -> Option<&'static str> {
    match arch.trim() {
        "amd64" | "x86_64" => Some("amd64"),
        "arm64" | "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// The tag an architecture's build may carry beside the plain one:
/// `repo:tag` → `repo:tag-arm64` (`repo` → `repo:latest-arm64`); none for
/// a reference by digest.
pub fn arch_tag(reference: &str, arch: &str) -> Option<String> {
    if reference.contains('@') {
        return None;
    }
    let name_start = reference.rfind('/').map_or(0, |i| i + 1);
    if reference[name_start..].contains(':') {
        Some(format!("{reference}-{arch}"))
    } else {
        Some(format!("{reference}:latest-{arch}"))
    }
}

/// One image found for one architecture.
#[derive(Debug, Clone)]
struct Found {
    reference: String,
    source: String,
    /// The image's config digest, hex (the archive's `<hex>.json`).
    id: String,
    size: u64,
}

/// Builds the bundle; see the module's description.
pub async fn build(
    docker: &Docker,
    req: &BuildRequest<'_>,
    progress: &(dyn Fn(BuildEvent) + Sync),
) -> Result<Manifest, BuildError> {
    let mut manifest = read_manifest(req.manifest)?;
    let archs = archs(docker, &req.archs).await?;
    let out_problem = output_problem(req.out, req.manifest);
    let mut problems: Vec<Msg> = out_problem.into_iter().collect();
    let mut found: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for arch in &archs {
        match find_images(docker, &manifest, arch).await? {
            Ok(images) => {
                for f in &images {
                    progress(BuildEvent::Found {
                        arch: arch.clone(),
                        reference: f.reference.clone(),
                        source: f.source.clone(),
                    });
                }
                found.insert(arch.clone(), images);
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(BuildError::Input(problems));
    }
    let staging = staging_dir(req.out);
    let result = write_bundle(docker, req, &mut manifest, &found, &staging, progress).await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if let Err(problems) = super::verify::verify(&staging) {
        let _ = std::fs::remove_dir_all(&staging);
        let mut m = Msg::new("bundle.build.unverified").arg("count", problems.len());
        if let Some(first) = problems.into_iter().next() {
            m = m.arg_msg("problem", first);
        }
        return Err(BuildError::Failed(m));
    }
    if let Err(m) = replace_dir(&staging, req.out) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(BuildError::Failed(m));
    }
    Ok(manifest)
}

/// The product manifest to build from, checked as a bundle's is (its
/// `images` emptied: the build fills them in).
fn read_manifest(path: &Path) -> Result<Manifest, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        BuildError::Input(vec![
            Msg::new("bundle.io")
                .arg("path", path.display())
                .arg("error", e),
        ])
    })?;
    let bad = |error: String| {
        BuildError::Input(vec![
            Msg::new("bundle.manifest")
                .arg("path", path.display())
                .arg("error", error),
        ])
    };
    let mut manifest: Manifest = serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    manifest.images.clear();
    let mut problems = manifest.problems();
    let dir = path.parent().unwrap_or(Path::new("."));
    for c in &manifest.components {
        for f in c.configs.keys() {
            let template = format!("{f}.j2");
            if !crate::bundle::templates::has_template(Some(dir), &template) {
                problems.push(format!(
                    "component {}: the template templates/{template} is neither beside the \
                     manifest nor built into cdwiz",
                    c.name
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(bad(problems.join("; ")));
    }
    Ok(manifest)
}

/// The requested architectures, normalized and deduplicated; none: the
/// engine's own.
async fn archs(docker: &Docker, requested: &[String]) -> Result<Vec<String>, BuildError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for a in requested.iter().flat_map(|a| a.split(',')) {
        match normalize_arch(a) {
            Some(n) if !out.iter().any(|o| o == n) => out.push(n.to_string()),
            Some(_) => {}
            None => problems.push(Msg::new("bundle.build.arch-unknown").arg("arch", a.trim())),
        }
    }
    if !problems.is_empty() {
        return Err(BuildError::Input(problems));
    }
    if out.is_empty() {
        let v = docker
            .version()
            .await
            .map_err(|e| BuildError::Failed(Msg::new("bundle.build.engine").arg("error", e)))?;
        let own = v.arch.unwrap_or_default();
        out.push(
            normalize_arch(&own)
                .ok_or_else(|| {
                    BuildError::Input(vec![Msg::new("bundle.build.arch-unknown").arg("arch", own)])
                })?
                .to_string(),
        );
    }
    Ok(out)
}

/// A problem with the output directory: it is the manifest's own folder,
/// or it exists, is not empty and is not a bundle (a bundle there is
/// replaced; anything else is left alone).
fn output_problem(out: &Path, manifest: &Path) -> Option<Msg> {
    let source = manifest.parent().unwrap_or(Path::new("."));
    let same = match (std::fs::canonicalize(out), std::fs::canonicalize(source)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Some(Msg::new("bundle.build.out-is-source").arg("dir", out.display()));
    }
    let entries: Vec<String> = std::fs::read_dir(out)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    let only_bundle_parts = entries
        .iter()
        .all(|n| [MANIFEST_FILE, "images", "templates"].contains(&n.as_str()));
    let built = super::Bundle::open(out).is_ok_and(|b| !b.manifest.images.is_empty());
    if entries.is_empty() || (only_bundle_parts && built) {
        return None;
    }
    Some(Msg::new("bundle.build.out-not-bundle").arg("dir", out.display()))
}

/// Every image of the manifest for `arch`, or every one that is missing or
/// of another architecture. The outer error: the engine failed.
async fn find_images(
    docker: &Docker,
    manifest: &Manifest,
    arch: &str,
) -> Result<Result<Vec<Found>, Vec<Msg>>, BuildError> {
    let mut references: Vec<&str> = Vec::new();
    for c in &manifest.components {
        if !references.contains(&c.image.as_str()) {
            references.push(&c.image);
        }
    }
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for reference in references {
        let mut candidates = vec![reference.to_string()];
        candidates.extend(arch_tag(reference, arch));
        let mut other = None;
        let mut hit = None;
        for source in &candidates {
            let image = match docker.inspect_image(source).await {
                Ok(i) => i,
                Err(e) if crate::docker::is_not_found(&e) => continue,
                Err(e) => {
                    return Err(BuildError::Failed(
                        Msg::new("bundle.build.engine").arg("error", e),
                    ));
                }
            };
            let (os, image_arch) = (
                image.os.clone().unwrap_or_default(),
                image.architecture.clone().unwrap_or_default(),
            );
            if os == "linux" && normalize_arch(&image_arch) == Some(arch) {
                hit = Some(Found {
                    reference: reference.to_string(),
                    source: source.clone(),
                    id: image
                        .id
                        .unwrap_or_default()
                        .trim_start_matches("sha256:")
                        .to_string(),
                    size: image.size.unwrap_or(0).max(0) as u64,
                });
                break;
            }
            other.get_or_insert((source.clone(), format!("{os}/{image_arch}")));
        }
        match (hit, other) {
            (Some(f), _) => found.push(f),
            (None, Some((source, platform))) => problems.push(
                Msg::new("bundle.build.wrong-arch")
                    .arg("image", reference)
                    .arg("source", source)
                    .arg("platform", platform)
                    .arg("arch", arch)
                    .arg("tags", candidates.join(", ")),
            ),
            (None, None) => problems.push(
                Msg::new("bundle.build.image-missing")
                    .arg("image", reference)
                    .arg("arch", arch)
                    .arg("tags", candidates.join(", ")),
            ),
        }
    }
    Ok(if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    })
}

/// Where the bundle is assembled: beside its place, hidden.
fn staging_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    out.with_file_name(format!(".{name}.partial"))
}

async fn write_bundle(
    docker: &Docker,
    req: &BuildRequest<'_>,
    manifest: &mut Manifest,
    found: &BTreeMap<String, Vec<Found>>,
    staging: &Path,
    progress: &(dyn Fn(BuildEvent) + Sync),
) -> Result<(), BuildError> {
    let io = |path: &Path, e: std::io::Error| {
        BuildError::Failed(
            Msg::new("bundle.io")
                .arg("path", path.display())
                .arg("error", e),
        )
    };
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(|e| io(staging, e))?;
    }
    for (arch, images) in found {
        let rel = PathBuf::from(format!(
            "images/{arch}/{}-{}-{arch}.tar",
            manifest.product.name, manifest.product.version
        ));
        let path = staging.join(&rel);
        let parent = path.parent().unwrap_or(staging);
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        let (sha256, size) = export(docker, arch, images, &path, progress).await?;
        progress(BuildEvent::Written {
            arch: arch.clone(),
            file: rel.clone(),
            sha256: sha256.clone(),
            size,
        });
        let mut references: Vec<String> = images.iter().map(|f| f.reference.clone()).collect();
        references.sort();
        manifest.images.push(ImageArchive {
            file: rel,
            arch: arch.clone(),
            sha256,
            size,
            references,
        });
    }
    let templates = req
        .manifest
        .parent()
        .unwrap_or(Path::new("."))
        .join("templates");
    if templates.is_dir() {
        copy_tree(&templates, &staging.join("templates")).map_err(|e| io(&templates, e))?;
    }
    let text = serde_yaml::to_string(&*manifest)
        .map_err(|e| BuildError::Failed(Msg::new("bundle.build.engine").arg("error", e)))?;
    let path = staging.join(MANIFEST_FILE);
    std::fs::write(&path, text).map_err(|e| io(&path, e))
}

/// Exports `images` from the engine into one archive at `path`, rewritten
/// (see [`normalize`]); its sha256 and size.
async fn export(
    docker: &Docker,
    arch: &str,
    images: &[Found],
    path: &Path,
    progress: &(dyn Fn(BuildEvent) + Sync),
) -> Result<(String, u64), BuildError> {
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sources: Vec<&str> = Vec::new();
    let mut total = 0;
    for f in images {
        let names = tags.entry(f.id.clone()).or_default();
        if names.is_empty() {
            sources.push(&f.source);
            total += f.size;
        }
        names.push(f.reference.clone());
    }
    let stream = docker.export_images(&sources);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
        futures_util::TryStreamExt::map_err(stream, std::io::Error::other),
    ));
    let read = Arc::new(AtomicU64::new(0));
    let counter = read.clone();
    let out = path.to_path_buf();
    let mut task = tokio::task::spawn_blocking(move || {
        super::rewrite::normalize(
            Counting {
                inner: reader,
                count: counter,
            },
            &out,
            &tags,
        )
    });
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut shown = None;
    let result = loop {
        tokio::select! {
            r = &mut task => break r,
            _ = tick.tick() => {
                let bytes = read.load(Ordering::Relaxed);
                if shown != Some(bytes) {
                    shown = Some(bytes);
                    progress(BuildEvent::Writing { arch: arch.to_string(), bytes, total });
                }
            }
        }
    };
    let failed = |error: String| {
        BuildError::Failed(
            Msg::new("bundle.build.export")
                .arg("arch", arch)
                .arg("file", path.display())
                .arg("error", error),
        )
    };
    result
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))
}

/// A reader that counts what passes through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Copies a directory of templates (regular files and folders only).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Puts the staged bundle in place of `out` (whose earlier bundle, if
/// any, goes only once the new one is there).
fn replace_dir(staging: &Path, out: &Path) -> Result<(), Msg> {
    let io = |path: &Path, e: std::io::Error| {
        Msg::new("bundle.io")
            .arg("path", path.display())
            .arg("error", e)
    };
    let old = staging.with_extension("old");
    if out.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).map_err(|e| io(out, e))?;
    }
    std::fs::rename(staging, out).map_err(|e| io(out, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_tags() {
        assert_eq!(
            arch_tag("cd/mysql:5.7", "arm64").unwrap(),
            "cd/mysql:5.7-arm64"
        );
        assert_eq!(
            arch_tag("cd/mysql", "arm64").unwrap(),
            "cd/mysql:latest-arm64"
        );
        assert_eq!(
            arch_tag("reg.example:5000/cd/web", "amd64").unwrap(),
            "reg.example:5000/cd/web:latest-amd64"
        );
        assert_eq!(arch_tag("cd/web@sha256:00", "amd64"), None);
        assert_eq!(normalize_arch("x86_64"), Some("amd64"));
        assert_eq!(normalize_arch("aarch64"), Some("arm64"));
        assert_eq!(normalize_arch("s390x"), None);
    }
}
