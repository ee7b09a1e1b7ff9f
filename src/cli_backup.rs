//! `cdwiz backup --profile P [-o DIR] [--include-secrets]`,
//! `cdwiz backup --profile P --verify DIR` and `cdwiz restore --profile P
//! --from DIR`: the engine's backup (`cdwiz::run::backup`) as lines, text
//! or JSON, and the restore as a headless run once confirmed. Progress goes
//! to stderr in text, so that stdout is the result.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use cdwiz::backup::BackupEvent;
use cdwiz::i18n::Msg;
use cdwiz::run::backup::{BackupRequest, VerifyError, VerifyRequest};

use crate::headless::{EXIT_OK, Output, bad_input};

/// Exit code of a backup that is damaged or does not restore.
pub const EXIT_BACKUP_BAD: u8 = 6;
/// Exit code of a backup that could not be taken (a host, a dump).
pub const EXIT_BACKUP_FAILED: u8 = 4;

pub struct Options {
    pub profile: PathBuf,
    pub out: Option<PathBuf>,
    pub include_secrets: bool,
    pub verify: Option<PathBuf>,
    pub output: Output,
    pub locale: String,
}

/// Exit 0 written (or verified), 2 bad input or refused, 4 a part could
/// not be taken, 6 the backup is damaged or does not restore.
pub async fn run(opts: Options) -> u8 {
    let locale = opts.locale.as_str();
    let answers = match cdwiz::profile::load_file(&opts.profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(locale)]),
    };
    let base = opts
        .profile
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let data_dir = cdwiz::paths::data_dir();
    if let Some(dir) = &opts.verify {
        let req = VerifyRequest {
            answers,
            profile: opts.profile.clone(),
            base,
            data_dir,
            locale: opts.locale.clone(),
            dir: dir.clone(),
        };
        return verify(req, opts.output, locale).await;
    }
    let req = BackupRequest {
        answers,
        profile: opts.profile.clone(),
        base,
        data_dir,
        locale: opts.locale.clone(),
        out: opts.out.clone(),
        include_secrets: opts.include_secrets,
    };
    let events = |e: BackupEvent| show(&e, opts.output, locale);
    let written = match cdwiz::run::backup::backup(req, &events).await {
        Ok(w) => w,
        Err(e) if e.kind == cdwiz::run::ErrorKind::Deploy => {
            for l in &e.lines {
                eprintln!("{}", crate::error_line(locale, l));
            }
            return EXIT_BACKUP_FAILED;
        }
        Err(e) => return bad_input(&e.lines),
    };
    let i = &written.index;
    let size: u64 = i.parts.iter().map(|p| p.size).sum();
    let done = Msg::new("backup.done")
        .arg("path", written.dir.display())
        .arg("product", &i.product)
        .arg("version", &i.version)
        .arg("created", &i.created)
        .arg("parts", i.parts.len())
        .arg("size", cdwiz::text::bytes(size));
    match opts.output {
        Output::Json => {
            let v = serde_json::json!({
                "event": "backup",
                "dir": written.dir,
                "index": i,
                "message": done,
            });
            println!("{v}");
        }
        Output::Text => {
            println!("{}", done.render(locale));
            if !i.left_out.is_empty() {
                println!(
                    "{}",
                    Msg::new("backup.left-out")
                        .arg("what", i.left_out.join(", "))
                        .render(locale)
                );
            }
        }
    }
    EXIT_OK
}

/// `--verify`: the sums, then each data part restored in a throwaway
/// container.
async fn verify(req: VerifyRequest, output: Output, locale: &str) -> u8 {
    let dir = req.dir.clone();
    let verified = match cdwiz::run::backup::verify(req).await {
        Ok(v) => v,
        Err(VerifyError::Run(e)) => return bad_input(&e.lines),
        Err(VerifyError::Damaged(found)) => {
            eprintln!(
                "{}",
                crate::error_line(
                    locale,
                    &Msg::new("backup.verify.damaged")
                        .arg("path", dir.display())
                        .render(locale)
                )
            );
            for m in &found {
                eprintln!("  {}", m.render(locale));
            }
            if output == Output::Json {
                let v = serde_json::json!({
                    "event": "backup.verify",
                    "passed": false,
                    "damaged": found,
                });
                println!("{v}");
            }
            return EXIT_BACKUP_BAD;
        }
    };
    let i = &verified.index;
    let mut lines = vec![
        Msg::new("backup.verify.title")
            .arg("path", dir.display())
            .arg("product", &i.product)
            .arg("version", &i.version)
            .arg("created", &i.created)
            .arg("parts", i.parts.len())
            .render(locale),
    ];
    for p in &verified.parts {
        let key = if p.passed {
            "backup.verify.part-passed"
        } else {
            "backup.verify.part-failed"
        };
        lines.push(
            Msg::new(key)
                .arg("part", &p.part)
                .arg("size", cdwiz::text::bytes(p.size))
                .arg("host", &p.host)
                .render(locale),
        );
        lines.extend(p.said.iter().map(|l| format!("    {l}")));
    }
    let verdict = if verified.passed() {
        "backup.verify.passed"
    } else {
        "backup.verify.failed"
    };
    lines.push(cdwiz::i18n::text(verdict, locale));
    match output {
        Output::Json => {
            let mut v = serde_json::to_value(&verified).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "backup.verify".into());
                o.insert("passed".into(), verified.passed().into());
            }
            println!("{v}");
        }
        Output::Text => {
            for l in &lines {
                println!("{l}");
            }
        }
    }
    if verified.passed() {
        EXIT_OK
    } else {
        EXIT_BACKUP_BAD
    }
}

/// One line per event on stderr (text), or a JSON line on stdout.
fn show(e: &BackupEvent, output: Output, locale: &str) {
    let (key, msg) = match e {
        BackupEvent::Taking { part, host } => (
            "taking",
            Msg::new("backup.event.taking")
                .arg("part", part)
                .arg("host", host),
        ),
        BackupEvent::Progress { part, bytes } => (
            "progress",
            Msg::new("backup.event.progress")
                .arg("part", part)
                .arg("size", cdwiz::text::bytes(*bytes)),
        ),
        BackupEvent::Taken {
            part,
            host,
            bytes,
            secs,
        } => (
            "taken",
            Msg::new("backup.event.taken")
                .arg("part", part)
                .arg("host", host)
                .arg("size", cdwiz::text::bytes(*bytes))
                .arg("secs", format!("{secs:.1}")),
        ),
    };
    match output {
        Output::Json => {
            let v = serde_json::json!({ "event": format!("backup.{key}"), "message": msg });
            println!("{v}");
        }
        Output::Text => eprintln!("{}", msg.render(locale)),
    }
}

pub struct Restore {
    pub profile: PathBuf,
    pub from: PathBuf,
    pub yes: bool,
    pub no_backup: bool,
    pub non_interactive: bool,
    pub output: Output,
    pub workdir: Option<PathBuf>,
    pub accept_checks: Vec<String>,
    pub locale: String,
}

/// `cdwiz restore`: says what will be lost and asks (or `--yes`), then a
/// deploy run that backs the data up as it is, puts the backup's data back
/// and its release, starts the platform and verifies it. Its exit codes.
pub async fn restore(opts: Restore) -> u8 {
    let locale = opts.locale.as_str();
    let index = match cdwiz::backup::read(&opts.from) {
        Ok(i) => i,
        Err(m) => return bad_input(&[m.render(locale)]),
    };
    let asked = Msg::new("backup.restore.confirm")
        .arg("path", opts.from.display())
        .arg("created", &index.created)
        .arg("product", &index.product)
        .arg("version", &index.version)
        .arg("hosts", index.hosts.join(", "));
    if !opts.yes {
        if opts.non_interactive || !std::io::stdin().is_terminal() {
            return bad_input(&[cdwiz::i18n::text("backup.restore.refused", locale)]);
        }
        eprint!("{}", asked.render(locale));
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if std::io::stdin().lock().read_line(&mut answer).is_err() || answer.trim() != "yes" {
            return bad_input(&[cdwiz::i18n::text("drill.refused.no", locale)]);
        }
    }
    crate::headless::run(crate::headless::Options {
        profile: opts.profile,
        dry_run: false,
        resume: false,
        output: opts.output,
        workdir: opts.workdir,
        accept_checks: opts.accept_checks,
        remove_hosts: false,
        allow_downgrade: true,
        purge_removed: false,
        yes_purge: false,
        no_backup: opts.no_backup,
        restore_from: Some(opts.from),
        locale: opts.locale,
    })
    .await
}
