//! A feed that suddenly lists 100,000 items (issue 13): what one poll of it
//! costs with `[daemon] max_new_per_poll` and without it.
//!
//! ```text
//! bench_cycle --big-feed DIR ITEMS MAX_NEW
//! ```
//!
//! A loopback feed (a child process, `--serve-big-feed`, so its own memory
//! and CPU are not counted) first lists 20 items; the unit's first poll
//! records them as its baseline (`backfill = 0`). Then the feed lists
//! `ITEMS` (the 20 among them), each item with a short full text, like the
//! feed of `tests/poll_bounds.rs`, so the poll fetches no article page; the
//! feed is ~0.6 KB an item, so `[fetch] max_body_bytes` is raised to let it
//! through. The measured poll is the one after the growth, then the next
//! one; each prints: poll, new entries taken, entries waiting (from the
//! cap's warning), wall s, CPU s, peak RSS MiB during the poll (the peak is
//! reset before it), RSS MiB after it. `MAX_NEW` of 1000000 is the
//! behaviour before the cap (every new entry in one pass).

use super::{cpu_secs, read_line, spawn_self, status_mib};
use anyhow::Context as _;
use autosync::pipeline::{Context, UnitReport};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Entries the feed lists before it grows (the unit's baseline).
const BEFORE: usize = 20;

struct Feed {
    entries: AtomicUsize,
    grown: usize,
}

async fn feed(State(s): State<Arc<Feed>>, headers: HeaderMap) -> impl IntoResponse {
    let n = s.entries.load(Ordering::SeqCst);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let base =
        chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00+08:00").expect("static date");
    let mut items = String::with_capacity(n * 640);
    // Newest first; entry i is dated i minutes after a fixed time.
    for i in (1..=n).rev() {
        let date = base + chrono::Duration::minutes(i as i64);
        items.push_str(&format!(
            "<item><title>第{i}篇科普活动报道</title><link>http://{host}/a/{i}.html</link>\
             <guid>a-{i}</guid><pubDate>{}</pubDate><content:encoded><![CDATA[<p>第{i}篇：\
             科普活动在全省各地展开，广大市民踊跃参加，专家现场讲解科学知识，\
             青少年动手体验科学实验，活动持续整整一天，吸引了众多家庭共同参与，\
             主办方表示今后还将定期举办类似的科普活动。</p>]]></content:encoded></item>\n",
            date.to_rfc2822()
        ));
    }
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel>\
         <title>t</title><link>http://{host}/</link><description>d</description>\n{items}\
         </channel></rss>"
    );
    (StatusCode::OK, [(header::ETAG, format!("\"v{n}\""))], body)
}

async fn grow(State(s): State<Arc<Feed>>) -> &'static str {
    s.entries.store(s.grown, Ordering::SeqCst);
    "grown"
}

/// `--serve-big-feed ITEMS`: the feed on 127.0.0.1, its port on stdout;
/// until stdin closes.
pub fn serve_main(args: &[String]) -> anyhow::Result<()> {
    let grown: usize = args.first().context("--serve-big-feed ITEMS")?.parse()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let state = Arc::new(Feed {
            entries: AtomicUsize::new(BEFORE),
            grown,
        });
        let app = Router::new()
            .route("/feed.xml", get(feed))
            .route("/__grow", get(grow))
            .route(
                "/robots.txt",
                get(|| async { "User-agent: *\nDisallow: /admin/\n" }),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("PORT {}", listener.local_addr()?.port());
        std::io::stdout().flush()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        // Until the parent closes our stdin.
        tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
        anyhow::Ok(())
    })
}

/// `--big-feed DIR ITEMS MAX_NEW` (module docs).
pub fn main(args: &[String]) -> anyhow::Result<()> {
    let usage = "--big-feed DIR ITEMS MAX_NEW";
    let dir = PathBuf::from(args.first().context(usage)?);
    let items: usize = args.get(1).context(usage)?.parse()?;
    let max_new: usize = args.get(2).context(usage)?.parse()?;
    std::fs::create_dir_all(&dir)?;
    let mut server = spawn_self(&["--serve-big-feed", &items.to_string()])?;
    let mut out = BufReader::new(server.stdout.take().context("stdout")?);
    let port: u16 = read_line(&mut out)?
        .strip_prefix("PORT ")
        .context("server did not say its port")?
        .parse()?;
    let addr = format!("127.0.0.1:{port}");
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\nmax_new_per_poll = {max_new}\n\n\
         [fetch]\nmax_body_bytes = {}\nhost_delay_ms = 500\n\n\
         [[unit]]\nid = \"u\"\naccount_name = \"测试账号\"\norg_name = \"测试单位\"\n\
         level = \"county\"\nsite = \"http://{addr}/\"\nbackfill = 0\n\
         \x20 [[unit.source]]\n  feed = \"http://{addr}/feed.xml\"\n\
         \x20 [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n",
        items * 1024 + (1 << 20)
    );
    let cfg = autosync::config::parse(&text, &dir.join("autosync.toml"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Two workers, as the daemon on the 2-core box.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let me = std::process::id();
    rt.block_on(async {
        let ctx = Context::open(
            &cfg,
            Arc::new(autosync::clock::SystemClock),
            CancellationToken::new(),
        )
        .map_err(anyhow::Error::msg)?;
        let poll = || async {
            let mut r = UnitReport {
                unit: "u".into(),
                ..Default::default()
            };
            autosync::ingest::discover_unit(&ctx, &cfg.units[0], &mut r).await;
            ctx.store.flush().await?;
            anyhow::Ok(r)
        };
        let base = poll().await?;
        anyhow::ensure!(base.errors.is_empty(), "baseline poll: {:?}", base.errors);
        reqwest::get(format!("http://{addr}/__grow"))
            .await?
            .error_for_status()?;
        println!("# poll new waiting wall_s cpu_s peak_rss_mib rss_after_mib (max_new_per_poll = {max_new}, {items} items listed)");
        for k in 1..=2 {
            // Peak RSS from here (clear_refs 5 resets VmHWM).
            std::fs::write(format!("/proc/{me}/clear_refs"), "5")?;
            let (c0, t0) = (cpu_secs(me)?, Instant::now());
            let r = poll().await?;
            let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs(me)? - c0);
            let waiting = r
                .warnings
                .iter()
                .find_map(|w| w.split(": ").nth(1)?.split_whitespace().next()?.parse::<usize>().ok())
                .unwrap_or(0);
            anyhow::ensure!(r.errors.is_empty(), "poll {k}: {:?}", r.errors);
            println!(
                "{k} {} {waiting} {wall:.2} {cpu:.2} {:.1} {:.1}",
                r.new,
                status_mib(me, "VmHWM")?,
                status_mib(me, "VmRSS")?
            );
            std::io::stdout().flush()?;
        }
        anyhow::Ok(())
    })?;
    drop(server.stdin.take());
    let _ = server.wait();
    Ok(())
}
