//! Secrets stay secret while a real deploy runs: no password or generated
//! secret in any process's arguments, in the environment of the ssh
//! processes cdwiz starts (a master may outlive a killed cdwiz), or in any
//! file cdwiz writes outside its secrets files; and the ssh processes of a
//! cdwiz killed with SIGKILL mid-deploy are gone within a minute.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

/// Processes whose command line contains `needle`: (pid, command line).
fn processes_with(needle: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push((pid, cmd));
            }
        }
    }
    out
}

/// Watches every process while `f` runs: any argv holding one of
/// `secrets()`, and any process started from `runtime` (cdwiz's ssh
/// processes) whose environment holds one.
fn watching<T>(
    secrets: Arc<Mutex<Vec<String>>>,
    runtime: &Path,
    f: impl FnOnce() -> T,
) -> (T, Vec<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let found = Arc::new(Mutex::new(Vec::new()));
    let (s2, f2, rt) = (stop.clone(), found.clone(), runtime.display().to_string());
    let watcher = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            let secrets = secrets.lock().unwrap().clone();
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
                    continue;
                };
                let cmd = String::from_utf8_lossy(&cmd).into_owned();
                let env = if cmd.contains(&rt) {
                    std::fs::read(entry.path().join("environ"))
                        .map(|e| String::from_utf8_lossy(&e).into_owned())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                for s in &secrets {
                    if cmd.contains(s.as_str()) {
                        f2.lock()
                            .unwrap()
                            .push(format!("argv: {}", cmd.replace('\0', " ")));
                    }
                    if env.contains(s.as_str()) {
                        f2.lock()
                            .unwrap()
                            .push(format!("environment of: {}", cmd.replace('\0', " ")));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = f();
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let found = found.lock().unwrap().clone();
    (out, found)
}

fn files_containing(dir: &Path, needle: &str, skip: &[&str]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if skip.iter().any(|s| p.ends_with(s)) {
            continue;
        }
        if p.is_dir() {
            hits.extend(files_containing(&p, needle, skip));
        } else if std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
            hits.push(p);
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_leaks_and_no_ssh_process_outlives_a_killed_run() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-secrets", 221, 1).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (work, state) = (tmp.path().join("work"), tmp.path().join("state"));
    // cdwiz's control sockets go here: its ssh processes name it in argv.
    let runtime = tmp.path().join("rt");
    std::fs::create_dir_all(&runtime).unwrap();
    let addr = sb.hosts[0].address.clone();
    let profile = tmp.path().join("p.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
             hosts:\n  - {{ address: {addr}, roles: [master] }}\n",
            bundle.display()
        ),
    )
    .unwrap();
    let start = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--profile".as_ref(),
            profile.as_os_str(),
            "--non-interactive".as_ref(),
            "--output".as_ref(),
            "json".as_ref(),
            "--workdir".as_ref(),
            work.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        spawn_cdwiz(
            &args,
            &[
                (PASSWORD_ENV, password.as_str()),
                ("CDWIZ_DATA_DIR", state.to_str().unwrap()),
                ("XDG_RUNTIME_DIR", runtime.to_str().unwrap()),
            ],
        )
    };
    // The generated secrets join the watch list as soon as they exist.
    let secrets = Arc::new(Mutex::new(vec![password.clone()]));
    let generated = {
        let (secrets, state) = (secrets.clone(), state.clone());
        move || {
            let dir = state.join("installs");
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if let Ok(text) = std::fs::read_to_string(e.path().join("secrets.yaml")) {
                    let mut s = secrets.lock().unwrap();
                    for line in text.lines() {
                        if let Some((_, v)) = line.split_once(": ") {
                            let v = v.trim().trim_matches(['\'', '"']).to_string();
                            if v.len() >= 8 && !s.contains(&v) {
                                s.push(v);
                            }
                        }
                    }
                }
            }
        }
    };
    let (result, leaks) = watching(secrets.clone(), &runtime, || {
        let mut run = start(&[]);
        // Keep reading the generated secrets into the watch list.
        while run
            .wait_for(Duration::from_millis(300), |l| {
                l["event"] == "deploy-summary"
            })
            .is_none()
            && run.child.try_wait().ok().flatten().is_none()
        {
            generated();
        }
        generated();
        run.finish()
    });
    let (code, _, err) = result;
    assert_eq!(code, 0, "{err}");
    assert!(leaks.is_empty(), "secrets seen: {leaks:#?}");
    let secrets = secrets.lock().unwrap().clone();
    assert!(
        secrets.len() >= 3,
        "the generated secrets were not found: {}",
        secrets.len()
    );
    for s in &secrets {
        let hits = files_containing(&work, s, &["secrets.yaml"]);
        let hits_state = files_containing(&state, s, &["secrets.yaml"]);
        assert!(
            hits.is_empty() && hits_state.is_empty(),
            "a secret in files cdwiz wrote: {hits:?} {hits_state:?}"
        );
    }
    // Run directories and their files are the operator's alone.
    for e in std::fs::read_dir(work.join("runs")).unwrap().flatten() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&e.path()), 0o700, "{}", e.path().display());
        for f in ["state.json", "checks.json", "summary.md", "logs/cdwiz.log"] {
            let p = e.path().join(f);
            if p.exists() {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
            }
        }
    }

    // Killed mid-deploy: its ssh processes log out by themselves.
    sh_ok(sb, 0, "docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker rmi -f $(docker images -q) >/dev/null 2>&1; true").await;
    let mut run = start(&[]);
    run.wait_for(Duration::from_secs(120), |l| {
        is_step(l, &addr, "runtime", &["changed", "unchanged"])
    })
    .expect("the runtime step finished (images next)");
    let rt = runtime.display().to_string();
    assert!(
        !processes_with(&rt).is_empty(),
        "cdwiz's ssh processes name the runtime dir"
    );
    // The masters end 45 s after their last command (README, SSH), which
    // came before the kill: gone within 50 s of it, the last 5 s for the
    // polling and this machine's load.
    run.signal("KILL");
    let killed = Instant::now();
    let _ = run.finish();
    while !processes_with(&rt).is_empty() && killed.elapsed() < Duration::from_secs(50) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let left = processes_with(&rt);
    assert!(
        left.is_empty(),
        "ssh processes left {} s after kill -9: {left:#?}",
        killed.elapsed().as_secs()
    );
    eprintln!(
        "cdwiz's ssh processes gone {:.1} s after kill -9",
        killed.elapsed().as_secs_f64()
    );
}
