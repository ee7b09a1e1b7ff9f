//! Every sandbox instance the tests bring up, and its net (10.77.NET.0/24):
//! one table, so that no two tests can share a net, even when they run side
//! by side. A test asks for its instance by name; the net comes from here.
//!
//! The table is checked the first time a test asks (no name or net twice,
//! none of the nets kept for the benchmarks and the demo), and each net is
//! claimed for as long as the test holds its instance: a machine-wide lock
//! file per net, so that a second process asking for a net another one
//! holds fails at once, naming both.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::sync::{Arc, Mutex, OnceLock};

/// (instance name, net), one row per instance.
pub const NETS: &[(&str, u8)] = &[
    ("t-hosts", 201),
    ("t-auth", 202),
    ("t-vip", 203),
    ("t-faults", 204),
    ("t-life", 205),
    ("t-net", 206),
    ("t-bundle", 207),
    ("t-twelve", 208),
    ("t-checks", 209),
    ("t-sudo", 210),
    ("t-jump", 211),
    ("t-deploy", 212),
    ("t-ha", 213),
    ("t-resume", 214),
    ("t-lb", 215),
    ("t-ext", 216),
    ("t-wizard", 217),
    ("t-keys", 218),
    ("t-sudopw", 219),
    ("t-disk", 220),
    ("t-secrets", 221),
    ("t-site", 222),
    ("t-sudodeploy", 223),
    ("t-site-deploy", 224),
    ("t-run", 225),
    ("t-promises", 226),
    ("t-zh", 227),
    ("t-packed", 228),
    ("t-members", 229),
    ("t-rollout", 233),
    ("t-arm64", 234),
    ("t-k8s-reg", 235),
    ("t-k8s", 236),
    ("t-cli", 237),
    ("t-hang", 238),
];

/// Nets the tests never use: the benchmarks' (`scripts/bench-checks` 230,
/// `scripts/bench-deploy` 231), the default of `sandbox up` (0), which the
/// demo uses, and the warm-up of `scripts/test` (239).
pub const KEPT: &[(u8, &str)] = &[
    (230, "scripts/bench-checks"),
    (231, "scripts/bench-deploy"),
    (0, "scripts/demo and `cdwiz sandbox up`"),
    (239, "scripts/test (its warm-up instance `t-prep`)"),
];

/// What is wrong with the table, if anything.
pub fn table_problems(table: &[(&str, u8)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_net: HashMap<u8, &str> = HashMap::new();
    let mut names: HashMap<&str, u8> = HashMap::new();
    for &(name, net) in table {
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

/// The net of instance `name`; panics when the table is wrong or does not
/// list it.
pub fn net_of(name: &str) -> u8 {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let problems = table_problems(NETS);
        assert!(
            problems.is_empty(),
            "tests/common/nets.rs: {}",
            problems.join("; ")
        );
    });
    NETS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, net)| *net)
        .unwrap_or_else(|| {
            panic!("instance `{name}` has no row in tests/common/nets.rs: give it a free net there")
        })
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
