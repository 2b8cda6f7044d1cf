//! The daemon's HTTP endpoint on `[daemon] listen` (loopback by default):
//! `/healthz`, Prometheus `/metrics`, `/status` (JSON, what `autosync
//! status` prints), the editors' JSON API under `/api` ([`api`]) and their
//! web page under `/desk` ([`web`]).

pub mod accounts_page;
pub mod api;
pub mod audit_page;
pub mod client;
pub mod item_page;
pub mod layout;
pub mod list_page;
pub mod login_limit;
pub mod report_page;
pub mod session;
pub mod web;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::outbox::Outboxes;
use crate::pipeline::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// Rings a unit's accounts when an editor changes the unit's queue: the
/// daemon's scheduler takes their turns at once. The default rings
/// nothing (tests, a desk without a daemon).
#[derive(Clone, Default)]
pub struct Bells(Option<Arc<Ring>>);

/// What ringing a unit does: the daemon hands in its scheduler's ring.
type Ring = dyn Fn(&str) + Send + Sync;

impl Bells {
    pub fn new(ring: impl Fn(&str) + Send + Sync + 'static) -> Bells {
        Bells(Some(Arc::new(ring)))
    }

    /// `unit`'s accounts look at their queues now.
    pub fn ring(&self, unit: &str) {
        if let Some(ring) = &self.0 {
            ring(unit);
        }
    }
}

/// What the HTTP side needs of the process it serves, and nothing of its
/// tasks: the current config (a reload swaps it), the store and clock, the
/// metrics, the editors' sessions, and the accounts' outboxes and workers'
/// bells, so that the desk sends through the very outbox the workers use
/// and wakes them. The daemon hands one in; tests can build one.
#[derive(Clone)]
pub struct Service {
    pub ctx: Context,
    pub config: Arc<RwLock<Arc<Config>>>,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<session::Sessions>,
    pub outboxes: Arc<Outboxes>,
    /// Rings a unit's accounts.
    pub wakers: Bells,
}

impl Service {
    pub fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// The editors' desk over the current config; editor actions go
    /// through the workers' outboxes and wake the unit's worker.
    pub fn desk(&self) -> crate::desk::Desk {
        let wakers = self.wakers.clone();
        let mut desk = crate::desk::Desk::new(self.ctx.clone(), self.config());
        desk.outboxes = self.outboxes.clone();
        desk.wake = Some(Arc::new(move |unit: &str| wakers.ring(unit)));
        desk
    }
}

/// Request bodies larger than this get 413: nothing an editor sends is big.
pub const MAX_BODY: usize = 64 * 1024;

/// One unit's line in `autosync status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnitStatus {
    pub unit: String,
    pub account: String,
    pub last_poll: Option<chrono::DateTime<chrono::Utc>>,
    pub last_success: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub queue_depth: usize,
    pub held: usize,
    pub failed: usize,
    pub published: usize,
    /// When the account last got a post: inspections fail an account that
    /// stays silent too long.
    #[serde(default)]
    pub last_post: Option<chrono::DateTime<chrono::Utc>>,
    /// Items sent whose outcome is not known yet (looked up before any
    /// retry).
    #[serde(default)]
    pub publishing: usize,
    /// Each of the unit's accounts.
    #[serde(default)]
    pub accounts: Vec<AccountStatus>,
    /// Sources' warnings (no entries found).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// A unit bound by its site alone: the sources discovery chose, and why.
    #[serde(default)]
    pub discovered: Option<crate::store::Discovered>,
}

/// One account's line in `autosync status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountStatus {
    pub account: String,
    /// The platform (`toutiao`, `wechat`, `webhook`, `file`).
    pub kind: String,
    /// Why its publishing is paused, and since when.
    pub paused: Option<crate::model::Pause>,
    /// The platform asked for no post before this time.
    pub rate_limited_until: Option<chrono::DateTime<chrono::Utc>>,
    /// When it last got a post (any kind: automatic, push, broadcast).
    pub last_post: Option<chrono::DateTime<chrono::Utc>>,
    /// Whole days in `[daemon] timezone` since its last post — since its
    /// unit was first polled when it never posted (`last_post` is `None`);
    /// `None` when nothing is known.
    #[serde(default)]
    pub days_silent: Option<i64>,
    /// The day it becomes overdue unless it posts before (the last post's
    /// date + `max_silence_days`).
    #[serde(default)]
    pub deadline: Option<chrono::NaiveDate>,
    /// How close it is to failing an inspection.
    #[serde(default)]
    pub silence: Option<crate::update_clock::SilenceLevel>,
    /// When the unit's sources last found a new article: a silent account
    /// usually means a site that published nothing new.
    #[serde(default)]
    pub last_new_article: Option<chrono::DateTime<chrono::Utc>>,
    /// Its state as one value (ok · paused: why, since · rate limited
    /// until), the one `/metrics` and the alerts read.
    #[serde(default)]
    pub state: crate::alert::AccountHealth,
    /// Since when it is in that state, as the daemon's watch saw it change
    /// (`None` before the watch first ran; a pause knows its own).
    #[serde(default)]
    pub state_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// What `autosync status` shows: the store's health, then every unit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// Why the store cannot write (disk full, read-only); `None` while it
    /// can.
    pub store_write_failure: Option<crate::store::WriteFailure>,
    pub units: Vec<UnitStatus>,
}

/// Status of the store and every unit of `config`, now.
pub fn status(
    config: &crate::config::Config,
    store: &crate::store::Store,
) -> Result<Status, crate::store::StoreError> {
    status_at(config, store, chrono::Utc::now())
}

/// Status of the store and every unit of `config` at `now` (the update
/// clocks are read at `now`).
pub fn status_at(
    config: &crate::config::Config,
    store: &crate::store::Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Status, crate::store::StoreError> {
    status_where(config, store, now, |_| true)
}

/// The same for the units `keep` keeps: the desk asks only for the units
/// in an editor's reach, on every list page.
pub fn status_where(
    config: &crate::config::Config,
    store: &crate::store::Store,
    now: chrono::DateTime<chrono::Utc>,
    keep: impl Fn(&crate::config::Unit) -> bool,
) -> Result<Status, crate::store::StoreError> {
    let mut out = Vec::new();
    for u in config.units.iter().filter(|u| keep(u)) {
        let last_new_article = store.last_new_article(&u.id)?;
        let counts = store.unit_counts(&u.id)?;
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        let mut st = UnitStatus {
            unit: u.id.clone(),
            account: u.account_name.clone(),
            last_poll: None,
            last_success: None,
            last_error: None,
            queue_depth: n("queued"),
            held: n("held"),
            failed: n("failed"),
            published: n("published"),
            last_post: store.last_published(&u.id)?,
            publishing: n("publishing"),
            accounts: vec![],
            warnings: vec![],
            discovered: None,
        };
        for a in &u.accounts {
            let state = store.account_state(&crate::model::AccountKey {
                unit: u.id.clone(),
                account: a.name.clone(),
            })?;
            let started = crate::update_clock::started(store, u, &a.name)?;
            let clock = started.map(|(since, _)| {
                crate::update_clock::read(&u.silence, config.daemon.timezone, since, now)
            });
            let health = crate::alert::AccountHealth::of(&state, now);
            let state_since = match &health {
                crate::alert::AccountHealth::Paused { since, .. } => Some(*since),
                h => crate::alert::detect::recorded_health(store, &u.id, &a.name)?
                    .filter(|(seen, _)| seen.state() == h.state())
                    .map(|(_, since)| since),
            };
            st.accounts.push(AccountStatus {
                account: a.name.clone(),
                kind: a.publisher.kind().to_string(),
                state: health,
                state_since,
                paused: state.paused,
                rate_limited_until: state.not_before.filter(|t| *t > now),
                last_post: started.filter(|(_, post)| *post).map(|(t, _)| t),
                days_silent: clock.map(|c| c.days_silent),
                deadline: clock.map(|c| c.deadline),
                silence: clock.map(|c| c.level),
                last_new_article,
            });
        }
        if u.sources.is_empty() {
            st.discovered = Some(store.discovered(&u.id)?);
        }
        for s in &store.polled_sources(u)? {
            let ss = store.source_state(&u.id, &s.key())?;
            st.last_poll = st.last_poll.max(ss.last_poll);
            st.last_success = st.last_success.max(ss.last_success);
            if let Some(e) = ss.last_error {
                st.last_error = Some(e);
            }
            st.warnings.extend(ss.warning);
        }
        out.push(st);
    }
    Ok(Status {
        store_write_failure: store.write_failure(),
        units: out,
    })
}

/// Render a status as `autosync status` prints it: a line for the store,
/// then a table of the units; times in UTC (see [`format_status_in`]).
pub fn format_status(status: &Status) -> String {
    format_status_in(status, chrono_tz::UTC)
}

/// [`format_status`] with its times in `tz` (`[daemon] timezone`), each
/// with its zone named.
pub fn format_status_in(status: &Status, tz: chrono_tz::Tz) -> String {
    let t = |v: Option<chrono::DateTime<chrono::Utc>>| {
        v.map(|t| crate::clock::zoned(&t, tz))
            .unwrap_or_else(|| "never".into())
    };
    let mut out = match &status.store_write_failure {
        None => "store: ok\n".to_string(),
        Some(f) => format!("store: CANNOT WRITE: {f}\n"),
    };
    out.push_str(
        "unit\tlast poll\tlast success\tqueued\theld\tfailed\tpublished\tlast post\tlast error\tpublishing\taccount\twarning\n",
    );
    for r in &status.units {
        let account = r
            .accounts
            .iter()
            .map(|a| {
                let state = match (&a.paused, a.rate_limited_until) {
                    (Some(p), _) => format!("paused since {}: {}", t(Some(p.since)), p.reason),
                    (None, Some(until)) => format!("rate limited until {}", t(Some(until))),
                    (None, None) => "ok".into(),
                };
                format!("{} ({}): {state}{}", a.account, a.kind, clock_text(a))
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.unit,
            t(r.last_poll),
            t(r.last_success),
            r.queue_depth,
            r.held,
            r.failed,
            r.published,
            t(r.last_post),
            r.last_error.as_deref().unwrap_or("-"),
            r.publishing,
            account,
            if r.warnings.is_empty() {
                "-".to_string()
            } else {
                r.warnings.join("; ")
            }
        ));
    }
    for r in &status.units {
        if let Some(d) = &r.discovered {
            out.push_str(&discovered_text(&r.unit, d, t));
        }
    }
    out
}

/// A site-bound unit's discovered sources as `status` prints them, below
/// the table: when and why discovery ran, each candidate and its verdict.
fn discovered_text(
    unit: &str,
    d: &crate::store::Discovered,
    t: impl Fn(Option<chrono::DateTime<chrono::Utc>>) -> String,
) -> String {
    let mut out = format!(
        "{unit}: bound by its site {}; sources discovered {} ({})
",
        d.site.as_deref().unwrap_or("-"),
        t(d.at),
        d.trigger
            .map(|t| t.to_string())
            .unwrap_or_else(|| "not yet".into())
    );
    if let Some(e) = &d.error {
        out.push_str(&format!("    discovery failed: {e}\n"));
    }
    for c in d.discovery.iter().flat_map(|d| &d.candidates) {
        let mark = if c.verdict.chosen() { "+" } else { "-" };
        out.push_str(&format!("    {mark} {c}\n"));
    }
    out
}

/// An account's update clock as `status` prints it, after its state: days
/// silent, level and deadline, and — when it is not ok — when its site last
/// had a new article, the usual cause.
fn clock_text(a: &AccountStatus) -> String {
    use crate::update_clock::SilenceLevel;
    let (Some(days), Some(deadline), Some(level)) = (a.days_silent, a.deadline, a.silence) else {
        return ", never posted".into();
    };
    let since = if a.last_post.is_some() {
        "since its last post"
    } else {
        "never posted; since first poll"
    };
    let mut out = format!(", {days} days silent ({since}), {level}, deadline {deadline}");
    if level != SilenceLevel::Ok {
        let last = a
            .last_new_article
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "never".into());
        out.push_str(&format!(", last new article on the site: {last}"));
    }
    out
}

/// 503 while the store cannot write (a full disk, a read-only remount):
/// the daemon then neither records what it finds nor publishes, whatever
/// else still answers.
async fn healthz(State(s): State<Service>) -> (StatusCode, String) {
    match s.ctx.store.write_failure() {
        None => (StatusCode::OK, "ok\n".into()),
        Some(f) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store cannot write: {f}\n"),
        ),
    }
}

async fn metrics(State(s): State<Service>) -> impl IntoResponse {
    let writable = s.ctx.store.write_failure().is_none();
    s.metrics.store_writable(writable);
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        s.metrics.render(),
    )
}

async fn status_json(State(s): State<Service>) -> impl IntoResponse {
    match status_at(&s.config(), &s.ctx.store, s.ctx.clock.now()) {
        Ok(status) => (StatusCode::OK, axum::Json(status)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The router, for the daemon and for tests.
pub fn router(shared: Service) -> Router {
    Router::new()
        // Whoever opens the daemon's address in a browser wants the desk.
        .route("/", get(|| async { axum::response::Redirect::to("/desk") }))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/status", get(status_json))
        .merge(
            api::routes().route_layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                api::limit_guesses,
            )),
        )
        .merge(web::routes())
        .merge(session::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(shared)
}

/// What every answer tells the browser: no framing by other sites
/// (clickjacking an approve button), nothing loaded from elsewhere (a
/// site's images in a preview would tell the site who reviews it), no
/// inline or foreign scripts (the desk has none, so an injected one does
/// not run), forms posted only here, no type sniffing, no referrer leaving
/// with an item's URL. Styles may be inline: the page frame has a
/// `<style>` and pages use `style=` attributes. The preview is an
/// `<iframe srcdoc>`, which inherits this policy; `frame-src 'self'` is
/// all it needs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'none'; object-src 'none'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// For what the desk's own pages show in a frame (the HTML report on the
/// 报表 page): the same policy, framed by this origin only.
pub fn framed_by_the_desk(h: &mut axum::http::HeaderMap) {
    use axum::http::HeaderValue;
    let policy =
        CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'");
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
}

async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::HeaderValue;
    let h = r.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    r
}

/// Serve until the process stops (the daemon aborts this task on shutdown).
pub async fn serve(listener: tokio::net::TcpListener, shared: Service) {
    let shutdown = shared.ctx.shutdown.clone();
    // The peer's address reaches the handlers: logins are limited per
    // address (`session`).
    let app = router(shared).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let res = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = res {
        tracing::error!("http endpoint: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::PublishPath;
    use std::collections::{BTreeMap, BTreeSet};

    const ACCOUNT: &str = "测试账号";

    /// What the daemon hands the HTTP side, over a fresh store in `dir`,
    /// without the daemon's tasks: the handlers are what is under test.
    fn service(dir: &std::path::Path) -> Service {
        let text = format!(
            r#"[daemon]
state_dir = "state"
listen = "127.0.0.1:0"

[[unit]]
id = "u"
account_name = "{ACCOUNT}"
org_name = "测试单位"
level = "county"
site = "http://127.0.0.1:9/"
  [[unit.source]]
  feed = "http://127.0.0.1:9/rss.xml"
  [unit.publisher]
  kind = "file"
  dir = "out"
"#
        );
        let config = crate::config::parse(&text, &dir.join("autosync.toml")).unwrap();
        let ctx = crate::pipeline::Context::open(
            &config,
            Arc::new(crate::clock::SystemClock),
            Default::default(),
        )
        .unwrap();
        let metrics: Arc<Metrics> = Default::default();
        let outboxes = Arc::new(Outboxes::new(
            ctx.clone(),
            config.daemon.timezone,
            Some(metrics.clone()),
        ));
        Service {
            ctx,
            config: Arc::new(RwLock::new(Arc::new(config))),
            metrics,
            sessions: Default::default(),
            outboxes,
            wakers: Default::default(),
        }
    }

    /// A queued item of unit `u`, with a body, stored and flushed.
    async fn queued(store: &crate::store::Store, n: u32) -> crate::store::Item {
        use crate::store::{Item, State};
        let a = Item {
            title: format!("测试稿件{n}"),
            html: format!("<p>正文{n}</p>"),
            text: format!("正文{n}"),
            ..Item::new(
                "u",
                &format!("http://127.0.0.1:9/a/{n}.html"),
                "feed:x",
                chrono::Utc::now(),
                State::Queued,
            )
        };
        store
            .insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        store.flush().await.unwrap();
        a
    }

    /// The real router on a loopback port, as the daemon serves it; its
    /// base URL.
    async fn serve_on_loopback(service: Service) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, service));
        base
    }

    async fn get(url: &str) -> (StatusCode, Option<String>, String) {
        let resp = reqwest::get(url).await.unwrap();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (resp.status(), content_type, resp.text().await.unwrap())
    }

    /// Opening the daemon's bare address leads to the desk.
    #[tokio::test]
    async fn the_root_redirects_to_the_desk() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        let base = serve_on_loopback(service.clone()).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = client.get(format!("{base}/")).send().await.unwrap();
        assert!(resp.status().is_redirection(), "{}", resp.status());
        assert_eq!(
            resp.headers()
                .get(header::LOCATION)
                .unwrap()
                .to_str()
                .unwrap(),
            "/desk"
        );
        service.ctx.shutdown.cancel();
    }

    /// The README is what ops read: every series it names must be exported
    /// with a value once the daemon has recorded it, and every series
    /// exported must be named there.
    #[tokio::test]
    async fn metrics_exports_every_series_the_readme_names_and_no_other() {
        let readme = include_str!("../../README.md");
        let documented: BTreeSet<&str> = regex::Regex::new(r"\bautosync_[a-z0-9_]*[a-z0-9]")
            .unwrap()
            .find_iter(readme)
            .map(|m| m.as_str())
            .collect();
        assert!(documented.len() >= 14, "{documented:?}");

        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        // Each of the daemon's records, once.
        let m = &service.metrics;
        m.poll("u", 3, 1, 0, Some(chrono::Utc::now()));
        m.queue("u", 1, 0);
        m.published("u", ACCOUNT, PublishPath::Auto);
        m.publish_failed("u", ACCOUNT);
        m.account_paused("u", ACCOUNT, false);
        m.account_state("u", ACCOUNT, crate::alert::HealthState::Paused);
        m.last_publish("u", ACCOUNT, chrono::Utc::now());
        m.days_since_last_post("u", ACCOUNT, 3);
        m.publish_latency("u", chrono::TimeDelta::seconds(42));
        m.resident_memory(50 << 20);
        m.store_db_bytes(1 << 20);
        let base = serve_on_loopback(service.clone()).await;

        let (status, content_type, text) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some(crate::metrics::CONTENT_TYPE));
        // `# TYPE name kind` per family, and the name of every sample.
        let families: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' '))
            .collect();
        let samples: BTreeSet<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next())
            .collect();
        for name in &documented {
            let sample = match families.get(name) {
                Some(&"histogram") => format!("{name}_count"),
                Some(_) => name.to_string(),
                None => panic!("{name} is in the README but not exported:\n{text}"),
            };
            assert!(
                samples.contains(sample.as_str()),
                "{name} has no value:\n{text}"
            );
        }
        for name in families.keys() {
            assert!(
                documented.contains(name),
                "{name} is exported but not in the README"
            );
        }
        service.ctx.shutdown.cancel();
    }

    /// Every send goes through the outbox, and the outbox counts it under
    /// the path it went by: the worker's, an editor's push, a broadcast.
    #[tokio::test]
    async fn every_path_a_post_goes_out_by_is_counted_under_its_own_label() {
        use crate::outbox::Sent;
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        let mut ids = Vec::new();
        for n in 1..=3 {
            ids.push(queued(&service.ctx.store, n).await.id);
        }
        let unit = service.config().units[0].clone();
        let outbox = service.outboxes.get(&unit, 0);
        let sent = [
            outbox.send(&ids[2], PublishPath::Push).await.unwrap(),
            outbox.send(&ids[1], PublishPath::Broadcast).await.unwrap(),
            outbox.next().await.unwrap(),
        ];
        for s in &sent {
            assert!(matches!(s, Sent::Published { .. }), "{sent:?}");
        }
        let base = serve_on_loopback(service.clone()).await;
        let (_, _, text) = get(&format!("{base}/metrics")).await;
        for path in PublishPath::ALL {
            let series = format!(
                "autosync_published_total{{unit=\"u\",account=\"{ACCOUNT}\",path=\"{}\"}} 1",
                path.as_str()
            );
            assert!(text.lines().any(|l| l == series), "no {series} in\n{text}");
        }
        service.ctx.shutdown.cancel();
    }

    /// Issue 13: a full disk left the store failing until a restart while
    /// `/healthz` said ok.
    #[tokio::test]
    async fn a_store_that_cannot_write_is_unhealthy_until_the_probe_sees_it_write_again() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        let store = service.ctx.store.clone();
        let a = queued(&store, 1).await;
        let base = serve_on_loopback(service.clone()).await;
        let healthz = format!("{base}/healthz");
        let writable = || async {
            let (_, _, text) = get(&format!("{base}/metrics")).await;
            text.lines()
                .find_map(|l| l.strip_prefix("autosync_store_writable "))
                .map(str::to_string)
        };
        let (code, _, body) = get(&healthz).await;
        assert_eq!((code, body.as_str()), (StatusCode::OK, "ok\n"));

        store.simulate_disk_full(true);
        // Nothing can be taken for publishing while the store cannot write.
        assert!(
            store
                .deliver(
                    &a.id,
                    "acc",
                    &["acc".to_string()],
                    chrono::Utc::now(),
                    crate::store::DeliveryStep::Take,
                )
                .await
                .is_err()
        );
        let (code, _, body) = get(&healthz).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            body.starts_with("store cannot write: No space left on device (since "),
            "{body}"
        );
        assert_eq!(writable().await.as_deref(), Some("0"));
        let (code, _, json) = get(&format!("{base}/status")).await;
        assert_eq!(code, StatusCode::OK, "{json}");
        let status: Status = serde_json::from_str(&json).unwrap();
        let failure = status.store_write_failure.clone().expect("{json}");
        assert_eq!(failure.error, "No space left on device");
        assert_eq!(status.units[0].unit, "u");
        let printed = format_status(&status);
        assert!(
            printed.starts_with("store: CANNOT WRITE: No space left on device (since "),
            "{printed}"
        );

        // Room again. No write has succeeded yet, so still unhealthy; the
        // daemon's periodic probe writes, and the store is healthy again
        // without a restart.
        store.simulate_disk_full(false);
        assert_eq!(get(&healthz).await.0, StatusCode::SERVICE_UNAVAILABLE);
        store.check_writable().await.unwrap();
        let (code, _, body) = get(&healthz).await;
        assert_eq!((code, body.as_str()), (StatusCode::OK, "ok\n"));
        assert_eq!(writable().await.as_deref(), Some("1"));
        let now_status = super::status(&service.config(), &store).unwrap();
        assert!(format_status(&now_status).starts_with("store: ok\n"));
        // What was stored before is all there.
        assert_eq!(store.get(&a.id).unwrap().unwrap().text, a.text);
        service.ctx.shutdown.cancel();
    }

    /// A queued item of unit `u` found at `at`, taken and published on the
    /// account at `at` too (as the worker would have, days ago).
    async fn published_at(
        store: &crate::store::Store,
        n: u32,
        at: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::Item {
        use crate::store::{DeliveryStep, Item, State};
        let a = Item {
            title: format!("测试稿件{n}"),
            ..Item::new(
                "u",
                &format!("http://127.0.0.1:9/old/{n}.html"),
                "feed:x",
                at,
                State::Queued,
            )
        };
        store
            .insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        let accounts = [ACCOUNT.to_string()];
        store
            .deliver(&a.id, ACCOUNT, &accounts, at, DeliveryStep::Take)
            .await
            .unwrap();
        let step = DeliveryStep::Published {
            remote_id: format!("r{n}"),
            remote_url: None,
            notes: vec![],
        };
        store
            .deliver(&a.id, ACCOUNT, &accounts, at, step)
            .await
            .unwrap()
    }

    /// The issue "Ops see every account's health before the inspection
    /// does": days silent, deadline and level per account, read at a fixed
    /// time; an account that never posted counts from its unit's first
    /// poll; any post — here an editor's push — restarts the clock.
    #[tokio::test]
    async fn status_shows_each_accounts_update_clock_and_a_push_resets_it() {
        use crate::update_clock::SilenceLevel;
        use chrono::SubsecRound;
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        let store = service.ctx.store.clone();
        let config = service.config();
        let now = chrono::Utc::now();
        let account = |st: &Status| st.units[0].accounts[0].clone();

        // Nothing known: never posted, never polled.
        let a = account(&status_at(&config, &store, now).unwrap());
        assert_eq!((a.last_post, a.days_silent, a.silence), (None, None, None));
        assert!(
            format_status(&status_at(&config, &store, now).unwrap())
                .contains("测试账号 (file): ok, never posted")
        );

        // Never posted, first polled three days ago: counted from then.
        let polled = crate::store::SourceState {
            last_poll: Some(now - chrono::Days::new(3)),
            ..Default::default()
        };
        store
            .put_source_state("u", "feed:http://127.0.0.1:9/rss.xml", &polled)
            .unwrap();
        let a = account(&status_at(&config, &store, now).unwrap());
        assert_eq!(
            (a.last_post, a.days_silent, a.silence),
            (None, Some(3), Some(SilenceLevel::Ok))
        );

        // Last post eight days ago: the first warning.
        let eight_days_ago = now - chrono::Days::new(8);
        published_at(&store, 1, eight_days_ago).await;
        let st = status_at(&config, &store, now).unwrap();
        let a = account(&st);
        let tz = config.daemon.timezone;
        let posted_on = eight_days_ago.with_timezone(&tz).date_naive();
        assert_eq!(a.last_post, Some(eight_days_ago.trunc_subsecs(3)));
        assert_eq!(a.days_silent, Some(8));
        assert_eq!(a.silence, Some(SilenceLevel::Warning(7)));
        assert_eq!(a.deadline, Some(posted_on + chrono::Days::new(14)));
        assert_eq!(a.last_new_article, Some(eight_days_ago));
        let printed = format_status(&st);
        assert!(
            printed.contains(&format!(
                "8 days silent (since its last post), warning (7 days), deadline {}, last new article on the site: {}",
                posted_on + chrono::Days::new(14),
                eight_days_ago.format("%Y-%m-%d")
            )),
            "{printed}"
        );
        // `/status` carries the same, typed.
        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(
            json["units"][0]["accounts"][0]["silence"],
            serde_json::json!({"level": "warning", "days": 7})
        );
        let back: Status = serde_json::from_value(json).unwrap();
        assert_eq!(back, st);

        // Fifteen days after that post: overdue.
        let later = eight_days_ago + chrono::Days::new(15);
        let a = account(&status_at(&config, &store, later).unwrap());
        assert_eq!(
            (a.days_silent, a.silence),
            (Some(15), Some(SilenceLevel::Overdue))
        );

        // An editor pushes an article: the clock starts again.
        let pushed = queued(&store, 2).await;
        let unit = config.units[0].clone();
        let sent = service
            .outboxes
            .get(&unit, 0)
            .send(&pushed.id, PublishPath::Push)
            .await
            .unwrap();
        assert!(
            matches!(sent, crate::outbox::Sent::Published { .. }),
            "{sent:?}"
        );
        let a = account(&status_at(&config, &store, chrono::Utc::now()).unwrap());
        assert_eq!(
            (a.days_silent, a.silence),
            (Some(0), Some(SilenceLevel::Ok))
        );
        service.ctx.shutdown.cancel();
    }

    /// Ops alert on `autosync_days_since_last_post`: the daemon's gauge
    /// refresh puts each account's days on `/metrics`.
    #[tokio::test]
    async fn days_since_last_post_is_exported_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        let now = chrono::Utc::now();
        published_at(&service.ctx.store, 1, now - chrono::Days::new(8)).await;
        let config = service.config();
        let watch = crate::update_clock::Watch::default();
        crate::update_clock::refresh(
            &service.ctx.store,
            &service.metrics,
            &watch,
            &config.units[0],
            config.daemon.timezone,
            now,
        );
        let base = serve_on_loopback(service.clone()).await;
        let (_, _, text) = get(&format!("{base}/metrics")).await;
        let series = format!("autosync_days_since_last_post{{unit=\"u\",account=\"{ACCOUNT}\"}} 8");
        assert!(text.lines().any(|l| l == series), "no {series} in\n{text}");
        service.ctx.shutdown.cancel();
    }

    /// The desk offers no default account for a hand push or a broadcast
    /// (a push to the wrong account cannot be undone), refuses a form that
    /// names none, and offers on an item only the actions its state allows.
    #[tokio::test]
    async fn the_desk_has_no_default_account_and_offers_only_valid_actions() {
        let dir = tempfile::tempdir().unwrap();
        let mut service = service(dir.path());
        {
            let mut cfg = (*service.config()).clone();
            cfg.daemon.editors_file = Some(dir.path().join("editors.toml"));
            cfg.editors.push(crate::config::Editor {
                name: "王编辑".into(),
                token: crate::secret::Secret::new("0123456789abcdef0123"),
                units: None,
                role: Default::default(),
            });
            service.config = Arc::new(RwLock::new(Arc::new(cfg)));
        }
        let editor = service.config().editors[0].clone();
        let (session, csrf) = service.sessions.create(&service, &editor).await.unwrap();
        let item = queued(&service.ctx.store, 1).await;
        let base = serve_on_loopback(service.clone()).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie = format!("autosync_session={session}");
        let page = |path: String| {
            let (client, cookie) = (client.clone(), cookie.clone());
            async move {
                client
                    .get(path)
                    .header(header::COOKIE, cookie)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        // The list links to the hand-push page instead of embedding a form.
        let list = page(format!("{base}/desk")).await;
        assert!(list.contains(r#"href="/desk/push""#), "{list}");
        // A form without an account is refused; nothing is fetched or sent.
        let r = client
            .post(format!("{base}/desk/push"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("url", "https://example.org/a.html"),
                ("unit", ""),
            ])
            .send()
            .await
            .unwrap();
        let to = r.headers()[header::LOCATION].to_str().unwrap().to_string();
        assert!(to.contains("err="), "{to}");
        assert!(!dir.path().join("out").exists());
        // A queued item: no approve (it is not held); push, reject, title.
        let shown = page(format!("{base}/desk/item/{}", item.id)).await;
        assert!(!shown.contains(r#"id="approve""#), "{shown}");
        for id in ["push", "reject", "retitle", "priority"] {
            assert!(shown.contains(&format!(r#"id="{id}""#)), "{id}: {shown}");
        }
        assert!(shown.contains(
            r#"<select name="to" required><option value="" selected disabled>请选择</option>"#
        ));
        // The preview closes with the unit's source line, as posted.
        assert!(
            shown.contains("来源：") && shown.contains("原文链接："),
            "{shown}"
        );
        // Published: nothing left to do but broadcast; the platform's time
        // is shown in the daemon's zone, named apart from the article's.
        let outbox = service.outboxes.get(&service.config().units[0], 0);
        outbox.next().await.unwrap();
        let shown = page(format!("{base}/desk/item/{}", item.id)).await;
        assert!(
            shown.contains("平台发布时间") && shown.contains("CST"),
            "{shown}"
        );
        assert!(shown.contains("原文发布时间"), "{shown}");
        // An account paused: every editor who reaches it reads it first.
        assert!(
            !page(format!("{base}/desk"))
                .await
                .contains("需要注意的账号")
        );
        let key = crate::model::AccountKey {
            unit: "u".into(),
            account: ACCOUNT.into(),
        };
        let st = crate::model::AccountState {
            paused: Some(crate::model::Pause {
                reason: crate::model::PauseReason::LoginExpired {
                    detail: "session expired".into(),
                },
                since: chrono::Utc::now(),
            }),
            ..Default::default()
        };
        service
            .ctx
            .store
            .put_account_state(&key, &st)
            .await
            .unwrap();
        let list = page(format!("{base}/desk")).await;
        assert!(
            list.contains("需要注意的账号")
                && list.contains("已暂停发布")
                && list.contains("登录已过期"),
            "{list}"
        );
        for id in ["approve", "push", "reject", "retitle", "priority"] {
            assert!(!shown.contains(&format!(r#"id="{id}""#)), "{id}: {shown}");
        }
    }
}
