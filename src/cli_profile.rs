//! `cdwiz validate` and `cdwiz schema`: the profile on the command line.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct ValidateArgs {
    /// The profile (YAML) to check.
    pub profile: PathBuf,
    /// Also print the plan: what each host will do and where the platform answers.
    #[arg(long)]
    pub plan: bool,
}

/// Exit code: 0 good, 2 bad input (every problem listed on stderr).
pub fn validate(args: &ValidateArgs, locale: &str) -> u8 {
    match cdwiz::profile::load_file(&args.profile) {
        Ok(answers) => {
            let plan = cdwiz::plan::plan(&answers);
            println!(
                "{}: good ({}, {} host{})",
                args.profile.display(),
                plan.topology.as_str(),
                plan.hosts.len(),
                if plan.hosts.len() == 1 { "" } else { "s" }
            );
            if args.plan {
                match serde_yaml::to_string(&plan) {
                    Ok(text) => print!("{text}"),
                    Err(e) => {
                        eprintln!("error: cannot print the plan: {e}");
                        return 1;
                    }
                }
            }
            0
        }
        Err(e) => {
            eprintln!("{}", e.render(locale));
            super::EXIT_BAD_INPUT
        }
    }
}

/// Prints the profile's JSON Schema.
pub fn schema() -> u8 {
    match serde_json::to_string_pretty(&cdwiz::profile::json_schema()) {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
