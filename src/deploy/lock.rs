//! The per-host run lock: `/run/cdwiz.lock` on every host names the run
//! that holds it (run id, installer machine, pid, start time) and is
//! touched while the run lives. A second run is refused with the holder's
//! name; a lock whose run is dead (its process is gone, or it has not been
//! touched for [`STALE_AFTER`]) is explained and taken over only when the
//! operator asks (`--resume`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::connect::{HostConn, Target, Targets};
use crate::event::{Event, EventSender};
use crate::i18n::Msg;
use crate::ssh::quote;

pub const LOCK_FILE: &str = "/run/cdwiz.lock";
/// How often a live run touches its locks.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// A lock not touched for this long belongs to a dead run.
pub const STALE_AFTER: Duration = Duration::from_secs(90);
const TIMEOUT: Duration = Duration::from_secs(30);

/// Who holds a lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub run: String,
    /// The installer machine's host name.
    pub installer: String,
    /// `/etc/machine-id` of the installer machine, to tell its processes.
    #[serde(default)]
    pub machine: String,
    pub pid: u32,
    /// Unix seconds.
    pub started: u64,
}

impl Holder {
    /// This process, running `run`.
    pub fn me(run: &str) -> Holder {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        Holder {
            run: run.to_string(),
            installer: read("/proc/sys/kernel/hostname"),
            machine: read("/etc/machine-id"),
            pid: std::process::id(),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default(),
        }
    }

    /// A holder whose record cannot be read (`run` is what is known of it).
    pub fn unknown(run: &str) -> Holder {
        Holder {
            run: run.to_string(),
            installer: "?".into(),
            machine: String::new(),
            pid: 0,
            started: 0,
        }
    }

    /// What `me` may do about a lock this holder holds, last touched `age`
    /// ago: nothing to do (it is `me`), take it over (`Some`: a dead run,
    /// and the operator asked), or be refused.
    // The refusal is what `acquire` returns, once per run: its size is moot.
    #[allow(clippy::result_large_err)]
    pub fn judge(
        self,
        age: Duration,
        me: &Holder,
        take_over_stale: bool,
    ) -> Result<Option<Holder>, LockRefusal> {
        if self.run == me.run && self.pid == me.pid {
            return Ok(None);
        }
        match self.dead_because(age, me) {
            None => Err(LockRefusal::Held { holder: self, age }),
            Some(why) if !take_over_stale => Err(LockRefusal::Stale { holder: self, why }),
            Some(_) => Ok(Some(self)),
        }
    }

    /// Why this holder is certainly gone, if it is: its process no longer
    /// exists on this machine, or it stopped touching the lock.
    pub fn dead_because(&self, age: Duration, me: &Holder) -> Option<Msg> {
        if !self.machine.is_empty()
            && self.machine == me.machine
            && self.pid != me.pid
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
        {
            return Some(Msg::new("lock.dead-process").arg("pid", self.pid));
        }
        (age >= STALE_AFTER).then(|| Msg::new("lock.dead-quiet").arg("secs", age.as_secs()))
    }
}

/// Why a host could not be locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockRefusal {
    /// Another live run holds it.
    Held { holder: Holder, age: Duration },
    /// A dead run left it; `--resume` takes it over.
    Stale { holder: Holder, why: Msg },
    /// The lock could not be read or written.
    Failed(String),
}

impl LockRefusal {
    /// What is wrong and what to do, in the operator's language.
    pub fn message(&self) -> Msg {
        match self {
            LockRefusal::Held { holder, age } => Msg::new("lock.held")
                .arg("run", &holder.run)
                .arg("pid", holder.pid)
                .arg("installer", &holder.installer)
                .arg("started", holder.started)
                .arg("age", age.as_secs()),
            LockRefusal::Stale { holder, why } => {
                let mut m = Msg::new(if why.key == "lock.dead-process" {
                    "lock.stale-process"
                } else {
                    "lock.stale-quiet"
                })
                .arg("run", &holder.run)
                .arg("pid", holder.pid)
                .arg("installer", &holder.installer);
                if let Some(secs) = why.args.get("secs") {
                    m = m.arg("secs", secs);
                }
                m
            }
            LockRefusal::Failed(m) => Msg::new("lock.failed")
                .arg("file", LOCK_FILE)
                .arg("error", m),
        }
    }
}

impl std::fmt::Display for LockRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message().render("en"))
    }
}

/// Takes the lock on one host. A lock of a dead run is taken over only
/// with `take_over_stale`; a lock of a live run never. Returns the holder
/// it took over from, if any.
pub async fn acquire(
    conn: &HostConn,
    me: &Holder,
    take_over_stale: bool,
) -> Result<Option<Holder>, LockRefusal> {
    let json = serde_json::to_string(me).map_err(|e| LockRefusal::Failed(e.to_string()))?;
    let script = format!(
        "l={l}; new=$(cat); \
         if ( set -C; printf '%s\\n' \"$new\" > \"$l\" ) 2>/dev/null; then echo acquired; exit 0; fi; \
         echo held; echo $(( $(date +%s) - $(stat -c %Y \"$l\" 2>/dev/null || date +%s) )); cat \"$l\"",
        l = quote(LOCK_FILE)
    );
    let out = conn
        .run_with_input(&script, Some(json.as_bytes()), TIMEOUT)
        .await
        .map_err(|e| LockRefusal::Failed(e.to_string()))?;
    let mut lines = out.stdout.lines();
    match lines.next() {
        Some("acquired") => return Ok(None),
        Some("held") => {}
        _ => return Err(LockRefusal::Failed(out.stderr.trim().to_string())),
    }
    let age = Duration::from_secs(
        lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0),
    );
    let text: String = lines.collect::<Vec<_>>().join("\n");
    // Unreadable (a half-written file): judged by age alone.
    let holder: Holder = serde_json::from_str(text.trim()).unwrap_or_else(|_| Holder::unknown("?"));
    let Some(dead) = holder.judge(age, me, take_over_stale)? else {
        return Ok(None);
    };
    let script = format!(
        "l={l}; cat > \"$l.new\" && mv \"$l.new\" \"$l\" && echo taken",
        l = quote(LOCK_FILE)
    );
    let out = conn
        .run_with_input(&script, Some(format!("{json}\n").as_bytes()), TIMEOUT)
        .await
        .map_err(|e| LockRefusal::Failed(e.to_string()))?;
    if out.stdout.trim() == "taken" {
        Ok(Some(dead))
    } else {
        Err(LockRefusal::Failed(out.stderr.trim().to_string()))
    }
}

/// Touches the lock so that other runs see this one alive; why not, when
/// it could not.
pub async fn touch(conn: &HostConn) -> Result<(), String> {
    match conn
        .run(&format!("touch {}", quote(LOCK_FILE)), TIMEOUT)
        .await
    {
        Ok(out) if out.code == 0 => Ok(()),
        Ok(out) => Err(format!("exit {}: {}", out.code, out.stderr.trim())),
        Err(e) => Err(e.to_string()),
    }
}

/// Removes the lock if `run` holds it.
pub async fn release(conn: &HostConn, run: &str) {
    let script = format!(
        "l={l}; grep -qF {needle} \"$l\" 2>/dev/null && rm -f \"$l\"; true",
        l = quote(LOCK_FILE),
        needle = quote(&format!("\"run\":\"{run}\""))
    );
    let _ = conn.run(&script, TIMEOUT).await;
}

/// Takes the run lock on every opened host. On any refusal, the locks
/// taken are given back and every refusal is returned. On success, the
/// holders taken over (stale locks) are returned.
pub async fn acquire_all(
    targets: &Targets,
    me: &Holder,
    take_over_stale: bool,
) -> Result<Vec<(String, Holder)>, Vec<(String, LockRefusal)>> {
    let takes = targets.hosts.values().map(|t| async move {
        (
            t.address.clone(),
            acquire(&t.conn, me, take_over_stale).await,
        )
    });
    let results = futures_util::future::join_all(takes).await;
    let refused: Vec<(String, LockRefusal)> = results
        .iter()
        .filter_map(|(a, r)| r.as_ref().err().map(|e| (a.clone(), e.clone())))
        .collect();
    if !refused.is_empty() {
        release_all(targets, &me.run).await;
        return Err(refused);
    }
    Ok(results
        .into_iter()
        .filter_map(|(a, r)| r.ok().flatten().map(|h| (a, h)))
        .collect())
}

/// Where the heartbeat says what it could not do: the front end's channel
/// of the moment (each phase of a run may bring its own), held weakly so
/// that the heartbeat never keeps a channel open (the headless printer ends
/// when its channel closes).
#[derive(Clone, Default)]
pub struct Listener(Arc<std::sync::Mutex<Option<tokio::sync::mpsc::WeakSender<Event>>>>);

impl Listener {
    /// From now on, events go to `tx` (when there is one).
    pub fn set(&self, tx: &Option<EventSender>) {
        if let Some(tx) = tx {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx.downgrade());
        }
    }

    fn sender(&self) -> Option<EventSender> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().and_then(|w| w.upgrade())
    }
}

/// Touches the locks of `targets` every [`HEARTBEAT`] until aborted. A
/// lock that cannot be touched is said to the front end (and in cdwiz's
/// log): after [`STALE_AFTER`] another run would take this one for dead.
pub fn heartbeat(targets: &Targets, listener: Listener) -> tokio::task::JoinHandle<()> {
    let hosts: Vec<Arc<Target>> = targets.hosts.values().cloned().collect();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let touched =
                futures_util::future::join_all(hosts.iter().map(|t| touch(&t.conn))).await;
            for (t, result) in hosts.iter().zip(touched) {
                let Err(error) = result else { continue };
                tracing::warn!(host = %t.address, %error, "the run lock could not be touched");
                if let Some(tx) = listener.sender() {
                    let said = Msg::new("lock.touch-failed")
                        .arg("file", LOCK_FILE)
                        .arg("error", &error)
                        .arg("secs", STALE_AFTER.as_secs());
                    let host = t.address.clone();
                    let _ = tx.send(Event::LockNotTouched { host, said }).await;
                }
            }
        }
    })
}

/// Gives back the locks `run` holds on `targets`.
pub async fn release_all(targets: &Targets, run: &str) {
    futures_util::future::join_all(targets.hosts.values().map(|t| release(&t.conn, run))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_dead_when_its_process_is_gone_or_it_went_quiet() {
        let me = Holder::me("r2");
        let mut other = me.clone();
        other.run = "r1".into();
        other.pid = u32::MAX - 1; // no such process
        assert!(
            other
                .dead_because(Duration::from_secs(1), &me)
                .unwrap()
                .render("en")
                .contains("no longer exists")
        );
        let mut remote = other.clone();
        remote.machine = "another-machine".into();
        assert_eq!(remote.dead_because(Duration::from_secs(5), &me), None);
        assert!(remote.dead_because(STALE_AFTER, &me).is_some());
        let mut alive = other.clone();
        alive.pid = 1; // init: alive on every Linux machine
        assert_eq!(alive.dead_because(Duration::from_secs(5), &me), None);
    }
}
