//! The completion report (`summary.md` in the run directory) the engineer
//! hands over: where the platform answers, where the generated credentials
//! are, how each host ended, how to resume or uninstall; on failure the
//! host, phase, step, exit code and last log lines. In the chosen language.

use std::path::Path;

use crate::event::StepOutcome;
use crate::i18n::{Msg, text};
use crate::profile::Answers;

use super::DeployReport;

/// Where the run's files are, for the report.
pub struct Paths<'a> {
    pub profile: &'a Path,
    pub run_dir: &'a Path,
    pub secrets: &'a Path,
    pub state: &'a Path,
}

pub fn to_markdown(
    report: &DeployReport,
    answers: &Answers,
    product: &str,
    paths: &Paths<'_>,
    locale: &str,
) -> String {
    let mut s = header(report, answers, product, paths, locale);
    hosts_table(&mut s, report, answers, locale);
    failures(&mut s, report, locale);
    next_steps(&mut s, report, answers, paths, locale);
    s
}

/// On a cluster the rows are components, not hosts: the `-k8s` variant of a text.
fn row_text(answers: &Answers, key: &str, locale: &str) -> String {
    if answers.topology.kind == crate::profile::TopologyKind::K8s {
        text(&format!("{key}-k8s"), locale)
    } else {
        text(key, locale)
    }
}

/// The title, what was installed, where it answers and where its credentials are.
fn header(
    report: &DeployReport,
    answers: &Answers,
    product: &str,
    paths: &Paths<'_>,
    locale: &str,
) -> String {
    let t = |k: &str| text(k, locale);
    let mut s = String::new();
    let title = if report.ok() {
        t("summary.title-ok")
    } else if report.cancelled {
        t("summary.title-stopped")
    } else {
        t("summary.title-failed")
    };
    s.push_str(&format!("# {title}\n\n"));
    s.push_str(&format!(
        "- {}: {product}\n- {}: {}\n- {}: {:.0} s\n",
        t("summary.product"),
        t("summary.topology"),
        answers.topology.kind.as_str(),
        t("summary.duration"),
        report.secs
    ));
    // A failed install is not offered as answering.
    if let Some(dir) = &report.backup {
        s.push_str(&format!("- {}: `{}`\n", t("summary.backup"), dir.display()));
    }
    if let Some(url) = report.url.as_ref().filter(|_| report.ok()) {
        s.push_str(&format!("- {}: {url}\n", t("summary.url")));
    }
    if answers.topology.kind == crate::profile::TopologyKind::K8s {
        s.push_str(&format!(
            "- {}: `{}`\n",
            t("summary.namespace"),
            crate::plan::namespace(&answers.topology)
        ));
    }
    s.push_str(&format!(
        "- {}: `{}`\n- {}: `{}` (0600)\n\n",
        t("summary.admin-user"),
        answers.settings.admin_user,
        t("summary.credentials"),
        paths.secrets.display()
    ));
    s
}

/// One row per host (or component): how it ended, steps run and changed.
fn hosts_table(s: &mut String, report: &DeployReport, answers: &Answers, locale: &str) {
    let t = |k: &str| text(k, locale);
    let tk = |k: &str| row_text(answers, k, locale);
    s.push_str(&format!(
        "## {}\n\n| {} | {} | {} |\n|---|---|---|\n",
        tk("summary.hosts"),
        tk("summary.host"),
        t("summary.result"),
        t("summary.steps")
    ));
    // Steps finish in any order: rows go in the profile's order (the
    // cluster's own row first; components as they were deployed).
    let mut hosts: Vec<&str> = Vec::new();
    for st in &report.steps {
        if !hosts.contains(&st.host.as_str()) {
            hosts.push(&st.host);
        }
    }
    hosts.sort_by_key(|h| {
        if *h == super::CLUSTER {
            0
        } else {
            1 + answers
                .hosts
                .iter()
                .position(|x| x.address == *h)
                .unwrap_or(answers.hosts.len())
        }
    });
    for h in hosts {
        let steps: Vec<_> = report.steps.iter().filter(|s| s.host == h).collect();
        let label = if h == super::CLUSTER {
            t("deploy.cluster")
        } else if let Some(m) = report.machines.get(h) {
            let archive = m
                .archive
                .as_ref()
                .map(|a| format!("`{a}`"))
                .unwrap_or_else(|| t("summary.no-archive"));
            format!("{h} ({}: {archive})", m.arch)
        } else {
            h.to_string()
        };
        let failed = report.failures.iter().find(|f| f.host == h);
        let result = match failed {
            Some(f) => Msg::new("summary.host-failed")
                .arg("step", super::step_label(&f.step, locale))
                .render(locale),
            None if steps.iter().all(|s| s.outcome.is_success()) => t("summary.host-ok"),
            None => t("summary.host-incomplete"),
        };
        let changed = steps
            .iter()
            .filter(|s| s.outcome == StepOutcome::Changed)
            .count();
        s.push_str(&format!(
            "| {label} | {result} | {} |\n",
            Msg::new("summary.step-counts")
                .arg("total", steps.len())
                .arg("changed", changed)
                .render(locale)
        ));
    }
    s.push('\n');
}

/// Each failure: host, phase, step, exit code, error and the last log lines.
fn failures(s: &mut String, report: &DeployReport, locale: &str) {
    let t = |k: &str| text(k, locale);
    for f in &report.failures {
        s.push_str(&format!(
            "## {}\n\n",
            Msg::new("summary.failure")
                .arg("host", &f.host)
                .render(locale)
        ));
        s.push_str(&format!(
            "- {}: {}\n- {}: {}\n",
            t("summary.phase"),
            super::phase_label(&f.phase, locale),
            t("summary.step"),
            super::step_label(&f.step, locale)
        ));
        if let Some(code) = f.code {
            s.push_str(&format!("- {}: {code}\n", t("summary.exit-code")));
        }
        s.push_str(&format!(
            "- {}: {}\n\n",
            t("summary.error"),
            f.message.render(locale)
        ));
        if !f.last_lines.is_empty() {
            s.push_str(&format!("{}:\n\n```\n", t("summary.last-lines")));
            for l in &f.last_lines {
                s.push_str(l);
                s.push('\n');
            }
            s.push_str("```\n\n");
        }
    }
}

/// How to resume, uninstall, and where the run's files are.
fn next_steps(
    s: &mut String,
    report: &DeployReport,
    answers: &Answers,
    paths: &Paths<'_>,
    locale: &str,
) {
    let t = |k: &str| text(k, locale);
    let tk = |k: &str| row_text(answers, k, locale);
    let profile = paths.profile.display();
    s.push_str(&format!("## {}\n\n", t("summary.next")));
    if !report.ok() {
        s.push_str(&format!(
            "- {}: `cdwiz --profile {profile} --non-interactive --resume`\n",
            t("summary.resume")
        ));
    }
    s.push_str(&format!(
        "- {}: `cdwiz uninstall --profile {profile}` ({})\n",
        t("summary.uninstall"),
        t("summary.uninstall-data")
    ));
    s.push_str(&format!(
        "- {}: `{}`\n- {}: `{}`\n- {}: `{}`\n",
        t("summary.run-dir"),
        paths.run_dir.display(),
        tk("summary.logs"),
        paths.run_dir.join("logs").display(),
        t("summary.state"),
        paths.state.display()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::{Failure, StepRecord};
    use crate::event::StepOutcome;

    #[test]
    fn the_completion_report_names_the_failure_in_the_chosen_language() {
        let answers: Answers = serde_yaml::from_str(
            "version: 1\nbundle: sandbox\ntopology: { kind: single }\n\
             hosts: [{ address: 192.0.2.11, roles: [master] }]\n",
        )
        .unwrap();
        let report = DeployReport {
            steps: vec![StepRecord {
                host: "192.0.2.11".into(),
                step: "images".into(),
                outcome: StepOutcome::Failed {
                    message: Msg::new("deploy.error.docker-old")
                        .arg("have", "19.03")
                        .arg("min", "20.10"),
                    code: None,
                    last_lines: vec![],
                },
                secs: 1,
            }],
            failures: vec![Failure {
                host: "192.0.2.11".into(),
                phase: "images".into(),
                step: "images".into(),
                message: Msg::new("deploy.error.docker-old")
                    .arg("have", "19.03")
                    .arg("min", "20.10"),
                code: Some(1),
                last_lines: vec!["docker version 19.03".into()],
            }],
            cancelled: false,
            url: Some("http://192.0.2.11/".into()),
            secs: 3.0,
            machines: Default::default(),
            backup: None,
        };
        let p = Path::new("/tmp/x");
        let paths = Paths {
            profile: Path::new("single.yaml"),
            run_dir: p,
            secrets: p,
            state: p,
        };
        let en = to_markdown(&report, &answers, "cd 3.2.0", &paths, "en");
        let zh = to_markdown(&report, &answers, "cd 3.2.0", &paths, "zh-CN");
        assert!(en.starts_with("# Installation not complete"), "{en}");
        assert!(
            en.contains("Docker 19.03 is older than 20.10") && en.contains("--resume"),
            "{en}"
        );
        assert!(zh.starts_with("# 安装未完成"), "{zh}");
        assert!(
            !en.contains("http://192.0.2.11/"),
            "a failed install offers its URL:\n{en}"
        );
        assert!(
            zh.contains("Docker 19.03 低于") && zh.contains("docker version 19.03"),
            "{zh}"
        );
    }

    #[test]
    fn hosts_are_listed_in_profile_order_with_their_counts() {
        let answers: Answers = serde_yaml::from_str(
            "version: 1\nbundle: sandbox\ntopology: { kind: ha-lb, lb-address: 192.0.2.9, lb-port: 80 }\n\
             hosts: [{ address: 192.0.2.12, roles: [master] }, { address: 192.0.2.11, roles: [master] }]\n",
        )
        .unwrap();
        let step = |host: &str, step: &str, outcome| StepRecord {
            host: host.into(),
            step: step.into(),
            outcome,
            secs: 1,
        };
        let report = DeployReport {
            // The second host finished first.
            steps: vec![
                step("192.0.2.11", "prepare", StepOutcome::Changed),
                step("192.0.2.12", "prepare", StepOutcome::Changed),
                step("192.0.2.12", "images", StepOutcome::Unchanged),
            ],
            failures: vec![],
            cancelled: false,
            url: Some("http://192.0.2.9/".into()),
            secs: 3.0,
            machines: [(
                "192.0.2.12".to_string(),
                crate::deploy::Machine {
                    arch: "arm64".into(),
                    archive: Some("images/arm64/cd-3.2.0-arm64.tar".into()),
                },
            )]
            .into(),
            backup: None,
        };
        let p = Path::new("/tmp/x");
        let paths = Paths {
            profile: Path::new("lb.yaml"),
            run_dir: p,
            secrets: p,
            state: p,
        };
        let en = to_markdown(&report, &answers, "cd 3.2.0", &paths, "en");
        let first = en.find("| 192.0.2.12 (arm64").expect(&en);
        let second = en.find("| 192.0.2.11 |").expect(&en);
        assert!(first < second, "not in profile order:\n{en}");
        assert!(
            en.contains("| 192.0.2.11 | done | 1 step, 1 changed |"),
            "{en}"
        );
        assert!(
            en.contains(
                "| 192.0.2.12 (arm64: `images/arm64/cd-3.2.0-arm64.tar`) | done | 2 steps, 1 changed |"
            ),
            "{en}"
        );
        assert!(en.contains("http://192.0.2.9/"), "{en}");
    }
}
