//! What a run writes besides its state: the check reports, the deploy's
//! report and summary.

use std::path::{Path, PathBuf};

use crate::checks::{self, CheckRun};

/// (`checks.json`, `checks.md`) of a run directory.
pub fn check_paths(run_dir: &Path) -> (PathBuf, PathBuf) {
    (run_dir.join("checks.json"), run_dir.join("checks.md"))
}

pub fn write_checks(run_dir: &Path, run: &CheckRun, locale: &str) {
    let (json, md) = check_paths(run_dir);
    for (path, text) in [
        (json, checks::report::to_json(run)),
        (md, checks::report::to_markdown(run, locale)),
    ] {
        if let Err(e) = crate::rundir::write_atomic(&path, &text) {
            tracing::warn!("{}: {e}", path.display());
        }
    }
}
