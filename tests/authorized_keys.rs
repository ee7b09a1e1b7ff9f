//! A customer's `authorized_keys` survives what cdwiz does to it, on a
//! sandbox host: a file without its final newline keeps the customer's key
//! through a password login (which adds cdwiz's key) and `uninstall` (which
//! takes it away); a full disk under `/root/.ssh` (a tiny tmpfs) never
//! leaves the file empty or cut short, on adding or on removing; a
//! symlinked `authorized_keys` is refused and what it points at untouched.

mod common;

use std::process::Command;

use common::*;

const PASSWORD_ENV: &str = "CDWIZ_TEST_SSH_PASSWORD";
const CUSTOMER: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICustomerCustomerCustomerCustomerCustomer customer@bank";

#[tokio::test(flavor = "multi_thread")]
async fn the_customers_authorized_keys_survive_install_uninstall_and_a_full_disk() {
    let bundle = sandbox_bundle().await;
    let inst = instance("t-akeys", 232, 1).await;
    let sb = &inst.sandbox;
    let password = sb.password().unwrap();
    let container = sb.hosts[0].container.clone();
    let addr = sb.hosts[0].address.clone();
    // As root on the host, through the engine (not through the login the
    // test is about).
    let on_host = |script: &str| {
        let (code, out, err) =
            run_to_end(Command::new("docker").args(["exec", &container, "sh", "-c", script]));
        assert_eq!(code, 0, "`{script}`: {err}");
        out
    };
    let keys = || on_host("cat /root/.ssh/authorized_keys");
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("single.yaml");
    write_single_profile(
        &profile,
        &bundle,
        &addr,
        PASSWORD_ENV,
        ", connect-timeout: 5",
    );
    // Each step from a machine of its own (a data dir of its own): each
    // logs in with the password and adds its own key.
    let cdwiz = |args: &[&str], state: &str| {
        run_to_end(
            Command::new(cdwiz_bin())
                .args(args)
                .arg("--profile")
                .arg(&profile)
                .args(["--non-interactive", "--workdir"])
                .arg(tmp.path().join("work"))
                .env(PASSWORD_ENV, &password)
                .env("CDWIZ_DATA_DIR", tmp.path().join(state)),
        )
    };
    let own_blob = |state: &str| own_key_blob(&tmp.path().join(state));

    // 1. No final newline: cdwiz's key goes on a line of its own, and
    //    uninstall takes exactly that line away.
    on_host(&format!(
        "mkdir -p /root/.ssh && chmod 700 /root/.ssh && printf '%s' {} > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
        shell_quote(&format!("# the bank's\n{CUSTOMER}"))
    ));
    let (code, out, err) = cdwiz(&["--dry-run"], "a");
    assert_eq!(code, 0, "the login by cdwiz's key works:\n{out}{err}");
    let text = keys();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], ["# the bank's", CUSTOMER], "{text}");
    // Bound to this machine's address as the host sees it (the sandbox
    // net's gateway).
    let (_, gateway, err) = run_to_end(Command::new("docker").args([
        "network",
        "inspect",
        "t-akeys-net",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
    ]));
    let gateway = gateway.trim();
    assert!(!gateway.is_empty(), "{err}");
    assert!(
        lines.len() == 3
            && lines[2].starts_with(&format!(
                "restrict,port-forwarding,from=\"{gateway}\" ssh-ed25519 "
            )),
        "{text}"
    );
    assert!(lines[2].contains(&own_blob("a")), "{text}");
    // The same key from another address (the host itself) is refused.
    let pair = std::fs::read_dir(tmp.path().join("a/keys"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("id_ed25519"))
        .find(|p| p.is_file())
        .unwrap();
    let (code, _, err) = run_to_end(
        Command::new("docker")
            .arg("cp")
            .arg(&pair)
            .arg(format!("{container}:/root/cdwiz-key")),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_to_end(Command::new("docker").args([
        "exec",
        &container,
        "sh",
        "-c",
        &format!(
            "chmod 600 /root/cdwiz-key && ssh -o BatchMode=yes -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -i /root/cdwiz-key root@{addr} true; \
             c=$?; rm -f /root/cdwiz-key; exit $c"
        ),
    ]));
    assert_ne!(code, 0, "the key served another address: {out}");
    assert!(err.contains("Permission denied"), "{err}");
    let (code, out, err) = cdwiz(&["uninstall"], "a");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(keys(), format!("# the bank's\n{CUSTOMER}\n"));

    // 2. A full disk under /root/.ssh: adding fails and says so, the file
    //    is as it was, nothing is left beside it.
    on_host(
        "mount -t tmpfs -o size=16k tmpfs /root/.ssh && chmod 700 /root/.ssh && \
         cp /dev/null /root/.ssh/authorized_keys",
    );
    on_host(&format!(
        "printf '%s\\n' {} > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys && \
         (dd if=/dev/zero of=/root/.ssh/fill bs=1k count=64 2>/dev/null; true)",
        shell_quote(CUSTOMER)
    ));
    let before = keys();
    let (code, out, err) = cdwiz(&["--dry-run"], "b");
    assert_ne!(code, 0, "a full disk, and the key went in?\n{out}{err}");
    assert_eq!(keys(), before, "the file changed on a full disk");
    let listed = on_host("ls -A /root/.ssh");
    assert_eq!(
        listed.split_whitespace().count(),
        2,
        "left beside it:\n{listed}"
    );
    // With room again cdwiz's key goes in; full again, uninstall cannot
    // take it away and the file stays whole.
    on_host("rm -f /root/.ssh/fill");
    let (code, out, err) = cdwiz(&["--dry-run"], "b");
    assert_eq!(code, 0, "{out}{err}");
    let with_ours = keys();
    assert!(with_ours.contains(&own_blob("b")), "{with_ours}");
    on_host("dd if=/dev/zero of=/root/.ssh/fill bs=1k count=64 2>/dev/null; true");
    let (code, out, err) = cdwiz(&["uninstall"], "b");
    assert_ne!(code, 0, "{out}{err}");
    assert_eq!(keys(), with_ours, "uninstall on a full disk cut the file");
    on_host("rm -f /root/.ssh/fill");
    let (code, out, err) = cdwiz(&["uninstall"], "b");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(keys(), format!("{CUSTOMER}\n"));
    on_host("umount /root/.ssh");

    // 3. A symlinked authorized_keys: refused, named, what it points at
    //    untouched.
    on_host(&format!(
        "printf '%s\\n' {} > /root/elsewhere && rm -f /root/.ssh/authorized_keys && \
         ln -s /root/elsewhere /root/.ssh/authorized_keys",
        shell_quote(CUSTOMER)
    ));
    let (code, out, err) = cdwiz(&["--dry-run"], "c");
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        (out.clone() + &err).contains("symbolic link"),
        "the refusal names the link:\n{out}{err}"
    );
    assert_eq!(on_host("cat /root/elsewhere"), format!("{CUSTOMER}\n"));
    assert_eq!(
        on_host("readlink /root/.ssh/authorized_keys").trim(),
        "/root/elsewhere"
    );
    on_host("rm -f /root/.ssh/authorized_keys /root/elsewhere");
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
