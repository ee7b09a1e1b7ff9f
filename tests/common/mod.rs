//! Shared helpers for integration tests against sandbox instances.
//!
//! Every test owns its instance (its own name and subnet), removes any
//! leftover of an earlier run first, and removes it again when done, even
//! when it fails.
#![allow(dead_code)]

pub mod ha;
mod http;
pub mod kube;
mod local;
pub mod nets;
pub mod tmux;

#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use local::*;

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

/// Removes the instance when dropped (also when the test panics), then
/// gives its net back.
pub struct Instance {
    pub docker: Docker,
    pub sandbox: Sandbox,
    _net: std::sync::Arc<nets::NetClaim>,
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

/// Brings up a fresh instance `name` with `hosts` hosts on 10.77.`net`.0/24
/// (each test its own net: [`nets`]), after removing any leftover of it.
pub async fn instance(name: &str, net: u8, hosts: usize) -> Instance {
    instance_of(name, net, hosts, &[]).await
}

/// The same with the hosts' architectures dealt in turn from `arches`.
pub async fn instance_of(name: &str, net: u8, hosts: usize, arches: &[&str]) -> Instance {
    let claim = nets::claim(name, net);
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
        arches: arches.iter().map(|a| a.to_string()).collect(),
    };
    let sandbox = sandbox::up(&docker, &data_dir(), &spec, &|_| {})
        .await
        .expect("sandbox up");
    Instance {
        docker,
        sandbox,
        _net: claim,
    }
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

/// The longest any child process of a test may run before it is killed and
/// the test fails naming it: far above the slowest real run (a first
/// install with images, about a minute), far below the suite's own bound.
pub const CHILD_LIMIT: Duration = Duration::from_secs(600);

/// Waits for `child` at most `limit`; kills it (and fails the test naming
/// `what` and what it printed to stderr so far) when it runs longer.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
    stderr_so_far: impl Fn() -> String,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{what}` did not exit within {} s and was killed; its stderr so far:\n{}",
                limit.as_secs(),
                stderr_so_far()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How a command is named in a test's failure: program and arguments.
pub fn describe(cmd: &std::process::Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` to its end (at most [`CHILD_LIMIT`]): its exit code (-1 when
/// a signal ended it), its stdout and its stderr.
pub fn run_to_end(cmd: &mut std::process::Command) -> (i32, String, String) {
    run_within(cmd, CHILD_LIMIT)
}

/// [`run_to_end`] with its own bound.
pub fn run_within(cmd: &mut std::process::Command, limit: Duration) -> (i32, String, String) {
    use std::io::Read;
    let what = describe(cmd);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start `{what}`: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        let sink = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = sink.clone();
        let handle = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                into.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        (sink, handle)
    };
    let (out, out_reader) = reader(Box::new(child.stdout.take().expect("stdout")));
    let (err, err_reader) = reader(Box::new(child.stderr.take().expect("stderr")));
    let text = |b: &std::sync::Arc<std::sync::Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&b.lock().unwrap()).into_owned()
    };
    let status = wait_bounded(&mut child, limit, &what, || text(&err));
    // The pipes end when the last holder closes them (an ssh master the
    // child left may hold them a while): read what there is, bounded too.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !(out_reader.is_finished() && err_reader.is_finished())
        && std::time::Instant::now() < until
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    (status.code().unwrap_or(-1), text(&out), text(&err))
}

/// A support archive's files as text, by their path under its top folder.
pub fn archive_files(archive: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    // Unpacked as the vendor's support engineer does: plain `tar -xzf`
    // into an empty directory, which must succeed.
    let into = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(into.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tar -xzf {}: {}",
        archive.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(into.path(), &mut paths);
    let mut files = std::collections::BTreeMap::new();
    for p in paths {
        let name = p
            .strip_prefix(into.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        // Without the archive's top folder.
        let name = name.split_once('/').map(|(_, n)| n.to_string()).unwrap();
        files.insert(name, text);
    }
    files
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
    let docker = cdwiz::docker::connect_local().await.expect("docker");
    sandbox::bundle::ensure_bundle(&docker, &sandbox::sandbox_root(&data_dir()), &|_| {})
        .await
        .expect("sandbox bundle")
        .dir
}

/// The sandbox product bundle with an amd64 and an arm64 archive (built
/// once per machine: the arm64 root filesystem takes minutes under
/// emulation).
pub async fn sandbox_multiarch_bundle() -> std::path::PathBuf {
    let docker = cdwiz::docker::connect_local().await.expect("docker");
    let root = sandbox::sandbox_root(&data_dir());
    sandbox::bundle::ensure_multiarch_bundle(&docker, &root, &|_| {})
        .await
        .expect("multi-architecture sandbox bundle")
        .dir
}

/// The sandbox product bundle of another release (`sandbox::bundle::
/// NEXT_VERSION`), built with the first.
pub async fn sandbox_bundle_of(version: &str) -> std::path::PathBuf {
    let docker = cdwiz::docker::connect_local().await.expect("docker");
    let root = sandbox::sandbox_root(&data_dir());
    sandbox::bundle::ensure_bundle_of(&docker, &root, version, &|_| {})
        .await
        .expect("sandbox bundle")
        .dir
}

/// The customer's load balancer, played by sandbox host `host`: haproxy on
/// `port` in front of `servers`' web tier (port 80), each checked every
/// second (`GET /`), a request whose server went away sent to another.
pub async fn start_load_balancer(sb: &Sandbox, host: usize, port: u16, servers: &[&str]) {
    let servers: String = servers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "  server node{} {a}:80 check inter 1s fall 2 rise 1\n",
                i + 1
            )
        })
        .collect();
    let cfg = format!(
        "global\n  daemon\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  \
         timeout server 30s\n  retries 2\n  option redispatch\nfrontend cd\n  bind *:{port}\n  \
         default_backend web\nbackend web\n  option httpchk GET /\n{servers}"
    );
    sh_ok(
        sb,
        host,
        &format!(
            "printf '%s' {} > /etc/haproxy/cdwiz-lb.cfg && haproxy -f /etc/haproxy/cdwiz-lb.cfg",
            cdwiz::ssh::quote(&cfg)
        ),
    )
    .await;
}

/// The sandbox product's replicated edition (its data tier spread over
/// three masters) of `version`, built with the others.
pub async fn sandbox_replicated_bundle(version: &str) -> std::path::PathBuf {
    let docker = cdwiz::docker::connect_local().await.expect("docker");
    let root = sandbox::sandbox_root(&data_dir());
    let edition = sandbox::bundle::Edition::Replicated;
    sandbox::bundle::ensure_bundle_for(&docker, &root, edition, version, &|_| {})
        .await
        .expect("replicated sandbox bundle")
        .dir
}

/// A cdwiz process whose JSON output lines are read as they come.
pub struct Running {
    pub child: std::process::Child,
    /// The command line, for a failure's message.
    what: String,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    /// Every line received so far.
    pub seen: Vec<serde_json::Value>,
    /// The child's stderr as read so far, and whether the reader reached
    /// its end.
    stderr: std::sync::Arc<std::sync::Mutex<(String, bool)>>,
}

/// Starts cdwiz with `args`, `--output json` expected among them.
pub fn spawn_cdwiz(args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) -> Running {
    use std::io::{BufRead, Read};
    let mut cmd = std::process::Command::new(cdwiz_bin());
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let what = describe(&cmd);
    let mut child = cmd.spawn().expect("start cdwiz");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let stderr = std::sync::Arc::new(std::sync::Mutex::new((String::new(), false)));
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stderr_pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink
                    .lock()
                    .unwrap()
                    .0
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        sink.lock().unwrap().1 = true;
    });
    Running {
        child,
        what,
        lines,
        seen: Vec::new(),
        stderr,
    }
}

impl Running {
    /// Waits until a line matching `pred` arrives (or the process ends, or
    /// `limit` passes); returns it.
    pub fn wait_for(
        &mut self,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return Some(v.clone());
        }
        let deadline = std::time::Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Sends a signal (`INT`, `KILL`) to the process.
    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the process to end (at most [`CHILD_LIMIT`]): exit code
    /// (-1 for a signal), every line, stderr.
    pub fn finish(self) -> (i32, Vec<serde_json::Value>, String) {
        self.finish_within(CHILD_LIMIT)
    }

    /// [`Running::finish`] with its own bound: a process still running
    /// after `limit` is killed and the test fails naming it.
    pub fn finish_within(mut self, limit: Duration) -> (i32, Vec<serde_json::Value>, String) {
        let sink = self.stderr.clone();
        let status = wait_bounded(&mut self.child, limit, &self.what, || {
            sink.lock().unwrap().0.clone()
        });
        while let Ok(v) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(v);
        }
        // Until the reader has all of it: the pipe ends when the last holder
        // closes it (a killed cdwiz's ssh masters may hold it a while).
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !self.stderr.lock().unwrap().1 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = self.stderr.lock().unwrap().0.clone();
        (status.code().unwrap_or(-1), self.seen, err)
    }
}

/// A deploy-step line for `host` and `step` with one of `statuses`.
pub fn is_step(v: &serde_json::Value, host: &str, step: &str, statuses: &[&str]) -> bool {
    v["event"] == "deploy-step"
        && v["host"] == host
        && v["step"] == step
        && statuses.iter().any(|s| v["status"] == *s)
}

/// Where a test's cdwiz keeps things, and how it logs in.
pub struct Run<'a> {
    pub profile: &'a std::path::Path,
    /// `--workdir` (the run directories).
    pub work: &'a std::path::Path,
    /// `CDWIZ_DATA_DIR` (generated secrets, keys).
    pub state: &'a std::path::Path,
    /// The environment variable the profile names, and the password.
    pub password: (&'a str, &'a str),
}

impl Run<'_> {
    /// Starts `cdwiz --profile P --non-interactive --output json --workdir W
    /// extra...`.
    pub fn start(&self, extra: &[&str]) -> Running {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            std::ffi::OsStr::new("--profile"),
            self.profile.as_os_str(),
            std::ffi::OsStr::new("--non-interactive"),
            std::ffi::OsStr::new("--output"),
            std::ffi::OsStr::new("json"),
            std::ffi::OsStr::new("--workdir"),
            self.work.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        spawn_cdwiz(
            &args,
            &[
                self.password,
                ("CDWIZ_DATA_DIR", self.state.to_str().unwrap_or_default()),
            ],
        )
    }
}

/// Runs of three or more English words on the screen: the sentences cdwiz
/// would have written in English.
pub fn english(screen: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in screen.lines() {
        let mut run: Vec<&str> = Vec::new();
        let words = line.split(|c: char| !(c.is_ascii_alphabetic() || c == ' ' || c == '\''));
        for part in words {
            for w in part.split(' ') {
                if w.len() >= 2 && w.chars().all(|c| c.is_ascii_alphabetic() || c == '\'') {
                    run.push(w);
                } else if !w.is_empty() || run.len() >= 3 {
                    if run.len() >= 3 {
                        found.push(run.join(" "));
                    }
                    run.clear();
                }
            }
            if run.len() >= 3 {
                found.push(run.join(" "));
            }
            run.clear();
        }
    }
    found
}

/// Each cdwiz container's name and id on a sandbox host.
pub async fn cdwiz_containers(sb: &Sandbox, host: usize) -> Vec<(String, String)> {
    let out = sh_ok(
        sb,
        host,
        "docker ps --no-trunc --filter label=io.cdwiz.component --format '{{.Names}} {{.ID}}' | sort",
    )
    .await;
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, i)| (n.to_string(), i.to_string()))
        .collect()
}

/// `cdwiz status --output json --profile P` as the run `run` would: its
/// exit code and its report.
pub fn status_json(run: &Run, profile: &std::path::Path) -> (i32, serde_json::Value) {
    let (code, text, err) = run_to_end(
        std::process::Command::new(cdwiz_bin())
            .args(["status", "--output", "json", "--profile"])
            .arg(profile)
            .env(run.password.0, run.password.1)
            .env("CDWIZ_DATA_DIR", run.state),
    );
    let v = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}{err}"));
    (code, v)
}

/// Asserts a status report of all well: every host of `addrs` with
/// `components` components, each running without drift, and the entry
/// answering.
pub fn assert_all_well(v: &serde_json::Value, addrs: &[&str], components: &[usize]) {
    assert_eq!(v["well"], true, "{v:#}");
    let hosts = v["hosts"].as_array().expect("hosts");
    let seen: Vec<&str> = hosts.iter().filter_map(|h| h["address"].as_str()).collect();
    assert_eq!(seen, addrs, "{v:#}");
    for (h, n) in hosts.iter().zip(components) {
        let cs = h["components"].as_array().expect("components");
        assert_eq!(cs.len(), *n, "{h:#}");
        for c in cs {
            assert_eq!(c["state"], "running", "{c:#}");
            assert!(c.get("drift").is_none(), "{c:#}");
        }
    }
    assert_eq!(v["entry"]["answers"], true, "{v:#}");
}
