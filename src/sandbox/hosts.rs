//! The sandbox's own pieces: its credentials (a key pair and a password),
//! its network, and its host containers (created from the host image with
//! their files uploaded, started, waited ready, removed with their loop
//! devices).

use std::collections::HashMap;
use std::time::Instant;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam,
    IpamConfig, NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, StartContainerOptions,
    UploadToContainerOptions,
};

use super::*;
use crate::docker::archive::LayerEntry;

pub(super) async fn ensure_credentials(sandbox: &Sandbox) -> Result<(), SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    let key = sandbox.key();
    if !key.exists() {
        let out = tokio::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("cdwiz-sandbox-{}", sandbox.name))
            .arg("-f")
            .arg(&key)
            .output()
            .await
            .map_err(|e| said("sandbox.err.ssh-keygen-spawn").arg("error", e))?;
        if !out.status.success() {
            return Err(said("sandbox.err.ssh-keygen")
                .arg("detail", String::from_utf8_lossy(&out.stderr).trim())
                .into());
        }
    }
    let pw = sandbox.password_file();
    if !pw.exists() {
        let password = random_password()?;
        let tmp = sandbox.dir.join("password.tmp");
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(SandboxError::io(&tmp))?;
            std::io::Write::write_all(&mut f, format!("{password}\n").as_bytes())
                .map_err(SandboxError::io(&tmp))?;
        }
        std::fs::rename(&tmp, &pw).map_err(SandboxError::io(&pw))?;
    }
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))
        .map_err(SandboxError::io(&pw))
}

pub(super) fn random_password() -> Result<String, SandboxError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    let mut f = std::fs::File::open("/dev/urandom").map_err(SandboxError::io("/dev/urandom"))?;
    std::io::Read::read_exact(&mut f, &mut bytes).map_err(SandboxError::io("/dev/urandom"))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

pub(super) async fn ensure_network(docker: &Docker, sandbox: &Sandbox) -> Result<(), SandboxError> {
    let name = sandbox.network();
    match docker
        .inspect_network(
            &name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(_) => return Ok(()),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(api(format!("inspect network {name}"))(e)),
    }
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".into()),
        // Internal: hosts reach each other and this machine, nothing beyond.
        internal: Some(true),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(vec![IpamConfig {
                subnet: Some(sandbox.subnet()),
                gateway: Some(sandbox.gateway()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        labels: Some(HashMap::from([(LABEL.to_string(), sandbox.name.clone())])),
        ..Default::default()
    };
    docker.create_network(request).await.map_err(|e| {
        said("sandbox.err.network")
            .arg("name", &name)
            .arg("subnet", sandbox.subnet())
            .arg("error", e)
    })?;
    Ok(())
}

/// The instance's host containers by host name, and whether each is running.
pub(super) async fn containers_by_host(
    docker: &Docker,
    instance: &str,
) -> Result<HashMap<String, bool>, SandboxError> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL}={instance}")],
        )])),
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(api("list containers"))?;
    Ok(list
        .into_iter()
        .filter_map(|c| {
            let host = c.labels.as_ref()?.get(LABEL_HOST)?.clone();
            let running = c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING);
            Some((host, running))
        })
        .collect())
}

pub(super) async fn create_host(
    docker: &Docker,
    sandbox: &Sandbox,
    host: &SandboxHost,
) -> Result<(), SandboxError> {
    if host.is_vm() {
        return super::vm::create(docker, sandbox, host).await;
    }
    let host_dir = sandbox.dir.join("hosts").join(&host.name);
    let docker_dir = host_dir.join("docker");
    std::fs::create_dir_all(&docker_dir).map_err(SandboxError::io(&docker_dir))?;
    // The data dir is a directory of this machine, not the container's root
    // (fuse-overlayfs here): its speed is a real disk's, as on a real host.
    let data_dir = host_dir.join("data");
    std::fs::create_dir_all(&data_dir).map_err(SandboxError::io(&data_dir))?;
    // /etc/hosts is the host's own file, kept across a restart as on a real
    // host (Docker would write its own anew at every start, dropping what
    // a deploy added).
    let etc_hosts = host_dir.join("hosts");
    if !etc_hosts.exists() {
        let text = format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{}\n",
            host.address, host.name
        );
        std::fs::write(&etc_hosts, text).map_err(SandboxError::io(&etc_hosts))?;
    }
    let loop_dev = loopdev::attach(&host.data_disk_file, DATA_DISK_BYTES).await?;
    let host_config = HostConfig {
        cap_add: Some(vec!["ALL".into()]),
        cap_drop: Some(vec!["SYS_RESOURCE".into()]),
        security_opt: Some(vec![
            "seccomp=unconfined".into(),
            "apparmor=unconfined".into(),
        ]),
        tmpfs: Some(HashMap::from([
            ("/run".to_string(), "rw,exec,mode=755".to_string()),
            ("/tmp".to_string(), "rw,exec,mode=1777".to_string()),
        ])),
        binds: Some(vec![
            "/sys/fs/cgroup:/sys/fs/cgroup:rw".into(),
            format!("{}:/var/lib/docker", docker_dir.display()),
            format!("{}:/data", data_dir.display()),
            format!("{}:/etc/hosts", etc_hosts.display()),
        ]),
        devices: Some(vec![DeviceMapping {
            path_on_host: Some(loop_dev),
            path_in_container: Some("/dev/vdb".into()),
            cgroup_permissions: Some("rwm".into()),
        }]),
        init: Some(true),
        network_mode: Some(sandbox.network()),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(super::image::host_image_tag()),
        cmd: Some(vec![HOST_INIT_PATH.into()]),
        host_config: Some(host_config),
        ..Default::default()
    };
    create_and_start(docker, sandbox, host, body, &[]).await
}

/// Creates the container of `host` from `body` (its name, labels, address
/// and stop timeout added here), puts the host's files and `extra` into it
/// and starts it.
pub(super) async fn create_and_start(
    docker: &Docker,
    sandbox: &Sandbox,
    host: &SandboxHost,
    body: ContainerCreateBody,
    extra: &[LayerEntry<'_>],
) -> Result<(), SandboxError> {
    let body = ContainerCreateBody {
        hostname: Some(host.name.clone()),
        labels: Some(HashMap::from([
            (LABEL.to_string(), sandbox.name.clone()),
            (LABEL_HOST.to_string(), host.name.clone()),
        ])),
        stop_timeout: Some(host.stop_secs().into()),
        networking_config: Some(host_networking(sandbox, host)),
        ..body
    };
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(host.container.clone()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(api(format!("create container {}", host.container)))?;
    upload_host_files(docker, sandbox, &host.container, extra).await?;
    start_container(docker, &host.container).await
}

/// The host's fixed address on the instance's network.
fn host_networking(sandbox: &Sandbox, host: &SandboxHost) -> NetworkingConfig {
    NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            sandbox.network(),
            EndpointSettings {
                ipam_config: Some(EndpointIpamConfig {
                    ipv4_address: Some(host.address.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )])),
    }
}

/// Puts the host's scripts and the instance's public key and password into
/// the host (and `extra`); its init script applies the credentials at every
/// start.
async fn upload_host_files(
    docker: &Docker,
    sandbox: &Sandbox,
    container: &str,
    extra: &[LayerEntry<'_>],
) -> Result<(), SandboxError> {
    use crate::docker::archive::layer_tar;
    let pubkey_path = sandbox.dir.join("id_ed25519.pub");
    let pubkey = std::fs::read(&pubkey_path).map_err(SandboxError::io(&pubkey_path))?;
    let password = format!("{}\n", sandbox.password()?);
    let mut entries = vec![
        LayerEntry::Dir {
            path: "etc/cdwiz-sandbox",
            mode: 0o755,
        },
        LayerEntry::File {
            path: "etc/cdwiz-sandbox/authorized_keys",
            mode: 0o644,
            data: &pubkey,
        },
        LayerEntry::File {
            path: "etc/cdwiz-sandbox/password",
            mode: 0o600,
            data: password.as_bytes(),
        },
        LayerEntry::File {
            path: &HOST_INIT_PATH[1..],
            mode: 0o755,
            data: HOST_INIT.as_bytes(),
        },
        LayerEntry::File {
            path: &HOST_FAULT_PATH[1..],
            mode: 0o755,
            data: HOST_FAULT.as_bytes(),
        },
    ];
    entries.extend_from_slice(extra);
    let tar =
        layer_tar(&entries).map_err(|e| said("sandbox.err.credentials-archive").arg("error", e))?;
    docker
        .upload_to_container(
            container,
            Some(UploadToContainerOptions {
                path: "/".into(),
                ..Default::default()
            }),
            bollard::body_full(tar.into()),
        )
        .await
        .map_err(api(format!("upload files to {container}")))
}

pub(super) async fn start_container(docker: &Docker, container: &str) -> Result<(), SandboxError> {
    docker
        .start_container(container, None::<StartContainerOptions>)
        .await
        .map_err(api(format!("start {container}")))
}

pub(super) async fn remove_host(
    docker: &Docker,
    sandbox: &Sandbox,
    host: &str,
) -> Result<(), SandboxError> {
    let container = format!("{}-{host}", sandbox.name);
    match docker
        .remove_container(
            &container,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(api(format!("remove {container}"))(e)),
    }
    let host_dir = sandbox.dir.join("hosts").join(host);
    loopdev::detach_all(&host_dir.join("vdb.img")).await?;
    if host_dir.exists() {
        std::fs::remove_dir_all(&host_dir).map_err(SandboxError::io(&host_dir))?;
    }
    Ok(())
}

/// Runs `cmd` on `host` (in its container, or on its VM through the
/// carrier's control link).
pub(super) async fn host_exec(
    docker: &Docker,
    host: &SandboxHost,
    cmd: &[&str],
) -> Result<crate::docker::ExecOutput, crate::docker::DockerError> {
    crate::docker::exec(docker, &host.container, &host.exec_argv(cmd)).await
}

/// Waits until a host's init script has started sshd and dockerd.
pub(crate) async fn wait_ready(docker: &Docker, host: &SandboxHost) -> Result<(), SandboxError> {
    let started = Instant::now();
    let limit = if host.is_vm() {
        super::vm::READY_TIMEOUT
    } else {
        READY_TIMEOUT
    };
    loop {
        let ready = host_exec(docker, host, &["test", "-e", "/run/cdwiz-sandbox/ready"])
            .await
            .map(|o| o.code == 0)
            .unwrap_or(false);
        if ready
            && tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect((host.address.as_str(), 22)),
            )
            .await
            .is_ok_and(|r| r.is_ok())
        {
            return Ok(());
        }
        if started.elapsed() > limit {
            let tail = "tail -n 5 /var/log/dockerd.log /var/log/sshd.log";
            let mut log = host_exec(docker, host, &["sh", "-c", tail])
                .await
                .map(|o| o.output)
                .unwrap_or_default();
            if host.is_vm() {
                // What the VM's console said, from its carrier.
                log += &crate::docker::exec(
                    docker,
                    &host.container,
                    &["tail", "-n", "15", "/vm/state/console.log"],
                )
                .await
                .map(|o| o.output)
                .unwrap_or_default();
            }
            return Err(said("sandbox.err.not-ready")
                .arg("host", &host.name)
                .arg("address", &host.address)
                .arg("secs", limit.as_secs())
                .arg("log", log.trim())
                .into());
        }
        tokio::time::sleep(Duration::from_millis(if host.is_vm() { 1000 } else { 200 })).await;
    }
}

pub(super) async fn wait_all_ready(docker: &Docker, sandbox: &Sandbox) -> Result<(), SandboxError> {
    let waits = sandbox.hosts.iter().map(|h| wait_ready(docker, h));
    for result in futures_util::future::join_all(waits).await {
        result?;
    }
    Ok(())
}
