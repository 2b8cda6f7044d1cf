//! One auto-update pass (`autosync once`): for each unit, ingest (poll its
//! sources, take in what is new, retry due article fetches), then publish
//! its due items through the account's [`Outbox`] — the same outbox the
//! daemon's worker and the desk use, with the same rules (binding, spacing,
//! daily cap, the platform's `Retry-After`). Also the [`Context`] every
//! stage is handed.

use crate::clock::Clock;
use crate::config::{Config, Unit};
use crate::fetch::Fetcher;
use crate::hooks::Hooks;
use crate::ingest;
use crate::outbox::{Outbox, Outboxes, Sent, Wait};
use crate::review;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// In `once`, a wait the account asks for (the platform's `Retry-After`,
/// the spacing) up to this long is waited out and the pass goes on; a
/// longer one leaves the items queued for the next pass (not a failure).
pub const ONCE_MAX_WAIT: Duration = Duration::from_secs(60);

/// And at most this long in all, per account and pass.
pub const ONCE_MAX_WAIT_TOTAL: Duration = Duration::from_secs(5 * 60);

/// A failing source is polled again after its scheduled interval times
/// What every stage needs, passed in (no globals).
#[derive(Clone)]
pub struct Context {
    pub fetcher: Arc<Fetcher>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub shutdown: CancellationToken,
    /// A `publishing` item the account does not list is sent again only
    /// after this long: platforms list new posts with some delay
    /// (`[daemon] publish_grace_secs`).
    pub publish_grace: chrono::Duration,
    /// `[daemon] max_new_per_poll`: what one poll of a source takes in.
    pub max_new_per_poll: usize,
    /// `[daemon] extract_budget_ms`: how long one page's extraction may take.
    pub extract_budget: std::time::Duration,
    /// Word-list matchers by file set, rebuilt when a file changes.
    pub matchers: Arc<std::sync::Mutex<MatcherCache>>,
    /// Pause points for race tests; empty (no-op) in production.
    pub hooks: Hooks,
}

/// Matchers keyed by their files and the files' modification times.
pub type MatcherCache = std::collections::HashMap<
    Vec<(std::path::PathBuf, Option<std::time::SystemTime>)>,
    Arc<review::Matcher>,
>;

impl Context {
    /// The matcher for a unit's word lists (`None` when it has none).
    pub fn matcher_for(
        &self,
        paths: &[std::path::PathBuf],
    ) -> Result<Option<Arc<review::Matcher>>, String> {
        if paths.is_empty() {
            return Ok(None);
        }
        let key: Vec<_> = paths
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    std::fs::metadata(p).and_then(|m| m.modified()).ok(),
                )
            })
            .collect();
        if let Some(m) = self.matchers.lock().expect("matcher lock").get(&key) {
            return Ok(Some(m.clone()));
        }
        let lists = paths
            .iter()
            .map(review::WordList::load)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let m = Arc::new(review::Matcher::new(&lists));
        let mut cache = self.matchers.lock().expect("matcher lock");
        cache.retain(|k, _| k.iter().map(|(p, _)| p).ne(paths.iter()));
        cache.insert(key, m.clone());
        Ok(Some(m))
    }
}

/// One published post, for the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishedPost {
    pub item: String,
    pub title: String,
    pub remote_id: String,
    pub remote_url: Option<String>,
}

/// What a pass did for one unit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UnitReport {
    pub unit: String,
    /// Entries the sources announced (this pass).
    pub found: usize,
    /// Entries not seen before.
    pub new: usize,
    pub published: Vec<PublishedPost>,
    /// Items now waiting for an editor.
    pub held: usize,
    /// Items that failed this pass.
    pub failed: usize,
    /// Why the unit failed; empty when it succeeded.
    pub errors: Vec<String>,
    /// Things ops should know that are not failures (a permanent redirect,
    /// a source that found no entries, a rate limit).
    pub warnings: Vec<String>,
    /// Sources whose poll found no entries (see `ingest`).
    pub empty_sources: usize,
}

impl UnitReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

impl std::fmt::Display for UnitReport {
    /// The per-unit summary `autosync once` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} {}: found {}, new {}, published {}, held {}, failed {}",
            if self.ok() { "ok    " } else { "FAILED" },
            self.unit,
            self.found,
            self.new,
            self.published.len(),
            self.held,
            self.failed
        )?;
        for p in &self.published {
            writeln!(
                f,
                "    published {} {:?} -> {}",
                p.item, p.title, p.remote_id
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "    warning: {w}")?;
        }
        for e in &self.errors {
            writeln!(f, "    error: {e}")?;
        }
        Ok(())
    }
}

impl Context {
    /// Open the store and build the fetcher a config asks for.
    pub fn open(
        config: &Config,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<Context, String> {
        let store = Store::open(&config.daemon.state_dir).map_err(|e| e.to_string())?;
        let fetcher = Fetcher::new(config.fetch.clone()).map_err(|e| e.to_string())?;
        Ok(Context {
            fetcher: Arc::new(fetcher),
            store,
            clock,
            shutdown,
            publish_grace: config.daemon.publish_grace,
            max_new_per_poll: config.daemon.max_new_per_poll,
            extract_budget: config.daemon.extract_budget,
            matchers: Default::default(),
            hooks: Hooks::default(),
        })
    }
}

/// Who watches a pass as it goes (`once`'s per-unit lines and progress
/// bar): told how many units the pass has, then when each starts and
/// finishes, from the units' own tasks.
pub trait PassWatch: Send + Sync {
    fn begin(&self, _units: usize) {}
    fn started(&self, _unit: &str) {}
    fn finished(&self, _report: &UnitReport) {}
}

/// Nobody watching.
pub struct Unwatched;
impl PassWatch for Unwatched {}

/// Run one pass over `units` (all of the config's when `None`), at most
/// `config.daemon.concurrency` units at a time.
pub async fn run_pass(ctx: &Context, config: &Config, only: Option<&str>) -> Vec<UnitReport> {
    run_pass_watched(ctx, config, only, Arc::new(Unwatched)).await
}

/// [`run_pass`], telling `watch` of each unit as it starts and finishes.
pub async fn run_pass_watched(
    ctx: &Context,
    config: &Config,
    only: Option<&str>,
    watch: Arc<dyn PassWatch>,
) -> Vec<UnitReport> {
    let sem = Arc::new(tokio::sync::Semaphore::new(config.daemon.concurrency));
    let outboxes = Arc::new(Outboxes::new(ctx.clone(), config.daemon.timezone, None));
    let mut set = tokio::task::JoinSet::new();
    let picked = || {
        config
            .units
            .iter()
            .enumerate()
            .filter(|(_, u)| only.is_none_or(|id| id == u.id))
    };
    watch.begin(picked().count());
    let mut reports = Vec::new();
    let mut collect = |r: Result<(usize, UnitReport), tokio::task::JoinError>| match r {
        Ok(r) => reports.push(r),
        Err(e) => tracing::error!("a unit's pass panicked: {e}"),
    };
    for (i, unit) in picked() {
        // A unit's task is spawned only once it may run, and finished ones
        // are reaped as we go: a task holds its whole future (a few KiB)
        // from spawn until it is joined, so spawning every unit up front
        // held ~50 MiB at 20,000 units (BENCHMARKS.md, "The whole matrix").
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .expect("the pass's semaphore is never closed");
        while let Some(r) = set.try_join_next() {
            collect(r);
        }
        let (ctx, unit, watch, outboxes) =
            (ctx.clone(), unit.clone(), watch.clone(), outboxes.clone());
        set.spawn(async move {
            let _permit = permit;
            let accounts = outboxes.of_unit(&unit);
            watch.started(&unit.id);
            let report = run_unit(&ctx, &unit, &accounts).await;
            for e in &report.errors {
                tracing::warn!(unit = %report.unit, "{e}");
            }
            watch.finished(&report);
            (i, report)
        });
    }
    while let Some(r) = set.join_next().await {
        collect(r);
    }
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// One pass over one unit. Never panics on bad input; every problem lands in
/// the report's `errors` (or `warnings`, for what is not a failure), naming
/// the URL.
pub async fn run_unit(ctx: &Context, unit: &Unit, accounts: &[Arc<Outbox>]) -> UnitReport {
    let mut r = UnitReport {
        unit: unit.id.clone(),
        ..Default::default()
    };
    // Unknown outcomes of an earlier run are settled before anything is sent.
    for outbox in accounts {
        match outbox.settle_unknown().await {
            Ok(w) => r.warnings.extend(w),
            Err(e) => r.errors.push(e.to_string()),
        }
    }
    ingest::discover_unit(ctx, unit, &mut r).await;
    // Each account on its own: one paused or failing never holds another.
    for outbox in accounts {
        if let Err(e) = publish_due(ctx, outbox, &mut r).await {
            r.errors.push(e.to_string());
        }
    }
    r
}

/// Publish the unit's due items through its outbox until none is due or
/// the account must wait longer than [`ONCE_MAX_WAIT`].
async fn publish_due(
    ctx: &Context,
    outbox: &Outbox,
    r: &mut UnitReport,
) -> Result<(), crate::outbox::OutboxError> {
    let account = &outbox.account().account;
    let unit = &outbox.account().unit;
    let mut waited = Duration::ZERO;
    loop {
        if ctx.shutdown.is_cancelled() {
            return Ok(());
        }
        match outbox.next().await? {
            Sent::Published {
                item,
                title,
                remote,
            } => r.published.push(PublishedPost {
                item,
                title,
                remote_id: remote.id,
                remote_url: remote.url,
            }),
            Sent::Held { item, reason } => {
                r.held += 1;
                r.warnings.push(format!("item {item}: held: {reason}"));
            }
            Sent::Failed { item, reason } => {
                r.failed += 1;
                r.errors.push(format!("item {item}: {reason}"));
            }
            Sent::Skipped { .. } => {}
            Sent::Unknown { item, reason } => r.warnings.push(format!(
                "account {account}: outcome of item {item} unknown ({reason}); it is looked up before any retry"
            )),
            Sent::Waiting {
                why: why @ Wait::BindingUnchecked(_),
                ..
            } => {
                // The account cannot be reached at all: a failure of this
                // pass (nothing was sent; the items stay queued).
                let left = ctx.store.due_for(unit, account, ctx.clock.now())?.len();
                r.errors.push(format!(
                    "account {account}: {why}; {left} item(s) stay queued"
                ));
                return Ok(());
            }
            Sent::Waiting { until, why } => {
                let wait = (until - ctx.clock.now()).to_std().unwrap_or_default();
                // Short waits are waited out, but not for ever: a platform
                // that keeps asking leaves the rest to the next pass.
                if wait <= ONCE_MAX_WAIT && waited + wait <= ONCE_MAX_WAIT_TOTAL {
                    waited += wait;
                    tracing::info!(unit = %unit, account = %account, "waiting {}s: {why}", wait.as_secs_f32().ceil());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = ctx.shutdown.cancelled() => return Ok(()),
                    }
                    continue;
                }
                let left = ctx.store.due_for(unit, account, ctx.clock.now())?.len();
                r.warnings.push(format!(
                    "account {account}: {why}; {left} item(s) stay queued until {until} (the daemon or the next pass sends them)"
                ));
                return Ok(());
            }
            Sent::Paused(p) => {
                let left = ctx.store.due_for(unit, account, ctx.clock.now())?.len();
                r.errors.push(format!(
                    "account {account}: publishing paused since {}: {}; {left} item(s) stay queued",
                    p.since, p.reason
                ));
                return Ok(());
            }
            Sent::Idle => return Ok(()),
        }
    }
}
