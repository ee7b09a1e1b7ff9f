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
