//! The editors' JSON API: `Authorization: Bearer TOKEN`, no or a wrong token
//! → 401, a unit outside the editor's reach → 403. Bearer tokens are not
//! sent by browsers on their own, so this API needs no CSRF token (the web
//! page, which uses a cookie, does).
//!
//! Wrong tokens count against the client's address exactly as failed desk
//! logins do, in the same [`super::login_limit`]: a script guessing tokens
//! through the API gets no more tries than one guessing them on the login
//! page, and the two together no more than either.

use super::Service;
use crate::config::Editor;
use crate::desk::{DeskError, ItemView, audit_csv};
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

/// An error as JSON: `{"code": "wrong_state", "message": "中文…"}` with the
/// matching status; scripts read the code, editors the message.
pub fn error_response(e: &DeskError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({ "code": e.code(), "message": e.to_string() })),
    )
        .into_response()
}

fn bad_json(e: JsonRejection) -> Response {
    (
        e.status(),
        axum::Json(json!({
            "code": crate::desk::ErrorCode::BadInput,
            "message": format!("请求内容有误：{}", e.body_text()),
        })),
    )
        .into_response()
}

/// The rate limit on wrong tokens, around every API route: refused with
/// 429 while the address is blocked; a 401 to a request that carried a
/// token counts as a failure, any other answer to one clears the count (a
/// request without a token guesses nothing).
pub(super) async fn limit_guesses(
    State(s): State<Service>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let config = s.config();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let addr =
        super::session::client_addr(peer, req.headers(), &config.daemon.desk_trusted_proxies);
    let shown = addr.map_or("(unknown address)".to_string(), |a| a.to_string());
    let key = addr.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = s.ctx.clock.now();
    let refuse = |until: chrono::DateTime<chrono::Utc>| {
        let at = crate::clock::zoned(&until, config.daemon.timezone);
        let mut r = error_response(&DeskError::TooManyFailures(at.to_string()));
        let secs = (until - now).num_seconds().max(1);
        r.headers_mut().insert(header::RETRY_AFTER, secs.into());
        r
    };
    if let Some(until) = s.sessions.limit.blocked_until(key, now) {
        tracing::warn!(address = %shown, %until, "API request refused: too many wrong tokens from this address");
        return refuse(until);
    }
    let with_token = req.headers().contains_key(header::AUTHORIZATION);
    let r = next.run(req).await;
    if !with_token {
        return r;
    }
    if r.status() != StatusCode::UNAUTHORIZED {
        s.sessions.limit.succeeded(key);
        return r;
    }
    tracing::warn!(address = %shown, "API request refused: wrong token");
    match s.sessions.limit.failed(key, now) {
        Some(until) => {
            tracing::warn!(address = %shown, %until, "API requests and desk logins from this address refused until then");
            refuse(until)
        }
        None => r,
    }
}

/// The editor behind the request's bearer token.
fn editor(shared: &Service, headers: &HeaderMap) -> Result<Editor, DeskError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(DeskError::Unauthorized)?;
    let config = shared.config();
    crate::desk::authenticate(&config, token.trim()).cloned()
}

fn respond<T: serde::Serialize>(r: Result<T, DeskError>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    unit: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(s): State<Service>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error_response(&DeskError::BadInput(
            "查询参数只能是 unit、state 和 limit".into(),
        ));
    };
    respond(editor(&s, &headers).and_then(|ed| {
        s.desk()
            .list(
                &ed,
                q.unit.as_deref(),
                q.state.as_deref(),
                q.limit.unwrap_or(crate::desk::DEFAULT_LIST),
            )
            .map(|v| v.iter().map(ItemView::from).collect::<Vec<_>>())
    }))
}

async fn show(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    respond(editor(&s, &headers).and_then(|ed| {
        let item = s.desk().item(&ed, &id)?;
        Ok(json!({ "item": ItemView::from(&item), "html": item.html, "text": item.text }))
    }))
}

/// `POST /api/items/{id}/{action}`: approve, priority, push; reject and
/// title take a JSON body.
async fn act(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let ed = match editor(&s, &headers) {
        Ok(e) => e,
        Err(e) => return error_response(&e),
    };
    // A unique prefix names the item (the CLI's short ids).
    let id = match s.desk().resolve_id(&id) {
        Ok(id) => id,
        Err(e) => return error_response(&e),
    };
    let body: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                return error_response(&DeskError::BadInput("请求内容须为 JSON 对象".into()));
            }
            Err(e) => {
                return error_response(&DeskError::BadInput(format!(
                    "请求内容不是有效的 JSON：{e}"
                )));
            }
        }
    };
    let text = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let desk = s.desk();
    let r = match action.as_str() {
        "approve" => desk
            .approve(&ed, &id)
            .await
            .map(|i| json!(ItemView::from(&i))),
        "priority" => desk
            .priority(&ed, &id)
            .await
            .map(|i| json!(ItemView::from(&i))),
        "reject" => match text("reason") {
            Some(r) => desk
                .reject(&ed, &id, &r)
                .await
                .map(|i| json!(ItemView::from(&i))),
            None => Err(DeskError::BadInput(
                "驳回须给出理由：{\"reason\": \"…\"}".into(),
            )),
        },
        "title" => match text("title") {
            Some(t) => desk
                .edit_title(&ed, &id, &t)
                .await
                .map(|i| json!(ItemView::from(&i))),
            None => Err(DeskError::BadInput(
                "修改标题须给出：{\"title\": \"…\"}".into(),
            )),
        },
        "body" => match text("text") {
            Some(t) => desk.edit_body(&ed, &id, &t).await.map(
                |i| json!({ "item": ItemView::from(&i), "text": crate::desk::body::as_text(&i) }),
            ),
            None => Err(DeskError::BadInput(
                "修改正文须给出：{\"text\": \"…\"}".into(),
            )),
        },
        "unreject" => desk
            .unreject(&ed, &id)
            .await
            .map(|i| json!(ItemView::from(&i))),
        "cancel-push" => desk
            .push_cancel(&ed, &id)
            .await
            .map(|i| json!(ItemView::from(&i))),
        "push" => desk.push_now(&ed, &id).await.map(|d| json!(d)),
        other => Err(DeskError::NotFound(format!("操作「{other}」"))),
    };
    respond(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushPreviewBody {
    url: String,
    unit: String,
    #[serde(default)]
    force: bool,
}

/// The confirm of a previewed push: the preview's id, and the version shown
/// (refused if the item changed since).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushBody {
    preview: String,
    version: Option<String>,
}

/// The editor and the parsed JSON body, or the error answer. (An early
/// `Response` as the error is axum's idiom.)
#[allow(clippy::result_large_err)]
fn authed<T>(
    s: &Service,
    headers: &HeaderMap,
    body: Result<axum::Json<T>, JsonRejection>,
) -> Result<(Editor, T), Response> {
    let ed = editor(s, headers).map_err(|e| error_response(&e))?;
    let axum::Json(b) = body.map_err(bad_json)?;
    Ok((ed, b))
}

/// `POST /api/push/preview`: fetch, extract and store for confirmation;
/// nothing is sent.
async fn push_preview(
    State(s): State<Service>,
    headers: HeaderMap,
    body: Result<axum::Json<PushPreviewBody>, JsonRejection>,
) -> Response {
    match authed(&s, &headers, body) {
        Ok((ed, b)) => respond(s.desk().push_preview(&ed, &b.url, &b.unit, b.force).await),
        Err(r) => r,
    }
}

/// `POST /api/push`: publish what `/api/push/preview` showed.
async fn push(
    State(s): State<Service>,
    headers: HeaderMap,
    body: Result<axum::Json<PushBody>, JsonRejection>,
) -> Response {
    match authed(&s, &headers, body) {
        Ok((ed, b)) => respond(
            s.desk()
                .push_confirm(&ed, &b.preview, b.version.as_deref())
                .await,
        ),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    item: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastBody {
    item: String,
    to: String,
    /// The digest of the plan shown (`/api/broadcast/plan`).
    digest: String,
}

async fn broadcast_plan(
    State(s): State<Service>,
    headers: HeaderMap,
    body: Result<axum::Json<PlanBody>, JsonRejection>,
) -> Response {
    match authed(&s, &headers, body) {
        Ok((ed, b)) => respond(s.desk().broadcast_plan(&ed, &b.item, &b.to)),
        Err(r) => r,
    }
}

async fn broadcast(
    State(s): State<Service>,
    headers: HeaderMap,
    body: Result<axum::Json<BroadcastBody>, JsonRejection>,
) -> Response {
    match authed(&s, &headers, body) {
        Ok((ed, b)) => respond(match s.desk().resolve_id(&b.item) {
            Ok(item) => s.desk().broadcast(&ed, &item, &b.to, &b.digest).await,
            Err(e) => Err(e),
        }),
        Err(r) => r,
    }
}

async fn audit(State(s): State<Service>, headers: HeaderMap) -> Response {
    respond(editor(&s, &headers).and_then(|ed| s.desk().audit(&ed)))
}

async fn audit_export(State(s): State<Service>, headers: HeaderMap) -> Response {
    match editor(&s, &headers).and_then(|ed| s.desk().audit(&ed)) {
        Ok(log) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"autosync-audit.csv\"",
                ),
            ],
            audit_csv(&log, &s.config()),
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/api/items", get(list))
        .route("/api/items/{id}", get(show))
        .route("/api/items/{id}/{action}", post(act))
        .route("/api/push/preview", post(push_preview))
        .route("/api/push", post(push))
        .route("/api/broadcast/plan", post(broadcast_plan))
        .route("/api/broadcast", post(broadcast))
        .route("/api/audit", get(audit))
        .route("/api/audit.csv", get(audit_export))
}
