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
use fantoccini::{ClientBuilder, Locator};
use std::process::{Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "tok-browser-0123456789abcdef";

fn chromedriver() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_string)
}

async fn shot(c: &fantoccini::Client, name: &str) {
    if let Ok(dir) = std::env::var("AUTOSYNC_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(name), png).unwrap();
    }
}

/// Wait (up to 15 s) until the page shows `text`: clicks and submits
/// return before the next page has loaded.
async fn until(c: &fantoccini::Client, text: &str) -> Result<String, fantoccini::error::CmdError> {
    let mut page = String::new();
    for _ in 0..150 {
        page = c.source().await?;
        if page.contains(text) {
            return Ok(page);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the page never showed {text:?}: {}\n{page}",
        c.current_url().await?
    );
}

#[test]
fn an_editor_logs_in_approves_a_held_item_and_sees_it_published() {
    let Some(driver) = chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium-driver installed"
        );
        eprintln!("chromedriver not installed: browser test skipped");
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

    let port = free_addr().port();
    let mut driver = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let result = w.rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let mut client = None;
        for _ in 0..50 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        let c = client.expect("chromedriver did not start");
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
    let _ = driver.kill();
    let _ = driver.wait();
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
