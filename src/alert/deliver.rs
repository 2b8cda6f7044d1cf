//! The delivery task: sends the alerts the watch queued in the store, each
//! to its target, oldest first; a failure is logged and tried again later
//! (backoff doubling up to a cap), and given up only after
//! [`Backoff::attempts`] tries, logged as an error.
//!
//! Why a task of its own fed by the store: a robot that is down or slow
//! must never hold a poll or a publish worker, and an alert queued before
//! a restart must still go out. The watch rings a bounded channel after
//! queueing (never waiting on it); the queue itself is the store.

use super::config::Target;
use super::message::Alert;
use super::send;
use crate::clock::Clock;
use crate::config::Config;
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// When nothing is queued, the task still looks this often.
pub const IDLE_RECHECK: Duration = Duration::from_secs(3600);

/// The bell's capacity: one ring is enough to make the task look.
const BELL: usize = 8;

/// One alert waiting for one target, as kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// [`Target::id`]: not the URL.
    pub target: String,
    pub alert: Alert,
    /// Failed tries so far.
    pub attempts: u32,
    /// Not tried again before.
    pub next_at: DateTime<Utc>,
}

impl Queued {
    pub fn new(target: &Target, alert: Alert, now: DateTime<Utc>) -> Self {
        Queued {
            target: target.id(),
            alert,
            attempts: 0,
            next_at: now,
        }
    }
}

/// How failed deliveries are tried again.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait after the first failure; doubled after each next one.
    pub first: Duration,
    /// At most this long between tries.
    pub max: Duration,
    /// Given up after this many failed tries.
    pub attempts: u32,
}

impl Default for Backoff {
    /// 30 s, 1, 2, 4, 8, 16 min, then every 30 min: about four hours in
    /// all before an alert is given up.
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(30),
            max: Duration::from_secs(30 * 60),
            attempts: 12,
        }
    }
}

impl Backoff {
    /// The wait after the `failed`th failed try (from 1).
    pub fn delay(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(20);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// The watch's end of the bell.
pub type Bell = mpsc::Sender<()>;

/// A bell for the watch and the task's end of it.
pub fn bell() -> (Bell, mpsc::Receiver<()>) {
    mpsc::channel(BELL)
}

/// The delivery task (see the module docs).
pub struct Delivery {
    pub store: Store,
    pub client: reqwest::Client,
    /// The running config: a reload's targets are used from the next try.
    pub config: Arc<RwLock<Arc<Config>>>,
    pub clock: Arc<dyn Clock>,
    pub backoff: Backoff,
    pub shutdown: CancellationToken,
}

impl Delivery {
    /// Send what is due until `shutdown`; `bell` rings when the watch
    /// queued something.
    pub async fn run(self, mut bell: mpsc::Receiver<()>) {
        loop {
            let next = self.round().await;
            let wait = next
                .map(|t| (t - self.clock.now()).to_std().unwrap_or_default())
                .unwrap_or(IDLE_RECHECK)
                .min(IDLE_RECHECK);
            tokio::select! {
                _ = bell.recv() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Try every queued alert that is due, once; when the next one is due.
    pub async fn round(&self) -> Option<DateTime<Utc>> {
        let cfg = self.config.read().expect("config lock").clone();
        let pending: Vec<(u64, Queued)> = match self.store.pending_alerts() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("alert delivery: reading the queue: {e}");
                return Some(self.clock.now() + self.backoff.first);
            }
        };
        let mut next: Option<DateTime<Utc>> = None;
        for (id, mut q) in pending {
            if self.shutdown.is_cancelled() {
                break;
            }
            if q.next_at > self.clock.now() {
                next = Some(next.map_or(q.next_at, |n| n.min(q.next_at)));
                continue;
            }
            let unit = q.alert.unit.clone();
            let Some(target) = cfg.alerting.targets.iter().find(|t| t.id() == q.target) else {
                tracing::info!(unit = %unit, "alert dropped ({}): its target is no longer configured", q.alert.what());
                self.forget(id).await;
                continue;
            };
            let sent = send::send(
                &self.client,
                target,
                &q.alert,
                cfg.daemon.timezone,
                self.clock.now(),
            )
            .await;
            match sent {
                Ok(()) => {
                    tracing::info!(unit = %unit, "alert sent to the {}: {}", target.name(), q.alert.what());
                    self.forget(id).await;
                }
                Err(e) => {
                    q.attempts += 1;
                    if q.attempts >= self.backoff.attempts {
                        tracing::error!(
                            unit = %unit,
                            "alert to the {} given up after {} tries ({}): {e}",
                            target.name(), q.attempts, q.alert.what()
                        );
                        self.forget(id).await;
                        continue;
                    }
                    let wait = self.backoff.delay(q.attempts);
                    q.next_at = self.clock.now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    tracing::warn!(
                        unit = %unit,
                        "alert to the {} failed (try {}), again in {}s ({}): {e}",
                        target.name(), q.attempts, wait.as_secs(), q.alert.what()
                    );
                    if let Err(e) = self.store.update_pending_alert(id, Some(&q)).await {
                        tracing::error!("alert delivery: {e}");
                    }
                    next = Some(next.map_or(q.next_at, |n| n.min(q.next_at)));
                }
            }
        }
        next
    }

    async fn forget(&self, id: u64) {
        if let Err(e) = self.store.update_pending_alert::<Queued>(id, None).await {
            tracing::error!("alert delivery: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=8).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1800, 1800]);
        assert_eq!(b.delay(400), b.max);
    }
}
