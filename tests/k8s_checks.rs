//! The k8s topology's failures before any cluster answers: clear errors
//! for a missing kubeconfig, an unknown context and an API server that
//! does not answer on loopback. (tests/k8s_cluster.rs runs the rest
//! against a real cluster.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::cdwiz_bin;
use serde_json::Value;

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

/// A k8s profile (with the CD manifest as its bundle) using `kubeconfig`.
fn setup(kubeconfig: Option<&str>, context: Option<&str>) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("bundle")).unwrap();
    std::fs::copy(
        root.join("assets/products/cd/manifest.yaml"),
        dir.join("bundle/manifest.yaml"),
    )
    .unwrap();
    if let Some(k) = kubeconfig {
        std::fs::write(dir.join("kubeconfig.yaml"), k).unwrap();
    }
    let context = context
        .map(|c| format!(", context: {c}"))
        .unwrap_or_default();
    std::fs::write(
        dir.join("k8s.yaml"),
        format!(
            "version: 1\nbundle: ./bundle\n\
             topology: {{ kind: k8s, kubeconfig: ./kubeconfig.yaml, namespace: cd-platform{context} }}\n"
        ),
    )
    .unwrap();
    Setup { _tmp: tmp, dir }
}

fn run(s: &Setup, extra: &[&str]) -> (i32, Vec<Value>, String, Duration) {
    let started = Instant::now();
    let out = Command::new(cdwiz_bin())
        .arg("--profile")
        .arg(s.dir.join("k8s.yaml"))
        .args(["--non-interactive", "--output", "json", "--workdir"])
        .arg(s.dir.join("work"))
        .args(extra)
        .env("CDWIZ_DATA_DIR", s.dir.join("state"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

fn result<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["event"] == "check" && l["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {lines:?}"))
}

fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n\
         clusters:\n- name: c\n  cluster: {{ server: \"{server}\", insecure-skip-tls-verify: true }}\n\
         users:\n- name: u\n  user: {{ token: not-a-real-token }}\n\
         contexts:\n- name: a\n  context: {{ cluster: c, user: u }}\n- name: b\n  context: {{ cluster: c, user: u }}\n"
    )
}

#[test]
fn a_missing_kubeconfig_is_named_and_the_rest_is_not_judged() {
    let s = setup(None, None);
    let (code, lines, err, _) = run(&s, &["--dry-run"]);
    assert_eq!(code, 3, "{err}");
    let r = result(&lines, "k8s.kubeconfig");
    assert_eq!(r["status"], "fail");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("kubeconfig.yaml") && msg.contains("cannot read"),
        "{msg}"
    );
    assert_eq!(result(&lines, "k8s.api")["status"], "skip");
    // Accepted with a reason, the run goes on: the manifests are rendered;
    // a deploy then stops at the same cause, with the same words.
    let accept = ["--accept-check", "k8s.kubeconfig=rendering only"];
    let (code, lines, err, _) = run(&s, &[&["--dry-run"][..], &accept[..]].concat());
    assert_eq!(code, 0, "{err}");
    let summary = lines.iter().find(|l| l["event"] == "summary").unwrap();
    assert_eq!(summary["rendered"]["files"], 12, "{summary}");
    let (code, _, err, _) = run(&s, &accept);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("cannot read the kubeconfig") && err.contains("kubeconfig.yaml"),
        "{err}"
    );
}

#[test]
fn an_unknown_context_lists_the_known_ones() {
    let s = setup(Some(&kubeconfig("https://127.0.0.1:1")), Some("prod"));
    let (code, lines, err, _) = run(&s, &["--dry-run"]);
    assert_eq!(code, 3, "{err}");
    let r = result(&lines, "k8s.context");
    assert_eq!(r["status"], "fail");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("no context `prod`") && msg.contains("a, b"),
        "{msg}"
    );
}

#[test]
fn an_api_server_that_does_not_answer_on_loopback_fails_fast_and_clearly() {
    // A loopback port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = setup(
        Some(&kubeconfig(&format!("https://127.0.0.1:{port}"))),
        None,
    );
    let (code, lines, err, took) = run(&s, &["--dry-run"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(result(&lines, "k8s.context")["status"], "pass");
    let r = result(&lines, "k8s.api");
    assert_eq!(r["status"], "fail");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "cannot reach the API server at https://127.0.0.1:{port}"
        )),
        "{msg}"
    );
    assert!(
        msg.to_lowercase().contains("refused"),
        "the cause is named: {msg}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(result(&lines, "k8s.namespace")["status"], "skip");
}

/// A kubeconfig is untrusted like the profile: a user that logs in by
/// running a program here (`exec`) is refused, the whole command named,
/// and nothing runs (the command would leave a file); allowed with
/// `--allow-exec` and exactly that command line, it runs.
#[test]
fn a_kubeconfig_that_runs_a_program_is_refused_until_allowed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ran = tempfile::tempdir().unwrap();
    let mark = ran.path().join("exec-ran");
    let config = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n\
         clusters:\n- name: c\n  cluster: {{ server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true }}\n\
         users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n\
         \x20     command: sh\n      args: [\"-c\", \"touch {mark}; echo '{{\\\"apiVersion\\\":\\\"client.authentication.k8s.io/v1beta1\\\",\\\"kind\\\":\\\"ExecCredential\\\",\\\"status\\\":{{\\\"token\\\":\\\"t\\\"}}}}'\"]\n\
         contexts:\n- name: a\n  context: {{ cluster: c, user: u }}\n",
        mark = mark.display()
    );
    let s = setup(Some(&config), None);
    let (code, lines, err, _) = run(&s, &["--dry-run"]);
    assert_eq!(code, 3, "{err}");
    let r = result(&lines, "k8s.kubeconfig");
    assert_eq!(r["status"], "fail");
    let msg = r["message"].as_str().unwrap();
    let command = format!(
        "sh -c 'touch {}; echo '\\''{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"t\"}}}}'\\'''",
        mark.display()
    );
    assert!(
        msg.contains(&command),
        "the whole command:\n{msg}\n{command}"
    );
    assert!(
        r["hint"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("--allow-exec"),
        "{r}"
    );
    assert_eq!(result(&lines, "k8s.api")["status"], "skip");
    assert!(!mark.exists(), "the kubeconfig's command ran");

    // Allowed, exactly that line: the client is made (the command runs
    // when it asks the API server, which does not answer here).
    let (code, lines, err, _) = run(&s, &["--dry-run", "--allow-exec", &command]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(result(&lines, "k8s.kubeconfig")["status"], "pass");
    assert_eq!(result(&lines, "k8s.api")["status"], "fail");
    assert!(mark.exists(), "allowed, the command ran: {lines:?}");
}
