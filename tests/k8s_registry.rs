//! The k8s topology at an air-gapped site: the sandbox bundle's images
//! pushed into the customer's registry (a second sandbox host running
//! Debian's docker-registry with TLS from a CA made here and basic auth),
//! and the sandbox product deployed from it onto the test cluster, its
//! components finding each other by Service name (cluster DNS and
//! kube-proxy on the node).
//!
//! One test, in phases, so the cluster and the registry come up once: bad
//! registry input (exit 2), a wrong password and an untrusted certificate
//! failing the registry check (exit 3), a deploy killed (-9) in the middle
//! of a blob and resumed, the product's health through its Services, a
//! second run that pushes and changes nothing, `images: present`,
//! uninstall, a cluster without a registry (`images: nodes`: the images
//! loaded onto the node over SSH), and a bundle of two architectures pushed
//! as image indexes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ::kube::api::{Api, ListParams};
use common::kube::{self, check, docker, kubeconfig, steps};
use common::{Run, cdwiz_bin, is_step};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use serde_json::Value;

const NAME: &str = "t-k8s-reg";
const NET: u8 = 235;
const USER: &str = "pusher";
const PASSWORD: &str = "reg-test-pw-8841";
const ENV: &str = "CDWIZ_TEST_REGISTRY_PASSWORD";

struct Site {
    dir: PathBuf,
    work: PathBuf,
    state: PathBuf,
    bundle: PathBuf,
    registry: String,
}

impl Site {
    /// A profile `name.yaml` with `topology` fields after the common ones.
    fn profile(&self, name: &str, registry: &str, extra: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            format!(
                "version: 1\nbundle: {}\n\
                 topology: {{ kind: k8s, kubeconfig: ./kubeconfig.yaml, namespace: cd, rollout-timeout: 300, \
                 registry: \"{registry}\"{extra} }}\n",
                self.bundle.display()
            ),
        )
        .unwrap();
        path
    }

    /// A profile `name.yaml` of `bundle` into `namespace`, pushing under
    /// `prefix` of the registry as the right user.
    fn pushing(&self, name: &str, bundle: &Path, namespace: &str, prefix: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.yaml"));
        let host = self.registry.split('/').next().unwrap();
        std::fs::write(
            &path,
            format!(
                "version: 1\nbundle: {}\n\
                 topology: {{ kind: k8s, kubeconfig: ./kubeconfig.yaml, namespace: {namespace}, rollout-timeout: 300, \
                 registry: \"{host}/{prefix}\", registry-user: {USER}, registry-password-env: {ENV}, registry-ca: ./ca.crt }}\n",
                bundle.display()
            ),
        )
        .unwrap();
        path
    }

    /// The profile that works: the registry with its CA and the right user.
    fn good(&self, extra: &str) -> PathBuf {
        self.profile(
            "good",
            &self.registry,
            &format!(
                ", registry-user: {USER}, registry-password-env: {ENV}, registry-ca: ./ca.crt{extra}"
            ),
        )
    }

    fn run<'a>(&'a self, profile: &'a Path, password: &'a str) -> Run<'a> {
        Run {
            profile,
            work: &self.work,
            state: &self.state,
            password: (ENV, password),
        }
    }
}

fn pushed_bytes(lines: &[Value]) -> Vec<(u64, u64)> {
    lines
        .iter()
        .filter(|l| l["event"] == "image-progress" && l["host"] == "registry")
        .map(|l| (l["sent"].as_u64().unwrap(), l["total"].as_u64().unwrap()))
        .collect()
}

/// `cdwiz --profile P --non-interactive --dry-run` without a password for
/// the registry in the environment: (exit code, stdout and stderr).
fn bad_input(profile: &Path) -> (i32, String) {
    let (code, out, err) = common::run_to_end(
        Command::new(cdwiz_bin())
            .arg("--profile")
            .arg(profile)
            .args(["--non-interactive", "--dry-run"])
            .env_remove(ENV),
    );
    (code, out + &err)
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_images_pushed_into_the_registry_and_the_product_deployed_from_it() {
    let bundle = common::sandbox_bundle().await;
    let inst = common::instance(NAME, NET, 2).await;
    let (node, reg) = (&inst.sandbox.hosts[0], &inst.sandbox.hosts[1]);
    let tmp = tempfile::tempdir().unwrap();
    let site = Site {
        dir: tmp.path().to_path_buf(),
        work: tmp.path().join("work"),
        state: tmp.path().join("state"),
        bundle,
        registry: format!("{}:5000/site", reg.address),
    };
    std::fs::write(site.dir.join("kubeconfig.yaml"), kubeconfig(&node.address)).unwrap();

    // The registry, with its CA copied out; the node's engine trusts it.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/registry.sh");
    docker(&[
        "cp",
        script.to_str().unwrap(),
        &format!("{}:/opt/registry.sh", reg.container),
    ]);
    docker(&[
        "exec",
        "-e",
        &format!("REGISTRY_PASSWORD={PASSWORD}"),
        &reg.container,
        "sh",
        "/opt/registry.sh",
        &reg.address,
        USER,
    ]);
    let ca = site.dir.join("ca.crt");
    docker(&[
        "cp",
        &format!("{}:/etc/registry/ca.crt", reg.container),
        ca.to_str().unwrap(),
    ]);
    let certs = format!("/etc/docker/certs.d/{}:5000", reg.address);
    docker(&["exec", &node.container, "mkdir", "-p", &certs]);
    docker(&[
        "cp",
        ca.to_str().unwrap(),
        &format!("{}:{certs}/ca.crt", node.container),
    ]);
    let kube = kube::start_node(&node.container, &node.address, 7).await;

    // Bad input: exit 2 naming the field, before anything is asked.
    let schemed = site.profile("schemed", &format!("https://{}", site.registry), "");
    let (code, out) = bad_input(&schemed);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("topology.registry"), "{out}");
    let trailing = site.profile("trailing", &format!("{}/", site.registry), "");
    let (code, out) = bad_input(&trailing);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("topology.registry"), "{out}");
    let good = site.good("");
    let (code, out) = bad_input(&good);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("topology.registry-password-env")
            && out.contains(&format!("{ENV} is not set")),
        "{out}"
    );

    // A wrong password, then no CA: the registry check fails and says why;
    // the cluster's checks pass.
    let (code, lines, err) = site
        .run(&good, "wrong-password")
        .start(&["--dry-run"])
        .finish();
    assert_eq!(code, 3, "{lines:#?}\n{err}");
    assert_eq!(check(&lines, "k8s.api")["status"], "pass");
    let r = check(&lines, "k8s.registry");
    assert_eq!(r["status"], "fail", "{r}");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("refused the credentials of user {USER}")),
        "{msg}"
    );
    assert!(!msg.contains("wrong-password"), "{msg}");
    let no_ca = site.profile(
        "no-ca",
        &site.registry,
        &format!(", registry-user: {USER}, registry-password-env: {ENV}"),
    );
    let (code, lines, err) = site.run(&no_ca, PASSWORD).start(&["--dry-run"]).finish();
    assert_eq!(code, 3, "{lines:#?}\n{err}");
    let r = check(&lines, "k8s.registry");
    assert_eq!(r["status"], "fail", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("has a certificate this machine does not trust"),
        "{r}"
    );
    assert!(r["hint"].to_string().contains("registry-ca"), "{r}");

    // The right profile passes, saying how much is to be sent.
    let (code, lines, err) = site.run(&good, PASSWORD).start(&["--dry-run"]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    let r = check(&lines, "k8s.registry");
    assert_eq!(r["status"], "pass", "{r}");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("accepts pushes") && msg.contains("MB to send"),
        "{msg}"
    );

    // The deploy, killed in the middle of a blob.
    let mut first = site.run(&good, PASSWORD).start(&[]);
    let mid = first.wait_for(Duration::from_secs(180), |v| {
        v["event"] == "image-progress"
            && v["sent"].as_u64().is_some_and(|s| s > 0)
            && v["sent"].as_u64() < v["total"].as_u64()
    });
    assert!(mid.is_some(), "no push in progress: {:#?}", first.seen);
    first.signal("KILL");
    let (_, killed, _) = first.finish();
    let killed_total = pushed_bytes(&killed)[0].1;

    let (code, lines, err) = site.run(&good, PASSWORD).start(&["--resume"]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    assert!(
        lines
            .iter()
            .any(|l| is_step(l, "registry", "push", &["changed"])),
        "{lines:#?}"
    );
    // What had arrived before the kill was not sent again.
    let resumed = pushed_bytes(&lines);
    let resumed_total = resumed.last().unwrap().1;
    assert!(
        resumed_total < killed_total,
        "resumed {resumed_total} B, killed run {killed_total} B"
    );
    assert_eq!(resumed.last().unwrap().0, resumed_total);

    // The product answers through its entry Service: the backend reached
    // the database and the cache by their Service names.
    let health = kube
        .request_text(
            http::Request::get("/api/v1/namespaces/cd/services/web:80/proxy/api/health")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["database"], "ok", "{health}");
    assert_eq!(health["cache"], "ok", "{health}");
    // ... and from the node, through the Service's cluster address
    // (kube-proxy's rules).
    let ip = docker(&[
        "exec",
        &node.container,
        "sh",
        "-c",
        "curl -sk -H 'Authorization: Bearer admin-token' \
         https://127.0.0.1:6443/api/v1/namespaces/cd/services/web | \
         python3 -c 'import json,sys; print(json.load(sys.stdin)[\"spec\"][\"clusterIP\"])'",
    ]);
    // kube-proxy writes a Service's rules after the API server has its
    // endpoints (a watch and an iptables-restore later): the API proxy
    // above can answer a moment before the cluster address does.
    let url = format!("http://{}/api/health", ip.trim());
    let mut via_service = String::new();
    let routed = common::eventually(Duration::from_secs(60), || {
        let (code, out, _) = common::run_to_end(Command::new("docker").args([
            "exec",
            &node.container,
            "curl",
            "-s",
            "-m",
            "5",
            &url,
        ]));
        via_service = out;
        let ok = code == 0 && via_service.contains("\"database\":\"ok\"");
        async move { ok }
    })
    .await;
    if routed.is_none() {
        let why = docker(&[
            "exec",
            &node.container,
            "sh",
            "-c",
            "tail -n 30 /data/kube/logs/kube-proxy.log; iptables-save -t nat | grep -c KUBE; \
             iptables-save -t nat | grep cd/web || true",
        ]);
        panic!("{url} never answered through kube-proxy's rules: {via_service:?}\n{why}");
    }
    // A pod resolves a Service by its short name (the cluster DNS and the
    // search path the kubelet gives it).
    let web = docker(&[
        "exec",
        &node.container,
        "sh",
        "-c",
        "docker ps -q --filter name=k8s_web_ | head -1",
    ]);
    let resolved = docker(&[
        "exec",
        &node.container,
        "docker",
        "exec",
        web.trim(),
        "getent",
        "hosts",
        "backend",
    ]);
    assert!(
        resolved.contains("backend.cd.svc.cluster.local"),
        "{resolved}"
    );

    // A second run pushes nothing and changes nothing.
    let (code, lines, err) = site.run(&good, PASSWORD).start(&[]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    let s = steps(&lines);
    assert!(
        s.iter().all(|(_, _, status)| status == "unchanged"),
        "{s:?}"
    );
    assert!(
        s.contains(&("registry".into(), "push".into(), "unchanged".into())),
        "{s:?}"
    );
    assert!(pushed_bytes(&lines).is_empty(), "{lines:#?}");

    // The images are there: `images: present` finds every one.
    let present = site.profile(
        "present",
        &site.registry,
        &format!(
            ", images: present, registry-user: {USER}, registry-password-env: {ENV}, registry-ca: ./ca.crt"
        ),
    );
    let (code, lines, err) = site.run(&present, PASSWORD).start(&["--dry-run"]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    let r = check(&lines, "k8s.registry");
    assert!(
        r["message"].as_str().unwrap().contains("has all 4 images"),
        "{r}"
    );

    // Uninstall leaves no workload.
    let (code, out, err) = common::run_to_end(
        Command::new(cdwiz_bin())
            .arg("uninstall")
            .arg("--profile")
            .arg(&good)
            .env(ENV, PASSWORD)
            .env("CDWIZ_DATA_DIR", &site.state),
    );
    assert_eq!(code, 0, "{out}{err}");
    let lp = ListParams::default();
    assert!(
        Api::<Deployment>::namespaced(kube.clone(), "cd")
            .list(&lp)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        Api::<StatefulSet>::namespaced(kube.clone(), "cd")
            .list(&lp)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A cluster without a registry: the images loaded onto the node over
    // SSH (the bundle's names, which its engine lacks: it pulled the
    // registry's), used there as they are.
    let nodes = site.dir.join("nodes.yaml");
    std::fs::write(
        &nodes,
        format!(
            "version: 1\nbundle: {}\n\
             topology: {{ kind: k8s, kubeconfig: ./kubeconfig.yaml, namespace: nodes, rollout-timeout: 300, images: nodes }}\n\
             ssh: {{ user: root, auth: key, key-file: {} }}\n\
             hosts:\n  - {{ address: {}, roles: [worker] }}\n",
            site.bundle.display(),
            inst.sandbox.key().display(),
            node.address
        ),
    )
    .unwrap();
    let (code, lines, err) = site.run(&nodes, PASSWORD).start(&[]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    assert!(
        lines
            .iter()
            .any(|l| is_step(l, &node.address, "images", &["changed"])),
        "{lines:#?}"
    );
    let deployed = Api::<Deployment>::namespaced(kube.clone(), "nodes")
        .get("backend")
        .await
        .unwrap();
    let spec = deployed.spec.unwrap().template.spec.unwrap();
    assert_eq!(
        spec.containers[0].image.as_deref(),
        Some("cd-sandbox/backend:0.1.0")
    );
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    let (code, lines, err) = site.run(&nodes, PASSWORD).start(&[]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    assert!(
        steps(&lines)
            .iter()
            .all(|(_, _, status)| status == "unchanged"),
        "{:?}",
        steps(&lines)
    );

    // A bundle of two architectures: each tag an image index of both
    // manifests; the amd64 node pulls its own from it.
    let multi = common::sandbox_multiarch_bundle().await;
    let profile = site.pushing("multi", &multi, "multi", "multi");
    let (code, lines, err) = site.run(&profile, PASSWORD).start(&[]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    let index = docker(&[
        "exec",
        &reg.container,
        "curl",
        "-s",
        "--cacert",
        "/etc/registry/ca.crt",
        "-u",
        &format!("{USER}:{PASSWORD}"),
        "-H",
        "Accept: application/vnd.oci.image.index.v1+json",
        &format!(
            "https://{}:5000/v2/multi/cd-sandbox/backend/manifests/0.1.0",
            reg.address
        ),
    ]);
    let index: Value = serde_json::from_str(&index).unwrap();
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{index}"
    );
    let mut arches: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    arches.sort();
    assert_eq!(arches, ["amd64", "arm64"], "{index}");
    drop(inst);
}
