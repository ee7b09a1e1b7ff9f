//! What went wrong with a registry, told apart so the operator reads what
//! to do: not reached, a certificate not trusted, the credentials refused,
//! pushing not allowed, or the registry's own answer.

use oci_client::errors::OciDistributionError;

use crate::i18n::Msg;
use crate::text::root_cause;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// No connection (refused, no route, timed out, a name that resolves to nothing).
    Unreachable(String),
    /// The TLS handshake failed on the certificate.
    Untrusted(String),
    /// 401: the credentials (or their absence) were refused.
    Refused(String),
    /// 403: these credentials may not push.
    Denied(String),
    /// The operator stopped the run.
    Stopped,
    /// Reading the bundle's archive.
    Archive(String),
    /// Anything else the registry answered.
    Other(String),
}

impl RegistryError {
    pub fn from_oci(e: &OciDistributionError) -> RegistryError {
        let text = root_cause(e);
        let status = match e {
            OciDistributionError::ServerError { code, .. } => Some(*code),
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => Some(401),
            OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<String> = envelope
                    .errors
                    .iter()
                    .map(|x| format!("{:?}", x.code).to_ascii_uppercase())
                    .collect();
                if codes.iter().any(|c| c == "UNAUTHORIZED") {
                    Some(401)
                } else if codes.iter().any(|c| c == "DENIED") {
                    Some(403)
                } else {
                    None
                }
            }
            _ => None,
        };
        let lower = text.to_ascii_lowercase();
        match status {
            Some(401) => RegistryError::Refused(text),
            Some(403) => RegistryError::Denied(text),
            _ if lower.contains("certificate") || lower.contains("unknownissuer") => {
                RegistryError::Untrusted(text)
            }
            _ => match e {
                OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
                    RegistryError::Unreachable(text)
                }
                _ => RegistryError::Other(text),
            },
        }
    }

    /// The operator's sentence, about `registry` (and `user`).
    pub fn message(&self, registry: &str, user: Option<&str>) -> Msg {
        let m = |key: &str, error: &str| {
            Msg::new(format!("registry.error.{key}"))
                .arg("registry", registry)
                .arg("user", user.unwrap_or("-"))
                .arg("error", error)
        };
        match self {
            RegistryError::Unreachable(e) => m("unreachable", e),
            RegistryError::Untrusted(e) => m("untrusted", e),
            RegistryError::Refused(e) if user.is_none() => m("anonymous-refused", e),
            RegistryError::Refused(e) => m("refused", e),
            RegistryError::Denied(e) => m("denied", e),
            RegistryError::Stopped => m("stopped", ""),
            RegistryError::Archive(e) => m("archive", e),
            RegistryError::Other(e) => m("other", e),
        }
    }

    /// What to do about it.
    pub fn hint(&self, registry: &str) -> Option<Msg> {
        let key = match self {
            RegistryError::Unreachable(_) => "unreachable",
            RegistryError::Untrusted(_) => "untrusted",
            RegistryError::Refused(_) => "refused",
            RegistryError::Denied(_) => "denied",
            _ => return None,
        };
        Some(Msg::new(format!("registry.hint.{key}")).arg("registry", registry))
    }
}
