//! Why a host could not be reached or logged in to, told from what ssh
//! said, so that checks and deploy can say which step failed and what to do.

use crate::profile::SshAuth;

/// Why a host could not be reached or logged in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing answered on the SSH port within the timeout.
    Unreachable(String),
    /// The host refused the login (wrong password, key not accepted).
    AuthRejected(String),
    /// The host's key differs from the one remembered.
    HostKeyChanged(String),
    /// Logged in, but no root: sudo refused or asked for a password we lack.
    NoRoot(String),
    /// The bastion refused the login or could not be reached (the host
    /// behind it was never asked).
    Bastion(String),
    Other(String),
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectFailure::Unreachable(d)
            | ConnectFailure::AuthRejected(d)
            | ConnectFailure::HostKeyChanged(d)
            | ConnectFailure::NoRoot(d)
            | ConnectFailure::Bastion(d)
            | ConnectFailure::Other(d) => f.write_str(d),
        }
    }
}

/// How a login was tried, for messages.
pub(super) fn method(auth: SshAuth, password: &str) -> String {
    match auth {
        SshAuth::Key => "its key file".into(),
        SshAuth::Password => format!("cdwiz's key, installed with {password}"),
        SshAuth::Agent => "the agent's keys".into(),
    }
}

/// An error and its causes on one line (openssh puts ssh's own words last).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub(super) fn classify(address: &str, text: &str) -> ConnectFailure {
    let line = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect::<Vec<_>>()
        .join(" ");
    let detail = format!("{address}: {}", line.trim());
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("Host key verification failed")
    {
        // ssh's banner is long; keep the facts: the new fingerprint and
        // where the old key is remembered.
        let after = |marker: &str| {
            text.split_once(marker)
                .map(|(_, rest)| {
                    rest.split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_end_matches('.')
                })
                .filter(|s| !s.is_empty())
        };
        match (after("sent by the remote host is"), after("Offending ")) {
            (Some(fp), _) => {
                let old = text
                    .split_once("Offending ")
                    .and_then(|(_, r)| r.split_once(" key in "))
                    .and_then(|(_, r)| r.split_whitespace().next())
                    .unwrap_or("the known hosts file");
                ConnectFailure::HostKeyChanged(format!(
                    "{address}: it now presents {fp}; the key remembered in {old} differs"
                ))
            }
            _ => ConnectFailure::HostKeyChanged(detail),
        }
    } else if text.contains("Permission denied")
        || text.contains("Too many authentication failures")
    {
        ConnectFailure::AuthRejected(detail)
    } else if text.contains("Connection timed out")
        || text.contains("No route to host")
        || text.contains("Connection refused")
    {
        ConnectFailure::Unreachable(detail)
    } else {
        ConnectFailure::Other(detail)
    }
}
