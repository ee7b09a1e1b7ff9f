//! Product bundles: a directory with `manifest.yaml` (the product's
//! components as data) and image archives per architecture with their
//! sha256, verified before anything is touched on a host.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST_FILE: &str = "manifest.yaml";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub product: Product,
    pub images: Vec<ImageArchive>,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Product {
    pub name: String,
    pub version: String,
}

/// One image archive (`docker save` format) in the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ImageArchive {
    /// Path relative to the bundle directory.
    pub file: PathBuf,
    /// `amd64` or `arm64`.
    pub arch: String,
    pub sha256: String,
    pub size: u64,
    /// Image references the archive provides.
    pub references: Vec<String>,
}

/// One component of the product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Component {
    pub name: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// How to tell that a component is up: a TCP connection to `port`
/// succeeds, or, with `http`, `GET <http>` on that port answers 2xx.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Health {
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid bundle manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error(
        "{path}: sha256 is {actual}, the manifest says {expected}: the file is damaged or \
         was changed; copy the bundle again"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

/// A bundle directory and its parsed manifest.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Bundle {
    /// Reads `dir/manifest.yaml`.
    pub fn open(dir: &Path) -> Result<Bundle, BundleError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| BundleError::Io {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest =
            serde_yaml::from_str(&text).map_err(|e| BundleError::Manifest {
                path: path.clone(),
                message: e.to_string(),
            })?;
        Ok(Bundle {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// Checks every image archive's size and sha256 against the manifest.
    pub fn verify(&self) -> Result<(), BundleError> {
        for image in &self.manifest.images {
            let path = self.dir.join(&image.file);
            let actual = sha256_file(&path)?;
            if actual != image.sha256 {
                return Err(BundleError::Checksum {
                    path,
                    expected: image.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }
}

/// The sha256 of a file, in hex, read in a streaming way.
pub fn sha256_file(path: &Path) -> Result<String, BundleError> {
    let io = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}
