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
//! SIGHUP reloads the config: units added, removed or changed are stopped and
//! started without touching the others; a bad config is refused and the old
//! one keeps running. SIGTERM stops polling, lets in-flight requests finish
//! (bounded by `shutdown_timeout_secs`), flushes the store and returns.

use crate::admin;
use crate::config::{self, Config, Unit};
use crate::metrics::Metrics;
use crate::pipeline::{self, Context, Step, UnitReport};
use crate::publish::Publisher;
use crate::schedule::{self, Schedule};
use crate::systemd::Notifier;
use chrono::{Datelike, TimeZone};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// While an account's login is expired, its binding is checked again this
/// often (a cheap GET; nothing is posted until it succeeds).
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
        shared
            .metrics
            .set("autosync_resident_memory_bytes", &[], rss as f64);
    }
    match shared.ctx.store.db_size() {
        Ok(b) => shared.metrics.set("autosync_store_db_bytes", &[], b as f64),
        Err(e) => tracing::warn!("store size: {e}"),
    }
}

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
    /// One semaphore for the whole daemon: `[daemon] concurrency`.
    pub polls: Arc<Semaphore>,
    /// Each unit's publish worker's bell: rung when an editor changes its
    /// queue.
    pub wakers: Arc<std::sync::Mutex<HashMap<String, Arc<Notify>>>>,
    /// The web desk's logged-in sessions.
    pub sessions: Arc<admin::web::Sessions>,
}

impl Shared {
    pub fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// The editors' desk over the current config; editor actions wake the
    /// unit's publish worker.
    pub fn desk(&self) -> crate::desk::Desk {
        let wakers = self.wakers.clone();
        let mut desk = crate::desk::Desk::new(self.ctx.clone(), self.config());
        desk.wake = Some(Arc::new(move |unit: &str| {
            if let Some(n) = wakers.lock().expect("wakers lock").get(unit) {
                n.notify_one();
            }
        }));
        desk
    }
}

struct UnitTasks {
    unit: Unit,
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
    let shared = Shared {
        polls: Arc::new(Semaphore::new(config.daemon.concurrency)),
        ctx,
        metrics,
        config: Arc::new(std::sync::RwLock::new(Arc::new(config.clone()))),
        notifier: notifier.clone(),
        wakers: Default::default(),
        sessions: Default::default(),
    };
    let http = tokio::spawn(admin::serve(listener, shared.clone()));

    let mut units: HashMap<String, UnitTasks> = HashMap::new();
    for u in &config.units {
        units.insert(u.id.clone(), start_unit(&shared, u.clone()));
    }
    notifier.notify(&format!("READY=1\nSTATUS=running {} unit(s)", units.len()));
    tracing::info!(units = units.len(), listen = %config.daemon.listen, "autosync running");

    let watchdog = Notifier::watchdog_interval();
    let mut dog = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut trim = tokio::time::interval(TRIM_EVERY);
    let mut upkeep_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + UPKEEP_FIRST, UPKEEP_EVERY);
    let mut upkeep_task: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = trim.tick() => {
                crate::memory::release_free_memory();
                record_footprint(&shared);
            }
            _ = upkeep_tick.tick() => {
                if upkeep_task.as_ref().is_none_or(|t| t.is_finished()) {
                    upkeep_task = Some(tokio::spawn(upkeep(shared.clone())));
                }
            }
            _ = dog.tick(), if watchdog.is_some() => notifier.notify("WATCHDOG=1"),
            Some(()) = reload.recv() => {
                notifier.notify("RELOADING=1");
                match config::load(&config_path) {
                    Err(e) => {
                        tracing::error!("reload refused, the running config stays:\n{e}");
                        notifier.notify("READY=1\nSTATUS=reload refused: config has errors; old config running");
                    }
                    Ok(new) => {
                        apply(&shared, &mut units, new).await;
                        notifier.notify(&format!("READY=1\nSTATUS=running {} unit(s)", units.len()));
                    }
                }
            }
        }
    }

    notifier.notify("STOPPING=1");
    tracing::info!("shutting down");
    let timeout = shared.config().daemon.shutdown_timeout;
    let stop_all = async {
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
    shared
        .ctx
        .store
        .flush()
        .await
        .map_err(|e| DaemonError::Start(format!("final flush: {e}")))?;
    Ok(())
}

/// Apply a new config: stop removed and changed units, start new and changed
/// ones; leave the rest running.
async fn apply(shared: &Shared, units: &mut HashMap<String, UnitTasks>, new: Config) {
    let old = shared.config();
    if old.daemon.state_dir != new.daemon.state_dir || old.daemon.listen != new.daemon.listen {
        tracing::warn!("[daemon] state_dir and listen take effect only after a restart");
    }
    let mut stopped = 0;
    let ids: Vec<String> = units.keys().cloned().collect();
    for id in ids {
        let keep = new
            .unit(&id)
            .is_some_and(|u| u.same_config(&units[&id].unit));
        if !keep && let Some(mut t) = units.remove(&id) {
            t.cancel.cancel();
            while t.tasks.join_next().await.is_some() {}
            if new.unit(&id).is_none() {
                shared.metrics.remove_unit(&id);
            }
            stopped += 1;
        }
    }
    *shared.config.write().expect("config lock") = Arc::new(new.clone());
    let mut started = 0;
    for u in &new.units {
        if !units.contains_key(&u.id) {
            units.insert(u.id.clone(), start_unit(shared, u.clone()));
            started += 1;
        }
    }
    tracing::info!(stopped, started, units = units.len(), "config reloaded");
}

/// Start a unit's poll tasks and publish worker.
fn start_unit(shared: &Shared, unit: Unit) -> UnitTasks {
    let cancel = shared.ctx.shutdown.child_token();
    let mut tasks = JoinSet::new();
    let lock = Arc::new(Mutex::new(()));
    let wake = Arc::new(Notify::new());
    shared
        .wakers
        .lock()
        .expect("wakers lock")
        .insert(unit.id.clone(), wake.clone());
    // Sources grouped by their effective schedule: one poll task per group.
    let mut groups: Vec<(String, Vec<config::Source>)> = Vec::new();
    for s in &unit.sources {
        let expr = s.schedule.clone().unwrap_or_else(|| unit.schedule.clone());
        match groups.iter_mut().find(|(e, _)| *e == expr) {
            Some((_, v)) => v.push(s.clone()),
            None => groups.push((expr, vec![s.clone()])),
        }
    }
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
            unit.clone(),
            sources,
            sched,
            i == 0,
            lock.clone(),
            wake.clone(),
            cancel.clone(),
        ));
    }
    tasks.spawn(publish_loop(
        shared.clone(),
        unit.clone(),
        wake,
        cancel.clone(),
    ));
    UnitTasks {
        unit,
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
    unit: Unit,
    sources: Vec<config::Source>,
    sched: Schedule,
    retries_too: bool,
    lock: Arc<Mutex<()>>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let ctx = &shared.ctx;
    let jitter = schedule::jitter(&unit.id, unit.jitter);
    let mut first = shared.config().daemon.run_at_start;
    loop {
        if !first {
            let tz = shared.config().daemon.timezone;
            let now = ctx.clock.now().with_timezone(&tz);
            let Some(next) = sched.next_after(now) else {
                tracing::warn!(unit = %unit.id, schedule = %sched, "schedule never fires again");
                cancel.cancelled().await;
                return;
            };
            let wait = (next - now).to_std().unwrap_or_default() + jitter;
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
        let mut r = UnitReport {
            unit: unit.id.clone(),
            ..Default::default()
        };
        let mut polled = unit.clone();
        polled.sources = sources.clone();
        // Boxed: a poll's future (fetch, parse, extract) is large, and an
        // unboxed one would make every idle unit's task that large too —
        // thousands of units sleeping between polls (BENCHMARKS.md).
        Box::pin(pipeline::discover_sources(ctx, &polled, &mut r)).await;
        if retries_too {
            Box::pin(pipeline::retry_due_fetches(ctx, &unit, &mut r)).await;
        }
        record_poll(&shared, &unit, &r);
        wake.notify_one();
    }
}

fn record_poll(shared: &Shared, unit: &Unit, r: &UnitReport) {
    let m = &shared.metrics;
    let l = [("unit", unit.id.as_str())];
    m.inc("autosync_polls_total", &l, 1.0);
    m.inc("autosync_items_found_total", &l, r.found as f64);
    m.inc("autosync_items_new_total", &l, r.new as f64);
    m.inc("autosync_poll_errors_total", &l, r.errors.len() as f64);
    if r.ok() {
        let now = shared.ctx.clock.now().timestamp() as f64;
        m.set("autosync_last_success_timestamp_seconds", &l, now);
    }
    for w in &r.warnings {
        tracing::warn!(unit = %unit.id, "{w}");
    }
    for e in &r.errors {
        tracing::error!(unit = %unit.id, "{e}");
    }
    update_gauges(shared, unit);
}

fn update_gauges(shared: &Shared, unit: &Unit) {
    let l = [("unit", unit.id.as_str())];
    if let Ok(counts) = shared.ctx.store.unit_counts(&unit.id) {
        let n = |k: &str| counts.get(k).copied().unwrap_or(0) as f64;
        shared.metrics.set("autosync_queue_depth", &l, n("queued"));
        shared.metrics.set("autosync_held_items", &l, n("held"));
    }
}

/// Start of the current day in the daemon's time zone, as UTC.
fn day_start(shared: &Shared) -> chrono::DateTime<chrono::Utc> {
    let tz = shared.config().daemon.timezone;
    let now = shared.ctx.clock.now().with_timezone(&tz);
    tz.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| shared.ctx.clock.now())
}

/// Posts to the account since the start of today (for the daily cap).
fn posted_today(shared: &Shared, unit: &Unit) -> u32 {
    let since = day_start(shared);
    shared
        .ctx
        .store
        .published_since(&unit.id, since)
        .unwrap_or(0) as u32
}

/// The account's publish worker: reconcile first, then publish due items one
/// at a time within the account's limits.
async fn publish_loop(shared: Shared, unit: Unit, wake: Arc<Notify>, cancel: CancellationToken) {
    let ctx = &shared.ctx;
    let account = unit.account_name.clone();
    let labels = [("unit", unit.id.as_str()), ("account", account.as_str())];
    let publisher: Arc<dyn Publisher> = match pipeline::build_publisher(&unit, ctx) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(unit = %unit.id, "{e}; items stay queued until the config is fixed (then SIGHUP)");
            shared.metrics.set("autosync_account_paused", &labels, 1.0);
            cancel.cancelled().await;
            return;
        }
    };
    let mut verified = false;
    let mut last_post: Option<tokio::time::Instant> = None;
    if let Ok(Some(at)) = ctx.store.last_published(&unit.id) {
        shared.metrics.set(
            "autosync_last_publish_timestamp_seconds",
            &labels,
            at.timestamp() as f64,
        );
    }
    loop {
        if cancel.is_cancelled() {
            return;
        }
        // Items left `publishing` are settled before anything else is sent.
        let unsettled = ctx.store.any_in(&unit.id, "publishing").unwrap_or(true);
        if unsettled {
            if let Err(e) = Box::pin(pipeline::reconcile(ctx, &unit, publisher.as_ref())).await {
                tracing::error!(unit = %unit.id, "{e}");
                if !sleep_or_cancel(IDLE_RECHECK, &cancel).await {
                    return;
                }
                continue;
            }
            let still = ctx.store.any_in(&unit.id, "publishing").unwrap_or(true);
            if still {
                // Waiting out the grace period: nothing else goes out meanwhile.
                let wait = ctx
                    .publish_grace
                    .to_std()
                    .unwrap_or(IDLE_RECHECK)
                    .min(IDLE_RECHECK);
                if !sleep_or_cancel(wait.max(Duration::from_secs(1)), &cancel).await {
                    return;
                }
                continue;
            }
        }
        let due = match ctx.store.due(&unit.id, ctx.clock.now()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(unit = %unit.id, "{e}");
                Vec::new()
            }
        };
        update_gauges(&shared, &unit);
        let Some(item) = due.into_iter().next() else {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(IDLE_RECHECK) => {}
                _ = cancel.cancelled() => return,
            }
            continue;
        };
        // Limits: spacing between posts, and a daily cap.
        if let Some(last) = last_post {
            let next = last + unit.limits.min_interval;
            if tokio::time::Instant::now() < next {
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => {}
                    _ = cancel.cancelled() => return,
                }
                continue;
            }
        }
        if let Some(cap) = unit.limits.daily_cap
            && posted_today(&shared, &unit) >= cap
        {
            let tomorrow = day_start(&shared) + chrono::Duration::days(1);
            let wait = (tomorrow - ctx.clock.now())
                .to_std()
                .unwrap_or(IDLE_RECHECK);
            tracing::info!(unit = %unit.id, cap, "daily cap reached; publishing resumes tomorrow");
            if !sleep_or_cancel(wait, &cancel).await {
                return;
            }
            continue;
        }
        if !verified {
            match Box::pin(pipeline::verify_account(&unit, publisher.as_ref())).await {
                Ok(_) => {
                    verified = true;
                    shared.metrics.set("autosync_account_paused", &labels, 0.0);
                }
                Err(e) => {
                    tracing::error!(unit = %unit.id, "{e}; publishing paused, items stay queued");
                    shared.metrics.set("autosync_account_paused", &labels, 1.0);
                    if !sleep_or_cancel(PAUSED_RECHECK, &cancel).await {
                        return;
                    }
                    continue;
                }
            }
        }
        // Boxed for the same reason as a poll: idle workers stay small.
        match Box::pin(pipeline::publish_one(ctx, &unit, publisher.as_ref(), &item)).await {
            Ok(Step::Published(p)) => {
                last_post = Some(tokio::time::Instant::now());
                shared.metrics.set(
                    "autosync_last_publish_timestamp_seconds",
                    &labels,
                    ctx.clock.now().timestamp() as f64,
                );
                shared.metrics.inc("autosync_published_total", &labels, 1.0);
                let latency =
                    (ctx.clock.now() - item.discovered_at).num_milliseconds() as f64 / 1000.0;
                shared.metrics.observe(
                    "autosync_publish_latency_seconds",
                    &[("unit", unit.id.as_str())],
                    latency,
                );
                tracing::debug!(unit = %unit.id, remote = %p.remote_id, "published");
            }
            Ok(Step::Skipped(id)) => {
                tracing::debug!(unit = %unit.id, item = %id, "taken meanwhile; skipped");
            }
            Ok(Step::Failed(e)) => {
                shared
                    .metrics
                    .inc("autosync_publish_failures_total", &labels, 1.0);
                tracing::error!(unit = %unit.id, "{e}");
            }
            Ok(Step::Stop(e)) => {
                shared
                    .metrics
                    .inc("autosync_publish_failures_total", &labels, 1.0);
                tracing::error!(unit = %unit.id, "{e}");
                let login = e.contains("login expired");
                if login {
                    verified = false;
                    shared.metrics.set("autosync_account_paused", &labels, 1.0);
                }
                let wait = if login { PAUSED_RECHECK } else { IDLE_RECHECK };
                if !sleep_or_cancel(wait, &cancel).await {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(unit = %unit.id, "store: {e}");
                if !sleep_or_cancel(IDLE_RECHECK, &cancel).await {
                    return;
                }
            }
        }
    }
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
pub async fn status_of(config: &Config) -> Result<(String, Vec<admin::UnitStatus>), String> {
    let url = format!("http://{}/status", config.daemon.listen);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => {
            let rows = resp
                .json()
                .await
                .map_err(|e| format!("{url}: bad answer: {e}"))?;
            Ok((format!("from the running daemon at {url}"), rows))
        }
        Ok(resp) => Err(format!("{url}: HTTP {}", resp.status())),
        Err(e) if e.is_connect() => {
            let store =
                crate::store::Store::open(&config.daemon.state_dir).map_err(|e| e.to_string())?;
            let rows = admin::status(config, &store).map_err(|e| e.to_string())?;
            Ok((
                format!(
                    "from the store at {} (no daemon answering)",
                    config.daemon.state_dir.display()
                ),
                rows,
            ))
        }
        Err(e) => Err(format!("{url}: {e}")),
    }
}
