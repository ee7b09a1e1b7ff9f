//! Uninstall, whoever asks (`cdwiz uninstall` or the wizard's Welcome
//! screen): the platform off the profile's hosts, or out of its namespace;
//! the data stays unless purged. Its record, `uninstall.json`, goes into a
//! run directory of its own beside the install's runs.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::{ErrorKind, RunError};
use crate::connect::{Connector, Secrets};
use crate::deploy::UninstallResult;
use crate::profile::{Answers, TopologyKind};

/// What an uninstall needs; `secrets: None` reads the profile's sources.
pub struct UninstallRequest {
    pub answers: Answers,
    /// The profile file, for error lines.
    pub profile: PathBuf,
    /// What relative paths in the answers are relative to.
    pub base: PathBuf,
    pub data_dir: PathBuf,
    /// Where the run directory goes (`runs/<id>/` under it).
    pub workdir: PathBuf,
    pub secrets: Option<Secrets>,
    pub purge: bool,
    pub locale: String,
}

/// What was removed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "from")]
pub enum Uninstalled {
    /// Per host; a host that could not be reached says why.
    Hosts { hosts: Vec<UninstallResult> },
    /// Objects by kind in the namespace.
    Cluster {
        namespace: String,
        removed: crate::deploy::k8s::Removed,
    },
}

impl Uninstalled {
    /// Hosts left as they were (they could not be reached).
    pub fn unreachable(&self) -> usize {
        match self {
            Uninstalled::Hosts { hosts } => hosts.iter().filter(|h| h.skipped.is_some()).count(),
            Uninstalled::Cluster { .. } => 0,
        }
    }
}

/// Uninstalls, then writes `uninstall.json` into a new run directory
/// (returned with the result; none when it could not be written, which the
/// result does not depend on).
pub async fn uninstall(
    mut req: UninstallRequest,
) -> Result<(Uninstalled, Option<PathBuf>), RunError> {
    crate::installation::adopt(&req.data_dir, &mut req.answers);
    let locale = req.locale.as_str();
    let done = if req.answers.topology.kind == TopologyKind::K8s {
        let deploy = |m: crate::i18n::Msg| RunError::new(ErrorKind::Deploy, vec![m.render(locale)]);
        let clients = crate::deploy::k8s::Clients::connect(&req.answers, &req.base)
            .await
            .map_err(deploy)?;
        // What is removed is the installation the namespace's label names
        // (made from this machine or another).
        let ns = crate::plan::namespace(&req.answers.topology).to_string();
        if let Ok(Some(id)) = crate::cluster::installed_in(&clients.api, &ns).await {
            req.answers.install = Some(id);
        }
        let a = &req.answers;
        let removed = crate::deploy::k8s::uninstall(a, &clients.api, req.purge)
            .await
            .map_err(deploy)?;
        Uninstalled::Cluster {
            namespace: crate::plan::namespace(&a.topology).to_string(),
            removed,
        }
    } else {
        let a = &req.answers;
        // Only the manifest is needed (which containers, in which order).
        let bundle = super::manifest_only(a, &req.base, &req.data_dir, &req.profile, locale)?;
        let secrets = super::secrets_or_profile(req.secrets, a, &req.base, &req.profile, locale)?;
        let askpass = crate::connect::askpass_program();
        let connector = Arc::new(Connector::new(
            a,
            secrets,
            &req.data_dir,
            &req.base,
            askpass,
        ));
        let hosts =
            crate::deploy::uninstall(a, &bundle.manifest, connector.clone(), req.purge).await;
        // Taken off every host (and the bastion): the key pair has served.
        if !a.ssh.keep_key
            && hosts.iter().all(|h| h.skipped.is_none())
            && let Some(dir) = connector.own_key.parent()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
        Uninstalled::Hosts { hosts }
    };
    let record = crate::rundir::create(&req.workdir, &crate::rundir::new_run_id())
        .ok()
        .filter(|dir| {
            let json = serde_json::to_string_pretty(&done).unwrap_or_default();
            let install = format!("{}\n", crate::profile::install_id(&req.answers));
            crate::rundir::write_atomic(&dir.join(crate::rundir::INSTALL_FILE), &install).is_ok()
                && crate::rundir::write_atomic(&dir.join("uninstall.json"), &json).is_ok()
        });
    Ok((done, record))
}
