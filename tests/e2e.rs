//! End to end: a local website and a local mock account, and the real
//! `autosync once` binary between them.

mod common;

use autosync::demo::{Fault, OwnedArticle};
use autosync::publish::toutiao_mock;
use common::{ACCOUNT_CSRF, ACCOUNT_SESSION, World};
use std::time::Duration;

/// The account cookie's values appear nowhere in `text`.
fn assert_no_account_secret(text: &str, what: &str) {
    for secret in [ACCOUNT_SESSION, ACCOUNT_CSRF] {
        // An empty needle is found everywhere: the check would fail for
        // nothing, or, negated by mistake, pass for nothing.
        assert!(secret.len() >= 8, "{secret:?} is no needle");
        let leaks: Vec<&str> = text.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "the account cookie ({secret}) leaked into {what}:\n{}",
            leaks.join("\n")
        );
    }
}

fn titles(posts: &[toutiao_mock::MockArticle]) -> Vec<String> {
    let mut t: Vec<String> = posts.iter().map(|p| p.title.clone()).collect();
    t.sort();
    t
}

#[test]
fn one_pass_publishes_each_article_once_and_a_new_article_exactly_once() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");

    let posts = w.posts();
    let mut expected: Vec<String> = autosync::demo::LIST_ARTICLES
        .iter()
        .chain(autosync::demo::FEED_ARTICLES)
        .map(|a| a.title.to_string())
        .collect();
    expected.sort();
    assert_eq!(titles(&posts), expected, "{out}");

    // Bodies: the article, not the page around it; GBK-only characters intact.
    let meeting = posts
        .iter()
        .find(|p| p.title.contains("学会工作会议"))
        .unwrap();
    assert!(meeting.content.contains("朱镕基"), "{}", meeting.content);
    for p in &posts {
        for junk in ["上一篇", "版权所有", "分享到", "热点排行", "首页"] {
            assert!(
                !p.content.contains(junk),
                "{junk} in post {}: {}",
                p.title,
                p.content
            );
        }
        // Every image is an uploaded one.
        for img in p.content.split("<img").skip(1) {
            assert!(
                img.contains("web_uri"),
                "image not uploaded in {}: {}",
                p.title,
                p.content
            );
        }
    }
    let with_images = posts.iter().filter(|p| p.content.contains("<img")).count();
    assert!(
        with_images >= 3,
        "expected the sample images uploaded: {out}"
    );

    // A second pass finds nothing new.
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.posts().len(), expected.len(), "{out}");

    // One new article: exactly one new post.
    w.site.add_list_article(OwnedArticle {
        path: "/xwzx/202611/t20261125_1004.html".into(),
        title: "省科协党组召开理论学习中心组会议".into(),
        date: "2026-11-25".into(),
        body: "<p>11月25日，省科协党组召开理论学习中心组学习会议，传达学习有关会议精神，研究部署贯彻落实工作。</p><p>会议强调，要把学习成果转化为推动科协事业高质量发展的实际成效。</p>".into(),
    });
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let posts = w.posts();
    assert_eq!(posts.len(), expected.len() + 1, "{out}");
    assert_eq!(
        posts
            .iter()
            .filter(|p| p.title == "省科协党组召开理论学习中心组会议")
            .count(),
        1
    );
}

#[test]
fn bad_inputs_fail_their_unit_clearly_and_lose_nothing() {
    let w = World::new(Duration::ZERO);
    let site = w.site_addr;
    let account = w.account_addr;
    // Units that each meet one kind of bad input; the demo units stay healthy.
    let unit = |id: &str, source: &str| {
        format!(
            r#"
[[unit]]
id = "{id}"
account_name = "测试{n}"
org_name = "测试单位"
level = "county"
site = "http://{site}/"
backfill = 10
  [[unit.source]]
  {source}
  [unit.publisher]
  kind = "toutiao"
  base_url = "http://{account}"
  cookie_file = "cookie"
"#,
            n = id.len()
        )
    };
    let mut extra = String::new();
    extra.push_str(
        &unit("unreachable", "list = \"http://127.0.0.1:9/xwzx/\"")
            .replace(&format!("\"http://{site}/\""), "\"http://127.0.0.1:9/\""),
    );
    extra.push_str(&unit(
        "notfound",
        &format!("list = \"http://{site}/missing/\""),
    ));
    extra.push_str(&unit(
        "err-500",
        &format!("list = \"http://{site}/broken/\""),
    ));
    extra.push_str(&unit(
        "bad-feed",
        &format!("feed = \"http://{site}/bad.xml\""),
    ));
    extra.push_str(&unit(
        "odd-pages",
        &format!("feed = \"http://{site}/odd.xml\""),
    ));
    w.site.set_fault("/broken/", Some(Fault::Status(500)));
    w.site.set_fault(
        "/bad.xml",
        Some(Fault::Body(
            "application/rss+xml",
            "<rss><channel><item><title>断了".into(),
        )),
    );
    let odd_feed = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://{site}/</link>
<item><title>不是文章的页面</title><link>http://{site}/odd/nav.html</link><guid>odd-1</guid></item>
<item><title>超大的页面</title><link>http://{site}/odd/huge.html</link><guid>odd-2</guid></item>
</channel></rss>"#
    );
    w.site.set_fault(
        "/odd.xml",
        Some(Fault::Body("application/rss+xml", odd_feed)),
    );
    w.site.set_fault(
        "/odd/nav.html",
        Some(Fault::Body(
            "text/html",
            "<html><body><ul><li><a href=\"/\">首页</a></li></ul></body></html>".into(),
        )),
    );
    w.site
        .set_fault("/odd/huge.html", Some(Fault::Huge(20 * 1024 * 1024)));
    let cfg = w.config("", &extra);

    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    // Units are printed as they finish, in any order: the first line too
    // starts a block.
    let framed = format!("\n{out}");
    for (id, needle) in [
        ("unreachable", "127.0.0.1:9"),
        ("notfound", "/missing/"),
        ("err-500", "500"),
        ("bad-feed", "/bad.xml"),
        ("odd-pages", "/odd/nav.html"),
        ("odd-pages", "/odd/huge.html"),
    ] {
        let block = framed
            .split("\nFAILED ")
            .find(|b| b.starts_with(&format!("{id}:")))
            .unwrap_or_else(|| panic!("unit {id} not reported as failed:\n{out}"));
        let block = block.split("\nok ").next().unwrap();
        assert!(
            block.contains(needle),
            "unit {id}: {needle} not in its report:\n{out}"
        );
    }
    // The healthy units still published everything.
    let healthy = autosync::demo::LIST_ARTICLES.len() + autosync::demo::FEED_ARTICLES.len();
    assert_eq!(w.posts().len(), healthy, "{out}");

    // A second pass publishes nothing twice.
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    assert_eq!(w.posts().len(), healthy, "{out}");
}

#[test]
fn a_source_that_recovers_from_500_is_published_once() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    w.site.set_fault("/rss.xml", Some(Fault::Status(500)));
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("FAILED demo-city"), "{out}");
    assert!(out.contains("/rss.xml: HTTP 500"), "{out}");
    let list_only = autosync::demo::LIST_ARTICLES.len();
    assert_eq!(w.posts().len(), list_only, "{out}");

    w.site.set_fault("/rss.xml", None);
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let posts = w.posts();
    assert_eq!(
        posts.len(),
        list_only + autosync::demo::FEED_ARTICLES.len(),
        "{out}"
    );
    let mut t = titles(&posts);
    t.dedup();
    assert_eq!(
        t.len(),
        posts.len(),
        "an article was published twice: {out}"
    );
}

#[test]
fn an_expired_login_pauses_the_account_and_keeps_its_items_queued() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    std::fs::create_dir_all(&w.account_data).unwrap();
    std::fs::write(w.account_data.join("expired"), "").unwrap();
    // Every log level: the failing login is where a cookie would be echoed.
    // A full directive: a bare level would be autosync's only.
    let (code, out, err) = w.run_logging(
        "trace,autosync=trace",
        &["once", "-c", cfg.to_str().unwrap()],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("FAILED demo-province"), "{out}");
    assert!(out.contains("login"), "{out}");
    assert_no_account_secret(&out, "the summary");
    assert_no_account_secret(&err, "the logs");
    // Only the expired account is paused: the city's own account posted.
    assert!(toutiao_mock::load_articles(&w.account_data).is_empty());
    assert_eq!(
        toutiao_mock::load_articles(&w.city_account_data).len(),
        autosync::demo::FEED_ARTICLES.len(),
        "{out}"
    );

    // The cookie is renewed: everything queued goes out, once. The mock
    // accepts only the test's session, so these posts also prove the values
    // looked for above are the ones the binary holds.
    std::fs::remove_file(w.account_data.join("expired")).unwrap();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let all = autosync::demo::LIST_ARTICLES.len() + autosync::demo::FEED_ARTICLES.len();
    assert_eq!(w.posts().len(), all, "{out}");
}

#[test]
fn a_gone_source_is_disabled_and_a_moved_one_is_followed_and_reported() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    // The feed moved for good; the list page is gone.
    w.site.set_fault(
        "/rss.xml",
        Some(Fault::Redirect(301, "/feeds/news.xml".into())),
    );
    w.site.set_fault("/xwzx/", Some(Fault::Status(410)));
    // (The sample site serves the same feed at /feeds/news.xml.)
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("FAILED demo-province"), "{out}");
    assert!(out.contains("410"), "{out}");
    // The moved feed was followed and its articles published, with a warning.
    assert!(out.contains("moved permanently"), "{out}");
    assert_eq!(
        w.posts().len(),
        autosync::demo::FEED_ARTICLES.len(),
        "{out}"
    );

    // Next pass: the gone source is not fetched again; ops are told.
    let (_, out) = w.once(&cfg);
    assert!(out.contains("disabled after 410 Gone"), "{out}");
}

#[test]
fn status_reads_the_store_when_no_daemon_runs_and_logs_can_be_json() {
    let w = World::new(Duration::ZERO);
    // A listener nobody serves: status must fall back to the store.
    let cfg = w.config("listen = \"127.0.0.1:9\"", "");
    w.site.set_fault("/rss.xml", Some(Fault::Status(503)));
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    let c = cfg.to_str().unwrap();
    let (code, out, err) = w.run(&["status", "-c", c]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from the store"), "{out}");
    let city = out.lines().find(|l| l.starts_with("demo-city\t")).unwrap();
    assert!(city.contains("HTTP 503"), "{city}");
    let province = out
        .lines()
        .find(|l| l.starts_with("demo-province\t"))
        .unwrap();
    let cols: Vec<&str> = province.split('\t').collect();
    assert_eq!(
        cols[6],
        autosync::demo::LIST_ARTICLES.len().to_string(),
        "published column: {province}"
    );

    // JSON logs: every stderr line is a JSON object with a level.
    let (_, _, err) = w.run_logging("debug", &["--log-format", "json", "once", "-c", c]);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v.get("level").is_some(), "{l}");
    }
    assert_no_account_secret(&err, "the JSON logs");
}
