//! One run, whoever drives it: the wizard (in tmux) and headless write the
//! same run directory for the same profile, after the checks and after a
//! deploy; and the wizard reads `password-file` exactly as headless does
//! (`~` is the home directory, a file other users can read is refused with
//! the fix).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::tmux::Tmux;
use common::*;

/// Every file of a run directory, relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// The only run directory under `base/runs`.
fn only_run(base: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(base.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn wizard_and_headless_write_the_same_run_directory() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-run", 225, 1).await;
    let sb = &inst.sandbox;
    let addr = sb.hosts[0].address.clone();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join("secret")).unwrap();
    let pw = home.join("secret/pw");
    std::fs::write(&pw, format!("{}\n", sb.password().unwrap())).unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let profile = tmp.path().join("single.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
             ssh: {{ user: root, auth: password, password-file: ~/secret/pw }}\n\
             hosts:\n  - {{ address: {addr}, roles: [master, worker], data-dir: /data }}\n\
             settings: {{ admin-user: admin, timezone: Asia/Shanghai }}\n",
            bundle.display()
        ),
    )
    .unwrap();
    let state = tmp.path().join("state");
    let (home_s, state_s) = (home.display().to_string(), state.display().to_string());
    let headless = |work: &Path, extra: &[&str]| {
        let (code, out, err) = run_to_end(
            std::process::Command::new(cdwiz_bin())
                .args(["--non-interactive", "--profile"])
                .arg(&profile)
                .arg("--workdir")
                .arg(work)
                .args(extra)
                .env("HOME", &home)
                .env("CDWIZ_DATA_DIR", &state),
        );
        (code, out + &err)
    };

    // A password file other users can read: headless refuses it…
    let (code, text) = headless(&tmp.path().join("w0"), &["--dry-run"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("ssh.password-file") && text.contains("chmod 600"),
        "{text}"
    );
    // …and so does the wizard, before it logs in anywhere.
    let tmux = Tmux::new("run-session");
    tmux.start(
        tmp.path(),
        &[
            ("HOME", &home_s),
            ("CDWIZ_DATA_DIR", &state_s),
            ("LANG", "C.UTF-8"),
        ],
        "--profile single.yaml",
    );
    tmux.wait_for("Press Enter to begin", Duration::from_secs(20));
    tmux.keys(&["Enter", "Enter"]); // welcome, topology
    tmux.wait_for(&addr, Duration::from_secs(10));
    tmux.keys(&["Enter"]); // hosts: on Next
    tmux.wait_for("Asia/Shanghai", Duration::from_secs(10));
    tmux.keys(&["Enter"]); // settings: on Next
    let s = tmux.wait_for("chmod 600", Duration::from_secs(30));
    assert!(s.contains("ssh.password-file"), "{s}");
    let run = only_run(&state);
    assert!(
        !run.join("checks.json").exists(),
        "the wizard checked hosts with a password file others can read"
    );

    // Made private: both go through with it, `~` being HOME.
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    tmux.keys(&["R"]); // every check again
    let checked = eventually(Duration::from_secs(120), || {
        let p = run.join("checks.json");
        async move { p.exists() }
    })
    .await;
    assert!(checked.is_some(), "{}", tmux.screen());
    tmux.wait_for("Checks: ", Duration::from_secs(30));
    tmux.keys(&["a", "Enter"]);
    tmux.wait_for("Rendered files", Duration::from_secs(60));
    let wizard_checked = files(&run);
    let dry = tmp.path().join("w1");
    let (code, text) = headless(&dry, &["--dry-run"]);
    assert_eq!(code, 0, "{text}");
    let headless_checked = files(&only_run(&dry));
    assert_eq!(wizard_checked, headless_checked);
    for f in ["answers.yaml", "checks.json", "checks.md", "logs/cdwiz.log"] {
        assert!(
            wizard_checked.contains(f),
            "{f} missing: {wizard_checked:?}"
        );
    }
    assert!(
        wizard_checked.iter().any(|f| f.starts_with("rendered/")),
        "{wizard_checked:?}"
    );

    // After a deploy.
    tmux.keys(&["Enter"]);
    tmux.wait_for("Installation complete", Duration::from_secs(300));
    let wizard_deployed = files(&run);
    let deployed = tmp.path().join("w2");
    let (code, text) = headless(&deployed, &[]);
    assert_eq!(code, 0, "{text}");
    let headless_deployed = files(&only_run(&deployed));
    assert_eq!(wizard_deployed, headless_deployed);
    for f in ["deploy.json", "summary.md", "state.json"] {
        assert!(
            wizard_deployed.contains(f),
            "{f} missing: {wizard_deployed:?}"
        );
    }
    assert!(
        wizard_deployed.contains(&format!("logs/{addr}.log")),
        "{wizard_deployed:?}"
    );
}
