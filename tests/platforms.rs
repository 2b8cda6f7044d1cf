//! Each platform kind behind the one `Publisher` seam, driven by the real
//! binary against its local double: configured in TOML, checked, built,
//! published once.

mod common;

use autosync::publish::toutiao_mock;
use autosync::publish::webhook::mock as webhook_mock;
use autosync::secret::Secret;
use common::*;
use std::time::Duration;

#[test]
fn a_unit_publishing_to_a_webhook_posts_each_article_once_signed() {
    let w = World::new(Duration::ZERO);
    let data = w.dir.path().join("webhook");
    std::fs::write(w.dir.path().join("hook-secret"), "s3cret-for-the-hook\n").unwrap();
    let addr = w.rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let opts = webhook_mock::MockOptions::new(&data, Secret::new("s3cret-for-the-hook"));
        tokio::spawn(webhook_mock::serve(l, opts, w.shutdown.clone()));
        addr
    });
    let cfg = w.config("", "");
    // The city's account is the province platform's receiver.
    w.replace_city_publisher(
        &cfg,
        &format!(
            "kind = \"webhook\"\n  url = \"http://{addr}/in\"\n  secret_file = \"hook-secret\"\n  account_name = \"省科普平台\""
        ),
    );
    let (code, out, err) = w.run(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");

    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let posts = webhook_mock::load_posts(&data);
    let mut titles: Vec<String> = posts.iter().map(|p| p.post.title.clone()).collect();
    titles.sort();
    let mut expected: Vec<String> = autosync::demo::FEED_ARTICLES
        .iter()
        .map(|a| a.title.to_string())
        .collect();
    expected.sort();
    assert_eq!(titles, expected, "{out}");
    for p in &posts {
        assert_eq!(p.post.account_name, "省科普平台");
        assert_eq!(p.post.unit, "demo-city");
        assert_eq!(p.key, p.post.id, "the idempotency key is the item id");
    }
    // Nothing twice.
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(webhook_mock::load_posts(&data).len(), expected.len());
}

#[test]
fn a_webhook_without_its_secret_is_a_config_error_naming_the_option() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config(
        "",
        "\n[[unit]]\nid = \"hook\"\naccount_name = \"平台\"\norg_name = \"某平台\"\nlevel = \"other\"\nsite = \"https://example.org/\"\n  [[unit.source]]\n  feed = \"https://example.org/rss.xml\"\n  [unit.publisher]\n  kind = \"webhook\"\n  url = \"https://example.org/in\"\n",
    );
    let (code, out, err) = w.run(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("hook") && err.contains("secret"), "{err}");
}

#[test]
fn a_unit_publishing_to_a_wechat_account_posts_each_article_once_with_its_source_url() {
    use autosync::publish::wechat::mock as wechat_mock;
    let w = World::new(Duration::ZERO);
    let data = w.dir.path().join("wechat");
    let wechat = w.wechat_city_account(&data, Duration::ZERO, Duration::from_secs(1800));
    let cfg = w.config("", "");
    w.replace_city_publisher(&cfg, &wechat);
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let published = wechat_mock::load_published(&data);
    let mut sources: Vec<String> = published
        .iter()
        .flat_map(|p| p.articles.iter().map(|a| a.content_source_url.clone()))
        .collect();
    sources.sort();
    let mut expected: Vec<String> = autosync::demo::FEED_ARTICLES
        .iter()
        .map(|a| format!("http://{}{}", w.site_addr, a.path))
        .collect();
    expected.sort();
    assert_eq!(sources, expected, "{out}");
    // Every body image is the platform's own (the site is named only in
    // the source line that closes the post).
    for p in &published {
        for a in &p.articles {
            let body = a.content.split("<p>来源：").next().unwrap_or_default();
            assert!(!body.contains(&w.site_addr.to_string()), "{}", a.content);
        }
    }
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(wechat_mock::load_published(&data).len(), expected.len());
}

/// "Two micro-platforms and one app": one unit, three accounts
/// (`[[unit.publisher]]`), each article published once to each — and a
/// paused account holds no other.
#[test]
fn a_unit_with_toutiao_wechat_and_a_webhook_publishes_each_article_once_to_each() {
    use autosync::publish::wechat::mock as wechat_mock;
    let w = World::new(Duration::ZERO);
    let (cfg, wechat_data, hook_data) = w.city_on_three_platforms("\n  daily_post_cap = 50");
    // The WeChat account refuses our address (IP whitelist): that account
    // pauses, named, and only that one.
    std::fs::create_dir_all(&wechat_data).unwrap();
    std::fs::write(wechat_data.join("fail_next"), "ip:203.0.113.7\n").unwrap();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("示例市科协公众号") && out.contains("203.0.113.7"),
        "{out}"
    );
    let feed = autosync::demo::FEED_ARTICLES.len();
    assert_eq!(
        toutiao_mock::load_articles(&w.city_account_data).len(),
        feed,
        "{out}"
    );
    assert_eq!(webhook_mock::load_posts(&hook_data).len(), feed, "{out}");
    assert!(wechat_mock::load_published(&wechat_data).is_empty());

    // Whitelisted: the WeChat account gets its share, once; nobody gets a
    // second.
    for _ in 0..2 {
        let (code, out) = w.once(&cfg);
        assert_eq!(code, 0, "{out}");
    }
    assert_eq!(
        toutiao_mock::load_articles(&w.city_account_data).len(),
        feed
    );
    assert_eq!(webhook_mock::load_posts(&hook_data).len(), feed);
    assert_eq!(wechat_mock::load_published(&wechat_data).len(), feed);
    let (_, status, _) = w.run(&["status", "-c", cfg.to_str().unwrap()]);
    let line = status
        .lines()
        .find(|l| l.starts_with("demo-city\t"))
        .unwrap();
    for account in [
        "示例市科协 (toutiao): ok",
        "示例市科协公众号 (wechat): ok",
        "省科普平台 (webhook): ok",
    ] {
        assert!(line.contains(account), "{account} in {status}");
    }
}

#[test]
fn two_publishers_for_one_account_name_are_a_config_error() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config(
        "",
        "\n[[unit]]\nid = \"twice\"\naccount_name = \"平台\"\norg_name = \"某平台\"\nlevel = \"other\"\nsite = \"https://example.org/\"\n  [[unit.source]]\n  feed = \"https://example.org/rss.xml\"\n  [[unit.publisher]]\n  kind = \"file\"\n  dir = \"a\"\n  [[unit.publisher]]\n  kind = \"file\"\n  dir = \"b\"\n",
    );
    let (code, out, err) = w.run(&["check", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("twice") && err.contains("account_name"),
        "{err}"
    );
}
