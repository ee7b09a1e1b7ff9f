//! `cdwiz backup`: one backup of the installation the profile describes,
//! as a folder readable by the operator alone: each stateful component's
//! data (the manifest's `backup.dump`, run in a running member, a
//! replica's where the cluster has one, so that the primary is not
//! loaded), each host's install record and rendered configuration, the
//! generated secrets only when asked for, and `backup.json` with each
//! part's size and sha256. Written beside its place and renamed into it
//! once whole: a backup that exists is complete. The hosts are locked
//! against other runs meanwhile; nothing on them changes.
//!
//! `cdwiz backup --verify` ([`verify`]) proves a backup readable. The
//! command's whole (the profile's bundle and secrets, the hosts reached
//! and locked) is the run room's `backup.rs`; a rolling upgrade takes one here
//! with the hosts it holds.

mod index;
mod verify;

pub use index::{FORMAT, INDEX_FILE, Index, Kind, Part, check_sums, part_path, read};
pub use verify::{PartVerdict, Verified, verify};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bundle::{Component, Manifest};
use crate::connect::{Target, Targets};
use crate::i18n::Msg;
use crate::profile::Answers;

/// How often progress is said while a part is written.
const PROGRESS_EVERY: u64 = 16 << 20;
/// The roles a member has that make it the one to take a backup from.
const FOLLOWERS: [&str; 3] = ["replica", "follower", "standby"];

/// What the backup is doing, as it does it.
#[derive(Debug, Clone)]
pub enum BackupEvent {
    /// A part is being taken on `host`.
    Taking { part: String, host: String },
    /// `bytes` of it written so far.
    Progress { part: String, bytes: u64 },
    /// A part is written.
    Taken {
        part: String,
        host: String,
        bytes: u64,
        secs: f64,
    },
}

/// A backup written.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub index: Index,
}

/// What a backup is taken of, and where it goes.
pub struct Taking<'a> {
    pub answers: &'a Answers,
    pub manifest: &'a Manifest,
    /// Every host of the answers, reached and held by the caller's run.
    pub targets: &'a Targets,
    pub data_dir: &'a Path,
    /// The folder to write (it must not exist).
    pub out: &'a Path,
    /// Keep the generated secrets in it (in clear, 0600).
    pub include_secrets: bool,
}

/// The folder a backup goes to when the operator names none:
/// `backups/<install>-<time>` under the data dir.
pub fn default_dir(data_dir: &Path, a: &Answers) -> PathBuf {
    data_dir.join("backups").join(format!(
        "{}-{}",
        crate::profile::install_id(a),
        crate::rundir::new_run_id()
    ))
}

/// Writes the backup beside `out` and renames it into place once whole;
/// what went wrong otherwise (nothing is left behind).
///
/// The installation's secrets (the profile's and the generated ones) are
/// hidden from the hosts' configuration in it unless `include_secrets`.
pub async fn take(t: Taking<'_>, events: &(dyn Fn(BackupEvent) + Sync)) -> Result<Written, Msg> {
    let out = t.out;
    if out.exists() {
        return Err(Msg::new("backup.error.exists").arg("path", out.display()));
    }
    crate::redact::add(&crate::deploy::secrets::values(t.data_dir, t.answers));
    let io = |path: &Path, e: std::io::Error| {
        Msg::new("backup.error.write")
            .arg("path", path.display())
            .arg("error", e)
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let parent = out.parent().unwrap_or(Path::new(".")).to_path_buf();
    let partial = parent.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    private_dir(&partial).map_err(|e| io(&partial, e))?;
    let taken = parts(&t, &partial, events).await;
    let index = match taken {
        Ok(index) => index,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let finished = (|| {
        let text = serde_json::to_string_pretty(&index).map_err(std::io::Error::other)?;
        crate::rundir::write_atomic(&partial.join(INDEX_FILE), &text)?;
        std::fs::rename(&partial, out)?;
        std::fs::File::open(&parent)?.sync_all()
    })();
    if let Err(e) = finished {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(io(out, e));
    }
    Ok(Written {
        dir: out.to_path_buf(),
        index,
    })
}

/// Every part written into `dir`, and the index that names them.
async fn parts(
    t: &Taking<'_>,
    dir: &Path,
    events: &(dyn Fn(BackupEvent) + Sync),
) -> Result<Index, Msg> {
    let (a, targets) = (t.answers, t.targets);
    let install = crate::profile::install_id(a);
    let install = install.as_str();
    let io = |path: &Path, e: std::io::Error| {
        Msg::new("backup.error.write")
            .arg("path", path.display())
            .arg("error", e)
    };
    let mut parts = Vec::new();
    let mut releases = BTreeMap::new();
    private_dir(&dir.join("hosts")).map_err(|e| io(dir, e))?;
    for h in &a.hosts {
        let Some(host) = targets.hosts.get(&h.address) else {
            continue;
        };
        let started = Instant::now();
        events(BackupEvent::Taking {
            part: h.address.clone(),
            host: h.address.clone(),
        });
        let (tar, record) = host_part(host, t.include_secrets).await?;
        if let Some(r) = record {
            if r.install != install {
                return Err(Msg::new("backup.error.other-install")
                    .arg("host", &h.address)
                    .arg("found", &r.install)
                    .arg("install", install));
            }
            releases.insert(h.address.clone(), (r.product, r.version));
        }
        let file = format!("hosts/{}.tar", h.address);
        let part = write_part(dir, &file, &tar).map_err(|e| io(&dir.join(&file), e))?;
        events(BackupEvent::Taken {
            part: h.address.clone(),
            host: h.address.clone(),
            bytes: part.0,
            secs: started.elapsed().as_secs_f64(),
        });
        parts.push(Part {
            name: h.address.clone(),
            kind: Kind::Host,
            host: Some(h.address.clone()),
            image: None,
            file,
            size: part.0,
            sha256: part.1,
        });
    }
    let (product, version) = one_release(&releases)?;
    private_dir(&dir.join("data")).map_err(|e| io(dir, e))?;
    for c in t.manifest.components.iter().filter(|c| c.backup.is_some()) {
        parts.push(data_part(a, c, targets, dir, events).await?);
    }
    let mut left_out = Vec::new();
    let secrets = crate::deploy::secrets::path(t.data_dir, a);
    if !t.include_secrets {
        left_out.push("secrets".to_string());
    } else if let Ok(text) = std::fs::read(&secrets) {
        let file = "secrets.yaml".to_string();
        let (size, sha256) = write_part(dir, &file, &text).map_err(|e| io(dir, e))?;
        parts.push(Part {
            name: "secrets".into(),
            kind: Kind::Secrets,
            host: None,
            image: None,
            file,
            size,
            sha256,
        });
    }
    Ok(Index {
        format: FORMAT,
        install: install.to_string(),
        product,
        version,
        created: crate::rundir::utc_now_rfc3339(),
        hosts: a.hosts.iter().map(|h| h.address.clone()).collect(),
        parts,
        left_out,
    })
}

/// The release every host with a record runs; hosts on two releases (an
/// upgrade that stopped half way) are refused: a backup is of one.
fn one_release(releases: &BTreeMap<String, (String, String)>) -> Result<(String, String), Msg> {
    let mut seen: Vec<&(String, String)> = releases.values().collect();
    seen.sort();
    seen.dedup();
    match seen.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Msg::new("backup.error.not-installed")),
        _ => {
            let shown: Vec<String> = releases
                .iter()
                .map(|(h, (p, v))| format!("{h} {p} {v}"))
                .collect();
            Err(Msg::new("backup.error.mixed").arg("hosts", shown.join(", ")))
        }
    }
}

/// A host's install record as the backup reads it.
#[derive(serde::Deserialize)]
struct Record {
    install: String,
    product: String,
    version: String,
}

/// One host's part: a tar of its install record and rendered
/// configuration (the installation's secrets in them replaced by `***`
/// unless `keep_secrets`), and the record.
async fn host_part(t: &Target, keep_secrets: bool) -> Result<(Vec<u8>, Option<Record>), Msg> {
    let failed = |e: String| {
        Msg::new("backup.error.host")
            .arg("host", &t.address)
            .arg("error", e)
    };
    let files = crate::deploy::readback::record_and_config(t)
        .await
        .map_err(failed)?;
    let record = files
        .iter()
        .find(|(n, _)| n == "install.json")
        .and_then(|(_, c)| serde_json::from_slice::<Record>(c).ok());
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content) in &files {
        let content = if keep_secrets {
            content.clone()
        } else {
            crate::redact::apply(&String::from_utf8_lossy(content)).into_bytes()
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(0);
        tar.append_data(&mut header, name, content.as_slice())
            .map_err(|e| failed(e.to_string()))?;
    }
    let tar = tar.into_inner().map_err(|e| failed(e.to_string()))?;
    Ok((tar, record))
}

/// The member a component's backup is taken from: a running one whose
/// role says it follows (a replica), else the first running one.
async fn member<'t>(
    a: &Answers,
    c: &Component,
    targets: &'t Targets,
) -> Result<(&'t Target, &'t bollard::Docker), Msg> {
    let container = crate::deploy::container::name(&c.name);
    let role = c
        .cluster
        .as_ref()
        .map(|k| k.role.clone())
        .unwrap_or_default();
    let mut first = None;
    for addr in crate::plan::placement(a, c) {
        let Some(t) = targets.hosts.get(&addr) else {
            continue;
        };
        let Ok(docker) = t.docker().await else {
            continue;
        };
        if !crate::deploy::container::runs(docker, &c.name)
            .await
            .unwrap_or(false)
        {
            continue;
        }
        if role.is_empty() {
            return Ok((t.as_ref(), docker));
        }
        let argv: Vec<&str> = role.iter().map(String::as_str).collect();
        let said = crate::docker::exec(docker, &container, &argv).await;
        if said.is_ok_and(|o| o.code == 0 && FOLLOWERS.contains(&o.output.trim())) {
            return Ok((t.as_ref(), docker));
        }
        first.get_or_insert((t.as_ref(), docker));
    }
    first.ok_or_else(|| Msg::new("backup.error.no-member").arg("component", &c.name))
}

/// A component's data: its `backup.dump` run in a member, its standard
/// output streamed into `data/<name>.dump`.
async fn data_part(
    a: &Answers,
    c: &Component,
    targets: &Targets,
    dir: &Path,
    events: &(dyn Fn(BackupEvent) + Sync),
) -> Result<Part, Msg> {
    let Some(spec) = &c.backup else {
        return Err(Msg::new("backup.error.no-member").arg("component", &c.name));
    };
    let (t, docker) = member(a, c, targets).await?;
    let container = crate::deploy::container::name(&c.name);
    // The image the member runs (the release the data is of).
    let image = docker
        .inspect_container(
            &container,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .ok()
        .and_then(|i| i.config?.image)
        .unwrap_or_else(|| c.image.clone());
    let file = format!("data/{}.dump", c.name);
    let path = dir.join(&file);
    let failed = |e: String| {
        Msg::new("backup.error.dump")
            .arg("component", &c.name)
            .arg("host", &t.address)
            .arg("error", e)
    };
    events(BackupEvent::Taking {
        part: c.name.clone(),
        host: t.address.clone(),
    });
    let started = Instant::now();
    let mut out = std::io::BufWriter::new(private_file(&path).map_err(|e| failed(e.to_string()))?);
    let mut summer = index::Summer::default();
    let (mut written, mut said) = (0u64, 0u64);
    let argv: Vec<&str> = spec.dump.iter().map(String::as_str).collect();
    let mut sink = |bytes: &[u8]| -> std::io::Result<()> {
        out.write_all(bytes)?;
        summer.add(bytes);
        written += bytes.len() as u64;
        if written >= said + PROGRESS_EVERY {
            said = written;
            events(BackupEvent::Progress {
                part: c.name.clone(),
                bytes: written,
            });
        }
        Ok(())
    };
    let ran = crate::docker::exec_stream(docker, &container, &argv, &mut sink)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let file_done = out
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all());
    file_done.map_err(|e| failed(e.to_string()))?;
    if ran.code != 0 {
        let said: Vec<&str> = ran
            .errors
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let last = said[said.len().saturating_sub(3)..].join(" / ");
        return Err(failed(format!(
            "`{}` exited with {}: {}",
            spec.dump.join(" "),
            ran.code,
            crate::text::line(if last.is_empty() { "-" } else { &last })
        )));
    }
    let (size, sha256) = summer.finish();
    if size == 0 {
        return Err(failed(format!("`{}` wrote nothing", spec.dump.join(" "))));
    }
    events(BackupEvent::Taken {
        part: c.name.clone(),
        host: t.address.clone(),
        bytes: size,
        secs: started.elapsed().as_secs_f64(),
    });
    Ok(Part {
        name: c.name.clone(),
        kind: Kind::Data,
        host: Some(t.address.clone()),
        image: Some(image),
        file,
        size,
        sha256,
    })
}

/// Writes `content` to `dir/file` (0600, synced); its size and sha256.
fn write_part(dir: &Path, file: &str, content: &[u8]) -> std::io::Result<(u64, String)> {
    let path = dir.join(file);
    let mut f = private_file(&path)?;
    f.write_all(content)?;
    f.sync_all()?;
    let mut s = index::Summer::default();
    s.add(content);
    Ok(s.finish())
}

/// A new file only the operator can read (0600).
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// A folder (and its parents) only the operator can enter (0700).
fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// How long a part's check may take in its throwaway container.
pub const CHECK_LIMIT: Duration = Duration::from_secs(30 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_is_of_one_release() {
        let hosts = |vs: &[&str]| -> BTreeMap<String, (String, String)> {
            vs.iter()
                .enumerate()
                .map(|(i, v)| (format!("192.0.2.{i}"), ("cd".to_string(), v.to_string())))
                .collect()
        };
        assert_eq!(
            one_release(&hosts(&["1.0", "1.0"])).unwrap(),
            ("cd".into(), "1.0".into())
        );
        let mixed = one_release(&hosts(&["1.0", "1.1", "1.0"])).unwrap_err();
        assert!(mixed.render("en").contains("192.0.2.1 cd 1.1"), "{mixed:?}");
        assert!(one_release(&hosts(&[])).is_err());
    }
}
