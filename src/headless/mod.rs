//! The headless front end: `cdwiz --profile P --non-interactive [--dry-run]`.
//! It turns the options into a run request, the engine's events into plain
//! lines (or JSON lines), and the outcome into the exit codes of DESIGN.md
//! §10. The run itself (and its run directory) is the engine's
//! (`cdwiz::run`).

mod print;

use std::path::{Path, PathBuf};

use cdwiz::checks::Waiver;
use cdwiz::connect::resolve_secrets;
use cdwiz::i18n::Msg;
use cdwiz::profile::Problem;
use cdwiz::run::{ErrorKind, Request, Resumed, RunError, RunPlace, Session};
use tokio_util::sync::CancellationToken;

use print::{CheckPaths, note};

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
    /// Uninstall the hosts the installation had and the profile dropped.
    pub remove_hosts: bool,
    /// A bundle older than the hosts' release may replace it.
    pub allow_downgrade: bool,
    /// `--purge`: the removed hosts' data goes too (with `--yes`).
    pub purge_removed: bool,
    pub yes_purge: bool,
    /// A rolling upgrade goes without the backup it takes first.
    pub no_backup: bool,
    /// `cdwiz restore`: this backup's data put back, then its release.
    pub restore_from: Option<PathBuf>,
    pub locale: String,
}

pub fn bad_input(lines: &[String]) -> u8 {
    for l in lines {
        eprintln!("{l}");
    }
    EXIT_BAD_INPUT
}

pub fn problems_text(file: &Path, problems: &[Problem], locale: &str) -> Vec<String> {
    problems
        .iter()
        .map(|p| p.render_in(Some(file), locale))
        .collect()
}

/// The exit code of a run that stopped before (or instead of) deploying.
fn stopped(e: RunError, locale: &str) -> u8 {
    match e.kind {
        ErrorKind::BadInput | ErrorKind::Refused => bad_input(&e.lines),
        ErrorKind::Io => {
            for l in &e.lines {
                eprintln!("{}", crate::error_line(locale, l));
            }
            1
        }
        ErrorKind::Deploy => {
            for l in &e.lines {
                eprintln!("{l}");
            }
            EXIT_DEPLOY_FAILED
        }
    }
}

/// The options as the engine's request; bad flags or secrets are bad input.
fn request(opts: &Options) -> Result<Request, Vec<String>> {
    let locale = opts.locale.as_str();
    if opts.purge_removed && !opts.yes_purge {
        // No question in a headless run: the flag is the answer.
        return Err(vec![cdwiz::i18n::text(
            "headless.purge-removed-needs-yes",
            locale,
        )]);
    }
    let answers = cdwiz::profile::load_file(&opts.profile).map_err(|e| vec![e.render(locale)])?;
    let mut waivers = Vec::new();
    for flag in &opts.accept_checks {
        match Waiver::parse(flag) {
            Ok(w) => waivers.push(w),
            Err(e) => return Err(vec![format!("--accept-check {}", e.render(locale))]),
        }
    }
    let base = opts
        .profile
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let secrets =
        resolve_secrets(&answers, &base).map_err(|p| problems_text(&opts.profile, &p, locale))?;
    let data_dir = cdwiz::paths::data_dir();
    let runs = opts.workdir.clone().unwrap_or_else(|| data_dir.clone());
    Ok(Request {
        answers,
        profile: opts.profile.clone(),
        base,
        data_dir,
        // A resumed run goes on in its own run directory, with its state.
        place: if opts.resume && !opts.dry_run {
            RunPlace::Latest(runs)
        } else {
            RunPlace::New(runs)
        },
        secrets,
        waivers,
        // The manifest is enough to check hosts; image checksums are
        // verified before a deploy uses them, before any host is touched.
        verify_images: !opts.dry_run,
        askpass: cdwiz::connect::askpass_program(),
        remove_hosts: opts.remove_hosts,
        allow_downgrade: opts.allow_downgrade,
        purge_removed: opts.purge_removed && opts.yes_purge,
        no_backup: opts.no_backup,
        restore_from: opts.restore_from.clone(),
        locale: opts.locale.clone(),
    })
}

pub async fn run(opts: Options) -> u8 {
    let locale = opts.locale.as_str();
    let req = match request(&opts) {
        Ok(r) => r,
        Err(lines) => return bad_input(&lines),
    };
    let secrets: Vec<String> = req.secrets.values().iter().map(|s| s.to_string()).collect();
    let mut session = match Session::prepare_blocking(req).await {
        Ok(s) => s,
        Err(e) => return stopped(e, locale),
    };
    let _log_guard = crate::logging::to_run_dir(
        &session.run_dir,
        secrets.iter().map(String::as_str).collect(),
    );
    tracing::info!(run = %session.run_id, profile = %opts.profile.display(), dry_run = opts.dry_run, "run");
    let said = |key: &str| Msg::new(key).arg("run", &session.run_id).render(locale);
    match session.resumed {
        Resumed::NothingToResume => note(
            opts.output,
            "nothing-to-resume",
            &said("headless.nothing-to-resume"),
        ),
        Resumed::Trusted => note(opts.output, "resuming", &said("headless.resuming")),
        Resumed::Changed => note(
            opts.output,
            "resume-changed",
            &said("headless.resume-changed"),
        ),
        Resumed::No => {}
    }
    let cancel = CancellationToken::new();
    let interrupts = watch_interrupts(cancel.clone(), opts.locale.clone());
    let code = checks_then_deploy(&mut session, &opts, cancel).await;
    session.close().await;
    interrupts.abort();
    code
}

async fn checks_then_deploy(
    session: &mut Session,
    opts: &Options,
    cancel: CancellationToken,
) -> u8 {
    let locale = opts.locale.as_str();
    let (tx, printer) = print::printer(opts.output, locale);
    // A deploy locks its hosts before it looks at them: a second run is
    // refused before it checks anything.
    let locked = if opts.dry_run {
        Ok(())
    } else {
        let tx = Some(tx.clone());
        session.lock(opts.resume, &tx).await
    };
    if let Err(e) = locked {
        drop(tx);
        let _ = printer.await;
        return stopped(e, locale);
    }
    let checked = tokio::select! {
        run = session.check(None, Some(tx)) => Some(run),
        _ = cancel.cancelled() => None,
    };
    let _ = printer.await;
    let Some(run) = checked else {
        return EXIT_INTERRUPTED;
    };
    let (json, markdown) = session.check_reports();
    let rendered_dir = session.rendered_dir();
    let paths = CheckPaths {
        run: &session.run_id,
        json: &json,
        markdown: &markdown,
        rendered_dir: &rendered_dir,
        rendered: session.rendered.len(),
    };
    if print::checks_done(&run, &paths, opts.output, locale) > 0 {
        return EXIT_CHECKS_FAILED;
    }
    if opts.dry_run {
        return EXIT_OK;
    }
    let (tx, printer) = print::printer(opts.output, locale);
    let finished = session.deploy(opts.resume, cancel, Some(tx)).await;
    let _ = printer.await;
    let f = match finished {
        Ok(f) => f,
        Err(e) => return stopped(e, locale),
    };
    print::deploy_done(&f, &session.run_id, opts.output, locale);
    let msg = Msg::new;
    let profile = opts.profile.display();
    let summary_line = msg("headless.summary")
        .arg("path", f.summary.display())
        .render(locale);
    let report = &f.report;
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
        let key = if session.on_cluster() {
            "headless.deploy-incomplete-k8s"
        } else {
            "headless.deploy-incomplete"
        };
        let line = msg(key)
            .arg("failed", report.failures.len())
            .arg("profile", &profile);
        eprintln!("{}", line.render(locale));
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
                .arg("secrets", f.secrets.display())
                .render(locale)
        );
        if let Some(url) = &report.url {
            println!("{}", msg("headless.open").arg("url", url).render(locale));
        }
        println!("{summary_line}");
    }
    EXIT_OK
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
