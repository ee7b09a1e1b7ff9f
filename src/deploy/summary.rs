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
    if let Some(url) = &report.url {
        s.push_str(&format!("- {}: {url}\n", t("summary.url")));
    }
    s.push_str(&format!(
        "- {}: `{}`\n- {}: `{}` (0600)\n\n",
        t("summary.admin-user"),
        answers.settings.admin_user,
        t("summary.credentials"),
        paths.secrets.display()
    ));

    s.push_str(&format!(
        "## {}\n\n| {} | {} | {} |\n|---|---|---|\n",
        t("summary.hosts"),
        t("summary.host"),
        t("summary.result"),
        t("summary.steps")
    ));
    let mut hosts: Vec<&str> = Vec::new();
    for st in &report.steps {
        if !hosts.contains(&st.host.as_str()) {
            hosts.push(&st.host);
        }
    }
    for h in hosts {
        let steps: Vec<_> = report.steps.iter().filter(|s| s.host == h).collect();
        let label = if h == super::CLUSTER {
            t("deploy.cluster")
        } else {
            h.to_string()
        };
        let failed = report.failures.iter().find(|f| f.host == h);
        let result = match failed {
            Some(f) => Msg::new("summary.host-failed")
                .arg("step", &f.step)
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
            f.phase,
            t("summary.step"),
            f.step
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
        t("summary.logs"),
        paths.run_dir.join("logs").display(),
        t("summary.state"),
        paths.state.display()
    ));
    s
}
