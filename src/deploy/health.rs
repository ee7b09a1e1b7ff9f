//! Waiting until a component answers: a TCP connection to its port, or an
//! HTTP GET answering 2xx, from this machine.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bundle::Health;
use crate::i18n::Msg;

/// One look: the component answers now (TCP, or HTTP 2xx), from this machine.
pub async fn probe(addr: &str, h: &Health) -> Result<(), Msg> {
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
pub async fn wait(addr: &str, h: &Health, limit: Duration) -> Result<(), Msg> {
    let started = Instant::now();
    loop {
        match probe(addr, h).await {
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
