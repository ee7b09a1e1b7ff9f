//! Loop devices that give each sandbox host a real block device as its data
//! disk (`/dev/vdb` inside the host). Attached with util-linux `losetup`.

use std::path::Path;

use super::{SandboxError, said};

/// Loop devices currently backed by `file`.
pub async fn devices_for(file: &Path) -> Result<Vec<String>, SandboxError> {
    let out = losetup(&["-j".as_ref(), file.as_os_str()]).await?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(':').map(|(dev, _)| dev.trim().to_string()))
        .filter(|d| d.starts_with("/dev/loop"))
        .collect())
}

/// Creates a sparse backing file of `size` bytes if missing and returns a
/// loop device attached to it (reusing an existing attachment).
pub async fn attach(file: &Path, size: u64) -> Result<String, SandboxError> {
    if !file.exists() {
        let f = std::fs::File::create(file).map_err(SandboxError::io(file))?;
        f.set_len(size).map_err(SandboxError::io(file))?;
    }
    if let Some(dev) = devices_for(file).await?.into_iter().next() {
        return Ok(dev);
    }
    let out = losetup(&["-f".as_ref(), "--show".as_ref(), file.as_os_str()]).await?;
    Ok(out.trim().to_string())
}

/// Detaches every loop device backed by `file`.
pub async fn detach_all(file: &Path) -> Result<(), SandboxError> {
    for dev in devices_for(file).await? {
        losetup(&["-d".as_ref(), dev.as_ref()]).await?;
    }
    Ok(())
}

async fn losetup(args: &[&std::ffi::OsStr]) -> Result<String, SandboxError> {
    let out = tokio::process::Command::new("losetup")
        .args(args)
        .output()
        .await
        .map_err(|e| said("sandbox.err.losetup-spawn").arg("error", e))?;
    if !out.status.success() {
        let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
        return Err(said("sandbox.err.losetup")
            .arg("args", args.join(" "))
            .arg("detail", String::from_utf8_lossy(&out.stderr).trim())
            .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
