//! The vendor's path end to end, against this machine's real Docker engine
//! and a real sandbox host: `cdwiz bundle build` from the sandbox product's
//! images (reproducible, refusing missing and foreign-architecture images
//! without writing anything), `bundle pack` into one file, and that file,
//! unpacked into an empty folder, deploying the product with nothing on
//! `PATH` but the system's OpenSSH client.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cdwiz::docker::archive::{LayerEntry, image_archive_for, layer_tar};
use common::*;

fn cdwiz(args: &[&str]) -> (i32, String, String) {
    run_to_end(Command::new(cdwiz_bin()).args(args).env("LANG", "C"))
}

/// `cdwiz bundle build --manifest M -o OUT extra…`.
fn build(manifest: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let (m, o) = (manifest.to_str().unwrap(), out.to_str().unwrap());
    cdwiz(&[&["bundle", "build", "--manifest", m, "-o", o][..], extra].concat())
}

fn sha256s(bundle: &Path) -> Vec<(String, String)> {
    let m = cdwiz::bundle::Bundle::open(bundle).expect("a bundle");
    m.manifest
        .images
        .iter()
        .map(|i| (i.file.display().to_string(), i.sha256.clone()))
        .collect()
}

/// The sandbox product's manifest as a vendor's source manifest (its
/// `images` are whatever: the build replaces them), plus `extra` components.
fn source_manifest(dir: &Path, extra: &str) -> PathBuf {
    let bundle = cdwiz::sandbox::bundle::bundle_dir(&cdwiz::sandbox::sandbox_root(&data_dir()));
    let text = std::fs::read_to_string(bundle.join("manifest.yaml")).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("manifest.yaml");
    let text = text.replacen("\ncomponents:\n", &format!("\ncomponents:\n{extra}"), 1);
    std::fs::write(&path, text).unwrap();
    path
}

fn component(name: &str, image: &str) -> String {
    format!("- name: {name}\n  image: {image}\n")
}

/// Loads a tiny image into the local engine that says it is for `arch`.
async fn load_foreign(reference: &str, arch: &str) {
    let layer = layer_tar(&[LayerEntry::File {
        path: "hello",
        mode: 0o644,
        data: b"hi",
    }])
    .unwrap();
    let archive = image_archive_for(reference, &layer, &["/hello"], arch).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("foreign.tar");
    std::fs::write(&file, archive).unwrap();
    let docker = cdwiz::docker::connect_local().await.unwrap();
    cdwiz::docker::load_file(&docker, &file).await.unwrap();
}

/// Removes the test's own images from the local engine when dropped (also
/// when the test panics); an earlier run's are removed before it loads
/// them.
struct TestImages(&'static [&'static str]);

impl TestImages {
    fn remove(&self) {
        let _ = std::process::Command::new("docker")
            .arg("rmi")
            .arg("-f")
            .args(self.0)
            .output();
    }
}

impl Drop for TestImages {
    fn drop(&mut self) {
        self.remove();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_build_is_reproducible_and_refuses_what_it_cannot_carry() {
    let sandbox = sandbox_bundle().await;
    let tmp = tempfile::tempdir().unwrap();
    let src = source_manifest(&tmp.path().join("src"), "");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (code, out, err) = build(&src, &a, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("MiB"), "progress in bytes: {err}");
    assert!(out.contains("cd-sandbox 0.1.0"), "{out}");
    let (code, out, err) = build(&src, &b, &["--arch", "x86_64"]);
    assert_eq!(code, 0, "{out}{err}");
    let (first, second) = (sha256s(&a), sha256s(&b));
    assert_eq!(first, second, "two builds of the same images");
    assert_eq!(first.len(), 1);
    assert!(
        first[0].0.ends_with("cd-sandbox-0.1.0-amd64.tar"),
        "{first:?}"
    );
    // The sandbox's own bundle is made the same way, from the same images.
    assert_eq!(
        sha256s(&sandbox),
        first,
        "the sandbox bundle comes from bundle build"
    );
    let (code, out, err) = cdwiz(&["bundle", "verify", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    // Rebuilding into a bundle replaces it; nothing is left beside it.
    let (code, _, err) = build(&src, &a, &[]);
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b", "src"]);

    // A missing image and one of another architecture: named, nothing written.
    let images = TestImages(&["cdwiz-test/foreign:1", "cdwiz-test/native:1"]);
    images.remove();
    load_foreign("cdwiz-test/foreign:1", "arm64").await;
    load_foreign("cdwiz-test/native:1", "amd64").await;
    let bad = source_manifest(
        &tmp.path().join("bad"),
        &(component("absent", "cdwiz-test/absent:1")
            + &component("foreign", "cdwiz-test/foreign:1")
            + &component("native", "cdwiz-test/native:1")),
    );
    let c = tmp.path().join("c");
    let (code, out, err) = build(&bad, &c, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("nothing was written, 2 problems"), "{err}");
    assert!(
        err.contains("cdwiz-test/absent:1 for amd64: not in the Docker engine"),
        "{err}"
    );
    assert!(
        err.contains("cdwiz-test/absent:1-amd64"),
        "the per-architecture tag: {err}"
    );
    assert!(
        err.contains(
            "cdwiz-test/foreign:1 for amd64: the engine's cdwiz-test/foreign:1 is linux/arm64"
        ),
        "{err}"
    );
    assert!(!c.exists() && !tmp.path().join(".c.partial").exists());
    // For arm64 the foreign image is right and the amd64-only one is not
    // (the sandbox's own images may have an arm64 build on this machine:
    // the multi-architecture sandbox bundle makes one).
    let (code, _, err) = build(&bad, &c, &["--arch", "arm64"]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("foreign:1 for arm64"), "{err}");
    assert!(
        err.contains(
            "cdwiz-test/native:1 for arm64: the engine's cdwiz-test/native:1 is linux/amd64"
        ),
        "{err}"
    );
    assert!(!c.exists());
    // An architecture cdwiz does not install, and a folder that is not a bundle.
    let (code, _, err) = build(&src, &c, &["--arch", "s390x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`s390x`"), "{err}");
    let (code, _, err) = build(&src, &tmp.path().join("src"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is the folder of the manifest built from"),
        "{err}"
    );
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let (code, _, err) = build(&src, &other, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists and is not a bundle"), "{err}");
    assert!(
        src.is_file() && other.join("notes.txt").is_file(),
        "both folders are left alone"
    );
}

/// The binaries of the system's OpenSSH client, and nothing else, in a
/// folder to be the whole `PATH`.
fn ssh_only_path(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["ssh", "ssh-keygen"] {
        let real = cdwiz::paths::on_path(name).expect("the OpenSSH client");
        std::os::unix::fs::symlink(real, bin.join(name)).unwrap();
    }
    bin
}

#[tokio::test(flavor = "multi_thread")]
async fn the_packed_installer_deploys_from_an_empty_folder() {
    let _ = sandbox_bundle().await;
    let inst = instance("t-packed", 228, 1).await;
    let sb = &inst.sandbox;
    let tmp = tempfile::tempdir().unwrap();
    let src = source_manifest(&tmp.path().join("src"), "");
    let bundle = tmp.path().join("bundle");
    let (code, _, err) = build(&src, &bundle, &[]);
    assert_eq!(code, 0, "{err}");
    // A damaged bundle is not packed.
    let damaged = tmp.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::copy(bundle.join("manifest.yaml"), damaged.join("manifest.yaml")).unwrap();
    let (code, _, err) = cdwiz(&[
        "bundle",
        "pack",
        damaged.to_str().unwrap(),
        "-o",
        tmp.path().join("x.tar.gz").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the archive is missing"), "{err}");
    assert!(!tmp.path().join("x.tar.gz").exists());

    let file = tmp.path().join("cd-sandbox-0.1.0-linux-amd64.tar.gz");
    let (code, out, err) = cdwiz(&[
        "bundle",
        "pack",
        bundle.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("glibc 2."), "{out}");

    // Unpacked into an empty folder, on this side of the sandbox network.
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let (code, _, err) = run_to_end(
        Command::new("tar")
            .arg("-xzf")
            .arg(&file)
            .arg("-C")
            .arg(&site),
    );
    assert_eq!(code, 0, "{err}");
    let top = site.join("cd-sandbox-0.1.0-linux-amd64");
    let readme = std::fs::read_to_string(top.join("README.md")).unwrap();
    for want in [
        "./cdwiz",
        "OpenSSH",
        "glibc 2.",
        "两条命令",
        "openssh-clients",
    ] {
        assert!(readme.contains(want), "README lacks {want}:\n{readme}");
    }
    let (code, out, err) = run_to_end(
        Command::new(top.join("cdwiz"))
            .args(["bundle", "verify", "."])
            .current_dir(&top),
    );
    assert_eq!(code, 0, "{out}{err}");

    // A profile that names no bundle: the one beside cdwiz.
    let addr = &sb.hosts[0].address;
    let profile = site.join("site.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\ntopology: {{ kind: single }}\n\
             ssh: {{ user: root, auth: password, password-env: SITE_PASSWORD }}\n\
             hosts:\n  - {{ address: {addr}, roles: [master, worker] }}\n"
        ),
    )
    .unwrap();
    let path = ssh_only_path(tmp.path());
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let run = |extra: &[&str], path: &Path| {
        run_to_end(
            Command::new(top.join("cdwiz"))
                .args(["--profile", profile.to_str().unwrap(), "--non-interactive"])
                // The site's own variable, outside CDWIZ_*: consented here.
                .args(["--allow-env", "SITE_PASSWORD"])
                .args(extra)
                .current_dir(&site)
                .env_clear()
                .env("PATH", path)
                .env("HOME", &home)
                .env("SITE_PASSWORD", sb.password().unwrap()),
        )
    };
    // Without the OpenSSH client it says so before anything else.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = run(&[], &empty);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("OpenSSH client (`ssh`)"), "{err}");

    let (code, out, err) = run(&[], &path);
    assert_eq!(code, 0, "{out}\n{err}");
    let (status, body) = http_get(addr, 80, "/api/health")
        .await
        .expect("the entry answers");
    assert_eq!(status, 200, "{body}");
    let manifest = std::fs::read_to_string(top.join("manifest.yaml")).unwrap();
    assert!(manifest.contains("cd-sandbox-0.1.0-amd64.tar"));
    let loaded = sh_ok(
        sb,
        0,
        "docker image inspect -f '{{.Architecture}}' cd-sandbox/web:0.1.0",
    )
    .await;
    assert_eq!(loaded, "amd64");
}
