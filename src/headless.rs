//! The headless front end: `cdwiz --profile P --non-interactive [--dry-run]`.
//! Plain lines (or JSON lines) from the engine's events, files in the run
//! directory, and the exit codes of DESIGN.md §10.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cdwiz::bundle::Bundle;
use cdwiz::checks::{self, Status, Waiver};
use cdwiz::connect::{Connector, resolve_secrets};
use cdwiz::deploy::state::{State, StateStore};
use cdwiz::deploy::{Hooks, Targets};
use cdwiz::event::{Event, StepOutcome};
use cdwiz::pipeline;
use cdwiz::profile::{Answers, Problem};
use tokio_util::sync::CancellationToken;

pub const EXIT_OK: u8 = 0;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_CHECKS_FAILED: u8 = 3;
pub const EXIT_DEPLOY_FAILED: u8 = 4;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

pub struct Options {
    pub profile: PathBuf,
    pub dry_run: bool,
    pub resume: bool,
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

fn problems_text(file: &Path, problems: &[Problem], locale: &str) -> Vec<String> {
    problems
        .iter()
        .map(|p| p.render_in(Some(file), locale))
        .collect()
}

pub async fn run(opts: Options) -> u8 {
    let data_dir = cdwiz::paths::data_dir();
    let answers = match cdwiz::profile::load_file(&opts.profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(&opts.locale)]),
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
                "{}: accept-checks[{i}].check: {}",
                opts.profile.display(),
                e.render(&opts.locale)
            ));
        }
    }
    for flag in &opts.accept_checks {
        match Waiver::parse(flag).and_then(|w| w.validate().map(|_| w)) {
            Ok(w) => waivers.push(w),
            Err(e) => errors.push(format!("--accept-check {}", e.render(&opts.locale))),
        }
    }
    if !errors.is_empty() {
        return bad_input(&errors);
    }
    let base = opts
        .profile
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    // The manifest is enough to check hosts; image checksums are verified
    // before a deploy uses them, before any host is touched.
    let bundle = match pipeline::open_bundle(&answers, &base, &data_dir, !opts.dry_run) {
        Ok(b) => b,
        Err(e) => {
            return bad_input(&[format!(
                "{}: {}",
                opts.profile.display(),
                e.render(&opts.locale)
            )]);
        }
    };
    let secrets = match resolve_secrets(&answers, &base) {
        Ok(s) => s,
        Err(p) => return bad_input(&problems_text(&opts.profile, &p, &opts.locale)),
    };

    // Rendering needs no host: a template or manifest problem is found
    // before anything is contacted.
    let rendered = match cdwiz::render::render(&answers, &bundle.manifest, Some(&bundle.dir)) {
        Ok(files) => files,
        Err(e) => return bad_input(&[format!("{}: {e}", bundle.dir.display())]),
    };

    let hooks = match pipeline::read_hooks(&answers, &base) {
        Ok(h) => h,
        Err(lines) => return bad_input(&lines),
    };

    // A resumed run goes on in its own run directory, with its state.
    let runs_base = opts.workdir.clone().unwrap_or_else(|| data_dir.clone());
    let install = cdwiz::deploy::secrets::install_id(&answers);
    let fingerprint = pipeline::fingerprint(&answers, &bundle, &rendered);
    let t = |k: &str| cdwiz::i18n::text(k, &opts.locale);
    let mut resumed: Option<(PathBuf, State)> = None;
    if opts.resume && !opts.dry_run {
        resumed = cdwiz::deploy::state::find_resumable(&runs_base, &install);
        if resumed.is_none() {
            note(
                opts.output,
                "nothing-to-resume",
                &t("headless.nothing-to-resume"),
            );
        }
    }
    let run_id = resumed
        .as_ref()
        .map(|(_, s)| s.run.clone())
        .unwrap_or_else(cdwiz::rundir::new_run_id);
    let run_dir = match cdwiz::rundir::create(&runs_base, &run_id) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create the run directory: {e}");
            return 1;
        }
    };
    let _log_guard = crate::logging::to_run_dir(&run_dir, secrets.values());
    tracing::info!(run = %run_id, profile = %opts.profile.display(), dry_run = opts.dry_run, "run");
    if let Ok(yaml) = serde_yaml::to_string(&answers) {
        let _ = cdwiz::rundir::write_atomic(&run_dir.join("answers.yaml"), &yaml);
    }

    let rendered_dir = run_dir.join("rendered");
    if let Err(e) = cdwiz::render::write(&rendered, &rendered_dir) {
        eprintln!("error: {e}");
        return 1;
    }
    let trust_state = match &resumed {
        Some((_, state)) if state.fingerprint == fingerprint => {
            note(
                opts.output,
                "resuming",
                &cdwiz::i18n::Msg::new("headless.resuming")
                    .arg("run", &run_id)
                    .render(&opts.locale),
            );
            true
        }
        Some(_) => {
            note(
                opts.output,
                "resume-changed",
                &cdwiz::i18n::Msg::new("headless.resume-changed")
                    .arg("run", &run_id)
                    .render(&opts.locale),
            );
            false
        }
        None => false,
    };
    let mut state = resumed.map(|(_, s)| s).unwrap_or_default();
    state.run = run_id.clone();
    state.install = install.clone();
    state.profile = opts.profile.clone();
    state.complete = false;
    if !trust_state {
        state.done.clear();
    }
    state.fingerprint = fingerprint;
    let secret_values: Vec<String> = secrets.values().iter().map(|s| s.to_string()).collect();

    // The k8s topology: cluster checks through the Kubernetes API, the
    // rendered manifests, then the deploy through the API.
    if answers.topology.kind == cdwiz::profile::TopologyKind::K8s {
        let run = DeployRun {
            answers: &answers,
            bundle: &bundle,
            rendered: &rendered,
            hooks: &hooks,
            place: Place::Cluster,
            data_dir: &data_dir,
            run_dir: &run_dir,
            state,
            trust_state,
            cancel: CancellationToken::new(),
            secrets: secret_values,
        };
        return k8s_run(run, &base, waivers, &opts, &rendered_dir).await;
    }
    let connector = connector(&answers, secrets, &data_dir);
    let cancel = CancellationToken::new();
    let interrupts = watch_interrupts(cancel.clone(), opts.locale.clone());
    // A deploy locks its hosts before it looks at them: a second run is
    // refused before it checks anything.
    let mut targets = None;
    if !opts.dry_run {
        let opened = match Targets::open(&connector, &answers).await {
            Ok(t) => Arc::new(t),
            Err(e) => return bad_input(&[format!("{}: {e}", opts.profile.display())]),
        };
        let me = cdwiz::deploy::lock::Holder::me(&run_id);
        match opened.lock(&me, opts.resume).await {
            Ok(taken) => {
                for (host, h) in taken {
                    note(
                        opts.output,
                        "lock-taken-over",
                        &cdwiz::i18n::Msg::new("headless.lock-taken-over")
                            .arg("host", host)
                            .arg("run", h.run)
                            .arg("pid", h.pid)
                            .arg("installer", h.installer)
                            .render(&opts.locale),
                    );
                }
            }
            Err(refused) => {
                let lines: Vec<String> = refused
                    .iter()
                    .map(|(host, why)| {
                        cdwiz::i18n::Msg::new("headless.lock-refused")
                            .arg("host", host)
                            .arg("why", why.message().render(&opts.locale))
                            .render(&opts.locale)
                    })
                    .collect();
                tracing::warn!(?lines, "run lock refused");
                return bad_input(&lines);
            }
        }
        targets = Some(opened);
    }
    let heartbeat = targets.as_ref().map(|t| t.heartbeat());
    let release = |targets: Option<Arc<Targets>>, run: String| async move {
        if let Some(h) = &heartbeat {
            h.abort();
        }
        if let Some(t) = targets {
            t.release(&run).await;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(1024);
    let (output, locale) = (opts.output, opts.locale.clone());
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            print_event(&event, output, &locale);
        }
    });
    let checking = checks::run_checks(
        &answers,
        &bundle.manifest,
        connector.clone(),
        waivers,
        checks::run::DEFAULT_CONCURRENCY,
        Some(tx),
    );
    let run = tokio::select! {
        run = checking => run,
        _ = cancel.cancelled() => {
            release(targets, run_id.clone()).await;
            return EXIT_INTERRUPTED;
        }
    };
    let _ = printer.await;
    tracing::info!(secs = run.secs, "checks done");

    let blocking = report_checks(
        &run,
        &run_id,
        &run_dir,
        &rendered_dir,
        rendered.len(),
        &opts,
    );
    let Some(targets) = targets.clone().filter(|_| blocking == 0) else {
        release(targets, run_id.clone()).await;
        interrupts.abort();
        return if blocking > 0 {
            EXIT_CHECKS_FAILED
        } else {
            EXIT_OK
        };
    };
    let input = DeployRun {
        answers: &answers,
        bundle: &bundle,
        rendered: &rendered,
        hooks: &hooks,
        place: Place::Hosts(&targets),
        data_dir: &data_dir,
        run_dir: &run_dir,
        state,
        trust_state,
        cancel,
        secrets: secret_values,
    };
    let code = deploy(input, &opts).await;
    release(Some(targets.clone()), run_id.clone()).await;
    interrupts.abort();
    code
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

/// The k8s topology's run: cluster checks (exit 3 when one blocks), the
/// report, the rendered manifests, then (unless a dry run) the deploy.
async fn k8s_run(
    d: DeployRun<'_>,
    base: &Path,
    waivers: Vec<Waiver>,
    opts: &Options,
    rendered_dir: &Path,
) -> u8 {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(256);
    let (output, locale) = (opts.output, opts.locale.clone());
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            print_event(&event, output, &locale);
        }
    });
    let run =
        cdwiz::cluster::run_checks(d.answers, base, &d.bundle.manifest, waivers, Some(tx)).await;
    let _ = printer.await;
    let run_id = d.state.run.clone();
    let blocking = report_checks(
        &run,
        &run_id,
        d.run_dir,
        rendered_dir,
        d.rendered.len(),
        opts,
    );
    if blocking > 0 {
        return EXIT_CHECKS_FAILED;
    }
    if opts.dry_run {
        return EXIT_OK;
    }
    let interrupts = watch_interrupts(d.cancel.clone(), opts.locale.clone());
    let code = deploy(d, opts).await;
    interrupts.abort();
    code
}

/// Ctrl-C: the first asks the engine to stop between steps, the second
/// quits at once (the state file already holds every finished step).
fn watch_interrupts(cancel: CancellationToken, locale: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("{}", cdwiz::i18n::text("headless.stopping", &locale));
        tracing::warn!("interrupted: stopping between steps");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted twice: quitting");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
}

/// Where a deploy goes: the locked hosts, or the answers' cluster (a
/// client is made once the checks passed).
enum Place<'a> {
    Hosts(&'a Targets),
    Cluster,
}

struct DeployRun<'a> {
    answers: &'a Answers,
    bundle: &'a Bundle,
    rendered: &'a [cdwiz::render::RenderedFile],
    hooks: &'a Hooks,
    place: Place<'a>,
    data_dir: &'a Path,
    run_dir: &'a Path,
    state: State,
    trust_state: bool,
    cancel: CancellationToken,
    secrets: Vec<String>,
}

/// Deploys onto the locked targets; prints one line per step per host,
/// writes deploy.json and summary.md.
async fn deploy(d: DeployRun<'_>, opts: &Options) -> u8 {
    let locale = opts.locale.as_str();
    let (secrets_path, generated) =
        match pipeline::generated_secrets(d.answers, d.bundle, d.data_dir) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_DEPLOY_FAILED;
            }
        };
    let mut redact = d.secrets.clone();
    redact.extend(generated.values().cloned());
    crate::logging::redact_also(&redact);
    let state = Arc::new(StateStore::new(d.run_dir, d.state));
    let _ = state.save();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(4096);
    let output = opts.output;
    let printer_locale = opts.locale.clone();
    let printer = tokio::spawn(async move {
        let locale = printer_locale;
        while let Some(event) = rx.recv().await {
            let Event::DeployStep {
                host,
                step,
                outcome,
                secs,
            } = event
            else {
                continue;
            };
            match output {
                Output::Json => {
                    let mut v = serde_json::json!({
                        "event": "deploy-step", "host": host, "step": step,
                        "secs": (secs * 10.0).round() / 10.0,
                    });
                    if let (Some(o), Ok(serde_json::Value::Object(extra))) =
                        (v.as_object_mut(), serde_json::to_value(&outcome))
                    {
                        o.extend(extra);
                        match &outcome {
                            StepOutcome::Failed { message, .. }
                            | StepOutcome::Skipped { reason: message } => {
                                o.insert("message".into(), message.render(&locale).into());
                            }
                            _ => {}
                        }
                    }
                    println!("{v}");
                }
                Output::Text => {
                    let detail = match &outcome {
                        StepOutcome::Failed { message, .. } => {
                            format!(": {}", message.render(&locale))
                        }
                        StepOutcome::Skipped { reason } => format!(": {}", reason.render(&locale)),
                        _ if secs >= 0.05 => format!(" ({secs:.1} s)"),
                        _ => String::new(),
                    };
                    let word =
                        cdwiz::i18n::text(&format!("deploy.outcome.{}", outcome.word()), &locale);
                    let host = if host == cdwiz::deploy::CLUSTER {
                        cdwiz::i18n::text("deploy.cluster", &locale)
                    } else {
                        host
                    };
                    println!(
                        "{} {} {step}{detail}",
                        cdwiz::i18n::pad(&host, 15),
                        cdwiz::i18n::pad(&word, 9)
                    );
                }
            }
        }
    });
    let logs = Arc::new(cdwiz::deploy::hostlog::HostLogs::new(
        d.run_dir,
        redact,
        Some(tx.clone()),
    ));
    let ctx = cdwiz::deploy::RunContext {
        run_id: state.snapshot().run,
        state: state.clone(),
        logs: logs.clone(),
        cancel: d.cancel.clone(),
        tx: Some(tx),
        concurrency: cdwiz::deploy::DEFAULT_CONCURRENCY,
        resume: d.trust_state,
    };
    let input = cdwiz::deploy::Input {
        answers: d.answers,
        bundle: d.bundle,
        rendered: d.rendered,
        generated: &generated,
        hooks: d.hooks,
    };
    let report = match d.place {
        Place::Hosts(targets) => cdwiz::deploy::deploy(&input, targets, &ctx).await,
        Place::Cluster => {
            let base = opts.profile.parent().unwrap_or(Path::new("."));
            let clients = match cdwiz::deploy::k8s::Clients::connect(d.answers, base).await {
                Ok(c) => c,
                Err(e) => {
                    drop(ctx);
                    drop(logs);
                    let _ = printer.await;
                    eprintln!("{}", e.render(locale));
                    return EXIT_DEPLOY_FAILED;
                }
            };
            // One run at a time per namespace: a Lease in it.
            let me = cdwiz::deploy::lock::Holder::me(&ctx.run_id);
            let ns = d.answers.topology.namespace.clone().unwrap_or_default();
            let guard = match cdwiz::deploy::k8s::lock(&input, &clients, &me, opts.resume).await {
                Ok((guard, taken)) => {
                    if let Some(h) = taken {
                        note(
                            opts.output,
                            "lock-taken-over",
                            &cdwiz::i18n::Msg::new("headless.lock-taken-over")
                                .arg("host", format!("namespace/{ns}"))
                                .arg("run", h.run)
                                .arg("pid", h.pid)
                                .arg("installer", h.installer)
                                .render(locale),
                        );
                    }
                    guard
                }
                Err(refused) => {
                    drop(ctx);
                    drop(logs);
                    let _ = printer.await;
                    return bad_input(&[cdwiz::i18n::Msg::new("headless.lock-refused")
                        .arg("host", format!("namespace/{ns}"))
                        .arg("why", refused.message().render(locale))
                        .render(locale)]);
                }
            };
            let report = cdwiz::deploy::k8s::deploy(&input, &clients, &ctx).await;
            guard.release().await;
            report
        }
    };
    drop(ctx);
    drop(logs);
    let _ = printer.await;

    let _ = cdwiz::rundir::write_atomic(
        &d.run_dir.join("deploy.json"),
        &serde_json::to_string_pretty(&report).unwrap_or_default(),
    );
    let summary_path = d.run_dir.join("summary.md");
    let product = format!(
        "{} {}",
        d.bundle.manifest.product.name, d.bundle.manifest.product.version
    );
    let md = cdwiz::deploy::summary::to_markdown(
        &report,
        d.answers,
        &product,
        &cdwiz::deploy::summary::Paths {
            profile: &opts.profile,
            run_dir: d.run_dir,
            secrets: &secrets_path,
            state: state.path(),
        },
        locale,
    );
    let _ = cdwiz::rundir::write_atomic(&summary_path, &md);
    tracing::info!(
        changed = report.changed(),
        failures = report.failures.len(),
        cancelled = report.cancelled,
        secs = report.secs,
        "deploy finished"
    );
    let msg = |k: &str| cdwiz::i18n::Msg::new(k);
    for f in &report.failures {
        let mut line = msg("headless.failure")
            .arg("host", &f.host)
            .arg("step", &f.step)
            .arg("phase", &f.phase)
            .arg("error", f.message.render(locale))
            .render(locale);
        if let Some(code) = f.code {
            line.push_str(&format!(
                " ({})",
                msg("headless.failure-code")
                    .arg("code", code)
                    .render(locale)
            ));
        }
        eprintln!("{line}");
        if !f.last_lines.is_empty() {
            eprintln!(
                "{}",
                msg("headless.last-lines")
                    .arg(
                        "log",
                        d.run_dir
                            .join("logs")
                            .join(format!("{}.log", f.host))
                            .display()
                    )
                    .render(locale)
            );
            for l in &f.last_lines {
                eprintln!("    {l}");
            }
        }
    }
    let profile = opts.profile.display();
    let summary_line = msg("headless.summary")
        .arg("path", summary_path.display())
        .render(locale);
    if matches!(opts.output, Output::Json) {
        println!(
            "{}",
            serde_json::json!({
                "event": "deploy-summary",
                "run": state.snapshot().run,
                "ok": report.ok(),
                "cancelled": report.cancelled,
                "changed": report.changed(),
                "steps": report.steps.len(),
                "failed-hosts": report.failures.iter().map(|f| f.host.clone()).collect::<Vec<_>>(),
                "url": report.url,
                "summary": summary_path,
                "state": state.path(),
                "secrets": secrets_path,
                "logs": d.run_dir.join("logs"),
                "secs": report.secs,
            })
        );
    }
    if report.cancelled {
        eprintln!(
            "{}",
            msg("headless.stopped")
                .arg("profile", &profile)
                .render(locale)
        );
        eprintln!("{summary_line}");
        return EXIT_INTERRUPTED;
    }
    if !report.ok() {
        eprintln!(
            "{}",
            msg(if matches!(d.place, Place::Cluster) {
                "headless.deploy-incomplete-k8s"
            } else {
                "headless.deploy-incomplete"
            })
            .arg("failed", report.failures.len())
            .arg("profile", &profile)
            .render(locale)
        );
        eprintln!("{summary_line}");
        return EXIT_DEPLOY_FAILED;
    }
    if matches!(opts.output, Output::Text) {
        println!(
            "{}",
            msg("headless.deployed")
                .arg("changed", report.changed())
                .arg("steps", report.steps.len())
                .arg("secs", format!("{:.1}", report.secs))
                .arg("secrets", secrets_path.display())
                .render(locale)
        );
        if let Some(url) = &report.url {
            println!("{}", msg("headless.open").arg("url", url).render(locale));
        }
        println!("{summary_line}");
    }
    EXIT_OK
}

/// Writes the check report (`checks.json`, `checks.md`) into the run
/// directory and prints the summary (accepted checks, counts, where the
/// reports and rendered files are, what blocks); returns how many checks
/// block the installation.
fn report_checks(
    run: &checks::run::CheckRun,
    run_id: &str,
    run_dir: &Path,
    rendered_dir: &Path,
    rendered: usize,
    opts: &Options,
) -> usize {
    let json_path = run_dir.join("checks.json");
    let md_path = run_dir.join("checks.md");
    let _ = cdwiz::rundir::write_atomic(&json_path, &checks::report::to_json(run));
    let _ = cdwiz::rundir::write_atomic(&md_path, &checks::report::to_markdown(run, &opts.locale));
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
                "rendered": { "dir": rendered_dir, "files": rendered },
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
            println!("{}", checks_summary(run, &opts.locale));
            println!("{} {}", t("headless.report"), md_path.display());
            println!("{} {}", t("headless.report"), json_path.display());
            println!(
                "{}",
                cdwiz::i18n::Msg::new("headless.rendered")
                    .arg("count", rendered)
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
    blocking
}

/// `checks: N pass, N warn, N fail, N skipped in S s`, in `locale`.
fn checks_summary(run: &checks::run::CheckRun, locale: &str) -> String {
    cdwiz::i18n::Msg::new("headless.checks-summary")
        .arg("pass", run.count(Status::Pass))
        .arg("warn", run.count(Status::Warn))
        .arg("fail", run.count(Status::Fail))
        .arg("skip", run.count(Status::Skip))
        .arg("secs", format!("{:.1}", run.secs))
        .render(locale)
}

/// An informational line: plain text, or a JSON `note` event.
fn note(output: Output, id: &str, text: &str) {
    match output {
        Output::Text => println!("{text}"),
        Output::Json => println!(
            "{}",
            serde_json::json!({"event": "note", "id": id, "message": text})
        ),
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
        return bad_input(&[cdwiz::i18n::text("headless.purge-needs-yes", locale)]);
    }
    let data_dir = cdwiz::paths::data_dir();
    let answers = match cdwiz::profile::load_file(profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(locale)]),
    };
    let base = profile.parent().unwrap_or(Path::new(".")).to_path_buf();
    let dir = pipeline::bundle_dir(&answers, &base, &data_dir);
    let manifest = match Bundle::open(&dir) {
        Ok(b) => b.manifest,
        Err(e) => {
            return bad_input(&[format!(
                "{}: {}",
                profile.display(),
                e.message().render(locale)
            )]);
        }
    };
    if answers.topology.kind == cdwiz::profile::TopologyKind::K8s {
        return k8s_uninstall(&answers, &base, purge, locale).await;
    }
    let secrets = match resolve_secrets(&answers, &base) {
        Ok(s) => s,
        Err(p) => return bad_input(&problems_text(profile, &p, locale)),
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
        if r.key_removed {
            let key = cdwiz::i18n::Msg::new("headless.key-removed").arg("host", &r.host);
            println!("{}", key.render(locale));
        }
    }
    if unreachable > 0 {
        EXIT_DEPLOY_FAILED
    } else {
        EXIT_OK
    }
}

/// Uninstall from a cluster: what carries this installation's label.
async fn k8s_uninstall(answers: &Answers, base: &Path, purge: bool, locale: &str) -> u8 {
    let ns = answers.topology.namespace.clone().unwrap_or_default();
    let clients = match cdwiz::deploy::k8s::Clients::connect(answers, base).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.render(locale));
            return EXIT_DEPLOY_FAILED;
        }
    };
    match cdwiz::deploy::k8s::uninstall(answers, &clients.api, purge).await {
        Ok(removed) if removed.is_empty() => {
            let line = cdwiz::i18n::Msg::new("headless.k8s-uninstall-nothing").arg("ns", &ns);
            println!("{}", line.render(locale));
            EXIT_OK
        }
        Ok(removed) => {
            for (kind, names) in &removed {
                let line = cdwiz::i18n::Msg::new("headless.k8s-uninstalled")
                    .arg("kind", kind)
                    .arg("names", names.join(", "))
                    .arg("ns", &ns);
                println!("{}", line.render(locale));
            }
            if !purge {
                let line = cdwiz::i18n::Msg::new("headless.k8s-data-kept").arg("ns", &ns);
                println!("{}", line.render(locale));
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("{}", e.render(locale));
            EXIT_DEPLOY_FAILED
        }
    }
}
