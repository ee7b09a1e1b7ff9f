//! The answers: one model for every way cdwiz is driven. The wizard edits it,
//! the profile file is its YAML form, the headless runner reads it.
//!
//! Secrets never live here: the profile names where they come from (an
//! environment variable or a 0600 file), see [`SshSettings`].

mod hooks;
mod load;
mod login;
mod messages;
mod problem;
pub mod sources;
mod validate;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use hooks::Hooks;
pub use load::{LoadError, Problem, load_file, load_file_for_wizard, load_str};
pub use login::{BastionLogin, Login};
pub use validate::{check_secret_sources, validate};

/// The VRRP router id when `topology.virtual-router-id` is not given.
pub const DEFAULT_VIRTUAL_ROUTER_ID: u8 = 51;
/// Seconds a component may take to become ready on a cluster, unless the
/// answers say (`topology.rollout-timeout`).
pub const DEFAULT_ROLLOUT_TIMEOUT: u32 = 300;

/// The profile format this cdwiz reads and writes.
pub const PROFILE_VERSION: u32 = 1;

/// Everything the operator decides about one installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(title = "cdwiz profile")]
pub struct Answers {
    /// Profile format version; this cdwiz reads 1.
    pub version: u32,
    /// The product bundle: a directory (relative paths are relative to the
    /// profile), or `sandbox` for the bundle `cdwiz sandbox up` builds; left
    /// out: the bundle beside cdwiz (an unpacked offline installer's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bundle: String,
    pub topology: Topology,
    /// How to log in to the hosts (not used by `k8s`).
    #[serde(default)]
    pub ssh: SshSettings,
    /// The hosts to install on (none for `k8s`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<Host>,
    #[serde(default)]
    pub settings: Settings,
    /// Known deviations the operator accepts, each with a reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_checks: Vec<AcceptCheck>,
    /// Operator scripts run on every host during deploy.
    #[serde(default, skip_serializing_if = "Hooks::is_empty")]
    pub hooks: Hooks,
    /// The installation these answers were found to describe on this
    /// machine (`installation::resolve`, at the start of a run); never in
    /// a profile.
    #[serde(skip)]
    #[schemars(skip)]
    pub install: Option<String>,
}

impl Answers {
    /// Addresses of the hosts with role master, in profile order.
    /// Whether cdwiz logs in to the hosts: every host topology, and `k8s`
    /// when it loads the images onto the nodes (`images: nodes`).
    pub fn uses_hosts(&self) -> bool {
        self.topology.kind != TopologyKind::K8s
            || self.topology.images == Some(ImageDelivery::Nodes)
    }

    pub fn masters(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| h.roles.contains(&Role::Master))
            .map(|h| h.address.clone())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TopologyKind {
    /// One host runs everything.
    Single,
    /// Two or more masters; keepalived floats a VIP over them.
    HaKeepalived,
    /// Two or more masters behind the customer's load balancer.
    HaLb,
    /// An existing Kubernetes cluster.
    K8s,
}

impl TopologyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TopologyKind::Single => "single",
            TopologyKind::HaKeepalived => "ha-keepalived",
            TopologyKind::HaLb => "ha-lb",
            TopologyKind::K8s => "k8s",
        }
    }
    pub fn is_ha(self) -> bool {
        matches!(self, TopologyKind::HaKeepalived | TopologyKind::HaLb)
    }
}

/// The topology and the fields its kind needs (others must be absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Topology {
    pub kind: TopologyKind,
    /// ha-keepalived: the virtual IP the platform answers on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<String>,
    /// ha-keepalived: the network interface that carries the VIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// ha-keepalived: VRRP router id (1-255), unique on the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_router_id: Option<u8>,
    /// ha-lb: the load balancer's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_address: Option<String>,
    /// ha-lb: the load balancer's port for the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_port: Option<u16>,
    /// k8s: path of the kubeconfig file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// k8s: context in the kubeconfig (default: its current context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// k8s: namespace to install into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// k8s: StorageClass for volumes (default: the cluster's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// k8s: the registry (and path) the cluster pulls the product's images
    /// from, e.g. `registry.example.com/cd`; images keep their own names
    /// under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// k8s: the image pull secret (in the namespace) for that registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
    /// k8s: replicas per component (default 1), e.g. `{ backend: 2 }`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub replicas: std::collections::BTreeMap<String, u32>,
    /// k8s: seconds a component may take to become ready (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_timeout: Option<u32>,
    /// k8s: how the bundle's images reach the cluster (default: `push` when
    /// a `registry` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<ImageDelivery>,
    /// k8s: the registry user cdwiz pushes as (none: anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_user: Option<String>,
    /// k8s: environment variable holding that user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_password_env: Option<String>,
    /// k8s: a file (mode 0600) holding that user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_password_file: Option<String>,
    /// k8s: the CA certificate (PEM file) the registry's certificate is
    /// signed by, when it is not one this machine trusts already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_ca: Option<String>,
    /// k8s: speak plain HTTP to the registry (no TLS): only for a registry
    /// that offers nothing else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub registry_http: bool,
}

impl Topology {
    /// A topology of `kind` with none of the kinds' fields set.
    pub fn of(kind: TopologyKind) -> Topology {
        Topology {
            kind,
            vip: None,
            interface: None,
            virtual_router_id: None,
            lb_address: None,
            lb_port: None,
            kubeconfig: None,
            context: None,
            namespace: None,
            storage_class: None,
            registry: None,
            pull_secret: None,
            replicas: Default::default(),
            rollout_timeout: None,
            images: None,
            registry_user: None,
            registry_password_env: None,
            registry_password_file: None,
            registry_ca: None,
            registry_http: false,
        }
    }

    /// How the images reach the cluster, defaults applied: pushed when
    /// there is a registry to push to, else expected there already.
    pub fn image_delivery(&self) -> ImageDelivery {
        self.images.unwrap_or(if self.registry.is_some() {
            ImageDelivery::Push
        } else {
            ImageDelivery::Present
        })
    }
}

/// How the bundle's images reach a Kubernetes cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImageDelivery {
    /// cdwiz pushes them into `registry` before the first apply (only what
    /// the registry lacks).
    Push,
    /// They are in the registry (or on the nodes) already: nothing is pushed.
    Present,
    /// A cluster without a registry: loaded over SSH onto every node the
    /// profile lists in `hosts` (into its Docker engine), and the workloads
    /// use them as they are there (`imagePullPolicy: IfNotPresent`).
    Nodes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SshAuth {
    /// A password, used once to install cdwiz's key; keys from then on.
    Password,
    /// A private key file.
    #[default]
    Key,
    /// The running ssh-agent (`SSH_AUTH_SOCK`).
    Agent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Remember a host's key the first time, refuse a changed one.
    #[default]
    AcceptNew,
    /// Only hosts whose key is already known.
    Strict,
}

/// How to log in to every host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SshSettings {
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    #[serde(default)]
    pub auth: SshAuth,
    /// auth password: environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// auth password: a file (mode 0600) holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    /// auth key: the private key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// A non-root user's sudo password: environment variable (none: sudo
    /// must not ask).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_password_env: Option<String>,
    /// A bastion the hosts are reached through: `[user@]host[:port]`, or a
    /// mapping with the bastion's own login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump: Option<Jump>,
    #[serde(default)]
    pub host_key_policy: HostKeyPolicy,
    /// A known_hosts file (in the profile's folder) with the keys the hosts
    /// and the bastion must present, pinned before the first login: a host
    /// it lists that presents another key is refused before anything is
    /// sent to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
    /// auth password: keep cdwiz's own key in the hosts' (and the
    /// bastion's) `authorized_keys` after `cdwiz uninstall` (default: it is
    /// removed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_key: bool,
    /// Seconds to wait for a host to answer.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u32,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            user: default_user(),
            port: default_ssh_port(),
            auth: SshAuth::default(),
            password_env: None,
            password_file: None,
            key_file: None,
            sudo_password_env: None,
            jump: None,
            host_key_policy: HostKeyPolicy::default(),
            known_hosts: None,
            keep_key: false,
            connect_timeout: default_connect_timeout(),
        }
    }
}

/// The bastion: `[user@]host[:port]` (logged in to like the hosts), or a
/// mapping with its own login.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Jump {
    Spec(String),
    Login(JumpLogin),
}

// By hand rather than `untagged`: a mistake inside the mapping (an unknown
// key, a wrong type) is then reported as such, with its own field path.
impl<'de> Deserialize<'de> for Jump {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Jump;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`[user@]host[:port]` or a mapping with the bastion's login")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Jump, E> {
                Ok(Jump::Spec(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Jump, A::Error> {
                JumpLogin::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Jump::Login)
            }
        }
        d.deserialize_any(V)
    }
}

/// A bastion with its own login; what is not given comes from `ssh:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct JumpLogin {
    /// The bastion's address or name.
    pub host: String,
    /// Its SSH port (default 22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<SshAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// A host's own login: each key given overrides the top-level `ssh:` for
/// this host (a password source given here replaces the default's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HostSsh {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<SshAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_password_env: Option<String>,
}

fn default_user() -> String {
    "root".into()
}
fn default_ssh_port() -> u16 {
    22
}
fn default_connect_timeout() -> u32 {
    10
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Master,
    Worker,
}

/// A host's CPU architecture, by the name Docker and the bundle use
/// (Kunpeng and Phytium servers are `arm64`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// One host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Host {
    /// IPv4 or IPv6 address.
    pub address: String,
    pub roles: Vec<Role>,
    /// A blank disk for the platform's data, e.g. `/dev/vdb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_disk: Option<String>,
    /// Format and mount `data-disk` on `data-dir` (only a blank disk).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub format_data_disk: bool,
    /// Where the platform keeps its data on this host.
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    /// This host's own login, overriding the top-level `ssh:` key by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<HostSsh>,
    /// The host's CPU architecture when known beforehand (`amd64`, `arm64`):
    /// the plan shows the image archive it gets, and `os.arch` fails when
    /// the host turns out to be another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
}

fn default_data_dir() -> String {
    "/data".into()
}

/// Platform settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_admin_user")]
    pub admin_user: String,
    /// IANA time zone of the hosts, e.g. `Asia/Shanghai`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The registry domain images are named under, when a site has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_domain: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            admin_user: default_admin_user(),
            timezone: default_timezone(),
            registry_domain: None,
        }
    }
}

fn default_admin_user() -> String {
    "admin".into()
}
fn default_timezone() -> String {
    "Asia/Shanghai".into()
}

/// An accepted check result: the check passes the gate on this host (or on
/// every host), and the reason goes into the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AcceptCheck {
    /// Check id, e.g. `res.memory`.
    pub check: String,
    /// A host address; none means every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub reason: String,
}

/// The profile's JSON Schema, generated from the model.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Answers)).unwrap_or_default()
}

/// The id of the installation the answers describe: the one resolved at
/// the start of the run and confirmed by its hosts (see
/// `installation::resolve` and `installation::identify`), else, for
/// answers no run resolved (a plan on paper), one made from them.
pub fn install_id(answers: &Answers) -> String {
    answers
        .install
        .clone()
        .unwrap_or_else(|| paper_install_id(answers))
}

/// The id answers that no run resolved go by: from their topology and
/// hosts (on a cluster, its context and namespace). Never an
/// installation's: those are random (`installation::new_id`).
fn paper_install_id(answers: &Answers) -> String {
    let mut h = Sha256::new();
    h.update(answers.topology.kind.as_str());
    for host in &answers.hosts {
        h.update([0]);
        h.update(&host.address);
    }
    // On a cluster: the context and namespace say which installation.
    let t = &answers.topology;
    for part in [&t.context, &t.namespace].into_iter().flatten() {
        h.update([1]);
        h.update(part);
    }
    format!("{:x}", h.finalize())[..16].to_string()
}
