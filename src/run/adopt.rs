//! Generated secrets a run must not make anew. When this machine has no
//! record of the installation's generated secrets (another engineer's
//! laptop, a reinstalled one) but the installation is already there, they
//! are read back from where its last deploy put them: the hosts'
//! `<data-dir>/cd/secrets/` files (as root, through the run's locked
//! connections) or the namespace's `<product>-secrets` Secret. So a second
//! engineer's run continues the installation with its passwords instead of
//! writing new ones under a running database. Hosts that disagree on a
//! value stop the run before anything is touched.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ErrorKind, RunError, Session, emit};
use crate::connect::Targets;
use crate::event::{Event, EventSender};
use crate::i18n::Msg;

/// Secret values by name, and where each was read.
type Found = BTreeMap<String, (String, Vec<String>)>;

impl Session {
    /// Reads the installation's generated secrets back from its hosts or
    /// cluster when this machine has none recorded, and records them
    /// (0600). Nothing found: a new installation, nothing to do.
    pub(super) async fn adopt_secrets(
        &self,
        clients: Option<&crate::deploy::k8s::Clients>,
        tx: &Option<EventSender>,
    ) -> Result<(), RunError> {
        let path = crate::deploy::secrets::path(&self.data_dir, &self.answers);
        let names = super::inputs::secret_names(&self.bundle);
        if path.exists() || names.is_empty() {
            return Ok(());
        }
        let locale = self.locale.as_str();
        let failed = |m: Msg| RunError::new(ErrorKind::Deploy, vec![m.render(locale)]);
        let found = match (clients, &self.targets) {
            (Some(c), _) => self.read_cluster(c, &names).await.map_err(failed)?,
            (None, Some(targets)) => {
                // Only from hosts whose record names this installation:
                // leftovers of another are never taken for its secrets.
                let install = crate::profile::install_id(&self.answers);
                let carrying: Vec<String> = self
                    .records()
                    .await
                    .into_iter()
                    .filter(|(_, r)| r.get("install").and_then(|v| v.as_str()) == Some(&install))
                    .map(|(host, _)| host)
                    .collect();
                read_hosts(targets, &carrying, &names).await
            }
            (None, None) => Found::new(),
        };
        if found.is_empty() {
            return Ok(());
        }
        let mut values = BTreeMap::new();
        for (name, (value, from)) in &found {
            if value.is_empty() {
                return Err(failed(
                    Msg::new("adopt.disagree")
                        .arg("name", name)
                        .arg("hosts", from.join(", ")),
                ));
            }
            if !crate::deploy::secrets::well_formed(value) {
                return Err(failed(
                    Msg::new("adopt.malformed")
                        .arg("name", name)
                        .arg("hosts", from.join(", ")),
                ));
            }
            values.insert(name.clone(), value.clone());
        }
        crate::deploy::secrets::store(&path, &values)
            .map_err(|e| RunError::new(ErrorKind::Io, vec![format!("{}: {e}", path.display())]))?;
        let mut from: Vec<String> = found.values().flat_map(|(_, f)| f.clone()).collect();
        from.sort();
        from.dedup();
        tracing::info!(?from, names = ?values.keys(), "generated secrets read back");
        emit(
            tx,
            Event::SecretsAdopted {
                install: crate::profile::install_id(&self.answers),
                names: values.keys().cloned().collect(),
                from,
            },
        )
        .await;
        Ok(())
    }

    /// The values of `names` in the namespace's `<product>-secrets`, when
    /// cdwiz made it.
    async fn read_cluster(
        &self,
        clients: &crate::deploy::k8s::Clients,
        names: &[String],
    ) -> Result<Found, Msg> {
        use k8s_openapi::api::core::v1::Secret;
        let ns = crate::plan::namespace(&self.answers.topology).to_string();
        let name = format!("{}-secrets", self.bundle.manifest.product.name);
        let secret = kube::api::Api::<Secret>::namespaced(clients.api.clone(), &ns)
            .get_opt(&name)
            .await
            .map_err(|e| {
                Msg::new("deploy.k8s.api")
                    .arg("verb", "get")
                    .arg("what", format!("Secret {name}"))
                    .arg("error", crate::deploy::k8s::api_cause(&e))
            })?;
        // cdwiz's, and this installation's.
        let install = crate::profile::install_id(&self.answers);
        let ours = secret.as_ref().is_some_and(|s| {
            let labels = s.metadata.labels.as_ref();
            let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
            label("app.kubernetes.io/managed-by") == Some("cdwiz")
                && label(crate::cluster::INSTALL_LABEL) == Some(install.as_str())
        });
        let data = secret
            .filter(|_| ours)
            .and_then(|s| s.data)
            .unwrap_or_default();
        let place = format!("namespace/{ns}");
        Ok(names
            .iter()
            .filter_map(|n| {
                let v = String::from_utf8(data.get(n)?.0.clone()).ok()?;
                Some((n.clone(), (v, vec![place.clone()])))
            })
            .collect())
    }
}

/// The secret files of `names` on `hosts` (hex, so any byte survives); a
/// name whose hosts disagree has an empty value and names them all.
async fn read_hosts(targets: &Targets, hosts: &[String], names: &[String]) -> Found {
    let reads = targets.hosts.values().filter(|t| hosts.contains(&t.address)).map(|t| async move {
        let dir = format!("{}/cd/secrets", t.data_dir);
        let script = format!(
            "cd {} 2>/dev/null || exit 0; for n in {}; do [ -f \"$n\" ] && printf '%s ' \"$n\" && od -An -v -tx1 < \"$n\" | tr -d ' \\n' && echo; done; true",
            crate::ssh::quote(&dir),
            names
                .iter()
                .map(|n| crate::ssh::quote(n))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = t.conn.run(&script, Duration::from_secs(30)).await.ok()?;
        Some((t.address.clone(), parse(&out.stdout, names)))
    });
    let mut found = Found::new();
    for (host, values) in futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
    {
        merge(&mut found, &host, values);
    }
    found
}

/// One host's values into what the others gave: a value another host
/// holds differently is emptied (the hosts disagree).
fn merge(found: &mut Found, host: &str, values: Vec<(String, String)>) {
    for (name, value) in values {
        let (known, from) = found
            .entry(name)
            .or_insert_with(|| (value.clone(), Vec::new()));
        if *known != value {
            known.clear();
        }
        from.push(host.to_string());
    }
}

/// `name hex` lines into values, for the names asked only.
fn parse(text: &str, names: &[String]) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (name, hex) = l.split_once(' ')?;
            if !names.iter().any(|n| n == name) {
                return None;
            }
            let value = String::from_utf8(crate::text::from_hex(hex)?).ok()?;
            (!value.is_empty()).then(|| (name.to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts_that_disagree_empty_the_value_and_are_all_named() {
        let mut found = super::Found::new();
        let pw = |v: &str| vec![("db_password".to_string(), v.to_string())];
        super::merge(&mut found, "10.0.0.1", pw("a"));
        super::merge(&mut found, "10.0.0.2", pw("a"));
        assert_eq!(found["db_password"].0, "a");
        super::merge(&mut found, "10.0.0.3", pw("b"));
        super::merge(&mut found, "10.0.0.4", pw("a"));
        assert_eq!(found["db_password"].0, "");
        assert_eq!(
            found["db_password"].1,
            ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
        );
    }

    #[test]
    fn hex_lines_become_values_of_the_names_asked() {
        let names = vec!["db_password".to_string(), "cache_password".to_string()];
        let text = "db_password 61624332\ncache_password 7a\nother 41\nbroken 4\n";
        assert_eq!(
            super::parse(text, &names),
            [
                ("db_password".to_string(), "abC2".to_string()),
                ("cache_password".to_string(), "z".to_string())
            ]
        );
        assert!(super::parse("db_password 6\n", &names).is_empty());
        assert!(super::parse("db_password \n", &names).is_empty());
    }
}
