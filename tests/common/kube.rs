//! A one-node Kubernetes cluster in a sandbox host for the k8s tests:
//! etcd, the control plane, a kubelet on the host's Docker engine,
//! kube-proxy and the cluster DNS (Kubernetes 1.20.2 built from Debian's
//! source package by scripts/build-kube; tests/data/kube-node.sh starts
//! them). cdwiz reaches the API server at the host's address with a token.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, PostParams};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of the Kubernetes binaries (built once per machine).
pub fn bin_dir() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("scripts/build-kube"))
        .output()
        .expect("run scripts/build-kube");
    assert!(
        out.status.success(),
        "scripts/build-kube failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A kubeconfig for the node at `address`: contexts `admin` (current)
/// and `limited` (a user with no rights).
pub fn kubeconfig(address: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: admin\n\
         clusters:\n- name: sandbox\n  cluster: {{ server: \"https://{address}:6443\", insecure-skip-tls-verify: true }}\n\
         users:\n- name: admin\n  user: {{ token: admin-token }}\n- name: limited\n  user: {{ token: limited-token }}\n\
         contexts:\n- name: admin\n  context: {{ cluster: sandbox, user: admin }}\n\
         - name: limited\n  context: {{ cluster: sandbox, user: limited }}\n"
    )
}

/// The headless `check` line of `id` among a run's JSON lines.
pub fn check<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["event"] == "check" && l["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {lines:#?}"))
}

/// A run's deploy steps as (pane, step, status).
pub fn steps(lines: &[Value]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .filter(|l| l["event"] == "deploy-step")
        .map(|l| {
            (
                l["host"].as_str().unwrap_or_default().to_string(),
                l["step"].as_str().unwrap_or_default().to_string(),
                l["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub async fn client(address: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(&kubeconfig(address)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

pub async fn post<K>(api: &Api<K>, yaml: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_yaml::from_str(yaml).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
}

/// Starts the cluster in the sandbox host `container` (at `address`) and
/// waits for its node to be Ready; then storage as an on-premises cluster
/// often has it: a default class with no provisioner, and `volumes`
/// volumes made by its administrator.
pub async fn start_node(container: &str, address: &str, volumes: usize) -> kube::Client {
    let bins = bin_dir();
    docker(&["exec", container, "mkdir", "-p", "/opt/kube"]);
    let busybox = String::from_utf8(
        Command::new("which")
            .arg("busybox")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let mut files: Vec<PathBuf> = [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
    ]
    .iter()
    .map(|b| bins.join(b))
    .collect();
    files.push(PathBuf::from(busybox.trim()));
    files.push(root().join("tests/data/kube-node.sh"));
    files.push(root().join("tests/data/kube-dns-sync.py"));
    for f in &files {
        docker(&[
            "cp",
            f.to_str().unwrap(),
            &format!("{container}:/opt/kube/"),
        ]);
    }
    // kube-proxy (iptables) insists on net.ipv4.conf.all.route_localnet=1,
    // which it cannot write in the container (/proc/sys is read-only
    // there): set from outside, in the host's own network namespace only.
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", container]);
    let set = Command::new("nsenter")
        .args(["-t", pid.trim(), "-n", "sysctl", "-qw"])
        .arg("net.ipv4.conf.all.route_localnet=1")
        .status()
        .expect("nsenter");
    assert!(set.success(), "cannot set route_localnet in {container}");
    docker(&["exec", container, "sh", "/opt/kube/kube-node.sh", address]);

    let kube = client(address).await;
    let nodes: Api<Node> = Api::all(kube.clone());
    let ready = super::eventually(Duration::from_secs(120), || {
        let nodes = nodes.clone();
        async move {
            nodes.list(&ListParams::default()).await.is_ok_and(|l| {
                l.items.iter().any(|n| {
                    n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
            })
        }
    })
    .await;
    assert!(ready.is_some(), "the node did not become Ready");
    post(
        &Api::<StorageClass>::all(kube.clone()),
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\n\
         metadata: { name: local, annotations: { storageclass.kubernetes.io/is-default-class: \"true\" } }\n\
         provisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: Immediate\n",
    )
    .await;
    for i in 1..=volumes {
        post(
            &Api::<PersistentVolume>::all(kube.clone()),
            &format!(
                "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{ name: pv-{i} }}\nspec: {{ capacity: {{ storage: 10Gi }}, accessModes: [ReadWriteOnce], \
                 storageClassName: local, hostPath: {{ path: /data/kube/pv-{i}, type: DirectoryOrCreate }} }}\n"
            ),
        )
        .await;
    }
    kube
}
