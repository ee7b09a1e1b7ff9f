//! `cdwiz bundle verify`: the sandbox product's real bundle passes; a
//! flipped byte, a missing archive and an image the archive does not hold
//! each fail with exit 2, named.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn verify(dir: &Path) -> (i32, String) {
    let (code, out, err) = run_to_end(
        Command::new(cdwiz_bin())
            .args(["bundle", "verify"])
            .arg(dir)
            .env("LANG", "C.UTF-8"),
    );
    (code, out + &err)
}

/// A copy of the bundle to damage.
fn copy(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -r {} {}", from.display(), to.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bundle_is_verified_before_it_ships() {
    let bundle = sandbox_bundle().await;
    let (code, out) = verify(&bundle);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("good (1 archive, 5 images, 5 components)"),
        "{out}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let archive = std::fs::read_dir(bundle.join("images/amd64"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name();
    let rel = Path::new("images/amd64").join(&archive);

    // A flipped byte: its sha256 differs.
    let flipped = tmp.path().join("flipped");
    copy(&bundle, &flipped);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(flipped.join(&rel))
            .unwrap();
        f.seek(SeekFrom::Start(1000)).unwrap();
        f.write_all(&[0xff]).unwrap();
    }
    let (code, out) = verify(&flipped);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("{}: sha256 is", rel.display())),
        "{out}"
    );

    // An image the manifest names that the archive does not hold.
    let absent = tmp.path().join("absent");
    copy(&bundle, &absent);
    let manifest = std::fs::read_to_string(absent.join("manifest.yaml")).unwrap();
    std::fs::write(
        absent.join("manifest.yaml"),
        manifest.replace("cd-sandbox/web:", "cd-sandbox/not-built:"),
    )
    .unwrap();
    let (code, out) = verify(&absent);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("does not hold cd-sandbox/not-built:"), "{out}");

    // The archive removed.
    std::fs::remove_file(absent.join(&rel)).unwrap();
    let (code, out) = verify(&absent);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("{}: the archive is missing", rel.display())),
        "{out}"
    );
}
