//! Cookies, the account's lifeline: `autosync account set-cookie` renews a
//! paused account's cookie and the running daemon resumes it at once —
//! without a restart and without waiting for the paused re-check.

mod common;

use common::*;
use predicates::prelude::*;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

/// A cookie of the right shape for a session the mock account does not
/// know: the account pauses with "login expired".
const STALE_COOKIE: &str = "sessionid=stale-session-0bad; csrftoken=stale-csrf";

/// `autosync account set-cookie -c CFG UNIT` with `stdin`.
fn set_cookie(cfg: &std::path::Path, unit: &str, stdin: &str) -> assert_cmd::assert::Assert {
    assert_cmd::Command::cargo_bin("autosync")
        .unwrap()
        .args(["account", "set-cookie", "-c"])
        .arg(cfg)
        .arg(unit)
        .write_stdin(stdin.to_string())
        .assert()
}

fn status(listen: std::net::SocketAddr) -> String {
    http_get(listen, "/status").unwrap_or_default()
}

#[test]
fn a_renewed_cookie_resumes_the_paused_account_without_restart_or_waiting() {
    let w = World::new(Duration::ZERO);
    let log = w.dir.path().join("daemon.log");
    let listen = free_addr();
    let cfg = w.config(
        &format!("listen = \"{listen}\"\nshutdown_timeout_secs = 5"),
        "",
    );
    let cookie_file = w.dir.path().join("cookie");
    std::fs::write(&cookie_file, STALE_COOKIE).unwrap();
    let mut child = start_daemon(&cfg, &log);

    // Both accounts pause: the login is not one the platform knows.
    let paused = wait_for(Duration::from_secs(30), || {
        status(listen).matches("\"login_expired\"").count() >= 2
    });
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        paused,
        "accounts not paused\n{}\n{}",
        status(listen),
        log_text()
    );
    assert_eq!(w.posts().len(), 0, "posted with a stale cookie");

    // Renew through the CLI; the daemon is told and re-checks at once.
    let started = Instant::now();
    let out = set_cookie(&cfg, "demo-province", &format!("{}\n", account_cookie()))
        .success()
        .stdout(predicate::str::contains("publishes again"))
        .get_output()
        .clone();
    let resumed_in = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!stdout.contains(ACCOUNT_SESSION), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&cookie_file).unwrap(),
        format!("{}\n", account_cookie())
    );
    let mode = std::fs::metadata(&cookie_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // Far sooner than the 15-minute paused re-check.
    assert!(resumed_in < Duration::from_secs(15), "{resumed_in:?}");
    eprintln!("set-cookie to resumed: {resumed_in:?}");

    // The queue goes out, on both accounts (they share the file).
    let list = autosync::demo::LIST_ARTICLES.len();
    let all = list + autosync::demo::FEED_ARTICLES.len();
    let posted = wait_for(Duration::from_secs(30), || w.posts().len() >= all);
    let st = status(listen);
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let text = log_text();
    assert!(posted, "queue not sent after renewal\n{st}\n{text}");
    assert!(!st.contains("login_expired"), "{st}");
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{text}");
    assert!(text.contains("credentials renewed on disk"), "{text}");
    for secret in [ACCOUNT_SESSION, ACCOUNT_CSRF, "stale-session-0bad"] {
        assert!(!text.contains(secret), "log leaks the cookie\n{text}");
    }
}

#[test]
fn set_cookie_without_a_daemon_writes_the_file_and_says_so() {
    let w = World::new(Duration::ZERO);
    let listen = free_addr();
    let cfg = w.config(&format!("listen = \"{listen}\""), "");
    set_cookie(&cfg, "demo-city", &account_cookie())
        .success()
        .stdout(predicate::str::contains("no daemon answers"));
    assert_eq!(
        std::fs::read_to_string(w.dir.path().join("cookie")).unwrap(),
        format!("{}\n", account_cookie())
    );
}

#[test]
fn set_cookie_refuses_bad_input_and_cookie_env_without_echoing_or_writing() {
    let w = World::new(Duration::ZERO);
    let cfg = w.config("", "");
    let cookie_file = w.dir.path().join("cookie");
    let before = std::fs::read_to_string(&cookie_file).unwrap();
    for (input, says) in [
        ("", "empty"),
        ("sessionid=SECRET-ONLY-SESSION\n", "no csrftoken"),
        ("SECRET garbage pasted", "name=value"),
    ] {
        set_cookie(&cfg, "demo-province", input)
            .code(4)
            .stderr(predicate::str::contains(says))
            .stderr(predicate::str::contains("SECRET").not())
            .stdout(predicate::str::contains("SECRET").not());
        assert_eq!(std::fs::read_to_string(&cookie_file).unwrap(), before);
    }
    // An unknown unit, and a cookie given by environment: said, exit 2.
    set_cookie(&cfg, "no-such-unit", &account_cookie())
        .code(2)
        .stderr(predicate::str::contains("no unit \"no-such-unit\""));
    w.replace_city_publisher(
        &cfg,
        &format!(
            "kind = \"toutiao\"\n  base_url = \"http://{}\"\n  cookie_env = \"AUTOSYNC_TEST_COOKIE\"",
            w.city_account_addr
        ),
    );
    set_cookie(&cfg, "demo-city", &account_cookie())
        .code(2)
        .stderr(predicate::str::contains("cookie_env, not cookie_file"));
    assert_eq!(std::fs::read_to_string(&cookie_file).unwrap(), before);
}

/// A cookie file changed by hand (no `set-cookie`, no API call) is noticed
/// on the account's next step: its outbox is built again from the new file.
#[test]
fn an_outbox_is_built_again_when_its_cookie_file_changes() {
    let w = World::new(Duration::ZERO);
    let cfg = autosync::config::load(&w.config("", "")).unwrap();
    let unit = cfg.unit("demo-province").unwrap().clone();
    w.rt.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let ctx = autosync::pipeline::Context::open(
            &cfg,
            std::sync::Arc::new(autosync::clock::SystemClock),
            shutdown.clone(),
        )
        .unwrap();
        let outboxes = autosync::outbox::Outboxes::new(ctx, cfg.daemon.timezone, None);
        let first = outboxes.get(&unit, 0);
        assert!(std::sync::Arc::ptr_eq(&first, &outboxes.get(&unit, 0)));
        assert!(outboxes.renewed(&unit).is_empty(), "nothing changed yet");
        autosync::credential::write_private(&w.dir.path().join("cookie"), &account_cookie())
            .unwrap();
        assert!(first.credential_changed());
        let second = outboxes.get(&unit, 0);
        assert!(!std::sync::Arc::ptr_eq(&first, &second), "old cookie kept");
        assert!(!second.credential_changed());
        // Changed again: `renewed` names the account and drops its outbox.
        std::fs::write(w.dir.path().join("cookie"), STALE_COOKIE).unwrap();
        assert_eq!(outboxes.renewed(&unit), vec!["示例省科协".to_string()]);
        assert!(outboxes.renewed(&unit).is_empty());
        shutdown.cancel();
    });
}
