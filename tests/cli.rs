//! The command line's answers to bad input and to a machine that lacks things.

mod common;

use std::process::Command;

use common::cdwiz_bin;

fn cdwiz(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(cdwiz_bin())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run cdwiz");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
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
    let (code, _, err) = cdwiz(&["sandbox", "status", "--name", "t-never-made"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("no sandbox named `t-never-made`"), "{err}");
    assert!(err.contains("cdwiz sandbox up"), "{err}");
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
