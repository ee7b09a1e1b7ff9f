//! Deploy of the sandbox product onto a real sandbox host: the platform
//! answers with its health proving the database and cache credentials, and a
//! second run changes nothing (same containers, same files, no image load).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

fn deploy(profile: &Path, state: &Path, work: &Path, password: &str) -> (i32, Vec<Value>, String) {
    let run = Run {
        profile,
        work,
        state,
        password: (PASSWORD_ENV, password),
    };
    run.start(&[]).finish()
}

#[tokio::test(flavor = "multi_thread")]
async fn single_deploys_answers_and_a_second_run_changes_nothing() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-deploy", 212, 1).await;
    let sb = &inst.sandbox;
    let addr = sb.hosts[0].address.clone();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("single.yaml");
    write_single_profile(&profile, &bundle, &addr, PASSWORD_ENV, "");
    let (state, work) = (tmp.path().join("state"), tmp.path().join("work"));

    // A damaged bundle is refused before any host is touched.
    let damaged = tmp.path().join("damaged-bundle");
    std::fs::create_dir_all(damaged.join("images/amd64")).unwrap();
    let mut manifest = std::fs::read_to_string(bundle.join("manifest.yaml")).unwrap();
    manifest = manifest.replace("images/amd64/", "images/amd64/x-");
    std::fs::write(damaged.join("manifest.yaml"), manifest).unwrap();
    let archive = std::fs::read_dir(bundle.join("images/amd64"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    std::fs::write(
        damaged
            .join("images/amd64")
            .join(format!("x-{}", archive.file_name().to_string_lossy())),
        b"not the image",
    )
    .unwrap();
    let bad_profile = tmp.path().join("damaged.yaml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &bad_profile,
        text.replace(
            &bundle.display().to_string(),
            &damaged.display().to_string(),
        ),
    )
    .unwrap();
    let (code, _, err) = deploy(&bad_profile, &state, &work, &password);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sha256"), "{err}");
    assert_eq!(
        sh(sb, 0, "root", "test -e /data/cd || test -e /etc/cdwiz")
            .await
            .code,
        1,
        "a host was touched"
    );

    let (code, lines, err) = deploy(&profile, &state, &work, &password);
    assert_eq!(code, 0, "{err}");
    let steps: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "deploy-step")
        .collect();
    assert!(
        steps
            .iter()
            .filter(|s| s["step"] != "runtime" && s["step"] != "verify")
            .all(|s| s["status"] == "changed"),
        "a first deploy changes every step: {steps:?}"
    );
    assert_eq!(
        steps.len(),
        9,
        "prepare, runtime, images, configs, 4 components, verify: {steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s["host"] == "cluster" && s["step"] == "verify" && s["status"] == "unchanged"),
        "verified through the single host: {steps:?}"
    );
    let summary: &Value = lines
        .iter()
        .find(|l| l["event"] == "deploy-summary")
        .unwrap();
    assert_eq!(summary["url"], format!("http://{addr}/"));
    let report = std::fs::read_to_string(summary["summary"].as_str().unwrap()).unwrap();
    assert!(report.contains("# Installation complete"), "{report}");
    assert!(report.contains("cdwiz uninstall --profile"), "{report}");

    // The platform answers; the backend's health proves the generated
    // credentials reach the database and the cache.
    let health = sh_ok(sb, 0, "curl -s http://127.0.0.1:8080/health").await;
    assert_eq!(health, r#"{"database":"ok","cache":"ok"}"#);
    assert!(
        tcp_answers(&addr, 80).await,
        "web answers from this machine"
    );
    let secrets_files: Vec<_> = std::fs::read_dir(state.join("installs"))
        .unwrap()
        .flatten()
        .collect();
    let secrets = secrets_files[0].path().join("secrets.yaml");
    assert_eq!(
        std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        sh_ok(sb, 0, "stat -c %a /data/cd/secrets/db_password").await,
        "600"
    );

    // cdwiz's own key (installed with the password) is restricted and
    // recorded in the install record.
    let blob = own_key_blob(&state);
    let keys = sh_ok(sb, 0, "cat /root/.ssh/authorized_keys").await;
    let line = keys
        .lines()
        .find(|l| l.contains(&blob))
        .expect("cdwiz's key");
    let options = line.split_whitespace().next().unwrap();
    assert!(
        options.starts_with("restrict,port-forwarding,from=\"") && line.contains(" ssh-ed25519 "),
        "{line}"
    );
    // The record says the options the line has.
    let record = sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await;
    let recorded: Value = serde_json::from_str(&record).unwrap();
    let ours = recorded["ssh-keys"]
        .as_array()
        .and_then(|keys| {
            keys.iter()
                .find(|k| k["key"].as_str().unwrap_or_default().contains(&blob))
        })
        .unwrap_or_else(|| panic!("{record}"));
    assert_eq!(ours["options"], options, "{record}");
    assert_eq!(ours["removed-by-uninstall"], true, "{record}");

    let ids = "docker ps -q --no-trunc --filter label=io.cdwiz.component | sort";
    let before_ids = sh_ok(sb, 0, ids).await;
    let mtimes = "find /data/cd/config /data/cd/secrets /etc/cdwiz -type f -exec stat -c '%n %Y %s' {} + | sort";
    let before_files = sh_ok(sb, 0, mtimes).await;
    assert_eq!(before_ids.lines().count(), 4);

    // Again: every step unchanged, the same containers, the same files.
    let (code, lines, err) = deploy(&profile, &state, &work, &password);
    assert_eq!(code, 0, "{err}");
    let steps: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "deploy-step")
        .collect();
    assert_eq!(steps.len(), 9);
    assert!(
        steps.iter().all(|s| s["status"] == "unchanged"),
        "a second run changes nothing: {steps:?}"
    );
    assert_eq!(
        sh_ok(sb, 0, ids).await,
        before_ids,
        "containers were recreated"
    );
    assert_eq!(
        sh_ok(sb, 0, mtimes).await,
        before_files,
        "files were rewritten"
    );
    let checks: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "check" && l["status"] != "pass" && l["status"] != "skip")
        .collect();
    assert!(
        checks.is_empty(),
        "the re-run's checks see this install as its own: {checks:?}"
    );

    // The generated secrets are nowhere but in their 0600 files.
    let text = std::fs::read_to_string(&secrets).unwrap();
    let values: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(_, v)| v.trim())
        .collect();
    assert!(!values.is_empty());
    for v in values {
        let hits = sh(
            sb,
            0,
            "root",
            &format!(
                "grep -rl {} /data/cd/config /etc/cdwiz || true",
                cdwiz::ssh::quote(v)
            ),
        )
        .await;
        assert_eq!(hits.stdout.trim(), "", "secret in a config file");
        let local = Command::new("grep")
            .args(["-rl", v])
            .arg(&work)
            .output()
            .unwrap();
        assert!(
            local.stdout.is_empty(),
            "secret in the run dir: {}",
            String::from_utf8_lossy(&local.stdout)
        );
    }

    // Another engineer's laptop, with no record of this installation, runs
    // the same profile: the generated secrets are read back from the host
    // (not made anew under the running database) and kept there 0600; no
    // container is replaced and the backend still reaches the database.
    let (state_b, work_b) = (tmp.path().join("state-b"), tmp.path().join("work-b"));
    let secret_files = "stat -c '%n %Y %s' /data/cd/secrets/* | sort";
    let before_secrets = sh_ok(sb, 0, secret_files).await;
    let (code, lines, err) = deploy(&profile, &state_b, &work_b, &password);
    assert_eq!(code, 0, "{err}");
    let note = lines
        .iter()
        .find(|l| l["event"] == "note" && l["id"] == "secrets-adopted")
        .unwrap_or_else(|| panic!("no secrets-adopted note: {lines:#?}"));
    assert!(note["message"].as_str().unwrap().contains(&addr), "{note}");
    let adopted = std::fs::read_dir(state_b.join("installs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("secrets.yaml");
    assert_eq!(std::fs::read_to_string(&adopted).unwrap(), text);
    assert_eq!(
        std::fs::metadata(&adopted).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Its own key joins the first machine's in the install record
    // (prepare); nothing else moves.
    let blob_b = own_key_blob(&state_b);
    let record = sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await;
    assert!(
        record.contains(&blob) && record.contains(&blob_b),
        "{record}"
    );
    let moved: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "deploy-step" && l["step"] != "prepare")
        .filter(|l| l["status"] != "unchanged")
        .collect();
    assert!(moved.is_empty(), "{moved:?}");
    assert_eq!(
        sh_ok(sb, 0, ids).await,
        before_ids,
        "containers were recreated"
    );
    assert_eq!(
        sh_ok(sb, 0, secret_files).await,
        before_secrets,
        "the host's secrets were rewritten"
    );
    // The backend, started again, logs in with what the host holds.
    sh_ok(sb, 0, "docker restart -t 1 cd-backend >/dev/null").await;
    let healthy = eventually(std::time::Duration::from_secs(30), || async {
        let h = sh(sb, 0, "root", "curl -s http://127.0.0.1:8080/health").await;
        h.stdout.contains(r#"{"database":"ok","cache":"ok"}"#)
    })
    .await;
    assert!(
        healthy.is_some(),
        "the backend lost the database after a restart"
    );
    let before_files = sh_ok(sb, 0, mtimes).await;
    let before_ids = sh_ok(sb, 0, ids).await;

    // Status: all well (exit 0) and read-only (the same containers, the
    // same files afterwards).
    let status_run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let status = |profile: &Path| status_json(&status_run, profile);
    let (code, v) = status(&profile);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["well"], true, "{v:#}");
    let components = v["hosts"][0]["components"].as_array().unwrap();
    assert_eq!(components.len(), 4, "{v:#}");
    for c in components {
        assert_eq!(c["state"], "running", "{c:#}");
        assert!(c.get("drift").is_none(), "{c:#}");
        assert!(
            c["image"].as_str().unwrap().starts_with("cd-sandbox/"),
            "{c:#}"
        );
    }
    assert_eq!(v["entry"]["answers"], true, "{v:#}");
    assert_eq!(
        sh_ok(sb, 0, ids).await,
        before_ids,
        "status changed containers"
    );
    assert_eq!(
        sh_ok(sb, 0, mtimes).await,
        before_files,
        "status wrote files"
    );
    // The same hosts with another timezone: every container has drifted
    // (its env differs), and status says so with exit 5.
    let drifted = tmp.path().join("drifted.yaml");
    std::fs::write(
        &drifted,
        std::fs::read_to_string(&profile).unwrap() + "settings: { timezone: Europe/Berlin }\n",
    )
    .unwrap();
    let (code, v) = status(&drifted);
    assert_eq!(code, 5, "{v:#}");
    let drifts = v["hosts"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drift"]["key"] == "status.drift.spec")
        .count();
    assert_eq!(drifts, 4, "{v:#}");
    // A config file edited by hand on the host: named, exit 5.
    sh_ok(sb, 0, "echo '# edited by hand' >> /data/cd/config/cd.env").await;
    let (code, v) = status(&profile);
    assert_eq!(code, 5, "{v:#}");
    assert_eq!(
        v["hosts"][0]["drifted_files"],
        serde_json::json!(["/data/cd/config/cd.env"]),
        "{v:#}"
    );
    // The cluster's names in /etc/hosts edited by hand: named, exit 5.
    sh_ok(
        sb,
        0,
        "new=$(sed '/^# cdwiz end$/i 192.0.2.77 stale-host' /etc/hosts); printf '%s\\n' \"$new\" > /etc/hosts",
    )
    .await;
    let (code, v) = status(&profile);
    assert_eq!(code, 5, "{v:#}");
    let settings = &v["hosts"][0]["drifted_settings"];
    assert_eq!(settings[0]["key"], "status.drift.hosts-extra", "{v:#}");
    assert_eq!(
        settings[0]["args"]["lines"], "192.0.2.77 stale-host",
        "{v:#}"
    );
    // A stopped component: not well, named, and the entry may fail with it.
    sh_ok(sb, 0, "docker stop -t 1 cd-web >/dev/null").await;
    let (code, v) = status(&profile);
    assert_eq!(code, 5, "{v:#}");
    let web = v["hosts"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "web")
        .cloned()
        .unwrap();
    assert_eq!(web["state"], "exited", "{web:#}");
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["key"] == "status.problem.component" && p["args"]["name"] == "web"),
        "{v:#}"
    );

    // A single host is upgraded in place: the next release's images are
    // loaded first, then each container is replaced (web, stopped by hand,
    // too); the backend answers with the new release. The profile names the
    // new bundle from here on.
    let next = sandbox_bundle_of(cdwiz::sandbox::bundle::NEXT_VERSION).await;
    std::fs::write(
        &profile,
        std::fs::read_to_string(&profile)
            .unwrap()
            .replace(&bundle.display().to_string(), &next.display().to_string()),
    )
    .unwrap();
    let (code, lines, err) = deploy(&profile, &state, &work, &password);
    assert_eq!(code, 0, "{err}\n{lines:#?}");
    let loaded = lines
        .iter()
        .position(|v| is_step(v, &addr, "images", &["changed"]))
        .unwrap_or_else(|| panic!("the new images were not loaded: {lines:#?}"));
    let replaced: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            v["event"] == "deploy-step"
                && v["status"] == "changed"
                && v["step"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("component "))
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(replaced.len(), 4, "{lines:#?}");
    assert!(replaced.iter().all(|&i| i > loaded), "{lines:#?}");
    let version = http_get(&addr, 8080, "/version").await.map(|(_, b)| b);
    assert_eq!(
        version.as_deref(),
        Some(
            format!(
                "{{\"version\":\"{}\"}}",
                cdwiz::sandbox::bundle::NEXT_VERSION
            )
            .as_str()
        )
    );

    // Uninstall: containers and configs go, the data stays; again is a no-op;
    // --purge needs --yes and then deletes the data too.
    let uninstall = |extra: &[&str]| {
        let out = Command::new(cdwiz_bin())
            .args(["uninstall", "--profile"])
            .arg(&profile)
            .args(extra)
            .env(PASSWORD_ENV, &password)
            .env("CDWIZ_DATA_DIR", &state)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = uninstall(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 containers removed"), "{out}");
    assert!(out.contains("own SSH key removed"), "{out}");
    assert!(out.contains("1 key of other machines"), "{out}");
    let keys = sh_ok(sb, 0, "cat /root/.ssh/authorized_keys").await;
    assert!(!keys.contains(&blob), "cdwiz's key left behind: {keys}");
    assert!(
        !keys.contains(&blob_b),
        "the second laptop's key left behind: {keys}"
    );
    // Status changes nothing, not even to log in: without cdwiz's key on
    // the host it says so instead of installing the key again.
    let (code, v) = status(&profile);
    assert_eq!(code, 5, "{v:#}");
    assert!(
        v["hosts"][0]["unreachable"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("cdwiz's key is not there"),
        "{v:#}"
    );
    let keys = sh_ok(sb, 0, "cat /root/.ssh/authorized_keys").await;
    assert!(
        !keys.contains(&blob),
        "status installed cdwiz's key: {keys}"
    );
    assert_eq!(sh_ok(sb, 0, ids).await, "", "containers left");
    assert_eq!(
        sh_ok(sb, 0, "ls /data/cd")
            .await
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["cache", "database"]
    );
    assert_eq!(
        sh(sb, 0, "root", "test -e /etc/cdwiz/install.json")
            .await
            .code,
        1
    );
    // Again, with the options a deploy takes: a no-op, as JSON lines, its
    // record under --workdir.
    let records = work.join("uninstall-records");
    let (code, out) = uninstall(&[
        "--non-interactive",
        "--output",
        "json",
        "--lang",
        "zh-CN",
        "--workdir",
        records.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["event"], "host-uninstalled", "{out}");
    assert_eq!(
        lines[0]["containers_removed"], 0,
        "a second uninstall is a no-op: {out}"
    );
    assert_eq!(lines[1]["event"], "uninstall-done", "{out}");
    assert_eq!(lines[1]["unreachable"], 0, "{out}");
    let record = std::path::PathBuf::from(lines[1]["record"].as_str().unwrap());
    assert!(record.starts_with(&records), "{out}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(saved["from"], "hosts");
    assert_eq!(saved["hosts"][0]["host"], lines[0]["host"]);
    let (code, _) = uninstall(&["--purge"]);
    assert_eq!(code, 2, "--purge without --yes is refused");
    // At a terminal, --purge asks: anything but `yes` keeps the data.
    let env = [
        (PASSWORD_ENV, password.as_str()),
        ("CDWIZ_DATA_DIR", state.to_str().unwrap()),
    ];
    let args = format!("uninstall --purge --profile {}", profile.display());
    for (answer, kept) in [("no", true), ("yes", false)] {
        let tmux = common::tmux::Tmux::new(&format!("purge-{answer}"));
        tmux.start(tmp.path(), &env, &args);
        tmux.wait_for("Type yes to go on:", Duration::from_secs(20));
        tmux.text(answer);
        tmux.keys(&["Enter"]);
        let said = if kept {
            "add --yes to confirm"
        } else {
            "data deleted"
        };
        tmux.wait_for(said, Duration::from_secs(60));
        assert_eq!(
            sh(sb, 0, "root", "test -e /data/cd").await.code == 0,
            kept,
            "answered {answer}"
        );
    }
    let (code, out) = uninstall(&["--purge", "--yes"]);
    assert_eq!(code, 0, "a purge of a purged install: {out}");
}
