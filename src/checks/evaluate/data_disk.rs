//! `res.data-disk`: the data disk judged as `crate::disk` says (blank only
//! when proven so), against what the profile asks of it.

use std::collections::HashMap;

use super::{HostContext, fact};
use crate::checks::{CheckResult, Status};
use crate::i18n::Msg;

/// `res.data-disk` for a disk the probe found: blank only when proven so
/// (see `crate::disk`); anything else that stands in the way names why.
pub(super) fn data_disk(
    ctx: &HostContext,
    facts: &HashMap<String, String>,
    disk: &str,
) -> CheckResult {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let fstype = fact(facts, "disk.fstype");
    let mounted = fact(facts, "disk.mountpoint");
    let id = "res.data-disk";
    match fact(facts, "disk.state") {
        "mounted" if mounted == ctx.data_dir => r(
            id,
            Status::Pass,
            m("res.data-disk.mounted")
                .arg("disk", disk)
                .arg("dir", &ctx.data_dir),
        ),
        "mounted" => r(
            id,
            Status::Fail,
            m("res.data-disk.elsewhere")
                .arg("disk", disk)
                .arg("dir", mounted),
        )
        .hint(m("res.data-disk.elsewhere-hint")),
        "blank" if ctx.format_data_disk => r(
            id,
            Status::Pass,
            m("res.data-disk.blank-format")
                .arg("disk", disk)
                .arg("dir", &ctx.data_dir),
        ),
        "blank" => r(
            id,
            Status::Warn,
            m("res.data-disk.blank-unused").arg("disk", disk),
        )
        .hint(m("res.data-disk.blank-unused-hint")),
        "ours" if ctx.format_data_disk => r(
            id,
            Status::Pass,
            m("res.data-disk.ours")
                .arg("disk", disk)
                .arg("dir", &ctx.data_dir),
        ),
        "fs" if ctx.format_data_disk => r(
            id,
            Status::Fail,
            m("res.data-disk.not-blank")
                .arg("disk", disk)
                .arg("fstype", fstype),
        )
        .hint(m("res.data-disk.not-blank-hint")),
        "fs" | "ours" => r(
            id,
            Status::Warn,
            m("res.data-disk.unmounted")
                .arg("disk", disk)
                .arg("fstype", fstype),
        )
        .fix(format!(
            "mkdir -p {d} && mount {disk} {d}",
            d = ctx.data_dir
        )),
        // busy, unknown, or a probe that said nothing: never taken as blank.
        _ => r(
            id,
            if ctx.format_data_disk {
                Status::Fail
            } else {
                Status::Warn
            },
            crate::disk::reason(disk, fact(facts, "disk.why")),
        )
        .hint(Msg::new("disk.hint"))
        .fix(format!("lsblk {disk}; wipefs --no-act {disk}")),
    }
}
