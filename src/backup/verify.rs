//! `cdwiz backup --verify B`: a backup proven readable before anyone
//! counts on it. Every part's size and sha256 against the index (one
//! flipped byte is found and named), the backup of this installation, then
//! each component's data restored in a throwaway container of the image it
//! was taken from, on one of its hosts, with no network and nothing of the
//! platform's: the manifest's `backup.check` gets the part's path and
//! exits 0 once it has restored and read it back. The running platform is
//! not touched.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index::{self, Index, Kind};
use crate::connect::{Connector, Targets};
use crate::i18n::Msg;
use crate::profile::Answers;
use crate::run::{ErrorKind, RunError};

/// Where a part is put in its throwaway container.
const INSIDE: &str = "/tmp";

/// What a verification needs.
pub struct VerifyRequest {
    pub answers: Answers,
    pub profile: PathBuf,
    pub base: PathBuf,
    pub data_dir: PathBuf,
    pub locale: String,
    /// The backup's folder.
    pub dir: PathBuf,
}

/// How one data part fared.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartVerdict {
    pub part: String,
    /// Where its throwaway container ran.
    pub host: String,
    pub size: u64,
    pub passed: bool,
    /// The check's last lines (what it found, or why it failed).
    pub said: Vec<String>,
}

/// A verification that ran.
#[derive(Debug, serde::Serialize)]
pub struct Verified {
    pub index: Index,
    pub parts: Vec<PartVerdict>,
}

impl Verified {
    /// Every data part restored and read back.
    pub fn passed(&self) -> bool {
        !self.parts.is_empty() && self.parts.iter().all(|p| p.passed)
    }
}

/// Why a backup was not verified.
#[derive(Debug)]
pub enum VerifyError {
    /// Bad input: no backup there, a profile problem, another
    /// installation's backup (exit 2).
    Run(RunError),
    /// Parts that are not what the index recorded (exit 6).
    Damaged(Vec<Msg>),
}

impl From<RunError> for VerifyError {
    fn from(e: RunError) -> Self {
        VerifyError::Run(e)
    }
}

/// The last lines of a check's output kept in its verdict.
const SAID_LINES: usize = 8;

/// Verifies the backup in `req.dir`.
pub async fn verify(mut req: VerifyRequest) -> Result<Verified, VerifyError> {
    crate::installation::adopt(&req.data_dir, &mut req.answers);
    let locale = req.locale.clone();
    let a = &req.answers;
    let bad = |m: Msg| RunError::new(ErrorKind::BadInput, vec![m.render(&locale)]);
    let index = index::read(&req.dir).map_err(bad)?;
    let damaged = index::check_sums(&req.dir, &index);
    if !damaged.is_empty() {
        return Err(VerifyError::Damaged(damaged));
    }
    let install = crate::profile::install_id(a);
    if index.install != install {
        return Err(bad(Msg::new("backup.error.another")
            .arg("path", req.dir.display())
            .arg("found", &index.install)
            .arg("install", &install))
        .into());
    }
    let bundle = crate::run::manifest_only(a, &req.base, &req.data_dir, &req.profile, &locale)?;
    let secrets = crate::run::secrets_or_profile(None, a, &req.base, &req.profile, &locale)?;
    let mut connector = Connector::new(
        a,
        secrets,
        &req.data_dir,
        &req.base,
        crate::connect::askpass_program(),
    );
    connector.install_key = false;
    let targets = Targets::open(&Arc::new(connector), a).await;
    let mut parts = Vec::new();
    for part in index.parts.iter().filter(|p| p.kind == Kind::Data) {
        let check = bundle
            .manifest
            .components
            .iter()
            .find(|c| c.name == part.name)
            .and_then(|c| Some((c.backup.as_ref()?.check.clone(), c.image.clone())));
        let verdict = match check {
            None => PartVerdict {
                part: part.name.clone(),
                host: String::new(),
                size: part.size,
                passed: false,
                said: vec![
                    Msg::new("backup.verify.no-check")
                        .arg("component", &part.name)
                        .render(&locale),
                ],
            },
            Some((check, image)) => {
                let image = part.image.clone().unwrap_or(image);
                let file = index::part_path(&req.dir, part).unwrap_or_default();
                check_part(a, &targets, part, &image, &check, &file, &locale).await
            }
        };
        parts.push(verdict);
    }
    targets.close().await;
    Ok(Verified { index, parts })
}

/// One data part restored in a throwaway container on a host that has
/// its image: the part's own host first, then the others.
async fn check_part(
    a: &Answers,
    targets: &Targets,
    part: &index::Part,
    image: &str,
    check: &[String],
    file: &Path,
    locale: &str,
) -> PartVerdict {
    let mut verdict = PartVerdict {
        part: part.name.clone(),
        host: String::new(),
        size: part.size,
        passed: false,
        said: Vec::new(),
    };
    let mut order: Vec<String> = part.host.iter().cloned().collect();
    order.extend(a.hosts.iter().map(|h| h.address.clone()));
    order.dedup();
    let base = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = check.to_vec();
    cmd.push(format!("{INSIDE}/{base}"));
    for addr in order {
        let Some(t) = targets.hosts.get(&addr) else {
            continue;
        };
        let Ok(docker) = t.docker().await else {
            continue;
        };
        if !crate::docker::has_image(docker, image)
            .await
            .unwrap_or(false)
        {
            continue;
        }
        let name = format!("cdwiz-check-{}", part.name);
        verdict.host = addr.clone();
        match crate::docker::run_with_file(
            docker,
            image,
            &name,
            &cmd,
            file,
            INSIDE,
            super::CHECK_LIMIT,
        )
        .await
        {
            Ok(out) => {
                verdict.passed = out.code == 0;
                verdict.said = last_lines(&out.output);
            }
            Err(e) => verdict.said = vec![crate::text::line(&e.to_string())],
        }
        return verdict;
    }
    verdict.said = vec![
        Msg::new("backup.verify.no-host")
            .arg("image", image)
            .render(locale),
    ];
    verdict
}

/// The last non-empty lines of what a check printed, cleaned.
fn last_lines(output: &str) -> Vec<String> {
    let lines: Vec<String> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(crate::text::line)
        .collect();
    lines[lines.len().saturating_sub(SAID_LINES)..].to_vec()
}
