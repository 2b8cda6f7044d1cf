//! `autosync mock-account`: a local HTTP server that speaks the toutiao
//! platform contract, errors included, for tests and the demo.
//!
//! The real platform cannot be used in tests (no test accounts, and a
//! mistake publishes to the public), so this double has to be strict where
//! the platform is strict — otherwise the client would pass here and fail
//! there. It checks the cookie and CSRF token, refuses unknown upload part
//! names (1053), foreign images (7115) and out-of-range titles, and it can
//! misbehave on purpose (throttling, a lost answer, a 5xx, garbage) so the
//! client's error paths are exercised against a real socket.
//!
//! # Behaviour
//!
//! * **Auth.** A request is logged in when its `Cookie` holds `sessionid=` and
//!   `csrftoken=`; with [`MockOptions::cookie`] set, the `sessionid` must also
//!   equal the one in it. Not logged in, or the login expired
//!   ([`MockOptions::expired`] or the file `DATA/expired` exists): GETs are
//!   answered `302 Location: /auth/page/login?redirect_url=…` (what the back
//!   office does to a page load), POSTs `401` with
//!   `{"code":401,"message":"登录已过期，请重新登录"}` (what its XHR endpoints
//!   do). A POST whose `X-CSRFToken` is missing or differs from the cookie's
//!   `csrftoken` gets `403` with `{"code":403,…}`.
//! * **Faults** apply to publish calls in order: first those in
//!   [`MockOptions::fail_next`], then one line per call from the file
//!   `DATA/fail_next` (consumed as used; see [`Fault`] for the syntax).
//!   Image uploads take theirs from [`MockOptions::fail_uploads`]. With
//!   [`MockOptions::rate_limit`] = N, the (N+1)th publish within 60 s gets
//!   `429` with `Retry-After` in seconds. [`MockOptions::delay`] holds every
//!   publish answer back *after* the article has been stored, like an answer
//!   lost on the way back.
//!
//! # On-disk layout (`DATA`)
//!
//! ```text
//! DATA/articles/<pgc_id>.json   one MockArticle per published article
//! DATA/images/<hash>.<ext>      the uploaded image bytes
//! DATA/images/<hash>.json       its metadata (web_uri, web_urls issued, size, MIME)
//! DATA/expired                  knob: present = the login has expired
//! DATA/fail_next                knob: one Fault per line, consumed per publish
//! ```
//!
//! All JSON files are written atomically (temporary file, then rename), so a
//! restarted mock sees everything it acknowledged.

use crate::publish::double::{
    escape, host_of, json_files, parse_multipart, sniff_image, stored_file, take_knob_line,
};
use crate::publish::file::write_atomically;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The first article id handed out; real pgc_ids are 19-digit numbers.
const FIRST_PGC_ID: u64 = 7_440_000_000_000_000_001;
const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Business codes this mock answers with (HTTP 200, non-zero `code`).
pub mod codes {
    pub const NOT_LOGGED_IN: i64 = 401;
    pub const CSRF: i64 = 403;
    pub const BAD_TYPE: i64 = 1001;
    pub const NOT_MULTIPART: i64 = 1052;
    pub const NO_UPFILE: i64 = 1053;
    pub const EMPTY_IMAGE: i64 = 1054;
    pub const NOT_AN_IMAGE: i64 = 1055;
    pub const MISSING_FIELD: i64 = 2001;
    pub const BAD_PGC_ID: i64 = 2002;
    pub const BAD_EXTRA: i64 = 2003;
    pub const EMPTY_CONTENT: i64 = 2004;
    pub const TITLE_LENGTH: i64 = 7050;
    pub const FOREIGN_IMAGE: i64 = 7115;
}

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Where posts and images are kept (survives restarts).
    pub data_dir: PathBuf,
    /// When set, requests must carry this cookie's `sessionid` (otherwise any
    /// `sessionid` is accepted).
    pub cookie: Option<String>,
    /// `media.display_name` (and `user.screen_name`) of the account.
    pub display_name: String,
    /// Hold every publish answer back this long, after storing the article.
    pub delay: Duration,
    /// At most this many publishes per 60 s; more get 429 + Retry-After.
    pub rate_limit: Option<u32>,
    /// The login has expired (same as the file `DATA/expired`).
    pub expired: bool,
    /// Faults for the next publish calls, in order.
    pub fail_next: Vec<Fault>,
    /// Faults for the next image uploads, in order.
    pub fail_uploads: Vec<Fault>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            data_dir: PathBuf::from("mock-data"),
            cookie: None,
            display_name: "示例省科协".to_string(),
            delay: Duration::ZERO,
            rate_limit: None,
            expired: false,
            fail_next: Vec::new(),
            fail_uploads: Vec::new(),
        }
    }
}

/// One injected misbehaviour of a publish call.
///
/// Text form (for the CLI and `DATA/fail_next`):
/// `status:503` or `status:503:retry-after=7` (the value may be an HTTP
/// date), `code:7001:some message`, `store-then-status:500`,
/// `store-then-garbage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status (and Retry-After), storing nothing.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Refuse with this business code, storing nothing.
    Code { code: i64, message: String },
    /// Store the article, then answer with this HTTP status: "applied, but
    /// the answer says it failed".
    StoreThenStatus(u16),
    /// Store the article, then answer 200 with a body that is not JSON.
    StoreThenGarbage,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || {
            format!(
                "bad fault {s:?}: expected status:N[:retry-after=V], code:N:message, store-then-status:N or store-then-garbage"
            )
        };
        if s == "store-then-garbage" {
            return Ok(Fault::StoreThenGarbage);
        }
        if let Some(rest) = s.strip_prefix("store-then-status:") {
            return rest.parse().map(Fault::StoreThenStatus).map_err(|_| bad());
        }
        if let Some(rest) = s.strip_prefix("status:") {
            let (status, retry_after) = parse_status(rest).ok_or_else(bad)?;
            return Ok(Fault::Status {
                status,
                retry_after,
            });
        }
        if let Some(rest) = s.strip_prefix("code:") {
            let (code, message) = rest.split_once(':').unwrap_or((rest, "injected failure"));
            let code: i64 = code.parse().map_err(|_| bad())?;
            return Ok(Fault::Code {
                code,
                message: message.to_string(),
            });
        }
        Err(bad())
    }
}

/// A status fault's text after `status:`: `N` or `N:retry-after=V` (V in
/// seconds or an HTTP date, sent as is).
pub(crate) fn parse_status(rest: &str) -> Option<(u16, Option<String>)> {
    let (status, retry_after) = match rest.split_once(':') {
        Some((st, ra)) => (st, Some(ra.strip_prefix("retry-after=")?.to_string())),
        None => (rest, None),
    };
    let status: u16 = status.parse().ok()?;
    (100..=599)
        .contains(&status)
        .then_some((status, retry_after))
}

/// One published article as the mock keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MockArticle {
    pub pgc_id: String,
    pub title: String,
    pub content: String,
    /// The `extra` form field as sent (JSON text).
    pub extra: String,
    /// Unix seconds.
    pub create_time: i64,
}

/// One uploaded image.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MockImage {
    web_uri: String,
    /// Every web_url handed out for it (it depends on the Host it was
    /// uploaded through).
    web_urls: Vec<String>,
    width: u32,
    height: u32,
    mime_type: String,
    /// File name under `DATA/images/`.
    file: String,
}

/// The articles stored in `data_dir`, oldest first; unreadable files are
/// skipped (use this to count what was published).
pub fn load_articles(data_dir: &Path) -> Vec<MockArticle> {
    let mut articles: Vec<MockArticle> = json_files(&data_dir.join("articles"))
        .into_iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect();
    sort_oldest_first(&mut articles);
    articles
}

fn sort_oldest_first(articles: &mut [MockArticle]) {
    articles.sort_by_key(|a| (a.create_time, a.pgc_id.len(), a.pgc_id.clone()));
}

struct Shared {
    opts: MockOptions,
    shutdown: CancellationToken,
    state: Mutex<MockState>,
}

struct MockState {
    articles: Vec<MockArticle>,
    /// By web_uri.
    images: HashMap<String, MockImage>,
    recent_publishes: VecDeque<Instant>,
    faults: VecDeque<Fault>,
    upload_faults: VecDeque<Fault>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, MockState> {
        // A panic while holding the lock leaves consistent data (all writes
        // go to disk first), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn data(&self) -> &Path {
        &self.opts.data_dir
    }
}

/// Read the stored state, refusing to start on corrupt files (silently
/// ignoring them would make the mock "forget" published articles).
fn load_state(data: &Path) -> std::io::Result<MockState> {
    let corrupt =
        |p: &Path, e: String| std::io::Error::other(format!("mock data file {}: {e}", p.display()));
    std::fs::create_dir_all(data.join("articles"))?;
    std::fs::create_dir_all(data.join("images"))?;
    let mut articles = Vec::new();
    for p in json_files(&data.join("articles")) {
        let bytes = std::fs::read(&p)?;
        articles.push(
            serde_json::from_slice::<MockArticle>(&bytes)
                .map_err(|e| corrupt(&p, e.to_string()))?,
        );
    }
    sort_oldest_first(&mut articles);
    let mut images = HashMap::new();
    for p in json_files(&data.join("images")) {
        let bytes = std::fs::read(&p)?;
        let img: MockImage =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(&p, e.to_string()))?;
        images.insert(img.web_uri.clone(), img);
    }
    Ok(MockState {
        articles,
        images,
        recent_publishes: VecDeque::new(),
        faults: VecDeque::new(),
        upload_faults: VecDeque::new(),
    })
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    opts: MockOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let data = opts.data_dir.clone();
    let mut state = tokio::task::spawn_blocking(move || load_state(&data))
        .await
        .map_err(std::io::Error::other)??;
    state.faults = opts.fail_next.iter().cloned().collect();
    state.upload_faults = opts.fail_uploads.iter().cloned().collect();
    tracing::info!(
        addr = ?listener.local_addr().ok(),
        data = %opts.data_dir.display(),
        articles = state.articles.len(),
        images = state.images.len(),
        "mock toutiao account serving"
    );
    let shared = Arc::new(Shared {
        opts,
        shutdown: shutdown.clone(),
        state: Mutex::new(state),
    });
    let app = Router::new()
        .route("/", get(index))
        .route("/auth/page/login", get(login_page))
        .route("/mp/agw/media/get_media_info", get(media_info))
        .route(
            "/mp/agw/article_material/photo/upload_picture/",
            post(upload_picture).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(
            "/mp/agw/article/publish",
            post(publish).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/mp/agw/article/list/", get(article_list))
        .route("/mp/agw/article/list", get(article_list))
        .route("/img/{*web_uri}", get(image))
        .route("/item/{pgc_id}/", get(item_page))
        .fallback(not_found)
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// HTTP 200 with a business code, the way the platform reports errors.
fn business(code: i64, message: &str) -> Response {
    axum::Json(json!({"code": code, "message": message})).into_response()
}

fn cookie_value<'a>(cookie: &'a str, name: &str) -> Option<&'a str> {
    cookie.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name)
            .then(|| v.trim().trim_matches('"'))
            .filter(|v| !v.is_empty())
    })
}

/// `Err(answer)` when the request is not logged in or fails the CSRF check.
// The error is the HTTP answer itself, produced at most once per request;
// boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn check_auth(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    let session = cookie_value(cookie, "sessionid");
    let csrf = cookie_value(cookie, "csrftoken");
    let expected_session = shared
        .opts
        .cookie
        .as_deref()
        .and_then(|c| cookie_value(c, "sessionid"));
    let expired = shared.opts.expired || shared.data().join("expired").exists();
    let logged_in = !expired
        && csrf.is_some()
        && match (session, expected_session) {
            (Some(s), Some(e)) => s == e,
            (Some(_), None) => true,
            (None, _) => false,
        };
    if !logged_in {
        if method == Method::GET {
            let target = url::form_urlencoded::byte_serialize(uri.to_string().as_bytes())
                .collect::<String>();
            let location = format!("/auth/page/login?redirect_url={target}");
            let mut resp = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            return Err(resp);
        }
        return Err((
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": codes::NOT_LOGGED_IN, "message": "登录已过期，请重新登录"})),
        )
            .into_response());
    }
    if method == Method::POST {
        let sent = headers.get("x-csrftoken").and_then(|v| v.to_str().ok());
        if sent.is_none() || sent != csrf {
            return Err((
                StatusCode::FORBIDDEN,
                axum::Json(
                    json!({"code": codes::CSRF, "message": "CSRF token missing or incorrect"}),
                ),
            )
                .into_response());
        }
    }
    Ok(())
}

async fn login_page() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>登录</title></head><body><p>请登录头条号（mock）。</p></body></html>",
    )
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"code": 404, "message": "not found"})),
    )
        .into_response()
}

async fn media_info(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_auth(&shared, &method, &uri, &headers) {
        return r;
    }
    let name = &shared.opts.display_name;
    axum::Json(json!({
        "code": 0,
        "message": "success",
        "data": {
            "user": {"id": 3_500_000_001u64, "screen_name": name},
            "media": {"id": 1_650_000_000_000_001u64, "display_name": name}
        }
    }))
    .into_response()
}

async fn upload_picture(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_auth(&shared, &method, &uri, &headers) {
        return r;
    }
    let fault = shared.lock().upload_faults.pop_front();
    if let Some(resp) = fault.as_ref().and_then(refusal_before_storing) {
        return resp;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(parts) = parse_multipart(content_type, &body) else {
        return business(
            codes::NOT_MULTIPART,
            "请求格式错误：需要 multipart/form-data",
        );
    };
    let Some(file) = parts.into_iter().find(|p| p.name == "upfile") else {
        return business(codes::NO_UPFILE, "上传文件为空：缺少 upfile");
    };
    if file.data.is_empty() {
        return business(codes::EMPTY_IMAGE, "上传文件为空");
    }
    let Some((mime, ext, width, height)) = sniff_image(&file.data) else {
        return business(codes::NOT_AN_IMAGE, "不支持的图片格式");
    };
    let hash = hex::encode(Sha256::digest(&file.data));
    let id = &hash[..20];
    let web_uri = format!("tos-cn-i-mock/{id}");
    let web_url = format!("http://{}/img/{web_uri}", host_of(&headers));
    let data = shared.data().join("images");
    let stored = {
        let mut st = shared.lock();
        let mut img = st
            .images
            .get(&web_uri)
            .cloned()
            .unwrap_or_else(|| MockImage {
                web_uri: web_uri.clone(),
                web_urls: Vec::new(),
                width,
                height,
                mime_type: mime.to_string(),
                file: format!("{id}.{ext}"),
            });
        if !img.web_urls.contains(&web_url) {
            img.web_urls.push(web_url.clone());
        }
        let written = write_atomically(&data.join(&img.file), &file.data).and_then(|()| {
            let meta = serde_json::to_vec_pretty(&img).map_err(|e| e.to_string())?;
            write_atomically(&data.join(format!("{id}.json")), &meta)
        });
        if written.is_ok() {
            st.images.insert(web_uri.clone(), img);
        }
        written
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "mock could not store an upload");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"code": 500, "message": "storage error"})),
        )
            .into_response();
    }
    if let Some(resp) = fault.as_ref().and_then(failure_after_storing) {
        return resp;
    }
    axum::Json(json!({
        "code": 0,
        "message": "success",
        "web_url": web_url,
        "web_uri": web_uri,
        "width": width,
        "height": height,
        "mime_type": mime,
    }))
    .into_response()
}

/// The next fault to apply to a publish, from the options or `DATA/fail_next`.
fn next_fault(shared: &Shared, st: &mut MockState) -> Option<Fault> {
    st.faults
        .pop_front()
        .or_else(|| take_knob_line(&shared.data().join("fail_next"), |_: &Fault| true))
}

async fn publish(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_auth(&shared, &method, &uri, &headers) {
        return r;
    }
    let (stored, after_fault) = {
        let mut st = shared.lock();
        let fault = next_fault(&shared, &mut st);
        if let Some(resp) = fault.as_ref().and_then(refusal_before_storing) {
            return resp;
        }
        if let Some(limit) = shared.opts.rate_limit {
            let now = Instant::now();
            while st
                .recent_publishes
                .front()
                .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
            {
                st.recent_publishes.pop_front();
            }
            if st.recent_publishes.len() >= limit as usize {
                let oldest = st.recent_publishes.front().copied().unwrap_or(now);
                let wait = RATE_WINDOW.saturating_sub(now.duration_since(oldest));
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"code": 429, "message": "发文过于频繁，请稍后再试"})),
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
                return resp;
            }
        }
        let article = match validate_publish(&st, &query, &body) {
            Ok(a) => a,
            Err(resp) => return resp,
        };
        let next_id = st
            .articles
            .iter()
            .filter_map(|a| a.pgc_id.parse::<u64>().ok())
            .max()
            .map_or(FIRST_PGC_ID, |m| m + 1);
        let article = MockArticle {
            pgc_id: next_id.to_string(),
            ..article
        };
        let path = shared
            .data()
            .join("articles")
            .join(format!("{}.json", article.pgc_id));
        let written = serde_json::to_vec_pretty(&article)
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_atomically(&path, &bytes));
        if let Err(e) = written {
            tracing::error!(error = %e, "mock could not store an article");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"code": 500, "message": "storage error"})),
            )
                .into_response();
        }
        tracing::info!(pgc_id = %article.pgc_id, title = %article.title, "mock stored an article");
        st.recent_publishes.push_back(Instant::now());
        st.articles.push(article.clone());
        (article, fault)
    };
    // Stored: from here on the answer may be held back or lost, like a real
    // answer on a bad network.
    if !shared.opts.delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(shared.opts.delay) => {}
            _ = shared.shutdown.cancelled() => {}
        }
    }
    after_fault
        .as_ref()
        .and_then(failure_after_storing)
        .unwrap_or_else(|| {
            axum::Json(json!({
                "code": 0,
                "message": "success",
                "data": {"pgc_id": stored.pgc_id}
            }))
            .into_response()
        })
}

/// The answer of a fault that refuses before anything is stored.
fn refusal_before_storing(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (
                status,
                axum::Json(json!({"code": status.as_u16(), "message": "injected failure"})),
            )
                .into_response();
            if let Some(v) = retry_after
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Some(resp)
        }
        Fault::Code { code, message } => Some(business(*code, message)),
        Fault::StoreThenStatus(_) | Fault::StoreThenGarbage => None,
    }
}

/// The answer of a fault that strikes after the request was applied.
fn failure_after_storing(fault: &Fault) -> Option<Response> {
    match fault {
        Fault::StoreThenStatus(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some((status, Html("<html><body>upstream error</body></html>")).into_response())
        }
        Fault::StoreThenGarbage => {
            Some((StatusCode::OK, Html("<html><body>服务异常</body></html>")).into_response())
        }
        Fault::Status { .. } | Fault::Code { .. } => None,
    }
}

/// The article a publish form describes, or the platform's refusal. Nothing
/// is stored unless every check passes.
#[allow(clippy::result_large_err)]
fn validate_publish(
    st: &MockState,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<MockArticle, Response> {
    if query.get("type").map(String::as_str) != Some("article") {
        return Err(business(codes::BAD_TYPE, "参数错误：type"));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    for field in ["pgc_id", "title", "content", "save"] {
        if !form.contains_key(field) {
            return Err(business(
                codes::MISSING_FIELD,
                &format!("缺少参数：{field}"),
            ));
        }
    }
    if form.get("pgc_id").map(String::as_str) != Some("0") {
        return Err(business(
            codes::BAD_PGC_ID,
            "文章不存在（pgc_id 须为 0 以新建）",
        ));
    }
    let title = form.get("title").cloned().unwrap_or_default();
    let n = title.trim().chars().count();
    if !(2..=30).contains(&n) {
        return Err(business(codes::TITLE_LENGTH, "标题字数须在2-30字之间"));
    }
    let extra = form
        .get("extra")
        .cloned()
        .unwrap_or_else(|| "{}".to_string());
    if !serde_json::from_str::<serde_json::Value>(&extra).is_ok_and(|v| v.is_object()) {
        return Err(business(codes::BAD_EXTRA, "参数错误：extra"));
    }
    let content = form.get("content").cloned().unwrap_or_default();
    let doc = scraper::Html::parse_fragment(&content);
    let has_text = doc.root_element().text().any(|t| !t.trim().is_empty());
    let img_sel = scraper::Selector::parse("img").expect("static selector");
    let imgs: Vec<_> = doc.select(&img_sel).collect();
    if !has_text && imgs.is_empty() {
        return Err(business(codes::EMPTY_CONTENT, "正文不能为空"));
    }
    for img in imgs {
        let src = img.value().attr("src").unwrap_or("");
        let uri = img.value().attr("web_uri").unwrap_or("");
        let issued = st
            .images
            .get(uri)
            .is_some_and(|i| i.web_urls.iter().any(|u| u == src));
        if !issued {
            return Err(business(
                codes::FOREIGN_IMAGE,
                "正文中含有未上传的图片，请重新上传",
            ));
        }
    }
    Ok(MockArticle {
        pgc_id: String::new(),
        title,
        content,
        extra,
        create_time: chrono::Utc::now().timestamp(),
    })
}

fn article_url(host: &str, pgc_id: &str) -> String {
    format!("http://{host}/item/{pgc_id}/")
}

async fn article_list(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = check_auth(&shared, &method, &uri, &headers) {
        return r;
    }
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let size: usize = query
        .get("size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(20)
        .clamp(1, 50);
    let host = host_of(&headers);
    let (items, total) = {
        let st = shared.lock();
        let items: Vec<_> = st
            .articles
            .iter()
            .rev()
            .skip(page.saturating_mul(size))
            .take(size)
            .map(|a| {
                json!({
                    "pgc_id": a.pgc_id,
                    "title": a.title,
                    "article_url": article_url(&host, &a.pgc_id),
                    "status_desc": "已发表",
                    "create_time": a.create_time,
                })
            })
            .collect();
        (items, st.articles.len())
    };
    axum::Json(json!({"code": 0, "message": "success", "data": {"content": items, "total": total}}))
        .into_response()
}

async fn image(State(shared): State<Arc<Shared>>, UrlPath(web_uri): UrlPath<String>) -> Response {
    let found = shared.lock().images.get(&web_uri).cloned();
    let Some(img) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    stored_file(shared.data().join("images").join(&img.file), img.mime_type).await
}

async fn item_page(
    State(shared): State<Arc<Shared>>,
    UrlPath(pgc_id): UrlPath<String>,
) -> Response {
    let found = shared
        .lock()
        .articles
        .iter()
        .find(|a| a.pgc_id == pgc_id)
        .cloned();
    let Some(a) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{c}</body></html>",
        t = escape(&a.title),
        c = a.content
    ))
    .into_response()
}

async fn index(State(shared): State<Arc<Shared>>) -> Html<String> {
    let st = shared.lock();
    let mut rows = String::new();
    for a in st.articles.iter().rev() {
        let when = chrono::DateTime::from_timestamp(a.create_time, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        rows.push_str(&format!(
            "<li><a href=\"/item/{id}/\">{t}</a> <small>{id} · {when}</small></li>\n",
            id = escape(&a.pgc_id),
            t = escape(&a.title)
        ));
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{n}（mock 头条号）</title></head>\
         <body><h1>{n}</h1><p>{count} 篇文章，{imgs} 张图片</p><ol>\n{rows}</ol></body></html>",
        n = escape(&shared.opts.display_name),
        count = st.articles.len(),
        imgs = st.images.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_their_text_form() {
        assert_eq!(
            "status:429:retry-after=7".parse::<Fault>(),
            Ok(Fault::Status {
                status: 429,
                retry_after: Some("7".into())
            })
        );
        assert_eq!(
            "status:500".parse::<Fault>(),
            Ok(Fault::Status {
                status: 500,
                retry_after: None
            })
        );
        assert_eq!(
            "code:7001:内容违规".parse::<Fault>(),
            Ok(Fault::Code {
                code: 7001,
                message: "内容违规".into()
            })
        );
        assert_eq!(
            "store-then-status:502".parse::<Fault>(),
            Ok(Fault::StoreThenStatus(502))
        );
        assert_eq!(
            "store-then-garbage".parse::<Fault>(),
            Ok(Fault::StoreThenGarbage)
        );
        assert!("status:abc".parse::<Fault>().is_err());
        assert!("explode".parse::<Fault>().is_err());
    }

    #[test]
    fn load_articles_counts_stored_files_and_skips_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let arts = dir.path().join("articles");
        std::fs::create_dir_all(&arts).unwrap();
        let a = MockArticle {
            pgc_id: "2".into(),
            title: "标题".into(),
            content: "x".into(),
            extra: "{}".into(),
            create_time: 5,
        };
        std::fs::write(arts.join("2.json"), serde_json::to_vec(&a).unwrap()).unwrap();
        std::fs::write(arts.join(".3.json.tmp-1"), b"partial").unwrap();
        assert_eq!(load_articles(dir.path()), vec![a]);
    }
}
