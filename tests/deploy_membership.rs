//! Adding and removing hosts of an `ha-keepalived` installation on real
//! sandbox hosts: the installation stays the same one (its secrets, its
//! hosts' install records), a new host is installed completely, the kept
//! ones change only what the membership changes (keepalived's peers; every
//! other container keeps its id), a dropped host is refused until
//! `--remove-hosts`, then uninstalled with its data kept, and a change that
//! would move the database away from its data is refused.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

/// Each cdwiz container's name and id on a host.
async fn containers(sb: &cdwiz::sandbox::Sandbox, host: usize) -> Vec<(String, String)> {
    let out = sh_ok(
        sb,
        host,
        "docker ps --no-trunc --filter label=io.cdwiz.component --format '{{.Names}} {{.ID}}' | sort",
    )
    .await;
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, i)| (n.to_string(), i.to_string()))
        .collect()
}

fn write_profile(path: &Path, bundle: &Path, vip: &str, hosts: &[&str]) {
    let hosts: String = hosts
        .iter()
        .map(|a| format!("  - {{ address: {a}, roles: [master] }}\n"))
        .collect();
    std::fs::write(
        path,
        format!(
            "version: 1\nbundle: {}\n\
             topology: {{ kind: ha-keepalived, vip: {vip}, interface: eth0, virtual-router-id: 62 }}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
             hosts:\n{hosts}",
            bundle.display()
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_join_and_leave_an_installation() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-members", 229, 3).await;
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
    let validate_plan = || {
        let (code, out, err) = run_to_end(
            Command::new(cdwiz_bin())
                .args(["validate", "--plan"])
                .arg(&profile)
                .env("CDWIZ_DATA_DIR", &state)
                .env(PASSWORD_ENV, &password),
        );
        assert_eq!(code, 0, "{err}");
        out
    };
    let answers = || async { matches!(http_get(&vip, 80, "/api/health").await, Some((200, _))) };

    // Two masters.
    write_profile(&profile, &bundle, &vip, &a[..2]);
    assert!(!validate_plan().contains("membership"), "a first install");
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    let secrets_dirs = || std::fs::read_dir(state.join("installs")).unwrap().count();
    assert_eq!(secrets_dirs(), 1);
    let before = [containers(sb, 0).await, containers(sb, 1).await];
    let install_record = sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await;

    // A third joins: the plan says so; it is installed, the others keep
    // every container but keepalived (whose peers changed).
    write_profile(&profile, &bundle, &vip, &a);
    let plan = validate_plan();
    let (code, lines, err) = run.start(&["--dry-run"]).finish();
    let failed: Vec<_> = lines.iter().filter(|v| v["status"] == "fail").collect();
    assert_eq!(code, 0, "{err}{failed:?}");
    assert!(
        plan.contains(&format!(
            "membership:\n  new:\n  - {}\n  kept:\n  - {}\n  - {}\n  removed: []",
            a[2], a[0], a[1]
        )),
        "{plan}"
    );
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(secrets_dirs(), 1, "the same installation, the same secrets");
    assert_eq!(
        sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await,
        install_record
    );
    let after = [containers(sb, 0).await, containers(sb, 1).await];
    for (host, (was, now)) in before.iter().zip(&after).enumerate() {
        assert_eq!(was.len(), now.len());
        for ((name, id), (_, new_id)) in was.iter().zip(now) {
            if name.contains("keepalived") {
                assert_ne!(id, new_id, "{name} on {}: its peers changed", a[host]);
            } else {
                assert_eq!(id, new_id, "{name} on {} was restarted", a[host]);
            }
        }
    }
    let third: Vec<String> = containers(sb, 2)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        third.len(),
        3,
        "backend, web and keepalived on the new host: {third:?}"
    );
    let peers = sh_ok(sb, 0, "cat /data/cd/config/keepalived/keepalived.conf").await;
    assert!(peers.contains(a[2]), "{peers}");
    assert!(answers().await);

    // The third leaves: refused without --remove-hosts, nothing touched.
    write_profile(&profile, &bundle, &vip, &a[..2]);
    assert!(validate_plan().contains(&format!("removed:\n  - {}", a[2])));
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(a[2]) && err.contains("--remove-hosts"),
        "{err}"
    );
    assert_eq!(containers(sb, 2).await.len(), 3);
    let (code, lines, err) = run.start(&["--remove-hosts"]).finish();
    assert_eq!(code, 0, "{err}");
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, a[2], "remove", &["changed"])),
        "{lines:?}"
    );
    assert!(containers(sb, 2).await.is_empty());
    sh_ok(sb, 2, "test -d /data/cd").await;
    let peers = sh_ok(sb, 0, "cat /data/cd/config/keepalived/keepalived.conf").await;
    assert!(!peers.contains(a[2]), "{peers}");
    assert!(
        eventually(Duration::from_secs(30), answers).await.is_some(),
        "the VIP answers after the removal"
    );

    // Dropping the first master would move the database from its data.
    write_profile(&profile, &bundle, &vip, &a[1..]);
    let (code, _, err) = run.start(&["--remove-hosts"]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("database runs on one host only"), "{err}");
    assert_eq!(containers(sb, 0).await.len(), 5);
    assert!(containers(sb, 2).await.is_empty(), "nothing touched");
}
