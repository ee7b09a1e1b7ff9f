//! What can go wrong in the sandbox, worded for the operator: cdwiz's own
//! sentences from the catalogue, a tool's or the engine's words quoted.

use std::path::{Path, PathBuf};

use crate::docker::DockerError;
use crate::i18n::Msg;

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
    /// A root filesystem could not be built (debootstrap, the customize
    /// script, tar, or not root).
    #[error(transparent)]
    Rootfs(cdwiz_sandbox_rootfs::Error),
    #[error("the engine refused the image {tag}: {detail}")]
    Import { tag: String, detail: String },
    /// `bundle build` refused the sandbox product (its own messages).
    #[error("bundle build: {}", .0.iter().map(|m| m.render("en")).collect::<Vec<_>>().join("; "))]
    BundleBuild(Vec<Msg>),
    /// Everything else, worded for the operator.
    #[error("{}", .0.render("en"))]
    Said(Msg),
}

/// This machine's engine's failure, worded for the operator.
pub fn docker_msg(e: &DockerError) -> Msg {
    match e {
        DockerError::NoEngine { socket, reason } => said("sandbox.err.no-engine")
            .arg("socket", socket)
            .arg("reason", reason),
        other => said("sandbox.err.docker").arg("detail", other),
    }
}

/// A sandbox error worded by the catalogue key `key`.
pub(crate) fn said(key: &str) -> Msg {
    Msg::new(key)
}

impl From<Msg> for SandboxError {
    fn from(m: Msg) -> Self {
        SandboxError::Said(m)
    }
}

impl SandboxError {
    /// The error worded for the operator: cdwiz's own sentences come from
    /// the catalogue; what a tool or the engine said is quoted as it is.
    pub fn lines(&self) -> Vec<Msg> {
        use cdwiz_sandbox_rootfs::Error as R;
        let one = match self {
            SandboxError::Said(m) => m.clone(),
            SandboxError::BundleBuild(messages) => {
                return messages
                    .iter()
                    .map(|m| said("sandbox.err.bundle-build").arg_msg("detail", m.clone()))
                    .collect();
            }
            SandboxError::Io { path, source } => said("sandbox.err.io")
                .arg("path", path.display())
                .arg("error", source),
            SandboxError::NoInstance(name) => said("sandbox.err.no-instance").arg("name", name),
            SandboxError::NoHost {
                instance,
                host,
                known,
            } => said("sandbox.err.no-host")
                .arg("instance", instance)
                .arg("host", host)
                .arg("known", known),
            SandboxError::Import { tag, detail } => said("sandbox.err.import")
                .arg("tag", tag)
                .arg("detail", detail),
            SandboxError::Rootfs(R::NeedsRoot) => said("sandbox.err.rootfs-root"),
            SandboxError::Rootfs(R::NoEmulator { arch }) => {
                said("sandbox.err.rootfs-emulator").arg("arch", arch)
            }
            SandboxError::Rootfs(R::Spawn { program, source }) => said("sandbox.err.rootfs-spawn")
                .arg("program", program)
                .arg("error", source),
            SandboxError::Rootfs(R::Failed {
                step,
                status,
                log,
                tail,
            }) => said("sandbox.err.rootfs-failed")
                .arg_msg("step", said(&format!("sandbox.step.{}", step.id())))
                .arg("status", status)
                .arg("log", log.display())
                .arg("tail", tail),
            SandboxError::Rootfs(R::Io { path, source }) => said("sandbox.err.io")
                .arg("path", path.display())
                .arg("error", source),
            SandboxError::Docker(e) => docker_msg(e),
        };
        vec![one]
    }

    pub(super) fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> SandboxError {
        let path = path.as_ref().to_path_buf();
        move |source| SandboxError::Io { path, source }
    }
}

pub(super) fn api(call: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> SandboxError {
    let call = call.into();
    move |e| SandboxError::Docker(DockerError::api(call, e))
}
