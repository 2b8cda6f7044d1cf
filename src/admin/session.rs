//! Editors' sessions on the desk: logging in with a token, the session
//! cookie, and the CSRF checks (of the login form, and of every
//! state-changing form after it).
//!
//! A session is kept in the store ([`crate::store::SessionRecord`]), so a
//! daemon restart logs no one out, and is carried by an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` and `__Host-` with `[daemon]
//! desk_secure_cookie`). It is valid while its editor is still in the
//! editors file with the token it logged in with — rotating a token or
//! removing an editor ends its sessions at once, also those opened before
//! a restart — and it has been used within [`SESSION_IDLE`] and is younger
//! than [`SESSION_LIFETIME`]. The store never holds the session id (only
//! its hash) nor the token (only a salted fingerprint).
//!
//! The login form carries a CSRF token too, before there is a session: a
//! random value in a cookie set with the form, and its HMAC under a key
//! kept in the store (a signed double submit; kept, so a login page left
//! open across a restart still works). A page elsewhere
//! cannot read the cookie nor forge the HMAC, so it cannot log a browser
//! in to an account of its choosing. Failed logins are counted per client
//! address ([`super::login_limit`]).

// Handlers here return an early `Response` as the error of small helpers;
// that is axum's idiom, and boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::{flash, page};
use crate::config::{Config, Editor};
use crate::store::SessionRecord;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

/// A session ends when unused this long.
pub const SESSION_IDLE: chrono::Duration = chrono::Duration::hours(8);
/// A session ends this long after its login, however much it is used.
pub const SESSION_LIFETIME: chrono::Duration = chrono::Duration::days(7);
/// A session's last use is written at most this often (a page view need
/// not cost a database write).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);
/// Expired sessions are swept at most this often.
const SWEEP_EVERY: chrono::Duration = chrono::Duration::hours(1);
/// How long the login form stays valid.
const LOGIN_FORM_SECS: i64 = 3600;

const COOKIE: &str = "autosync_session";
const LOGIN_COOKIE: &str = "autosync_login";

/// What the desk keeps in memory about sessions: the key that signs the
/// login form's CSRF token, the login rate limit, and when sessions were
/// last swept. The sessions themselves are in the store.
pub struct Sessions {
    login_key: [u8; 32],
    pub(super) limit: super::login_limit::LoginLimit,
    swept: Mutex<Option<DateTime<Utc>>>,
}

/// A key of this process only (tests, and a store that cannot be read or
/// written: its login forms then last until a restart).
impl Default for Sessions {
    fn default() -> Self {
        Sessions::with_login_key(random_key())
    }
}

impl Sessions {
    /// Sessions whose login forms are signed with `store`'s kept key.
    pub async fn for_store(store: &crate::store::Store) -> Sessions {
        match store.login_key(random_key).await {
            Ok(key) => Sessions::with_login_key(key),
            Err(e) => {
                tracing::warn!(
                    "the desk's login key could not be kept in the store ({e}): login pages opened before a restart will ask to log in again"
                );
                Sessions::default()
            }
        }
    }

    fn with_login_key(login_key: [u8; 32]) -> Sessions {
        Sessions {
            login_key,
            limit: Default::default(),
            swept: Mutex::new(None),
        }
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    hex::decode_to_slice(&random_hex()[..64], &mut key).expect("64 hex digits");
    key
}

fn random_hex() -> String {
    use std::io::Read;
    let mut buf = [0u8; 32];
    // The kernel's CSPRNG; failing to read it is not something to paper over.
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("reading /dev/urandom");
    hex::encode(buf)
}

/// The store's key of a session: the id itself never is.
fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn token_fingerprint(salt: &str, token: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// Why a stored session no longer lets its editor in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Idle,
    Lifetime,
    EditorRemoved,
    TokenChanged,
}

impl Ended {
    fn as_str(self) -> &'static str {
        match self {
            Ended::Idle => "unused too long",
            Ended::Lifetime => "older than its lifetime",
            Ended::EditorRemoved => "its editor was removed",
            Ended::TokenChanged => "its editor's token changed",
        }
    }
}

/// The editor of `rec` at `now` under `config`, or why the session ended.
fn check(config: &Config, rec: &SessionRecord, now: DateTime<Utc>) -> Result<Editor, Ended> {
    if now - rec.last_used >= SESSION_IDLE {
        return Err(Ended::Idle);
    }
    if now - rec.created >= SESSION_LIFETIME {
        return Err(Ended::Lifetime);
    }
    let ed = config
        .editors
        .iter()
        .find(|e| e.name == rec.editor)
        .ok_or(Ended::EditorRemoved)?;
    let now_fp = token_fingerprint(&rec.token_salt, ed.token.expose());
    if !crate::desk::same_token(&now_fp, &rec.token_fingerprint) {
        return Err(Ended::TokenChanged);
    }
    Ok(ed.clone())
}

fn unavailable(e: crate::store::StoreError) -> Response {
    tracing::error!("desk sessions: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            "暂时无法使用",
            None,
            "<p>编辑台的存储暂时无法读写，请稍后再试；如果一直如此，请联系管理员。</p>",
        ),
    )
        .into_response()
}

impl Sessions {
    /// Open a session for `editor`: its id (for the cookie) and CSRF token.
    pub async fn create(
        &self,
        s: &Service,
        editor: &Editor,
    ) -> Result<(String, String), crate::store::StoreError> {
        let (id, csrf, salt) = (random_hex(), random_hex(), random_hex());
        let now = s.ctx.clock.now();
        let rec = SessionRecord {
            editor: editor.name.clone(),
            token_fingerprint: token_fingerprint(&salt, editor.token.expose()),
            token_salt: salt,
            csrf: csrf.clone(),
            created: now,
            last_used: now,
        };
        self.sweep(s, now, true)?;
        s.ctx.store.put_session(&id_hash(&id), &rec).await?;
        Ok((id, csrf))
    }

    /// End the session `id` (logout).
    pub async fn remove(&self, s: &Service, id: &str) -> Result<(), crate::store::StoreError> {
        s.ctx.store.remove_session(&id_hash(id)).await
    }

    /// The editor and CSRF token of the live session `id`; an invalid one
    /// is forgotten. Its last use is written at most once a minute.
    fn get(
        &self,
        s: &Service,
        id: &str,
    ) -> Result<Option<(Editor, String)>, crate::store::StoreError> {
        let now = s.ctx.clock.now();
        self.sweep(s, now, false)?;
        let key = id_hash(id);
        let Some(mut rec) = s.ctx.store.session(&key)? else {
            return Ok(None);
        };
        match check(&s.config(), &rec, now) {
            Ok(ed) => {
                if now - rec.last_used >= TOUCH_EVERY {
                    rec.last_used = now;
                    s.ctx.store.touch_session(&key, &rec)?;
                }
                Ok(Some((ed, rec.csrf)))
            }
            Err(why) => {
                tracing::info!(editor = %rec.editor, "desk session ended: {}", why.as_str());
                s.ctx.store.forget_session(&key)?;
                Ok(None)
            }
        }
    }

    /// Remove the sessions that no longer check out, at most once an hour
    /// unless `now_anyway`.
    fn sweep(
        &self,
        s: &Service,
        now: DateTime<Utc>,
        now_anyway: bool,
    ) -> Result<(), crate::store::StoreError> {
        {
            let mut swept = self.swept.lock().expect("sweep lock");
            if !now_anyway && swept.is_some_and(|t| now - t < SWEEP_EVERY) {
                return Ok(());
            }
            *swept = Some(now);
        }
        let config = s.config();
        let n = s
            .ctx
            .store
            .sweep_sessions(|r| check(&config, r, now).is_ok())?;
        if n > 0 {
            tracing::info!("desk sessions: {n} expired or invalid removed");
        }
        Ok(())
    }

    /// The login form's CSRF token for the nonce in its cookie.
    fn login_token(&self, nonce: &str) -> String {
        hex::encode(self.login_mac(nonce).finalize().into_bytes())
    }

    fn login_mac(&self, nonce: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.login_key).expect("HMAC accepts any key length");
        mac.update(nonce.as_bytes());
        mac
    }

    fn login_token_ok(&self, nonce: &str, token: &str) -> bool {
        hex::decode(token).is_ok_and(|t| self.login_mac(nonce).verify_slice(&t).is_ok())
    }
}

/// A cookie's name and path: with `Secure`, the `__Host-` prefix (the
/// browser then refuses it unless it is `Secure`, host-only and `Path=/`,
/// so a neighbouring subdomain cannot plant one).
fn cookie_name(config: &Config, name: &str) -> String {
    if config.daemon.desk_secure_cookie {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

fn set_cookie(config: &Config, name: &str, path: &str, value: &str, max_age: i64) -> String {
    let (name, path, secure) = if config.daemon.desk_secure_cookie {
        (cookie_name(config, name), "/", "; Secure")
    } else {
        (name.to_string(), path, "")
    };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

fn session_id(config: &Config, headers: &HeaderMap) -> Option<String> {
    cookie(headers, &cookie_name(config, COOKIE))
}

/// The logged-in editor and the session's CSRF token, or a redirect to the
/// login page.
pub(super) fn logged_in(s: &Service, headers: &HeaderMap) -> Result<(Editor, String), Response> {
    let to_login = || Redirect::to("/desk/login").into_response();
    let id = session_id(&s.config(), headers).ok_or_else(to_login)?;
    s.sessions
        .get(s, &id)
        .map_err(unavailable)?
        .ok_or_else(to_login)
}

fn forbidden(message: &str) -> Response {
    let body = format!(
        r#"<div class="msg err">{}</div><p><a href="/desk">返回编辑台</a></p>"#,
        super::layout::esc(message)
    );
    (StatusCode::FORBIDDEN, page("无法提交", None, &body)).into_response()
}

fn check_csrf(expected: &str, got: Option<&str>) -> Result<(), Response> {
    match got {
        Some(g) if !expected.is_empty() && crate::desk::same_token(expected, g) => Ok(()),
        _ => Err(forbidden(
            "表单校验未通过（CSRF 令牌缺失或不符）：请刷新页面后重新提交。",
        )),
    }
}

/// The logged-in editor and the parsed form, once its CSRF token checked
/// out; else the answer to send.
pub(super) fn guarded<T: HasCsrf>(
    s: &Service,
    headers: &HeaderMap,
    form: Result<Form<T>, axum::extract::rejection::FormRejection>,
) -> Result<(Editor, T), Response> {
    let (ed, csrf) = logged_in(s, headers)?;
    let Ok(Form(f)) = form else {
        return Err((
            StatusCode::BAD_REQUEST,
            "表单内容无法识别，请刷新页面后重试。",
        )
            .into_response());
    };
    check_csrf(&csrf, f.csrf())?;
    Ok((ed, f))
}

/// Forms that carry the session's CSRF token.
pub(super) trait HasCsrf {
    fn csrf(&self) -> Option<&str>;
}

macro_rules! has_csrf {
    ($($t:ty),*) => {$(impl HasCsrf for $t {
        fn csrf(&self) -> Option<&str> {
            self.csrf.as_deref()
        }
    })*};
}
pub(crate) use has_csrf;

/// The address a login is counted under: the peer's, or — when the peer
/// is a trusted proxy — the last address its `X-Forwarded-For` names (the
/// one the proxy itself added). `None` when the server did not record the
/// peer (a router served without connect info): such logins share one
/// count.
pub fn client_addr(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .next_back();
    Some(forwarded.unwrap_or(peer))
}

/// The login form, with its CSRF token and the cookie it is checked
/// against.
async fn login_form(
    State(s): State<Service>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let config = s.config();
    let nonce = random_hex();
    let token = s.sessions.login_token(&nonce);
    let body = maud::html! {
        (maud::PreEscaped(flash(&q)))
        h2 { "登录" }
        form method="post" action="/desk/login" {
            input type="hidden" name="csrf" value=(token);
            p { label { "令牌（token）：" input type="password" name="token" autocomplete="current-password" required size="40"; } }
            p { button type="submit" { "登录" } }
        }
    };
    let cookie = set_cookie(
        &config,
        LOGIN_COOKIE,
        "/desk/login",
        &nonce,
        LOGIN_FORM_SECS,
    );
    let mut r = page("登录", None, &body.into_string());
    if let Ok(v) = cookie.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    csrf: Option<String>,
}

fn back_to_login(err: &str) -> Response {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("err", err)
        .finish();
    Redirect::to(&format!("/desk/login?{q}")).into_response()
}

/// 429 with when to try again, in the daemon's zone.
fn too_many(config: &Config, until: DateTime<Utc>, now: DateTime<Utc>) -> Response {
    let at = crate::clock::zoned(&until, config.daemon.timezone);
    let body = format!(
        r#"<div class="msg err">登录失败次数过多。为防止令牌被猜测，请在 {at} 之后再试。</div><p><a href="/desk/login">返回登录页</a></p>"#
    );
    let secs = (until - now).num_seconds().max(1);
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        page("请稍后再试", None, &body),
    )
        .into_response();
    r.headers_mut().insert(header::RETRY_AFTER, secs.into());
    r
}

async fn login(State(s): State<Service>, req: Request) -> Response {
    let config = s.config();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let headers = req.headers().clone();
    let addr = client_addr(peer, &headers, &config.daemon.desk_trusted_proxies);
    let shown = addr.map_or("(unknown address)".to_string(), |a| a.to_string());
    let key = addr.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = s.ctx.clock.now();
    if let Some(until) = s.sessions.limit.blocked_until(key, now) {
        tracing::warn!(address = %shown, %until, "desk login refused: too many failed logins from this address");
        return too_many(&config, until, now);
    }
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &s).await else {
        return (
            StatusCode::BAD_REQUEST,
            "登录表单无法识别，请刷新页面后重试。",
        )
            .into_response();
    };
    let nonce = cookie(&headers, &cookie_name(&config, LOGIN_COOKIE));
    let form_ok = match (&nonce, &f.csrf) {
        (Some(n), Some(t)) => s.sessions.login_token_ok(n, t),
        _ => false,
    };
    if !form_ok {
        tracing::warn!(address = %shown, "desk login refused: the login form's CSRF token is missing or wrong");
        return back_to_login("登录页已过期或不是从本站打开的：请在本页重新输入令牌登录。");
    }
    match crate::desk::authenticate(&config, f.token.trim()) {
        Ok(ed) => {
            let ed = ed.clone();
            let (id, _) = match s.sessions.create(&s, &ed).await {
                Ok(x) => x,
                Err(e) => return unavailable(e),
            };
            s.sessions.limit.succeeded(key);
            tracing::info!(editor = %ed.name, address = %shown, "editor logged in to the desk");
            let session = set_cookie(&config, COOKIE, "/desk", &id, SESSION_IDLE.num_seconds());
            let used = set_cookie(&config, LOGIN_COOKIE, "/desk/login", "", 0);
            let mut r = Redirect::to("/desk").into_response();
            for c in [session, used] {
                if let Ok(v) = c.parse() {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(crate::desk::DeskError::Closed) => {
            back_to_login("编辑台未开放：配置中没有 editors_file，请联系管理员。")
        }
        Err(e) => {
            let blocked = s.sessions.limit.failed(key, now);
            tracing::warn!(address = %shown, "desk login refused: {e}");
            match blocked {
                Some(until) => {
                    tracing::warn!(address = %shown, %until, "desk logins from this address refused until then");
                    too_many(&config, until, now)
                }
                None => back_to_login("令牌不正确，请检查后重试。"),
            }
        }
    }
}

/// Logging out needs no CSRF token: the worst a forged request can do is
/// log the editor out.
async fn logout(State(s): State<Service>, headers: HeaderMap) -> Response {
    let config = s.config();
    if let Some(id) = session_id(&config, &headers)
        && let Err(e) = s.sessions.remove(&s, &id).await
    {
        return unavailable(e);
    }
    let cookie = set_cookie(&config, COOKIE, "/desk", "", 0);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/desk/login")).into_response()
}

/// The login and logout routes.
pub fn routes() -> Router<Service> {
    Router::new()
        .route("/desk/login", get(login_form).post(login))
        .route("/desk/logout", post(logout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor(token: &str) -> Editor {
        Editor {
            name: "王编辑".into(),
            token: crate::secret::Secret::new(token),
            units: None,
            role: Default::default(),
        }
    }

    fn config_with(eds: Vec<Editor>) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::config::parse(
            "[daemon]\nstate_dir = \"s\"\n",
            &dir.path().join("autosync.toml"),
        )
        .unwrap();
        c.editors = eds;
        c
    }

    /// Idle time, lifetime, a removed editor and a changed token each end
    /// a session; the same editor and token keep it.
    #[test]
    fn a_session_checks_out_only_with_its_editors_token_within_its_times() {
        let now = Utc::now();
        let salt = random_hex();
        let rec = SessionRecord {
            editor: "王编辑".into(),
            token_fingerprint: token_fingerprint(&salt, "0123456789abcdef0123"),
            token_salt: salt,
            csrf: random_hex(),
            created: now - chrono::Duration::days(1),
            last_used: now - chrono::Duration::hours(1),
        };
        let same = config_with(vec![editor("0123456789abcdef0123")]);
        assert_eq!(check(&same, &rec, now).unwrap().name, "王编辑");
        let rotated = config_with(vec![editor("0123456789abcdef9999")]);
        assert_eq!(check(&rotated, &rec, now).unwrap_err(), Ended::TokenChanged);
        assert_eq!(
            check(&config_with(vec![]), &rec, now).unwrap_err(),
            Ended::EditorRemoved
        );
        assert_eq!(
            check(&same, &rec, rec.last_used + SESSION_IDLE).unwrap_err(),
            Ended::Idle
        );
        let busy = SessionRecord {
            last_used: rec.created + SESSION_LIFETIME,
            ..rec.clone()
        };
        assert_eq!(
            check(&same, &busy, rec.created + SESSION_LIFETIME).unwrap_err(),
            Ended::Lifetime
        );
        // The fingerprint is salted: the same token gives another one in
        // another session, and neither is the token.
        assert_ne!(token_fingerprint("a", "t"), token_fingerprint("b", "t"));
        assert!(!rec.token_fingerprint.contains("0123456789abcdef0123"));
    }

    /// The login form's token is bound to its cookie's nonce and to this
    /// process's key.
    #[test]
    fn the_login_token_is_the_nonces_hmac_under_this_process_key() {
        let (a, b) = (Sessions::default(), Sessions::default());
        let t = a.login_token("n1");
        assert!(a.login_token_ok("n1", &t));
        assert!(!a.login_token_ok("n2", &t));
        assert!(!b.login_token_ok("n1", &t));
        assert!(!a.login_token_ok("n1", "zz"));
    }

    /// Only a trusted proxy may name the client; otherwise the peer is the
    /// client, whatever it claims.
    #[test]
    fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let trusted = [proxy.ip()];
        assert_eq!(
            client_addr(Some(proxy), &h, &trusted),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(client_addr(Some(proxy), &h, &[]), Some(proxy.ip()));
        assert_eq!(client_addr(None, &h, &trusted), None);
        assert_eq!(
            client_addr(Some(proxy), &HeaderMap::new(), &trusted),
            Some(proxy.ip())
        );
    }

    #[test]
    fn secure_cookies_take_the_host_prefix_and_the_root_path() {
        let mut c = config_with(vec![]);
        assert_eq!(
            set_cookie(&c, COOKIE, "/desk", "x", 5),
            "autosync_session=x; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=5"
        );
        c.daemon.desk_secure_cookie = true;
        assert_eq!(
            set_cookie(&c, COOKIE, "/desk", "x", 5),
            "__Host-autosync_session=x; Path=/; HttpOnly; SameSite=Strict; Max-Age=5; Secure"
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "autosync_session=a; __Host-autosync_session=b"
                .parse()
                .unwrap(),
        );
        assert_eq!(session_id(&c, &h).as_deref(), Some("b"));
    }
}
