//! From the answers to a Kubernetes client: the kubeconfig file, the
//! context in it, and a client with bounded connect and read times. The
//! checks walk these steps one by one (each is a check); the deploy and
//! uninstall take the client in one call.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::i18n::Msg;
use crate::profile::Answers;

/// How long one API request may take to connect, and to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The kubeconfig file the answers name (relative to the profile's
/// directory `base`; `~/.kube/config` when they name none).
pub fn kubeconfig_path(answers: &Answers, base: &Path) -> PathBuf {
    let file = answers
        .topology
        .kubeconfig
        .as_deref()
        .unwrap_or("~/.kube/config");
    let file = file.strip_prefix("./").unwrap_or(file);
    base.join(crate::paths::expand_home(file))
}

/// Why no client could be made, as the check that says so.
#[derive(Debug)]
pub enum ConnectError {
    /// `k8s.kubeconfig`: the file cannot be read.
    Kubeconfig { path: PathBuf, error: String },
    /// `k8s.context`: the context is not in the file.
    UnknownContext {
        path: PathBuf,
        context: String,
        known: Vec<String>,
    },
    /// `k8s.context`: the file has no current context, the answers name none.
    NoContext { path: PathBuf, known: Vec<String> },
    /// `k8s.api`: the context's cluster or user cannot be used.
    Config { context: String, error: String },
    /// `k8s.kubeconfig`: the context's user runs a program on this machine
    /// to log in (`exec`, an `auth-provider`'s `cmd-path`) the operator
    /// has not allowed (`--allow-exec`); the whole command line.
    Exec { path: PathBuf, command: String },
    /// `k8s.kubeconfig`: the context's user sends a token file from
    /// outside the kubeconfig's folder that the operator has not trusted.
    TokenFile { path: PathBuf, file: PathBuf },
}

impl ConnectError {
    /// The check this failure belongs to.
    pub fn check(&self) -> &'static str {
        match self {
            ConnectError::Kubeconfig { .. }
            | ConnectError::Exec { .. }
            | ConnectError::TokenFile { .. } => "k8s.kubeconfig",
            ConnectError::UnknownContext { .. } | ConnectError::NoContext { .. } => "k8s.context",
            ConnectError::Config { .. } => "k8s.api",
        }
    }

    pub fn message(&self) -> Msg {
        let m = |k: &str| Msg::new(format!("check.{k}"));
        match self {
            ConnectError::Kubeconfig { path, error } => m("k8s.kubeconfig.unreadable")
                .arg("path", path.display())
                .arg("error", error),
            ConnectError::UnknownContext {
                path,
                context,
                known,
            } => m("k8s.context.unknown")
                .arg("context", context)
                .arg("path", path.display())
                .arg("known", known.join(", ")),
            ConnectError::NoContext { path, .. } => {
                m("k8s.context.none").arg("path", path.display())
            }
            ConnectError::Config { context, error } => m("k8s.api.config")
                .arg("context", context)
                .arg("error", error),
            ConnectError::Exec { path, command } => m("k8s.kubeconfig.exec")
                .arg("path", path.display())
                .arg("command", command),
            ConnectError::TokenFile { path, file } => m("k8s.kubeconfig.token-file")
                .arg("path", path.display())
                .arg("file", file.display()),
        }
    }
}

/// A client for the answers' cluster, with what the checks report of it.
pub struct Connected {
    pub client: kube::Client,
    pub path: PathBuf,
    pub context: String,
    /// The API server's address.
    pub url: String,
}

/// Reads the kubeconfig.
pub fn read(answers: &Answers, base: &Path) -> Result<(PathBuf, Kubeconfig), ConnectError> {
    let path = kubeconfig_path(answers, base);
    match Kubeconfig::read_from(&path) {
        Ok(k) => Ok((path, k)),
        Err(e) => Err(ConnectError::Kubeconfig {
            path,
            error: e.to_string(),
        }),
    }
}

/// The context to use: the answers' one, or the file's current one.
pub fn context(
    answers: &Answers,
    path: &Path,
    kubeconfig: &Kubeconfig,
) -> Result<String, ConnectError> {
    let known: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    let wanted = answers
        .topology
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone());
    match wanted {
        Some(c) if known.contains(&c) => Ok(c),
        Some(context) => Err(ConnectError::UnknownContext {
            path: path.to_path_buf(),
            context,
            known,
        }),
        None => Err(ConnectError::NoContext {
            path: path.to_path_buf(),
            known,
        }),
    }
}

/// A client for `context`; requests time out after [`TIMEOUT`] unless
/// `read_timeout` says otherwise (a followed log or a watch waits longer).
pub async fn client(
    kubeconfig: Kubeconfig,
    context: &str,
    read_timeout: Option<Duration>,
) -> Result<(kube::Client, String), ConnectError> {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let fail = |e: &dyn std::fmt::Display| ConnectError::Config {
        context: context.to_string(),
        error: e.to_string(),
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| fail(&e))?;
    config.connect_timeout = Some(TIMEOUT);
    config.read_timeout = read_timeout.or(Some(TIMEOUT));
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| fail(&e))?;
    Ok((client, url))
}

/// All three steps: a client for the answers' cluster.
pub async fn connect(
    answers: &Answers,
    base: &Path,
    read_timeout: Option<Duration>,
) -> Result<Connected, ConnectError> {
    let (path, kubeconfig) = read(answers, base)?;
    let context = context(answers, &path, &kubeconfig)?;
    runs_nothing_unasked(&path, &kubeconfig, &context)?;
    let (client, url) = client(kubeconfig, &context, read_timeout).await?;
    Ok(Connected {
        client,
        path,
        context,
        url,
    })
}

/// The kubeconfig is untrusted like the profile that names it: the
/// context's user may not run a program here to log in (`exec`, an
/// `auth-provider` with `cmd-path`) unless the operator allowed that very
/// command line (`--allow-exec`), nor send a token file from outside the
/// kubeconfig's folder that the operator has not trusted (`--trust`).
/// Checked before a client is made: nothing has run.
pub fn runs_nothing_unasked(
    path: &Path,
    kubeconfig: &Kubeconfig,
    context: &str,
) -> Result<(), ConnectError> {
    let user = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone());
    let Some(auth) = kubeconfig
        .auth_infos
        .iter()
        .filter(|a| Some(&a.name) == user.as_ref())
        .find_map(|a| a.auth_info.as_ref())
    else {
        return Ok(());
    };
    let line = |command: &str, args: &[String]| {
        std::iter::once(command.to_string())
            .chain(args.iter().cloned())
            .map(|w| crate::ssh::quote(&w))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut commands = Vec::new();
    if let Some(e) = &auth.exec {
        commands.push(line(
            e.command.as_deref().unwrap_or(""),
            e.args.as_deref().unwrap_or(&[]),
        ));
    }
    if let Some(p) = &auth.auth_provider
        && let Some(cmd) = p.config.get("cmd-path")
    {
        let args: Vec<String> = p
            .config
            .get("cmd-args")
            .map(|a| a.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        commands.push(line(cmd, &args));
    }
    for command in commands {
        if !crate::consent::exec_allowed(&command) {
            return Err(ConnectError::Exec {
                path: path.to_path_buf(),
                command,
            });
        }
    }
    if let Some(file) = &auth.token_file {
        let folder = path.parent().unwrap_or(Path::new("."));
        let file = folder.join(file);
        if !crate::consent::file_allowed(&file, folder) {
            return Err(ConnectError::TokenFile {
                path: path.to_path_buf(),
                file,
            });
        }
    }
    Ok(())
}
