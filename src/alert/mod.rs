//! Ops hear about what needs doing where the office reads: account health,
//! the update clock's thresholds, sources that stopped yielding entries and
//! units that keep failing, sent once per change to WeCom, DingTalk or
//! Feishu group robots or a plain JSON webhook.
//!
//! - [`config`]: `[[daemon.alert]]` targets (the URL is a secret) and the
//!   `[daemon]` options of the watch;
//! - [`health`]: an account's state as one typed value (ok · paused · rate
//!   limited) — for `/metrics`, `status` and the log;
//! - [`detect`]: compares what the store says now with what was last
//!   alerted (kept in the store, so a restart neither repeats nor misses a
//!   change) and queues one alert per change, durably;
//! - [`send`]: each kind's request (JSON shape, signing) and its answer;
//! - [`deliver`]: the task that sends queued alerts, retrying with backoff,
//!   apart from polling so a dead robot never holds a poll.

pub mod config;
pub mod deliver;
pub mod detect;
pub mod health;
pub mod message;
pub mod send;

pub use config::{AlertKind, Alerting, Target};
pub use detect::Detector;
pub use health::{AccountHealth, HealthState};
pub use message::{Alert, Event};

/// After `autosync once` (cron, no daemon): the watch over the units of
/// the pass (`only`: one), then one delivery round; what a robot refuses
/// stays queued for the next pass or the daemon. Errors are logged: the
/// pass's own result stands.
pub async fn after_pass(
    ctx: &crate::pipeline::Context,
    cfg: &crate::config::Config,
    only: Option<&str>,
) {
    let watch = Detector::new(ctx.store.clone(), None, None);
    let now = ctx.clock.now();
    for unit in cfg
        .units
        .iter()
        .filter(|u| only.is_none_or(|id| id == u.id))
    {
        if let Err(e) = watch.check_unit(cfg, unit, now).await {
            tracing::error!(unit = %unit.id, "alert watch: {e}");
        }
    }
    if cfg.alerting.targets.is_empty() {
        return;
    }
    let client = match send::client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return;
        }
    };
    let delivery = deliver::Delivery {
        store: ctx.store.clone(),
        client,
        config: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(cfg.clone()))),
        clock: ctx.clock.clone(),
        backoff: Default::default(),
        shutdown: ctx.shutdown.clone(),
    };
    delivery.round().await;
}
