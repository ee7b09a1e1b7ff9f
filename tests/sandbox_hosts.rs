//! The sandbox gives real hosts: SSH by key, hostname, a data disk, and each
//! host's own Docker engine reached through an SSH-forwarded socket.

mod common;

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    CreateContainerOptions, ImportImageOptions, LogsOptions, RemoveContainerOptions,
    RemoveImageOptions, WaitContainerOptions,
};
use cdwiz::docker::archive::{LayerEntry, image_archive, layer_tar};
use cdwiz::ssh;
use common::*;
use futures_util::{StreamExt, TryStreamExt};

const TINY_IMAGE: &str = "cdwiz-test/busybox:1";

fn busybox_image() -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox")
        .expect("/bin/busybox (Debian's busybox-static; scripts/setup-machine installs it)");
    let layer = layer_tar(&[
        LayerEntry::Dir {
            path: "bin",
            mode: 0o755,
        },
        LayerEntry::File {
            path: "bin/busybox",
            mode: 0o755,
            data: &busybox,
        },
        LayerEntry::Symlink {
            path: "bin/sh",
            target: "busybox",
        },
    ])
    .unwrap();
    image_archive(TINY_IMAGE, &layer, &["/bin/sh"]).unwrap()
}

/// Loads the tiny image into a host's engine, runs a container that prints
/// a line, reads the line back through the API, and removes both.
async fn run_tiny_container(docker: &Docker, host: &str, archive: Vec<u8>) {
    let mut load = docker.import_image(
        ImportImageOptions::default(),
        bollard::body_full(archive.into()),
        None,
    );
    while let Some(item) = load.next().await {
        item.unwrap_or_else(|e| panic!("{host}: load image: {e}"));
    }
    let name = format!("cdwiz-test-hello-{host}");
    let _ = docker
        .remove_container(
            &name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            bollard::models::ContainerCreateBody {
                image: Some(TINY_IMAGE.into()),
                cmd: Some(vec![
                    "/bin/busybox".into(),
                    "echo".into(),
                    format!("hello from {host}"),
                ]),
                host_config: Some(bollard::models::HostConfig {
                    network_mode: Some("none".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{host}: create container: {e}"));
    docker
        .start_container(
            &name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .unwrap_or_else(|e| panic!("{host}: start container: {e}"));
    let exits: Vec<_> = docker
        .wait_container(&name, None::<WaitContainerOptions>)
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{host}: wait container: {e}"));
    assert_eq!(exits.last().map(|e| e.status_code), Some(0), "{host}");
    let logs: Vec<_> = docker
        .logs(
            &name,
            Some(LogsOptions {
                stdout: true,
                ..Default::default()
            }),
        )
        .try_collect()
        .await
        .unwrap();
    let text: String = logs.iter().map(|l| l.to_string()).collect();
    assert_eq!(text.trim(), format!("hello from {host}"));
    docker
        .remove_container(&name, None::<RemoveContainerOptions>)
        .await
        .unwrap();
    docker
        .remove_image(TINY_IMAGE, None::<RemoveImageOptions>, None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hosts_by_key_each_with_its_own_docker_engine() {
    let inst = instance("t-hosts", 201, 3).await;
    let sb = &inst.sandbox;
    assert_eq!(sb.hosts.len(), 3);
    let archive = busybox_image();

    let per_host = sb.hosts.iter().enumerate().map(|(i, host)| {
        let archive = archive.clone();
        async move {
            let t = sb.ssh_target(host, "root");
            let session = ssh::connect(&t).await.expect("ssh by key");
            let facts = ssh::run_script_ok(
                &session,
                &t.address,
                "hostname; test -b /dev/vdb && blockdev --getsize64 /dev/vdb; \
                 ip -4 -o addr show dev eth0 | awk '{print $4}'",
                Duration::from_secs(30),
            )
            .await
            .expect("facts");
            let facts: Vec<&str> = facts.lines().collect();
            assert_eq!(facts[0], format!("node{}", i + 1));
            assert_eq!(
                facts[1],
                (2u64 << 30).to_string(),
                "{}: /dev/vdb size",
                host.name
            );
            assert_eq!(facts[2], format!("{}/24", host.address));

            let local =
                cdwiz::paths::runtime_dir().join(format!("cdwiz-test-{}.sock", host.address));
            let fwd = ssh::docker_forward::forward_docker(&session, &host.name, local)
                .await
                .expect("forward the host's docker socket");
            let version = fwd.docker.version().await.expect("docker version");
            assert!(
                version
                    .version
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("20.10"),
                "{}: inner engine {version:?}",
                host.name
            );
            // It is the host's own engine, not this machine's: it knows the host's name.
            let info = fwd.docker.info().await.expect("docker info");
            assert_eq!(info.name.as_deref(), Some(host.name.as_str()));
            run_tiny_container(&fwd.docker, &host.name, archive).await;
            drop(fwd);
            session.close().await.expect("close");
        }
    });
    futures_util::future::join_all(per_host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_network_is_internal_and_hosts_reach_each_other() {
    let inst = instance("t-net", 206, 2).await;
    let sb = &inst.sandbox;
    let net = inst
        .docker
        .inspect_network(
            &sb.network(),
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .expect("inspect network");
    assert_eq!(
        net.internal,
        Some(true),
        "the sandbox network must be internal"
    );
    let peer = &sb.hosts[1].address;
    let out = sh_ok(sb, 0, &format!("ping -c1 -W2 {peer} >/dev/null && echo ok")).await;
    assert_eq!(out, "ok");
    // Nothing is at the spare address: a connection fails by itself (no
    // host answers ARP), it does not hang until a timeout of ours.
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect((sb.unreachable_address(), 22)),
    )
    .await;
    assert!(
        matches!(r, Ok(Err(_))),
        "the spare address must refuse by itself within 10 s: {r:?} after {:?}",
        started.elapsed()
    );
}
