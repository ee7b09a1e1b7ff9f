//! Waiting until a component answers: a TCP connection to its port, or an
//! HTTP GET answering 2xx, from this machine; and, for a cluster's member,
//! its health command run in its container (joined and in sync).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bundle::Health;
use crate::i18n::Msg;

/// The container a health command runs in: its host's engine and its name.
pub type Inside<'a> = Option<(&'a bollard::Docker, &'a str)>;

/// How long a health command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// One look: the component answers now (TCP, or HTTP 2xx), from this
/// machine, and its health command, if it has one and `inside` says where,
/// exits 0.
pub async fn probe(addr: &str, h: &Health, inside: Inside<'_>) -> Result<(), Msg> {
    answers(addr, h).await?;
    match inside {
        Some((docker, container)) if !h.command.is_empty() => {
            command(docker, container, &h.command).await
        }
        _ => Ok(()),
    }
}

/// The health command, run in `container`: exit 0 within its time.
async fn command(docker: &bollard::Docker, container: &str, cmd: &[String]) -> Result<(), Msg> {
    let shown = cmd.join(" ");
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let asked = crate::docker::exec(docker, container, &argv);
    match tokio::time::timeout(COMMAND_TIMEOUT, asked).await {
        Err(_) => Err(Msg::new("health.command-silent")
            .arg("command", shown)
            .arg("secs", COMMAND_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(Msg::new("health.command-error")
            .arg("command", shown)
            .arg("error", e)),
        Ok(Ok(out)) if out.code == 0 => Ok(()),
        Ok(Ok(out)) => {
            let last = out.output.lines().rev().find(|l| !l.trim().is_empty());
            Err(Msg::new("health.command-status")
                .arg("command", shown)
                .arg("code", out.code)
                .arg("output", crate::text::line(last.unwrap_or("-").trim())))
        }
    }
}

/// The port answers (TCP, or HTTP 2xx), from this machine.
async fn answers(addr: &str, h: &Health) -> Result<(), Msg> {
    let mut s = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect((addr, h.port)),
    )
    .await
    .map_err(|_| Msg::new("health.no-answer").arg("port", h.port))?
    .map_err(|e| {
        Msg::new("health.connect")
            .arg("port", h.port)
            .arg("error", e)
    })?;
    let Some(path) = &h.http else {
        return Ok(());
    };
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| {
            Msg::new("health.connect")
                .arg("port", h.port)
                .arg("error", e)
        })?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .map_err(|_| Msg::new("health.http-silent").arg("path", path))?
        .map_err(|e| {
            Msg::new("health.connect")
                .arg("port", h.port)
                .arg("error", e)
        })?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with('2') {
        Ok(())
    } else {
        Err(Msg::new("health.http-status")
            .arg("path", path)
            .arg("status", text.lines().next().unwrap_or("-")))
    }
}

/// Polls until healthy or `limit` passes; the error is the last answer.
pub async fn wait(addr: &str, h: &Health, inside: Inside<'_>, limit: Duration) -> Result<(), Msg> {
    let started = Instant::now();
    loop {
        match probe(addr, h, inside).await {
            Ok(()) => return Ok(()),
            Err(e) if started.elapsed() > limit => {
                return Err(Msg::new("health.timeout")
                    .arg("secs", limit.as_secs())
                    .arg_msg("error", e));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
