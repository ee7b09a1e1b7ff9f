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

/// `POST path` with a plain-text body over HTTP/1.0: status code and body
/// (none when no answer came within 5 s).
pub async fn http_post(address: &str, port: u16, path: &str, body: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut s = tokio::net::TcpStream::connect((address, port)).await.ok()?;
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        Some(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(5), ask)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

/// One write of a [`Writer`]: when it was asked and answered, and the id
/// the platform acknowledged it with (none: it failed).
#[derive(Debug, Clone)]
pub struct Write {
    pub asked: std::time::Instant,
    pub answered: std::time::Instant,
    pub text: String,
    pub id: Option<u64>,
}

/// A bounded write loop through the entry (`address:port`): `POST
/// /api/notes` with a text of its own a few times a second, every outcome
/// kept.
pub struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    log: std::sync::Arc<std::sync::Mutex<Vec<Write>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    pub fn start(address: &str, port: u16, every: Duration, limit: Duration) -> Writer {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, kept, address) = (stop.clone(), log.clone(), address.to_string());
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) && started.elapsed() < limit {
                n += 1;
                let text = format!("note {n} of the failover test");
                let asked = std::time::Instant::now();
                let id = match http_post(&address, port, "/api/notes", &text).await {
                    Some((201, body)) => serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["id"].as_u64()),
                    _ => None,
                };
                let answered = std::time::Instant::now();
                kept.lock().unwrap().push(Write {
                    asked,
                    answered,
                    text,
                    id,
                });
                tokio::time::sleep(every.saturating_sub(answered - asked)).await;
            }
        });
        Writer { stop, log, task }
    }

    /// Every write so far.
    pub fn writes(&self) -> Vec<Write> {
        self.log.lock().unwrap().clone()
    }

    /// Stops the loop; every write it made.
    pub async fn stop(self) -> Vec<Write> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.task.await;
        self.log.lock().unwrap().clone()
    }
}

/// How long writes stopped being acknowledged after `since`: from `since`
/// to the first acknowledged write asked after it, or the longest stretch
/// between two acknowledgements after it, whichever is longer; none when
/// no write was acknowledged after it.
pub fn write_gap(writes: &[Write], since: std::time::Instant) -> Option<Duration> {
    let acked: Vec<std::time::Instant> = writes
        .iter()
        .filter(|w| w.id.is_some() && w.answered >= since)
        .map(|w| w.answered)
        .collect();
    let first = *acked.first()?;
    let mut gap = first - since;
    for pair in acked.windows(2) {
        gap = gap.max(pair[1] - pair[0]);
    }
    Some(gap)
}
