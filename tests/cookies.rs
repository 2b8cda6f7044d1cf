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

/// A daemon on `w`'s demo config (`extra` lines in `[daemon]`) whose
/// accounts are paused: the cookie file holds a login the platform does
/// not know. Its listen address, the daemon and its log file.
fn paused_daemon(
    w: &World,
    extra: &str,
) -> (
    std::net::SocketAddr,
    std::process::Child,
    std::path::PathBuf,
) {
    let log = w.dir.path().join("daemon.log");
    let listen = free_addr();
    let cfg = w.config(
        &format!("listen = \"{listen}\"\nshutdown_timeout_secs = 5\n{extra}"),
        "",
    );
    std::fs::write(w.dir.path().join("cookie"), STALE_COOKIE).unwrap();
    let child = start_daemon(&cfg, &log);
    let paused = wait_for(Duration::from_secs(30), || {
        status(listen).matches("\"login_expired\"").count() >= 2
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(paused, "accounts not paused\n{}\n{text}", status(listen));
    (listen, child, log)
}

#[test]
fn a_renewed_cookie_resumes_the_paused_account_without_restart_or_waiting() {
    let w = World::new(Duration::ZERO);
    // Both accounts pause: the login is not one the platform knows.
    let (listen, mut child, log) = paused_daemon(&w, "");
    let cfg = w.dir.path().join("autosync.toml");
    let cookie_file = w.dir.path().join("cookie");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
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

/// An editor's session on the desk of the daemon at `base`.
struct DeskSession {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl DeskSession {
    async fn login(base: &str, token: &str) -> DeskSession {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = desk_login(&client, base, token).await;
        let cookie = session_cookie(&resp).expect("logged in");
        DeskSession {
            client,
            base: base.to_string(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> String {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        resp.text().await.unwrap()
    }

    /// Post `form`; the status and where it redirects to (decoded).
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let to = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        let to = url::form_urlencoded::parse(to.split_once('?').map_or("", |x| x.1).as_bytes())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        (resp.status().as_u16(), to)
    }
}

/// The value of the hidden `csrf` field of a page's form.
fn csrf_of(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[test]
fn the_desk_accounts_page_shows_each_account_and_an_admin_renews_its_cookie() {
    const ADMIN: &str = "admin-token-0123456789abcdef";
    const EDITOR: &str = "editor-token-0123456789abcdef";
    let w = World::new(Duration::ZERO);
    std::fs::write(
        w.dir.path().join("editors.toml"),
        format!(
            "[[editor]]\nname = \"管理员\"\ntoken = \"{ADMIN}\"\nrole = \"admin\"\n\n\
             [[editor]]\nname = \"市编辑\"\ntoken = \"{EDITOR}\"\nunits = [\"demo-city\"]\n"
        ),
    )
    .unwrap();
    let (listen, mut child, log) = paused_daemon(&w, "editors_file = \"editors.toml\"");
    let cookie_file = w.dir.path().join("cookie");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let base = format!("http://{listen}");

    let outcome = w.rt.block_on(async {
        // A plain editor sees the accounts in reach, and no cookie form.
        let editor = DeskSession::login(&base, EDITOR).await;
        let page = editor.get("/desk/accounts").await;
        assert!(
            page.contains("示例市科协") && !page.contains("示例省科协"),
            "{page}"
        );
        assert!(
            page.contains("已暂停") && page.contains("登录已过期"),
            "{page}"
        );
        assert!(page.contains("Asia/Shanghai"), "{page}");
        assert!(!page.contains(r#"name="cookie""#), "{page}");
        assert!(
            editor
                .get("/desk")
                .await
                .contains(r#"href="/desk/accounts""#)
        );
        // The session's CSRF token, from a page with a form (the list has
        // none since it links to the hand-push page): an item's.
        let list = editor.get("/desk").await;
        let item = regex::Regex::new(r#"href="/desk/item/([^"]+)""#)
            .unwrap()
            .captures(&list)
            .map(|c| c[1].to_string())
            .expect("an item on the list");
        let csrf = csrf_of(&editor.get(&format!("/desk/item/{item}")).await);
        let (code, to) = editor
            .post(
                "/desk/accounts/cookie",
                &[
                    ("csrf", &csrf),
                    ("unit", "demo-city"),
                    ("account", "示例市科协"),
                    ("cookie", &account_cookie()),
                ],
            )
            .await;
        assert_eq!(code, 303);
        assert!(to.contains("只有管理员"), "{to}");
        assert_eq!(std::fs::read_to_string(&cookie_file).unwrap(), STALE_COOKIE);

        // The admin sees every account, each with a form; the cookie in use
        // is never on the page.
        let admin = DeskSession::login(&base, ADMIN).await;
        let page = admin.get("/desk/accounts").await;
        assert!(
            page.contains("示例市科协") && page.contains("示例省科协"),
            "{page}"
        );
        assert_eq!(page.matches(r#"name="cookie""#).count(), 2, "{page}");
        assert!(!page.contains("stale-session"), "{page}");
        let csrf = csrf_of(&page);
        let form = |csrf: &str, cookie: &str| {
            vec![
                ("csrf".to_string(), csrf.to_string()),
                ("unit".to_string(), "demo-province".to_string()),
                ("account".to_string(), "示例省科协".to_string()),
                ("cookie".to_string(), cookie.to_string()),
            ]
        };
        let post = |f: Vec<(String, String)>| {
            let admin = &admin;
            async move {
                let refs: Vec<(&str, &str)> =
                    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                admin.post("/desk/accounts/cookie", &refs).await
            }
        };
        // No or a wrong CSRF token: refused before anything happens.
        let (code, _) = post(form("wrong", &account_cookie())).await;
        assert_eq!(code, 403);
        // A malformed cookie: refused in Chinese, nothing written.
        let (code, to) = post(form(&csrf, "SECRET-NO-CSRF sessionid")).await;
        assert_eq!(code, 303);
        assert!(
            to.contains("cookie 未保存") && !to.contains("SECRET"),
            "{to}"
        );
        assert_eq!(std::fs::read_to_string(&cookie_file).unwrap(), STALE_COOKIE);
        // The real one: saved, and the account resumes at once.
        let started = Instant::now();
        let (code, to) = post(form(&csrf, &account_cookie())).await;
        assert_eq!(code, 303);
        assert!(to.contains("已保存"), "{to}");
        let audit = admin.get("/desk/audit").await;
        (started, audit)
    });
    let (started, audit) = outcome;
    let resumed = wait_for(Duration::from_secs(15), || {
        !status(listen).contains("\"login_expired\"")
    });
    let resumed_in = started.elapsed();
    let all = autosync::demo::LIST_ARTICLES.len() + autosync::demo::FEED_ARTICLES.len();
    let posted = wait_for(Duration::from_secs(30), || w.posts().len() >= all);
    signal(&child, "-TERM");
    wait_exit(&mut child, Duration::from_secs(20));
    let text = log_text();
    assert!(resumed, "{text}");
    eprintln!("desk renewal to resumed: {resumed_in:?}");
    assert!(posted, "{text}");
    let mode = std::fs::metadata(&cookie_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // Audited, without the value.
    assert!(
        audit.contains(autosync::store::AuditAction::SetCookie.label_zh())
            && audit.contains("管理员"),
        "{audit}"
    );
    assert!(!audit.contains(ACCOUNT_SESSION) && !audit.contains(ACCOUNT_CSRF));
    for secret in [ACCOUNT_SESSION, ACCOUNT_CSRF, "stale-session-0bad"] {
        assert!(!text.contains(secret), "log leaks the cookie\n{text}");
    }
}
