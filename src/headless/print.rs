//! The headless lines: one per check, per deploy step and per note, as
//! plain text or JSON; the checks' summary; what a finished deploy says.

use std::path::Path;

use cdwiz::checks::{CheckRun, Status};
use cdwiz::event::{Event, StepOutcome};
use cdwiz::i18n::{Msg, text};
use cdwiz::run::Finished;

use super::Output;

/// Prints the events of one phase until their sender is dropped.
pub fn printer(
    output: Output,
    locale: &str,
) -> (
    tokio::sync::mpsc::Sender<Event>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(4096);
    let locale = locale.to_string();
    let task = tokio::spawn(async move {
        // Bytes sent, at most one line a second per host (and the last).
        let mut shown: std::collections::HashMap<String, std::time::Instant> = Default::default();
        while let Some(event) = rx.recv().await {
            if let Event::ImageProgress { host, sent, total } = &event {
                let due = shown
                    .get(host)
                    .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1));
                if due || sent >= total {
                    shown.insert(host.clone(), std::time::Instant::now());
                    progress_line(host, *sent, *total, output, &locale);
                }
                continue;
            }
            print_event(&event, output, &locale);
        }
    });
    (tx, task)
}

/// An informational line: plain text, or a JSON `note` event.
pub fn note(output: Output, id: &str, text: &str) {
    match output {
        Output::Text => println!("{text}"),
        Output::Json => println!(
            "{}",
            serde_json::json!({"event": "note", "id": id, "message": text})
        ),
    }
}

fn print_event(event: &Event, output: Output, locale: &str) {
    match event {
        Event::CheckFinished(r) => match output {
            Output::Json => {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("event".into(), "check".into());
                    o.insert("message".into(), r.detail.render(locale).into());
                }
                println!("{v}");
            }
            // A host that could not be reached says so once, on its ssh.* line.
            Output::Text
                if r.status == Status::Skip && r.detail.key == "check.common.not-reached" => {}
            Output::Text => check_line(r, locale),
        },
        Event::DeployStep {
            host,
            step,
            outcome,
            secs,
        } => step_line(host, step, outcome, *secs, output, locale),
        Event::LockTakenOver { .. } => {
            if let Some(m) = event.lock_taken_over() {
                note(output, "lock-taken-over", &m.render(locale));
            }
        }
        Event::LockNotTouched { said, .. } => {
            note(output, "lock-not-touched", &said.render(locale));
        }
        Event::InstallIdentified { said, .. } => {
            note(output, "install-identified", &said.render(locale));
        }
        Event::Backup { said } => note(output, "backup", &said.render(locale)),
        Event::SecretsAdopted { .. } => {
            if let Some(m) = event.secrets_adopted() {
                note(output, "secrets-adopted", &m.render(locale));
            }
        }
        _ => {}
    }
}

fn progress_line(host: &str, sent: u64, total: u64, output: Output, locale: &str) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({"event": "image-progress", "host": host, "sent": sent, "total": total})
        ),
        Output::Text => println!(
            "{}",
            Msg::new("headless.image-progress")
                .arg("host", host)
                .arg("sent", format!("{:.1}", sent as f64 / 1e6))
                .arg("total", format!("{:.1}", total as f64 / 1e6))
                .render(locale)
        ),
    }
}

fn check_line(r: &cdwiz::checks::CheckResult, locale: &str) {
    let mark = match (r.status, r.waived.is_some()) {
        (_, true) => "WAIVED",
        (Status::Pass, _) => "pass",
        (Status::Warn, _) => "WARN",
        (Status::Fail, _) => "FAIL",
        (Status::Skip, _) => "skip",
    };
    println!(
        "{:<15} {:<6} {:<20} {}: {}",
        r.host.as_deref().unwrap_or("*"),
        mark,
        r.id,
        text(&format!("check.{}.title", r.id), locale),
        r.detail.render(locale)
    );
    if matches!(r.status, Status::Warn | Status::Fail) {
        if let Some(h) = &r.hint {
            println!("{:<22} {}", "", h.render(locale));
        }
        if let Some(f) = &r.fix {
            println!("{:<22} fix: {f}", "");
        }
    }
}

fn step_line(
    host: &str,
    step: &str,
    outcome: &StepOutcome,
    secs: f64,
    output: Output,
    locale: &str,
) {
    match output {
        Output::Json => {
            let mut v = serde_json::json!({
                "event": "deploy-step", "host": host, "step": step,
                "secs": (secs * 10.0).round() / 10.0,
            });
            if let (Some(o), Ok(serde_json::Value::Object(extra))) =
                (v.as_object_mut(), serde_json::to_value(outcome))
            {
                o.extend(extra);
                if let StepOutcome::Failed { message, .. }
                | StepOutcome::Skipped { reason: message } = outcome
                {
                    o.insert("message".into(), message.render(locale).into());
                }
            }
            println!("{v}");
        }
        Output::Text => {
            let detail = match outcome {
                StepOutcome::Failed { message, .. } => format!(": {}", message.render(locale)),
                StepOutcome::Skipped { reason } => format!(": {}", reason.render(locale)),
                _ if secs >= 0.05 => format!(" ({secs:.1} s)"),
                _ => String::new(),
            };
            let word = text(&format!("deploy.outcome.{}", outcome.word()), locale);
            let host = if host == cdwiz::deploy::CLUSTER {
                text("deploy.cluster", locale)
            } else {
                host.to_string()
            };
            let step = cdwiz::deploy::step_label(step, locale);
            println!(
                "{} {} {step}{detail}",
                cdwiz::i18n::pad(&host, 15),
                cdwiz::i18n::pad(&word, 9)
            );
        }
    }
}

/// Where the checks' reports and the rendered files are, for the summary.
pub struct CheckPaths<'a> {
    pub run: &'a str,
    pub json: &'a Path,
    pub markdown: &'a Path,
    pub rendered_dir: &'a Path,
    pub rendered: usize,
}

/// Prints the checks' summary (accepted checks, counts, where the reports
/// and rendered files are, what blocks); returns how many checks block.
pub fn checks_done(run: &CheckRun, p: &CheckPaths, output: Output, locale: &str) -> usize {
    let blocking = run.blocking().len();
    let t = |k: &str| text(k, locale);
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "event": "summary",
                "run": p.run,
                "pass": run.count(Status::Pass),
                "warn": run.count(Status::Warn),
                "fail": run.count(Status::Fail),
                "skip": run.count(Status::Skip),
                "blocking": blocking,
                "waived": run.results.iter().filter(|r| r.waived.is_some()).count(),
                "report": { "json": p.json, "markdown": p.markdown },
                "rendered": { "dir": p.rendered_dir, "files": p.rendered },
                "secs": run.secs,
            })
        ),
        Output::Text => {
            for w in &run.waivers {
                println!(
                    "{} {}{}: {}",
                    t("headless.waiver"),
                    w.id,
                    w.host.as_ref().map(|h| format!("@{h}")).unwrap_or_default(),
                    w.reason
                );
            }
            println!(
                "{}",
                Msg::new("headless.checks-summary")
                    .arg("pass", run.count(Status::Pass))
                    .arg("warn", run.count(Status::Warn))
                    .arg("fail", run.count(Status::Fail))
                    .arg("skip", run.count(Status::Skip))
                    .arg("secs", format!("{:.1}", run.secs))
                    .render(locale)
            );
            println!("{} {}", t("headless.report"), p.markdown.display());
            println!("{} {}", t("headless.report"), p.json.display());
            println!(
                "{}",
                Msg::new("headless.rendered")
                    .arg("count", p.rendered)
                    .arg("dir", p.rendered_dir.display())
                    .render(locale)
            );
            if blocking > 0 {
                println!(
                    "{}",
                    Msg::new("headless.blocked")
                        .arg("count", blocking)
                        .render(locale)
                );
            }
        }
    }
    blocking
}

/// Each failed host's error and last log lines (stderr), then the JSON
/// summary event.
pub fn deploy_done(f: &Finished, run: &str, output: Output, locale: &str) {
    let report = &f.report;
    for fail in &report.failures {
        let mut line = Msg::new("headless.failure")
            .arg("host", &fail.host)
            .arg("step", cdwiz::deploy::step_label(&fail.step, locale))
            .arg("phase", cdwiz::deploy::phase_label(&fail.phase, locale))
            .arg("error", fail.message.render(locale))
            .render(locale);
        if let Some(code) = fail.code {
            let code = Msg::new("headless.failure-code").arg("code", code);
            line.push_str(&format!(" ({})", code.render(locale)));
        }
        eprintln!("{line}");
        if !fail.last_lines.is_empty() {
            let log = f.logs.join(format!("{}.log", fail.host));
            let said = Msg::new("headless.last-lines").arg("log", log.display());
            eprintln!("{}", said.render(locale));
            for l in &fail.last_lines {
                eprintln!("    {l}");
            }
        }
    }
    if matches!(output, Output::Json) {
        println!(
            "{}",
            serde_json::json!({
                "event": "deploy-summary",
                "run": run,
                "ok": report.ok(),
                "cancelled": report.cancelled,
                "changed": report.changed(),
                "steps": report.steps.len(),
                "failed-hosts": report.failures.iter().map(|f| f.host.clone()).collect::<Vec<_>>(),
                "url": report.url,
                "summary": f.summary,
                "state": f.state,
                "secrets": f.secrets,
                "logs": f.logs,
                "secs": report.secs,
            })
        );
    }
}
