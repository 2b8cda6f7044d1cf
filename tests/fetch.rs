//! The fetcher against a real HTTP server on 127.0.0.1 (axum), so that what is
//! tested is what reqwest actually does on the wire: validators sent, bodies
//! capped while streaming, redirects, status mapping, robots.txt, politeness,
//! and where a request may go (refusals before any connection, proven by
//! listeners that count what they accept).

use autosync::fetch::{FetchError, FetchOptions, Fetcher, Reach, Refusal, Request, Response};
use autosync::scope::SiteScope;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use url::Url;

struct Shared {
    robots_hits: AtomicUsize,
    streamed: AtomicUsize,
    /// (path, start, end) of every /slow request.
    slow_log: Mutex<Vec<(String, Instant, Instant)>>,
    /// /slow requests in the handler right now.
    in_flight: AtomicUsize,
    /// The most /slow requests ever in the handler at once (only grows, so
    /// a waiter cannot miss the moment two met).
    max_in_flight: watch::Sender<usize>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            robots_hits: AtomicUsize::new(0),
            streamed: AtomicUsize::new(0),
            slow_log: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: watch::Sender::new(0),
        }
    }
}

const LAST_MODIFIED: &str = "Mon, 20 Nov 2023 08:00:00 GMT";

async fn serve() -> (SocketAddr, Arc<Shared>) {
    let shared = Arc::new(Shared::default());
    let app = Router::new()
        .route("/robots.txt", get(robots))
        .route("/etag", get(etag))
        .route("/lm", get(last_modified))
        .route("/big", get(|| async { vec![b'x'; 20 * 1024 * 1024] }))
        .route("/endless", get(endless))
        .route("/gzip", get(gzip))
        .route("/gzip-bomb", get(gzip_bomb))
        .route(
            "/old",
            get(|| async { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/new")]) }),
        )
        .route(
            "/old308",
            get(|| async { (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "new")]) }),
        )
        .route(
            "/temp",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/new")]) }),
        )
        .route(
            "/old-then-temp",
            get(|| async { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/temp")]) }),
        )
        .route("/new", get(|| async { "new home" }))
        .route(
            "/loop-a",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop-b")]) }),
        )
        .route(
            "/loop-b",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop-a")]) }),
        )
        .route("/chain/{n}", get(chain))
        .route("/status/{code}", get(status))
        .route("/busy", get(busy))
        .route("/unavailable", get(unavailable))
        .route("/echo", get(echo))
        .route("/slow/{name}/{wait_ms}", get(slow))
        .route("/redirect", get(redirect))
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route("/private/secret.html", get(|| async { "secret" }))
        .route("/public.html", get(|| async { "public" }))
        .route(
            "/to-private",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "/private/secret.html")],
                )
            }),
        )
        .with_state(shared.clone());
    (serve_app(app).await, shared)
}

/// Serve `app` on a fresh port of 127.0.0.1.
async fn serve_app(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn robots(State(s): State<Arc<Shared>>) -> &'static str {
    s.robots_hits.fetch_add(1, Ordering::SeqCst);
    "User-agent: *\nDisallow: /private/\n\nUser-agent: otherbot\nDisallow: /\n"
}

async fn etag(headers: HeaderMap) -> impl IntoResponse {
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some("\"v1\"")
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, "\"v1\"")], "").into_response();
    }
    ([(header::ETAG, "\"v1\"")], "body v1").into_response()
}

async fn last_modified(headers: HeaderMap) -> impl IntoResponse {
    if headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        == Some(LAST_MODIFIED)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([(header::LAST_MODIFIED, LAST_MODIFIED)], "body lm").into_response()
}

/// A chunked body without Content-Length that never ends.
async fn endless(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    let chunk = bytes::Bytes::from(vec![b'y'; 64 * 1024]);
    let stream = futures::stream::repeat_with(move || {
        s.streamed.fetch_add(chunk.len(), Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk.clone())
    });
    Body::from_stream(stream)
}

fn gzipped(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

async fn gzip(headers: HeaderMap) -> impl IntoResponse {
    let accepts = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .contains("gzip");
    if !accepts {
        return (StatusCode::BAD_REQUEST, "client did not accept gzip").into_response();
    }
    (
        [
            (header::CONTENT_ENCODING, "gzip"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        gzipped("<p>压缩的正文</p>".as_bytes()),
    )
        .into_response()
}

/// 8 MB of zeros, a few KB on the wire: the cap must apply after decompression.
async fn gzip_bomb() -> impl IntoResponse {
    (
        [(header::CONTENT_ENCODING, "gzip")],
        gzipped(&vec![0u8; 8 * 1024 * 1024]),
    )
}

async fn chain(Path(n): Path<u32>) -> impl IntoResponse {
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("/chain/{}", n + 1))],
    )
}

async fn status(Path(code): Path<u16>) -> impl IntoResponse {
    StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT)
}

async fn busy() -> impl IntoResponse {
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")])
}

async fn unavailable() -> impl IntoResponse {
    // An HTTP-date far in the future: the delay is large, not parsed as 0.
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "Fri, 31 Dec 2100 23:59:59 GMT")],
    )
}

async fn echo(headers: HeaderMap) -> String {
    let h = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string()
    };
    format!(
        "{}\n{}\n{}",
        h(header::REFERER),
        h(header::USER_AGENT),
        h(header::ACCEPT_LANGUAGE)
    )
}

/// Holds each request until a second one is in the handler too, or for
/// `wait_ms` if none comes: requests that may overlap meet here (and return
/// at once), a request kept alone waits the window out. So the server sees
/// whether requests overlapped, with no assumption about how fast either
/// arrives.
async fn slow(
    State(s): State<Arc<Shared>>,
    Path((name, wait_ms)): Path<(String, u64)>,
) -> &'static str {
    let start = Instant::now();
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_in_flight.send_modify(|m| *m = (*m).max(now));
    let mut rx = s.max_in_flight.subscribe();
    let _ = tokio::time::timeout(Duration::from_millis(wait_ms), rx.wait_for(|m| *m >= 2)).await;
    let end = Instant::now();
    s.slow_log.lock().expect("log").push((name, start, end));
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    "done"
}

/// `/redirect?to=URL`: a 302 to anywhere.
async fn redirect(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    (
        StatusCode::FOUND,
        [(header::LOCATION, q.get("to").cloned().unwrap_or_default())],
    )
}

fn opts() -> FetchOptions {
    FetchOptions {
        timeout: Duration::from_secs(10),
        max_body_bytes: 1024 * 1024,
        max_redirects: 5,
        host_delay: Duration::ZERO,
        respect_robots: false,
        ..FetchOptions::default()
    }
}

/// `opts()` with robots.txt fetched and honoured.
fn robots_opts() -> FetchOptions {
    FetchOptions {
        respect_robots: true,
        ..opts()
    }
}

fn url(addr: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{addr}{path}")).expect("url")
}

/// A GET by a unit whose site is `u`'s own host and port.
fn req(u: Url) -> Request {
    let reach = Reach::site("test", SiteScope::of_url(&u));
    Request::new(u).with_reach(reach)
}

async fn page(f: &Fetcher, u: Url) -> autosync::fetch::Page {
    match f.get(&req(u.clone())).await {
        Ok(Response::Ok(p)) => p,
        other => panic!("{u}: expected a page, got {other:?}"),
    }
}

#[tokio::test]
async fn etag_round_trip_gives_not_modified() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let p = page(&f, url(addr, "/etag")).await;
    assert_eq!(p.etag.as_deref(), Some("\"v1\""));
    assert_eq!(&p.body[..], b"body v1");
    let mut r = req(url(addr, "/etag"));
    r.etag = p.etag.clone();
    assert!(matches!(f.get(&r).await, Ok(Response::NotModified)));
}

#[tokio::test]
async fn last_modified_round_trip_gives_not_modified() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let p = page(&f, url(addr, "/lm")).await;
    assert_eq!(p.last_modified.as_deref(), Some(LAST_MODIFIED));
    let mut r = req(url(addr, "/lm"));
    r.last_modified = p.last_modified.clone();
    assert!(matches!(f.get(&r).await, Ok(Response::NotModified)));
}

#[tokio::test]
async fn declared_20mb_body_is_refused() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let err = f.get(&req(url(addr, "/big"))).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit, .. } if limit == 1024 * 1024),
        "{err}"
    );
    assert!(err.to_string().contains("/big"), "{err}");
}

#[tokio::test]
async fn endless_chunked_body_is_cut_at_the_cap() {
    let (addr, shared) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let err = f.get(&req(url(addr, "/endless"))).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    // The server produced the cap plus whatever sat in socket buffers, not
    // an unbounded amount.
    let streamed = shared.streamed.load(Ordering::SeqCst);
    assert!(streamed < 20 * 1024 * 1024, "streamed {streamed} bytes");
}

#[tokio::test]
async fn gzip_body_is_decompressed() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let p = page(&f, url(addr, "/gzip")).await;
    assert_eq!(p.text(), "<p>压缩的正文</p>");
}

#[tokio::test]
async fn cap_applies_after_decompression() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let err = f.get(&req(url(addr, "/gzip-bomb"))).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn permanent_redirect_is_recorded() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let p = page(&f, url(addr, "/old")).await;
    assert_eq!(p.url, url(addr, "/new"));
    assert_eq!(p.moved_permanently, Some(url(addr, "/new")));
    assert_eq!(&p.body[..], b"new home");

    let p = page(&f, url(addr, "/old308")).await;
    assert_eq!(p.moved_permanently, Some(url(addr, "/new")));
}

#[tokio::test]
async fn temporary_redirect_is_not_a_move() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let p = page(&f, url(addr, "/temp")).await;
    assert_eq!(p.url, url(addr, "/new"));
    assert_eq!(p.moved_permanently, None);
    // 301 then 302: only the permanent part is a move.
    let p = page(&f, url(addr, "/old-then-temp")).await;
    assert_eq!(p.url, url(addr, "/new"));
    assert_eq!(p.moved_permanently, Some(url(addr, "/temp")));
}

#[tokio::test]
async fn redirect_loop_is_an_error_naming_the_url() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let err = f.get(&req(url(addr, "/loop-a"))).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/loop-a") && msg.contains("loop"), "{msg}");
}

#[tokio::test]
async fn too_many_redirects_is_an_error() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let err = f.get(&req(url(addr, "/chain/0"))).await.unwrap_err();
    assert!(err.to_string().contains("more than 5 redirects"), "{err}");
}

#[tokio::test]
async fn error_statuses_map_to_status_errors() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    for code in [404u16, 500, 410] {
        let u = url(addr, &format!("/status/{code}"));
        let err = f.get(&req(u.clone())).await.unwrap_err();
        match &err {
            FetchError::Status {
                url,
                status,
                retry_after,
            } => {
                assert_eq!(*status, code);
                assert_eq!(url, &u);
                assert_eq!(*retry_after, None);
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(err.is_gone(), code == 410);
        assert!(err.to_string().contains(u.as_str()));
    }
}

#[tokio::test]
async fn retry_after_seconds_on_429() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let err = f.get(&req(url(addr, "/busy"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Status { status: 429, .. }));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn retry_after_http_date_on_503() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let err = f.get(&req(url(addr, "/unavailable"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Status { status: 503, .. }));
    let wait = err.retry_after().expect("retry-after parsed");
    assert!(wait > Duration::from_secs(365 * 24 * 3600), "{wait:?}");
}

#[tokio::test]
async fn robots_disallow_is_honoured_and_cached() {
    let (addr, shared) = serve().await;
    let f = Fetcher::new(robots_opts()).expect("fetcher");
    let err = f
        .get(&req(url(addr, "/private/secret.html")))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Robots { .. }), "{err}");
    assert!(err.to_string().contains("/private/secret.html"));
    let p = page(&f, url(addr, "/public.html")).await;
    assert_eq!(&p.body[..], b"public");
    // A redirect into a disallowed path is caught at the hop.
    let err = f.get(&req(url(addr, "/to-private"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Robots { .. }), "{err}");
    assert_eq!(shared.robots_hits.load(Ordering::SeqCst), 1, "fetched once");
}

#[tokio::test]
async fn robots_ignored_when_not_respected() {
    let (addr, shared) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    page(&f, url(addr, "/private/secret.html")).await;
    assert_eq!(shared.robots_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn missing_or_failing_robots_allows_all() {
    // A server whose robots.txt is 404 on one port and 500 on another.
    for code in [StatusCode::NOT_FOUND, StatusCode::INTERNAL_SERVER_ERROR] {
        let addr = serve_app(
            Router::new()
                .route("/robots.txt", get(move || async move { code }))
                .route("/page", get(|| async { "ok" })),
        )
        .await;
        let f = Fetcher::new(robots_opts()).expect("fetcher");
        let p = page(&f, url(addr, "/page")).await;
        assert_eq!(&p.body[..], b"ok", "robots {code}");
    }
}

#[tokio::test]
async fn referer_and_user_agent_are_sent() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let mut r = req(url(addr, "/echo"));
    r.referer = Some(Url::parse("https://www.example.gov.cn/art/1.html").expect("url"));
    let Ok(Response::Ok(p)) = f.get(&r).await else {
        panic!("echo failed")
    };
    let text = p.text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("https://www.example.gov.cn/art/1.html"));
    let ua = lines.next().unwrap_or("");
    assert!(ua.starts_with("autosync/") && ua.contains("http"), "{ua}");
    assert!(lines.next().is_some_and(|l| l.starts_with("zh-CN")));
}

/// Politeness as the server sees it: how many requests are in its handler at
/// once (`slow` holds each until a second one arrives, or for a window).
/// Nothing here depends on how fast a request travels: one host's requests
/// must never meet in the handler, two hosts' must.
#[tokio::test]
async fn one_host_is_serialised_and_spaced_two_hosts_run_in_parallel() {
    let (addr, shared) = serve().await;
    let delay = Duration::from_millis(200);
    let f = Arc::new(
        Fetcher::new(FetchOptions {
            host_delay: delay,
            ..opts()
        })
        .expect("fetcher"),
    );
    let port = addr.port();
    // Two GETs at once; both must succeed.
    let both = |a: String, b: String| {
        let f = f.clone();
        async move {
            let get = |u: String| {
                let f = f.clone();
                tokio::spawn(async move {
                    let u = Url::parse(&u).expect("url");
                    assert!(matches!(f.get(&req(u)).await, Ok(Response::Ok(_))));
                })
            };
            let (a, b) = (get(a), get(b));
            a.await.expect("a");
            b.await.expect("b");
        }
    };
    // Same host twice: whichever comes first waits its whole 300 ms window
    // alone, because the second is held by the fetcher until the first's
    // response is read, and then for `delay`.
    both(
        format!("http://127.0.0.1:{port}/slow/a1/300"),
        format!("http://127.0.0.1:{port}/slow/a2/300"),
    )
    .await;
    assert_eq!(
        shared.max_in_flight.send_replace(0),
        1,
        "two requests to one host were in the server at once"
    );
    let log = std::mem::take(&mut *shared.slow_log.lock().expect("log"));
    assert_eq!(log.len(), 2);
    let (first, second) = if log[0].1 <= log[1].1 {
        (&log[0], &log[1])
    } else {
        (&log[1], &log[0])
    };
    // The server's end is taken before it answers, the fetcher's delay
    // runs from when it has read the answer: no slack needed.
    assert!(
        second.1 >= first.2 + delay,
        "second started {:?} after the first ended",
        second.1.saturating_duration_since(first.2)
    );

    // Two host names (same server): each waits for the other (up to 8 s,
    // inside the fetch timeout), so they can only finish by meeting.
    both(
        format!("http://127.0.0.1:{port}/slow/b1/8000"),
        format!("http://localhost:{port}/slow/b2/8000"),
    )
    .await;
    assert_eq!(
        *shared.max_in_flight.borrow(),
        2,
        "different hosts waited for each other: {:?}",
        shared.slow_log.lock().expect("log")
    );
}

#[tokio::test]
async fn unreachable_port_is_a_connect_error_naming_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let f = Fetcher::new(opts()).expect("fetcher");
    let u = url(addr, "/x");
    let err = f.get(&req(u.clone())).await.unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(u.as_str()), "{err}");
}

#[tokio::test]
async fn slow_server_is_a_timeout() {
    let (addr, _) = serve().await;
    let f = Fetcher::new(FetchOptions {
        timeout: Duration::from_millis(300),
        ..opts()
    })
    .expect("fetcher");
    let t0 = Instant::now();
    let err = f.get(&req(url(addr, "/hang"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(err.to_string().contains("/hang"));
}

#[tokio::test]
async fn non_http_scheme_is_refused() {
    let f = Fetcher::new(opts()).expect("fetcher");
    let u = Url::parse("ftp://example.com/x").expect("url");
    let err = f.get(&req(u)).await.unwrap_err();
    assert!(err.to_string().contains("ftp://example.com/x"), "{err}");
}

/// Guards the memory fix of issue 3: a connection kept idle after a poll
/// costs ~25 KiB for every site polled in the last seconds (tens of MiB at
/// 2,000 sites), so the fetcher closes each connection once its response is
/// read. A raw server, to see the connections themselves: it answers with
/// keep-alive and counts how many connections arrive and whether the client
/// hangs up on its own.
#[tokio::test]
async fn fetcher_keeps_no_idle_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let hung_up = Arc::new(AtomicUsize::new(0));
    let (a, h) = (accepted.clone(), hung_up.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            h.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        got.clear();
                        let body = "kept?";
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
                            body.len()
                        );
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    let f = Fetcher::new(opts()).expect("fetcher");
    for i in 0..2 {
        let p = page(&f, url(addr, &format!("/page{i}"))).await;
        assert_eq!(p.body, b"kept?".to_vec());
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a connection was reused"
    );
    let t0 = Instant::now();
    while hung_up.load(Ordering::SeqCst) < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the client kept {} idle connection(s) open",
            2 - hung_up.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ------------------------------------------------------------ where requests may go

/// A listener that counts the connections it accepts and keeps each
/// request's first line, answering `200 via proxy` (it stands for another
/// service on the machine, or for a proxy). A refused request must leave
/// its count at zero: refused before any connect.
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (a, l) = (accepted.clone(), lines.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let l = l.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&got);
                l.lock()
                    .expect("lines")
                    .push(text.lines().next().unwrap_or("").to_string());
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nvia proxy")
                    .await;
            });
        }
    });
    (addr, accepted, lines)
}

fn unit_scope(site: SocketAddr) -> SiteScope {
    SiteScope::of_url(&url(site, "/"))
}

async fn refusal(f: &Fetcher, u: &str, reach: &Reach) -> (Refusal, String) {
    let u = Url::parse(u).expect("url");
    match f
        .get(&Request::new(u.clone()).with_reach(reach.clone()))
        .await
    {
        Err(e @ FetchError::Refused { .. }) => {
            let msg = e.to_string();
            let FetchError::Refused { reason, .. } = e else {
                unreachable!()
            };
            (reason, msg)
        }
        other => panic!("{u}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn default_reach_refuses_every_request() {
    let (site, _) = serve().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let u = url(site, "/public.html");
    let err = f.get(&Request::new(u.clone())).await.unwrap_err();
    assert!(
        matches!(
            &err,
            FetchError::Refused {
                unit: None,
                reason: Refusal::NoReach,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(u.as_str()), "{err}");
}

/// Issue 11: an editor's hand push of the daemon's own `/status` (or any
/// other service on the machine) published its JSON as an article. Every
/// spelling of loopback, and a name resolving to it, is refused before a
/// connection is made; the unit's own site on loopback stays reachable.
#[tokio::test]
async fn hand_push_to_loopback_in_any_spelling_is_refused_before_any_connect() {
    let (site, _) = serve().await;
    let (other, accepted, _) = counting_listener().await;
    let p = other.port();
    let f = Fetcher::new(opts()).expect("fetcher");
    let push = Reach::any_host("demo", unit_scope(site));
    for u in [
        format!("http://127.0.0.1:{p}/status"),
        format!("http://[::1]:{p}/status"),
        format!("http://0.0.0.0:{p}/status"),
        format!("http://2130706433:{p}/status"),
        format!("http://0x7f.1:{p}/status"),
        format!("http://[::ffff:127.0.0.1]:{p}/status"),
        format!("http://localhost:{p}/status"),
    ] {
        let (reason, msg) = refusal(&f, &u, &push).await;
        assert!(matches!(reason, Refusal::Internal(_)), "{u}: {reason:?}");
        assert!(
            msg.contains("refused for unit demo") && msg.contains(&format!(":{p}/status")),
            "{msg}"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "something connected");
    // The unit's own site (127.0.0.1 on its own port) is still pushed from.
    let own = url(site, "/public.html");
    let got = f.get(&Request::new(own).with_reach(push)).await;
    assert!(
        matches!(got, Ok(Response::Ok(ref p)) if &p.body[..] == b"public"),
        "{got:?}"
    );
}

/// Link-local (cloud metadata) and private targets, through a fetcher with
/// a proxy: IP literals are still checked there, and had one slipped
/// through it would have reached the (local, counting) proxy, not the
/// address. A name goes to the proxy unresolved: the proxy keeps working.
#[tokio::test]
async fn private_and_link_local_targets_are_refused_and_a_proxy_keeps_working() {
    let (proxy, accepted, lines) = counting_listener().await;
    let f = Fetcher::new(FetchOptions {
        proxy: Some(url(proxy, "/")),
        ..opts()
    })
    .expect("fetcher");
    let push = Reach::any_host(
        "demo",
        SiteScope::of_url(&Url::parse("https://www.example.org.cn/").expect("url")),
    );
    for u in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://10.20.30.40:8080/admin",
        "http://192.168.1.1/",
        "http://172.16.5.4/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let (reason, msg) = refusal(&f, u, &push).await;
        assert!(matches!(reason, Refusal::Internal(_)), "{u}: {reason:?}");
        assert!(
            msg.contains("refused for unit demo: resolves to a"),
            "{msg}"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "{:?}",
        lines.lock().expect("lines")
    );
    let p = page_with(&f, "http://news.example.com/a.html", &push).await;
    assert_eq!(&p.body[..], b"via proxy");
    assert_eq!(
        lines.lock().expect("lines").as_slice(),
        ["GET http://news.example.com/a.html HTTP/1.1"]
    );
}

async fn page_with(f: &Fetcher, u: &str, reach: &Reach) -> autosync::fetch::Page {
    let u = Url::parse(u).expect("url");
    match f
        .get(&Request::new(u.clone()).with_reach(reach.clone()))
        .await
    {
        Ok(Response::Ok(p)) => p,
        other => panic!("{u}: expected a page, got {other:?}"),
    }
}

#[tokio::test]
async fn units_site_on_loopback_is_reachable_on_its_port_only() {
    let (site, _) = serve().await;
    let (other, accepted, _) = counting_listener().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    let poll = Reach::site("demo", unit_scope(site));
    let p = page_with(&f, url(site, "/public.html").as_str(), &poll).await;
    assert_eq!(&p.body[..], b"public");
    let (reason, _) = refusal(&f, url(other, "/x").as_str(), &poll).await;
    assert_eq!(reason, Refusal::OffSite);
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

/// A redirect is checked before its hop is fetched: off the unit's site
/// (another port of the machine, another host), or for a hand push onto an
/// internal address.
#[tokio::test]
async fn redirect_to_an_internal_or_off_site_host_is_refused_before_the_hop() {
    let (site, _) = serve().await;
    let (other, accepted, _) = counting_listener().await;
    let p = other.port();
    let f = Fetcher::new(opts()).expect("fetcher");
    let hop = |to: &str| url(site, &format!("/redirect?to={to}")).to_string();
    let poll = Reach::site("demo", unit_scope(site));
    for to in [
        format!("http://127.0.0.1:{p}/x"),
        format!("http://localhost:{p}/x"),
        "http://www.evil.example/x".to_string(),
    ] {
        let (reason, msg) = refusal(&f, &hop(&to), &poll).await;
        assert_eq!(reason, Refusal::OffSite, "{to}");
        assert!(
            msg.starts_with(&Url::parse(&to).expect("url").to_string()),
            "{msg}"
        );
    }
    let push = Reach::any_host("demo", unit_scope(site));
    for to in [
        format!("http://127.0.0.1:{p}/x"),
        format!("http://localhost:{p}/x"),
    ] {
        let (reason, _) = refusal(&f, &hop(&to), &push).await;
        assert!(matches!(reason, Refusal::Internal(_)), "{to}: {reason:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "a hop was fetched");
    // A redirect within the site is still followed.
    let within = hop(url(site, "/public.html").as_str());
    assert_eq!(&page_with(&f, &within, &poll).await.body[..], b"public");
}

/// Issue 11: article images were fetched from any host, and the note told
/// the editor what each answered. An image is fetched for the unit, from
/// its site or the article's, and never from an internal address that is
/// not the unit's own.
#[tokio::test]
async fn image_on_an_internal_host_is_refused_before_connecting() {
    let (site, _) = serve().await;
    let (other, accepted, _) = counting_listener().await;
    let f = Fetcher::new(opts()).expect("fetcher");
    // An article on another internal host (a hand push that should never
    // have been made): its images are still refused.
    let article = url(other, "/art/1.html");
    let images = Reach::site("demo", unit_scope(site)).also_site_of(&article);
    let (reason, msg) = refusal(&f, url(other, "/img/1.png").as_str(), &images).await;
    assert!(matches!(reason, Refusal::Internal(_)), "{reason:?}");
    assert!(!msg.contains("via proxy") && !msg.contains("200"), "{msg}");
    let (reason, _) = refusal(&f, "http://www.evil.example/1.png", &images).await;
    assert_eq!(reason, Refusal::OffSite);
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    // From the unit's own site: fetched.
    let own = page_with(&f, url(site, "/public.html").as_str(), &images).await;
    assert_eq!(&own.body[..], b"public");
}

#[tokio::test]
async fn robots_txt_redirect_to_an_internal_host_is_not_followed() {
    let (other, accepted, _) = counting_listener().await;
    let to = format!("http://127.0.0.1:{}/robots.txt", other.port());
    let site = serve_app(
        Router::new()
            .route(
                "/robots.txt",
                get(move || {
                    let to = to.clone();
                    async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
                }),
            )
            .route("/page", get(|| async { "ok" })),
    )
    .await;
    let f = Fetcher::new(robots_opts()).expect("fetcher");
    assert_eq!(&page(&f, url(site, "/page")).await.body[..], b"ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}
