//! Site discovery (`source::discover`): home pages of the kinds unit sites
//! have — a GBK government CMS, a page announcing RSS and Atom, a dead feed
//! link, sections only in a menu — read from fixtures, then tested against
//! a local site the way the daemon fetches.

mod site;

use autosync::clock::Clock;
use autosync::config::Config;
use autosync::fetch::{FetchOptions, Fetcher, Reach};
use autosync::pipeline::{self, Context, UnitReport};
use autosync::scope::SiteScope;
use autosync::source::discover::{self, Candidate, Discovery, Kind, Verdict};
use chrono::{DateTime, TimeZone, Utc};
use site::{Site, articles};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use url::Url;

fn fixture_path(name: &str) -> String {
    format!(
        "{}/tests/fixtures/discover/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn fixture(name: &str) -> String {
    let bytes = std::fs::read(fixture_path(name)).unwrap();
    autosync::charset::decode(&bytes, Some("text/html")).0
}

fn candidates(name: &str) -> Vec<Candidate> {
    let site = Url::parse("http://www.kx.example.cn/").unwrap();
    discover::home_candidates(&fixture(name), &site, &SiteScope::of_url(&site)).candidates
}

fn labels(c: &[Candidate], kind: Kind) -> Vec<&str> {
    c.iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.label.as_str())
        .collect()
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        host_delay: Duration::ZERO,
        timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    })
    .unwrap()
}

async fn discover_on(site: &Site) -> Discovery {
    let url = Url::parse(&site.url("/")).unwrap();
    let scope = SiteScope::of_url(&url);
    discover::discover(
        &fetcher(),
        &url,
        &Reach::site("test", scope.clone()),
        &scope,
    )
    .await
    .unwrap()
}

fn verdict<'a>(d: &'a Discovery, path: &str) -> &'a Verdict {
    &d.candidates
        .iter()
        .find(|c| c.url.path() == path)
        .unwrap_or_else(|| panic!("no candidate {path}: {d:#?}"))
        .verdict
}

#[test]
fn gbk_cms_home_page_offers_its_news_boxes_and_menu_not_its_furniture() {
    let c = candidates("gbk_cms_home.html");
    assert!(labels(&c, Kind::Feed).is_empty());
    assert_eq!(
        labels(&c, Kind::List),
        ["新闻动态", "通知公告", "新闻中心"],
        "{c:#?}"
    );
    assert_eq!(c[0].url.as_str(), "http://www.kx.example.cn/xwzx/xwdt/");
}

#[test]
fn nav_only_sections_are_found_with_relative_links() {
    let c = candidates("nav_only_home.html");
    assert_eq!(labels(&c, Kind::List), ["学会动态", "科技资讯"], "{c:#?}");
    assert_eq!(c[0].url.path(), "/xhdt/index.html");
}

#[test]
fn announced_feeds_come_before_sections() {
    let c = candidates("feeds_home.html");
    assert_eq!(
        labels(&c, Kind::Feed),
        ["示例市科协 RSS", "示例市科协 Atom", "外站转载"]
    );
    assert_eq!(c[2].verdict, Verdict::OffSite);
    assert_eq!(labels(&c, Kind::List), ["新闻动态", "通知公告"]);
}

#[tokio::test]
async fn a_working_feed_wins_its_atom_twin_is_the_same_and_sections_are_not_needed() {
    let site = Site::start();
    site.put_fixture("/", "feeds_home.html");
    let news = articles("/kpzx/", "市科协", 5);
    site.put_rss("/rss.xml", &news);
    site.put_atom("/atom.xml", &news);
    let d = discover_on(&site).await;
    assert!(
        matches!(verdict(&d, "/rss.xml"), Verdict::Chosen { entries: 5, .. }),
        "{d:#?}"
    );
    assert!(
        matches!(verdict(&d, "/atom.xml"), Verdict::SameAs { .. }),
        "{d:#?}"
    );
    assert_eq!(verdict(&d, "/news/"), &Verdict::NotNeeded);
    assert_eq!(d.sources().len(), 1);
    assert_eq!(site.hits("/news/"), 0, "sections not fetched");
}

#[tokio::test]
async fn a_dead_feed_link_is_rejected_and_the_sections_are_used() {
    let site = Site::start();
    site.put_fixture("/", "dead_feed_home.html");
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 4));
    let d = discover_on(&site).await;
    assert!(
        matches!(verdict(&d, "/rss/old.xml"), Verdict::Unreachable { error } if error.contains("404")),
        "{d:#?}"
    );
    assert!(matches!(
        verdict(&d, "/gzdt/"),
        Verdict::Chosen { entries: 4, .. }
    ));
    let sources = d.sources();
    assert_eq!(sources.len(), 1);
    assert!(matches!(
        sources[0].kind,
        autosync::config::SourceKind::List {
            link_selector: None
        }
    ));
}

#[tokio::test]
async fn a_feed_link_to_a_page_that_is_no_feed_is_rejected() {
    let site = Site::start();
    site.put_fixture("/", "dead_feed_home.html");
    site.put(
        "/rss/old.xml",
        "text/html",
        "<html><body>改版了</body></html>",
    );
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 3));
    let d = discover_on(&site).await;
    assert!(
        matches!(verdict(&d, "/rss/old.xml"), Verdict::NotAFeed { .. }),
        "{d:#?}"
    );
    assert_eq!(d.sources().len(), 1);
}

#[tokio::test]
async fn gbk_cms_sections_are_tested_and_a_column_listing_the_same_news_dropped() {
    let site = Site::start();
    site.put_fixture("/", "gbk_cms_home.html");
    let news = articles("/xwzx/xwdt/", "省科协", 6);
    site.put_list("/xwzx/xwdt/", "新闻动态", &news);
    // 新闻中心 lists the same articles as 新闻动态.
    site.put_list("/xwzx/", "新闻中心", &news[..5]);
    // 通知公告 is a maintenance page.
    site.put(
        "/tzgg/",
        "text/html",
        "<html><body><p>网站维护中</p></body></html>",
    );
    let d = discover_on(&site).await;
    assert!(
        matches!(
            verdict(&d, "/xwzx/xwdt/"),
            Verdict::Chosen {
                entries: 6,
                newest: Some(_)
            }
        ),
        "{d:#?}"
    );
    assert_eq!(verdict(&d, "/tzgg/"), &Verdict::NoEntries);
    assert!(
        matches!(verdict(&d, "/xwzx/"), Verdict::SameAs { url } if url.path() == "/xwzx/xwdt/")
    );
    assert_eq!(d.sources().len(), 1);
    // The reasons read in Chinese for unit admins.
    let chosen = d.chosen().next().unwrap();
    assert!(chosen.why_zh().contains("新闻动态"), "{}", chosen.why_zh());
    assert!(chosen.verdict.zh().starts_with("采用"));
}

#[tokio::test]
async fn a_home_page_that_cannot_be_read_is_an_error_naming_the_site() {
    let site = Site::start();
    let url = Url::parse(&site.url("/")).unwrap();
    let scope = SiteScope::of_url(&url);
    let e = discover::discover(&fetcher(), &url, &Reach::site("t", scope.clone()), &scope)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(url.as_str()), "{e}");
    assert!(e.to_string().contains("404"), "{e}");
}

// ------------------------------------------------ a unit bound by its site

/// Wall time the test sets.
struct Manual(std::sync::Mutex<DateTime<Utc>>);

impl Clock for Manual {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl Manual {
    fn advance(&self, d: chrono::Duration) {
        *self.0.lock().unwrap() += d;
    }
}

struct Bound {
    site: Site,
    _dir: tempfile::TempDir,
    cfg: Config,
    clock: Arc<Manual>,
}

impl Bound {
    /// A unit with a `site` and, unless `sources` says otherwise, no
    /// `[[unit.source]]`; publishing to files.
    fn new(site: Site, backfill: usize, sources: &str) -> Bound {
        let dir = tempfile::tempdir().unwrap();
        let path = site::config(
            dir.path(),
            &site,
            "county",
            "listen = \"127.0.0.1:0\"",
            &format!("backfill = {backfill}\n{sources}"),
        );
        let cfg = autosync::config::load(&path).expect("a unit with a site and no source is valid");
        // Beijing 2026-11-21 10:00.
        let start = Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap();
        Bound {
            site,
            _dir: dir,
            cfg,
            clock: Arc::new(Manual(std::sync::Mutex::new(start))),
        }
    }

    async fn once(&self) -> UnitReport {
        let ctx = Context::open(&self.cfg, self.clock.clone(), CancellationToken::new()).unwrap();
        let mut r = pipeline::run_pass(&ctx, &self.cfg, None).await;
        r.remove(0)
    }

    fn store_discovered(&self) -> autosync::store::Discovered {
        let store = autosync::store::Store::open(&self.cfg.daemon.state_dir).unwrap();
        store.discovered("county").unwrap()
    }

    fn status(&self) -> String {
        let store = autosync::store::Store::open(&self.cfg.daemon.state_dir).unwrap();
        let st = autosync::admin::status_at(&self.cfg, &store, self.clock.now()).unwrap();
        assert!(st.units[0].discovered.is_some(), "status --json carries it");
        autosync::admin::format_status(&st)
    }
}

fn titles(r: &UnitReport) -> Vec<&str> {
    r.published.iter().map(|p| p.title.as_str()).collect()
}

#[tokio::test]
async fn a_site_bound_unit_discovers_at_its_first_poll_without_publishing_the_backlog() {
    let site = Site::start();
    site.put_fixture("/", "dead_feed_home.html");
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 6));
    let b = Bound::new(site, 1, "");
    let r = b.once().await;
    assert!(r.ok(), "{r}");
    assert_eq!(r.found, 6, "{r}");
    // backfill = 1: the newest only; the other five are the baseline.
    assert_eq!(titles(&r), ["县科协第6期工作简报发布"], "{r}");
    let status = b.status();
    assert!(status.contains("county: bound by its site"), "{status}");
    assert!(status.contains("+ list http://"), "{status}");
    assert!(status.contains("/gzdt/ — section \"工作动态\""), "{status}");
    assert!(
        status.contains("- feed http://"),
        "the dead feed, rejected: {status}"
    );

    // The second poll polls what was found; it does not discover again.
    b.clock.advance(chrono::Duration::minutes(10));
    b.site.put_article(&site::Article {
        path: "/gzdt/202611/t20261121_2000.html".into(),
        title: "县科协召开科普志愿者大会".into(),
        date: "2026-11-21".into(),
    });
    let mut list = vec![site::Article {
        path: "/gzdt/202611/t20261121_2000.html".into(),
        title: "县科协召开科普志愿者大会".into(),
        date: "2026-11-21".into(),
    }];
    list.extend(articles("/gzdt/", "县科协", 6));
    b.site.put_list("/gzdt/", "工作动态", &list);
    let r = b.once().await;
    assert_eq!(titles(&r), ["县科协召开科普志愿者大会"], "{r}");
    assert_eq!(b.site.hits("/"), 1, "the home page is read once");
    assert_eq!(b.site.hits("/rss/old.xml"), 1);
}

#[tokio::test]
async fn configured_sources_win_and_the_home_page_is_never_read() {
    let site = Site::start();
    site.put_fixture("/", "dead_feed_home.html");
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 3));
    let list = format!("  [[unit.source]]\n  list = \"{}\"", site.url("/gzdt/"));
    let b = Bound::new(site, 0, &list);
    let r = b.once().await;
    assert!(r.ok(), "{r}");
    assert_eq!(r.found, 3);
    assert_eq!(b.site.hits("/"), 0);
    let store = autosync::store::Store::open(&b.cfg.daemon.state_dir).unwrap();
    assert_eq!(store.discovered("county").unwrap(), Default::default());
}

#[tokio::test]
async fn dry_discovered_sources_are_replaced_after_a_day_and_old_articles_stay_unpublished() {
    let site = Site::start();
    site.put_fixture("/", "dead_feed_home.html");
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 5));
    let b = Bound::new(site, 0, "");
    let r = b.once().await;
    assert!(r.published.is_empty() && r.new == 0, "backfill 0: {r}");

    // The site is redesigned: the old column is gone, a new one lists old
    // articles under new URLs and one new article.
    b.site.remove("/gzdt/");
    b.site.put(
        "/",
        "text/html; charset=utf-8",
        r#"<html><head><meta charset="utf-8"></head><body><ul class="nav"><li><a href="/">首页</a></li><li><a href="/xwdt/">新闻动态</a></li></ul></body></html>"#,
    );
    let mut list = vec![site::Article {
        path: "/xwdt/202611/t20261122_3000.html".into(),
        title: "县科协开展科技下乡活动".into(),
        date: "2026-11-22".into(),
    }];
    list.extend(articles("/xwdt/", "改版前", 8));
    b.site.put_list("/xwdt/", "新闻动态", &list);

    // Within the day: the old source fails, nothing is discovered again.
    b.clock.advance(chrono::Duration::hours(1));
    let r = b.once().await;
    assert!(!r.ok(), "the discovered list is gone: {r}");
    assert_eq!(b.site.hits("/"), 1);

    // Failing on: still within the day, still not discovered again.
    for _ in 0..2 {
        b.clock.advance(chrono::Duration::hours(8));
        b.once().await;
    }
    assert_eq!(b.site.hits("/"), 1);
    // A day after the discovery, its sources dry: discovered again. The
    // new column's entries dated before the last day entries were found
    // are old; the one after is news.
    b.clock.advance(chrono::Duration::hours(8));
    let r = b.once().await;
    assert_eq!(b.site.hits("/"), 2, "one re-discovery: {r}");
    assert_eq!(titles(&r), ["县科协开展科技下乡活动"], "{r}");
    let status = b.status();
    assert!(status.contains("stopped yielding entries"), "{status}");
    assert!(status.contains("+ list http://"), "{status}");
    b.clock.advance(chrono::Duration::hours(1));
    let r = b.once().await;
    assert!(r.ok() && r.new == 0, "{r}");
    assert_eq!(b.site.hits("/"), 2);
}

#[tokio::test]
async fn a_changed_home_page_is_discovered_again_but_new_headlines_are_no_change() {
    let site = Site::start();
    site.put_fixture("/", "dead_feed_home.html");
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 4));
    let b = Bound::new(site, 0, "");
    b.once().await;
    let first = b.store_discovered();

    // A day on, the day's headlines changed, not the sections: checked, kept.
    b.clock.advance(chrono::Duration::hours(25));
    let home = String::from_utf8(std::fs::read(fixture_path("dead_feed_home.html")).unwrap())
        .unwrap()
        .replace(
            "<p>欢迎访问示例县科学技术协会。</p>",
            r#"<ul><li><a href="/gzdt/202611/t20261122_5000.html">县科协召开党组理论学习中心组学习会议</a></li></ul>"#,
        );
    b.site.put("/", "text/html; charset=utf-8", home.clone());
    let r = b.once().await;
    assert!(r.ok(), "{r}");
    assert_eq!(b.site.hits("/"), 2, "the home page is checked once a day");
    let kept = b.store_discovered();
    assert_eq!(kept.at, first.at, "not discovered again");
    assert!(kept.checked_at > first.checked_at);

    // Another day, and a new section on the home page: discovered again.
    b.clock.advance(chrono::Duration::hours(25));
    let home = home.replace(
        r#"<li><a href="/ldjh/">"#,
        r#"<li><a href="/tzgg/">通知公告</a></li><li><a href="/ldjh/">"#,
    );
    b.site.put("/", "text/html; charset=utf-8", home);
    let mut notices = vec![site::Article {
        path: "/tzgg/202611/t20261123_6000.html".into(),
        title: "关于举办科普讲解大赛的通知".into(),
        date: "2026-11-23".into(),
    }];
    notices.extend(articles("/tzgg/", "旧通知", 5));
    b.site.put_list("/tzgg/", "通知公告", &notices);
    let r = b.once().await;
    let now = b.store_discovered();
    assert_eq!(now.trigger, Some(autosync::store::Trigger::HomeChanged));
    assert_eq!(now.sources().len(), 2, "{now:#?}");
    // The new section's notices from before the last day entries were
    // found are old; the one after is news.
    assert_eq!(titles(&r), ["关于举办科普讲解大赛的通知"], "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_polls_a_unit_bound_by_its_site() {
    let site = Site::start();
    site.put_fixture("/", "dead_feed_home.html");
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 3));
    let dir = tempfile::tempdir().unwrap();
    let path = site::config(
        dir.path(),
        &site,
        "county",
        "listen = \"127.0.0.1:0\"\nrun_at_start = true",
        "",
    );
    let cfg = autosync::config::load(&path).unwrap();
    let shutdown = CancellationToken::new();
    let ctx = Context::open(
        &cfg,
        Arc::new(autosync::clock::SystemClock),
        shutdown.clone(),
    )
    .unwrap();
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (c, metrics) = (ctx.clone(), Arc::new(autosync::metrics::Metrics::new()));
    let task = tokio::spawn(async move {
        let notifier = autosync::systemd::Notifier::default();
        autosync::daemon::run(path, cfg, c, notifier, metrics, rx).await
    });
    let key = format!("list:{}", site.url("/gzdt/"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !ctx.store.source_state("county", &key).unwrap().baselined {
        assert!(
            std::time::Instant::now() < deadline,
            "no poll of the discovered list"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = ctx.store.discovered("county").unwrap();
    assert_eq!(d.trigger, Some(autosync::store::Trigger::FirstPoll));
    assert_eq!(d.sources().len(), 1);
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_unreadable_home_page_fails_the_poll_and_is_tried_again_after_an_hour() {
    let site = Site::start();
    site.put_list("/gzdt/", "工作动态", &articles("/gzdt/", "县科协", 3));
    let b = Bound::new(site, 0, "");
    let r = b.once().await;
    assert!(!r.ok(), "{r}");
    let e = r.errors.join("\n");
    assert!(e.contains(&b.site.url("/")) && e.contains("404"), "{e}");
    // Ten minutes on: not tried again, but still said.
    b.clock.advance(chrono::Duration::minutes(10));
    let r = b.once().await;
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("no source discovered yet")),
        "{r}"
    );
    assert_eq!(b.site.hits("/"), 1);
    // The site is back; an hour later it is read again.
    b.site.put_fixture("/", "dead_feed_home.html");
    b.clock.advance(chrono::Duration::hours(1));
    let r = b.once().await;
    assert!(r.ok(), "{r}");
    assert_eq!(b.site.hits("/"), 2);
    assert_eq!(r.found, 3, "{r}");
    assert_eq!(
        b.store_discovered().trigger,
        Some(autosync::store::Trigger::Retry)
    );
}
