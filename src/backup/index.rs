//! A backup's index, `backup.json`: which installation and release it is
//! of, when it was taken, and each part with its size and sha256, so that
//! a part changed by one byte, cut off or missing is found before anything
//! trusts it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::i18n::Msg;

/// The index's file name in a backup's folder.
pub const INDEX_FILE: &str = "backup.json";
/// The layout this cdwiz writes and reads.
pub const FORMAT: u32 = 1;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Index {
    pub format: u32,
    /// The installation it is of (its id).
    pub install: String,
    pub product: String,
    /// The release the hosts ran when it was taken.
    pub version: String,
    /// When it was taken (UTC, RFC 3339): the data is of that time.
    pub created: String,
    pub hosts: Vec<String>,
    pub parts: Vec<Part>,
    /// What it leaves out on purpose (e.g. `secrets`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

/// What a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A stateful component's data, as its `backup.dump` wrote it.
    Data,
    /// A host's rendered configuration and install record.
    Host,
    /// The installation's generated secrets (only when asked for).
    Secrets,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Part {
    /// The component (data), the host (host), `secrets`.
    pub name: String,
    pub kind: Kind,
    /// Where it was taken (data: the member's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The image whose `backup.check` proves it (data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its path inside the backup's folder.
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

/// A running sha256 and size of what is written.
#[derive(Default)]
pub struct Summer {
    hasher: Sha256,
    size: u64,
}

impl Summer {
    pub fn add(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Size and sha256 (hex).
    pub fn finish(self) -> (u64, String) {
        (self.size, format!("{:x}", self.hasher.finalize()))
    }
}

/// Size and sha256 of a file, read in pieces.
pub fn sum_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut summer = Summer::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(summer.finish());
        }
        summer.add(&buf[..n]);
    }
}

/// Reads a backup's index; what is wrong, naming the file.
pub fn read(dir: &Path) -> Result<Index, Msg> {
    let path = dir.join(INDEX_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Msg::new("backup.error.no-index")
            .arg("path", path.display())
            .arg("error", e)
    })?;
    let index: Index = serde_json::from_str(&text).map_err(|e| {
        Msg::new("backup.error.bad-index")
            .arg("path", path.display())
            .arg("error", e)
    })?;
    if index.format != FORMAT {
        return Err(Msg::new("backup.error.format")
            .arg("path", path.display())
            .arg("format", index.format));
    }
    Ok(index)
}

/// The part's file inside `dir`, when its name stays inside it (a backup
/// is untrusted input: no absolute path, no `..`).
pub fn part_path(dir: &Path, part: &Part) -> Option<PathBuf> {
    let inside = !part.file.is_empty()
        && !part.file.starts_with('/')
        && part
            .file
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
    inside.then(|| dir.join(&part.file))
}

/// Each part whose file is missing, of another size or another sha256:
/// what is wrong with it.
pub fn check_sums(dir: &Path, index: &Index) -> Vec<Msg> {
    let mut out = Vec::new();
    for part in &index.parts {
        let Some(path) = part_path(dir, part) else {
            out.push(Msg::new("backup.error.part-outside").arg("file", &part.file));
            continue;
        };
        match sum_file(&path) {
            Err(e) => out.push(
                Msg::new("backup.error.part-missing")
                    .arg("file", &part.file)
                    .arg("error", e),
            ),
            Ok((size, sum)) if size != part.size || sum != part.sha256 => out.push(
                Msg::new("backup.error.part-changed")
                    .arg("file", &part.file)
                    .arg("size", size)
                    .arg("recorded", part.size),
            ),
            Ok(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(parts: Vec<Part>) -> Index {
        Index {
            format: FORMAT,
            install: "i-1".into(),
            product: "p".into(),
            version: "1".into(),
            created: "2026-12-08T00:00:00Z".into(),
            hosts: vec![],
            parts,
            left_out: vec![],
        }
    }

    #[test]
    fn a_flipped_byte_a_cut_and_a_path_outside_are_each_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.dump"), b"hello world").unwrap();
        let (size, sha256) = sum_file(&dir.path().join("a.dump")).unwrap();
        let part = |file: &str| Part {
            name: "database".into(),
            kind: Kind::Data,
            host: None,
            image: None,
            file: file.into(),
            size,
            sha256: sha256.clone(),
        };
        let i = index(vec![part("a.dump")]);
        assert!(check_sums(dir.path(), &i).is_empty());
        std::fs::write(dir.path().join("a.dump"), b"hello worle").unwrap();
        let found = check_sums(dir.path(), &i);
        assert_eq!(found.len(), 1);
        assert!(found[0].render("en").contains("a.dump"), "{found:?}");
        std::fs::write(dir.path().join("a.dump"), b"hello").unwrap();
        assert!(
            check_sums(dir.path(), &i)[0]
                .render("en")
                .contains("5 bytes")
        );
        let outside = index(vec![part("../a.dump"), part("/etc/passwd")]);
        assert_eq!(check_sums(dir.path(), &outside).len(), 2);
        let missing = index(vec![part("b.dump")]);
        assert!(
            check_sums(dir.path(), &missing)[0]
                .render("en")
                .contains("b.dump")
        );
    }

    #[test]
    fn an_index_of_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut i = index(vec![]);
        i.format = 9;
        std::fs::write(
            dir.path().join(INDEX_FILE),
            serde_json::to_string(&i).unwrap(),
        )
        .unwrap();
        assert!(read(dir.path()).unwrap_err().render("en").contains("9"));
        assert!(read(&dir.path().join("nothing")).is_err());
    }
}
