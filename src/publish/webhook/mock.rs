//! `autosync mock-webhook`: a strict local webhook receiver, for tests and
//! for trying a webhook account without the real receiver.
//!
//! It keeps the receiver's side of the contract (see the [module
//! docs](super)) and nothing looser, so a client that passes here holds to
//! it: a request must be `application/json`, carry a valid
//! `X-Autosync-Signature` (else **401**) and an `Idempotency-Key` equal to
//! the body's `id`, and the body must be exactly a
//! [`WebhookPost`](super::WebhookPost) (else 400/415). A key already stored
//! is answered **409** with the stored post's `id` and `url`, and nothing new
//! is stored. A post is stored (written atomically) before it is answered
//! `200 {"id": …, "url": …}`.
//!
//! **Faults** apply to POSTs in order, one each, after the signature and
//! key checks: first [`MockOptions::fail_next`], then one line per POST from
//! the file `DATA/fail_next` (consumed as used; syntax in [`Fault`]).
//!
//! ```text
//! DATA/posts/<seq>.json   one StoredPost per post received
//! DATA/fail_next          knob: one Fault per line, consumed per POST
//! ```
//!
//! `GET /posts/<seq>` answers a stored post, so the `url` it hands out works.

use super::client::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, WebhookPost, signature_matches};
use crate::publish::double::{json_files, take_knob_line};
use crate::publish::file::write_atomically;
use crate::publish::toutiao_mock::parse_status;
use crate::secret::Secret;
use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::{IncomingStream, Listener};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// How the receiver behaves.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Where posts are kept (survives restarts).
    pub data_dir: PathBuf,
    /// The secret shared with the client.
    pub secret: Secret,
    /// Faults for the next POSTs, in order.
    pub fail_next: Vec<Fault>,
}

impl MockOptions {
    pub fn new(data_dir: impl Into<PathBuf>, secret: Secret) -> MockOptions {
        MockOptions {
            data_dir: data_dir.into(),
            secret,
            fail_next: Vec::new(),
        }
    }
}

/// One injected misbehaviour of a POST.
///
/// Text form (for `DATA/fail_next`): `status:503` or
/// `status:429:retry-after=7` (the value may be an HTTP date),
/// `reject:422:some message`, `slow:1500` (milliseconds), `lost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (and `Retry-After`), storing nothing.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Refuse with this 4xx and `{"message": …}`, storing nothing.
    Reject { status: u16, message: String },
    /// Store the post, then hold the answer back this long.
    Slow(Duration),
    /// Store the post, then close the connection without answering: the
    /// answer lost on the way back.
    Lost,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || {
            format!(
                "bad fault {s:?}: expected status:N[:retry-after=V], reject:4xx:message, slow:MS or lost"
            )
        };
        if s == "lost" {
            return Ok(Fault::Lost);
        }
        if let Some(ms) = s.strip_prefix("slow:") {
            return ms
                .parse()
                .map(|ms| Fault::Slow(Duration::from_millis(ms)))
                .map_err(|_| bad());
        }
        if let Some(rest) = s.strip_prefix("reject:") {
            let (status, message) = rest.split_once(':').unwrap_or((rest, "injected refusal"));
            let status: u16 = status.parse().map_err(|_| bad())?;
            if !(400..=499).contains(&status) {
                return Err(bad());
            }
            return Ok(Fault::Reject {
                status,
                message: message.to_string(),
            });
        }
        if let Some(rest) = s.strip_prefix("status:") {
            let (status, retry_after) = parse_status(rest).ok_or_else(bad)?;
            return Ok(Fault::Status {
                status,
                retry_after,
            });
        }
        Err(bad())
    }
}

/// One post as the receiver keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPost {
    /// The receiver's own id (its answer's `id`), in order of arrival.
    pub seq: u64,
    /// The `Idempotency-Key` it came with.
    pub key: String,
    /// Unix seconds.
    pub received_at: i64,
    pub post: WebhookPost,
}

/// The posts stored in `data_dir`, in order of arrival (use this to count
/// what was received).
pub fn load_posts(data_dir: &Path) -> Vec<StoredPost> {
    let mut posts: Vec<StoredPost> = json_files(&data_dir.join("posts"))
        .into_iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect();
    posts.sort_by_key(|p| p.seq);
    posts
}

struct Shared {
    opts: MockOptions,
    addr: SocketAddr,
    shutdown: CancellationToken,
    state: Mutex<MockState>,
}

struct MockState {
    /// Idempotency-Key → seq.
    keys: HashMap<String, u64>,
    last_seq: u64,
    faults: VecDeque<Fault>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, MockState> {
        // Every write goes to disk before the map: a poisoned lock still
        // holds consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn posts_dir(&self) -> PathBuf {
        self.opts.data_dir.join("posts")
    }

    fn url_of(&self, seq: u64) -> String {
        format!("http://{}/posts/{seq}", self.addr)
    }
}

/// Read what was stored, refusing to start on a corrupt file (ignoring it
/// would make the receiver forget a key and store a post twice).
fn load_state(data: &Path) -> std::io::Result<MockState> {
    std::fs::create_dir_all(data.join("posts"))?;
    let mut state = MockState {
        keys: HashMap::new(),
        last_seq: 0,
        faults: VecDeque::new(),
    };
    for p in json_files(&data.join("posts")) {
        let post: StoredPost = serde_json::from_slice(&std::fs::read(&p)?)
            .map_err(|e| std::io::Error::other(format!("mock data file {}: {e}", p.display())))?;
        state.last_seq = state.last_seq.max(post.seq);
        state.keys.insert(post.key, post.seq);
    }
    Ok(state)
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    opts: MockOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let data = opts.data_dir.clone();
    let mut state = tokio::task::spawn_blocking(move || load_state(&data))
        .await
        .map_err(std::io::Error::other)??;
    state.faults = opts.fail_next.iter().cloned().collect();
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data = %opts.data_dir.display(), posts = state.keys.len(), "mock webhook receiver serving");
    let shared = Arc::new(Shared {
        opts,
        addr,
        shutdown: shutdown.clone(),
        state: Mutex::new(state),
    });
    let app = Router::new()
        .route("/posts/{seq}", get(stored_post))
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared);
    axum::serve(
        CuttableListener(listener),
        app.into_make_service_with_connect_info::<Cut>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    answer(status, json!({ "message": message }))
}

/// Any POST, at any path: the webhook.
async fn receive(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != axum::http::Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    let post = match check(&shared.opts.secret, &headers, &body) {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let (seq, fault) = {
        let mut st = shared.lock();
        let fault = st
            .faults
            .pop_front()
            .or_else(|| take_knob_line(&shared.opts.data_dir.join("fail_next"), |_: &Fault| true));
        match &fault {
            Some(Fault::Status {
                status,
                retry_after,
            }) => {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut resp = refuse(status, "injected failure");
                if let Some(v) = retry_after
                    .as_deref()
                    .and_then(|v| HeaderValue::from_str(v).ok())
                {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return resp;
            }
            Some(Fault::Reject { status, message }) => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
                return refuse(status, message);
            }
            Some(Fault::Slow(_) | Fault::Lost) | None => {}
        }
        if let Some(&seq) = st.keys.get(&post.id) {
            tracing::info!(key = %post.id, seq, "mock webhook: key already stored");
            return answer(
                StatusCode::CONFLICT,
                json!({"message": "already received", "id": seq.to_string(), "url": shared.url_of(seq)}),
            );
        }
        let stored = StoredPost {
            seq: st.last_seq + 1,
            key: post.id.clone(),
            received_at: chrono::Utc::now().timestamp(),
            post,
        };
        let path = shared.posts_dir().join(format!("{}.json", stored.seq));
        let written = serde_json::to_vec_pretty(&stored)
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_atomically(&path, &bytes));
        if let Err(e) = written {
            tracing::error!(error = %e, "mock webhook could not store a post");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "storage error");
        }
        tracing::info!(key = %stored.key, seq = stored.seq, title = %stored.post.title, "mock webhook stored a post");
        st.last_seq = stored.seq;
        st.keys.insert(stored.key, stored.seq);
        (stored.seq, fault)
    };
    // Stored: from here on the answer may be late or lost.
    match fault {
        Some(Fault::Slow(d)) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = shared.shutdown.cancelled() => {}
            }
        }
        Some(Fault::Lost) => {
            cut.0.store(true, Ordering::SeqCst);
            return StatusCode::OK.into_response();
        }
        _ => {}
    }
    answer(
        StatusCode::OK,
        json!({"id": seq.to_string(), "url": shared.url_of(seq)}),
    )
}

/// The post a request carries, or the receiver's refusal: content type,
/// signature (before anything is read), key, body.
#[allow(clippy::result_large_err)] // the refusal is the answer itself
fn check(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> Result<WebhookPost, Response> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let json = text(header::CONTENT_TYPE.as_str())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    match text(SIGNATURE_HEADER) {
        None => {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "X-Autosync-Signature is missing",
            ));
        }
        Some(sig) if !signature_matches(secret, body, sig) => {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "X-Autosync-Signature does not match the body (wrong secret?)",
            ));
        }
        Some(_) => {}
    }
    let Some(key) = text(IDEMPOTENCY_HEADER).filter(|k| !k.is_empty()) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key is missing",
        ));
    };
    let post: WebhookPost = serde_json::from_slice(body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("the body is not a post: {e}"),
        )
    })?;
    if post.id != key {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key differs from the body's id",
        ));
    }
    Ok(post)
}

async fn stored_post(State(shared): State<Arc<Shared>>, UrlPath(seq): UrlPath<u64>) -> Response {
    match tokio::fs::read(shared.posts_dir().join(format!("{seq}.json"))).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => refuse(StatusCode::NOT_FOUND, "no such post"),
    }
}

/// A listener whose connections a handler can cut: how a lost answer is
/// made (hyper gives a handler no way to drop its connection).
struct CuttableListener(TcpListener);

/// One connection; once `cut`, it reads end-of-file and refuses to write,
/// so hyper drops it before a byte of the answer is sent.
struct CuttableStream {
    inner: TcpStream,
    cut: Arc<AtomicBool>,
}

/// A handler's switch for its own connection.
#[derive(Clone)]
struct Cut(Arc<AtomicBool>);

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (inner, addr) = Listener::accept(&mut self.0).await;
        let cut = Arc::new(AtomicBool::new(false));
        (CuttableStream { inner, cut }, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for Cut {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        Cut(stream.io().cut.clone())
    }
}

impl CuttableStream {
    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.is_cut() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.is_cut() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "answer lost on purpose",
            )));
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_their_text_form() {
        assert_eq!(
            "status:429:retry-after=Thu, 26 Nov 2026 04:02:00 GMT".parse::<Fault>(),
            Ok(Fault::Status {
                status: 429,
                retry_after: Some("Thu, 26 Nov 2026 04:02:00 GMT".into())
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
            "reject:422:标题不能为空".parse::<Fault>(),
            Ok(Fault::Reject {
                status: 422,
                message: "标题不能为空".into()
            })
        );
        assert_eq!(
            "slow:1500".parse::<Fault>(),
            Ok(Fault::Slow(Duration::from_millis(1500)))
        );
        assert_eq!("lost".parse::<Fault>(), Ok(Fault::Lost));
        assert!("reject:500:x".parse::<Fault>().is_err());
        assert!("status:abc".parse::<Fault>().is_err());
        assert!("explode".parse::<Fault>().is_err());
    }
}
