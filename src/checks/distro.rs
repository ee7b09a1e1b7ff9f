//! Which operating system a host runs, read from its release files as the
//! system ships them (`/etc/os-release`, Kylin's `/etc/kylin-release` and
//! `/etc/.productinfo`, `/etc/openEuler-release`), and its family: the
//! package manager and service names that decide which fix command works
//! there. Pure: the probe sends the files' lines, this reads them.

use std::collections::{BTreeMap, HashMap};

/// The release files of one host, as text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReleaseFiles {
    pub os_release: String,
    pub kylin_release: String,
    pub productinfo: String,
    pub openeuler_release: String,
}

/// The fact-key names the probe gives each file (`osfile.<name>.<line>`).
pub const FILE_NAMES: [&str; 4] = [
    "os-release",
    "kylin-release",
    "productinfo",
    "openEuler-release",
];

impl ReleaseFiles {
    /// The files from the probe's facts: `osfile.<name>.<n>=<line n>`.
    pub fn from_facts(facts: &HashMap<String, String>) -> ReleaseFiles {
        let text = |name: &str| {
            let prefix = format!("osfile.{name}.");
            let lines: BTreeMap<u32, &str> = facts
                .iter()
                .filter_map(|(k, v)| {
                    let n = k.strip_prefix(&prefix)?.parse().ok()?;
                    Some((n, v.as_str()))
                })
                .collect();
            lines.into_values().collect::<Vec<_>>().join("\n")
        };
        ReleaseFiles {
            os_release: text(FILE_NAMES[0]),
            kylin_release: text(FILE_NAMES[1]),
            productinfo: text(FILE_NAMES[2]),
            openeuler_release: text(FILE_NAMES[3]),
        }
    }
}

/// How software is installed and services are named on a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// CentOS/RHEL 7: yum, firewalld, chronyd.
    Yum,
    /// RHEL 8+ and its rebuilds, openEuler, Kylin V10 server, UOS server
    /// (e and a editions): dnf, firewalld, chronyd.
    Dnf,
    /// Debian, Ubuntu, UOS's Debian-based edition: apt-get, ufw, chrony.
    Apt,
    /// Nothing known: no fix command is offered.
    Unknown,
}

impl Family {
    /// The command that installs `packages`.
    pub fn install(self, packages: &str) -> Option<String> {
        match self {
            Family::Yum => Some(format!("yum install -y {packages}")),
            Family::Dnf => Some(format!("dnf install -y {packages}")),
            Family::Apt => Some(format!("apt-get install -y {packages}")),
            Family::Unknown => None,
        }
    }

    /// The systemd unit chrony runs as.
    pub fn chrony_unit(self) -> Option<&'static str> {
        match self {
            Family::Yum | Family::Dnf => Some("chronyd"),
            Family::Apt => Some("chrony"),
            Family::Unknown => None,
        }
    }

    /// The family a host's package managers make (`dnf yum`, as the probe
    /// saw them on `PATH`): what is there beats what the files suggest.
    pub fn observed(managers: &str) -> Option<Family> {
        let has = |m: &str| managers.split_whitespace().any(|x| x == m);
        if has("dnf") {
            Some(Family::Dnf)
        } else if has("yum") {
            Some(Family::Yum)
        } else if has("apt-get") {
            Some(Family::Apt)
        } else {
            None
        }
    }

    /// The word the reports show.
    pub fn word(self) -> &'static str {
        match self {
            Family::Yum => "yum",
            Family::Dnf => "dnf",
            Family::Apt => "apt",
            Family::Unknown => "unknown",
        }
    }
}

/// What a host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    /// `ID`, lower-cased (`kylin`, `uos`, `openeuler`).
    pub id: String,
    /// `VERSION_ID` (`V10`, `22.03`, `9.5`).
    pub version_id: String,
    /// The name to show: `PRETTY_NAME`, with the service pack or edition
    /// when the system says it only in its own files.
    pub name: String,
    pub family: Family,
}

/// Reads an os-release file (freedesktop's format: `KEY=value`, the value
/// bare or in single or double quotes, `\` escaping in double quotes;
/// comments and other lines ignored).
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        out.insert(key.to_string(), unquote(raw.trim()));
    }
    out
}

fn unquote(raw: &str) -> String {
    let mut chars = raw.chars();
    match chars.next() {
        Some('\'') => raw[1..].split('\'').next().unwrap_or("").to_string(),
        Some('"') => {
            let mut s = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                    }
                    c => s.push(c),
                }
            }
            s
        }
        _ => raw.to_string(),
    }
}

/// Which system the files describe.
pub fn identify(files: &ReleaseFiles) -> Distro {
    let os = parse_os_release(&files.os_release);
    let get = |k: &str| os.get(k).cloned().unwrap_or_default();
    let mut id = get("ID").to_ascii_lowercase();
    let mut version_id = get("VERSION_ID");
    let mut name = get("PRETTY_NAME");
    if name.is_empty() {
        name = [get("NAME"), get("VERSION")].join(" ").trim().to_string();
    }
    // openEuler without an os-release still has its own file:
    // `openEuler release 22.03 (LTS-SP1)`.
    if id.is_empty()
        && let Some(rest) = files
            .openeuler_release
            .trim()
            .strip_prefix("openEuler release ")
    {
        id = "openeuler".into();
        version_id = rest.split_whitespace().next().unwrap_or("").to_string();
        name = format!("openEuler {rest}");
    }
    let like: Vec<String> = get("ID_LIKE")
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let like_any = |names: &[&str]| like.iter().any(|l| names.contains(&l.as_str()));
    let major: u32 = version_id
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let platform = get("PLATFORM_ID");

    let family = match id.as_str() {
        "centos" | "rhel" | "ol" | "scientific" if major <= 7 => Family::Yum,
        "centos" | "rhel" | "ol" | "rocky" | "almalinux" | "fedora" | "openeuler" | "anolis"
        | "tencentos" | "opencloudos" => Family::Dnf,
        // Kylin's server line (V10) is RPM-based; its desktop line says
        // `ID_LIKE=debian`.
        "kylin" if like_any(&["debian", "ubuntu"]) => Family::Apt,
        "kylin" => Family::Dnf,
        // UOS server: the e edition is built on openEuler (`uel20`), the a
        // edition on CentOS 8 (`uelc20`); the d edition (no PLATFORM_ID) on
        // Debian.
        "uos" if platform.starts_with("platform:uel") => Family::Dnf,
        "uos" => Family::Apt,
        "debian" | "ubuntu" | "deepin" => Family::Apt,
        _ if like_any(&["rhel", "centos", "fedora"]) => {
            if major > 0 && major <= 7 {
                Family::Yum
            } else {
                Family::Dnf
            }
        }
        _ if like_any(&["debian", "ubuntu"]) => Family::Apt,
        _ => Family::Unknown,
    };

    match id.as_str() {
        "kylin" => {
            if let Some(sp) = kylin_service_pack(&files.productinfo)
                && !name.contains(&sp)
            {
                name = format!("{name} {sp}");
            }
        }
        "uos" => {
            if let Some(p) = platform.strip_prefix("platform:") {
                name = format!("{name} ({p})");
            }
        }
        _ => {}
    }
    Distro {
        id,
        version_id,
        name,
        family,
    }
}

/// Kylin's service pack from `/etc/.productinfo`'s second line:
/// `release V10 (SP2) /(Sword)-x86_64-Build09/20210524` → `SP2`,
/// `release V10 SP3 2403/(Halberd)-x86_64-…` → `SP3 2403`.
fn kylin_service_pack(productinfo: &str) -> Option<String> {
    let line = productinfo.lines().find(|l| l.contains("release"))?;
    let rest = line.split_once("V10")?.1;
    let rest = rest.split('/').next().unwrap_or("");
    let words: Vec<&str> = rest
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    let at = words.iter().position(|w| {
        w.len() > 2 && w.starts_with("SP") && w[2..].chars().all(|c| c.is_ascii_digit())
    })?;
    let mut sp = words[at].to_string();
    if let Some(update) = words.get(at + 1)
        && update.chars().all(|c| c.is_ascii_digit())
    {
        sp = format!("{sp} {update}");
    }
    Some(sp)
}

#[cfg(test)]
pub(crate) mod tests;
