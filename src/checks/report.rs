//! The check report: JSON for machines (language-neutral: ids, statuses,
//! message keys and arguments) and Markdown for the customer.

use super::Status;
use super::run::CheckRun;
use crate::i18n::text;

/// The report as JSON.
pub fn to_json(run: &CheckRun) -> String {
    serde_json::to_string_pretty(run).unwrap_or_else(|_| "{}".into())
}

/// A result's status for a customer's reader: a symbol and a word in
/// `locale`.
fn symbol(s: Status, waived: bool, locale: &str) -> String {
    let (sym, key) = match (s, waived) {
        (_, true) => ("✔︎", "report.checks.status-waived"),
        (Status::Pass, _) => ("✔", "report.checks.status-pass"),
        (Status::Warn, _) => ("▲", "report.checks.status-warn"),
        (Status::Fail, _) => ("✘", "report.checks.status-fail"),
        (Status::Skip, _) => ("–", "report.checks.status-skip"),
    };
    format!("{sym} {}", text(key, locale))
}

/// The report as Markdown in `locale`.
pub fn to_markdown(run: &CheckRun, locale: &str) -> String {
    let t = |k: &str| text(k, locale);
    let mut md = format!("# {}\n\n", t("report.checks.title"));
    md.push_str(&format!(
        "{}: {} · {}: {:.1} s · {} {} · {} {} · {} {} · {} {}\n\n",
        t("report.checks.hosts"),
        run.hosts.join(", "),
        t("report.checks.duration"),
        run.secs,
        symbol(Status::Pass, false, locale),
        run.count(Status::Pass),
        symbol(Status::Warn, false, locale),
        run.count(Status::Warn),
        symbol(Status::Fail, false, locale),
        run.count(Status::Fail),
        symbol(Status::Skip, false, locale),
        run.count(Status::Skip),
    ));
    let blocking = run.blocking();
    md.push_str(&if blocking.is_empty() {
        format!("**{}**\n\n", t("report.checks.ready"))
    } else {
        format!(
            "**{}**\n\n",
            crate::i18n::Msg::new("report.checks.blocked")
                .arg("count", blocking.len())
                .render(locale)
        )
    });
    if !run.waivers.is_empty() {
        md.push_str(&format!("## {}\n\n", t("report.checks.waivers")));
        for w in &run.waivers {
            md.push_str(&format!(
                "- `{}`{}: {}\n",
                w.id,
                w.host
                    .as_ref()
                    .map(|h| format!(" @ {h}"))
                    .unwrap_or_default(),
                w.reason
            ));
        }
        md.push('\n');
    }
    md.push_str(&format!(
        "## {}\n\n| {} | {} | {} | {} |\n|---|---|---|---|\n",
        t("report.checks.results"),
        t("report.checks.check"),
        t("report.checks.host"),
        t("report.checks.status"),
        t("report.checks.detail")
    ));
    for r in &run.results {
        let mut detail = r.detail.render(locale);
        if let Some(h) = &r.hint {
            detail.push_str(&format!(" — {}", h.render(locale)));
        }
        if let Some(f) = &r.fix {
            detail.push_str(&format!(" — `{}`", f.replace('|', "\\|")));
        }
        if let Some(w) = &r.waived {
            detail.push_str(&format!(" — {}: {}", t("report.checks.waived-because"), w));
        }
        md.push_str(&format!(
            "| {} ({}) | {} | {} | {} |\n",
            text(&format!("check.{}.title", r.id), locale),
            r.id,
            r.host.as_deref().unwrap_or("*"),
            symbol(r.status, r.waived.is_some(), locale),
            detail.replace('\n', " ")
        ));
    }
    if !run.latency.is_empty() {
        md.push_str(&format!("\n## {}\n\n| → |", t("report.checks.latency")));
        for h in &run.hosts {
            md.push_str(&format!(" {h} |"));
        }
        md.push_str(&format!("\n|---|{}\n", "---|".repeat(run.hosts.len())));
        for from in &run.hosts {
            md.push_str(&format!("| {from} |"));
            for to in &run.hosts {
                let cell = match run.latency.get(from).and_then(|r| r.get(to)) {
                    _ if from == to => "–".to_string(),
                    Some(Some(ms)) => format!("{ms:.2} ms"),
                    Some(None) => "✘".to_string(),
                    None => "?".to_string(),
                };
                md.push_str(&format!(" {cell} |"));
            }
            md.push('\n');
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckResult, Status};
    use crate::i18n::Msg;

    #[test]
    fn the_report_is_in_the_chosen_language_with_the_same_ids() {
        let mut fail = CheckResult::new(
            "res.memory",
            Some("192.0.2.11"),
            Status::Fail,
            Msg::new("check.res.memory.low")
                .arg("have", "3.5")
                .arg("need", 16),
        );
        fail.hint = Some(Msg::new("check.res.memory.hint"));
        let run = CheckRun {
            results: vec![fail],
            latency: Default::default(),
            waivers: Vec::new(),
            hosts: vec!["192.0.2.11".into()],
            secs: 1.0,
        };
        let en = to_markdown(&run, "en");
        let zh = to_markdown(&run, "zh-CN");
        assert!(
            en.contains("Host check report") && en.contains("res.memory"),
            "{en}"
        );
        assert!(
            zh.contains("res.memory") && zh.contains("192.0.2.11"),
            "{zh}"
        );
        assert!(
            zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{zh}"
        );
        assert_ne!(en, zh);
    }
}
