//! The release files of the systems customers run, as those systems ship
//! them (`tests/data/os-release/`, each folder's source in its SOURCES.md).

use super::*;

/// A system's release files from its folder in `tests/data/os-release/`
/// (each file the system has; the others stay empty).
pub(crate) fn release(dir: &str) -> ReleaseFiles {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/os-release")
        .join(dir);
    let read = |name: &str| std::fs::read_to_string(base.join(name)).unwrap_or_default();
    let files = ReleaseFiles {
        os_release: read("os-release"),
        kylin_release: read("kylin-release"),
        productinfo: read(".productinfo"),
        openeuler_release: read("openEuler-release"),
    };
    assert!(!files.os_release.is_empty(), "no os-release in {dir}");
    files
}

/// Every system: (folder, ID, VERSION_ID, the name shown, family).
pub(crate) fn systems() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Family,
)> {
    use Family::*;
    vec![
        (
            "kylin-v10-sp1",
            "kylin",
            "V10",
            "Kylin Linux Advanced Server V10 (Tercel) SP1",
            Dnf,
        ),
        (
            "kylin-v10-sp2",
            "kylin",
            "V10",
            "Kylin Linux Advanced Server V10 (Sword) SP2",
            Dnf,
        ),
        (
            "kylin-v10-sp3",
            "kylin",
            "V10",
            "Kylin Linux Advanced Server V10 (Lance) SP3",
            Dnf,
        ),
        (
            "kylin-v10-sp3-2403",
            "kylin",
            "V10",
            "Kylin Linux Advanced Server V10 (Halberd) SP3 2403",
            Dnf,
        ),
        (
            "uos-20-server-e",
            "uos",
            "20",
            "UnionTech OS Server 20 (uel20)",
            Dnf,
        ),
        (
            "uos-20-server-a",
            "uos",
            "20",
            "UnionTech OS Server 20 (uelc20)",
            Dnf,
        ),
        (
            "uos-20-server-d",
            "uos",
            "20",
            "UnionTech OS Server 20",
            Apt,
        ),
        (
            "openeuler-20.03-lts",
            "openeuler",
            "20.03",
            "openEuler 20.03 (LTS)",
            Dnf,
        ),
        (
            "openeuler-22.03-lts-sp1",
            "openeuler",
            "22.03",
            "openEuler 22.03 (LTS-SP1)",
            Dnf,
        ),
        (
            "openeuler-22.03-lts-sp3",
            "openeuler",
            "22.03",
            "openEuler 22.03 (LTS-SP3)",
            Dnf,
        ),
        (
            "openeuler-24.03-lts",
            "openeuler",
            "24.03",
            "openEuler 24.03 (LTS)",
            Dnf,
        ),
        (
            "openeuler-24.03-lts-sp1",
            "openeuler",
            "24.03",
            "openEuler 24.03 (LTS-SP1)",
            Dnf,
        ),
        ("centos-7", "centos", "7", "CentOS Linux 7 (Core)", Yum),
        (
            "rocky-8",
            "rocky",
            "8.4",
            "Rocky Linux 8.4 (Green Obsidian)",
            Dnf,
        ),
        (
            "rocky-9",
            "rocky",
            "9.3",
            "Rocky Linux 9.3 (Blue Onyx)",
            Dnf,
        ),
        (
            "almalinux-8",
            "almalinux",
            "8.10",
            "AlmaLinux 8.10 (Cerulean Leopard)",
            Dnf,
        ),
        (
            "almalinux-9",
            "almalinux",
            "9.5",
            "AlmaLinux 9.5 (Teal Serval)",
            Dnf,
        ),
        ("ubuntu-20.04", "ubuntu", "20.04", "Ubuntu 20.04.6 LTS", Apt),
        ("ubuntu-22.04", "ubuntu", "22.04", "Ubuntu 22.04.3 LTS", Apt),
        ("ubuntu-24.04", "ubuntu", "24.04", "Ubuntu 24.04.3 LTS", Apt),
        (
            "debian-11",
            "debian",
            "11",
            "Debian GNU/Linux 11 (bullseye)",
            Apt,
        ),
        (
            "debian-12",
            "debian",
            "12",
            "Debian GNU/Linux 12 (bookworm)",
            Apt,
        ),
    ]
}

#[test]
fn every_system_is_recognised_with_its_family() {
    for (dir, id, version, name, family) in systems() {
        let d = identify(&release(dir));
        assert_eq!(d.id, id, "{dir}");
        assert_eq!(d.version_id, version, "{dir}");
        assert_eq!(d.name, name, "{dir}");
        assert_eq!(d.family, family, "{dir}");
    }
}

#[test]
fn openeuler_without_os_release_is_known_by_its_own_file() {
    let files = ReleaseFiles {
        openeuler_release: include_str!(
            "../../../tests/data/os-release/openeuler-22.03-lts-sp3/openEuler-release"
        )
        .to_string(),
        ..Default::default()
    };
    let d = identify(&files);
    assert_eq!(
        (d.id.as_str(), d.version_id.as_str()),
        ("openeuler", "22.03")
    );
    assert_eq!(d.name, "openEuler 22.03 (LTS-SP3)");
    assert_eq!(d.family, Family::Dnf);
}

#[test]
fn os_release_quoting_follows_the_format() {
    let os = parse_os_release(
        "# a comment\nA=bare\nB=\"double \\\"quoted\\\" \\$x\"\nC='single'\n=novalue\nnot a line\nD=\n",
    );
    assert_eq!(os["A"], "bare");
    assert_eq!(os["B"], "double \"quoted\" $x");
    assert_eq!(os["C"], "single");
    assert_eq!(os["D"], "");
    assert_eq!(os.len(), 4);
}

#[test]
fn the_files_travel_as_probe_lines() {
    let text = include_str!("../../../tests/data/os-release/kylin-v10-sp3/os-release");
    let mut facts = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        // Out of order on purpose: lines 10 and up sort after 9.
        facts.insert(format!("osfile.os-release.{}", i + 1), line.to_string());
    }
    facts.insert("osfile.os-release.12".into(), "X=late".into());
    let files = ReleaseFiles::from_facts(&facts);
    assert!(
        files
            .os_release
            .starts_with("NAME=\"Kylin Linux Advanced Server\"")
    );
    assert!(files.os_release.ends_with("X=late"));
    assert!(files.productinfo.is_empty());
}

#[test]
fn what_is_on_the_host_beats_the_files() {
    assert_eq!(Family::observed("dnf yum"), Some(Family::Dnf));
    assert_eq!(Family::observed("yum"), Some(Family::Yum));
    assert_eq!(Family::observed("apt-get"), Some(Family::Apt));
    assert_eq!(Family::observed(""), None);
}
