//! Host checks against real sandbox hosts through the real `cdwiz` binary:
//! a healthy cluster passes everything; each injected fault is caught by the
//! right check with a hint and a fix; waivers let it through and are
//! reported; the password bootstraps a key once and never leaks.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cdwiz::sandbox::{Fault, Sandbox, fault};
use common::*;
use serde_json::Value;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
/// Checks of a measured value: this machine's disk and 2 cores are shared
/// with whatever else runs, so a slow moment may warn (never fail).
const MEASURED: &[&str] = &["res.disk-write", "res.disk-fsync", "net.latency"];

struct Outcome {
    code: i32,
    lines: Vec<Value>,
    stderr: String,
    secs: f64,
}

impl Outcome {
    fn results(&self) -> Vec<&Value> {
        self.lines
            .iter()
            .filter(|l| l["event"] == "check")
            .collect()
    }
    fn find(&self, id: &str, host: &str) -> &Value {
        self.results()
            .into_iter()
            .find(|r| r["id"] == id && r["host"] == host)
            .unwrap_or_else(|| panic!("no result {id} for {host}"))
    }
    fn summary(&self) -> &Value {
        self.lines
            .iter()
            .find(|l| l["event"] == "summary")
            .expect("summary line")
    }
}

fn profile(
    dir: &Path,
    name: &str,
    sb: &Sandbox,
    bundle: &Path,
    data_disk: bool,
    extra_host: Option<&str>,
) -> PathBuf {
    let disk = if data_disk {
        ", data-disk: /dev/vdb, format-data-disk: true"
    } else {
        ""
    };
    let mut hosts: String = sb
        .hosts
        .iter()
        .map(|h| format!("  - {{ address: {}, roles: [master]{disk} }}\n", h.address))
        .collect();
    if let Some(a) = extra_host {
        hosts.push_str(&format!("  - {{ address: {a}, roles: [worker] }}\n"));
    }
    let text = format!(
        "version: 1\nbundle: {}\ntopology: {{ kind: ha-keepalived, vip: {}, interface: eth0, virtual-router-id: 77 }}\n\
         ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV}, connect-timeout: 3 }}\nhosts:\n{hosts}",
        bundle.display(),
        sb.vip()
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A `single` profile for one host with the given `ssh:` mapping.
fn single_host_profile(dir: &Path, name: &str, bundle: &Path, address: &str, ssh: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ kind: single }}\nssh: {ssh}\nhosts:\n  - {{ address: {address}, roles: [master] }}\n",
            bundle.display()
        ),
    )
    .unwrap();
    path
}

/// Runs the headless dry run with cdwiz's own state (key, known hosts) in
/// `state`, so that no other test's hosts or keys are involved.
fn dry_run(
    profile: &Path,
    workdir: &Path,
    password: &str,
    state: &Path,
    extra: &[&str],
) -> Outcome {
    let mut cmd = Command::new(cdwiz_bin());
    cmd.arg("--profile")
        .arg(profile)
        .args([
            "--non-interactive",
            "--dry-run",
            "--output",
            "json",
            "--workdir",
        ])
        .arg(workdir)
        .args(extra)
        .env(PASSWORD_ENV, password)
        .env("CDWIZ_DATA_DIR", state);
    let started = Instant::now();
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        lines: String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Watches every process's command line while `f` runs; returns what `f`
/// returned and whether `secret` was ever seen in one.
fn watching_argv<T>(secret: &str, f: impl FnOnce() -> T) -> (T, bool) {
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicBool::new(false));
    let (s2, seen2, secret) = (stop.clone(), seen.clone(), secret.to_string());
    let watcher = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
                    && String::from_utf8_lossy(&cmdline).contains(&secret)
                {
                    seen2.store(true, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let out = f();
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    (out, seen.load(Ordering::Relaxed))
}

fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
            hits.push(p);
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_pass_on_healthy_hosts_and_catch_each_fault() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-checks", 209, 3).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let state = tmp.path().join("state");
    let addr: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();

    // 1. Healthy: every check passes; the password logs in once to install
    //    cdwiz's key, and never shows in any process's arguments.
    let healthy = profile(tmp.path(), "healthy.yaml", sb, &bundle, true, None);
    let (out, leaked) = watching_argv(&password, || {
        dry_run(&healthy, &work, &password, &state, &[])
    });
    let not_pass: Vec<String> = out
        .results()
        .into_iter()
        .filter(|r| r["status"] != "pass")
        .map(|r| format!("{} {} {}", r["id"], r["host"], r["message"]))
        .collect();
    assert_eq!(out.code, 0, "{}{not_pass:#?}", out.stderr);
    assert!(!leaked, "the password appeared in a process's arguments");
    // Disk speed and host-to-host latency are measured, and this machine's
    // disk and 2 cores are shared with whatever else runs: a slow moment
    // may warn, never fail.
    let measured =
        |r: &serde_json::Value| r["status"] == "warn" && MEASURED.iter().any(|id| r["id"] == *id);
    let not_pass: Vec<_> = out
        .results()
        .into_iter()
        .filter(|r| r["status"] != "pass" && !measured(r))
        .collect();
    assert!(
        not_pass.is_empty(),
        "a healthy host must pass everything: {not_pass:#?}"
    );

    // The same run in Chinese: the JSON has the same lines, keys, ids,
    // hosts, statuses and message ids; only the free-text `message` differs.
    let zh = dry_run(&healthy, &work, &password, &state, &["--lang", "zh-CN"]);
    assert_eq!(zh.code, out.code);
    let shape = |o: &Outcome| -> Vec<String> {
        let mut v: Vec<String> = o
            .lines
            .iter()
            .filter(|l| l["event"] == "check")
            .map(|l| {
                let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
                // The first run was the first contact; this one is not.
                let key = l["detail"]["key"]
                    .as_str()
                    .unwrap_or("")
                    .replace("ssh.login.ok-first", "ssh.login.ok");
                // A measured value (disk speed, latency) may move its check
                // between pass and warn from one run to the next.
                let (status, key) = if MEASURED.iter().any(|id| l["id"] == *id) {
                    ("measured".to_string(), "measured".to_string())
                } else {
                    (l["status"].to_string(), key)
                };
                format!("{} {} {status} {key} {:?}", l["id"], l["host"], keys)
            })
            .collect();
        v.sort();
        v
    };
    let (en_shape, zh_shape) = (shape(&out), shape(&zh));
    let differ: Vec<_> = en_shape
        .iter()
        .zip(&zh_shape)
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(en_shape.len(), zh_shape.len());
    assert!(differ.is_empty(), "{differ:#?}");
    assert!(
        zh.lines.iter().any(|l| l["event"] == "check"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))),
        "the messages are in Chinese"
    );
    assert!(
        out.results().len() >= 3 * 27,
        "{} results",
        out.results().len()
    );
    eprintln!("healthy 3-host check: {:.2} s", out.secs);
    let rendered = out.summary()["rendered"]["dir"]
        .as_str()
        .unwrap()
        .to_string();
    let compose = Path::new(&rendered)
        .join(&addr[0])
        .join("docker-compose.yml");
    assert!(
        std::fs::read_to_string(&compose)
            .unwrap()
            .contains("cd-sandbox/database:0.1.0")
    );
    let keepalived = Path::new(&rendered)
        .join(&addr[2])
        .join("keepalived/keepalived.conf");
    assert!(
        std::fs::read_to_string(&keepalived)
            .unwrap()
            .contains(&sb.vip())
    );
    let keys = sh_ok(sb, 0, "cat /root/.ssh/authorized_keys").await;
    assert!(
        keys.lines().any(|l| l.ends_with(" cdwiz")),
        "cdwiz's key was not installed"
    );
    // First contact: the host's key, now remembered, is shown with its
    // fingerprint, one of the host's own keys (read on it).
    let said = out.find("ssh.login", &addr[0])["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(said.contains("first contact"), "{said}");
    let shown = said
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap_or_default();
    let all_fp = sh_ok(
        sb,
        0,
        "for k in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf $k; done",
    )
    .await;
    assert!(
        all_fp.contains(shown) && !shown.is_empty(),
        "{said}\n{all_fp}"
    );

    // 2. Later runs use the key: a wrong password changes nothing.
    let again = dry_run(&healthy, &work, "not-the-password", &state, &[]);
    let failed: Vec<_> = again
        .results()
        .into_iter()
        .filter(|r| r["status"] != "pass")
        .collect();
    assert_eq!(again.code, 0, "{}{failed:#?}", again.stderr);
    let said = again.find("ssh.login", &addr[0])["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!said.contains("first contact"), "{said}");

    // 3. Faults, each caught by its check with a hint and a fix.
    fault::apply(&inst.docker, sb, "node1", &Fault::PortTaken(8080))
        .await
        .unwrap();
    fault::apply(&inst.docker, sb, "node2", &Fault::FillData)
        .await
        .unwrap();
    fault::apply(&inst.docker, sb, "node2", &Fault::Hostname("node1".into()))
        .await
        .unwrap();
    fault::apply(&inst.docker, sb, "node3", &Fault::DockerStopped)
        .await
        .unwrap();
    let nobody = sb.unreachable_address();
    let faulty = profile(tmp.path(), "faulty.yaml", sb, &bundle, false, Some(&nobody));
    let out = dry_run(&faulty, &work, &password, &state, &[]);
    assert_eq!(out.code, 3, "failed checks exit 3: {}", out.stderr);
    let expect_fail = [
        ("net.ports", addr[0].as_str(), Some("8080")),
        ("res.data-space", addr[1].as_str(), None),
        ("net.hostname-unique", addr[0].as_str(), Some("hostnamectl")),
        ("net.hostname-unique", addr[1].as_str(), Some("hostnamectl")),
        ("runtime.docker", addr[2].as_str(), Some("start docker")),
        ("ssh.reach", nobody.as_str(), Some("ping")),
    ];
    for (id, host, fix) in expect_fail {
        let r = out.find(id, host);
        assert_eq!(r["status"], "fail", "{id} on {host}: {r:#}");
        assert!(r["hint"].is_object(), "{id} on {host} has no hint");
        if let Some(f) = fix {
            assert!(
                r["fix"].as_str().unwrap_or("").contains(f),
                "{id} on {host}: fix {}",
                r["fix"]
            );
        }
    }
    assert_eq!(
        out.find("runtime.docker", &addr[2])["detail"]["key"],
        "check.runtime.docker.stopped"
    );
    assert!(
        out.secs < 15.0,
        "an unreachable host must fail within the connect timeout, took {:.1} s",
        out.secs
    );
    // Nothing else fails: each fault is caught by its own check.
    let fails: Vec<String> = out
        .results()
        .iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| {
            format!(
                "{}@{}",
                r["id"].as_str().unwrap(),
                r["host"].as_str().unwrap_or("*")
            )
        })
        .collect();
    assert_eq!(fails.len(), 6, "{fails:?}");

    // 4. Waived, the same faults let the dry run through, and the report says why.
    let waivers: Vec<String> = fails
        .iter()
        .map(|f| format!("--accept-check={f}=known on site, ticket 42"))
        .collect();
    let waiver_args: Vec<&str> = waivers.iter().map(String::as_str).collect();
    let out = dry_run(&faulty, &work, &password, &state, &waiver_args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.summary()["waived"], 6);
    let md =
        std::fs::read_to_string(out.summary()["report"]["markdown"].as_str().unwrap()).unwrap();
    assert!(md.contains("known on site, ticket 42"), "{md}");
    assert!(md.contains("`net.ports` @ "), "{md}");
    let out = dry_run(
        &faulty,
        &work,
        &password,
        &state,
        &["--accept-check=net.portz=typo"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown check id `net.portz`"),
        "{}",
        out.stderr
    );

    for host in ["node1", "node2", "node3"] {
        fault::apply(&inst.docker, sb, host, &Fault::Clear)
            .await
            .unwrap();
    }

    // 5. A wrong password on a host that does not have cdwiz's key yet.
    let fresh = tmp.path().join("fresh-data-dir");
    let out = dry_run(&healthy, &work, "not-the-password", &fresh, &[]);
    assert_eq!(out.code, 3);
    let login = out.find("ssh.login", &addr[0]);
    assert_eq!(login["status"], "fail");
    assert_eq!(
        login["detail"]["key"], "check.ssh.login.rejected",
        "{login:#}"
    );

    // 5b. The operator expects a host's key (`--expect-host-key`): a wrong
    //     fingerprint stops the login before anything is sent (no key of
    //     this machine's installed with the password), the right one lets
    //     it through.
    let pinned = tmp.path().join("pinned-data-dir");
    let wrong = format!(
        "{}=SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        addr[0]
    );
    let out = dry_run(
        &healthy,
        &work,
        &password,
        &pinned,
        &["--expect-host-key", &wrong],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    let login = out.find("ssh.login", &addr[0]);
    assert_eq!(
        login["detail"]["key"], "check.ssh.login.hostkey-unexpected",
        "{login:#}"
    );
    assert_eq!(out.find("ssh.login", &addr[1])["status"], "pass");
    let blob = own_key_blob(&pinned);
    let keys0 = sh_ok(sb, 0, "cat /root/.ssh/authorized_keys").await;
    assert!(!keys0.contains(&blob), "the password was used on the host");
    let own = sh_ok(sb, 0, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").await;
    let right = format!("{}={}", addr[0], own.split_whitespace().nth(1).unwrap());
    let out = dry_run(
        &healthy,
        &work,
        &password,
        &pinned,
        &["--expect-host-key", &right],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.find("ssh.login", &addr[0])["status"], "pass");

    // 5c. Or pinned in a known_hosts file beside the profile
    //     (`ssh.known-hosts`), which also serves hosts behind a bastion:
    //     another key is refused before anything is sent; its own passes.
    let pins = tmp.path().join("pins");
    let pinned_profile = tmp.path().join("pinned.yaml");
    std::fs::write(
        &pinned_profile,
        std::fs::read_to_string(&healthy).unwrap().replace(
            "connect-timeout: 3 }",
            "connect-timeout: 3, known-hosts: pins }",
        ),
    )
    .unwrap();
    let host_key = |i: usize| async move {
        let k = sh_ok(sb, i, "cat /etc/ssh/ssh_host_ed25519_key.pub").await;
        let mut w = k.split_whitespace();
        format!("{} {}", w.next().unwrap(), w.next().unwrap())
    };
    let (key0, key1) = (host_key(0).await, host_key(1).await);
    std::fs::write(&pins, format!("{} {key1}\n", addr[0])).unwrap();
    let by_file = tmp.path().join("pinned-by-file");
    let out = dry_run(&pinned_profile, &work, &password, &by_file, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let login = out.find("ssh.login", &addr[0]);
    assert_eq!(
        login["detail"]["key"], "check.ssh.login.hostkey",
        "{login:#}"
    );
    assert_eq!(out.find("ssh.login", &addr[1])["status"], "pass");
    std::fs::write(&pins, format!("{} {key0}\n", addr[0])).unwrap();
    let out = dry_run(&pinned_profile, &work, &password, &by_file, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // 6. A host whose key changed is a hard, explained failure with the fix.
    //    The keys are the installation's own, not one file for every site.
    assert!(!state.join("known_hosts").exists(), "a shared known_hosts");
    let known: Vec<_> = std::fs::read_dir(state.join("known_hosts.d"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_none())
        .collect();
    assert!(!known.is_empty(), "no installation's known_hosts");
    // (Each installation this state made, the healthy profile's among them.)
    for known in known {
        let text = std::fs::read_to_string(&known).unwrap();
        let key_of = |a: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{a} ")))
                .map(str::to_string)
        };
        if let (Some(k1), Some(k2)) = (key_of(&addr[0]), key_of(&addr[1])) {
            let forged = k2.replacen(&addr[1], &addr[0], 1);
            std::fs::write(&known, text.replace(&k1, &forged)).unwrap();
        }
    }
    let out = dry_run(&healthy, &work, &password, &state, &[]);
    assert_eq!(out.code, 3);
    let login = out.find("ssh.login", &addr[0]);
    assert_eq!(
        login["detail"]["key"], "check.ssh.login.hostkey",
        "{login:#}"
    );
    let said = login["message"].as_str().unwrap();
    let fingerprint = |after: &str| {
        said.split_once(after)
            .and_then(|(_, r)| r.split(|c: char| c == ';' || c.is_whitespace()).next())
            .map(str::to_string)
    };
    let (old, new) = (fingerprint("it was "), fingerprint("it now presents "));
    assert!(
        old.as_ref().is_some_and(|o| o.starts_with("SHA256:"))
            && new.as_ref().is_some_and(|n| n.starts_with("SHA256:"))
            && old != new,
        "both fingerprints named: {login:#}"
    );
    assert!(
        login["fix"].as_str().unwrap().starts_with("ssh-keygen -R"),
        "{login:#}"
    );
    assert_eq!(out.find("ssh.login", &addr[1])["status"], "pass");

    // 7. No secret in any file a run wrote.
    assert!(
        files_containing(&work, &password).is_empty(),
        "{:?}",
        files_containing(&work, &password)
    );
    assert!(std::fs::read_dir(work.join("runs")).unwrap().count() >= 5);
}

/// Non-root logins: `auto` has passwordless sudo, `ops` needs its password
/// (given by `sudo-password-env`, fed on stdin); without it, no root.
#[tokio::test(flavor = "multi_thread")]
async fn non_root_users_reach_root_through_sudo() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-sudo", 210, 1).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, addr, key) = (tmp.path(), sb.hosts[0].address.clone(), sb.key());
    let key = key.display();
    let auto = single_host_profile(
        dir,
        "auto.yaml",
        &bundle,
        &addr,
        &format!("{{ user: auto, auth: key, key-file: {key} }}"),
    );
    // The sudo password comes from the variable the dry-run helper sets.
    let ops = single_host_profile(
        dir,
        "ops.yaml",
        &bundle,
        &addr,
        &format!("{{ user: ops, auth: key, key-file: {key}, sudo-password-env: {PASSWORD_ENV} }}"),
    );
    let ops_no_pw = single_host_profile(
        dir,
        "ops-no-pw.yaml",
        &bundle,
        &addr,
        &format!("{{ user: ops, auth: key, key-file: {key} }}"),
    );
    let (work, state) = (dir.join("work"), dir.join("state"));
    let run =
        |profile: &Path, sudo_password: &str| dry_run(profile, &work, sudo_password, &state, &[]);

    let out = run(&auto, "unused");
    assert_eq!(out.code, 0, "auto: {}", out.stderr);
    assert_eq!(out.find("ssh.root", &addr)["status"], "pass");
    assert_eq!(
        out.find("res.data-space", &addr)["status"],
        "pass",
        "the probe ran as root"
    );

    let out = run(&ops, &password);
    assert_eq!(out.code, 0, "ops with its sudo password: {}", out.stderr);
    assert_eq!(out.find("ssh.root", &addr)["status"], "pass");

    let out = run(&ops_no_pw, "unused");
    assert_eq!(out.code, 3);
    assert_eq!(out.find("ssh.root", &addr)["status"], "fail");
    let out = run(&ops, "wrong-sudo-password");
    assert_eq!(out.code, 3);
    assert_eq!(out.find("ssh.root", &addr)["status"], "fail");
}

/// Hosts behind a bastion: the host refuses SSH from this machine and is
/// reached through the jump host, by key and by password (the key bootstrap
/// goes through the bastion too).
#[tokio::test(flavor = "multi_thread")]
async fn hosts_behind_a_bastion_are_checked_through_it() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-jump", 211, 2).await;
    let sb = &inst.sandbox;
    let (bastion, inner) = (sb.hosts[0].address.clone(), sb.hosts[1].address.clone());
    // node2 takes SSH only from inside the network, not from this machine.
    sh_ok(
        sb,
        1,
        &format!(
            "iptables -I INPUT -p tcp --dport 22 -s {} -j DROP && echo ok",
            sb.gateway()
        ),
    )
    .await;
    assert!(
        !tcp_answers(&inner, 22).await,
        "node2 must not answer this machine directly"
    );

    let tmp = tempfile::tempdir().unwrap();
    let password = sb.password().unwrap();
    for (name, ssh) in [
        (
            "key",
            format!(
                "{{ user: root, auth: key, key-file: {}, jump: \"root@{bastion}\", connect-timeout: 5 }}",
                sb.key().display()
            ),
        ),
        (
            "password",
            format!(
                "{{ user: root, auth: password, password-env: {PASSWORD_ENV}, jump: \"root@{bastion}\", connect-timeout: 5 }}"
            ),
        ),
    ] {
        let profile =
            single_host_profile(tmp.path(), &format!("{name}.yaml"), &bundle, &inner, &ssh);
        let state = tmp.path().join(format!("state-{name}"));
        let out = dry_run(&profile, &tmp.path().join("work"), &password, &state, &[]);
        let not_pass: Vec<String> = out
            .results()
            .into_iter()
            .filter(|r| r["status"] == "fail")
            .map(|r| format!("{} {}", r["id"], r["message"]))
            .collect();
        assert_eq!(out.code, 0, "{name}: {}{not_pass:#?}", out.stderr);
        assert_eq!(out.find("ssh.login", &inner)["status"], "pass", "{name}");
        assert_eq!(
            out.find("os.distribution", &inner)["status"],
            "pass",
            "{name}"
        );
    }

    // The password logins left cdwiz's key on the bastion and the host;
    // `uninstall` takes both away, unless the profile keeps it
    // (`ssh.keep-key`).
    let own_key = |state: &std::path::Path| own_key_blob(state);
    // Read through the engine: node2 takes no SSH from this machine.
    let has_key = |host: usize, blob: String| async move {
        let (code, keys, err) = run_to_end(std::process::Command::new("docker").args([
            "exec",
            &sb.hosts[host].container,
            "cat",
            "/root/.ssh/authorized_keys",
        ]));
        assert_eq!(code, 0, "{err}");
        keys.contains(&blob)
    };
    let uninstall = |profile: &std::path::Path, state: &std::path::Path| {
        let (code, out, err) = run_to_end(
            std::process::Command::new(cdwiz_bin())
                .args(["uninstall", "--profile"])
                .arg(profile)
                .env(PASSWORD_ENV, &password)
                .env("CDWIZ_DATA_DIR", state),
        );
        assert_eq!(code, 0, "{out}{err}");
    };
    let state = tmp.path().join("state-password");
    let blob = own_key(&state);
    assert!(
        has_key(0, blob.clone()).await,
        "no key of cdwiz's on the bastion"
    );
    assert!(has_key(1, blob.clone()).await, "no key of cdwiz's on node2");
    uninstall(&tmp.path().join("password.yaml"), &state);
    assert!(
        !has_key(0, blob.clone()).await,
        "cdwiz's key left on the bastion"
    );
    assert!(!has_key(1, blob).await, "cdwiz's key left on node2");

    let ssh = format!(
        "{{ user: root, auth: password, password-env: {PASSWORD_ENV}, jump: \"root@{bastion}\", keep-key: true }}"
    );
    let kept = single_host_profile(tmp.path(), "kept.yaml", &bundle, &inner, &ssh);
    let state = tmp.path().join("state-kept");
    let out = dry_run(&kept, &tmp.path().join("work"), &password, &state, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    uninstall(&kept, &state);
    let blob = own_key(&state);
    assert!(
        has_key(0, blob.clone()).await,
        "keep-key: the bastion lost cdwiz's key"
    );
    assert!(has_key(1, blob).await, "keep-key: node2 lost cdwiz's key");
}

/// A site like the banks': a bastion that takes only its own key (as a
/// user of its own), targets that accept SSH only from the bastion and not
/// from each other, one with root by password on another port, one with a
/// non-root user whose sudo asks for the password. One profile with
/// per-host logins checks them all through the bastion; a wrong bastion key
/// is named as the bastion's refusal.
#[tokio::test(flavor = "multi_thread")]
async fn mixed_logins_through_a_bastion_with_its_own_key() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-site", 222, 3).await;
    let sb = &inst.sandbox;
    let addr: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let (bastion, h2, h3) = (&addr[0], &addr[1], &addr[2]);
    // The bastion: keys only.
    sh_ok(
        sb,
        0,
        "printf 'PasswordAuthentication no\\n' > /etc/ssh/sshd_config.d/00-keys-only.conf && \
         kill -HUP $(pgrep -o -x sshd) && echo ok",
    )
    .await;
    // node2: sshd on 2222 as well; node2 and node3: SSH only from the
    // bastion (not from this machine, not from each other).
    sh_ok(
        sb,
        1,
        "/usr/sbin/sshd -p 2222 -E /var/log/sshd-2222.log && echo ok",
    )
    .await;
    let filter = |other: &str| {
        format!(
            "for p in 22 2222; do iptables -I INPUT -p tcp --dport $p -s {gw} -j DROP; \
             iptables -I INPUT -p tcp --dport $p -s {other} -j DROP; done; echo ok",
            gw = sb.gateway()
        )
    };
    // node3 first, so that node2 (still reachable from here) can prove it.
    sh_ok(sb, 2, &filter(h2)).await;
    assert_ne!(
        sh(
            sb,
            1,
            "root",
            &format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{h3}/22'")
        )
        .await
        .code,
        0,
        "node2 must not reach node3's SSH"
    );
    sh_ok(sb, 1, &filter(h3)).await;
    assert!(!tcp_answers(h2, 2222).await && !tcp_answers(h3, 22).await);

    let tmp = tempfile::tempdir().unwrap();
    let password = sb.password().unwrap();
    let profile_with = |name: &str, bastion_key: &Path| {
        let path = tmp.path().join(name);
        std::fs::write(
            &path,
            format!(
                "version: 1\nbundle: {}\n\
                 topology: {{ kind: ha-keepalived, vip: {}, interface: eth0, virtual-router-id: 78 }}\n\
                 ssh:\n  user: root\n  auth: password\n  password-env: {PASSWORD_ENV}\n  connect-timeout: 5\n\
                 \x20 jump: {{ host: {bastion}, user: auto, auth: key, key-file: {} }}\n\
                 hosts:\n\
                 \x20 - {{ address: {h2}, roles: [master], ssh: {{ port: 2222 }} }}\n\
                 \x20 - {{ address: {h3}, roles: [master], ssh: {{ user: ops, sudo-password-env: {PASSWORD_ENV} }} }}\n",
                bundle.display(),
                sb.vip(),
                bastion_key.display()
            ),
        )
        .unwrap();
        path
    };
    let good = profile_with("site.yaml", &sb.key());
    // The plan shows each host's login, naming where secrets come from.
    let (_, plan_text, _) = run_to_end(
        std::process::Command::new(cdwiz_bin())
            .args(["validate", "--plan"])
            .arg(&good)
            .env(PASSWORD_ENV, &password),
    );
    assert!(
        plan_text.contains(&format!("root@{h2}:2222 (password from ${PASSWORD_ENV})"))
            && plan_text.contains(&format!(
                "ops@{h3}:22 (password from ${PASSWORD_ENV}, sudo password from ${PASSWORD_ENV})"
            ))
            && !plan_text.contains(&password),
        "{plan_text}"
    );

    let state = tmp.path().join("state");
    let out = dry_run(&good, &tmp.path().join("work"), &password, &state, &[]);
    let failed: Vec<String> = out
        .results()
        .into_iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| format!("{} {} {}", r["id"], r["host"], r["message"]))
        .collect();
    assert_eq!(out.code, 0, "{}{failed:#?}", out.stderr);
    for h in [h2, h3] {
        assert_eq!(out.find("ssh.root", h)["status"], "pass", "{h}");
        let peers = out.find("net.peers", h);
        assert_eq!(peers["status"], "pass", "{h}: {peers}");
        assert!(
            peers["message"].as_str().unwrap().contains("port 80"),
            "{peers}"
        );
    }

    // A key the bastion does not take: the bastion is named as the one
    // that refused.
    let stranger = tmp.path().join("stranger");
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&stranger)
            .status()
            .unwrap()
            .success()
    );
    let bad = profile_with("bad-bastion.yaml", &stranger);
    let out = dry_run(
        &bad,
        &tmp.path().join("work"),
        &password,
        &tmp.path().join("state2"),
        &[],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    let login = out.find("ssh.login", h2);
    assert_eq!(login["status"], "fail");
    assert!(
        login["message"].as_str().unwrap().contains(&format!(
            "the bastion auto@{bastion}:22 refused the login by its key file"
        )),
        "{login}"
    );
}
