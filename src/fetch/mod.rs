//! The HTTP client every outbound request of the pipeline goes through.
//!
//! One [`Fetcher`] per process, passed in (never a global), so that politeness
//! (one request at a time per host, a minimum delay between them), robots.txt,
//! size caps and timeouts hold across all units that share a host.
//!
//! Redirects are followed here, not by reqwest, so that every hop goes through
//! robots.txt and the per-host gate of *its* host, so that loops are detected,
//! and so that a permanent move (301/308) can be reported to ops: the config
//! then names a dead URL and should be updated.
//!
//! Every request carries a [`Reach`] (whose request it is) and is checked
//! before anything connects — scheme, the unit's site scope, and the address
//! connected to — at each redirect hop and for robots.txt too: see
//! [`guard`](self::guard) for the rules and how the address check holds.
//!
//! Nothing in here sleeps on a 429/503: the server's `Retry-After` is handed to
//! the caller ([`FetchError::retry_after`]), because only the scheduler knows
//! whether to retry now, later or never.

mod guard;
mod robots;

pub use guard::{AddrKind, Reach, Refusal, internal_kind};
pub use robots::Robots;

use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use tokio::time::Instant;
use url::Url;

/// How long a fetched robots.txt is trusted.
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How long "robots.txt unreachable, allowing all" is trusted: shorter, so a
/// site whose robots.txt was briefly down gets its rules honoured soon.
const ROBOTS_FAILURE_TTL: Duration = Duration::from_secs(60 * 60);
/// robots.txt beyond this is ignored (RFC 9309 asks parsers for at least 500 KiB).
const ROBOTS_MAX_BYTES: usize = 512 * 1024;
/// Redirects followed when fetching robots.txt (RFC 9309: at least five).
const ROBOTS_MAX_REDIRECTS: usize = 5;
/// Above this many remembered hosts, idle entries are dropped.
const MAX_IDLE_HOSTS: usize = 512;

/// Knobs of the fetcher; `config` fills them from `[fetch]`.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Sent as `User-Agent`; names autosync and a contact URL.
    pub user_agent: String,
    /// Whole-request timeout (per hop, body included).
    pub timeout: Duration,
    /// Time allowed to establish a connection (capped by `timeout`), so a
    /// dead host is reported quickly while a slow body keeps the full budget.
    pub connect_timeout: Duration,
    /// Bodies larger than this are refused (after decompression).
    pub max_body_bytes: usize,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Minimum delay between two requests to one host.
    pub host_delay: Duration,
    /// Whether robots.txt is fetched and honoured.
    pub respect_robots: bool,
    /// Every request through this proxy (`[fetch] proxy`); `None` leaves
    /// reqwest's `http_proxy`/`https_proxy`/`no_proxy` environment in force.
    /// Behind a proxy, names are resolved by it: their address check is
    /// skipped, the scheme, site and IP-literal checks stay.
    pub proxy: Option<Url>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            user_agent: concat!(
                "autosync/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/autosync/autosync)"
            )
            .to_string(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            host_delay: Duration::from_millis(500),
            respect_robots: true,
            proxy: None,
        }
    }
}

/// One GET.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: Url,
    /// From the last `200` of this URL, for a conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Sent as `Referer` (image hot-link protection wants the article URL).
    pub referer: Option<Url>,
    /// Whose request this is and where it may go. The default reaches
    /// nothing, so a request nobody vouched for is refused.
    pub reach: Reach,
}

impl Request {
    /// A GET of `url` that reaches nothing until given a [`Reach`].
    pub fn new(url: Url) -> Self {
        Request {
            url,
            etag: None,
            last_modified: None,
            referer: None,
            reach: Reach::default(),
        }
    }

    /// The same request with `reach`.
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }
}

/// What a GET gave back.
// A page is returned once per GET and moved straight on; boxing it would only
// change the public shape others code against.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Response {
    /// 304: nothing changed since the validators we sent.
    NotModified,
    Ok(Page),
}

/// A successful (2xx) response, body read and capped.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL after redirects.
    pub url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Set when a 301/308 moved the resource: ops should update the config.
    pub moved_permanently: Option<Url>,
}

impl Page {
    /// The body as text, charset resolved by [`crate::charset::decode`].
    pub fn text(&self) -> String {
        crate::charset::decode(&self.body, self.content_type.as_deref()).0
    }
}

/// Why a GET failed. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: timed out")]
    Timeout { url: Url },
    #[error("{url}: cannot connect: {reason}")]
    Connect { url: Url, reason: String },
    #[error("{url}: HTTP {status}")]
    Status {
        url: Url,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{url}: body larger than {limit} bytes")]
    TooLarge { url: Url, limit: usize },
    #[error("{url}: disallowed by robots.txt")]
    Robots { url: Url },
    /// Refused before connecting ([`Reach`]); nothing was asked of the
    /// address, so nothing it would answer can be told.
    #[error("{url}: refused{}: {reason}", .unit.as_ref().map(|u| format!(" for unit {u}")).unwrap_or_default())]
    Refused {
        url: Url,
        unit: Option<String>,
        reason: Refusal,
    },
    #[error("{url}: {reason}")]
    Other { url: Url, reason: String },
}

impl FetchError {
    /// The delay the server asked for (Retry-After on 429/503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// 410 Gone: the source should be disabled until the config changes.
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status: 410, .. })
    }
}

/// The shared client.
pub struct Fetcher {
    /// Redirects off: [`Fetcher::get`] follows them itself.
    client: reqwest::Client,
    /// Same User-Agent and timeouts, redirects on, for platform APIs.
    api: reqwest::Client,
    opts: FetchOptions,
    /// Our robots.txt product token, from the User-Agent ("autosync").
    token: String,
    gate: HostGate,
    robots: RobotsCache,
}

impl Fetcher {
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        let build_err = |e: reqwest::Error| FetchError::Other {
            url: Url::parse("about:blank").expect("static url"),
            reason: format!("cannot build HTTP client: {}", error_chain(&e)),
        };
        let connect_timeout = opts.connect_timeout.min(opts.timeout);
        // Some government sites' WAFs refuse requests without the headers a
        // browser sends; these say what we want and harm no one.
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ),
        );
        headers.insert(
            reqwest::header::ACCEPT_LANGUAGE,
            reqwest::header::HeaderValue::from_static("zh-CN,zh;q=0.9,en;q=0.5"),
        );
        let proxy = match &opts.proxy {
            Some(p) => Some(reqwest::Proxy::all(p.as_str()).map_err(build_err)?),
            None => None,
        };
        let resolver = guard::GuardedResolver::new(guard::proxy_hosts(opts.proxy.as_ref()));
        let mut client = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .dns_resolver(Arc::new(resolver))
            .default_headers(headers)
            .timeout(opts.timeout)
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // No idle connections are kept. A poll's requests to one site
            // come at least `host_delay` apart and the next poll comes
            // minutes later, so a kept connection saves one handshake per
            // article at most, while every site polled in the last seconds
            // holds one (~25 KiB with hyper's buffers and channel): at
            // 2,000 sites, 150-160 MiB peak RSS in a first cycle against
            // 106-112 MiB without (BENCHMARKS.md). Also spares government
            // sites' connection limits.
            .pool_max_idle_per_host(0);
        // Platform APIs are the operator's configured endpoints, not
        // addresses from pages or editors: no reach check, the same proxy.
        let mut api = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .timeout(opts.timeout)
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(opts.max_redirects));
        if let Some(p) = proxy {
            client = client.proxy(p.clone());
            api = api.proxy(p);
        }
        let client = client.build().map_err(build_err)?;
        let api = api.build().map_err(build_err)?;
        let token = ua_token(&opts.user_agent);
        Ok(Fetcher {
            client,
            api,
            gate: HostGate::new(opts.host_delay),
            robots: RobotsCache::default(),
            token,
            opts,
        })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// A plain client with the same User-Agent and timeouts, for publishers
    /// that talk to platform APIs (no politeness, no robots).
    pub fn api_client(&self) -> reqwest::Client {
        self.api.clone()
    }

    /// One polite, capped, conditional GET, redirects followed.
    ///
    /// `Page.moved_permanently` is the URL reached through the leading run of
    /// 301/308 hops (a 302 after them stops the run: only the permanent part
    /// should go into the config).
    pub async fn get(&self, req: &Request) -> Result<Response, FetchError> {
        let mut url = req.url.clone();
        let mut seen: Vec<Url> = vec![url.clone()];
        let mut moved: Option<Url> = None;
        let mut still_permanent = true;
        loop {
            // Before robots.txt, the gate and the connection: a hop is
            // refused before anything is sent to it.
            guard::check(&url, &req.reach)
                .await
                .map_err(|reason| refused(&url, &req.reach, reason))?;
            if self.opts.respect_robots && !self.robots_allow(&url, &req.reach).await {
                return Err(FetchError::Robots { url });
            }
            let permit = self.gate.acquire(&host_key(&url)).await;
            let mut builder = self.client.get(url.clone());
            if let Some(etag) = &req.etag {
                builder = builder.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &req.last_modified {
                builder = builder.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
            if let Some(referer) = &req.referer {
                builder = builder.header(reqwest::header::REFERER, referer.as_str());
            }
            tracing::debug!(url = %url, "GET");
            let resp = guard::in_target(&url, &req.reach, builder.send())
                .await
                .map_err(|e| match guard::refusal_in(&e) {
                    Some(reason) => refused(&url, &req.reach, reason),
                    None => classify(&url, &e),
                })?;
            let status = resp.status();

            if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                drop(resp);
                drop(permit);
                let Some(location) = location else {
                    return Err(FetchError::Status {
                        url,
                        status: status.as_u16(),
                        retry_after: None,
                    });
                };
                let next = url.join(location.trim()).map_err(|e| FetchError::Other {
                    url: url.clone(),
                    reason: format!("bad redirect Location {location:?}: {e}"),
                })?;
                if seen.len() > self.opts.max_redirects {
                    return Err(FetchError::Other {
                        url: req.url.clone(),
                        reason: format!(
                            "more than {} redirects (last to {next})",
                            self.opts.max_redirects
                        ),
                    });
                }
                if seen.contains(&next) {
                    return Err(FetchError::Other {
                        url: req.url.clone(),
                        reason: format!("redirect loop back to {next}"),
                    });
                }
                let permanent = matches!(status.as_u16(), 301 | 308);
                if permanent && still_permanent {
                    moved = Some(next.clone());
                } else {
                    still_permanent = false;
                }
                tracing::debug!(from = %url, to = %next, status = status.as_u16(), "redirect");
                seen.push(next.clone());
                url = next;
                continue;
            }
            if status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(Response::NotModified);
            }
            if !status.is_success() {
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                return Err(FetchError::Status {
                    url,
                    status: status.as_u16(),
                    retry_after,
                });
            }
            let header = |name: reqwest::header::HeaderName| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let etag = header(reqwest::header::ETAG);
            let last_modified = header(reqwest::header::LAST_MODIFIED);
            let body = read_capped(resp, &url, self.opts.max_body_bytes).await?;
            drop(permit);
            return Ok(Response::Ok(Page {
                url,
                status: status.as_u16(),
                content_type,
                body,
                etag,
                last_modified,
                moved_permanently: moved,
            }));
        }
    }

    /// Whether robots.txt of `url`'s origin lets us fetch it.
    async fn robots_allow(&self, url: &Url, reach: &Reach) -> bool {
        let robots = self.robots_for(url, reach).await;
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        robots.allowed(&path)
    }

    /// The cached rules for `url`'s origin, fetched when missing or stale.
    /// Concurrent callers for one origin wait for a single fetch.
    async fn robots_for(&self, url: &Url, reach: &Reach) -> Arc<Robots> {
        let origin = url.origin().ascii_serialization();
        let slot = self.robots.slot(&origin);
        let mut slot = slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.expires
        {
            return cached.robots.clone();
        }
        let (robots, ttl) = self.fetch_robots(url, reach).await;
        let robots = Arc::new(robots);
        *slot = Some(CachedRobots {
            robots: robots.clone(),
            expires: Instant::now() + ttl,
        });
        robots
    }

    /// Fetch and parse robots.txt. Lenient on failure, by choice: a 4xx means
    /// "no rules" (RFC 9309); a 5xx or an unreachable server would mean
    /// "disallow all" under the RFC, but government sites often answer 5xx or
    /// garbage for robots.txt while serving pages fine, and we poll them at a
    /// low rate anyway, so we allow and retry robots.txt after an hour.
    ///
    /// Each hop is checked against `reach` like any request; a refused hop
    /// counts as unreachable.
    async fn fetch_robots(&self, url: &Url, reach: &Reach) -> (Robots, Duration) {
        let Ok(mut target) = url.join("/robots.txt") else {
            return (Robots::allow_all(), ROBOTS_FAILURE_TTL);
        };
        for _ in 0..=ROBOTS_MAX_REDIRECTS {
            if let Err(reason) = guard::check(&target, reach).await {
                tracing::info!(url = %target, %reason, "robots.txt refused; allowing all");
                return (Robots::allow_all(), ROBOTS_FAILURE_TTL);
            }
            let permit = self.gate.acquire(&host_key(&target)).await;
            let send = self.client.get(target.clone()).send();
            let resp = match guard::in_target(&target, reach, send).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::info!(url = %target, error = %error_chain(&e), "robots.txt unreachable; allowing all");
                    return (Robots::allow_all(), ROBOTS_FAILURE_TTL);
                }
            };
            let status = resp.status();
            if status.is_redirection() {
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| target.join(l.trim()).ok());
                drop(resp);
                drop(permit);
                match next {
                    Some(n) => {
                        target = n;
                        continue;
                    }
                    None => return (Robots::allow_all(), ROBOTS_FAILURE_TTL),
                }
            }
            if status.is_client_error() {
                return (Robots::allow_all(), ROBOTS_TTL);
            }
            if !status.is_success() {
                tracing::info!(url = %target, status = status.as_u16(), "robots.txt failed; allowing all");
                return (Robots::allow_all(), ROBOTS_FAILURE_TTL);
            }
            let body = read_truncated(resp, ROBOTS_MAX_BYTES).await;
            drop(permit);
            return match body {
                Some(b) => (
                    Robots::parse(&String::from_utf8_lossy(&b), &self.token),
                    ROBOTS_TTL,
                ),
                None => (Robots::allow_all(), ROBOTS_FAILURE_TTL),
            };
        }
        (Robots::allow_all(), ROBOTS_FAILURE_TTL)
    }
}

/// Read a body, refusing it as soon as it exceeds `limit` bytes (after
/// decompression), so a huge or endless body never sits in memory.
async fn read_capped(
    mut resp: reqwest::Response,
    url: &Url,
    limit: usize,
) -> Result<Bytes, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: url.clone(),
        limit,
    };
    // Content-Length is only known when not content-encoded (reqwest drops
    // it when it decompresses); when known, refuse without reading.
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf = BytesMut::with_capacity(declared.map_or(16 * 1024, |n| n as usize));
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(url, &e))? {
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Read at most `limit` bytes and drop the rest (robots.txt: a truncated
/// file is still usable). `None` when the body could not be read.
async fn read_truncated(mut resp: reqwest::Response, limit: usize) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        let room = limit - buf.len();
        if chunk.len() >= room {
            buf.extend_from_slice(&chunk[..room]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Some(buf.freeze())
}

/// A refusal of `url` for `reach`'s unit.
fn refused(url: &Url, reach: &Reach, reason: Refusal) -> FetchError {
    FetchError::Refused {
        url: url.clone(),
        unit: reach.unit().map(str::to_string),
        reason,
    }
}

/// Map a reqwest error to ours, naming `url`.
fn classify(url: &Url, e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout { url: url.clone() }
    } else if e.is_connect() {
        FetchError::Connect {
            url: url.clone(),
            reason: error_chain(e),
        }
    } else {
        FetchError::Other {
            url: url.clone(),
            reason: error_chain(e),
        }
    }
}

/// The error and its causes, "a: b: c". reqwest's own message repeats the
/// URL, which our variants already carry, and hides the cause (refused, DNS…)
/// in its sources.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        // "error sending request for url (http://…)" → "error sending request".
        let msg = match msg.find(" for url (") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        if !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// `Retry-After` is delta-seconds or an HTTP-date (IMF-fixdate, or the
/// obsolete RFC 850 and asctime forms); a date in the past means "now".
fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value)
        .map(|d| d.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(value, f).ok())
                .map(|n| n.and_utc())
        })?;
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

/// The robots.txt product token: the User-Agent's first word before `/`.
fn ua_token(user_agent: &str) -> String {
    let token: String = user_agent
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if token.is_empty() {
        "autosync".to_string()
    } else {
        token.to_ascii_lowercase()
    }
}

/// Politeness is per host name (all ports of a machine share it).
fn host_key(url: &Url) -> String {
    url.host_str().unwrap_or("").to_ascii_lowercase()
}

/// One request in flight per host, and `delay` between the end of one and the
/// start of the next. Hosts are independent.
/// When a host's last request ended, behind the lock that serialises them.
type HostSlot = Arc<AsyncMutex<Option<Instant>>>;

struct HostGate {
    delay: Duration,
    /// Per host: when its last request ended (`None`: never).
    /// The gates, and the size at which they are next pruned.
    hosts: std::sync::Mutex<(HashMap<String, HostSlot>, usize)>,
}

/// Held while a request runs; records its end when dropped, so that error
/// paths count as requests too.
struct HostPermit {
    guard: OwnedMutexGuard<Option<Instant>>,
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        *self.guard = Some(Instant::now());
    }
}

impl HostGate {
    fn new(delay: Duration) -> Self {
        HostGate {
            delay,
            hosts: std::sync::Mutex::new((HashMap::new(), 0)),
        }
    }

    async fn acquire(&self, host: &str) -> HostPermit {
        let slot = {
            // A poisoned map only means another task panicked mid-insert;
            // the map itself is still consistent.
            let mut guard = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            let (hosts, prune_at) = &mut *guard;
            // Pruning is O(hosts): do it only when the map has doubled since
            // the last prune, so that it costs O(1) a request amortised even
            // with thousands of sites.
            if hosts.len() > (*prune_at).max(MAX_IDLE_HOSTS) {
                let delay = self.delay;
                hosts.retain(|_, slot| {
                    // Keep hosts in use or still inside their delay window.
                    Arc::strong_count(slot) > 1
                        || match slot.try_lock() {
                            Ok(last) => last.is_some_and(|t| t.elapsed() < delay),
                            Err(_) => true,
                        }
                });
                *prune_at = hosts.len() * 2;
            }
            hosts.entry(host.to_string()).or_default().clone()
        };
        let guard = slot.lock_owned().await;
        // checked: a configured delay too large for the clock means "never
        // again", which sleeping until far in the future expresses less
        // surprisingly than a panic.
        if let Some(last) = *guard {
            let until = last
                .checked_add(self.delay)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
            tokio::time::sleep_until(until).await;
        }
        HostPermit { guard }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.hosts.lock().map(|h| h.0.len()).unwrap_or(0)
    }
}

struct CachedRobots {
    robots: Arc<Robots>,
    expires: Instant,
}

type RobotsSlot = Arc<AsyncMutex<Option<CachedRobots>>>;

/// Per origin robots.txt, each behind its own lock so one slow robots.txt does
/// not hold up other sites.
#[derive(Default)]
struct RobotsCache {
    /// The slots, and the size at which they are next pruned.
    origins: std::sync::Mutex<(HashMap<String, RobotsSlot>, usize)>,
}

impl RobotsCache {
    fn slot(&self, origin: &str) -> RobotsSlot {
        let mut guard = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        let (map, prune_at) = &mut *guard;
        // As in `HostGate::acquire`: prune only after the map doubled.
        if map.len() > (*prune_at).max(MAX_IDLE_HOSTS) {
            let now = Instant::now();
            map.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || match slot.try_lock() {
                        Ok(c) => c.as_ref().is_some_and(|c| c.expires > now),
                        Err(_) => true,
                    }
            });
            *prune_at = map.len() * 2;
        }
        map.entry(origin.to_string()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2023-11-20T08:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Mon, 20 Nov 2023 08:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Monday, 20-Nov-23 08:00:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Mon Nov 20 08:00:05 2023", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Mon, 20 Nov 2023 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means retry now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn ua_token_is_the_product_name() {
        assert_eq!(ua_token("autosync/0.1.0 (+https://x)"), "autosync");
        assert_eq!(ua_token("AutoSync-Bot/2"), "autosync-bot");
        assert_eq!(ua_token(""), "autosync");
    }

    // Real (short) delays: tokio's `test-util` (time pausing) is not enabled
    // in this crate, and these tests are about ordering, not long waits.
    #[tokio::test]
    async fn host_gate_serialises_and_spaces_one_host() {
        let delay = Duration::from_millis(150);
        let gate = HostGate::new(delay);
        let t0 = Instant::now();
        drop(gate.acquire("a.example").await);
        let _p = gate.acquire("a.example").await;
        assert!(t0.elapsed() >= delay, "second request waited the delay");
        // While a.example is held, b.example proceeds at once.
        let t1 = Instant::now();
        let _q = gate.acquire("b.example").await;
        assert!(t1.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn host_gate_holds_second_request_while_first_in_flight() {
        let delay = Duration::from_millis(50);
        let gate = Arc::new(HostGate::new(delay));
        let first = gate.acquire("h").await;
        let g = gate.clone();
        let waiter = tokio::spawn(async move {
            let _p = g.acquire("h").await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let released = Instant::now();
        drop(first);
        let started = waiter.await.expect("waiter task");
        assert!(started >= released + delay);
    }

    #[tokio::test]
    async fn host_gate_forgets_idle_hosts() {
        let gate = HostGate::new(Duration::ZERO);
        for i in 0..(MAX_IDLE_HOSTS + 50) {
            drop(gate.acquire(&format!("h{i}")).await);
        }
        assert!(
            gate.len() <= MAX_IDLE_HOSTS + 1,
            "map bounded, got {}",
            gate.len()
        );
    }
}
