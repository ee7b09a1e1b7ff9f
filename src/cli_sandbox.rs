//! `cdwiz sandbox …`: the command-line face of the sandbox (plain text).

use anyhow::Context;
use clap::{Args, Subcommand};

use cdwiz::sandbox::{self, Fault, SandboxEvent, SandboxSpec};

#[derive(Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    action: SandboxAction,
    /// Name of the sandbox instance (several can run side by side).
    #[arg(long, global = true, default_value = sandbox::DEFAULT_NAME)]
    name: String,
}

#[derive(Subcommand)]
enum SandboxAction {
    /// Build what is missing and start the hosts (idempotent).
    Up {
        /// Number of hosts.
        #[arg(long, default_value_t = sandbox::DEFAULT_HOSTS)]
        hosts: usize,
        /// The instance's subnet is 10.77.NET.0/24.
        #[arg(long, default_value_t = 0)]
        net: u8,
    },
    /// Remove the hosts, network, loop devices and files of the instance.
    Down,
    /// Show the hosts, their state and how to log in.
    Status,
    /// Put a host into a fault, or `clear` every fault on it.
    ///
    /// Kinds: stop, kill, start, port-taken PORT, fill-data, docker-stopped,
    /// no-docker, hostname NAME, clear.
    Fault {
        /// Host name (node1), address or container name.
        host: String,
        kind: String,
        arg: Option<String>,
    },
}

pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let data_dir = cdwiz::paths::data_dir();
    let docker = cdwiz::docker::connect_local().await?;
    match args.action {
        SandboxAction::Up { hosts, net } => {
            let spec = SandboxSpec {
                name: args.name,
                hosts,
                net,
            };
            let started = std::time::Instant::now();
            let sb = sandbox::up(&docker, &data_dir, &spec, &print_event).await?;
            let bundle =
                sandbox::bundle::ensure_bundle(&sandbox::sandbox_root(&data_dir), &print_event)
                    .await?;
            println!(
                "sandbox `{}` is up: {} hosts in {:.1} s",
                sb.name,
                sb.hosts.len(),
                started.elapsed().as_secs_f64()
            );
            print_status(&docker, &data_dir, &sb.name).await?;
            println!("  product bundle: {}", bundle.dir.display());
            Ok(())
        }
        SandboxAction::Down => {
            let report = sandbox::down(&docker, &data_dir, &args.name).await?;
            println!(
                "sandbox `{}` is down: {} hosts removed{}",
                args.name,
                report.containers,
                if report.network {
                    ", network removed"
                } else {
                    ""
                }
            );
            Ok(())
        }
        SandboxAction::Status => print_status(&docker, &data_dir, &args.name).await,
        SandboxAction::Fault { host, kind, arg } => {
            let fault = Fault::parse(&kind, arg.as_deref()).map_err(anyhow::Error::msg)?;
            let sb = sandbox::load(&data_dir, &args.name)?;
            sandbox::fault::apply(&docker, &sb, &host, &fault)
                .await
                .with_context(|| format!("fault `{fault}` on {host}"))?;
            println!("{host}: {fault} done");
            Ok(())
        }
    }
}

fn print_event(event: SandboxEvent) {
    match event {
        SandboxEvent::BuildingImage { tag } => println!(
            "building host image {tag} from Debian packages (debootstrap, about a minute)…"
        ),
        SandboxEvent::ImageBuilt { tag, secs } => println!("built {tag} in {secs:.0} s"),
        SandboxEvent::HostCreated { host, address } => println!("created {host} at {address}"),
        SandboxEvent::HostStarted { host } => println!("started {host}"),
        SandboxEvent::HostRemoved { host } => println!("removed {host}"),
        SandboxEvent::BuildingBundle { dir } => println!(
            "building the sandbox product bundle in {} (debootstrap, about a minute)…",
            dir.display()
        ),
        SandboxEvent::BundleBuilt { dir, secs } => {
            println!("built the bundle {} in {secs:.0} s", dir.display())
        }
        SandboxEvent::WaitingReady { hosts } => {
            println!("waiting for sshd and Docker on {hosts} hosts…")
        }
    }
}

async fn print_status(
    docker: &bollard::Docker,
    data_dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<()> {
    let (sb, hosts) = sandbox::status(docker, data_dir, name).await?;
    println!(
        "sandbox `{}`: network {} ({}), image {}",
        sb.name,
        sb.network(),
        sb.subnet(),
        sb.image
    );
    println!(
        "  {:<8} {:<14} {:<10} container",
        "host", "address", "state"
    );
    for h in &hosts {
        println!(
            "  {:<8} {:<14} {:<10} {}",
            h.name, h.address, h.state, h.container
        );
    }
    println!("  free for a VIP: {}", sb.vip());
    println!("  nothing answers on: {}", sb.unreachable_address());
    println!(
        "  users: {} (ops: sudo asks for the password; auto: sudo without)",
        sandbox::USERS.join(", ")
    );
    println!("  key: {}", sb.key().display());
    println!(
        "  password: in {} (mode 0600)",
        sb.password_file().display()
    );
    if let Some(first) = hosts.first() {
        println!(
            "  try: ssh -i {} -o UserKnownHostsFile={} root@{}",
            sb.key().display(),
            sb.known_hosts().display(),
            first.address
        );
    }
    Ok(())
}
