//! One auto-update pass over a unit: reconcile → discover → ingest (extract,
//! dedupe, review) → publish.
//!
//! The order inside a unit is what keeps the invariants:
//! 1. items left `publishing` by an earlier run are looked up on the account
//!    before anything else is sent (**never post blind twice**);
//! 2. new entries are written to the store and flushed before the source's
//!    validators (ETag, Last-Modified) move on, so a crash between the two
//!    re-reads the page instead of losing what it announced;
//! 3. an item is marked `publishing`, flushed, and only then sent.

use crate::clock::Clock;
use crate::config::{Config, PublisherConfig, SourceKind, Unit};
use crate::extract;
use crate::fetch::{self, Fetcher};
use crate::publish::{self, Outcome, Post, Publisher};
use crate::review;
use crate::secret::Secret;
use crate::source::{self, Entry};
use crate::store::{self, Inserted, Item, SourceState, Stage, State, Store, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use url::Url;

/// A failing source is polled again after its scheduled interval times
/// 2^(errors-1), at most this long.
pub const SOURCE_BACKOFF_CAP: chrono::Duration = chrono::Duration::hours(6);

/// Give up retrying an item after this many attempts; it then waits for ops.
pub const MAX_ATTEMPTS: u32 = 8;

/// Feed content shorter than this (in characters) is treated as a summary and
/// the article page is fetched instead.
const MIN_FEED_CONTENT_CHARS: usize = 80;

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
    /// Word-list matchers by file set, rebuilt when a file changes.
    pub matchers: Arc<std::sync::Mutex<MatcherCache>>,
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
    /// Things ops should know that are not failures (a permanent redirect).
    pub warnings: Vec<String>,
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
            matchers: Default::default(),
        })
    }
}

/// Run one pass over `units` (all of the config's when `None`), at most
/// `config.daemon.concurrency` units at a time.
pub async fn run_pass(ctx: &Context, config: &Config, only: Option<&str>) -> Vec<UnitReport> {
    let sem = Arc::new(tokio::sync::Semaphore::new(config.daemon.concurrency));
    let mut set = tokio::task::JoinSet::new();
    for (i, unit) in config.units.iter().enumerate() {
        if only.is_some_and(|id| id != unit.id) {
            continue;
        }
        let (ctx, unit, sem) = (ctx.clone(), unit.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let report = match build_publisher(&unit, &ctx) {
                Ok(p) => run_unit(&ctx, &unit, Some(p)).await,
                Err(e) => {
                    // Discovery still runs so nothing is missed; items stay
                    // queued until the account can be reached.
                    let mut r = run_unit(&ctx, &unit, None).await;
                    r.errors.insert(0, e);
                    r
                }
            };
            for e in &report.errors {
                tracing::warn!(unit = %report.unit, "{e}");
            }
            (i, report)
        });
    }
    let mut reports = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(r) => reports.push(r),
            Err(e) => tracing::error!("a unit's pass panicked: {e}"),
        }
    }
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// The publisher of a unit's account, from its config.
pub fn build_publisher(unit: &Unit, ctx: &Context) -> Result<Arc<dyn Publisher>, String> {
    match &unit.publisher {
        PublisherConfig::File { dir } => {
            Ok(Arc::new(publish::file::FilePublisher::new(dir.clone())))
        }
        PublisherConfig::Toutiao {
            base_url,
            cookie_file,
            cookie_env,
            cookie_credential,
        } => {
            let cookie = match (cookie_file, cookie_env, cookie_credential) {
                (Some(path), _, _) => std::fs::read_to_string(path)
                    .map_err(|e| format!("cookie_file {}: {e}", path.display()))?,
                (None, Some(var), _) => std::env::var(var).map_err(|_| {
                    format!("cookie_env {var}: the environment variable is not set")
                })?,
                (None, None, Some(name)) => {
                    let dir = std::env::var("CREDENTIALS_DIRECTORY").map_err(|_| {
                        format!("cookie_credential {name}: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit file)")
                    })?;
                    let path = std::path::Path::new(&dir).join(name);
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("cookie_credential {}: {e}", path.display()))?
                }
                (None, None, None) => return Err("no cookie configured".into()),
            };
            let base = Url::parse(base_url).map_err(|e| format!("publisher base_url: {e}"))?;
            let images: Arc<dyn publish::ImageSource> = Arc::new(FetcherImages(
                ctx.fetcher.clone(),
                fetch::Reach::site(&unit.id, unit.scope()),
            ));
            let p = publish::toutiao::Toutiao::new(
                base,
                Secret::new(cookie.trim()),
                unit.account_name.clone(),
                ctx.fetcher.api_client(),
                images,
            )
            .map_err(|e| format!("account {}: {e}", unit.account_name))?;
            Ok(Arc::new(p))
        }
    }
}

/// Images for publishers come through the fetcher, so politeness, robots and
/// size caps hold for them too.
/// The reach is the unit's; each image may also come from its article's site.
struct FetcherImages(Arc<Fetcher>, fetch::Reach);

#[async_trait]
impl publish::ImageSource for FetcherImages {
    async fn fetch_image(&self, url: &Url, referer: &Url) -> Result<publish::Image, String> {
        let mut req =
            fetch::Request::new(url.clone()).with_reach(self.1.clone().also_site_of(referer));
        req.referer = Some(referer.clone());
        match self.0.get(&req).await.map_err(|e| e.to_string())? {
            fetch::Response::Ok(page) => {
                let ct = page.content_type.clone();
                if let Some(ct) = &ct
                    && !ct.starts_with("image/")
                    && !ct.starts_with("application/octet-stream")
                {
                    return Err(format!("{url}: not an image ({ct})"));
                }
                Ok(publish::Image {
                    bytes: page.body,
                    content_type: ct,
                })
            }
            fetch::Response::NotModified => Err(format!("{url}: unexpected 304")),
        }
    }
}

/// One pass over one unit. Never panics on bad input; every problem lands in
/// the report's `errors`, naming the URL.
pub async fn run_unit(
    ctx: &Context,
    unit: &Unit,
    publisher: Option<Arc<dyn Publisher>>,
) -> UnitReport {
    let mut r = UnitReport {
        unit: unit.id.clone(),
        ..Default::default()
    };
    let mut can_publish = publisher.is_some();
    if let Some(p) = &publisher
        && let Err(e) = reconcile(ctx, unit, p.as_ref()).await
    {
        r.errors.push(e);
        can_publish = false;
    }
    discover_unit(ctx, unit, &mut r).await;
    if let (Some(p), true) = (&publisher, can_publish)
        && let Err(e) = publish_due(ctx, unit, p.as_ref(), &mut r).await
    {
        r.errors.push(e);
    }
    r
}

/// Poll a unit's sources and take in what is new (and retry the article
/// fetches that are due). Publishing is left to the caller.
pub async fn discover_unit(ctx: &Context, unit: &Unit, r: &mut UnitReport) {
    discover_sources(ctx, unit, r).await;
    retry_due_fetches(ctx, unit, r).await;
}

/// Poll `unit.sources` and take in what is new.
pub async fn discover_sources(ctx: &Context, unit: &Unit, r: &mut UnitReport) {
    for src in &unit.sources {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        if let Err(e) = poll_source(ctx, unit, src, r).await {
            r.errors.push(e);
        }
    }
}

/// Fetch again the articles whose fetch failed and whose retry time has come.
pub async fn retry_due_fetches(ctx: &Context, unit: &Unit, r: &mut UnitReport) {
    if let Err(e) = retry_fetches(ctx, unit, r).await {
        r.errors.push(e);
    }
}

/// Items left `publishing` (a crash, an unknown outcome) are looked up on the
/// account: found → published; certainly absent and older than the grace
/// period → queued again. An error leaves them as they are and stops this
/// account's publishing for the pass.
pub async fn reconcile(ctx: &Context, unit: &Unit, p: &dyn Publisher) -> Result<(), String> {
    // Records only: a lookup goes by id and title, never by the body.
    let items = ctx
        .store
        .records_in(&unit.id, "publishing")
        .map_err(|e| e.to_string())?;
    for item in items {
        let State::Publishing { since } = item.state else {
            continue;
        };
        let post = to_post(&item)?;
        match p.lookup(&post).await {
            Ok(Some(remote)) => {
                tracing::info!(unit = %unit.id, item = %item.id, "reconciled: already on the account");
                set(ctx, &item.id, published(remote, ctx.clock.now())).await?;
            }
            Ok(None) if ctx.clock.now() - since >= ctx.publish_grace => {
                tracing::info!(unit = %unit.id, item = %item.id, "reconciled: not on the account, queued again");
                set(ctx, &item.id, State::Queued).await?;
            }
            Ok(None) => {}
            Err(e) => {
                return Err(format!(
                    "account {}: cannot check whether item {} was published ({e}); publishing paused",
                    unit.account_name, item.id
                ));
            }
        }
    }
    Ok(())
}

async fn set(ctx: &Context, id: &str, state: State) -> Result<Item, String> {
    ctx.store
        .set_state(id, state, ctx.clock.now())
        .await
        .map_err(|e| e.to_string())
}

fn published(remote: publish::Remote, at: DateTime<Utc>) -> State {
    State::Published {
        remote_id: remote.id,
        remote_url: remote.url,
        at,
    }
}

/// Poll one source and ingest what it announces.
async fn poll_source(
    ctx: &Context,
    unit: &Unit,
    src: &crate::config::Source,
    r: &mut UnitReport,
) -> Result<(), String> {
    let key = src.key();
    let store = &ctx.store;
    let mut st: SourceState = store
        .source_state(&unit.id, &key)
        .map_err(|e| e.to_string())?;
    if st.gone {
        r.warnings.push(format!(
            "{}: disabled after 410 Gone; change the config to poll it again",
            src.url
        ));
        return Ok(());
    }
    let now = ctx.clock.now();
    if st.consecutive_errors > 0
        && let Some(last) = st.last_poll
        && now < last + source_backoff(st.consecutive_errors)
    {
        // Still failing as far as anyone knows: report it, don't hammer it.
        return Err(format!(
            "{} (failed {} times in a row; next try after {})",
            st.last_error.as_deref().unwrap_or("source failing"),
            st.consecutive_errors,
            last + source_backoff(st.consecutive_errors)
        ));
    }
    st.last_poll = Some(now);
    let mut req =
        fetch::Request::new(src.url.clone()).with_reach(fetch::Reach::site(&unit.id, unit.scope()));
    req.etag = st.etag.clone();
    req.last_modified = st.last_modified.clone();
    let fail = |st: &mut SourceState, msg: String| {
        st.consecutive_errors += 1;
        st.last_error = Some(msg.clone());
        msg
    };
    let page = match ctx.fetcher.get(&req).await {
        Ok(fetch::Response::NotModified) => {
            st.last_success = Some(now);
            st.consecutive_errors = 0;
            st.last_error = None;
            save_source(ctx, unit, &key, &st).await?;
            return Ok(());
        }
        Ok(fetch::Response::Ok(page)) => page,
        Err(e) => {
            if e.is_gone() {
                st.gone = true;
            }
            let msg = fail(&mut st, format!("source {e}"));
            save_source(ctx, unit, &key, &st).await?;
            return Err(msg);
        }
    };
    if let Some(to) = &page.moved_permanently {
        r.warnings.push(format!(
            "{} moved permanently to {to}; update the config",
            src.url
        ));
    }
    let parsed = match &src.kind {
        SourceKind::Feed => source::parse_feed(&page.body, &page.url),
        SourceKind::List { link_selector } => {
            source::parse_list(&page.text(), &page.url, link_selector.as_deref())
        }
    };
    let entries = match parsed {
        Ok(e) => e,
        Err(e) => {
            let msg = fail(&mut st, format!("source {e}"));
            save_source(ctx, unit, &key, &st).await?;
            return Err(msg);
        }
    };
    r.found += entries.len();
    ingest(ctx, unit, &key, entries, !st.baselined, r).await?;
    // Only now that the entries are durable may the validators move on.
    st.baselined = true;
    st.etag = page.etag.clone();
    st.last_modified = page.last_modified.clone();
    st.last_success = Some(now);
    st.consecutive_errors = 0;
    st.last_error = None;
    save_source(ctx, unit, &key, &st).await
}

async fn save_source(
    ctx: &Context,
    unit: &Unit,
    key: &str,
    st: &SourceState,
) -> Result<(), String> {
    ctx.store
        .put_source_state(&unit.id, key, st)
        .map_err(|e| e.to_string())?;
    ctx.store.flush().await.map_err(|e| e.to_string())
}

pub(crate) fn identities(e: &Entry) -> Vec<String> {
    let mut ids = vec![e.url.to_string()];
    if let Some(g) = &e.guid {
        ids.push(format!("guid:{g}"));
    }
    ids
}

pub(crate) fn new_item(
    unit: &Unit,
    source: &str,
    e: &Entry,
    now: DateTime<Utc>,
    state: State,
) -> Item {
    Item {
        guid: e.guid.clone(),
        title: e.title.clone().unwrap_or_default(),
        published_at: e.published_at,
        author: e.author.clone(),
        ..Item::new(&unit.id, e.url.as_str(), source, now, state)
    }
}

/// Record new entries: on a source's first poll only the `backfill` newest
/// are taken in, the rest become the baseline (`seen`); every taken entry is
/// fetched, extracted, deduplicated by content and reviewed.
async fn ingest(
    ctx: &Context,
    unit: &Unit,
    source: &str,
    entries: Vec<Entry>,
    first_poll: bool,
    r: &mut UnitReport,
) -> Result<(), String> {
    let store = &ctx.store;
    let mut fresh = Vec::new();
    for e in entries {
        if !unit.allows(&e.url) {
            tracing::debug!(unit = %unit.id, url = %e.url, "skipped: not on the unit's site");
            continue;
        }
        if store
            .lookup(&unit.id, &identities(&e))
            .map_err(|e| e.to_string())?
            .is_some()
        {
            continue;
        }
        if fresh.iter().any(|f: &Entry| f.url == e.url) {
            continue;
        }
        fresh.push(e);
    }
    r.new += fresh.len();
    if first_poll {
        newest_first(&mut fresh);
        let baseline = fresh.split_off(unit.backfill.min(fresh.len()));
        let now = ctx.clock.now();
        for e in &baseline {
            let item = new_item(unit, source, e, now, State::Seen);
            store
                .insert_new(&item, &identities(e))
                .await
                .map_err(|e| e.to_string())?;
        }
        if !baseline.is_empty() {
            tracing::info!(unit = %unit.id, source, count = baseline.len(), "first poll: recorded as seen (baseline)");
        }
    }
    // Oldest first, so that the account shows them in the site's order.
    fresh.reverse();
    for e in fresh {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        let now = ctx.clock.now();
        match obtain(ctx, unit, &e, false).await {
            Ok(content) => {
                let mut item = new_item(unit, source, &e, now, State::Queued);
                fill(&mut item, content);
                let fp = item.fingerprint.clone().unwrap_or_default();
                let mut ids = identities(&e);
                ids.push(format!("fp:{fp}"));
                review(ctx, unit, &mut item);
                match store
                    .insert_new(&item, &ids)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Inserted::New(_) => {
                        if let State::Held { reason } = &item.state {
                            tracing::info!(unit = %unit.id, url = %item.url, reason, "held for review");
                        }
                    }
                    Inserted::Known(id) => {
                        tracing::info!(unit = %unit.id, url = %e.url, same_as = %id, "same article as a known item");
                    }
                }
            }
            Err(reason) => {
                let item = new_item(
                    unit,
                    source,
                    &e,
                    now,
                    State::Failed {
                        stage: Stage::Fetch,
                        reason: reason.msg.clone(),
                        attempts: 1,
                        next_retry: reason.retry.then(|| now + backoff(1)),
                    },
                );
                store
                    .insert_new(&item, &identities(&e))
                    .await
                    .map_err(|e| e.to_string())?;
                r.failed += 1;
                r.errors.push(reason.msg);
            }
        }
    }
    store.flush().await.map_err(|e| e.to_string())?;
    r.held = store
        .unit_counts(&unit.id)
        .map_err(|e| e.to_string())?
        .get("held")
        .copied()
        .unwrap_or(0);
    Ok(())
}

/// Newest first: by date where known, the source's own order otherwise (lists
/// and feeds put the newest on top; the sort is stable). Undated entries go
/// after dated ones: a total order, which `sort` requires (a comparator that
/// calls dated and undated entries "equal" is not one, and may panic).
fn newest_first(entries: &mut [Entry]) {
    entries.sort_by_key(|e| std::cmp::Reverse(e.published_at));
}

/// The review step: the unit's policy (auto, manual, keywords) over the
/// item's title and text, plus the checks that hold what looks wrong (no
/// body, no date, a title the platform would shorten) or carries personal
/// data. Sets the item's state and hits.
fn review(ctx: &Context, unit: &Unit, item: &mut Item) {
    let matcher = match ctx.matcher_for(&unit.word_lists) {
        Ok(m) => m,
        Err(e) => {
            // A word list that vanished or broke since the config was
            // checked: hold rather than publish unchecked.
            item.state = State::Held {
                reason: format!("word lists unreadable: {e}"),
            };
            return;
        }
    };
    let title_shortened = matches!(unit.publisher, PublisherConfig::Toutiao { .. })
        && publish::toutiao::platform_title(&item.title).1;
    let draft = review::Draft {
        title: &item.title,
        text: &item.text,
        published_at_known: item.published_at.is_some(),
        title_shortened,
        images_dropped: 0,
    };
    match review::review(unit.review, &draft, matcher.as_deref()) {
        review::Verdict::Publish => {
            item.state = State::Queued;
            item.review_hits.clear();
        }
        review::Verdict::Hold { reasons, hits } => {
            item.state = State::Held {
                reason: reasons.join("; "),
            };
            item.review_hits = hits;
        }
    }
}

pub(crate) struct Content {
    title: Option<String>,
    published_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    author: Option<String>,
    origin: Option<String>,
    html: String,
    text: String,
    images: Vec<Url>,
}

pub(crate) struct ObtainError {
    pub(crate) msg: String,
    /// Worth trying again later (network, 5xx), as opposed to a page that is
    /// not an article.
    pub(crate) retry: bool,
}

pub(crate) fn fill(item: &mut Item, c: Content) {
    if let Some(t) = c.title.filter(|t| !t.trim().is_empty()) {
        item.title = t.trim().to_string();
    }
    item.published_at = c.published_at.or(item.published_at);
    item.author = c.author.or(item.author.take());
    item.origin = c.origin;
    item.html = c.html;
    item.text = c.text;
    item.images = c.images.into_iter().map(|u| u.to_string()).collect();
    item.fingerprint = Some(store::fingerprint(&item.title, &item.text));
}

/// One extractor for every article: `extract::extract` compiles the
/// extractor's date patterns on each call, which was the largest single cost
/// of a cycle that fetches articles (regex compilation ~20% of its CPU in
/// `examples/bench_cycle.rs`). The patterns are immutable, so sharing them is
/// like the `LazyLock<Regex>` statics in `source/`.
static EXTRACTOR: std::sync::LazyLock<extract::Extractor> =
    std::sync::LazyLock::new(extract::Extractor::new);

/// The article's content: from the feed when it carries the whole article,
/// else from the article page.
///
/// Articles found by polling must stay on the unit's site (a redirect off it
/// is refused); an editor's hand push (`any_host`) may come from anywhere.
pub(crate) async fn obtain(
    ctx: &Context,
    unit: &Unit,
    e: &Entry,
    any_host: bool,
) -> Result<Content, ObtainError> {
    if let Some(html) = &e.content_html {
        let frag = extract::clean_fragment(html, Some(&e.url));
        if frag.text.chars().count() >= MIN_FEED_CONTENT_CHARS {
            return Ok(Content {
                title: e.title.clone(),
                published_at: e.published_at,
                author: e.author.clone(),
                origin: None,
                html: frag.html,
                text: frag.text,
                images: frag.images,
            });
        }
    }
    let reach = if any_host {
        fetch::Reach::any_host(&unit.id, unit.scope())
    } else {
        fetch::Reach::site(&unit.id, unit.scope())
    };
    let page = match ctx
        .fetcher
        .get(&fetch::Request::new(e.url.clone()).with_reach(reach))
        .await
    {
        Ok(fetch::Response::Ok(p)) => p,
        Ok(fetch::Response::NotModified) => {
            return Err(ObtainError {
                msg: format!("article {}: unexpected 304", e.url),
                retry: true,
            });
        }
        Err(err) => {
            let retry = !matches!(
                err,
                fetch::FetchError::Status {
                    status: 404 | 410 | 403,
                    ..
                } | fetch::FetchError::TooLarge { .. }
                    | fetch::FetchError::Robots { .. }
                    | fetch::FetchError::Refused { .. }
            );
            return Err(ObtainError {
                msg: format!("article {err}"),
                retry,
            });
        }
    };
    if !any_host && !unit.allows(&page.url) {
        return Err(ObtainError {
            msg: format!(
                "article {} redirected off the unit's site to {}",
                e.url, page.url
            ),
            retry: false,
        });
    }
    let a = EXTRACTOR
        .extract(&page.text(), Some(&page.url), &unit.extract)
        .map_err(|err| ObtainError {
            msg: err.to_string(),
            retry: false,
        })?;
    Ok(Content {
        title: Some(a.title)
            .filter(|t| !t.is_empty())
            .or_else(|| e.title.clone()),
        published_at: a.published_at.or(e.published_at),
        author: a.author.or_else(|| e.author.clone()),
        origin: a.source,
        html: a.html,
        text: a.text,
        images: a.images,
    })
}

/// How long a source that failed `errors` times in a row is left alone:
/// nothing after the first failure (the schedule decides), then 5 minutes
/// doubling, capped.
pub fn source_backoff(errors: u32) -> chrono::Duration {
    if errors <= 1 {
        return chrono::Duration::zero();
    }
    backoff(errors - 1).min(SOURCE_BACKOFF_CAP)
}

/// Delay before attempt `n + 1`: 5 minutes doubling, capped at 6 hours.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let mins = 5i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(10));
    chrono::Duration::minutes(mins.min(6 * 60))
}

/// Items whose fetch failed are tried again when their time comes.
async fn retry_fetches(ctx: &Context, unit: &Unit, r: &mut UnitReport) -> Result<(), String> {
    let now = ctx.clock.now();
    for item in ctx
        .store
        .records_in(&unit.id, "failed")
        .map_err(|e| e.to_string())?
    {
        let State::Failed {
            stage: Stage::Fetch,
            attempts,
            next_retry: Some(t),
            ..
        } = item.state
        else {
            continue;
        };
        if t > now || ctx.shutdown.is_cancelled() {
            continue;
        }
        let url = Url::parse(&item.url).map_err(|e| format!("item {}: bad url: {e}", item.id))?;
        let entry = Entry {
            url,
            guid: item.guid.clone(),
            title: Some(item.title.clone()).filter(|t| !t.is_empty()),
            published_at: item.published_at,
            author: item.author.clone(),
            content_html: None,
            summary: None,
        };
        let mut updated = item.clone();
        updated.updated_at = now;
        match obtain(ctx, unit, &entry, false).await {
            Ok(c) => {
                fill(&mut updated, c);
                ctx.store
                    .put_body(&updated)
                    .await
                    .map_err(|e| e.to_string())?;
                review(ctx, unit, &mut updated);
                let fp = updated.fingerprint.clone().unwrap_or_default();
                let dup = ctx
                    .store
                    .lookup(&unit.id, &[format!("fp:{fp}")])
                    .map_err(|e| e.to_string())?;
                if dup.is_some_and(|id| id != updated.id) {
                    updated.state = State::Rejected {
                        reason: "same article as another item".into(),
                    };
                } else {
                    ctx.store
                        .add_identities(&unit.id, &updated.id, &[format!("fp:{fp}")])
                        .map_err(|e| e.to_string())?;
                }
            }
            Err(e) => {
                let attempts = attempts + 1;
                updated.state = State::Failed {
                    stage: Stage::Fetch,
                    reason: e.msg.clone(),
                    attempts,
                    next_retry: (e.retry && attempts < MAX_ATTEMPTS)
                        .then(|| now + backoff(attempts)),
                };
                r.failed += 1;
                r.errors.push(e.msg);
            }
        }
        ctx.store.put(&updated).map_err(|e| e.to_string())?;
    }
    ctx.store.flush().await.map_err(|e| e.to_string())
}

pub fn to_post(item: &Item) -> Result<Post, String> {
    Ok(Post {
        item_id: item.id.clone(),
        title: item.title.clone(),
        html: item.html.clone(),
        text: item.text.clone(),
        source_url: Url::parse(&item.url).map_err(|e| format!("item {}: bad url: {e}", item.id))?,
        images: item
            .images
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect(),
        published_at: item.published_at,
        author: item.author.clone(),
        source: item.origin.clone(),
    })
}

/// Check the account binding before publishing; a display name other than
/// the configured account name is a warning, not a failure.
pub async fn verify_account(unit: &Unit, p: &dyn Publisher) -> Result<Option<String>, String> {
    match p.verify().await {
        Ok(info) if info.display_name != unit.account_name => {
            let w = format!(
                "account display name {:?} differs from account_name {:?}",
                info.display_name, unit.account_name
            );
            tracing::warn!(unit = %unit.id, "{w}");
            Ok(Some(w))
        }
        Ok(_) => Ok(None),
        Err(e) => Err(format!("account {}: {e}", unit.account_name)),
    }
}

/// Publish the unit's due items, one at a time, priority first then oldest.
async fn publish_due(
    ctx: &Context,
    unit: &Unit,
    p: &dyn Publisher,
    r: &mut UnitReport,
) -> Result<(), String> {
    let due = ctx
        .store
        .due(&unit.id, ctx.clock.now())
        .map_err(|e| e.to_string())?;
    if due.is_empty() {
        return Ok(());
    }
    match verify_account(unit, p).await {
        Ok(w) => r.warnings.extend(w),
        Err(e) => return Err(format!("{e}; {} item(s) stay queued", due.len())),
    }
    for item in due {
        if ctx.shutdown.is_cancelled() {
            break;
        }
        match publish_one(ctx, unit, p, &item).await? {
            Step::Published(post) => r.published.push(post),
            Step::Failed(e) => {
                r.failed += 1;
                r.errors.push(e);
            }
            Step::Skipped(_) => {}
            Step::Stop(e) => return Err(e),
        }
    }
    Ok(())
}

/// What publishing one item means for the account's next step.
#[derive(Debug)]
pub enum Step {
    Published(PublishedPost),
    /// This item failed; go on with the next.
    Failed(String),
    /// The item was no longer waiting (an editor or another worker took it,
    /// or it was published meanwhile): nothing was sent.
    Skipped(String),
    /// Stop publishing to this account for now (rate limit, expired login,
    /// unknown outcome).
    Stop(String),
}

/// Publish one item: mark it `publishing` (flushed), send it, record the
/// outcome. `Err` only for store errors.
pub async fn publish_one(
    ctx: &Context,
    unit: &Unit,
    p: &dyn Publisher,
    item: &Item,
) -> Result<Step, String> {
    let attempts = match &item.state {
        State::Failed { attempts, .. } => *attempts,
        _ => 0,
    };
    let started = ctx.clock.now();
    // Check-and-set: if someone else took the item meanwhile, leave it.
    // The item comes back with its body: what is sent is what is stored.
    let item = match ctx.store.begin_publishing(&item.id, started).await {
        Ok(Some(item)) => item,
        Ok(None) => return Ok(Step::Skipped(item.id.clone())),
        Err(e @ StoreError::BodyLost { .. }) => {
            tracing::error!(unit = %unit.id, "{e}");
            return Ok(Step::Failed(e.to_string()));
        }
        Err(e) => return Err(e.to_string()),
    };
    // Never an empty post. Review holds items without a body, but a body
    // can also have gone since (retention, `[daemon] keep_bodies_days`).
    if item.html.trim().is_empty() && item.text.trim().is_empty() {
        let reason = "no article body to publish (never extracted, or deleted by retention); push its URL to fetch it again".to_string();
        set(
            ctx,
            &item.id,
            State::Held {
                reason: reason.clone(),
            },
        )
        .await?;
        tracing::warn!(unit = %unit.id, item = %item.id, "{reason}");
        return Ok(Step::Failed(format!("item {}: {reason}", item.id)));
    }
    let item = &item;
    let post = to_post(item)?;
    let outcome = p.publish(&post).await;
    let now = ctx.clock.now();
    let done = |remote: publish::Remote| PublishedPost {
        item: item.id.clone(),
        title: item.title.clone(),
        remote_id: remote.id,
        remote_url: remote.url,
    };
    Ok(match outcome {
        Outcome::Published { remote, notes } => {
            let mut it = set(ctx, &item.id, published(remote.clone(), now)).await?;
            if !notes.is_empty() {
                it.notes.extend(notes);
                ctx.store.put(&it).map_err(|e| e.to_string())?;
                ctx.store.flush().await.map_err(|e| e.to_string())?;
            }
            tracing::info!(unit = %unit.id, item = %item.id, remote = %remote.id, "published");
            Step::Published(done(remote))
        }
        Outcome::RetryLater { after, reason } => {
            let after = chrono::Duration::from_std(after.max(Duration::from_secs(1)))
                .unwrap_or(chrono::Duration::minutes(5));
            let reason = format!("retry later: {reason}");
            set(
                ctx,
                &item.id,
                failed(attempts + 1, reason.clone(), Some(now + after)),
            )
            .await?;
            Step::Stop(format!(
                "account {}: {reason}; retrying after {}s",
                unit.account_name,
                after.num_seconds()
            ))
        }
        Outcome::LoginExpired { reason } => {
            set(ctx, &item.id, State::Queued).await?;
            Step::Stop(format!(
                "account {}: login expired ({reason}); publishing paused, items stay queued — renew the cookie",
                unit.account_name
            ))
        }
        Outcome::Rejected { code, message } => {
            let code = code.map(|c| format!("code {c}: ")).unwrap_or_default();
            let reason = format!("rejected by the platform: {code}{message}");
            set(ctx, &item.id, failed(attempts + 1, reason.clone(), None)).await?;
            Step::Failed(format!("item {} ({}): {reason}", item.id, item.url))
        }
        Outcome::Unknown { reason } => {
            // It may be on the account: look before anything is sent again.
            match p.lookup(&post).await {
                Ok(Some(remote)) => {
                    set(ctx, &item.id, published(remote.clone(), now)).await?;
                    Step::Published(done(remote))
                }
                // Stays `publishing`; reconciling decides later.
                _ => Step::Stop(format!(
                    "account {}: outcome of item {} unknown ({reason}); it will be looked up before any retry",
                    unit.account_name, item.id
                )),
            }
        }
    })
}

fn failed(attempts: u32, reason: String, next: Option<DateTime<Utc>>) -> State {
    State::Failed {
        stage: Stage::Publish,
        reason,
        attempts,
        next_retry: next.filter(|_| attempts < MAX_ATTEMPTS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Guards the last check before a post leaves: an item whose body is
    /// gone (retention) or was never there is held for an editor, never sent
    /// as an empty post.
    #[tokio::test]
    async fn an_item_without_a_body_is_held_not_published() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("posts");
        let text = format!(
            "[daemon]\nstate_dir = \"state\"\n\n[[unit]]\nid = \"u\"\naccount_name = \"单位\"\norg_name = \"单位科学技术协会\"\nlevel = \"county\"\nsite = \"https://example.org/\"\n  [[unit.source]]\n  feed = \"https://example.org/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"{}\"\n",
            out.display()
        );
        let cfg = crate::config::parse(&text, &dir.path().join("a.toml")).unwrap();
        let ctx = Context::open(
            &cfg,
            Arc::new(crate::clock::SystemClock),
            CancellationToken::new(),
        )
        .unwrap();
        let item = Item {
            title: "标题".into(),
            ..Item::new(
                "u",
                "https://example.org/1.html",
                "feed:x",
                Utc::now(),
                State::Queued,
            )
        };
        ctx.store
            .insert_new(&item, std::slice::from_ref(&item.url))
            .await
            .unwrap();
        let p = crate::publish::file::FilePublisher::new(out.clone());
        let step = publish_one(&ctx, &cfg.units[0], &p, &item).await.unwrap();
        assert!(matches!(step, Step::Failed(_)), "{step:?}");
        let got = ctx.store.get(&item.id).unwrap().unwrap();
        assert!(matches!(got.state, State::Held { .. }), "{:?}", got.state);
        assert!(std::fs::read_dir(&out).map_or(true, |mut d| d.next().is_none()));
    }

    #[test]
    fn newest_first_orders_mixed_dated_and_undated_entries_totally() {
        let e = |n: u32, day: Option<u32>| Entry {
            url: Url::parse(&format!("https://a.org/{n}")).unwrap(),
            guid: None,
            title: None,
            published_at: day.map(|d| {
                chrono::FixedOffset::east_opt(8 * 3600)
                    .unwrap()
                    .with_ymd_and_hms(2026, 11, d, 9, 0, 0)
                    .unwrap()
            }),
            author: None,
            content_html: None,
            summary: None,
        };
        let mut v = vec![
            e(1, None),
            e(2, Some(3)),
            e(3, None),
            e(4, Some(20)),
            e(5, Some(7)),
        ];
        newest_first(&mut v);
        let order: Vec<&str> = v.iter().map(|e| e.url.path()).collect();
        // Dated newest first; undated after, in the source's order.
        assert_eq!(order, ["/4", "/5", "/2", "/1", "/3"]);
        // Many shuffled orders: never a panic, dated always first.
        for i in 0..20 {
            v.rotate_left(i % 5);
            v.swap(0, 3);
            newest_first(&mut v);
            let dated: Vec<&str> = v[..3].iter().map(|e| e.url.path()).collect();
            assert_eq!(dated, ["/4", "/5", "/2"]);
        }
    }

    #[test]
    fn a_failing_source_is_left_alone_longer_each_time_up_to_the_cap() {
        // The first failure changes nothing: the schedule decides.
        assert_eq!(source_backoff(0), chrono::Duration::zero());
        assert_eq!(source_backoff(1), chrono::Duration::zero());
        assert_eq!(source_backoff(2), chrono::Duration::minutes(5));
        assert_eq!(source_backoff(3), chrono::Duration::minutes(10));
        assert_eq!(source_backoff(50), SOURCE_BACKOFF_CAP);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), chrono::Duration::minutes(5));
        assert_eq!(backoff(2), chrono::Duration::minutes(10));
        assert_eq!(backoff(30), chrono::Duration::hours(6));
    }
}
