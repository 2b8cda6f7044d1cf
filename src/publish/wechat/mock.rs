//! `autosync mock-wechat`: a local double of the WeChat official-account
//! API — tokens, image uploads, cover materials, drafts, publishing and the
//! list of published articles — for tests and trials.
//!
//! A real account cannot be used in tests (a mistake publishes to the
//! public, and the daily quotas are small), so the double is strict where
//! the platform is strict, or stricter where the platform's rule is vague:
//! otherwise the client would pass here and fail there. It checks the
//! token on every call (missing: 41001, unknown or replaced: 40001, expired:
//! 42001), the grant type, AppID and AppSecret, the upload's part name
//! (`media`), file extension against the content (jpg/png only for body
//! images) and size (under 1,000,000 bytes), every field limit of a draft,
//! and refuses a draft body with an image it did not issue or a `<script>`
//! (45166). And it misbehaves on purpose ([`Fault`]).
//!
//! # Faults
//!
//! Taken in order, first from [`MockOptions::fail_next`], then one line at a
//! time from the file `DATA/fail_next` (consumed as used). A line is
//! `[CALL ]FAULT`: CALL (`token`, `uploadimg`, `add_material`, `draft`,
//! `submit`, `get`, `batchget`) limits it to that call, else the next call
//! it can apply to takes it:
//!
//! | fault | effect |
//! |---|---|
//! | `code:N[:message]` | answer errcode N (45009, 48001, -1 …); nothing applied |
//! | `ip:ADDR` | 40164 "invalid ip ADDR ipv6 ::ffff:ADDR, not in whitelist rid: …" |
//! | `token-expired` | the token in use expires now: this call and later ones with it get 42001 |
//! | `publishing:MS` | (submit) `publish_status` 1 for MS milliseconds, then 0 |
//! | `status:N[:reason]` | (submit) the submission ends with `publish_status` N (2–6), reason in `errmsg` |
//! | `lose` | the call is applied, then the connection is dropped without an answer |
//! | `slow:MS` | the call is applied, the answer held back MS milliseconds |
//!
//! [`MockOptions::delay`] (`--delay-ms`) holds back every answer, after the
//! call was applied.
//!
//! # On-disk layout (`DATA`)
//!
//! ```text
//! DATA/images/<hash>.<ext>, .json   uploaded images (body images and materials) and their metadata
//! DATA/drafts/<media_id>.json       one MockDraft per draft/add
//! DATA/published/<publish_id>.json  one MockPublication per freepublish/submit
//! DATA/calls.jsonl                  every call: {"call": "submit", "errcode": 0}
//! DATA/fail_next                    knob: one fault per line
//! ```
//!
//! JSON files are written atomically, so a restarted double sees everything
//! it acknowledged; tokens are not kept (a restart invalidates them, as a
//! forced renewal elsewhere would).

use super::rules::{
    AUTHOR_MAX_CHARS, CONTENT_MAX_CHARS, DIGEST_MAX_CHARS, IMAGE_MAX_BYTES, TITLE_MAX_CHARS,
};
use super::{Call, codes};
use crate::clock::{Clock, SystemClock};
use crate::publish::double::{
    escape, host_of, json_files, parse_multipart, sniff_image, stored_file, take_knob_line,
};
use crate::publish::file::write_atomically;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Permanent materials may be larger than body images.
const MATERIAL_MAX_BYTES: usize = 10 * 1024 * 1024;
const TOKEN_LIFETIME_SECS: i64 = 7200;
const FIRST_PUBLISH_ID: u64 = 2_247_483_001;

/// How the double behaves.
#[derive(Clone)]
pub struct MockOptions {
    /// Where drafts, publications and images are kept (survives restarts).
    pub data_dir: PathBuf,
    /// The only AppID and AppSecret the token call accepts.
    pub app_id: String,
    pub app_secret: String,
    /// The account's name, for the index page.
    pub account_name: String,
    /// Hold every answer back this long, after the call was applied.
    pub delay: Duration,
    /// Faults for the next calls, in order.
    pub fail_next: Vec<Fault>,
    /// Wall time (token expiry, publishing that takes a while); tests pass
    /// one that follows tokio's paused clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            data_dir: PathBuf::from("mock-wechat-data"),
            app_id: "wx0123456789abcdef".to_string(),
            app_secret: "mock-app-secret".to_string(),
            account_name: "示例省科协".to_string(),
            delay: Duration::ZERO,
            fail_next: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for MockOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockOptions")
            .field("data_dir", &self.data_dir)
            .field("app_id", &self.app_id)
            .field("account_name", &self.account_name)
            .field("delay", &self.delay)
            .field("fail_next", &self.fail_next)
            .finish_non_exhaustive()
    }
}

/// One injected misbehaviour; see the module docs for the text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Only this call takes it; any call it applies to when `None`.
    pub call: Option<Call>,
    pub kind: FaultKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Refuse with this error code; nothing is applied.
    Code { code: i64, message: String },
    /// Refuse with 40164, this address in the message.
    IpNotWhitelisted(String),
    /// The token in use expires now.
    TokenExpired,
    /// The submission stays `publish_status` 1 this long, then is published.
    Publishing(Duration),
    /// The submission ends with this `publish_status` (2–6) and reason.
    Ends { status: u8, reason: Option<String> },
    /// Apply the call, then drop the connection without answering.
    Lose,
    /// Apply the call, then answer this much later.
    Slow(Duration),
}

impl Fault {
    /// A fault for the next call it applies to.
    pub fn any(kind: FaultKind) -> Fault {
        Fault { call: None, kind }
    }

    /// A fault for the next `call`.
    pub fn on(call: Call, kind: FaultKind) -> Fault {
        Fault {
            call: Some(call),
            kind,
        }
    }

    fn applies_to(&self, call: Call) -> bool {
        let kind_fits = match self.kind {
            FaultKind::TokenExpired => call != Call::Token,
            FaultKind::Publishing(_) | FaultKind::Ends { .. } => call == Call::Submit,
            _ => true,
        };
        kind_fits && self.call.is_none_or(|c| c == call)
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        // A leading call name limits the fault to that call; messages may
        // hold spaces, so only a known name counts as one.
        let (call, rest) = match s.split_once(' ') {
            Some((c, rest)) if c.parse::<Call>().is_ok() => (c.parse::<Call>().ok(), rest.trim()),
            _ => (None, s),
        };
        let bad = || {
            format!(
                "bad fault {s:?}: expected [CALL ]code:N[:message], ip:ADDR, token-expired, publishing:MS, status:N[:reason], lose or slow:MS"
            )
        };
        let ms = |v: &str| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| bad())
        };
        let kind = if rest == "token-expired" {
            FaultKind::TokenExpired
        } else if rest == "lose" {
            FaultKind::Lose
        } else if let Some(v) = rest.strip_prefix("slow:") {
            FaultKind::Slow(ms(v)?)
        } else if let Some(v) = rest.strip_prefix("publishing:") {
            FaultKind::Publishing(ms(v)?)
        } else if let Some(v) = rest.strip_prefix("ip:") {
            if v.is_empty() {
                return Err(bad());
            }
            FaultKind::IpNotWhitelisted(v.to_string())
        } else if let Some(v) = rest.strip_prefix("status:") {
            let (n, reason) = match v.split_once(':') {
                Some((n, r)) => (n, Some(r.to_string())),
                None => (v, None),
            };
            let status: u8 = n.parse().map_err(|_| bad())?;
            if !(2..=6).contains(&status) {
                return Err(format!("{}: publish_status must be 2 to 6", bad()));
            }
            FaultKind::Ends { status, reason }
        } else if let Some(v) = rest.strip_prefix("code:") {
            let (n, message) = v.split_once(':').unwrap_or((v, "injected failure"));
            FaultKind::Code {
                code: n.parse().map_err(|_| bad())?,
                message: message.to_string(),
            }
        } else {
            return Err(bad());
        };
        let fault = Fault { call, kind };
        if let Some(c) = call
            && !fault.applies_to(c)
        {
            return Err(format!("fault {s:?} cannot apply to {}", c.name()));
        }
        Ok(fault)
    }
}

/// One article of a draft, as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MockArticle {
    pub article_type: String,
    pub title: String,
    pub author: String,
    pub digest: String,
    pub content: String,
    pub content_source_url: String,
    pub thumb_media_id: String,
    pub need_open_comment: i64,
    pub only_fans_can_comment: i64,
}

/// One draft (`draft/add`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MockDraft {
    pub media_id: String,
    pub articles: Vec<MockArticle>,
    pub created: DateTime<Utc>,
    /// The submission that took it, if any.
    pub publish_id: Option<String>,
}

/// One submission (`freepublish/submit`) and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MockPublication {
    pub publish_id: String,
    pub msg_data_id: String,
    pub article_id: String,
    pub media_id: String,
    pub articles: Vec<MockArticle>,
    /// The article's address (`/s/<article_id>` on the double).
    pub url: String,
    pub submitted: DateTime<Utc>,
    /// `publish_status` 1 until then.
    pub publishing_until: Option<DateTime<Utc>>,
    /// The status once decided: 0 published, 2–6 as injected.
    pub final_status: u8,
    pub reason: Option<String>,
}

impl MockPublication {
    /// `publish_status` at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> u8 {
        match self.publishing_until {
            Some(t) if now < t => 1,
            _ => self.final_status,
        }
    }
}

/// One call the double answered, in `DATA/calls.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockCall {
    /// [`Call::name`].
    pub call: String,
    /// 0 for success.
    pub errcode: i64,
}

/// One uploaded image.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MockImage {
    /// File name under `DATA/images/`.
    file: String,
    mime_type: String,
    /// Every body-image URL handed out for it (it depends on the Host it
    /// was uploaded through); empty for a material only.
    urls: Vec<String>,
    /// Its media_id when uploaded as a material.
    media_id: Option<String>,
}

/// Every submission kept in `data_dir`, oldest first, with how it went
/// ([`MockPublication::status`]); use it to count what was submitted.
pub fn load_published(data_dir: &Path) -> Vec<MockPublication> {
    let mut v: Vec<MockPublication> = load_all(&data_dir.join("published"));
    v.sort_by(|a, b| (a.submitted, &a.publish_id).cmp(&(b.submitted, &b.publish_id)));
    v
}

/// Every draft kept in `data_dir`, oldest first.
pub fn load_drafts(data_dir: &Path) -> Vec<MockDraft> {
    let mut v: Vec<MockDraft> = load_all(&data_dir.join("drafts"));
    v.sort_by(|a, b| (a.created, &a.media_id).cmp(&(b.created, &b.media_id)));
    v
}

/// Every call answered so far, in order.
pub fn load_calls(data_dir: &Path) -> Vec<MockCall> {
    std::fs::read_to_string(data_dir.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn load_all<T: serde::de::DeserializeOwned>(dir: &Path) -> Vec<T> {
    json_files(dir)
        .into_iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect()
}

struct Shared {
    opts: MockOptions,
    shutdown: CancellationToken,
    state: Mutex<MockState>,
}

struct MockState {
    /// The one valid token and when it expires.
    token: Option<(String, DateTime<Utc>)>,
    /// By file name.
    images: HashMap<String, MockImage>,
    drafts: HashMap<String, MockDraft>,
    published: Vec<MockPublication>,
    faults: VecDeque<Fault>,
    counter: u64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, MockState> {
        // Every write goes to disk first, so a poisoned lock's data is
        // still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn data(&self) -> &Path {
        &self.opts.data_dir
    }

    fn now(&self) -> DateTime<Utc> {
        self.opts.clock.now()
    }
}

/// Read the stored state, refusing to start on corrupt files (ignoring them
/// would make the double forget what it published).
fn load_state(data: &Path) -> std::io::Result<MockState> {
    fn read<T: serde::de::DeserializeOwned>(dir: &Path) -> std::io::Result<Vec<T>> {
        std::fs::create_dir_all(dir)?;
        json_files(dir)
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p)?;
                serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::other(format!("mock data file {}: {e}", p.display()))
                })
            })
            .collect()
    }
    let images: Vec<MockImage> = read(&data.join("images"))?;
    let drafts: Vec<MockDraft> = read(&data.join("drafts"))?;
    let mut published: Vec<MockPublication> = read(&data.join("published"))?;
    published.sort_by(|a, b| (a.submitted, &a.publish_id).cmp(&(b.submitted, &b.publish_id)));
    Ok(MockState {
        token: None,
        counter: (images.len() + drafts.len() + published.len()) as u64,
        images: images.into_iter().map(|i| (i.file.clone(), i)).collect(),
        drafts: drafts
            .into_iter()
            .map(|d| (d.media_id.clone(), d))
            .collect(),
        published,
        faults: VecDeque::new(),
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
    tracing::info!(
        addr = ?listener.local_addr().ok(),
        data = %opts.data_dir.display(),
        published = state.published.len(),
        "mock wechat account serving"
    );
    let shared = Arc::new(Shared {
        opts,
        shutdown: shutdown.clone(),
        state: Mutex::new(state),
    });
    let mut app = Router::new()
        .route("/", get(index))
        .route("/mmbiz/{file}", get(image))
        .route("/s/{article_id}", get(article_page));
    for call in Call::ALL {
        let handler =
            move |State(shared): State<Arc<Shared>>,
                  Query(query): Query<HashMap<String, String>>,
                  headers: HeaderMap,
                  body: Bytes| async move { api(call, shared, query, headers, body).await };
        app = app.route(
            call.path(),
            post(handler)
                .get(|| async { answer(codes::REQUIRE_POST, "require POST method") })
                .layer(DefaultBodyLimit::max(2 * MATERIAL_MAX_BYTES)),
        );
    }
    let app = app.fallback(not_found).with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// An answer the way the API gives one: HTTP 200, JSON, `errcode`.
fn answer(code: i64, message: &str) -> Response {
    axum::Json(json!({"errcode": code, "errmsg": message})).into_response()
}

/// A refusal: its code and message.
type Refusal = (i64, String);

fn refuse(code: i64, message: impl Into<String>) -> Refusal {
    (code, message.into())
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"errcode": 40066, "errmsg": "invalid url"})),
    )
        .into_response()
}

/// The next fault for `call`: the options' queue first, then the knob file.
fn next_fault(shared: &Shared, st: &mut MockState, call: Call) -> Option<Fault> {
    if let Some(i) = st.faults.iter().position(|f| f.applies_to(call)) {
        return st.faults.remove(i);
    }
    take_knob_line(&shared.data().join("fail_next"), |f: &Fault| {
        f.applies_to(call)
    })
}

/// A request id like the platform's, for messages.
fn rid(st: &mut MockState) -> String {
    st.counter += 1;
    format!("mock-{:08x}", st.counter)
}

async fn api(
    call: Call,
    shared: Arc<Shared>,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = host_of(&headers);
    let (result, after) = {
        let mut st = shared.lock();
        let fault = next_fault(&shared, &mut st, call);
        let result = handle(
            &shared,
            &mut st,
            call,
            fault.as_ref(),
            &query,
            &headers,
            &body,
            &host,
        );
        let errcode = result.as_ref().err().map_or(0, |(c, _)| *c);
        let line = json!({"call": call.name(), "errcode": errcode}).to_string();
        if let Err(e) = append_line(&shared.data().join("calls.jsonl"), &line) {
            tracing::warn!(error = %e, "mock could not log a call");
        }
        (result, fault.map(|f| f.kind))
    };
    let response = match result {
        Ok(v) => axum::Json(v).into_response(),
        Err((code, message)) => return answer(code, &message),
    };
    // Applied: from here on the answer may be late or lost.
    let mut wait = shared.opts.delay;
    if let Some(FaultKind::Slow(d)) = after {
        wait += d;
    }
    if !wait.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.shutdown.cancelled() => {}
        }
    }
    if after == Some(FaultKind::Lose) {
        tracing::info!(
            call = call.name(),
            "mock drops the connection after applying the call"
        );
        // A body that fails makes the server abort the connection: the
        // client sees no (complete) answer.
        let failing = futures::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::other("answer lost on purpose"))
        });
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(failing))
            .unwrap_or(response);
    }
    response
}

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")
}

/// Check and apply one call. Nothing is stored unless every check passes.
#[allow(clippy::too_many_arguments)]
fn handle(
    shared: &Shared,
    st: &mut MockState,
    call: Call,
    fault: Option<&Fault>,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
    host: &str,
) -> Result<Value, Refusal> {
    match fault.map(|f| &f.kind) {
        Some(FaultKind::Code { code, message }) => return Err(refuse(*code, message.clone())),
        Some(FaultKind::IpNotWhitelisted(ip)) => {
            let rid = rid(st);
            return Err(refuse(
                codes::INVALID_IP,
                format!("invalid ip {ip} ipv6 ::ffff:{ip}, not in whitelist rid: {rid}"),
            ));
        }
        Some(FaultKind::TokenExpired) => {
            if let Some((_, expires)) = st.token.as_mut() {
                *expires = shared.now();
            }
        }
        _ => {}
    }
    if call == Call::Token {
        return stable_token(shared, st, body);
    }
    check_token(shared, st, query)?;
    match call {
        Call::Token => unreachable!("answered above"),
        Call::UploadImg => upload(shared, st, headers, body, host, false),
        Call::AddMaterial => {
            if query.get("type").map(String::as_str) != Some("image") {
                return Err(refuse(
                    40004,
                    "invalid media type (the double takes type=image)",
                ));
            }
            upload(shared, st, headers, body, host, true)
        }
        Call::DraftAdd => draft_add(shared, st, body),
        Call::Submit => submit(shared, st, body, host, fault.map(|f| &f.kind)),
        Call::Get => publish_status(shared, st, body),
        Call::BatchGet => batchget(shared, st, body),
    }
}

fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, Refusal> {
    if body.is_empty() {
        return Err(refuse(codes::EMPTY_POST_DATA, "empty post data"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(refuse(codes::DATA_FORMAT, "data format error")),
    }
}

fn check_token(
    shared: &Shared,
    st: &MockState,
    query: &HashMap<String, String>,
) -> Result<(), Refusal> {
    let Some(sent) = query.get("access_token").filter(|t| !t.is_empty()) else {
        return Err(refuse(codes::ACCESS_TOKEN_MISSING, "access_token missing"));
    };
    match &st.token {
        Some((t, expires)) if t == sent => {
            if shared.now() >= *expires {
                Err(refuse(codes::ACCESS_TOKEN_EXPIRED, "access_token expired"))
            } else {
                Ok(())
            }
        }
        _ => Err(refuse(
            codes::INVALID_CREDENTIAL,
            "invalid credential, access_token is invalid or not latest",
        )),
    }
}

fn stable_token(shared: &Shared, st: &mut MockState, body: &[u8]) -> Result<Value, Refusal> {
    let m = json_body(body)?;
    if m.get("grant_type").and_then(Value::as_str) != Some("client_credential") {
        return Err(refuse(codes::INVALID_GRANT_TYPE, "invalid grant_type"));
    }
    match m.get("appid").and_then(Value::as_str) {
        None | Some("") => return Err(refuse(codes::APPID_MISSING, "appid missing")),
        Some(a) if a != shared.opts.app_id => {
            return Err(refuse(codes::INVALID_APPID, "invalid appid"));
        }
        Some(_) => {}
    }
    match m.get("secret").and_then(Value::as_str) {
        None | Some("") => return Err(refuse(codes::APPSECRET_MISSING, "appsecret missing")),
        // Never echo what was sent: it is a secret, right or wrong.
        Some(s) if s != shared.opts.app_secret => {
            return Err(refuse(codes::INVALID_APPSECRET, "invalid appsecret"));
        }
        Some(_) => {}
    }
    let force = match m.get("force_refresh") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(refuse(
                codes::DATA_FORMAT,
                "data format error: force_refresh",
            ));
        }
    };
    let now = shared.now();
    let valid = st.token.as_ref().filter(|(_, exp)| now < *exp).cloned();
    let (token, expires) = match valid {
        Some(t) if !force => t,
        _ => {
            st.counter += 1;
            let seed = format!(
                "{}/{}/{}",
                st.counter,
                now.timestamp_nanos_opt().unwrap_or(0),
                rand::random::<u64>()
            );
            let token = format!("MOCK_{}", hex::encode(Sha256::digest(seed.as_bytes())));
            let t = (token, now + chrono::Duration::seconds(TOKEN_LIFETIME_SECS));
            st.token = Some(t.clone());
            t
        }
    };
    Ok(json!({
        "access_token": token,
        "expires_in": (expires - now).num_seconds(),
    }))
}

/// `media/uploadimg` (`material`: false) or `material/add_material`.
fn upload(
    shared: &Shared,
    st: &mut MockState,
    headers: &HeaderMap,
    body: &[u8],
    host: &str,
    material: bool,
) -> Result<Value, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = parse_multipart(content_type, body).ok_or_else(|| {
        refuse(
            codes::MEDIA_DATA_MISSING,
            "media data missing (not multipart/form-data)",
        )
    })?;
    let file = parts
        .into_iter()
        .find(|p| p.name == "media" && !p.data.is_empty())
        .ok_or_else(|| refuse(codes::MEDIA_DATA_MISSING, "media data missing"))?;
    let ext = file
        .filename
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let allowed: &[&str] = if material {
        &["bmp", "png", "jpeg", "jpg", "gif"]
    } else {
        &["jpg", "jpeg", "png"]
    };
    let Some((mime, kind, ..)) = sniff_image(&file.data).or_else(|| {
        file.data
            .starts_with(b"BM")
            .then_some(("image/bmp", "bmp", 0, 0))
    }) else {
        return Err(refuse(
            codes::INVALID_FILE_TYPE,
            "invalid file type: not an image",
        ));
    };
    let ext_fits = ext == kind || (kind == "jpg" && ext == "jpeg");
    if !allowed.contains(&ext.as_str()) || !ext_fits {
        return Err(refuse(
            codes::INVALID_FILE_TYPE,
            format!("invalid file type: file name extension {ext:?} for a {kind} image"),
        ));
    }
    let max = if material {
        MATERIAL_MAX_BYTES
    } else {
        IMAGE_MAX_BYTES - 1
    };
    if file.data.len() > max {
        return Err(refuse(
            codes::INVALID_IMAGE_SIZE,
            format!(
                "invalid image size: {} bytes (at most {max})",
                file.data.len()
            ),
        ));
    }
    let hash = hex::encode(Sha256::digest(&file.data));
    let name = format!("{}.{kind}", &hash[..24]);
    let mut img = st.images.get(&name).cloned().unwrap_or_else(|| MockImage {
        file: name.clone(),
        mime_type: mime.to_string(),
        urls: Vec::new(),
        media_id: None,
    });
    let url = format!("http://{host}/mmbiz/{name}");
    let result = if material {
        let media_id = img
            .media_id
            .get_or_insert_with(|| format!("MOCK_MEDIA_{}", &hash[..32]))
            .clone();
        json!({"media_id": media_id, "url": url})
    } else {
        if !img.urls.contains(&url) {
            img.urls.push(url.clone());
        }
        json!({"url": url})
    };
    let dir = shared.data().join("images");
    let meta = serde_json::to_vec_pretty(&img).map_err(|e| refuse(-1, e.to_string()))?;
    write_atomically(&dir.join(&name), &file.data)
        .and_then(|()| write_atomically(&dir.join(format!("{name}.json")), &meta))
        .map_err(|e| refuse(codes::SYSTEM_BUSY, format!("system error: {e}")))?;
    st.images.insert(name, img);
    Ok(result)
}

fn draft_add(shared: &Shared, st: &mut MockState, body: &[u8]) -> Result<Value, Refusal> {
    let m = json_body(body)?;
    let Some(list) = m
        .get("articles")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return Err(refuse(codes::EMPTY_NEWS, "empty news data"));
    };
    let issued: Vec<&String> = st.images.values().flat_map(|i| &i.urls).collect();
    let materials: Vec<&String> = st
        .images
        .values()
        .filter_map(|i| i.media_id.as_ref())
        .collect();
    let mut articles = Vec::new();
    for a in list {
        let text = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let flag = |k: &str| -> Result<i64, Refusal> {
            match a.get(k) {
                None => Ok(0),
                Some(v) => v.as_i64().filter(|n| matches!(n, 0 | 1)).ok_or_else(|| {
                    refuse(codes::INVALID_PARAMETER, format!("invalid parameter {k}"))
                }),
            }
        };
        let article_type = a
            .get("article_type")
            .and_then(Value::as_str)
            .unwrap_or("news")
            .to_string();
        if article_type != "news" {
            return Err(refuse(
                codes::INVALID_PARAMETER,
                "invalid article_type (the double takes news)",
            ));
        }
        let article = MockArticle {
            article_type,
            title: text("title"),
            author: text("author"),
            digest: text("digest"),
            content: text("content"),
            content_source_url: text("content_source_url"),
            thumb_media_id: text("thumb_media_id"),
            need_open_comment: flag("need_open_comment")?,
            only_fans_can_comment: flag("only_fans_can_comment")?,
        };
        let chars = |s: &str| s.chars().count();
        if article.title.trim().is_empty() {
            return Err(refuse(codes::EMPTY_NEWS, "title missing"));
        }
        if chars(&article.title) > TITLE_MAX_CHARS {
            return Err(refuse(codes::TITLE_TOO_LONG, "title size out of limit"));
        }
        if chars(&article.author) > AUTHOR_MAX_CHARS {
            return Err(refuse(codes::AUTHOR_TOO_LONG, "author size out of limit"));
        }
        if chars(&article.digest) > DIGEST_MAX_CHARS {
            return Err(refuse(
                codes::DIGEST_TOO_LONG,
                "description size out of limit",
            ));
        }
        if article.content.trim().is_empty() {
            return Err(refuse(codes::EMPTY_NEWS, "content missing"));
        }
        if chars(&article.content) >= CONTENT_MAX_CHARS || article.content.len() >= 1024 * 1024 {
            return Err(refuse(codes::CONTENT_TOO_LONG, "content size out of limit"));
        }
        if !article.content_source_url.is_empty()
            && !matches!(
                url::Url::parse(&article.content_source_url)
                    .map(|u| u.scheme().to_string())
                    .as_deref(),
                Ok("http" | "https")
            )
        {
            return Err(refuse(
                codes::INVALID_PARAMETER,
                "invalid content_source_url",
            ));
        }
        if !materials.contains(&&article.thumb_media_id) {
            return Err(refuse(
                codes::INVALID_MEDIA_ID,
                "invalid media_id (thumb_media_id)",
            ));
        }
        if let Some(why) = content_problem(&article.content, &issued) {
            return Err(refuse(
                codes::INVALID_CONTENT,
                format!("invalid content hint: {why}"),
            ));
        }
        articles.push(article);
    }
    st.counter += 1;
    let media_id = format!(
        "MOCK_DRAFT_{}",
        &hex::encode(Sha256::digest(format!(
            "draft/{}/{}",
            st.counter,
            rand::random::<u64>()
        )))[..32]
    );
    let draft = MockDraft {
        media_id: media_id.clone(),
        articles,
        created: shared.now(),
        publish_id: None,
    };
    tracing::info!(%media_id, title = %draft.articles[0].title, "mock stores a draft");
    save_draft(shared, st, draft)?;
    Ok(json!({"media_id": media_id}))
}

/// Why a draft's body is refused: code, or an image the double did not
/// issue.
fn content_problem(content: &str, issued: &[&String]) -> Option<String> {
    let doc = scraper::Html::parse_fragment(content);
    let sel = scraper::Selector::parse("script, style").expect("static selector");
    if doc.select(&sel).next().is_some() {
        return Some("script or style in content".into());
    }
    let sel = scraper::Selector::parse("img").expect("static selector");
    doc.select(&sel).find_map(|img| {
        let src = img.value().attr("src").unwrap_or("");
        (!issued.iter().any(|u| u.as_str() == src))
            .then(|| format!("image not uploaded through media/uploadimg: {src}"))
    })
}

fn store<T: Serialize>(path: &Path, value: &T) -> Result<(), Refusal> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| refuse(-1, e.to_string()))?;
    write_atomically(path, &bytes).map_err(|e| {
        tracing::error!(error = %e, "mock could not store");
        refuse(codes::SYSTEM_BUSY, "system error")
    })
}

/// A draft written to disk, then kept in memory.
fn save_draft(shared: &Shared, st: &mut MockState, draft: MockDraft) -> Result<(), Refusal> {
    let path = shared
        .data()
        .join("drafts")
        .join(format!("{}.json", draft.media_id));
    store(&path, &draft)?;
    st.drafts.insert(draft.media_id.clone(), draft);
    Ok(())
}

fn submit(
    shared: &Shared,
    st: &mut MockState,
    body: &[u8],
    host: &str,
    fault: Option<&FaultKind>,
) -> Result<Value, Refusal> {
    let m = json_body(body)?;
    let media_id = m.get("media_id").and_then(Value::as_str).unwrap_or("");
    let Some(draft) = st.drafts.get(media_id).cloned() else {
        return Err(refuse(codes::INVALID_MEDIA_ID, "invalid media_id"));
    };
    if draft.publish_id.is_some() {
        // Stricter than need be: a draft submitted twice is a client bug.
        return Err(refuse(
            codes::INVALID_MEDIA_ID,
            "invalid media_id: the draft was already submitted",
        ));
    }
    let next = st
        .published
        .iter()
        .filter_map(|p| p.publish_id.parse::<u64>().ok())
        .max()
        .map_or(FIRST_PUBLISH_ID, |m| m + 1);
    let now = shared.now();
    let (publishing_until, final_status, reason) = match fault {
        Some(FaultKind::Publishing(d)) => (
            Some(now + chrono::Duration::from_std(*d).unwrap_or_default()),
            0,
            None,
        ),
        Some(FaultKind::Ends { status, reason }) => (None, *status, reason.clone()),
        _ => (None, 0, None),
    };
    let article_id = format!("MOCK_ARTICLE_{next}");
    let publication = MockPublication {
        publish_id: next.to_string(),
        msg_data_id: (next + 1_000_000_000).to_string(),
        url: format!("http://{host}/s/{article_id}"),
        article_id,
        media_id: media_id.to_string(),
        articles: draft.articles.clone(),
        submitted: now,
        publishing_until,
        final_status,
        reason,
    };
    let path = shared
        .data()
        .join("published")
        .join(format!("{}.json", publication.publish_id));
    store(&path, &publication)?;
    let draft = MockDraft {
        publish_id: Some(publication.publish_id.clone()),
        ..draft
    };
    save_draft(shared, st, draft)?;
    tracing::info!(publish_id = %publication.publish_id, "mock accepted a submission");
    let answer = json!({
        "errcode": 0,
        "errmsg": "ok",
        "publish_id": publication.publish_id,
        "msg_data_id": publication.msg_data_id,
    });
    st.published.push(publication);
    Ok(answer)
}

fn publish_status(shared: &Shared, st: &mut MockState, body: &[u8]) -> Result<Value, Refusal> {
    let m = json_body(body)?;
    let id = match m.get("publish_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(refuse(
                codes::INVALID_PARAMETER,
                "invalid parameter publish_id",
            ));
        }
    };
    let Some(p) = st.published.iter().find(|p| p.publish_id == id) else {
        return Err(refuse(codes::INVALID_PARAMETER, "invalid publish_id"));
    };
    let status = p.status(shared.now());
    let mut v = json!({
        "errcode": 0,
        "errmsg": p.reason.clone().filter(|_| status >= 2).unwrap_or_else(|| "ok".into()),
        "publish_id": p.publish_id,
        "publish_status": status,
        "fail_idx": if matches!(status, 2 | 4) { json!([1]) } else { json!([]) },
    });
    if matches!(status, 0 | 5 | 6) {
        v["article_id"] = json!(p.article_id);
    }
    if status == 0 {
        v["article_detail"] = json!({"count": 1, "item": [{"idx": 1, "article_url": p.url}]});
    }
    Ok(v)
}

fn batchget(shared: &Shared, st: &mut MockState, body: &[u8]) -> Result<Value, Refusal> {
    let m = json_body(body)?;
    let number = |k: &str| m.get(k).and_then(Value::as_i64);
    let (Some(offset), Some(count)) = (number("offset"), number("count")) else {
        return Err(refuse(
            codes::INVALID_PARAMETER,
            "invalid parameter: offset and count are required",
        ));
    };
    if offset < 0 || !(1..=20).contains(&count) {
        return Err(refuse(
            codes::INVALID_PARAMETER,
            "invalid parameter: count must be 1 to 20",
        ));
    }
    let no_content = match number("no_content") {
        None | Some(0) => false,
        Some(1) => true,
        Some(_) => {
            return Err(refuse(
                codes::INVALID_PARAMETER,
                "invalid parameter no_content",
            ));
        }
    };
    let now = shared.now();
    // Published (and published-then-removed) articles, newest first.
    let listed: Vec<&MockPublication> = st
        .published
        .iter()
        .rev()
        .filter(|p| matches!(p.status(now), 0 | 5 | 6))
        .collect();
    let items: Vec<Value> = listed
        .iter()
        .skip(offset as usize)
        .take(count as usize)
        .map(|p| {
            let deleted = p.status(now) != 0;
            let news: Vec<Value> = p
                .articles
                .iter()
                .map(|a| {
                    let mut n = json!({
                        "title": a.title,
                        "author": a.author,
                        "digest": a.digest,
                        "content_source_url": a.content_source_url,
                        "thumb_media_id": a.thumb_media_id,
                        "need_open_comment": a.need_open_comment,
                        "only_fans_can_comment": a.only_fans_can_comment,
                        "url": p.url,
                        "is_deleted": deleted,
                    });
                    if !no_content {
                        n["content"] = json!(a.content);
                    }
                    n
                })
                .collect();
            json!({
                "article_id": p.article_id,
                "content": {"news_item": news, "create_time": p.submitted.timestamp(), "update_time": p.submitted.timestamp()},
                "update_time": p.submitted.timestamp(),
            })
        })
        .collect();
    Ok(json!({
        "total_count": listed.len(),
        "item_count": items.len(),
        "item": items,
    }))
}

async fn image(State(shared): State<Arc<Shared>>, UrlPath(file): UrlPath<String>) -> Response {
    let found = shared.lock().images.get(&file).cloned();
    let Some(img) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    stored_file(shared.data().join("images").join(&img.file), img.mime_type).await
}

async fn article_page(
    State(shared): State<Arc<Shared>>,
    UrlPath(article_id): UrlPath<String>,
) -> Response {
    let now = shared.now();
    let found = shared
        .lock()
        .published
        .iter()
        .find(|p| p.article_id == article_id && p.status(now) == 0)
        .cloned();
    let Some(p) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let a = &p.articles[0];
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{c}\
         <p><a href=\"{u}\">阅读原文</a></p></body></html>",
        t = escape(&a.title),
        c = a.content,
        u = escape(&a.content_source_url)
    ))
    .into_response()
}

async fn index(State(shared): State<Arc<Shared>>) -> Html<String> {
    let now = shared.now();
    let st = shared.lock();
    let mut rows = String::new();
    for p in st.published.iter().rev() {
        let title = p.articles.first().map(|a| a.title.as_str()).unwrap_or("");
        rows.push_str(&format!(
            "<li><a href=\"/s/{id}\">{t}</a> <small>publish_status {s} · {when}</small></li>\n",
            id = escape(&p.article_id),
            t = escape(title),
            s = p.status(now),
            when = p.submitted.format("%Y-%m-%d %H:%M:%S UTC"),
        ));
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{n}（mock 公众号）</title></head>\
         <body><h1>{n}</h1><p>{drafts} 篇草稿，{count} 次发布</p><ol>\n{rows}</ol></body></html>",
        n = escape(&shared.opts.account_name),
        drafts = st.drafts.len(),
        count = st.published.len(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_their_text_form() {
        assert_eq!(
            "code:45009:reach max api daily quota limit".parse::<Fault>(),
            Ok(Fault::any(FaultKind::Code {
                code: 45009,
                message: "reach max api daily quota limit".into()
            }))
        );
        assert_eq!(
            "submit lose".parse::<Fault>(),
            Ok(Fault::on(Call::Submit, FaultKind::Lose))
        );
        assert_eq!(
            "ip:1.2.3.4".parse::<Fault>(),
            Ok(Fault::any(FaultKind::IpNotWhitelisted("1.2.3.4".into())))
        );
        assert_eq!(
            "publishing:1500".parse::<Fault>(),
            Ok(Fault::any(FaultKind::Publishing(Duration::from_millis(
                1500
            ))))
        );
        assert_eq!(
            "status:4:含有违规内容".parse::<Fault>(),
            Ok(Fault::any(FaultKind::Ends {
                status: 4,
                reason: Some("含有违规内容".into())
            }))
        );
        assert_eq!(
            "draft slow:200".parse::<Fault>(),
            Ok(Fault::on(
                Call::DraftAdd,
                FaultKind::Slow(Duration::from_millis(200))
            ))
        );
        assert_eq!(
            "token-expired".parse::<Fault>(),
            Ok(Fault::any(FaultKind::TokenExpired))
        );
        for bad in [
            "status:1",
            "status:7",
            "draft publishing:5",
            "token token-expired",
            "nope",
            "frob lose",
            "ip:",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn submission_faults_wait_for_a_submit_and_token_faults_for_a_token() {
        let publishing = Fault::any(FaultKind::Publishing(Duration::from_secs(1)));
        assert!(!publishing.applies_to(Call::Token) && !publishing.applies_to(Call::DraftAdd));
        assert!(publishing.applies_to(Call::Submit));
        let expired = Fault::any(FaultKind::TokenExpired);
        assert!(!expired.applies_to(Call::Token) && expired.applies_to(Call::UploadImg));
        let code = Fault::on(Call::Get, FaultKind::Lose);
        assert!(code.applies_to(Call::Get) && !code.applies_to(Call::Submit));
    }

    #[test]
    fn a_publication_is_publishing_until_its_time_then_its_final_status() {
        let t0 = Utc::now();
        let p = MockPublication {
            publish_id: "1".into(),
            msg_data_id: "2".into(),
            article_id: "a".into(),
            media_id: "m".into(),
            articles: vec![],
            url: String::new(),
            submitted: t0,
            publishing_until: Some(t0 + chrono::Duration::seconds(5)),
            final_status: 0,
            reason: None,
        };
        assert_eq!(p.status(t0), 1);
        assert_eq!(p.status(t0 + chrono::Duration::seconds(5)), 0);
    }
}
