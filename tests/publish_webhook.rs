//! The webhook client against the strict receiver double on a local socket
//! (and, where the double cannot misbehave that way, a plain local server).
//! Guards the webhook contract: signed once, the Idempotency-Key the same on
//! every send, every answer mapped to the right Outcome, a lost answer
//! found by sending again without storing twice, and the secret never shown.

use autosync::publish::webhook::mock::{self, Fault, MockOptions, load_posts};
use autosync::publish::webhook::{
    DEFAULT_RETRY_AFTER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, Webhook, WebhookConfig,
};
use autosync::publish::{Outcome, Post, PublishError, Publisher};
use autosync::secret::Secret;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use hmac::{Hmac, KeyInit, Mac};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use url::Url;

const SECRET: &str = "wh-SeCrEt-0123456789abcdef";
const ITEM: &str = "3f2a9c0d1e5b7a68";

fn article() -> Post {
    Post {
        item_id: ITEM.into(),
        title: "科普大篷车走进山区学校".into(),
        html: "<p>正文<img src=\"https://www.sxkx.example.org/a/1.jpg\"></p>".into(),
        text: "正文".into(),
        source_url: Url::parse("https://www.sxkx.example.org/a/1.html").unwrap(),
        images: vec![Url::parse("https://www.sxkx.example.org/a/1.jpg").unwrap()],
        published_at: Some(
            chrono::DateTime::parse_from_rfc3339("2026-03-02T09:30:00+08:00").unwrap(),
        ),
        author: Some("张三".into()),
        source: Some("示例省科协".into()),
    }
}

fn http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

fn client(url: &Url, secret: &str) -> Webhook {
    Webhook::new(
        url.clone(),
        Secret::new(secret),
        "sx-kx",
        "示例省科协",
        http(Duration::from_secs(5)),
    )
    .unwrap()
}

struct Receiver {
    url: Url,
    data: tempfile::TempDir,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Receiver {
    async fn start(faults: Vec<Fault>) -> Receiver {
        Receiver::start_in(tempfile::tempdir().unwrap(), faults).await
    }

    async fn start_in(data: tempfile::TempDir, faults: Vec<Fault>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/hooks/autosync",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let mut opts = MockOptions::new(data.path(), Secret::new(SECRET));
        opts.fail_next = faults;
        let stop = CancellationToken::new();
        let task = tokio::spawn(mock::serve(listener, opts, stop.clone()));
        Receiver {
            url,
            data,
            stop,
            task,
        }
    }

    fn dir(&self) -> &Path {
        self.data.path()
    }

    fn client(&self) -> Webhook {
        client(&self.url, SECRET)
    }

    async fn stop(self) -> tempfile::TempDir {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
        self.data
    }
}

fn published(o: Outcome) -> (autosync::publish::Remote, Vec<String>) {
    match o {
        Outcome::Published { remote, notes } => (remote, notes),
        other => panic!("not published: {other:?}"),
    }
}

#[tokio::test]
async fn a_post_is_published_once_and_stored_as_sent() {
    let r = Receiver::start(vec![]).await;
    let w = r.client();
    let (remote, notes) = published(w.publish(&article()).await);
    assert_eq!(remote.id, "1", "the receiver's id wins over the item id");
    let url = remote.url.expect("the receiver's link");
    assert!(url.ends_with("/posts/1"), "{url}");
    assert!(notes.is_empty(), "{notes:?}");
    let posts = load_posts(r.dir());
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].key, ITEM);
    assert_eq!(posts[0].post, w.payload(&article()));
    // The link it handed out works.
    let got: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(got["post"]["title"], "科普大篷车走进山区学校");
    r.stop().await;
}

/// What a plain local server saw of one request.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn capture(app: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/in", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_request_is_signed_over_the_raw_body_with_the_item_id_as_key() {
    let seen = Seen::default();
    let s = seen.clone();
    let url = capture(Router::new().route(
        "/in",
        post(move |headers: HeaderMap, body: Bytes| async move {
            s.0.lock().unwrap().push((headers, body));
            (StatusCode::OK, "ok")
        }),
    ))
    .await;
    let (remote, _) = published(client(&url, SECRET).publish(&article()).await);
    assert_eq!(remote.id, ITEM, "no id in the answer: the item id");
    assert_eq!(remote.url, None);
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers[SIGNATURE_HEADER], expected.as_str());
    assert_eq!(headers[IDEMPOTENCY_HEADER], ITEM);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["id"], ITEM);
    assert_eq!(v["unit"], "sx-kx");
    assert_eq!(v["account_name"], "示例省科协");
    assert_eq!(v["content_html"], article().html);
    assert_eq!(v["url"], "https://www.sxkx.example.org/a/1.html");
    assert_eq!(v["published_at"], "2026-03-02T09:30:00+08:00");
    assert_eq!(v["images"][0], "https://www.sxkx.example.org/a/1.jpg");
    assert_eq!(v["author"], "张三");
    assert_eq!(v["source"], "示例省科协");
    let no_date = Post {
        published_at: None,
        ..article()
    };
    let body = serde_json::to_value(client(&url, SECRET).payload(&no_date)).unwrap();
    assert!(body["published_at"].is_null());
}

#[tokio::test]
async fn a_wrong_secret_pauses_the_account_with_the_receivers_message_and_loses_nothing() {
    let r = Receiver::start(vec![]).await;
    let o = client(&r.url, "not-the-secret").publish(&article()).await;
    // Not a refusal of this post (every post would get the same): the
    // account pauses and the item waits for the fixed secret.
    let Outcome::Paused {
        reason: autosync::model::PauseReason::CredentialsRefused { detail: message },
    } = &o
    else {
        panic!("not paused: {o:?}")
    };
    assert!(message.starts_with("HTTP 401"), "{message}");
    assert!(message.contains("does not match"), "{message}");
    assert!(!message.contains(SECRET) && !message.contains("not-the-secret"));
    assert!(load_posts(r.dir()).is_empty());
    r.stop().await;
}

#[tokio::test]
async fn a_repeated_key_is_409_and_counts_as_already_there_stored_once() {
    let r = Receiver::start(vec![]).await;
    let w = r.client();
    let (first, _) = published(w.publish(&article()).await);
    let (again, notes) = published(w.publish(&article()).await);
    assert_eq!(again, first, "409 names the stored post");
    assert!(notes[0].contains("409"), "{notes:?}");
    assert_eq!(load_posts(r.dir()).len(), 1);
    r.stop().await;
}

fn retry_after(o: Outcome) -> Duration {
    match o {
        Outcome::RetryLater { after, .. } => after,
        other => panic!("not retry later: {other:?}"),
    }
}

#[tokio::test]
async fn status_429_with_retry_after_seconds_is_retry_later_that_long() {
    let r = Receiver::start(vec![Fault::Status {
        status: 429,
        retry_after: Some("7".into()),
    }])
    .await;
    assert_eq!(
        retry_after(r.client().publish(&article()).await),
        Duration::from_secs(7)
    );
    assert!(load_posts(r.dir()).is_empty());
    r.stop().await;
}

#[tokio::test]
async fn status_503_with_retry_after_as_an_http_date_is_retry_later_until_then() {
    let at = chrono::Utc::now() + chrono::Duration::seconds(120);
    let r = Receiver::start(vec![Fault::Status {
        status: 503,
        retry_after: Some(at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
    }])
    .await;
    let after = retry_after(r.client().publish(&article()).await);
    assert!(
        (Duration::from_secs(110)..=Duration::from_secs(120)).contains(&after),
        "{after:?}"
    );
    r.stop().await;
}

#[tokio::test]
async fn a_wait_without_retry_after_is_the_documented_default() {
    let r = Receiver::start(vec![
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        Fault::Reject {
            status: 408,
            message: "request timeout".into(),
        },
    ])
    .await;
    let w = r.client();
    assert_eq!(
        retry_after(w.publish(&article()).await),
        DEFAULT_RETRY_AFTER
    );
    assert_eq!(DEFAULT_RETRY_AFTER, Duration::from_secs(60));
    // 408: the receiver did not get the whole request: not a refusal.
    assert_eq!(
        retry_after(w.publish(&article()).await),
        DEFAULT_RETRY_AFTER
    );
    r.stop().await;
}

#[tokio::test]
async fn a_4xx_is_rejected_with_the_receivers_message() {
    let r = Receiver::start(vec![Fault::Reject {
        status: 422,
        message: "标题不能为空".into(),
    }])
    .await;
    let o = r.client().publish(&article()).await;
    assert_eq!(
        o,
        Outcome::Rejected {
            code: None,
            message: "HTTP 422: 标题不能为空".into()
        }
    );
    assert!(load_posts(r.dir()).is_empty());
    r.stop().await;
}

#[tokio::test]
async fn a_500_is_unknown_then_lookup_sends_again_with_the_same_key_and_finds_it() {
    let r = Receiver::start(vec![Fault::Status {
        status: 500,
        retry_after: None,
    }])
    .await;
    let w = r.client();
    let o = w.publish(&article()).await;
    assert!(
        matches!(&o, Outcome::Unknown { reason } if reason.contains("500")),
        "{o:?}"
    );
    assert!(load_posts(r.dir()).is_empty());
    let found = w.lookup(&article()).await.unwrap().expect("found");
    assert_eq!(found.id, "1");
    let posts = load_posts(r.dir());
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].key, ITEM);
    r.stop().await;
}

#[tokio::test]
async fn an_answer_lost_after_storing_is_unknown_and_lookup_finds_it_stored_once() {
    let r = Receiver::start(vec![Fault::Lost]).await;
    let w = r.client();
    let o = w.publish(&article()).await;
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    assert_eq!(
        load_posts(r.dir()).len(),
        1,
        "stored before the answer was lost"
    );
    let found = w.lookup(&article()).await.unwrap().expect("found");
    assert_eq!(found.id, "1", "the 409 names the stored post");
    assert_eq!(
        load_posts(r.dir()).len(),
        1,
        "the re-send stored nothing new"
    );
    r.stop().await;
}

#[tokio::test]
async fn a_slow_answer_times_out_as_unknown_and_lookup_finds_it_stored_once() {
    let r = Receiver::start(vec![Fault::Slow(Duration::from_secs(3))]).await;
    let w = Webhook::new(
        r.url.clone(),
        Secret::new(SECRET),
        "sx-kx",
        "示例省科协",
        http(Duration::from_millis(500)),
    )
    .unwrap();
    let o = w.publish(&article()).await;
    assert!(
        matches!(&o, Outcome::Unknown { reason } if reason.contains("timed out")),
        "{o:?}"
    );
    assert!(w.lookup(&article()).await.unwrap().is_some());
    assert_eq!(load_posts(r.dir()).len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn connection_refused_before_sending_is_retry_later() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/in", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let o = client(&url, SECRET).publish(&article()).await;
    assert!(
        matches!(&o, Outcome::RetryLater { after, .. } if *after == DEFAULT_RETRY_AFTER),
        "{o:?}"
    );
}

#[tokio::test]
async fn lookup_never_says_absent_when_the_receiver_refuses_the_resend() {
    let r = Receiver::start(vec![
        Fault::Status {
            status: 502,
            retry_after: None,
        },
        Fault::Reject {
            status: 400,
            message: "bad request".into(),
        },
    ])
    .await;
    let w = r.client();
    assert!(matches!(
        w.publish(&article()).await,
        Outcome::Unknown { .. }
    ));
    // A refusal says nothing about an earlier send: not Ok(None).
    let e = w.lookup(&article()).await.unwrap_err();
    assert!(matches!(e, PublishError::Platform { code: 400, .. }), "{e}");
    r.stop().await;
}

#[tokio::test]
async fn lookup_sends_one_item_again_at_most_once_an_interval_and_not_while_asked_to_wait() {
    let r = Receiver::start(vec![
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        Fault::Status {
            status: 500,
            retry_after: None,
        },
    ])
    .await;
    let w = r.client();
    assert!(matches!(
        w.publish(&article()).await,
        Outcome::Unknown { .. }
    ));
    assert!(w.lookup(&article()).await.is_err(), "the second 500");
    // No fault is left: a re-send now would store the post.
    let e = w.lookup(&article()).await.unwrap_err().to_string();
    assert!(e.contains("at most once every 60s"), "{e}");
    assert!(load_posts(r.dir()).is_empty(), "nothing was sent");

    // A receiver's Retry-After holds re-sends back too.
    let other = Post {
        item_id: "0000aaaa1111bbbb".into(),
        ..article()
    };
    let w = r.client().with_resend_interval(Duration::ZERO);
    std::fs::write(r.dir().join("fail_next"), "status:429:retry-after=30\n").unwrap();
    assert_eq!(
        retry_after(w.publish(&other).await),
        Duration::from_secs(30)
    );
    let e = w.lookup(&other).await.unwrap_err().to_string();
    assert!(e.contains("asked to wait"), "{e}");
    assert!(load_posts(r.dir()).is_empty(), "nothing was sent");
    r.stop().await;
}

#[tokio::test]
async fn an_answer_after_a_redirect_is_unknown_not_published() {
    // A POST redirected with 302 becomes a GET; its 200 proves nothing.
    let url = capture(
        Router::new()
            .route(
                "/in",
                post(|| async { (StatusCode::FOUND, [(header::LOCATION, "/login")]) }),
            )
            .route("/login", get(|| async { r#"{"id":"login-page"}"# })),
    )
    .await;
    let o = client(&url, SECRET).publish(&article()).await;
    assert!(
        matches!(&o, Outcome::Unknown { reason } if reason.contains("redirect")),
        "{o:?}"
    );
}

#[tokio::test]
async fn fault_lines_in_the_data_dir_apply_in_order_one_per_post() {
    let r = Receiver::start(vec![]).await;
    std::fs::write(
        r.dir().join("fail_next"),
        "reject:422:稿件格式有误\nstatus:429:retry-after=3\n",
    )
    .unwrap();
    let w = r.client();
    assert!(
        matches!(w.publish(&article()).await, Outcome::Rejected { message, .. } if message.contains("稿件格式有误"))
    );
    assert_eq!(
        retry_after(w.publish(&article()).await),
        Duration::from_secs(3)
    );
    assert!(!r.dir().join("fail_next").exists(), "consumed");
    published(w.publish(&article()).await);
    r.stop().await;
}

#[tokio::test]
async fn the_receiver_is_strict_about_content_type_key_and_body() {
    let r = Receiver::start(vec![]).await;
    let body = serde_json::to_vec(&r.client().payload(&article())).unwrap();
    let sig = autosync::publish::webhook::signature(&Secret::new(SECRET), &body);
    let http = reqwest::Client::new();
    let send = |ct: &'static str, key: Option<&'static str>, body: Vec<u8>, sig: String| {
        let mut req = http
            .post(r.url.clone())
            .header(header::CONTENT_TYPE, ct)
            .header(SIGNATURE_HEADER, sig)
            .body(body);
        if let Some(k) = key {
            req = req.header(IDEMPOTENCY_HEADER, k);
        }
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(
        send("text/plain", Some(ITEM), body.clone(), sig.clone()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        send("application/json", None, body.clone(), sig.clone()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            "application/json",
            Some("another"),
            body.clone(),
            sig.clone()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        send("application/json", Some(ITEM), tampered, sig.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let odd = br#"{"id":"3f2a9c0d1e5b7a68","extra":1}"#.to_vec();
    let odd_sig = autosync::publish::webhook::signature(&Secret::new(SECRET), &odd);
    assert_eq!(
        send("application/json", Some(ITEM), odd, odd_sig).await,
        StatusCode::BAD_REQUEST
    );
    assert!(load_posts(r.dir()).is_empty());
    assert_eq!(
        send("application/json; charset=utf-8", Some(ITEM), body, sig).await,
        StatusCode::OK
    );
    // A restarted receiver still knows the key.
    let data = r.stop().await;
    let r = Receiver::start_in(data, vec![]).await;
    let (_, notes) = published(r.client().publish(&article()).await);
    assert!(notes[0].contains("409"));
    assert_eq!(load_posts(r.dir()).len(), 1);
    r.stop().await;
}

/// Logs at every level, into a buffer.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_secret_never_appears_in_debug_errors_or_logs() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let r = Receiver::start(vec![
        Fault::Lost,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
    ])
    .await;
    let w = r.client();
    let mut shown = vec![format!("{w:?}")];
    shown.push(format!("{:?}", w.publish(&article()).await));
    shown.push(format!("{:?}", w.lookup(&article()).await));
    let other = Post {
        item_id: "0000aaaa1111bbbb".into(),
        ..article()
    };
    shown.push(format!("{:?}", w.publish(&other).await));
    let wrong = client(&r.url, "WRONG-wh-secret");
    shown.push(format!("{:?}", wrong.publish(&other).await));
    shown.push(format!(
        "{:?}",
        MockOptions::new(r.dir(), Secret::new(SECRET))
    ));

    // Built from a config: errors name the option, never the value.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), SECRET).unwrap();
    let cfg: WebhookConfig = toml::from_str(&format!(
        "url = \"{}\"\nsecret_file = \"{}\"\n",
        r.url,
        dir.path().join("k").display()
    ))
    .unwrap();
    shown.push(format!("{cfg:?}"));
    r.stop().await;

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("webhook POST"), "logs were captured: {logs}");
    for text in shown.iter().chain([&logs]) {
        assert!(!text.contains(SECRET), "the secret in: {text}");
        assert!(!text.contains("WRONG-wh-secret"), "a secret in: {text}");
    }
}

#[test]
fn the_mock_webhook_subcommand_serves_a_strict_receiver() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_autosync"))
        .args(["mock-webhook", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--secret-file")
        .arg(&secret)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // Keep reading: a closed pipe would end the receiver at its next log line.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .expect("the address")
        .to_string();
    let url = Url::parse(&format!("http://{addr}/in")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcomes = rt.block_on(async {
        (
            client(&url, SECRET).publish(&article()).await,
            client(&url, "wrong").publish(&article()).await,
        )
    });
    child.kill().unwrap();
    child.wait().unwrap();
    published(outcomes.0);
    assert!(matches!(
        outcomes.1,
        Outcome::Paused {
            reason: autosync::model::PauseReason::CredentialsRefused { detail }
        } if detail.starts_with("HTTP 401")
    ));
    assert_eq!(load_posts(&data).len(), 1);
}

/// Through the real outbox and store: the binding passes with the unit's
/// name, an answer lost after storing ends published (looked up at once,
/// stored once), and a post left `publishing` by a 5xx settles at the next
/// step's reconcile — never posted blind twice.
#[tokio::test]
async fn through_the_outbox_unknown_outcomes_settle_as_published_stored_once() {
    use autosync::outbox::{Outbox, Sent};
    use autosync::store::{Item, State, StateName};
    let dir = tempfile::tempdir().unwrap();
    let text = "[daemon]\nstate_dir = \"state\"\n\n[[unit]]\nid = \"sx-kx\"\naccount_name = \"示例省科协\"\n\
        org_name = \"示例省科学技术协会\"\nlevel = \"provincial\"\nsite = \"https://www.sxkx.example.org/\"\n  \
        [[unit.source]]\n  list = \"https://www.sxkx.example.org/xwzx/\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"unused\"\n";
    let cfg = autosync::config::parse(text, &dir.path().join("autosync.toml")).unwrap();
    let ctx = autosync::pipeline::Context::open(
        &cfg,
        Arc::new(autosync::clock::SystemClock),
        CancellationToken::new(),
    )
    .unwrap();
    let queued = |n: u32| {
        let url = format!("https://www.sxkx.example.org/a/{n}.html");
        Item {
            title: format!("科普活动第{n}场"),
            html: "<p>科普活动在全省各地展开。</p>".into(),
            text: "科普活动在全省各地展开。".into(),
            ..Item::new("sx-kx", &url, "list:x", chrono::Utc::now(), State::Queued)
        }
    };
    let (first, second) = (queued(1), queued(2));
    for item in [&first, &second] {
        ctx.store
            .insert_new(item, std::slice::from_ref(&item.url))
            .await
            .unwrap();
    }
    let r = Receiver::start(vec![Fault::Lost]).await;
    let unit = cfg.units[0].clone();
    let outbox = Outbox::with_publisher(
        ctx.clone(),
        unit,
        0,
        cfg.daemon.timezone,
        None,
        Arc::new(r.client().with_resend_interval(Duration::ZERO)),
    );
    // Lost after storing: unknown, looked up at once (409): published.
    let sent = outbox.next().await.unwrap();
    assert!(matches!(sent, Sent::Published { .. }), "{sent:?}");
    // 500, and the immediate re-send gets a 502: left publishing.
    std::fs::write(r.dir().join("fail_next"), "status:500\nstatus:502\n").unwrap();
    assert!(matches!(outbox.next().await.unwrap(), Sent::Unknown { .. }));
    let publishing = [&first, &second]
        .into_iter()
        .filter(|i| ctx.store.record(&i.id).unwrap().unwrap().state.kind() == StateName::Publishing)
        .count();
    assert_eq!(publishing, 1);
    // The next step reconciles it: sent again with its key, stored now.
    assert_eq!(outbox.next().await.unwrap(), Sent::Idle);
    for item in [&first, &second] {
        let state = ctx.store.record(&item.id).unwrap().unwrap().state;
        assert!(matches!(state, State::Published { .. }), "{state:?}");
    }
    let posts = load_posts(r.dir());
    assert_eq!(posts.len(), 2, "each stored once");
    let mut keys: Vec<_> = posts.iter().map(|p| p.key.clone()).collect();
    keys.sort();
    let mut ids = vec![first.id.clone(), second.id.clone()];
    ids.sort();
    assert_eq!(keys, ids);
    r.stop().await;
}
