//! The editors' web page in a real browser: Debian's headless Chromium,
//! driven through chromedriver. Log in with a token, open a held item,
//! approve it, and see the daemon publish it.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them). Where
//! they are missing the test says so and passes, except under CI (`CI` set),
//! where a missing browser is a failure.
//! `AUTOSYNC_SCREENSHOTS=DIR` saves the pages it visits as PNGs (the README's
//! screenshots come from there).

mod common;

use common::*;
use fantoccini::Locator;
use std::time::Duration;

const TOKEN: &str = "tok-browser-0123456789abcdef";

#[test]
fn an_editor_logs_in_approves_a_held_item_and_sees_it_published() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let w = World::new(Duration::ZERO);
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
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "level = \"provincial\"",
        "level = \"provincial\"\nreview = \"manual\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let log = w.dir.path().join("daemon.log");
    let mut daemon = start_daemon(&cfg, &log);
    assert!(wait_for(Duration::from_secs(30), || {
        http_get(listen, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    }));
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
