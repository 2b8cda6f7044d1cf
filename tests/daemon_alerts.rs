//! The watch end to end, through the real binary and a webhook alert
//! target on loopback. The daemon, with an account paused in its store:
//! the alert arrives once, `/metrics` and `status --json` show the
//! account's state, `GET /` leads to the desk, and the robot's URL appears
//! nowhere in the log. `once` (cron, no daemon) alerts its pass's changes.

mod common;

use autosync::model::{AccountKey, AccountState, Pause, PauseReason};
use common::{World, free_addr, http_get, signal, start_daemon, wait_exit, wait_for};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "hook-token-5e1f0c2a";

type Received = Arc<Mutex<Vec<serde_json::Value>>>;

/// The demo world with the province's account expired (its pause is not
/// lifted), and a webhook receiver: its address and what it received.
fn world_with_an_expired_account_and_a_receiver() -> (World, std::net::SocketAddr, Received) {
    let w = World::new(Duration::ZERO);
    std::fs::create_dir_all(&w.account_data).unwrap();
    std::fs::write(w.account_data.join("expired"), "").unwrap();
    let got: Received = Arc::default();
    let robot = w.rt.block_on(async {
        let got = got.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let got = got.clone();
            async move {
                got.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or_default());
                "ok"
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    });
    (w, robot, got)
}

fn webhook_target(robot: std::net::SocketAddr) -> String {
    format!("\n[[daemon.alert]]\nkind = \"webhook\"\nurl = \"http://{robot}/hooks/{TOKEN}\"\n")
}

fn paused_alerts(got: &Received, unit: &str) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|v| v["event"] == "account_paused" && v["unit"] == unit)
        .count()
}

#[test]
fn once_alerts_what_its_pass_changed_once() {
    let (w, robot, got) = world_with_an_expired_account_and_a_receiver();
    let cfg = w.config("", &webhook_target(robot));
    let (code, out, err) = w.run(&["once", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(
        paused_alerts(&got, "demo-province"),
        1,
        "{:?}\n{err}",
        got.lock().unwrap()
    );
    // Still paused at the next pass: nothing new.
    w.run(&["once", "-c", cfg.to_str().unwrap()]);
    assert_eq!(
        paused_alerts(&got, "demo-province"),
        1,
        "{:?}",
        got.lock().unwrap()
    );
    assert!(!err.contains(TOKEN), "{err}");
}

#[test]
fn the_daemon_alerts_a_paused_account_once_and_shows_its_state() {
    let (w, robot, got) = world_with_an_expired_account_and_a_receiver();
    let listen = free_addr();
    let cfg = w.config(
        &format!("listen = \"{listen}\"\nsummary_every_mins = 1"),
        &webhook_target(robot),
    );
    let config = autosync::config::load(&cfg).unwrap();
    let unit = config.unit("demo-province").unwrap();
    let account = unit.accounts[0].name.clone();
    {
        let store = autosync::store::Store::open(&config.daemon.state_dir).unwrap();
        let st = AccountState {
            paused: Some(Pause {
                reason: PauseReason::LoginExpired {
                    detail: "test".into(),
                },
                since: chrono::Utc::now(),
            }),
            ..Default::default()
        };
        let key = AccountKey {
            unit: unit.id.clone(),
            account: account.clone(),
        };
        w.rt.block_on(store.put_account_state(&key, &st)).unwrap();
    }
    let log = w.dir.path().join("daemon.log");
    let mut child = start_daemon(&cfg, &log);
    let arrived = wait_for(Duration::from_secs(60), || {
        paused_alerts(&got, "demo-province") >= 1
    });
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        arrived,
        "no alert: {:?}\n{}",
        got.lock().unwrap(),
        log_text()
    );
    let alert = got
        .lock()
        .unwrap()
        .iter()
        .find(|v| v["event"] == "account_paused")
        .cloned()
        .unwrap();
    assert_eq!(alert["account"], account.as_str());
    assert!(
        alert["text"].as_str().unwrap().contains("暂停发布"),
        "{alert}"
    );

    let metrics = http_get(listen, "/metrics").unwrap();
    let series = format!(
        "autosync_account_state{{unit=\"demo-province\",account=\"{account}\",state=\"paused\"}} 1"
    );
    assert!(metrics.contains(&series), "{metrics}");
    let root = http_get(listen, "/").unwrap();
    assert!(root.starts_with("HTTP/1.1 30"), "{root}");
    assert!(
        root.to_ascii_lowercase().contains("location: /desk"),
        "{root}"
    );

    let out = assert_cmd::Command::cargo_bin("autosync")
        .unwrap()
        .args(["status", "--json", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let province = status["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] == "demo-province")
        .unwrap();
    let state = &province["accounts"][0]["state"];
    assert_eq!(state["state"], "paused", "{province}");
    assert_eq!(state["reason"]["kind"], "login_expired", "{province}");

    // The watch runs every minute: still one alert, and the summary line.
    let summarised = wait_for(Duration::from_secs(90), || {
        log_text().contains("summary of the last 1 min: polled")
    });
    assert!(summarised, "{}", log_text());
    assert_eq!(
        paused_alerts(&got, "demo-province"),
        1,
        "{:?}",
        got.lock().unwrap()
    );
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(20)).is_some_and(|s| s.success()));
    let text = log_text();
    assert!(text.contains("account paused"), "{text}");
    assert!(
        !text.contains(TOKEN),
        "the robot's URL leaked into the log:\n{text}"
    );
}
