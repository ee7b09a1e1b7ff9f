//! Resources: CPU, memory, space, the data disk, disk speed.

use std::collections::HashMap;

use super::*;

pub(super) fn check(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();
    let needs = ctx.needs();

    let cpus = num(facts, "cpus").unwrap_or(0.0) as u32;
    out.push(if cpus >= needs.cpus {
        r(
            "res.cpu",
            Status::Pass,
            m("res.cpu.ok").arg("have", cpus).arg("need", needs.cpus),
        )
    } else {
        r(
            "res.cpu",
            Status::Fail,
            m("res.cpu.low").arg("have", cpus).arg("need", needs.cpus),
        )
        .hint(m("res.cpu.hint"))
    });
    let mem_gib = num(facts, "mem.kb").unwrap_or(0.0) / 1024.0 / 1024.0;
    // Reported memory is a little under the installed size: allow 5 %.
    out.push(if mem_gib >= f64::from(needs.memory_gib) * 0.95 {
        r(
            "res.memory",
            Status::Pass,
            m("res.memory.ok")
                .arg("have", format!("{mem_gib:.1}"))
                .arg("need", needs.memory_gib),
        )
    } else {
        r(
            "res.memory",
            Status::Fail,
            m("res.memory.low")
                .arg("have", format!("{mem_gib:.1}"))
                .arg("need", needs.memory_gib),
        )
        .hint(m("res.memory.hint"))
    });
    let avail_gib = num(facts, "data.dir.avail.kb").unwrap_or(0.0) / 1024.0 / 1024.0;
    let base = fact(facts, "data.dir.base").to_string();
    let disk_will_hold = ctx.format_data_disk && fact(facts, "disk.present") == "yes";
    out.push(if disk_will_hold {
        let bytes = num(facts, "disk.bytes").unwrap_or(0.0) / 1024.0 / 1024.0 / 1024.0;
        if bytes >= f64::from(needs.data_gib) {
            r(
                "res.data-space",
                Status::Pass,
                m("res.data-space.disk")
                    .arg("have", format!("{bytes:.1}"))
                    .arg("need", needs.data_gib),
            )
        } else {
            r(
                "res.data-space",
                Status::Fail,
                m("res.data-space.disk-small")
                    .arg("have", format!("{bytes:.1}"))
                    .arg("need", needs.data_gib),
            )
        }
    } else if avail_gib >= f64::from(needs.data_gib) {
        r(
            "res.data-space",
            Status::Pass,
            m("res.data-space.ok")
                .arg("have", format!("{avail_gib:.1}"))
                .arg("need", needs.data_gib)
                .arg("dir", &base),
        )
    } else {
        r(
            "res.data-space",
            Status::Fail,
            m("res.data-space.low")
                .arg("have", format!("{avail_gib:.2}"))
                .arg("need", needs.data_gib)
                .arg("dir", &base),
        )
        .hint(m("res.data-space.hint"))
        .fix(format!(
            "du -xsh {}/* | sort -h | tail",
            base.trim_end_matches('/')
        ))
    });
    out.push(match &ctx.data_disk {
        None => r("res.data-disk", Status::Skip, m("res.data-disk.none")),
        Some(disk) if fact(facts, "disk.present") != "yes" => r(
            "res.data-disk",
            Status::Fail,
            m("res.data-disk.missing").arg("disk", disk),
        )
        .hint(m("res.data-disk.missing-hint"))
        .fix("lsblk -d -o NAME,SIZE,TYPE,MOUNTPOINT"),
        Some(disk) => data_disk(ctx, facts, disk),
    });
    out.extend(disk_speed(ctx, facts, &base));
    out
}

/// `res.disk-write` and `res.disk-fsync`: the probe's measurements in the
/// data dir (`base`, its nearest existing parent).
fn disk_speed(ctx: &HostContext, facts: &HashMap<String, String>, base: &str) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();
    let probe_fits = num(facts, "data.dir.avail.kb").is_some_and(|kb| kb >= 8.0 * 1024.0);
    out.push(match num(facts, "disk.write.mb_s") {
        // Too full to write the 8 MiB probe: res.data-space already says so.
        None if !probe_fits => r(
            "res.disk-write",
            Status::Skip,
            m("res.disk-write.no-room").arg("dir", base),
        ),
        None => r(
            "res.disk-write",
            Status::Fail,
            m("res.disk-write.unwritable").arg("dir", base),
        )
        .fix(format!(
            "touch {}/.cdwiz-test && rm {}/.cdwiz-test",
            base, base
        )),
        Some(v) if v < DISK_WRITE_FAIL => r(
            "res.disk-write",
            Status::Fail,
            m("res.disk-write.slow")
                .arg("have", v)
                .arg("need", DISK_WRITE_FAIL),
        ),
        Some(v) if v < DISK_WRITE_WARN => r(
            "res.disk-write",
            Status::Warn,
            m("res.disk-write.slow")
                .arg("have", v)
                .arg("need", DISK_WRITE_WARN),
        ),
        Some(v) => r(
            "res.disk-write",
            Status::Pass,
            m("res.disk-write.ok").arg("have", v),
        ),
    });
    out.push(match num(facts, "disk.fsync.ms") {
        None => r("res.disk-fsync", Status::Skip, m("res.disk-fsync.unknown")),
        Some(v) if v > FSYNC_FAIL_MS => r(
            "res.disk-fsync",
            Status::Fail,
            m("res.disk-fsync.slow")
                .arg("have", v)
                .arg("limit", FSYNC_FAIL_MS),
        ),
        Some(v) if v > FSYNC_WARN_MS => r(
            "res.disk-fsync",
            Status::Warn,
            m("res.disk-fsync.slow")
                .arg("have", v)
                .arg("limit", FSYNC_WARN_MS),
        ),
        Some(v) => r(
            "res.disk-fsync",
            Status::Pass,
            m("res.disk-fsync.ok").arg("have", v),
        ),
    });
    out
}
