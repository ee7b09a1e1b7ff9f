//! The sandbox product bundle: verified, loadable into a host's engine over
//! SSH, and its backend's health proves it reaches the database and the
//! cache with the credentials it was given (and fails with wrong ones).

mod common;

use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, ImportImageOptions};
use cdwiz::bundle::Bundle;
use cdwiz::ssh;
use common::*;
use futures_util::StreamExt;

async fn run(
    docker: &Docker,
    name: &str,
    image: &str,
    cmd: &[String],
    env: &[String],
    binds: &[String],
) {
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.into()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(image.into()),
                cmd: Some(cmd.to_vec()),
                env: Some(env.to_vec()),
                host_config: Some(HostConfig {
                    network_mode: Some("host".into()),
                    binds: Some(binds.to_vec()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    docker
        .start_container(
            name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backend_proves_database_and_cache_credentials() {
    let bundle_dir = sandbox_bundle().await;
    let bundle = Bundle::open(&bundle_dir).unwrap();
    bundle.verify().expect("checksums match");
    let names: Vec<&str> = bundle
        .manifest
        .components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["database", "cache", "backend", "web", "keepalived"]);

    let inst = instance("t-bundle", 207, 1).await;
    let sb = &inst.sandbox;
    let host = &sb.hosts[0];
    let t = sb.ssh_target(host, "root");
    let session = ssh::connect(&t).await.unwrap();
    // Secrets reach the host on stdin, into 0600 files.
    for (file, value) in [
        ("db", "db-secret-1"),
        ("cache", "cache-secret-1"),
        ("wrong", "nope"),
    ] {
        let out = ssh::run_script_with_input(
            &session,
            &t.address,
            &format!("umask 077; mkdir -p /etc/cd-test; cat > /etc/cd-test/{file}"),
            Some(value.as_bytes()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let local = cdwiz::paths::runtime_dir().join(format!("cdwiz-test-{}.sock", host.address));
    let fwd = ssh::docker_forward::forward_docker(&session, &host.name, local)
        .await
        .unwrap();
    let docker = &fwd.docker;

    let image = &bundle.manifest.images[0];
    let file = tokio::fs::File::open(bundle.dir.join(&image.file))
        .await
        .unwrap();
    let mut load = docker.import_image_stream(
        ImportImageOptions::default(),
        tokio_util::io::ReaderStream::new(file).map(|r| r.expect("read archive")),
        None,
    );
    while let Some(item) = load.next().await {
        item.expect("load the runtime image");
    }
    for reference in &image.references {
        assert!(
            cdwiz::docker::has_image(docker, reference).await.unwrap(),
            "{reference}"
        );
    }

    let comp = |n: &str| {
        bundle
            .manifest
            .components
            .iter()
            .find(|c| c.name == n)
            .unwrap()
            .clone()
    };
    let secrets = |f: &str| format!("/etc/cd-test/{f}:/run/secrets/{f}:ro");
    let db = comp("database");
    run(
        docker,
        "cd-database",
        &db.image,
        &db.command,
        &["DB_PASSWORD_FILE=/run/secrets/db".into()],
        &[
            secrets("db"),
            "/data/cd/database:/var/lib/cd/database".into(),
        ],
    )
    .await;
    let cache = comp("cache");
    run(
        docker,
        "cd-cache",
        &cache.image,
        &cache.command,
        &["CACHE_PASSWORD_FILE=/run/secrets/cache".into()],
        &[secrets("cache")],
    )
    .await;
    let backend = comp("backend");
    let backend_env = |cache_secret: &str, port: u16| {
        vec![
            "DB_PASSWORD_FILE=/run/secrets/db".to_string(),
            format!("CACHE_PASSWORD_FILE=/run/secrets/{cache_secret}"),
            format!("BACKEND_PORT={port}"),
        ]
    };
    run(
        docker,
        "cd-backend",
        &backend.image,
        &backend.command,
        &backend_env("cache", 8080),
        &[secrets("db"), secrets("cache")],
    )
    .await;
    run(
        docker,
        "cd-backend-wrong",
        &backend.image,
        &backend.command,
        &backend_env("wrong", 8081),
        &[secrets("db"), secrets("wrong")],
    )
    .await;
    let web = comp("web");
    run(docker, "cd-web", &web.image, &web.command, &[], &[]).await;

    let addr = host.address.as_str();
    let healthy = eventually(Duration::from_secs(90), || async {
        matches!(http_get(addr, 8080, "/health").await, Some((200, _)))
    })
    .await;
    let last = http_get(addr, 8080, "/health").await;
    assert!(healthy.is_some(), "backend never healthy: {last:?}");
    assert_eq!(last.unwrap().1, r#"{"database":"ok","cache":"ok"}"#);

    let wrong = http_get(addr, 8081, "/health")
        .await
        .expect("second backend answers");
    assert_eq!(
        wrong,
        (503, r#"{"database":"ok","cache":"fail"}"#.to_string())
    );

    let page = http_get(addr, 80, "/").await.expect("web answers");
    assert_eq!(page.0, 200);
    assert!(page.1.contains("CD platform"), "{page:?}");
    let proxied = http_get(addr, 80, "/api/health")
        .await
        .expect("web proxies the backend");
    assert_eq!(proxied.0, 200, "{proxied:?}");

    // The data dir on the host holds the database, as a deploy will put it.
    assert_eq!(sh_ok(sb, 0, "cat /data/cd/database/PG_VERSION").await, "15");
}
