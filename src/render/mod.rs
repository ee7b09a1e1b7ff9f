//! Rendering the install configuration: minijinja templates (strict: an
//! undefined value is an error naming it) over the answers and the product
//! manifest, one folder per host (or `k8s/` for the k8s topology). Templates
//! ship in `templates/`; a bundle's own `templates/` overrides them by name.
//! The same inputs give byte-identical files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior, Value, context};
use serde::Serialize;

use crate::bundle::{Component, Manifest};
use crate::plan::{cluster_components, placement};
use crate::profile::{Answers, Role, TopologyKind};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {template}: {message}")]
    Template { template: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RenderError {
    /// What went wrong, for a person in any language (the template's own
    /// error text stays as minijinja wrote it).
    pub fn message(&self) -> crate::i18n::Msg {
        match self {
            RenderError::Template { template, message } => crate::i18n::Msg::new("render.template")
                .arg("template", template)
                .arg("message", message),
            RenderError::Io { path, source } => crate::i18n::Msg::new("render.io")
                .arg("path", path.display())
                .arg("error", source),
        }
    }
}

/// One rendered file: its path relative to the output folder, and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub content: String,
}

#[derive(Serialize)]
struct EnvVar {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct Volume {
    name: String,
    path: String,
}

#[derive(Serialize)]
struct ComponentView {
    name: String,
    image: String,
    command: Vec<String>,
    ports: Vec<u16>,
    env: Vec<EnvVar>,
    secrets: Vec<String>,
    volumes: Vec<Volume>,
    /// Rendered files mounted read-only (name relative to the host folder).
    configs: Vec<Volume>,
    cap_add: Vec<String>,
    health: Option<crate::bundle::Health>,
    /// Pods of it (k8s).
    replicas: u32,
    /// Dependencies that run on the same host.
    local_deps: Vec<String>,
    /// Its cluster, when its copies form one (none otherwise).
    cluster: Option<ClusterView>,
}

/// A clustered component as its templates see it on one host.
#[derive(Serialize)]
struct ClusterView {
    /// Every member, the bootstrap first: id, address and the component's
    /// ports.
    members: Vec<MemberView>,
    /// This host's member id.
    me: u32,
    /// The bootstrap member's address, and whether it is this host.
    bootstrap: String,
    is_bootstrap: bool,
    size: usize,
    quorum: u32,
    tolerates: u32,
    settings: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Serialize)]
struct MemberView {
    id: u32,
    address: String,
    ports: Vec<u16>,
}

impl ClusterView {
    fn of(c: &Component, planned: &crate::plan::PlannedComponentCluster, address: &str) -> Self {
        ClusterView {
            members: planned
                .members
                .iter()
                .map(|m| MemberView {
                    id: m.id,
                    address: m.address.clone(),
                    ports: c.ports.clone(),
                })
                .collect(),
            me: planned.member(address).map_or(0, |m| m.id),
            bootstrap: planned.bootstrap().to_string(),
            is_bootstrap: planned.bootstrap() == address,
            size: planned.members.len(),
            quorum: planned.quorum,
            tolerates: planned.tolerates,
            settings: planned.settings.clone(),
        }
    }
}

fn environment(bundle_dir: Option<&Path>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // YAML and env files, not HTML or JSON: values go in as they are (the
    // templates quote with `tojson` where a value needs it).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_keep_trailing_newline(true);
    let bundle_dir = bundle_dir.map(Path::to_path_buf);
    env.set_loader(move |name| {
        crate::bundle::templates::source(bundle_dir.as_deref(), name)
            .map_err(|why| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, why))
    });
    env
}

/// Says what went wrong where; for an undefined value, names the expression
/// (`cluster.no_such_setting`) from the template's source.
fn template_error(template: &str, source: Option<&str>, e: minijinja::Error) -> RenderError {
    let line = e.line().map(|l| format!(", line {l}")).unwrap_or_default();
    let expr = e
        .range()
        .and_then(|r| source?.get(r))
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty());
    let message = match (e.kind(), expr) {
        (minijinja::ErrorKind::UndefinedError, Some(x)) => {
            format!("`{x}` is undefined{line}: no such value in the answers or the manifest")
        }
        (_, Some(x)) => format!(
            "{}{line} (at `{x}`)",
            e.detail().unwrap_or(&e.kind().to_string())
        ),
        (_, None) => format!("{}{line}", e.detail().unwrap_or(&e.kind().to_string())),
    };
    RenderError::Template {
        template: template.to_string(),
        message,
    }
}

fn render_one(env: &Environment, name: &str, ctx: &Value) -> Result<String, RenderError> {
    let t = env
        .get_template(name)
        .map_err(|e| template_error(name, None, e))?;
    t.render(ctx)
        .map_err(|e| template_error(name, Some(t.source()), e))
}

/// Renders every file for the answers; paths are relative to the output dir.
pub fn render(
    answers: &Answers,
    manifest: &Manifest,
    bundle_dir: Option<&Path>,
) -> Result<Vec<RenderedFile>, RenderError> {
    let env = environment(bundle_dir);
    let cluster = installation(answers, manifest);
    let product = context! { name => manifest.product.name.clone(), version => manifest.product.version.clone() };
    if answers.topology.kind == TopologyKind::K8s {
        return render_k8s(answers, manifest, &env, cluster, product);
    }
    let shared = Shared {
        env: &env,
        manifest,
        masters: answers.masters(),
        placed: manifest
            .components
            .iter()
            .map(|c| (c.name.clone(), placement(answers, c)))
            .collect(),
        clusters: crate::plan::clusters(answers, manifest)
            .into_iter()
            .map(|c| (c.component.clone(), c))
            .collect(),
        cluster,
        product,
    };
    let mut files = Vec::new();
    for (index, h) in answers.hosts.iter().enumerate() {
        files.extend(render_host(&shared, index, h)?);
    }
    Ok(files)
}

/// The installation's facts every template may use (`cluster.*`).
fn installation(answers: &Answers, manifest: &Manifest) -> Value {
    let t = &answers.topology;
    let plan = crate::plan::plan(answers);
    context! {
        topology => t.kind.as_str(),
        entry => plan.entry.clone().unwrap_or_default(),
        vip => plan.vip.as_ref().map(|v| v.address.clone()).unwrap_or_default(),
        interface => plan.vip.as_ref().map(|v| v.interface.clone()).unwrap_or_default(),
        virtual_router_id => plan
            .vip
            .as_ref()
            .map_or(crate::profile::DEFAULT_VIRTUAL_ROUTER_ID, |v| v.virtual_router_id),
        lb_address => t.lb_address.clone().unwrap_or_default(),
        lb_port => t.lb_port.unwrap_or(0),
        namespace => crate::plan::namespace(t).to_string(),
        storage_class => t.storage_class.clone().unwrap_or_default(),
        admin_user => answers.settings.admin_user.clone(),
        timezone => answers.settings.timezone.clone(),
        masters => answers.masters(),
        install => crate::profile::install_id(answers),
        pull_secret => crate::plan::pull_secret(t, &manifest.product.name).unwrap_or_default(),
        // Images loaded onto the nodes are used as they are there.
        pull_policy => if t.images == Some(crate::profile::ImageDelivery::Nodes) { "IfNotPresent" } else { "" },
    }
}

/// What every host's files are rendered from.
struct Shared<'a> {
    env: &'a Environment<'static>,
    manifest: &'a Manifest,
    masters: Vec<String>,
    /// Which hosts run each component.
    placed: BTreeMap<String, Vec<String>>,
    /// The clustered components' clusters, by component.
    clusters: BTreeMap<String, crate::plan::PlannedComponentCluster>,
    cluster: Value,
    product: Value,
}

/// One host's files (under its address): `cd.env`, an env file per
/// component it runs, `docker-compose.yml` and the configs they mount.
fn render_host(
    s: &Shared<'_>,
    index: usize,
    h: &crate::profile::Host,
) -> Result<Vec<RenderedFile>, RenderError> {
    let env = s.env;
    let here: Vec<&Component> = s
        .manifest
        .components
        .iter()
        .filter(|c| s.placed[&c.name].contains(&h.address))
        .collect();
    let endpoints: BTreeMap<String, Value> = s
        .manifest
        .components
        .iter()
        .map(|c| {
            let hosts = &s.placed[&c.name];
            let at = if hosts.contains(&h.address) {
                h.address.clone()
            } else {
                hosts.first().cloned().unwrap_or_default()
            };
            let port = c.ports.first().copied().unwrap_or(0);
            // Every copy (a cluster's members), `address:port` each.
            let members: Vec<String> = hosts.iter().map(|h| format!("{h}:{port}")).collect();
            (
                c.name.clone(),
                context! { host => at, port => port, hosts => hosts, members => members },
            )
        })
        .collect();
    let mut roles = h.roles.clone();
    roles.sort();
    roles.dedup();
    let host = context! {
        address => h.address.clone(),
        index => index + 1,
        roles => roles.iter().map(|r| match r { Role::Master => "master", Role::Worker => "worker" }).collect::<Vec<_>>(),
        data_dir => crate::plan::data_dir(h),
        master_index => s.masters.iter().position(|m| m == &h.address).unwrap_or(0),
    };
    let secrets_dir = format!("{}/cd/secrets", crate::plan::data_dir(h));
    let (cluster, product) = (&s.cluster, &s.product);
    let base = context! { cluster, product, host, endpoints, secrets_dir };
    let local: Vec<String> = here.iter().map(|c| c.name.clone()).collect();
    let mut views = Vec::new();
    for c in &here {
        let cluster = s
            .clusters
            .get(&c.name)
            .map(|p| ClusterView::of(c, p, &h.address));
        views.push(view(env, c, &base, &local, cluster)?);
    }
    let dir = PathBuf::from(&h.address);
    let mut files = vec![RenderedFile {
        path: dir.join("cd.env"),
        content: render_one(env, "host/cd.env.j2", &base)?,
    }];
    for v in &views {
        let ctx = context! { host => base.get_attr("host").unwrap_or_default(), component => v };
        files.push(RenderedFile {
            path: dir.join(format!("{}.env", v.name)),
            content: render_one(env, "host/component.env.j2", &ctx)?,
        });
    }
    let ctx = context! { ..base.clone(), ..context! { components => views } };
    files.push(RenderedFile {
        path: dir.join("docker-compose.yml"),
        content: render_one(env, "host/docker-compose.yml.j2", &ctx)?,
    });
    // Config files components mount: each from the template of the same
    // name plus `.j2` (the bundle's, else cdwiz's own).
    for (c, v) in here.iter().zip(&views) {
        for file in c.configs.keys() {
            let ctx = context! { ..base.clone(), ..context! { component => v } };
            files.push(RenderedFile {
                path: dir.join(file),
                content: render_one(env, &format!("{file}.j2"), &ctx)?,
            });
        }
    }
    Ok(files)
}

/// The k8s topology: a namespace, and per component its ConfigMap, its
/// Deployment (StatefulSet with volume claims when it keeps data) and its
/// Service, in `k8s/`.
fn render_k8s(
    answers: &Answers,
    manifest: &Manifest,
    env: &Environment,
    cluster: Value,
    product: Value,
) -> Result<Vec<RenderedFile>, RenderError> {
    let t = &answers.topology;
    let components = cluster_components(manifest);
    for name in t.replicas.keys() {
        if !components.iter().any(|c| &c.name == name) {
            let known: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
            return Err(RenderError::Template {
                template: format!("topology.replicas.{name}"),
                message: format!(
                    "no component `{name}` in the product; components: {}",
                    known.join(", ")
                ),
            });
        }
    }
    // In the cluster, a component reaches another through its Service; one
    // that runs only on hosts (not here) is at none.
    let endpoints: BTreeMap<String, Value> = manifest
        .components
        .iter()
        .map(|c| {
            let port = c.ports.first().copied().unwrap_or(0);
            let here = components.iter().any(|k| k.name == c.name);
            let hosts: Vec<String> = here.then(|| c.name.clone()).into_iter().collect();
            let members: Vec<String> = hosts.iter().map(|h| format!("{h}:{port}")).collect();
            let host = hosts.first().cloned().unwrap_or_default();
            (
                c.name.clone(),
                context! { host => host, port => port, hosts => hosts, members => members },
            )
        })
        .collect();
    let mut files = vec![RenderedFile {
        path: PathBuf::from("k8s/namespace.yaml"),
        content: render_one(env, "k8s/namespace.yaml.j2", &context! { cluster, product })?,
    }];
    for c in components {
        let host = context! { address => c.name.clone() };
        let ctx = context! { cluster, product, host, endpoints };
        // A clustered component is one member at its Service for now (its
        // replicas do not form the cluster yet).
        let alone = c.cluster.as_ref().map(|settings| {
            let planned = crate::plan::PlannedComponentCluster::alone(&c.name, settings, &c.name);
            ClusterView::of(c, &planned, &c.name)
        });
        let mut v = view(env, c, &ctx, &[], alone)?;
        v.replicas = t.replicas.get(&c.name).copied().unwrap_or(1);
        if let Some(r) = t.registry.as_deref() {
            v.image = crate::plan::target_name(r, &c.image);
        }
        let ctx = context! { cluster, product, c => v };
        files.push(RenderedFile {
            path: PathBuf::from(format!("k8s/{}.yaml", c.name)),
            content: render_one(env, "k8s/component.yaml.j2", &ctx)?,
        });
    }
    Ok(files)
}

/// A component as templates see it, its env values rendered in `ctx`.
fn view(
    env: &Environment,
    c: &Component,
    ctx: &Value,
    local: &[String],
    cluster: Option<ClusterView>,
) -> Result<ComponentView, RenderError> {
    // A value may name the component's own cluster facts
    // (`{{ component.cluster.me }}`).
    let own = context! { name => c.name.clone(), cluster => Value::from_serialize(&cluster) };
    let ctx = context! { ..ctx.clone(), ..context! { component => own } };
    let mut vars = Vec::new();
    for (name, value) in &c.env {
        let rendered = env.render_str(value, &ctx).map_err(|e| {
            template_error(&format!("manifest: {}.env.{name}", c.name), Some(value), e)
        })?;
        vars.push(EnvVar {
            name: name.clone(),
            value: rendered,
        });
    }
    Ok(ComponentView {
        name: c.name.clone(),
        image: c.image.clone(),
        command: c.command.clone(),
        ports: c.ports.clone(),
        env: vars,
        secrets: c.secrets.clone(),
        volumes: c
            .volumes
            .iter()
            .map(|(name, path)| Volume {
                name: name.clone(),
                path: path.clone(),
            })
            .collect(),
        configs: c
            .configs
            .iter()
            .map(|(name, path)| Volume {
                name: name.clone(),
                path: path.clone(),
            })
            .collect(),
        cap_add: c.cap_add.clone(),
        health: c.health.clone(),
        replicas: 1,
        local_deps: c
            .depends_on
            .iter()
            .filter(|d| local.contains(d))
            .cloned()
            .collect(),
        cluster,
    })
}

/// Writes rendered files under `dir` (replacing what was there).
pub fn write(files: &[RenderedFile], dir: &Path) -> Result<(), RenderError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|source| RenderError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| RenderError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, &f.content).map_err(|source| RenderError::Io { path, source })?;
    }
    Ok(())
}
