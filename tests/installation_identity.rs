//! An installation's identity is its own, on one sandbox host reused as a
//! customer's site would be: customer A's installation is uninstalled and
//! customer B's profile names the same address from the same laptop; B's
//! installation gets a new id and fresh generated secrets (never A's), and
//! B's support bundle carries nothing of A's runs. Then the host is found
//! to carry a third installation (its record, its secrets, as another
//! laptop would have left them): the laptop goes on as that one with the
//! host's secrets, and sends none of B's there.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use serde_json::Value;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
/// Each secret file on the host, as `name=value` lines.
const SECRETS: &str =
    "for f in /data/cd/secrets/*; do printf '%s=%s\\n' \"${f##*/}\" \"$(cat \"$f\")\"; done";

fn values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn install_of(record: &str) -> String {
    let v: Value = serde_json::from_str(record).unwrap_or_else(|e| panic!("{e}: {record}"));
    v["install"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_installation_on_the_same_address_gets_its_own_id_and_secrets() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-identity", 238, 1).await;
    let sb = &inst.sandbox;
    let addr = sb.hosts[0].address.clone();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (state, work) = (tmp.path().join("laptop"), tmp.path().join("work"));
    let profile = |customer: &str| {
        let dir = tmp.path().join(customer);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("single.yaml");
        write_single_profile(&p, &bundle, &addr, PASSWORD_ENV, "");
        p
    };
    let (profile_a, profile_b) = (profile("customer-a"), profile("customer-b"));
    let deploy = |profile: &std::path::Path| {
        Run {
            profile,
            work: &work,
            state: &state,
            password: (PASSWORD_ENV, &password),
        }
        .start(&[])
        .finish()
    };
    let cdwiz = |args: &[&str], profile: &std::path::Path| {
        run_to_end(
            Command::new(cdwiz_bin())
                .args(args)
                .arg("--profile")
                .arg(profile)
                .args(["--workdir", work.to_str().unwrap()])
                .env(PASSWORD_ENV, &password)
                .env("CDWIZ_DATA_DIR", &state),
        )
    };
    let noted = |lines: &[Value], id: &str| -> Option<String> {
        lines
            .iter()
            .find(|l| l["event"] == "note" && l["id"] == id)
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
    };

    // Customer A: installed, then uninstalled with its data.
    let (code, lines, err) = deploy(&profile_a);
    assert_eq!(code, 0, "{err}\n{lines:?}");
    let id_a = install_of(&sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await);
    assert!(
        id_a.len() == 16 && id_a.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id_a}"
    );
    let secrets_a = values(&sh_ok(sb, 0, SECRETS).await);
    assert!(!secrets_a.is_empty());
    assert!(
        state
            .join("installs")
            .join(&id_a)
            .join("secrets.yaml")
            .is_file()
    );
    let (code, out, err) = cdwiz(&["uninstall", "--purge", "--yes"], &profile_a);
    assert_eq!(code, 0, "{out}{err}");
    let runs_a: Vec<String> = std::fs::read_dir(work.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(runs_a.len() >= 2, "A's deploy and uninstall: {runs_a:?}");

    // Customer B, the same address from the same laptop: a new
    // installation, said so, with secrets of its own.
    let (code, lines, err) = deploy(&profile_b);
    assert_eq!(code, 0, "{err}\n{lines:?}");
    let said = noted(&lines, "install-identified")
        .unwrap_or_else(|| panic!("no install-identified note: {lines:#?}"));
    let id_b = install_of(&sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await);
    assert_ne!(id_b, id_a);
    assert!(said.contains(&id_a) && said.contains(&id_b), "{said}");
    let secrets_b = values(&sh_ok(sb, 0, SECRETS).await);
    assert_eq!(
        secrets_b.keys().collect::<Vec<_>>(),
        secrets_a.keys().collect::<Vec<_>>()
    );
    for (name, value) in &secrets_b {
        assert_ne!(value, &secrets_a[name], "{name}: customer A's value again");
    }
    assert!(noted(&lines, "secrets-adopted").is_none(), "{lines:?}");
    assert!(state.join("installs").join(&id_a).join("retired").is_file());

    // B's support bundle: none of A's runs.
    let archive = tmp.path().join("support.tar.gz");
    let (code, out, err) = cdwiz(&["collect", "-o", archive.to_str().unwrap()], &profile_b);
    assert_eq!(code, 0, "{out}{err}");
    let files = archive_files(&archive);
    assert!(
        files.keys().any(|f| f.starts_with("local/runs/")),
        "B's own runs are carried: {:?}",
        files.keys()
    );
    let of_a: Vec<&String> = files
        .keys()
        .filter(|name| runs_a.iter().any(|r| name.contains(r.as_str())))
        .collect();
    assert!(of_a.is_empty(), "customer A's runs in B's bundle: {of_a:?}");
    assert!(
        files["MANIFEST.txt"].contains(&id_b),
        "{}",
        files["MANIFEST.txt"]
    );

    // Another laptop made the host installation W since (its record, its
    // secrets): this laptop goes on as W, with the host's secrets, and
    // sends none of B's there.
    let record_b = sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await;
    let (code, out, err) = cdwiz(&["uninstall", "--purge", "--yes"], &profile_b);
    assert_eq!(code, 0, "{out}{err}");
    let id_w = "0123456789abcdef";
    let secrets_w: BTreeMap<String, String> = secrets_b
        .keys()
        .enumerate()
        .map(|(i, name)| (name.clone(), format!("WWWWWWWWWWWWWWWWWWWWWWW{}", i + 2)))
        .collect();
    let plant: String = secrets_w
        .iter()
        .map(|(name, value)| format!("printf %s {value} > /data/cd/secrets/{name}; "))
        .collect();
    sh_ok(
        sb,
        0,
        &format!(
            "umask 077; mkdir -p /etc/cdwiz /data/cd/secrets && {plant}\
             printf '%s\\n' {} > /etc/cdwiz/install.json",
            cdwiz::ssh::quote(&record_b.replace(&id_b, id_w))
        ),
    )
    .await;
    let (code, lines, err) = deploy(&profile_b);
    assert_eq!(code, 0, "{err}\n{lines:?}");
    let said = noted(&lines, "install-identified")
        .unwrap_or_else(|| panic!("no install-identified note: {lines:#?}"));
    assert!(said.contains(id_w), "{said}");
    assert!(noted(&lines, "secrets-adopted").is_some(), "{lines:?}");
    assert_eq!(
        install_of(&sh_ok(sb, 0, "cat /etc/cdwiz/install.json").await),
        id_w
    );
    assert_eq!(values(&sh_ok(sb, 0, SECRETS).await), secrets_w);
    let kept: BTreeMap<String, String> = serde_yaml::from_str(
        &std::fs::read_to_string(state.join("installs").join(id_w).join("secrets.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(kept, secrets_w);
}
