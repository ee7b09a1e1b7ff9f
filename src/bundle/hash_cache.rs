//! The sha256 of the bundle's image archives, remembered by what the file
//! system says of each file (device, inode, size, modification and change
//! time): an unchanged bundle is not read again on every run (a second or
//! more of hashing), while any write to an archive (which moves its change
//! time, something no user can set back) makes it hashed again.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BundleError, sha256_file};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        })
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Entry {
    stamp: Option<Stamp>,
    sha256: String,
}

/// Hashes remembered in one file (0600), by the archive's full path.
pub struct HashCache {
    file: std::path::PathBuf,
    entries: BTreeMap<String, Entry>,
    dirty: bool,
}

impl HashCache {
    /// The cache kept in `file` (empty when it is missing or unreadable).
    pub fn open(file: &Path) -> HashCache {
        let entries = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        HashCache {
            file: file.to_path_buf(),
            entries,
            dirty: false,
        }
    }

    /// The file's sha256: remembered while the file is unchanged, else read.
    pub fn sha256(&mut self, path: &Path) -> Result<String, BundleError> {
        let key = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
        let stamp = Stamp::of(path);
        if let Some(e) = self.entries.get(&key)
            && stamp.is_some()
            && e.stamp == stamp
        {
            return Ok(e.sha256.clone());
        }
        let sha256 = sha256_file(path)?;
        // A stamp taken after the read: a file written meanwhile does not
        // match it next time.
        if stamp.is_some() && Stamp::of(path) == stamp {
            self.entries.insert(
                key,
                Entry {
                    stamp,
                    sha256: sha256.clone(),
                },
            );
            self.dirty = true;
        }
        Ok(sha256)
    }

    /// Writes what was learned (best effort: a cache that cannot be
    /// written only costs a hash next time).
    pub fn save(&self) {
        if !self.dirty {
            return;
        }
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(text) = serde_json::to_string_pretty(&self.entries) {
            let _ = crate::rundir::write_atomic(&self.file, &text);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn remembered_until_the_file_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a.tar");
        std::fs::write(&f, b"one").unwrap();
        let cache = tmp.path().join("cache.json");
        let mut c = super::HashCache::open(&cache);
        let first = c.sha256(&f).unwrap();
        c.save();
        let mut c = super::HashCache::open(&cache);
        assert_eq!(c.sha256(&f).unwrap(), first);
        assert!(!c.dirty, "an unchanged file was hashed again");
        std::fs::write(&f, b"two").unwrap();
        let second = c.sha256(&f).unwrap();
        assert_ne!(second, first);
        assert_eq!(second, super::sha256_file(&f).unwrap());
    }
}
