//! Each cluster the components form, as its members' hosts report them:
//! which members are up, the role each says it has (the manifest's
//! `cluster.role` command, run in the member's container), and whether the
//! cluster still has the majority it needs.

use serde::Serialize;

use super::{ComponentStatus, HostStatus};
use crate::i18n::Msg;

/// A cluster and its members now.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterMembers {
    pub component: String,
    /// Members that must be up for it to work.
    pub quorum: u32,
    pub members: Vec<MemberState>,
    /// Members up (running, and healthy where a health check is known).
    pub up: u32,
    pub quorum_holds: bool,
}

/// One member: where, whether it is up, and the role it says it has.
#[derive(Debug, Clone, Serialize)]
pub struct MemberState {
    pub id: u32,
    pub address: String,
    pub up: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The planned clusters against what the hosts said.
pub(super) fn clusters(
    planned: &[crate::plan::PlannedComponentCluster],
    hosts: &[HostStatus],
) -> Vec<ClusterMembers> {
    planned
        .iter()
        .map(|p| {
            let members: Vec<MemberState> = p
                .members
                .iter()
                .map(|m| {
                    let seen: Option<&ComponentStatus> = hosts
                        .iter()
                        .find(|h| h.address == m.address)
                        .and_then(|h| h.components.iter().find(|c| c.name == p.component));
                    MemberState {
                        id: m.id,
                        address: m.address.clone(),
                        up: seen.is_some_and(|c| c.state == "running" && c.healthy != Some(false)),
                        role: seen.and_then(|c| c.role.clone()),
                    }
                })
                .collect();
            let up = members.iter().filter(|m| m.up).count() as u32;
            ClusterMembers {
                component: p.component.clone(),
                quorum: p.quorum,
                up,
                quorum_holds: up >= p.quorum,
                members,
            }
        })
        .collect()
}

/// The roles only one member of a cluster may have at a time.
const LEADING: [&str; 2] = ["primary", "leader"];

impl ClusterMembers {
    /// A cluster below its majority is a problem of its own (each member
    /// that is down is one already, as a component of its host); so is one
    /// where two members say they lead (a former primary back from a loss
    /// before its failover manager made it follow).
    pub fn problems(&self) -> Vec<Msg> {
        let mut out = Vec::new();
        if !self.quorum_holds {
            out.push(
                Msg::new("status.problem.quorum")
                    .arg("name", &self.component)
                    .arg("up", self.up)
                    .arg("members", self.members.len())
                    .arg("quorum", self.quorum),
            );
        }
        let leading: Vec<&str> = self
            .members
            .iter()
            .filter(|m| m.up && m.role.as_deref().is_some_and(|r| LEADING.contains(&r)))
            .map(|m| m.address.as_str())
            .collect();
        if leading.len() > 1 {
            out.push(
                Msg::new("status.problem.leaders")
                    .arg("name", &self.component)
                    .arg("members", leading.join(", ")),
            );
        }
        out
    }

    /// `database: 10.0.0.11 primary, 10.0.0.12 replica, 10.0.0.13 down (2 of 3 up, needs 1)`.
    pub fn line(&self, locale: &str) -> String {
        let down = Msg::new("status.member.down").render(locale);
        let members: Vec<String> = self
            .members
            .iter()
            .map(|m| match (&m.role, m.up) {
                (_, false) => format!("{} {down}", m.address),
                (Some(r), true) => format!("{} {r}", m.address),
                (None, true) => m.address.clone(),
            })
            .collect();
        Msg::new("status.members")
            .arg("name", &self.component)
            .arg("members", members.join(", "))
            .arg("up", self.up)
            .arg("count", self.members.len())
            .arg("quorum", self.quorum)
            .render(locale)
    }
}

/// The role a member says it has: the first line of the role command's
/// output, made safe to show, at most 32 characters.
pub(super) fn role_of(output: &str) -> Option<String> {
    let line = crate::text::line(output.lines().next().unwrap_or_default());
    let line = line.trim();
    (!line.is_empty()).then(|| line.chars().take(32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(address: &str, state: &str, role: Option<&str>) -> HostStatus {
        HostStatus {
            address: address.into(),
            unreachable: None,
            components: vec![ComponentStatus {
                name: "db".into(),
                container: "cd-db".into(),
                state: state.into(),
                healthy: Some(state == "running"),
                health_error: None,
                restarts: 0,
                image: String::new(),
                since: String::new(),
                drift: None,
                role: role.map(str::to_string),
            }],
            drifted_files: Vec::new(),
            drifted_settings: Vec::new(),
        }
    }

    #[test]
    fn a_cluster_below_its_majority_is_named_and_roles_are_shown() {
        let planned = crate::plan::PlannedComponentCluster {
            component: "db".into(),
            form: crate::bundle::ClusterForm::Together,
            members: ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
                .iter()
                .enumerate()
                .map(|(i, a)| crate::plan::Member {
                    id: i as u32 + 1,
                    address: a.to_string(),
                    bootstrap: i == 0,
                })
                .collect(),
            quorum: 2,
            tolerates: 1,
            settings: Default::default(),
        };
        let one_down = [
            host("192.0.2.1", "running", Some("primary")),
            host("192.0.2.2", "running", Some("replica")),
            host("192.0.2.3", "exited", None),
        ];
        let c = &clusters(std::slice::from_ref(&planned), &one_down)[0];
        assert_eq!((c.up, c.quorum_holds), (2, true));
        assert!(c.problems().is_empty());
        assert_eq!(
            c.line("en"),
            "db: 192.0.2.1 primary, 192.0.2.2 replica, 192.0.2.3 down (2 of 3 up, needs 2)"
        );
        // The third host did not answer at all: below the majority.
        let two_down = [host("192.0.2.1", "running", Some("primary"))];
        let c = &clusters(std::slice::from_ref(&planned), &two_down)[0];
        assert_eq!((c.up, c.quorum_holds), (1, false));
        assert_eq!(c.problems()[0].key, "status.problem.quorum");
        // Two members that say they lead: not whole.
        let two_primaries = [
            host("192.0.2.1", "running", Some("primary")),
            host("192.0.2.2", "running", Some("primary")),
            host("192.0.2.3", "running", Some("replica")),
        ];
        let c = &clusters(std::slice::from_ref(&planned), &two_primaries)[0];
        let keys: Vec<String> = c.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["status.problem.leaders"]);
        assert_eq!(role_of("primary\nextra"), Some("primary".into()));
        assert_eq!(role_of("\u{1b}[31mleader\u{1b}[0m"), Some("leader".into()));
        assert_eq!(role_of(""), None);
    }
}
