//! OS: the distribution, the kernel, the architecture.

use std::collections::HashMap;

use super::*;

pub(super) fn check(ctx: &HostContext, facts: &HashMap<String, String>) -> Vec<CheckResult> {
    let h = Some(ctx.address.as_str());
    let r = |id, status, detail| CheckResult::new(id, h, status, detail);
    let m = |key: &str| Msg::new(format!("check.{key}"));
    let mut out = Vec::new();

    let d = host_distro(facts);
    let ver = d.version_id.to_ascii_lowercase();
    let supported = SUPPORTED_OS.iter().any(|(i, vs)| {
        *i == d.id
            && vs
                .iter()
                .any(|v| ver == *v || ver.starts_with(&format!("{v}.")))
    });
    let name = if d.name.is_empty() {
        "?"
    } else {
        d.name.as_str()
    };
    out.push(if supported {
        r(
            "os.distribution",
            Status::Pass,
            m("os.distribution.ok").arg("os", name),
        )
    } else {
        r(
            "os.distribution",
            Status::Warn,
            m("os.distribution.unknown").arg("os", name),
        )
        .hint(m("os.distribution.hint"))
    });
    let kernel = fact(facts, "kernel");
    out.push(if !version_at_least(kernel, "3.10") {
        r(
            "os.kernel",
            Status::Fail,
            m("os.kernel.old").arg("kernel", kernel).arg("need", "3.10"),
        )
        .hint(m("os.kernel.hint"))
    } else if !version_at_least(kernel, "4.0") && !kernel.contains("el7") {
        r(
            "os.kernel",
            Status::Warn,
            m("os.kernel.overlay").arg("kernel", kernel),
        )
        .hint(m("os.kernel.hint"))
    } else {
        r(
            "os.kernel",
            Status::Pass,
            m("os.kernel.ok").arg("kernel", kernel),
        )
    });
    let arch = fact(facts, "arch");
    let arch = crate::bundle::build::normalize_arch(arch).unwrap_or(arch);
    out.push(
        if let Some(declared) = ctx.declared_arch.as_ref().filter(|d| *d != arch) {
            r(
                "os.arch",
                Status::Fail,
                m("os.arch.declared")
                    .arg("arch", arch)
                    .arg("declared", declared),
            )
            .hint(m("os.arch.declared-hint"))
        } else if ctx.architectures.iter().any(|a| a == arch) {
            r("os.arch", Status::Pass, m("os.arch.ok").arg("arch", arch))
        } else {
            r(
                "os.arch",
                Status::Fail,
                m("os.arch.missing")
                    .arg("arch", arch)
                    .arg("bundle", ctx.architectures.join(", ")),
            )
            .hint(m("os.arch.hint"))
        },
    );
    out
}
