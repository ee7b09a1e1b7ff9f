//! arm64 sandbox hosts are virtual machines: qemu-system-aarch64 (software
//! emulation) with Debian's arm64 kernel, run by a carrier container on the
//! sandbox network. The carrier hands the host's address to the VM over a
//! bridge, so to cdwiz, its checks and its deploy the VM is a host like the
//! others; cdwiz's own commands (readiness, faults) reach it over a private
//! control link (`cdwiz-vm-exec`). qemu-user runs arm64 programs but cannot
//! make containers (README, 信创 / arm64); a real kernel can.

use bollard::Docker;
use bollard::models::{ContainerCreateBody, DeviceMapping, HostConfig};

use super::hosts::create_and_start;
use super::*;
use crate::docker::archive::LayerEntry;

const CARRIER: &str = include_str!("../../assets/sandbox/vm/carrier.sh");
const CARRIER_PATH: &str = "/usr/local/sbin/cdwiz-vm-carrier";
const EXEC: &str = include_str!("../../assets/sandbox/vm/exec.sh");
/// Runs a command on the carrier's VM (see the module's words).
pub(super) const EXEC_PATH: &str = "/usr/local/sbin/cdwiz-vm-exec";
const INIT: &str = include_str!("../../assets/sandbox/vm/init.sh");
const INIT_PATH: &str = "/usr/local/lib/cdwiz-vm/init.sh";
/// The VM's processors and memory: two, so that the emulation uses both of
/// this machine's cores (one thread each).
const CPUS: u32 = 2;
const MEMORY_MIB: u32 = 2048;
/// A VM boots in about 30 s here (its engine included); with tests running
/// beside it, it may take several times that.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// The VM's engine stops its containers and the disks are synced first.
pub(super) const STOP_SECS: i32 = 30;

/// Creates and starts the carrier of `host`: the host's folder (its disk
/// overlay, seed, data disk, console log) is the carrier's `/vm/state`, the
/// shared VM disk its `/vm/base`.
pub(super) async fn create(
    docker: &Docker,
    sandbox: &Sandbox,
    host: &SandboxHost,
) -> Result<(), SandboxError> {
    let state = sandbox.dir.join("hosts").join(&host.name);
    std::fs::create_dir_all(&state).map_err(SandboxError::io(&state))?;
    // The data disk is a file the VM sees as its second disk, /dev/vdb.
    if !host.data_disk_file.exists() {
        let f = std::fs::File::create(&host.data_disk_file)
            .map_err(SandboxError::io(&host.data_disk_file))?;
        f.set_len(DATA_DISK_BYTES)
            .map_err(SandboxError::io(&host.data_disk_file))?;
    }
    let base = image::vm_disk_dir(&sandbox.root());
    let prefix = sandbox
        .subnet()
        .rsplit_once('/')
        .map(|(_, p)| p.to_string())
        .unwrap_or_else(|| "24".into());
    let host_config = HostConfig {
        cap_add: Some(vec!["NET_ADMIN".into()]),
        binds: Some(vec![
            format!("{}:/vm/base:ro", base.display()),
            format!("{}:/vm/state", state.display()),
        ]),
        devices: Some(vec![DeviceMapping {
            path_on_host: Some("/dev/net/tun".into()),
            path_in_container: Some("/dev/net/tun".into()),
            cgroup_permissions: Some("rwm".into()),
        }]),
        init: Some(true),
        network_mode: Some(sandbox.network()),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(image::carrier_image_tag()),
        cmd: Some(vec![CARRIER_PATH.into()]),
        env: Some(vec![
            format!("CDWIZ_VM_ADDRESS={}", host.address),
            format!("CDWIZ_VM_PREFIX={prefix}"),
            format!("CDWIZ_VM_GATEWAY={}", sandbox.gateway()),
            format!("CDWIZ_VM_CPUS={CPUS}"),
            format!("CDWIZ_VM_MEMORY_MIB={MEMORY_MIB}"),
            format!("CDWIZ_VM_INIT={}", super::rootfs::VM_BOOT),
        ]),
        host_config: Some(host_config),
        ..Default::default()
    };
    create_and_start(
        docker,
        sandbox,
        host,
        body,
        &[
            LayerEntry::File {
                path: &CARRIER_PATH[1..],
                mode: 0o755,
                data: CARRIER.as_bytes(),
            },
            LayerEntry::File {
                path: &EXEC_PATH[1..],
                mode: 0o755,
                data: EXEC.as_bytes(),
            },
            LayerEntry::Dir {
                path: "usr/local/lib/cdwiz-vm",
                mode: 0o755,
            },
            LayerEntry::File {
                path: &INIT_PATH[1..],
                mode: 0o755,
                data: INIT.as_bytes(),
            },
        ],
    )
    .await
}
