//! The sandbox: a practice cluster of real hosts on this machine. Each host
//! is a container on a private, internal bridge network with a fixed address,
//! its own sshd, sudo, keepalived, Docker engine and a loop device as its
//! data disk; an arm64 host is a virtual machine with all of that, run by a
//! container on that network (`vm`). Driven through the Docker API (bollard).
//!
//! Instances are independent: each has a name, its own /24 subnet
//! (`10.77.<net>.0/24`) and its own directory under the data dir, so tests
//! can run several side by side and `down` of one never touches another.

pub mod bundle;
mod error;
pub mod fault;
mod hosts;
mod image;
mod loopdev;
mod product;
mod rootfs;
mod vm;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use serde::{Deserialize, Serialize};

use crate::docker::is_not_found;
use crate::ssh::SshTarget;
use error::api;
pub(crate) use error::said;
pub use error::{SandboxError, docker_msg};
pub use fault::Fault;
use hosts::{
    containers_by_host, create_host, ensure_credentials, ensure_network, remove_host,
    start_container, wait_all_ready, wait_ready,
};
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
    /// The hosts' architectures (`amd64`, `arm64`), dealt to the hosts in
    /// turn (`[amd64, arm64]` on 3 hosts: node1 amd64, node2 arm64, node3
    /// amd64); empty means amd64 for all.
    pub arches: Vec<String>,
}

/// The architectures a sandbox host can have.
pub const ARCHES: &[&str] = &["amd64", "arm64"];

impl SandboxSpec {
    /// The architecture of host `index` (from 1).
    pub fn arch_of(&self, index: usize) -> &str {
        if self.arches.is_empty() {
            "amd64"
        } else {
            &self.arches[(index - 1) % self.arches.len()]
        }
    }
}

impl Default for SandboxSpec {
    fn default() -> Self {
        SandboxSpec {
            name: DEFAULT_NAME.into(),
            hosts: DEFAULT_HOSTS,
            net: 0,
            arches: Vec::new(),
        }
    }
}

/// Progress of long sandbox operations, for whoever drives them to show.
#[derive(Debug, Clone)]
pub enum SandboxEvent {
    /// `emulated`: built for another architecture under qemu-user (minutes,
    /// not one).
    BuildingImage {
        tag: String,
        emulated: bool,
    },
    ImageBuilt {
        tag: String,
        secs: f64,
    },
    HostCreated {
        host: String,
        address: String,
    },
    HostStarted {
        host: String,
    },
    HostRemoved {
        host: String,
    },
    WaitingReady {
        hosts: usize,
    },
    BuildingBundle {
        dir: PathBuf,
        emulated: bool,
    },
    BundleBuilt {
        dir: PathBuf,
        secs: f64,
    },
}

pub type Progress<'a> = dyn Fn(SandboxEvent) + Send + Sync + 'a;

/// One host of an instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxHost {
    pub name: String,
    pub address: String,
    pub container: String,
    pub data_disk_file: PathBuf,
    /// `amd64` or `arm64` (an arm64 host is a virtual machine, see `vm`).
    #[serde(default = "amd64")]
    pub arch: String,
}

impl SandboxHost {
    /// Whether the host is a virtual machine in a carrier container (arm64:
    /// a real arm64 kernel under emulation) rather than a container.
    pub fn is_vm(&self) -> bool {
        self.arch == "arm64"
    }

    /// The command that runs `cmd` on the host when executed in its
    /// container.
    pub(crate) fn exec_argv<'a>(&self, cmd: &[&'a str]) -> Vec<&'a str> {
        let mut argv = Vec::with_capacity(cmd.len() + 1);
        if self.is_vm() {
            argv.push(vm::EXEC_PATH);
        }
        argv.extend_from_slice(cmd);
        argv
    }

    /// How long the host may take to stop (its engine stops its containers).
    pub(crate) fn stop_secs(&self) -> i32 {
        if self.is_vm() { vm::STOP_SECS } else { 5 }
    }
}

fn amd64() -> String {
    "amd64".into()
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
    /// The directory holding every instance (see [`sandbox_root`]).
    fn root(&self) -> PathBuf {
        self.dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
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
/// The names of the instances this data dir knows, sorted.
pub fn instances(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sandbox_root(data_dir).join("instances"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("state.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

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
        said("sandbox.err.state-unreadable")
            .arg("path", path.display())
            .arg("error", e)
            .arg("name", name)
    })?;
    sandbox.dir = dir;
    Ok(sandbox)
}

fn save(sandbox: &Sandbox) -> Result<(), SandboxError> {
    let path = sandbox.dir.join("state.json");
    let tmp = sandbox.dir.join("state.json.tmp");
    let text = serde_json::to_string_pretty(sandbox)
        .map_err(|e| said("sandbox.err.state-write").arg("error", e))?;
    std::fs::write(&tmp, text).map_err(SandboxError::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(SandboxError::io(&path))
}

impl SandboxSpec {
    /// A name and a host count `up` accepts (checked before anything is built).
    pub fn check(&self) -> Result<(), SandboxError> {
        if !valid_name(&self.name) {
            return Err(said("sandbox.err.name").arg("name", &self.name).into());
        }
        if self.hosts == 0 || self.hosts > MAX_HOSTS {
            return Err(said("sandbox.err.hosts")
                .arg("hosts", self.hosts)
                .arg("max", MAX_HOSTS)
                .into());
        }
        if let Some(bad) = self.arches.iter().find(|a| !ARCHES.contains(&a.as_str())) {
            return Err(said("sandbox.err.arch")
                .arg("arch", bad)
                .arg("known", ARCHES.join(", "))
                .into());
        }
        Ok(())
    }
}

/// Brings an instance up (or reconciles it to `spec`): image, network, data
/// disks, hosts; waits until every host runs sshd and its Docker engine.
pub async fn up(
    docker: &Docker,
    data_dir: &Path,
    spec: &SandboxSpec,
    progress: &Progress<'_>,
) -> Result<Sandbox, SandboxError> {
    spec.check()?;
    let image = image::ensure_host_image(docker, &sandbox_root(data_dir), progress).await?;
    if spec.arches.iter().any(|a| a == "arm64") {
        image::ensure_vm_host(docker, &sandbox_root(data_dir), progress).await?;
    }
    let dir = instance_dir(data_dir, &spec.name);
    std::fs::create_dir_all(&dir).map_err(SandboxError::io(&dir))?;
    let mut sandbox = match load(data_dir, &spec.name) {
        Ok(existing) if existing.net != spec.net => {
            return Err(said("sandbox.err.other-net")
                .arg("name", &spec.name)
                .arg("existing", existing.net)
                .arg("net", spec.net)
                .into());
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
        return Err(said("sandbox.err.other-image")
            .arg("name", &sandbox.name)
            .arg("running", &sandbox.image)
            .arg("image", &image)
            .into());
    }
    sandbox.image = image;
    ensure_credentials(&sandbox).await?;
    ensure_network(docker, &sandbox).await?;

    let mut existing = containers_by_host(docker, &sandbox.name).await?;
    let mut hosts = Vec::new();
    for index in 1..=spec.hosts {
        let name = host_name(index);
        let host = SandboxHost {
            address: format!("10.77.{}.{}", sandbox.net, 10 + index),
            container: format!("{}-{name}", sandbox.name),
            data_disk_file: dir.join("hosts").join(&name).join("vdb.img"),
            arch: spec.arch_of(index).to_string(),
            name,
        };
        // A host asked for with another architecture is made anew.
        let was = sandbox.hosts.iter().find(|h| h.name == host.name);
        if existing.contains_key(&host.name) && was.is_some_and(|w| w.arch != host.arch) {
            remove_host(docker, &sandbox, &host.name).await?;
            existing.remove(&host.name);
        }
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
    // `ssh-keygen -R` rewrites the file: two instances going down side by
    // side (the tests) would each write back the other's forgotten keys.
    // Each installation keeps its own (`known_hosts.d/<id>`); an older
    // cdwiz kept one for all.
    if let Ok(recorded) = load(data_dir, name) {
        let mut files = vec![data_dir.join("known_hosts")];
        let per_install = data_dir.join(crate::connect::KNOWN_HOSTS_DIR);
        if let Ok(each) = std::fs::read_dir(per_install) {
            files.extend(
                each.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_none()),
            );
        }
        files.retain(|f| f.is_file());
        if !files.is_empty() {
            let _lock = rootfs::lock(&data_dir.join("known_hosts.lock")).await?;
            for known in &files {
                for h in &recorded.hosts {
                    crate::connect::forget(&h.address, known);
                }
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
    pub arch: String,
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
            arch: h.arch.clone(),
            container: h.container.clone(),
            state,
        });
    }
    Ok((sandbox, out))
}
