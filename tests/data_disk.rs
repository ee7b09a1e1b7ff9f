//! The data disk is formatted only when it is proven blank: a disk with a
//! partition table, one with an LVM signature and one mounted through
//! another name are each refused with the reason, by the checks and by
//! deploy itself (a waived check does not make a disk blank); a blank disk
//! is formatted and mounted.

mod common;

use common::*;
use serde_json::Value;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";

/// An LVM2 physical volume label (sector 1) with the checksum LVM and
/// blkid verify: what `pvcreate` writes first.
fn lvm_label() -> Vec<u8> {
    const T: [u32; 16] = [
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158,
        0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4,
        0xa00ae278, 0xbdbdf21c,
    ];
    let mut s = vec![0u8; 512];
    s[0..8].copy_from_slice(b"LABELONE");
    s[8..16].copy_from_slice(&1u64.to_le_bytes());
    s[20..24].copy_from_slice(&32u32.to_le_bytes());
    s[24..32].copy_from_slice(b"LVM2 001");
    s[32..64].copy_from_slice(b"abcdefghijklmnopqrstuvwxyz012345");
    s[64..72].copy_from_slice(&(2u64 << 30).to_le_bytes());
    let mut crc: u32 = 0xf597a6cf;
    for b in &s[20..] {
        crc ^= u32::from(*b);
        crc = (crc >> 4) ^ T[(crc & 0xf) as usize];
        crc = (crc >> 4) ^ T[(crc & 0xf) as usize];
    }
    s[16..20].copy_from_slice(&crc.to_le_bytes());
    s
}

/// `printf` arguments writing `bytes` exactly.
fn printf_bytes(bytes: &[u8]) -> String {
    let body: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
    format!("printf '{body}'")
}

const RESET: &str = "umount /mnt/elsewhere 2>/dev/null; umount /data 2>/dev/null; \
    rm -f /dev/disk/by-id/virtio-cdwiz-data; sed -i '/ \\/data ext4 /d' /etc/fstab; \
    dd if=/dev/zero of=/dev/vdb bs=1M count=4 conv=fsync 2>/dev/null; rm -rf /data/*";

#[tokio::test(flavor = "multi_thread")]
async fn only_a_blank_data_disk_is_formatted() {
    let inst = instance("t-disk", 220, 1).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let bundle = sandbox_bundle().await;
    let tmp = tempfile::tempdir().unwrap();
    let (work, state) = (tmp.path().join("work"), tmp.path().join("state"));
    let addr = sb.hosts[0].address.clone();
    let profile = tmp.path().join("disk.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
             ssh: {{ user: root, auth: password, password-env: {PASSWORD_ENV} }}\n\
             hosts:\n  - {{ address: {addr}, roles: [master], data-disk: /dev/vdb, format-data-disk: true }}\n",
            bundle.display()
        ),
    )
    .unwrap();
    let run = Run {
        profile: &profile,
        work: &work,
        state: &state,
        password: (PASSWORD_ENV, &password),
    };
    let check = |lines: &[Value]| -> Value {
        lines
            .iter()
            .find(|l| l["event"] == "check" && l["id"] == "res.data-disk")
            .cloned()
            .expect("a res.data-disk result")
    };

    let mbr = "printf '\\000\\040\\041\\000\\203\\020\\040\\001\\000\\010\\000\\000\\000\\120\\000\\000' \
               | dd of=/dev/vdb bs=1 seek=446 conv=notrunc,fsync 2>/dev/null && \
               printf '\\125\\252' | dd of=/dev/vdb bs=1 seek=510 conv=notrunc,fsync 2>/dev/null";
    let lvm = format!(
        "{} | dd of=/dev/vdb bs=512 seek=1 conv=notrunc,fsync 2>/dev/null",
        printf_bytes(&lvm_label())
    );
    // Another name for the same device (as /dev/disk/by-id gives), mounted
    // through that name: /proc/mounts does not say /dev/vdb.
    let by_id = "mkfs.ext4 -q -F -L other /dev/vdb && mkdir -p /dev/disk/by-id /mnt/elsewhere && \
                 mknod /dev/disk/by-id/virtio-cdwiz-data b $(stat -c '0x%t 0x%T' /dev/vdb) && \
                 mount /dev/disk/by-id/virtio-cdwiz-data /mnt/elsewhere && \
                 ! grep -q '^/dev/vdb ' /proc/mounts";
    let cases = [
        (
            "partition table",
            mbr.to_string(),
            "holds a partition table (dos)",
        ),
        ("LVM signature", lvm, "holds a LVM2_member signature"),
        (
            "mounted by id",
            by_id.to_string(),
            "is mounted on /mnt/elsewhere",
        ),
    ];
    for (case, setup, reason) in cases {
        sh_ok(sb, 0, RESET).await;
        sh_ok(sb, 0, &setup).await;
        // The checks refuse it, naming why.
        let (code, lines, err) = run.start(&["--dry-run"]).finish();
        assert_eq!(code, 3, "{case}: {err}");
        let r = check(&lines);
        assert_eq!(r["status"], "fail", "{case}: {r}");
        assert!(
            r["message"].as_str().unwrap().contains(reason),
            "{case}: {r}"
        );
        // Deploy, the check waived, refuses it too and formats nothing.
        let before = sh_ok(sb, 0, "od -An -tx1 -N 4096 /dev/vdb | md5sum").await;
        let (code, lines, err) = run
            .start(&[
                "--accept-check",
                "res.data-disk=testing deploy's own judgement",
            ])
            .finish();
        assert_eq!(code, 4, "{case}: {err}");
        let failed = lines
            .iter()
            .find(|l| is_step(l, &addr, "prepare", &["failed"]))
            .unwrap_or_else(|| panic!("{case}: no failed prepare step: {lines:?}"));
        assert!(failed.to_string().contains(reason), "{case}: {failed}");
        assert_eq!(
            sh_ok(sb, 0, "od -An -tx1 -N 4096 /dev/vdb | md5sum").await,
            before,
            "{case}: the disk was written"
        );
    }

    // Blank: checked as such, formatted, mounted, in fstab.
    sh_ok(sb, 0, RESET).await;
    let (code, lines, err) = run.start(&["--dry-run"]).finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(check(&lines)["status"], "pass");
    let (code, lines, err) = run.start(&[]).finish();
    assert_eq!(code, 0, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| is_step(l, &addr, "prepare", &["changed"]))
    );
    assert_eq!(
        sh_ok(
            sb,
            0,
            "blkid -o value -s LABEL /dev/vdb; findmnt -n -o TARGET /data"
        )
        .await,
        "cdwiz-data\n/data"
    );
}
