//! A bundle's image archive (`docker save` format, uncompressed) seen as
//! what a registry stores: per image its config and layers as blobs, each
//! found by its place in the tar so it streams from the file as it is,
//! and the OCI image manifest that names them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
const LAYER_GZIP_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The most an image's config may hold (it is read into memory).
const CONFIG_MAX: u64 = 16 << 20;

/// One blob: where its bytes are in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The archive it is in.
    pub file: PathBuf,
    pub digest: String,
    pub size: u64,
    /// Offset of its first byte in the archive file.
    pub offset: u64,
    pub media_type: &'static str,
}

/// One image of an archive, ready to push.
#[derive(Debug, Clone)]
pub struct Image {
    /// `amd64`, `arm64`: its config's architecture.
    pub arch: String,
    /// The references the archive names it by.
    pub references: Vec<String>,
    pub config: Blob,
    pub layers: Vec<Blob>,
    /// The OCI image manifest (its exact bytes: its digest names it).
    pub manifest: Vec<u8>,
}

impl Image {
    /// Config first, then the layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(&self.layers)
    }

    pub fn manifest_digest(&self) -> String {
        sha256_of(&self.manifest)
    }
}

pub fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// What is wrong with an archive (said with its path by the caller).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Format(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SavedImage {
    config: String,
    #[serde(default)]
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigFacts {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

/// A file of the archive: where its bytes are, or the entry it links to.
enum Entry {
    File { offset: u64, size: u64 },
    Link(PathBuf),
}

/// `a/b/../c` as `a/c`; `None` when it climbs out of the archive.
fn normal(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The images of the archive at `path`, each with its manifest.
pub fn read(path: &Path) -> Result<Vec<Image>, ArchiveError> {
    let bad = |s: String| ArchiveError::Format(s);
    let mut entries: BTreeMap<PathBuf, Entry> = BTreeMap::new();
    let mut small: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(path)?);
    for entry in archive.entries_with_seek()? {
        let mut entry = entry?;
        let Some(name) = normal(&entry.path()?) else {
            continue;
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let (offset, size) = (entry.raw_file_position(), entry.size());
                let text = name.to_string_lossy();
                // manifest.json and the configs are small and read now.
                if size <= CONFIG_MAX && (text == "manifest.json" || text.ends_with(".json")) {
                    let mut buf = Vec::with_capacity(size as usize);
                    entry.read_to_end(&mut buf)?;
                    small.insert(name.clone(), buf);
                }
                entries.insert(name, Entry::File { offset, size });
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let Some(target) = entry.link_name()? else {
                    continue;
                };
                let target = if entry.header().entry_type() == tar::EntryType::Symlink {
                    name.parent().unwrap_or(Path::new("")).join(target)
                } else {
                    target.into_owned()
                };
                if let Some(t) = normal(&target) {
                    entries.insert(name, Entry::Link(t));
                }
            }
            _ => {}
        }
    }
    let resolve = |name: &str| -> Option<(u64, u64)> {
        let mut p = normal(Path::new(name))?;
        for _ in 0..8 {
            match entries.get(&p)? {
                Entry::File { offset, size } => return Some((*offset, *size)),
                Entry::Link(t) => p = t.clone(),
            }
        }
        None
    };
    let index = small
        .get(Path::new("manifest.json"))
        .ok_or_else(|| bad("no manifest.json: not a `docker save` archive".into()))?;
    let saved: Vec<SavedImage> =
        serde_json::from_slice(index).map_err(|e| bad(format!("manifest.json: {e}")))?;
    let mut file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    for (i, s) in saved.iter().enumerate() {
        let config_bytes = normal(Path::new(&s.config))
            .and_then(|p| small.get(&p))
            .ok_or_else(|| bad(format!("manifest.json[{i}]: no config {}", s.config)))?;
        let (config_offset, _) = resolve(&s.config)
            .ok_or_else(|| bad(format!("manifest.json[{i}]: no config {}", s.config)))?;
        let facts: ConfigFacts =
            serde_json::from_slice(config_bytes).map_err(|e| bad(format!("{}: {e}", s.config)))?;
        let diff_ids = facts.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        let mut layers = Vec::new();
        for (j, l) in s.layers.iter().enumerate() {
            let (offset, size) =
                resolve(l).ok_or_else(|| bad(format!("manifest.json[{i}]: no layer {l}")))?;
            let (digest, media_type) = layer_digest(&mut file, l, offset, size, diff_ids.get(j))?;
            layers.push(Blob {
                file: path.to_path_buf(),
                digest,
                size,
                offset,
                media_type,
            });
        }
        let config = Blob {
            file: path.to_path_buf(),
            digest: sha256_of(config_bytes),
            size: config_bytes.len() as u64,
            offset: config_offset,
            media_type: CONFIG_TYPE,
        };
        let manifest = OciManifest {
            schema_version: 2,
            media_type: MANIFEST_TYPE,
            config: Descriptor {
                media_type: config.media_type,
                digest: &config.digest,
                size: config.size,
            },
            layers: layers
                .iter()
                .map(|b| Descriptor {
                    media_type: b.media_type,
                    digest: &b.digest,
                    size: b.size,
                })
                .collect(),
        };
        let manifest = serde_json::to_vec(&manifest).map_err(|e| bad(e.to_string()))?;
        out.push(Image {
            arch: facts.architecture,
            references: s.repo_tags.clone(),
            config,
            layers,
            manifest,
        });
    }
    Ok(out)
}

/// A layer's digest and media type. An OCI-layout save names the blob by
/// its digest; an uncompressed layer of the older layout is its config's
/// diff id; anything else (a compressed layer) is hashed. The registry
/// checks each digest against the bytes it receives.
fn layer_digest(
    file: &mut std::fs::File,
    name: &str,
    offset: u64,
    size: u64,
    diff_id: Option<&String>,
) -> Result<(String, &'static str), ArchiveError> {
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(offset))?;
    let mut magic = [0u8; 2];
    let gzip = size >= 2 && {
        file.read_exact(&mut magic)?;
        magic == [0x1f, 0x8b]
    };
    let media_type = if gzip { LAYER_GZIP_TYPE } else { LAYER_TYPE };
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(h) = name.strip_prefix("blobs/sha256/")
        && hex(h)
    {
        return Ok((format!("sha256:{h}"), media_type));
    }
    if !gzip
        && let Some(d) = diff_id
        && d.strip_prefix("sha256:").is_some_and(hex)
    {
        return Ok((d.clone(), media_type));
    }
    file.seek(std::io::SeekFrom::Start(offset))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file.take(size), &mut hasher)?;
    Ok((format!("sha256:{:x}", hasher.finalize()), media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }

    #[test]
    fn a_saved_image_becomes_blobs_at_their_offsets_and_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let layer = vec![7u8; 3000];
        let diff = sha256_of(&layer);
        let config = format!(
            r#"{{"architecture":"arm64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff}","{diff}"]}}}}"#
        );
        let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
        add(&mut b, "abc.json", config.as_bytes());
        add(&mut b, "l1/layer.tar", &layer);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "l2/layer.tar", "../l1/layer.tar")
            .unwrap();
        add(
            &mut b,
            "manifest.json",
            br#"[{"Config":"abc.json","RepoTags":["cd/x:1","cd/y:1"],"Layers":["l1/layer.tar","l2/layer.tar"]}]"#,
        );
        b.finish().unwrap();
        drop(b);

        let images = read(&path).unwrap();
        assert_eq!(images.len(), 1);
        let img = &images[0];
        assert_eq!(img.arch, "arm64");
        assert_eq!(img.references, ["cd/x:1", "cd/y:1"]);
        assert_eq!(img.layers.len(), 2);
        assert_eq!(img.layers[0], img.layers[1], "the link is the same blob");
        assert_eq!(img.layers[0].digest, diff);
        let bytes = std::fs::read(&path).unwrap();
        let l = &img.layers[0];
        let at = l.offset as usize;
        assert_eq!(&bytes[at..at + l.size as usize], &layer[..]);
        let c = &img.config;
        assert_eq!(
            &bytes[c.offset as usize..(c.offset + c.size) as usize],
            config.as_bytes()
        );
        let m: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
        assert_eq!(m["config"]["digest"], c.digest.as_str());
        assert_eq!(m["layers"][1]["mediaType"], LAYER_TYPE);
    }

    #[test]
    fn a_file_that_is_not_a_saved_image_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
        add(&mut b, "hello.txt", b"hi");
        b.finish().unwrap();
        drop(b);
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("no manifest.json"), "{e}");
    }
}
