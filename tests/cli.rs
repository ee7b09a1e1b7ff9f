//! The command line's answers to bad input and to a machine that lacks things.

mod common;

use std::process::Command;

use common::{cdwiz_bin, english};

fn cdwiz(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    common::run_to_end(
        Command::new(cdwiz_bin())
            .args(args)
            .envs(env.iter().copied()),
    )
}

#[test]
fn no_docker_engine_is_one_clear_sentence_with_what_to_do() {
    let (code, _, err) = cdwiz(
        &["sandbox", "status"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("no Docker engine answers at unix:///nonexistent/docker.sock"),
        "{err}"
    );
    assert!(err.contains("apt-get install -y docker.io"), "{err}");
    assert!(err.contains("scripts/setup-machine"), "{err}");
    assert_eq!(err.lines().count(), 1, "one sentence, no backtrace: {err}");
}

#[test]
fn an_unknown_fault_is_a_clear_error() {
    let (code, _, err) = cdwiz(
        &["sandbox", "fault", "--name", "t-none", "node1", "melt"],
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("unknown fault `melt`"), "{err}");
    assert!(err.contains("port-taken PORT"), "{err}");
}

#[test]
fn a_missing_instance_says_how_to_start_one() {
    // Status of nothing is an answer: exit 0, and how to start it.
    let (code, out, err) = cdwiz(&["sandbox", "status", "--name", "t-never-made"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no sandbox named `t-never-made`"), "{out}");
    assert!(
        out.contains("cdwiz sandbox up --name t-never-made"),
        "{out}"
    );
    // Acting on it is an error that says the same.
    let (code, _, err) = cdwiz(
        &[
            "sandbox",
            "fault",
            "--name",
            "t-never-made",
            "node1",
            "stop",
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("no sandbox named `t-never-made`"), "{err}");
    assert!(err.contains("cdwiz sandbox up"), "{err}");
}

/// The English of `text` outside `backticked` commands and names.
fn english_prose(text: &str) -> Vec<String> {
    let prose: String = text
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(" ");
    english(&prose)
}

#[test]
fn sandbox_errors_speak_the_operators_language() {
    let zh = [("LANG", "zh_CN.UTF-8")];
    // Refused before anything is built (no image, no bundle, no network).
    let (code, _, err) = cdwiz(&["sandbox", "up", "--hosts", "0"], &zh);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("一个沙箱有 1 到 32 台主机"), "{err}");
    assert!(english_prose(&err).is_empty(), "{err}");
    let (code, _, err) = cdwiz(&["sandbox", "up", "--name", "Bad_Name"], &zh);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`Bad_Name`"), "{err}");
    assert!(english_prose(&err).is_empty(), "{err}");
    let (code, _, err) = cdwiz(
        &[
            "sandbox",
            "fault",
            "--name",
            "t-never-made",
            "node1",
            "stop",
        ],
        &zh,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cdwiz sandbox up"), "{err}");
    assert!(english_prose(&err).is_empty(), "{err}");
    let (code, _, err) = cdwiz(
        &["sandbox", "status"],
        &[
            ("LANG", "zh_CN.UTF-8"),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("没有 Docker 引擎应答"), "{err}");
    // What the engine's client said (the reason) may stay English.
    let ours = err.split_once("：").map_or("", |(_, rest)| rest);
    let ours = ours.split_once("。").map_or(ours, |(_, rest)| rest);
    assert!(english_prose(ours).is_empty(), "{err}");
}

#[test]
fn bad_flags_exit_2() {
    let (code, _, err) = cdwiz(&["sandbox", "up", "--hosts", "many"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--hosts"), "{err}");
    let (code, _, err) = cdwiz(&["sandbox", "up", "--hosts", "99", "--name", "t-big"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("a sandbox has 1 to 32 hosts"), "{err}");
}

/// A bad profile in Chinese: the same exit code, the same field paths and
/// positions, the messages in Chinese.
#[test]
fn a_bad_profile_speaks_the_operators_language() {
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/profiles/bad/many-problems.yaml"
    );
    let run = |lang: &str| {
        cdwiz(
            &["--profile", profile, "--non-interactive", "--dry-run"],
            &[("LANG", lang), ("LC_ALL", ""), ("LC_MESSAGES", "")],
        )
    };
    let (en_code, _, en) = run("C.UTF-8");
    let (zh_code, _, zh) = run("zh_CN.UTF-8");
    assert_eq!((en_code, zh_code), (2, 2));
    // `file:line:column: field.path:` is the same in both.
    let where_ = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(profile)?.strip_prefix(':'))
            .map(|rest| {
                let parts = rest.splitn(3, ':').collect::<Vec<_>>();
                let path = parts.get(2).and_then(|r| r.trim().split(": ").next());
                format!(
                    "{}:{}:{}",
                    parts[0],
                    parts.get(1).unwrap_or(&""),
                    path.unwrap_or("")
                )
            })
            .collect()
    };
    assert!(where_(&en).len() >= 3, "{en}");
    assert_eq!(where_(&en), where_(&zh), "\n{en}\n{zh}");
    assert!(en.contains("problems in") && en.contains("hint:"), "{en}");
    assert!(zh.contains("个问题") && zh.contains("提示："), "{zh}");
    assert_ne!(en, zh);
    // `cdwiz validate` too, with --lang.
    let (code, _, zh_validate) = cdwiz(&["validate", profile, "--lang", "zh-CN"], &[]);
    assert_eq!(code, 2);
    assert_eq!(where_(&zh_validate), where_(&en));
}

/// Profiles travel between engineers: a value that would reach an ssh
/// config, a shell or a path unchecked is refused with exit 2 naming its
/// field, before anything runs (no run directory, no command).
#[test]
fn untrusted_profile_values_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let pwned = dir.path().join("pwned");
    std::fs::write(dir.path().join("hook.sh"), "true\n").unwrap();
    let base = |topology: &str, ssh: &str, host: &str, extra: &str| {
        format!(
            "version: 1\nbundle: ./b\ntopology: {topology}\nssh: {ssh}\nhosts:\n  - {host}\n  - {{ address: 192.0.2.12, roles: [master] }}\n{extra}"
        )
    };
    let keep = "{ kind: ha-keepalived, vip: 192.0.2.100, interface: eth0 }";
    let agent = "{ auth: agent }";
    let h11 = "{ address: 192.0.2.11, roles: [master] }";
    let touch = format!("touch {}", pwned.display());
    let cases = [
        (
            "ssh.jump",
            base(
                keep,
                &format!("{{ auth: agent, jump: \"bastion:22\\n  ProxyCommand {touch}\" }}"),
                h11,
                "",
            ),
        ),
        (
            "topology.interface",
            base(
                &format!("{{ kind: ha-keepalived, vip: 192.0.2.100, interface: \"$({touch})\" }}"),
                agent,
                h11,
                "",
            ),
        ),
        (
            "ssh.user",
            base(
                keep,
                &format!("{{ auth: agent, user: \"-oProxyCommand={touch}\" }}"),
                h11,
                "",
            ),
        ),
        (
            "hosts[0].data-dir",
            base(
                keep,
                agent,
                "{ address: 192.0.2.11, roles: [master], data-dir: data }",
                "",
            ),
        ),
        (
            "hosts[0].data-dir",
            base(
                keep,
                agent,
                &format!("{{ address: 192.0.2.11, roles: [master], data-dir: \"/data;{touch}\" }}"),
                "",
            ),
        ),
        (
            "hooks.pre-deploy",
            base(
                keep,
                agent,
                h11,
                "hooks: { pre-deploy: missing.sh, post-deploy: hook.sh }\n",
            ),
        ),
    ];
    for (field, text) in cases {
        let profile = dir.path().join("p.yaml");
        std::fs::write(&profile, &text).unwrap();
        let data = dir.path().join("data");
        let (code, out, err) = cdwiz(
            &["--profile", profile.to_str().unwrap(), "--non-interactive"],
            &[
                ("CDWIZ_DATA_DIR", data.to_str().unwrap()),
                ("LANG", "C.UTF-8"),
            ],
        );
        assert_eq!(code, 2, "{field}: {out}{err}");
        assert!(
            err.contains("p.yaml:") && err.contains(&format!(": {field}: ")),
            "{field}: {err}"
        );
        assert!(!err.contains('\u{1b}'), "{err}");
        assert!(
            !data.join("runs").exists(),
            "{field}: a run directory was made"
        );
        assert!(!pwned.exists(), "{field}: the injected command ran");
    }
}

#[test]
fn help_is_in_the_operators_language() {
    let (code, out, err) = cdwiz(&["--help", "--lang", "zh-CN"], &[]);
    assert_eq!(code, 0, "{err}");
    for word in ["用法", "命令", "断点续装", "只读", "显示帮助"] {
        assert!(out.contains(word), "`{word}` not in:\n{out}");
    }
    let (code, out, _) = cdwiz(&["--help"], &[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "")]);
    assert_eq!(code, 0);
    assert!(out.contains("用法"), "{out}");
    let (code, out, _) = cdwiz(&["--help"], &[("LANG", "C.UTF-8"), ("LC_ALL", "")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage") && out.contains("--non-interactive"),
        "{out}"
    );
    // Every subcommand's help too: no English sentence in it.
    for args in [
        &["sandbox", "--help"][..],
        &["sandbox", "up", "--help"],
        &["sandbox", "fault", "--help"],
        &["validate", "--help"],
        &["bundle", "--help"],
        &["bundle", "build", "--help"],
        &["bundle", "verify", "--help"],
        &["bundle", "pack", "--help"],
        &["uninstall", "--help"],
        &["status", "--help"],
    ] {
        let (code, out, err) = cdwiz(&[args, &["--lang", "zh-CN"]].concat(), &[]);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.contains("用法") && out.contains("显示帮助"),
            "{args:?}:\n{out}"
        );
        // Three English words in a row make a sentence (names, flags and
        // values such as `docker-stopped` or `text, json` do not).
        let english: Vec<&str> = out
            .lines()
            .filter(|l| !l.trim_start().starts_with('-') && !l.contains("用法"))
            .filter(|l| {
                l.split(|c: char| !(c.is_ascii_alphabetic() || c == ' '))
                    .any(|seg| {
                        seg.split(' ')
                            .collect::<Vec<_>>()
                            .windows(3)
                            .any(|w| w.iter().all(|x| x.len() >= 2))
                    })
            })
            .collect();
        assert!(
            english.is_empty(),
            "{args:?}: English lines {english:?}\n{out}"
        );
    }
    // Bad flags still exit 2 with the localized parser.
    let (code, _, err) = cdwiz(&["--no-such-flag", "--lang", "zh-CN"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_focus_is_read_from_the_colours() {
    let raw = "\x1b[30m\x1b[46mSSH password\x1b[39m\x1b[49m   secret\n\x1b[36m[ Next ]\x1b[0m";
    assert_eq!(common::tmux::focused_text(raw), "SSH password");
    let raw = "x \x1b[30;46m[ Next ]\x1b[0m y";
    assert_eq!(common::tmux::focused_text(raw), "[ Next ]");
}

/// A cdwiz that never exits (here it waits to read a pipe nobody writes)
/// is killed at the test's bound, and the failure names the command: no
/// test waits on a child without a limit.
#[test]
fn a_cdwiz_that_never_exits_is_ended_at_its_bound_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("profile.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let hung = common::spawn_cdwiz(&["validate".as_ref(), fifo.as_os_str()], &[]);
    let pid = hung.child.id();
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        hung.finish_within(std::time::Duration::from_secs(2))
    }));
    let said = panic_text(
        failed,
        "finish_within returned for a cdwiz that never exits",
    );
    assert!(
        said.contains("did not exit within 2 s")
            && said.contains("validate")
            && said.contains(&fifo.display().to_string()),
        "{said}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the hung cdwiz {pid} is still there"
    );
    // The same bound for a command run to its end.
    let started = std::time::Instant::now();
    let failed = std::panic::catch_unwind(|| {
        common::run_within(
            Command::new(cdwiz_bin()).arg("validate").arg(&fifo),
            std::time::Duration::from_secs(2),
        )
    });
    assert!(failed.is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

/// Output into a pipe whose reader is gone (`cdwiz schema | head -0`):
/// exit 141, as other command-line tools, and no panic report.
#[test]
fn a_closed_pipe_ends_cdwiz_quietly_with_141() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(cdwiz_bin())
        .arg("schema")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(141), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tests' nets: no net asked for twice in tests/*.rs, and a net held by one test
/// is refused to another at once, naming both, in this process and (by
/// its lock file) in any other; given back, it is free again.
#[test]
fn a_net_another_test_holds_is_refused_at_once_naming_both() {
    use common::nets;
    let used = nets::used();
    assert!(used.len() >= 34, "the tests' nets were not found: {used:?}");
    assert_eq!(nets::table_problems(&used), Vec::<String>::new());
    assert_eq!(
        nets::table_problems(&[("t-x", 201), ("t-y", 201), ("t-z", 230)]),
        [
            "net 201 is given to both `t-x` and `t-y`",
            "net 230 of `t-z` is kept for scripts/bench-checks"
        ]
    );
    let held = nets::claim("t-claim-a", 250);
    let second = std::panic::catch_unwind(|| nets::claim("t-claim-b", 250));
    let said = panic_text(second, "a second claim on a held net was granted");
    assert!(
        said.contains("net 250") && said.contains("t-claim-b") && said.contains("t-claim-a"),
        "{said}"
    );
    let lock = std::env::temp_dir().join("cdwiz-test-nets/250.lock");
    let flock = || {
        Command::new("flock")
            .arg("-n")
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap()
            .success()
    };
    assert!(!flock(), "another process could take the held net");
    drop(held);
    assert!(flock(), "the net was not given back");
}

/// What a call that must panic said; fails with `otherwise` when it
/// returned.
fn panic_text<T>(outcome: std::thread::Result<T>, otherwise: &str) -> String {
    outcome
        .err()
        .and_then(|p| p.downcast::<String>().ok())
        .map(|s| *s)
        .expect(otherwise)
}

/// The profile of the security review: variables of other programs, a
/// hook and a secret file in the home directory, a bastion of the author's
/// choosing. Refused before any connection (a listener on loopback stands
/// in for the author's host and sees none), naming each field; with the
/// operator's consent on the command line, `validate --plan` and the run's
/// `answers.yaml` list each source (the hook's sha256, no secret's hash),
/// and the run goes on to the bastion.
#[test]
fn a_profile_takes_nothing_of_the_operators_without_consent() {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let key = home.join(".ssh/id_ed25519");
    std::fs::write(
        &key,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n",
    )
    .unwrap();
    let pw = home.join("pw");
    std::fs::write(&pw, "operators-own-password\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let folder = dir.path().join("from-someone");
    std::fs::create_dir(&folder).unwrap();
    let profile = folder.join("p.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}/assets/products/cd\n\
             topology: {{ kind: ha-keepalived, vip: 192.0.2.100, interface: eth0 }}\n\
             ssh: {{ user: root, auth: password, password-env: AWS_SECRET_ACCESS_KEY, \
             sudo-password-env: GITHUB_TOKEN, jump: \"root@127.0.0.1:{port}\", connect-timeout: 5 }}\n\
             hosts:\n  - {{ address: 192.0.2.11, roles: [master] }}\n\
             \x20 - {{ address: 192.0.2.12, roles: [master], ssh: {{ password-file: ~/pw }} }}\n\
             hooks: {{ pre-deploy: ~/.ssh/id_ed25519 }}\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let work = dir.path().join("work");
    let env = |extra: &[&str]| {
        let mut c = Command::new(cdwiz_bin());
        c.args(extra)
            .env("HOME", &home)
            .env("CDWIZ_DATA_DIR", &data)
            .env("AWS_SECRET_ACCESS_KEY", "aws-secret-of-the-operator")
            .env("GITHUB_TOKEN", "github-token-of-the-operator")
            .env("LANG", "C.UTF-8");
        c
    };
    let p = profile.to_str().unwrap();
    let run = [
        "--non-interactive",
        "--profile",
        p,
        "--dry-run",
        "--workdir",
    ];
    let mut cmd = env(&run);
    let (code, out, err) = common::run_to_end(cmd.arg(&work));
    assert_eq!(code, 2, "{out}{err}");
    for field in [
        "ssh.password-env: AWS_SECRET_ACCESS_KEY",
        "ssh.sudo-password-env: GITHUB_TOKEN",
        "hooks.pre-deploy: ",
        "hosts[1].ssh.password-file: ",
    ] {
        assert!(err.contains(field), "`{field}` not named in:\n{err}");
    }
    assert!(err.contains("--allow-env AWS_SECRET_ACCESS_KEY"), "{err}");
    assert!(err.contains(&format!("--trust {}", key.display())), "{err}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection was opened before the refusal"
    );
    assert!(!work.exists(), "a run directory was made");

    let consent = [
        "--allow-env",
        "AWS_SECRET_ACCESS_KEY",
        "--allow-env",
        "GITHUB_TOKEN",
        "--trust",
        key.to_str().unwrap(),
        "--trust",
        pw.to_str().unwrap(),
    ];
    let hook_sha = format!("{:x}", Sha256::digest(std::fs::read(&key).unwrap()));
    let pw_sha = format!("{:x}", Sha256::digest(std::fs::read(&pw).unwrap()));
    let (code, out, err) = common::run_to_end(env(&consent).args(["validate", p, "--plan"]));
    assert_eq!(code, 0, "{out}{err}");
    let plan: serde_yaml::Value = serde_yaml::from_str(
        out.split_once('\n')
            .map(|(_, rest)| rest)
            .unwrap_or_default(),
    )
    .unwrap();
    let sources = plan["sources"].as_sequence().expect("sources listed");
    let by_field = |f: &str| {
        sources
            .iter()
            .find(|s| s["field"].as_str() == Some(f))
            .unwrap_or_else(|| panic!("{f} not listed in {out}"))
    };
    assert_eq!(
        by_field("hooks.pre-deploy")["sha256"].as_str(),
        Some(&*hook_sha)
    );
    assert_eq!(
        by_field("ssh.password-env")["from"].as_str(),
        Some("env AWS_SECRET_ACCESS_KEY")
    );
    assert_eq!(
        by_field("ssh.sudo-password-env")["from"].as_str(),
        Some("env GITHUB_TOKEN")
    );
    let file = by_field("hosts[1].ssh.password-file");
    assert_eq!(file["from"].as_str(), pw.to_str());
    assert!(file["sha256"].is_null() && !out.contains(&pw_sha), "{out}");

    // Consented, the run goes on: to the bastion first (the listener).
    let seen = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        listener.accept().is_ok()
    });
    let mut cmd = env(&consent);
    let (code, out, err) = common::run_to_end(cmd.args(run).arg(&work));
    assert_ne!(code, 2, "consented, it is not bad input:\n{out}{err}");
    assert!(seen.join().unwrap(), "no connection to the bastion");
    let answers = std::fs::read_dir(work.join("runs"))
        .unwrap()
        .flatten()
        .map(|d| std::fs::read_to_string(d.path().join("answers.yaml")).unwrap())
        .next()
        .expect("a run directory");
    assert!(
        answers.contains("# Taken from this machine:")
            && answers.contains(&format!(
                "hooks.pre-deploy: {} sha256:{hook_sha}",
                key.display()
            ))
            && answers.contains("ssh.password-env: env AWS_SECRET_ACCESS_KEY")
            && answers.contains(&format!("hosts[1].ssh.password-file: {}\n", pw.display())),
        "{answers}"
    );
    for secret in ["aws-secret-of-the-operator", "github-token", &pw_sha] {
        assert!(!answers.contains(secret), "{answers}");
    }
}

/// Only the known `*-env` keys name variables cdwiz takes from its
/// environment: an unknown one (`x-env: PATH`) is refused as an unknown
/// key, and PATH stays (cdwiz still finds ssh to say so).
#[test]
fn an_unknown_env_key_takes_nothing_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.yaml");
    std::fs::write(
        &profile,
        "version: 1\nbundle: ./b\ntopology: { kind: single }\n\
         ssh: { auth: agent, x-env: PATH }\n\
         hosts:\n  - { address: 192.0.2.11, roles: [master, worker] }\n",
    )
    .unwrap();
    let (code, out, err) = cdwiz(
        &["--profile", profile.to_str().unwrap(), "--non-interactive"],
        &[
            ("CDWIZ_DATA_DIR", dir.path().join("data").to_str().unwrap()),
            ("LANG", "C.UTF-8"),
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("ssh.x-env") && err.contains("unknown key"),
        "{err}"
    );
    assert!(!err.contains("OpenSSH client"), "PATH was taken: {err}");
}

/// `--expect-host-key` takes HOST=SHA256:…; anything else is bad input,
/// said with how to read a host's fingerprint.
#[test]
fn a_malformed_expected_host_key_is_bad_input() {
    for bad in ["192.0.2.11", "192.0.2.11=MD5:aa", "=SHA256:abc"] {
        let (code, _, err) = cdwiz(
            &["validate", "nowhere.yaml", "--expect-host-key", bad],
            &[("LANG", "C.UTF-8")],
        );
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(
            err.contains("HOST=SHA256:") && err.contains("ssh-keygen -lf"),
            "{bad}: {err}"
        );
    }
}

/// English, whatever this machine's locale.
const EN: &[(&str, &str)] = &[("LANG", "C.UTF-8"), ("LC_ALL", ""), ("LC_MESSAGES", "")];

/// Every command that works on an installation says it needs `--profile`
/// (exit 2), naming itself.
#[test]
fn commands_on_an_installation_need_a_profile() {
    for (args, what) in [
        (&["status"][..], "status"),
        (&["collect"], "collect"),
        (&["drill", "--yes"], "drill"),
        (&["backup"], "backup"),
        (&["restore", "--from", "b"], "restore"),
        (&["uninstall"], "uninstall"),
        (&["--non-interactive"], "--non-interactive"),
    ] {
        let (code, _, err) = cdwiz(args, EN);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(&format!("{what} needs --profile FILE")),
            "{err}"
        );
    }
}

/// `backup --verify` reads the backup before it asks any host: no backup
/// there is bad input (2); a part changed by one byte is refused (6),
/// naming it. The profile's documentation addresses are never connected to.
#[test]
fn a_damaged_backup_is_refused_before_any_host_is_asked() {
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/example-single.yaml");
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let verify = |backup: &std::path::Path| {
        let b = backup.to_str().unwrap();
        let mut env = EN.to_vec();
        env.push(("CDWIZ_SSH_PASSWORD", "not-used"));
        env.push(("CDWIZ_DATA_DIR", state.path().to_str().unwrap()));
        cdwiz(&["backup", "--profile", profile, "--verify", b], &env)
    };
    let (code, _, err) = verify(dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a cdwiz backup"), "{err}");
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/database.dump"), b"-- dump\n").unwrap();
    let index = serde_json::json!({
        "format": 1,
        "install": "i-0123456789abcdef",
        "product": "cd",
        "version": "1.0.0",
        "created": "2026-12-08T00:00:00Z",
        "hosts": ["192.0.2.10"],
        "parts": [{
            "name": "database",
            "kind": "data",
            "file": "data/database.dump",
            "size": 8,
            "sha256": "0000000000000000000000000000000000000000000000000000000000000000",
        }],
    });
    std::fs::write(dir.path().join("backup.json"), index.to_string()).unwrap();
    let (code, _, err) = verify(dir.path());
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("is damaged"), "{err}");
    assert!(
        err.contains("data/database.dump: not what the backup recorded (8 bytes now, 8 recorded"),
        "{err}"
    );
}
