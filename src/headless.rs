//! The headless front end: `cdwiz --profile P --non-interactive [--dry-run]`.
//! Plain lines (or JSON lines) from the engine's events, files in the run
//! directory, and the exit codes of DESIGN.md §10.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cdwiz::bundle::Bundle;
use cdwiz::checks::{self, Status, Waiver};
use cdwiz::connect::{Connector, resolve_secrets};
use cdwiz::event::Event;
use cdwiz::profile::{Answers, Problem};

pub const EXIT_OK: u8 = 0;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_CHECKS_FAILED: u8 = 3;
pub const EXIT_DEPLOY_FAILED: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

pub struct Options {
    pub profile: PathBuf,
    pub dry_run: bool,
    pub output: Output,
    pub workdir: Option<PathBuf>,
    pub accept_checks: Vec<String>,
    pub locale: String,
}

fn bad_input(lines: &[String]) -> u8 {
    for l in lines {
        eprintln!("{l}");
    }
    EXIT_BAD_INPUT
}

fn problems_text(file: &Path, problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|p| p.render(Some(file))).collect()
}

/// Where the answers' bundle is: `sandbox`, or a path relative to the profile.
pub fn bundle_dir(answers: &Answers, profile: &Path, data_dir: &Path) -> PathBuf {
    if answers.bundle == "sandbox" {
        return cdwiz::sandbox::bundle::bundle_dir(&cdwiz::sandbox::sandbox_root(data_dir));
    }
    let p = cdwiz::paths::expand_home(&answers.bundle);
    if p.is_absolute() {
        p
    } else {
        profile.parent().unwrap_or(Path::new(".")).join(p)
    }
}

pub async fn run(opts: Options) -> u8 {
    let data_dir = cdwiz::paths::data_dir();
    let answers = match cdwiz::profile::load_file(&opts.profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.to_string()]),
    };
    // Waivers: the profile's and the flags'; unknown ids are bad input.
    let mut waivers: Vec<Waiver> = answers
        .accept_checks
        .iter()
        .map(|w| Waiver {
            id: w.check.clone(),
            host: w.host.clone(),
            reason: w.reason.clone(),
        })
        .collect();
    let mut errors = Vec::new();
    for (i, w) in waivers.iter().enumerate() {
        if let Err(e) = w.validate() {
            errors.push(format!(
                "{}: accept-checks[{i}].check: {e}",
                opts.profile.display()
            ));
        }
    }
    for flag in &opts.accept_checks {
        match Waiver::parse(flag).and_then(|w| w.validate().map(|_| w)) {
            Ok(w) => waivers.push(w),
            Err(e) => errors.push(format!("--accept-check {e}")),
        }
    }
    if !errors.is_empty() {
        return bad_input(&errors);
    }
    let dir = bundle_dir(&answers, &opts.profile, &data_dir);
    // The manifest is enough to check hosts; image checksums are verified
    // before deploy uses them.
    let opened = if answers.bundle == "sandbox" {
        cdwiz::sandbox::bundle::existing(&cdwiz::sandbox::sandbox_root(&data_dir))
            .ok_or_else(|| format!("{}: not built or out of date", dir.display()))
    } else {
        Bundle::open(&dir).map_err(|e| e.to_string())
    };
    let bundle = match opened {
        Ok(b) => b,
        Err(e) => {
            let hint = if answers.bundle == "sandbox" {
                " (run `cdwiz sandbox up` to build the sandbox bundle)"
            } else {
                ""
            };
            return bad_input(&[format!("{}: bundle: {e}{hint}", opts.profile.display())]);
        }
    };
    // Before a deploy touches any host, every image archive must match its
    // checksum (the sandbox bundle was verified when it was opened).
    if !opts.dry_run
        && answers.bundle != "sandbox"
        && let Err(e) = bundle.verify()
    {
        return bad_input(&[format!("{}: bundle: {e}", opts.profile.display())]);
    }
    let base = opts
        .profile
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let secrets = match resolve_secrets(&answers, &base) {
        Ok(s) => s,
        Err(p) => return bad_input(&problems_text(&opts.profile, &p)),
    };

    // Rendering needs no host: a template or manifest problem is found
    // before anything is contacted.
    let rendered = match cdwiz::render::render(&answers, &bundle.manifest, Some(&bundle.dir)) {
        Ok(files) => files,
        Err(e) => return bad_input(&[format!("{}: {e}", bundle.dir.display())]),
    };

    let run_id = cdwiz::rundir::new_run_id();
    let run_dir = match cdwiz::rundir::create(opts.workdir.as_deref().unwrap_or(&data_dir), &run_id)
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create the run directory: {e}");
            return 1;
        }
    };
    let _log_guard = crate::logging::to_run_dir(&run_dir, secrets.values());
    tracing::info!(run = %run_id, profile = %opts.profile.display(), "dry run");
    if let Ok(yaml) = serde_yaml::to_string(&answers) {
        let _ = cdwiz::rundir::write_atomic(&run_dir.join("answers.yaml"), &yaml);
    }

    let rendered_dir = run_dir.join("rendered");
    if let Err(e) = cdwiz::render::write(&rendered, &rendered_dir) {
        eprintln!("error: {e}");
        return 1;
    }

    let connector = connector(&answers, secrets, &data_dir);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(1024);
    let (output, locale) = (opts.output, opts.locale.clone());
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            print_event(&event, output, &locale);
        }
    });
    let run = checks::run_checks(
        &answers,
        &bundle.manifest,
        connector.clone(),
        waivers,
        checks::run::DEFAULT_CONCURRENCY,
        Some(tx),
    )
    .await;
    let _ = printer.await;
    tracing::info!(secs = run.secs, "checks done");

    let json_path = run_dir.join("checks.json");
    let md_path = run_dir.join("checks.md");
    let _ = cdwiz::rundir::write_atomic(&json_path, &checks::report::to_json(&run));
    let _ = cdwiz::rundir::write_atomic(&md_path, &checks::report::to_markdown(&run, &opts.locale));
    let blocking = run.blocking().len();
    match opts.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "event": "summary",
                "run": run_id,
                "pass": run.count(Status::Pass),
                "warn": run.count(Status::Warn),
                "fail": run.count(Status::Fail),
                "skip": run.count(Status::Skip),
                "blocking": blocking,
                "waived": run.results.iter().filter(|r| r.waived.is_some()).count(),
                "report": { "json": json_path, "markdown": md_path },
                "rendered": { "dir": rendered_dir, "files": rendered.len() },
                "secs": run.secs,
            })
        ),
        Output::Text => {
            let t = |k: &str| cdwiz::i18n::text(k, &opts.locale);
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
                cdwiz::i18n::Msg::new("headless.checks-summary")
                    .arg("pass", run.count(Status::Pass))
                    .arg("warn", run.count(Status::Warn))
                    .arg("fail", run.count(Status::Fail))
                    .arg("skip", run.count(Status::Skip))
                    .arg("secs", format!("{:.1}", run.secs))
                    .render(&opts.locale)
            );
            println!("{} {}", t("headless.report"), md_path.display());
            println!("{} {}", t("headless.report"), json_path.display());
            println!(
                "{}",
                cdwiz::i18n::Msg::new("headless.rendered")
                    .arg("count", rendered.len())
                    .arg("dir", rendered_dir.display())
                    .render(&opts.locale)
            );
            if blocking > 0 {
                println!(
                    "{}",
                    cdwiz::i18n::Msg::new("headless.blocked")
                        .arg("count", blocking)
                        .render(&opts.locale)
                );
            }
        }
    }
    if blocking > 0 {
        return EXIT_CHECKS_FAILED;
    }
    if opts.dry_run {
        return EXIT_OK;
    }
    deploy(
        &answers, &bundle, &rendered, connector, &data_dir, &opts, &run_dir,
    )
    .await
}

/// Opens root shells on the answers' hosts; this binary answers ssh's
/// password prompt (SSH_ASKPASS).
fn connector(
    answers: &Answers,
    secrets: cdwiz::connect::Secrets,
    data_dir: &Path,
) -> Arc<Connector> {
    let askpass = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cdwiz"));
    Arc::new(Connector::new(answers, secrets, data_dir, askpass))
}

/// Deploys with the connector the checks used (its secrets are already read).
async fn deploy(
    answers: &Answers,
    bundle: &Bundle,
    rendered: &[cdwiz::render::RenderedFile],
    connector: Arc<Connector>,
    data_dir: &Path,
    opts: &Options,
    run_dir: &Path,
) -> u8 {
    let mut names: Vec<String> = bundle
        .manifest
        .components
        .iter()
        .flat_map(|c| c.secrets.clone())
        .collect();
    names.sort();
    names.dedup();
    let secrets_path = cdwiz::deploy::secrets::path(data_dir, answers);
    let generated = match cdwiz::deploy::secrets::load_or_create(&secrets_path, &names) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {}: {e}", secrets_path.display());
            return EXIT_DEPLOY_FAILED;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(1024);
    let output = opts.output;
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let Event::DeployStep {
                host,
                step,
                changed,
            } = event
            else {
                continue;
            };
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::json!({"event": "deploy-step", "host": host, "step": step, "changed": changed})
                ),
                Output::Text => println!(
                    "{host:<15} {:<9} {step}",
                    if changed { "changed" } else { "unchanged" }
                ),
            }
        }
    });
    let result =
        cdwiz::deploy::deploy(answers, bundle, rendered, connector, &generated, Some(tx)).await;
    let _ = printer.await;
    match result {
        Ok(report) => {
            let _ = cdwiz::rundir::write_atomic(
                &run_dir.join("deploy.json"),
                &serde_json::to_string_pretty(&report).unwrap_or_default(),
            );
            tracing::info!(
                changed = report.changed(),
                secs = report.secs,
                "deploy done"
            );
            println!(
                "{}",
                cdwiz::i18n::Msg::new("headless.deployed")
                    .arg("changed", report.changed())
                    .arg("steps", report.steps.len())
                    .arg("secs", format!("{:.1}", report.secs))
                    .arg("secrets", secrets_path.display())
                    .render(&opts.locale)
            );
            EXIT_OK
        }
        Err(e) => {
            tracing::error!(%e, "deploy failed");
            eprintln!(
                "{}",
                cdwiz::i18n::Msg::new("headless.deploy-failed")
                    .arg("host", &e.host)
                    .arg("step", &e.step)
                    .arg("error", &e.message)
                    .render(&opts.locale)
            );
            EXIT_DEPLOY_FAILED
        }
    }
}

fn print_event(event: &Event, output: Output, locale: &str) {
    match (output, event) {
        (Output::Json, Event::CheckFinished(r)) => {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "check".into());
                o.insert("message".into(), r.detail.render(locale).into());
            }
            println!("{v}");
        }
        (Output::Json, _) => {}
        // A host that could not be reached says so once, on its ssh.* line.
        (Output::Text, Event::CheckFinished(r))
            if r.status == Status::Skip && r.detail.key == "check.common.not-reached" => {}
        (Output::Text, Event::CheckFinished(r)) => {
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
                cdwiz::i18n::text(&format!("check.{}.title", r.id), locale),
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
        (Output::Text, _) => {}
    }
}

/// `cdwiz uninstall --profile P [--purge --yes]`: exit 0 when every host is
/// clean, 4 when a host could not be reached (the others are cleaned).
pub async fn uninstall(profile: &Path, purge: bool, yes: bool, locale: &str) -> u8 {
    if purge && !yes {
        return bad_input(&[
            "--purge deletes the platform's data on every host: add --yes to confirm".into(),
        ]);
    }
    let data_dir = cdwiz::paths::data_dir();
    let answers = match cdwiz::profile::load_file(profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.to_string()]),
    };
    let dir = bundle_dir(&answers, profile, &data_dir);
    let manifest = match Bundle::open(&dir) {
        Ok(b) => b.manifest,
        Err(e) => return bad_input(&[format!("{}: bundle: {e}", profile.display())]),
    };
    let base = profile.parent().unwrap_or(Path::new(".")).to_path_buf();
    let secrets = match resolve_secrets(&answers, &base) {
        Ok(s) => s,
        Err(p) => return bad_input(&problems_text(profile, &p)),
    };
    let connector = connector(&answers, secrets, &data_dir);
    let results = cdwiz::deploy::uninstall(&answers, &manifest, connector, purge).await;
    let mut unreachable = 0;
    for r in &results {
        let line = match &r.skipped {
            Some(why) => {
                unreachable += 1;
                cdwiz::i18n::Msg::new("headless.uninstall-skipped")
                    .arg("host", &r.host)
                    .arg("why", why)
            }
            None => cdwiz::i18n::Msg::new(if r.data_removed {
                "headless.uninstalled-purged"
            } else {
                "headless.uninstalled"
            })
            .arg("host", &r.host)
            .arg("containers", r.containers_removed),
        };
        println!("{}", line.render(locale));
    }
    if unreachable > 0 {
        EXIT_DEPLOY_FAILED
    } else {
        EXIT_OK
    }
}
