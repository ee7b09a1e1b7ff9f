//! The HA acceptance test a bank runs (高可用切换测试), on three sandbox
//! masters behind the keepalived VIP with the replicated data tier: while a
//! write loop goes through the VIP (four writes a second), each master's
//! host loses power in turn (the database's primary and the VIP's holder
//! among them), comes back and rejoins; after each loss the entry takes
//! writes again within 30 s, and at the end every acknowledged write is
//! read back. The gaps are measured and printed. Behind the customer's
//! load balancer, `cdwiz drill` does the same with each master's platform
//! containers, as an operator runs it.

mod common;

use std::time::{Duration, Instant};

use cdwiz::sandbox::fault::{self, Fault};
use common::ha::*;
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
const LIMIT: Duration = Duration::from_secs(600);
/// The longest the entry may refuse writes after a host is lost.
const MOST: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn losing_any_master_loses_no_acknowledged_write() {
    let bundle = sandbox_replicated_bundle(cdwiz::sandbox::bundle::VERSION).await;
    let inst = instance("t-failover", 240, 3).await;
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let vip = sb.vip();
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("ha.yaml");
    let hosts: Vec<&str> = addrs.iter().map(String::as_str).collect();
    write_ha_profile(&profile, &bundle, &vip, &hosts, 64, PASSWORD_ENV);
    deploy_then_drill(&inst, &profile, &vip).await;
}

/// Deploys `profile` (the replicated edition on the first three hosts),
/// waits until its clusters are whole, then runs the [`drill`] through
/// the VIP.
async fn deploy_then_drill(inst: &Instance, profile: &std::path::Path, vip: &str) {
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let dir = profile.parent().unwrap();
    let (state, work) = (dir.join("state"), dir.join("work"));
    let run = Run {
        profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let (code, lines, err) = run.start(&[]).finish_within(LIMIT);
    assert_eq!(code, 0, "{err}{:#?}", not_passed(&lines));
    wait_whole(sb, 0, Duration::from_secs(120)).await;
    drill(inst, &run, profile, vip).await;
}

/// Every cluster member shown with its role; then each of the first three
/// hosts (the masters) loses power in turn under a write loop through the
/// VIP: writes acknowledged again within [`MOST`], the clusters whole
/// again after the host is back, every acknowledged write read back.
async fn drill(inst: &Instance, run: &Run<'_>, profile: &std::path::Path, vip: &str) {
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    // `status` shows each cluster member by member with its role.
    let (code, v) = status_json(run, profile);
    assert_eq!(code, 0, "{v:#}");
    let roles = |v: &serde_json::Value, name: &str| -> Vec<String> {
        let c = v["clusters"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["component"] == name))
            .unwrap_or_else(|| panic!("no cluster {name}: {v:#}"));
        let mut r: Vec<String> = c["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap_or("-").to_string())
            .collect();
        r.sort();
        r
    };
    assert_eq!(
        roles(&v, "database"),
        ["primary", "replica", "replica"],
        "{v:#}"
    );
    assert_eq!(
        roles(&v, "etcd"),
        ["follower", "follower", "leader"],
        "{v:#}"
    );
    assert_eq!(
        roles(&v, "cache"),
        ["primary", "replica", "replica"],
        "{v:#}"
    );
    assert_eq!(
        roles(&v, "sentinel"),
        ["sentinel", "sentinel", "sentinel"],
        "{v:#}"
    );

    let (address, port) = (vip, 80);
    let writer = Writer::start(
        address,
        port,
        Duration::from_millis(250),
        Duration::from_secs(900),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut report = Vec::new();
    for (i, node) in ["node1", "node2", "node3"].into_iter().enumerate() {
        // Asked on a host that stays.
        let asked = (i + 1) % 3;
        let leader = primary(sb, asked).await;
        let held = format!("ip -o -4 addr show | grep -c ' {vip}/'");
        let vip_here = sh(sb, i, "root", &held).await.stdout.trim() == "1";
        let lost = Instant::now();
        fault::apply(&inst.docker, sb, node, &Fault::Kill)
            .await
            .unwrap();
        // Writes are acknowledged again (within the limit), then the host
        // comes back and every cluster is whole before the next one goes.
        let started = Instant::now();
        while started.elapsed() < MOST + Duration::from_secs(10) {
            let after = writer.writes();
            if after
                .iter()
                .any(|w| w.id.is_some() && w.asked > lost + Duration::from_secs(1))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        if i == 0 {
            // A member out: `status` names it (exit 5), the clusters keep
            // their majority.
            let (code, v) = status_json(run, profile);
            assert_eq!(code, 5, "{v:#}");
            for c in v["clusters"].as_array().unwrap() {
                assert_eq!(c["up"], 2, "{c:#}");
                assert_eq!(c["quorum_holds"], true, "{c:#}");
                let out: Vec<&serde_json::Value> = c["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["up"] == false)
                    .collect();
                assert_eq!(out.len(), 1, "{c:#}");
                assert_eq!(out[0]["address"], addrs[0].as_str(), "{c:#}");
            }
        }
        let window: Vec<Write> = writer
            .writes()
            .into_iter()
            .filter(|w| w.asked >= lost)
            .collect();
        let gap = write_gap(&window, lost);
        let failed = window.iter().filter(|w| w.id.is_none()).count();
        report.push(format!(
            "{node} ({}{}): writes stopped for {}, {failed} failed",
            if leader.as_deref() == Some(addrs[i].as_str()) {
                "database primary"
            } else {
                "standby"
            },
            if vip_here { ", VIP" } else { "" },
            gap.map_or("ever".into(), |g| format!("{:.1} s", g.as_secs_f64())),
        ));
        if gap.is_none_or(|g| g > MOST) {
            panic!(
                "after losing {node}: {}{}",
                report.join("; "),
                diagnose(sb, Some(i)).await
            );
        }
        fault::apply(&inst.docker, sb, node, &Fault::Start)
            .await
            .unwrap();
        wait_whole(sb, asked, Duration::from_secs(180)).await;
    }
    let writes = writer.stop().await;
    eprintln!("failover: {}", report.join("; "));

    read_back(&writes, (address, port), 100).await;
}

/// Behind the customer's load balancer (`ha-lb`: haproxy on a fourth host
/// in front of the three masters' web tier), the drill an operator runs:
/// `cdwiz drill`, each master's platform containers stopped at once in
/// turn, its report in Chinese and its events as JSON lines (the English
/// report's lines are the unit tests' in `src/drill/report.rs`). Without
/// `--yes` and with no terminal it touches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn cdwiz_drill_behind_the_load_balancer_loses_no_acknowledged_write() {
    const LB_PORT: u16 = 8088;
    let bundle = sandbox_replicated_bundle(cdwiz::sandbox::bundle::VERSION).await;
    let inst = instance("t-failover-lb", 241, 4).await;
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let lb = addrs[3].clone();
    let masters: Vec<&str> = addrs[..3].iter().map(String::as_str).collect();
    start_load_balancer(sb, 3, LB_PORT, &masters).await;
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("lb.yaml");
    write_lb_profile(&profile, &bundle, (&lb, LB_PORT), &masters, PASSWORD_ENV);
    let password = sb.password().unwrap();
    let (state, work) = (tmp.path().join("state"), tmp.path().join("work"));
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let (code, lines, err) = run.start(&[]).finish_within(LIMIT);
    assert_eq!(code, 0, "{err}{:#?}", not_passed(&lines));

    // Without --yes and with no terminal, the drill touches nothing.
    let (code, _, err) = run_within(
        std::process::Command::new(cdwiz_bin())
            .args(["drill", "--profile"])
            .arg(&profile)
            .env(PASSWORD_ENV, &password)
            .env("CDWIZ_DATA_DIR", &state)
            .stdin(std::process::Stdio::null()),
        Duration::from_secs(120),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("confirm with --yes"), "{err}");

    wait_well(&run, Duration::from_secs(180)).await;
    let (code, out, err, report) = cdwiz_drill(&run, &["--lang", "zh-CN", "--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report = report.unwrap_or_else(|| panic!("no drill.json: {out}{err}"));
    assert_drill_passed(&report, 3, MOST.as_secs_f64(), false);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "drill", "{out}");
    assert_eq!(last["passed"], true, "{out}");
    let text = std::fs::read_to_string(last["report"].as_str().unwrap()).unwrap();
    assert!(text.starts_with("高可用演练 drill-"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains("写入中断")).count(),
        3,
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("通过：每台主机都经历了丢失与恢复，没有丢失任何已确认的写入"),
        "{text}"
    );
    eprintln!("failover-lb: cdwiz drill:\n{text}");
}
