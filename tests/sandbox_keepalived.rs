//! keepalived floats a VIP over three sandbox hosts, and the VIP moves when
//! the host holding it stops: the sandbox can carry HA tests.

mod common;

use std::time::Duration;

use cdwiz::sandbox::{Fault, fault};
use common::*;

async fn holders(sb: &cdwiz::sandbox::Sandbox, vip: &str, alive: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    for &i in alive {
        let addrs = sh_ok(sb, i, "ip -4 -o addr show dev eth0").await;
        if addrs.contains(&format!(" {vip}/")) {
            out.push(i);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn vip_moves_when_the_master_host_stops() {
    let inst = instance("t-vip", 203, 3).await;
    let sb = &inst.sandbox;
    let vip = sb.vip();
    for (i, host) in sb.hosts.iter().enumerate() {
        // Unicast VRRP: Docker's isolation rules for an internal network drop
        // multicast (224.0.0.18), as many customer and cloud networks do too.
        let peers: String = sb
            .hosts
            .iter()
            .filter(|p| p.address != host.address)
            .map(|p| format!("    {}\n", p.address))
            .collect();
        let conf = format!(
            "vrrp_instance CDWIZ {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority {}\n  advert_int 1\n  unicast_src_ip {}\n  unicast_peer {{\n{peers}  }}\n  \
             virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n",
            150 - 10 * i,
            host.address
        );
        let script = format!(
            "mkdir -p /etc/keepalived && printf '%s' {} > /etc/keepalived/keepalived.conf && \
             keepalived -f /etc/keepalived/keepalived.conf -p /run/keepalived.pid \
             -r /run/keepalived-vrrp.pid && echo started",
            cdwiz::ssh::quote(&conf)
        );
        assert_eq!(sh_ok(sb, i, &script).await, "started", "{}", host.name);
    }
    let all = [0, 1, 2];
    let elected = eventually(Duration::from_secs(20), || async {
        holders(sb, &vip, &all).await.len() == 1
    })
    .await;
    assert!(elected.is_some(), "no single host took the VIP");
    let master = holders(sb, &vip, &all).await[0];
    assert_eq!(master, 0, "node1 has the highest priority");
    assert!(
        tcp_answers(&vip, 22).await,
        "the VIP answers from this machine"
    );

    fault::apply(&inst.docker, sb, &sb.hosts[master].name, &Fault::Stop)
        .await
        .unwrap();
    let rest: Vec<usize> = all.iter().copied().filter(|i| *i != master).collect();
    let moved = eventually(Duration::from_secs(15), || async {
        holders(sb, &vip, &rest).await.len() == 1
    })
    .await;
    let moved = moved.expect("the VIP did not move to a backup within 15 s");
    eprintln!(
        "VIP moved {:.1} s after the master stopped",
        moved.as_secs_f64()
    );
    assert_eq!(
        holders(sb, &vip, &rest).await,
        vec![1],
        "node2 is next in priority"
    );
    assert!(
        eventually(Duration::from_secs(10), || tcp_answers(&vip, 22))
            .await
            .is_some(),
        "the VIP answers again from this machine"
    );
}
