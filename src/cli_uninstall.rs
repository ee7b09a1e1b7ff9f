//! `cdwiz uninstall --profile P [--purge --yes]`: the engine's uninstall
//! (`cdwiz::run::uninstall`) as lines, text or JSON.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use cdwiz::i18n::Msg;
use cdwiz::run::{UninstallRequest, Uninstalled};

use crate::headless::{EXIT_DEPLOY_FAILED, EXIT_OK, Output, bad_input};

pub struct Options {
    pub profile: PathBuf,
    pub purge: bool,
    pub yes: bool,
    pub non_interactive: bool,
    pub output: Output,
    pub workdir: Option<PathBuf>,
    pub locale: String,
}

/// Exit 0 when every host is clean, 4 when a host could not be reached
/// (the others are cleaned) or the cluster refused, 2 for bad input.
pub async fn run(opts: Options) -> u8 {
    let locale = opts.locale.as_str();
    if opts.purge && !opts.yes && !confirmed_purge(&opts) {
        return bad_input(&[cdwiz::i18n::text("headless.purge-needs-yes", locale)]);
    }
    let data_dir = cdwiz::paths::data_dir();
    let answers = match cdwiz::profile::load_file(&opts.profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(locale)]),
    };
    let req = UninstallRequest {
        answers,
        base: opts
            .profile
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        workdir: opts.workdir.clone().unwrap_or_else(|| data_dir.clone()),
        data_dir,
        profile: opts.profile.clone(),
        secrets: None,
        purge: opts.purge,
        locale: opts.locale.clone(),
    };
    let (done, record) = match cdwiz::run::uninstall(req).await {
        Ok(r) => r,
        Err(e) => {
            return match e.kind {
                cdwiz::run::ErrorKind::BadInput | cdwiz::run::ErrorKind::Refused => {
                    bad_input(&e.lines)
                }
                _ => {
                    for l in &e.lines {
                        eprintln!("{l}");
                    }
                    EXIT_DEPLOY_FAILED
                }
            };
        }
    };
    match opts.output {
        Output::Json => json_lines(&done, record.as_deref()),
        Output::Text => {
            for line in text_lines(&done, opts.purge) {
                println!("{}", line.render(locale));
            }
            if let Some(dir) = &record {
                let line = Msg::new("headless.uninstall-record")
                    .arg("path", dir.join("uninstall.json").display());
                println!("{}", line.render(locale));
            }
        }
    }
    if done.unreachable() > 0 {
        EXIT_DEPLOY_FAILED
    } else {
        EXIT_OK
    }
}

/// `--purge` without `--yes` at a terminal: the operator types `yes`.
fn confirmed_purge(opts: &Options) -> bool {
    if opts.non_interactive || !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!(
        "{} ",
        cdwiz::i18n::text("headless.purge-question", &opts.locale)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

fn text_lines(done: &Uninstalled, purge: bool) -> Vec<Msg> {
    let mut lines = Vec::new();
    match done {
        Uninstalled::Hosts { hosts } => {
            for r in hosts {
                lines.push(match &r.skipped {
                    Some(why) => Msg::new("headless.uninstall-skipped")
                        .arg("host", &r.host)
                        .arg("why", why),
                    None => Msg::new(if r.data_removed {
                        "headless.uninstalled-purged"
                    } else {
                        "headless.uninstalled"
                    })
                    .arg("host", &r.host)
                    .arg("containers", r.containers_removed),
                });
                if r.key_removed {
                    lines.push(Msg::new("headless.key-removed").arg("host", &r.host));
                }
                if r.other_keys_removed > 0 {
                    lines.push(
                        Msg::new("headless.other-keys-removed")
                            .arg("host", &r.host)
                            .arg("count", r.other_keys_removed),
                    );
                }
            }
        }
        Uninstalled::Cluster { namespace, removed } => {
            if removed.is_empty() {
                lines.push(Msg::new("headless.k8s-uninstall-nothing").arg("ns", namespace));
            }
            for (kind, names) in removed {
                lines.push(
                    Msg::new("headless.k8s-uninstalled")
                        .arg("kind", kind)
                        .arg("names", names.join(", "))
                        .arg("ns", namespace),
                );
            }
            if !removed.is_empty() && !purge {
                lines.push(Msg::new("headless.k8s-data-kept").arg("ns", namespace));
            }
        }
    }
    lines
}

/// One JSON object per host (or per kind of object), then the end.
fn json_lines(done: &Uninstalled, record: Option<&Path>) {
    match done {
        Uninstalled::Hosts { hosts } => {
            for r in hosts {
                let mut v = serde_json::json!({ "event": "host-uninstalled" });
                if let (Some(o), Ok(serde_json::Value::Object(extra))) =
                    (v.as_object_mut(), serde_json::to_value(r))
                {
                    o.extend(extra);
                }
                println!("{v}");
            }
        }
        Uninstalled::Cluster { namespace, removed } => {
            for (kind, names) in removed {
                let v = serde_json::json!({
                    "event": "objects-deleted", "namespace": namespace, "kind": kind, "names": names,
                });
                println!("{v}");
            }
        }
    }
    let v = serde_json::json!({
        "event": "uninstall-done",
        "unreachable": done.unreachable(),
        "record": record.map(|d| d.join("uninstall.json")),
    });
    println!("{v}");
}
