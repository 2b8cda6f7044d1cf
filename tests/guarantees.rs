//! "Nothing wrong ever goes out", as ops meet it: the real binary (`once`,
//! `run`, `status`) against the local sample site and mock accounts. Each
//! test is named after the failure it guards against; each failure was
//! reproduced on the code before the outbox.

mod common;

use autosync::demo::{Fault, OwnedArticle};
use autosync::publish::toutiao_mock;
use common::*;
use std::path::Path;
use std::time::Duration;

fn edit(path: &Path, f: impl Fn(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

fn province_posts(w: &World) -> Vec<toutiao_mock::MockArticle> {
    toutiao_mock::load_articles(&w.account_data)
}

const MAINTENANCE: &str =
    "<html><head><title>系统维护</title></head><body><p>网站维护中，请稍后访问。</p></body></html>";

#[test]
fn an_empty_first_poll_sets_no_baseline_and_old_articles_never_flood_the_account() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    edit(&cfg, |t| t.replace("backfill = 10", "backfill = 0"));
    // First poll: the list page is a maintenance page.
    w.site
        .set_fault("/xwzx/", Some(Fault::Body("text/html", MAINTENANCE.into())));
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "a warning, not a failure: {out}");
    assert!(out.contains("no entries found"), "{out}");
    let (_, status, _) = w.run(&["status", "-c", cfg.to_str().unwrap()]);
    let line = status
        .lines()
        .find(|l| l.starts_with("demo-province\t"))
        .unwrap();
    assert!(line.contains("no entries found"), "{status}");

    // The site is back: its list is the baseline (backfill 0), not news.
    w.site.set_fault("/xwzx/", None);
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert!(w.posts().is_empty(), "old articles published: {out}");

    // Gone again, and back with one article dated today: only that one.
    w.site
        .set_fault("/xwzx/", Some(Fault::Body("text/html", MAINTENANCE.into())));
    let (_, out) = w.once(&cfg);
    assert!(out.contains("no entries found any more"), "{out}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d")
        .to_string();
    w.site.add_list_article(OwnedArticle {
        path: "/xwzx/202611/t20261130_2001.html".into(),
        title: "省科协召开年度工作总结会议".into(),
        date: today,
        body: "<p>省科协召开年度工作总结会议，回顾全年工作，部署下一阶段重点任务。</p><p>会议要求各级科协组织进一步加强科普阵地建设。</p>".into(),
    });
    w.site.set_fault("/xwzx/", None);
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let titles: Vec<String> = w.posts().into_iter().map(|p| p.title).collect();
    assert_eq!(titles, ["省科协召开年度工作总结会议"], "{out}");
}

#[test]
fn a_cookie_of_another_account_pauses_that_account_and_posts_nothing_there() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    // The city's publisher is bound to the province's account by mistake.
    let city = format!("base_url = \"http://{}\"", w.city_account_addr);
    let province = format!("base_url = \"http://{}\"", w.account_addr);
    edit(&cfg, |t| t.replace(&city, &province));
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    let block = out.split("FAILED demo-city").nth(1).expect(&out);
    assert!(
        block.contains("示例省科协") && block.contains("示例市科协"),
        "the pause names both accounts: {out}"
    );
    // The province's own posts only; none of the city's feed.
    let titles: Vec<String> = province_posts(&w).into_iter().map(|p| p.title).collect();
    assert_eq!(titles.len(), autosync::demo::LIST_ARTICLES.len(), "{out}");
    for a in autosync::demo::FEED_ARTICLES {
        assert!(
            !titles.contains(&a.title.to_string()),
            "{} on the wrong account",
            a.title
        );
    }
    let (_, status, _) = w.run(&["status", "-c", cfg.to_str().unwrap()]);
    let line = status
        .lines()
        .find(|l| l.starts_with("demo-city\t"))
        .unwrap();
    assert!(line.contains("paused"), "{status}");
    // Fixed: the city's items go to the city's account, once.
    edit(&cfg, |t| {
        let mut parts = t.rsplitn(2, &province);
        let (tail, head) = (parts.next().unwrap(), parts.next().unwrap());
        format!("{head}{city}{tail}")
    });
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        toutiao_mock::load_articles(&w.city_account_data).len(),
        autosync::demo::FEED_ARTICLES.len()
    );
}

#[test]
fn a_short_retry_after_is_waited_out_in_once_and_is_no_failure() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    std::fs::create_dir_all(&w.account_data).unwrap();
    std::fs::write(
        w.account_data.join("fail_next"),
        "status:429:retry-after=1\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    assert_eq!(
        province_posts(&w).len(),
        autosync::demo::LIST_ARTICLES.len(),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited too long"
    );
}

#[test]
fn a_long_retry_after_keeps_the_items_queued_and_is_honoured_by_the_next_pass() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    std::fs::create_dir_all(&w.account_data).unwrap();
    std::fs::write(
        w.account_data.join("fail_next"),
        "status:429:retry-after=3600\n",
    )
    .unwrap();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "a rate limit is not a failure: {out}");
    assert!(out.contains("stay queued until"), "{out}");
    assert!(province_posts(&w).is_empty(), "{out}");
    // The next pass does not knock again before the time.
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert!(province_posts(&w).is_empty(), "{out}");
    let (_, status, _) = w.run(&["status", "-c", cfg.to_str().unwrap()]);
    let line = status
        .lines()
        .find(|l| l.starts_with("demo-province\t"))
        .unwrap();
    assert!(line.contains("rate limited until"), "{status}");
}

#[test]
fn once_keeps_the_daily_cap_and_the_spacing() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    edit(&cfg, |t| {
        t.replace(
            "level = \"provincial\"",
            "level = \"provincial\"\ndaily_post_cap = 2\nmin_post_interval_secs = 2",
        )
    });
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("daily_post_cap of 2"), "{out}");
    let mut times: Vec<i64> = province_posts(&w).iter().map(|p| p.create_time).collect();
    times.sort();
    assert_eq!(times.len(), 2, "{out}");
    assert!(times[1] - times[0] >= 1, "posts not spaced: {times:?}");
    // The cap holds across passes (it counts the day's posts in the store).
    let (_, out) = w.once(&cfg);
    assert_eq!(province_posts(&w).len(), 2, "{out}");
}

/// Reload by value: a unit inserted at the top restarts no other unit; a
/// renewed cookie plus a reload resumes a paused account at once.
#[test]
fn a_reload_restarts_only_changed_units_and_resumes_a_paused_account_at_once() {
    let w = World::new(Duration::ZERO);
    let log = w.dir.path().join("daemon.log");
    let listen = free_addr();
    let cfg = w.config(
        &format!("listen = \"{listen}\"\nshutdown_timeout_secs = 5"),
        "",
    );
    std::fs::create_dir_all(&w.account_data).unwrap();
    std::fs::write(w.account_data.join("expired"), "").unwrap();
    let mut child = start_daemon(&cfg, &log);
    let paused = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("account paused")
    });
    let city_done = wait_for(Duration::from_secs(30), || {
        toutiao_mock::load_articles(&w.city_account_data).len()
            == autosync::demo::FEED_ARTICLES.len()
    });
    // Renewed, and a unit inserted above the others.
    std::fs::remove_file(w.account_data.join("expired")).unwrap();
    let extra_unit = format!(
        "[[unit]]\nid = \"demo-new\"\naccount_name = \"示例县科协\"\norg_name = \"示例县科学技术协会\"\nlevel = \"county\"\nparent = \"demo-city\"\nsite = \"http://{}/\"\n  [[unit.source]]\n  feed = \"http://{}/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out-new\"\n\n",
        w.site_addr, w.site_addr
    );
    edit(&cfg, |t| {
        t.replacen("[[unit]]", &format!("{extra_unit}[[unit]]"), 1)
    });
    signal(&child, "-HUP");
    let resumed = wait_for(Duration::from_secs(20), || {
        province_posts(&w).len() == autosync::demo::LIST_ARTICLES.len()
    });
    // The unit added by the reload polled at once (`run_at_start`), not at
    // its first scheduled time.
    let new_polled = wait_for(Duration::from_secs(20), || {
        http_get(listen, "/status").is_some_and(|r| {
            let body = r.split("\r\n\r\n").nth(1).unwrap_or("");
            serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    v["units"]
                        .as_array()?
                        .iter()
                        .find(|u| u["unit"] == "demo-new")
                        .map(|u| !u["last_poll"].is_null())
                })
                .unwrap_or(false)
        })
    });
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let text = strip_ansi(&std::fs::read_to_string(&log).unwrap_or_default());
    assert!(paused && city_done, "{text}");
    assert!(
        resumed,
        "the paused account did not resume on reload\n{text}"
    );
    assert!(
        new_polled,
        "the unit added by reload did not poll at once\n{text}"
    );
    let reloaded = text
        .lines()
        .find(|l| l.contains("config reloaded"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        reloaded.contains("stopped=0") && reloaded.contains("started=1"),
        "{reloaded}"
    );
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{text}");
}

/// The log without terminal colours.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An account that cannot be reached at all fails the unit's pass at once
/// (its items stay queued); `once` never waits on it in a loop.
#[test]
fn an_unreachable_account_fails_the_pass_without_waiting_and_keeps_the_items() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    let province = format!("base_url = \"http://{}\"", w.account_addr);
    edit(&cfg, |t| {
        t.replace(&province, "base_url = \"http://127.0.0.1:9\"")
    });
    let started = std::time::Instant::now();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 3, "{out}");
    assert!(started.elapsed() < Duration::from_secs(30), "{out}");
    let block = out.split("FAILED demo-province").nth(1).expect(&out);
    assert!(block.contains("stay queued"), "{out}");
    // Back: everything goes out, once.
    edit(&cfg, |t| {
        t.replace("base_url = \"http://127.0.0.1:9\"", &province)
    });
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        province_posts(&w).len(),
        autosync::demo::LIST_ARTICLES.len(),
        "{out}"
    );
}

/// A feed's own title wins over the page's: an entry with a full Chinese
/// title whose article page carries only a placeholder `<title>` and no
/// heading was posted under the placeholder.
#[test]
fn a_feed_title_wins_over_a_placeholder_page_title() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    let site = w.site_addr;
    let feed = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>http://{site}/</link>
<item><title>全国科普日主场活动在我市科技馆隆重开幕</title><link>http://{site}/kpzx/p1.html</link><guid>p1</guid><description>摘要</description><pubDate>Mon, 30 Nov 2026 09:00:00 +0800</pubDate></item>
</channel></rss>"#
    );
    w.site
        .set_fault("/rss.xml", Some(Fault::Body("application/rss+xml", feed)));
    let body = "<p>全国科普日主场活动今天在市科技馆开幕，来自全市的青少年和市民参加了开幕式，现场设置了多个科普展区。</p>".repeat(4);
    w.site.set_fault(
        "/kpzx/p1.html",
        Some(Fault::Body(
            "text/html",
            format!("<html><head><title>新闻1</title></head><body><div class=\"content\">{body}</div></body></html>"),
        )),
    );
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let titles: Vec<String> = toutiao_mock::load_articles(&w.city_account_data)
        .into_iter()
        .map(|p| p.title)
        .collect();
    assert_eq!(titles, ["全国科普日主场活动在我市科技馆隆重开幕"], "{out}");
}
