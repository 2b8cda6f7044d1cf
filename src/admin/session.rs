//! Editors' sessions on the desk: logging in with a token, the session
//! cookie, and the CSRF check every state-changing form goes through.
//!
//! The session lives in memory and is carried by an `HttpOnly`,
//! `SameSite=Strict` cookie. Every state-changing form carries the
//! session's CSRF token, checked before anything happens.

// Handlers here return an early `Response` as the error of small helpers;
// that is axum's idiom, and boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::{back, flash, page};
use crate::config::Editor;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session lasts this long without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

const COOKIE: &str = "autosync_session";

struct Session {
    editor: String,
    csrf: String,
    last_used: Instant,
}

/// Logged-in editors, by session id.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
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

impl Sessions {
    pub(crate) fn create(&self, editor: &str) -> (String, String) {
        let (id, csrf) = (random_hex(), random_hex());
        let mut map = self.map.lock().expect("sessions lock");
        map.retain(|_, s| s.last_used.elapsed() < SESSION_IDLE);
        map.insert(
            id.clone(),
            Session {
                editor: editor.to_string(),
                csrf: csrf.clone(),
                last_used: Instant::now(),
            },
        );
        (id, csrf)
    }

    /// Editor name and CSRF token of a live session.
    fn get(&self, id: &str) -> Option<(String, String)> {
        let mut map = self.map.lock().expect("sessions lock");
        let s = map.get_mut(id)?;
        if s.last_used.elapsed() >= SESSION_IDLE {
            map.remove(id);
            return None;
        }
        s.last_used = Instant::now();
        Some((s.editor.clone(), s.csrf.clone()))
    }

    fn remove(&self, id: &str) {
        self.map.lock().expect("sessions lock").remove(id);
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE).then(|| v.to_string())
    })
}

/// The logged-in editor and the session's CSRF token, or a redirect to the
/// login page.
pub(super) fn logged_in(s: &Service, headers: &HeaderMap) -> Result<(Editor, String), Response> {
    let to_login = || Redirect::to("/desk/login").into_response();
    let id = session_id(headers).ok_or_else(to_login)?;
    let (name, csrf) = s.sessions.get(&id).ok_or_else(to_login)?;
    // The editor may have been removed by a reload since logging in.
    let config = s.config();
    let ed = config
        .editors
        .iter()
        .find(|e| e.name == name)
        .cloned()
        .ok_or_else(to_login)?;
    Ok((ed, csrf))
}

fn check_csrf(expected: &str, got: Option<&str>) -> Result<(), Response> {
    match got {
        Some(g) if !expected.is_empty() && crate::desk::same_token(expected, g) => Ok(()),
        _ => Err((
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong: reload the page and try again",
        )
            .into_response()),
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
        return Err((StatusCode::BAD_REQUEST, "bad form").into_response());
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

async fn login_form(Query(q): Query<HashMap<String, String>>) -> Response {
    let body = format!(
        r#"{}<h2>登录</h2><form method="post" action="/desk/login"><p><label>令牌（token）：<input type="password" name="token" autocomplete="current-password" required size="40"></label></p><p><button type="submit">登录</button></p></form>"#,
        flash(&q)
    );
    page("登录", None, &body)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(s): State<Service>,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return (StatusCode::BAD_REQUEST, "bad login form").into_response();
    };
    let config = s.config();
    match crate::desk::authenticate(&config, f.token.trim()) {
        Ok(ed) => {
            tracing::info!(editor = %ed.name, "editor logged in to the desk");
            let (id, _) = s.sessions.create(&ed.name);
            let cookie = format!(
                "{COOKIE}={id}; Path=/desk; HttpOnly; SameSite=Strict; Max-Age={}",
                SESSION_IDLE.as_secs()
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/desk")).into_response()
        }
        Err(e) => {
            tracing::warn!("desk login refused: {e}");
            back("/desk/login", Err(e))
        }
    }
}

/// Logging out needs no CSRF token: the worst a forged request can do is
/// log the editor out.
async fn logout(State(s): State<Service>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers) {
        s.sessions.remove(&id);
    }
    let cookie = format!("{COOKIE}=; Path=/desk; HttpOnly; SameSite=Strict; Max-Age=0");
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

    #[test]
    fn sessions_expire_and_are_removed() {
        let s = Sessions::default();
        let (id, csrf) = s.create("王编辑");
        assert_eq!(s.get(&id), Some(("王编辑".to_string(), csrf)));
        s.remove(&id);
        assert_eq!(s.get(&id), None);
        assert_ne!(random_hex(), random_hex());
    }
}
