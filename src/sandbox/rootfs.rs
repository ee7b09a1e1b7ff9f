//! The sandbox's root filesystems come from the `cdwiz-sandbox-rootfs` crate
//! (so `scripts/demo` can prepare them while cdwiz compiles); this is its
//! bridge into cdwiz's async world and errors.

use std::path::{Path, PathBuf};

pub use cdwiz_sandbox_rootfs::{
    HOST, HOST_ARM64, MIRROR_ENV, PRODUCT, PRODUCT_ARM64, PRODUCT_ENTRY, Recipe, VM_BOOT,
    VM_CARRIER,
};

use super::{SandboxError, said};

/// `recipe`'s root filesystem tarball in `build_dir`, built unless a prefetch
/// (or an earlier run that stopped before making it an image) left it there.
pub async fn prepare(recipe: &'static Recipe, build_dir: &Path) -> Result<PathBuf, SandboxError> {
    let dir = build_dir.to_path_buf();
    tokio::task::spawn_blocking(move || cdwiz_sandbox_rootfs::prepare(recipe, &dir))
        .await
        .map_err(|e| said("sandbox.err.task").arg("error", e))?
        .map_err(SandboxError::Rootfs)
}

/// Once the tarball is an image: it goes, and a mark says a prefetch need not
/// make it again.
pub fn consumed(recipe: &Recipe, build_dir: &Path) {
    let _ = std::fs::remove_file(recipe.tarball(build_dir));
    let _ = std::fs::write(recipe.used_mark(build_dir), "");
}

/// Takes the machine-wide lock at `path` (one build of a kind at a time,
/// whoever asks: parallel tests, two terminals). Released on drop.
pub async fn lock(path: &Path) -> Result<std::fs::File, SandboxError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || cdwiz_sandbox_rootfs::lock(&owned))
        .await
        .map_err(|e| said("sandbox.err.task").arg("error", e))?
        .map_err(SandboxError::Rootfs)
}
