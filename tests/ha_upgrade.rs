//! The replicated edition's day two on three `ha-keepalived` masters:
//! `cdwiz drill` (its report in English), then, with a write loop through
//! the VIP (four writes a second) throughout, a rolling upgrade 0.1.0 → 0.2.0 (each member that leads hands over first:
//! a Patroni switchover, a Sentinel failover), then the whole site losing
//! power at once and coming back. The failed writes and the longest gap of
//! each are measured and printed; every acknowledged write is read back at
//! the end.

mod common;

use std::time::{Duration, Instant};

use cdwiz::sandbox::bundle::{NEXT_VERSION, VERSION};
use cdwiz::sandbox::fault::{self, Fault};
use common::ha::*;
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
const LIMIT: Duration = Duration::from_secs(600);
/// The longest writes may stop during the rolling upgrade.
const MOST: Duration = Duration::from_secs(30);
/// The longest the site may take to take writes again after all of it
/// came back.
const RECOVERY: Duration = Duration::from_secs(240);

/// What each master's backend says it is.
async fn versions(hosts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts {
        let body = http_get(h, 8080, "/version").await.map(|(_, b)| b);
        out.push(body.unwrap_or_default());
    }
    out
}

/// The writes of `writer` asked since `since`: how many failed, and the
/// longest stretch without an acknowledgement (none: none after it).
fn window(writer: &Writer, since: Instant) -> (usize, usize, Option<Duration>) {
    let w: Vec<Write> = writer
        .writes()
        .into_iter()
        .filter(|w| w.asked >= since)
        .collect();
    let failed = w.iter().filter(|w| w.id.is_none()).count();
    (w.len(), failed, write_gap(&w, since))
}

fn shown(gap: Option<Duration>) -> String {
    gap.map_or("ever".into(), |g| format!("{:.1} s", g.as_secs_f64()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_upgrade_and_a_whole_site_outage_lose_no_acknowledged_write() {
    let old = sandbox_replicated_bundle(VERSION).await;
    let new = sandbox_replicated_bundle(NEXT_VERSION).await;
    let inst = instance("t-ha-upgrade", 242, 3).await;
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let hosts: Vec<&str> = addrs.iter().map(String::as_str).collect();
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
    write_ha_profile(&profile, &old, &vip, &hosts, 65, PASSWORD_ENV);
    let (code, lines, err) = run.start(&[]).finish_within(LIMIT);
    assert_eq!(code, 0, "{err}{:#?}", not_passed(&lines));
    wait_whole(sb, 0, Duration::from_secs(120)).await;
    let release = |v: &str| format!("{{\"version\":\"{v}\"}}");
    assert_eq!(versions(&addrs).await, vec![release(VERSION); 3]);

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
    // `cdwiz drill`: each master out in turn under its own write loop; the
    // report in English.
    wait_well(&run, Duration::from_secs(120)).await;
    let (code, out, err, report) = cdwiz_drill(&run, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let report = report.unwrap_or_else(|| panic!("no drill.json: {out}{err}"));
    assert_drill_passed(&report, 3, 30.0, true);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("HA drill drill-"), "{out}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("): writes stopped for "))
            .count(),
        3,
        "{out}"
    );
    assert!(
        out.contains("PASSED: every host was lost and came back, no acknowledged write was lost"),
        "{out}"
    );
    eprintln!("ha-upgrade: cdwiz drill:\n{out}");
    wait_whole(sb, 0, Duration::from_secs(120)).await;

    let writer = Writer::start(
        &vip,
        80,
        Duration::from_millis(250),
        Duration::from_secs(1200),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The rolling upgrade: the primaries hand over before their host's
    // members are replaced.
    let leader_before = primary(sb, 0).await;
    let upgrade = Instant::now();
    write_ha_profile(&profile, &new, &vip, &hosts, 65, PASSWORD_ENV);
    let (code, lines, err) = run.start(&[]).finish_within(LIMIT);
    assert_eq!(
        code,
        0,
        "{err}{:#?}{}",
        not_passed(&lines),
        diagnose(sb, None).await
    );
    let took = upgrade.elapsed();
    assert_eq!(versions(&addrs).await, vec![release(NEXT_VERSION); 3]);
    let handed: Vec<String> = std::fs::read_dir(work.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|run| {
            std::fs::read_dir(run.path().join("logs"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .filter_map(|log| std::fs::read_to_string(log.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter(|l| l.contains("handover of "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let (asked, failed, gap) = window(&writer, upgrade);
    let upgrade_report = format!(
        "rolling upgrade in {:.0} s: {asked} writes, {failed} failed, writes stopped for at most {} \
         (database primary before: {leader_before:?}, handovers: {})",
        took.as_secs_f64(),
        shown(gap),
        handed.len()
    );
    eprintln!("ha-upgrade: {upgrade_report}");
    assert!(gap.is_some_and(|g| g <= MOST), "{upgrade_report}");
    // Each replaced database and cache member was asked to hand over.
    assert!(handed.len() >= 6, "{upgrade_report}: {handed:#?}");
    wait_whole(sb, 0, Duration::from_secs(120)).await;

    // The whole site loses power at once, then comes back.
    let lost = Instant::now();
    let kills =
        ["node1", "node2", "node3"].map(|n| fault::apply(&inst.docker, sb, n, &Fault::Kill));
    for killed in futures_util::future::join_all(kills).await {
        killed.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let back = Instant::now();
    let starts =
        ["node1", "node2", "node3"].map(|n| fault::apply(&inst.docker, sb, n, &Fault::Start));
    for started in futures_util::future::join_all(starts).await {
        started.unwrap();
    }
    let answered = eventually(RECOVERY, || async {
        writer
            .writes()
            .iter()
            .any(|w| w.id.is_some() && w.asked > back)
    })
    .await;
    let Some(answered) = answered else {
        panic!(
            "no write acknowledged {} s after the site came back{}",
            RECOVERY.as_secs(),
            diagnose(sb, None).await
        );
    };
    let (asked, failed, _) = window(&writer, lost);
    let outage_report = format!(
        "whole site: writes acknowledged again {:.1} s after the hosts started \
         ({asked} writes since the loss, {failed} failed)",
        answered.as_secs_f64()
    );
    eprintln!("ha-upgrade: {outage_report}");
    wait_whole(sb, 0, Duration::from_secs(180)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = writer.stop().await;

    // `status`: all well again, the new release everywhere.
    let (code, v) = status_json(&run, &profile);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(versions(&addrs).await, vec![release(NEXT_VERSION); 3]);
    read_back(&writes, (&vip, 80), 100).await;
    eprintln!("ha-upgrade: {upgrade_report}; {outage_report}");
}
