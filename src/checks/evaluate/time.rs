//! Time: the clock against this machine's, a sync daemon.

use std::collections::HashMap;

use super::*;

pub(super) fn check(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();

    // How far the host's clock is outside the window in which it read it
    // (sent → answered, on this machine's clock): a slow round trip is not
    // a skew.
    let skew = num(facts, "time.epoch").map(|t| {
        if t < ctx.sent_at {
            t - ctx.sent_at
        } else if t > ctx.received_at.max(ctx.sent_at) {
            t - ctx.received_at.max(ctx.sent_at)
        } else {
            0.0
        }
    });
    out.push(match skew {
        None => r("time.skew", Status::Skip, m("time.skew.unknown")),
        Some(s) if s.abs() > SKEW_FAIL_S => r(
            "time.skew",
            Status::Fail,
            m("time.skew.off").arg("secs", format!("{s:+.1}")),
        )
        .hint(m("time.skew.hint"))
        .fix(format!("date -s @{:.0}", ctx.sent_at)),
        Some(s) if s.abs() > SKEW_WARN_S => r(
            "time.skew",
            Status::Warn,
            m("time.skew.off").arg("secs", format!("{s:+.1}")),
        )
        .hint(m("time.skew.hint")),
        Some(s) => r(
            "time.skew",
            Status::Pass,
            m("time.skew.ok").arg("secs", format!("{s:+.1}")),
        ),
    });
    let sync = fact(facts, "time.sync");
    out.push(if sync.is_empty() {
        let none = r("time.sync", Status::Warn, m("time.sync.none")).hint(m("time.sync.hint"));
        // chrony, installed and started the way this host's family does it
        // (`chronyd` on the RPM systems, `chrony` on Debian's).
        let family = host_distro(facts).family;
        match (family.install("chrony"), family.chrony_unit()) {
            (Some(install), Some(unit)) => {
                none.fix(format!("{install} && systemctl enable --now {unit}"))
            }
            _ => none,
        }
    } else {
        r(
            "time.sync",
            Status::Pass,
            m("time.sync.ok").arg("daemon", sync),
        )
    });
    out
}
