//! `cdwiz bundle verify DIR`: everything a deploy relies on in a bundle,
//! checked before it travels — the manifest, each archive present with its
//! sha256, each image the manifest names inside its archive (`docker save`
//! format: the tags in the archive's `manifest.json`), and the template of
//! every config file a component mounts.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use super::{Bundle, sha256_file};
use crate::i18n::Msg;

/// What was checked, when nothing is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub archives: usize,
    pub images: usize,
    pub components: usize,
}

/// Every problem of the bundle in `dir` (none: `Ok`).
pub fn verify(dir: &Path) -> Result<Verified, Vec<Msg>> {
    let bundle = Bundle::open(dir).map_err(|e| vec![e.message()])?;
    let mut problems = Vec::new();
    for a in &bundle.manifest.images {
        let path = dir.join(&a.file);
        let file = a.file.display().to_string();
        if !path.is_file() {
            problems.push(Msg::new("bundle.verify.missing").arg("file", &file));
            continue;
        }
        match sha256_file(&path) {
            Ok(sum) if sum != a.sha256 => problems.push(
                Msg::new("bundle.verify.checksum")
                    .arg("file", &file)
                    .arg("have", sum)
                    .arg("want", &a.sha256),
            ),
            Ok(_) => {}
            Err(e) => problems.push(e.message()),
        }
        match archive_tags(&path) {
            Ok(tags) => {
                for r in a.references.iter().filter(|r| !tags.contains(*r)) {
                    problems.push(
                        Msg::new("bundle.verify.image-absent")
                            .arg("file", &file)
                            .arg("image", r),
                    );
                }
            }
            Err(e) => problems.push(
                Msg::new("bundle.verify.unreadable")
                    .arg("file", &file)
                    .arg("error", e),
            ),
        }
    }
    for c in &bundle.manifest.components {
        for f in c.configs.keys() {
            let template = format!("{f}.j2");
            if !crate::render::has_template(Some(dir), &template) {
                problems.push(
                    Msg::new("bundle.verify.template-absent")
                        .arg("component", &c.name)
                        .arg("template", format!("templates/{template}")),
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Verified {
        archives: bundle.manifest.images.len(),
        images: bundle
            .manifest
            .images
            .iter()
            .map(|a| a.references.len())
            .sum(),
        components: bundle.manifest.components.len(),
    })
}

/// The image tags a `docker save` archive holds (its `manifest.json`),
/// found without reading the layers (entries are skipped by seeking).
fn archive_tags(path: &Path) -> Result<BTreeSet<String>, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "RepoTags", default)]
        repo_tags: Option<Vec<String>>,
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(file);
    for entry in archive.entries_with_seek().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = entry.path().map_err(|e| e.to_string())?.into_owned();
        if name != Path::new("manifest.json") {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).map_err(|e| e.to_string())?;
        let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        return Ok(entries
            .into_iter()
            .flat_map(|e| e.repo_tags.unwrap_or_default())
            .collect());
    }
    Err("no manifest.json: not a `docker save` archive".into())
}
