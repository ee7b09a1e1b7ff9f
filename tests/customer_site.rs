//! A customer's site on the sandbox, hardened with `cdwiz sandbox fault`:
//! a bastion that takes keys only (and logs in as a user of its own); a host
//! with a second sshd on 2222 where root logs in by password only; a host
//! where root may not log in and `ops` (sudo asks for the password, not in
//! the `docker` group) does; SSH to both only from the bastion (not from
//! this machine, not from each other), the platform's ports open. One
//! `ha-keepalived` profile with per-host logins checks and deploys it, and
//! the platform answers through the VIP.

mod common;

use std::time::Duration;

use cdwiz::sandbox::{Fault, fault};
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

/// The platform's health, proving database and cache, answers on `vip`
/// within 30 s.
async fn healthy_through(vip: &str) -> bool {
    eventually(Duration::from_secs(30), || async {
        http_get(vip, 80, "/api/health").await
            == Some((200, r#"{"database":"ok","cache":"ok"}"#.to_string()))
    })
    .await
    .is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hardened_site_with_mixed_logins_deploys_through_the_bastion() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-site-deploy", 224, 3).await;
    let sb = &inst.sandbox;
    let names: Vec<String> = sb.hosts.iter().map(|h| h.name.clone()).collect();
    let addr: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let (bastion, h2, h3) = (&addr[0], &addr[1], &addr[2]);
    let harden = |host: usize, f: Fault| {
        let (docker, name) = (&inst.docker, names[host].clone());
        async move {
            fault::apply(docker, sb, &name, &f)
                .await
                .unwrap_or_else(|e| panic!("{f} on {name}: {e}"))
        }
    };
    let from_bastion = Fault::SshOnlyFrom(bastion.parse().unwrap());
    harden(0, Fault::KeysOnly).await;
    harden(1, Fault::SshPort(2222)).await;
    harden(1, Fault::PasswordOnlyRoot).await;
    harden(1, from_bastion.clone()).await;
    harden(2, Fault::NoRootLogin).await;
    harden(2, from_bastion).await;
    // What the site looks like from here and between the hosts.
    for (a, p) in [(h2, 22), (h2, 2222), (h3, 22)] {
        assert!(
            !tcp_answers(a, p).await,
            "{a}:{p} must not answer this machine"
        );
    }
    let via_bastion = |script: String| async move { sh(sb, 0, "root", &script).await };
    assert_eq!(
        via_bastion(format!(
            "timeout 3 bash -c 'exec 3<>/dev/tcp/{h2}/2222' && echo open"
        ))
        .await
        .stdout
        .trim(),
        "open",
        "the bastion reaches node2's sshd"
    );

    let tmp = tempfile::tempdir().unwrap();
    let password = sb.password().unwrap();
    let profile = tmp.path().join("site.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\n\
             topology: {{ kind: ha-keepalived, vip: {}, interface: eth0, virtual-router-id: 79 }}\n\
             ssh:\n  user: root\n  auth: password\n  password-env: {PASSWORD_ENV}\n\
             \x20 jump: {{ host: {bastion}, user: auto, auth: key, key-file: {} }}\n\
             hosts:\n\
             \x20 - {{ address: {h2}, roles: [master], ssh: {{ port: 2222 }} }}\n\
             \x20 - {{ address: {h3}, roles: [master], ssh: {{ user: ops, sudo-password-env: {PASSWORD_ENV} }} }}\n",
            bundle.display(),
            sb.vip(),
            sb.key().display()
        ),
    )
    .unwrap();
    let (work, state) = (tmp.path().join("work"), tmp.path().join("state"));
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let (code, lines, err) = run.start(&["--dry-run"]).finish();
    let failed: Vec<String> = lines
        .iter()
        .filter(|l| l["event"] == "check" && l["status"] == "fail")
        .map(|l| format!("{} {} {}", l["id"], l["host"], l["message"]))
        .collect();
    assert_eq!(code, 0, "{err}{failed:#?}");
    let api = lines
        .iter()
        .find(|l| l["event"] == "check" && l["id"] == "runtime.docker-api" && l["host"] == *h3)
        .unwrap();
    assert!(api["message"].as_str().unwrap().contains("sudo"), "{api}");

    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    let vip = sb.vip();
    assert!(
        healthy_through(&vip).await,
        "the platform does not answer through the VIP"
    );

    // Removed again, then the same profile replayed in the wizard: the
    // operator only confirms each screen.
    let out = std::process::Command::new(cdwiz_bin())
        .args(["uninstall", "--purge", "--yes", "--profile"])
        .arg(&profile)
        .env(PASSWORD_ENV, &password)
        .env("CDWIZ_DATA_DIR", &state)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("containers removed") || said.contains("container removed"),
        "{said}"
    );
    assert_eq!(http_get(&vip, 80, "/").await, None, "still answering");
    // node2's password is its own here, in a variable the wizard does not
    // have: the operator types it in node2's dialog (Ctrl-E on its line).
    let text = std::fs::read_to_string(&profile).unwrap().replace(
        "ssh: { port: 2222 }",
        "ssh: { port: 2222, password-env: CDWIZ_TEST_NODE2_PASSWORD }",
    );
    std::fs::write(tmp.path().join("site-typed.yaml"), text).unwrap();
    let tmux = common::tmux::Tmux::new("site");
    tmux.start(
        tmp.path(),
        &[
            ("CDWIZ_DATA_DIR", state.to_str().unwrap()),
            (PASSWORD_ENV, &password),
            ("LANG", "C.UTF-8"),
        ],
        "--profile site-typed.yaml",
    );
    tmux.wait_for("Press Enter to begin", Duration::from_secs(20));
    tmux.keys(&["Enter", "Enter"]); // welcome, topology
    tmux.wait_for(
        &format!("no password yet for {h2}"),
        Duration::from_secs(10),
    );
    // The address field, its first line (node2), node2's dialog, its
    // password field.
    tmux.keys(&["Tab", "Up", "C-e"]);
    tmux.wait_for(&format!("Host {h2}"), Duration::from_secs(10));
    tmux.focus("Its own password");
    tmux.text(&password);
    tmux.focus("[ Next ]");
    tmux.keys(&["Enter"]);
    let closed = eventually(Duration::from_secs(10), || async {
        !tmux.screen().contains("Its own password")
    })
    .await;
    let s = tmux.screen();
    assert!(closed.is_some(), "the dialog did not close:\n{s}");
    assert!(
        !s.contains("no password yet") && !s.contains(&password),
        "{s}"
    );
    tmux.focus("[ Next ]"); // hosts
    tmux.keys(&["Enter"]);
    tmux.wait_for(&vip, Duration::from_secs(10));
    tmux.keys(&["Enter"]); // settings: on Next
    let s = tmux.wait_for("Checks: ", Duration::from_secs(120));
    assert!(!s.contains(&password));
    tmux.keys(&["a", "Enter"]);
    tmux.wait_for("Rendered files", Duration::from_secs(60));
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("Installation complete", Duration::from_secs(300));
    assert!(s.contains(&format!("http://{vip}/")), "{s}");
    assert!(
        healthy_through(&vip).await,
        "the wizard's install does not answer through the VIP"
    );
}
