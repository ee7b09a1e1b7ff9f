//! `cdwiz bundle verify DIR`: the release pipeline's check of a bundle
//! (`cdwiz::bundle::verify`), exit 0 good, 2 with every problem named.

use std::path::PathBuf;

use cdwiz::i18n::Msg;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct BundleArgs {
    #[command(subcommand)]
    pub action: BundleAction,
}

#[derive(Subcommand)]
pub enum BundleAction {
    /// Check a bundle as a deploy would before touching a host: the
    /// manifest, every archive and its sha256, every image inside its
    /// archive, every config template; exit 2 naming each problem.
    Verify {
        /// The bundle's directory (holding manifest.yaml).
        dir: PathBuf,
    },
}

pub fn run(args: &BundleArgs, locale: &str) -> u8 {
    match &args.action {
        BundleAction::Verify { dir } => match cdwiz::bundle::verify::verify(dir) {
            Ok(v) => {
                let m = Msg::new("bundle.verify.good")
                    .arg("dir", dir.display())
                    .arg("archives", v.archives)
                    .arg("images", v.images)
                    .arg("components", v.components);
                println!("{}", m.render(locale));
                0
            }
            Err(problems) => {
                let m = Msg::new("bundle.verify.bad")
                    .arg("dir", dir.display())
                    .arg("count", problems.len());
                eprintln!("{}", m.render(locale));
                for p in problems {
                    eprintln!("  - {}", p.render(locale));
                }
                super::EXIT_BAD_INPUT
            }
        },
    }
}
