//! The sandbox host image: Debian bookworm with sshd, sudo, keepalived and
//! Docker, imported into the local engine through the Docker API; and for
//! arm64 hosts, which are virtual machines, their disk (the same system for
//! arm64 with Debian's kernel) and the image of their carrier container.
//!
//! The tag carries the recipe's hash, so a changed recipe builds a new image
//! and an unchanged one is never rebuilt. The hosts' init and fault scripts
//! are not part of the image: they are put into each host when it is
//! created, so changing them costs no rebuild.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;

use super::rootfs::{self, HOST, HOST_ARM64, Recipe, VM_CARRIER};
use super::{Progress, SandboxError, SandboxEvent};
use crate::docker::{DockerError, has_image};

const HOST_REPO: &str = "cdwiz-sandbox-host";
const CARRIER_REPO: &str = "cdwiz-sandbox-vm-carrier";

/// The image reference for the current recipe of (amd64) hosts.
pub fn host_image_tag() -> String {
    format!("{HOST_REPO}:{}", HOST.hash())
}

/// The image reference of the arm64 hosts' carrier (qemu-system-aarch64).
pub fn carrier_image_tag() -> String {
    format!("{CARRIER_REPO}:{}", VM_CARRIER.hash())
}

/// The folder with the arm64 hosts' root disk, kernel and initramfs.
pub fn vm_disk_dir(sandbox_dir: &Path) -> PathBuf {
    HOST_ARM64.vm_dir(&sandbox_dir.join("build"))
}

/// Makes sure the host image exists, building it when missing. Returns its
/// tag.
pub async fn ensure_host_image(
    docker: &Docker,
    sandbox_dir: &Path,
    progress: &Progress<'_>,
) -> Result<String, SandboxError> {
    ensure_image(docker, sandbox_dir, HOST_REPO, &HOST, progress).await
}

/// Makes sure what arm64 hosts need exists (the carrier image and the VM
/// disk), building both side by side when missing.
pub async fn ensure_vm_host(
    docker: &Docker,
    sandbox_dir: &Path,
    progress: &Progress<'_>,
) -> Result<(), SandboxError> {
    let (carrier, disk) = tokio::join!(
        ensure_image(docker, sandbox_dir, CARRIER_REPO, &VM_CARRIER, progress),
        ensure_vm_disk(sandbox_dir, progress)
    );
    carrier.and(disk)?;
    // arm64 hosts were containers under qemu-user before they were VMs:
    // their images are of no use any more (one still in use is kept).
    remove_stale_images(docker, "cdwiz-sandbox-host-arm64", "").await;
    Ok(())
}

async fn ensure_vm_disk(sandbox_dir: &Path, progress: &Progress<'_>) -> Result<(), SandboxError> {
    let dir = vm_disk_dir(sandbox_dir);
    if dir.is_dir() {
        return Ok(());
    }
    let started = Instant::now();
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    progress(SandboxEvent::BuildingImage {
        tag: name.clone(),
        emulated: !cdwiz_sandbox_rootfs::is_native(HOST_ARM64.arch),
    });
    rootfs::prepare(&HOST_ARM64, &sandbox_dir.join("build")).await?;
    progress(SandboxEvent::ImageBuilt {
        tag: name,
        secs: started.elapsed().as_secs_f64(),
    });
    Ok(())
}

/// Makes sure the image of `recipe` exists in `repo`, building it when
/// missing. Returns its tag.
async fn ensure_image(
    docker: &Docker,
    sandbox_dir: &Path,
    repo: &str,
    recipe: &'static Recipe,
    progress: &Progress<'_>,
) -> Result<String, SandboxError> {
    let tag = format!("{repo}:{}", recipe.hash());
    if has_image(docker, &tag).await? {
        return Ok(tag);
    }
    let lock = rootfs::lock(
        &sandbox_dir
            .join("build")
            .join(format!("{}-image.lock", recipe.name)),
    )
    .await?;
    if has_image(docker, &tag).await? {
        return Ok(tag);
    }
    let started = Instant::now();
    progress(SandboxEvent::BuildingImage {
        tag: tag.clone(),
        emulated: !cdwiz_sandbox_rootfs::is_native(recipe.arch),
    });
    let build_dir = sandbox_dir.join("build");
    let tarball = rootfs::prepare(recipe, &build_dir).await?;
    import(docker, &tag, &tarball).await?;
    rootfs::consumed(recipe, &build_dir);
    drop(lock);
    progress(SandboxEvent::ImageBuilt {
        tag: tag.clone(),
        secs: started.elapsed().as_secs_f64(),
    });
    remove_stale_images(docker, repo, &tag).await;
    Ok(tag)
}

/// Removes host images of earlier recipes in `repo` that no container uses
/// any more (an image still in use is refused by the engine and kept).
async fn remove_stale_images(docker: &Docker, repo: &str, current: &str) {
    let options = bollard::query_parameters::ListImagesOptions {
        filters: Some(std::collections::HashMap::from([(
            "reference".to_string(),
            vec![repo.to_string()],
        )])),
        ..Default::default()
    };
    let Ok(images) = docker.list_images(Some(options)).await else {
        return;
    };
    for tag in images.iter().flat_map(|i| i.repo_tags.iter()) {
        if tag != current {
            let _ = docker
                .remove_image(
                    tag,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await;
        }
    }
}

/// Streams the root filesystem's tarball into the engine (`docker import`).
async fn import(docker: &Docker, tag: &str, tarball: &Path) -> Result<(), SandboxError> {
    let file = tokio::fs::File::open(tarball)
        .await
        .map_err(SandboxError::io(tarball))?;
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
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
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(SandboxError::Import {
                tag: tag.to_string(),
                detail,
            });
        }
    }
    Ok(())
}
