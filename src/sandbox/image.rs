//! The sandbox host image: Debian bookworm with sshd, sudo, keepalived and
//! Docker, imported into the local engine through the Docker API.
//!
//! The tag carries the recipe's hash, so a changed recipe builds a new image
//! and an unchanged one is never rebuilt. The hosts' init and fault scripts
//! are not part of the image: they are put into each host when it is
//! created, so changing them costs no rebuild.

use std::path::Path;
use std::time::Instant;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;

use super::rootfs::{self, HOST, HOST_ARM64, Recipe};
use super::{Progress, SandboxError, SandboxEvent};
use crate::docker::{DockerError, has_image};

/// The image repository and recipe of hosts of `arch` (`amd64`, `arm64`).
fn image_of(arch: &str) -> (&'static str, &'static Recipe) {
    if arch == "arm64" {
        ("cdwiz-sandbox-host-arm64", &HOST_ARM64)
    } else {
        ("cdwiz-sandbox-host", &HOST)
    }
}

/// The image reference for the current recipe of amd64 hosts.
pub fn host_image_tag() -> String {
    host_image_tag_for("amd64")
}

/// The image reference for the current recipe of hosts of `arch`.
pub fn host_image_tag_for(arch: &str) -> String {
    let (repo, recipe) = image_of(arch);
    format!("{repo}:{}", recipe.hash())
}

/// Makes sure the host image of `arch` exists, building it when missing.
/// Returns its tag.
pub async fn ensure_host_image(
    docker: &Docker,
    sandbox_dir: &Path,
    arch: &str,
    progress: &Progress<'_>,
) -> Result<String, SandboxError> {
    let (repo, recipe) = image_of(arch);
    let tag = host_image_tag_for(arch);
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
