//! `ha-lb` on the sandbox: two masters behind the customer's load balancer,
//! played by a third sandbox host running haproxy (the customer's, not
//! managed by cdwiz). Deploy verifies the platform through the LB address,
//! and the backend's health through it proves database and cache.

mod common;

use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
const LB_PORT: u16 = 8088;

#[tokio::test(flavor = "multi_thread")]
async fn ha_lb_answers_through_the_load_balancer() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-lb", 215, 3).await;
    let sb = &inst.sandbox;
    let addrs: Vec<String> = sb.hosts.iter().map(|h| h.address.clone()).collect();
    let lb = addrs[2].clone();
    let password = sb.password().unwrap();

    // The customer's load balancer: haproxy on node3, checking both masters.
    start_load_balancer(sb, 2, LB_PORT, &[&addrs[0], &addrs[1]]).await;
    assert!(tcp_answers(&lb, LB_PORT).await, "haproxy listens");

    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("lb.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\n\
             topology: {{ kind: ha-lb, lb-address: {lb}, lb-port: {LB_PORT} }}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
             hosts:\n  - {{ address: {}, roles: [master] }}\n  - {{ address: {}, roles: [master, worker] }}\n",
            bundle.display(),
            addrs[0],
            addrs[1]
        ),
    )
    .unwrap();
    let state = tmp.path().join("state");
    let work = tmp.path().join("work");
    let (code, lines, err) = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    }
    .start(&[])
    .finish();
    assert_eq!(code, 0, "{err}\n{lines:?}");
    assert!(
        lines
            .iter()
            .any(|v| is_step(v, "cluster", "verify", &["unchanged"])),
        "{lines:?}"
    );
    let summary = lines
        .iter()
        .find(|v| v["event"] == "deploy-summary")
        .unwrap();
    assert_eq!(summary["url"], format!("http://{lb}:{LB_PORT}/"));
    // No keepalived in ha-lb: the customer's LB owns the entry.
    assert!(
        !lines.iter().any(|v| v["step"] == "component keepalived"),
        "{lines:?}"
    );
    let (status, body) = http_get(&lb, LB_PORT, "/api/health").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"database":"ok","cache":"ok"}"#)
    );
    // Both masters serve behind it.
    for a in &addrs[..2] {
        assert!(
            matches!(http_get(a, 80, "/api/").await, Some((200, _))),
            "{a}"
        );
    }

    // Status: both masters' components running as rendered (database and
    // cache on the first), no VIP of cdwiz's, the entry through the LB.
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let (code, v) = status_json(&run, &profile);
    assert_eq!(code, 0, "{v:#}");
    assert_all_well(&v, &[&addrs[0], &addrs[1]], &[4, 2]);
    assert!(v.get("vip").is_none(), "{v:#}");
    assert_eq!(
        v["entry"]["url"],
        format!("http://{lb}:{LB_PORT}/api/health"),
        "{v:#}"
    );
    // The backend stopped by hand on node2: named, exit 5.
    sh_ok(sb, 1, "docker stop cd-backend >/dev/null").await;
    let (code, v) = status_json(&run, &profile);
    assert_eq!(code, 5, "{v:#}");
    let backend = v["hosts"][1]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backend")
        .cloned()
        .unwrap_or_else(|| panic!("no backend on node2: {v:#}"));
    assert_ne!(backend["state"], "running", "{v:#}");
}
