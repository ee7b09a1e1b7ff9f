//! A component of a product as its manifest describes it: image, ports,
//! environment, volumes, where it runs, and whether its copies form a
//! cluster.

use serde::{Deserialize, Serialize};

/// One component of the product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Component {
    pub name: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Environment of the component's container (values are templates:
    /// `{{ endpoints.database }}` and the like).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
    /// Generated secrets the component reads, by name; each is mounted as a
    /// file and named in `<NAME>_FILE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Directories under the host's data dir, mounted at these paths.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub volumes: std::collections::BTreeMap<String, String>,
    /// Rendered files (relative to the host's rendered folder) mounted
    /// read-only at these paths; a change to one recreates the container.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub configs: std::collections::BTreeMap<String, String>,
    /// Linux capabilities the container needs beyond Docker's defaults
    /// (keepalived: `NET_ADMIN`, `NET_BROADCAST`, `NET_RAW`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub placement: Placement,
    /// Its copies form one cluster (none: independent copies, or one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    /// Run once when a new release of the product replaces a running one,
    /// before the first host's containers are replaced (e.g. a schema
    /// migration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeHook>,
    /// How its data is backed up and proven readable (none: it keeps no
    /// data worth a backup, or rebuilds it from the others').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
}

/// How a stateful component's data is backed up, each a command of its
/// own image (cdwiz knows no database): `dump` runs in a running member
/// (a replica's where the cluster has one) and writes the backup to its
/// standard output; `check` runs in a throwaway container of the image,
/// with no network and nothing of the platform's, gets a backup's path in
/// it as its last argument and exits 0 once it has restored it and read it
/// back (e.g. every table answers a count); its last lines say what it
/// found. `restore` runs in the running member that leads (the only one,
/// where there is no cluster), with the platform's writers stopped, gets
/// the backup's path in it the same way, and puts the data back as the
/// backup has it (the cluster's replicas follow).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Backup {
    pub dump: Vec<String>,
    pub check: Vec<String>,
    pub restore: Vec<String>,
}

/// A one-off container of the component's new image, with its environment,
/// secrets and volumes, on the first host the component runs on; a non-zero
/// exit stops the upgrade before any host is touched.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpgradeHook {
    pub command: Vec<String>,
}

/// Where a component runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Placement {
    /// Hosts with one of these roles may run it.
    #[serde(default = "default_placement_roles")]
    pub roles: Vec<crate::profile::Role>,
    /// `one`: the first such host; `all`: every such host; a number: the
    /// first that many.
    #[serde(default)]
    pub count: PlacementCount,
    /// Only in these topologies (none: in every one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topologies: Vec<crate::profile::TopologyKind>,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            roles: default_placement_roles(),
            count: PlacementCount::default(),
            topologies: Vec::new(),
        }
    }
}

fn default_placement_roles() -> Vec<crate::profile::Role> {
    vec![crate::profile::Role::Master]
}

/// How many of the eligible hosts run a component: `one` (the first),
/// `all`, or a number (the first that many; a cluster keeping a majority
/// has an odd number).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CountForm", into = "CountForm")]
pub enum PlacementCount {
    One,
    #[default]
    All,
    Exactly(u32),
}

/// [`PlacementCount`] as a manifest writes it: a word or a number.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CountForm {
    Number(u32),
    Word(String),
}

impl TryFrom<CountForm> for PlacementCount {
    type Error = String;
    fn try_from(f: CountForm) -> Result<Self, String> {
        match f {
            CountForm::Number(0) => Err("count 0 places the component nowhere".into()),
            CountForm::Number(1) => Ok(PlacementCount::One),
            CountForm::Number(n) => Ok(PlacementCount::Exactly(n)),
            CountForm::Word(w) if w == "one" => Ok(PlacementCount::One),
            CountForm::Word(w) if w == "all" => Ok(PlacementCount::All),
            CountForm::Word(w) => Err(format!("count `{w}`: one, all or a number")),
        }
    }
}

impl From<PlacementCount> for CountForm {
    fn from(c: PlacementCount) -> Self {
        match c {
            PlacementCount::One => CountForm::Word("one".into()),
            PlacementCount::All => CountForm::Word("all".into()),
            PlacementCount::Exactly(n) => CountForm::Number(n),
        }
    }
}

/// A component whose copies form one cluster (a ZooKeeper ensemble,
/// Kafka brokers, a replicated database with its failover manager): its
/// templates get every member, this host's member and the bootstrap one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Cluster {
    /// How the members come together.
    #[serde(default)]
    pub form: ClusterForm,
    /// Whether it keeps working only while a majority of its members do.
    #[serde(default)]
    pub quorum: Quorum,
    /// A command run in a member's container that prints the role it has
    /// now (`primary`, `replica`, `leader`…): `cdwiz status` shows it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role: Vec<String>,
    /// A command run in a member's container before cdwiz replaces or
    /// stops it on purpose (a rolling upgrade, a drill): it hands whatever
    /// the member leads to another member and returns once that one leads
    /// (exit 0; it does nothing on a member that leads nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handover: Vec<String>,
    /// The cluster's own settings (replication factor, in-sync replicas,
    /// a quorum of sentinels), given to its templates as they are.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, serde_yaml::Value>,
}

/// How a cluster's members come together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterForm {
    /// All members at once, each given the full member list (ZooKeeper,
    /// etcd, Elasticsearch's first masters, Kafka brokers).
    #[default]
    Together,
    /// The first member (the bootstrap) starts alone; the others join it
    /// once it is healthy (a primary and its replicas).
    BootstrapThenJoin,
}

/// Whether a cluster needs a majority of its members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quorum {
    /// It works while more than half its members do.
    #[default]
    Majority,
    /// Any one member keeps it going (a primary with replicas whose
    /// failover another cluster decides).
    None,
}

/// How to tell that a component is up: a TCP connection to `port`
/// succeeds, or, with `http`, `GET <http>` on that port answers 2xx; and,
/// with `command`, that command run in its container exits 0 (a cluster's
/// member that has joined and is in sync, not merely listening).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Health {
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}
