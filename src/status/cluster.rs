//! `status` of an installation on a cluster: its namespace's objects and
//! each component's workload through the Kubernetes API (read-only: drift
//! is a dry-run apply), and the entry through its Service.

use std::path::Path;

use super::{ClusterStatus, EntryStatus, StatusReport};
use crate::bundle::Bundle;
use crate::deploy::k8s::inspect;
use crate::i18n::Msg;
use crate::profile::Answers;
use crate::render::RenderedFile;

impl ClusterStatus {
    /// What is not well, one message each.
    pub fn problems(&self) -> Vec<Msg> {
        let ns = &self.namespace;
        let mut out = Vec::new();
        if let Some(why) = &self.unreachable {
            out.push(
                Msg::new("status.problem.cluster-unreachable")
                    .arg("ns", ns)
                    .arg_msg("why", why.clone()),
            );
        }
        for d in &self.drifted {
            out.push(
                Msg::new("status.problem.object")
                    .arg("ns", ns)
                    .arg("object", &d.object),
            );
        }
        for w in self.components.iter().filter(|w| !w.well()) {
            out.push(
                Msg::new("status.problem.workload")
                    .arg("ns", ns)
                    .arg("kind", &w.kind)
                    .arg("name", &w.name),
            );
        }
        out
    }
}

/// Asks the answers' cluster; a cluster that cannot be asked is a problem
/// of the report, not an error.
pub(super) async fn status(
    a: &Answers,
    base: &Path,
    bundle: &Bundle,
    rendered: &[RenderedFile],
) -> StatusReport {
    let mut cluster = ClusterStatus {
        namespace: crate::plan::namespace(&a.topology).to_string(),
        unreachable: None,
        drifted: Vec::new(),
        compare_error: None,
        components: Vec::new(),
    };
    let mut report = StatusReport {
        hosts: Vec::new(),
        vip: None,
        entry: None,
        cluster: None,
        clusters: Vec::new(),
    };
    let asked = match crate::cluster::connect(a, base, None).await {
        Ok(c) => match c.client.apiserver_version().await {
            Ok(_) => Ok(c.client),
            Err(e) => Err(Msg::from(crate::deploy::k8s::api_cause(&e))),
        },
        Err(e) => Err(e.message()),
    };
    let client = match asked {
        Ok(client) => client,
        Err(why) => {
            cluster.unreachable = Some(why);
            report.cluster = Some(cluster);
            return report;
        }
    };
    // Compared with what the installation the namespace's label names
    // was given (made from this machine or another).
    let relabelled = match crate::cluster::installed_in(&client, &cluster.namespace).await {
        Ok(Some(id)) if a.install.as_deref() != Some(id.as_str()) => {
            let mut b = a.clone();
            b.install = Some(id);
            crate::render::render(&b, &bundle.manifest, Some(&bundle.dir))
                .ok()
                .map(|r| (b, r))
        }
        _ => None,
    };
    let (a, rendered) = match &relabelled {
        Some((b, r)) => (b, r.as_slice()),
        None => (a, rendered),
    };
    let components = crate::plan::cluster_components(&bundle.manifest);
    let workloads = components
        .iter()
        .map(|c| inspect::workload(&client, a, rendered, c));
    let (namespace, workloads, entry) = tokio::join!(
        inspect::drifted(&client, a, rendered, "namespace"),
        futures_util::future::join_all(workloads),
        inspect::entry(&client, a, &bundle.manifest),
    );
    match namespace {
        Ok(d) => cluster.drifted = d,
        Err(e) => cluster.compare_error = Some(e),
    }
    cluster.components = workloads;
    report.entry = entry.map(|(url, answered)| EntryStatus {
        url,
        answers: answered.is_ok(),
        error: answered.err().map(Msg::from),
    });
    report.cluster = Some(cluster);
    report
}
