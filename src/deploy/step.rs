//! The step machinery of a deploy: each step on each host run at most
//! once per run (skipped after the host failed or the operator stopped,
//! `done` when a resumed run finished it), recorded in the state file, the
//! host's log and the report; and the two ways a step runs a command.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::Semaphore;

use super::{CMD_TIMEOUT, DeployReport, Failure, Input, RunContext, StepRecord, Target, phase_of};
use crate::event::{Event, StepOutcome};
use crate::i18n::Msg;

/// An error of one step.
#[derive(Debug)]
pub(crate) struct StepError {
    pub(crate) message: Msg,
    pub(crate) code: Option<i32>,
}

impl<T: ToString> From<T> for StepError {
    fn from(e: T) -> Self {
        StepError {
            message: Msg::from(e.to_string()),
            code: None,
        }
    }
}

impl From<Msg> for StepError {
    fn from(message: Msg) -> Self {
        StepError {
            message,
            code: None,
        }
    }
}

pub(crate) struct Run<'a> {
    pub(crate) input: &'a Input<'a>,
    pub(crate) ctx: &'a RunContext,
    steps: Mutex<Vec<StepRecord>>,
    failures: Mutex<BTreeMap<String, Failure>>,
    limit: Semaphore,
}

impl<'a> Run<'a> {
    pub(crate) fn new(input: &'a Input<'a>, ctx: &'a RunContext) -> Run<'a> {
        Run {
            input,
            ctx,
            steps: Mutex::new(Vec::new()),
            failures: Mutex::new(BTreeMap::new()),
            limit: Semaphore::new(ctx.concurrency.max(1)),
        }
    }

    /// The report of the run: its steps and failures (a step skipped
    /// without a failure of its own becomes one, so a blocked run says
    /// why); marks the state complete when every planned step is done.
    pub(crate) fn finish(
        self,
        planned: &[(String, Vec<String>)],
        url: Option<String>,
        started: Instant,
    ) -> DeployReport {
        let ctx = self.ctx;
        let steps = self.steps.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut failures: Vec<Failure> = self
            .failures
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_values()
            .collect();
        let cancelled = ctx.cancel.is_cancelled();
        let all_done = planned
            .iter()
            .all(|(h, s)| s.iter().all(|s| ctx.state.is_done(h, s)));
        let _ = ctx.state.set_complete(failures.is_empty() && all_done);
        if failures.is_empty()
            && !cancelled
            && let Some(s) = steps
                .iter()
                .find(|s| matches!(s.outcome, StepOutcome::Skipped { .. }))
            && let StepOutcome::Skipped { reason } = &s.outcome
        {
            // Skipped without a failure of its own: say why.
            failures.push(Failure {
                host: s.host.clone(),
                phase: phase_of(&s.step).into(),
                step: s.step.clone(),
                message: reason.clone(),
                code: None,
                last_lines: ctx.logs.tail(&s.host),
            });
        }
        DeployReport {
            steps,
            failures,
            cancelled,
            url,
            secs: started.elapsed().as_secs_f64(),
            machines: BTreeMap::new(),
            backup: None,
        }
    }

    pub(crate) fn failed(&self, host: &str) -> bool {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(host)
    }

    pub(crate) async fn emit(&self, e: Event) {
        if let Some(tx) = &self.ctx.tx {
            let _ = tx.send(e).await;
        }
    }

    pub(crate) async fn record(&self, host: &str, step: &str, outcome: StepOutcome, secs: f64) {
        self.ctx.logs.log(
            host,
            &format!(
                "{step}: {}{}",
                outcome.word(),
                match &outcome {
                    StepOutcome::Failed { message, .. } => format!(": {}", message.render("en")),
                    StepOutcome::Skipped { reason } => format!(": {}", reason.render("en")),
                    _ => format!(" ({secs:.1} s)"),
                }
            ),
        );
        self.steps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(StepRecord {
                host: host.into(),
                step: step.into(),
                outcome: outcome.clone(),
                secs: secs.round() as u64,
            });
        self.emit(Event::DeployStep {
            host: host.into(),
            step: step.into(),
            outcome,
            secs,
        })
        .await;
    }

    /// Runs one step on one host unless the host already failed, the run
    /// was stopped, or (resuming) an earlier run finished it. Returns
    /// whether the host may go on.
    pub(crate) async fn step<F, Fut>(&self, host: &str, step: &str, f: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<bool, StepError>>,
    {
        if self.failed(host) {
            return false;
        }
        if self.ctx.cancel.is_cancelled() {
            self.record(
                host,
                step,
                StepOutcome::Skipped {
                    reason: Msg::new("deploy.skip.stopped"),
                },
                0.0,
            )
            .await;
            return false;
        }
        if self.ctx.resume && self.ctx.state.is_done(host, step) {
            self.record(host, step, StepOutcome::Done, 0.0).await;
            return true;
        }
        let _permit = self.limit.acquire().await;
        self.emit(Event::StepStarted {
            host: host.into(),
            step: step.into(),
        })
        .await;
        self.ctx.logs.log(host, &format!("{step}: started"));
        let started = Instant::now();
        let result = f().await;
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(changed) => {
                if let Err(e) = self.ctx.state.mark_done(host, step) {
                    tracing::warn!(%e, "cannot write the state file");
                }
                let outcome = if changed {
                    StepOutcome::Changed
                } else {
                    StepOutcome::Unchanged
                };
                self.record(host, step, outcome, secs).await;
                true
            }
            Err(mut e) => {
                e.message = e.message.map_args(|a| self.ctx.logs.redact(a));
                let _ = self
                    .ctx
                    .state
                    .mark_failed(host, step, &e.message.render("en"));
                let last_lines = self.ctx.logs.tail(host);
                self.record(
                    host,
                    step,
                    StepOutcome::Failed {
                        message: e.message.clone(),
                        code: e.code,
                        last_lines,
                    },
                    secs,
                )
                .await;
                self.failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        host.to_string(),
                        Failure {
                            host: host.into(),
                            phase: phase_of(step).into(),
                            step: step.into(),
                            message: e.message,
                            code: e.code,
                            last_lines: self.ctx.logs.tail(host),
                        },
                    );
                false
            }
        }
    }
}

/// A file to write on a host.
pub(super) struct FileSpec<'a> {
    pub path: String,
    /// Octal, e.g. `644`.
    pub mode: &'static str,
    pub content: &'a [u8],
}

/// The shell that writes the files of [`files_input`] from its stdin, each
/// only when its content differs (through a temporary file and a rename),
/// printing `cdwiz-wrote PATH` for each it changed.
pub(super) const FILES_SCRIPT: &str = r#"while IFS= read -r f && IFS= read -r mode && IFS= read -r data; do
  d=${f%/*}; [ -n "$d" ] || d=/
  (umask 077; mkdir -p "$d") || exit 1
  t=$(mktemp "$d/.cdwiz-new.XXXXXX") || exit 1
  printf '%s' "$data" | base64 -d > "$t" || { rm -f "$t"; echo "cannot decode the content of $f" >&2; exit 1; }
  if [ -f "$f" ] && cmp -s "$t" "$f"; then rm -f "$t"
  else chmod "$mode" "$t" && mv "$t" "$f" && echo "cdwiz-wrote $f" || exit 1
  fi
done"#;

/// What [`FILES_SCRIPT`] reads: per file its path, its mode and its
/// content in base64, one line each (contents never reach a command line).
pub(super) fn files_input(files: &[FileSpec]) -> Vec<u8> {
    use base64::Engine;
    let mut out = Vec::new();
    for f in files {
        out.extend_from_slice(f.path.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(f.mode.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(f.content)
                .as_bytes(),
        );
        out.push(b'\n');
    }
    out
}

/// Writes `files` on the host in one round trip, each only when its content
/// differs; the paths it changed.
pub(super) async fn put_files(
    target: &Target,
    files: &[FileSpec<'_>],
) -> Result<Vec<String>, StepError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let out = target
        .conn
        .run_with_input(FILES_SCRIPT, Some(&files_input(files)), CMD_TIMEOUT)
        .await
        .map_err(|e| {
            Msg::new("deploy.error.write")
                .arg("path", &files[0].path)
                .arg("error", e)
        })?;
    let wrote = written(&out.stdout);
    if out.code != 0 {
        let path = files
            .iter()
            .find(|f| !wrote.contains(&f.path))
            .map(|f| f.path.as_str())
            .unwrap_or_default();
        return Err(Msg::new("deploy.error.write")
            .arg("path", path)
            .arg("error", out.stderr.trim())
            .into());
    }
    Ok(wrote)
}

/// The paths a [`FILES_SCRIPT`] run says it wrote.
pub(super) fn written(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("cdwiz-wrote "))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_once_with_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().display().to_string();
        let files = [
            FileSpec {
                path: format!("{dir}/a/secret"),
                mode: "600",
                content: b"s3cret\nwith a newline and 'quotes' $HOME",
            },
            FileSpec {
                path: format!("{dir}/b.json"),
                mode: "644",
                content: b"{}\n",
            },
        ];
        let run = || {
            use std::io::Write;
            let mut child = std::process::Command::new("sh")
                .args(["-c", FILES_SCRIPT])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(&files_input(&files))
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            written(&String::from_utf8_lossy(&out.stdout))
        };
        assert_eq!(run(), vec![files[0].path.clone(), files[1].path.clone()]);
        assert_eq!(
            run(),
            Vec::<String>::new(),
            "unchanged files were written again"
        );
        assert_eq!(
            std::fs::read(&files[0].path).unwrap(),
            files[0].content.to_vec()
        );
        let mode = std::fs::metadata(&files[0].path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
