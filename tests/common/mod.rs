//! Shared helpers for integration tests against sandbox instances.
//!
//! Every test owns its instance (its own name and subnet), removes any
//! leftover of an earlier run first, and removes it again when done, even
//! when it fails.
#![allow(dead_code)]

use std::time::Duration;

use bollard::Docker;
use cdwiz::sandbox::{self, Sandbox, SandboxSpec};
use cdwiz::ssh::{self, SshTarget};

pub fn cdwiz_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cdwiz")
}

pub fn data_dir() -> std::path::PathBuf {
    cdwiz::paths::data_dir()
}

/// Removes the instance when dropped (also when the test panics).
pub struct Instance {
    pub docker: Docker,
    pub sandbox: Sandbox,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let name = self.sandbox.name.clone();
        // Drop runs inside the test's runtime: tear down on a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let docker = cdwiz::docker::connect_local().await.expect("docker");
                sandbox::down(&docker, &data_dir(), &name).await
            })
        })
        .join();
    }
}

/// Brings up a fresh instance `name` with `hosts` hosts on 10.77.`net`.0/24.
pub async fn instance(name: &str, net: u8, hosts: usize) -> Instance {
    let docker = cdwiz::docker::connect_local()
        .await
        .expect("a Docker engine (scripts/setup-machine starts one)");
    sandbox::down(&docker, &data_dir(), name)
        .await
        .expect("remove leftovers");
    let spec = SandboxSpec {
        name: name.into(),
        hosts,
        net,
    };
    let sandbox = sandbox::up(&docker, &data_dir(), &spec, &|_| {})
        .await
        .expect("sandbox up");
    Instance { docker, sandbox }
}

pub fn target(sb: &Sandbox, host: usize, user: &str) -> SshTarget {
    sb.ssh_target(&sb.hosts[host], user)
}

/// Runs a script on a host as `user` over a fresh key-based session.
pub async fn sh(sb: &Sandbox, host: usize, user: &str, script: &str) -> ssh::RemoteOutput {
    let t = target(sb, host, user);
    let session = ssh::connect(&t).await.expect("ssh connect");
    let out = ssh::run_script(&session, &t.address, script, Duration::from_secs(60))
        .await
        .expect("ssh run");
    let _ = session.close().await;
    out
}

/// Like [`sh`] as root, asserting success; returns trimmed stdout.
pub async fn sh_ok(sb: &Sandbox, host: usize, script: &str) -> String {
    let out = sh(sb, host, "root", script).await;
    assert_eq!(
        out.code, 0,
        "`{script}` on {} failed: {}",
        sb.hosts[host].name, out.stderr
    );
    out.stdout.trim().to_string()
}

/// Polls `check` every 200 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// True when a TCP connection to address:port succeeds within 2 s.
pub async fn tcp_answers(address: &str, port: u16) -> bool {
    tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((address, port)),
    )
    .await
    .is_ok_and(|r| r.is_ok())
}

/// The sandbox product bundle (built once per machine, then reused).
pub async fn sandbox_bundle() -> std::path::PathBuf {
    sandbox::bundle::ensure_bundle(&sandbox::sandbox_root(&data_dir()), &|_| {})
        .await
        .expect("sandbox bundle")
        .dir
}
