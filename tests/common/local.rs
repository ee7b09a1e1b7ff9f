//! What a test's cdwiz has on this machine: the profiles it is given (one
//! host alone, or masters behind a VIP or a load balancer, every login root
//! by a password in the environment) and the key pairs it makes.

use std::path::Path;

/// A `single` profile at `path`: `addr` as master and worker, root by the
/// password in the environment variable `password_env`; `ssh_extra` goes
/// into the `ssh` map as it is (`, connect-timeout: 5`, or nothing).
pub fn write_single_profile(
    path: &Path,
    bundle: &Path,
    addr: &str,
    password_env: &str,
    ssh_extra: &str,
) {
    std::fs::write(
        path,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ kind: single }}\n\
             ssh: {{ user: root, auth: password, password-env: {password_env}{ssh_extra} }}\n\
             hosts:\n  - {{ address: {addr}, roles: [master, worker] }}\n",
            bundle.display()
        ),
    )
    .unwrap();
}

/// An `ha-lb` profile at `path`: every host a master behind the load
/// balancer `lb:lb_port`, root by the password in `password_env`.
pub fn write_lb_profile(
    path: &Path,
    bundle: &Path,
    (lb, lb_port): (&str, u16),
    hosts: &[&str],
    password_env: &str,
) {
    write_profile(
        path,
        bundle,
        &format!("kind: ha-lb, lb-address: {lb}, lb-port: {lb_port}"),
        hosts,
        password_env,
    );
}

/// A profile at `path` of the topology `topology` (the inside of its map)
/// with every host a master, root by the password in `password_env`.
fn write_profile(path: &Path, bundle: &Path, topology: &str, hosts: &[&str], password_env: &str) {
    let hosts: String = hosts
        .iter()
        .map(|a| format!("  - {{ address: {a}, roles: [master] }}\n"))
        .collect();
    std::fs::write(
        path,
        format!(
            "version: 1\nbundle: {}\ntopology: {{ {topology} }}\n\
             ssh: {{ user: root, auth: password, password-env: {password_env} }}\n\
             hosts:\n{hosts}",
            bundle.display()
        ),
    )
    .unwrap();
}

/// An `ha-keepalived` profile at `path`: every host a master, root by the
/// password in the environment variable `password_env`.
pub fn write_ha_profile(
    path: &Path,
    bundle: &Path,
    vip: &str,
    hosts: &[&str],
    router_id: u8,
    password_env: &str,
) {
    let topology =
        format!("kind: ha-keepalived, vip: {vip}, interface: eth0, virtual-router-id: {router_id}");
    write_profile(path, bundle, &topology, hosts, password_env);
}

/// `type blob` of cdwiz's own public key under the data dir `state`: the
/// pair of its one installation (`keys/<id>/id_ed25519.pub`).
pub fn own_key_blob(state: &Path) -> String {
    let pairs: Vec<_> = std::fs::read_dir(state.join("keys"))
        .unwrap_or_else(|e| panic!("{}: {e}", state.join("keys").display()))
        .flatten()
        .map(|e| e.path().join("id_ed25519.pub"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(pairs.len(), 1, "one installation's key pair: {pairs:?}");
    let text = std::fs::read_to_string(&pairs[0]).unwrap();
    text.split_whitespace().nth(1).unwrap().to_string()
}

/// The checks of a run's JSON lines that did not pass (id, host, why), for
/// a failure's message.
pub fn not_passed(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|v| v["event"] == "check" && (v["status"] == "fail" || v["status"] == "warn"))
        .map(|v| format!("{} {} {} {}", v["status"], v["id"], v["host"], v["message"]))
        .collect()
}
