//! What the scheduler runs when a key comes due: one poll of a unit's
//! schedule group, or a turn of an account's outbox. Each runs in a
//! short-lived task of its own and ends; between runs a unit is only an
//! entry in the scheduler (`scheduler.rs`).

use super::{IDLE_RECHECK, PAUSED_RECHECK, Shared, UNSETTLED_RECHECK, scheduler};
use crate::config::Unit;
use crate::ingest;
use crate::outbox::Sent;
use crate::pipeline::UnitReport;
use chrono::DateTime;
use chrono_tz::Tz;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The daemon's work: real polls and outbox turns over the shared context.
impl scheduler::Work for Shared {
    async fn poll(&self, unit: Arc<Unit>, sources: Box<[u16]>, retries_too: bool) {
        poll_once(self, &unit, &sources, retries_too).await
    }

    async fn turn(
        &self,
        unit: Arc<Unit>,
        index: usize,
        fresh: bool,
        cancel: CancellationToken,
    ) -> Duration {
        if fresh {
            seed_update_clock(self, &unit, index);
        }
        publish_turn(self, &unit, index, &cancel).await
    }

    fn now(&self) -> DateTime<Tz> {
        let tz = self.config().daemon.timezone;
        self.ctx.clock.now().with_timezone(&tz)
    }

    fn run_at_start(&self) -> bool {
        self.config().daemon.run_at_start
    }
}

/// At most this many outbox steps in one turn of an account: a backlog
/// drains in turns, so one account cannot keep a publishing slot while
/// others wait.
pub const STEPS_PER_TURN: usize = 16;

/// One poll of `unit`'s sources numbered `sources` (and its due fetch
/// retries when `retries_too`), recorded in the metrics and the log.
async fn poll_once(shared: &Shared, unit: &Unit, sources: &[u16], retries_too: bool) {
    let ctx = &shared.ctx;
    let mut r = UnitReport {
        unit: unit.id.clone(),
        ..Default::default()
    };
    let mut polled = unit.clone();
    polled.sources = sources
        .iter()
        .filter_map(|&i| unit.sources.get(usize::from(i)).cloned())
        .collect();
    ingest::discover_sources(ctx, &polled, &mut r).await;
    if retries_too {
        ingest::retry_due_fetches(ctx, unit, &mut r).await;
    }
    record_poll(shared, unit, &r);
}

fn record_poll(shared: &Shared, unit: &Unit, r: &UnitReport) {
    let ok_at = r.ok().then(|| shared.ctx.clock.now());
    shared
        .metrics
        .poll(&unit.id, r.found, r.new, r.errors.len(), ok_at);
    shared.summary.poll(&unit.id, r.new, !r.ok());
    for w in &r.warnings {
        tracing::warn!(unit = %unit.id, "{w}");
    }
    for e in &r.errors {
        tracing::error!(unit = %unit.id, "{e}");
    }
    update_gauges(shared, unit);
}

pub(super) fn update_gauges(shared: &Shared, unit: &Unit) {
    if let Ok(counts) = shared.ctx.store.unit_counts(&unit.id) {
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        shared.metrics.queue(&unit.id, n("queued"), n("held"));
    }
    let tz = shared.config().daemon.timezone;
    let (store, now) = (&shared.ctx.store, shared.ctx.clock.now());
    crate::update_clock::refresh(store, &shared.metrics, &shared.silence, unit, tz, now);
}

/// The account's update clock, from the store, until its next post (a
/// store of the one-account format knows it only for the unit): the
/// first turn of an account after start does this once.
fn seed_update_clock(shared: &Shared, unit: &Unit, index: usize) {
    let (ctx, account) = (&shared.ctx, &unit.accounts[index].name);
    let last = match ctx.store.last_delivered(&unit.id, account) {
        Ok(None) if index == 0 => ctx.store.last_published(&unit.id),
        other => other,
    };
    if let Ok(Some(at)) = last {
        shared.metrics.last_publish(&unit.id, account, at);
    }
}

/// A turn of `unit`'s account `index`: outbox steps one after the other
/// while there is something to do at once, at most [`STEPS_PER_TURN`];
/// then how long the account may sleep (spacing, the platform's wait, a
/// pause, nothing queued) — zero when the turn ended with work left.
async fn publish_turn(
    shared: &Shared,
    unit: &Arc<Unit>,
    index: usize,
    cancel: &CancellationToken,
) -> Duration {
    for _ in 0..STEPS_PER_TURN {
        if cancel.is_cancelled() {
            break;
        }
        if let Some(wait) = publish_step(shared, unit, index).await {
            return wait;
        }
    }
    Duration::ZERO
}

/// One step of `unit`'s account `index`'s outbox; how long to sleep
/// before the next, or `None` to take the next step at once.
async fn publish_step(shared: &Shared, unit: &Arc<Unit>, index: usize) -> Option<Duration> {
    let ctx = &shared.ctx;
    // Taken anew each step: a reload replaces the outboxes (credentials
    // read again, paused accounts checked again at once).
    let outbox = shared.outboxes.get(unit, index);
    let step = outbox.next().await;
    if let Ok(Sent::Published { .. }) = step {
        shared.summary.published();
    }
    let wait = match step {
        // Moved an item: the next step at once.
        Ok(Sent::Published { .. } | Sent::Held { .. } | Sent::Failed { .. })
        | Ok(Sent::Skipped { .. } | Sent::Unknown { .. }) => None,
        // Something under way whose outcome is not known yet: look
        // again soon, not in a minute.
        Ok(Sent::Idle) if ctx.store.any_in(&unit.id, "publishing").unwrap_or(false) => {
            Some(UNSETTLED_RECHECK)
        }
        Ok(Sent::Idle) => Some(IDLE_RECHECK),
        Ok(Sent::Waiting { until, why }) => {
            let wait = (until - ctx.clock.now()).to_std().unwrap_or_default();
            tracing::debug!(unit = %unit.id, "publishing waits {}s: {why}", wait.as_secs());
            // At least a moment, at most a while: retries and new items
            // are looked at again then.
            Some(wait.clamp(Duration::from_millis(50), IDLE_RECHECK.max(wait)))
        }
        Ok(Sent::Paused(_)) => Some(PAUSED_RECHECK),
        Err(e) => {
            let account = &unit.accounts[index].name;
            tracing::error!(unit = %unit.id, account = %account, "publish worker: {e}");
            Some(IDLE_RECHECK)
        }
    };
    // Only a step that moved an item changes the unit's counts or its
    // update clock. An idle account looks every minute: at 20,000
    // accounts reading them each time was most of the daemon's idle CPU
    // (BENCHMARKS.md). Polls refresh them too, and the clock's days, and
    // so does an editor's action (the desk's ring, `Shared::service`).
    if wait.is_none() {
        update_gauges(shared, unit);
    }
    wait
}
