//! What README promises of a run, on a real sandbox host: the on-error hook
//! runs on a host that fails, with its variables; `--resume` after the
//! profile or the bundle changed checks every step again (and trusts them
//! when nothing changed); the run lock is kept alive while a run lives, and
//! a lock untouched past its limit is taken over only with `--resume`;
//! `--output text` prints one line per check and a summary.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
const LIMIT: Duration = Duration::from_secs(240);

fn profile(bundle: &Path, addr: &str, hooks: &str, timezone: &str) -> String {
    format!(
        "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
         ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
         hosts:\n  - {{ address: {addr}, roles: [master, worker] }}\n\
         settings: {{ admin-user: admin, timezone: {timezone} }}\n{hooks}",
        bundle.display()
    )
}

fn steps<'a>(lines: &'a [Value], status: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|v| v["event"] == "deploy-step" && v["status"] == status)
        .filter_map(|v| v["step"].as_str())
        .collect()
}

fn notes(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .filter(|v| v["event"] == "note")
        .filter_map(|v| v["id"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_resume_lock_and_text_output_keep_their_promises() {
    let sandbox_bundle = sandbox_bundle().await;
    let inst = instance("t-promises", 226, 1).await;
    let sb = &inst.sandbox;
    let addr = sb.hosts[0].address.clone();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A bundle of this test's own (its archive hard-linked): its manifest
    // can change between runs.
    let bundle = tmp.path().join("bundle");
    let cp = std::process::Command::new("cp")
        .arg("-al")
        .arg(&sandbox_bundle)
        .arg(&bundle)
        .status()
        .unwrap();
    assert!(cp.success());
    let write = |name: &str, text: &str| std::fs::write(tmp.path().join(name), text).unwrap();
    write("fail.sh", "echo 'failing on purpose' >&2; exit 7\n");
    write("ok.sh", "true\n");
    write(
        "on-error.sh",
        "env | grep '^CDWIZ_' | sort > /root/on-error.env\n",
    );
    let p = tmp.path().join("p.yaml");
    let state = tmp.path().join("state");
    let work = tmp.path().join("work");
    let run = Run {
        profile: &p,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };

    // 1. A host fails (its pre-deploy hook exits 7): on-error runs there,
    // with the run's variables.
    let hooks = "hooks: { pre-deploy: fail.sh, on-error: on-error.sh }\n";
    std::fs::write(&p, profile(&bundle, &addr, hooks, "Asia/Shanghai")).unwrap();
    let (code, lines, err) = run.start(&[]).finish();
    assert_eq!(code, 4, "{err}");
    let summary = lines
        .iter()
        .find(|v| v["event"] == "deploy-summary")
        .expect("a summary");
    let run_id = summary["run"].as_str().unwrap().to_string();
    let env = sh_ok(sb, 0, "cat /root/on-error.env").await;
    for want in [
        "CDWIZ_PHASE=on-error".to_string(),
        format!("CDWIZ_HOST={addr}"),
        format!("CDWIZ_RUN={run_id}"),
        "CDWIZ_DATA_DIR=/data".to_string(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} not in:\n{env}");
    }
    assert!(
        err.contains("failed at hook pre-deploy")
            && err.contains("the pre-deploy hook exited with 7: failing on purpose"),
        "{err}"
    );

    // 2. --resume after the profile changed (the hook fixed, another time
    // zone): the same run goes on, every step checked again.
    let hooks = "hooks: { pre-deploy: ok.sh, post-deploy: fail.sh, on-error: on-error.sh }\n";
    std::fs::write(&p, profile(&bundle, &addr, hooks, "UTC")).unwrap();
    let (code, lines, err) = run.start(&["--resume"]).finish();
    assert_eq!(code, 4, "the post-deploy hook fails: {err}");
    assert!(notes(&lines).contains(&"resume-changed"), "{lines:?}");
    assert!(
        steps(&lines, "done").is_empty(),
        "{:?}",
        steps(&lines, "done")
    );
    assert!(steps(&lines, "changed").contains(&"prepare"), "{lines:?}");

    // Nothing changed: the finished steps are trusted.
    let (code, lines, err) = run.start(&["--resume"]).finish();
    assert_eq!(code, 4, "{err}");
    assert!(notes(&lines).contains(&"resuming"), "{lines:?}");
    let done = steps(&lines, "done");
    for s in ["prepare", "images", "configs", "component web"] {
        assert!(done.contains(&s), "{s} not trusted: {done:?}");
    }

    // The bundle changed (its manifest's version): every step again.
    let manifest = bundle.join("manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::remove_file(&manifest).unwrap(); // a hard link: not the original
    assert!(text.contains("  version: 0.1.0"), "{text}");
    std::fs::write(
        &manifest,
        text.replacen("  version: 0.1.0", "  version: 0.1.1", 1),
    )
    .unwrap();
    let (code, lines, err) = run.start(&["--resume"]).finish();
    assert_eq!(code, 4, "{err}");
    assert!(notes(&lines).contains(&"resume-changed"), "{lines:?}");
    assert!(
        steps(&lines, "done").is_empty(),
        "{:?}",
        steps(&lines, "done")
    );

    // 3. A lock left by a run that went quiet 200 s ago (another machine):
    // refused without --resume, taken over with it.
    let hooks = "hooks: { on-error: on-error.sh }\n";
    std::fs::write(&p, profile(&bundle, &addr, hooks, "UTC")).unwrap();
    sh_ok(
        sb,
        0,
        "printf '%s\\n' '{\"run\":\"20260101-000000-dead\",\"installer\":\"elsewhere\",\
         \"machine\":\"another-machine\",\"pid\":4242,\"started\":0}' > /run/cdwiz.lock && \
         touch -d '-200 seconds' /run/cdwiz.lock",
    )
    .await;
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("20260101-000000-dead")
            && err.contains("last touched")
            && err.contains("--resume"),
        "{err}"
    );
    let (code, lines, err) = run.start(&["--resume"]).finish();
    assert_eq!(code, 0, "{err}");
    assert!(notes(&lines).contains(&"lock-taken-over"), "{lines:?}");
    assert_eq!(
        sh(sb, 0, "root", "test -e /run/cdwiz.lock").await.code,
        1,
        "the finished run gave its lock back"
    );

    // The lock of a live run is touched while it runs (every 15 s), and a
    // second run is refused as held by a live run. The hook outlives two
    // heartbeats, so that a lock that cannot be touched is seen said too.
    write("slow.sh", "sleep 36\n");
    let hooks = "hooks: { pre-deploy: slow.sh }\n";
    std::fs::write(&p, profile(&bundle, &addr, hooks, "UTC")).unwrap();
    let mut slow = run.start(&[]);
    assert!(
        slow.wait_for(LIMIT, |v| v["event"] == "summary").is_some(),
        "the slow run never finished its checks"
    );
    let mtime = || async {
        sh_ok(sb, 0, "stat -c %Y /run/cdwiz.lock")
            .await
            .parse::<u64>()
            .unwrap()
    };
    // Its modification time when first seen is when it was taken (or last
    // touched): a heartbeat moves it on by about 15 s.
    let taken = mtime().await;
    let touched = eventually(Duration::from_secs(25), || async {
        mtime().await >= taken + 10
    })
    .await;
    assert!(
        touched.is_some(),
        "the lock of the live run was not touched within 25 s of {taken}"
    );
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("another cdwiz run holds the lock"), "{err}");
    // A lock that cannot be touched (here a link into nowhere) is said in
    // the host's log at the next heartbeat, not ignored.
    sh_ok(sb, 0, "ln -sfn /nonexistent/cdwiz.lock /run/cdwiz.lock").await;
    let said = slow.wait_for(Duration::from_secs(30), |v| {
        v["event"] == "note"
            && v["id"] == "lock-not-touched"
            && v["message"]
                .as_str()
                .unwrap_or("")
                .contains("could not be touched")
    });
    let (code, lines, err) = slow.finish();
    assert!(said.is_some(), "no word of the lock not touched: {lines:?}");
    assert_eq!(code, 0, "{err}");
    sh_ok(sb, 0, "rm -f /run/cdwiz.lock").await;

    // 4. --output text: one line per check (host, status, id, title:
    // detail), then the summary and where the reports are.
    let (code, text, err) = run_to_end(
        std::process::Command::new(cdwiz_bin())
            .args([
                "--non-interactive",
                "--dry-run",
                "--output",
                "text",
                "--profile",
            ])
            .arg(&p)
            .arg("--workdir")
            .arg(&work)
            .env(PASSWORD_ENV, &password)
            .env("CDWIZ_DATA_DIR", &state),
    );
    assert_eq!(code, 0, "{text}{err}");
    let reach = text
        .lines()
        .find(|l| l.contains("ssh.reach"))
        .unwrap_or_else(|| panic!("no ssh.reach line:\n{text}"));
    let words: Vec<&str> = reach.split_whitespace().collect();
    assert_eq!(&words[..3], [addr.as_str(), "pass", "ssh.reach"], "{reach}");
    assert!(reach.contains(": "), "{reach}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("checks: ") && l.contains(" pass, ") && l.ends_with(" s")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("report: ") && l.ends_with("checks.md")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("rendered ")), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with('{')),
        "JSON in the text output:\n{text}"
    );
}
