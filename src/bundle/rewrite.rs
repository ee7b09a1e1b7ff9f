//! A `docker save` stream rewritten into a bundle's archive: the same
//! entries in the engine's order with fixed times and owners, and
//! `manifest.json` naming each image by the manifest's references, so the
//! same images give the same bytes whenever and under whichever tag they
//! were saved.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Rewrites a `docker save` stream into `out`: entries in the order the
/// engine wrote them with mtime 0 and owner root, `manifest.json` naming
/// each image by the references in `tags` (keyed by config digest), and
/// the engine's other indexes (`repositories`, an OCI `index.json`) left
/// out so nothing names the source tags. Returns sha256 and size.
pub fn normalize(
    input: impl Read,
    out: &Path,
    tags: &BTreeMap<String, Vec<String>>,
) -> std::io::Result<(String, u64)> {
    let file = std::fs::File::create(out)?;
    let mut builder = tar::Builder::new(Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        size: 0,
    });
    builder.mode(tar::HeaderMode::Deterministic);
    let mut named = BTreeSet::new();
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let name = path.to_string_lossy().into_owned();
        if matches!(name.as_str(), "repositories" | "index.json" | "oci-layout") {
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(entry.header().mode()?);
        let kind = entry.header().entry_type();
        header.set_entry_type(kind);
        if name == "manifest.json" {
            let mut text = Vec::new();
            entry.read_to_end(&mut text)?;
            let data = retag(&text, tags, &mut named)?;
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, &path, &data[..])?;
        } else if kind.is_dir() {
            header.set_size(0);
            builder.append_data(&mut header, &path, std::io::empty())?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name()?
                .ok_or_else(|| std::io::Error::other(format!("{name}: a link without a target")))?
                .into_owned();
            header.set_size(0);
            builder.append_link(&mut header, &path, &target)?;
        } else if kind.is_file() {
            header.set_size(entry.header().size()?);
            builder.append_data(&mut header, &path, &mut entry)?;
        } else {
            return Err(std::io::Error::other(format!(
                "{name}: an entry of type {kind:?}, which image archives do not hold"
            )));
        }
    }
    let wanted: BTreeSet<&String> = tags.values().flatten().collect();
    let missing: Vec<&&String> = wanted.iter().filter(|t| !named.contains(**t)).collect();
    if !missing.is_empty() {
        return Err(std::io::Error::other(format!(
            "the engine's archive lacks {missing:?}"
        )));
    }
    let mut hashing = builder.into_inner()?;
    hashing.flush()?;
    let Hashing {
        inner,
        hasher,
        size,
    } = hashing;
    inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok((format!("{:x}", hasher.finalize()), size))
}

/// `manifest.json` with each image's `RepoTags` set to the references its
/// config digest stands for; `named` collects them.
fn retag(
    text: &[u8],
    tags: &BTreeMap<String, Vec<String>>,
    named: &mut BTreeSet<String>,
) -> std::io::Result<Vec<u8>> {
    let mut entries: Vec<serde_json::Value> = serde_json::from_slice(text)?;
    for e in &mut entries {
        let config = e["Config"].as_str().unwrap_or_default();
        let digest = config
            .rsplit('/')
            .next()
            .unwrap_or(config)
            .trim_end_matches(".json");
        let names = tags.get(digest).ok_or_else(|| {
            std::io::Error::other(format!(
                "the engine exported an image not asked for ({config})"
            ))
        })?;
        named.extend(names.iter().cloned());
        e["RepoTags"] = serde_json::json!(names);
    }
    Ok(serde_json::to_vec(&entries)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `docker save`-like archive with engine timestamps and a source
    /// tag becomes one naming the wanted references, with no timestamps:
    /// the same images give the same bytes whenever they were saved.
    #[test]
    fn normalized_archives_name_the_manifest_references_and_drop_times() {
        let save = |mtime: u64| {
            let mut b = tar::Builder::new(Vec::new());
            let mut add = |path: &str, data: &[u8]| {
                let mut h = tar::Header::new_gnu();
                h.set_mtime(mtime);
                h.set_uid(1000);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data).unwrap();
            };
            add("abc.json", b"{}");
            add("l1/layer.tar", b"layer bytes");
            add(
                "manifest.json",
                br#"[{"Config":"abc.json","RepoTags":["src:1-arm64"],"Layers":["l1/layer.tar"]}]"#,
            );
            add("repositories", br#"{"src":{"1-arm64":"l1"}}"#);
            b.into_inner().unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let tags = BTreeMap::from([("abc".to_string(), vec!["cd/x:1".to_string()])]);
        let (a, _) = normalize(&save(100)[..], &dir.path().join("a.tar"), &tags).unwrap();
        let (b, size) = normalize(&save(200)[..], &dir.path().join("b.tar"), &tags).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            size,
            std::fs::metadata(dir.path().join("b.tar")).unwrap().len()
        );
        let mut names = Vec::new();
        let mut manifest = String::new();
        let file = std::fs::File::open(dir.path().join("b.tar")).unwrap();
        for e in tar::Archive::new(file).entries().unwrap() {
            let mut e = e.unwrap();
            assert_eq!(e.header().mtime().unwrap(), 0);
            let p = e.path().unwrap().to_string_lossy().into_owned();
            if p == "manifest.json" {
                e.read_to_string(&mut manifest).unwrap();
            }
            names.push(p);
        }
        assert_eq!(names, ["abc.json", "l1/layer.tar", "manifest.json"]);
        assert!(manifest.contains(r#""RepoTags":["cd/x:1"]"#), "{manifest}");

        let other = BTreeMap::from([("zzz".to_string(), vec!["cd/x:1".to_string()])]);
        let err = normalize(&save(1)[..], &dir.path().join("c.tar"), &other).unwrap_err();
        assert!(err.to_string().contains("not asked for"), "{err}");
    }
}
