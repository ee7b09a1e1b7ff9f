//! `cdwiz backup --verify B`: a backup proven readable before anyone
//! counts on it. Every part's size and sha256 against the index (one
//! flipped byte is found and named), the backup of this installation, then
//! each component's data restored in a throwaway container of the image it
//! was taken from, on one of its hosts, with no network and nothing of the
//! platform's: the manifest's `backup.check` gets the part's path and
//! exits 0 once it has restored and read it back. The running platform is
//! not touched.

use std::path::Path;

use super::index::{self, Index, Kind};
use crate::connect::Targets;
use crate::i18n::Msg;
use crate::profile::Answers;

/// Where a part is put in its throwaway container.
const INSIDE: &str = "/tmp";

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

/// The last lines of a check's output kept in its verdict.
const SAID_LINES: usize = 8;

/// Restores each data part of the backup in `dir` (its sums checked,
/// its installation the caller's) in a throwaway container on one of
/// `targets`, with the check `manifest` names for its component.
pub async fn verify(
    dir: &Path,
    index: Index,
    answers: &Answers,
    manifest: &crate::bundle::Manifest,
    targets: &Targets,
    locale: &str,
) -> Verified {
    let mut parts = Vec::new();
    for part in index.parts.iter().filter(|p| p.kind == Kind::Data) {
        let check = manifest
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
                        .render(locale),
                ],
            },
            Some((check, image)) => {
                let image = part.image.clone().unwrap_or(image);
                let file = index::part_path(dir, part).unwrap_or_default();
                check_part(answers, targets, part, &image, &check, &file, locale).await
            }
        };
        parts.push(verdict);
    }
    Verified { index, parts }
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
