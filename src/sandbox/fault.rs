//! Faults a sandbox host can be put into, for tests and for practising what
//! cdwiz reports when a site misbehaves. `Clear` undoes all of them.

use std::fmt;

use bollard::Docker;
use bollard::query_parameters::{KillContainerOptions, StopContainerOptions};

use super::{HOST_FAULT_PATH, Sandbox, SandboxError, api, start_container, wait_ready};
use crate::docker::exec_ok;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Stop the host (a clean shutdown).
    Stop,
    /// Kill the host at once (power loss).
    Kill,
    /// Start a stopped or killed host again.
    Start,
    /// Something else listens on this TCP port.
    PortTaken(u16),
    /// The data dir (`/data`) becomes a tiny (16 MiB) filesystem that is full.
    FillData,
    /// The host's Docker engine is stopped (the binaries stay).
    DockerStopped,
    /// The host has no Docker at all: engine stopped, binaries gone.
    NoDocker,
    /// The host's hostname is changed (e.g. to duplicate another host's).
    Hostname(String),
    /// sshd takes keys only (no passwords).
    KeysOnly,
    /// sshd refuses root logins.
    NoRootLogin,
    /// root's authorized keys are put aside: root logs in by password only.
    PasswordOnlyRoot,
    /// A second sshd listens on this port.
    SshPort(u16),
    /// SSH (22 and every extra sshd port) is dropped unless it comes from
    /// this address (a bastion).
    SshOnlyFrom(std::net::IpAddr),
    /// Undo every fault on the host and make sure it runs.
    Clear,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Stop => write!(f, "stop"),
            Fault::Kill => write!(f, "kill"),
            Fault::Start => write!(f, "start"),
            Fault::PortTaken(p) => write!(f, "port-taken {p}"),
            Fault::FillData => write!(f, "fill-data"),
            Fault::DockerStopped => write!(f, "docker-stopped"),
            Fault::NoDocker => write!(f, "no-docker"),
            Fault::Hostname(n) => write!(f, "hostname {n}"),
            Fault::KeysOnly => write!(f, "keys-only"),
            Fault::NoRootLogin => write!(f, "no-root-login"),
            Fault::PasswordOnlyRoot => write!(f, "password-only-root"),
            Fault::SshPort(p) => write!(f, "ssh-port {p}"),
            Fault::SshOnlyFrom(a) => write!(f, "ssh-only-from {a}"),
            Fault::Clear => write!(f, "clear"),
        }
    }
}

impl Fault {
    /// Parses `KIND [ARG]` as given on the command line.
    pub fn parse(kind: &str, arg: Option<&str>) -> Result<Fault, String> {
        let need = |what: &str| {
            arg.map(str::to_string)
                .ok_or_else(|| format!("fault `{kind}` needs {what}"))
        };
        Ok(match kind {
            "stop" => Fault::Stop,
            "kill" => Fault::Kill,
            "start" => Fault::Start,
            "port-taken" => {
                let p = need("a port, e.g. `port-taken 8080`")?;
                Fault::PortTaken(p.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                    format!("fault `port-taken`: `{p}` is not a TCP port (1-65535)")
                })?)
            }
            "fill-data" => Fault::FillData,
            "docker-stopped" => Fault::DockerStopped,
            "no-docker" => Fault::NoDocker,
            "hostname" => {
                let n = need("a name, e.g. `hostname node1`")?;
                if n.is_empty()
                    || n.len() > 63
                    || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(format!("fault `hostname`: `{n}` is not a valid hostname"));
                }
                Fault::Hostname(n)
            }
            "keys-only" => Fault::KeysOnly,
            "no-root-login" => Fault::NoRootLogin,
            "password-only-root" => Fault::PasswordOnlyRoot,
            "ssh-port" => {
                let p = need("a port, e.g. `ssh-port 2222`")?;
                Fault::SshPort(
                    p.parse()
                        .ok()
                        .filter(|p| *p > 0 && *p != 22)
                        .ok_or_else(|| {
                            format!("fault `ssh-port`: `{p}` is not a TCP port other than 22")
                        })?,
                )
            }
            "ssh-only-from" => {
                let a = need("an address, e.g. `ssh-only-from 10.77.0.11`")?;
                Fault::SshOnlyFrom(
                    a.parse().map_err(|_| {
                        format!("fault `ssh-only-from`: `{a}` is not an IP address")
                    })?,
                )
            }
            "clear" => Fault::Clear,
            other => {
                return Err(format!(
                    "unknown fault `{other}`; known: stop, kill, start, port-taken PORT, \
                     fill-data, docker-stopped, no-docker, hostname NAME, keys-only, \
                     no-root-login, password-only-root, ssh-port PORT, ssh-only-from ADDRESS, clear"
                ));
            }
        })
    }
}

/// Puts `host` of `sandbox` into `fault`.
pub async fn apply(
    docker: &Docker,
    sandbox: &Sandbox,
    host: &str,
    fault: &Fault,
) -> Result<(), SandboxError> {
    let host = sandbox.host(host)?;
    let c = host.container.as_str();
    let script = |args: &[&str]| {
        let mut v = vec![HOST_FAULT_PATH];
        v.extend_from_slice(args);
        v.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        exec_ok(docker, c, &host.exec_argv(&args)).await.map(|_| ())
    };
    match fault {
        Fault::Stop => docker
            .stop_container(
                c,
                Some(StopContainerOptions {
                    t: Some(host.stop_secs()),
                    ..Default::default()
                }),
            )
            .await
            .map_err(api(format!("stop {c}")))?,
        Fault::Kill => docker
            .kill_container(c, None::<KillContainerOptions>)
            .await
            .map_err(api(format!("kill {c}")))?,
        Fault::Start => {
            ensure_running(docker, c).await?;
            wait_ready(docker, host).await?;
        }
        Fault::PortTaken(p) => run(script(&["port-taken", &p.to_string()])).await?,
        Fault::FillData => run(script(&["fill-data", "/data"])).await?,
        Fault::DockerStopped => run(script(&["docker-stopped"])).await?,
        Fault::NoDocker => run(script(&["no-docker"])).await?,
        Fault::Hostname(n) => run(script(&["hostname", n])).await?,
        Fault::KeysOnly => run(script(&["keys-only"])).await?,
        Fault::NoRootLogin => run(script(&["no-root-login"])).await?,
        Fault::PasswordOnlyRoot => run(script(&["password-only-root"])).await?,
        Fault::SshPort(p) => run(script(&["ssh-port", &p.to_string()])).await?,
        Fault::SshOnlyFrom(a) => run(script(&["ssh-only-from", &a.to_string()])).await?,
        Fault::Clear => {
            ensure_running(docker, c).await?;
            wait_ready(docker, host).await?;
            run(script(&["clear"])).await?;
        }
    }
    Ok(())
}

async fn ensure_running(docker: &Docker, container: &str) -> Result<(), SandboxError> {
    let running = docker
        .inspect_container(
            container,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(api(format!("inspect {container}")))?
        .state
        .and_then(|s| s.running)
        .unwrap_or(false);
    if !running {
        start_container(docker, container).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Fault;

    #[test]
    fn parses_every_kind_and_rejects_bad_arguments() {
        assert_eq!(
            Fault::parse("port-taken", Some("8080")),
            Ok(Fault::PortTaken(8080))
        );
        assert!(Fault::parse("port-taken", Some("0")).is_err());
        assert!(Fault::parse("port-taken", None).is_err());
        assert!(Fault::parse("hostname", Some("a b")).is_err());
        assert!(Fault::parse("melt", None).unwrap_err().contains("known:"));
        assert_eq!(
            Fault::parse("ssh-only-from", Some("10.77.0.11"))
                .unwrap()
                .to_string(),
            "ssh-only-from 10.77.0.11"
        );
        assert!(Fault::parse("ssh-only-from", Some("x; reboot")).is_err());
        assert!(Fault::parse("ssh-port", Some("22")).is_err());
        for k in [
            "stop",
            "kill",
            "start",
            "fill-data",
            "docker-stopped",
            "no-docker",
            "keys-only",
            "no-root-login",
            "password-only-root",
            "clear",
        ] {
            assert_eq!(Fault::parse(k, None).unwrap().to_string(), k);
        }
    }
}
