//! Ingest: a unit's sources polled, new entries discovered, their articles
//! obtained (from the feed or the page), deduplicated and reviewed, and
//! stored. Publishing is the outbox's ([`crate::outbox`]).
//!
//! The order inside a poll is what keeps the invariants:
//! - new entries are written to the store and flushed before the source's
//!   validators (ETag, Last-Modified) move on, so a crash between the two
//!   re-reads the page instead of losing what it announced;
//! - **a source's baseline is set by the first poll that returns entries**:
//!   a list or feed that yields none is a warning for that source, and the
//!   baseline (and its validators) wait, so a maintenance page or a selector
//!   that no longer matches never makes a whole list of old articles new;
//! - an item that exists is only ever changed through the store's
//!   check-and-set (a fetch retry never overwrites an editor's reject).

use crate::config::{SourceKind, Unit};
use crate::extract;
use crate::fetch;
use crate::hooks::Point;
use crate::pipeline::{Context, UnitReport};

use crate::review;
use crate::site_binding;
use crate::source::{self, Entry};
use crate::store::{self, Inserted, Item, SourceState, Stage, State, StateName};
use chrono::{DateTime, Utc};
use url::Url;

/// A failing source is polled again after its scheduled interval times
/// 2^(errors-1), at most this long.
pub const SOURCE_BACKOFF_CAP: chrono::Duration = chrono::Duration::hours(6);

/// Give up retrying an article fetch after this many attempts.
pub use crate::outbox::MAX_ATTEMPTS;

/// Feed content shorter than this (in characters) is treated as a summary and
/// the article page is fetched instead.
const MIN_FEED_CONTENT_CHARS: usize = 80;

/// Poll a unit's sources and take in what is new (and retry the article
/// fetches that are due). Publishing is left to the caller.
pub async fn discover_unit(ctx: &Context, unit: &Unit, r: &mut UnitReport) {
    discover_sources(ctx, unit, r).await;
    retry_due_fetches(ctx, unit, r).await;
}

/// Poll `unit.sources` and take in what is new. A unit with none is bound
/// by its site: its sources are the discovered ones ([`site_binding`]).
pub async fn discover_sources(ctx: &Context, unit: &Unit, r: &mut UnitReport) {
    let bound;
    let unit = if unit.sources.is_empty() {
        bound = Unit {
            sources: site_binding::sources_of(ctx, unit, r).await,
            ..unit.clone()
        };
        &bound
    } else {
        unit
    };
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
    st.last_success = Some(now);
    st.consecutive_errors = 0;
    st.last_error = None;
    if !entries.iter().any(|e| unit.allows(&e.url)) {
        // No evidence: a maintenance page, a selector that no longer
        // matches, a list the detector misses. The baseline (and the
        // validators, so that the same page is read again once the config
        // is fixed) wait for a poll that finds entries.
        let msg = if st.baselined {
            format!(
                "{}: no entries found any more (did the site change?): is the list page or link_selector still right? Nothing on it is taken for new until entries are found again",
                src.url
            )
        } else {
            format!(
                "{}: no entries found: is the list page or link_selector still right? The source's baseline waits for the first poll that finds entries",
                src.url
            )
        };
        st.empty_since.get_or_insert(now);
        st.warning = Some(msg.clone());
        r.warnings.push(msg);
        r.empty_sources += 1;
        return save_source(ctx, unit, &key, &st).await;
    }
    let baseline = if !st.baselined {
        Baseline::First
    } else if st.empty_since.is_some() {
        // Back after a stretch without entries: only what is dated after
        // the last poll that found entries is new.
        Baseline::After(st.last_entries.or(st.empty_since).unwrap_or(now))
    } else {
        Baseline::Known
    };
    let waiting = ingest(ctx, unit, &key, entries, baseline, r).await?;
    // Only now that the entries are durable may the validators move on.
    st.baselined = true;
    st.empty_since = None;
    st.warning = None;
    st.last_entries = Some(now);
    if waiting > 0 {
        // The validators stay: with them the next poll would get a 304 and
        // never see the entries that wait.
        r.warnings.push(format!(
            "{}: {waiting} more new entries wait for the next polls ([daemon] max_new_per_poll = {}, newest first)",
            src.url, ctx.max_new_per_poll
        ));
    } else {
        st.etag = page.etag.clone();
        st.last_modified = page.last_modified.clone();
    }
    save_source(ctx, unit, &key, &st).await
}

/// Which of a poll's unknown entries are new.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Baseline {
    /// All of them (the source has its baseline).
    Known,
    /// The source's first poll with entries: the `backfill` newest; the rest
    /// are recorded as `seen`, never published.
    First,
    /// Entries again after a stretch without: those dated on or after the
    /// day of this time (the last poll that found entries) are new; older
    /// and undated ones are recorded as `seen`.
    After(DateTime<Utc>),
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
///
/// At most `max_new_per_poll` new entries are taken in, the newest; the
/// others are left unrecorded, so the next poll finds them unknown again and
/// takes the next batch. Returns how many were left. The baseline's `seen`
/// records are not bounded: they cost no article fetch, and a baseline left
/// half-made would turn the old entries it missed into new ones at the next
/// poll.
async fn ingest(
    ctx: &Context,
    unit: &Unit,
    source: &str,
    entries: Vec<Entry>,
    baseline: Baseline,
    r: &mut UnitReport,
) -> Result<usize, String> {
    let store = &ctx.store;
    let mut fresh = Vec::new();
    // Duplicates within one answer, by URL: a set, not a scan of `fresh`
    // (a feed of 100,000 entries spent 72% of its poll here, BENCHMARKS.md).
    let mut seen = std::collections::HashSet::new();
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
        if !seen.insert(e.url.clone()) {
            continue;
        }
        fresh.push(e);
    }
    let mut old = Vec::new();
    match baseline {
        Baseline::Known => {}
        Baseline::First => {
            newest_first(&mut fresh);
            old = fresh.split_off(unit.backfill.min(fresh.len()));
        }
        Baseline::After(cut) => {
            // Days as the site writes them: the cut's day in the entry's
            // own offset (a UTC day would let a Beijing morning's old
            // articles through, or hold back the day's new ones).
            let (new, before): (Vec<Entry>, Vec<Entry>) = fresh.into_iter().partition(|e| {
                e.published_at
                    .is_some_and(|t| t.date_naive() >= cut.with_timezone(t.offset()).date_naive())
            });
            fresh = new;
            old = before;
        }
    }
    let waiting = fresh.len().saturating_sub(ctx.max_new_per_poll);
    if waiting > 0 {
        // Sorted only when bounded: otherwise the source's order stands.
        newest_first(&mut fresh);
        fresh.truncate(ctx.max_new_per_poll);
    }
    r.new += fresh.len();
    if !old.is_empty() {
        let now = ctx.clock.now();
        for e in &old {
            let item = new_item(unit, source, e, now, State::Seen);
            store
                .insert_new(&item, &identities(e))
                .await
                .map_err(|e| e.to_string())?;
        }
        tracing::info!(unit = %unit.id, source, count = old.len(), ?baseline, "recorded as seen (baseline), never published");
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
    Ok(waiting)
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
                reason: format!("敏感词表无法读取：{e}；请管理员检查 word_lists 后再审核"),
            };
            return;
        }
    };
    let title_shortened = unit.platform_title(&item.title).1;
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
    pub(crate) title: Option<String>,
    pub(crate) published_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub(crate) author: Option<String>,
    pub(crate) origin: Option<String>,
    pub(crate) html: String,
    pub(crate) text: String,
    pub(crate) images: Vec<Url>,
    /// The extractor's notes for the editor (videos replaced by a link).
    pub(crate) notes: Vec<String>,
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
    for n in c.notes {
        if !item.notes.contains(&n) {
            item.notes.push(n);
        }
    }
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
/// Articles found by polling must stay on the unit's site (every hop is
/// checked by the fetcher before it connects); an editor's hand push
/// (`any_host`) may come from any public address, or the unit's own site —
/// never from an internal one (see `fetch::Reach`).
pub(crate) async fn obtain(
    ctx: &Context,
    unit: &Unit,
    e: &Entry,
    any_host: bool,
) -> Result<Content, ObtainError> {
    // The page's own fetch time bounds its publish time.
    let extract = extract::ExtractOptions {
        fetched_at: Some(ctx.clock.now().fixed_offset()),
        ..unit.extract.clone()
    };
    let whose = Whose {
        id: &unit.id,
        scope: unit.scope(),
        extract: &extract,
        budget: ctx.extract_budget,
    };
    obtain_with(&ctx.fetcher, &whose, e, any_host).await
}

/// What obtaining an article needs of its unit: `autosync probe` obtains
/// articles for a site that is no configured unit yet.
pub(crate) struct Whose<'a> {
    pub(crate) id: &'a str,
    pub(crate) scope: crate::scope::SiteScope,
    pub(crate) extract: &'a extract::ExtractOptions,
    /// How long extracting one page may take (`[daemon] extract_budget_ms`).
    pub(crate) budget: std::time::Duration,
}

/// [`obtain`] through `fetcher`, touching no store.
pub(crate) async fn obtain_with(
    fetcher: &fetch::Fetcher,
    unit: &Whose<'_>,
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
                notes: frag.notes,
            });
        }
    }
    let reach = if any_host {
        fetch::Reach::any_host(unit.id, unit.scope.clone())
    } else {
        fetch::Reach::site(unit.id, unit.scope.clone())
    };
    let page = match fetcher
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
    if !any_host && !unit.scope.allows(&page.url) {
        return Err(ObtainError {
            msg: format!(
                "article {} redirected off the unit's site to {}",
                e.url, page.url
            ),
            retry: false,
        });
    }
    // Off the async workers, within a budget: a page that runs over it
    // fails like a fetch and is tried again.
    let a = extract::extract_off_runtime(
        &EXTRACTOR,
        page.text(),
        page.url.clone(),
        unit.extract.clone(),
        unit.budget,
    )
    .await
    .map_err(|err| ObtainError {
        retry: matches!(err, extract::ExtractError::OverBudget { .. }),
        msg: err.to_string(),
    })?;
    let nonempty = |t: &Option<String>| t.clone().filter(|t| !t.trim().is_empty());
    let page_title = Some(a.title).filter(|t| !t.trim().is_empty());
    // A feed's metadata is the publisher's own; the page only fills gaps. A
    // list's link text is often cut short ("…"), so there the page wins.
    let (title, published_at, author) = if e.from_feed {
        (
            nonempty(&e.title).or(page_title),
            e.published_at.or(a.published_at),
            nonempty(&e.author).or(a.author),
        )
    } else {
        (
            page_title.or_else(|| nonempty(&e.title)),
            a.published_at.or(e.published_at),
            a.author.or_else(|| e.author.clone()),
        )
    };
    Ok(Content {
        title,
        published_at,
        author,
        origin: a.source,
        html: a.html,
        text: a.text,
        images: a.images,
        notes: a.notes,
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

/// Items whose fetch failed are tried again when their time comes. The
/// article is fetched with no lock held (it takes seconds); the result is
/// written back only if the item is still the failed fetch that was read —
/// one check-and-set — so an editor's reject (or anything else) that landed
/// meanwhile wins and the fetched article is dropped.
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
            from_feed: item.source.starts_with("feed:"),
        };
        let obtained = obtain(ctx, unit, &entry, false).await;
        ctx.hooks.at(Point::FetchRetryBeforeWrite).await;
        // Still the failed fetch we read: same attempts, same retry time.
        let unchanged = |i: &Item| match &i.state {
            State::Failed {
                stage: Stage::Fetch,
                attempts: a,
                next_retry: Some(n),
                ..
            } if *a == attempts && *n == t => Ok(()),
            _ => Err("changed while its article was fetched".to_string()),
        };
        let res = match obtained {
            Ok(c) => {
                let mut fetched = item.clone();
                fill(&mut fetched, c);
                review(ctx, unit, &mut fetched);
                let fp = format!("fp:{}", fetched.fingerprint.clone().unwrap_or_default());
                let dup = ctx
                    .store
                    .lookup(&unit.id, std::slice::from_ref(&fp))
                    .map_err(|e| e.to_string())?
                    .filter(|id| *id != item.id);
                if dup.is_some() {
                    fetched.state = State::Rejected {
                        reason: "与另一篇稿件内容相同（重复稿件）".into(),
                    };
                }
                let res = ctx
                    .store
                    .transition_with_body(&item.id, &[StateName::Failed], now, &fetched, |i| {
                        unchanged(i)?;
                        let keep_priority = i.priority;
                        *i = Item {
                            html: String::new(),
                            text: String::new(),
                            priority: keep_priority,
                            ..fetched.clone()
                        };
                        Ok(())
                    })
                    .await;
                if res.is_ok() && dup.is_none() {
                    ctx.store
                        .add_identities(&unit.id, &item.id, &[fp])
                        .map_err(|e| e.to_string())?;
                }
                res
            }
            Err(e) => {
                let attempts = attempts + 1;
                r.failed += 1;
                r.errors.push(e.msg.clone());
                ctx.store
                    .transition(&item.id, &[StateName::Failed], now, |i| {
                        unchanged(i)?;
                        i.state = State::Failed {
                            stage: Stage::Fetch,
                            reason: e.msg.clone(),
                            attempts,
                            next_retry: (e.retry && attempts < MAX_ATTEMPTS)
                                .then(|| now + backoff(attempts)),
                        };
                        Ok(())
                    })
                    .await
            }
        };
        match res {
            Ok(_) => {}
            Err(e) if e.is_refusal() => {
                tracing::info!(unit = %unit.id, item = %item.id, url = %item.url, "fetch retry dropped: {e}");
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
            from_feed: false,
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

    #[test]
    fn extraction_notes_reach_the_item_once() {
        let mut item = Item::new(
            "u",
            "https://a.org/1",
            "list:x",
            chrono::Utc::now(),
            State::Queued,
        );
        let content = || Content {
            title: Some("标题".into()),
            published_at: None,
            author: None,
            origin: None,
            html: "<p>x</p>".into(),
            text: "x".into(),
            images: vec![],
            notes: vec![
                extract::clean_fragment("<video src=a.mp4></video>", None).notes[0].clone(),
            ],
        };
        fill(&mut item, content());
        // A fetch retried fills the item again: the note is not repeated.
        fill(&mut item, content());
        assert_eq!(item.notes.len(), 1, "{:?}", item.notes);
        assert!(item.notes[0].contains("1 个视频"), "{:?}", item.notes);
    }
}
