//! What the HA tests ask the replicated data tier (on the hosts
//! themselves): which member leads, whether every cluster is whole again,
//! why not; and whether every acknowledged write reads back.

use std::time::{Duration, Instant};

use super::{Write, http_get, sh};

/// Patroni's view of the database cluster (`GET /cluster`), asked on `host`.
async fn patroni_cluster(
    sb: &cdwiz::sandbox::Sandbox,
    host: usize,
) -> Result<serde_json::Value, String> {
    let out = sh(
        sb,
        host,
        "root",
        "curl -sf -m 3 http://127.0.0.1:8008/cluster",
    )
    .await;
    serde_json::from_str(&out.stdout).map_err(|e| format!("patroni: {e}: {}", out.stdout))
}

/// The database member Patroni says leads, asked on `host`.
pub async fn primary(sb: &cdwiz::sandbox::Sandbox, host: usize) -> Option<String> {
    let v = patroni_cluster(sb, host).await.ok()?;
    v["members"]
        .as_array()?
        .iter()
        .find(|m| m["role"] == "leader")
        .and_then(|m| m["host"].as_str().map(str::to_string))
}

/// Whether every cluster is whole again, asked on `host`: the database's
/// three members running with the standbys streaming and caught up, etcd's
/// three members healthy, Sentinel seeing two replicas of the cache.
pub async fn whole(sb: &cdwiz::sandbox::Sandbox, host: usize) -> Result<(), String> {
    let v = patroni_cluster(sb, host).await?;
    let members = v["members"].as_array().cloned().unwrap_or_default();
    let ready = members
        .iter()
        .filter(|m| {
            // Patroni 3.0 says `running` of a standby that streams.
            let standby = m["role"] == "replica" || m["role"] == "sync_standby";
            m["state"] == "running"
                && (m["role"] == "leader" || standby && m["lag"].as_u64() == Some(0))
        })
        .count();
    let leaders = members.iter().filter(|m| m["role"] == "leader").count();
    if ready != 3 || leaders != 1 {
        return Err(format!("database: {members:?}"));
    }
    let etcd = sh(
        sb,
        host,
        "root",
        "docker exec cd-etcd etcdctl endpoint health --cluster 2>&1",
    )
    .await;
    if etcd.stdout.matches("is healthy").count() != 3 {
        return Err(format!("etcd: {}{}", etcd.stdout, etcd.stderr));
    }
    let sentinel = sh(
        sb,
        host,
        "root",
        "docker exec cd-sentinel redis-cli -p 26379 sentinel replicas cd | grep -A1 '^flags$' | grep -c '^slave$'",
    )
    .await;
    if sentinel.stdout.trim() != "2" {
        return Err(format!("sentinel: {} replicas up", sentinel.stdout.trim()));
    }
    Ok(())
}

/// What each reachable host says of its database member, with its
/// database's and backend's last log lines: why a failover did not happen.
pub async fn diagnose(sb: &cdwiz::sandbox::Sandbox, down: Option<usize>) -> String {
    let mut out = String::new();
    for (i, h) in sb
        .hosts
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != down)
    {
        let said = sh(
            sb,
            i,
            "root",
            "curl -s -m 3 http://127.0.0.1:8008/patroni; echo; \
             docker logs cd-database 2>&1 | grep -v -e 'no action' -e 'Lock owner' \
               -e 'Still starting' -e 'new patroni connection' -e 'Retry got exception' \
               -e 'Failed to determine PostgreSQL state' -e ' - no response' \
               -e 'updated leader lock during' -e 'Local timeline=' | tail -40; \
             docker exec cd-etcd etcdctl endpoint status --cluster 2>&1; \
             docker logs --tail 10 cd-etcd 2>&1; \
             docker logs --tail 10 cd-backend 2>&1; docker logs --tail 10 cd-keepalived 2>&1",
        )
        .await;
        out.push_str(&format!(
            "\n--- {}:\n{}{}",
            h.address, said.stdout, said.stderr
        ));
    }
    out
}

pub async fn wait_whole(sb: &cdwiz::sandbox::Sandbox, host: usize, limit: Duration) {
    let started = Instant::now();
    loop {
        match whole(sb, host).await {
            Ok(()) => return,
            Err(why) if started.elapsed() > limit => {
                panic!(
                    "not whole after {} s: {why}{}",
                    limit.as_secs(),
                    diagnose(sb, None).await
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// Every acknowledged write of `writes` reads back through the entry with
/// its text, and more than `at_least` were acknowledged.
pub async fn read_back(writes: &[Write], entry: (&str, u16), at_least: usize) {
    let (address, port) = entry;
    let acked: Vec<&Write> = writes.iter().filter(|w| w.id.is_some()).collect();
    assert!(
        acked.len() > at_least,
        "only {} writes acknowledged",
        acked.len()
    );
    // 404 (or another text) is a loss; no answer, or 503 (the database not
    // reached), proves nothing and is asked again.
    let mut lost_writes = Vec::new();
    for w in &acked {
        let id = w.id.unwrap();
        let mut last = None;
        for _ in 0..6 {
            last = http_get(address, port, &format!("/api/notes/{id}")).await;
            if matches!(last, Some((200 | 404, _))) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        match last {
            Some((200, text)) if text == w.text => {}
            other => lost_writes.push(format!("{id}: {other:?}")),
        }
    }
    eprintln!(
        "read back: {} writes, {} acknowledged, {} read back",
        writes.len(),
        acked.len(),
        acked.len() - lost_writes.len()
    );
    assert!(
        lost_writes.is_empty(),
        "acknowledged writes lost: {lost_writes:?}"
    );
}

/// `cdwiz drill --profile P --yes --hold 5 --workdir W extra...` as `run`
/// logs in: its exit code, stdout, stderr, and its report (`drill.json`
/// of the one drill run under W).
pub fn cdwiz_drill(
    run: &super::Run,
    extra: &[&str],
) -> (i32, String, String, Option<serde_json::Value>) {
    let (code, out, err) = super::run_within(
        std::process::Command::new(super::cdwiz_bin())
            .args(["drill", "--yes", "--hold", "5", "--profile"])
            .arg(run.profile)
            .arg("--workdir")
            .arg(run.work)
            .args(extra)
            .env(run.password.0, run.password.1)
            .env("CDWIZ_DATA_DIR", run.state),
        super::CHILD_LIMIT,
    );
    let report = std::fs::read_dir(run.work.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("drill-"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("drill.json")).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .last();
    (code, out, err, report)
}

/// A drill's report: every host had its turn, writes resumed within
/// `most` seconds after each, the clusters whole again, nothing lost; a
/// host that went out led the database (and with `vip`, one held the VIP).
pub fn assert_drill_passed(report: &serde_json::Value, hosts: usize, most: f64, vip: bool) {
    let each = report["hosts"].as_array().expect("hosts");
    assert_eq!(each.len(), hosts, "{report:#}");
    for h in each {
        let gap = h["gap_secs"].as_f64().unwrap_or(f64::MAX);
        assert!(gap <= most, "{h:#}");
        assert!(h["whole_secs"].as_f64().is_some(), "{h:#}");
        assert!(h.get("error").is_none(), "{h:#}");
    }
    let held = |what: &str| {
        each.iter()
            .filter(|h| h["held"].as_array().unwrap().iter().any(|x| x == what))
            .count()
    };
    // The primary moves when its host goes: it may meet a later host too.
    assert!(held("database primary") >= 1, "{report:#}");
    assert_eq!(held("VIP") >= 1, vip, "{report:#}");
    assert!(report["acknowledged"].as_u64().unwrap() > 40, "{report:#}");
    assert_eq!(report["read_back"], report["acknowledged"], "{report:#}");
    assert_eq!(report["lost"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["interrupted"], false, "{report:#}");
}

/// Waits until `cdwiz status` says all is well (exit 0), at most `limit`.
pub async fn wait_well(run: &super::Run<'_>, limit: Duration) {
    let started = Instant::now();
    loop {
        let (code, v) = super::status_json(run, run.profile);
        if code == 0 {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "not well after {} s: {}",
            limit.as_secs(),
            v["problems"]
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
