//! Each sandbox fault takes effect, seen from the host over SSH, and `clear`
//! undoes it. Faults are applied through the `cdwiz sandbox fault` command.

mod common;

use common::*;

fn cdwiz_fault(instance: &str, host: &str, args: &[&str]) {
    let (code, _, err) = run_to_end(
        std::process::Command::new(cdwiz_bin())
            .args(["sandbox", "fault", "--name", instance, host])
            .args(args),
    );
    assert_eq!(code, 0, "cdwiz sandbox fault {args:?}: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_takes_effect_and_clear_undoes_it() {
    let name = "t-faults";
    let inst = instance("t-faults", 204, 2).await;
    let sb = &inst.sandbox;
    let clear = || cdwiz_fault(name, "node1", &["clear"]);

    // A port taken by another program.
    let listening = "ss -Hltn 'sport = :18080' | wc -l";
    assert_eq!(sh_ok(sb, 0, listening).await, "0");
    cdwiz_fault(name, "node1", &["port-taken", "18080"]);
    assert_eq!(sh_ok(sb, 0, listening).await, "1");
    clear();
    assert_eq!(sh_ok(sb, 0, listening).await, "0");

    // A tiny, full data dir.
    cdwiz_fault(name, "node1", &["fill-data"]);
    let df = sh_ok(sb, 0, "df -Pk /data | tail -1 | awk '{print $2, $4}'").await;
    let (size, avail) = df.split_once(' ').unwrap();
    assert!(size.parse::<u64>().unwrap() <= 16 * 1024, "size {size} KiB");
    assert_eq!(avail, "0", "the data dir is full");
    clear();
    assert_eq!(
        sh_ok(sb, 0, "grep -c cdwiz-fault-data /proc/mounts || true").await,
        "0"
    );
    let free = sh_ok(sb, 0, "df -Pk /data | tail -1 | awk '{print $4}'").await;
    assert!(
        free.parse::<u64>().unwrap() > 16 * 1024,
        "the data dir is back: {free} KiB free"
    );

    // Docker stopped, then Docker absent altogether.
    let docker_ok =
        "docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && echo up || echo down";
    assert_eq!(sh_ok(sb, 0, docker_ok).await, "up");
    cdwiz_fault(name, "node1", &["docker-stopped"]);
    assert_eq!(sh_ok(sb, 0, docker_ok).await, "down");
    assert_eq!(sh(sb, 0, "root", "command -v dockerd").await.code, 0);
    clear();
    assert_eq!(sh_ok(sb, 0, docker_ok).await, "up");
    cdwiz_fault(name, "node1", &["no-docker"]);
    assert_ne!(
        sh(sb, 0, "root", "command -v docker || command -v dockerd")
            .await
            .code,
        0
    );
    clear();
    assert_eq!(sh_ok(sb, 0, docker_ok).await, "up");

    // A duplicate hostname.
    cdwiz_fault(name, "node1", &["hostname", "node2"]);
    assert_eq!(sh_ok(sb, 0, "hostname").await, "node2");
    clear();
    assert_eq!(sh_ok(sb, 0, "hostname").await, "node1");

    // The host stopped, then killed: SSH stops answering; clear brings it back.
    let addr = sb.hosts[0].address.clone();
    for kind in ["stop", "kill"] {
        cdwiz_fault(name, "node1", &[kind]);
        assert!(!tcp_answers(&addr, 22).await, "{kind}: sshd still answers");
        clear();
        assert_eq!(
            sh_ok(sb, 0, "hostname").await,
            "node1",
            "after {kind} + clear"
        );
        assert_eq!(sh_ok(sb, 0, docker_ok).await, "up", "after {kind} + clear");
    }
    // Faults stay on their host: node2 was never touched.
    assert_eq!(sh_ok(sb, 1, "hostname").await, "node2");
}
