//! Every post names its source: the unit's source line reaches toutiao,
//! WeChat and webhook posts once, at the end, escaped; a unit that turned
//! it off gets none; `[defaults]` applies; a bad template is a config error.

mod common;

use autosync::publish::toutiao_mock;
use autosync::publish::webhook::mock as webhook_mock;
use autosync::publish::wechat::mock as wechat_mock;
use common::*;
use std::path::PathBuf;
use std::time::Duration;

const CITY_LINE: &str = "来源：示例市科学技术协会";

/// The city on toutiao, WeChat and a webhook (default line); the province
/// on toutiao with the line turned off.
fn three_platforms(w: &World) -> (PathBuf, PathBuf, PathBuf) {
    let (cfg, wechat_data, hook_data) = w.city_on_three_platforms("");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "org_name = \"示例省科学技术协会\"\n",
        "org_name = \"示例省科学技术协会\"\nsource_line = \"\"\n",
    );
    std::fs::write(&cfg, text).unwrap();
    (cfg, wechat_data, hook_data)
}

/// The line, once, closing `body`, with the article's own address.
fn closes_once(body: &str, platform: &str) {
    assert_eq!(body.matches(CITY_LINE).count(), 1, "{platform}: {body}");
    assert_eq!(body.matches("原文链接：").count(), 1, "{platform}: {body}");
    let at = body.find(CITY_LINE).unwrap();
    let tail = &body[at..];
    assert!(
        tail.contains("/kpzx/"),
        "{platform}: no source URL in {tail}"
    );
    // Nothing of the body follows the line.
    assert!(
        !tail.contains("<img") && tail.matches("<p").count() <= 2,
        "{platform}: {tail}"
    );
}

#[test]
fn every_platform_gets_the_source_line_once_at_the_end_and_a_unit_with_it_off_gets_none() {
    let w = World::new(Duration::ZERO);
    let (cfg, wechat_data, hook_data) = three_platforms(&w);
    // Twice: a second pass sends nothing again and adds nothing twice.
    for _ in 0..2 {
        let (code, out) = w.once(&cfg);
        assert_eq!(code, 0, "{out}");
    }
    let feed = autosync::demo::FEED_ARTICLES.len();
    let toutiao = toutiao_mock::load_articles(&w.city_account_data);
    assert_eq!(toutiao.len(), feed);
    for a in &toutiao {
        closes_once(&a.content, "toutiao");
        assert!(
            a.content.contains("原文链接：<a href=\"http://"),
            "{}",
            a.content
        );
    }
    let wechat = wechat_mock::load_published(&wechat_data);
    assert_eq!(wechat.len(), feed);
    for p in &wechat {
        closes_once(&p.articles[0].content, "wechat");
    }
    let hooks = webhook_mock::load_posts(&hook_data);
    assert_eq!(hooks.len(), feed);
    for p in &hooks {
        closes_once(&p.post.content_html, "webhook html");
        assert!(
            p.post
                .text
                .trim_end()
                .ends_with(&format!("原文链接：{}", p.post.url)),
            "webhook text: {}",
            p.post.text
        );
        assert_eq!(p.post.text.matches(CITY_LINE).count(), 1);
    }
    // The province turned it off.
    let province = toutiao_mock::load_articles(&w.account_data);
    assert!(!province.is_empty());
    for a in &province {
        assert!(
            !a.content.contains("来源：") && !a.content.contains("原文链接："),
            "{}",
            a.content
        );
    }
}

#[test]
fn the_defaults_source_line_applies_to_units_without_their_own() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[fetch]\n",
        "[defaults]\nsource_line = \"转自{name}（{org_name}） <{url}>\"\n\n[fetch]\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let posts = toutiao_mock::load_articles(&w.account_data);
    assert!(!posts.is_empty());
    for a in &posts {
        assert_eq!(
            a.content
                .matches("转自示例省科协（示例省科学技术协会） &lt;")
                .count(),
            1,
            "{}",
            a.content
        );
        assert!(!a.content.contains("原文链接："), "{}", a.content);
    }
}

#[test]
fn an_unknown_placeholder_is_a_config_error_naming_file_line_and_unit() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "org_name = \"示例市科学技术协会\"\n",
        "org_name = \"示例市科学技术协会\"\nsource_line = \"来源：{orgname}\"\n",
    );
    let line = text
        .lines()
        .position(|l| l.starts_with("source_line"))
        .unwrap()
        + 1;
    std::fs::write(&cfg, text).unwrap();
    let (code, out, err) = w.run(&["check", "-c", cfg.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    let want = format!(
        "{}:{line}: unit demo-city: source_line: unknown placeholder {{orgname}}",
        cfg.display()
    );
    assert!(
        err.contains(&want) || out.contains(&want),
        "{want} in {out}{err}"
    );
}
