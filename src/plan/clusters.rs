//! The components whose copies form one cluster: their members in the
//! profile's host order, the bootstrap member, the majority they need and
//! how many members they can lose. Templates, `validate --plan`, Review
//! and (next) the deploy and `status` read them from here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bundle::{ClusterForm, Manifest, Quorum};
use crate::profile::Answers;

/// One component's cluster on the answers' hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedComponentCluster {
    pub component: String,
    pub form: ClusterForm,
    /// Its members, the bootstrap first.
    pub members: Vec<Member>,
    /// Members that must be up for it to work (a majority; 1 when any
    /// member keeps it going).
    pub quorum: u32,
    /// Members it can lose and keep working.
    pub tolerates: u32,
    /// The manifest's settings for it, as given.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, serde_yaml::Value>,
}

/// A member of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Member {
    /// 1, 2, … in the profile's host order: the member's id in the
    /// cluster (ZooKeeper's `myid`, a Kafka broker id).
    pub id: u32,
    pub address: String,
    /// The member that starts the cluster (the first primary).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bootstrap: bool,
}

impl PlannedComponentCluster {
    /// `component`'s cluster with one member, at `address`.
    pub fn alone(component: &str, c: &crate::bundle::Cluster, address: &str) -> Self {
        PlannedComponentCluster {
            component: component.to_string(),
            form: c.form,
            members: vec![Member {
                id: 1,
                address: address.to_string(),
                bootstrap: true,
            }],
            quorum: 1,
            tolerates: 0,
            settings: c.settings.clone(),
        }
    }

    /// The member on `address`, if it is one.
    pub fn member(&self, address: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.address == address)
    }

    /// The bootstrap member's address.
    pub fn bootstrap(&self) -> &str {
        self.members.first().map_or("", |m| m.address.as_str())
    }
}

/// The majority of `members`, and how many of them can be lost with it
/// kept; with no quorum, one member is enough.
pub fn quorum(members: u32, kind: Quorum) -> (u32, u32) {
    let need = match kind {
        Quorum::Majority => members / 2 + 1,
        Quorum::None => 1.min(members),
    };
    (need, members.saturating_sub(need))
}

/// Every clustered component the manifest places on the answers' hosts,
/// in manifest order (none on a Kubernetes cluster: there a component's
/// replicas are its workload's).
pub fn clusters(answers: &Answers, manifest: &Manifest) -> Vec<PlannedComponentCluster> {
    if answers.topology.kind == crate::profile::TopologyKind::K8s {
        return Vec::new();
    }
    manifest
        .components
        .iter()
        .filter_map(|c| {
            let cluster = c.cluster.as_ref()?;
            let hosts = super::placement(answers, c);
            if hosts.is_empty() {
                return None;
            }
            let members: Vec<Member> = hosts
                .into_iter()
                .enumerate()
                .map(|(i, address)| Member {
                    id: i as u32 + 1,
                    address,
                    bootstrap: i == 0,
                })
                .collect();
            let (need, tolerates) = quorum(members.len() as u32, cluster.quorum);
            Some(PlannedComponentCluster {
                component: c.name.clone(),
                form: cluster.form,
                members,
                quorum: need,
                tolerates,
                settings: cluster.settings.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_majority_of_three_survives_one_loss_and_of_two_none() {
        assert_eq!(quorum(1, Quorum::Majority), (1, 0));
        assert_eq!(quorum(2, Quorum::Majority), (2, 0));
        assert_eq!(quorum(3, Quorum::Majority), (2, 1));
        assert_eq!(quorum(5, Quorum::Majority), (3, 2));
        assert_eq!(quorum(3, Quorum::None), (1, 2));
    }

    fn answers(kind: &str, masters: usize) -> Answers {
        let hosts: Vec<String> = (1..=masters + 1)
            .map(|i| {
                let role = if i <= masters { "master" } else { "worker" };
                format!("{{ address: 192.0.2.{i}, roles: [{role}] }}")
            })
            .collect();
        let extra = match kind {
            "ha-keepalived" => ", vip: 192.0.2.100, interface: eth0",
            _ => "",
        };
        let hosts = if kind == "single" {
            "[{ address: 192.0.2.1, roles: [master, worker] }]".to_string()
        } else {
            format!("[{}]", hosts.join(", "))
        };
        serde_yaml::from_str(&format!(
            "version: 1\nbundle: b\ntopology: {{ kind: {kind}{extra} }}\n\
             ssh: {{ user: root, auth: agent }}\nhosts: {hosts}\n"
        ))
        .unwrap()
    }

    fn manifest() -> Manifest {
        serde_yaml::from_str(
            "version: 1\nproduct: { name: cd, version: 1.0.0 }\nimages: []\ncomponents:\n\
             - { name: zk, image: z, ports: [2181], placement: { roles: [master], count: 3 }, \
                 cluster: { settings: { tick: 2000 } } }\n\
             - { name: db, image: d, ports: [5432], placement: { roles: [master], count: all }, \
                 cluster: { form: bootstrap-then-join, quorum: none } }\n\
             - { name: web, image: w, ports: [80], placement: { roles: [master], count: all } }\n",
        )
        .unwrap()
    }

    /// Three members out of four masters, ids in host order, the first the
    /// bootstrap; a component without `cluster` is none; `single` keeps
    /// one of each.
    #[test]
    fn members_come_from_the_placement_in_host_order() {
        let ha = clusters(&answers("ha-keepalived", 4), &manifest());
        assert_eq!(ha.len(), 2, "{ha:?}");
        let zk = &ha[0];
        assert_eq!(zk.component, "zk");
        let addresses: Vec<&str> = zk.members.iter().map(|m| m.address.as_str()).collect();
        assert_eq!(addresses, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        assert_eq!(
            zk.members.iter().map(|m| m.id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(zk.bootstrap(), "192.0.2.1");
        assert_eq!((zk.quorum, zk.tolerates), (2, 1));
        assert_eq!(zk.settings["tick"], serde_yaml::Value::from(2000));
        assert_eq!(zk.member("192.0.2.2").map(|m| m.id), Some(2));
        assert_eq!(zk.member("192.0.2.5"), None, "a worker is no member");
        let db = &ha[1];
        assert_eq!(db.form, ClusterForm::BootstrapThenJoin);
        assert_eq!(db.members.len(), 4);
        assert_eq!((db.quorum, db.tolerates), (1, 3));

        let single = clusters(&answers("single", 1), &manifest());
        assert!(single.iter().all(|c| c.members.len() == 1), "{single:?}");
        assert_eq!((single[0].quorum, single[0].tolerates), (1, 0));
    }

    #[test]
    fn a_count_is_one_all_or_a_number_and_nothing_else() {
        let count = |s: &str| serde_yaml::from_str::<crate::bundle::PlacementCount>(s);
        use crate::bundle::PlacementCount::*;
        assert_eq!(count("one").unwrap(), One);
        assert_eq!(count("all").unwrap(), All);
        assert_eq!(count("3").unwrap(), Exactly(3));
        assert_eq!(count("1").unwrap(), One);
        assert!(count("0").is_err());
        let e = count("some").unwrap_err().to_string();
        assert!(e.contains("one, all or a number"), "{e}");
    }
}
