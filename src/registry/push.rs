//! Survey (what the registry lacks) and push (send only that).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use oci_client::Reference;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::sync::CancellationToken;

use super::archive::{self, Blob, Image};
use super::{Registry, RegistryError, mb};

/// What a push reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum PushEvent {
    /// A line for the push's log.
    Log(String),
    /// Bytes sent so far of all there is to send.
    Bytes { sent: u64, total: u64 },
}

/// One reference of the bundle, as it goes into the registry.
#[derive(Debug, Clone)]
pub struct Target {
    /// The bundle's reference (`cd/backend:3.2`).
    pub image: String,
    pub reference: Reference,
    /// One image per architecture.
    pub images: Vec<Image>,
    /// What the tag names: the one image's manifest, or an index of the
    /// architectures' manifests.
    pub top: Vec<u8>,
    pub top_type: &'static str,
    /// The registry has the tag (at whatever manifest).
    pub present: bool,
    /// The registry has the tag at this very manifest.
    pub up_to_date: bool,
    /// Blobs of this repository the registry lacks.
    pub missing: Vec<Blob>,
}

/// What a push will do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub targets: Vec<Target>,
    /// Bytes to send (each blob the registry has nowhere, once).
    pub send: u64,
    /// All blob bytes of the bundle (each blob once).
    pub bytes: u64,
    /// Distinct blobs, and how many of them the registry lacks everywhere.
    pub blobs: usize,
    pub blobs_missing: usize,
}

impl Plan {
    pub fn nothing_to_do(&self) -> bool {
        self.targets.iter().all(|t| t.up_to_date)
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSummary {
    pub sent_bytes: u64,
    pub sent_blobs: usize,
    pub mounted_blobs: usize,
    pub manifests: usize,
}

fn oci(e: oci_client::errors::OciDistributionError) -> RegistryError {
    RegistryError::from_oci(&e)
}

/// The images of `bundle` a cluster runs (the components the `k8s`
/// topology deploys), and the archives they are in.
pub fn cluster_images(bundle: &crate::bundle::Bundle) -> (Vec<String>, Vec<std::path::PathBuf>) {
    let mut images: Vec<String> = crate::plan::cluster_components(&bundle.manifest)
        .iter()
        .map(|c| c.image.clone())
        .collect();
    images.sort();
    images.dedup();
    let files = bundle
        .manifest
        .images
        .iter()
        .filter(|a| a.references.iter().any(|r| images.contains(r)))
        .map(|a| bundle.dir.join(&a.file))
        .collect();
    (images, files)
}

/// Reads the archives (`files`, in the bundle) and asks the registry what
/// it has of the references `wanted`: each tag's manifest, then (`blobs`)
/// each blob of a tag that is not up to date.
pub async fn survey(
    reg: &Registry,
    files: &[std::path::PathBuf],
    wanted: &[String],
    blobs: bool,
) -> Result<Plan, RegistryError> {
    let files = files.to_vec();
    let images = tokio::task::spawn_blocking(move || -> Result<Vec<Image>, RegistryError> {
        let mut all = Vec::new();
        for f in &files {
            let found = archive::read(f)
                .map_err(|e| RegistryError::Archive(format!("{}: {e}", f.display())))?;
            all.extend(found);
        }
        Ok(all)
    })
    .await
    .map_err(|e| RegistryError::Archive(e.to_string()))??;
    let mut by_ref: BTreeMap<String, Vec<Image>> = BTreeMap::new();
    for img in images {
        for r in img.references.iter().filter(|r| wanted.contains(r)) {
            by_ref.entry(r.clone()).or_default().push(img.clone());
        }
    }
    let mut plan = Plan::default();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let mut found_somewhere: HashMap<String, bool> = HashMap::new();
    for (image, mut images) in by_ref {
        images.sort_by(|a, b| a.arch.cmp(&b.arch));
        images.dedup_by(|a, b| a.arch == b.arch);
        let reference = reg.reference(&image);
        let (top, top_type) = if images.len() == 1 {
            (images[0].manifest.clone(), archive::MANIFEST_TYPE)
        } else {
            (index(&images), archive::INDEX_TYPE)
        };
        let want = archive::sha256_of(&top);
        let have = match reg
            .client
            .fetch_manifest_digest(&reference, &reg.auth)
            .await
        {
            Ok(d) => Some(d),
            Err(e) => match RegistryError::from_oci(&e) {
                RegistryError::Other(_) if is_not_found(&e) => None,
                other => return Err(other),
            },
        };
        let up_to_date = have.as_deref() == Some(want.as_str());
        let mut missing = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for b in images.iter().flat_map(|i| i.blobs()) {
            sizes.insert(b.digest.clone(), b.size);
            if up_to_date {
                // The tag is at this manifest: its blobs are in its repository.
                found_somewhere.insert(b.digest.clone(), true);
                continue;
            }
            if !blobs || !seen.insert(b.digest.clone()) {
                continue;
            }
            let exists = reg
                .client
                .blob_exists(&reference, &b.digest)
                .await
                .map_err(oci)?;
            let any = found_somewhere.entry(b.digest.clone()).or_insert(false);
            *any |= exists;
            if !exists {
                missing.push(b.clone());
            }
        }
        plan.targets.push(Target {
            image,
            reference,
            images,
            top,
            top_type,
            present: have.is_some(),
            up_to_date,
            missing,
        });
    }
    plan.blobs = sizes.len();
    plan.bytes = sizes.values().sum();
    // A blob counts as to be sent when no repository surveyed has it
    // (a tag that is up to date was not asked about: its blobs are there).
    let mut to_send = std::collections::HashSet::new();
    for t in plan.targets.iter().filter(|t| !t.up_to_date) {
        for b in &t.missing {
            if !found_somewhere.get(&b.digest).copied().unwrap_or(false) {
                to_send.insert(b.digest.clone());
            }
        }
    }
    plan.blobs_missing = to_send.len();
    plan.send = to_send.iter().map(|d| sizes[d]).sum();
    Ok(plan)
}

fn is_not_found(e: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::OciDistributionError as E;
    match e {
        E::ImageManifestNotFoundError(_) => true,
        E::ServerError { code, .. } => *code == 404,
        E::RequestError(r) => r.status().is_some_and(|s| s.as_u16() == 404),
        E::RegistryError { envelope, .. } => envelope.errors.iter().any(|x| {
            let c = format!("{:?}", x.code).to_ascii_uppercase();
            c.contains("UNKNOWN")
        }),
        _ => false,
    }
}

/// An OCI image index of the architectures' manifests.
fn index(images: &[Image]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|i| {
            serde_json::json!({
                "mediaType": archive::MANIFEST_TYPE,
                "digest": i.manifest_digest(),
                "size": i.manifest.len(),
                "platform": { "architecture": i.arch, "os": "linux" },
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": archive::INDEX_TYPE,
        "manifests": manifests,
    }))
    .unwrap_or_default()
}

fn short(d: &str) -> &str {
    &d[..d.len().min(19)]
}

/// Pushes what `plan` found missing. Blobs first (sent, or mounted from a
/// repository that has them), then the manifests, the tag last: the tag
/// names a complete image or nothing new.
pub async fn push(
    reg: &Registry,
    plan: &Plan,
    progress: &(dyn Fn(PushEvent) + Sync),
    cancel: &CancellationToken,
) -> Result<PushSummary, RegistryError> {
    let mut summary = PushSummary::default();
    let total = plan.send;
    let sent = Arc::new(AtomicU64::new(0));
    // Where each blob is known to be (a repository of this registry).
    let mut holder: HashMap<String, Reference> = HashMap::new();
    for t in &plan.targets {
        let missing: std::collections::HashSet<&str> =
            t.missing.iter().map(|b| b.digest.as_str()).collect();
        for b in t.images.iter().flat_map(|i| i.blobs()) {
            if !missing.contains(b.digest.as_str()) {
                holder
                    .entry(b.digest.clone())
                    .or_insert_with(|| t.reference.clone());
            }
        }
    }
    for t in &plan.targets {
        if t.up_to_date {
            progress(PushEvent::Log(format!(
                "{}: in the registry already",
                t.reference
            )));
            continue;
        }
        for b in &t.missing {
            if cancel.is_cancelled() {
                return Err(RegistryError::Stopped);
            }
            if let Some(from) = holder.get(&b.digest)
                && from.repository() != t.reference.repository()
            {
                match reg.client.mount_blob(&t.reference, from, &b.digest).await {
                    Ok(()) => {
                        summary.mounted_blobs += 1;
                        progress(PushEvent::Log(format!(
                            "{}: {} ({}) mounted from {}",
                            t.image,
                            short(&b.digest),
                            mb(b.size),
                            from.repository()
                        )));
                        continue;
                    }
                    Err(e) => progress(PushEvent::Log(format!(
                        "{}: {} not mounted ({}); sending it",
                        t.image,
                        short(&b.digest),
                        RegistryError::from_oci(&e)
                            .message(&reg.prefix, None)
                            .render("en")
                    ))),
                }
            }
            let started = Instant::now();
            upload(reg, &t.reference, b, &sent, total, progress, cancel).await?;
            summary.sent_blobs += 1;
            summary.sent_bytes += b.size;
            progress(PushEvent::Log(format!(
                "{}: {} sent, {} in {:.1} s",
                t.image,
                short(&b.digest),
                mb(b.size),
                started.elapsed().as_secs_f64()
            )));
            holder.insert(b.digest.clone(), t.reference.clone());
        }
        if t.images.len() > 1 {
            for i in &t.images {
                let at = Registry::at_digest(&t.reference, &i.manifest_digest());
                put_manifest(reg, &at, &i.manifest, archive::MANIFEST_TYPE).await?;
                summary.manifests += 1;
            }
        }
        put_manifest(reg, &t.reference, &t.top, t.top_type).await?;
        summary.manifests += 1;
        progress(PushEvent::Log(format!("{}: pushed", t.reference)));
    }
    let done = sent.load(Ordering::Relaxed);
    progress(PushEvent::Bytes {
        sent: done,
        total: total.max(done),
    });
    Ok(summary)
}

async fn put_manifest(
    reg: &Registry,
    at: &Reference,
    body: &[u8],
    media_type: &'static str,
) -> Result<(), RegistryError> {
    reg.client
        .push_manifest_raw(
            at,
            body.to_vec(),
            http::HeaderValue::from_static(media_type),
        )
        .await
        .map(|_| ())
        .map_err(oci)
}

/// Streams one blob from its archive, its bytes counted as they go.
async fn upload(
    reg: &Registry,
    to: &Reference,
    b: &Blob,
    sent: &Arc<AtomicU64>,
    total: u64,
    progress: &(dyn Fn(PushEvent) + Sync),
    cancel: &CancellationToken,
) -> Result<(), RegistryError> {
    let file_of = |e: std::io::Error| RegistryError::Archive(e.to_string());
    let mut f = tokio::fs::File::open(&b.file).await.map_err(file_of)?;
    f.seek(std::io::SeekFrom::Start(b.offset))
        .await
        .map_err(file_of)?;
    let counter = sent.clone();
    let before = sent.load(Ordering::Relaxed);
    let body = tokio_util::io::ReaderStream::with_capacity(f.take(b.size), 1 << 20).map(move |r| {
        let chunk = r.map_err(oci_client::errors::OciDistributionError::IoError)?;
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok(chunk)
    });
    let send = reg
        .client
        .push_blob_stream(to, body, &b.digest, Some(b.size));
    tokio::pin!(send);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            r = &mut send => {
                r.map_err(oci)?;
                // What was counted is exactly this blob (a retry would recount).
                let now = before + b.size;
                sent.store(now, Ordering::Relaxed);
                // (more than planned when a mount was refused and sent instead)
                progress(PushEvent::Bytes { sent: now, total: total.max(now) });
                return Ok(());
            }
            _ = tick.tick() => progress(PushEvent::Bytes {
                sent: sent.load(Ordering::Relaxed).min(total),
                total,
            }),
            _ = cancel.cancelled() => return Err(RegistryError::Stopped),
        }
    }
}
