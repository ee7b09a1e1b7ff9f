//! Image archives in the format `docker save` writes and `docker load` (the
//! API's `/images/load`) reads, made from a root filesystem tarball without
//! any engine. Used for small test images and for the sandbox bundle.

use sha2::{Digest, Sha256};

/// One file to place in an image's single layer.
#[derive(Clone, Copy)]
pub enum LayerEntry<'a> {
    File {
        path: &'a str,
        mode: u32,
        data: &'a [u8],
    },
    Symlink {
        path: &'a str,
        target: &'a str,
    },
    Dir {
        path: &'a str,
        mode: u32,
    },
}

/// Builds a layer tarball (deterministic: fixed mtimes and owners).
pub fn layer_tar(entries: &[LayerEntry<'_>]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match entry {
            LayerEntry::File { path, mode, data } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, *data)?;
            }
            LayerEntry::Symlink { path, target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, path, target)?;
            }
            LayerEntry::Dir { path, mode } => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, path, std::io::empty())?;
            }
        }
    }
    b.into_inner()
}

/// Wraps one layer into a loadable image archive tagged `reference`, whose
/// default command is `cmd`.
pub fn image_archive(reference: &str, layer: &[u8], cmd: &[&str]) -> std::io::Result<Vec<u8>> {
    image_archive_for(reference, layer, cmd, "amd64")
}

/// [`image_archive`] of an image that says it is for `arch` (the layer's
/// files are what they are: for tests of architecture checks).
pub fn image_archive_for(
    reference: &str,
    layer: &[u8],
    cmd: &[&str],
    arch: &str,
) -> std::io::Result<Vec<u8>> {
    let diff_id = format!("sha256:{:x}", Sha256::digest(layer));
    let mut out = Vec::new();
    write_archive(
        &mut out,
        &[reference],
        vec![(diff_id, layer.len() as u64, layer)],
        cmd,
        arch,
    )?;
    Ok(out)
}

/// Writes an image archive to `out` from a layer tarball on disk, streaming
/// (root filesystems are hundreds of MB), with `top` (a small layer in
/// memory, e.g. a release's own files) above it when given. The image
/// carries every name in `references` and says it is for `arch` (`amd64`,
/// `arm64`: what the layer's programs are built for).
pub fn write_image_archive_file(
    out: &std::path::Path,
    references: &[&str],
    layer: &std::path::Path,
    top: Option<&[u8]>,
    cmd: &[&str],
    arch: &str,
) -> std::io::Result<()> {
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut std::fs::File::open(layer)?, &mut hasher)?;
    let diff_id = format!("sha256:{:x}", hasher.finalize());
    let file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut layers: Vec<(String, u64, Box<dyn std::io::Read>)> =
        vec![(diff_id, size, Box::new(std::fs::File::open(layer)?))];
    if let Some(top) = top {
        let id = format!("sha256:{:x}", Sha256::digest(top));
        layers.push((id, top.len() as u64, Box::new(top)));
    }
    let mut file = write_archive(file, references, layers, cmd, arch)?;
    std::io::Write::flush(&mut file)?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Writes the archive; each layer (bottom first) is its diff id, size and
/// bytes.
fn write_archive<W: std::io::Write, R: std::io::Read>(
    out: W,
    references: &[&str],
    layers: Vec<(String, u64, R)>,
    cmd: &[&str],
    arch: &str,
) -> std::io::Result<W> {
    let diff_ids: Vec<&String> = layers.iter().map(|(id, _, _)| id).collect();
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Cmd": cmd },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = serde_json::to_vec(&config)?;
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    // The first layer keeps the name it always had (archives made before
    // there could be more stay byte for byte the same).
    let names: Vec<String> = (0..layers.len())
        .map(|i| match i {
            0 => "layer/layer.tar".to_string(),
            i => format!("layer{i}/layer.tar"),
        })
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": references,
        "Layers": names,
    }]))?;
    let header = |size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_mode(0o644);
        h.set_size(size);
        h
    };
    let mut b = tar::Builder::new(out);
    b.append_data(&mut header(config.len() as u64), &config_name, &config[..])?;
    for ((_, size, bytes), name) in layers.into_iter().zip(&names) {
        b.append_data(&mut header(size), name, bytes)?;
    }
    b.append_data(
        &mut header(manifest.len() as u64),
        "manifest.json",
        &manifest[..],
    )?;
    b.into_inner()
}

/// A tar archive of the one local file `path` (mode 0600, owned by root),
/// as a stream read from the file as it is sent: any size, never whole in
/// memory.
pub async fn one_file_stream(
    path: &std::path::Path,
) -> std::io::Result<impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static>
{
    use futures_util::StreamExt;
    let file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mut header = tar::Header::new_gnu();
    header.set_path(&name)?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_cksum();
    // The data, padded to a block, then two empty blocks: the end.
    let tail = vec![0u8; (512 - (size % 512) as usize) % 512 + 1024];
    let head =
        futures_util::stream::once(
            async move { Ok(bytes::Bytes::copy_from_slice(header.as_bytes())) },
        );
    let end = futures_util::stream::once(async move { Ok(bytes::Bytes::from(tail)) });
    Ok(head
        .chain(tokio_util::io::ReaderStream::new(file))
        .chain(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_file_streams_as_a_tar_that_unpacks_to_it() {
        use futures_util::TryStreamExt;
        let dir = tempfile::tempdir().unwrap();
        for size in [0usize, 1, 511, 512, 513, 200_000] {
            let path = dir.path().join(format!("part-{size}.dump"));
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            let chunks: Vec<bytes::Bytes> = one_file_stream(&path)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            let tar: Vec<u8> = chunks.concat();
            assert_eq!(tar.len() % 512, 0, "{size}");
            let mut archive = tar::Archive::new(tar.as_slice());
            let mut entries = archive.entries().unwrap();
            let mut e = entries.next().unwrap().unwrap();
            assert_eq!(
                e.path().unwrap().to_str(),
                Some(format!("part-{size}.dump").as_str())
            );
            assert_eq!(e.header().mode().unwrap(), 0o600);
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut got).unwrap();
            assert_eq!(got, data, "{size}");
            drop(e);
            assert!(entries.next().is_none(), "{size}");
        }
    }

    #[test]
    fn archive_has_manifest_naming_config_and_layer() {
        let layer = layer_tar(&[LayerEntry::File {
            path: "hello",
            mode: 0o755,
            data: b"hi",
        }])
        .unwrap();
        let archive = image_archive("t/x:1", &layer, &["/hello"]).unwrap();
        let mut names = Vec::new();
        let mut manifest = String::new();
        for e in tar::Archive::new(&archive[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            if p == "manifest.json" {
                std::io::Read::read_to_string(&mut e, &mut manifest).unwrap();
            }
            names.push(p);
        }
        assert!(names.contains(&"layer/layer.tar".to_string()));
        let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(m[0]["RepoTags"][0], "t/x:1");
        assert!(names.contains(&m[0]["Config"].as_str().unwrap().to_string()));
    }

    #[test]
    fn same_input_gives_same_bytes() {
        let l = layer_tar(&[LayerEntry::Dir {
            path: "d",
            mode: 0o755,
        }])
        .unwrap();
        assert_eq!(
            image_archive("a:1", &l, &["x"]).unwrap(),
            image_archive("a:1", &l, &["x"]).unwrap()
        );
    }
}
