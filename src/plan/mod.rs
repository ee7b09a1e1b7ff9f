//! The plan: what the answers mean for the hosts (which host does what and
//! where the platform will answer), derived from the answers and nothing else.

use serde::Serialize;

use crate::profile::{Answers, Role, TopologyKind};

mod cluster;
mod clusters;
mod entry;
mod placement;
pub mod release;

pub use cluster::{PlannedCluster, namespace, pull_secret, target_name};
pub use clusters::{Member, PlannedComponentCluster, clusters, quorum};
pub use entry::{Entry, entry, entry_url};
pub use placement::{cluster_components, placement};
pub use release::{PlannedRelease, Release, planned_release, with_release};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    pub topology: TopologyKind,
    /// Where the platform answers once installed: the single host, the VIP
    /// or the load balancer (`host:port` for a load balancer).
    pub entry: Option<String>,
    pub hosts: Vec<PlannedHost>,
    /// The bastion the hosts are reached through, and its login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bastion: Option<String>,
    /// ha-keepalived: the VIP, where keepalived announces it, its VRRP id
    /// and the hosts that share it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip: Option<PlannedVip>,
    /// k8s: where on the cluster the platform goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<PlannedCluster>,
    /// Against the installation's last run on this machine: which hosts
    /// are new, kept and removed (none: not installed from here yet). Set
    /// by [`with_membership`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
    /// The release this run puts on the hosts, and the one they run (as far
    /// as this machine knows). Set by [`with_release`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<PlannedRelease>,
    /// The components whose copies form a cluster, with their members
    /// (known once the bundle is). Set by [`with_clusters`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<PlannedComponentCluster>,
    /// What the run takes from this machine: every secret's variable or
    /// file, every hook, the kubeconfig and CA certificate, with the
    /// files' hashes (not a secret's). Set by [`with_sources`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::profile::sources::ListedSource>,
}

/// The plan with what it takes from this machine (files relative to the
/// profile's folder `base`).
pub fn with_sources(mut plan: Plan, a: &Answers, base: &std::path::Path) -> Plan {
    plan.sources = crate::profile::sources::listed(a, base);
    plan
}

/// The plan with the clusters `manifest`'s components form on the hosts.
pub fn with_clusters(mut plan: Plan, a: &Answers, manifest: &crate::bundle::Manifest) -> Plan {
    plan.clusters = clusters(a, manifest);
    plan
}

/// The image archive each host whose architecture the profile gives will
/// get from the bundle; a host whose architecture the bundle lacks is a
/// problem naming its field (`hosts[1].arch`).
pub fn with_archives(
    mut plan: Plan,
    manifest: &crate::bundle::Manifest,
) -> Result<Plan, Vec<crate::i18n::Msg>> {
    let mut problems = Vec::new();
    for (i, h) in plan.hosts.iter_mut().enumerate() {
        let Some(arch) = &h.arch else { continue };
        match manifest.images.iter().find(|a| &a.arch == arch) {
            Some(a) => h.archive = Some(a.file.display().to_string()),
            None => problems.push(
                crate::i18n::Msg::new("validate.arch-missing")
                    .arg("field", format!("hosts[{i}].arch"))
                    .arg("arch", arch)
                    .arg("bundle", manifest.architectures().join(", ")),
            ),
        }
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(problems)
    }
}

/// How the profile's hosts compare with the installation's last run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Membership {
    /// In the profile, not in the last run.
    pub new: Vec<String>,
    /// In both.
    pub kept: Vec<String>,
    /// In the last run, not in the profile.
    pub removed: Vec<String>,
}

impl Membership {
    /// A first install: every host is new.
    pub fn is_first(&self) -> bool {
        self.kept.is_empty() && self.removed.is_empty()
    }
}

/// The VIP keepalived moves between the masters, with its defaults spelled out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedVip {
    pub address: String,
    pub interface: String,
    pub virtual_router_id: u8,
    /// The masters: they run keepalived and hold the VIP in turn.
    pub holders: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedHost {
    pub address: String,
    pub login: String,
    pub roles: Vec<Role>,
    pub data_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_disk: Option<String>,
    pub format_data_disk: bool,
    /// The architecture the profile gives the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The bundle's image archive for that architecture (when the bundle
    /// was at hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
}

/// Where a host keeps the platform: its data dir as the profile gives it,
/// without a trailing slash (the one spelling every part uses).
pub fn data_dir(h: &crate::profile::Host) -> String {
    let d = h.data_dir.trim_end_matches('/');
    if d.is_empty() { "/".into() } else { d.into() }
}

/// The VIP for ha-keepalived answers that have one.
pub fn vip(a: &Answers) -> Option<PlannedVip> {
    let t = &a.topology;
    if t.kind != TopologyKind::HaKeepalived {
        return None;
    }
    Some(PlannedVip {
        address: t.vip.clone()?,
        interface: t.interface.clone().unwrap_or_default(),
        virtual_router_id: t
            .virtual_router_id
            .unwrap_or(crate::profile::DEFAULT_VIRTUAL_ROUTER_ID),
        holders: a.masters(),
    })
}

/// The plan for validated answers.
pub fn plan(a: &Answers) -> Plan {
    let t = &a.topology;
    let entry = entry::address(a).map(|(host, lb_port)| match lb_port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    });
    let roles_sorted = |r: &[Role]| {
        let mut r = r.to_vec();
        r.sort();
        r.dedup();
        r
    };
    Plan {
        topology: t.kind,
        entry,
        hosts: a
            .hosts
            .iter()
            .map(|h| PlannedHost {
                address: h.address.clone(),
                login: a.login(h).describe(&h.address),
                roles: roles_sorted(&h.roles),
                data_dir: data_dir(h),
                data_disk: h.data_disk.clone(),
                format_data_disk: h.format_data_disk,
                arch: h.arch.map(|a| a.as_str().to_string()),
                archive: None,
            })
            .collect(),
        bastion: a
            .bastion()
            .filter(|_| t.kind != TopologyKind::K8s)
            .map(|b| b.describe()),
        vip: vip(a),
        cluster: cluster::planned(t),
        membership: None,
        release: None,
        clusters: Vec::new(),
        sources: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(yaml: &str) -> Answers {
        let a: Answers = serde_yaml::from_str(yaml).unwrap();
        let problems = crate::profile::validate(&a);
        assert!(problems.is_empty(), "{problems:?}");
        a
    }

    fn manifest(components: &str, entry: &str) -> crate::bundle::Manifest {
        serde_yaml::from_str(&format!(
            "version: 1\nproduct: {{ name: cd, version: 1.0.0 }}\nimages: []\n\
             components: {components}\nentry: {entry}\n"
        ))
        .unwrap()
    }

    /// The entry's port is the entry's own, else its component's first; its
    /// path `/` unless given; no entry when the component has no port.
    #[test]
    fn the_entry_port_and_path_are_derived_once() {
        let web = "[{ name: web, image: w, ports: [8080, 9090], placement: { roles: [master] } }]";
        let e = entry(&manifest(web, "{ component: web }")).unwrap();
        assert_eq!(
            (e.component.as_str(), e.port, e.verify.as_str()),
            ("web", 8080, "/")
        );
        let e = entry(&manifest(
            web,
            "{ component: web, port: 9090, verify: /health }",
        ))
        .unwrap();
        assert_eq!((e.port, e.verify.as_str()), (9090, "/health"));
        let portless = "[{ name: web, image: w, placement: { roles: [master] } }]";
        assert_eq!(entry(&manifest(portless, "{ component: web }")), None);
        assert_eq!(entry(&manifest(web, "{ component: db }")), None);
        // Through the load balancer: its port, not the component's.
        let lb = answers(
            "version: 1\nbundle: b\ntopology: { kind: ha-lb, lb-address: 192.0.2.9, lb-port: 443 }\n\
             ssh: { user: root, auth: agent }\n\
             hosts: [{ address: 192.0.2.11, roles: [master] }, { address: 192.0.2.12, roles: [master] }]\n",
        );
        let url = entry_url(&lb, &manifest(web, "{ component: web }")).unwrap();
        assert_eq!(url, ("192.0.2.9".to_string(), 443, "/".to_string()));
        assert_eq!(plan(&lb).entry.as_deref(), Some("192.0.2.9:443"));
    }

    /// The namespace, the VIP and a host's data dir each come from one
    /// function, and the plan shows what they give.
    #[test]
    fn namespace_vip_and_data_dir_are_derived_once() {
        let k8s = answers(
            "version: 1\nbundle: b\ntopology: { kind: k8s, namespace: cd-prod, kubeconfig: kube.yaml }\nhosts: []\n",
        );
        assert_eq!(namespace(&k8s.topology), "cd-prod");
        assert_eq!(plan(&k8s).cluster.unwrap().namespace, "cd-prod");

        let ha = answers(
            "version: 1\nbundle: b\n\
             topology: { kind: ha-keepalived, vip: 192.0.2.100, interface: eth0 }\n\
             ssh: { user: root, auth: agent }\n\
             hosts: [{ address: 192.0.2.11, roles: [master], data-dir: /srv/cd/ }, \
             { address: 192.0.2.12, roles: [master, worker] }, \
             { address: 192.0.2.13, roles: [worker] }]\n",
        );
        let v = vip(&ha).unwrap();
        assert_eq!(v.address, "192.0.2.100");
        assert_eq!(v.interface, "eth0");
        assert_eq!(
            v.virtual_router_id,
            crate::profile::DEFAULT_VIRTUAL_ROUTER_ID
        );
        assert_eq!(v.holders, ["192.0.2.11", "192.0.2.12"]);
        assert_eq!(plan(&ha).vip, Some(v));
        assert_eq!(vip(&k8s), None);

        assert_eq!(data_dir(&ha.hosts[0]), "/srv/cd");
        assert_eq!(data_dir(&ha.hosts[1]), "/data");
        assert_eq!(plan(&ha).hosts[0].data_dir, "/srv/cd");
    }

    /// A host of a known architecture gets the bundle's archive for it; one
    /// whose architecture the bundle lacks is named by its field.
    #[test]
    fn hosts_of_a_known_architecture_get_their_archive() {
        let a: Answers = serde_yaml::from_str(
            "version: 1\nbundle: b\ntopology: { kind: ha-lb, lb-address: 192.0.2.9, lb-port: 80 }\n\
             hosts: [{ address: 192.0.2.11, roles: [master], arch: arm64 }, \
             { address: 192.0.2.12, roles: [master] }]\n",
        )
        .unwrap();
        let archive = |arch: &str| crate::bundle::ImageArchive {
            file: format!("images/{arch}/cd-{arch}.tar").into(),
            arch: arch.into(),
            sha256: String::new(),
            size: 0,
            references: Vec::new(),
        };
        let mut manifest = crate::bundle::Manifest {
            version: 1,
            product: crate::bundle::Product {
                name: "cd".into(),
                version: "3.2.0".into(),
            },
            images: vec![archive("amd64"), archive("arm64")],
            components: Vec::new(),
            requirements: Default::default(),
            entry: None,
        };
        let p = with_archives(plan(&a), &manifest).unwrap();
        assert_eq!(
            p.hosts[0].archive.as_deref(),
            Some("images/arm64/cd-arm64.tar")
        );
        assert_eq!(
            p.hosts[1].archive, None,
            "no architecture given, none assumed"
        );
        manifest.images.pop();
        let problems = with_archives(plan(&a), &manifest).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].args["field"], "hosts[0].arch");
        assert_eq!(problems[0].args["bundle"], "amd64");
    }
}
