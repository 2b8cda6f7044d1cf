//! Each platform kind behind the one `Publisher` seam, driven by the real
//! binary against its local double: configured in TOML, checked, built,
//! published once.

mod common;

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
    let wechat = w.wechat_city_account(&data, Duration::ZERO);
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
    // Every body image is the platform's own.
    for p in &published {
        for a in &p.articles {
            assert!(
                !a.content.contains(&w.site_addr.to_string()),
                "{}",
                a.content
            );
        }
    }
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(wechat_mock::load_published(&data).len(), expected.len());
}
