//! `ha-keepalived` on three sandbox masters, each with a blank data disk
//! that deploy formats and mounts: one host is lost in the middle of the
//! deploy (it fails with a clear message, the others finish and the
//! platform answers through the VIP), `--resume` completes it once the host
//! is back, and stopping the VIP's master moves the VIP with the platform
//! still answering through it.

mod common;

use std::time::{Duration, Instant};

use cdwiz::sandbox::fault::{self, Fault};
use common::*;
use serde_json::Value;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
const LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread")]
async fn ha_keepalived_survives_a_lost_host_and_a_lost_master() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-ha", 213, 3).await;
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let vip = sb.vip();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("ha.yaml");
    let hosts: String = addrs
        .iter()
        .map(|a| {
            format!(
                "  - {{ address: {a}, roles: [master], data-disk: /dev/vdb, format-data-disk: true }}\n"
            )
        })
        .collect();
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\n\
             topology: {{ kind: ha-keepalived, vip: {vip}, interface: eth0, virtual-router-id: 61 }}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
             hosts:\n{hosts}",
            bundle.display()
        ),
    )
    .unwrap();
    let state = tmp.path().join("state");
    let work = tmp.path().join("work");
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let start = |extra: &[&str]| run.start(extra);

    // node3 loses power right after its preparation.
    let lost = addrs[2].clone();
    let mut run = start(&[]);
    run.wait_for(LIMIT, |v| is_step(v, &lost, "prepare", &["changed"]))
        .unwrap_or_else(|| panic!("node3 was not prepared: {:?}", run.seen));
    fault::apply(&inst.docker, sb, "node3", &Fault::Kill)
        .await
        .unwrap();
    let (code, lines, err) = run.finish();
    assert_eq!(code, 4, "{err}");
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|v| v["event"] == "deploy-step" && v["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "only node3 fails: {failed:?}");
    assert_eq!(failed[0]["host"], lost.as_str());
    assert!(
        err.contains(&format!("{lost}: failed at")) && err.contains("last lines of"),
        "the failure names the host, its step and its last log lines: {err}"
    );
    for a in &addrs[..2] {
        for step in ["component backend", "component web", "component keepalived"] {
            assert!(
                lines.iter().any(|v| is_step(v, a, step, &["changed"])),
                "{a} did not finish {step}: {lines:?}"
            );
        }
    }
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, "cluster", "verify", &["unchanged"])),
        "the platform answers through the VIP with two hosts: {lines:?}"
    );
    let (status, body) = http_get(&vip, 80, "/api/health").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"database":"ok","cache":"ok"}"#)
    );

    // node3 is back: --resume completes it without touching the others.
    fault::apply(&inst.docker, sb, "node3", &Fault::Start)
        .await
        .unwrap();
    // Its /etc/hosts written anew at boot, as some clouds' init does.
    sh_ok(
        sb,
        2,
        "new=$(sed '/^# cdwiz begin$/,/^# cdwiz end$/d' /etc/hosts); printf '%s\\n' \"$new\" > /etc/hosts",
    )
    .await;
    let (code, lines, err) = start(&["--resume"]).finish();
    assert_eq!(code, 0, "{err}");
    for v in lines.iter().filter(|v| v["event"] == "deploy-step") {
        if v["host"] != lost.as_str() {
            assert_eq!(v["status"], "done", "finished work was repeated: {v}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, &lost, "component keepalived", &["changed"])),
        "{lines:?}"
    );
    // Every data dir is the formatted data disk (node3's remounted from
    // fstab after its restart), holding the platform's files.
    for i in 0..3 {
        let mounted = sh_ok(sb, i, "findmnt -n -o SOURCE,FSTYPE /data | tail -1").await;
        assert_eq!(
            mounted.split_whitespace().collect::<Vec<_>>(),
            ["/dev/vdb", "ext4"]
        );
        assert_eq!(sh_ok(sb, i, "grep -c ' /data ext4 ' /etc/fstab").await, "1");
        sh_ok(sb, i, "test -d /data/cd/config").await;
    }
    assert_eq!(
        sh_ok(sb, 0, "blkid -o value -s LABEL /dev/vdb").await,
        "cdwiz-data"
    );

    // Headless status of the whole installation. node3's restart lost the
    // cluster's names in its /etc/hosts (written anew at boot, above), and
    // --resume did not prepare it again: status names that (exit 5), and a plain run
    // puts the names back.
    let status_run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let (code, v) = status_json(&status_run, &profile);
    assert_eq!(code, 5, "{v:#}");
    let problems: Vec<String> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p["args"]["host"], p["args"]["what"]))
        .collect();
    assert_eq!(problems.len(), 1, "{v:#}");
    assert!(
        problems[0].contains(&lost) && problems[0].contains("/etc/hosts"),
        "{problems:?}"
    );
    let (code, lines, err) = start(&[]).finish();
    assert_eq!(code, 0, "{err}{:#?}", not_passed(&lines));
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, &lost, "prepare", &["changed"])),
        "{lines:?}"
    );
    // Now every master's components run as rendered, the VIP is held by
    // one master, the platform answers through it.
    let (code, v) = status_json(&status_run, &profile);
    assert_eq!(code, 0, "{v:#}");
    let hosts: Vec<&str> = addrs.iter().map(String::as_str).collect();
    // node1 carries the database and the cache besides backend, web and
    // keepalived.
    assert_all_well(&v, &hosts, &[5, 3, 3]);
    assert_eq!(v["vip"]["address"], vip.as_str(), "{v:#}");
    assert_eq!(v["vip"]["held_by"], serde_json::json!([addrs[0]]), "{v:#}");

    // Another engineer's laptop (no record of the generated secrets) meets
    // hosts that disagree on one: the run stops before anything is
    // written (exit 4), naming the secret and the hosts.
    let secret = "/data/cd/secrets/db_password";
    sh_ok(
        sb,
        1,
        &format!("cp -p {secret} /root/db_password.kept && printf other > {secret}"),
    )
    .await;
    let ids: Vec<_> = futures_util::future::join_all((0..3).map(|i| cdwiz_containers(sb, i))).await;
    let (state_b, work_b) = (tmp.path().join("state-b"), tmp.path().join("work-b"));
    let laptop_b = Run {
        profile: &profile,
        work: &work_b,
        state: &state_b,
        password: (PASSWORD_ENV, &password),
    };
    let (code, lines, err) = laptop_b.start(&[]).finish();
    assert_eq!(code, 4, "{err}\n{lines:?}");
    assert!(
        err.contains("disagree") && err.contains("db_password") && err.contains(&addrs[1]),
        "{err}"
    );
    assert_eq!(
        futures_util::future::join_all((0..3).map(|i| cdwiz_containers(sb, i))).await,
        ids,
        "a container was touched"
    );
    assert_eq!(sh_ok(sb, 1, &format!("cat {secret}")).await, "other");
    sh_ok(sb, 1, &format!("mv /root/db_password.kept {secret}")).await;

    // The VIP is on node1 (highest priority); stop node1: the VIP moves and
    // the platform keeps answering through it.
    let holder = |i: usize| {
        let vip = vip.clone();
        async move {
            sh(sb, i, "root", "ip -4 -o addr show dev eth0")
                .await
                .stdout
                .contains(&format!("{vip}/32"))
        }
    };
    assert!(holder(0).await, "node1 holds the VIP");
    let stopped = Instant::now();
    fault::apply(&inst.docker, sb, "node1", &Fault::Stop)
        .await
        .unwrap();
    let answered = eventually(Duration::from_secs(10), || async {
        matches!(http_get(&vip, 80, "/").await, Some((200, _)))
            && matches!(http_get(&vip, 80, "/api/").await, Some((200, _)))
    })
    .await;
    let took = stopped.elapsed();
    assert!(
        answered.is_some(),
        "the platform did not answer through the VIP within 10 s of stopping node1"
    );
    assert!(holder(1).await || holder(2).await, "the VIP moved");
    eprintln!("VIP failover: the platform answered again {took:.1?} after node1 was stopped");

    // Uninstall with node1 still down: node1 is reported, the others are
    // cleaned (keepalived first, so the VIP is given back), data kept.
    let uninstall = || {
        let out = std::process::Command::new(cdwiz_bin())
            .args(["uninstall", "--profile"])
            .arg(&profile)
            .env(PASSWORD_ENV, &password)
            .env("CDWIZ_DATA_DIR", &state)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = uninstall();
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains(&format!(
            "{}: not uninstalled, it could not be reached",
            addrs[0]
        )),
        "{out}"
    );
    for (i, a) in addrs.iter().enumerate().skip(1) {
        assert!(
            out.contains(&format!("{a}: uninstalled (3 containers removed)")),
            "{out}"
        );
        assert_eq!(sh_ok(sb, i, "docker ps -aq | wc -l").await, "0");
        assert!(!holder(i).await, "node{} kept the VIP", i + 1);
        assert_eq!(sh(sb, i, "root", "test -e /data/cd/config").await.code, 1);
        sh_ok(sb, i, "test -d /data/cd").await;
    }
    let (_, out) = uninstall();
    for a in &addrs[1..] {
        assert!(
            out.contains(&format!("{a}: uninstalled (0 containers removed)")),
            "{out}"
        );
    }
}
