//! The drill's write loop through the platform's entry: a write every
//! quarter second (the manifest's `entry.drill.write`, a text of its own),
//! each outcome kept; how long writes stopped after a moment; and whether
//! every acknowledged write reads back (`entry.drill.read`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How often the loop writes.
pub const EVERY: Duration = Duration::from_millis(250);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the loop runs, whatever happens to the drill.
const LOOP_LIMIT: Duration = Duration::from_secs(4 * 3600);

/// One write: when it was asked and answered, its text, and the id the
/// platform gave it (none: not acknowledged).
#[derive(Debug, Clone)]
pub struct Write {
    pub asked: Instant,
    pub answered: Instant,
    pub text: String,
    pub id: Option<u64>,
}

/// The running loop.
pub struct Writer {
    stop: CancellationToken,
    log: Arc<Mutex<Vec<Write>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Where the writes go: `http://host:port`, the write's path.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: String,
    pub write: String,
}

fn client() -> reqwest::Client {
    // reqwest is built with rustls and no provider of its own (as
    // oci-client wants it): the one cdwiz uses, though these are plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_default()
}

impl Writer {
    /// Starts writing `"<label> <n>"` texts to `target`.
    pub fn start(target: Target, label: String) -> Writer {
        let stop = CancellationToken::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (flag, kept) = (stop.clone(), log.clone());
        let task = tokio::spawn(async move {
            let http = client();
            let url = format!("{}{}", target.base, target.write);
            let started = Instant::now();
            let mut n = 0u64;
            while !flag.is_cancelled() && started.elapsed() < LOOP_LIMIT {
                n += 1;
                let text = format!("{label} {n}");
                let asked = Instant::now();
                let id = write(&http, &url, &text).await;
                let answered = Instant::now();
                if let Ok(mut log) = kept.lock() {
                    log.push(Write {
                        asked,
                        answered,
                        text,
                        id,
                    });
                }
                tokio::select! {
                    _ = flag.cancelled() => break,
                    _ = tokio::time::sleep(EVERY.saturating_sub(answered - asked)) => {}
                }
            }
        });
        Writer { stop, log, task }
    }

    /// Every write so far.
    pub fn writes(&self) -> Vec<Write> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether a write asked after `since` was acknowledged.
    pub fn acknowledged_since(&self, since: Instant) -> bool {
        self.log
            .lock()
            .is_ok_and(|l| l.iter().rev().any(|w| w.asked > since && w.id.is_some()))
    }

    /// Stops the loop (the write in flight ends first); every write it made.
    pub async fn stop(self) -> Vec<Write> {
        self.stop.cancel();
        let _ = self.task.await;
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// One write: the id the platform answered with, when it answered 2xx
/// with `{"id": N}`.
async fn write(http: &reqwest::Client, url: &str, text: &str) -> Option<u64> {
    let answer = http.post(url).body(text.to_string()).send().await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let body = answer.text().await.ok()?;
    serde_json::from_str::<serde_json::Value>(&body).ok()?["id"].as_u64()
}

/// How long writes stopped being acknowledged after `since`: from `since`
/// to the first acknowledgement of a write asked after it, or the longest
/// stretch between two acknowledgements after it, whichever is longer;
/// none when no write asked after `since` was acknowledged.
pub fn gap(writes: &[Write], since: Instant) -> Option<Duration> {
    let acked: Vec<Instant> = writes
        .iter()
        .filter(|w| w.id.is_some() && w.asked > since)
        .map(|w| w.answered)
        .collect();
    let first = *acked.first()?;
    let longest = acked
        .windows(2)
        .map(|p| p[1].saturating_duration_since(p[0]))
        .max()
        .unwrap_or_default();
    Some(first.saturating_duration_since(since).max(longest))
}

/// How an acknowledged write read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBack {
    /// 200 with its text.
    Found,
    /// 404, or 200 with another text: the platform does not have it.
    Lost,
    /// No answer that says either (connection refused, 503, a timeout),
    /// after every attempt.
    Unread,
}

/// How many times, two seconds apart, a read that proves nothing is
/// tried again.
const READ_ATTEMPTS: u32 = 6;

/// Each acknowledged write of `writes`, read back (eight at a time): the
/// ids of those lost and of those that could not be read.
pub async fn read_back(
    writes: &[Write],
    base: &str,
    read: impl Fn(u64) -> String,
) -> (Vec<u64>, Vec<u64>) {
    use futures_util::StreamExt;
    let http = client();
    let reads = writes
        .iter()
        .filter_map(|w| Some((w.id?, w)))
        .map(|(id, w)| {
            let (http, url) = (&http, format!("{base}{}", read(id)));
            async move {
                for attempt in 1..=READ_ATTEMPTS {
                    if let Ok(answer) = http.get(&url).send().await {
                        let status = answer.status();
                        let body = answer.text().await.unwrap_or_default();
                        match status {
                            reqwest::StatusCode::OK if body == w.text => {
                                return (id, ReadBack::Found);
                            }
                            reqwest::StatusCode::OK | reqwest::StatusCode::NOT_FOUND => {
                                return (id, ReadBack::Lost);
                            }
                            _ => {}
                        }
                    }
                    if attempt < READ_ATTEMPTS {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
                (id, ReadBack::Unread)
            }
        });
    let outcomes: Vec<(u64, ReadBack)> = futures_util::stream::iter(reads)
        .buffered(8)
        .collect()
        .await;
    let ids = |kind: ReadBack| {
        outcomes
            .iter()
            .filter(|(_, r)| *r == kind)
            .map(|(id, _)| *id)
            .collect()
    };
    (ids(ReadBack::Lost), ids(ReadBack::Unread))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, asked_ms: u64, took_ms: u64, id: Option<u64>) -> Write {
        Write {
            asked: t0 + Duration::from_millis(asked_ms),
            answered: t0 + Duration::from_millis(asked_ms + took_ms),
            text: String::new(),
            id,
        }
    }

    #[test]
    fn the_gap_is_the_longest_stretch_without_an_acknowledgement() {
        let t0 = Instant::now();
        let since = t0 + Duration::from_millis(1000);
        let writes = [
            at(t0, 750, 10, Some(1)),
            // Asked before the loss, answered after it: not a proof.
            at(t0, 990, 5000, Some(2)),
            at(t0, 1250, 5000, None),
            at(t0, 6300, 200, Some(3)),
            at(t0, 6750, 10, Some(4)),
            at(t0, 7000, 9000, Some(5)),
        ];
        // From the loss to the first acknowledgement asked after it: 5.5 s;
        // then 8.24 s between the 4th and the 5th.
        assert_eq!(gap(&writes, since), Some(Duration::from_millis(9240)));
        assert_eq!(gap(&writes[..5], since), Some(Duration::from_millis(5500)));
        assert_eq!(gap(&writes[..3], since), None);
    }
}
