//! The sandbox's root filesystems, built from Debian packages
//! (`debootstrap --variant=minbase`, then a customize script in a chroot) and
//! kept as one tarball per recipe until cdwiz turns it into an image.
//!
//! A crate of its own, with one small dependency, so that `scripts/demo` can
//! build it in seconds and let it work through the Debian mirror and dpkg
//! while cdwiz itself compiles (`cdwiz-sandbox-rootfs SANDBOX_DIR`); cdwiz
//! then finds the tarballs ready. No registry is involved; only the mirror.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

const SUITE: &str = "bookworm";
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Overrides the Debian mirror debootstrap uses.
pub const MIRROR_ENV: &str = "CDWIZ_DEBIAN_MIRROR";

/// Where the sandbox product's entry script is in its image.
pub const PRODUCT_ENTRY: &str = "/usr/local/bin/cd-sandbox-entry";

/// What a recipe's root filesystem becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A tarball, which cdwiz imports as a container image.
    Tarball,
    /// A virtual machine's boot files in a folder: `root.ext4` (the root
    /// filesystem as a sparse disk image), `vmlinuz` and `initrd.img` (the
    /// Debian kernel and initramfs installed in it).
    VmDisk,
}

/// What goes into a root filesystem.
pub struct Recipe {
    /// `host`, `host-arm64`, `vm-carrier` or `product`: names the output,
    /// logs and lock.
    pub name: &'static str,
    /// Debian's name of the architecture to build for (`amd64`, `arm64`);
    /// another than this machine's runs under emulation (qemu-user through
    /// binfmt_misc).
    pub arch: &'static str,
    pub packages: &'static [&'static str],
    /// Packages this recipe adds to the ones it shares with another.
    pub extra_packages: &'static [&'static str],
    /// Shell script run once in the chroot after the packages are installed.
    pub customize: &'static str,
    /// Files placed into the root before customizing: (path, mode, content).
    pub files: &'static [(&'static str, u32, &'static str)],
    pub output: Output,
}

/// The sandbox hosts: Debian with sshd, sudo, keepalived and Docker. python3
/// lets a host serve as an Ansible peer in benchmarks (cdwiz itself never
/// needs it on a host); haproxy lets a host play the customer's load balancer
/// for `ha-lb`, docker-registry the customer's image registry for `k8s`, and
/// dnsmasq the test cluster's DNS.
pub const HOST: Recipe = Recipe {
    name: "host",
    arch: "amd64",
    packages: &[
        "openssh-server",
        "sudo",
        "iproute2",
        "procps",
        "keepalived",
        "iputils-ping",
        "ca-certificates",
        "docker.io",
        "iptables",
        "python3",
        "socat",
        "curl",
        "e2fsprogs",
        "chrony",
        "haproxy",
        "docker-registry",
        "dnsmasq-base",
    ],
    extra_packages: &[],
    customize: include_str!("../../../assets/sandbox/customize.sh"),
    files: &[],
    output: Output::Tarball,
};

/// The sandbox product's one runtime image (etcd, database, cache,
/// sentinel, backend, web and keepalived all run from it).
pub const PRODUCT: Recipe = Recipe {
    name: "product",
    arch: "amd64",
    packages: &[
        "postgresql",
        // The replicated data tier (HA topologies): Patroni keeps
        // PostgreSQL's primary and synchronous standbys, with etcd as its
        // consensus store; Redis Sentinel is in redis-server's binary.
        "patroni",
        "etcd-server",
        "etcd-client",
        "redis-server",
        "nginx-light",
        "socat",
        "keepalived",
        "ca-certificates",
    ],
    extra_packages: &[],
    customize: include_str!("../../../assets/sandbox/product/customize.sh"),
    // The entry script is each release's own layer (cdwiz's
    // `sandbox/bundle.rs`): a change to it rebuilds no root filesystem.
    files: &[],
    output: Output::Tarball,
};

/// Where an arm64 host VM's first program is (the kernel's `init=`).
pub const VM_BOOT: &str = "/usr/local/sbin/cdwiz-vm-boot";

/// The sandbox hosts for arm64: the same recipe built from Debian's arm64
/// packages (under qemu-user), plus Debian's arm64 kernel, made into a
/// virtual machine's disk. qemu-user runs the programs but cannot make
/// containers; the VM (qemu-system-aarch64) has a real arm64 kernel.
pub const HOST_ARM64: Recipe = Recipe {
    name: "host-arm64",
    arch: "arm64",
    extra_packages: &["linux-image-arm64"],
    customize: concat!(
        include_str!("../../../assets/sandbox/customize.sh"),
        include_str!("../../../assets/sandbox/vm/customize.sh")
    ),
    files: &[(
        VM_BOOT,
        0o755,
        include_str!("../../../assets/sandbox/vm/boot.sh"),
    )],
    output: Output::VmDisk,
    ..HOST
};

/// The carrier of an arm64 host VM: a small amd64 container that holds the
/// host's address and runs qemu-system-aarch64 (software emulation).
pub const VM_CARRIER: Recipe = Recipe {
    name: "vm-carrier",
    arch: "amd64",
    packages: &[
        "qemu-system-arm",
        "qemu-utils",
        "iproute2",
        "openssh-client",
        "e2fsprogs",
        "procps",
    ],
    extra_packages: &[],
    customize: include_str!("../../../assets/sandbox/vm/carrier-customize.sh"),
    files: &[],
    output: Output::Tarball,
};

/// The sandbox product for arm64: the same recipe from Debian's arm64
/// packages.
pub const PRODUCT_ARM64: Recipe = Recipe {
    name: "product-arm64",
    arch: "arm64",
    ..PRODUCT
};

impl Recipe {
    /// A short hash of everything that shapes the result; part of image tags.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(SUITE);
        for p in self.packages.iter().chain(self.extra_packages) {
            h.update([0]);
            h.update(p);
        }
        h.update([1]);
        h.update(self.customize);
        // amd64 hashes as it did before there were other architectures.
        if self.arch != "amd64" {
            h.update([3]);
            h.update(self.arch);
        }
        for (path, mode, text) in self.files {
            h.update([2]);
            h.update(path);
            h.update(mode.to_le_bytes());
            h.update(text);
        }
        format!("{:x}", h.finalize())[..12].to_string()
    }

    /// The finished tarball of this recipe's root filesystem in `build_dir`.
    pub fn tarball(&self, build_dir: &Path) -> PathBuf {
        build_dir.join(format!("{}-{}.tar", self.name, self.hash()))
    }

    /// The finished folder of a [`Output::VmDisk`] recipe in `build_dir`.
    pub fn vm_dir(&self, build_dir: &Path) -> PathBuf {
        build_dir.join(format!("{}-{}.vm", self.name, self.hash()))
    }

    /// What [`prepare`] makes of this recipe in `build_dir`.
    pub fn output_path(&self, build_dir: &Path) -> PathBuf {
        match self.output {
            Output::Tarball => self.tarball(build_dir),
            Output::VmDisk => self.vm_dir(build_dir),
        }
    }

    /// The mark cdwiz leaves once it made this recipe's tarball into an image
    /// (a prefetch then has nothing to do).
    pub fn used_mark(&self, build_dir: &Path) -> PathBuf {
        build_dir.join(format!("{}-{}.used", self.name, self.hash()))
    }
}

/// What went wrong building a root filesystem. cdwiz words these in the
/// operator's language; `Display` is the English for logs and this crate's
/// own program.
#[derive(Debug)]
pub enum Error {
    NeedsRoot,
    /// Another architecture's packages need an emulator this machine lacks.
    NoEmulator {
        arch: &'static str,
    },
    /// A program could not be started at all.
    Spawn {
        program: &'static str,
        source: std::io::Error,
    },
    /// A step ran and failed; its log's last lines are kept.
    Failed {
        step: Step,
        status: String,
        log: PathBuf,
        tail: String,
    },
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Debootstrap,
    Customize,
    Tar,
    VmDisk,
}

impl Step {
    pub fn id(self) -> &'static str {
        match self {
            Step::Debootstrap => "debootstrap",
            Step::Customize => "customize",
            Step::Tar => "tar",
            Step::VmDisk => "vm-disk",
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NeedsRoot => write!(
                f,
                "building sandbox images needs root (debootstrap and chroot): run as root"
            ),
            Error::NoEmulator { arch } => write!(
                f,
                "building for {arch} needs qemu-user registered with binfmt_misc: run scripts/setup-machine --arm64"
            ),
            Error::Spawn { program, source } => write!(
                f,
                "cannot run {program} ({source}): is it installed? run scripts/setup-machine"
            ),
            Error::Failed {
                step,
                status,
                log,
                tail,
            } => write!(
                f,
                "{} failed ({status}); full log in {}:\n{tail}",
                step.id(),
                log.display()
            ),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes sure `recipe`'s output (its tarball or its VM disk folder, see
/// [`Output`]) is in `build_dir`, building it when it is not; returns its
/// path. One build per recipe at a time, machine-wide (a prefetch and cdwiz,
/// parallel tests): the others wait and find it made. Logs go to
/// `<build_dir>/<name>-*.log`.
pub fn prepare(recipe: &Recipe, build_dir: &Path) -> Result<PathBuf, Error> {
    let done = recipe.output_path(build_dir);
    let _lock = lock(&build_dir.join(format!("{}-rootfs.lock", recipe.name)))?;
    if done.exists() {
        return Ok(done);
    }
    let root = build_dir.join(format!("{}-rootfs", recipe.name));
    let partial = build_dir.join(format!(".{}-{}.partial", recipe.name, recipe.hash()));
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_file(&partial);
    let result = build(recipe, &root, build_dir).and_then(|()| {
        match recipe.output {
            Output::Tarball => write_tar(&root, &partial, build_dir, recipe.name)?,
            Output::VmDisk => write_vm_disk(&root, &partial, build_dir, recipe.name)?,
        }
        std::fs::rename(&partial, &done).map_err(io(&done))
    });
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_file(&partial);
    // Outputs of earlier recipes are of no use any more.
    remove_stale(recipe, build_dir, &done);
    result.map(|()| done)
}

/// Takes the machine-wide lock at `path`; released on drop.
pub fn lock(path: &Path) -> Result<File, Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let file = File::create(path).map_err(io(path))?;
    file.lock().map_err(io(path))?;
    Ok(file)
}

fn remove_stale(recipe: &Recipe, build_dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(build_dir) else {
        return;
    };
    let prefix = format!("{}-", recipe.name);
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let ours = [".tar", ".used", ".vm"].iter().any(|ext| {
            rest.strip_suffix(ext)
                .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        let current = e.path() == keep || e.path() == recipe.used_mark(build_dir);
        if ours && !current {
            let _ = std::fs::remove_file(e.path());
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Builds `recipe` into `root` (replacing whatever is there).
fn build(recipe: &Recipe, root: &Path, logs: &Path) -> Result<(), Error> {
    if !is_root() {
        return Err(Error::NeedsRoot);
    }
    if root.exists() {
        std::fs::remove_dir_all(root).map_err(io(root))?;
    }
    std::fs::create_dir_all(logs).map_err(io(logs))?;
    let mirror = std::env::var(MIRROR_ENV).unwrap_or_else(|_| DEFAULT_MIRROR.to_string());
    if !runs_here(recipe.arch) {
        return Err(Error::NoEmulator { arch: recipe.arch });
    }
    let mut debootstrap = Command::new("debootstrap");
    // A kernel package makes no initramfs while it is installed: under
    // emulation that takes many minutes for modules no VM here loads. A VM
    // recipe's customize script makes a small one instead.
    debootstrap
        .env("INITRD", "No")
        .arg(format!("--arch={}", recipe.arch))
        .arg("--variant=minbase")
        .arg(format!(
            "--include={}",
            [recipe.packages, recipe.extra_packages].concat().join(",")
        ))
        .arg(SUITE)
        .arg(root)
        .arg(&mirror);
    run_logged(
        debootstrap,
        "debootstrap",
        Step::Debootstrap,
        &logs.join(format!("{}-debootstrap.log", recipe.name)),
    )?;
    for (path, mode, text) in recipe.files {
        write_file(&root.join(path.trim_start_matches('/')), text, *mode)?;
    }
    let script = root.join("tmp/cdwiz-customize.sh");
    write_file(&script, recipe.customize, 0o755)?;
    let mut customize = Command::new("chroot");
    customize
        .arg(root)
        .arg("/bin/sh")
        .arg("/tmp/cdwiz-customize.sh");
    run_logged(
        customize,
        "chroot",
        Step::Customize,
        &logs.join(format!("{}-customize.log", recipe.name)),
    )?;
    let _ = std::fs::remove_file(&script);
    Ok(())
}

/// Whether Debian architecture `arch` is this machine's own.
pub fn is_native(arch: &str) -> bool {
    let native = if cfg!(target_arch = "x86_64") {
        "amd64"
    } else if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        ""
    };
    arch == native
}

/// Whether programs of Debian architecture `arch` run on this machine: its
/// own, or one binfmt_misc hands to an emulator.
pub fn runs_here(arch: &str) -> bool {
    if is_native(arch) {
        return true;
    }
    let entry = match arch {
        "arm64" => "qemu-aarch64",
        "amd64" => "qemu-x86_64",
        _ => return false,
    };
    std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/{entry}"))
        .is_ok_and(|s| s.lines().next() == Some("enabled"))
}

/// `tar` of the root filesystem into `out` (numeric owners, as images want).
fn write_tar(root: &Path, out: &Path, logs: &Path, name: &str) -> Result<(), Error> {
    let file = File::create(out).map_err(io(out))?;
    let mut tar = Command::new("tar");
    tar.arg("--numeric-owner")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg("-")
        .arg(".")
        .stdout(file);
    run_logged(tar, "tar", Step::Tar, &logs.join(format!("{name}-tar.log")))
}

/// The size of an arm64 host VM's root disk: sparse, so it takes only what
/// is written (the system, then the images a deploy loads).
const VM_DISK_SIZE: &str = "12G";

/// The folder `out` of a VM made from `root`: its kernel and initramfs
/// (from `/boot`) and the root filesystem as an ext4 disk image (mkfs.ext4
/// copies the tree in; no mount, no loop device).
fn write_vm_disk(root: &Path, out: &Path, logs: &Path, name: &str) -> Result<(), Error> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let boot = root.join("boot");
    for (prefix, target) in [("vmlinuz-", "vmlinuz"), ("initrd.img-", "initrd.img")] {
        let found = std::fs::read_dir(&boot)
            .map_err(io(&boot))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .max()
            .ok_or_else(|| Error::Io {
                path: boot.join(format!("{prefix}*")),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the kernel package installed no such file",
                ),
            })?;
        std::fs::copy(&found, out.join(target)).map_err(io(&found))?;
    }
    let disk = out.join("root.ext4");
    let mut mkfs = Command::new("mkfs.ext4");
    mkfs.args(["-q", "-F", "-L", "cdwiz-root", "-E", "root_owner=0:0", "-d"])
        .arg(root)
        .arg(&disk)
        .arg(VM_DISK_SIZE);
    run_logged(
        mkfs,
        "mkfs.ext4",
        Step::VmDisk,
        &logs.join(format!("{name}-vm-disk.log")),
    )
}

fn run_logged(
    mut cmd: Command,
    program: &'static str,
    step: Step,
    log: &Path,
) -> Result<(), Error> {
    let file = File::create(log).map_err(io(log))?;
    let err_file = file.try_clone().map_err(io(log))?;
    if step != Step::Tar {
        cmd.stdout(file);
    }
    let status = cmd
        .stdin(Stdio::null())
        .stderr(err_file)
        .status()
        .map_err(|source| Error::Spawn { program, source })?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n");
        return Err(Error::Failed {
            step,
            status: status.to_string(),
            log: log.to_path_buf(),
            tail,
        });
    }
    Ok(())
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user of this process.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_differ_per_recipe_and_are_stable() {
        assert_eq!(HOST.hash().len(), 12);
        assert_ne!(HOST.hash(), PRODUCT.hash());
        assert_eq!(HOST.hash(), HOST.hash());
    }

    #[test]
    fn stale_tarballs_go_and_the_current_one_stays() {
        let dir = tempdir();
        let keep = HOST.tarball(&dir);
        let old = dir.join("host-0123456789ab.tar");
        let other = dir.join("product-0123456789ab.tar");
        let unrelated = dir.join("host-debootstrap.log");
        for p in [&keep, &old, &other, &unrelated] {
            std::fs::write(p, "x").unwrap();
        }
        remove_stale(&HOST, &dir, &keep);
        assert!(keep.exists() && other.exists() && unrelated.exists());
        assert!(!old.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stale_vm_disk_goes_and_the_current_one_stays() {
        // Not under tempdir(): the other test removes that when it ends.
        let dir = std::env::temp_dir().join(format!("cdwiz-rootfs-vm-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keep = HOST_ARM64.vm_dir(&dir);
        let old = dir.join("host-arm64-0123456789ab.vm");
        let amd64 = HOST.tarball(&dir);
        for d in [&keep, &old] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("root.ext4"), "x").unwrap();
        }
        std::fs::write(&amd64, "x").unwrap();
        remove_stale(&HOST_ARM64, &dir, &keep);
        assert!(keep.join("root.ext4").exists() && amd64.exists());
        assert!(!old.exists());
        assert_eq!(HOST_ARM64.output_path(&dir), keep);
        assert_ne!(HOST_ARM64.hash(), HOST.hash());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cdwiz-rootfs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
