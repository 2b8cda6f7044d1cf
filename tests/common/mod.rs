//! What the integration tests share: a local sample website and a mock
//! account served from a runtime of their own, and helpers to drive the real
//! `autosync` binary against them.
#![allow(dead_code)]

pub mod desk_world;
pub mod english;

use assert_cmd::Command;
use autosync::demo::SampleSite;
use autosync::publish::toutiao_mock::{self, MockOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The account cookie's values, written to the `cookie_file` every unit of
/// [`World::config`] names. Distinctive, so a test can look for them in logs
/// and output; and the mock account accepts only this session, so every post
/// that goes out proves these are the values the binary read and sent (a
/// leak check on values the binary never saw would pass for nothing).
pub const ACCOUNT_SESSION: &str = "e2e-session-5ca1ab1e";
pub const ACCOUNT_CSRF: &str = "e2e-csrftoken-0ddba11";

pub fn account_cookie() -> String {
    format!("sessionid={ACCOUNT_SESSION}; csrftoken={ACCOUNT_CSRF}")
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub site: SampleSite,
    pub site_addr: SocketAddr,
    /// The province's account (示例省科协).
    pub account_addr: SocketAddr,
    pub account_data: PathBuf,
    /// The city's account (示例市科协): an account of its own, as in the
    /// matrix (a post never reaches an account it does not belong to).
    pub city_account_addr: SocketAddr,
    pub city_account_data: PathBuf,
    pub shutdown: CancellationToken,
    pub rt: tokio::runtime::Runtime,
}

impl World {
    pub fn new(delay: Duration) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let site = SampleSite::new();
        let shutdown = CancellationToken::new();
        let account_data = dir.path().join("account");
        let city_account_data = dir.path().join("account-city");
        let (site_addr, account_addr, city_account_addr) = rt.block_on(async {
            let s = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let site_addr = s.local_addr().unwrap();
            let (site, sd) = (site.clone(), shutdown.clone());
            tokio::spawn(async move { site.serve(s, sd).await });
            let mut accounts = Vec::new();
            for (data, name) in [
                (&account_data, "示例省科协"),
                (&city_account_data, "示例市科协"),
            ] {
                let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                accounts.push(a.local_addr().unwrap());
                let opts = MockOptions {
                    data_dir: data.clone(),
                    display_name: name.into(),
                    delay,
                    cookie: Some(account_cookie()),
                    ..Default::default()
                };
                tokio::spawn(toutiao_mock::serve(a, opts, shutdown.clone()));
            }
            (site_addr, accounts[0], accounts[1])
        });
        std::fs::write(dir.path().join("cookie"), account_cookie()).unwrap();
        World {
            dir,
            site,
            site_addr,
            account_addr,
            account_data,
            city_account_addr,
            city_account_data,
            shutdown,
            rt,
        }
    }

    /// Write the demo config (province on the GBK list, city on the feed),
    /// with `daemon_extra` lines in `[daemon]` and `extra` appended.
    pub fn config(&self, daemon_extra: &str, extra: &str) -> PathBuf {
        let text = autosync::demo::demo_config(
            &self.dir.path().join("state"),
            self.site_addr,
            self.account_addr,
            self.city_account_addr,
        )
        .replace("[daemon]\n", &format!("[daemon]\n{daemon_extra}\n"));
        let path = self.dir.path().join("autosync.toml");
        std::fs::write(&path, format!("{text}{extra}")).unwrap();
        path
    }

    /// Make the city unit of the config at `cfg` publish elsewhere: its
    /// `[unit.publisher]` lines (those [`World::config`] writes, to its own
    /// toutiao account) become `publisher`.
    pub fn replace_city_publisher(&self, cfg: &Path, publisher: &str) {
        let city = format!(
            "kind = \"toutiao\"\n  base_url = \"http://{}\"\n  cookie_file = \"cookie\"",
            self.city_account_addr
        );
        let text = std::fs::read_to_string(cfg).unwrap();
        assert!(text.contains(&city), "{text}");
        std::fs::write(cfg, text.replace(&city, publisher)).unwrap();
    }

    /// A WeChat account for the city (示例市科协): the strict double, keeping
    /// its data in `data` and holding every answer back `delay` after
    /// applying the call. Writes the AppSecret and the default cover beside
    /// the config and returns the `[unit.publisher]` lines that publish to
    /// it (for [`World::replace_city_publisher`]).
    /// The city's account on a WeChat double; `settle` is how long the
    /// client lets a submission settle before it counts as absent.
    pub fn wechat_city_account(&self, data: &Path, delay: Duration, settle: Duration) -> String {
        use autosync::publish::wechat::mock as wechat_mock;
        std::fs::write(self.dir.path().join("app-secret"), "mock-app-secret\n").unwrap();
        std::fs::write(self.dir.path().join("cover.png"), autosync::demo::PNG).unwrap();
        let addr = self.rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let opts = wechat_mock::MockOptions {
                data_dir: data.to_path_buf(),
                account_name: "示例市科协".into(),
                delay,
                ..Default::default()
            };
            tokio::spawn(wechat_mock::serve(l, opts, self.shutdown.clone()));
            addr
        });
        format!(
            "kind = \"wechat\"\n  app_id = \"wx0123456789abcdef\"\n  app_secret_file = \"app-secret\"\n  base_url = \"http://{addr}\"\n  cover = \"cover.png\"\n  settle_secs = {}",
            settle.as_secs()
        )
    }

    /// The city on three accounts (`[[unit.publisher]]`): its toutiao
    /// account, a WeChat account (示例市科协公众号) and a webhook (省科普平台,
    /// with `webhook_extra` lines). The config's path and the WeChat and
    /// webhook doubles' data folders.
    pub fn city_on_three_platforms(&self, webhook_extra: &str) -> (PathBuf, PathBuf, PathBuf) {
        use autosync::publish::webhook::mock as webhook_mock;
        use autosync::publish::wechat::mock as wechat_mock;
        use autosync::secret::Secret;
        let wechat_data = self.dir.path().join("wechat");
        let hook_data = self.dir.path().join("webhook");
        std::fs::write(self.dir.path().join("app-secret"), "mock-app-secret\n").unwrap();
        std::fs::write(self.dir.path().join("cover.png"), autosync::demo::PNG).unwrap();
        std::fs::write(self.dir.path().join("hook-secret"), "s3cret-for-the-hook\n").unwrap();
        let (wechat, hook) = self.rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let wechat = l.local_addr().unwrap();
            let opts = wechat_mock::MockOptions {
                data_dir: wechat_data.clone(),
                account_name: "示例市科协".into(),
                ..Default::default()
            };
            tokio::spawn(wechat_mock::serve(l, opts, self.shutdown.clone()));
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let hook = l.local_addr().unwrap();
            let opts =
                webhook_mock::MockOptions::new(&hook_data, Secret::new("s3cret-for-the-hook"));
            tokio::spawn(webhook_mock::serve(l, opts, self.shutdown.clone()));
            (wechat, hook)
        });
        let cfg = self.config("", "");
        let city = format!(
            "  [unit.publisher]\n  kind = \"toutiao\"\n  base_url = \"http://{}\"\n  cookie_file = \"cookie\"",
            self.city_account_addr
        );
        let three = format!(
            "  [[unit.publisher]]\n  kind = \"toutiao\"\n  base_url = \"http://{}\"\n  cookie_file = \"cookie\"\n  [[unit.publisher]]\n  kind = \"wechat\"\n  app_id = \"wx0123456789abcdef\"\n  app_secret_file = \"app-secret\"\n  base_url = \"http://{wechat}\"\n  cover = \"cover.png\"\n  account_name = \"示例市科协公众号\"\n  [[unit.publisher]]\n  kind = \"webhook\"\n  url = \"http://{hook}/in\"\n  secret_file = \"hook-secret\"\n  account_name = \"省科普平台\"{webhook_extra}",
            self.city_account_addr
        );
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert!(text.contains(&city), "{text}");
        std::fs::write(&cfg, text.replace(&city, &three)).unwrap();
        (cfg, wechat_data, hook_data)
    }

    /// Every post on both accounts.
    pub fn posts(&self) -> Vec<toutiao_mock::MockArticle> {
        let mut all = toutiao_mock::load_articles(&self.account_data);
        all.extend(toutiao_mock::load_articles(&self.city_account_data));
        all
    }

    /// Run the binary with `args`; exit code and stdout + stderr.
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_logging("warn", args)
    }

    /// [`World::run`] with `AUTOSYNC_LOG=log` (e.g. `trace`, to look for
    /// what must never be logged at any level).
    pub fn run_logging(&self, log: &str, args: &[&str]) -> (i32, String, String) {
        let out = Command::cargo_bin("autosync")
            .unwrap()
            .args(args)
            .env("AUTOSYNC_LOG", log)
            .env_remove("AUTOSYNC_TOKEN")
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn once(&self, config: &Path) -> (i32, String) {
        let (code, out, err) = self.run(&["once", "-c", config.to_str().unwrap()]);
        (code, format!("{out}\n--- stderr\n{err}"))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Start `autosync run -c config`, logging to `log`.
pub fn start_daemon(config: &Path, log: &Path) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("autosync"))
        .args(["run", "-c"])
        .arg(config)
        .env("AUTOSYNC_LOG", "info")
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

pub fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A plain HTTP request over a TCP socket; the whole response as text.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    http(addr, "GET", path, &[], "")
}

/// Fetches images the way the fetcher does: with the article as Referer.
pub struct HttpImages(pub reqwest::Client);

#[async_trait::async_trait]
impl autosync::publish::ImageSource for HttpImages {
    async fn fetch_image(
        &self,
        url: &url::Url,
        referer: &url::Url,
    ) -> Result<autosync::publish::Image, String> {
        let resp = self
            .0
            .get(url.clone())
            .header(reqwest::header::REFERER, referer.as_str())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {} from {url}", resp.status()));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok(autosync::publish::Image {
            bytes,
            content_type,
        })
    }
}

/// A platform double (`toutiao_mock`, `wechat::mock`) served on a local
/// port from the test's runtime, keeping its data in a temporary directory.
pub struct Double {
    pub base: url::Url,
    pub data: tempfile::TempDir,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Double {
    /// `serve(listener, data_dir, shutdown)` serves the double.
    pub async fn start<F, Fut>(data: tempfile::TempDir, serve: F) -> Double
    where
        F: FnOnce(tokio::net::TcpListener, PathBuf, CancellationToken) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, data.path().to_path_buf(), stop.clone()));
        Double {
            base,
            data,
            stop,
            task,
        }
    }

    pub fn dir(&self) -> &Path {
        self.data.path()
    }

    /// Stop it; its data stays for a restart.
    pub async fn stop(self) -> tempfile::TempDir {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
        self.data
    }
}

/// A route of a unit's site that serves `body` only to requests whose
/// Referer is `referer` (hot-link protection), 403 to others.
pub fn referer_only<S: Clone + Send + Sync + 'static>(
    referer: String,
    content_type: &'static str,
    body: Vec<u8>,
) -> axum::routing::MethodRouter<S> {
    axum::routing::get(move |headers: axum::http::HeaderMap| async move {
        use axum::response::IntoResponse;
        let sent = headers
            .get(axum::http::header::REFERER)
            .and_then(|r| r.to_str().ok());
        if sent == Some(referer.as_str()) {
            ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
        } else {
            (axum::http::StatusCode::FORBIDDEN, "hot-linking denied").into_response()
        }
    })
}

/// Debian's chromedriver, when installed.
pub fn chromedriver() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_string)
}

/// chromedriver, or `None` with a note where it is not installed — a
/// failure under CI (`CI` set), which must have it.
pub fn chromedriver_or_skip() -> Option<String> {
    let found = chromedriver();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium-driver installed"
        );
        eprintln!("chromedriver not installed: browser test skipped");
    }
    found
}

/// Headless Chromium driven through chromedriver on a free port, with a
/// profile of its own; stopped on drop.
pub struct Browser {
    driver: Child,
    _profile: tempfile::TempDir,
    pub client: fantoccini::Client,
}

impl Browser {
    /// Start `driver` and connect (a window of `width`×`height`).
    pub async fn start(driver: &str, width: u32, height: u32) -> Browser {
        let port = free_addr().port();
        let child = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        for _ in 0..50 {
            match fantoccini::ClientBuilder::new(
                hyper_util::client::legacy::connect::HttpConnector::new(),
            )
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            {
                Ok(client) => {
                    return Browser {
                        driver: child,
                        _profile: profile,
                        client,
                    };
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        panic!("chromedriver did not start");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Save a screenshot of the page as `DIR/name` when `AUTOSYNC_SCREENSHOTS=DIR`
/// (the README's screenshots come from there).
pub async fn shot(c: &fantoccini::Client, name: &str) {
    if let Ok(dir) = std::env::var("AUTOSYNC_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

/// Wait (up to 15 s) until the page shows `text`: clicks and submits
/// return before the next page has loaded.
pub async fn until(
    c: &fantoccini::Client,
    text: &str,
) -> Result<String, fantoccini::error::CmdError> {
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

/// Log in to the desk at `base` as a browser does: open the login form
/// (its CSRF cookie and hidden token), then post the token with both.
/// The answer to the post (a redirect with the session cookie on success).
pub async fn desk_login(client: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    let form = desk_login_form(client, base).await;
    desk_login_post(client, base, &form, token).await
}

/// An opened login form: its CSRF cookie (`name=value`) and hidden token.
pub struct LoginForm {
    pub cookie: String,
    pub csrf: String,
}

/// Open the desk's login form, as a browser does.
pub async fn desk_login_form(client: &reqwest::Client, base: &str) -> LoginForm {
    let form = client
        .get(format!("{base}/desk/login"))
        .send()
        .await
        .unwrap();
    let cookie = form
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("autosync_login="))
        .and_then(|c| c.split(';').next())
        .expect("the login form sets its CSRF cookie")
        .to_string();
    let page = form.text().await.unwrap();
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form carries its CSRF token")
        .to_string();
    LoginForm { cookie, csrf }
}

/// Post `token` with an opened login form.
pub async fn desk_login_post(
    client: &reqwest::Client,
    base: &str,
    form: &LoginForm,
    token: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/desk/login"))
        .header(reqwest::header::COOKIE, &form.cookie)
        .form(&[("token", token), ("csrf", form.csrf.as_str())])
        .send()
        .await
        .unwrap()
}

/// The session cookie (`name=value`) a login answer sets.
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("autosync_session=") && !c.contains("Max-Age=0"))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}
