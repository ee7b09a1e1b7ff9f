//! Runtime: the Docker engine, its version and storage driver.

use std::collections::HashMap;

use super::*;

pub(super) fn check(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();

    let client = fact(facts, "docker.client");
    let server = fact(facts, "docker.server");
    let need = &ctx.requirements.docker_min;
    out.push(if client.is_empty() {
        r(
            "runtime.docker",
            Status::Fail,
            m("runtime.docker.absent").arg("need", need),
        )
        .hint(m("runtime.docker.absent-hint"))
    } else if server.is_empty() {
        r(
            "runtime.docker",
            Status::Fail,
            m("runtime.docker.stopped").arg("version", client),
        )
        .hint(m("runtime.docker.stopped-hint"))
        .fix("systemctl start docker || service docker start")
    } else if !version_at_least(server, need) {
        r(
            "runtime.docker",
            Status::Fail,
            m("runtime.docker.old")
                .arg("version", server)
                .arg("need", need),
        )
    } else {
        r(
            "runtime.docker",
            Status::Pass,
            m("runtime.docker.ok").arg("version", server),
        )
    });
    let storage = fact(facts, "docker.storage");
    out.push(if server.is_empty() {
        r(
            "runtime.storage",
            Status::Skip,
            m("runtime.storage.unknown"),
        )
    } else if storage == "overlay2" {
        r(
            "runtime.storage",
            Status::Pass,
            m("runtime.storage.ok").arg("driver", storage),
        )
    } else {
        r(
            "runtime.storage",
            Status::Warn,
            m("runtime.storage.other").arg("driver", storage),
        )
        .hint(m("runtime.storage.hint"))
    });
    out
}
