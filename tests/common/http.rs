//! What a test asks the platform over HTTP from this machine: one request,
//! or a bounded loop that measures how long the answers stopped.

use std::time::Duration;

/// `GET path` over HTTP/1.0 from this machine: status code and body.
pub async fn http_get(address: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((address, port)),
    )
    .await
    .ok()?
    .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

/// A bounded request loop from this machine: asks `address:80` for `/` a
/// few times a second until told to stop, or by itself after `limit`.
pub struct Client {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Asked>,
}

/// What a [`Client`] saw: answers (200), requests that got none, and the
/// longest stretch without an answer.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub answered: u32,
    pub failed: u32,
    pub longest_gap: Duration,
}

impl Client {
    pub fn start(address: &str, every: Duration, limit: Duration) -> Client {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, address) = (stop.clone(), address.to_string());
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut asked = Asked {
                answered: 0,
                failed: 0,
                longest_gap: Duration::ZERO,
            };
            let mut since: Option<std::time::Instant> = None;
            while !flag.load(Ordering::Relaxed) && started.elapsed() < limit {
                match http_get(&address, 80, "/").await {
                    Some((200, _)) => {
                        asked.answered += 1;
                        if let Some(t) = since.take() {
                            asked.longest_gap = asked.longest_gap.max(t.elapsed());
                        }
                    }
                    _ => {
                        asked.failed += 1;
                        since.get_or_insert_with(std::time::Instant::now);
                    }
                }
                tokio::time::sleep(every).await;
            }
            if let Some(t) = since {
                asked.longest_gap = asked.longest_gap.max(t.elapsed());
            }
            asked
        });
        Client { stop, task }
    }

    pub async fn finish(self) -> Asked {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.expect("request loop")
    }
}
