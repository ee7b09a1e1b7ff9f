//! The real binary in tmux against the sandbox: an operator types three
//! hosts and goes through checks and review to a deployed platform, in
//! English and (with `LANG=zh_CN.UTF-8`) in Chinese; then the saved profile
//! is replayed with `--profile`, the operator only confirming each screen.
//! Every step waits for and asserts on the captured screen.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::tmux::Tmux;
use common::*;

/// Strings the flow waits for, per language.
struct Words {
    begin: &'static str,
    checks_done: &'static str,
    files: &'static str,
    saved: &'static str,
    complete: &'static str,
    hosts_title: &'static str,
    locale: &'static str,
}

const EN: Words = Words {
    begin: "Press Enter to begin",
    checks_done: "Checks: ",
    files: "Rendered files",
    saved: "Answers saved to",
    complete: "Installation complete",
    hosts_title: "Host addresses",
    locale: "en",
};

const ZH: Words = Words {
    begin: "按回车键开始",
    checks_done: "预检：通过",
    files: "渲染出的文件",
    saved: "已保存配置文件到",
    complete: "安装完成",
    hosts_title: "主机地址",
    locale: "zh-CN",
};

/// Typing the whole installation: three hosts, their password, the data
/// disk, the VIP, the bundle; accept warnings; save; deploy.
fn typed_install(
    tmux: &Tmux,
    w: &Words,
    addrs: &[String],
    password: &str,
    vip: &str,
    bundle: &Path,
) -> String {
    let long = Duration::from_secs(300);
    tmux.wait_for(w.begin, Duration::from_secs(20));
    tmux.keys(&["Enter"]);
    tmux.keys(&["Down", "Enter"]); // ha-keepalived
    tmux.wait_for(w.hosts_title, Duration::from_secs(10));
    for (i, a) in addrs.iter().enumerate() {
        tmux.text(a);
        if i + 1 < addrs.len() {
            tmux.keys(&["Enter"]);
        }
    }
    let field = |key: &str| cdwiz::i18n::text(&format!("wizard.field.{key}"), w.locale);
    let next = format!("[ {} ]", cdwiz::i18n::text("wizard.button.next", w.locale));
    tmux.focus(&field("ssh-password"));
    tmux.text(password);
    tmux.focus(&field("data-disk"));
    tmux.text("/dev/vdb");
    tmux.focus(&field("format-data-disk"));
    tmux.keys(&["Space"]);
    tmux.focus(&next);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("eth0", Duration::from_secs(10)); // settings
    assert!(!s.contains(password), "the password is on the screen:\n{s}");
    tmux.focus(&field("vip"));
    tmux.text(vip);
    // The bundle replaces `sandbox`.
    tmux.focus(&field("bundle"));
    tmux.keys(&["BSpace"; 7]);
    tmux.text(&bundle.display().to_string());
    tmux.focus(&next);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(w.checks_done, Duration::from_secs(120));
    assert!(
        s.contains(&format!(".{}", addrs[0].rsplit('.').next().unwrap())),
        "{s}"
    );
    tmux.keys(&["a", "Enter"]);
    tmux.wait_for(w.files, Duration::from_secs(60));
    tmux.keys(&["s"]);
    tmux.wait_for(w.saved, Duration::from_secs(10));
    tmux.keys(&["Enter"]);
    tmux.wait_for(w.complete, long)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_installs_through_the_wizard() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-wizard", 217, 3).await;
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let vip = sb.vip();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let state_s = state.to_str().unwrap().to_string();
    let uninstall = |profile: &Path| {
        let out = Command::new(cdwiz_bin())
            .args(["uninstall", "--purge", "--yes", "--profile"])
            .arg(profile)
            .env("CDWIZ_SSH_PASSWORD", &password)
            .env("CDWIZ_DATA_DIR", &state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };

    // In English, typed.
    let tmux = Tmux::new("en");
    tmux.start(
        tmp.path(),
        &[("CDWIZ_DATA_DIR", &state_s), ("LANG", "C.UTF-8")],
        "",
    );
    let s = typed_install(&tmux, &EN, &addrs, &password, &vip, &bundle);
    assert!(s.contains(&format!("http://{vip}/")), "{s}");
    assert!(!s.contains(&password));
    let (status, body) = http_get(&vip, 80, "/api/health").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"database":"ok","cache":"ok"}"#)
    );
    let profile = tmp.path().join("cdwiz-profile.yaml");
    let saved = std::fs::read_to_string(&profile).unwrap();
    assert!(
        !saved.contains(&password),
        "the password was saved:\n{saved}"
    );
    assert!(
        saved.contains("password-env: CDWIZ_SSH_PASSWORD") && saved.contains(&vip),
        "{saved}"
    );
    tmux.keys(&["Enter"]);
    drop(tmux);
    uninstall(&profile);
    std::fs::remove_file(&profile).unwrap();

    // In Chinese (from LANG), typed again onto the clean hosts.
    let tmux = Tmux::new("zh");
    tmux.start(
        tmp.path(),
        &[("CDWIZ_DATA_DIR", &state_s), ("LANG", "zh_CN.UTF-8")],
        "",
    );
    let s = typed_install(&tmux, &ZH, &addrs, &password, &vip, &bundle);
    assert!(
        s.contains("平台访问地址") && s.contains(&format!("http://{vip}/")),
        "{s}"
    );
    let (status, _) = http_get(&vip, 80, "/api/health").await.unwrap();
    assert_eq!(status, 200);
    // The completion report of that run is in Chinese too.
    let mut reports: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("summary.md"))
        .filter(|p| p.exists())
        .collect();
    reports.sort();
    let report = std::fs::read_to_string(reports.last().unwrap()).unwrap();
    assert!(
        report.starts_with("# 安装完成") && report.contains("平台访问地址"),
        "{report}"
    );
    drop(tmux);
    uninstall(&profile);
    for (i, a) in addrs.iter().enumerate() {
        let left = sh(sb, i, "root", "test -e /etc/cdwiz/install.json").await;
        assert_ne!(left.code, 0, "{a} still has the install");
    }

    // profiles/sandbox-ha.yaml replayed (moved onto this test's subnet and
    // bundle) onto the clean hosts: the operator only confirms each screen;
    // the password comes from the environment variable the profile names.
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/profiles/sandbox-ha.yaml"
    ))
    .unwrap();
    let net = addrs[0].rsplit_once('.').unwrap().0.to_string();
    std::fs::write(
        tmp.path().join("sandbox-ha.yaml"),
        shipped
            .replace("10.77.0.", &format!("{net}."))
            .replace("bundle: sandbox", &format!("bundle: {}", bundle.display())),
    )
    .unwrap();
    let tmux = Tmux::new("profile");
    tmux.start(
        tmp.path(),
        &[
            ("CDWIZ_DATA_DIR", &state_s),
            ("CDWIZ_SSH_PASSWORD", &password),
            ("LANG", "C.UTF-8"),
        ],
        "--profile sandbox-ha.yaml",
    );
    let s = tmux.wait_for(EN.begin, Duration::from_secs(20));
    assert!(s.contains("sandbox-ha.yaml"), "{s}");
    tmux.keys(&["Enter", "Enter"]); // welcome, topology
    let s = tmux.wait_for(&addrs[2], Duration::from_secs(10));
    assert!(s.contains(&addrs[0]) && s.contains("/dev/vdb"), "{s}");
    tmux.keys(&["Enter"]); // hosts: on Next
    tmux.wait_for(&vip, Duration::from_secs(10));
    tmux.keys(&["Enter"]); // settings: on Next
    tmux.wait_for(EN.checks_done, Duration::from_secs(120));
    tmux.keys(&["a", "Enter"]);
    tmux.wait_for(EN.files, Duration::from_secs(60));
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(EN.complete, Duration::from_secs(300));
    assert!(s.contains(&format!("http://{vip}/")), "{s}");
    drop(tmux);

    // The same profile again: the Welcome screen's Status asks the hosts
    // (read-only) and shows every component running and the VIP's holder.
    let tmux = Tmux::new("profile-status");
    tmux.start(
        tmp.path(),
        &[
            ("CDWIZ_DATA_DIR", &state_s),
            ("CDWIZ_SSH_PASSWORD", &password),
            ("LANG", "C.UTF-8"),
        ],
        "--profile sandbox-ha.yaml",
    );
    tmux.wait_for(EN.begin, Duration::from_secs(20));
    tmux.keys(&["Down", "Enter"]); // Status
    let s = tmux.wait_for("all is well", Duration::from_secs(60));
    assert!(s.contains(&format!("VIP {vip}: held by")), "{s}");
    assert!(s.contains("backend") && s.contains("running"), "{s}");
}
