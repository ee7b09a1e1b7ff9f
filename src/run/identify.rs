//! Which installation the run is, as its hosts (or its namespace) say.
//! Before the run reached them, this machine's records named one
//! (`installation::resolve`); the install records on the hosts, or the
//! install label on the namespace, decide: a second engineer's laptop
//! joins the installation they carry, and hosts that lost this machine's
//! installation (uninstalled; another customer's machines on the same
//! private addresses) make a new one, with new generated secrets.

use std::sync::Arc;

use super::{Session, emit};
use crate::connect::Connector;
use crate::event::{Event, EventSender};
use crate::i18n::Msg;
use crate::installation::{self, Identity};

impl Session {
    /// Asks the hosts (or the namespace) which installation they are, and
    /// goes on as that one. True when it is not the one this machine took
    /// it for (the checks, which compare records with it, run again).
    pub(super) async fn identify(&mut self, tx: &Option<EventSender>) -> bool {
        let candidate = crate::profile::install_id(&self.answers);
        let answered: Vec<(String, Option<String>)> = if self.on_cluster() {
            self.namespace_install().await.into_iter().collect()
        } else {
            self.answered()
                .await
                .into_iter()
                .map(|(host, record)| {
                    let id = record
                        .as_ref()
                        .and_then(|r| r.get("install")?.as_str().map(str::to_string));
                    (host, id)
                })
                .collect()
        };
        if answered.is_empty() {
            return false;
        }
        let (to, said) = match installation::identify(&self.data_dir, &candidate, &answered) {
            Identity::Same => {
                if let Err(e) = installation::meet(&self.data_dir, &candidate, &self.answers) {
                    tracing::warn!(error = %e, "cannot record the installation");
                }
                return false;
            }
            Identity::Joins { install, hosts } => {
                let said = Msg::new("install.joins")
                    .arg("install", &install)
                    .arg("hosts", hosts.join(", "));
                (install, (said, hosts))
            }
            Identity::New { install, hosts } => {
                let said = Msg::new("install.new")
                    .arg("install", &install)
                    .arg("was", &candidate)
                    .arg("hosts", hosts.join(", "));
                (install, (said, hosts))
            }
        };
        tracing::info!(from = %candidate, to = %to, "the hosts say which installation this is");
        let switched = installation::switch(&self.data_dir, &candidate, &to, &self.answers)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot record the installation");
                installation::Switched {
                    other_key: false,
                    forgotten: false,
                }
            });
        self.answers.install = Some(to.clone());
        self.state.install = to.clone();
        let install_file = self.run_dir.join(crate::rundir::INSTALL_FILE);
        if let Err(e) = crate::rundir::write_atomic(&install_file, &format!("{to}\n")) {
            tracing::warn!(error = %e, "{}", install_file.display());
        }
        self.before = installation::last_answers(&self.data_dir, &to);
        // A resumed run's steps were another installation's.
        if self.trust_state {
            self.trust_state = false;
            self.state.done.clear();
        }
        // What is rendered names the installation (on a cluster, its
        // objects' labels).
        if let Ok(rendered) =
            crate::render::render(&self.answers, &self.bundle.manifest, Some(&self.bundle.dir))
        {
            let _ = crate::render::write(&rendered, &self.run_dir.join("rendered"));
            self.state.fingerprint =
                super::inputs::fingerprint(&self.answers, &self.bundle, &rendered);
            self.rendered = rendered;
        }
        // Host keys and cdwiz's own key from here on: the installation's.
        let before = std::mem::replace(
            &mut self.connector,
            Arc::new(Connector::new(
                &self.answers,
                self.secrets.clone(),
                &self.data_dir,
                &self.base,
                self.askpass.clone(),
            )),
        );
        if switched.other_key {
            self.take_back_key(&before).await;
        }
        if switched.forgotten
            && let Some(dir) = before.own_key.parent()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
        let (said, hosts) = said;
        emit(
            tx,
            Event::InstallIdentified {
                install: to,
                hosts,
                said,
            },
        )
        .await;
        true
    }

    /// The key the logins of the installation this machine took the run
    /// for installed (on the hosts, on the bastion) is not the one of the
    /// installation it is: taken away. Unless the run holds the hosts'
    /// locks (on these connections), the hosts are logged in to again, by
    /// the checks asked again, with the right one; else the next run's
    /// logins put it there.
    async fn take_back_key(&mut self, before: &Connector) {
        let Some(targets) = &self.targets else {
            return;
        };
        let removals = targets.hosts.values().map(|t| async move {
            if let Err(e) = t.conn.remove_own_key().await {
                tracing::warn!(host = %t.address, error = %e, "cannot remove the key of another installation");
            }
        });
        futures_util::future::join_all(removals).await;
        if let Err(e) = before.remove_own_key_from_jump().await {
            tracing::warn!(error = %e.message().render("en"), "cannot remove the key of another installation from the bastion");
        }
        if self.heartbeat.is_none()
            && let Some(targets) = self.targets.take()
        {
            targets.close().await;
        }
    }

    /// The namespace and the installation its label names, when cdwiz
    /// made it; nothing when the cluster cannot be asked.
    async fn namespace_install(&self) -> Option<(String, Option<String>)> {
        let ns = crate::plan::namespace(&self.answers.topology).to_string();
        let clients = crate::deploy::k8s::Clients::connect(&self.answers, &self.base)
            .await
            .ok()?;
        let id = crate::cluster::installed_in(&clients.api, &ns).await.ok()?;
        Some((format!("namespace/{ns}"), id))
    }
}
