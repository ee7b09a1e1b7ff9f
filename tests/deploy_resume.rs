//! What goes wrong on site, on a real sandbox host: the operator presses
//! Ctrl-C (exit 130, resumable), a second run starts while one holds the
//! hosts (refused, exit 2, naming the holder), cdwiz is killed with -9 in
//! the middle of the components (its lock is explained as stale and only
//! `--resume` takes it over), and `--resume` completes without running a
//! finished step again.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
const LIMIT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_refused_killed_and_resumed() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-resume", 214, 1).await;
    let sb = &inst.sandbox;
    let addr = sb.hosts[0].address.clone();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("single.yaml");
    write_single_profile(&profile, &bundle, &addr, PASSWORD_ENV, "");
    let state = tmp.path().join("state");
    let work = tmp.path().join("work");
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let start = |extra: &[&str]| run.start(extra);

    // 1. Ctrl-C during the images: the step under way finishes, the run
    // stops there with 130 and says how to go on.
    // The first bytes of the images (not the end of the step before: a
    // signal between two steps stops the run before the images begin).
    let mut a = start(&[]);
    assert!(
        a.wait_for(LIMIT, |v| v["event"] == "image-progress"
            && v["host"] == addr)
            .is_some(),
        "run A never reached the images"
    );
    a.signal("INT");
    let (code, lines, err) = a.finish();
    assert_eq!(code, 130, "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, &addr, "images", &["changed"])),
        "the step under way finished: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, &addr, "configs", &["skipped"])),
        "nothing after it ran: {lines:?}"
    );
    assert_eq!(sh_ok(sb, 0, "docker ps -aq | wc -l").await, "0");
    assert_eq!(
        sh(sb, 0, "root", "test -e /run/cdwiz.lock").await.code,
        1,
        "the stopped run gave its lock back"
    );

    // 2. Resume; while it holds the host, a second run is refused.
    let mut b = start(&["--resume"]);
    b.wait_for(LIMIT, |v| is_step(v, &addr, "images", &["done"]))
        .unwrap_or_else(|| panic!("run B did not resume: {:?}", b.seen));
    let c = start(&[]);
    let (code, _, err) = c.finish();
    assert_eq!(code, 2, "a second run must be refused: {err}");
    let b_pid = b.child.id().to_string();
    assert!(
        err.contains("another cdwiz run holds the lock") && err.contains(&b_pid),
        "the refusal names the holder (pid {b_pid}): {err}"
    );

    // 3. kill -9 in the middle of the components.
    b.wait_for(LIMIT, |v| {
        is_step(v, &addr, "component database", &["changed"])
    })
    .unwrap_or_else(|| panic!("run B did not start the database: {:?}", b.seen));
    b.signal("KILL");
    let (_, b_lines, _) = b.finish();
    assert!(
        !b_lines.iter().any(|v| v["event"] == "deploy-summary"),
        "run B finished before it was killed; the test needs it mid-way"
    );
    let finished_by_b: Vec<String> = b_lines
        .iter()
        .filter(|v| v["event"] == "deploy-step" && v["status"] == "changed")
        .map(|v| v["step"].as_str().unwrap().to_string())
        .collect();
    assert!(finished_by_b.contains(&"configs".to_string()));

    // 4. Without --resume, the dead run's lock is explained, not broken.
    let (code, _, err) = start(&[]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no longer running") && err.contains("--resume"),
        "{err}"
    );

    // 5. --resume takes the lock over and completes; no step finished
    // before the kill runs again.
    let ids_before = sh_ok(sb, 0, "docker ps -q --no-trunc --filter name=cd-database").await;
    let (code, lines, err) = start(&["--resume"]).finish();
    assert_eq!(code, 0, "{err}");
    let steps: Vec<&Value> = lines
        .iter()
        .filter(|v| v["event"] == "deploy-step")
        .collect();
    for step in ["prepare", "images", "configs", "component database"] {
        assert!(
            steps.iter().any(|v| is_step(v, &addr, step, &["done"])),
            "{step} was run again: {steps:?}"
        );
    }
    assert!(steps.iter().all(|v| v["status"] != "failed"), "{steps:?}");
    assert_eq!(
        sh_ok(sb, 0, "docker ps -q --no-trunc --filter name=cd-database").await,
        ids_before,
        "the database container was recreated"
    );
    let (status, body) = http_get(&addr, 80, "/api/health").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"database":"ok","cache":"ok"}"#)
    );
    assert_eq!(
        sh(sb, 0, "root", "test -e /run/cdwiz.lock").await.code,
        1,
        "the finished run gave its lock back"
    );
    // The state file says the install is complete; nothing left to resume.
    let runs: Vec<_> = std::fs::read_dir(work.join("runs"))
        .unwrap()
        .flatten()
        .collect();
    let resumed = runs
        .iter()
        .filter(|r| r.path().join("state.json").exists())
        .filter(|r| {
            std::fs::read_to_string(r.path().join("state.json"))
                .unwrap()
                .contains("\"complete\": true")
        })
        .count();
    assert_eq!(resumed, 1, "one run, resumed three times, is complete");
}
