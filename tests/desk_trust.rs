//! Who may use the desk, and for how long (issue 15): sessions that
//! survive a restart and end when the editor's token changes, the login
//! rate limit, the login form's CSRF token, the `Secure` cookie and the
//! headers every page sends. Against the daemon's real router on a
//! loopback port; a restart is the store reopened and the service rebuilt.

mod common;

use autosync::admin::{Service, serve};
use autosync::clock::Clock;
use autosync::config::Config;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use tokio_util::sync::CancellationToken;

const PROVINCE: &str = "province-token-0123456789";
const COUNTY: &str = "county-token-0123456789ab";

/// Wall time the test moves by hand.
#[derive(Clone)]
struct Manual(Arc<Mutex<DateTime<Utc>>>);

impl Manual {
    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for Manual {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn unit(id: &str, level: &str, parent: Option<&str>) -> String {
    format!(
        "[[unit]]\nid = \"{id}\"\naccount_name = \"{id}号\"\norg_name = \"{id}科协\"\nlevel = \"{level}\"\n{}site = \"http://127.0.0.1:9/{id}/\"\n  [[unit.source]]\n  feed = \"http://127.0.0.1:9/{id}/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n\n",
        parent
            .map(|p| format!("parent = \"{p}\"\n"))
            .unwrap_or_default()
    )
}

/// A province with a county under it, two editors (the province's reaching
/// its subtree); `daemon_extra` goes into `[daemon]`.
fn write_config(dir: &Path, daemon_extra: &str, county_token: &str) -> Config {
    std::fs::write(
        dir.join("editors.toml"),
        format!(
            "subtree = true\n\n[[editor]]\nname = \"省编辑\"\ntoken = \"{PROVINCE}\"\nunits = [\"sx\"]\n\n[[editor]]\nname = \"县编辑\"\ntoken = \"{county_token}\"\nunits = [\"sx-qx\"]\n"
        ),
    )
    .unwrap();
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\neditors_file = \"editors.toml\"\n{daemon_extra}\n\n{}{}",
        unit("sx", "provincial", None),
        unit("sx-qx", "county", Some("sx")),
    );
    let path = dir.join("autosync.toml");
    std::fs::write(&path, text).unwrap();
    autosync::config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The daemon's HTTP side over the store in `config`'s state dir, served on
/// a loopback port with peer addresses, as the daemon serves it.
struct Desk {
    base: String,
    service: Service,
    shutdown: CancellationToken,
}

impl Desk {
    async fn start(config: Config, clock: Manual) -> Desk {
        let shutdown = CancellationToken::new();
        let ctx =
            autosync::pipeline::Context::open(&config, Arc::new(clock), shutdown.clone()).unwrap();
        let outboxes = Arc::new(autosync::outbox::Outboxes::new(
            ctx.clone(),
            config.daemon.timezone,
            None,
        ));
        let sessions = Arc::new(autosync::admin::session::Sessions::for_store(&ctx.store).await);
        let service = Service {
            ctx,
            config: Arc::new(RwLock::new(Arc::new(config))),
            metrics: Default::default(),
            sessions,
            outboxes,
            wakers: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, service.clone()));
        Desk {
            base,
            service,
            shutdown,
        }
    }

    /// Stop serving and let go of the store, as a daemon that exits.
    async fn stop(self) {
        self.shutdown.cancel();
        let store = self.service.ctx.store.clone();
        store.flush().await.unwrap();
        drop(self.service);
        drop(store);
        // The server task lets go of its service once it has wound down.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    /// A reload: the same service with a new config.
    fn reload(&self, config: Config) {
        *self.service.config.write().unwrap() = Arc::new(config);
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(base: &str, token: &str) -> String {
    let resp = common::desk_login(&client(), base, token).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    common::session_cookie(&resp).expect("logged in")
}

/// Whether the session `cookie` opens the desk (else: sent to log in).
async fn opens_the_desk(base: &str, cookie: &str) -> bool {
    let resp = client()
        .get(format!("{base}/desk/accounts"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    match resp.status() {
        StatusCode::OK => true,
        s if s.is_redirection() => {
            assert_eq!(resp.headers()[LOCATION], "/desk/login");
            false
        }
        s => panic!("unexpected {s}: {}", resp.text().await.unwrap()),
    }
}

/// A client that says, through a trusted proxy's `X-Forwarded-For`, it is
/// `ip`.
fn from(ip: &'static str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("x-forwarded-for", ip.parse().unwrap());
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

/// A desk whose requests, all from 127.0.0.1, come through a trusted
/// proxy: the client each names (see [`from`]) is counted.
async fn behind_proxy(clock: &Manual) -> (tempfile::TempDir, Desk) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "desk_trusted_proxies = [\"127.0.0.1\"]", COUNTY);
    let desk = Desk::start(config, clock.clone()).await;
    (dir, desk)
}

/// 429, with a Retry-After within the 15-minute window.
fn assert_refused_for_the_window(r: &reqwest::Response) {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry), "{retry}");
}

fn clock() -> Manual {
    Manual(Arc::new(Mutex::new(Utc::now())))
}

/// A login page opened before a restart (an upgrade while an editor was
/// typing the token) still logs in after it: the form's signing key is
/// kept in the store, not made anew by each process.
#[tokio::test]
async fn a_login_page_opened_before_a_restart_logs_in_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock.clone()).await;
    let form = common::desk_login_form(&client(), &desk.base).await;
    desk.stop().await;
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock.clone()).await;
    let r = common::desk_login_post(&client(), &desk.base, &form, PROVINCE).await;
    let cookie = common::session_cookie(&r).expect("logged in with the form opened before");
    assert!(opens_the_desk(&desk.base, &cookie).await);
    desk.stop().await;
}

#[tokio::test]
async fn sessions_survive_a_daemon_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock.clone()).await;
    let cookie = login(&desk.base, PROVINCE).await;
    assert!(opens_the_desk(&desk.base, &cookie).await);
    desk.stop().await;

    clock.advance(chrono::Duration::hours(1));
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock.clone()).await;
    assert!(
        opens_the_desk(&desk.base, &cookie).await,
        "logged out by a restart"
    );
    // What the store holds opens nothing by itself: not the session id.
    let id = cookie.split_once('=').unwrap().1;
    assert!(desk.service.ctx.store.session(id).unwrap().is_none());
    // Logging out ends it, also for the next daemon.
    let r = client()
        .post(format!("{}/desk/logout", desk.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    assert!(!opens_the_desk(&desk.base, &cookie).await);
    desk.stop().await;
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock.clone()).await;
    assert!(!opens_the_desk(&desk.base, &cookie).await);
    desk.stop().await;
}

/// Issue 15: an old session kept working after its editor's token was
/// rotated (the point of rotating it).
#[tokio::test]
async fn a_session_ends_when_the_editors_token_changes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock.clone()).await;
    let county = login(&desk.base, COUNTY).await;
    let province = login(&desk.base, PROVINCE).await;
    assert!(opens_the_desk(&desk.base, &county).await);

    // A reload with the county editor's token rotated: its session ends,
    // the other editor's does not.
    let rotated = "county-token-rotated-000000";
    desk.reload(write_config(dir.path(), "", rotated));
    assert!(!opens_the_desk(&desk.base, &county).await);
    assert!(opens_the_desk(&desk.base, &province).await);
    // The new token logs in.
    let county = login(&desk.base, rotated).await;
    assert!(opens_the_desk(&desk.base, &county).await);
    desk.stop().await;

    // Rotated while the daemon was down: ended at the next start too.
    let again = "county-token-rotated-111111";
    let desk = Desk::start(write_config(dir.path(), "", again), clock.clone()).await;
    assert!(!opens_the_desk(&desk.base, &county).await);
    assert!(opens_the_desk(&desk.base, &province).await);
    desk.stop().await;
}

#[tokio::test]
async fn a_session_ends_when_its_editor_is_removed_or_it_is_idle_too_long() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock.clone()).await;
    let county = login(&desk.base, COUNTY).await;
    let province = login(&desk.base, PROVINCE).await;
    let mut without = (*desk.service.config()).clone();
    without.editors.retain(|e| e.name != "县编辑");
    desk.reload(without.clone());
    assert!(!opens_the_desk(&desk.base, &county).await);
    // Put back, the old session stays ended (it was forgotten).
    desk.reload(write_config(dir.path(), "", COUNTY));
    assert!(!opens_the_desk(&desk.base, &county).await);

    // Used within the idle time, it lasts; 8 hours unused, it ends.
    clock.advance(chrono::Duration::hours(7));
    assert!(opens_the_desk(&desk.base, &province).await);
    clock.advance(chrono::Duration::hours(7));
    assert!(opens_the_desk(&desk.base, &province).await);
    clock.advance(chrono::Duration::hours(8));
    assert!(!opens_the_desk(&desk.base, &province).await);
    desk.stop().await;
}

/// Five failed logins from one address within 15 minutes and it waits,
/// told when in Chinese; another address is not held up; a success clears
/// the count.
#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let clock = clock();
    let (dir, desk) = behind_proxy(&clock).await;
    let (a, b) = (from("203.0.113.5"), from("203.0.113.6"));
    // A success, then failures: the success counted for nothing.
    let r = common::desk_login(&a, &desk.base, PROVINCE).await;
    assert!(common::session_cookie(&r).is_some());
    for i in 1..=4 {
        let r = common::desk_login(&a, &desk.base, "wrong-token-0000000000").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "failure {i}");
        assert!(r.headers()[LOCATION].to_str().unwrap().contains("err="));
    }
    let r = common::desk_login(&a, &desk.base, "wrong-token-0000000000").await;
    assert_refused_for_the_window(&r);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("登录失败次数过多") && page.contains("CST"),
        "{page}"
    );
    // Now even the right token waits.
    let r = common::desk_login(&a, &desk.base, PROVINCE).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(common::session_cookie(&r).is_none());
    // Another address logs in.
    let r = common::desk_login(&b, &desk.base, COUNTY).await;
    assert!(common::session_cookie(&r).is_some());
    // Fifteen minutes on, the address may try again; a success clears it.
    clock.advance(chrono::Duration::minutes(15));
    let r = common::desk_login(&a, &desk.base, PROVINCE).await;
    assert!(common::session_cookie(&r).is_some());
    for _ in 0..4 {
        let r = common::desk_login(&a, &desk.base, "wrong-token-0000000000").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    // Without a trusted proxy the header is ignored: it is the peer that
    // counts, so claiming another address does not escape the limit.
    desk.reload(write_config(dir.path(), "", COUNTY));
    for _ in 0..5 {
        common::desk_login(&from("198.51.100.1"), &desk.base, "wrong-token-0000000000").await;
    }
    let r = common::desk_login(&from("198.51.100.2"), &desk.base, PROVINCE).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    desk.stop().await;
}

/// A login posted without the form's token, or with a token of another
/// form, is refused in Chinese; nothing is logged in.
#[tokio::test]
async fn login_form_needs_its_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock()).await;
    let http = client();
    let refused = |r: reqwest::Response| {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(common::session_cookie(&r).is_none());
        let to = r.headers()[LOCATION].to_str().unwrap().to_string();
        let to = url::form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
            .map(|(_, v)| v.into_owned())
            .collect::<String>();
        assert!(to.contains("登录页已过期"), "{to}");
    };
    // No token, no cookie: a cross-site form posting a known token.
    let r = http
        .post(format!("{}/desk/login", desk.base))
        .form(&[("token", PROVINCE)])
        .send()
        .await
        .unwrap();
    refused(r);
    // A token, but not for this cookie.
    let r = http
        .post(format!("{}/desk/login", desk.base))
        .header(COOKIE, "autosync_login=00")
        .form(&[("token", PROVINCE), ("csrf", "00")])
        .send()
        .await
        .unwrap();
    refused(r);
    // A form's token with the cookie it was given with: logged in.
    let r = common::desk_login(&http, &desk.base, PROVINCE).await;
    assert!(common::session_cookie(&r).is_some());
    // A session's form without its token: refused, in Chinese.
    let cookie = common::session_cookie(&r).unwrap();
    let r = http
        .post(format!("{}/desk/push", desk.base))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", "guess"),
            ("url", "http://127.0.0.1:9/a.html"),
            ("unit", "sx"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains("请刷新页面后重新提交"), "{page}");
    desk.stop().await;
}

#[tokio::test]
async fn secure_cookies_carry_the_host_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "desk_secure_cookie = true", COUNTY);
    let desk = Desk::start(config, clock()).await;
    let form = client()
        .get(format!("{}/desk/login", desk.base))
        .send()
        .await
        .unwrap();
    let set = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-autosync_login=")
            && set.contains("; Secure")
            && set.contains("Path=/;"),
        "{set}"
    );
    // A client that sends the cookie back (here by hand; a browser only over
    // HTTPS) is logged in under the prefixed name.
    let nonce = set.split(';').next().unwrap().to_string();
    let page = form.text().await.unwrap();
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let r = client()
        .post(format!("{}/desk/login", desk.base))
        .header(COOKIE, nonce)
        .form(&[("token", PROVINCE), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-autosync_session="))
        .expect("a prefixed session cookie");
    assert!(
        session.contains("; Secure") && session.contains("Path=/;"),
        "{session}"
    );
    let cookie = session.split(';').next().unwrap().to_string();
    assert!(opens_the_desk(&desk.base, &cookie).await);
    desk.stop().await;
}

/// Every page, the API and the redirects carry the headers that keep the
/// desk out of other sites' frames and the browser to this origin.
#[tokio::test]
async fn desk_pages_forbid_framing() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock()).await;
    let cookie = login(&desk.base, PROVINCE).await;
    for path in [
        "/desk/login",
        "/desk",
        "/desk/accounts",
        "/api/items",
        "/healthz",
        "/",
    ] {
        let r = client()
            .get(format!("{}{path}", desk.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("default-src 'self'") && csp.contains("img-src 'self' data:"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    desk.stop().await;
}

/// The province's editor acts on a county's items through the desk
/// without listing the county; the county's editor does not reach the
/// province.
#[tokio::test]
async fn a_province_editor_sees_its_countys_accounts_on_the_desk() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::start(write_config(dir.path(), "", COUNTY), clock()).await;
    let page = |cookie: String| {
        let base = desk.base.clone();
        async move {
            client()
                .get(format!("{base}/desk/accounts"))
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let province = page(login(&desk.base, PROVINCE).await).await;
    assert!(
        province.contains("<td>sx科协</td>") && province.contains("<td>sx-qx科协</td>"),
        "{province}"
    );
    let county = page(login(&desk.base, COUNTY).await).await;
    assert!(
        county.contains("<td>sx-qx科协</td>") && !county.contains("<td>sx科协</td>"),
        "{county}"
    );
    desk.stop().await;
}

/// Guessing tokens through the API is limited like guessing them on the
/// login page, and by the same count: five wrong tokens from an address,
/// API or login, and both refuse it (429, in Chinese, with Retry-After);
/// requests without a token guess nothing and count for nothing.
#[tokio::test]
async fn wrong_api_tokens_count_with_failed_logins_per_address() {
    let clock = clock();
    let (_dir, desk) = behind_proxy(&clock).await;
    let (a, b) = (from("203.0.113.7"), from("203.0.113.8"));
    let api = |c: &reqwest::Client, token: Option<&str>| {
        let mut rb = c.get(format!("{}/api/items", desk.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send()
    };
    // No token: 401, and no count however often.
    for _ in 0..10 {
        assert_eq!(
            api(&a, None).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Three wrong tokens through the API, one failed login: four.
    for _ in 0..3 {
        let r = api(&a, Some("wrong-token-0000000000")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = common::desk_login(&a, &desk.base, "wrong-token-0000000000").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The fifth, through the API, blocks the address: for the API…
    let r = api(&a, Some("wrong-token-0000000000")).await.unwrap();
    assert_refused_for_the_window(&r);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "too_many_failures", "{v}");
    let m = v["message"].as_str().unwrap();
    assert!(m.contains("令牌错误次数过多") && m.contains("CST"), "{m}");
    // …even with the right token, and for the login page.
    let r = api(&a, Some(PROVINCE)).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = common::desk_login(&a, &desk.base, PROVINCE).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another address is not held up.
    assert_eq!(
        api(&b, Some(PROVINCE)).await.unwrap().status(),
        StatusCode::OK
    );
    // Fifteen minutes on, the right token works and clears the count.
    clock.advance(chrono::Duration::minutes(15));
    assert_eq!(
        api(&a, Some(PROVINCE)).await.unwrap().status(),
        StatusCode::OK
    );
    for _ in 0..4 {
        let r = api(&a, Some("wrong-token-0000000000")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        api(&a, Some(PROVINCE)).await.unwrap().status(),
        StatusCode::OK
    );
    desk.stop().await;
}
