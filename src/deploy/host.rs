//! The per-host phases of a deploy: the pre-deploy hook, prepare (data
//! disk, kernel settings, /etc/hosts, directories, secrets, the install
//! record), runtime, images and configs; and the hooks after it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bollard::query_parameters::ImportImageOptions;
use futures_util::StreamExt;

use super::hostlog::HostLogs;
use super::step::{FILES_SCRIPT, FileSpec, Run, StepError, files_input, put_files, written};
use super::{
    CMD_TIMEOUT, HOOK_TIMEOUT, INSTALL_RECORD, Target, Targets, prepare, version_at_least,
};
use crate::bundle::Component;
use crate::docker::has_image;
use crate::event::Event;
use crate::i18n::Msg;
use crate::ssh::quote;

/// Hosts that could not be opened fail at their first step.
pub(crate) async fn unreachable(
    run: &Run<'_>,
    targets: &Targets,
    planned: &[(String, Vec<String>)],
) {
    for (addr, why) in &targets.unreachable {
        let first = planned
            .iter()
            .find(|(h, _)| h == addr)
            .and_then(|(_, s)| s.first().cloned())
            .unwrap_or_else(|| "prepare".into());
        run.step(addr, &first, || async {
            Err::<bool, _>(StepError::from(
                Msg::new("deploy.error.unreachable").arg("why", why),
            ))
        })
        .await;
    }
}

/// Per host, in parallel: hook, prepare, runtime, images, configs.
pub(super) async fn prepare_all(
    run: &Run<'_>,
    targets: &Targets,
    placed: &BTreeMap<String, Vec<String>>,
) {
    let input = run.input;
    let manifest = &input.bundle.manifest;
    targets.ensure_hostnames().await;
    let hosts_entries: Vec<(String, String)> = targets
        .hosts
        .values()
        .map(|t| (t.address.clone(), t.hostname()))
        .collect();
    let per_host = targets.hosts.values().map(|t| {
        let run = &run;
        let placed = &placed;
        let hosts_entries = &hosts_entries;
        async move {
            let addr = t.address.as_str();
            if let Some(hook) = &input.hooks.pre_deploy {
                run.step(addr, "hook pre-deploy", || {
                    run_hook(t, &run.ctx.logs, "pre-deploy", hook, &run.ctx.run_id)
                })
                .await;
            }
            run.step(addr, "prepare", || {
                prepare_host(run, t, placed, hosts_entries)
            })
            .await;
            run.step(addr, "runtime", || async {
                let docker = t.docker().await?;
                let v = docker
                    .version()
                    .await
                    .map_err(|e| Msg::new("deploy.error.docker-api").arg("error", e))?;
                let have = v.version.unwrap_or_default();
                let min = &manifest.requirements.docker_min;
                run.ctx.logs.log(
                    addr,
                    &format!("Docker engine {have} (at least {min} needed)"),
                );
                if !version_at_least(&have, min) {
                    return Err(Msg::new("deploy.error.docker-old")
                        .arg("have", have)
                        .arg("min", min)
                        .into());
                }
                Ok(false)
            })
            .await;
            run.step(addr, "images", || load_images(run, t)).await;
            run.step(addr, "configs", || async {
                let files: Vec<FileSpec> = config_files(input.rendered, addr, &t.data_dir)
                    .map(|(path, content)| FileSpec {
                        path,
                        mode: "644",
                        content: content.as_bytes(),
                    })
                    .collect();
                let wrote = put_files(t, &files).await?;
                for path in &wrote {
                    run.ctx.logs.log(addr, &format!("wrote {path}"));
                }
                Ok(!wrote.is_empty())
            })
            .await;
        }
    });
    futures_util::future::join_all(per_host).await;
}

/// The rendered files of the host `addr` and where they go on it
/// (`<data-dir>/cd/config/<file>`).
pub fn config_files<'a>(
    rendered: &'a [crate::render::RenderedFile],
    addr: &'a str,
    data_dir: &'a str,
) -> impl Iterator<Item = (String, &'a str)> + 'a {
    rendered.iter().filter_map(move |f| {
        let rel = f.path.strip_prefix(addr).ok()?;
        Some((
            format!("{data_dir}/cd/config/{}", rel.display()),
            f.content.as_str(),
        ))
    })
}

/// Hooks after the deploy: post-deploy on the hosts that made it, on-error
/// on the hosts that failed.
pub(super) async fn after(run: &Run<'_>, targets: &Targets) {
    let input = run.input;
    let after = targets.hosts.values().map(|t| {
        let run = &run;
        async move {
            let addr = t.address.as_str();
            if run.failed(addr) {
                if let Some(hook) = &input.hooks.on_error {
                    run.ctx.logs.log(addr, "running the on-error hook");
                    let _ = run_hook(t, &run.ctx.logs, "on-error", hook, &run.ctx.run_id).await;
                }
            } else if let Some(hook) = &input.hooks.post_deploy {
                run.step(addr, "hook post-deploy", || {
                    run_hook(t, &run.ctx.logs, "post-deploy", hook, &run.ctx.run_id)
                })
                .await;
            }
        }
    });
    futures_util::future::join_all(after).await;
}

async fn run_hook(
    t: &Target,
    logs: &HostLogs,
    phase: &str,
    script: &str,
    run_id: &str,
) -> Result<bool, StepError> {
    let wrapped = format!(
        "CDWIZ_PHASE={phase} CDWIZ_HOST={host} CDWIZ_RUN={run} CDWIZ_DATA_DIR={dir} sh -s",
        phase = quote(phase),
        host = quote(&t.address),
        run = quote(run_id),
        dir = quote(&t.data_dir),
    );
    logs.log(&t.address, &format!("hook {phase}: running"));
    // The hook's output goes to the host's log line by line, as it runs.
    let addr = t.address.clone();
    let out = t
        .conn
        .run_streaming(&wrapped, Some(script.as_bytes()), HOOK_TIMEOUT, &|line| {
            logs.log(&addr, &format!("[{phase}] {line}"))
        })
        .await
        .map_err(|e| format!("the {phase} hook: {e}"))?;
    if out.code != 0 {
        let last = out.stderr.trim().lines().last().unwrap_or("").to_string();
        return Err(StepError {
            message: Msg::new("deploy.error.exited")
                .arg("what", format!("the {phase} hook"))
                .arg("code", out.code)
                .arg("last", last),
            code: Some(out.code),
        });
    }
    Ok(true)
}

/// Prepares the host in one round trip: its data disk (only when the
/// profile asks), the kernel settings, the cluster's names in /etc/hosts,
/// the directories, then the generated secrets and the install record
/// (through stdin, each written only when it differs).
async fn prepare_host(
    run: &Run<'_>,
    t: &Target,
    placed: &BTreeMap<String, Vec<String>>,
    hosts_entries: &[(String, String)],
) -> Result<bool, StepError> {
    let input = run.input;
    let manifest = &input.bundle.manifest;
    let addr = t.address.as_str();
    let base = format!("{}/cd", t.data_dir);
    let mut parts: Vec<(&str, Changed, String)> = Vec::new();
    let profile_host = input.answers.hosts.iter().find(|h| h.address == addr);
    let disk = profile_host
        .filter(|h| h.format_data_disk)
        .and_then(|h| h.data_disk.clone());
    if let Some(disk) = &disk {
        let script = prepare::data_disk_script(disk, &t.data_dir);
        parts.push((DATA_DISK, Changed::LastLine, script));
    }
    if !manifest.requirements.sysctl.is_empty() {
        let script = prepare::sysctl_script(&manifest.requirements.sysctl);
        parts.push(("sysctl", Changed::LastLine, script));
    }
    let script = prepare::hosts_file_script(hosts_entries);
    parts.push(("/etc/hosts", Changed::LastLine, script));
    let here: Vec<&Component> = manifest
        .components
        .iter()
        .filter(|c| placed[&c.name].iter().any(|a| a == addr))
        .collect();
    let mut dirs = vec![format!("{base}/config"), format!("{base}/secrets")];
    dirs.extend(
        here.iter()
            .flat_map(|c| c.volumes.keys().map(|v| format!("{base}/{v}"))),
    );
    let script = format!(
        "for d in {}; do [ -d \"$d\" ] || {{ mkdir -p \"$d\" && echo \"created $d\"; }}; done; chmod 700 {}",
        dirs.iter().map(|d| quote(d)).collect::<Vec<_>>().join(" "),
        quote(&format!("{base}/secrets"))
    );
    parts.push(("directories", Changed::AnyOutput, script));

    let mut names: Vec<&String> = here.iter().flat_map(|c| c.secrets.iter()).collect();
    names.sort();
    names.dedup();
    let mut files = Vec::new();
    for n in names {
        let value = input
            .generated
            .get(n)
            .ok_or_else(|| format!("no generated secret `{n}`"))?;
        files.push(FileSpec {
            path: format!("{base}/secrets/{n}"),
            mode: "600",
            content: value.as_bytes(),
        });
    }
    // A rollout writes each host's record once the host runs the release.
    let record = install_record_file(input, t).await;
    if !input.rolling {
        files.push(FileSpec {
            path: INSTALL_RECORD.to_string(),
            mode: "644",
            content: record.as_bytes(),
        });
    }

    let script = parts_script(&parts);
    let out = t
        .conn
        .run_with_input(&script, Some(&files_input(&files)), CMD_TIMEOUT)
        .await
        .map_err(|e| format!("prepare: {e}"))?;
    let logs = &run.ctx.logs;
    let mut changed = false;
    let mut failed = None;
    for line in out.stdout.lines() {
        if let Some(p) = line.strip_prefix("cdwiz-changed ") {
            tracing::debug!(host = addr, part = p, "prepared");
            changed = true;
        } else if let Some(p) = line.strip_prefix("cdwiz-wrote ") {
            logs.log(addr, &format!("wrote {p}"));
            changed = true;
        } else if let Some(p) = line.strip_prefix("cdwiz-failed ") {
            failed = Some(p.to_string());
        } else {
            logs.log(addr, line);
        }
    }
    logs.log(addr, &out.stderr);
    if out.code == 0 {
        return Ok(changed);
    }
    let last = out.stderr.trim().lines().last().unwrap_or("").to_string();
    Err(match (failed.as_deref(), &disk) {
        (Some(DATA_DISK), Some(disk)) => StepError {
            message: prepare::data_disk_problem(out.code, disk, &t.data_dir, &last),
            code: Some(out.code),
        },
        (Some(what), _) => StepError {
            message: Msg::new("deploy.error.exited")
                .arg("what", what)
                .arg("code", out.code)
                .arg("last", last),
            code: Some(out.code),
        },
        (None, _) => {
            let path = files
                .iter()
                .find(|f| !written(&out.stdout).contains(&f.path))
                .map(|f| f.path.clone())
                .unwrap_or_default();
            Msg::new("deploy.error.write")
                .arg("path", path)
                .arg("error", last)
                .into()
        }
    })
}

const DATA_DISK: &str = "data disk";

/// How a part of the preparation says it changed something.
#[derive(Clone, Copy)]
enum Changed {
    /// Its last output line is `changed`.
    LastLine,
    /// It printed anything.
    AnyOutput,
}

/// One script running each part in its own shell (stdin kept for the
/// files), in order: a failing part stops the rest, naming itself
/// (`cdwiz-failed LABEL`) with its exit code; a part that changed
/// something says `cdwiz-changed LABEL`. Then the files from stdin.
fn parts_script(parts: &[(&str, Changed, String)]) -> String {
    let mut s = String::from(
        "nl='\n'\n\
         part() {\n\
           o=$(sh -c \"$3\" < /dev/null); rc=$?\n\
           [ -n \"$o\" ] && printf '%s\\n' \"$o\"\n\
           if [ $rc -ne 0 ]; then echo \"cdwiz-failed $1\"; exit $rc; fi\n\
           case $2 in\n\
             last) [ \"${o##*\"$nl\"}\" = changed ] && echo \"cdwiz-changed $1\" ;;\n\
             any) [ -n \"$o\" ] && echo \"cdwiz-changed $1\" ;;\n\
           esac\n\
           return 0\n\
         }\n",
    );
    for (label, how, script) in parts {
        let how = match how {
            Changed::LastLine => "last",
            Changed::AnyOutput => "any",
        };
        s.push_str(&format!("part {} {how} {}\n", quote(label), quote(script)));
    }
    s.push_str(FILES_SCRIPT);
    s.push('\n');
    s
}

/// The install record's file content for the host `t`.
pub(super) async fn install_record_file(input: &super::Input<'_>, t: &Target) -> String {
    let seen_from = t.conn.seen_from().await;
    format!("{}\n", install_record(input, t, seen_from.as_deref()))
}

/// The record the checks recognise on a later run as this install, with
/// what cdwiz left in logins' `authorized_keys` (for the security team and
/// for uninstall): this run's key and those of earlier machines.
fn install_record(
    input: &super::Input<'_>,
    t: &Target,
    seen_from: Option<&str>,
) -> serde_json::Value {
    let manifest = &input.bundle.manifest;
    let mut record = serde_json::json!({
        "install": crate::profile::install_id(input.answers),
        "product": manifest.product.name,
        "version": manifest.product.version,
        "ports": manifest.ports(),
    });
    let own = t.conn.own_key.as_ref().map(|key| super::keys::RecordedKey {
        user: t.conn.user.clone(),
        key: key.clone(),
        options: crate::ssh::authorized_keys::options_from(seen_from),
        removed_by_uninstall: !input.answers.ssh.keep_key,
    });
    let recorded = input
        .recorded_keys
        .get(&t.address)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let keys = super::keys::merged(recorded, own);
    if !keys.is_empty() {
        record["ssh-keys"] = serde_json::to_value(keys).unwrap_or_default();
    }
    record
}

/// The architecture of a host's Docker engine in the bundle's words
/// (`amd64`, `arm64`): what its containers run as.
async fn engine_arch(docker: &bollard::Docker) -> Result<String, StepError> {
    let v = docker
        .version()
        .await
        .map_err(|e| Msg::new("deploy.error.docker-api").arg("error", e))?;
    let arch = v.arch.unwrap_or_default();
    Ok(crate::bundle::build::normalize_arch(&arch)
        .map(str::to_string)
        .unwrap_or(arch))
}

/// Loads each image archive of the host's architecture whose images the host
/// lacks, with progress.
pub(crate) async fn load_images(run: &Run<'_>, t: &Target) -> Result<bool, StepError> {
    let docker = t.docker().await?;
    let bundle = run.input.bundle;
    let logs = &run.ctx.logs;
    let addr = t.address.clone();
    let mut changed = false;
    // Only the archives of the engine's own architecture: a bundle for
    // amd64 and arm64 names the same images in both.
    let arch = engine_arch(docker).await?;
    for image in bundle.manifest.images.iter().filter(|i| i.arch == arch) {
        let mut missing = Vec::new();
        for reference in &image.references {
            if !has_image(docker, reference)
                .await
                .map_err(|e| Msg::new("deploy.error.docker-api").arg("error", e))?
            {
                missing.push(reference.as_str());
            }
        }
        if missing.is_empty() {
            continue;
        }
        let total = image.size;
        logs.log(
            &addr,
            &format!(
                "loading {} ({} MB) for {}",
                image.file.display(),
                total / 1_000_000,
                missing.join(", ")
            ),
        );
        let file = tokio::fs::File::open(bundle.dir.join(&image.file))
            .await
            .map_err(|e| {
                Msg::new("deploy.error.load")
                    .arg("file", image.file.display())
                    .arg("error", e)
            })?;
        let sent = Arc::new(AtomicU64::new(0));
        // The transfer begins: shown at once, not only after the first 8 MiB.
        if let Some(tx) = &run.ctx.tx {
            let _ = tx.try_send(Event::ImageProgress {
                host: addr.clone(),
                sent: 0,
                total,
            });
        }
        let (tx, host, counter) = (run.ctx.tx.clone(), addr.clone(), sent.clone());
        let body =
            tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).filter_map(move |r| {
                let (tx, host, counter) = (tx.clone(), host.clone(), counter.clone());
                async move {
                    let chunk = r.ok()?;
                    let before = counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    let after = before + chunk.len() as u64;
                    // An event every 8 MiB.
                    if let Some(tx) = &tx
                        && before >> 23 != after >> 23
                    {
                        let _ = tx.try_send(Event::ImageProgress {
                            host,
                            sent: after,
                            total,
                        });
                    }
                    Some(chunk)
                }
            });
        let started = Instant::now();
        let mut load = docker.import_image_stream(ImportImageOptions::default(), body, None);
        let mut broken = None;
        while let Some(item) = load.next().await {
            let info = match item {
                Ok(info) => info,
                // The engine's answer ended mid-line (seen when its
                // forwarded socket closes early): what counts is whether
                // the images are there, asked below.
                Err(e) => {
                    broken = Some(e.to_string());
                    break;
                }
            };
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(Msg::new("deploy.error.load")
                    .arg("file", image.file.display())
                    .arg("error", err)
                    .into());
            }
            if let Some(s) = info.stream {
                logs.log(&addr, s.trim());
            }
        }
        if let Some(error) = broken {
            let mut absent = Vec::new();
            for reference in &image.references {
                if !has_image(docker, reference).await.unwrap_or(false) {
                    absent.push(reference.as_str());
                }
            }
            if !absent.is_empty() {
                return Err(Msg::new("deploy.error.load")
                    .arg("file", image.file.display())
                    .arg("error", error)
                    .into());
            }
            logs.log(
                &addr,
                &format!(
                    "the engine's answer ended early ({error}), but all {} images are loaded",
                    image.references.len()
                ),
            );
        }
        let bytes = sent.load(Ordering::Relaxed);
        logs.log(
            &addr,
            &format!(
                "loaded {} MB in {:.1} s",
                bytes / 1_000_000,
                started.elapsed().as_secs_f64()
            ),
        );
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::{Changed, parts_script};

    fn sh(script: &str) -> (i32, String, String) {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn each_part_says_whether_it_changed_and_the_first_failure_stops() {
        let script = parts_script(&[
            ("a", Changed::LastLine, "echo did; echo changed".into()),
            ("b", Changed::AnyOutput, "true".into()),
            ("c", Changed::LastLine, "echo unchanged".into()),
            ("d d", Changed::AnyOutput, "echo 'it''s here'".into()),
        ]);
        let (code, out, _) = sh(&script);
        assert_eq!(code, 0, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "did",
                "changed",
                "cdwiz-changed a",
                "unchanged",
                "its here",
                "cdwiz-changed d d"
            ]
        );
        let script = parts_script(&[
            (
                "disk",
                Changed::LastLine,
                "echo 'cdwiz-disk: busy' >&2; exit 12".into(),
            ),
            ("never", Changed::AnyOutput, "echo ran".into()),
        ]);
        let (code, out, err) = sh(&script);
        assert_eq!(code, 12);
        assert_eq!(out.trim(), "cdwiz-failed disk");
        assert_eq!(err.trim(), "cdwiz-disk: busy");
    }
}
