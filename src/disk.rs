//! What a data disk holds, judged the same way by the checks and by deploy:
//! one shell function (`assets/checks/disk-state.sh`) that fails closed, and
//! the sentence for each reason a disk is not blank.

use crate::i18n::Msg;

/// Defines `disk_state DEV` for a host's shell (see the script's header).
pub const STATE_SCRIPT: &str = include_str!("../assets/checks/disk-state.sh");

/// The sentence for `why` (`code[:detail]`, as `disk_state` sets it): what
/// makes `disk` not provably blank.
pub fn reason(disk: &str, why: &str) -> Msg {
    let (code, detail) = why.split_once(':').unwrap_or((why, ""));
    let key = match code {
        "not-block" | "swap" | "holders" | "partitions" | "pttype" | "signature"
        | "data-first-mib" | "data-last-mib" | "read-error" | "no-blkid" => code,
        _ => "unknown",
    };
    let detail = if key == "unknown" && detail.is_empty() {
        why
    } else {
        detail
    };
    Msg::new(format!("disk.why.{key}"))
        .arg("disk", disk)
        .arg("detail", detail)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_reason_has_a_sentence_naming_the_disk() {
        for why in [
            "not-block",
            "swap",
            "holders:dm-0",
            "partitions:vdb1 vdb2",
            "pttype:gpt",
            "signature:LVM2_member",
            "data-first-mib",
            "data-last-mib",
            "read-error",
            "no-blkid",
            "unknown:stat",
            "something new",
        ] {
            for locale in ["en", "zh-CN"] {
                let text = super::reason("/dev/vdb", why).render(locale);
                assert!(
                    text.contains("/dev/vdb") && !text.contains("%{"),
                    "{why}: {text}"
                );
            }
        }
    }

    #[test]
    fn the_state_function_is_valid_shell() {
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", super::STATE_SCRIPT])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
