//! The delivery task: sends the alerts the watch queued in the store, each
//! to its target, oldest first; a failure is logged and tried again later
//! (backoff doubling up to a cap), and given up only after
//! [`Backoff::attempts`] tries, logged as an error.
//!
//! Why a task of its own fed by the store: a robot that is down or slow
//! must never hold a poll or a publish worker, and an alert queued before
//! a restart must still go out. The watch rings a bounded channel after
//! queueing (never waiting on it); the queue itself is the store.

use super::config::AlertKind;
use super::config::Target;
use super::message::Alert;
use super::send::{self, Payload};
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

/// A robot's message holds joined alerts up to this many bytes (WeCom's
/// markdown takes 4,096; DingTalk and Feishu more).
pub const MAX_MESSAGE_BYTES: usize = 4000;

/// At most this many messages to one target a round; the rest wait
/// [`ROUND_SPACING`] (WeCom's robots take 20 a minute).
pub const MAX_MESSAGES_PER_ROUND: usize = 10;
pub const ROUND_SPACING: chrono::Duration = chrono::Duration::seconds(60);

/// The earliest of some times.
struct Later(Option<DateTime<Utc>>);
impl Later {
    fn at(&mut self, t: DateTime<Utc>) {
        self.0 = Some(self.0.map_or(t, |n| n.min(t)));
    }
}

/// A robot's due alerts in messages of at most [`MAX_MESSAGE_BYTES`] (an
/// alert longer than that alone in its own), in order.
fn pack(alerts: Vec<(u64, Queued)>, tz: chrono_tz::Tz) -> Vec<Vec<(u64, Queued)>> {
    let mut out: Vec<Vec<(u64, Queued)>> = Vec::new();
    let mut bytes = 0;
    for a in alerts {
        let len = a.1.alert.text(tz).len() + 2;
        match out.last_mut() {
            Some(last) if bytes + len <= MAX_MESSAGE_BYTES => {
                bytes += len;
                last.push(a);
            }
            _ => {
                bytes = len;
                out.push(vec![a]);
            }
        }
    }
    out
}

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
    /// A robot's due alerts go out joined, in messages of at most
    /// [`MAX_MESSAGE_BYTES`], at most [`MAX_MESSAGES_PER_ROUND`] a round;
    /// the plain webhook gets each alert on its own.
    pub async fn round(&self) -> Option<DateTime<Utc>> {
        let cfg = self.config.read().expect("config lock").clone();
        let pending: Vec<(u64, Queued)> = match self.store.pending_alerts() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("alert delivery: reading the queue: {e}");
                return Some(self.clock.now() + self.backoff.first);
            }
        };
        let now = self.clock.now();
        let mut next = Later(None);
        // Due alerts by target, oldest first.
        let mut due: Vec<(String, Vec<(u64, Queued)>)> = Vec::new();
        for (id, q) in pending {
            if q.next_at > now {
                next.at(q.next_at);
                continue;
            }
            match due.iter_mut().find(|(t, _)| *t == q.target) {
                Some((_, v)) => v.push((id, q)),
                None => due.push((q.target.clone(), vec![(id, q)])),
            }
        }
        let tz = cfg.daemon.timezone;
        for (target_id, alerts) in due {
            let Some(target) = cfg.alerting.targets.iter().find(|t| t.id() == target_id) else {
                for (id, q) in alerts {
                    tracing::info!(unit = %q.alert.unit, "alert dropped ({}): its target is no longer configured", q.alert.what());
                    self.forget(id).await;
                }
                continue;
            };
            let batches = match target.kind {
                AlertKind::Webhook => alerts.into_iter().map(|a| vec![a]).collect(),
                _ => pack(alerts, tz),
            };
            for (n, batch) in batches.into_iter().enumerate() {
                if self.shutdown.is_cancelled() {
                    return next.0;
                }
                if n >= MAX_MESSAGES_PER_ROUND {
                    // The robot's rate: the rest in the next round.
                    next.at(self.clock.now() + ROUND_SPACING);
                    break;
                }
                let texts: Vec<String> = batch.iter().map(|(_, q)| q.alert.text(tz)).collect();
                let payload = match &batch[..] {
                    [(_, q)] => Payload::One(&q.alert, texts.concat()),
                    _ => Payload::Joined(texts.join("\n\n")),
                };
                let sent = send::send(&self.client, target, &payload, self.clock.now()).await;
                self.settle(target, batch, sent, &mut next).await;
            }
        }
        next.0
    }

    /// After a try: a delivered batch leaves the queue; a failed one is
    /// tried again after the backoff, or given up.
    async fn settle(
        &self,
        target: &Target,
        batch: Vec<(u64, Queued)>,
        sent: Result<(), send::SendError>,
        next: &mut Later,
    ) {
        let what = |b: &[(u64, Queued)]| {
            let mut w: Vec<String> = b
                .iter()
                .map(|(_, q)| format!("{} (unit {})", q.alert.what(), q.alert.unit))
                .collect();
            w.dedup();
            w.join(", ")
        };
        match sent {
            Ok(()) => {
                tracing::info!("alert sent to the {}: {}", target.name(), what(&batch));
                for (id, _) in batch {
                    self.forget(id).await;
                }
            }
            Err(e) => {
                let attempts = batch.iter().map(|(_, q)| q.attempts).max().unwrap_or(0) + 1;
                if attempts >= self.backoff.attempts {
                    tracing::error!(
                        "alert to the {} given up after {attempts} tries ({}): {e}",
                        target.name(),
                        what(&batch)
                    );
                    for (id, _) in batch {
                        self.forget(id).await;
                    }
                    return;
                }
                let wait = self.backoff.delay(attempts);
                let at = self.clock.now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                tracing::warn!(
                    "alert to the {} failed (try {attempts}), again in {}s ({}): {e}",
                    target.name(),
                    wait.as_secs(),
                    what(&batch)
                );
                for (id, mut q) in batch {
                    q.attempts = attempts;
                    q.next_at = at;
                    if let Err(e) = self.store.update_pending_alert(id, Some(&q)).await {
                        tracing::error!("alert delivery: {e}");
                    }
                }
                next.at(at);
            }
        }
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
