//! `cdwiz sandbox …`: the command-line face of the sandbox (plain text).

use anyhow::Context;
use clap::{Args, Subcommand};

use cdwiz::i18n::{Msg, pad, text};
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
        /// The hosts' architectures, dealt to them in turn (amd64, arm64).
        #[arg(long, value_delimiter = ',', default_value = "amd64")]
        arch: Vec<String>,
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

/// A failed sandbox command's error in the operator's language: cdwiz's own
/// sentences from the catalogue, a tool's or the engine's words quoted.
pub fn error_lines(e: &anyhow::Error, locale: &str) -> Vec<String> {
    if let Some(se) = e.downcast_ref::<sandbox::SandboxError>() {
        return se.lines().iter().map(|m| m.render(locale)).collect();
    }
    if let Some(de) = e.downcast_ref::<cdwiz::docker::DockerError>() {
        return vec![sandbox::docker_msg(de).render(locale)];
    }
    vec![format!("{e:#}")]
}

pub async fn run(args: SandboxArgs, locale: &str) -> anyhow::Result<()> {
    let say = |m: Msg| println!("{}", m.render(locale));
    let progress = |e: SandboxEvent| print_event(e, locale);
    let data_dir = cdwiz::paths::data_dir();
    let docker = cdwiz::docker::connect_local().await?;
    match args.action {
        SandboxAction::Up { hosts, net, arch } => {
            let spec = SandboxSpec {
                name: args.name,
                hosts,
                net,
                arches: arch,
            };
            spec.check()?;
            let started = std::time::Instant::now();
            // The host image and the product bundle are built side by side
            // (each mostly waits on the Debian mirror and the disk).
            let root = sandbox::sandbox_root(&data_dir);
            let (sb, bundle) = tokio::join!(
                sandbox::up(&docker, &data_dir, &spec, &progress),
                sandbox::bundle::ensure_bundle(&docker, &root, &progress),
            );
            let (sb, mut bundle) = (sb?, bundle?);
            // Hosts of another architecture need its archive too.
            if spec.arches.iter().any(|a| a != "amd64") {
                bundle =
                    sandbox::bundle::ensure_multiarch_bundle(&docker, &root, &progress).await?;
            }
            say(Msg::new("sandbox.up")
                .arg("name", &sb.name)
                .arg("hosts", sb.hosts.len())
                .arg("secs", format!("{:.1}", started.elapsed().as_secs_f64())));
            print_status(&docker, &data_dir, &sb.name, locale).await?;
            say(Msg::new("sandbox.bundle").arg("dir", bundle.dir.display()));
            Ok(())
        }
        SandboxAction::Down => {
            let report = sandbox::down(&docker, &data_dir, &args.name).await?;
            say(Msg::new(if report.network {
                "sandbox.down-network"
            } else {
                "sandbox.down"
            })
            .arg("name", &args.name)
            .arg("hosts", report.containers));
            Ok(())
        }
        SandboxAction::Status => match sandbox::load(&data_dir, &args.name) {
            // Nothing up is an answer, not an error (exit 0): which
            // instances are up instead, and how to start this one.
            Err(sandbox::SandboxError::NoInstance(_)) => {
                say(Msg::new("sandbox.status-none").arg("name", &args.name));
                let others = sandbox::instances(&data_dir);
                if !others.is_empty() {
                    say(Msg::new("sandbox.status-others").arg("names", others.join(", ")));
                }
                Ok(())
            }
            _ => print_status(&docker, &data_dir, &args.name, locale).await,
        },
        SandboxAction::Fault { host, kind, arg } => {
            let fault = Fault::parse(&kind, arg.as_deref()).map_err(anyhow::Error::msg)?;
            let sb = sandbox::load(&data_dir, &args.name)?;
            sandbox::fault::apply(&docker, &sb, &host, &fault)
                .await
                .with_context(|| format!("fault `{fault}` on {host}"))?;
            say(Msg::new("sandbox.fault-done")
                .arg("host", &host)
                .arg("fault", fault));
            Ok(())
        }
    }
}

fn print_event(event: SandboxEvent, locale: &str) {
    let m = match event {
        SandboxEvent::BuildingImage { tag, emulated } => Msg::new(if emulated {
            "sandbox.building-image-emulated"
        } else {
            "sandbox.building-image"
        })
        .arg("tag", tag),
        SandboxEvent::ImageBuilt { tag, secs } => Msg::new("sandbox.image-built")
            .arg("tag", tag)
            .arg("secs", format!("{secs:.0}")),
        SandboxEvent::HostCreated { host, address } => Msg::new("sandbox.host-created")
            .arg("host", host)
            .arg("address", address),
        SandboxEvent::HostStarted { host } => Msg::new("sandbox.host-started").arg("host", host),
        SandboxEvent::HostRemoved { host } => Msg::new("sandbox.host-removed").arg("host", host),
        SandboxEvent::BuildingBundle { dir, emulated } => Msg::new(if emulated {
            "sandbox.building-bundle-emulated"
        } else {
            "sandbox.building-bundle"
        })
        .arg("dir", dir.display()),
        SandboxEvent::BundleBuilt { dir, secs } => Msg::new("sandbox.bundle-built")
            .arg("dir", dir.display())
            .arg("secs", format!("{secs:.0}")),
        SandboxEvent::WaitingReady { hosts } => Msg::new("sandbox.waiting").arg("hosts", hosts),
    };
    println!("{}", m.render(locale));
}

async fn print_status(
    docker: &bollard::Docker,
    data_dir: &std::path::Path,
    name: &str,
    locale: &str,
) -> anyhow::Result<()> {
    let say = |m: Msg| println!("{}", m.render(locale));
    let (sb, hosts) = sandbox::status(docker, data_dir, name).await?;
    say(Msg::new("sandbox.status")
        .arg("name", &sb.name)
        .arg("network", sb.network())
        .arg("subnet", sb.subnet())
        .arg("image", &sb.image));
    println!(
        "  {} {} {} {} {}",
        pad(&text("sandbox.col-host", locale), 8),
        pad(&text("sandbox.col-address", locale), 14),
        pad(&text("sandbox.col-arch", locale), 6),
        pad(&text("sandbox.col-state", locale), 10),
        text("sandbox.col-container", locale)
    );
    for h in &hosts {
        println!(
            "  {:<8} {:<14} {:<6} {:<10} {}",
            h.name, h.address, h.arch, h.state, h.container
        );
    }
    say(Msg::new("sandbox.vip").arg("address", sb.vip()));
    say(Msg::new("sandbox.unreachable").arg("address", sb.unreachable_address()));
    say(Msg::new("sandbox.users").arg("users", sandbox::USERS.join(", ")));
    say(Msg::new("sandbox.key").arg("path", sb.key().display()));
    say(Msg::new("sandbox.password").arg("path", sb.password_file().display()));
    if let Some(first) = hosts.first() {
        say(Msg::new("sandbox.try").arg(
            "command",
            format!(
                "ssh -i {} -o UserKnownHostsFile={} root@{}",
                sb.key().display(),
                sb.known_hosts().display(),
                first.address
            ),
        ));
    }
    Ok(())
}
