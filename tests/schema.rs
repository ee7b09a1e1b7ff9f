//! The JSON Schema that `cdwiz schema` prints, checked with a standard
//! validator (check-jsonschema from PyPI): it accepts every good profile and
//! rejects the bad ones a schema can express.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn validator() -> PathBuf {
    if let Some(p) = std::env::var_os("CDWIZ_CHECK_JSONSCHEMA") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools-venv/bin/check-jsonschema");
    assert!(
        venv.exists(),
        "check-jsonschema not found at {}: run scripts/setup-machine",
        venv.display()
    );
    venv
}

fn check(schema: &Path, profile: &Path) -> (bool, String) {
    let out = Command::new(validator())
        .arg("--schemafile")
        .arg(schema)
        .arg(profile)
        .output()
        .expect("run check-jsonschema");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_schema_accepts_good_profiles_and_rejects_what_it_can_express() {
    let (code, schema_text, err) =
        common::run_to_end(Command::new(common::cdwiz_bin()).arg("schema"));
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("cdwiz-profile.schema.json");
    std::fs::write(&schema, &schema_text).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    let mut good: Vec<PathBuf> = std::fs::read_dir(root.join("tests/profiles/good"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    good.extend(
        std::fs::read_dir(root.join("profiles"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml")),
    );
    for p in &good {
        let (ok, text) = check(&schema, p);
        assert!(ok, "{} should pass the schema:\n{text}", p.display());
    }

    // Bad profiles whose fault is in the schema's reach: unknown and
    // misspelt keys, wrong types, out-of-range numbers, unknown enum values,
    // missing required keys, a secret written inline, not a mapping. (A
    // profile without `bundle` is well-formed: it means the bundle beside
    // cdwiz, which only `cdwiz validate` can look for.)
    for name in [
        "port-wrong-type",
        "port-out-of-range",
        "unknown-key",
        "misspelt-keys",
        "misspelt-kind",
        "unknown-kind",
        "secret-inline",
        "roles",
        "disks-and-dirs",
        "accept-checks",
        "not-a-mapping",
        "many-problems",
        "syntax-error",
    ] {
        let p = root.join(format!("tests/profiles/bad/{name}.yaml"));
        let (ok, text) = check(&schema, &p);
        assert!(!ok, "{name} should fail the schema:\n{text}");
    }
}
