//! The editors' web page in a real browser: Debian's headless Chromium,
//! driven through chromedriver. Log in with a token, open a held item,
//! approve it, and see the daemon publish it; find items by search, state
//! and paging, read the counts, open one, read the audit log; push a link
//! by hand through its preview, edit the body, confirm — every page checked
//! for English sentences.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them). Where
//! they are missing the test says so and passes, except under CI (`CI` set),
//! where a missing browser is a failure.
//! `AUTOSYNC_SCREENSHOTS=DIR` saves the pages it visits as PNGs (the README's
//! screenshots come from there).

mod common;

use common::desk_world;
use common::english::assert_no_english;
use common::*;
use fantoccini::Locator;
use std::time::Duration;

const TOKEN: &str = "tok-browser-0123456789abcdef";

/// The demo daemon with one editor (王编辑, [`TOKEN`]) and its desk on a
/// free port, the province under manual review when `province_review`;
/// its address, config, log and process, once `/healthz` answers.
fn desk_daemon(
    w: &World,
    province_review: bool,
) -> (
    std::net::SocketAddr,
    std::path::PathBuf,
    std::path::PathBuf,
    std::process::Child,
) {
    std::fs::write(
        w.dir.path().join("editors.toml"),
        format!("[[editor]]\nname = \"王编辑\"\ntoken = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let listen = free_addr();
    let cfg = w.config(
        &format!(
            "listen = \"{listen}\"\neditors_file = \"editors.toml\"\nshutdown_timeout_secs = 5"
        ),
        "",
    );
    if province_review {
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "level = \"provincial\"",
            "level = \"provincial\"\nreview = \"manual\"",
        );
        std::fs::write(&cfg, text).unwrap();
    }
    let log = w.dir.path().join("daemon.log");
    let daemon = start_daemon(&cfg, &log);
    assert!(wait_for(Duration::from_secs(30), || {
        http_get(listen, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    }));
    (listen, cfg, log, daemon)
}

#[test]
fn an_editor_logs_in_approves_a_held_item_and_sees_it_published() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let w = World::new(Duration::ZERO);
    let (listen, cfg, log, mut daemon) = desk_daemon(&w, true);
    // Wait until the province's articles are held.
    let c = cfg.to_str().unwrap();
    assert!(wait_for(Duration::from_secs(30), || {
        let (_, out, _) = w.run(&[
            "items", "-c", c, "--token", TOKEN, "--state", "held", "--json",
        ]);
        out.lines().count() == autosync::demo::LIST_ARTICLES.len()
    }));

    let result = w.rt.block_on(async {
        let browser = Browser::start(&driver, 1280, 1000).await;
        let c = browser.client.clone();
        let base = format!("http://{listen}");
        let outcome: Result<String, fantoccini::error::CmdError> = async {
            // Not logged in: the desk sends us to the login page.
            c.goto(&format!("{base}/desk")).await?;
            until(&c, "name=\"token\"").await?;
            assert!(c.current_url().await?.as_str().ends_with("/desk/login"));
            shot(&c, "desk-login.png").await;
            c.find(Locator::Css("input[name=token]"))
                .await?
                .send_keys(TOKEN)
                .await?;
            c.form(Locator::Css("form[action='/desk/login']"))
                .await?
                .submit()
                .await?;
            let page = until(&c, "编辑：王编辑").await?;
            assert!(page.contains("待审核"), "{page}");
            shot(&c, "desk-items.png").await;
            // Open the first held item and approve it.
            c.find(Locator::XPath("//tr[td[contains(., '待审核')]]//a"))
                .await?
                .click()
                .await?;
            until(&c, "id=\"approve\"").await?;
            let title = c.find(Locator::Css("main h2")).await?.text().await?;
            shot(&c, "desk-item.png").await;
            c.find(Locator::Id("approve")).await?.click().await?;
            // The form posts and redirects back to the item with a message.
            until(&c, "已通过审核").await?;
            Ok(title)
        }
        .await;
        let title = outcome.map_err(|e| e.to_string());
        // The daemon's worker publishes it; the item page then says so.
        if let Ok(t) = &title {
            let mut published = false;
            for _ in 0..100 {
                if w.posts().iter().any(|p| &p.title == t) {
                    published = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert!(published, "approved item {t} was not published");
            c.refresh().await.unwrap();
            until(&c, "class=\"state-published\"").await.unwrap();
            shot(&c, "desk-published.png").await;
        }
        let _ = c.close().await;
        title
    });
    signal(&daemon, "-TERM");
    let _ = wait_exit(&mut daemon, Duration::from_secs(20));
    let title = result.unwrap_or_else(|e| {
        panic!(
            "browser: {e}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert_eq!(w.posts().iter().filter(|p| p.title == title).count(), 1);
}

/// Finding items as an editor does: the counts, a search, a state filter
/// paged through, an item opened, the audit log. Against an in-process
/// desk with enough items for three pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_finds_items_by_search_state_and_pages() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = desk_world::service(dir.path(), &desk_world::config_text(""));
    let store = &s.ctx.store;
    let now = chrono::Utc::now();
    for n in 0..120 {
        let found = now - chrono::Duration::minutes(n as i64 + 10);
        desk_world::put(
            store,
            "county",
            n,
            &format!("县科协第{n}期科普简报"),
            "feed:x",
            desk_world::held(),
            found,
        )
        .await;
    }
    let special = desk_world::put(
        store,
        "city",
        1,
        "市科协举办全国科普日主场活动",
        "feed:x",
        desk_world::held(),
        now,
    )
    .await;
    store.flush().await.unwrap();
    let config = s.config();
    let boss = config
        .editors
        .iter()
        .find(|e| e.name == "总台编辑")
        .unwrap();
    s.desk().approve(boss, &special.id).await.unwrap();
    let base = desk_world::serve(s.clone()).await;

    let browser = Browser::start(&driver, 1280, 1000).await;
    let c = browser.client.clone();
    let checked = |what: &'static str, page: String| {
        assert_no_english(what, &page, &[]);
        page
    };
    let outcome: Result<(), fantoccini::error::CmdError> = async {
        c.goto(&format!("{base}/desk/login")).await?;
        checked("login", until(&c, "name=\"token\"").await?);
        c.find(Locator::Css("input[name=token]"))
            .await?
            .send_keys(desk_world::ALL)
            .await?;
        c.form(Locator::Css("form[action='/desk/login']"))
            .await?
            .submit()
            .await?;
        // The counts say what waits, before any filter.
        let list = checked("list", until(&c, "编辑：总台编辑").await?);
        let counts = c.find(Locator::Css("p.counts")).await?.text().await?;
        assert!(
            counts.contains("待审核 120") && counts.contains("待发布 1"),
            "{counts}"
        );
        assert!(list.contains("第 1 页（共 3 页），共 121 条"), "{list}");
        shot(&c, "desk-list.png").await;
        // Search by title words.
        c.find(Locator::Css("input[name=q]"))
            .await?
            .send_keys("科普日")
            .await?;
        c.form(Locator::Css("form.filters")).await?.submit().await?;
        let found = checked("search", until(&c, "共 1 条").await?);
        assert!(found.contains("市科协举办全国科普日主场活动"), "{found}");
        shot(&c, "desk-search.png").await;
        // Clear, filter by state, page through.
        c.find(Locator::LinkText("清除条件")).await?.click().await?;
        until(&c, "共 121 条").await?;
        c.find(Locator::Css("select[name=state]"))
            .await?
            .select_by_value("held")
            .await?;
        c.form(Locator::Css("form.filters")).await?.submit().await?;
        checked("held", until(&c, "第 1 页（共 3 页），共 120 条").await?);
        c.find(Locator::LinkText("下一页")).await?.click().await?;
        checked("page 2", until(&c, "第 2 页（共 3 页）").await?);
        c.find(Locator::LinkText("下一页")).await?.click().await?;
        let last = checked("page 3", until(&c, "第 3 页（共 3 页）").await?);
        assert!(last.contains("县科协第119期科普简报"), "the oldest is last");
        assert!(c.find(Locator::LinkText("下一页")).await.is_err());
        // A count is a link to its state.
        c.find(Locator::XPath(
            "//p[@class='counts']/a[contains(., '待发布')]",
        ))
        .await?
        .click()
        .await?;
        checked("queued", until(&c, "共 1 条").await?);
        // Open the item.
        c.find(Locator::LinkText("市科协举办全国科普日主场活动"))
            .await?
            .click()
            .await?;
        checked("item", until(&c, "原文链接").await?);
        assert!(c.current_url().await?.path().ends_with(&special.id));
        // The audit log shows the approval in words.
        c.goto(&format!("{base}/desk/audit")).await?;
        let audit = checked("audit", until(&c, "审计日志").await?);
        assert!(
            audit.contains("通过") && audit.contains("示例市科协"),
            "{audit}"
        );
        shot(&c, "desk-audit.png").await;
        Ok(())
    }
    .await;
    let _ = c.close().await;
    s.ctx.shutdown.cancel();
    outcome.unwrap();
}

/// Pushing a link by hand as an editor does, in the real daemon: the push
/// page offers no account until one is chosen, the article is fetched and
/// shown before anything goes out, the body is edited (a paragraph
/// removed), and only 确认推送 publishes — the edited body, with the
/// unit's source line, once. Every page is checked for English.
#[test]
fn an_editor_previews_edits_and_confirms_a_hand_push() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let w = World::new(Duration::ZERO);
    let (listen, _, log, mut daemon) = desk_daemon(&w, false);
    let article = &autosync::demo::LIST_ARTICLES[0];
    let url = format!("http://{}{}", w.site_addr, article.path);
    let removed = "各市科协、省级学会负责同志参加会议。";
    let checked = |what: &'static str, page: String| {
        assert_no_english(what, &page, &[]);
        page
    };
    // The province publishes its own list unreviewed; only the city's
    // account, which the push goes to, counts here.
    let city_posts = || {
        autosync::publish::toutiao_mock::load_articles(&w.city_account_data)
            .into_iter()
            .filter(|p| p.title == article.title)
            .collect::<Vec<_>>()
    };

    let result = w.rt.block_on(async {
        let browser = Browser::start(&driver, 1280, 1000).await;
        let c = browser.client.clone();
        let base = format!("http://{listen}");
        let outcome: Result<(), fantoccini::error::CmdError> = async {
            c.goto(&format!("{base}/desk/login")).await?;
            until(&c, "name=\"token\"").await?;
            c.find(Locator::Css("input[name=token]"))
                .await?
                .send_keys(TOKEN)
                .await?;
            c.form(Locator::Css("form[action='/desk/login']"))
                .await?
                .submit()
                .await?;
            until(&c, "编辑：王编辑").await?;
            // The push page: no account chosen until the editor chooses.
            c.goto(&format!("{base}/desk/push")).await?;
            checked("push form", until(&c, "抓取并预览").await?);
            let chosen = c
                .find(Locator::Css("select[name=unit] option:checked"))
                .await?
                .text()
                .await?;
            assert_eq!(chosen, "请选择");
            c.find(Locator::Css("input[name=url]"))
                .await?
                .send_keys(&url)
                .await?;
            c.find(Locator::Css("select[name=unit]"))
                .await?
                .select_by_value("demo-city")
                .await?;
            shot(&c, "desk-push.png").await;
            c.find(Locator::Id("preview-push")).await?.click().await?;
            // The preview: fetched and shown, waiting for the confirm.
            let page = checked("push preview", until(&c, "id=\"confirm-push\"").await?);
            assert!(page.contains(article.title), "{page}");
            shot(&c, "desk-push-preview.png").await;
            // The preview's images come through the desk (the page's CSP
            // allows only its own origin) and do load.
            c.enter_frame(0).await?;
            let images = c
                .execute(
                    "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);",
                    vec![],
                )
                .await?;
            c.enter_parent_frame().await?;
            let images = images.as_array().cloned().unwrap_or_default();
            assert!(!images.is_empty(), "the preview shows no image");
            for i in &images {
                assert!(
                    i[0].as_str().is_some_and(|s| s.starts_with("/desk/image/")) && i[1] == true,
                    "a preview image not served and shown by the desk: {images:?}"
                );
            }
            assert!(city_posts().is_empty(), "published before the confirm");
            // Edit the body: open 修改正文, drop the last paragraph.
            c.find(Locator::XPath("//summary[contains(., '修改正文')]"))
                .await?
                .click()
                .await?;
            let area = c.find(Locator::Css("textarea[name=text]")).await?;
            let text = area.prop("value").await?.unwrap_or_default();
            assert!(text.contains(removed), "{text}");
            let edited: Vec<&str> = text.lines().filter(|l| !l.contains(removed)).collect();
            area.clear().await?;
            area.send_keys(&edited.join("\n")).await?;
            c.find(Locator::Id("edit-body")).await?.click().await?;
            checked("body saved", until(&c, "正文已保存").await?);
            assert!(city_posts().is_empty(), "published on a body edit");
            // Only the confirm publishes.
            c.find(Locator::Id("confirm-push")).await?.click().await?;
            checked("confirmed", until(&c, "已发布").await?);
            shot(&c, "desk-push-confirmed.png").await;
            Ok(())
        }
        .await;
        let _ = c.close().await;
        outcome.map_err(|e| e.to_string())
    });
    signal(&daemon, "-TERM");
    let _ = wait_exit(&mut daemon, Duration::from_secs(20));
    result.unwrap_or_else(|e| {
        panic!(
            "browser: {e}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    let posts = city_posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(!posts[0].content.contains(removed), "{}", posts[0].content);
    assert!(
        posts[0].content.contains("来源：示例市科学技术协会"),
        "{}",
        posts[0].content
    );
}
