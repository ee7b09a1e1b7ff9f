use super::*;

fn ctx() -> HostContext {
    HostContext {
        address: "192.0.2.11".into(),
        roles: vec![Role::Master],
        topology: TopologyKind::HaKeepalived,
        data_dir: "/data".into(),
        data_disk: Some("/dev/vdb".into()),
        format_data_disk: true,
        ports: vec![80, 8080],
        placed_ports: vec![80, 8080],
        interface: Some("eth0".into()),
        vip: Some("192.0.2.100".into()),
        architectures: vec!["amd64".into()],
        declared_arch: None,
        requirements: Requirements {
            master: RoleRequirements {
                cpus: 4,
                memory_gib: 8,
                data_gib: 50,
            },
            sysctl: [("vm.max_map_count".to_string(), 262144)].into(),
            ..Default::default()
        },
        sent_at: 1000.0,
        received_at: 1000.5,
        install_id: "abc".into(),
        vip_installed: false,
    }
}

fn healthy() -> HashMap<String, String> {
    [
        ("time.epoch", "1000.3"),
        ("hostname", "node1"),
        ("pkg.managers", "dnf yum "),
        ("kernel", "5.10.0-136.12.0.86.oe2203sp1.x86_64"),
        ("arch", "x86_64"),
        ("cpus", "8"),
        ("mem.kb", "16303428"),
        ("swap.kb", "0"),
        ("sysctl.vm.max_map_count", "262144"),
        ("nofile", "1048576"),
        ("data.dir.base", "/"),
        ("data.dir.avail.kb", "104857600"),
        ("disk.present", "yes"),
        ("disk.bytes", "107374182400"),
        ("disk.state", "blank"),
        ("disk.fstype", ""),
        ("disk.mountpoint", ""),
        ("disk.write.mb_s", "300"),
        ("disk.fsync.ms", "1.20"),
        ("ports.listening", "22 111"),
        ("docker.client", "20.10.24"),
        ("docker.server", "20.10.24"),
        ("docker.storage", "overlay2"),
        ("selinux", "disabled"),
        ("firewall", ""),
        ("time.sync", "chronyd"),
        ("iface.exists", "yes"),
        ("iface.addrs", "192.0.2.11/24"),
        ("vip.answers", "no"),
        ("peer.192.0.2.12.tcp", "yes"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain(release_lines(&crate::checks::distro::ReleaseFiles {
        os_release: include_str!(
            "../../../tests/data/os-release/openeuler-22.03-lts-sp1/os-release"
        )
        .into(),
        ..Default::default()
    }))
    .collect()
}

/// A host's release files as the probe sends them (`osfile.<name>.<n>`).
fn release_lines(files: &crate::checks::distro::ReleaseFiles) -> Vec<(String, String)> {
    let names = crate::checks::distro::FILE_NAMES;
    let texts = [
        &files.os_release,
        &files.kylin_release,
        &files.productinfo,
        &files.openeuler_release,
    ];
    names
        .iter()
        .zip(texts)
        .flat_map(|(name, text)| {
            text.lines()
                .enumerate()
                .map(move |(i, l)| (format!("osfile.{name}.{}", i + 1), l.to_string()))
        })
        .collect()
}

fn status(results: &[CheckResult], id: &str) -> Status {
    results
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.status)
        .unwrap()
}

#[test]
fn a_healthy_host_passes_everything() {
    let results = evaluate_host(&ctx(), &healthy());
    let bad: Vec<_> = results
        .iter()
        .filter(|r| r.status != Status::Pass)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn each_fault_is_caught_by_its_check_with_a_fix() {
    let cases: &[(&str, &str, &str, Status)] = &[
        ("cpus", "2", "res.cpu", Status::Fail),
        ("mem.kb", "4000000", "res.memory", Status::Fail),
        ("arch", "aarch64", "os.arch", Status::Fail),
        ("kernel", "3.2.0", "os.kernel", Status::Fail),
        (
            "osfile.os-release.3",
            "ID=gentoo",
            "os.distribution",
            Status::Warn,
        ),
        ("ports.listening", "22 8080", "net.ports", Status::Fail),
        ("docker.server", "", "runtime.docker", Status::Fail),
        ("docker.client", "", "runtime.docker", Status::Fail),
        ("docker.server", "19.03.1", "runtime.docker", Status::Fail),
        ("selinux", "enforcing", "sys.selinux", Status::Warn),
        ("firewall", "firewalld ", "sys.firewall", Status::Warn),
        ("swap.kb", "2097148", "sys.swap", Status::Warn),
        (
            "sysctl.vm.max_map_count",
            "65530",
            "sys.max-map-count",
            Status::Warn,
        ),
        ("nofile", "1024", "sys.nofile", Status::Warn),
        ("time.epoch", "1100", "time.skew", Status::Fail),
        ("time.epoch", "1005", "time.skew", Status::Warn),
        ("vip.answers", "yes", "net.vip-free", Status::Fail),
        (
            "iface.addrs",
            "198.51.100.7/24",
            "net.vip-subnet",
            Status::Fail,
        ),
        ("iface.exists", "no", "net.interface", Status::Fail),
        ("disk.present", "no", "res.data-disk", Status::Fail),
        ("disk.state", "fs", "res.data-disk", Status::Fail),
        ("disk.state", "busy", "res.data-disk", Status::Fail),
        ("disk.state", "unknown", "res.data-disk", Status::Fail),
        ("disk.state", "", "res.data-disk", Status::Fail),
        ("disk.write.mb_s", "5", "res.disk-write", Status::Fail),
        ("disk.write.mb_s", "", "res.disk-write", Status::Fail),
        ("disk.fsync.ms", "40", "res.disk-fsync", Status::Warn),
        (
            "prior.install",
            "{\"run\":\"x\"}",
            "prior.install",
            Status::Warn,
        ),
    ];
    for (key, value, id, want) in cases {
        let mut f = healthy();
        f.insert(key.to_string(), value.to_string());
        let results = evaluate_host(&ctx(), &f);
        assert_eq!(status(&results, id), *want, "{key}={value} -> {id}");
    }
    let mut f = healthy();
    f.insert("ports.listening".into(), "8080".into());
    let r = evaluate_host(&ctx(), &f);
    let ports = r.iter().find(|r| r.id == "net.ports").unwrap();
    assert_eq!(ports.fix.as_deref(), Some("ss -ltnp '( sport = :8080 )'"));
}

#[test]
fn a_slow_round_trip_is_not_a_skewed_clock() {
    // The probe took 4 s to come back; the host read its clock 3 s in.
    let mut slow = ctx();
    slow.received_at = 1004.0;
    let mut f = healthy();
    f.insert("time.epoch".into(), "1003".into());
    assert_eq!(status(&evaluate_host(&slow, &f), "time.skew"), Status::Pass);
    // Outside the window it still counts: 3 s after the answer came back.
    f.insert("time.epoch".into(), "1007".into());
    assert_eq!(status(&evaluate_host(&slow, &f), "time.skew"), Status::Warn);
}

#[test]
fn a_rerun_of_the_same_install_owns_its_ports() {
    let mut f = healthy();
    f.insert("ports.listening".into(), "22 80 8080".into());
    f.insert(
        "prior.install".into(),
        r#"{"install":"abc","ports":[80,8080]}"#.into(),
    );
    let r = evaluate_host(&ctx(), &f);
    assert_eq!(status(&r, "net.ports"), Status::Pass);
    assert_eq!(status(&r, "prior.install"), Status::Pass);
    f.insert(
        "prior.install".into(),
        r#"{"install":"other","ports":[80,8080]}"#.into(),
    );
    let r = evaluate_host(&ctx(), &f);
    assert_eq!(status(&r, "net.ports"), Status::Fail);
    assert_eq!(status(&r, "prior.install"), Status::Warn);
}

#[test]
fn a_port_of_a_component_that_runs_elsewhere_is_taken_even_on_a_rerun() {
    // The database runs on another host: a program on 5432 here is not the
    // installation's.
    let mut f = healthy();
    f.insert("ports.listening".into(), "22 80 5432 8080".into());
    f.insert(
        "prior.install".into(),
        r#"{"install":"abc","ports":[80,5432,8080]}"#.into(),
    );
    let mut c = ctx();
    c.ports = vec![80, 5432, 8080];
    let r = evaluate_host(&c, &f);
    let ports = r.iter().find(|x| x.id == "net.ports").unwrap();
    assert_eq!(ports.status, Status::Fail, "{ports:?}");
    assert!(ports.detail.render("en").contains("5432"), "{ports:?}");
    // Where the database runs, 5432 is its own.
    let mut here = c.clone();
    here.placed_ports.push(5432);
    assert_eq!(status(&evaluate_host(&here, &f), "net.ports"), Status::Pass);
}

#[test]
fn a_tiny_data_dir_fails_when_no_disk_will_hold_the_data() {
    let mut c = ctx();
    c.format_data_disk = false;
    c.data_disk = None;
    let mut f = healthy();
    f.insert("data.dir.avail.kb".into(), "0".into());
    assert_eq!(
        status(&evaluate_host(&c, &f), "res.data-space"),
        Status::Fail
    );
}

#[test]
fn subnets_and_versions() {
    assert!(in_subnet("10.77.0.100", "10.77.0.11/24"));
    assert!(!in_subnet("10.77.1.100", "10.77.0.11/24"));
    assert!(version_at_least("20.10.24+dfsg1", "20.10"));
    assert!(!version_at_least("19.03.15", "20.10"));
    assert!(version_at_least("5.10.0-136.oe2203.x86_64", "4.0"));
}

/// On every system customers run (their real release files), the system is
/// supported and its fix commands are the ones of its family: chrony
/// installed by yum, dnf or apt-get and started as `chronyd` or `chrony`.
#[test]
fn each_family_gets_its_own_fix_commands() {
    use crate::checks::distro::Family;
    use crate::checks::distro::tests::{release, systems};
    for (dir, _, _, name, family) in systems() {
        let mut f: HashMap<String, String> = healthy()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("osfile.") && k != "pkg.managers")
            .chain(release_lines(&release(dir)))
            .collect();
        f.insert("time.sync".into(), String::new());
        let r = evaluate_host(&ctx(), &f);
        let os = r.iter().find(|r| r.id == "os.distribution").unwrap();
        assert_eq!(os.status, Status::Pass, "{dir}");
        assert_eq!(
            os.detail.args.get("os").map(String::as_str),
            Some(name),
            "{dir}"
        );
        let fix = r.iter().find(|r| r.id == "time.sync").unwrap().fix.clone();
        let want = match family {
            Family::Yum => "yum install -y chrony && systemctl enable --now chronyd",
            Family::Dnf => "dnf install -y chrony && systemctl enable --now chronyd",
            Family::Apt => "apt-get install -y chrony && systemctl enable --now chrony",
            Family::Unknown => unreachable!("{dir}"),
        };
        assert_eq!(fix.as_deref(), Some(want), "{dir}");
    }
    // What the host has on PATH wins over what its files suggest.
    let mut f = healthy();
    f.insert("pkg.managers".into(), "apt-get ".into());
    f.insert("time.sync".into(), String::new());
    let r = evaluate_host(&ctx(), &f);
    let fix = r.iter().find(|r| r.id == "time.sync").unwrap().fix.clone();
    assert_eq!(
        fix.as_deref(),
        Some("apt-get install -y chrony && systemctl enable --now chrony")
    );
    // An unknown system gets the hint and no command that might not exist.
    let mut f: HashMap<String, String> = healthy()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("osfile.") && k != "pkg.managers")
        .collect();
    f.insert("osfile.os-release.1".into(), "ID=gentoo".into());
    f.insert("time.sync".into(), String::new());
    let r = evaluate_host(&ctx(), &f);
    assert_eq!(r.iter().find(|r| r.id == "time.sync").unwrap().fix, None);
}

/// The firewall fix opens the platform's ports (and VRRP for keepalived's
/// masters) in the firewall that runs instead of stopping it.
#[test]
fn the_firewall_fix_opens_the_ports_of_the_firewall_that_runs() {
    let fix = |fw: &str, topology: TopologyKind| {
        let mut c = ctx();
        c.topology = topology;
        let mut f = healthy();
        f.insert("firewall".into(), fw.into());
        let r = evaluate_host(&c, &f);
        r.iter()
            .find(|r| r.id == "sys.firewall")
            .unwrap()
            .fix
            .clone()
            .unwrap()
    };
    assert_eq!(
        fix("firewalld ", TopologyKind::HaKeepalived),
        "firewall-cmd --permanent --add-port=80/tcp --add-port=8080/tcp --add-protocol=vrrp && firewall-cmd --reload"
    );
    assert_eq!(
        fix("firewalld ", TopologyKind::Single),
        "firewall-cmd --permanent --add-port=80/tcp --add-port=8080/tcp && firewall-cmd --reload"
    );
    assert_eq!(
        fix("ufw ", TopologyKind::Single),
        "ufw allow 80/tcp && ufw allow 8080/tcp"
    );
}

/// A host that is not the architecture the profile gives it fails
/// `os.arch` saying both, even when the bundle carries its own.
#[test]
fn a_host_of_another_architecture_than_the_profile_says_fails() {
    let mut c = ctx();
    c.architectures = vec!["amd64".into(), "arm64".into()];
    c.declared_arch = Some("arm64".into());
    let r = evaluate_host(&c, &healthy());
    let arch = r.iter().find(|r| r.id == "os.arch").unwrap();
    assert_eq!(arch.status, Status::Fail);
    assert_eq!(arch.detail.key, "check.os.arch.declared");
    assert_eq!(arch.detail.args["declared"], "arm64");
    assert_eq!(arch.detail.args["arch"], "amd64");
    c.declared_arch = Some("amd64".into());
    assert_eq!(
        status(&evaluate_host(&c, &healthy()), "os.arch"),
        Status::Pass
    );
}
