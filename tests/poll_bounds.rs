//! What one poll may cost a small box: a feed that suddenly lists hundreds
//! of items is taken in a bounded number at a time (`[daemon]
//! max_new_per_poll`), and robots.txt is asked once per host, not before
//! every poll. Against a real feed server on 127.0.0.1 that counts and
//! logs what it is asked.

use autosync::pipeline::{Context, UnitReport};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// A feed of entries 1..=N (N the newest), with an ETag that changes only
/// when N does, and a robots.txt; every request's path is logged in order.
#[derive(Default)]
struct Site {
    entries: AtomicUsize,
    log: Mutex<Vec<String>>,
}

impl Site {
    fn asked(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn feed(State(s): State<Arc<Site>>, headers: HeaderMap) -> impl IntoResponse {
    s.log.lock().unwrap().push("/feed.xml".into());
    let n = s.entries.load(Ordering::SeqCst);
    let etag = format!("\"v{n}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag)],
            String::new(),
        );
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut items = String::new();
    for i in (1..=n).rev() {
        // Entry i is dated i minutes after a fixed time: N is the newest.
        let date = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00+08:00").unwrap()
            + chrono::Duration::minutes(i as i64);
        items.push_str(&format!(
            "<item><title>第{i}篇科普活动报道</title><link>http://{host}/a/{i}.html</link>\
             <guid>a-{i}</guid><pubDate>{}</pubDate><content:encoded><![CDATA[<p>第{i}篇：\
             科普活动在全省各地展开，广大市民踊跃参加，专家现场讲解科学知识，\
             青少年动手体验科学实验，活动持续整整一天，吸引了众多家庭共同参与，\
             主办方表示今后还将定期举办类似的科普活动。</p>]]></content:encoded></item>",
            date.to_rfc2822()
        ));
    }
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel>\
         <title>t</title><link>http://{host}/</link><description>d</description>{items}\
         </channel></rss>"
    );
    (StatusCode::OK, [(header::ETAG, etag)], body)
}

async fn robots(State(s): State<Arc<Site>>) -> &'static str {
    s.log.lock().unwrap().push("/robots.txt".into());
    "User-agent: *\nDisallow: /private/\n"
}

async fn serve(entries: usize) -> (SocketAddr, Arc<Site>) {
    let site = Arc::new(Site::default());
    site.entries.store(entries, Ordering::SeqCst);
    let app = Router::new()
        .route("/feed.xml", get(feed))
        .route("/robots.txt", get(robots))
        .with_state(site.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, site)
}

fn context(
    dir: &std::path::Path,
    addr: SocketAddr,
    daemon_extra: &str,
    fetch_extra: &str,
) -> (autosync::config::Config, Context) {
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\n{daemon_extra}\n\n[fetch]\n{fetch_extra}\n\n\
         [[unit]]\nid = \"u\"\naccount_name = \"测试账号\"\norg_name = \"测试单位\"\n\
         level = \"county\"\nsite = \"http://{addr}/\"\nbackfill = 0\n\
         \x20 [[unit.source]]\n  feed = \"http://{addr}/feed.xml\"\n\
         \x20 [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n"
    );
    let cfg = autosync::config::parse(&text, &dir.join("autosync.toml")).unwrap();
    let ctx = Context::open(
        &cfg,
        Arc::new(autosync::clock::SystemClock),
        CancellationToken::new(),
    )
    .unwrap();
    (cfg, ctx)
}

async fn poll(ctx: &Context, cfg: &autosync::config::Config) -> UnitReport {
    let mut r = UnitReport {
        unit: "u".into(),
        ..Default::default()
    };
    autosync::ingest::discover_unit(ctx, &cfg.units[0], &mut r).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r
}

/// Whether the store knows entry `n` of the feed at `addr`.
fn known(ctx: &Context, addr: SocketAddr, n: usize) -> bool {
    let url = format!("http://{addr}/a/{n}.html");
    ctx.store.lookup("u", &[url]).unwrap().is_some()
}

/// A feed that suddenly lists 300 new items: each poll takes the 50 newest
/// still unknown and says how many wait; the next polls take the rest (the
/// validators stay, so the unchanged feed is read again, not a 304); in the
/// end every one is in once and nothing is lost.
#[tokio::test]
async fn max_new_per_poll_takes_the_newest_and_leaves_the_rest_for_the_next_polls() {
    let (addr, site) = serve(1).await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, ctx) = context(
        dir.path(),
        addr,
        "max_new_per_poll = 50",
        "host_delay_ms = 0\nrespect_robots = false",
    );
    // First poll: entry 1 is the baseline (backfill 0), recorded as seen.
    let r = poll(&ctx, &cfg).await;
    assert_eq!(r.new, 0);
    site.entries.store(301, Ordering::SeqCst);
    let mut taken = 0;
    for batch in 0..6 {
        let r = poll(&ctx, &cfg).await;
        assert_eq!(r.new, 50, "batch {batch}");
        taken += r.new;
        // The newest of those still unknown: 301..252, then 251..202, …
        let newest = 301 - 50 * batch;
        for n in [newest, newest - 49] {
            assert!(known(&ctx, addr, n), "batch {batch}: entry {n} not taken");
        }
        if newest > 51 {
            assert!(
                !known(&ctx, addr, newest - 50),
                "batch {batch}: took more than its bound"
            );
            let waiting = 300 - taken;
            let feed = format!("http://{addr}/feed.xml");
            assert!(
                r.warnings
                    .iter()
                    .any(|w| w.contains(&feed) && w.contains(&format!("{waiting} more"))),
                "batch {batch}: the bound is not reported: {:?}",
                r.warnings
            );
        } else {
            assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        }
    }
    // Everything taken: the next poll gets a 304 and finds nothing new.
    let r = poll(&ctx, &cfg).await;
    assert_eq!((r.new, r.found), (0, 0));
    assert_eq!(taken, 300);
    let counts = ctx.store.unit_counts("u").unwrap();
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    assert_eq!(n("queued") + n("held"), 300, "{counts:?}");
    assert_eq!(n("seen"), 1, "{counts:?}");
    for i in 2..=301 {
        assert!(known(&ctx, addr, i), "{i} lost");
    }
}

/// robots.txt is fetched once a day per host across the daemon's polls,
/// and a cached robots.txt costs no turn of the host's politeness spacing:
/// each later poll is one spaced request. On tokio's paused clock, so the
/// spacing is measured exactly and the day passes at once.
#[tokio::test(start_paused = true)]
async fn robots_txt_is_fetched_once_per_host_across_polls_and_spends_no_spacing() {
    use tokio::time::{Duration, Instant};
    let (addr, site) = serve(3).await;
    let dir = tempfile::tempdir().unwrap();
    let spacing = Duration::from_millis(400);
    let (cfg, ctx) = context(
        dir.path(),
        addr,
        "",
        &format!(
            "host_delay_ms = {}\nrespect_robots = true",
            spacing.as_millis()
        ),
    );
    poll(&ctx, &cfg).await;
    let began = Instant::now();
    for _ in 0..3 {
        let r = poll(&ctx, &cfg).await;
        assert_eq!(r.new, 0);
    }
    let took = began.elapsed();
    let feed_only = [
        "/robots.txt",
        "/feed.xml",
        "/feed.xml",
        "/feed.xml",
        "/feed.xml",
    ];
    assert_eq!(site.asked(), feed_only, "robots.txt asked again");
    // Three feed requests, each one spacing after the one before: exactly
    // three turns (the clock only moves by the gate's sleeps); a robots.txt
    // taking a turn of its own would make it more.
    assert_eq!(took, spacing * 3, "turns taken: {took:?}");

    // A day later the rules are fetched again, once.
    tokio::time::advance(Duration::from_secs(24 * 3600 + 1)).await;
    poll(&ctx, &cfg).await;
    poll(&ctx, &cfg).await;
    let asked = site.asked();
    assert_eq!(
        asked[feed_only.len()..],
        ["/robots.txt", "/feed.xml", "/feed.xml"],
        "{asked:?}"
    );
}
