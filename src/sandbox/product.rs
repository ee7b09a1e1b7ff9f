//! The sandbox product: stand-ins for the CD platform's components (a
//! database, a cache, a backend whose health proves it reaches both with
//! the credentials it was given and that stores notes, a web frontend),
//! all run from one image built from Debian packages.
//!
//! Two editions of it share that image. The classic one runs the database
//! and the cache on one host. The replicated one, for the HA topologies,
//! spreads its data tier over three masters: etcd, PostgreSQL under
//! Patroni (a primary and a synchronous standby; a commit is acknowledged
//! once a second member has it), Redis with Sentinel; one master keeps one
//! of each.

use std::collections::BTreeMap;

use crate::bundle::{
    Cluster, ClusterForm, Component, Entry, Health, ImageArchive, Manifest, Placement,
    PlacementCount, Product, Quorum, Requirements,
};
use crate::profile::TopologyKind::{HaKeepalived, HaLb};

pub const PRODUCT: &str = "cd-sandbox";
pub const VERSION: &str = "0.1.0";
/// The release after [`VERSION`] (same components, its own images): what
/// the rolling upgrade is tested with. Its backend answers `GET /version`
/// with it, as [`VERSION`]'s does with its own.
pub const NEXT_VERSION: &str = "0.2.0";
pub(super) const VERSIONS: [&str; 2] = [VERSION, NEXT_VERSION];
pub(super) const ENTRY: &str = super::rootfs::PRODUCT_ENTRY;

/// Which of the sandbox product's shapes a bundle carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    /// The database and the cache on one host each.
    Classic,
    /// The data tier replicated over three masters.
    Replicated,
}

impl Edition {
    pub const ALL: [Edition; 2] = [Edition::Classic, Edition::Replicated];

    /// How its bundles' folders are named: `cd-sandbox[-replicated]-<version>`.
    pub fn bundle_name(self, version: &str) -> String {
        match self {
            Edition::Classic => format!("{PRODUCT}-{version}"),
            Edition::Replicated => format!("{PRODUCT}-replicated-{version}"),
        }
    }
}

/// The product's components of `edition` and `version`, in dependency
/// order.
pub(super) fn components(edition: Edition, version: &str) -> Vec<Component> {
    match edition {
        Edition::Classic => classic(version),
        Edition::Replicated => replicated(version),
    }
}

fn reference(component: &str, version: &str) -> String {
    format!("{PRODUCT}/{component}:{version}")
}

/// A component of `version` run by the entry script under its own name,
/// healthy when its first port answers (`GET http` there, if given).
fn component(
    version: &str,
    name: &str,
    ports: &[u16],
    deps: &[&str],
    http: Option<&str>,
    count: PlacementCount,
) -> Component {
    Component {
        name: name.into(),
        image: reference(name, version),
        command: vec![ENTRY.into(), name.into()],
        ports: ports.to_vec(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        health: ports.first().map(|&port| Health {
            port,
            http: http.map(str::to_string),
            command: Vec::new(),
        }),
        env: Default::default(),
        secrets: Vec::new(),
        volumes: Default::default(),
        configs: Default::default(),
        cap_add: Vec::new(),
        placement: Placement {
            count,
            ..Default::default()
        },
        cluster: None,
        upgrade: None,
        backup: None,
    }
}

fn pairs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Makes `c` a cluster whose members say their role through the entry
/// script (`role NAME`) and are healthy once they have joined and are in
/// sync (`health NAME`); one that leads hands that over before it is
/// replaced (`handover NAME`) when `handover`.
fn clustered(c: &mut Component, form: ClusterForm, quorum: Quorum, handover: bool) {
    let entry = |verb: &str| vec![ENTRY.to_string(), verb.into(), c.name.clone()];
    let (role, health, handover) = (
        entry("role"),
        entry("health"),
        if handover {
            entry("handover")
        } else {
            Vec::new()
        },
    );
    if let Some(h) = c.health.as_mut() {
        h.command = health;
    }
    c.cluster = Some(Cluster {
        form,
        quorum,
        role,
        handover,
        settings: Default::default(),
    });
}

/// The classic edition's components of `version`, in dependency order.
fn classic(version: &str) -> Vec<Component> {
    let database = database(version, &[5432], PlacementCount::One);
    let cache = cache(version, PlacementCount::One);
    let mut backend = backend(version);
    backend.env.remove("DB_HOSTS");
    backend.env.remove("CACHE_SENTINELS");
    vec![database, cache, backend, web(version), keepalived(version)]
}

/// The replicated edition's components of `version`, in dependency order:
/// over three masters (one master: one of each), etcd holds the
/// database's leader, Patroni its primary and synchronous standby,
/// Sentinel the cache's primary.
fn replicated(version: &str) -> Vec<Component> {
    let three = PlacementCount::Exactly(3);
    let ha = vec![HaKeepalived, HaLb];
    let mut etcd = component(version, "etcd", &[2379, 2380], &[], None, three);
    etcd.env = pairs(&[
        ("ETCD_NAME", "m{{ component.cluster.me }}"),
        ("ETCD_DATA_DIR", "/var/lib/cd/etcd"),
        ("ETCD_LISTEN_CLIENT_URLS", "http://0.0.0.0:2379"),
        (
            "ETCD_ADVERTISE_CLIENT_URLS",
            "http://{{ host.address }}:2379",
        ),
        ("ETCD_LISTEN_PEER_URLS", "http://0.0.0.0:2380"),
        (
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
            "http://{{ host.address }}:2380",
        ),
        (
            "ETCD_INITIAL_CLUSTER",
            "{% for m in component.cluster.members %}m{{ m.id }}=http://{{ m.address }}:2380\
             {% if not loop.last %},{% endif %}{% endfor %}",
        ),
        ("ETCD_INITIAL_CLUSTER_TOKEN", "cd-{{ cluster.install }}"),
        ("ETCD_INITIAL_CLUSTER_STATE", "new"),
        ("ETCD_HEARTBEAT_INTERVAL", "100"),
        ("ETCD_ELECTION_TIMEOUT", "1000"),
    ]);
    etcd.volumes = pairs(&[("etcd", "/var/lib/cd/etcd")]);
    etcd.placement.topologies = ha.clone();
    clustered(&mut etcd, ClusterForm::Together, Quorum::Majority, false);
    let mut database = database(version, &[5432, 8008], three);
    database.depends_on = vec!["etcd".into()];
    database.env.extend(pairs(&[
        ("DB_HOSTS", "{{ endpoints.database.hosts | join(',') }}"),
        (
            "PATRONI_ETCD3_HOSTS",
            "{{ endpoints.etcd.members | join(',') }}",
        ),
        ("MEMBER_NAME", "m{{ component.cluster.me }}"),
        ("MEMBER_ADDRESS", "{{ host.address }}"),
    ]));
    clustered(&mut database, ClusterForm::Together, Quorum::None, true);
    let mut cache = cache(version, three);
    cache.env = pairs(&[
        (
            "CACHE_PRIMARY",
            "{% if not component.cluster.is_bootstrap %}{{ component.cluster.bootstrap }}{% endif %}",
        ),
        ("MEMBER_ADDRESS", "{{ host.address }}"),
    ]);
    clustered(
        &mut cache,
        ClusterForm::BootstrapThenJoin,
        Quorum::None,
        true,
    );
    let mut sentinel = component(version, "sentinel", &[26379], &["cache"], None, three);
    sentinel.secrets = vec!["cache_password".into()];
    sentinel.volumes = pairs(&[("sentinel", "/var/lib/cd/sentinel")]);
    sentinel.env = pairs(&[
        ("SENTINEL_PRIMARY", "{{ endpoints.cache.hosts[0] }}"),
        ("SENTINEL_QUORUM", "{{ component.cluster.quorum }}"),
        ("MEMBER_ADDRESS", "{{ host.address }}"),
    ]);
    sentinel.placement.topologies = ha;
    clustered(
        &mut sentinel,
        ClusterForm::Together,
        Quorum::Majority,
        false,
    );
    let (backend, web, keepalived) = (backend(version), web(version), keepalived(version));
    vec![etcd, database, cache, sentinel, backend, web, keepalived]
}

/// PostgreSQL, with the release's schema step (recorded in the database,
/// once per upgrade).
fn database(version: &str, ports: &[u16], count: PlacementCount) -> Component {
    let mut database = component(version, "database", ports, &[], None, count);
    database.secrets = vec!["db_password".into()];
    database.env = pairs(&[("DB_USER", "cd"), ("DB_NAME", "cd")]);
    database.volumes = pairs(&[("database", "/var/lib/cd/database")]);
    database.upgrade = Some(crate::bundle::UpgradeHook {
        command: vec![ENTRY.into(), "migrate".into()],
    });
    // `pg_dump` of the platform's database (a consistent snapshot, also on
    // a streaming replica); proven by loading it into an empty cluster.
    // The cache keeps nothing a backup needs (the backend's notes are the
    // database's); etcd keeps the database's leader, made anew.
    database.backup = Some(crate::bundle::Backup {
        dump: vec![ENTRY.into(), "dump".into(), "database".into()],
        check: vec![ENTRY.into(), "check-dump".into(), "database".into()],
        restore: vec![ENTRY.into(), "restore".into(), "database".into()],
    });
    database
}

fn cache(version: &str, count: PlacementCount) -> Component {
    let mut cache = component(version, "cache", &[6379], &[], None, count);
    cache.secrets = vec!["cache_password".into()];
    cache.volumes = pairs(&[("cache", "/var/lib/cd/cache")]);
    cache
}

/// The backend on every master: the database at every member (libpq finds
/// the primary), the cache through its sentinels when there are some.
fn backend(version: &str) -> Component {
    let deps = &["database", "cache"];
    let mut backend = component(
        version,
        "backend",
        &[8080],
        deps,
        Some("/health"),
        PlacementCount::All,
    );
    backend.secrets = vec!["db_password".into(), "cache_password".into()];
    backend.env = pairs(&[
        ("DB_HOST", "{{ endpoints.database.host }}"),
        ("DB_HOSTS", "{{ endpoints.database.hosts | join(',') }}"),
        ("DB_PORT", "{{ endpoints.database.port }}"),
        ("DB_USER", "cd"),
        ("DB_NAME", "cd"),
        ("CACHE_HOST", "{{ endpoints.cache.host }}"),
        ("CACHE_PORT", "{{ endpoints.cache.port }}"),
        (
            "CACHE_SENTINELS",
            "{{ endpoints.sentinel.members | join(',') }}",
        ),
    ]);
    backend
}

fn web(version: &str) -> Component {
    let mut web = component(
        version,
        "web",
        &[80],
        &["backend"],
        Some("/"),
        PlacementCount::All,
    );
    web.env = pairs(&[
        ("BACKEND_HOST", "{{ endpoints.backend.host }}"),
        ("BACKEND_PORT", "{{ endpoints.backend.port }}"),
    ]);
    web
}

/// keepalived runs from the product image too (ha-keepalived only).
fn keepalived(version: &str) -> Component {
    let mut keepalived = component(
        version,
        "keepalived",
        &[],
        &["web"],
        None,
        PlacementCount::All,
    );
    keepalived.configs = pairs(&[(
        "keepalived/keepalived.conf",
        "/etc/keepalived/keepalived.conf",
    )]);
    keepalived.cap_add = ["NET_ADMIN", "NET_BROADCAST", "NET_RAW"]
        .map(String::from)
        .to_vec();
    keepalived.placement.topologies = vec![HaKeepalived];
    keepalived
}

/// The sandbox product's manifest around its image archives.
pub(super) fn manifest(edition: Edition, version: &str, images: Vec<ImageArchive>) -> Manifest {
    Manifest {
        version: 1,
        product: Product {
            name: PRODUCT.into(),
            version: version.into(),
        },
        images,
        components: components(edition, version),
        // A small stand-in product: what any sandbox host offers.
        requirements: Requirements {
            nofile: 16384,
            // The test cluster is Kubernetes 1.20 (the newest Debian has).
            kubernetes: crate::bundle::KubernetesRange {
                min: "1.20".into(),
                max: "1.33".into(),
            },
            ..Default::default()
        },
        entry: Some(Entry {
            component: "web".into(),
            port: None,
            verify: Some("/api/health".into()),
            drill: Some(crate::bundle::EntryDrill {
                write: "POST /api/notes".into(),
                read: "GET /api/notes/{id}".into(),
            }),
        }),
    }
}
