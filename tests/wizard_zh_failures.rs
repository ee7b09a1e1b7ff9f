//! A Chinese session that goes wrong, in the real binary in tmux against a
//! sandbox host: an unreachable host on the checks screen, a damaged bundle
//! refused at deploy, and a host whose run lock another installer holds.
//! Each screen is in Chinese: no English sentence of cdwiz's own on it
//! (addresses, paths, check ids and names such as Docker stay as they are).

mod common;

use std::path::Path;
use std::time::Duration;

use common::tmux::Tmux;
use common::*;

const PASSWORD_ENV: &str = "CDWIZ_SSH_PASSWORD";

/// A profile: `single` on one host, else `ha-keepalived` with `vip`.
fn profile(dir: &Path, name: &str, bundle: &Path, hosts: &[&str], vip: &str) {
    let topology = if hosts.len() == 1 {
        "{ kind: single }".to_string()
    } else {
        format!("{{ kind: ha-keepalived, vip: {vip}, interface: eth0, virtual-router-id: 64 }}")
    };
    let hosts: String = hosts
        .iter()
        .map(|a| format!("  - {{ address: {a}, roles: [master, worker] }}\n"))
        .collect();
    std::fs::write(
        dir.join(name),
        format!(
            "version: 1\nbundle: {}\ntopology: {topology}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV}, connect-timeout: 3 }}\n\
             hosts:\n{hosts}",
            bundle.display()
        ),
    )
    .unwrap();
}

/// Starts the wizard on `file` in Chinese and goes to the checks.
fn to_checks(dir: &Path, state: &Path, password: &str, file: &str) -> Tmux {
    let tmux = Tmux::new(file.trim_end_matches(".yaml"));
    tmux.start(
        dir,
        &[
            ("CDWIZ_DATA_DIR", state.to_str().unwrap()),
            (PASSWORD_ENV, password),
            ("LANG", "zh_CN.UTF-8"),
        ],
        &format!("--profile {file}"),
    );
    tmux.wait_for("按回车键开始", Duration::from_secs(20));
    tmux.keys(&["Enter", "Enter", "Enter", "Enter"]);
    tmux
}

fn assert_chinese(what: &str, screen: &str) {
    if let Ok(dir) = std::env::var("CDWIZ_TEST_SCREENS") {
        let _ = std::fs::write(format!("{dir}/{}.txt", what.replace(' ', "-")), screen);
    }
    let found = english(screen);
    assert!(
        found.is_empty(),
        "{what}: English on screen: {found:?}\n{screen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chinese_session_that_goes_wrong_stays_chinese() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-zh", 227, 1).await;
    let sb = &inst.sandbox;
    let addr = sb.hosts[0].address.clone();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("state");

    // A host that does not answer, beside one that does.
    let nobody = sb.unreachable_address();
    profile(
        dir,
        "unreachable.yaml",
        &bundle,
        &[&addr, &nobody],
        &sb.vip(),
    );
    let tmux = to_checks(dir, &state, &password, "unreachable.yaml");
    tmux.wait_for("预检：通过", Duration::from_secs(120));
    tmux.keys(&["Right"]); // the unreachable host's column
    let s = tmux.wait_for("无响应", Duration::from_secs(10));
    assert_chinese("an unreachable host", &s);
    tmux.keys(&["Enter"]); // blocked: the message says why
    assert_chinese("checks that block", &tmux.screen());
    drop(tmux);

    // A damaged bundle: refused when the deploy verifies it.
    let damaged = dir.join("damaged");
    std::fs::create_dir_all(damaged.join("images/amd64")).unwrap();
    std::fs::copy(bundle.join("manifest.yaml"), damaged.join("manifest.yaml")).unwrap();
    for e in std::fs::read_dir(bundle.join("images/amd64")).unwrap() {
        let e = e.unwrap();
        std::fs::write(damaged.join("images/amd64").join(e.file_name()), b"not it").unwrap();
    }
    profile(dir, "damaged.yaml", &damaged, &[&addr], "");
    let tmux = to_checks(dir, &state, &password, "damaged.yaml");
    tmux.wait_for("预检：通过", Duration::from_secs(120));
    tmux.keys(&["a", "Enter"]);
    tmux.wait_for("渲染出的文件", Duration::from_secs(60));
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("文件已损坏或被改动", Duration::from_secs(60));
    assert_chinese("a damaged bundle", &s);
    drop(tmux);

    // Another installer's live run holds the host's lock.
    let now = sh_ok(sb, 0, "date +%s").await;
    sh_ok(
        sb,
        0,
        &format!(
            "printf '%s' '{{\"run\":\"20261201-090000-abcd\",\"installer\":\"laptop-2\",\
             \"machine\":\"0123\",\"pid\":4242,\"started\":{now}}}' > /run/cdwiz.lock"
        ),
    )
    .await;
    profile(dir, "locked.yaml", &bundle, &[&addr], "");
    let tmux = to_checks(dir, &state, &password, "locked.yaml");
    tmux.wait_for("预检：通过", Duration::from_secs(120));
    tmux.keys(&["a", "Enter"]);
    tmux.wait_for("渲染出的文件", Duration::from_secs(60));
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("另一个 cdwiz 任务正在占用该主机", Duration::from_secs(60));
    assert!(s.contains("laptop-2"), "{s}");
    assert_chinese("a held lock", &s);
    drop(tmux);
    sh_ok(sb, 0, "rm -f /run/cdwiz.lock").await;
}

#[test]
fn english_runs_are_found_and_names_are_not() {
    assert_eq!(
        english("失败：could not reach the host（10.0.0.1）"),
        vec!["could not reach the host".to_string()]
    );
    assert!(english("Docker API 正常；SSH 端口 22；/data/cd/config；net.ports").is_empty());
    assert!(english(" cdwiz  1.欢迎  Enter 下一步  Esc 返回").is_empty());
}
