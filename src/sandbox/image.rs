//! The sandbox host image: Debian bookworm from `debootstrap --variant=minbase`
//! with sshd, sudo, keepalived, Docker and the sandbox's own scripts, imported
//! into the local engine through the Docker API. No registry is involved.
//!
//! The tag carries a hash of the recipe, so a changed recipe builds a new
//! image and an unchanged one is never rebuilt. The hosts' init and fault
//! scripts are not part of the image: they are put into each host when it is
//! created, so changing them costs no rebuild.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::{Progress, SandboxError};
use crate::docker::{DockerError, has_image};

const SUITE: &str = "bookworm";
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Overrides the Debian mirror debootstrap uses.
pub const MIRROR_ENV: &str = "CDWIZ_DEBIAN_MIRROR";
const REPO: &str = "cdwiz-sandbox-host";

/// Packages of a sandbox host beyond minbase. python3 lets the host serve as
/// an Ansible peer in benchmarks (cdwiz itself never needs it on a host).
pub const PACKAGES: &[&str] = &[
    "openssh-server",
    "sudo",
    "iproute2",
    "procps",
    "keepalived",
    "iputils-ping",
    "ca-certificates",
    "docker.io",
    "iptables",
    "python3",
    "socat",
    "curl",
    "e2fsprogs",
];

const CUSTOMIZE: &str = include_str!("../../assets/sandbox/customize.sh");

/// The image reference for the current recipe.
pub fn host_image_tag() -> String {
    let mut h = Sha256::new();
    for part in [SUITE, &PACKAGES.join(","), CUSTOMIZE] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = format!("{:x}", h.finalize());
    format!("{REPO}:{}", &digest[..12])
}

/// Makes sure the host image exists, building it when missing. Returns its tag.
pub async fn ensure_host_image(
    docker: &Docker,
    sandbox_dir: &Path,
    progress: &Progress<'_>,
) -> Result<String, SandboxError> {
    let tag = host_image_tag();
    if has_image(docker, &tag).await? {
        return Ok(tag);
    }
    std::fs::create_dir_all(sandbox_dir).map_err(SandboxError::io(sandbox_dir))?;
    // One build at a time on this machine, whoever asks (parallel tests).
    let lock_path = sandbox_dir.join("image.lock");
    let lock = std::fs::File::create(&lock_path).map_err(SandboxError::io(&lock_path))?;
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|_| lock))
        .await
        .map_err(|e| SandboxError::Other(format!("image lock: {e}")))?
        .map_err(SandboxError::io(&lock_path))?;
    if has_image(docker, &tag).await? {
        return Ok(tag);
    }
    let started = Instant::now();
    progress(super::SandboxEvent::BuildingImage { tag: tag.clone() });
    let build_dir = sandbox_dir.join("build");
    let rootfs = build_dir.join(tag.replace([':', '/'], "_"));
    let result = build(docker, &tag, &build_dir, &rootfs).await;
    let _ = std::fs::remove_dir_all(&rootfs);
    drop(lock);
    result?;
    progress(super::SandboxEvent::ImageBuilt {
        tag: tag.clone(),
        secs: started.elapsed().as_secs_f64(),
    });
    Ok(tag)
}

async fn build(
    docker: &Docker,
    tag: &str,
    build_dir: &Path,
    rootfs: &Path,
) -> Result<(), SandboxError> {
    if !is_root() {
        return Err(SandboxError::Other(
            "building the sandbox host image needs root (debootstrap and chroot): run as root"
                .into(),
        ));
    }
    if rootfs.exists() {
        std::fs::remove_dir_all(rootfs).map_err(SandboxError::io(rootfs))?;
    }
    std::fs::create_dir_all(build_dir).map_err(SandboxError::io(build_dir))?;
    let log = build_dir.join("debootstrap.log");
    let mirror = std::env::var(MIRROR_ENV).unwrap_or_else(|_| DEFAULT_MIRROR.to_string());
    let mut debootstrap = tokio::process::Command::new("debootstrap");
    debootstrap
        .arg("--variant=minbase")
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(SUITE)
        .arg(rootfs)
        .arg(&mirror);
    run_logged(
        debootstrap,
        &log,
        "debootstrap (is it installed? run scripts/setup-machine)",
    )
    .await?;

    write_file(&rootfs.join("tmp/cdwiz-customize.sh"), CUSTOMIZE, 0o755)?;
    let mut customize = tokio::process::Command::new("chroot");
    customize
        .arg(rootfs)
        .arg("/bin/sh")
        .arg("/tmp/cdwiz-customize.sh");
    run_logged(
        customize,
        &build_dir.join("customize.log"),
        "chroot customize",
    )
    .await?;
    let _ = std::fs::remove_file(rootfs.join("tmp/cdwiz-customize.sh"));

    import(docker, tag, rootfs).await
}

/// Streams the root filesystem as a tarball into the engine (`docker import`).
async fn import(docker: &Docker, tag: &str, rootfs: &Path) -> Result<(), SandboxError> {
    let mut tar = tokio::process::Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg("-")
        .arg(".")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SandboxError::Other(format!("cannot run tar: {e}")))?;
    let stdout = tar
        .stdout
        .take()
        .ok_or_else(|| SandboxError::Other("tar has no stdout".into()))?;
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(stdout));
    let (repo, tag_only) = tag.split_once(':').unwrap_or((tag, "latest"));
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(tag_only.into()),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| DockerError::api(format!("import {tag}"), e))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(SandboxError::Other(format!("import {tag}: {err}")));
        }
    }
    let status = tar
        .wait()
        .await
        .map_err(|e| SandboxError::Other(format!("tar: {e}")))?;
    if !status.success() {
        return Err(SandboxError::Other(format!(
            "tar of {} exited with {status}",
            rootfs.display()
        )));
    }
    Ok(())
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
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(SandboxError::Other(format!(
            "{what} failed ({status}); full log in {}:\n{}",
            log.display(),
            tail.join("\n")
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
    // /proc/self is owned by the effective user of this process.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}
