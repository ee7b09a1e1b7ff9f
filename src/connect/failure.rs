//! Why a host could not be reached or logged in to, told from what ssh
//! said, so that checks and deploy can say which step failed and what to do.

use crate::i18n::Msg;
use crate::profile::SshAuth;

/// Why a host could not be reached or logged in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing answered on the SSH port within the timeout.
    Unreachable(Msg),
    /// The host refused the login (wrong password, key not accepted).
    AuthRejected(Msg),
    /// The host's key differs from the one remembered.
    HostKeyChanged(Msg),
    /// Logged in, but no root: sudo refused or asked for a password we lack.
    NoRoot(Msg),
    /// The bastion refused the login or could not be reached (the host
    /// behind it was never asked).
    Bastion(Msg),
    Other(Msg),
}

impl ConnectFailure {
    /// What went wrong, in any language (ssh's own words stay as they are).
    pub fn message(&self) -> &Msg {
        match self {
            ConnectFailure::Unreachable(m)
            | ConnectFailure::AuthRejected(m)
            | ConnectFailure::HostKeyChanged(m)
            | ConnectFailure::NoRoot(m)
            | ConnectFailure::Bastion(m)
            | ConnectFailure::Other(m) => m,
        }
    }
}

/// In English (logs; the checks and the wizard render the message).
impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message().render("en"))
    }
}

/// How a login was tried, for messages.
pub(super) fn method(auth: SshAuth) -> Msg {
    Msg::new(match auth {
        SshAuth::Key => "connect.method.key",
        SshAuth::Password => "connect.method.password",
        SshAuth::Agent => "connect.method.agent",
    })
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
    let detail = Msg::new("connect.said")
        .arg("address", address)
        .arg("text", line.trim());
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
                    .unwrap_or("known_hosts");
                ConnectFailure::HostKeyChanged(
                    Msg::new("connect.hostkey-changed")
                        .arg("address", address)
                        // The login says which key it remembered.
                        .arg("was", "?")
                        .arg("fp", fp)
                        .arg("old", old),
                )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What cdwiz composes reads in the operator's language; ssh's own
    /// words stay as ssh said them.
    #[test]
    fn a_refused_login_reads_in_chinese_with_sshs_own_words() {
        let said = classify(
            "192.0.2.11",
            "root@192.0.2.11: Permission denied (publickey).",
        );
        let ConnectFailure::AuthRejected(said) = said else {
            panic!("not a refusal: {said:?}");
        };
        let m = Msg::new("connect.login-refused")
            .arg_msg("said", said)
            .arg("user", "root")
            .arg("address", "192.0.2.11")
            .arg_msg("how", method(SshAuth::Key));
        let zh = m.render("zh-CN");
        assert!(
            zh.contains("主机拒绝了 root@192.0.2.11 使用其密钥文件登录")
                && zh.contains("Permission denied (publickey)"),
            "{zh}"
        );
        assert!(!zh.contains("the host refused"), "{zh}");
        assert!(
            m.render("en")
                .contains("(the host refused root@192.0.2.11 by its key file)"),
            "{}",
            m.render("en")
        );
    }
}
