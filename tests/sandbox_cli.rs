//! The `cdwiz sandbox up/status/down` commands themselves (not only the
//! library), and on the host they bring up: a login through ssh-agent
//! (`auth: agent`) and the per-command timeout against a live host.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const NAME: &str = "t-cli";
const NET: u8 = 237;

/// `cdwiz ARGS` to its end: whether it succeeded, and all it printed.
fn cdwiz(args: &[&str]) -> (bool, String) {
    let (code, out, err) = run_to_end(Command::new(cdwiz_bin()).args(args).env("LANG", "C.UTF-8"));
    (code == 0, out + &err)
}

/// Takes the instance down when the test ends, passed or not.
struct Down;

impl Drop for Down {
    fn drop(&mut self) {
        let _ = cdwiz(&["sandbox", "down", "--name", NAME]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_commands_agent_logins_and_command_timeouts() {
    let _ = sandbox_bundle().await;
    let net = NET;
    let _claim = nets::claim(NAME, net);
    let (_, _) = cdwiz(&["sandbox", "down", "--name", NAME]);
    let _down = Down;
    let (ok, text) = cdwiz(&[
        "sandbox",
        "up",
        "--name",
        NAME,
        "--net",
        &net.to_string(),
        "--hosts",
        "1",
    ]);
    assert!(ok, "{text}");
    let addr = format!("10.77.{net}.11");
    assert!(
        text.contains(&format!("sandbox `{NAME}` is up: 1 host in")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(&addr) && l.contains("running")),
        "{text}"
    );

    let (ok, text) = cdwiz(&["sandbox", "status", "--name", NAME]);
    assert!(ok, "{text}");
    let key = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("key: "))
        .unwrap_or_else(|| panic!("no key line:\n{text}"))
        .to_string();
    assert!(
        text.lines()
            .any(|l| l.contains(&addr) && l.contains("running")),
        "{text}"
    );

    // auth: agent: the key only in an agent of this test's own.
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent");
    let started = Instant::now();
    while !sock.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let added = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let bundle = sandbox_bundle().await;
    let profile = tmp.path().join("agent.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
             ssh: {{ user: root, auth: agent }}\n\
             hosts:\n  - {{ address: {addr}, roles: [master, worker] }}\n",
            bundle.display()
        ),
    )
    .unwrap();
    let run = |agent_sock: &std::path::Path| {
        let (code, out, _) = run_to_end(
            Command::new(cdwiz_bin())
                .args([
                    "--non-interactive",
                    "--dry-run",
                    "--output",
                    "text",
                    "--profile",
                ])
                .arg(&profile)
                .arg("--workdir")
                .arg(tmp.path().join("work"))
                .env("SSH_AUTH_SOCK", agent_sock)
                .env("CDWIZ_DATA_DIR", tmp.path().join("state"))
                .env("LANG", "C.UTF-8"),
        );
        (code, out)
    };
    let (code, text) = run(&sock);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("ssh.login") && l.contains("pass")),
        "{text}"
    );
    // Without the agent the same profile cannot log in.
    let (code, text) = run(&tmp.path().join("no-agent.sock"));
    assert_eq!(code, 3, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("ssh.login") && l.contains("FAIL")),
        "{text}"
    );
    let _ = agent.kill();
    let _ = agent.wait();

    // The per-command timeout: a command that outlives it is reported as
    // such, promptly, and the connection still serves the next command.
    let docker = cdwiz::docker::connect_local().await.unwrap();
    let (sb, _) = cdwiz::sandbox::status(&docker, &data_dir(), NAME)
        .await
        .unwrap();
    let t = target(&sb, 0, "root");
    let session = cdwiz::ssh::connect(&t).await.unwrap();
    let started = Instant::now();
    let r = cdwiz::ssh::run_script(&session, &addr, "sleep 30", Duration::from_secs(2)).await;
    let took = started.elapsed();
    match r {
        Err(cdwiz::ssh::SshError::Timeout { secs, .. }) => assert_eq!(secs, 2),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let out = cdwiz::ssh::run_script(&session, &addr, "echo still", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(out.stdout.trim(), "still");
    let _ = session.close().await;

    // down removes it, and is safe to repeat; status then says it is gone.
    let (ok, text) = cdwiz(&["sandbox", "down", "--name", NAME]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("sandbox `{NAME}` is down: 1 host removed")),
        "{text}"
    );
    let (ok, text) = cdwiz(&["sandbox", "down", "--name", NAME]);
    assert!(ok, "{text}");
    // Nothing up is an answer (exit 0) that says how to start it.
    let (ok, text) = cdwiz(&["sandbox", "status", "--name", NAME]);
    assert!(ok, "status of a removed sandbox: {text}");
    assert!(
        text.contains(&format!(
            "no sandbox named `{NAME}` is up here; start it with `cdwiz sandbox up --name {NAME}`"
        )),
        "{text}"
    );
}
