//! A rolling upgrade of an `ha-keepalived` installation on real sandbox
//! hosts, from the sandbox product's first release to its next (its own
//! images; the backend answers `GET /version` with the release): one host at
//! a time, each healthy before the next, while a client keeps asking the VIP
//! for the platform's page; then the older bundle is refused before anything
//! is touched, and taken back with `--allow-downgrade`, the data kept
//! throughout.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cdwiz::sandbox::bundle::{NEXT_VERSION, VERSION};
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

fn write_profile(path: &Path, bundle: &Path, vip: &str, hosts: &[&str]) {
    let hosts: String = hosts
        .iter()
        .map(|a| format!("  - {{ address: {a}, roles: [master] }}\n"))
        .collect();
    std::fs::write(
        path,
        format!(
            "version: 1\nbundle: {}\n\
             topology: {{ kind: ha-keepalived, vip: {vip}, interface: eth0, virtual-router-id: 63 }}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
             hosts:\n{hosts}",
            bundle.display()
        ),
    )
    .unwrap();
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

/// Asks the VIP for the platform's page every 100 ms until stopped: how
/// many answered, how many did not, and the longest stretch without an
/// answer.
struct Client {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u32, u32, Duration)>,
}

impl Client {
    fn start(vip: &str) -> Client {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, vip) = (stop.clone(), vip.to_string());
        let task = tokio::spawn(async move {
            let (mut ok, mut failed, mut longest) = (0, 0, Duration::ZERO);
            let mut since: Option<Instant> = None;
            while !flag.load(Ordering::Relaxed) {
                match http_get(&vip, 80, "/").await {
                    Some((200, _)) => {
                        ok += 1;
                        if let Some(t) = since.take() {
                            longest = longest.max(t.elapsed());
                        }
                    }
                    _ => {
                        failed += 1;
                        since.get_or_insert_with(Instant::now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if let Some(t) = since {
                longest = longest.max(t.elapsed());
            }
            (ok, failed, longest)
        });
        Client { stop, task }
    }

    async fn finish(self) -> (u32, u32, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// Each cdwiz container's name and id on a host.
async fn containers(sb: &cdwiz::sandbox::Sandbox, host: usize) -> String {
    sh_ok(
        sb,
        host,
        "docker ps --no-trunc --filter label=io.cdwiz.component --format '{{.Names}} {{.ID}}' | sort",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_release_rolls_through_the_masters_and_the_old_one_comes_back_on_request() {
    let old = sandbox_bundle().await;
    let new = sandbox_bundle_of(NEXT_VERSION).await;
    let inst = instance("t-upgrade", 232, 2).await;
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

    write_profile(&profile, &old, &vip, &a);
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(versions(&a).await, vec![release(VERSION); 2]);
    // Data the upgrade must keep.
    let sql = |q: &str| {
        format!("docker exec cd-database psql -h /run/postgresql -U cd -d cd -tAc \"{q}\"")
    };
    sh_ok(
        sb,
        0,
        &sql("create table kept (x int); insert into kept values (42)"),
    )
    .await;

    // The next release, host by host, while the VIP is asked all along.
    write_profile(&profile, &new, &vip, &a);
    let client = Client::start(&vip);
    let (code, lines, err) = run.start(&[]).finish();
    let (ok, failed, longest) = client.finish().await;
    eprintln!(
        "rolling upgrade: {ok} answers, {failed} unanswered, longest gap {} ms",
        longest.as_millis()
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(versions(&a).await, vec![release(NEXT_VERSION); 2]);
    assert!(ok > 20, "the client ran through the upgrade: {ok}");
    assert_eq!(failed, 0, "the VIP stopped answering for {longest:?}");
    // One host at a time: every component of the first before any of the
    // second.
    let finished: Vec<(&str, &str)> = lines
        .iter()
        .filter(|v| v["event"] == "deploy-step" && v["status"] == "changed")
        .filter_map(|v| Some((v["host"].as_str()?, v["step"].as_str()?)))
        .filter(|(_, s)| s.starts_with("component "))
        .collect();
    let last_first = finished.iter().rposition(|(h, _)| *h == a[0]).unwrap();
    let first_second = finished.iter().position(|(h, _)| *h == a[1]).unwrap();
    assert!(last_first < first_second, "not host by host: {finished:?}");
    for host in 0..2 {
        let record = sh_ok(sb, host, "cat /etc/cdwiz/install.json").await;
        assert!(
            record.contains(&format!("\"version\":\"{NEXT_VERSION}\"")),
            "{record}"
        );
    }
    assert_eq!(sh_ok(sb, 0, &sql("select x from kept")).await.trim(), "42");

    // The older bundle: refused before anything is touched.
    let before = [containers(sb, 0).await, containers(sb, 1).await];
    write_profile(&profile, &old, &vip, &a);
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-downgrade"), "{err}");
    assert!(err.contains(NEXT_VERSION) && err.contains(VERSION), "{err}");
    assert_eq!([containers(sb, 0).await, containers(sb, 1).await], before);

    // Asked for: every host back on the first release, the data kept.
    let (code, _, err) = run.start(&["--allow-downgrade"]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(versions(&a).await, vec![release(VERSION); 2]);
    assert_eq!(sh_ok(sb, 0, &sql("select x from kept")).await.trim(), "42");
}
