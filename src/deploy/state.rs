//! The state file (`state.json` in the run directory): which steps each
//! host finished, written after every step, so that `--resume` goes on
//! from where a run stopped (crash, kill -9, Ctrl-C, a fixed problem)
//! without doing finished work again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub const STATE_FILE: &str = "state.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct State {
    pub run: String,
    /// The installation (see `profile::install_id`).
    pub install: String,
    /// Hash of everything a step's result depends on (answers, manifest,
    /// rendered files); finished steps are trusted only while it matches.
    pub fingerprint: String,
    pub profile: PathBuf,
    /// Every step of every host finished.
    pub complete: bool,
    /// Steps finished, per host (`*` for steps of the whole cluster).
    pub done: BTreeMap<String, BTreeSet<String>>,
    /// The step each failed host stopped at, with the error.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed: BTreeMap<String, FailedAt>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct FailedAt {
    pub step: String,
    pub message: String,
}

/// The state of one run, saved atomically after every change.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    state: Mutex<State>,
}

impl StateStore {
    /// A store at `run_dir/state.json`, starting from `state`.
    pub fn new(run_dir: &Path, state: State) -> StateStore {
        StateStore {
            path: run_dir.join(STATE_FILE),
            state: Mutex::new(state),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_done(&self, host: &str, step: &str) -> bool {
        self.lock().done.get(host).is_some_and(|s| s.contains(step))
    }

    pub fn mark_done(&self, host: &str, step: &str) -> std::io::Result<()> {
        let mut s = self.lock();
        s.done
            .entry(host.to_string())
            .or_default()
            .insert(step.to_string());
        s.failed.remove(host);
        save(&self.path, &s)
    }

    pub fn mark_failed(&self, host: &str, step: &str, message: &str) -> std::io::Result<()> {
        let mut s = self.lock();
        s.failed.insert(
            host.to_string(),
            FailedAt {
                step: step.to_string(),
                message: message.to_string(),
            },
        );
        save(&self.path, &s)
    }

    pub fn set_complete(&self, complete: bool) -> std::io::Result<()> {
        let mut s = self.lock();
        s.complete = complete;
        save(&self.path, &s)
    }

    pub fn save(&self) -> std::io::Result<()> {
        save(&self.path, &self.lock())
    }
}

fn save(path: &Path, state: &State) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
    crate::rundir::write_atomic(path, &format!("{text}\n"))
}

/// Reads a run directory's state file.
pub fn load(run_dir: &Path) -> Option<State> {
    let text = std::fs::read_to_string(run_dir.join(STATE_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The newest run under `base/runs` of this install that did not finish.
pub fn find_resumable(base: &Path, install: &str) -> Option<(PathBuf, State)> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(base.join("runs"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    // Run ids begin with the UTC time: the newest sorts last.
    runs.sort();
    runs.into_iter().rev().find_map(|dir| {
        let s = load(&dir)?;
        (s.install == install && !s.complete).then_some((dir, s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_survive_a_reload_and_the_newest_unfinished_run_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        for (id, install, complete) in [
            ("20261123-100000-0001", "a", false),
            ("20261123-110000-0002", "a", false),
            ("20261123-120000-0003", "a", true),
            ("20261123-130000-0004", "b", false),
        ] {
            let dir = runs.join(id);
            std::fs::create_dir_all(&dir).unwrap();
            let store = StateStore::new(
                &dir,
                State {
                    run: id.into(),
                    install: install.into(),
                    ..Default::default()
                },
            );
            store.mark_done("10.0.0.1", "prepare").unwrap();
            store.set_complete(complete).unwrap();
        }
        let (dir, state) = find_resumable(tmp.path(), "a").unwrap();
        assert!(dir.ends_with("20261123-110000-0002"));
        assert!(state.done["10.0.0.1"].contains("prepare"));
        let store = StateStore::new(&dir, state);
        assert!(store.is_done("10.0.0.1", "prepare"));
        assert!(!store.is_done("10.0.0.1", "images"));
        store.mark_failed("10.0.0.2", "images", "gone").unwrap();
        assert_eq!(load(&dir).unwrap().failed["10.0.0.2"].step, "images");
        assert!(find_resumable(tmp.path(), "c").is_none());
    }
}
