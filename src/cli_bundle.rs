//! `cdwiz bundle`: the vendor's side. `build` makes a bundle from a product
//! manifest and the images in a Docker engine (`cdwiz::bundle::build`),
//! `verify` checks one as a deploy would (`cdwiz::bundle::verify`), `pack`
//! makes the one offline installer file (`cdwiz::bundle::pack`). Exit 0
//! done, 2 bad input (each problem named), 1 a failure on the way.

use std::io::Write;
use std::path::PathBuf;

use cdwiz::bundle::build::{BuildError, BuildEvent, BuildRequest};
use cdwiz::i18n::Msg;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct BundleArgs {
    #[command(subcommand)]
    pub action: BundleAction,
}

#[derive(Subcommand)]
pub enum BundleAction {
    /// Build a bundle from a product manifest and the images in a Docker
    /// engine (this machine's, or $DOCKER_HOST's unix socket): one archive
    /// per architecture with its sha256; reproducible.
    Build {
        /// The product's manifest.yaml (a `templates/` folder beside it is
        /// carried along).
        #[arg(long)]
        manifest: PathBuf,
        /// Architectures to carry, comma-separated: amd64, arm64 (default:
        /// the engine's own). An image of another architecture than the
        /// plain tag's is taken from `<tag>-<arch>`.
        #[arg(long, value_delimiter = ',')]
        arch: Vec<String>,
        /// The bundle directory to write (a bundle already there is replaced).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Check a bundle as a deploy would before touching a host: the
    /// manifest, every archive and its sha256, every image inside its
    /// archive, every config template; exit 2 naming each problem.
    Verify {
        /// The bundle's directory (holding manifest.yaml).
        dir: PathBuf,
    },
    /// Pack a bundle and a cdwiz binary into the one offline installer file
    /// (.tar.gz with a README in English and Chinese); the bundle is
    /// verified first.
    Pack {
        /// The bundle's directory.
        dir: PathBuf,
        /// The file to write (default: <product>-<version>-linux-<arch>.tar.gz).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// The cdwiz binary to carry (default: this one); for operators on
        /// arm64 machines, an arm64 build of cdwiz.
        #[arg(long)]
        binary: Option<PathBuf>,
    },
}

pub async fn run(args: &BundleArgs, locale: &str) -> u8 {
    match &args.action {
        BundleAction::Build {
            manifest,
            arch,
            out,
        } => build(manifest, arch, out, locale).await,
        BundleAction::Verify { dir } => verify(dir, locale),
        BundleAction::Pack { dir, out, binary } => {
            pack(dir, out.as_deref(), binary.as_deref(), locale)
        }
    }
}

fn pack(
    dir: &std::path::Path,
    out: Option<&std::path::Path>,
    binary: Option<&std::path::Path>,
    locale: &str,
) -> u8 {
    use cdwiz::bundle::pack::{PackError, PackRequest};
    let progress = |done: u64, total: u64| {
        let m = Msg::new("bundle.pack.progress")
            .arg("mib", format!("{:.1}", done as f64 / 1048576.0))
            .arg("total", format!("{:.1}", total as f64 / 1048576.0));
        let _ = writeln!(std::io::stderr(), "{}", m.render(locale));
    };
    let req = PackRequest { dir, out, binary };
    match cdwiz::bundle::pack::pack(&req, &progress) {
        Ok(p) => {
            let m = Msg::new("bundle.pack.good")
                .arg("file", p.file.display())
                .arg("mib", format!("{:.1}", p.size as f64 / 1048576.0))
                .arg("top", &p.top)
                .arg("arch", &p.arch)
                .arg("glibc", p.glibc.as_deref().unwrap_or("-"));
            println!("{}", m.render(locale));
            0
        }
        Err(PackError::Input(problems)) => {
            let head = Msg::new("bundle.pack.bad")
                .arg("dir", dir.display())
                .arg("count", problems.len());
            problem_list(&head, &problems, locale);
            super::EXIT_BAD_INPUT
        }
        Err(PackError::Failed(m)) => {
            eprintln!("{}", super::error_line(locale, &m.render(locale)));
            1
        }
    }
}

fn verify(dir: &std::path::Path, locale: &str) -> u8 {
    match cdwiz::bundle::verify::verify(dir) {
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
            problem_list(&m, &problems, locale);
            super::EXIT_BAD_INPUT
        }
    }
}

fn problem_list(head: &Msg, problems: &[Msg], locale: &str) {
    eprintln!("{}", head.render(locale));
    for p in problems {
        eprintln!("  - {}", p.render(locale));
    }
}

async fn build(
    manifest: &std::path::Path,
    arch: &[String],
    out: &std::path::Path,
    locale: &str,
) -> u8 {
    let docker = match cdwiz::docker::connect_local().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}", super::error_line(locale, &e.to_string()));
            return 1;
        }
    };
    let progress = |e: BuildEvent| {
        let m = match e {
            BuildEvent::Found {
                arch,
                reference,
                source,
            } => Msg::new("bundle.build.found")
                .arg("arch", arch)
                .arg("image", &reference)
                .arg(
                    "source",
                    if source == reference {
                        String::new()
                    } else {
                        format!(" ({source})")
                    },
                ),
            BuildEvent::Writing { arch, bytes, total } => Msg::new("bundle.build.writing")
                .arg("arch", arch)
                .arg("mib", format!("{:.1}", bytes as f64 / 1048576.0))
                .arg("total", format!("{:.1}", total as f64 / 1048576.0)),
            BuildEvent::Written {
                arch,
                file,
                sha256,
                size,
            } => Msg::new("bundle.build.written")
                .arg("arch", arch)
                .arg("file", file.display())
                .arg("mib", format!("{:.1}", size as f64 / 1048576.0))
                .arg("sha256", sha256),
        };
        let _ = writeln!(std::io::stderr(), "{}", m.render(locale));
    };
    let req = BuildRequest {
        manifest,
        archs: arch.to_vec(),
        out,
    };
    match cdwiz::bundle::build::build(&docker, &req, &progress).await {
        Ok(m) => {
            let done = Msg::new("bundle.build.good")
                .arg("dir", out.display())
                .arg("product", &m.product.name)
                .arg("version", &m.product.version)
                .arg("archives", m.images.len());
            println!("{}", done.render(locale));
            0
        }
        Err(BuildError::Input(problems)) => {
            let head = Msg::new("bundle.build.bad")
                .arg("manifest", manifest.display())
                .arg("count", problems.len());
            problem_list(&head, &problems, locale);
            super::EXIT_BAD_INPUT
        }
        Err(BuildError::Failed(m)) => {
            eprintln!("{}", super::error_line(locale, &m.render(locale)));
            1
        }
    }
}
