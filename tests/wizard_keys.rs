//! The checks and result screens' keys, end to end: the real binary in
//! tmux against two sandbox hosts with real faults. `r` checks one host
//! again after its fault is cleared, `R` checks all again after it is back,
//! `w` accepts the failing check with a typed reason (it reaches the saved
//! report), and after a deploy that fails on one host (its Docker engine
//! stopped) `r` on the result screen retries where it stopped once the
//! engine is back.

mod common;

use std::time::Duration;

use cdwiz::sandbox::fault::{self, Fault};
use common::tmux::Tmux;
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_SSH_PASSWORD";

/// The summary line of a finished checks screen, e.g. `Checks: 30 pass, 0
/// warn, 1 fail`, once it says `fail` is `fails`.
fn wait_checks(tmux: &Tmux, fails: usize) -> String {
    let limit = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let s = tmux.screen();
        if let Some(line) = s.lines().find(|l| l.contains("Checks: ")) {
            let want = format!(" {fails} fail");
            if line.contains(&want) && !s.contains("Checking the hosts") {
                return s;
            }
        }
        assert!(
            std::time::Instant::now() < limit,
            "no `{fails} fail` on the checks screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_and_result_keys_work_on_real_hosts() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-keys", 218, 2).await;
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let vip = sb.vip();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hosts: String = addrs
        .iter()
        .map(|a| format!("  - {{ address: {a}, roles: [master] }}\n"))
        .collect();
    std::fs::write(
        tmp.path().join("ha.yaml"),
        format!(
            "version: 1\nbundle: {}\n\
             topology: {{ kind: ha-keepalived, vip: {vip}, interface: eth0, virtual-router-id: 63 }}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
             hosts:\n{hosts}",
            bundle.display()
        ),
    )
    .unwrap();
    // node2 has something on the database's port: `net.ports` fails there.
    let taken = Fault::PortTaken(5432);
    fault::apply(&inst.docker, sb, "node2", &taken)
        .await
        .unwrap();

    let tmux = Tmux::new("keys");
    tmux.start(
        tmp.path(),
        &[
            ("CDWIZ_DATA_DIR", state.to_str().unwrap()),
            (PASSWORD_ENV, &password),
            ("LANG", "C.UTF-8"),
        ],
        "--profile ha.yaml",
    );
    tmux.wait_for("Press Enter to begin", Duration::from_secs(20));
    tmux.keys(&["Enter", "Enter", "Enter", "Enter"]); // welcome, topology, hosts, settings
    let s = wait_checks(&tmux, 1);
    let ports = |s: &str| {
        s.lines()
            .find(|l| l.contains("Ports free"))
            .unwrap_or_default()
            .to_string()
    };
    assert!(ports(&s).contains('✗'), "{s}");

    // Select node2's column and `net.ports`' row.
    let row = cdwiz::catalogue::CATALOGUE
        .iter()
        .position(|c| c.id == "net.ports")
        .unwrap();
    tmux.keys(&vec!["Down"; row]);
    tmux.keys(&["Right"]);
    let s = tmux.screen();
    assert!(s.contains("5432"), "the detail names the port:\n{s}");

    // r: node2 again, its fault cleared.
    fault::apply(&inst.docker, sb, "node2", &Fault::Clear)
        .await
        .unwrap();
    tmux.keys(&["r"]);
    let s = wait_checks(&tmux, 0);
    assert!(!ports(&s).contains('✗'), "{s}");
    // The report is still about both hosts (node1's results kept).
    let reports: Vec<String> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("checks.md")).ok())
        .collect();
    assert_eq!(reports.len(), 1);
    assert!(
        reports[0].contains(&addrs[0]) && reports[0].contains(&addrs[1]),
        "{}",
        reports[0]
    );

    // R: every host again, the fault back.
    fault::apply(&inst.docker, sb, "node2", &taken)
        .await
        .unwrap();
    tmux.keys(&["R"]);
    wait_checks(&tmux, 1);

    // w: accept it with a reason (R started the grid afresh: select again).
    tmux.keys(&vec!["Down"; row]);
    tmux.keys(&["Right", "w"]);
    tmux.wait_for("Why is this acceptable?", Duration::from_secs(10));
    tmux.text("a test listener, not the database");
    tmux.keys(&["Enter"]);
    tmux.wait_for("a test listener", Duration::from_secs(10));
    tmux.keys(&["a", "Enter"]);
    tmux.wait_for("Rendered files", Duration::from_secs(60));

    // The deploy fails on node2 (its engine stopped), then `r` retries.
    fault::apply(&inst.docker, sb, "node2", &Fault::DockerStopped)
        .await
        .unwrap();
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("Installation not complete", Duration::from_secs(300));
    assert!(s.contains(&addrs[1]), "{s}");
    fault::apply(&inst.docker, sb, "node2", &Fault::Clear)
        .await
        .unwrap();
    tmux.keys(&["r"]);
    let s = tmux.wait_for("Installation complete", Duration::from_secs(300));
    assert!(s.contains(&format!("http://{vip}/")), "{s}");
    let (status, _) = http_get(&vip, 80, "/api/health").await.unwrap();
    assert_eq!(status, 200);

    // The accepted check and its reason are in the run's report.
    let report = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("checks.md")).ok())
        .find(|r| r.contains("a test listener"));
    assert!(report.is_some(), "no report carries the reason");
}
