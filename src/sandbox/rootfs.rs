//! Root filesystems built from Debian packages (`debootstrap --variant=minbase`
//! then a customize script in a chroot): the material of every sandbox image.
//! No registry is involved; only the Debian mirror.

use std::path::Path;
use std::process::Stdio;

use sha2::{Digest, Sha256};

use super::SandboxError;

const SUITE: &str = "bookworm";
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Overrides the Debian mirror debootstrap uses.
pub const MIRROR_ENV: &str = "CDWIZ_DEBIAN_MIRROR";

/// What goes into a root filesystem.
pub struct Recipe {
    pub packages: &'static [&'static str],
    /// Shell script run once in the chroot after the packages are installed.
    pub customize: &'static str,
    /// Files placed into the root before customizing: (path, mode, content).
    pub files: &'static [(&'static str, u32, &'static str)],
}

impl Recipe {
    /// A short hash of everything that shapes the result; part of image tags.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(SUITE);
        for p in self.packages {
            h.update([0]);
            h.update(p);
        }
        h.update([1]);
        h.update(self.customize);
        for (path, mode, text) in self.files {
            h.update([2]);
            h.update(path);
            h.update(mode.to_le_bytes());
            h.update(text);
        }
        format!("{:x}", h.finalize())[..12].to_string()
    }
}

/// Builds `recipe` into `rootfs` (replacing whatever is there); logs go to
/// `<logs>/<name>-*.log`.
pub async fn build(
    recipe: &Recipe,
    rootfs: &Path,
    logs: &Path,
    name: &str,
) -> Result<(), SandboxError> {
    if !is_root() {
        return Err(SandboxError::Other(
            "building sandbox images needs root (debootstrap and chroot): run as root".into(),
        ));
    }
    if rootfs.exists() {
        std::fs::remove_dir_all(rootfs).map_err(SandboxError::io(rootfs))?;
    }
    std::fs::create_dir_all(logs).map_err(SandboxError::io(logs))?;
    let mirror = std::env::var(MIRROR_ENV).unwrap_or_else(|_| DEFAULT_MIRROR.to_string());
    let mut debootstrap = tokio::process::Command::new("debootstrap");
    debootstrap
        .arg("--variant=minbase")
        .arg(format!("--include={}", recipe.packages.join(",")))
        .arg(SUITE)
        .arg(rootfs)
        .arg(&mirror);
    run_logged(
        debootstrap,
        &logs.join(format!("{name}-debootstrap.log")),
        "debootstrap (is it installed? run scripts/setup-machine)",
    )
    .await?;
    for (path, mode, text) in recipe.files {
        write_file(&rootfs.join(path.trim_start_matches('/')), text, *mode)?;
    }
    write_file(
        &rootfs.join("tmp/cdwiz-customize.sh"),
        recipe.customize,
        0o755,
    )?;
    let mut customize = tokio::process::Command::new("chroot");
    customize
        .arg(rootfs)
        .arg("/bin/sh")
        .arg("/tmp/cdwiz-customize.sh");
    run_logged(
        customize,
        &logs.join(format!("{name}-customize.log")),
        "the customize script",
    )
    .await?;
    let _ = std::fs::remove_file(rootfs.join("tmp/cdwiz-customize.sh"));
    Ok(())
}

/// A `tar` of the root filesystem on stdout (numeric owners, as images want).
pub fn tar_command(rootfs: &Path) -> tokio::process::Command {
    let mut tar = tokio::process::Command::new("tar");
    tar.arg("--numeric-owner")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg("-")
        .arg(".");
    tar
}

/// Takes the machine-wide lock at `path` (one build of a kind at a time,
/// whoever asks: parallel tests, two terminals). Released on drop.
pub async fn lock(path: &Path) -> Result<std::fs::File, SandboxError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(SandboxError::io(parent))?;
    }
    let file = std::fs::File::create(path).map_err(SandboxError::io(path))?;
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || file.lock().map(|_| file))
        .await
        .map_err(|e| SandboxError::Other(format!("lock {}: {e}", owned.display())))?
        .map_err(SandboxError::io(path))
}

async fn run_logged(
    mut cmd: tokio::process::Command,
    log: &Path,
    what: &str,
) -> Result<(), SandboxError> {
    let file = std::fs::File::create(log).map_err(SandboxError::io(log))?;
    let err_file = file.try_clone().map_err(SandboxError::io(log))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .status()
        .await
        .map_err(|e| SandboxError::Other(format!("cannot run {what}: {e}")))?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n");
        return Err(SandboxError::Other(format!(
            "{what} failed ({status}); full log in {}:\n{tail}",
            log.display()
        )));
    }
    Ok(())
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(SandboxError::io(parent))?;
    }
    std::fs::write(path, text).map_err(SandboxError::io(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(SandboxError::io(path))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user of this process.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}
