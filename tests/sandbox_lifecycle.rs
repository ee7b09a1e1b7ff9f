//! `up` is idempotent and quick when everything exists; `down` leaves no
//! containers, networks, loop devices, mounts or files; `up` after `down` works.

mod common;

use std::sync::Mutex;
use std::time::Instant;

use cdwiz::sandbox::{self, SandboxEvent, SandboxSpec};
use common::*;

/// The one instance this file's first test brings up, takes down and
/// brings up again (one net, asked for twice by the same test).
const NAME: &str = "t-life";
const NET: u8 = 205;

#[tokio::test(flavor = "multi_thread")]
async fn up_again_changes_nothing_and_down_leaves_nothing() {
    let name = NAME;
    let inst = instance(NAME, NET, 2).await;
    let docker = inst.docker.clone();
    let dir = inst.sandbox.dir.clone();
    let ids_before = container_ids(&docker, name).await;

    let events = Mutex::new(Vec::new());
    let spec = SandboxSpec {
        name: name.into(),
        hosts: 2,
        net: inst.sandbox.net,
        arches: Vec::new(),
    };
    let started = Instant::now();
    let again = sandbox::up(&docker, &data_dir(), &spec, &|e| {
        events.lock().unwrap().push(e)
    })
    .await
    .unwrap();
    eprintln!("second up took {:.2} s", started.elapsed().as_secs_f64());
    let events = events.into_inner().unwrap();
    assert!(
        events
            .iter()
            .all(|e| matches!(e, SandboxEvent::WaitingReady { .. })),
        "a second up must build and create nothing: {events:?}"
    );
    assert_eq!(container_ids(&docker, name).await, ids_before);
    assert_eq!(again.hosts, inst.sandbox.hosts);

    let report = sandbox::down(&docker, &data_dir(), name).await.unwrap();
    assert_eq!(report.containers, 2);
    assert!(report.network);
    assert!(container_ids(&docker, name).await.is_empty());
    let net = docker
        .inspect_network(
            &again.network(),
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await;
    assert!(net.is_err(), "network {} still exists", again.network());
    let dir_text = dir.to_string_lossy().into_owned();
    let loops = std::process::Command::new("losetup")
        .arg("-a")
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&loops.stdout).contains(&dir_text),
        "loop devices left behind"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&dir_text), "mounts left behind");
    assert!(!dir.exists(), "{dir_text} left behind");
    // A second down is a no-op.
    let report = sandbox::down(&docker, &data_dir(), name).await.unwrap();
    assert_eq!((report.containers, report.network), (0, false));

    // Up after down works.
    let inst2 = instance(NAME, NET, 1).await;
    assert_eq!(sh_ok(&inst2.sandbox, 0, "hostname").await, "node1");
}

async fn container_ids(docker: &bollard::Docker, instance: &str) -> Vec<String> {
    let mut ids: Vec<String> = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(std::collections::HashMap::from([(
                "label".to_string(),
                vec![format!("io.cdwiz.sandbox={instance}")],
            )])),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn twelve_hosts_come_up_and_answer() {
    let started = Instant::now();
    let inst = instance("t-twelve", 208, 12).await;
    eprintln!("12 hosts up in {:.1} s", started.elapsed().as_secs_f64());
    let sb = &inst.sandbox;
    let names = futures_util::future::join_all((0..12).map(|i| sh_ok(sb, i, "hostname"))).await;
    let expected: Vec<String> = (1..=12).map(|i| format!("node{i}")).collect();
    assert_eq!(names, expected);
}
