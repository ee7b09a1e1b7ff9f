//! Rendering: golden files for every topology, byte-identical twice, bundle
//! templates override the built-in ones, and an undefined variable fails
//! naming it.

use std::path::{Path, PathBuf};

use cdwiz::bundle::Bundle;
use cdwiz::profile::{self, Answers};
use cdwiz::render::{self, RenderedFile};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn answers(name: &str) -> Answers {
    let text = std::fs::read_to_string(root().join("tests/profiles/good").join(name)).unwrap();
    let a: Answers = serde_yaml::from_str(&text).unwrap();
    assert!(profile::validate(&a).is_empty(), "{name}");
    a
}

fn cd_manifest() -> Bundle {
    Bundle::open(&root().join("assets/products/cd")).expect("the CD manifest parses")
}

fn golden(dir: &Path, files: &[RenderedFile]) -> Vec<String> {
    let bless = std::env::var_os("CDWIZ_BLESS").is_some();
    if bless {
        let _ = std::fs::remove_dir_all(dir);
    }
    let mut problems = Vec::new();
    for f in files {
        let path = dir.join(&f.path);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &f.content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(f.content.as_str()) {
            problems.push(format!("{} differs:\n{}", path.display(), f.content));
        }
    }
    let mut on_disk = Vec::new();
    collect(dir, dir, &mut on_disk);
    let rendered: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    for p in on_disk {
        if !rendered.contains(&p) {
            problems.push(format!("{} is no longer rendered", dir.join(p).display()));
        }
    }
    problems
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            collect(base, &e.path(), out);
        } else {
            out.push(e.path().strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

#[test]
fn every_topology_renders_its_golden_files_and_twice_the_same() {
    let bundle = cd_manifest();
    let mut problems = Vec::new();
    for name in [
        "single.yaml",
        "ha-keepalived.yaml",
        "ha-lb.yaml",
        "k8s.yaml",
        "ipv6-jump-agent.yaml",
    ] {
        let a = answers(name);
        let first = render::render(&a, &bundle.manifest, None).unwrap();
        let second = render::render(&a, &bundle.manifest, None).unwrap();
        assert_eq!(first, second, "{name}: rendering twice differs");
        assert!(!first.is_empty());
        let dir = root()
            .join("tests/render")
            .join(name.trim_end_matches(".yaml"));
        problems.extend(golden(&dir, &first));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn rendered_files_hold_what_each_host_needs_and_no_secret() {
    let bundle = cd_manifest();
    let files = render::render(&answers("ha-keepalived.yaml"), &bundle.manifest, None).unwrap();
    let get = |p: &str| {
        files
            .iter()
            .find(|f| f.path == Path::new(p))
            .unwrap_or_else(|| panic!("{p} not rendered"))
            .content
            .clone()
    };
    // keepalived on every master, unicast to the other masters.
    let k1 = get("192.0.2.11/keepalived/keepalived.conf");
    assert!(k1.contains("192.0.2.100/32 dev eth0"), "{k1}");
    assert!(
        k1.contains("unicast_peer {\n    192.0.2.12\n    192.0.2.13\n  }"),
        "{k1}"
    );
    assert!(k1.contains("priority 150"));
    assert!(get("192.0.2.12/keepalived/keepalived.conf").contains("priority 140"));
    // The data tier is clustered over the three masters: each member knows
    // its id and every other member; the database is a primary and a
    // standby; the clients name every member.
    let zk = get("192.0.2.12/zookeeper.env");
    assert!(zk.contains("ZOO_MY_ID=2\n"), "{zk}");
    assert!(
        zk.contains(
            "ZOO_SERVERS=server.1=192.0.2.11:2888:3888;2181 server.2=192.0.2.12:2888:3888;2181 \
             server.3=192.0.2.13:2888:3888;2181\n"
        ),
        "{zk}"
    );
    let kafka = get("192.0.2.13/kafka.env");
    for line in [
        "KAFKA_BROKER_ID=3",
        "KAFKA_DEFAULT_REPLICATION_FACTOR=3",
        "KAFKA_MIN_INSYNC_REPLICAS=2",
        "KAFKA_ZOOKEEPER_CONNECT=192.0.2.11:2181,192.0.2.12:2181,192.0.2.13:2181",
    ] {
        assert!(kafka.contains(&format!("{line}\n")), "{line}: {kafka}");
    }
    assert!(get("192.0.2.11/redis.env").contains("REDIS_REPLICATION_MODE=master\n"));
    let replica = get("192.0.2.13/redis.env");
    assert!(
        replica.contains("REDIS_REPLICATION_MODE=slave\n"),
        "{replica}"
    );
    assert!(
        replica.contains("REDIS_MASTER_HOST=192.0.2.11\n"),
        "{replica}"
    );
    assert!(get("192.0.2.12/redis-sentinel.env").contains("REDIS_SENTINEL_QUORUM=2\n"));
    let es = get("192.0.2.11/elasticsearch.env");
    assert!(
        es.contains("cluster.initial_master_nodes=192.0.2.11,192.0.2.12,192.0.2.13\n"),
        "{es}"
    );
    assert!(!es.contains("single-node"), "{es}");
    for (host, primary) in [("192.0.2.11", true), ("192.0.2.12", false)] {
        let cnf = get(&format!("{host}/mysql/replication.cnf"));
        let ro = if primary {
            "read_only = 0"
        } else {
            "read_only = 1"
        };
        assert!(
            cnf.contains(ro) && cnf.contains("rpl_semi_sync_master_enabled = 1"),
            "{cnf}"
        );
    }
    assert!(!get("192.0.2.13/docker-compose.yml").contains("cd-mysql"));
    let raft = get("192.0.2.13/orchestrator/orchestrator.conf.json");
    assert!(
        raft.contains(r#""RaftNodes": ["192.0.2.11", "192.0.2.12", "192.0.2.13"]"#),
        "{raft}"
    );
    let backend = get("192.0.2.12/backend.env");
    for line in [
        "DB_URL=jdbc:mysql://192.0.2.11:3306,192.0.2.12:3306/cd?failOverReadOnly=false",
        "REDIS_SENTINELS=192.0.2.11:26379,192.0.2.12:26379,192.0.2.13:26379",
        "KAFKA_SERVERS=192.0.2.11:9092,192.0.2.12:9092,192.0.2.13:9092",
        "DB_PASSWORD_FILE=/run/secrets/db_password",
    ] {
        assert!(backend.contains(&format!("{line}\n")), "{line}: {backend}");
    }
    // `single` keeps one of each: no replication, no orchestrator.
    let single = render::render(&answers("single.yaml"), &bundle.manifest, None).unwrap();
    let only = |p: &str| {
        single
            .iter()
            .find(|f| f.path == Path::new(p))
            .map(|f| f.content.clone())
    };
    let zk = only("192.0.2.11/zookeeper.env").expect("zookeeper on the single host");
    assert!(
        zk.contains("ZOO_MY_ID=1\n") && !zk.contains("server.2"),
        "{zk}"
    );
    let kafka = only("192.0.2.11/kafka.env").unwrap();
    assert!(
        kafka.contains("KAFKA_DEFAULT_REPLICATION_FACTOR=1\n"),
        "{kafka}"
    );
    assert!(only("192.0.2.11/orchestrator.env").is_none());
    // Secrets are files; no value in any rendered file.
    for f in &files {
        assert!(
            !f.content.to_lowercase().contains("password="),
            "{}: {}",
            f.path.display(),
            f.content
        );
    }
}

#[test]
fn a_bundle_template_overrides_and_an_undefined_variable_is_named() {
    let bundle = cd_manifest();
    let a = answers("single.yaml");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("templates/host")).unwrap();
    std::fs::write(
        tmp.path().join("templates/host/cd.env.j2"),
        "SITE=custom {{ host.address }}\n",
    )
    .unwrap();
    let files = render::render(&a, &bundle.manifest, Some(tmp.path())).unwrap();
    let env = files.iter().find(|f| f.path.ends_with("cd.env")).unwrap();
    assert_eq!(env.content, "SITE=custom 192.0.2.11\n");

    std::fs::write(
        tmp.path().join("templates/host/cd.env.j2"),
        "A={{ host.address }}\nB={{ cluster.no_such_setting }}\n",
    )
    .unwrap();
    let err = render::render(&a, &bundle.manifest, Some(tmp.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("host/cd.env.j2"), "{err}");
    assert!(err.contains("cluster.no_such_setting"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("is undefined"), "{err}");
}

/// A bundle is untrusted: its templates cannot read this machine's files,
/// by an absolute or stepping-out name nor by a symlink out of its
/// `templates/`. Refused by `cdwiz bundle verify` and when rendering
/// (which a deploy does before it contacts any host).
#[test]
fn a_bundle_template_cannot_read_this_machines_files() {
    let bundle = cd_manifest();
    let a = answers("single.yaml");
    let planted = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(planted.path(), "OPERATORS-OWN-SECRET\n").unwrap();
    let cases = [
        format!("{{% include \"{}\" %}}\n", planted.path().display()),
        "{% include \"../../../../../../../../etc/passwd\" %}\n".to_string(),
        "symlink".to_string(),
    ];
    for case in cases {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(
            root().join("assets/products/cd/manifest.yaml"),
            tmp.path().join("manifest.yaml"),
        )
        .unwrap();
        let host = tmp.path().join("templates/host");
        std::fs::create_dir_all(&host).unwrap();
        if case == "symlink" {
            std::os::unix::fs::symlink(planted.path(), host.join("cd.env.j2")).unwrap();
        } else {
            std::fs::write(host.join("cd.env.j2"), &case).unwrap();
        }
        let err = match render::render(&a, &bundle.manifest, Some(tmp.path())) {
            Ok(files) => {
                let leaked = files.iter().any(|f| {
                    f.content.contains("OPERATORS-OWN") || f.content.contains("root:x:0:0")
                });
                panic!("{case}: rendered (a file read: {leaked})")
            }
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("not a plain path") || err.contains("leads out"),
            "{case}: {err}"
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdwiz"))
            .args(["bundle", "verify"])
            .arg(tmp.path())
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert_ne!(out.status.code(), Some(0), "{case}: {said}");
        assert!(
            said.contains("a template reaches out of the bundle")
                && said.contains("templates/host/cd.env.j2"),
            "{case}: {said}"
        );
        assert!(!said.contains("OPERATORS-OWN"), "{said}");
    }
}

/// The k8s topology's manifests are valid for the Kubernetes versions the
/// platform supports (kubernetes-validate from PyPI, strict: unknown fields
/// are errors), with the registry, pull secret and replicas the answers set.
#[test]
fn k8s_manifests_validate_against_the_supported_kubernetes_versions() {
    let tool = root().join("target/tools-venv/bin/kubernetes-validate");
    assert!(
        tool.exists(),
        "kubernetes-validate not found at {}: run scripts/setup-machine",
        tool.display()
    );
    let mut a = answers("k8s.yaml");
    a.topology.registry = Some("registry.example.com/cd".into());
    a.topology.pull_secret = Some("cd-pull".into());
    a.topology.replicas.insert("backend".into(), 3);
    assert!(profile::validate(&a).is_empty());
    let files = render::render(&a, &cd_manifest().manifest, None).unwrap();
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    assert!(
        names.contains(&"k8s/namespace.yaml".to_string())
            && names.contains(&"k8s/backend.yaml".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("keepalived")),
        "keepalived is for hosts only"
    );
    let backend = &files
        .iter()
        .find(|f| f.path.ends_with("backend.yaml"))
        .unwrap()
        .content;
    assert!(
        backend.contains("replicas: 3")
            && backend.contains("image: registry.example.com/cd/cd/backend:3.2.0")
    );
    assert!(backend.contains("- name: cd-pull"));
    let tmp = tempfile::tempdir().unwrap();
    render::write(&files, tmp.path()).unwrap();
    let paths: Vec<PathBuf> = files.iter().map(|f| tmp.path().join(&f.path)).collect();
    for version in ["1.27.0", "1.30.0", "1.33.0"] {
        let out = std::process::Command::new(&tool)
            .args(["--strict", "--quiet", "-k", version])
            .args(&paths)
            .output()
            .expect("run kubernetes-validate");
        assert!(
            out.status.success(),
            "Kubernetes {version}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A replica count for a component the product does not have is an error
    // naming the field.
    a.topology.replicas.insert("bakend".into(), 2);
    let e = render::render(&a, &cd_manifest().manifest, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("topology.replicas.bakend") && e.contains("no component `bakend`"),
        "{e}"
    );
}
