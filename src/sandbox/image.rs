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

use super::rootfs::{self, HOST as RECIPE};
use super::{Progress, SandboxError, SandboxEvent};
use crate::docker::{DockerError, has_image};

const REPO: &str = "cdwiz-sandbox-host";

/// The image reference for the current recipe.
pub fn host_image_tag() -> String {
    format!("{REPO}:{}", RECIPE.hash())
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
    let lock = rootfs::lock(&sandbox_dir.join("build").join("host-image.lock")).await?;
    if has_image(docker, &tag).await? {
        return Ok(tag);
    }
    let started = Instant::now();
    progress(SandboxEvent::BuildingImage { tag: tag.clone() });
    let build_dir = sandbox_dir.join("build");
    let tarball = rootfs::prepare(&RECIPE, &build_dir).await?;
    import(docker, &tag, &tarball).await?;
    rootfs::consumed(&RECIPE, &build_dir);
    drop(lock);
    progress(SandboxEvent::ImageBuilt {
        tag: tag.clone(),
        secs: started.elapsed().as_secs_f64(),
    });
    remove_stale_images(docker, &tag).await;
    Ok(tag)
}

/// Removes host images of earlier recipes that no container uses any more
/// (an image still in use is refused by the engine and kept).
async fn remove_stale_images(docker: &Docker, current: &str) {
    let options = bollard::query_parameters::ListImagesOptions {
        filters: Some(std::collections::HashMap::from([(
            "reference".to_string(),
            vec![REPO.to_string()],
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
