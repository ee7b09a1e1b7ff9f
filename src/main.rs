//! The `cdwiz` command line: parses arguments and hands over to a front end
//! (headless today; the wizard to come) or to a plain command.

mod cli_backup;
mod cli_bundle;
mod cli_collect;
mod cli_drill;
mod cli_help;
mod cli_profile;
mod cli_sandbox;
mod cli_status;
mod cli_uninstall;
mod headless;
mod logging;
mod tui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{FromArgMatches, Parser, Subcommand};

/// Exit code for bad input (flags, profile), as DESIGN.md §10 fixes it.
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser)]
#[command(
    name = "cdwiz",
    version,
    about = "Installation wizard for the CD platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Saved answers to start from (YAML).
    #[arg(long, global = true)]
    profile: Option<PathBuf>,
    /// No prompts: plain progress lines and meaningful exit codes.
    #[arg(long, global = true)]
    non_interactive: bool,
    /// Check the hosts and write the report, install nothing.
    #[arg(long)]
    dry_run: bool,
    /// Continue this install's last unfinished run: finished steps are not
    /// run again, and a run lock its dead run left is taken over.
    #[arg(long)]
    resume: bool,
    /// Line format of the headless output.
    #[arg(long, value_enum, default_value = "text", global = true)]
    output: headless::Output,
    /// Where the run directory goes (default: the data dir).
    #[arg(long, global = true)]
    workdir: Option<PathBuf>,
    /// Uninstall the platform from hosts the installation had and the
    /// profile no longer names (their data is kept).
    #[arg(long)]
    remove_hosts: bool,
    /// Let a bundle older than the hosts' release replace it (data kept).
    #[arg(long)]
    allow_downgrade: bool,
    /// Upgrade without the backup a rolling upgrade takes first.
    #[arg(long)]
    no_backup: bool,
    /// With --remove-hosts: also delete the platform's data on the removed
    /// hosts (needs --yes).
    #[arg(long = "purge", requires = "remove_hosts")]
    purge_removed: bool,
    /// Confirm --purge.
    #[arg(long = "yes", requires = "purge_removed")]
    yes_purge: bool,
    /// Accept a known deviation: ID[@HOST]=REASON (repeatable).
    #[arg(long = "accept-check", value_name = "ID[@HOST]=REASON")]
    accept_check: Vec<String>,
    /// Let the profile name this environment variable (repeatable);
    /// without it, only CDWIZ_* variables.
    #[arg(long = "allow-env", value_name = "NAME", global = true)]
    allow_env: Vec<String>,
    /// Let the profile read this file outside its own folder: a hook, a
    /// secret file, a kubeconfig, a CA certificate (repeatable).
    #[arg(long = "trust", value_name = "PATH", global = true)]
    trust: Vec<PathBuf>,
    /// Let the kubeconfig run this command line to log in (`exec`, an
    /// auth-provider's `cmd-path`), exactly as cdwiz shows it (repeatable).
    #[arg(long = "allow-exec", value_name = "COMMAND", global = true)]
    allow_exec: Vec<String>,
    /// The key a host must present, by its fingerprint: HOST=SHA256:…
    /// (repeatable); checked before anything is sent to the host.
    #[arg(long = "expect-host-key", value_name = "HOST=SHA256:…", global = true)]
    expect_host_key: Vec<String>,
    /// Language of what cdwiz prints: en or zh-CN (default: from LC_ALL,
    /// LC_MESSAGES, LANG).
    #[arg(long, global = true)]
    lang: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// A practice cluster of real hosts (containers with sshd, sudo,
    /// keepalived, Docker and a data disk) on this machine's Docker engine.
    Sandbox(cli_sandbox::SandboxArgs),
    /// Check a profile: every problem with its field path and line; exit 2
    /// when there is one.
    Validate(cli_profile::ValidateArgs),
    /// Print the profile's JSON Schema (for editors and CI).
    Schema,
    /// The vendor's side: build a bundle, check it, pack the offline
    /// installer.
    Bundle(cli_bundle::BundleArgs),
    /// Benchmark of the deploy screen (hidden): frames drawn while 12 hosts
    /// stream logs; `scripts/bench-wizard` runs it.
    #[command(hide = true)]
    BenchUi {
        /// Simulated seconds of streaming.
        #[arg(long, default_value_t = 60)]
        secs: u64,
        /// Log lines per second per host.
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        #[arg(long, default_value_t = 12)]
        hosts: usize,
    },
    /// How the installation the profile describes is doing: containers,
    /// health, restarts, drift, the VIP and the entry; read-only. Exit 0 all
    /// well, 5 something is not.
    Status,
    /// One archive for the vendor's support: per host the install record,
    /// configs, containers' inspect and logs, system facts; locally the
    /// recent runs; every secret replaced by ***. Read-only.
    Collect {
        /// The archive to write (default: cdwiz-collect-<install>-<time>.tar.gz).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// HA drill: while writing through the platform's entry, take each
    /// host's platform containers down in turn and bring them back; report
    /// per host how long writes failed, and read every acknowledged write
    /// back. Exit 0 passed, 6 failed, 5 not whole before it.
    Drill {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Seconds a host stays out after writes resumed.
        #[arg(long, default_value_t = 10)]
        hold: u64,
    },
    /// One backup of the installation the profile describes: each stateful
    /// component's data (from a replica where there is one), each host's
    /// rendered configuration and install record, sha256 per part; 0600.
    /// With --verify DIR: prove a backup restores (in a throwaway
    /// container), touching nothing of the platform.
    Backup {
        /// The folder to write (default: backups/<install>-<time> under
        /// the data dir); it must not exist.
        #[arg(short = 'o', long = "out", conflicts_with = "verify")]
        out: Option<PathBuf>,
        /// Keep the installation's generated secrets in the backup (in
        /// clear, 0600); without it they are left out and named.
        #[arg(long, conflicts_with = "verify")]
        include_secrets: bool,
        /// Verify this backup instead of taking one.
        #[arg(long, value_name = "DIR")]
        verify: Option<PathBuf>,
    },
    /// Put a backup back: its data (every write since it was taken is
    /// lost, said before), then its release, through a deploy run that
    /// starts and verifies the platform. A backup of the data as it is is
    /// taken first (unless --no-backup).
    Restore {
        /// The backup's folder.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Restore without backing up the data as it is first.
        #[arg(long)]
        no_backup: bool,
    },
    /// Remove the installation the profile describes: containers, configs,
    /// secrets; the data stays unless --purge (with --yes).
    Uninstall {
        /// Also delete the platform's data on the hosts.
        #[arg(long)]
        purge: bool,
        /// Confirm --purge without a question.
        #[arg(long)]
        yes: bool,
    },
}

/// `error: TEXT` in the operator's language.
pub fn error_line(locale: &str, text: &str) -> String {
    cdwiz::i18n::Msg::new("cli.error")
        .arg("text", text)
        .render(locale)
}

/// Output piped into a program that stopped reading (`cdwiz … | head`):
/// end quietly, as other command-line tools do, instead of a panic report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("failed printing to std") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// What the operator lets a profile take (`--allow-env`, `--trust`,
/// `--allow-exec`, `--expect-host-key`), recorded before anything reads the
/// profile; the password variables to take out of the environment. A
/// malformed pin is bad input: its exit code.
fn consent(cli: &Cli, lang: &str) -> Result<Vec<String>, u8> {
    let mut secret_names: Vec<String> = cdwiz::secret_env::DEFAULT_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    // What the operator lets a profile take; a variable it may not name
    // is neither read nor taken out of the environment.
    for name in &cli.allow_env {
        cdwiz::consent::allow_env(name);
    }
    for path in &cli.trust {
        cdwiz::consent::trust(path);
    }
    for command in &cli.allow_exec {
        cdwiz::consent::allow_exec(command);
    }
    for pin in &cli.expect_host_key {
        match pin.split_once('=') {
            Some((host, fp)) if !host.is_empty() && fp.starts_with("SHA256:") => {
                cdwiz::consent::expect_host_key(host, fp)
            }
            _ => {
                let m = cdwiz::i18n::Msg::new("cli.expect-host-key-bad").arg("value", pin);
                eprintln!("{}", error_line(lang, &m.render(lang)));
                return Err(EXIT_BAD_INPUT);
            }
        }
    }
    if let Some(p) = &cli.profile {
        secret_names.extend(
            cdwiz::secret_env::names_in_profile(p)
                .into_iter()
                .filter(|n| cdwiz::consent::env_allowed(n)),
        );
    }
    Ok(secret_names)
}

/// What the command needs `--profile` for (the word its error names),
/// when it does.
fn needs_profile(cli: &Cli) -> Option<&'static str> {
    match &cli.command {
        Some(Command::Status) => Some("status"),
        Some(Command::Collect { .. }) => Some("collect"),
        Some(Command::Drill { .. }) => Some("drill"),
        Some(Command::Backup { .. }) => Some("backup"),
        Some(Command::Restore { .. }) => Some("restore"),
        Some(Command::Uninstall { .. }) => Some("uninstall"),
        None if cli.non_interactive => Some("--non-interactive"),
        _ => None,
    }
}

/// The command the operator gave, on the runtime; its exit code.
async fn dispatch(cli: Cli, lang: String) -> u8 {
    if let Some(what) = needs_profile(&cli)
        && cli.profile.is_none()
    {
        let m = cdwiz::i18n::Msg::new("cli.needs-profile").arg("what", what);
        eprintln!("{}", error_line(&lang, &m.render(&lang)));
        return EXIT_BAD_INPUT;
    }
    // Given wherever a command needs it (above).
    let profile = cli.profile.clone().unwrap_or_default();
    match cli.command {
        Some(Command::Sandbox(args)) => {
            logging::to_stderr();
            match cli_sandbox::run(args, &lang).await {
                Ok(()) => 0,
                Err(e) => {
                    for line in cli_sandbox::error_lines(&e, &lang) {
                        eprintln!("{}", error_line(&lang, &line));
                    }
                    1
                }
            }
        }
        Some(Command::Bundle(args)) => cli_bundle::run(&args, &lang).await,
        Some(Command::Validate(_) | Command::Schema) => 0,
        Some(Command::BenchUi { secs, rate, hosts }) => tui::bench::run(secs, rate, hosts),
        Some(Command::Status) => cli_status::run(profile, cli.output, &lang).await,
        Some(Command::Collect { out }) => cli_collect::run(profile, out, cli.workdir, &lang).await,
        Some(Command::Drill { yes, hold }) => {
            cli_drill::run(cli_drill::Options {
                profile,
                yes,
                hold,
                non_interactive: cli.non_interactive,
                output: cli.output,
                workdir: cli.workdir,
                locale: lang,
            })
            .await
        }
        Some(Command::Backup {
            out,
            include_secrets,
            verify,
        }) => {
            cli_backup::run(cli_backup::Options {
                profile,
                out,
                include_secrets,
                verify,
                output: cli.output,
                locale: lang,
            })
            .await
        }
        Some(Command::Restore {
            from,
            yes,
            no_backup,
        }) => {
            cli_backup::restore(cli_backup::Restore {
                profile,
                from,
                yes,
                no_backup,
                non_interactive: cli.non_interactive,
                output: cli.output,
                workdir: cli.workdir,
                accept_checks: cli.accept_check,
                locale: lang,
            })
            .await
        }
        Some(Command::Uninstall { purge, yes }) => {
            cli_uninstall::run(cli_uninstall::Options {
                profile,
                purge,
                yes,
                non_interactive: cli.non_interactive,
                output: cli.output,
                workdir: cli.workdir,
                locale: lang,
            })
            .await
        }
        None if cli.non_interactive => {
            headless::run(headless::Options {
                profile,
                dry_run: cli.dry_run,
                resume: cli.resume,
                output: cli.output,
                workdir: cli.workdir,
                accept_checks: cli.accept_check,
                remove_hosts: cli.remove_hosts,
                allow_downgrade: cli.allow_downgrade,
                purge_removed: cli.purge_removed,
                yes_purge: cli.yes_purge,
                no_backup: cli.no_backup,
                restore_from: None,
                locale: lang,
            })
            .await
        }
        None => tui::run(cli.profile, lang).await,
    }
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    // Started by ssh as SSH_ASKPASS for a password login: answer and exit.
    if let Some(code) = cdwiz::ssh::askpass::helper_main() {
        return ExitCode::from(code as u8);
    }
    let parsed = cli_help::localized_command(&cli_help::locale(cli_help::lang_flag().as_deref()))
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let lang = cli_help::locale(cli.lang.as_deref());
    let secret_names = match consent(&cli, &lang) {
        Ok(names) => names,
        Err(code) => return ExitCode::from(code),
    };
    // SAFETY: no thread has been started yet (the runtime comes below).
    unsafe { cdwiz::secret_env::take(&secret_names) };
    if !matches!(cli.command, Some(Command::Sandbox(_) | Command::Bundle(_))) {
        // Everything an install run writes (run directories, reports, logs,
        // keys, rendered files) is the operator's alone. The sandbox keeps
        // the default: its images are built from files it writes; so do
        // the vendor's bundles, which hold no secret and travel.
        // SAFETY: umask has no memory-safety preconditions.
        unsafe { libc::umask(0o077) };
    }
    match &cli.command {
        Some(Command::Validate(args)) => return ExitCode::from(cli_profile::validate(args, &lang)),
        Some(Command::Schema) => return ExitCode::from(cli_profile::schema(&lang)),
        _ => {}
    }
    // Everything below but the vendor's bundle commands reaches hosts
    // through the system's OpenSSH client: say so now, not mid-run.
    if !matches!(
        cli.command,
        Some(Command::Bundle(_) | Command::BenchUi { .. })
    ) {
        for command in ["ssh", "ssh-keygen"] {
            if cdwiz::paths::on_path(command).is_none() {
                let m = cdwiz::i18n::Msg::new("cli.needs-ssh").arg("command", command);
                eprintln!("{}", error_line(&lang, &m.render(&lang)));
                return ExitCode::FAILURE;
            }
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}", error_line(&lang, &format!("{e}")));
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(dispatch(cli, lang));
    ExitCode::from(code)
}
