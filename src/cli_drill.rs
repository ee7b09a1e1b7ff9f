//! `cdwiz drill --profile P [--yes] [--hold S]`: the engine's HA drill
//! (`cdwiz::drill`) as lines, text or JSON; the report also written to
//! `runs/<drill id>/drill.txt` (in the operator's language) and
//! `drill.json` under the data dir (or `--workdir`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cdwiz::drill::{DrillError, DrillEvent, DrillPlan, DrillRequest};
use cdwiz::i18n::Msg;

use crate::headless::{EXIT_INTERRUPTED, EXIT_OK, Output, bad_input};

/// Exit code of a drill that ran and failed: a host's loss stopped the
/// platform, a host did not come back whole, or an acknowledged write was
/// lost.
pub const EXIT_DRILL_FAILED: u8 = 6;

pub struct Options {
    pub profile: PathBuf,
    pub yes: bool,
    pub hold: u64,
    pub non_interactive: bool,
    pub output: Output,
    pub workdir: Option<PathBuf>,
    pub locale: String,
}

/// Exit 0 when the drill passed, 6 when it failed, 5 when the installation
/// was not whole before it, 2 for bad input or no confirmation, 130 when
/// the operator stopped it.
pub async fn run(opts: Options) -> u8 {
    let locale = opts.locale.as_str();
    let answers = match cdwiz::profile::load_file(&opts.profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(locale)]),
    };
    let data_dir = cdwiz::paths::data_dir();
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let req = DrillRequest {
        answers,
        profile: opts.profile.clone(),
        base: opts
            .profile
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        data_dir: data_dir.clone(),
        locale: opts.locale.clone(),
        hold: Duration::from_secs(opts.hold),
        cancel: cancel.clone(),
    };
    let confirm = |plan: &DrillPlan| confirmed(&opts, plan);
    let events = |e: DrillEvent| show(&e, opts.output, locale);
    let report = match cdwiz::drill::drill(req, &confirm, &events).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            let key = if opts.non_interactive || !std::io::stdin().is_terminal() {
                "drill.refused.confirm"
            } else {
                "drill.refused.no"
            };
            return bad_input(&[cdwiz::i18n::text(key, locale)]);
        }
        Err(DrillError::Run(e)) => return bad_input(&e.lines),
        Err(DrillError::NotWell(problems)) => {
            eprintln!("{}", cdwiz::i18n::text("drill.refused.not-well", locale));
            for p in &problems {
                eprintln!("  {}", p.render(locale));
            }
            return crate::cli_status::EXIT_NOT_WELL;
        }
    };
    let lines = report.lines(locale);
    let base = opts.workdir.clone().unwrap_or(data_dir);
    let saved = save(&base, &report, &lines);
    match opts.output {
        Output::Json => {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "drill".into());
                o.insert("passed".into(), report.passed().into());
                if let Ok(p) = &saved {
                    o.insert("report".into(), p.display().to_string().into());
                }
            }
            println!("{v}");
        }
        Output::Text => {
            for l in &lines {
                println!("{l}");
            }
            if let Ok(p) = &saved {
                println!(
                    "{}",
                    Msg::new("drill.report.saved")
                        .arg("path", p.display())
                        .render(locale)
                );
            }
        }
    }
    if let Err(e) = saved {
        eprintln!("{}: {e}", base.display());
    }
    if report.interrupted {
        EXIT_INTERRUPTED
    } else if report.passed() {
        EXIT_OK
    } else {
        EXIT_DRILL_FAILED
    }
}

/// `--yes`, or the operator types `yes` at a terminal.
fn confirmed(opts: &Options, plan: &DrillPlan) -> bool {
    if opts.yes {
        return true;
    }
    if opts.non_interactive || !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!(
        "{}",
        Msg::new("drill.confirm")
            .arg("hosts", plan.hosts.join(", "))
            .arg("entry", &plan.entry)
            .arg("profile", opts.profile.display())
            .render(&opts.locale)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

/// One line per event (stderr for text, so that stdout is the report).
fn show(e: &DrillEvent, output: Output, locale: &str) {
    let (key, msg) = match e {
        DrillEvent::Started { entry, hosts } => (
            "started",
            Msg::new("drill.event.started")
                .arg("entry", entry)
                .arg("hosts", hosts),
        ),
        DrillEvent::HostOut { host, held } => (
            "out",
            Msg::new("drill.event.out").arg("host", host).arg(
                "held",
                if held.is_empty() {
                    "-".into()
                } else {
                    held.join(", ")
                },
            ),
        ),
        DrillEvent::EntryBack { host, secs } => (
            "entry-back",
            Msg::new("drill.event.entry-back")
                .arg("host", host)
                .arg("secs", format!("{secs:.1}")),
        ),
        DrillEvent::HostBack { host } => ("back", Msg::new("drill.event.back").arg("host", host)),
        DrillEvent::Whole { host, secs } => (
            "whole",
            Msg::new("drill.event.whole")
                .arg("host", host)
                .arg("secs", format!("{secs:.0}")),
        ),
        DrillEvent::Reading { acknowledged } => (
            "reading",
            Msg::new("drill.event.reading").arg("count", acknowledged),
        ),
    };
    match output {
        Output::Json => {
            let v = serde_json::json!({
                "event": format!("drill.{key}"),
                "message": msg,
            });
            println!("{v}");
        }
        Output::Text => eprintln!("{}", msg.render(locale)),
    }
}

/// `runs/<drill id>/drill.txt` and `drill.json` under `base`; the text's
/// path.
fn save(
    base: &Path,
    report: &cdwiz::drill::DrillReport,
    lines: &[String],
) -> std::io::Result<PathBuf> {
    let dir = cdwiz::rundir::create(base, &report.run)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    cdwiz::rundir::write_atomic(&dir.join("drill.json"), &(json + "\n"))?;
    let text = dir.join("drill.txt");
    cdwiz::rundir::write_atomic(&text, &(lines.join("\n") + "\n"))?;
    Ok(text)
}
