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
            if !crate::bundle::templates::has_template(Some(dir), &template) {
                problems.push(
                    Msg::new("bundle.verify.template-absent")
                        .arg("component", &c.name)
                        .arg("template", format!("templates/{template}")),
                );
            }
        }
    }
    template_problems(&dir.join("templates"), &mut problems);
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

/// The bundle's templates keep to their folder: no file there resolves
/// outside it (a symlink), and no template names another by an absolute
/// or stepping-out name (`{% include "/etc/passwd" %}`). A name computed
/// at render time is refused then, by the same rule.
fn template_problems(templates: &Path, problems: &mut Vec<Msg>) {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let link = e.file_type().is_ok_and(|t| t.is_symlink());
            if p.is_dir() && !link {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(templates, &mut files);
    files.sort();
    for p in files {
        let Ok(name) = p.strip_prefix(templates) else {
            continue;
        };
        let name = name.to_string_lossy();
        if let Err(why) = crate::bundle::templates::template_file(templates, &name) {
            problems.push(Msg::new("bundle.verify.template-unsafe").arg("why", why));
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        for named in named_templates(&text) {
            if let Err(why) = crate::bundle::templates::template_file(templates, &named) {
                problems.push(
                    Msg::new("bundle.verify.template-unsafe")
                        .arg("why", format!("templates/{name}: {why}")),
                );
            }
        }
    }
}

/// The names a template's `include`, `import`, `from` and `extends` tags
/// give as string literals.
fn named_templates(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tag in text.split("{%").skip(1) {
        let body = tag.split("%}").next().unwrap_or("");
        let body = body.trim_start_matches(['-', '+']).trim_start();
        let keyword = body.split_whitespace().next().unwrap_or("");
        if !matches!(keyword, "include" | "import" | "from" | "extends") {
            continue;
        }
        // Every quoted literal in the tag (a list of names included too).
        let mut rest = &body[keyword.len()..];
        while let Some(start) = rest.find(['"', '\'']) {
            let quote = rest[start..].chars().next().unwrap_or('"');
            let after = &rest[start + 1..];
            let Some(end) = after.find(quote) else {
                break;
            };
            out.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    out
}

#[cfg(test)]
mod template_tests {
    use super::*;

    #[test]
    fn literal_template_names_are_found() {
        let t = "a {% include \"/etc/passwd\" %} b {%- import 'x/../../y' as m -%}\n\
                 {% from \"ok.j2\" import f %}{% if x %}{% include ['a.j2', \"b.j2\"] %}{% endif %}";
        assert_eq!(
            named_templates(t),
            ["/etc/passwd", "x/../../y", "ok.j2", "a.j2", "b.j2"]
        );
    }

    #[test]
    fn a_template_reaching_out_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("templates");
        std::fs::create_dir(&t).unwrap();
        std::fs::write(t.join("a.conf.j2"), "{% include \"/etc/passwd\" %}").unwrap();
        std::fs::write(t.join("b.conf.j2"), "{% include \"sub/c.j2\" %}").unwrap();
        std::fs::create_dir(t.join("sub")).unwrap();
        std::fs::write(t.join("sub/c.j2"), "fine").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", t.join("d.conf.j2")).unwrap();
        let mut problems = Vec::new();
        template_problems(&t, &mut problems);
        let said: Vec<String> = problems.iter().map(|m| m.render("en")).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("/etc/passwd"), "{said:?}");
        assert!(
            said[1].contains("d.conf.j2") && said[1].contains("leads out"),
            "{said:?}"
        );
    }
}
