//! The replicated edition's day two on three `ha-keepalived` masters:
//! with a write loop through the VIP (four writes a second) throughout, a
//! rolling upgrade 0.1.0 → 0.2.0 (each member that leads hands over first:
//! a Patroni switchover, a Sentinel failover), then the whole site losing
//! power at once and coming back. The failed writes and the longest gap of
//! each are measured and printed; every acknowledged write is read back at
//! the end. Before the upgrade, `cdwiz backup` of the notes written so far,
//! proven to restore by `cdwiz backup --verify`, and refused when damaged.

mod common;

use std::path::Path;
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

    // Notes written, then a backup of them, proven to restore.
    let before = Writer::start(
        &vip,
        80,
        Duration::from_millis(100),
        Duration::from_secs(60),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let noted = before.stop().await;
    let noted: Vec<Write> = noted.into_iter().filter(|w| w.id.is_some()).collect();
    assert!(
        noted.len() >= 10,
        "{} notes acknowledged before the backup",
        noted.len()
    );
    backup_then_verify(&run, &state, noted.len(), primary(sb, 0).await).await;

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
    // It backed the data up first, and says where.
    let said: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "note" && l["id"] == "backup")
        .filter_map(|l| l["message"].as_str())
        .collect();
    let taken = said
        .iter()
        .find_map(|m| m.strip_prefix("backup before the upgrade: "))
        .unwrap_or_else(|| panic!("no backup named: {said:#?}"));
    let taken: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(taken).join("backup.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(taken["version"], VERSION, "{taken:#}");
    assert!(
        taken["parts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "database"),
        "{taken:#}"
    );
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

    // The backup from before the upgrade put back: 0.1.0 again, its notes
    // and nothing written since, 0.1.0's schema (no migration table).
    write_ha_profile(&profile, &old, &vip, &hosts, 65, PASSWORD_ENV);
    let restore = |from: &str, extra: &[&str]| {
        run_within(
            std::process::Command::new(cdwiz_bin())
                .args(["restore", "--profile"])
                .arg(&profile)
                .arg("--from")
                .arg(work.join(from))
                .args(["--non-interactive", "--output", "json", "--workdir"])
                .arg(&work)
                .args(extra)
                .env(PASSWORD_ENV, &password)
                .env("CDWIZ_DATA_DIR", &state)
                .stdin(std::process::Stdio::null()),
            LIMIT,
        )
    };
    let (code, _, err) = restore("backup-1", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("confirm with --yes"), "{err}");
    // A damaged backup is refused before any host is touched.
    let (code, out, err) = restore("backup-flipped", &["--yes"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("data/database.dump: not what the backup recorded"),
        "{err}"
    );
    let restoring = Instant::now();
    let (code, out, err) = restore("backup-1", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}{}", diagnose(sb, None).await);
    let said: Vec<String> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["id"] == "backup")
        .filter_map(|l| l["message"].as_str().map(str::to_string))
        .collect();
    eprintln!(
        "ha-upgrade: restore in {:.0} s:\n{}",
        restoring.elapsed().as_secs_f64(),
        said.join("\n")
    );
    assert!(
        said.iter()
            .any(|m| m.starts_with("backup of the data as it was before the restore: ")),
        "{said:#?}"
    );
    assert!(
        said.iter().any(|m| m.starts_with("database: the data of ")),
        "{said:#?}"
    );
    wait_whole(sb, 0, Duration::from_secs(180)).await;
    assert_eq!(versions(&addrs).await, vec![release(VERSION); 3]);
    read_back(&noted, (&vip, 80), noted.len() - 1).await;
    let later: Vec<u64> = writes.iter().filter_map(|w| w.id).collect();
    for id in later.iter().rev().take(5) {
        let got = http_get(&vip, 80, &format!("/api/notes/{id}")).await;
        assert_eq!(
            got.map(|(c, _)| c),
            Some(404),
            "note {id}, written after the backup"
        );
    }
    let leader = primary(sb, 0).await.unwrap();
    let on = addrs.iter().position(|a| *a == leader).unwrap();
    let tables = sh(
        sb,
        on,
        "root",
        "docker exec cd-database psql -X -qtA -h /var/run/postgresql -U cd -d cd \
         -c \"select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = 'public'\"",
    )
    .await;
    assert_eq!(tables.stdout.trim(), "notes", "{tables:?}");
    let (code, v) = status_json(&run, &profile);
    assert_eq!(code, 0, "{v:#}");
}

/// `cdwiz backup`: a folder only the operator reads, with the hosts and the
/// database (taken from a replica, not from `primary`), no secret in
/// clear; `--verify` restores it in a throwaway container and counts the
/// `noted` notes; a flipped byte, a dump cut off when it was taken and
/// another installation's backup are each refused, naming what is wrong.
async fn backup_then_verify(run: &Run<'_>, state: &Path, noted: usize, primary: Option<String>) {
    use std::os::unix::fs::PermissionsExt;
    let dir = run.work.join("backup-1");
    let cdwiz = |args: &[&str]| {
        run_within(
            std::process::Command::new(cdwiz_bin())
                .arg("backup")
                .args(args)
                .arg("--profile")
                .arg(run.profile)
                .env(run.password.0, run.password.1)
                .env("CDWIZ_DATA_DIR", state),
            CHILD_LIMIT,
        )
    };
    let (code, out, err) = cdwiz(&["-o", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("backup written: "), "{out}");
    assert!(out.contains("left out: secrets"), "{out}");
    eprintln!("ha-upgrade: backup: {err}{out}");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("backup.json")).unwrap()).unwrap();
    assert_eq!(index["version"], VERSION, "{index:#}");
    let parts = index["parts"].as_array().unwrap();
    let data: Vec<&serde_json::Value> = parts.iter().filter(|p| p["kind"] == "data").collect();
    assert_eq!(data.len(), 1, "{index:#}");
    assert_eq!(data[0]["name"], "database", "{index:#}");
    assert_ne!(
        data[0]["host"].as_str(),
        primary.as_deref(),
        "taken from a replica: {index:#}"
    );
    assert_eq!(
        parts.iter().filter(|p| p["kind"] == "host").count(),
        3,
        "{index:#}"
    );
    // Only the operator reads it, and it holds no secret in clear.
    let secrets: Vec<String> = std::fs::read_dir(state.join("installs"))
        .unwrap()
        .flatten()
        .filter_map(|d| std::fs::read_to_string(d.path().join("secrets.yaml")).ok())
        .flat_map(|t| {
            serde_yaml::from_str::<std::collections::BTreeMap<String, String>>(&t)
                .unwrap()
                .into_values()
        })
        .collect();
    assert!(!secrets.is_empty());
    let mut files = vec![dir.clone()];
    let mut seen = 0;
    while let Some(f) = files.pop() {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        if f.is_dir() {
            assert_eq!(mode, 0o700, "{}", f.display());
            files.extend(std::fs::read_dir(&f).unwrap().flatten().map(|e| e.path()));
            continue;
        }
        assert_eq!(mode, 0o600, "{}", f.display());
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "a secret in clear in {}",
                f.display()
            );
        }
        seen += 1;
    }
    assert_eq!(seen, parts.len() + 1, "the parts and the index");

    // It restores: the notes are all there.
    let (code, out, err) = cdwiz(&["--verify", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines().any(|l| l.trim() == format!("notes {noted}")),
        "{out}"
    );
    assert!(out.contains("PASSED: the backup restores"), "{out}");
    eprintln!("ha-upgrade: backup --verify:\n{out}");

    let copy = |name: &str| {
        let to = run.work.join(name);
        let ok = std::process::Command::new("cp")
            .arg("-a")
            .arg(&dir)
            .arg(&to)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        to
    };
    // One flipped byte: refused, naming the part.
    let flipped = copy("backup-flipped");
    let dump = flipped.join("data/database.dump");
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&dump, &bytes).unwrap();
    let (code, out, err) = cdwiz(&["--verify", flipped.to_str().unwrap()]);
    assert_eq!(code, 6, "{out}{err}");
    assert!(
        err.contains("data/database.dump: not what the backup recorded"),
        "{err}"
    );
    // A dump cut off when it was taken (its sums recorded as they were):
    // it does not restore.
    let cut = copy("backup-cut");
    let dump = cut.join("data/database.dump");
    let bytes = std::fs::read(&dump).unwrap();
    let kept = &bytes[..bytes.len() * 2 / 3];
    std::fs::write(&dump, kept).unwrap();
    let mut index_cut = index.clone();
    for p in index_cut["parts"].as_array_mut().unwrap() {
        if p["kind"] == "data" {
            p["size"] = kept.len().into();
            p["sha256"] = sha256_hex(kept).into();
        }
    }
    std::fs::write(cut.join("backup.json"), index_cut.to_string()).unwrap();
    let (code, out, err) = cdwiz(&["--verify", cut.to_str().unwrap()]);
    assert_eq!(code, 6, "{out}{err}");
    assert!(
        out.contains("database (") && out.contains("did NOT restore"),
        "{out}"
    );
    assert!(out.contains("FAILED: the backup does not restore"), "{out}");
    // Another installation's backup is refused before anything is asked.
    let other = copy("backup-other");
    let mut index_other = index.clone();
    index_other["install"] = "i-0123456789abcdef".into();
    std::fs::write(other.join("backup.json"), index_other.to_string()).unwrap();
    let (code, out, err) = cdwiz(&["--verify", other.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("is a backup of installation i-0123456789abcdef"),
        "{err}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}
