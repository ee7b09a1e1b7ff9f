//! Password login (through cdwiz's askpass, the password never on a command
//! line) and the two sudo users of a sandbox host.

mod common;

use std::time::Duration;

use cdwiz::ssh::askpass::run_with_password;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn password_login_and_sudo_users() {
    let inst = instance("t-auth", 202, 1).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let root = target(sb, 0, "root");
    let askpass = std::path::Path::new(cdwiz_bin());

    let ok = run_with_password(
        &root,
        &password,
        askpass,
        "hostname",
        None,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(ok.code, 0, "password login failed: {}", ok.stderr);
    assert_eq!(ok.stdout.trim(), "node1");

    let wrong = run_with_password(
        &root,
        "not-the-password",
        askpass,
        "hostname",
        None,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_ne!(wrong.code, 0, "a wrong password must not log in");
    assert!(
        wrong.stderr.contains("Permission denied"),
        "unexpected: {}",
        wrong.stderr
    );

    // ops: sudo asks for the password (given on stdin, never as an argument).
    let no_pw = sh(sb, 0, "ops", "sudo -n id -u").await;
    assert_ne!(no_pw.code, 0, "ops must need a password for sudo");
    let ops = target(sb, 0, "ops");
    let with_pw = run_with_password(
        &ops,
        &password,
        askpass,
        "whoami; sudo -S -p '' id -u",
        Some(format!("{password}\n").as_bytes()),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(with_pw.code, 0, "ops sudo: {}", with_pw.stderr);
    assert_eq!(
        with_pw.stdout.split_whitespace().collect::<Vec<_>>(),
        ["ops", "0"]
    );

    // auto: sudo without a password, by key.
    let auto = sh(sb, 0, "auto", "whoami; sudo -n id -u").await;
    assert_eq!(auto.code, 0, "auto sudo: {}", auto.stderr);
    assert_eq!(
        auto.stdout.split_whitespace().collect::<Vec<_>>(),
        ["auto", "0"]
    );

    // Exit codes and both output streams come back as the script left them,
    // 127 (command not found) included, and values are quoted.
    let out = sh(sb, 0, "root", "echo out; echo err >&2; exit 3").await;
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    let out = sh(sb, 0, "root", "no-such-command-here").await;
    assert_eq!(out.code, 127);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
    let tricky = "it's $(id) `x` \"q\" ; rm -rf /nonexistent";
    let out = sh(
        sb,
        0,
        "root",
        &format!("printf %s {}", cdwiz::ssh::quote(tricky)),
    )
    .await;
    assert_eq!(out.stdout, tricky);
}

/// The sudo password goes to sudo, never to the command it unlocks: also
/// when sudo does not prompt (a rule without a password for `sh`), which
/// would otherwise leave the password line on the command's input.
#[tokio::test(flavor = "multi_thread")]
async fn the_sudo_password_never_reaches_the_command() {
    let inst = instance("t-sudopw", 219, 1).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let connector = cdwiz::connect::Connector {
        user: "ops".into(),
        port: 22,
        auth: cdwiz::profile::SshAuth::Password,
        key_file: None,
        jump: None,
        per_host: Default::default(),
        strict_host_keys: false,
        connect_timeout: Duration::from_secs(10),
        secrets: cdwiz::connect::Secrets {
            ssh_password: Some(password.clone()),
            sudo_password: Some(password.clone()),
            ..Default::default()
        },
        own_key: keys.path().join("id_ed25519"),
        known_hosts: keys.path().join("known_hosts"),
        askpass: cdwiz_bin().into(),
        install_key: true,
    };
    let address = sb.hosts[0].address.clone();
    let probe = |conn: cdwiz::connect::HostConn| async move {
        let t = Duration::from_secs(30);
        let bare = conn.run("id -u; cat", t).await.unwrap();
        let fed = conn
            .run_with_input("cat", Some(b"payload\n"), t)
            .await
            .unwrap();
        conn.close().await;
        (bare, fed)
    };
    for case in ["sudo prompts", "sudo does not prompt for sh"] {
        if case != "sudo prompts" {
            sh_ok(
                sb,
                0,
                "printf 'ops ALL=(ALL) NOPASSWD: /bin/sh, /usr/bin/sh\\n' > /etc/sudoers.d/zz-ops-sh \
                 && chmod 0440 /etc/sudoers.d/zz-ops-sh",
            )
            .await;
            assert_ne!(sh(sb, 0, "ops", "sudo -n true").await.code, 0);
            assert_eq!(sh(sb, 0, "ops", "sudo -n sh -c true").await.code, 0);
        }
        let conn = connector.connect(&address).await.expect(case);
        let (bare, fed) = probe(conn).await;
        assert_eq!(
            (bare.code, bare.stdout.as_str()),
            (0, "0\n"),
            "{case}: {}",
            bare.stderr
        );
        assert!(!bare.stdout.contains(&password) && !bare.stderr.contains(&password));
        assert_eq!((fed.code, fed.stdout.as_str()), (0, "payload\n"), "{case}");
    }
}
