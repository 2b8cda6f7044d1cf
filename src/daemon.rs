//! `autosync run`: the long-running service.
//!
//! A supervisor owns one set of tasks per unit: a poll task per schedule
//! (the unit's, or a source's own) and one publish worker for the unit's
//! account. Polls of one unit never overlap (a per-unit lock), at most
//! `[daemon] concurrency` units poll at once (a semaphore), and the fetcher
//! keeps per-host politeness across all of them. Publishing is its own
//! worker fed by the durable queue in the store, so a slow account never
//! delays discovery and a crash loses nothing: the queue is the store.
//!
//! Beside them: the alert watch (`crate::alert`) every
//! [`WATCH_EVERY`](crate::alert::detect::WATCH_EVERY) and its delivery
//! task, each a task of its own so a slow store or a dead robot never holds
//! a poll; and a summary line every `[daemon] summary_every_mins`, so a
//! quiet log still shows the daemon is alive and working.
//!
//! SIGHUP reloads the config: units added, removed or changed are stopped and
//! started without touching the others; a bad config is refused and the old
//! one keeps running. SIGTERM stops polling, lets in-flight requests finish
//! (bounded by `shutdown_timeout_secs`), flushes the store and returns.

use crate::admin;
use crate::config::{self, Config, Unit};
use crate::ingest;
use crate::metrics::Metrics;
use crate::outbox::{Outboxes, Sent};
use crate::pipeline::{Context, UnitReport};
use crate::schedule::Schedule;
use crate::systemd::Notifier;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
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

/// Daily upkeep, unit by unit: `[daemon] keep_bodies_days` deletes the
/// bodies of items published or rejected longer ago; `archive_after_days`
/// then moves items done longer ago out of the database. Errors are logged;
/// the next day tries again.
async fn upkeep(shared: Shared) {
    let cfg = shared.config();
    let now = shared.ctx.clock.now();
    let (mut bodies, mut archived) = (0, 0);
    for u in &cfg.units {
        if shared.ctx.shutdown.is_cancelled() {
            return;
        }
        if let Some(keep) = cfg.daemon.keep_bodies {
            match shared
                .ctx
                .store
                .drop_bodies_before(&u.id, now - keep, now)
                .await
            {
                Ok(n) => bodies += n,
                Err(e) => tracing::error!(unit = %u.id, "body retention: {e}"),
            }
        }
        if let Some(after) = cfg.daemon.archive_after {
            match shared.ctx.store.archive_before(&u.id, now - after).await {
                Ok(n) => archived += n,
                Err(e) => tracing::error!(unit = %u.id, "archival: {e}"),
            }
        }
    }
    if bodies > 0 {
        tracing::info!(bodies, "body retention: old article bodies deleted");
    }
    if archived > 0 {
        tracing::info!(
            items = archived,
            "archival: items done long ago moved out of the database"
        );
    }
}

/// Resident memory and database size, for ops to watch grow (sled keeps
/// per-page metadata of the whole store resident, BENCHMARKS.md).
fn record_footprint(shared: &Shared) {
    if let Some(rss) = crate::memory::resident_bytes() {
        shared.metrics.resident_memory(rss);
    }
    match shared.ctx.store.db_size() {
        Ok(b) => shared.metrics.store_db_bytes(b),
        Err(e) => tracing::warn!("store size: {e}"),
    }
}

/// While an item's outcome is unknown (the platform is still deciding),
/// the worker looks it up this often.
pub const UNSETTLED_RECHECK: Duration = Duration::from_secs(5);

/// When the queue is empty the worker still wakes this often, for retries
/// whose time has come.
pub const IDLE_RECHECK: Duration = Duration::from_secs(60);

/// What the daemon did since its last summary line.
#[derive(Debug, Default)]
pub struct Summary {
    counts: std::sync::Mutex<SummaryCounts>,
}

/// The counts of one summary period.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SummaryCounts {
    /// Units polled at least once.
    pub units: std::collections::BTreeSet<String>,
    pub polls: u64,
    pub new: u64,
    pub published: u64,
    /// Polls with an error, and the units they were of.
    pub failed_polls: u64,
    pub failed_units: std::collections::BTreeSet<String>,
}

impl Summary {
    /// One poll of `unit` took in `new` entries; `failed` when it had an
    /// error.
    pub fn poll(&self, unit: &str, new: usize, failed: bool) {
        let mut c = self.counts.lock().expect("summary lock");
        c.units.insert(unit.to_string());
        c.polls += 1;
        c.new += new as u64;
        if failed {
            c.failed_polls += 1;
            c.failed_units.insert(unit.to_string());
        }
    }

    /// A post went out.
    pub fn published(&self) {
        self.counts.lock().expect("summary lock").published += 1;
    }

    /// The period's counts, starting a new period.
    pub fn take(&self) -> SummaryCounts {
        std::mem::take(&mut *self.counts.lock().expect("summary lock"))
    }
}

impl std::fmt::Display for SummaryCounts {
    /// The summary line's text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "polled {} unit(s) ({} polls), {} new, {} published, {} failed poll(s)",
            self.units.len(),
            self.polls,
            self.new,
            self.published,
            self.failed_polls
        )?;
        if !self.failed_units.is_empty() {
            let names: Vec<&str> = self.failed_units.iter().map(String::as_str).collect();
            write!(f, " (units: {})", names.join(", "))?;
        }
        Ok(())
    }
}

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
    /// One semaphore for the whole daemon: `[daemon] concurrency`.
    pub polls: Arc<Semaphore>,
    /// Each unit's publish worker's bell: rung when an editor changes its
    /// queue.
    pub wakers: admin::Bells,
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
            wakers: self.wakers.clone(),
        }
    }
}

struct UnitTasks {
    unit: Arc<Unit>,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
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
    let listener = tokio::net::TcpListener::bind(config.daemon.listen)
        .await
        .map_err(|e| DaemonError::Start(format!("listen {}: {e}", config.daemon.listen)))?;
    let (ctx_for_outboxes, metrics_for_outboxes) = (ctx.clone(), metrics.clone());
    let shared = Shared {
        polls: Arc::new(Semaphore::new(config.daemon.concurrency)),
        ctx,
        metrics,
        config: Arc::new(std::sync::RwLock::new(Arc::new(config.clone()))),
        notifier: notifier.clone(),
        wakers: Default::default(),
        sessions: Default::default(),
        outboxes: Arc::new(Outboxes::new(
            ctx_for_outboxes,
            config.daemon.timezone,
            Some(metrics_for_outboxes),
        )),
        silence: Default::default(),
        summary: Default::default(),
    };
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
    let mut running: HashMap<String, UnitTasks> = HashMap::new();
    for u in &config.units {
        running.insert(u.id.clone(), start_unit(&shared, u.clone()));
    }
    notifier.notify(&format!(
        "READY=1\nSTATUS=running {} unit(s)",
        running.len()
    ));
    tracing::info!(units = running.len(), listen = %config.daemon.listen, "autosync running");
    // Reloads run in a task of their own (stopping a unit waits for its
    // in-flight poll), never in this loop, which feeds the watchdog; the
    // lock makes them take turns.
    let units = Arc::new(Mutex::new(running));

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
                record_footprint(&shared);
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
                    upkeep_task = Some(tokio::spawn(upkeep(shared.clone())));
                }
            }
            _ = dog.tick(), if watchdog.is_some() => notifier.notify("WATCHDOG=1"),
            Some(()) = reload.recv() => {
                notifier.notify("RELOADING=1");
                let (shared, units, path) = (shared.clone(), units.clone(), config_path.clone());
                tokio::spawn(async move {
                    let mut units = units.lock().await;
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
                            apply(&shared, &mut units, new).await;
                            shared.notifier.notify(&format!("READY=1\nSTATUS=running {} unit(s)", units.len()));
                        }
                    }
                });
            }
        }
    }

    notifier.notify("STOPPING=1");
    tracing::info!("shutting down");
    let timeout = shared.config().daemon.shutdown_timeout;
    let stop_all = async {
        let mut units = units.lock().await;
        for (_, t) in units.iter() {
            t.cancel.cancel();
        }
        for (_, mut t) in units.drain() {
            t.cancel.cancel();
            while t.tasks.join_next().await.is_some() {}
        }
    };
    if tokio::time::timeout(timeout, stop_all).await.is_err() {
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
async fn apply(shared: &Shared, units: &mut HashMap<String, UnitTasks>, new: Config) {
    let old = shared.config();
    if old.daemon.state_dir != new.daemon.state_dir || old.daemon.listen != new.daemon.listen {
        tracing::warn!("[daemon] state_dir and listen take effect only after a restart");
    }
    let gone: Vec<String> = units
        .iter()
        .filter(|(id, t)| new.unit(id).is_none_or(|u| !u.same_config(&t.unit)))
        .map(|(id, _)| id.clone())
        .collect();
    let mut stopping = Vec::new();
    for id in &gone {
        if let Some(t) = units.remove(id) {
            t.cancel.cancel();
            stopping.push(t);
        }
    }
    for mut t in stopping {
        while t.tasks.join_next().await.is_some() {}
        if new.unit(&t.unit.id).is_none() {
            shared.metrics.remove_unit(&t.unit.id);
            shared
                .wakers
                .lock()
                .expect("wakers lock")
                .remove(&t.unit.id);
        }
    }
    *shared.config.write().expect("config lock") = Arc::new(new.clone());
    shared.outboxes.reset();
    let mut started = 0;
    for u in &new.units {
        if !units.contains_key(&u.id) {
            units.insert(u.id.clone(), start_unit(shared, u.clone()));
            started += 1;
        }
    }
    for w in shared
        .wakers
        .lock()
        .expect("wakers lock")
        .values()
        .flatten()
    {
        w.notify_one();
    }
    tracing::info!(
        stopped = gone.len(),
        started,
        units = units.len(),
        "config reloaded"
    );
}

/// Start a unit's poll tasks and publish worker.
fn start_unit(shared: &Shared, unit: Unit) -> UnitTasks {
    let cancel = shared.ctx.shutdown.child_token();
    let mut tasks = JoinSet::new();
    let lock = Arc::new(Mutex::new(()));
    // One bell an account worker; a poll or an editor rings them all.
    let bells: Vec<Arc<Notify>> = unit.accounts.iter().map(|_| Arc::default()).collect();
    shared
        .wakers
        .lock()
        .expect("wakers lock")
        .insert(unit.id.clone(), bells.clone());
    // Sources grouped by their effective schedule: one poll task per group.
    // A unit bound by its site alone polls on its schedule what discovery
    // finds (an empty group: `ingest::discover_sources`).
    let mut groups: Vec<(String, Vec<config::Source>)> = Vec::new();
    if unit.sources.is_empty() {
        groups.push((unit.schedule.clone(), Vec::new()));
    }
    for s in &unit.sources {
        let expr = s.schedule.clone().unwrap_or_else(|| unit.schedule.clone());
        match groups.iter_mut().find(|(e, _)| *e == expr) {
            Some((_, v)) => v.push(s.clone()),
            None => groups.push((expr, vec![s.clone()])),
        }
    }
    // One copy of the unit shared by its tasks: 20,000 units × four deep
    // copies of their config was tens of MiB (BENCHMARKS.md).
    let shared_unit = Arc::new(unit);
    let unit = &*shared_unit;
    for (i, (expr, sources)) in groups.into_iter().enumerate() {
        let sched = match Schedule::parse(&expr) {
            Ok(s) => s,
            Err(e) => {
                // Validated at load; this only guards against a bug.
                tracing::error!(unit = %unit.id, "{e}");
                continue;
            }
        };
        tasks.spawn(poll_loop(
            shared.clone(),
            shared_unit.clone(),
            sources,
            sched,
            i == 0,
            lock.clone(),
            bells.clone(),
            cancel.clone(),
        ));
    }
    for (index, bell) in bells.into_iter().enumerate() {
        tasks.spawn(publish_loop(
            shared.clone(),
            shared_unit.clone(),
            index,
            bell,
            cancel.clone(),
        ));
    }
    UnitTasks {
        unit: shared_unit,
        cancel,
        tasks,
    }
}

/// Sleep until `d` has passed or `cancel` fires; false when cancelled.
async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = cancel.cancelled() => false,
    }
}

#[allow(clippy::too_many_arguments)]
async fn poll_loop(
    shared: Shared,
    unit: Arc<Unit>,
    sources: Vec<config::Source>,
    sched: Schedule,
    retries_too: bool,
    lock: Arc<Mutex<()>>,
    bells: Vec<Arc<Notify>>,
    cancel: CancellationToken,
) {
    let ctx = &shared.ctx;
    let mut first = shared.config().daemon.run_at_start;
    // The firing whose poll comes next (then: ran last).
    let mut last_firing = None;
    loop {
        if !first {
            let tz = shared.config().daemon.timezone;
            let now = ctx.clock.now().with_timezone(&tz);
            // The next firing plus this unit's stable offset within the
            // period: units sharing a schedule do not all start together.
            let Some((firing, next)) = sched.next_poll(&unit.id, unit.jitter, last_firing, now)
            else {
                tracing::warn!(unit = %unit.id, schedule = %sched, "schedule never fires again");
                cancel.cancelled().await;
                return;
            };
            last_firing = Some(firing);
            let wait = (next - now).to_std().unwrap_or_default();
            if !sleep_or_cancel(wait, &cancel).await {
                return;
            }
        }
        first = false;
        // One poll of a unit at a time; at most `concurrency` units at once.
        let _unit_guard = lock.lock().await;
        let Ok(_permit) = shared.polls.clone().acquire_owned().await else {
            return;
        };
        if cancel.is_cancelled() {
            return;
        }
        // Boxed, with everything a poll holds (its report, the polled copy
        // of the unit, fetch, parse, extract): a sleeping unit's task keeps
        // only its schedule and handles — thousands of units sleep between
        // polls (BENCHMARKS.md).
        Box::pin(poll_once(&shared, &unit, &sources, retries_too)).await;
        for b in &bells {
            b.notify_one();
        }
    }
}

/// One poll of `unit`'s `sources` (and its due fetch retries when
/// `retries_too`), recorded in the metrics and the log.
async fn poll_once(shared: &Shared, unit: &Unit, sources: &[config::Source], retries_too: bool) {
    let ctx = &shared.ctx;
    let mut r = UnitReport {
        unit: unit.id.clone(),
        ..Default::default()
    };
    let mut polled = unit.clone();
    polled.sources = sources.to_vec();
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

fn update_gauges(shared: &Shared, unit: &Unit) {
    if let Ok(counts) = shared.ctx.store.unit_counts(&unit.id) {
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        shared.metrics.queue(&unit.id, n("queued"), n("held"));
    }
    let tz = shared.config().daemon.timezone;
    let (store, now) = (&shared.ctx.store, shared.ctx.clock.now());
    crate::update_clock::refresh(store, &shared.metrics, &shared.silence, unit, tz, now);
}

/// The account's publish worker: one step of its outbox at a time, and
/// between steps it sleeps as long as the outbox says (spacing, the
/// platform's wait, a pause), or until an editor's action or a poll wakes it.
async fn publish_loop(
    shared: Shared,
    unit: Arc<Unit>,
    index: usize,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let ctx = &shared.ctx;
    let account = unit.accounts[index].name.clone();
    // The account's update clock, from the store, until its next post (a
    // store of the one-account format knows it only for the unit).
    let last = match ctx.store.last_delivered(&unit.id, &account) {
        Ok(None) if index == 0 => ctx.store.last_published(&unit.id),
        other => other,
    };
    if let Ok(Some(at)) = last {
        shared.metrics.last_publish(&unit.id, &account, at);
    }
    loop {
        if cancel.is_cancelled() {
            return;
        }
        // Boxed, with the step's outbox and answer: an idle worker's task
        // keeps only its handles and its sleep.
        let Some(wait) = Box::pin(publish_step(&shared, &unit, index, &account)).await else {
            continue;
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

/// One step of `unit`'s account `index`'s outbox; how long to sleep
/// before the next, or `None` to take the next step at once.
async fn publish_step(
    shared: &Shared,
    unit: &Unit,
    index: usize,
    account: &str,
) -> Option<Duration> {
    let ctx = &shared.ctx;
    // Taken anew each step: a reload replaces the outboxes (credentials
    // read again, paused accounts checked again at once).
    let outbox = shared.outboxes.get(unit, index);
    let step = outbox.next().await;
    update_gauges(shared, unit);
    if let Ok(Sent::Published { .. }) = step {
        shared.summary.published();
    }
    let wait = match step {
        Ok(Sent::Published { .. } | Sent::Held { .. } | Sent::Failed { .. })
        | Ok(Sent::Skipped { .. } | Sent::Unknown { .. }) => return None,
        // Something under way whose outcome is not known yet: look
        // again soon, not in a minute.
        Ok(Sent::Idle) if ctx.store.any_in(&unit.id, "publishing").unwrap_or(false) => {
            UNSETTLED_RECHECK
        }
        Ok(Sent::Idle) => IDLE_RECHECK,
        Ok(Sent::Waiting { until, why }) => {
            let wait = (until - ctx.clock.now()).to_std().unwrap_or_default();
            tracing::debug!(unit = %unit.id, "publishing waits {}s: {why}", wait.as_secs());
            // At least a moment, at most a while: retries and new items
            // are looked at again then.
            wait.clamp(Duration::from_millis(50), IDLE_RECHECK.max(wait))
        }
        Ok(Sent::Paused(_)) => PAUSED_RECHECK,
        Err(e) => {
            tracing::error!(unit = %unit.id, account = %account, "publish worker: {e}");
            IDLE_RECHECK
        }
    };
    Some(wait)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_a_period_and_starts_the_next_empty() {
        let s = Summary::default();
        s.poll("a", 2, false);
        s.poll("a", 0, true);
        s.poll("b", 1, false);
        s.published();
        assert_eq!(
            s.take().to_string(),
            "polled 2 unit(s) (3 polls), 3 new, 1 published, 1 failed poll(s) (units: a)"
        );
        assert_eq!(
            s.take().to_string(),
            "polled 0 unit(s) (0 polls), 0 new, 0 published, 0 failed poll(s)"
        );
    }
}
