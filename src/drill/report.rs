//! The drill's report: per host what it led, how long the entry failed
//! writes and how many, how long until the clusters were whole again; and
//! whether every acknowledged write read back. As lines in the operator's
//! language (the acceptance record) and as JSON.

use serde::Serialize;

use super::writes::Write;
use crate::i18n::Msg;

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// The entry the writes went through (`http://host:port`).
    pub entry: String,
    /// The drill's id (`drill-<time>`), also its lock's.
    pub run: String,
    /// The hosts to take out in turn.
    pub planned: usize,
    pub hosts: Vec<HostDrill>,
    pub writes: usize,
    pub acknowledged: usize,
    pub read_back: usize,
    /// Acknowledged writes the platform does not have (404, or another
    /// text), by id.
    pub lost: Vec<u64>,
    /// Acknowledged writes whose reads never got an answer that says
    /// (refused, 503, no answer), by id: not proven lost, not proven kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<u64>,
    /// Stopped by the operator before every host had its turn.
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostDrill {
    pub address: String,
    /// What it led when it went out (`database primary`, `VIP`).
    pub held: Vec<String>,
    /// Writes asked while it was out.
    pub writes: usize,
    pub failed: usize,
    /// How long writes through the entry stopped (none: they did not
    /// resume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_secs: Option<f64>,
    /// How long after its containers started every cluster was whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whole_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Msg>,
}

impl HostDrill {
    pub(super) fn new(address: &str, held: Vec<String>) -> HostDrill {
        HostDrill {
            address: address.to_string(),
            held,
            writes: 0,
            failed: 0,
            gap_secs: None,
            whole_secs: None,
            error: None,
        }
    }

    /// The writes asked while it was out, and the gap among them.
    pub(super) fn measure(&mut self, window: &[Write], gap: Option<std::time::Duration>) {
        self.writes = window.len();
        self.failed = window.iter().filter(|w| w.id.is_none()).count();
        self.gap_secs = gap.map(|g| (g.as_secs_f64() * 10.0).round() / 10.0);
    }

    fn passed(&self) -> bool {
        self.error.is_none() && self.gap_secs.is_some() && self.whole_secs.is_some()
    }
}

impl DrillReport {
    pub(super) fn new(entry: &str, run: &str, planned: usize) -> DrillReport {
        DrillReport {
            entry: entry.to_string(),
            run: run.to_string(),
            planned,
            hosts: Vec::new(),
            writes: 0,
            acknowledged: 0,
            read_back: 0,
            lost: Vec::new(),
            unread: Vec::new(),
            interrupted: false,
        }
    }

    /// Every write of the drill and the acknowledged ones that were lost.
    pub(super) fn count(&mut self, writes: &[Write], lost: Vec<u64>, unread: Vec<u64>) {
        self.writes = writes.len();
        self.acknowledged = writes.iter().filter(|w| w.id.is_some()).count();
        self.read_back = self.acknowledged - lost.len() - unread.len();
        self.lost = lost;
        self.unread = unread;
    }

    /// Every host had its turn and came back whole, and no acknowledged
    /// write was lost.
    pub fn passed(&self) -> bool {
        !self.interrupted
            && self.hosts.len() == self.planned
            && self.hosts.iter().all(HostDrill::passed)
            && self.lost.is_empty()
            && self.unread.is_empty()
            && self.acknowledged > 0
    }

    /// The report as lines in `locale`: one per host, then the writes.
    pub fn lines(&self, locale: &str) -> Vec<String> {
        let mut out = vec![
            Msg::new("drill.report.title")
                .arg("entry", &self.entry)
                .arg("run", &self.run)
                .render(locale),
        ];
        for h in &self.hosts {
            let held = if h.held.is_empty() {
                Msg::new("drill.report.held-nothing").render(locale)
            } else {
                h.held.join(", ")
            };
            let gap = h.gap_secs.map_or_else(
                || Msg::new("drill.report.no-resume").render(locale),
                |g| format!("{g:.1}"),
            );
            let whole = h
                .whole_secs
                .map_or_else(|| "-".to_string(), |w| format!("{w:.0}"));
            out.push(
                Msg::new("drill.report.host")
                    .arg("host", &h.address)
                    .arg("held", held)
                    .arg("gap", gap)
                    .arg("failed", h.failed)
                    .arg("writes", h.writes)
                    .arg("whole", whole)
                    .render(locale),
            );
            if let Some(e) = &h.error {
                out.push(format!("  {}", e.render(locale)));
            }
        }
        out.push(
            Msg::new("drill.report.writes")
                .arg("writes", self.writes)
                .arg("acknowledged", self.acknowledged)
                .arg("read", self.read_back)
                .render(locale),
        );
        if !self.lost.is_empty() {
            let ids: Vec<String> = self.lost.iter().map(u64::to_string).collect();
            out.push(
                Msg::new("drill.report.lost")
                    .arg("count", self.lost.len())
                    .arg("ids", ids.join(", "))
                    .render(locale),
            );
        }
        if !self.unread.is_empty() {
            let ids: Vec<String> = self.unread.iter().map(u64::to_string).collect();
            out.push(
                Msg::new("drill.report.unread")
                    .arg("count", self.unread.len())
                    .arg("ids", ids.join(", "))
                    .render(locale),
            );
        }
        if self.interrupted {
            out.push(Msg::new("drill.report.interrupted").render(locale));
        }
        let verdict = if self.passed() {
            "drill.report.passed"
        } else {
            "drill.report.failed"
        };
        out.push(Msg::new(verdict).render(locale));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_report_passes_only_when_every_host_came_back_and_nothing_was_lost() {
        let t0 = Instant::now();
        let w = |id: Option<u64>| Write {
            asked: t0,
            answered: t0,
            text: String::new(),
            id,
        };
        let mut r = DrillReport::new("http://192.0.2.10:80", "drill-1", 1);
        let mut h = HostDrill::new("192.0.2.1", vec!["database primary".into(), "VIP".into()]);
        h.measure(&[w(None), w(Some(1))], Some(Duration::from_millis(11_340)));
        h.whole_secs = Some(21.0);
        r.hosts.push(h);
        r.count(&[w(Some(1)), w(Some(2)), w(None)], Vec::new(), Vec::new());
        assert!(r.passed());
        r.planned = 2;
        assert!(!r.passed(), "a host without its turn");
        r.planned = 1;
        let en = r.lines("en");
        assert_eq!(
            en[1],
            "192.0.2.1 (database primary, VIP): writes stopped for 11.3 s, 1 of 2 failed; \
             whole again after 21 s"
        );
        assert_eq!(
            en.last().unwrap(),
            "PASSED: every host was lost and came back, no acknowledged write was lost"
        );
        let zh = r.lines("zh-CN");
        assert!(zh[1].contains("11.3"), "{zh:?}");
        r.count(&[w(Some(1)), w(Some(2))], Vec::new(), vec![2]);
        assert!(!r.passed(), "a write not read is not proven kept");
        assert!(
            r.lines("en")
                .iter()
                .any(|l| l.starts_with("NOT READ: 1 acknowledged"))
        );
        r.count(&[w(Some(1)), w(Some(2))], vec![2], Vec::new());
        assert!(!r.passed());
        assert!(
            r.lines("en")
                .iter()
                .any(|l| l.starts_with("LOST: 1 acknowledged"))
        );
    }
}
