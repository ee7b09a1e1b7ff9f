//! The one round trip per host: a shell script that gathers every fact the
//! checks need as `key=value` lines, as root. Values interpolated into it are
//! quoted; the disk probe is bounded to about a second.

use std::collections::HashMap;

use crate::ssh::quote;

/// What the probe is asked to look at on one host.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub data_dir: String,
    pub data_disk: Option<String>,
    pub ports: Vec<u16>,
    pub interface: Option<String>,
    pub vip: Option<String>,
    /// Other hosts to measure reachability and round-trip time to.
    pub peers: Vec<String>,
    pub peer_port: u16,
}

/// The probe script for one host.
pub fn script(spec: &ProbeSpec) -> String {
    let mut s = String::from(include_str!("../../assets/checks/probe.sh"));
    s.insert_str(0, crate::disk::STATE_SCRIPT);
    s.insert_str(
        0,
        &format!(
            "DATA_DIR={}\nDATA_DISK={}\nPORTS={}\nIFACE={}\nVIP={}\nPEERS={}\nPEER_PORT={}\n",
            quote(&spec.data_dir),
            quote(spec.data_disk.as_deref().unwrap_or("")),
            quote(
                &spec
                    .ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            quote(spec.interface.as_deref().unwrap_or("")),
            quote(spec.vip.as_deref().unwrap_or("")),
            quote(&spec.peers.join(" ")),
            spec.peer_port,
        ),
    );
    s
}

/// Parses `key=value` lines (the last of a repeated key wins).
pub fn parse(output: &str) -> HashMap<String, String> {
    output
        .lines()
        .filter_map(|l| l.split_once('='))
        // Values are the host's words: no control sequence reaches a screen
        // or a report through them.
        .map(|(k, v)| (k.trim().to_string(), crate::text::line(v.trim())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe under each shell a host may have as `/bin/sh`: the
    /// values it reports from /proc are the ones this machine has.
    #[test]
    fn the_values_read_from_proc_are_whole_under_dash_and_bash() {
        let data = tempfile::tempdir().unwrap();
        let spec = ProbeSpec {
            data_dir: data.path().display().to_string(),
            data_disk: None,
            ports: vec![],
            interface: None,
            vip: None,
            peers: vec![],
            peer_port: 80,
        };
        let proc = |p: &str| std::fs::read_to_string(p).unwrap().trim().to_string();
        for shell in ["dash", "bash"] {
            use std::io::Write;
            let mut child = std::process::Command::new(shell)
                .arg("-s")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{shell}: {e}"));
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script(&spec).as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let facts = parse(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(
                facts.get("sysctl.vm.max_map_count").map(String::as_str),
                Some(proc("/proc/sys/vm/max_map_count").as_str()),
                "{shell}"
            );
            assert_eq!(
                facts["kernel"],
                proc("/proc/sys/kernel/osrelease"),
                "{shell}"
            );
            assert_eq!(
                facts["hostname"],
                proc("/proc/sys/kernel/hostname"),
                "{shell}"
            );
        }
    }
}
