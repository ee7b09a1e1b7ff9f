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

use cdwiz::sandbox::fault::{self, Fault};
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

fn write_profile(path: &Path, bundle: &Path, vip: &str, hosts: &[&str]) {
    write_ha_profile(path, bundle, vip, hosts, 62, PASSWORD_ENV);
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
    let before = [cdwiz_containers(sb, 0).await, cdwiz_containers(sb, 1).await];
    let install_record = sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await;
    let etc_hosts = || async {
        [
            sh_ok(sb, 0, "cat /etc/hosts").await,
            sh_ok(sb, 1, "cat /etc/hosts").await,
        ]
    };
    for hosts in etc_hosts().await {
        assert!(hosts.contains(a[1]) && !hosts.contains(a[2]), "{hosts}");
    }

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
    // The VIP is asked five times a second through the scale-out (the loop
    // ends by itself after 10 minutes at most).
    assert!(answers().await, "the VIP answers before");
    let client = Client::start(&vip, Duration::from_millis(200), Duration::from_secs(600));
    let (code, lines, err) = run.start(&[]).finish();
    let asked = client.finish().await;
    eprintln!(
        "scale-out 2 -> 3 masters: {} answers, {} failed requests, longest gap {} ms",
        asked.answered,
        asked.failed,
        asked.longest_gap.as_millis()
    );
    assert_eq!(code, 0, "{err}{:#?}", not_passed(&lines));
    assert!(
        asked.answered > 5,
        "the loop ran through the scale-out: {asked:?}"
    );
    assert_eq!(asked.failed, 0, "the VIP did not answer: {asked:?}");
    // The kept hosts know the new one by name.
    for hosts in etc_hosts().await {
        assert!(hosts.contains(a[2]), "{hosts}");
    }
    assert_eq!(secrets_dirs(), 1, "the same installation, the same secrets");
    assert_eq!(
        sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await,
        install_record
    );
    let after = [cdwiz_containers(sb, 0).await, cdwiz_containers(sb, 1).await];
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
    let third: Vec<String> = cdwiz_containers(sb, 2)
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
    assert_eq!(cdwiz_containers(sb, 2).await.len(), 3);
    let (code, lines, err) = run.start(&["--remove-hosts"]).finish();
    assert_eq!(code, 0, "{err}");
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, a[2], "remove", &["changed"])),
        "{lines:?}"
    );
    assert!(cdwiz_containers(sb, 2).await.is_empty());
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
    assert_eq!(cdwiz_containers(sb, 0).await.len(), 5);
    assert!(cdwiz_containers(sb, 2).await.is_empty(), "nothing touched");

    // The third comes back (its kept data with it) and leaves for good:
    // `--purge` needs `--yes`, then its data goes too.
    write_profile(&profile, &bundle, &vip, &a);
    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(cdwiz_containers(sb, 2).await.len(), 3);
    write_profile(&profile, &bundle, &vip, &a[..2]);
    let (code, _, err) = run.start(&["--remove-hosts", "--purge"]).finish();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(cdwiz_containers(sb, 2).await.len(), 3, "nothing touched");
    let (code, _, err) = run.start(&["--remove-hosts", "--purge", "--yes"]).finish();
    assert_eq!(code, 0, "{err}");
    assert!(cdwiz_containers(sb, 2).await.is_empty());
    sh_ok(sb, 2, "test ! -e /data/cd").await;
    sh_ok(sb, 0, "test -d /data/cd/database").await;

    // collect with node2 stopped: node2 listed as unreachable, node1's
    // files inside, and no secret anywhere in the archive.
    write_profile(&profile, &bundle, &vip, &a[..2]);
    fault::apply(&inst.docker, sb, "node2", &Fault::Stop)
        .await
        .unwrap();
    // A secret where collect looks (as a careless edit would leave it).
    sh_ok(
        sb,
        0,
        "cat /data/cd/secrets/db_password > /data/cd/config/leak.txt",
    )
    .await;
    // …and encoded, in a config file and in a container's log: base64 of
    // `admin:<secret>` (a Basic header), hex, JSON; and a TLS key an admin
    // put under the config folder.
    sh_ok(
        sb,
        0,
        r#"s=$(cat /data/cd/secrets/db_password)
printf 'Authorization: Basic %s\n' "$(printf 'admin:%s' "$s" | base64 -w0)" > /data/cd/config/leak-encoded.txt
printf 'hex %s\n' "$(printf '%s' "$s" | od -An -v -tx1 | tr -d ' \n')" >> /data/cd/config/leak-encoded.txt
printf '{"password":"%s"} %s\n' "$s" "$(printf '%s\n' "$s" | base64 -w0)" | docker exec -i -u root cd-database sh -c 'cat > /proc/1/fd/1'
mkdir -p /data/cd/config/tls
printf -- '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n' > /data/cd/config/tls/server.key"#,
    )
    .await;
    let archive = tmp.path().join("support.tar.gz");
    let (code, out, err) = run_to_end(
        Command::new(cdwiz_bin())
            .args(["collect", "--profile"])
            .arg(&profile)
            .arg("-o")
            .arg(&archive)
            .args(["--workdir", work.to_str().unwrap()])
            .env("CDWIZ_DATA_DIR", &state)
            .env(PASSWORD_ENV, &password),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains(&format!("{}: not reached", a[1])), "{err}");
    let files = archive_files(&archive);
    let manifest = &files["MANIFEST.txt"];
    assert!(
        manifest.contains(&format!("{}: unreachable", a[1])),
        "{manifest}"
    );
    let host = |f: &str| format!("hosts/{}/{f}", a[0]);
    for f in [
        "install.json",
        "os-release",
        "docker-info",
        "config/cd.env",
        "config/keepalived/keepalived.conf",
        "containers/cd-database.inspect.json",
        "containers/cd-database.log",
    ] {
        assert!(
            files.contains_key(&host(f)),
            "{f} missing: {:?}",
            files.keys()
        );
    }
    assert!(
        files
            .keys()
            .any(|k| k.starts_with("local/runs/") && k.ends_with("checks.md"))
    );
    assert!(
        !files
            .keys()
            .any(|k| k.starts_with(&format!("hosts/{}/", a[1])))
    );
    let mut secrets = vec![password.clone()];
    for e in std::fs::read_dir(state.join("installs")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path().join("secrets.yaml")).unwrap();
        let map: std::collections::BTreeMap<String, String> = serde_yaml::from_str(&text).unwrap();
        secrets.extend(map.into_values());
    }
    assert!(secrets.len() >= 3, "{secrets:?}");
    for (name, text) in &files {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret in {name}");
        }
    }
    assert_eq!(files[&host("config/leak.txt")].trim(), "***");
    let encoded = &files[&host("config/leak-encoded.txt")];
    assert!(
        encoded.matches("***").count() >= 2,
        "the encoded forms are hidden:\n{encoded}"
    );
    let log = &files[&host("containers/cd-database.log")];
    assert!(log.contains("{\"password\":\"***\"}"), "{log}");
    assert!(
        !files.contains_key(&host("config/tls/server.key")),
        "a private key in the archive"
    );
    assert!(
        manifest.contains("withheld") && manifest.contains("config/tls/server.key"),
        "{manifest}"
    );
    {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        for s in &secrets {
            let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            for form in [
                b64.encode(format!("admin:{s}")),
                b64.encode(format!("{s}\n")),
                hex,
            ] {
                for (name, text) in &files {
                    assert!(!text.contains(&form), "an encoded secret in {name}");
                }
            }
        }
    }

    // From another engineer's laptop, logging in with the site's key (a
    // look never installs cdwiz's own) and with no record of the
    // installation, so no generated secrets of its own: the host's secret
    // files are what is hidden, and never carried.
    let profile_b = tmp.path().join("ha-b.yaml");
    let key_login = format!(
        "ssh: {{ user: root, auth: key, key-file: {} }}",
        sb.key().display()
    );
    std::fs::write(
        &profile_b,
        std::fs::read_to_string(&profile).unwrap().replace(
            &format!("ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}"),
            &key_login,
        ),
    )
    .unwrap();
    let from_b = tmp.path().join("support-b.tar.gz");
    let (code, out, err) = run_to_end(
        Command::new(cdwiz_bin())
            .args(["collect", "--profile"])
            .arg(&profile_b)
            .arg("-o")
            .arg(&from_b)
            .env("CDWIZ_DATA_DIR", tmp.path().join("state-b"))
            .env(PASSWORD_ENV, &password),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!("{}: ", a[0])) && !err.contains(&format!("{}: not reached", a[0])),
        "{err}"
    );
    let files = archive_files(&from_b);
    assert_eq!(files[&host("config/leak.txt")].trim(), "***");
    assert!(
        !files.keys().any(|k| k.contains("hide/")),
        "{:?}",
        files.keys()
    );
    for (name, text) in &files {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret in {name} (laptop B)");
        }
    }
}
