//! The daemon's time-dependent behaviour under tokio's paused clock: polls
//! fire on the cron schedule, and the publish worker keeps the account's
//! spacing and daily cap. No real sleeps: virtual time runs ahead.

use autosync::clock::TokioClock;
use autosync::metrics::Metrics;
use autosync::pipeline::Context;
use autosync::store::{Item, SourceState, State};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn config(dir: &std::path::Path, unit_extra: &str) -> autosync::config::Config {
    let text = format!(
        r#"[daemon]
state_dir = "state"
listen = "127.0.0.1:0"
run_at_start = false

[[unit]]
id = "u"
account_name = "测试账号"
org_name = "测试单位"
level = "county"
site = "http://127.0.0.1:9/"
schedule = "*/10 * * * *"
jitter_secs = 0
{unit_extra}
  [[unit.source]]
  feed = "http://127.0.0.1:9/rss.xml"
  [unit.publisher]
  kind = "file"
  dir = "out"
"#
    );
    autosync::config::parse(&text, &dir.join("autosync.toml")).unwrap()
}

/// The source is disabled (410 earlier), so a poll does no network I/O and
/// the test measures the schedule alone.
fn disable_source(ctx: &Context, cfg: &autosync::config::Config) {
    let src = cfg.units[0].sources[0].key();
    let st = SourceState {
        gone: true,
        baselined: true,
        ..Default::default()
    };
    ctx.store.put_source_state("u", &src, &st).unwrap();
}

async fn start(
    cfg: autosync::config::Config,
    start_at: DateTime<Utc>,
) -> (
    Context,
    Arc<Metrics>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let shutdown = CancellationToken::new();
    let ctx = Context::open(
        &cfg,
        Arc::new(TokioClock::starting_at(start_at)),
        shutdown.clone(),
    )
    .unwrap();
    disable_source(&ctx, &cfg);
    let metrics = Arc::new(Metrics::new());
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (c, m) = (ctx.clone(), metrics.clone());
    let path = cfg.path.clone();
    let task = tokio::spawn(async move {
        let _keep_reload_open = _tx;
        autosync::daemon::run(path, cfg, c, autosync::systemd::Notifier::default(), m, rx)
            .await
            .unwrap();
    });
    (ctx, metrics, shutdown, task)
}

fn polls(m: &Metrics) -> u64 {
    let text = m.render();
    text.lines()
        .find(|l| l.starts_with("autosync_polls_total{unit=\"u\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

#[tokio::test(start_paused = true)]
async fn polls_fire_on_the_cron_schedule_and_not_in_between() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    // 00:03:00 Shanghai: the next runs are 00:10, 00:20, …
    let t0 = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, 2, 0, 3, 0)
        .unwrap()
        .with_timezone(&Utc);
    let (_ctx, metrics, shutdown, task) = start(cfg, t0).await;
    tokio::time::sleep(Duration::from_secs(6 * 60)).await; // 00:09
    assert_eq!(polls(&metrics), 0, "fired before 00:10");
    tokio::time::sleep(Duration::from_secs(2 * 60)).await; // 00:11
    assert_eq!(polls(&metrics), 1);
    tokio::time::sleep(Duration::from_secs(60 * 60)).await; // 01:11
    assert_eq!(polls(&metrics), 7, "00:10 … 01:10 is seven runs");
    shutdown.cancel();
    task.await.unwrap();
}

/// The test unit without `jitter_secs`: its polls spread over the period.
fn spread_config(dir: &std::path::Path) -> autosync::config::Config {
    let mut cfg = config(dir, "");
    std::sync::Arc::make_mut(&mut cfg.units[0]).jitter = None;
    cfg
}

fn every_ten_minutes() -> autosync::schedule::Schedule {
    autosync::schedule::Schedule::parse("*/10 * * * *").unwrap()
}

/// Without `jitter_secs` a unit polls at its own stable offset after each
/// firing (spread over the period), once per period, and not before it.
#[tokio::test(start_paused = true)]
async fn a_unit_polls_once_per_period_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = spread_config(dir.path());
    let shanghai = chrono_tz::Asia::Shanghai;
    let t0 = shanghai.with_ymd_and_hms(2026, 3, 2, 0, 3, 0).unwrap();
    let sched = every_ten_minutes();
    let first = shanghai.with_ymd_and_hms(2026, 3, 2, 0, 10, 0).unwrap();
    let offset = sched.offset("u", None, first);
    assert!(
        offset > chrono::Duration::seconds(1) && offset < chrono::Duration::minutes(10),
        "offset {offset} of unit u; the checks below need it inside the period"
    );
    let began = tokio::time::Instant::now();
    let (_ctx, metrics, shutdown, task) = start(cfg, t0.with_timezone(&Utc)).await;
    for k in 0..6u64 {
        // From t0 (00:03) to the k-th firing (00:10 + 10k min) plus the offset.
        let due = Duration::from_secs(7 * 60 + k * 600) + offset.to_std().unwrap();
        tokio::time::sleep_until(began + due - Duration::from_secs(1)).await;
        assert_eq!(polls(&metrics), k, "period {k}: polled before its offset");
        tokio::time::sleep_until(began + due + Duration::from_secs(1)).await;
        assert_eq!(polls(&metrics), k + 1, "period {k}: no poll at its offset");
    }
    shutdown.cancel();
    task.await.unwrap();
}

/// `autosync check --next N` prints the times the daemon polls: each
/// firing plus the unit's offset, not the bare firing.
#[test]
fn check_next_prints_the_offset_poll_times() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = spread_config(dir.path());
    let shanghai = chrono_tz::Asia::Shanghai;
    let after = shanghai.with_ymd_and_hms(2026, 3, 2, 0, 3, 0).unwrap();
    let sched = every_ten_minutes();
    let want: Vec<String> = sched
        .upcoming_polls("u", None, after, 3)
        .iter()
        .map(|t| autosync::clock::zoned_precise(t, shanghai))
        .collect();
    // The zone is named (CST): nobody reads them as UTC.
    assert!(want[0].ends_with(" CST"), "{want:?}");
    let offset = sched.offset(
        "u",
        None,
        shanghai.with_ymd_and_hms(2026, 3, 2, 0, 10, 0).unwrap(),
    );
    assert!(offset > chrono::Duration::zero());
    let report = autosync::schedule_report(&cfg, after.with_timezone(&Utc), 3);
    assert_eq!(report, format!("u\t*/10 * * * *\t{}\n", want.join(", ")));
}

fn queued(unit: &str, n: usize, now: DateTime<Utc>) -> Item {
    let url = format!("http://127.0.0.1:9/a/{n}.html");
    Item {
        title: format!("测试稿件第{n}篇"),
        html: "<p>正文</p>".into(),
        text: "正文".into(),
        discovered_at: now + chrono::Duration::seconds(n as i64),
        ..Item::new(unit, &url, "feed:x", now, State::Queued)
    }
}

#[tokio::test(start_paused = true)]
async fn the_publish_worker_keeps_spacing_and_the_daily_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "min_post_interval_secs = 120\ndaily_post_cap = 3",
    );
    // 23:50 Shanghai: three posts fit before midnight, the rest wait.
    let t0 = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, 1, 23, 50, 0)
        .unwrap()
        .with_timezone(&Utc);
    let (ctx, _m, shutdown, task) = start(cfg, t0).await;
    for n in 0..5 {
        let it = queued("u", n, t0);
        ctx.store
            .insert_new(&it, std::slice::from_ref(&it.url))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(60 * 60)).await;
    shutdown.cancel();
    task.await.unwrap();

    let mut times: Vec<DateTime<Utc>> = ctx
        .store
        .items_in("u", "published")
        .unwrap()
        .into_iter()
        .filter_map(|i| match i.state {
            State::Published { at, .. } => Some(at),
            _ => None,
        })
        .collect();
    times.sort();
    assert_eq!(times.len(), 5, "{times:?}");
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= chrono::Duration::seconds(120),
            "posts closer than the spacing: {times:?}"
        );
    }
    let midnight = t0 + chrono::Duration::minutes(10);
    assert_eq!(
        times.iter().filter(|t| **t < midnight).count(),
        3,
        "daily cap broken: {times:?}"
    );
    // Oldest first.
    let order: Vec<String> = {
        let mut items = ctx.store.items_in("u", "published").unwrap();
        items.sort_by_key(|i| match i.state {
            State::Published { at, .. } => at,
            _ => t0,
        });
        items.into_iter().map(|i| i.title).collect()
    };
    assert_eq!(order[0], "测试稿件第0篇");
    assert_eq!(order[4], "测试稿件第4篇");
}

/// `[daemon] keep_bodies_days` and `archive_after_days`: the daemon drops old
/// bodies and archives old items on its own, first some minutes after start
/// (not during the first cycle), then daily; what is newer stays.
#[tokio::test(start_paused = true)]
async fn the_daemon_drops_bodies_older_than_keep_bodies_days() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "");
    cfg.daemon.keep_bodies = Some(chrono::Duration::days(30));
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let (ctx, _m, shutdown, task) = start(cfg, t0).await;
    let published = |n: usize, days_ago: i64| {
        let at = t0 - chrono::Duration::days(days_ago);
        Item {
            state: State::Published {
                remote_id: n.to_string(),
                remote_url: None,
                at,
            },
            updated_at: at,
            ..queued("u", n, at)
        }
    };
    let (old, recent) = (published(1, 31), published(2, 29));
    // Older than archive_after_days (60 by default): leaves the database.
    let ancient = published(3, 61);
    for it in [&old, &recent, &ancient] {
        ctx.store
            .insert_new(it, std::slice::from_ref(&it.url))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5 * 60)).await;
    assert_eq!(
        ctx.store.get(&old.id).unwrap().unwrap().text,
        "正文",
        "too early"
    );
    tokio::time::sleep(Duration::from_secs(6 * 60)).await;
    assert_eq!(
        ctx.store.get(&old.id).unwrap().unwrap().text,
        "",
        "not dropped"
    );
    assert_eq!(ctx.store.get(&recent.id).unwrap().unwrap().text, "正文");
    assert!(
        ctx.store.get(&ancient.id).unwrap().is_none(),
        "not archived"
    );
    assert_eq!(
        ctx.store
            .lookup("u", std::slice::from_ref(&ancient.url))
            .unwrap(),
        Some(ancient.id.clone())
    );
    // A day later the recent one has passed the limit too.
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(ctx.store.get(&recent.id).unwrap().unwrap().text, "");
    shutdown.cancel();
    task.await.unwrap();
}
