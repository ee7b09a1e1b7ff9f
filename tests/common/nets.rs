//! The tests' sandbox nets (10.77.NET.0/24): each test brings up its
//! instance on a net of its own, written where it asks for it
//! (`instance("t-NAME", NET, HOSTS)` with literals, or a file's `NAME` and `NET`), so that
//! no two tests share one even when they run side by side.
//!
//! [`used`] reads those places in `tests/*.rs`, and a fast test
//! (`tests/cli.rs`) fails when a net is asked for twice or is one kept for
//! the benchmarks, the demo or the warm-up. While a test holds its instance
//! the net is also claimed, by a machine-wide lock file per net: a second
//! process asking for a net another one holds fails at once, naming both.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::sync::{Arc, Mutex, OnceLock};

/// Nets the tests never use: the benchmarks' (`scripts/bench-checks` 230,
/// `scripts/bench-deploy` 231, `scripts/bench-failover` 244), the default
/// of `sandbox up` (0), which the demo uses, and the warm-up of
/// `scripts/test` (239).
pub const KEPT: &[(u8, &str)] = &[
    (230, "scripts/bench-checks"),
    (231, "scripts/bench-deploy"),
    (244, "scripts/bench-failover"),
    (0, "scripts/demo and `cdwiz sandbox up`"),
    (239, "scripts/test (its warm-up instance `t-prep`)"),
];

/// Every (instance name, net) the tests in `tests/*.rs` ask for: the
/// literal `instance("NAME", NET, …)` and `instance_of("NAME", NET, …)`
/// calls, and a file's `const NAME` with its `const NET`.
pub fn used() -> Vec<(String, u8)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a test file");
        let konst = |name: &str| {
            text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix(&format!("const {name}: "))?;
                let value = rest.split_once("= ")?.1.trim_end_matches(';');
                Some(value.trim_matches('"').to_string())
            })
        };
        if let (Some(name), Some(net)) = (konst("NAME"), konst("NET")) {
            rows.push((name, net.parse().expect("const NET: u8")));
        }
        for call in ["instance(\"", "instance_of(\""] {
            for (at, _) in text.match_indices(call) {
                let args = &text[at + call.len()..];
                let Some((name, rest)) = args.split_once('"') else {
                    continue;
                };
                let net = rest
                    .trim_start_matches(", ")
                    .split(',')
                    .next()
                    .unwrap_or("");
                if let Ok(net) = net.trim().parse() {
                    rows.push((name.to_string(), net));
                }
            }
        }
    }
    rows.sort();
    rows.dedup();
    rows
}

/// What is wrong with the nets the tests use, if anything.
pub fn table_problems<S: AsRef<str>>(table: &[(S, u8)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_net: HashMap<u8, &str> = HashMap::new();
    let mut names: HashMap<&str, u8> = HashMap::new();
    for (name, net) in table {
        let (name, net) = (name.as_ref(), *net);
        if let Some(other) = by_net.insert(net, name) {
            problems.push(format!("net {net} is given to both `{other}` and `{name}`"));
        }
        if names.insert(name, net).is_some() {
            problems.push(format!("`{name}` has two rows"));
        }
        if let Some((_, owner)) = KEPT.iter().find(|(n, _)| *n == net) {
            problems.push(format!("net {net} of `{name}` is kept for {owner}"));
        }
        if !name.starts_with("t-") {
            problems.push(format!("`{name}` does not start with `t-`"));
        }
    }
    problems
}

/// The test this thread runs, as libtest and nextest name it.
fn this_test() -> String {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| s.rsplit_once('-').map(|(b, _)| b.to_string()).unwrap_or(s))
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("main").to_string();
    format!("{bin}::{test} (pid {})", std::process::id())
}

/// Where the lock files of the nets live (machine-wide).
fn lock_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("cdwiz-test-nets")
}

/// A claim on a net; given back when the last holder in this process drops
/// it (or when the process ends, however it ends).
pub struct NetClaim {
    net: u8,
}

struct Held {
    name: String,
    holders: usize,
    _file: File,
}

fn held() -> &'static Mutex<HashMap<u8, Held>> {
    static HELD: OnceLock<Mutex<HashMap<u8, Held>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Claims `net` for instance `name`: fails at once, naming both, when
/// another test (in this process or another) holds it.
pub fn claim(name: &str, net: u8) -> Arc<NetClaim> {
    let me = format!("{} for instance `{name}`", this_test());
    let mut map = held().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = map.get_mut(&net) {
        assert!(
            h.name == name,
            "net {net}: {me} asks for it, but {} holds it",
            h.name
        );
        h.holders += 1;
        return Arc::new(NetClaim { net });
    }
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).expect("the nets' lock folder");
    let path = dir.join(format!("{net}.lock"));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        panic!(
            "net {net}: {me} asks for it, but {} holds it ({})",
            holder.trim(),
            path.display()
        );
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "{me}");
    map.insert(
        net,
        Held {
            name: name.to_string(),
            holders: 1,
            _file: file,
        },
    );
    Arc::new(NetClaim { net })
}

impl Drop for NetClaim {
    fn drop(&mut self) {
        let mut map = held().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = map.get_mut(&self.net) {
            h.holders -= 1;
            if h.holders == 0 {
                map.remove(&self.net);
            }
        }
    }
}
