//! A rolling upgrade of a 3-master `ha-keepalived` installation on real
//! sandbox hosts, from the sandbox product's first release to its next (its
//! own images; the backend answers `GET /version` with the release): one
//! host at a time, each healthy before the next, while a request loop asks
//! the VIP for the platform's page; the older bundle refused before anything
//! is touched, and taken back with `--allow-downgrade`; an upgrade that
//! fails on the second host stops there, and the old bundle takes it back.
//! The database's data is kept throughout.

mod common;

use std::path::Path;

use std::time::Duration;

use cdwiz::sandbox::bundle::{NEXT_VERSION, VERSION};
use cdwiz::sandbox::fault::Fault;
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

fn write_profile(path: &Path, bundle: &Path, vip: &str, hosts: &[&str]) {
    write_ha_profile(path, bundle, vip, hosts, 63, PASSWORD_ENV);
}

/// What each host's backend says it is.
async fn versions(hosts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts {
        let body = http_get(h, 8080, "/version").await.map(|(_, b)| b);
        out.push(body.unwrap_or_default());
    }
    out
}

fn release(v: &str) -> String {
    format!("{{\"version\":\"{v}\"}}")
}

/// A copy of the bundle `from` (archives hard-linked) whose database
/// upgrade hook is `hook`.
fn copy_bundle(from: &Path, to: &Path, hook: &[&str]) {
    for e in walk(from) {
        let rel = e.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        if std::fs::hard_link(&e, &dest).is_err() {
            std::fs::copy(&e, &dest).unwrap();
        }
    }
    let path = to.join("manifest.yaml");
    std::fs::remove_file(&path).unwrap();
    let mut m: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(from.join("manifest.yaml")).unwrap())
            .unwrap();
    for c in m["components"].as_sequence_mut().unwrap() {
        if c["name"] == "database" {
            c["upgrade"]["command"] = hook.iter().map(|s| serde_yaml::Value::from(*s)).collect();
        }
    }
    std::fs::write(&path, serde_yaml::to_string(&m).unwrap()).unwrap();
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_release_rolls_through_the_masters_and_the_old_one_comes_back() {
    let old = sandbox_bundle().await;
    let new = sandbox_bundle_of(NEXT_VERSION).await;
    let inst = instance("t-rollout", 233, 3).await;
    let sb = &inst.sandbox;
    let a: Vec<&str> = sb.hosts.iter().map(|h| h.address.as_str()).collect();
    let vip = sb.vip();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("ha.yaml");
    let (state, work) = (tmp.path().join("state"), tmp.path().join("work"));
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let records = || async {
        let mut out = Vec::new();
        for host in 0..3 {
            let record = sh_ok(sb, host, "cat /etc/cdwiz/install.json").await;
            let v: serde_json::Value = serde_json::from_str(&record).unwrap();
            out.push(v["version"].as_str().unwrap_or_default().to_string());
        }
        out
    };

    write_profile(&profile, &old, &vip, &a);
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(versions(&a).await, vec![release(VERSION); 3]);
    // Data the releases must keep.
    let sql = |q: &str| {
        format!("docker exec cd-database psql -h /run/postgresql -U cd -d cd -tAc \"{q}\"")
    };
    sh_ok(
        sb,
        0,
        &sql("create table kept (x int); insert into kept values (42)"),
    )
    .await;

    // The next release with an upgrade hook that fails: nothing is upgraded.
    let ids = || async {
        let mut out = Vec::new();
        for host in 0..3 {
            out.push(cdwiz_containers(sb, host).await);
        }
        out
    };
    let before = ids().await;
    let broken = tmp.path().join("broken-hook");
    copy_bundle(
        &new,
        &broken,
        &["sh", "-c", "echo this migration fails >&2; exit 3"],
    );
    write_profile(&profile, &broken, &vip, &a);
    let (code, lines, err) = run.start(&[]).finish();
    assert_ne!(code, 0, "{err}");
    let hook = lines
        .iter()
        .find(|v| v["event"] == "deploy-step" && v["step"] == "upgrade database")
        .unwrap_or_else(|| panic!("no upgrade hook step: {lines:?}"));
    assert_eq!(hook["status"], "failed", "{hook}");
    assert_eq!(hook["code"], 3, "{hook}");
    assert_eq!(
        ids().await,
        before,
        "a host was touched after the hook failed"
    );
    assert_eq!(records().await, vec![VERSION; 3]);
    assert_eq!(versions(&a).await, vec![release(VERSION); 3]);

    // The plan says what comes: the next release, host by host.
    write_profile(&profile, &new, &vip, &a);
    let (code, plan, err) = run_to_end(
        std::process::Command::new(cdwiz_bin())
            .args(["validate", "--plan"])
            .arg(&profile)
            .env("CDWIZ_DATA_DIR", &state)
            .env(PASSWORD_ENV, &password),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains(&format!(
            "release:\n  product: cd-sandbox\n  from: {VERSION}\n  to: {NEXT_VERSION}\n  \
             change: upgrade\n  host-by-host: true"
        )),
        "{plan}"
    );

    // The next release, host by host, while the VIP is asked five times a
    // second (the loop ends by itself after 10 minutes at most).
    let client = Client::start(&vip, Duration::from_millis(200), Duration::from_secs(600));
    let (code, lines, err) = run.start(&[]).finish();
    let asked = client.finish().await;
    eprintln!(
        "rolling upgrade of 3 masters: {} answers, {} failed requests, longest gap {} ms",
        asked.answered,
        asked.failed,
        asked.longest_gap.as_millis()
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(versions(&a).await, vec![release(NEXT_VERSION); 3]);
    assert_eq!(records().await, vec![NEXT_VERSION; 3]);
    assert!(
        asked.answered > 20,
        "the loop ran through the upgrade: {asked:?}"
    );
    assert_eq!(asked.failed, 0, "the VIP did not answer: {asked:?}");
    // The new images are on every host before the first container is
    // replaced (loaded by this run, or already by the refused one above).
    let first_replaced = lines
        .iter()
        .position(|v| {
            v["event"] == "deploy-step"
                && v["status"] == "changed"
                && v["step"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("component "))
        })
        .expect("a component was replaced");
    for a in &a {
        let loaded = lines
            .iter()
            .position(|v| is_step(v, a, "images", &["changed", "unchanged"]))
            .unwrap_or_else(|| panic!("{a}: the new images were not loaded: {lines:?}"));
        assert!(
            loaded < first_replaced,
            "{a}: images loaded after the first container was replaced"
        );
    }
    // One host at a time: each host's components all before the next's.
    let finished: Vec<&str> = lines
        .iter()
        .filter(|v| v["event"] == "deploy-step" && v["status"] == "changed")
        .filter(|v| {
            v["step"]
                .as_str()
                .is_some_and(|s| s.starts_with("component "))
        })
        .filter_map(|v| v["host"].as_str())
        .collect();
    let mut order = finished.clone();
    order.dedup();
    assert_eq!(order, a, "not host by host: {finished:?}");
    assert_eq!(sh_ok(sb, 0, &sql("select x from kept")).await.trim(), "42");
    // The release's upgrade hook ran once, before the first host.
    assert_eq!(
        sh_ok(
            sb,
            0,
            &sql("select string_agg(version, ',') from cd_migrations")
        )
        .await
        .trim(),
        NEXT_VERSION
    );

    // The older bundle: refused before anything is touched.
    let before = ids().await;
    write_profile(&profile, &old, &vip, &a);
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-downgrade"), "{err}");
    assert!(err.contains(NEXT_VERSION) && err.contains(VERSION), "{err}");
    assert_eq!(ids().await, before, "a refused run touched a container");

    // Asked for: every host back on the first release, the data kept.
    let (code, _, err) = run.start(&["--allow-downgrade"]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(versions(&a).await, vec![release(VERSION); 3]);
    assert_eq!(records().await, vec![VERSION; 3]);
    assert_eq!(sh_ok(sb, 0, &sql("select x from kept")).await.trim(), "42");

    // The second host's Docker engine stops (its failing checks accepted):
    // the upgrade stops there, the third host is not touched.
    cdwiz::sandbox::fault::apply(&inst.docker, sb, "node2", &Fault::DockerStopped)
        .await
        .unwrap();
    write_profile(&profile, &new, &vip, &a);
    let (_, lines, _) = run.start(&["--dry-run"]).finish();
    let waivers: Vec<String> = lines
        .iter()
        .filter(|v| v["event"] == "check" && v["status"] == "fail")
        .map(|v| {
            assert_eq!(v["host"], a[1], "only the second host fails: {v}");
            format!(
                "--accept-check={}@{}=injected",
                v["id"].as_str().unwrap(),
                a[1]
            )
        })
        .collect();
    assert!(
        !waivers.is_empty(),
        "the stopped engine shows in the checks"
    );
    let waivers: Vec<&str> = waivers.iter().map(String::as_str).collect();
    let (code, lines, err) = run.start(&waivers).finish();
    assert_ne!(code, 0, "{err}");
    assert_eq!(records().await, [NEXT_VERSION, VERSION, VERSION]);
    assert_eq!(
        versions(&[a[0], a[2]]).await,
        [release(NEXT_VERSION), release(VERSION)]
    );
    let untouched = lines.iter().any(|v| {
        v["event"] == "deploy-step"
            && v["host"] == a[2]
            && v["status"] == "skipped"
            && v["message"].as_str().is_some_and(|m| m.contains(a[1]))
    });
    assert!(
        untouched,
        "the third host is said to be left alone: {lines:?}"
    );

    // The engine back, the old bundle again (no flag: a rollback of the
    // stopped upgrade): every host on the first release.
    cdwiz::sandbox::fault::apply(&inst.docker, sb, "node2", &Fault::Clear)
        .await
        .unwrap();
    write_profile(&profile, &old, &vip, &a);
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(versions(&a).await, vec![release(VERSION); 3]);
    assert_eq!(records().await, vec![VERSION; 3]);
    assert_eq!(sh_ok(sb, 0, &sql("select x from kept")).await.trim(), "42");
}
