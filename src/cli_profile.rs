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
            let data_dir = cdwiz::paths::data_dir();
            let mut plan = cdwiz::installation::with_membership(&answers, &data_dir);
            // Day two: the release against the one this machine last
            // installed (the bundle's manifest only; its archives are
            // checked at deploy).
            let mut a = answers.clone();
            cdwiz::installation::adopt(&data_dir, &mut a);
            let installed =
                cdwiz::installation::release(&data_dir, &cdwiz::profile::install_id(&a));
            let base = args.profile.parent().unwrap_or(std::path::Path::new("."));
            plan = cdwiz::plan::with_sources(plan, &answers, base);
            let bundle = cdwiz::run::open_bundle(&answers, base, &data_dir, false).ok();
            if let Some(installed) = installed
                && let Some(bundle) = &bundle
            {
                plan = cdwiz::plan::with_release(plan, &bundle.manifest, Some(&installed));
            }
            // The archive each host of a known architecture gets; the
            // clusters the components form.
            if let Some(bundle) = &bundle {
                plan = cdwiz::plan::with_clusters(plan, &answers, &bundle.manifest);
                match cdwiz::plan::with_archives(plan, &bundle.manifest) {
                    Ok(p) => plan = p,
                    Err(problems) => {
                        for m in problems {
                            eprintln!("{}", m.render(locale));
                        }
                        return super::EXIT_BAD_INPUT;
                    }
                }
            }
            let good = cdwiz::i18n::Msg::new("validate.good")
                .arg("file", args.profile.display())
                .arg("topology", plan.topology.as_str())
                .arg("hosts", plan.hosts.len());
            println!("{}", good.render(locale));
            if args.plan {
                match serde_yaml::to_string(&plan) {
                    Ok(text) => print!("{text}"),
                    Err(e) => {
                        let m = cdwiz::i18n::Msg::new("validate.plan-unprintable").arg("error", e);
                        eprintln!("{}", m.render(locale));
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
pub fn schema(locale: &str) -> u8 {
    match serde_json::to_string_pretty(&cdwiz::profile::json_schema()) {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(e) => {
            eprintln!("{}", crate::error_line(locale, &e.to_string()));
            1
        }
    }
}
