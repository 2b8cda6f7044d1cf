//! Alerts against local robot stand-ins (axum on 127.0.0.1:0): each kind's
//! JSON and signature, once per change (pause, resume, each silence
//! threshold, a source with no entries, a failing unit), what survives a
//! restart, retries with backoff that never hold the watch, and robot URLs
//! that never reach a log or an error.

use autosync::alert::deliver::{Backoff, Delivery};
use autosync::alert::{Alert, Detector, Event};
use autosync::clock::SystemClock;
use autosync::config::Config;
use autosync::model::{AccountKey, AccountState, Pause, PauseReason};
use autosync::store::{SourceState, Store};
use autosync::update_clock::SilenceLevel;
use axum::extract::{Request, State};
use base64::Engine;
use chrono::{DateTime, Duration as Days, Utc};
use hmac::{Hmac, KeyInit, Mac};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

const UNIT: &str = "sx-kx";
const ACCOUNT: &str = "示例省科协";
const FEED: &str = "https://example.org/rss.xml";
/// In every robot URL: it must never be printed.
const TOKEN: &str = "ROBOT-TOKEN-8f3a9c";
const SIGNING_SECRET: &str = "SEC-signing-4d2e";

/// One request a robot received.
#[derive(Debug, Clone)]
struct Got {
    path_and_query: String,
    body: serde_json::Value,
}

/// A robot stand-in: records what it gets, answers as scripted (then
/// `ok_answer`), optionally after a delay.
#[derive(Clone)]
struct Robot {
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
    ok_answer: String,
    delay: Duration,
}

impl Robot {
    fn new(ok_answer: &str) -> Robot {
        Robot {
            got: Default::default(),
            script: Default::default(),
            ok_answer: ok_answer.into(),
            delay: Duration::ZERO,
        }
    }

    /// Serve on loopback; the robot's URL (with the secret token in it).
    async fn serve(self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(answer).with_state(self);
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/robot/send?access_token={TOKEN}")
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

async fn answer(State(r): State<Robot>, req: Request) -> (axum::http::StatusCode, String) {
    let path_and_query = req.uri().to_string();
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    r.got.lock().unwrap().push(Got {
        path_and_query,
        body,
    });
    tokio::time::sleep(r.delay).await;
    let (status, text) = r
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, r.ok_answer.clone()));
    (axum::http::StatusCode::from_u16(status).unwrap(), text)
}

/// A one-unit config with `daemon_extra` in `[daemon]` and `alerts`
/// appended, its signing secret written beside it.
fn config(dir: &Path, daemon_extra: &str, alerts: &str) -> Config {
    std::fs::write(dir.join("signing-secret"), format!("{SIGNING_SECRET}\n")).unwrap();
    let text = config_text(daemon_extra, alerts);
    autosync::config::parse(&text, &dir.join("autosync.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The text of [`config`]'s file: `daemon_extra` is line 3, the unit ends
/// on line 15, `alerts` start on line 16.
fn config_text(daemon_extra: &str, alerts: &str) -> String {
    format!(
        r#"[daemon]
state_dir = "state"
{daemon_extra}

[[unit]]
id = "{UNIT}"
account_name = "{ACCOUNT}"
org_name = "示例省科学技术协会"
level = "provincial"
site = "https://example.org/"
  [[unit.source]]
  feed = "{FEED}"
  [unit.publisher]
  kind = "file"
  dir = "out"
{alerts}"#
    )
}

/// A WeCom robot that says yes, and [`config`] with it as the one target.
async fn with_a_wecom_robot(dir: &Path) -> (Robot, Config) {
    let robot = Robot::new(r#"{"errcode":0}"#);
    let url = robot.clone().serve().await;
    (robot, config(dir, "", &target("wecom", &url, "")))
}

fn target(kind: &str, url: &str, extra: &str) -> String {
    format!("\n[[daemon.alert]]\nkind = \"{kind}\"\nurl = \"{url}\"\n{extra}\n")
}

fn at(day: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Days::days(day)
}

fn key() -> AccountKey {
    AccountKey {
        unit: UNIT.into(),
        account: ACCOUNT.into(),
    }
}

async fn pause(store: &Store, since: DateTime<Utc>) {
    let st = AccountState {
        paused: Some(Pause {
            reason: PauseReason::LoginExpired {
                detail: "the platform answered 401".into(),
            },
            since,
        }),
        ..Default::default()
    };
    store.put_account_state(&key(), &st).await.unwrap();
}

async fn resume(store: &Store) {
    store
        .put_account_state(&key(), &AccountState::default())
        .await
        .unwrap();
}

/// The source's state: polled at `polled`, with `errors` failed polls in
/// a row and, when `empty_since`, finding no entries since then.
fn source(store: &Store, polled: DateTime<Utc>, errors: u32, empty_since: Option<DateTime<Utc>>) {
    let st = SourceState {
        last_poll: Some(polled),
        consecutive_errors: errors,
        last_error: (errors > 0).then(|| format!("{FEED}: HTTP 503")),
        empty_since,
        ..Default::default()
    };
    store
        .put_source_state(UNIT, &format!("feed:{FEED}"), &st)
        .unwrap();
}

fn delivery(store: &Store, cfg: &Config, backoff: Backoff) -> Delivery {
    Delivery {
        store: store.clone(),
        client: reqwest::Client::new(),
        config: Arc::new(RwLock::new(Arc::new(cfg.clone()))),
        clock: Arc::new(SystemClock),
        backoff,
        shutdown: Default::default(),
    }
}

fn events(alerts: &[Alert]) -> Vec<&Event> {
    alerts.iter().map(|a| &a.event).collect()
}

type HmacSha256 = Hmac<sha2::Sha256>;

fn b64_hmac(key: &[u8], msg: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn query(pq: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(&format!("http://x{pq}")).unwrap();
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn each_kind_gets_its_json_and_dingtalk_and_feishu_their_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let wecom = Robot::new(r#"{"errcode":0,"errmsg":"ok"}"#);
    let dingtalk = Robot::new(r#"{"errcode":0,"errmsg":"ok"}"#);
    let feishu = Robot::new(r#"{"code":0,"msg":"success","data":{}}"#);
    let webhook = Robot::new("");
    let alerts = [
        target("wecom", &wecom.clone().serve().await, ""),
        target(
            "dingtalk",
            &dingtalk.clone().serve().await,
            "secret_file = \"signing-secret\"",
        ),
        target(
            "feishu",
            &feishu.clone().serve().await,
            "secret_file = \"signing-secret\"",
        ),
        target("webhook", &webhook.clone().serve().await, ""),
    ]
    .concat();
    let cfg = config(dir.path(), "", &alerts);
    let store = Store::open(&dir.path().join("state")).unwrap();
    source(&store, Utc::now(), 0, None);
    pause(&store, Utc::now()).await;

    let before = Utc::now();
    let raised = Detector::new(store.clone(), None, None)
        .check_unit(&cfg, &cfg.units[0], Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(events(&raised)[..], [Event::AccountPaused { .. }]),
        "{raised:?}"
    );
    let next = delivery(&store, &cfg, Backoff::default()).round().await;
    let after = Utc::now();
    assert_eq!(next, None, "everything delivered");

    let one = |r: &Robot| {
        let got = r.got();
        assert_eq!(got.len(), 1, "{got:?}");
        got.into_iter().next().unwrap()
    };
    let w = one(&wecom);
    assert_eq!(w.body["msgtype"], "markdown");
    let content = w.body["markdown"]["content"].as_str().unwrap();
    for needle in [
        "示例省科学技术协会（sx-kx）",
        "“示例省科协”",
        "登录已过期",
        "reload",
    ] {
        assert!(content.contains(needle), "{needle} not in {content}");
    }

    let d = one(&dingtalk);
    assert_eq!(d.body["msgtype"], "text");
    assert!(
        d.body["text"]["content"]
            .as_str()
            .unwrap()
            .contains("暂停发布")
    );
    assert_eq!(
        query(&d.path_and_query, "access_token").as_deref(),
        Some(TOKEN)
    );
    let ts: i64 = query(&d.path_and_query, "timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (before.timestamp_millis()..=after.timestamp_millis()).contains(&ts),
        "timestamp in milliseconds: {ts}"
    );
    let sign = query(&d.path_and_query, "sign").unwrap();
    assert_eq!(
        sign,
        b64_hmac(
            SIGNING_SECRET.as_bytes(),
            format!("{ts}\n{SIGNING_SECRET}").as_bytes()
        )
    );

    let f = one(&feishu);
    assert_eq!(f.body["msg_type"], "text");
    assert!(
        f.body["content"]["text"]
            .as_str()
            .unwrap()
            .contains("示例省科协")
    );
    let ts: i64 = f.body["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        (before.timestamp()..=after.timestamp()).contains(&ts),
        "{ts}"
    );
    assert_eq!(
        f.body["sign"].as_str().unwrap(),
        b64_hmac(format!("{ts}\n{SIGNING_SECRET}").as_bytes(), b"")
    );

    let h = one(&webhook);
    assert_eq!(h.body["event"], "account_paused");
    assert_eq!(h.body["unit"], UNIT);
    assert_eq!(h.body["account"], ACCOUNT);
    assert_eq!(h.body["reason"]["kind"], "login_expired");
    assert!(h.body["text"].as_str().unwrap().contains("暂停发布"));
}

#[tokio::test]
async fn a_pause_and_its_resume_alert_once_each_and_a_restart_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (robot, cfg) = with_a_wecom_robot(dir.path()).await;
    let state = dir.path().join("state");
    {
        let store = Store::open(&state).unwrap();
        source(&store, Utc::now(), 0, None);
        let watch = Detector::new(store.clone(), None, None);
        let check = || watch.check_unit(&cfg, &cfg.units[0], Utc::now());
        assert!(check().await.unwrap().is_empty(), "an ok account: nothing");
        pause(&store, Utc::now()).await;
        let raised = check().await.unwrap();
        assert!(matches!(events(&raised)[..], [Event::AccountPaused { .. }]));
        // Paused again by the outbox (a new time, the same reason): no news.
        pause(&store, Utc::now() + Days::minutes(15)).await;
        assert!(check().await.unwrap().is_empty());
        assert!(check().await.unwrap().is_empty());
    }
    // A restart while still paused: nothing again. The account is resumed
    // while the daemon is down: the next start says so, once.
    {
        let store = Store::open(&state).unwrap();
        let watch = Detector::new(store.clone(), None, None);
        assert!(
            watch
                .check_unit(&cfg, &cfg.units[0], Utc::now())
                .await
                .unwrap()
                .is_empty()
        );
        resume(&store).await;
    }
    let store = Store::open(&state).unwrap();
    let watch = Detector::new(store.clone(), None, None);
    let raised = watch
        .check_unit(&cfg, &cfg.units[0], Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(&events(&raised)[..], [Event::AccountResumed { account }] if account == ACCOUNT),
        "{raised:?}"
    );
    assert!(
        watch
            .check_unit(&cfg, &cfg.units[0], Utc::now())
            .await
            .unwrap()
            .is_empty()
    );

    // The pause and the resume, each delivered once (the alert queued
    // before the restarts too).
    delivery(&store, &cfg, Backoff::default()).round().await;
    let texts: Vec<String> = robot
        .got()
        .iter()
        .map(|g| g.body["markdown"]["content"].as_str().unwrap().to_string())
        .collect();
    // One robot message, both alerts joined in order.
    assert_eq!(texts.len(), 1, "{texts:?}");
    let (paused, resumed) = (
        texts[0].find("账号暂停发布：").unwrap(),
        texts[0].find("账号恢复发布：").unwrap(),
    );
    assert!(paused < resumed, "{}", texts[0]);
    assert_eq!(texts[0].matches("【autosync】").count(), 2, "{}", texts[0]);
}

#[tokio::test]
async fn each_silence_threshold_is_crossed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "", "");
    let store = Store::open(&dir.path().join("state")).unwrap();
    // Never posted: the clock runs from the unit's first poll.
    source(&store, at(0), 0, None);
    let watch = Detector::new(store.clone(), None, None);
    // Twice a day from `from` to `to`, a manual clock: the thresholds
    // crossed, with the days silent and the last post they name.
    let walk = async |from: i64, to: i64| {
        let mut crossed = Vec::new();
        for half_days in from * 2..to * 2 {
            let now = at(0) + Days::hours(12 * half_days);
            for a in watch.check_unit(&cfg, &cfg.units[0], now).await.unwrap() {
                match a.event {
                    Event::Silence {
                        level,
                        days_silent,
                        last_post,
                        ..
                    } => crossed.push((level, days_silent, last_post)),
                    e => panic!("{e:?}"),
                }
            }
        }
        crossed
    };
    assert_eq!(
        walk(0, 21).await,
        [
            (SilenceLevel::Warning(7), 7, None),
            (SilenceLevel::Warning(10), 10, None),
            (SilenceLevel::Warning(12), 12, None),
            (SilenceLevel::Overdue, 14, None),
        ]
    );
    // A post on day 21 starts a new stretch: each threshold once more.
    let post = autosync::store::Item::new(
        UNIT,
        "https://example.org/a/1.html",
        "feed:x",
        at(21),
        autosync::store::State::Published {
            remote_id: "1".into(),
            remote_url: None,
            at: at(21),
        },
    );
    store
        .insert_new(&post, std::slice::from_ref(&post.url))
        .await
        .unwrap();
    assert_eq!(
        walk(21, 40).await,
        [
            (SilenceLevel::Warning(7), 7, Some(at(21))),
            (SilenceLevel::Warning(10), 10, Some(at(21))),
            (SilenceLevel::Warning(12), 12, Some(at(21))),
            (SilenceLevel::Overdue, 14, Some(at(21))),
        ]
    );
}

#[tokio::test]
async fn a_source_without_entries_and_a_failing_unit_alert_once_and_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "failing_polls = 3", "");
    assert_eq!(cfg.alerting.failing_polls, 3);
    let store = Store::open(&dir.path().join("state")).unwrap();
    let watch = Detector::new(store.clone(), None, None);
    let now = Utc::now();
    let check = || watch.check_unit(&cfg, &cfg.units[0], now);

    source(&store, now, 0, None);
    assert!(check().await.unwrap().is_empty());
    source(&store, now, 0, Some(now));
    let raised = check().await.unwrap();
    assert!(
        matches!(&events(&raised)[..], [Event::SourceEmpty { source, .. }] if source == FEED),
        "{raised:?}"
    );
    assert!(check().await.unwrap().is_empty());
    source(&store, now, 0, None);
    assert!(matches!(
        events(&check().await.unwrap())[..],
        [Event::SourceRecovered { .. }]
    ));

    for errors in 1..=2 {
        source(&store, now, errors, None);
        assert!(check().await.unwrap().is_empty(), "{errors} failed polls");
    }
    source(&store, now, 3, None);
    let raised = check().await.unwrap();
    match &events(&raised)[..] {
        [
            Event::UnitFailing {
                source,
                failed_polls: 3,
                error: Some(e),
            },
        ] => {
            assert_eq!(source, FEED);
            assert!(e.contains("503"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        raised[0]
            .text(chrono_tz::Asia::Shanghai)
            .contains("连续 3 次")
    );
    source(&store, now, 7, None);
    assert!(check().await.unwrap().is_empty(), "still failing: no news");
    source(&store, now, 0, None);
    assert!(matches!(
        events(&check().await.unwrap())[..],
        [Event::UnitRecovered]
    ));
}

/// Logs written while `f` runs (this thread's subscriber: the test's
/// runtime is current-thread, so the delivery task logs here too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_failing_robot_is_retried_with_backoff_never_holds_the_watch_and_its_url_never_prints() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let flaky = Robot::new(r#"{"errcode":0}"#);
    flaky.script.lock().unwrap().extend([
        (500, "internal error".to_string()),
        (
            200,
            r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#.to_string(),
        ),
    ]);
    // A robot that takes its time: the watch must not wait for it.
    let mut slow = Robot::new(r#"{"code":0}"#);
    slow.delay = Duration::from_secs(3);
    let (flaky_url, slow_url) = (flaky.clone().serve().await, slow.clone().serve().await);
    let cfg = config(
        dir.path(),
        "",
        &[
            target("wecom", &flaky_url, ""),
            target("feishu", &slow_url, ""),
        ]
        .concat(),
    );
    assert!(
        !format!("{cfg:?}").contains(TOKEN),
        "the config's Debug shows the URL"
    );
    let store = Store::open(&dir.path().join("state")).unwrap();
    source(&store, Utc::now(), 0, None);
    let backoff = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_millis(400),
        attempts: 5,
    };
    let d = delivery(&store, &cfg, backoff);
    let shutdown = d.shutdown.clone();
    let (bell, rung) = autosync::alert::deliver::bell();
    let task = tokio::spawn(d.run(rung));
    let watch = Detector::new(store.clone(), None, Some(bell));

    pause(&store, Utc::now()).await;
    let started = std::time::Instant::now();
    let raised = watch
        .check_unit(&cfg, &cfg.units[0], Utc::now())
        .await
        .unwrap();
    assert_eq!(raised.len(), 1);
    // The bell rung, the robots busy: the watch goes on at once.
    tokio::task::yield_now().await;
    resume(&store).await;
    let raised = watch
        .check_unit(&cfg, &cfg.units[0], Utc::now())
        .await
        .unwrap();
    assert!(matches!(
        events(&raised)[..],
        [Event::AccountResumed { .. }]
    ));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Pause and resume (alone or joined in one message, as they fall
    // due): refused twice, then through; the slow robot gets each once.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !store
        .pending_alerts::<serde_json::Value>()
        .unwrap()
        .is_empty()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
    let text = logs.text();
    let said = |r: &Robot, skip: usize, path: &[&str]| -> String {
        r.got()
            .iter()
            .skip(skip)
            .map(|g| {
                let mut v = &g.body;
                for p in path {
                    v = &v[p];
                }
                v.as_str().unwrap_or_default().to_string()
            })
            .collect()
    };
    // The two refused tries, then what went through.
    let delivered = said(&flaky, 2, &["markdown", "content"]);
    assert_eq!(
        delivered.matches("账号暂停发布：").count(),
        1,
        "{delivered}\n{text}"
    );
    assert_eq!(
        delivered.matches("账号恢复发布：").count(),
        1,
        "{delivered}\n{text}"
    );
    let slow_said = said(&slow, 0, &["content", "text"]);
    assert_eq!(
        slow_said.matches("账号暂停发布：").count(),
        1,
        "{slow_said}"
    );
    assert_eq!(
        slow_said.matches("账号恢复发布：").count(),
        1,
        "{slow_said}"
    );
    assert!(
        store
            .pending_alerts::<serde_json::Value>()
            .unwrap()
            .is_empty(),
        "{text}"
    );
    assert!(text.contains("failed (try 1)"), "{text}");
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(text.contains("errcode 93000"), "{text}");
    assert!(
        text.contains("alert sent to the wecom alert target"),
        "{text}"
    );
    assert!(
        !text.contains(TOKEN),
        "the robot's URL leaked into the log:\n{text}"
    );
}

#[tokio::test]
async fn an_unreachable_robot_is_given_up_after_its_tries_without_printing_its_url() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9.
    let url = format!("http://127.0.0.1:9/robot/send?key={TOKEN}");
    let cfg = config(dir.path(), "", &target("dingtalk", &url, ""));
    let store = Store::open(&dir.path().join("state")).unwrap();
    source(&store, Utc::now(), 0, None);
    pause(&store, Utc::now()).await;
    Detector::new(store.clone(), None, None)
        .check_unit(&cfg, &cfg.units[0], Utc::now())
        .await
        .unwrap();
    let d = delivery(
        &store,
        &cfg,
        Backoff {
            first: Duration::ZERO,
            max: Duration::ZERO,
            attempts: 3,
        },
    );
    for _ in 0..3 {
        d.round().await;
    }
    assert!(
        store
            .pending_alerts::<serde_json::Value>()
            .unwrap()
            .is_empty()
    );
    let text = logs.text();
    assert!(text.contains("given up after 3 tries"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn a_target_takes_only_its_units_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let robot = Robot::new(r#"{"errcode":0}"#);
    let url = robot.clone().serve().await;
    // Two units in the file, the target for the other one only.
    let other = format!(
        "\n[[unit]]\nid = \"other\"\naccount_name = \"其他\"\norg_name = \"其他单位\"\nlevel = \"city\"\nsite = \"https://other.example.org/\"\n  [[unit.source]]\n  feed = \"https://other.example.org/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out2\"\n{}",
        target("wecom", &url, "units = [\"other\"]")
    );
    let cfg = config(dir.path(), "", &other);
    let store = Store::open(&dir.path().join("state")).unwrap();
    source(&store, Utc::now(), 0, None);
    pause(&store, Utc::now()).await;
    let raised = Detector::new(store.clone(), None, None)
        .check_unit(&cfg, cfg.unit(UNIT).unwrap(), Utc::now())
        .await
        .unwrap();
    assert_eq!(raised.len(), 1, "alerted (logged), but for no target");
    delivery(&store, &cfg, Backoff::default()).round().await;
    assert!(robot.got().is_empty());
}

#[test]
fn alert_config_errors_name_their_line_and_never_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(
        "failing_polls = 0",
        &[
            target(
                "wecom",
                &format!("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={TOKEN}"),
                "secret_env = \"X\"",
            ),
            target(
                "dingtalk",
                &format!("qyapi/{TOKEN}"),
                &format!("units = [\"{UNIT}\",\n  \"nope\"]"),
            ),
        ]
        .concat(),
    );
    let errs = autosync::config::parse(&text, &dir.path().join("a.toml"))
        .unwrap_err()
        .to_string();
    for needle in [
        "a.toml:3: [daemon] failing_polls = 0",
        "a.toml:19: [[daemon.alert]] kind = \"wecom\": only dingtalk and feishu robots take a signing secret",
        "a.toml:24: [[daemon.alert]] kind = \"dingtalk\": url is not a valid URL",
        "a.toml:26: [[daemon.alert]] kind = \"dingtalk\": units: no unit \"nope\"",
    ] {
        assert!(errs.contains(needle), "{needle:?} not in\n{errs}");
    }
    assert!(!errs.contains(TOKEN), "{errs}");
    let unknown = text.replace("secret_env = \"X\"", "colour = \"red\"");
    let errs = autosync::config::parse(&unknown, &dir.path().join("a.toml"))
        .unwrap_err()
        .to_string();
    assert!(errs.contains("colour"), "{errs}");
}

#[tokio::test]
async fn a_burst_of_alerts_reaches_a_robot_joined_in_few_messages_under_its_size() {
    use autosync::alert::deliver::{MAX_MESSAGE_BYTES, Queued};
    let dir = tempfile::tempdir().unwrap();
    let (robot, cfg) = with_a_wecom_robot(dir.path()).await;
    let store = Store::open(&dir.path().join("state")).unwrap();
    // What a first start over many silent sources might raise at once.
    let queued: Vec<Queued> = (0..40)
        .map(|i| {
            let alert = Alert {
                unit: UNIT.into(),
                org_name: "示例省科学技术协会".into(),
                at: Utc::now(),
                event: Event::SourceEmpty {
                    source: format!("https://example.org/list{i}/"),
                    since: Utc::now(),
                },
            };
            Queued::new(&cfg.alerting.targets[0], alert, Utc::now())
        })
        .collect();
    store
        .record_alerts::<String, _>(&[], &queued)
        .await
        .unwrap();
    assert_eq!(
        delivery(&store, &cfg, Backoff::default()).round().await,
        None
    );
    let got = robot.got();
    assert!((2..=10).contains(&got.len()), "{} messages", got.len());
    let mut all = String::new();
    for g in &got {
        let content = g.body["markdown"]["content"].as_str().unwrap();
        assert!(
            content.len() <= MAX_MESSAGE_BYTES,
            "{} bytes",
            content.len()
        );
        all.push_str(content);
    }
    // Every alert once, in order.
    let mut at = 0;
    for i in 0..40 {
        let needle = format!("https://example.org/list{i}/ ");
        let found = all[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle} missing or out of order"));
        at += found + needle.len();
    }
    assert!(store.pending_alerts::<Queued>().unwrap().is_empty());
}
