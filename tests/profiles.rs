//! Golden tests of the profile: each good profile gives its plan, each bad
//! one its exact problems with exit code 2, through the real `cdwiz validate`.
//! `CDWIZ_BLESS=1 cargo test --test profiles` rewrites the expected files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/profiles")
        .join(kind)
}

fn profiles(kind: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir(kind))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

fn validate(kind: &str, name: &str, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::cdwiz_bin())
        .current_dir(dir(kind))
        .arg("validate")
        .arg(name)
        .args(extra)
        .env("CDWIZ_SSH_PASSWORD", "x")
        .env("CDWIZ_SUDO_PASSWORD", "x")
        // `~` is the same everywhere, and holds nothing.
        .env("HOME", "/home/operator")
        .env_remove("CDWIZ_TEST_NEVER_SET")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Compares with `<file>`, or writes it under CDWIZ_BLESS=1. Returns a
/// mismatch description.
fn golden(path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("CDWIZ_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )
    })
}

#[test]
fn good_profiles_give_their_plans() {
    let names = profiles("good");
    assert!(names.len() >= 5, "{names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let (code, out, err) = validate("good", name, &["--plan"]);
        if code != 0 {
            failures.push(format!("{name}: exit {code}\n{err}"));
            continue;
        }
        failures.extend(golden(
            &dir("good").join(name.replace(".yaml", ".plan")),
            &out,
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn bad_profiles_give_exact_problems_and_exit_2() {
    // Git keeps no modes but the executable bit: make the case's file readable by others.
    use std::os::unix::fs::PermissionsExt;
    let readable = dir("bad").join("readable-password.txt");
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
    let names = profiles("bad");
    assert!(names.len() >= 20, "only {} bad profiles", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let (code, out, err) = validate("bad", name, &[]);
        if code != 2 {
            failures.push(format!("{name}: exit {code}, expected 2\n{out}{err}"));
        }
        if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
            failures.push(format!("{name}: panicked\n{err}"));
        }
        failures.extend(golden(
            &dir("bad").join(name.replace(".yaml", ".expected")),
            &err,
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `profiles/example-*.yaml`: one commented example per topology, each good.
#[test]
fn the_example_profiles_cover_every_topology_and_are_good() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut kinds = Vec::new();
    for e in std::fs::read_dir(&root).unwrap().flatten() {
        let name = e.file_name().into_string().unwrap();
        if !name.starts_with("example-") {
            continue;
        }
        let out = Command::new(common::cdwiz_bin())
            .args(["validate", "--plan"])
            .arg(e.path())
            .env("CDWIZ_SSH_PASSWORD", "x")
            .env("CDWIZ_SUDO_PASSWORD", "x")
            .env("CDWIZ_ROOT_PASSWORD", "x")
            .env("CDWIZ_REGISTRY_PASSWORD", "x")
            .output()
            .unwrap();
        let plan = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kind = plan
            .lines()
            .find_map(|l| l.strip_prefix("topology: "))
            .unwrap_or_else(|| panic!("{name}: no topology in the plan:\n{plan}"));
        assert_eq!(name, format!("example-{kind}.yaml"), "{plan}");
        // Documentation addresses only (RFC 5737): never a real site's.
        let text = std::fs::read_to_string(e.path()).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            if word.split('.').count() == 4 && word.split('.').all(|p| p.parse::<u8>().is_ok()) {
                assert!(
                    ["192.0.2.", "198.51.100.", "203.0.113."]
                        .iter()
                        .any(|d| word.starts_with(d)),
                    "{name}: {word} is not a documentation address"
                );
            }
        }
        kinds.push(kind.to_string());
    }
    kinds.sort();
    assert_eq!(kinds, ["ha-keepalived", "ha-lb", "k8s", "single"]);
}

#[test]
fn the_shipped_sandbox_profiles_are_good() {
    for name in ["sandbox-single.yaml", "sandbox-ha.yaml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("profiles")
            .join(name);
        let (code, _, err) = common::run_to_end(
            Command::new(common::cdwiz_bin())
                .arg("validate")
                .arg(&path)
                .env("CDWIZ_SSH_PASSWORD", "x"),
        );
        assert_eq!(code, 0, "{name}: {err}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let (code, _, err) = validate("bad", "no-such-profile.yaml", &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no-such-profile.yaml: cannot read the profile"),
        "{err}"
    );
}
