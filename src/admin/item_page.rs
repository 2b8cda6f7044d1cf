//! One item on the desk, and every irreversible action in two steps.
//!
//! `GET /desk/item/{id}`: what an editor needs to decide on one article —
//! where it came from, the post on each platform (link and the platform's
//! time, labelled apart from the source article's date), its whole history,
//! the preview as it will be published, and only the actions its state
//! allows. A hand push (`GET /desk/push` → `POST /desk/push`) lands here as
//! a held item waiting for 确认推送; a broadcast first shows its plan
//! (`GET /desk/item/{id}/broadcast?to=…`) and is confirmed from there.
//! Built with maud (escapes by default).

// Handlers here return an early `Response` as the error of small helpers;
// that is axum's idiom, and boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::{back, flash, page};
use super::session::{HasCsrf, guarded, has_csrf, logged_in};
use crate::config::Editor;
use crate::desk::confirm::{PlanStep, awaiting_confirm, version};
use crate::desk::{Delivery, ItemView};
use crate::store::{AuditAction, Item, StateName as S};
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::HashMap;

has_csrf!(ActionForm, PushForm, BroadcastForm);

fn url_path(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn item_href(id: &str) -> String {
    format!("/desk/item/{}", url_path(id))
}

/// A time in the daemon's zone, the zone named.
fn when(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    crate::clock::zoned(&t, tz)
}

/// The answers of a push or broadcast, in Chinese, by account and unit name.
pub fn deliveries_zh(config: &crate::config::Config, ds: &[Delivery]) -> String {
    if ds.is_empty() {
        return "没有账号需要推送".into();
    }
    ds.iter()
        .map(|d| {
            let unit = config
                .unit(&d.unit)
                .map_or(d.unit.as_str(), |u| &u.org_name);
            format!("{}（{}）：{} {}", d.account, unit, d.outcome.zh(), d.detail)
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// Where the item came from: its site and source, or who pushed or
/// broadcast it (from the audit log).
fn origin(item: &Item, history: &[crate::store::AuditEntry]) -> String {
    let by = |a: AuditAction| {
        history
            .iter()
            .rev()
            .find(|e| e.action == a)
            .map(|e| e.editor.clone())
    };
    if item.source == "push" {
        let who = by(AuditAction::PushPreview)
            .or_else(|| by(AuditAction::PushUrl))
            .unwrap_or_else(|| "编辑".into());
        format!("{who} 手动推送的链接")
    } else if let Some(from) = item.source.strip_prefix("broadcast:") {
        let note = item.notes.first().cloned().unwrap_or_default();
        format!("联动推送，源稿件 {from}（{note}）")
    } else {
        format!("站点抓取（来源：{}）", item.source)
    }
}

async fn item_page(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (ed, csrf) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let desk = s.desk();
    let item = match desk.item(&ed, &id) {
        Ok(i) => i,
        Err(e) => return back("/desk", Err(e)),
    };
    let history = s.ctx.store.audit_of(&item.id).unwrap_or_default();
    let config = s.config();
    let tz = config.daemon.timezone;
    let v = ItemView::from(&item);
    let unit = config.unit(&item.unit);
    let (shown_title, shortened) = unit
        .map(|u| u.platform_title(&item.title))
        .unwrap_or_else(|| (item.title.clone(), false));
    let state = item.state.kind();
    let waiting = matches!(state, S::Held | S::Queued | S::Failed);
    let confirm = awaiting_confirm(&item);
    let href = item_href(&item.id);
    let action = |a: &str| format!("{href}/{a}");
    let button = |a: &str, label: &str| -> Markup {
        html! {
            form method="post" action=(action(a)) class="inline" {
                input type="hidden" name="csrf" value=(csrf);
                button id=(a) { (label) }
            }
        }
    };
    let body = html! {
        (maud::PreEscaped(flash(&q)))
        h2 { (item.title) }
        @if confirm {
            div class="banner" {
                strong { "这是手动推送的预览，尚未发布。" }
                "请核对下方预览（标题、正文、备注、账号）无误后确认推送；确认后不可撤回。"
                div class="actions" {
                    form method="post" action=(action("confirm-push")) class="inline" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="version" value=(version(&item));
                        button id="confirm-push" { "确认推送" }
                    }
                    (button("cancel-push", "取消"))
                }
            }
        }
        table {
            tr { th { "单位" } td { (unit.map_or(item.unit.as_str(), |u| u.org_name.as_str())) } }
            tr { th { "推送账号" } td {
                (unit.map(|u| u.accounts.iter().map(|a| a.name.clone()).collect::<Vec<_>>().join("、")).unwrap_or_default())
            } }
            tr { th { "状态" } td class=(format!("state-{}", v.state)) {
                (state.label_zh()) @if item.priority { " ★优先" }
            } }
            @if let Some(r) = &v.reason { tr { th { "原因" } td { (crate::desk::reason_zh(r)) } } }
            tr { th { "来源" } td { (origin(&item, &history)) } }
            tr { th { "原文链接" } td {
                a href=(item.url) rel="noopener noreferrer" target="_blank" { (item.url) }
            } }
            // The source article's own date, named so it is not taken for
            // when the platform published it (below, per account).
            tr { th { "原文发布时间" } td {
                (item.published_at.map(|t| when(t.with_timezone(&chrono::Utc), tz)).unwrap_or_else(|| "未知".into()))
            } }
            tr { th { "发现时间" } td { (when(item.discovered_at, tz)) } }
            @for d in &v.deliveries {
                tr {
                    th { "平台稿件（" (d.account) "）" }
                    td {
                        (crate::desk::DeliveryView { remote_url: None, remote_id: None, at: None, ..d.clone() }.zh())
                        @if let Some(u) = &d.remote_url {
                            " " a href=(u) rel="noopener noreferrer" target="_blank" { "在平台上打开" }
                        } @else if let Some(r) = &d.remote_id { " 平台编号 " (r) }
                    }
                }
                @if let Some(at) = d.at.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
                    tr { th { "平台发布时间（" (d.account) "）" } td { (when(at.with_timezone(&chrono::Utc), tz)) } }
                }
            }
            tr { th { "平台标题" } td {
                (shown_title) @if shortened { "（标题过长已截断，完整标题作为正文第一行）" }
            } }
            @if !item.notes.is_empty() { tr { th { "备注" } td { (item.notes.join("；")) } } }
            tr { th { "编号" } td { code { (item.id) } } }
        }
        @if !item.review_hits.is_empty() {
            h3 { "审核命中" }
            ul { @for h in &item.review_hits {
                li { "【" (h.list) "】" (h.term) "：…" (h.context) "…" }
            } }
        }
        h3 { "操作" }
        div class="actions" {
            // Only what the item's state allows is offered (the desk refuses
            // the rest anyway; a button that is then refused only confuses).
            @if state == S::Held && !confirm { (button("approve", "通过审核")) }
            @if waiting && !confirm { (button("priority", "设为优先")) }
            @if matches!(state, S::Queued | S::Failed | S::Seen) { (button("push", "立即发布")) }
            @if desk.may_unreject(&item) {
                (button("unreject", &format!("撤销驳回（驳回后 {} 天内可撤销）", config.daemon.undo_reject.num_days())))
            }
        }
        @if waiting && !confirm {
            form method="post" action=(action("reject")) {
                input type="hidden" name="csrf" value=(csrf);
                label { "驳回理由 " input name="reason" required maxlength="500" size="40"; }
                " " button id="reject" { "驳回" }
            }
        }
        @if waiting {
            form method="post" action=(action("title")) {
                input type="hidden" name="csrf" value=(csrf);
                label { "修改标题 " input name="title" required maxlength="100" size="50" value=(item.title); }
                " " button id="retitle" { "保存标题" }
            }
            details {
                summary { "修改正文" }
                p { "每行一段；删除一行即删除该段。" code { "[图片N]" } " 一行是原文的第 N 张图片，可移动或删除，不能新增。保存后正文为纯段落（小标题、列表、表格的格式不保留）。" }
                form method="post" action=(action("body")) {
                    input type="hidden" name="csrf" value=(csrf);
                    textarea name="text" rows="16" cols="80" { (crate::desk::body::as_text(&item)) }
                    p { button id="edit-body" { "保存正文" } }
                }
            }
        }
        @if !item.text.trim().is_empty() && !confirm && state != S::Rejected {
            form method="get" action=(action("broadcast")) {
                label { "矩阵联动：推送到 "
                    select name="to" required {
                        option value="" selected disabled { "请选择" }
                        @for u in config.units.iter().filter(|u| ed.may_act_on(&u.id)) {
                            option value=(u.id) { (u.org_name) "（" (u.account_name) "）及下级" }
                        }
                    }
                }
                " " button id="broadcast" { "查看联动推送名单" }
            }
        }
        h3 { "发布预览" }
        // Sandboxed without `allow-scripts` (and the CSP allows no script):
        // nothing in the article runs. `allow-same-origin` keeps the desk's
        // origin, so the images' requests to `/desk/image/…` carry the
        // SameSite=Strict session cookie; from an opaque origin they would
        // not, and every image would be refused.
        iframe sandbox="allow-same-origin" title="发布预览" srcdoc=(crate::desk::preview::render(unit.map(|u| &**u), &item, tz)) {}
        h3 { "历史记录" }
        @if history.is_empty() { p { "暂无编辑操作" } } @else {
            table {
                tr { th { "时间" } th { "编辑" } th { "操作" } th { "之前" } th { "之后" } th { "说明" } }
                @for e in &history {
                    tr {
                        td { (when(e.at, tz)) }
                        td { (e.editor) }
                        td { (e.action.label_zh()) }
                        td { (state_or(e.before.as_deref())) }
                        td { (state_or(e.after.as_deref())) }
                        td { (e.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    page(&item.title, Some(&ed.name), &body.into_string())
}

/// An audit entry's before/after: a state name in Chinese, else as written.
fn state_or(s: Option<&str>) -> String {
    match s {
        Some(x) => S::parse(x).map_or_else(|| x.to_string(), |n| n.label_zh().to_string()),
        None => String::new(),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    reason: Option<String>,
    title: Option<String>,
    text: Option<String>,
    version: Option<String>,
}

async fn item_action(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (ed, f) = match guarded(&s, &headers, form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let desk = s.desk();
    let config = s.config();
    let r = match action.as_str() {
        "approve" => desk
            .approve(&ed, &id)
            .await
            .map(|_| "已通过审核，进入发布队列".to_string()),
        "priority" => desk
            .priority(&ed, &id)
            .await
            .map(|_| "已设为优先".to_string()),
        "reject" => desk
            .reject(&ed, &id, f.reason.as_deref().unwrap_or(""))
            .await
            .map(|_| "已驳回".to_string()),
        "unreject" => desk
            .unreject(&ed, &id)
            .await
            .map(|_| "已撤销驳回，稿件回到待审核".to_string()),
        "title" => desk
            .edit_title(&ed, &id, f.title.as_deref().unwrap_or(""))
            .await
            .map(|_| "标题已保存".to_string()),
        "body" => desk
            .edit_body(&ed, &id, f.text.as_deref().unwrap_or(""))
            .await
            .map(|_| "正文已保存，预览为修改后的正文".to_string()),
        "push" => desk
            .push_now(&ed, &id)
            .await
            .map(|ds| deliveries_zh(&config, &ds)),
        "confirm-push" => desk
            .push_confirm(&ed, &id, f.version.as_deref())
            .await
            .map(|ds| deliveries_zh(&config, &ds)),
        "cancel-push" => desk
            .push_cancel(&ed, &id)
            .await
            .map(|_| "已取消推送，稿件已驳回".to_string()),
        _ => return (StatusCode::NOT_FOUND, "没有这个操作").into_response(),
    };
    back(&item_href(&id), r)
}

/// `GET /desk/push`: the hand-push form; no account is chosen by default (a
/// push to the wrong account cannot be undone).
async fn push_form(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (ed, csrf) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let config = s.config();
    let body = html! {
        (maud::PreEscaped(flash(&q)))
        h2 { "手动推送链接" }
        p { "先抓取并显示发布预览，核对后再确认推送；确认前不会发布。" }
        form method="post" action="/desk/push" {
            input type="hidden" name="csrf" value=(csrf);
            p { label { "文章链接 " input type="url" name="url" required size="60"; } }
            p { label { "推送到 "
                select name="unit" required {
                    option value="" selected disabled { "请选择" }
                    @for u in config.units.iter().filter(|u| ed.may_act_on(&u.id)) {
                        option value=(u.id) { (u.org_name) "（" (u.account_name) "）" }
                    }
                }
            } }
            p { label { input type="checkbox" name="force" value="1"; " 强制（已推送过也再推一次）" } }
            p { button id="preview-push" { "抓取并预览" } }
        }
    };
    page("手动推送", Some(&ed.name), &body.into_string())
}

#[derive(Deserialize)]
struct PushForm {
    csrf: Option<String>,
    url: String,
    #[serde(default)]
    unit: String,
    force: Option<String>,
}

/// `POST /desk/push`: fetch, extract and store for confirmation, then show
/// the item page with its preview and 确认推送.
async fn push(
    State(s): State<Service>,
    headers: HeaderMap,
    form: Result<Form<PushForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (ed, f) = match guarded(&s, &headers, form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match s
        .desk()
        .push_preview(&ed, &f.url, &f.unit, f.force.is_some())
        .await
    {
        Ok(p) => back(
            &item_href(&p.preview),
            Ok("已抓取，尚未发布：请核对预览后确认推送".into()),
        ),
        Err(e) => back("/desk/push", Err(e)),
    }
}

/// `GET /desk/item/{id}/broadcast?to=…`: who would get it, then 确认.
async fn broadcast_plan(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (ed, csrf) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let to = q.get("to").map(String::as_str).unwrap_or("");
    let plan = match s.desk().broadcast_plan(&ed, &id, to) {
        Ok(p) => p,
        Err(e) => return back(&item_href(&id), Err(e)),
    };
    let body = broadcast_plan_body(&ed, &csrf, &plan);
    page("联动推送名单", Some(&ed.name), &body.into_string())
}

fn broadcast_plan_body(
    _ed: &Editor,
    csrf: &str,
    plan: &crate::desk::confirm::BroadcastPlan,
) -> Markup {
    let count = |st: PlanStep| plan.rows.iter().filter(|r| r.step == st).count();
    html! {
        h2 { "联动推送名单" }
        p { "将推送 " (count(PlanStep::Send)) " 个单位，已有 " (count(PlanStep::Has)) " 个，无权推送 " (count(PlanStep::OutOfReach)) " 个。" }
        table {
            tr { th { "单位" } th { "账号" } th { "结果" } th { "说明" } }
            @for r in &plan.rows {
                tr class=(format!("plan-{}", match r.step { PlanStep::Send => "send", PlanStep::Has => "has", PlanStep::OutOfReach => "out" })) {
                    td { (r.org_name) }
                    td { (r.accounts.join("、")) }
                    td { (r.step.zh()) }
                    td { (r.detail) }
                }
            }
        }
        @if plan.may_confirm() {
            form method="post" action="/desk/broadcast" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="item" value=(plan.item);
                input type="hidden" name="to" value=(plan.to);
                input type="hidden" name="digest" value=(plan.digest);
                button id="confirm-broadcast" { "确认联动推送" }
                " " a href=(item_href(&plan.item)) { "取消" }
            }
        } @else {
            p class="msg err" { "名单中有你无权推送的单位，或没有单位需要推送，不能联动推送。" }
            a href=(item_href(&plan.item)) { "返回稿件" }
        }
    }
}

#[derive(Deserialize)]
struct BroadcastForm {
    csrf: Option<String>,
    item: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    digest: String,
}

async fn broadcast(
    State(s): State<Service>,
    headers: HeaderMap,
    form: Result<Form<BroadcastForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (ed, f) = match guarded(&s, &headers, form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let config = s.config();
    let r = s
        .desk()
        .broadcast(&ed, &f.item, &f.to, &f.digest)
        .await
        .map(|ds| format!("联动推送完成：{}", deliveries_zh(&config, &ds)));
    back(&item_href(&f.item), r)
}

/// `GET /desk/image/{id}/{n}`: an article's image for the preview, fetched
/// by the daemon, so the editor's browser loads nothing from the sites.
async fn image(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let (ed, _) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match s.desk().image(&ed, &id, n).await {
        Ok((ct, bytes)) => (
            [
                (header::CONTENT_TYPE, ct),
                (header::CACHE_CONTROL, "private, max-age=3600".into()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, e.to_string()).into_response()
        }
    }
}

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/desk/item/{id}", get(item_page))
        .route("/desk/item/{id}/broadcast", get(broadcast_plan))
        .route("/desk/item/{id}/{action}", post(item_action))
        .route("/desk/push", get(push_form).post(push))
        .route("/desk/broadcast", post(broadcast))
        .route("/desk/image/{id}/{n}", get(image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, RwLock};

    /// One unit over the sample site, publishing to files, and an editor's
    /// session on its desk.
    async fn desk() -> (tempfile::TempDir, Service, String, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = listener.local_addr().unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let sd = shutdown.clone();
        let sample = crate::demo::SampleSite::new();
        tokio::spawn(async move { sample.serve(listener, sd).await });
        let text = format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n\n[fetch]\nhost_delay_ms = 0\n\n[[unit]]\nid = \"u\"\naccount_name = \"测试号\"\norg_name = \"测试县科协\"\nlevel = \"county\"\nsite = \"http://{site}/\"\n  [[unit.source]]\n  list = \"http://{site}/xwzx/\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n"
        );
        let mut config = crate::config::parse(&text, &dir.path().join("autosync.toml")).unwrap();
        config.daemon.editors_file = Some(dir.path().join("editors.toml"));
        config.editors.push(Editor {
            name: "王编辑".into(),
            token: crate::secret::Secret::new("0123456789abcdef0123"),
            units: None,
            role: Default::default(),
        });
        let ctx =
            crate::pipeline::Context::open(&config, Arc::new(crate::clock::SystemClock), shutdown)
                .unwrap();
        let outboxes = Arc::new(crate::outbox::Outboxes::new(
            ctx.clone(),
            config.daemon.timezone,
            None,
        ));
        let service = Service {
            ctx,
            config: Arc::new(RwLock::new(Arc::new(config))),
            metrics: Default::default(),
            sessions: Default::default(),
            outboxes,
            wakers: Default::default(),
        };
        let editor = service
            .config()
            .editors
            .iter()
            .find(|e| e.name == "王编辑")
            .cloned()
            .expect("the test's editor");
        let (session, csrf) = service.sessions.create(&service, &editor).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(super::super::serve(listener, service.clone()));
        let article = format!("http://{site}{}", crate::demo::LIST_ARTICLES[0].path);
        (
            dir,
            service,
            format!("autosync_session={session}"),
            csrf,
            format!("{base}|{article}"),
        )
    }

    #[tokio::test]
    async fn the_push_page_previews_and_only_the_confirm_publishes_once() {
        let (dir, _service, cookie, csrf, both) = desk().await;
        let (base, article) = both.split_once('|').unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let get = |path: String| {
            let (client, cookie) = (client.clone(), cookie.clone());
            async move {
                let r = client
                    .get(path)
                    .header(header::COOKIE, cookie)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let post = |path: String, form: Vec<(&'static str, String)>| {
            let (client, cookie) = (client.clone(), cookie.clone());
            async move {
                let r = client
                    .post(path)
                    .header(header::COOKIE, cookie)
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                r.headers()[header::LOCATION].to_str().unwrap().to_string()
            }
        };
        let posts = || std::fs::read_dir(dir.path().join("out")).map_or(0, |d| d.count());
        let (_, form) = get(format!("{base}/desk/push")).await;
        assert!(
            form.contains(
                r#"<select name="unit" required><option value="" selected disabled>请选择</option>"#
            ),
            "{form}"
        );
        let to = post(
            format!("{base}/desk/push"),
            vec![
                ("csrf", csrf.clone()),
                ("url", article.into()),
                ("unit", String::new()),
            ],
        )
        .await;
        assert!(to.starts_with("/desk/push?err="), "{to}");
        let to = post(
            format!("{base}/desk/push"),
            vec![
                ("csrf", csrf.clone()),
                ("url", article.into()),
                ("unit", "u".into()),
            ],
        )
        .await;
        assert!(to.starts_with("/desk/item/"), "{to}");
        assert_eq!(posts(), 0, "published before the confirm");
        let (_, shown) = get(format!("{base}{to}")).await;
        assert!(
            shown.contains("尚未发布") && shown.contains(r#"id="confirm-push""#),
            "{shown}"
        );
        assert!(!shown.contains(r#"id="approve""#), "{shown}");
        assert!(
            !shown.contains("src=&quot;http"),
            "the preview loads a site's image: {shown}"
        );
        let id = to
            .trim_start_matches("/desk/item/")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let version = shown
            .split(r#"name="version" value=""#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        let confirm = vec![("csrf", csrf.clone()), ("version", version)];
        let first = post(
            format!("{base}/desk/item/{id}/confirm-push"),
            confirm.clone(),
        )
        .await;
        assert!(first.contains("msg="), "{first}");
        let again = post(format!("{base}/desk/item/{id}/confirm-push"), confirm).await;
        assert!(again.contains("err="), "{again}");
        assert_eq!(posts(), 1);
        let (_, shown) = get(format!("{base}/desk/item/{id}")).await;
        for want in [
            "历史记录",
            "预览推送",
            "手动推送网址",
            "平台发布时间（测试号）",
            "王编辑 手动推送的链接",
        ] {
            assert!(shown.contains(want), "{want}: {shown}");
        }
        assert!(!shown.contains(r#"id="confirm-push""#), "{shown}");
        // The article's image is shown through the desk, as a PNG.
        assert!(shown.contains("/desk/image/"), "{shown}");
        let r = client
            .get(format!("{base}/desk/image/{id}/0"))
            .header(header::COOKIE, cookie.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
        let (st, _) = get(format!("{base}/desk/image/{id}/7")).await;
        assert_eq!(st, 404);
        let r = client
            .get(format!("{base}/desk/image/{id}/0"))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 200, "an image without a session");
        // The broadcast plan: the only unit has it already, so no confirm.
        let (_, plan) = get(format!("{base}/desk/item/{id}/broadcast?to=u")).await;
        assert!(
            plan.contains("联动推送名单") && plan.contains("已有，不再推送"),
            "{plan}"
        );
        assert!(!plan.contains(r#"id="confirm-broadcast""#), "{plan}");
    }
}
