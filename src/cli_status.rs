//! `cdwiz status --profile P [--output json]`: the engine's read-only look
//! at an installation (`cdwiz::status`), as lines.

use std::path::{Path, PathBuf};

use cdwiz::i18n::Msg;
use cdwiz::status::{ClusterStatus, ObjectDrift, StatusReport, StatusRequest};

use crate::headless::{EXIT_OK, Output, bad_input};

/// Exit code when something is down, unhealthy, drifted or unreachable.
pub const EXIT_NOT_WELL: u8 = 5;

/// Exit 0 when all is well, 5 when something is not, 2 for bad input.
pub async fn run(profile: PathBuf, output: Output, locale: &str) -> u8 {
    let answers = match cdwiz::profile::load_file(&profile) {
        Ok(a) => a,
        Err(e) => return bad_input(&[e.render(locale)]),
    };
    let req = StatusRequest {
        answers,
        base: profile.parent().unwrap_or(Path::new(".")).to_path_buf(),
        data_dir: cdwiz::paths::data_dir(),
        profile,
        secrets: None,
        locale: locale.to_string(),
    };
    let report = match cdwiz::status::status(req).await {
        Ok(r) => r,
        Err(e) => return bad_input(&e.lines),
    };
    let problems = report.problems();
    match output {
        Output::Json => {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "status".into());
                o.insert("well".into(), problems.is_empty().into());
                o.insert(
                    "problems".into(),
                    serde_json::to_value(&problems).unwrap_or_default(),
                );
            }
            println!("{v}");
        }
        Output::Text => {
            for line in text_lines(&report, &problems, locale) {
                println!("{line}");
            }
        }
    }
    if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_NOT_WELL
    }
}

/// The report as lines a person reads (the wizard's Status panel too).
pub fn text_lines(report: &StatusReport, problems: &[Msg], locale: &str) -> Vec<String> {
    let mut out = Vec::new();
    for h in &report.hosts {
        out.push(match &h.unreachable {
            Some(why) => Msg::new("status.host-unreachable")
                .arg("host", &h.address)
                .arg_msg("why", why.clone())
                .render(locale),
            None => Msg::new("status.host")
                .arg("host", &h.address)
                .render(locale),
        });
        for c in &h.components {
            let health = match (c.healthy, &c.health_error) {
                (Some(true), _) => cdwiz::i18n::text("status.healthy", locale),
                (Some(false), Some(e)) => Msg::new("status.unhealthy")
                    .arg_msg("error", e.clone())
                    .render(locale),
                _ => "-".into(),
            };
            let restarts = Msg::new("status.restarts")
                .arg("count", c.restarts)
                .render(locale);
            let mut line = format!(
                "  {} {} {} {} {} {}",
                cdwiz::i18n::pad(&c.name, 12),
                cdwiz::i18n::pad(&c.state, 10),
                cdwiz::i18n::pad(&health, 10),
                cdwiz::i18n::pad(&restarts, 12),
                c.image,
                c.since.split('.').next().unwrap_or_default(),
            );
            if let Some(d) = &c.drift {
                line.push_str(&format!("  ⚠ {}", d.render(locale)));
            }
            out.push(line.trim_end().to_string());
        }
        for f in &h.drifted_files {
            let m = Msg::new("status.file-drift").arg("path", f);
            out.push(format!("  ⚠ {}", m.render(locale)));
        }
        for m in &h.drifted_settings {
            out.push(format!("  ⚠ {}", m.render(locale)));
        }
    }
    if let Some(c) = &report.cluster {
        out.extend(cluster_lines(c, locale));
    }
    for c in &report.clusters {
        out.push(c.line(locale));
    }
    if let Some(v) = &report.vip {
        let m = if v.held_by.is_empty() {
            Msg::new("status.vip-nobody").arg("vip", &v.address)
        } else {
            Msg::new("status.vip")
                .arg("vip", &v.address)
                .arg("holders", v.held_by.join(", "))
        };
        out.push(m.render(locale));
    }
    if let Some(e) = &report.entry {
        let m = if e.answers {
            Msg::new("status.entry-ok").arg("url", &e.url)
        } else {
            Msg::new("status.entry-down")
                .arg("url", &e.url)
                .arg_msg("error", e.error.clone().unwrap_or_else(|| Msg::from("")))
        };
        out.push(m.render(locale));
    }
    if problems.is_empty() {
        out.push(Msg::new("status.well").render(locale));
    } else {
        out.push(
            Msg::new("status.not-well")
                .arg("count", problems.len())
                .render(locale),
        );
        for p in problems {
            out.push(format!("  - {}", p.render(locale)));
        }
    }
    out
}

/// The namespace and each component's workload, with what differs.
fn cluster_lines(c: &ClusterStatus, locale: &str) -> Vec<String> {
    let mut out = vec![match &c.unreachable {
        Some(why) => Msg::new("status.cluster-unreachable")
            .arg("ns", &c.namespace)
            .arg_msg("why", why.clone())
            .render(locale),
        None => Msg::new("status.cluster")
            .arg("ns", &c.namespace)
            .render(locale),
    }];
    let drift = |d: &ObjectDrift| {
        let key = if d.missing {
            "status.object-missing"
        } else {
            "status.object-drift"
        };
        format!(
            "    ⚠ {}",
            Msg::new(key).arg("object", &d.object).render(locale)
        )
    };
    let unknown = |e: &Msg| {
        format!(
            "    ? {}",
            Msg::new("status.compare-failed")
                .arg_msg("error", e.clone())
                .render(locale)
        )
    };
    out.extend(c.drifted.iter().map(drift));
    out.extend(c.compare_error.iter().map(unknown));
    for w in &c.components {
        let state = if w.found {
            Msg::new("status.replicas")
                .arg("ready", w.ready)
                .arg("desired", w.desired)
                .render(locale)
        } else {
            cdwiz::i18n::text("status.workload-missing", locale)
        };
        let restarts = Msg::new("status.restarts")
            .arg("count", w.restarts)
            .render(locale);
        let line = format!(
            "  {} {} {} {} {} {}",
            cdwiz::i18n::pad(&w.name, 12),
            cdwiz::i18n::pad(&w.kind, 12),
            cdwiz::i18n::pad(&state, 10),
            cdwiz::i18n::pad(&restarts, 12),
            w.images.join(","),
            w.since,
        );
        out.push(line.trim_end().to_string());
        out.extend(w.waiting.iter().map(|p| format!("    {p}")));
        out.extend(w.drifted.iter().map(drift));
        out.extend(w.compare_error.iter().map(unknown));
    }
    out
}
