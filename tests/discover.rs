//! Site discovery (`source::discover`): home pages of the kinds unit sites
//! have — a GBK government CMS, a page announcing RSS and Atom, a dead feed
//! link, sections only in a menu — read from fixtures, then tested against
//! a local site the way the daemon fetches.

mod site;

use autosync::fetch::{FetchOptions, Fetcher, Reach};
use autosync::scope::SiteScope;
use autosync::source::discover::{self, Candidate, Discovery, Kind, Verdict};
use site::{Site, articles};
use std::time::Duration;
use url::Url;

fn fixture(name: &str) -> String {
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/discover/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
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
