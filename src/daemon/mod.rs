//! `autosync run`: the long-running service.
//!
//! One scheduler (`scheduler.rs`) owns every unit's polls and every
//! account's publishing as deadlines in one timer queue (`timers.rs`): a
//! sleeping unit is an entry, not a task, so 20,000 units fit a small box
//! (BENCHMARKS.md). Polls of one unit never overlap, at most
//! `[daemon] concurrency` units poll at once, and the fetcher keeps
//! per-host politeness across all of them. Publishing is its own turn per
//! account fed by the durable queue in the store, so a slow account never
//! delays discovery and a crash loses nothing: the queue is the store.
//!
//! Beside it: the alert watch (`crate::alert`) every
//! [`WATCH_EVERY`](crate::alert::detect::WATCH_EVERY) and its delivery
//! task, each a task of its own so a slow store or a dead robot never holds
//! a poll; daily upkeep (`upkeep.rs`); and a summary line every
//! `[daemon] summary_every_mins` (`summary.rs`), so a quiet log still shows
//! the daemon is alive and working.
//!
//! SIGHUP reloads the config: units added, removed or changed are stopped and
//! started without touching the others; a bad config is refused and the old
//! one keeps running. SIGTERM stops polling, lets in-flight requests finish
//! (bounded by `shutdown_timeout_secs`), flushes the store and returns.

mod scheduler;
mod summary;
mod timers;
mod upkeep;
mod work;

pub use summary::{Summary, SummaryCounts};

use crate::admin;
use crate::config::{self, Config};
use crate::metrics::Metrics;
use crate::outbox::Outboxes;
use crate::pipeline::Context;
use crate::systemd::Notifier;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

/// While an account is paused, its worker looks again this often (the
/// outbox checks the binding again after `outbox::PAUSED_RECHECK`; a reload
/// or an editor's action wakes it at once).
pub const PAUSED_RECHECK: Duration = Duration::from_secs(15 * 60);

/// How often freed heap memory is handed back to the OS.
pub const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Daily upkeep — body retention (`[daemon] keep_bodies_days`), then
/// archival (`archive_after_days`) — runs this long after start (not during
/// the first cycle), then at this interval.
pub const UPKEEP_FIRST: Duration = Duration::from_secs(10 * 60);
pub const UPKEEP_EVERY: Duration = Duration::from_secs(24 * 3600);

/// While an item's outcome is unknown (the platform is still deciding),
/// the worker looks it up this often.
pub const UNSETTLED_RECHECK: Duration = Duration::from_secs(5);

/// When the queue is empty the worker still wakes this often, for retries
/// whose time has come.
pub const IDLE_RECHECK: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Start(String),
}

/// Everything the daemon's tasks share.
#[derive(Clone)]
pub struct Shared {
    pub ctx: Context,
    pub metrics: Arc<Metrics>,
    pub config: Arc<std::sync::RwLock<Arc<Config>>>,
    pub notifier: Notifier,
    /// The scheduler of every unit's polls and every account's turns.
    pub scheduler: scheduler::Handle,
    /// The web desk's logged-in sessions.
    pub sessions: Arc<admin::session::Sessions>,
    /// Every account's outbox: the workers' and the desk's are the same.
    pub outboxes: Arc<Outboxes>,
    /// Each account's last update-clock level, to log a crossing once.
    pub silence: Arc<crate::update_clock::Watch>,
    /// What was done since the last summary line.
    pub summary: Arc<Summary>,
}

impl Shared {
    pub fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// What the HTTP side gets: the same config, store, outboxes and bells.
    pub fn service(&self) -> admin::Service {
        admin::Service {
            ctx: self.ctx.clone(),
            config: self.config.clone(),
            metrics: self.metrics.clone(),
            sessions: self.sessions.clone(),
            outboxes: self.outboxes.clone(),
            wakers: {
                // An editor changed the unit's queue: its accounts look at
                // it now, and its gauges (held, queued) say so at once —
                // an idle turn does not read them (`work::publish_step`).
                let shared = self.clone();
                admin::Bells::new(move |unit| {
                    shared.scheduler.ring(unit);
                    if let Some(u) = shared.config().unit(unit) {
                        work::update_gauges(&shared, u);
                    }
                })
            },
        }
    }
}

/// Run the daemon until `shutdown` is cancelled. `reload` receives one
/// message per SIGHUP.
pub async fn run(
    config_path: PathBuf,
    config: Config,
    ctx: Context,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    mut reload: mpsc::UnboundedReceiver<()>,
) -> Result<(), DaemonError> {
    let shutdown = ctx.shutdown.clone();
    // Held once: the units are shared with the scheduler and the outboxes.
    let config = Arc::new(config);
    let listener = tokio::net::TcpListener::bind(config.daemon.listen)
        .await
        .map_err(|e| DaemonError::Start(format!("listen {}: {e}", config.daemon.listen)))?;
    let (ctx_for_outboxes, metrics_for_outboxes) = (ctx.clone(), metrics.clone());
    let (handle, commands) = scheduler::channel();
    let shared = Shared {
        ctx,
        metrics,
        config: Arc::new(std::sync::RwLock::new(config.clone())),
        notifier: notifier.clone(),
        scheduler: handle,
        sessions: Arc::new(admin::session::Sessions::for_store(&ctx_for_outboxes.store).await),
        outboxes: Arc::new(Outboxes::new(
            ctx_for_outboxes,
            config.daemon.timezone,
            Some(metrics_for_outboxes),
        )),
        silence: Default::default(),
        summary: Default::default(),
    };
    let scheduler = tokio::spawn(
        scheduler::Scheduler::new(
            shared.clone(),
            commands,
            config.daemon.concurrency,
            shutdown.clone(),
        )
        .run(),
    );
    let http = tokio::spawn(admin::serve(listener, shared.service()));
    let (bell, rung) = crate::alert::deliver::bell();
    let delivery = crate::alert::deliver::Delivery {
        store: shared.ctx.store.clone(),
        client: crate::alert::send::client().map_err(DaemonError::Start)?,
        config: shared.config.clone(),
        clock: shared.ctx.clock.clone(),
        backoff: Default::default(),
        shutdown: shutdown.clone(),
    };
    let delivery = tokio::spawn(delivery.run(rung));
    let detector = Arc::new(crate::alert::Detector::new(
        shared.ctx.store.clone(),
        Some(shared.metrics.clone()),
        Some(bell),
    ));

    log_store_sizing(&config);
    for u in &config.units {
        shared.scheduler.start(u.clone());
    }
    notifier.notify(&format!(
        "READY=1\nSTATUS=running {} unit(s)",
        config.units.len()
    ));
    tracing::info!(units = config.units.len(), listen = %config.daemon.listen, "autosync running");
    // Reloads run in a task of their own (stopping a unit waits for its
    // in-flight poll), never in this loop, which feeds the watchdog; the
    // lock makes them take turns.
    let reloading = Arc::new(Mutex::new(()));

    let watchdog = Notifier::watchdog_interval();
    let mut dog = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut trim = tokio::time::interval(TRIM_EVERY);
    let mut upkeep_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + UPKEEP_FIRST, UPKEEP_EVERY);
    let mut upkeep_task: Option<tokio::task::JoinHandle<()>> = None;
    let mut probe_task: Option<tokio::task::JoinHandle<()>> = None;
    let mut watch = tokio::time::interval(crate::alert::detect::WATCH_EVERY);
    let mut watch_task: Option<tokio::task::JoinHandle<()>> = None;
    // Without a summary the timer still runs, idle: one select for both.
    let summary_every = config.alerting.summary_every;
    let mut summary_tick = tokio::time::interval_at(
        tokio::time::Instant::now() + summary_every.unwrap_or(Duration::from_secs(3600)),
        summary_every.unwrap_or(Duration::from_secs(3600)),
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = watch.tick() => {
                // In a task of its own: a slow store must not stop this
                // loop (the watchdog), and one check runs at a time.
                if watch_task.as_ref().is_none_or(|t| t.is_finished()) {
                    let (shared, detector) = (shared.clone(), detector.clone());
                    watch_task = Some(tokio::spawn(async move {
                        let cfg = shared.config();
                        detector.check(&cfg, shared.ctx.clock.now()).await;
                    }));
                }
            }
            _ = summary_tick.tick(), if summary_every.is_some() => {
                let mins = summary_every.unwrap_or_default().as_secs() / 60;
                tracing::info!("summary of the last {mins} min: {}", shared.summary.take());
            }
            _ = trim.tick() => {
                crate::memory::release_free_memory();
                upkeep::record_footprint(&shared);
                // In a task of its own, like upkeep: a probe stuck on a
                // failing disk must not stop this loop (the watchdog).
                if probe_task.as_ref().is_none_or(|t| t.is_finished()) {
                    let store = shared.ctx.store.clone();
                    probe_task = Some(tokio::spawn(async move {
                        let _ = store.check_writable().await;
                    }));
                }
            }
            _ = upkeep_tick.tick() => {
                if upkeep_task.as_ref().is_none_or(|t| t.is_finished()) {
                    upkeep_task = Some(tokio::spawn(upkeep::upkeep(shared.clone())));
                }
            }
            _ = dog.tick(), if watchdog.is_some() => notifier.notify("WATCHDOG=1"),
            Some(()) = reload.recv() => {
                notifier.notify("RELOADING=1");
                let (shared, reloading, path) = (shared.clone(), reloading.clone(), config_path.clone());
                tokio::spawn(async move {
                    let _turn = reloading.lock().await;
                    // The shard is fixed for the life of the process (its
                    // store holds that shard's units): a reload keeps it.
                    let shard = shared.config().daemon.shard;
                    match config::load_shard(&path, shard) {
                        Err(e) => {
                            tracing::error!("reload refused, the running config stays:\n{e}");
                            shared.notifier.notify("READY=1\nSTATUS=reload refused: config has errors; old config running");
                        }
                        Ok(new) => {
                            log_store_sizing(&new);
                            let units = new.units.len();
                            apply(&shared, new).await;
                            shared.notifier.notify(&format!("READY=1\nSTATUS=running {units} unit(s)"));
                        }
                    }
                });
            }
        }
    }

    notifier.notify("STOPPING=1");
    tracing::info!("shutting down");
    let timeout = shared.config().daemon.shutdown_timeout;
    // The scheduler saw the shutdown too: it cancels every unit and waits
    // for the polls and turns in flight.
    if tokio::time::timeout(timeout, scheduler).await.is_err() {
        tracing::warn!(
            "in-flight work did not finish within {timeout:?}; abandoning it (the store stays consistent)"
        );
    }
    http.abort();
    delivery.abort();
    shared
        .ctx
        .store
        .flush()
        .await
        .map_err(|e| DaemonError::Start(format!("final flush: {e}")))?;
    Ok(())
}

/// A retention that does not fit the units this daemon serves (its
/// shard's), in the log at start and on reload, as `check` prints it.
fn log_store_sizing(config: &Config) {
    for w in config::store_sizing(config.units.len(), &config.daemon) {
        tracing::warn!(option = w.option(), "{w}");
    }
}

/// Apply a new config: stop removed and changed units (compared by their
/// configuration, not by where they stand in the file), start new and
/// changed ones, leave the rest running. Every account's outbox is built
/// anew — credentials read again, paused accounts checked again at once —
/// and every worker is woken.
async fn apply(shared: &Shared, new: Config) {
    let old = shared.config();
    if old.daemon.state_dir != new.daemon.state_dir || old.daemon.listen != new.daemon.listen {
        tracing::warn!("[daemon] state_dir and listen take effect only after a restart");
    }
    // By id, both sides: looking each unit up in a list was 400 million
    // comparisons a reload at 20,000 units.
    let by_id = |c: &Config| -> HashMap<String, Arc<config::Unit>> {
        c.units.iter().map(|u| (u.id.clone(), u.clone())).collect()
    };
    let (old_ids, new_ids) = (by_id(&old), by_id(&new));
    // What runs is the old config's units (each started with it).
    let gone: Vec<&config::Unit> = old
        .units
        .iter()
        .map(|u| &**u)
        .filter(|u| new_ids.get(&u.id).is_none_or(|n| !n.same_config(u)))
        .collect();
    shared
        .scheduler
        .stop(gone.iter().map(|u| u.id.as_str()))
        .await;
    for u in gone.iter().filter(|u| !new_ids.contains_key(&u.id)) {
        shared.metrics.remove_unit(&u.id);
    }
    let new = Arc::new(new);
    *shared.config.write().expect("config lock") = new.clone();
    shared.outboxes.reset();
    let mut started = 0;
    for u in &new.units {
        if old_ids.get(&u.id).is_none_or(|o| !o.same_config(u)) {
            shared.scheduler.start(u.clone());
            started += 1;
        } else {
            shared.scheduler.renew(u.clone());
        }
    }
    shared.scheduler.ring_all();
    tracing::info!(
        stopped = gone.len(),
        started,
        units = new.units.len(),
        "config reloaded"
    );
}

/// SIGTERM and SIGINT cancel `shutdown`; SIGHUP sends on `reload`.
pub fn watch_signals(
    shutdown: CancellationToken,
    reload: mpsc::UnboundedSender<()>,
) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM"); shutdown.cancel(); }
                _ = int.recv() => { tracing::info!("SIGINT"); shutdown.cancel(); }
                _ = hup.recv() => { tracing::info!("SIGHUP: reloading the config"); let _ = reload.send(()); }
            }
        }
    });
    Ok(())
}

/// What `autosync status` prints: asked of the running daemon over its HTTP
/// endpoint (sled admits one process), or read from the store when no daemon
/// answers.
pub async fn status_of(config: &Config) -> Result<(String, admin::Status), String> {
    let url = format!("http://{}/status", config.daemon.listen);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            let status = resp
                .json()
                .await
                .map_err(|e| format!("{url}: bad answer: {e}"))?;
            Ok((format!("from the running daemon at {url}"), status))
        }
        Ok(resp) => Err(format!("{url}: HTTP {}", resp.status())),
        Err(e) if e.is_connect() => {
            let store =
                crate::store::Store::open(&config.daemon.state_dir).map_err(|e| e.to_string())?;
            let status = admin::status(config, &store).map_err(|e| e.to_string())?;
            Ok((
                format!(
                    "from the store at {} (no daemon answering)",
                    config.daemon.state_dir.display()
                ),
                status,
            ))
        }
        Err(e) => Err(format!("{url}: {e}")),
    }
}
