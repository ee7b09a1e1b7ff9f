//! The k8s topology against a real Kubernetes cluster (tests/common/kube.rs:
//! a sandbox host runs the control plane, a kubelet, kube-proxy and the
//! cluster DNS). cdwiz reaches the API server at the host's sandbox address
//! over HTTPS with a token.
//!
//! One test, in phases, so the cluster comes up once: cluster checks that
//! fail for the right reason (version range, RBAC, a namespace owned by
//! something else), a deploy (server-side apply in dependency order,
//! rollouts, pod logs in the component's log, verify through the Service),
//! a second run that changes nothing, a stop during a rollout and its
//! resume, a rollout that cannot finish, the wizard replaying a profile
//! to a finished install, and uninstall by label.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ::kube::api::{Api, ListParams};
use common::kube::{self, check, docker, kubeconfig, post, steps};
use common::tmux::Tmux;
use common::{Run, cdwiz_bin, eventually, is_step};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret, Service};
use serde_json::Value;

const NAME: &str = "t-k8s";
const NET: u8 = 236;

/// A product whose two components run busybox (an image made on the
/// node: nothing is pulled): `db` keeps data (a StatefulSet with a claim)
/// and answers after `db_delay` seconds; `web` needs db, reads the
/// generated password from its Secret file and serves /health.
fn manifest(range: &str, db_delay: u32, web_fails: bool) -> String {
    let web = if web_fails {
        "echo web: giving up; exit 1".to_string()
    } else {
        "echo web: the password file has $(wc -c < /run/secrets/db_password) bytes; \
         echo web: DB_HOST=$DB_HOST; mkdir -p /www; echo ok > /www/health; \
         exec /busybox httpd -f -v -p 8080 -h /www"
            .to_string()
    };
    format!(
        r#"version: 1
product: {{ name: demo, version: "1.0" }}
images: []
requirements:
  master: {{ cpus: 1, memory-gib: 1, data-gib: 1 }}
{range}
components:
  - name: db
    image: cdwiz/k8s-demo:1
    command: ["/busybox", "sh", "-c", "echo db: starting; sleep {db_delay}; mkdir -p /www; echo up > /www/index.html; exec /busybox httpd -f -v -p 5432 -h /www"]
    ports: [5432]
    volumes: {{ data: /var/lib/demo }}
    health: {{ port: 5432 }}
  - name: web
    image: cdwiz/k8s-demo:1
    command: ["/busybox", "sh", "-c", "{web}"]
    ports: [8080]
    depends-on: [db]
    secrets: [db_password]
    env: {{ DB_HOST: "{{{{ endpoints.db.host }}}}" }}
    health: {{ port: 8080, http: /health }}
entry: {{ component: web, verify: /health }}
"#
    )
}

const RANGE_1_20: &str = "  kubernetes: { min: \"1.20\", max: \"1.33\" }";

/// A profile directory: kubeconfig, bundle, profile.
struct Profile {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    profile: PathBuf,
    work: PathBuf,
    state: PathBuf,
}

impl Profile {
    fn new(address: &str, manifest: &str, topology: &str) -> Profile {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("bundle")).unwrap();
        std::fs::write(dir.join("bundle/manifest.yaml"), manifest).unwrap();
        std::fs::write(dir.join("kubeconfig.yaml"), kubeconfig(address)).unwrap();
        std::fs::write(
            dir.join("k8s.yaml"),
            format!(
                "version: 1\nbundle: ./bundle\n\
                 topology: {{ kind: k8s, kubeconfig: ./kubeconfig.yaml, {topology} }}\n"
            ),
        )
        .unwrap();
        Profile {
            _tmp: tmp,
            profile: dir.join("k8s.yaml"),
            work: dir.join("work"),
            state: dir.join("state"),
            dir,
        }
    }

    fn run(&self) -> Run<'_> {
        Run {
            profile: &self.profile,
            work: &self.work,
            state: &self.state,
            password: ("CDWIZ_UNUSED", ""),
        }
    }

    /// `cdwiz COMMAND --profile k8s.yaml ARGS` in English (or in `lang`),
    /// with this profile's state: (exit code, stdout, stderr).
    fn cdwiz(&self, command: &str, extra: &[&str]) -> (i32, String, String) {
        self.cdwiz_in("en", command, extra)
    }

    fn cdwiz_in(&self, lang: &str, command: &str, extra: &[&str]) -> (i32, String, String) {
        common::run_to_end(
            Command::new(cdwiz_bin())
                .arg(command)
                .arg("--profile")
                .arg(&self.profile)
                .args(["--lang", lang])
                .args(extra)
                .env("CDWIZ_DATA_DIR", &self.state),
        )
    }

    fn uninstall(&self, extra: &[&str]) -> (i32, String, String) {
        self.cdwiz("uninstall", extra)
    }

    /// `cdwiz status --output json`: its exit code and report.
    fn status(&self) -> (i32, Value) {
        let (code, out, err) = self.cdwiz("status", &["--output", "json"]);
        let v = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        (code, v)
    }

    /// The newest run's log of `pane`.
    fn log(&self, pane: &str) -> String {
        let runs = self.dir.join("work/runs");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        std::fs::read_to_string(dirs.last().unwrap().join(format!("logs/{pane}.log")))
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn k8s_topology_on_a_real_cluster() {
    let inst = common::instance(NAME, NET, 1).await;
    let host = &inst.sandbox.hosts[0];
    let (container, address) = (host.container.clone(), host.address.clone());
    let kube = kube::start_node(&container, &address, 3).await;
    // The product's image, made on the node from busybox.
    docker(&[
        "exec",
        &container,
        "sh",
        "-c",
        "d=$(mktemp -d) && cp /opt/kube/busybox $d/ && tar -C $d -c busybox | \
         docker import -c 'ENTRYPOINT [\"/busybox\"]' - cdwiz/k8s-demo:1",
    ]);

    // Checks that fail for the right reason, against the real API server.
    let outside = Profile::new(&address, &manifest("", 0, false), "namespace: demo");
    let (code, lines, _) = outside.run().start(&["--dry-run"]).finish();
    assert_eq!(code, 3, "{lines:#?}");
    let v = check(&lines, "k8s.version");
    assert_eq!(v["status"], "fail");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("1.20 is outside the supported 1.27–1.33"),
        "{v}"
    );

    let limited = Profile::new(
        &address,
        &manifest(RANGE_1_20, 0, false),
        "namespace: demo, context: limited",
    );
    let (code, lines, _) = limited.run().start(&["--dry-run"]).finish();
    assert_eq!(code, 3);
    let rbac = check(&lines, "k8s.rbac");
    assert_eq!(rbac["status"], "fail", "{rbac}");
    let msg = rbac["message"].as_str().unwrap();
    assert!(
        msg.contains("may not, in demo") && msg.contains("patch apps/deployments"),
        "{msg}"
    );
    assert!(msg.contains("get pods/log"), "{msg}");

    post(
        &Api::<Namespace>::all(kube.clone()),
        "apiVersion: v1\nkind: Namespace\nmetadata: { name: taken, labels: { app.kubernetes.io/managed-by: helm } }\n",
    )
    .await;
    let taken = Profile::new(
        &address,
        &manifest(RANGE_1_20, 0, false),
        "namespace: taken",
    );
    let (code, lines, _) = taken.run().start(&["--dry-run"]).finish();
    assert_eq!(code, 3);
    let ns = check(&lines, "k8s.namespace");
    assert_eq!(ns["status"], "fail");
    assert!(
        ns["message"]
            .as_str()
            .unwrap()
            .contains("namespace taken exists and belongs to something else (managed by: helm)"),
        "{ns}"
    );

    // A deploy, stopped by the operator while db rolls out, then resumed.
    let good = Profile::new(
        &address,
        &manifest(RANGE_1_20, 12, false),
        "namespace: demo, rollout-timeout: 120",
    );
    let mut first = good.run().start(&[]);
    let applied = first.wait_for(Duration::from_secs(60), |v| {
        is_step(v, "db", "apply", &["changed"])
    });
    assert!(applied.is_some(), "db was not applied: {:#?}", first.seen);
    for id in [
        "k8s.nodes",
        "k8s.resources",
        "k8s.storage-class",
        "k8s.namespace",
        "k8s.rbac",
    ] {
        assert_eq!(check(&first.seen, id)["status"], "pass", "{id}");
    }
    // Ctrl-C while the rollout waits: once db's container runs (and keeps
    // its port closed for its delay).
    let pods = Api::<Pod>::namespaced(kube.clone(), "demo");
    let running = eventually(Duration::from_secs(60), || async {
        let listed = pods
            .list(&ListParams::default().labels("app.kubernetes.io/name=db"))
            .await;
        listed.is_ok_and(|l| {
            l.items.iter().any(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
                    })
            })
        })
    })
    .await;
    assert!(running.is_some(), "db's container never ran");
    first.signal("INT");
    let (code, lines, err) = first.finish();
    assert_eq!(code, 130, "{lines:#?}\n{err}");
    assert!(err.contains("--resume"), "{err}");

    let (code, lines, err) = good.run().start(&["--resume"]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    let s = steps(&lines);
    for done in [
        ("cluster", "namespace"),
        ("cluster", "secret"),
        ("db", "apply"),
    ] {
        assert!(
            s.contains(&(done.0.into(), done.1.into(), "done".into())),
            "{done:?} not done in {s:?}"
        );
    }
    for changed in [("db", "rollout"), ("web", "apply"), ("web", "rollout")] {
        assert!(
            s.contains(&(changed.0.into(), changed.1.into(), "changed".into())),
            "{changed:?} not changed in {s:?}"
        );
    }
    assert!(
        s.contains(&("cluster".into(), "verify".into(), "unchanged".into())),
        "{s:?}"
    );

    // The Secret holds the generated password; the pod read it from its
    // file, and its output reached web's log.
    let generated: std::collections::BTreeMap<String, String> = {
        let installs = good.dir.join("state/installs");
        let dir = std::fs::read_dir(&installs)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("secrets.yaml")).unwrap()).unwrap()
    };
    let secret = Api::<Secret>::namespaced(kube.clone(), "demo")
        .get("demo-secrets")
        .await
        .unwrap();
    let stored = &secret.data.unwrap()["db_password"].0;
    assert_eq!(stored, generated["db_password"].as_bytes());
    let web_log = good.log("web");
    assert!(
        web_log.contains(&format!(
            "web: the password file has {} bytes",
            stored.len()
        )),
        "{web_log}"
    );
    assert!(web_log.contains("web: DB_HOST=db"), "{web_log}");
    assert!(
        good.log("db").contains("db: starting"),
        "{}",
        good.log("db")
    );
    assert!(
        good.log("cluster")
            .contains("service web:8080/health answers")
    );

    // A live run elsewhere holds the namespace's lock: refused, named.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(kube.clone(), "demo");
    // The namespace's lock as another machine's run `run` leaves it, last
    // renewed `ago` before now.
    let lease = |run: &'static str, ago: k8s_openapi::chrono::Duration| {
        let renewed = (k8s_openapi::chrono::Utc::now() - ago)
            .to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Micros, true);
        let leases = leases.clone();
        async move {
            post(
                &leases,
                &format!(
                    "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{ name: cdwiz-lock }}\n\
                     spec: {{ holderIdentity: '{{\"run\":\"{run}\",\"installer\":\"laptop-2\",\"machine\":\"m2\",\"pid\":4242,\"started\":0}}', \
                     leaseDurationSeconds: 90, renewTime: \"{renewed}\" }}\n"
                ),
            )
            .await
        }
    };
    lease("other-run", k8s_openapi::chrono::Duration::zero()).await;
    let (code, lines, err) = good.run().start(&[]).finish();
    assert_eq!(code, 2, "{lines:#?}");
    assert!(
        err.contains("namespace/demo")
            && err.contains("another cdwiz run holds the lock: run other-run"),
        "{err}"
    );
    leases
        .delete("cdwiz-lock", &Default::default())
        .await
        .unwrap();

    // A dead run's lock (not renewed for ten minutes): explained, and taken
    // over only with --resume.
    lease("dead-run", k8s_openapi::chrono::Duration::minutes(10)).await;
    let (code, lines, err) = good.run().start(&[]).finish();
    assert_eq!(code, 2, "{lines:#?}");
    assert!(
        err.contains("dead-run") && err.contains("--resume"),
        "{err}"
    );
    let (code, lines, err) = good.run().start(&["--resume"]).finish();
    assert_eq!(code, 0, "{err}");
    let taken = lines
        .iter()
        .find(|l| l["event"] == "note" && l["id"] == "lock-taken-over")
        .unwrap_or_else(|| panic!("no lock-taken-over note: {lines:#?}"));
    assert!(
        taken["message"]
            .as_str()
            .is_some_and(|m| m.contains("namespace/demo") && m.contains("dead-run")),
        "{taken}"
    );

    // A second run changes nothing.
    let (code, lines, err) = good.run().start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    let s = steps(&lines);
    assert_eq!(s.len(), 7, "{s:?}");
    assert!(
        s.iter().all(|(_, _, status)| status == "unchanged"),
        "{s:?}"
    );

    // Another engineer's laptop (no record of the installation) runs the
    // same profile: the generated secrets come back from the namespace's
    // Secret, and nothing changes.
    let laptop_b = Run {
        profile: &good.profile,
        work: &good.dir.join("work-b"),
        state: &good.dir.join("state-b"),
        password: ("CDWIZ_UNUSED", ""),
    };
    let (code, lines, err) = laptop_b.start(&[]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    let note = lines
        .iter()
        .find(|l| l["event"] == "note" && l["id"] == "secrets-adopted")
        .unwrap_or_else(|| panic!("no secrets-adopted note: {lines:#?}"));
    assert!(
        note["message"].as_str().unwrap().contains("namespace/demo"),
        "{note}"
    );
    let s = steps(&lines);
    assert!(
        s.iter().all(|(_, _, status)| status == "unchanged"),
        "{s:?}"
    );

    // Status, read-only: each component's workload ready and as rendered,
    // the entry answering through its Service.
    let (code, v) = good.status();
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["well"], true, "{v:#}");
    assert_eq!(v["cluster"]["namespace"], "demo", "{v:#}");
    let workloads = v["cluster"]["components"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = workloads
        .iter()
        .map(|w| (w["name"].as_str().unwrap(), w["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("db", "StatefulSet"), ("web", "Deployment")],
        "{v:#}"
    );
    for w in workloads {
        assert_eq!(
            (&w["ready"], &w["desired"]),
            (&1.into(), &1.into()),
            "{w:#}"
        );
        assert_eq!(
            w["images"],
            serde_json::json!(["cdwiz/k8s-demo:1"]),
            "{w:#}"
        );
        assert!(
            w.get("drifted").is_none() && w.get("compare_error").is_none(),
            "{w:#}"
        );
    }
    assert_eq!(v["entry"]["answers"], true, "{v:#}");
    assert!(
        v["entry"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/services/web:8080/proxy/health"),
        "{v:#}"
    );

    // Someone changes the installation behind cdwiz's back: web scaled to
    // nothing, its Service deleted. Status names both (exit 5) and changes
    // neither (its comparison is a dry run).
    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), "demo");
    let services: Api<Service> = Api::namespaced(kube.clone(), "demo");
    deployments
        .patch(
            "web",
            &::kube::api::PatchParams::default(),
            &::kube::api::Patch::Merge(serde_json::json!({ "spec": { "replicas": 0 } })),
        )
        .await
        .unwrap();
    services.delete("web", &Default::default()).await.unwrap();
    let (code, v) = good.status();
    assert_eq!(code, 5, "{v:#}");
    let web = &v["cluster"]["components"][1];
    assert_eq!(
        web["drifted"],
        serde_json::json!([
            { "object": "Deployment web", "missing": false },
            { "object": "Service web", "missing": true },
        ]),
        "{v:#}"
    );
    assert_eq!(v["entry"]["answers"], false, "{v:#}");
    assert!(
        v["cluster"]["components"][0].get("drifted").is_none(),
        "{v:#}"
    );
    let (code, out, _) = good.cdwiz("status", &[]);
    assert_eq!(code, 5, "{out}");
    for line in [
        "cluster, namespace demo",
        "Service web: missing (a run of cdwiz would create it)",
        "Deployment web: differs from what this profile and bundle render",
        "Deployment web in namespace demo is not running as it should",
        "does not answer",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    let (code, zh, _) = good.cdwiz_in("zh-CN", "status", &[]);
    assert_eq!(code, 5, "{zh}");
    for line in [
        "集群，命名空间 demo",
        "Service web：不存在（再次运行 cdwiz 会创建它）",
        "命名空间 demo 中的 Deployment web 运行不正常",
    ] {
        assert!(zh.contains(line), "{line:?} not in:\n{zh}");
    }
    assert!(services.get_opt("web").await.unwrap().is_none());
    let replicas = deployments.get("web").await.unwrap().spec.unwrap().replicas;
    assert_eq!(replicas, Some(0), "status changed the Deployment");

    // The support archive of the namespace: objects, pods' logs, events,
    // the Secrets by name only; no secret value anywhere in it.
    let archive = good.dir.join("support.tar.gz");
    let work = good.work.to_str().unwrap().to_string();
    let (code, out, err) = good.cdwiz(
        "collect",
        &["-o", archive.to_str().unwrap(), "--workdir", &work],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("cluster: "), "{err}");
    assert!(out.contains("files from the cluster"), "{out}");
    let files = common::archive_files(&archive);

    for f in [
        "cluster/version.json",
        "cluster/nodes.txt",
        "cluster/Deployment/web.yaml",
        "cluster/StatefulSet/db.yaml",
        "cluster/Service/db.yaml",
        "cluster/PersistentVolumeClaim/data-db-0.yaml",
        "cluster/Pod/db-0.yaml",
        "cluster/events.txt",
        "cluster/secrets.txt",
    ] {
        assert!(files.contains_key(f), "{f} missing: {:?}", files.keys());
    }
    assert!(
        files["cluster/logs/db-0/db.log"].contains("db: starting"),
        "{files:#?}"
    );
    assert!(
        files["cluster/secrets.txt"]
            .lines()
            .any(|l| l.starts_with("demo-secrets Opaque ")
                && l.split(' ')
                    .nth(2)
                    .unwrap()
                    .split(',')
                    .any(|k| k == "db_password")),
        "{}",
        files["cluster/secrets.txt"]
    );
    assert!(
        files["cluster/events.txt"].contains("ScalingReplicaSet"),
        "{}",
        files["cluster/events.txt"]
    );
    assert!(
        files["MANIFEST.txt"].contains("the cluster, namespace demo"),
        "{}",
        files["MANIFEST.txt"]
    );
    assert!(
        files
            .keys()
            .any(|k| k.starts_with("local/runs/") && k.ends_with("state.json"))
    );
    let password = &generated["db_password"];
    for (name, text) in &files {
        assert!(
            !text.contains(password.as_str()),
            "the generated password in {name}"
        );
    }

    // A run puts back what status named; then all is well again.
    let (code, lines, err) = good.run().start(&[]).finish();
    assert_eq!(code, 0, "{lines:#?}\n{err}");
    assert!(
        steps(&lines).contains(&("web".into(), "apply".into(), "changed".into())),
        "{:?}",
        steps(&lines)
    );
    let (code, v) = good.status();
    assert_eq!(code, 0, "{v:#}");

    // A rollout that cannot finish says why, with the pod's own words.
    let broken = Profile::new(
        &address,
        &manifest(RANGE_1_20, 0, true),
        "namespace: broken, rollout-timeout: 25",
    );
    let (code, lines, err) = broken.run().start(&[]).finish();
    assert_eq!(code, 4, "{lines:#?}");
    let failed = lines
        .iter()
        .find(|l| is_step(l, "web", "rollout", &["failed"]))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let msg = failed["message"].as_str().unwrap();
    assert!(
        msg.contains("Deployment web: 0 of 1 replicas ready after 25 s"),
        "{msg}"
    );
    assert!(msg.contains("last exit code 1"), "{msg}");
    assert!(
        broken.log("web").contains("web: giving up"),
        "{}",
        broken.log("web")
    );
    assert!(err.contains("1 component failed"), "{err}");

    // The wizard, replaying a profile: the cluster checks grid, review,
    // and the deploy with components as panes, to the completion screen.
    let wizard = Profile::new(
        &address,
        &manifest(RANGE_1_20, 0, false),
        "namespace: wizard, rollout-timeout: 120",
    );
    let tmux = Tmux::new("k8s");
    let state = wizard.dir.join("state");
    tmux.start(
        &wizard.dir,
        &[
            ("CDWIZ_DATA_DIR", state.to_str().unwrap()),
            ("LANG", "C.UTF-8"),
        ],
        "--profile k8s.yaml",
    );
    tmux.wait_for("Press Enter to begin", Duration::from_secs(20));
    tmux.keys(&["Enter", "Enter"]); // welcome, topology
    tmux.wait_for("Rollout timeout", Duration::from_secs(10));
    tmux.keys(&["Enter"]); // settings: on Next
    let s = tmux.wait_for("Checks: ", Duration::from_secs(60));
    assert!(
        s.contains("Permissions (RBAC)") && s.contains("cluster"),
        "{s}"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for("Rendered files", Duration::from_secs(30));
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("Installation complete", Duration::from_secs(240));
    drop(tmux);
    let runs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let web_log = std::fs::read_to_string(runs[0].join("logs/web.log")).unwrap_or_default();
    assert!(
        web_log.contains("web: the password file has"),
        "{s}\n{web_log}"
    );
    let deployed = Api::<Deployment>::namespaced(kube.clone(), "wizard")
        .get("web")
        .await
        .unwrap();
    assert_eq!(deployed.status.unwrap().ready_replicas, Some(1));

    // Uninstall by label: workloads, Services, ConfigMaps, the Secret; the
    // claim (the data) and the namespace stay unless purged.
    let (code, out, err) = good.uninstall(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("deleted Deployment web") && out.contains("deleted StatefulSet db"),
        "{out}"
    );
    assert!(
        deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(kube.clone(), "demo");
    assert_eq!(
        claims
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let (code, out, _) = good.uninstall(&[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("nothing of this installation is left"),
        "{out}"
    );
    let (code, out, err) = good.uninstall(&["--purge", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("deleted PersistentVolumeClaim data-db-0"),
        "{out}"
    );
    assert!(out.contains("deleted Namespace demo"), "{out}");
    let ns = Api::<Namespace>::all(kube.clone())
        .get_opt("demo")
        .await
        .unwrap();
    assert!(
        ns.is_none_or(|n| n.metadata.deletion_timestamp.is_some()),
        "namespace demo is still there"
    );
    drop(inst);
}
