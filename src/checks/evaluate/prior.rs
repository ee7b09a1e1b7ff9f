//! A previous install on the host.

use std::collections::HashMap;

use super::*;

pub(super) fn check(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();

    let record = fact(facts, "prior.install");
    out.push(if record.is_empty() {
        r("prior.install", Status::Pass, m("prior.install.none"))
    } else if own_record(ctx, facts).is_some() {
        r("prior.install", Status::Pass, m("prior.install.same"))
    } else {
        r(
            "prior.install",
            Status::Warn,
            m("prior.install.found").arg("record", record),
        )
        .hint(m("prior.install.hint"))
    });
    out
}
