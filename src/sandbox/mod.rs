//! The sandbox: a practice cluster of real hosts on this machine. Each host
//! is a container on a private, internal bridge network with a fixed address,
//! its own sshd, sudo, keepalived, Docker engine and a loop device as its
//! data disk. Driven through the Docker API (bollard).
//!
//! Instances are independent: each has a name, its own /24 subnet
//! (`10.77.<net>.0/24`) and its own directory under the data dir, so tests
//! can run several side by side and `down` of one never touches another.

pub mod bundle;
pub mod fault;
mod image;
mod loopdev;
mod rootfs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam,
    IpamConfig, NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, StartContainerOptions,
    UploadToContainerOptions,
};
use serde::{Deserialize, Serialize};

use crate::docker::{DockerError, is_not_found};
use crate::ssh::SshTarget;
pub use fault::Fault;
pub use image::host_image_tag;
pub use rootfs::MIRROR_ENV;

pub const DEFAULT_NAME: &str = "cdwiz";
pub const DEFAULT_HOSTS: usize = 3;
pub const MAX_HOSTS: usize = 32;
const LABEL: &str = "io.cdwiz.sandbox";
const LABEL_HOST: &str = "io.cdwiz.sandbox.host";
const DATA_DISK_BYTES: u64 = 2 << 30;
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const HOST_INIT: &str = include_str!("../../assets/sandbox/host-init.sh");
const HOST_FAULT: &str = include_str!("../../assets/sandbox/fault.sh");
pub(crate) const HOST_INIT_PATH: &str = "/usr/local/sbin/cdwiz-sandbox-init";
pub(crate) const HOST_FAULT_PATH: &str = "/usr/local/sbin/cdwiz-sandbox-fault";
/// Users on every host: root and `ops` (sudo asks for the password) and
/// `auto` (sudo without password); all take the key and the password.
pub const USERS: &[&str] = &["root", "ops", "auto"];

/// What `up` is asked for.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub name: String,
    pub hosts: usize,
    /// Third octet of the instance's subnet `10.77.<net>.0/24`.
    pub net: u8,
}

impl Default for SandboxSpec {
    fn default() -> Self {
        SandboxSpec {
            name: DEFAULT_NAME.into(),
            hosts: DEFAULT_HOSTS,
            net: 0,
        }
    }
}

/// Progress of long sandbox operations, for whoever drives them to show.
#[derive(Debug, Clone)]
pub enum SandboxEvent {
    BuildingImage { tag: String },
    ImageBuilt { tag: String, secs: f64 },
    HostCreated { host: String, address: String },
    HostStarted { host: String },
    HostRemoved { host: String },
    WaitingReady { hosts: usize },
    BuildingBundle { dir: PathBuf },
    BundleBuilt { dir: PathBuf, secs: f64 },
}

pub type Progress<'a> = dyn Fn(SandboxEvent) + Send + Sync + 'a;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no sandbox named `{0}` is up here; start one with `cdwiz sandbox up`")]
    NoInstance(String),
    #[error("sandbox `{instance}` has no host `{host}`; its hosts are: {known}")]
    NoHost {
        instance: String,
        host: String,
        known: String,
    },
    #[error("{0}")]
    Other(String),
}

impl SandboxError {
    fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> SandboxError {
        let path = path.as_ref().to_path_buf();
        move |source| SandboxError::Io { path, source }
    }
}

fn api(call: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> SandboxError {
    let call = call.into();
    move |e| SandboxError::Docker(DockerError::api(call, e))
}

/// One host of an instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxHost {
    pub name: String,
    pub address: String,
    pub container: String,
    pub data_disk_file: PathBuf,
}

/// What is recorded about an instance in `<dir>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sandbox {
    pub name: String,
    pub net: u8,
    pub image: String,
    pub hosts: Vec<SandboxHost>,
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Sandbox {
    pub fn subnet(&self) -> String {
        format!("10.77.{}.0/24", self.net)
    }
    pub fn gateway(&self) -> String {
        format!("10.77.{}.1", self.net)
    }
    /// An address inside the subnet for a floating VIP (no host has it).
    pub fn vip(&self) -> String {
        format!("10.77.{}.100", self.net)
    }
    /// An address inside the subnet that nothing answers on.
    pub fn unreachable_address(&self) -> String {
        format!("10.77.{}.250", self.net)
    }
    pub fn network(&self) -> String {
        network_name(&self.name)
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }
    pub fn password_file(&self) -> PathBuf {
        self.dir.join("password")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }
    pub fn password(&self) -> Result<String, SandboxError> {
        let p = self.password_file();
        Ok(std::fs::read_to_string(&p)
            .map_err(SandboxError::io(&p))?
            .trim()
            .to_string())
    }
    pub fn host(&self, name: &str) -> Result<&SandboxHost, SandboxError> {
        self.hosts
            .iter()
            .find(|h| h.name == name || h.address == name || h.container == name)
            .ok_or_else(|| SandboxError::NoHost {
                instance: self.name.clone(),
                host: name.to_string(),
                known: self
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
    /// How to reach a host as `user` with the sandbox key.
    pub fn ssh_target(&self, host: &SandboxHost, user: &str) -> SshTarget {
        SshTarget {
            address: host.address.clone(),
            port: 22,
            user: user.to_string(),
            key: Some(self.key()),
            known_hosts: self.known_hosts(),
            connect_timeout: Duration::from_secs(5),
            jump: None,
        }
    }
}

/// The directory holding every instance (and the image build area).
pub fn sandbox_root(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox")
}

fn instance_dir(data_dir: &Path, name: &str) -> PathBuf {
    sandbox_root(data_dir).join("instances").join(name)
}

fn network_name(instance: &str) -> String {
    format!("{instance}-net")
}

fn host_name(index: usize) -> String {
    format!("node{index}")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// Reads an instance's recorded state.
pub fn load(data_dir: &Path, name: &str) -> Result<Sandbox, SandboxError> {
    let dir = instance_dir(data_dir, name);
    let path = dir.join("state.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SandboxError::NoInstance(name.to_string()));
        }
        Err(e) => return Err(SandboxError::io(&path)(e)),
    };
    let mut sandbox: Sandbox = serde_json::from_str(&text).map_err(|e| {
        SandboxError::Other(format!(
            "{}: unreadable sandbox state ({e}); remove it with `cdwiz sandbox down --name {name}`",
            path.display()
        ))
    })?;
    sandbox.dir = dir;
    Ok(sandbox)
}

fn save(sandbox: &Sandbox) -> Result<(), SandboxError> {
    let path = sandbox.dir.join("state.json");
    let tmp = sandbox.dir.join("state.json.tmp");
    let text = serde_json::to_string_pretty(sandbox)
        .map_err(|e| SandboxError::Other(format!("sandbox state: {e}")))?;
    std::fs::write(&tmp, text).map_err(SandboxError::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(SandboxError::io(&path))
}

/// Brings an instance up (or reconciles it to `spec`): image, network, data
/// disks, hosts; waits until every host runs sshd and its Docker engine.
pub async fn up(
    docker: &Docker,
    data_dir: &Path,
    spec: &SandboxSpec,
    progress: &Progress<'_>,
) -> Result<Sandbox, SandboxError> {
    if !valid_name(&spec.name) {
        return Err(SandboxError::Other(format!(
            "sandbox name `{}`: use 1-40 lowercase letters, digits and dashes",
            spec.name
        )));
    }
    if spec.hosts == 0 || spec.hosts > MAX_HOSTS {
        return Err(SandboxError::Other(format!(
            "--hosts {}: a sandbox has 1 to {MAX_HOSTS} hosts",
            spec.hosts
        )));
    }
    let image = image::ensure_host_image(docker, &sandbox_root(data_dir), progress).await?;
    let dir = instance_dir(data_dir, &spec.name);
    std::fs::create_dir_all(&dir).map_err(SandboxError::io(&dir))?;
    let mut sandbox = match load(data_dir, &spec.name) {
        Ok(existing) if existing.net != spec.net => {
            return Err(SandboxError::Other(format!(
                "sandbox `{}` is already up on 10.77.{}.0/24, not 10.77.{}.0/24; \
                 run `cdwiz sandbox down --name {}` first",
                spec.name, existing.net, spec.net, spec.name
            )));
        }
        Ok(existing) => existing,
        Err(SandboxError::NoInstance(_)) => Sandbox {
            name: spec.name.clone(),
            net: spec.net,
            image: image.clone(),
            hosts: Vec::new(),
            dir: dir.clone(),
        },
        Err(e) => return Err(e),
    };
    if sandbox.image != image && !sandbox.hosts.is_empty() {
        return Err(SandboxError::Other(format!(
            "sandbox `{}` runs image {} but this cdwiz builds {image}; \
             run `cdwiz sandbox down --name {}` and `up` again",
            sandbox.name, sandbox.image, sandbox.name
        )));
    }
    sandbox.image = image;
    ensure_credentials(&sandbox).await?;
    ensure_network(docker, &sandbox).await?;

    let existing = containers_by_host(docker, &sandbox.name).await?;
    let mut hosts = Vec::new();
    for index in 1..=spec.hosts {
        let name = host_name(index);
        let host = SandboxHost {
            address: format!("10.77.{}.{}", sandbox.net, 10 + index),
            container: format!("{}-{name}", sandbox.name),
            data_disk_file: dir.join("hosts").join(&name).join("vdb.img"),
            name,
        };
        let running = existing.get(&host.name).copied();
        match running {
            Some(true) => {}
            Some(false) => {
                start_container(docker, &host.container).await?;
                progress(SandboxEvent::HostStarted {
                    host: host.name.clone(),
                });
            }
            None => {
                create_host(docker, &sandbox, &host).await?;
                progress(SandboxEvent::HostCreated {
                    host: host.name.clone(),
                    address: host.address.clone(),
                });
            }
        }
        hosts.push(host);
    }
    for (name, _) in existing
        .iter()
        .filter(|(n, _)| !hosts.iter().any(|h| &h.name == *n))
    {
        remove_host(docker, &sandbox, name).await?;
        progress(SandboxEvent::HostRemoved { host: name.clone() });
    }
    sandbox.hosts = hosts;
    save(&sandbox)?;
    progress(SandboxEvent::WaitingReady {
        hosts: sandbox.hosts.len(),
    });
    wait_all_ready(docker, &sandbox).await?;
    Ok(sandbox)
}

async fn ensure_credentials(sandbox: &Sandbox) -> Result<(), SandboxError> {
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
            .map_err(|e| {
                SandboxError::Other(format!(
                    "cannot run ssh-keygen ({e}); install openssh-client"
                ))
            })?;
        if !out.status.success() {
            return Err(SandboxError::Other(format!(
                "ssh-keygen failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
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

fn random_password() -> Result<String, SandboxError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    let mut f = std::fs::File::open("/dev/urandom").map_err(SandboxError::io("/dev/urandom"))?;
    std::io::Read::read_exact(&mut f, &mut bytes).map_err(SandboxError::io("/dev/urandom"))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

async fn ensure_network(docker: &Docker, sandbox: &Sandbox) -> Result<(), SandboxError> {
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
        SandboxError::Other(format!(
            "cannot create network {name} on {}: {e}. Another network may use that subnet: \
             pick another with `--net N`",
            sandbox.subnet()
        ))
    })?;
    Ok(())
}

/// The instance's host containers by host name, and whether each is running.
async fn containers_by_host(
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

async fn create_host(
    docker: &Docker,
    sandbox: &Sandbox,
    host: &SandboxHost,
) -> Result<(), SandboxError> {
    let host_dir = sandbox.dir.join("hosts").join(&host.name);
    let docker_dir = host_dir.join("docker");
    std::fs::create_dir_all(&docker_dir).map_err(SandboxError::io(&docker_dir))?;
    // The data dir is a directory of this machine, not the container's root
    // (fuse-overlayfs here): its speed is a real disk's, as on a real host.
    let data_dir = host_dir.join("data");
    std::fs::create_dir_all(&data_dir).map_err(SandboxError::io(&data_dir))?;
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
    let networking = NetworkingConfig {
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
    };
    let body = ContainerCreateBody {
        image: Some(sandbox.image.clone()),
        hostname: Some(host.name.clone()),
        cmd: Some(vec![HOST_INIT_PATH.into()]),
        labels: Some(HashMap::from([
            (LABEL.to_string(), sandbox.name.clone()),
            (LABEL_HOST.to_string(), host.name.clone()),
        ])),
        stop_timeout: Some(5),
        host_config: Some(host_config),
        networking_config: Some(networking),
        ..Default::default()
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
    upload_host_files(docker, sandbox, &host.container).await?;
    start_container(docker, &host.container).await
}

/// Puts the host's scripts and the instance's public key and password into
/// the host; its init script applies the credentials at every start.
async fn upload_host_files(
    docker: &Docker,
    sandbox: &Sandbox,
    container: &str,
) -> Result<(), SandboxError> {
    use crate::docker::archive::{LayerEntry, layer_tar};
    let pubkey_path = sandbox.dir.join("id_ed25519.pub");
    let pubkey = std::fs::read(&pubkey_path).map_err(SandboxError::io(&pubkey_path))?;
    let password = format!("{}\n", sandbox.password()?);
    let tar = layer_tar(&[
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
    ])
    .map_err(|e| SandboxError::Other(format!("credentials archive: {e}")))?;
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

async fn start_container(docker: &Docker, container: &str) -> Result<(), SandboxError> {
    docker
        .start_container(container, None::<StartContainerOptions>)
        .await
        .map_err(api(format!("start {container}")))
}

async fn remove_host(docker: &Docker, sandbox: &Sandbox, host: &str) -> Result<(), SandboxError> {
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

/// Waits until a host's init script has started sshd and dockerd.
pub(crate) async fn wait_ready(docker: &Docker, host: &SandboxHost) -> Result<(), SandboxError> {
    let started = Instant::now();
    loop {
        let ready = crate::docker::exec(
            docker,
            &host.container,
            &["test", "-e", "/run/cdwiz-sandbox/ready"],
        )
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
        if started.elapsed() > READY_TIMEOUT {
            let log = crate::docker::exec(
                docker,
                &host.container,
                &[
                    "sh",
                    "-c",
                    "tail -n 5 /var/log/dockerd.log /var/log/sshd.log",
                ],
            )
            .await
            .map(|o| o.output)
            .unwrap_or_default();
            return Err(SandboxError::Other(format!(
                "{} ({}) is not ready after {} s; its logs end with:\n{}",
                host.name,
                host.address,
                READY_TIMEOUT.as_secs(),
                log.trim()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_all_ready(docker: &Docker, sandbox: &Sandbox) -> Result<(), SandboxError> {
    let waits = sandbox.hosts.iter().map(|h| wait_ready(docker, h));
    for result in futures_util::future::join_all(waits).await {
        result?;
    }
    Ok(())
}

/// What `down` removed.
#[derive(Debug, Default)]
pub struct DownReport {
    pub containers: usize,
    pub network: bool,
}

/// Removes an instance: its containers, network, loop devices and files.
/// Safe to run twice and on a half-created instance.
pub async fn down(
    docker: &Docker,
    data_dir: &Path,
    name: &str,
) -> Result<DownReport, SandboxError> {
    let dir = instance_dir(data_dir, name);
    let sandbox = Sandbox {
        name: name.to_string(),
        net: 0,
        image: String::new(),
        hosts: Vec::new(),
        dir: dir.clone(),
    };
    let mut report = DownReport::default();
    // The hosts' keys die with them: forget them in cdwiz's own known hosts,
    // so that the next `up` on the same addresses is not taken for an attack.
    if let Ok(recorded) = load(data_dir, name) {
        let known = data_dir.join("known_hosts");
        if known.exists() {
            for h in &recorded.hosts {
                let _ = tokio::process::Command::new("ssh-keygen")
                    .arg("-R")
                    .arg(&h.address)
                    .arg("-f")
                    .arg(&known)
                    .output()
                    .await;
            }
        }
    }
    for host in containers_by_host(docker, name).await?.keys() {
        remove_host(docker, &sandbox, host).await?;
        report.containers += 1;
    }
    match docker.remove_network(&network_name(name)).await {
        Ok(()) => report.network = true,
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(api(format!("remove network {}", network_name(name)))(e)),
    }
    let hosts_dir = dir.join("hosts");
    if let Ok(entries) = std::fs::read_dir(&hosts_dir) {
        for entry in entries.flatten() {
            loopdev::detach_all(&entry.path().join("vdb.img")).await?;
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(SandboxError::io(&dir))?;
    }
    Ok(report)
}

/// One host's live state for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    pub name: String,
    pub address: String,
    pub container: String,
    pub state: String,
}

/// The recorded instance with each host's container state.
pub async fn status(
    docker: &Docker,
    data_dir: &Path,
    name: &str,
) -> Result<(Sandbox, Vec<HostStatus>), SandboxError> {
    let sandbox = load(data_dir, name)?;
    let mut out = Vec::new();
    for h in &sandbox.hosts {
        let state = match docker
            .inspect_container(
                &h.container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(c) => c
                .state
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown".into()),
            Err(e) if is_not_found(&e) => "missing".into(),
            Err(e) => return Err(api(format!("inspect {}", h.container))(e)),
        };
        out.push(HostStatus {
            name: h.name.clone(),
            address: h.address.clone(),
            container: h.container.clone(),
            state,
        });
    }
    Ok((sandbox, out))
}
