//! `[daemon] extract_budget_ms` at ingest level: a page whose extraction
//! runs past the budget is a failed fetch of that one item — typed, retried
//! by the usual backoff, never published, reported with its unit and URL —
//! and the same page goes through once the budget allows it.

use autosync::clock::Clock;
use autosync::model::{Stage, State};
use chrono::{DateTime, TimeZone, Utc};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Wall time pinned for one pass.
struct Fixed(DateTime<Utc>);
impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// An article page of about 1 MB: a real body of nested, unclosed
/// paragraphs and formatting, far more than 10 ms of extraction.
fn big_article() -> String {
    let mut s = String::from(
        "<html><head><title>一篇很长的文章</title></head><body><div class=\"content\"><h1>一篇很长的文章</h1>",
    );
    for i in 0..10_000 {
        s.push_str(&format!(
            "<p><font color=red><b>第{i}段：科协组织开展科普活动，服务基层群众。</font></b><div><span>{i}"
        ));
    }
    s.push_str("</div></body></html>");
    s
}

const LIST: &str = r#"<html><body><ul class="list">
<li><a href="/art/1.html">一篇很长的文章</a> <span>2026-11-30</span></li>
</ul></body></html>"#;

async fn serve() -> SocketAddr {
    use axum::{Router, response::Html, routing::get};
    let article = big_article();
    let app = Router::new()
        .route("/list/", get(|| async { Html(LIST) }))
        .route("/art/1.html", get(move || async move { Html(article) }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

fn config(dir: &Path, site: SocketAddr, budget_ms: u64) -> autosync::config::Config {
    let path = dir.join("autosync.toml");
    std::fs::write(
        &path,
        format!(
            r#"[daemon]
state_dir = "state"
extract_budget_ms = {budget_ms}

[fetch]
host_delay_ms = 0
respect_robots = false

[defaults]
backfill = 5

[[unit]]
id = "slow"
account_name = "慢页科协"
org_name = "慢页科学技术协会"
level = "city"
site = "http://{site}/"
  [[unit.source]]
  list = "http://{site}/list/"
  link_selector = "ul.list a"
  [unit.publisher]
  kind = "file"
  dir = "out"
"#
        ),
    )
    .unwrap();
    autosync::config::load(&path).unwrap()
}

fn published(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("out")).map_or(0, |rd| rd.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_the_extract_budget_fails_its_item_like_a_fetch_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let site = serve().await;
    let url = format!("http://{site}/art/1.html");
    let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();

    // The smallest budget: the page cannot be extracted within it.
    let cfg = config(dir.path(), site, 10);
    assert_eq!(
        cfg.daemon.extract_budget,
        std::time::Duration::from_millis(10)
    );
    let ctx =
        autosync::pipeline::Context::open(&cfg, Arc::new(Fixed(t0)), Default::default()).unwrap();
    let reports = autosync::pipeline::run_pass(&ctx, &cfg, None).await;
    let r = &reports[0];
    assert_eq!(r.unit, "slow");
    assert_eq!(r.failed, 1, "{r:?}");
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains(&url) && e.contains("took longer")),
        "the failure names the page: {:?}",
        r.errors
    );
    let failed = ctx.store.records_in("slow", "failed").unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].url, url);
    match &failed[0].state {
        State::Failed {
            stage: Stage::Fetch,
            attempts: 1,
            next_retry: Some(t),
            reason,
        } => {
            assert!(*t > t0, "retried later, by the backoff");
            assert!(reason.contains(&url), "{reason}");
        }
        other => panic!("not a retryable fetch failure: {other:?}"),
    }
    assert_eq!(published(cfg.path.parent().unwrap()), 0, "nothing went out");
    drop(ctx);

    // The operator raises the budget; the retry, once due, goes through and
    // the same item (no second one) is published.
    let cfg = config(dir.path(), site, 600_000);
    let later = t0 + chrono::Duration::hours(1);
    let ctx = autosync::pipeline::Context::open(&cfg, Arc::new(Fixed(later)), Default::default())
        .unwrap();
    let reports = autosync::pipeline::run_pass(&ctx, &cfg, None).await;
    assert!(reports[0].errors.is_empty(), "{:?}", reports[0].errors);
    assert!(ctx.store.records_in("slow", "failed").unwrap().is_empty());
    assert_eq!(reports[0].published.len(), 1, "{:?}", reports[0]);
    assert_eq!(published(cfg.path.parent().unwrap()), 1);
}
