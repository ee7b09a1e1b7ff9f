//! The product is data: a component added only in test data (a manifest
//! entry and a template in the bundle, no change to cdwiz) is deployed,
//! configured from its template and healthy; operator hooks run on the
//! host around the deploy with their output in the host's log; a bundle
//! with a missing image archive or a broken manifest is refused before any
//! host is touched.

mod common;

use std::path::Path;

use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

/// A copy of the sandbox bundle (its archive linked, not copied) whose
/// manifest `edit` changes.
fn bundle_copy(from: &Path, to: &Path, edit: impl FnOnce(&mut serde_yaml::Value)) {
    std::fs::create_dir_all(to.join("images/amd64")).unwrap();
    for e in std::fs::read_dir(from.join("images/amd64"))
        .unwrap()
        .flatten()
    {
        std::os::unix::fs::symlink(e.path(), to.join("images/amd64").join(e.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(from.join("manifest.yaml")).unwrap();
    let mut manifest: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    edit(&mut manifest);
    std::fs::write(
        to.join("manifest.yaml"),
        serde_yaml::to_string(&manifest).unwrap(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_from_test_data_deploys_and_hooks_run() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-ext", 216, 1).await;
    let sb = &inst.sandbox;
    let addr = sb.hosts[0].address.clone();
    let password = sb.password().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // The extension: an `echo` component answering with a file rendered
    // from the bundle's own template.
    let ext = tmp.path().join("bundle-ext");
    bundle_copy(&bundle, &ext, |m| {
        let echo: serde_yaml::Value = serde_yaml::from_str(
            "name: echo\nimage: cd-sandbox/backend:0.1.0\n\
             command: [socat, 'TCP-LISTEN:9099,fork,reuseaddr', 'SYSTEM:cat /etc/echo/greeting.txt']\n\
             ports: [9099]\ndepends-on: [backend]\nhealth: { port: 9099 }\n\
             configs: { echo/greeting.txt: /etc/echo/greeting.txt }\n",
        )
        .unwrap();
        m["components"].as_sequence_mut().unwrap().push(echo);
    });
    std::fs::create_dir_all(ext.join("templates/echo")).unwrap();
    std::fs::write(
        ext.join("templates/echo/greeting.txt.j2"),
        "hello from {{ host.address }}, {{ product.name }} {{ product.version }}\n",
    )
    .unwrap();
    // Two broken copies: an archive missing, a dependency on nothing.
    let missing = tmp.path().join("bundle-missing");
    bundle_copy(&bundle, &missing, |_| {});
    for e in std::fs::read_dir(missing.join("images/amd64"))
        .unwrap()
        .flatten()
    {
        std::fs::remove_file(e.path()).unwrap();
    }
    let broken = tmp.path().join("bundle-broken");
    bundle_copy(&bundle, &broken, |m| {
        m["components"][2]["depends-on"] = serde_yaml::from_str("[database, queue]").unwrap();
    });

    let hooks = tmp.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(
        hooks.join("pre.sh"),
        "echo \"pre-deploy on $CDWIZ_HOST ($CDWIZ_PHASE)\"\ntouch /root/pre-deploy-ran\n",
    )
    .unwrap();
    std::fs::write(
        hooks.join("post.sh"),
        "echo \"post-deploy sees: $(cat $CDWIZ_DATA_DIR/cd/config/echo/greeting.txt)\"\n\
         sleep 2\necho 'post-deploy done'\n",
    )
    .unwrap();
    let profile_for = |bundle: &Path, name: &str| {
        let p = tmp.path().join(name);
        std::fs::write(
            &p,
            format!(
                "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
                 ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
                 hosts:\n  - {{ address: {addr}, roles: [master, worker] }}\n\
                 hooks: {{ pre-deploy: hooks/pre.sh, post-deploy: hooks/post.sh }}\n",
                bundle.display()
            ),
        )
        .unwrap();
        p
    };
    let state = tmp.path().join("state");
    let work = tmp.path().join("work");
    let run = |profile: &Path| {
        Run {
            profile,
            work: &work,
            state: &state,
            password: (PASSWORD_ENV, &password),
        }
        .start(&[])
        .finish()
    };

    for (name, bad, says) in [
        ("missing.yaml", &missing, "No such file"),
        ("broken.yaml", &broken, "no component `queue`"),
    ] {
        let (code, _, err) = run(&profile_for(bad, name));
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
    assert_eq!(
        sh(
            sb,
            0,
            "root",
            "test -e /root/pre-deploy-ran || test -e /etc/cdwiz || test -e /run/cdwiz.lock"
        )
        .await
        .code,
        1,
        "a bad bundle touched the host"
    );

    let (code, lines, err) = run(&profile_for(&ext, "ext.yaml"));
    assert_eq!(code, 0, "{err}\n{lines:?}");
    for step in ["hook pre-deploy", "component echo", "hook post-deploy"] {
        assert!(
            lines.iter().any(|v| is_step(v, &addr, step, &["changed"])),
            "{step}: {lines:?}"
        );
    }
    let greeting = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        let mut s = tokio::net::TcpStream::connect((addr.as_str(), 9099))
            .await
            .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        buf
    })
    .await
    .unwrap();
    assert_eq!(greeting, format!("hello from {addr}, cd-sandbox 0.1.0\n"));
    let summary = lines
        .iter()
        .find(|v| v["event"] == "deploy-summary")
        .unwrap();
    let log = std::fs::read_to_string(
        Path::new(summary["logs"].as_str().unwrap()).join(format!("{addr}.log")),
    )
    .unwrap();
    assert!(
        log.contains(&format!("pre-deploy on {addr} (pre-deploy)")),
        "{log}"
    );
    assert!(
        log.contains(&format!("post-deploy sees: hello from {addr}")),
        "{log}"
    );
    // The hook's lines reached the log as they were printed, not at its end:
    // its first line is logged two seconds before its last.
    let at = |needle: &str| -> f64 {
        let line = log.lines().find(|l| l.contains(needle)).unwrap();
        let hms: Vec<f64> = line[..12].split(':').map(|p| p.parse().unwrap()).collect();
        hms[0] * 3600.0 + hms[1] * 60.0 + hms[2]
    };
    // (Seconds of the day: across midnight, add a day.)
    let gap = (at("post-deploy done") - at("post-deploy sees") + 86_400.0) % 86_400.0;
    assert!(
        gap >= 1.5,
        "the hook's output was not streamed: {gap:.2} s apart\n{log}"
    );
}
