//! Host preparation as shell scripts that check before they act and print
//! `changed` when they did something: the data disk (format, mount, fstab;
//! only a blank disk, only when the profile asks), the kernel settings the
//! product needs, the cluster's names in /etc/hosts, the directories.

use std::collections::BTreeMap;

use crate::ssh::quote;

/// The label cdwiz gives a data disk it formatted; a disk with it is
/// recognised as cdwiz's own on a later run.
pub const DISK_LABEL: &str = "cdwiz-data";

/// Exit codes of the disk script, for its messages.
pub const DISK_NOT_BLOCK: i32 = 10;
pub const DISK_NOT_BLANK: i32 = 11;
pub const DISK_FOREIGN_FS: i32 = 12;
pub const DIR_NOT_EMPTY: i32 = 13;
pub const DISK_ELSEWHERE: i32 = 14;

/// Formats `disk` (only when it is proven blank, see [`crate::disk`]) and
/// mounts it on `dir`, with an fstab entry; a disk cdwiz formatted before
/// is only mounted. On refusal the last stderr line is `cdwiz-disk: WHY`.
pub fn data_disk_script(disk: &str, dir: &str) -> String {
    format!(
        r#"d={d}; m={m}; label={label}
{state}
disk_state "$d"
case $ds_state in
  missing) echo "cdwiz-disk: $ds_why" >&2; exit {not_block} ;;
  mounted)
    if awk -v mm="$ds_mm" -v m="$m" '$3 == mm && $5 == m {{ f = 1 }} END {{ exit !f }}' /proc/self/mountinfo; then
      echo unchanged; exit 0
    fi
    echo "cdwiz-disk: mounted:$ds_mnt" >&2; exit {elsewhere} ;;
  blank)
    echo "formatting $d (ext4, label $label)"
    mkfs.ext4 -q -F -L "$label" "$d" || exit 1
    fs=ext4 ;;
  ours) fs=$ds_fs ;;
  fs) echo "cdwiz-disk: fs:$ds_fs" >&2; exit {foreign} ;;
  *) echo "cdwiz-disk: $ds_why" >&2; exit {not_blank} ;;
esac
mkdir -p "$m"
if [ -n "$(ls -A "$m" 2>/dev/null | grep -v '^lost+found$')" ]; then
  echo "$m already holds files; mounting $d there would hide them" >&2; exit {not_empty}
fi
echo "mounting $d on $m"
mount "$d" "$m" || exit 1
uuid=$(blkid -o value -s UUID "$d")
if [ -n "$uuid" ] && ! grep -q "^UUID=$uuid " /etc/fstab 2>/dev/null; then
  echo "UUID=$uuid $m $fs defaults,nofail 0 2" >> /etc/fstab
  echo "added UUID=$uuid to /etc/fstab"
fi
echo changed"#,
        d = quote(disk),
        m = quote(dir),
        label = DISK_LABEL,
        state = crate::disk::STATE_SCRIPT,
        not_block = DISK_NOT_BLOCK,
        not_blank = DISK_NOT_BLANK,
        foreign = DISK_FOREIGN_FS,
        not_empty = DIR_NOT_EMPTY,
        elsewhere = DISK_ELSEWHERE,
    )
}

/// The problem for a failed disk script (what is wrong and what to do), by
/// its exit code and last stderr line.
pub fn data_disk_problem(code: i32, disk: &str, dir: &str, last: &str) -> crate::i18n::Msg {
    let why = last.strip_prefix("cdwiz-disk: ").unwrap_or(last);
    if code == DISK_NOT_BLANK {
        return crate::disk::reason(disk, why);
    }
    let detail = why
        .strip_prefix("mounted:")
        .or_else(|| why.strip_prefix("fs:"))
        .unwrap_or(why);
    crate::i18n::Msg::new(data_disk_message(code))
        .arg("disk", disk)
        .arg("dir", dir)
        .arg("detail", detail)
}

/// The catalogue message for a failed disk script, by its exit code.
fn data_disk_message(code: i32) -> &'static str {
    match code {
        DISK_NOT_BLOCK => "deploy.error.disk-not-block",
        DISK_NOT_BLANK => "deploy.error.disk-not-blank",
        DISK_FOREIGN_FS => "deploy.error.disk-foreign",
        DIR_NOT_EMPTY => "deploy.error.disk-dir-not-empty",
        DISK_ELSEWHERE => "deploy.error.disk-elsewhere",
        _ => "deploy.error.disk-other",
    }
}

/// Raises the kernel settings below their minimum, now and at boot.
pub fn sysctl_script(wanted: &BTreeMap<String, u64>) -> String {
    let mut s = String::from("changed=no\n");
    for (key, min) in wanted {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        s.push_str(&format!(
            "v=$(cat {p} 2>/dev/null || echo 0); v=${{v%%[!0-9]*}}; \
             if [ \"${{v:-0}}\" -lt {min} ]; then sysctl -q -w {kv} || exit 1; echo \"set {key} = {min} (was $v)\"; changed=yes; fi\n",
            p = quote(&path),
            kv = quote(&format!("{key}={min}")),
        ));
        s.push_str(&format!(
            "f=/etc/sysctl.d/90-cdwiz.conf; grep -qx {line} \"$f\" 2>/dev/null || {{ echo {line} >> \"$f\"; changed=yes; }}\n",
            line = quote(&format!("{key} = {min}")),
        ));
    }
    s.push_str("[ $changed = yes ] && echo changed || echo unchanged\n");
    s
}

/// The `address name` lines of the cdwiz block in /etc/hosts. Names come
/// from the hosts themselves: only a valid host name goes into the file (a
/// newline would add an entry of the host's choosing).
pub fn hosts_block(entries: &[(String, String)]) -> String {
    entries
        .iter()
        .filter(|(a, name)| crate::pattern::hostname(name) && a.parse::<std::net::IpAddr>().is_ok())
        .map(|(a, n)| format!("{a} {n}\n"))
        .collect()
}

/// How a host's cdwiz block in /etc/hosts (`have`, its lines) differs from
/// `want` (see [`hosts_block`]): the lines it lacks, and the lines it has
/// for an address `want` gives another name or no longer lists. Lines of
/// `unknown` addresses (hosts whose name could not be asked) are not judged.
pub fn hosts_block_drift(want: &str, have: &str, unknown: &[String]) -> (Vec<String>, Vec<String>) {
    let want: Vec<&str> = want.lines().filter(|l| !l.is_empty()).collect();
    let have: Vec<&str> = have.lines().filter(|l| !l.is_empty()).collect();
    let missing = want
        .iter()
        .filter(|l| !have.contains(l))
        .map(|l| l.to_string())
        .collect();
    let extra = have
        .iter()
        .filter(|l| !want.contains(l))
        .filter(|l| {
            let addr = l.split_whitespace().next().unwrap_or_default();
            !unknown.iter().any(|u| u == addr)
        })
        .map(|l| l.to_string())
        .collect();
    (missing, extra)
}

/// Keeps a block of `address name` lines in /etc/hosts between markers
/// (see [`replace_etc_hosts`] for how the file is replaced).
pub fn hosts_file_script(entries: &[(String, String)]) -> String {
    let block = hosts_block(entries);
    format!(
        "want=$(printf '%s' {block}); \
         have=$(sed -n '/^# cdwiz begin$/,/^# cdwiz end$/p' /etc/hosts | sed '1d;$d'); \
         if [ \"$want\" = \"$have\" ]; then echo unchanged; exit 0; fi; \
         {replace} && echo changed",
        block = quote(block.trim_end()),
        replace = replace_etc_hosts(
            "sed '/^# cdwiz begin$/,/^# cdwiz end$/d' /etc/hosts && echo '# cdwiz begin' && \
             printf '%s\\n' \"$want\" && echo '# cdwiz end'"
        ),
    )
}

/// A shell command that replaces /etc/hosts with what `content` (a shell
/// command list) prints, never leaving it truncated: the new file is
/// written beside it (`/etc/hosts.cdwiz.*`, every step checked) and renamed
/// over it. Where /etc/hosts is a mount point (a container's, which Docker
/// bind-mounts) and cannot be renamed over, the old file is copied aside
/// first and the new content written in place and compared; on a failure
/// the old content is put back and the copies are kept, named.
pub fn replace_etc_hosts(content: &str) -> String {
    format!(
        "{{ n=$(mktemp /etc/hosts.cdwiz.XXXXXX) || exit 1; \
         if ! {{ {content}; }} > \"$n\"; then rm -f \"$n\"; echo 'cdwiz: cannot write the new /etc/hosts beside it (disk full?); it is unchanged' >&2; exit 1; fi; \
         chown --reference=/etc/hosts \"$n\" 2>/dev/null; chmod --reference=/etc/hosts \"$n\" 2>/dev/null || chmod 644 \"$n\"; \
         if ! mv -f \"$n\" /etc/hosts 2>/dev/null; then \
           o=\"$n.before\"; \
           if ! cp /etc/hosts \"$o\"; then rm -f \"$n\" \"$o\"; echo 'cdwiz: cannot copy /etc/hosts aside (disk full?); it is unchanged' >&2; exit 1; fi; \
           if cat \"$n\" > /etc/hosts && cmp -s \"$n\" /etc/hosts; then rm -f \"$n\" \"$o\"; \
           else cat \"$o\" > /etc/hosts; echo \"cdwiz: /etc/hosts could not be rewritten; its old content is in $o, the new in $n\" >&2; exit 1; fi; \
         fi; }}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .args(["-c", script])
            .output()
            .unwrap()
    }

    #[test]
    fn sysctl_script_is_valid_shell_and_names_each_setting() {
        let s = sysctl_script(&BTreeMap::from([("vm.max_map_count".into(), 262_144)]));
        assert!(s.contains("/proc/sys/vm/max_map_count"));
        assert!(s.contains("vm.max_map_count = 262144"));
        assert!(sh(&format!("set -n\n{s}")).status.success());
        assert!(
            sh(&format!(
                "set -n\n{}",
                data_disk_script("/dev/vdb", "/data")
            ))
            .status
            .success()
        );
    }

    #[test]
    fn a_hosts_block_drifts_by_missing_and_foreign_lines_but_not_unknown_hosts() {
        let want = "10.0.0.1 cd-1\n10.0.0.2 cd-2\n";
        assert_eq!(hosts_block_drift(want, want, &[]), (vec![], vec![]));
        let have = "10.0.0.1 cd-1\n10.0.0.2 old-name\n10.0.0.3 cd-3\n10.0.0.4 gone\n";
        let (missing, extra) = hosts_block_drift(want, have, &["10.0.0.3".into()]);
        assert_eq!(missing, ["10.0.0.2 cd-2"]);
        assert_eq!(extra, ["10.0.0.2 old-name", "10.0.0.4 gone"]);
    }

    #[test]
    fn hosts_block_is_replaced_not_appended() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("hosts");
        std::fs::write(&f, "127.0.0.1 localhost\n").unwrap();
        let entries = vec![
            ("10.0.0.1".to_string(), "cd-1".to_string()),
            ("10.0.0.2".to_string(), "cd-2".to_string()),
        ];
        let script = hosts_file_script(&entries).replace("/etc/hosts", &f.display().to_string());
        let out = |o: std::process::Output| String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert_eq!(out(sh(&script)), "changed");
        assert_eq!(out(sh(&script)), "unchanged");
        let forged = vec![
            ("10.0.0.1".to_string(), "cd-1".to_string()),
            ("10.0.0.2".to_string(), "cd-2".to_string()),
            (
                "10.0.0.3".to_string(),
                "x\n203.0.113.9 registry".to_string(),
            ),
        ];
        let forged = hosts_file_script(&forged).replace("/etc/hosts", &f.display().to_string());
        assert_eq!(out(sh(&forged)), "unchanged");
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(
            text,
            "127.0.0.1 localhost\n# cdwiz begin\n10.0.0.1 cd-1\n10.0.0.2 cd-2\n# cdwiz end\n"
        );
        // Written beside and renamed: nothing left beside it. (Where it
        // cannot be renamed over, a container's bind-mounted /etc/hosts,
        // every sandbox deploy writes it in place from the complete copy.)
        let beside: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(beside.len(), 1, "{beside:?}");
    }
}
