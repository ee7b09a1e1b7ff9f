//! `cdwiz collect`: one `tar.gz` for the vendor's support team. Per host
//! (one round trip each, all at once): cdwiz's install record, the rendered
//! configs as they are on the host, each cdwiz container's `docker inspect`
//! and last log lines, `docker info`, os-release, kernel, `df`, `free` and
//! time sync; from this machine the recent runs' reports, state and logs;
//! and `MANIFEST.txt` saying what is inside and which hosts could not be
//! reached. Every secret this installation knows (the operator's and the
//! generated ones) is replaced by `***` in every file. Read-only on the
//! hosts, like `status`. On a cluster (the `k8s` topology) the hosts'
//! part comes from the Kubernetes API instead (`cluster.rs`), under
//! `cluster/`.

mod cluster;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::connect::{Connector, Secrets, Target, Targets};
use crate::deploy::readback;
use crate::i18n::Msg;
use crate::profile::{Answers, TopologyKind};
use crate::run::{ErrorKind, RunError};

/// Log lines kept per container.
pub const LOG_LINES: usize = 500;
/// Recent runs of the installation whose files are carried.
pub const RECENT_RUNS: usize = 5;
/// What the archive and the progress lines call the cluster (k8s).
pub const CLUSTER: &str = "cluster";

/// What `collect` needs; `secrets: None` reads the profile's sources.
pub struct CollectRequest {
    pub answers: Answers,
    pub profile: PathBuf,
    pub base: PathBuf,
    pub data_dir: PathBuf,
    /// Where the run directories are (`--workdir`, else the data dir).
    pub runs: PathBuf,
    pub secrets: Option<Secrets>,
    /// The archive to write.
    pub out: PathBuf,
    pub locale: String,
}

/// What one host gave.
#[derive(Debug, Clone, Serialize)]
pub struct HostCollected {
    pub address: String,
    pub files: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<Msg>,
}

/// What was written.
#[derive(Debug, Serialize)]
pub struct Collected {
    pub file: PathBuf,
    pub hosts: Vec<HostCollected>,
    /// Files from this machine (reports, state, logs of recent runs).
    pub local_files: usize,
    pub size: u64,
}

/// Collects and writes the archive; `progress` hears of each host as it
/// is done.
pub async fn collect(
    mut req: CollectRequest,
    progress: &(dyn Fn(&HostCollected) + Sync),
) -> Result<Collected, RunError> {
    crate::installation::adopt(&req.data_dir, &mut req.answers);
    let locale = req.locale.as_str();
    let a = &req.answers;
    let secrets = crate::run::secrets_or_profile(req.secrets, a, &req.base, &req.profile, locale)?;
    let mut hidden: Vec<String> = secrets.values().iter().map(|s| s.to_string()).collect();
    hidden.extend(crate::deploy::secrets::values(&req.data_dir, a));
    crate::redact::add(&hidden);
    let per_host = if a.topology.kind == TopologyKind::K8s {
        let (files, unreachable) = match cluster::files(a, &req.base).await {
            Ok(files) => (files, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        let summary = HostCollected {
            address: CLUSTER.into(),
            files: files.len(),
            unreachable,
        };
        progress(&summary);
        vec![(summary, files)]
    } else {
        from_hosts(a, secrets, &req.data_dir, &req.base, progress).await
    };

    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut hosts = Vec::new();
    let on_cluster = a.topology.kind == TopologyKind::K8s;
    for (summary, files) in per_host {
        for (name, content) in files {
            // The cluster's files are named under `cluster/` already.
            entries.push(if on_cluster {
                (name, content)
            } else {
                (format!("hosts/{}/{name}", summary.address), content)
            });
        }
        hosts.push(summary);
    }
    // The hosts' records say which installation this is: this machine's
    // runs of another one (the same addresses at another site) stay out.
    let mut a = a.clone();
    if !on_cluster {
        let answered: Vec<(String, Option<String>)> = per_host_records(&entries);
        let candidate = crate::profile::install_id(&a);
        match crate::installation::identify(&req.data_dir, &candidate, &answered) {
            crate::installation::Identity::Same => {}
            crate::installation::Identity::Joins { install, .. }
            | crate::installation::Identity::New { install, .. } => a.install = Some(install),
        }
    }
    let a = &a;
    let local = local_files(&req.runs, a);
    let local_files = local.len();
    entries.extend(local);
    let (entries, withheld) = without_private_keys(entries);
    let mut entries = unpackable(entries);
    entries.push((
        "MANIFEST.txt".into(),
        manifest(a, &hosts, &entries, &withheld).into_bytes(),
    ));
    let (out, size) = write(&req.out, &entries)
        .map_err(|e| RunError::new(ErrorKind::Io, vec![format!("{}: {e}", req.out.display())]))?;
    Ok(Collected {
        file: out,
        hosts,
        local_files,
        size,
    })
}

/// Every host of the answers, all at once: what each gave.
async fn from_hosts(
    a: &Answers,
    secrets: Secrets,
    data_dir: &Path,
    base: &Path,
    progress: &(dyn Fn(&HostCollected) + Sync),
) -> Vec<(HostCollected, Vec<(String, Vec<u8>)>)> {
    let mut connector = Connector::new(
        a,
        secrets,
        data_dir,
        base,
        crate::connect::askpass_program(),
    );
    connector.install_key = false;
    let connector = Arc::new(connector);
    let targets = Targets::open(&connector, a).await;

    let asks = a.hosts.iter().map(|h| {
        let targets = &targets;
        async move {
            let addr = h.address.clone();
            let (files, unreachable) = match targets.hosts.get(&addr) {
                Some(t) => match host_files(t).await {
                    Ok(files) => (files, None),
                    Err(e) => (Vec::new(), Some(Msg::new("collect.failed").arg("error", e))),
                },
                None => (
                    Vec::new(),
                    Some(
                        targets
                            .unreachable
                            .get(&addr)
                            .map(|u| u.failure.message().clone())
                            .unwrap_or_else(|| Msg::from("")),
                    ),
                ),
            };
            let summary = HostCollected {
                address: addr,
                files: files.len(),
                unreachable,
            };
            progress(&summary);
            (summary, files)
        }
    });
    let per_host = futures_util::future::join_all(asks).await;
    targets.close().await;
    per_host
}

/// One round trip: every section the host gives, split by markers.
async fn host_files(t: &Target) -> Result<Vec<(String, Vec<u8>)>, String> {
    let config = format!("{}/cd/config", t.data_dir);
    let script = format!(
        r#"{sec}
sec install.json; cat /etc/cdwiz/install.json 2>&1
sec os-release; cat /etc/os-release 2>&1
sec uname; uname -a 2>&1
sec df; df -h 2>&1
sec free; free -m 2>&1
sec time; (timedatectl 2>&1; chronyc tracking 2>&1) | head -n 60
sec docker-info; docker info 2>&1
sec containers.txt; docker ps -a --filter label=io.cdwiz.component --format '{{{{.Names}}}} {{{{.Image}}}} {{{{.Status}}}}' 2>&1
find {config} -type f 2>/dev/null | sort | while read -r f; do sec "config/${{f#{config}/}}"; cat "$f"; done
for c in $(docker ps -a --filter label=io.cdwiz.component --format '{{{{.Names}}}}' 2>/dev/null); do
  sec "containers/$c.inspect.json"; docker inspect "$c" 2>&1
  sec "containers/$c.log"; docker logs --tail {LOG_LINES} "$c" 2>&1
done
{hidden}
true"#,
        sec = readback::SECTION_FN,
        config = crate::ssh::quote(&config),
        hidden = readback::hidden_script(t),
    );
    let out = t
        .conn
        .run(&script, Duration::from_secs(120))
        .await
        .map_err(|e| e.to_string())?;
    Ok(readback::without_hidden(&out.stdout))
}

/// Adds secret values found on a host or in the cluster to what every
/// file of the archive is cleaned of, whatever their length, in every form
/// (`crate::redact::forms`).
fn hide_secrets(values: &[String]) {
    crate::redact::add(values);
}

/// Each host that answered, with the installation its `install.json`
/// names (none when it has none).
fn per_host_records(entries: &[(String, Vec<u8>)]) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for (name, content) in entries {
        let Some((host, file)) = name
            .strip_prefix("hosts/")
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        if file != "install.json" {
            continue;
        }
        let id = serde_json::from_slice::<serde_json::Value>(content)
            .ok()
            .and_then(|r| r.get("install")?.as_str().map(str::to_string));
        out.push((host.to_string(), id));
    }
    out
}

/// The installation's recent runs on this machine (a deploy of its id, a
/// dry run that found it): reports, state, the answers and the logs.
fn local_files(runs: &Path, a: &Answers) -> Vec<(String, Vec<u8>)> {
    let install = crate::profile::install_id(a);
    let ours = |d: &Path| match crate::deploy::state::load(d) {
        Some(s) => s.install == install,
        None if d.join(crate::rundir::INSTALL_FILE).exists() => {
            std::fs::read_to_string(d.join(crate::rundir::INSTALL_FILE))
                .is_ok_and(|t| t.trim() == install)
        }
        // A run of an older cdwiz that said nothing of its installation.
        None => std::fs::read_to_string(d.join("answers.yaml"))
            .ok()
            .and_then(|t| serde_yaml::from_str::<Answers>(&t).ok())
            .is_some_and(|r| {
                r.hosts
                    .iter()
                    .any(|h| a.hosts.iter().any(|x| x.address == h.address))
            }),
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|d| ours(d))
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs.iter().rev().take(RECENT_RUNS) {
        let run = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut names = vec![
            "answers.yaml".to_string(),
            "checks.json".into(),
            "checks.md".into(),
            "state.json".into(),
            "deploy.json".into(),
            "summary.md".into(),
            "uninstall.json".into(),
        ];
        if let Ok(logs) = std::fs::read_dir(dir.join("logs")) {
            let mut l: Vec<String> = logs
                .flatten()
                .map(|e| format!("logs/{}", e.file_name().to_string_lossy()))
                .collect();
            l.sort();
            names.extend(l);
        }
        for name in names {
            if let Ok(content) = std::fs::read(dir.join(&name)) {
                out.push((format!("local/runs/{run}/{name}"), content));
            }
        }
    }
    out
}

/// What is inside, and what could not be had.
fn manifest(
    a: &Answers,
    hosts: &[HostCollected],
    entries: &[(String, Vec<u8>)],
    withheld: &[String],
) -> String {
    let from = if a.topology.kind == TopologyKind::K8s {
        format!(
            "the cluster, namespace {}",
            crate::plan::namespace(&a.topology)
        )
    } else {
        "hosts".to_string()
    };
    let mut m = format!(
        "cdwiz collect {}\ninstallation {} ({})\n\n{from}:\n",
        env!("CARGO_PKG_VERSION"),
        crate::profile::install_id(a),
        a.topology.kind.as_str()
    );
    for h in hosts {
        match &h.unreachable {
            None => m.push_str(&format!("  {}: {} files\n", h.address, h.files)),
            Some(why) => m.push_str(&format!(
                "  {}: unreachable: {}\n",
                h.address,
                why.render("en")
            )),
        }
    }
    m.push_str("\nfiles:\n");
    for (name, content) in entries {
        m.push_str(&format!("  {name} ({} bytes)\n", content.len()));
    }
    if !withheld.is_empty() {
        m.push_str("\nwithheld (they hold a private key):\n");
        for name in withheld {
            m.push_str(&format!("  {name}\n"));
        }
    }
    m.push_str("\nEvery password and generated secret is replaced by ***.\n");
    m
}

/// The entries but those holding a private key (a TLS key an admin put
/// under the config folder, a key pasted into a log): their names, to say
/// in the manifest that they were left out.
fn without_private_keys(entries: Vec<(String, Vec<u8>)>) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let mut withheld = Vec::new();
    let kept = entries
        .into_iter()
        .filter(|(name, content)| {
            let text = String::from_utf8_lossy(content);
            let key = text.contains("PRIVATE KEY-----") || text.contains("PRIVATE KEY BLOCK-----");
            if key {
                withheld.push(name.clone());
            }
            !key
        })
        .collect();
    (kept, withheld)
}

/// The entries with no file named like another's folder (`containers`
/// beside `containers/x.log` would stop `tar -xzf`): such a file gets
/// `.txt` added.
fn unpackable(entries: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let folders: std::collections::HashSet<&str> = entries
        .iter()
        .flat_map(|(p, _)| {
            p.char_indices()
                .filter(|(_, c)| *c == '/')
                .map(move |(i, _)| &p[..i])
        })
        .collect();
    let renamed: Vec<String> = entries
        .iter()
        .map(|(p, _)| {
            if folders.contains(p.as_str()) {
                format!("{p}.txt")
            } else {
                p.clone()
            }
        })
        .collect();
    renamed
        .into_iter()
        .zip(entries)
        .map(|(p, (_, c))| (p, c))
        .collect()
}

/// Writes the archive (beside its place, then renamed), every file with
/// every secret this process knows replaced (`crate::redact`); its path
/// and size.
fn write(out: &Path, entries: &[(String, Vec<u8>)]) -> std::io::Result<(PathBuf, u64)> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cdwiz-collect.tar.gz".into());
    let partial = out.with_file_name(format!(".{name}.partial"));
    let result = (|| {
        let file = std::fs::File::create(&partial)?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::new(6));
        let mut tar = tar::Builder::new(gz);
        let top = Path::new(name.trim_end_matches(".tar.gz").trim_end_matches(".tgz"));
        for (path, content) in entries {
            let clean = crate::redact::apply(&String::from_utf8_lossy(content));
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o600);
            h.set_size(clean.len() as u64);
            h.set_mtime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            );
            tar.append_data(&mut h, top.join(path), clean.as_bytes())?;
        }
        let mut file = tar.into_inner()?.finish()?;
        file.flush()?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, out)?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok((out.to_path_buf(), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unpacked with plain `tar -xzf` into an empty folder: a file named
    /// like a folder of other files (as the container list once was) does
    /// not stop it.
    #[test]
    fn the_archive_unpacks_with_tar() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("support.tar.gz");
        let entries = vec![
            ("hosts/h/containers".to_string(), b"cd-web up".to_vec()),
            (
                "hosts/h/containers/cd-web.log".to_string(),
                b"line".to_vec(),
            ),
            ("MANIFEST.txt".to_string(), b"m".to_vec()),
        ];
        write(&out, &unpackable(entries)).unwrap();
        let into = tmp.path().join("into");
        std::fs::create_dir(&into).unwrap();
        let st = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&out)
            .arg("-C")
            .arg(&into)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let read = |p: &str| std::fs::read_to_string(into.join("support").join(p)).unwrap();
        assert_eq!(read("hosts/h/containers.txt"), "cd-web up");
        assert_eq!(read("hosts/h/containers/cd-web.log"), "line");
    }

    /// Of this installation's runs the 5 newest are carried (by their
    /// time-ordered names), another installation's never.
    #[test]
    fn the_five_newest_runs_of_this_installation_are_carried() {
        let profile = "version: 1\nbundle: ./b\n\
             topology: { kind: single }\n\
             ssh: { user: root, auth: password, password-env: X }\n\
             hosts:\n  - { address: 192.0.2.11, roles: [master] }\n";
        let a: Answers = serde_yaml::from_str(profile).unwrap();
        let other = profile.replace("192.0.2.11", "198.51.100.7");
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        for i in 1..=7 {
            let dir = runs.join(format!("20261207-0000{i:02}-aaaa"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("answers.yaml"), profile).unwrap();
        }
        let theirs = runs.join("20261207-000099-bbbb");
        std::fs::create_dir_all(&theirs).unwrap();
        std::fs::write(theirs.join("answers.yaml"), other).unwrap();
        let carried: Vec<String> = local_files(tmp.path(), &a)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let want: Vec<String> = (3..=7)
            .rev()
            .map(|i| format!("local/runs/20261207-0000{i:02}-aaaa/answers.yaml"))
            .collect();
        assert_eq!(carried, want);
    }
}
