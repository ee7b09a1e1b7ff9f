//! The operator's hook scripts: named in the profile, read into their text
//! for the deploy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Shell scripts on this machine (paths relative to the profile) that
/// deploy runs as root on every host; their output goes to the host's log.
/// Each gets `CDWIZ_PHASE`, `CDWIZ_HOST`, `CDWIZ_RUN` and `CDWIZ_DATA_DIR`.
/// The profile gives the paths; a run reads them into their scripts'
/// text ([`Hooks::read`]), which is what the deploy gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Hooks {
    /// Before anything else on the host; a failure stops the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_deploy: Option<String>,
    /// After the platform answers; a failure marks the host failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_deploy: Option<String>,
    /// On a host that failed (best effort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.pre_deploy.is_none() && self.post_deploy.is_none() && self.on_error.is_none()
    }

    /// The hooks with their paths, as written in the profile.
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        [
            ("pre-deploy", &self.pre_deploy),
            ("post-deploy", &self.post_deploy),
            ("on-error", &self.on_error),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.as_deref().map(|p| (n, p)))
        .collect()
    }

    /// The same hooks, each value through `read` (a path to its script's
    /// text); every hook that cannot be read is named in the errors.
    pub fn read<E>(
        &self,
        mut read: impl FnMut(&'static str, &str) -> Result<String, E>,
    ) -> Result<Hooks, Vec<E>> {
        let mut errors = Vec::new();
        let mut one = |name, value: &Option<String>| {
            let text = read(name, value.as_deref()?);
            text.map_err(|e| errors.push(e)).ok()
        };
        let hooks = Hooks {
            pre_deploy: one("pre-deploy", &self.pre_deploy),
            post_deploy: one("post-deploy", &self.post_deploy),
            on_error: one("on-error", &self.on_error),
        };
        if errors.is_empty() {
            Ok(hooks)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Hooks;

    /// Reading the hooks keeps the ones not given as none and names every
    /// one that cannot be read.
    #[test]
    fn hooks_are_read_into_their_text_each_failure_named() {
        let paths = Hooks {
            pre_deploy: Some("pre.sh".into()),
            post_deploy: None,
            on_error: Some("missing.sh".into()),
        };
        let read = |name: &'static str, path: &str| match path {
            "pre.sh" => Ok(format!("echo {name}")),
            _ => Err(format!("hooks.{name}: no {path}")),
        };
        assert_eq!(
            paths.read(read),
            Err(vec!["hooks.on-error: no missing.sh".to_string()])
        );
        let good = Hooks {
            on_error: None,
            ..paths
        };
        let text = good.read(read).unwrap();
        assert_eq!(text.pre_deploy.as_deref(), Some("echo pre-deploy"));
        assert_eq!((text.post_deploy, text.on_error), (None, None));
    }
}
