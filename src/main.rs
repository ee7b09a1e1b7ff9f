//! The `cdwiz` command line: parses arguments and hands over to the engine.

mod cli_profile;
mod cli_sandbox;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    // Started by ssh as SSH_ASKPASS for a password login: answer and exit.
    if let Some(code) = cdwiz::ssh::askpass::helper_main() {
        return ExitCode::from(code as u8);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CDWIZ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match &cli.command {
        Some(Command::Validate(args)) => return ExitCode::from(cli_profile::validate(args)),
        Some(Command::Schema) => return ExitCode::from(cli_profile::schema()),
        _ => {}
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Sandbox(args)) => cli_sandbox::run(args).await,
            Some(Command::Validate(_) | Command::Schema) => Ok(()),
            None => {
                println!(
                    "The interactive wizard is not built yet. Try a practice cluster:\n  \
                     cdwiz sandbox up     # three hosts on this machine\n  \
                     cdwiz sandbox status # where they are and how to log in"
                );
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
