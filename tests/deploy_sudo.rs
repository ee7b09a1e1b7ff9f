//! Root login disabled: a user whose sudo asks for the password and who is
//! not in the `docker` group deploys the platform end to end. The Docker
//! API is carried through sudo (`sudo docker system dial-stdio`), and the
//! socket's permissions on the host are left as they were.

mod common;

use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

#[tokio::test(flavor = "multi_thread")]
async fn a_sudo_user_outside_the_docker_group_deploys() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-sudodeploy", 223, 1).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let addr = sb.hosts[0].address.clone();
    let socket = "stat -L -c '%a %U %G' /var/run/docker.sock";
    let socket_before = sh_ok(sb, 0, socket).await;
    assert!(
        !sh_ok(sb, 0, "id -nG ops")
            .await
            .split_whitespace()
            .any(|g| g == "docker"),
        "ops must not be in the docker group"
    );
    assert_ne!(
        sh(sb, 0, "ops", "test -w /var/run/docker.sock").await.code,
        0
    );
    // Root may not log in over SSH any more.
    sh_ok(
        sb,
        0,
        "printf 'PermitRootLogin no\\n' > /etc/ssh/sshd_config.d/00-no-root.conf && \
         kill -HUP $(pgrep -o -x sshd) && sleep 0.5 && echo ok",
    )
    .await;
    let root = target(sb, 0, "root");
    assert!(
        cdwiz::ssh::connect(&root).await.is_err(),
        "root login must be refused"
    );

    let tmp = tempfile::tempdir().unwrap();
    let (work, state) = (tmp.path().join("work"), tmp.path().join("state"));
    let profile = tmp.path().join("ops.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
             ssh: {{ user: ops, auth: password, password-env: {PASSWORD_ENV}, sudo-password-env: {PASSWORD_ENV} }}\n\
             hosts:\n  - {{ address: {addr}, roles: [master] }}\n",
            bundle.display()
        ),
    )
    .unwrap();
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    // The check proves the API is reachable the way deploy will reach it.
    let (code, lines, err) = run.start(&["--dry-run"]).finish();
    assert_eq!(code, 0, "{err}");
    let api = lines
        .iter()
        .find(|l| l["event"] == "check" && l["id"] == "runtime.docker-api")
        .expect("runtime.docker-api");
    assert_eq!(api["status"], "pass", "{api}");
    assert!(
        api["message"]
            .as_str()
            .unwrap()
            .contains("sudo docker system dial-stdio"),
        "{api}"
    );

    let (code, _, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    let health = http_get(&addr, 80, "/api/health").await;
    assert_eq!(
        health,
        Some((200, r#"{"database":"ok","cache":"ok"}"#.to_string()))
    );
    // A second run changes nothing, through the same path.
    let (code, lines, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    assert!(
        lines
            .iter()
            .filter(|l| l["event"] == "deploy-step")
            .all(|l| l["status"] == "unchanged"),
        "{lines:?}"
    );
    // Root cannot log in: look as `auto` (sudo without a password).
    let after = sh(sb, 0, "auto", &format!("sudo -n {socket}")).await;
    assert_eq!(after.stdout.trim(), socket_before, "the socket was changed");
}
