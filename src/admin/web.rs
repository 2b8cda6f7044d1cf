//! The editors' web page under `/desk`: server-rendered HTML, no JavaScript
//! build step, Chinese interface text.
//!
//! Logging in and the CSRF check are in [`super::session`], the page frame
//! in [`super::layout`]. Everything rendered is escaped; the article preview is shown in a sandboxed iframe
//! (`srcdoc`, no scripts), as it will be published.

// Handlers here return an early `Response` as the error of small helpers;
// that is axum's idiom, and boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::{back, esc, flash, page};
use super::session::{HasCsrf, guarded, has_csrf, logged_in};
use crate::config::Editor;
use crate::desk::{Delivery, DeskError, ItemView};
use crate::store::Item;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;

fn state_zh(s: &str) -> &'static str {
    crate::store::StateName::parse(s).map_or("未知", |n| n.label_zh())
}

has_csrf!(ActionForm, PushForm, BroadcastForm);

/// One row of the item list; times in the daemon's time zone.
fn item_row(i: &Item, tz: chrono_tz::Tz) -> String {
    let v = ItemView::from(i);
    format!(
        r#"<tr><td>{unit}</td><td class="state-{state}">{state_zh}{prio}</td><td><a href="/desk/item/{id}">{title}</a></td><td>{found}</td><td>{reason}</td></tr>"#,
        unit = esc(&v.unit),
        state = esc(&v.state),
        state_zh = state_zh(&v.state),
        prio = if v.priority { " ★优先" } else { "" },
        id = esc(&v.id),
        title = esc(&v.title),
        found = i.discovered_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        reason = esc(v.reason.as_deref().unwrap_or("")),
    )
}

/// What an editor must know first about the accounts in reach: paused
/// ones (and why), ones the platform asked to wait, and ones nearing or past
/// the inspection's silence deadline — most urgent first. Empty when all is
/// well.
fn account_banner(s: &Service, config: &crate::config::Config, ed: &Editor) -> String {
    use crate::update_clock::SilenceLevel;
    let now = s.ctx.clock.now();
    let Ok(status) = super::status_where(config, &s.ctx.store, now, |u| ed.may_act_on(&u.id))
    else {
        return String::new();
    };
    let tz = config.daemon.timezone;
    let when = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
    };
    // (urgency, line): a pause first, then overdue, warnings, waits.
    let mut lines: Vec<(u8, i64, String)> = Vec::new();
    for u in &status.units {
        for a in &u.accounts {
            let who = format!("账号「{}」（{}）", a.account, u.unit);
            if let Some(p) = &a.paused {
                lines.push((
                    0,
                    0,
                    format!("{who}已暂停发布（自 {}）：{}", when(p.since), p.reason.zh()),
                ));
            }
            let days = a.days_silent.unwrap_or(0);
            let deadline = a
                .deadline
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            match a.silence {
                Some(SilenceLevel::Overdue) => lines.push((
                    1,
                    -days,
                    format!("{who}已 {days} 天未发布，已超过检查期限（{deadline}）"),
                )),
                Some(SilenceLevel::Warning(_)) => lines.push((
                    2,
                    -days,
                    format!("{who}已 {days} 天未发布，请在 {deadline} 前发布"),
                )),
                _ => {}
            }
            if let Some(t) = a.rate_limited_until {
                lines.push((3, 0, format!("{who}平台要求稍后再发，{} 后继续", when(t))));
            }
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    lines.sort();
    let mut out = String::from(r#"<div class="banner"><strong>需要注意的账号</strong><ul>"#);
    for (_, _, l) in lines {
        let _ = write!(out, "<li>{}</li>", esc(&l));
    }
    out.push_str("</ul></div>");
    out
}

async fn index(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (ed, csrf) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let config = s.config();
    let unit = q.get("unit").filter(|u| !u.is_empty()).map(String::as_str);
    let state = q.get("state").filter(|u| !u.is_empty()).map(String::as_str);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(crate::desk::DEFAULT_LIST);
    let items = match s.desk().list(&ed, unit, state, limit) {
        Ok(i) => i,
        Err(e) => return back("/desk", Err(e)),
    };
    let mut body = flash(&q);
    let units: Vec<&crate::config::Unit> = config
        .units
        .iter()
        .filter(|u| ed.may_act_on(&u.id))
        .collect();
    body.push_str(&account_banner(&s, &config, &ed));
    let opt = |value: &str, label: &str, sel: Option<&str>| {
        format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(value),
            if sel == Some(value) { " selected" } else { "" },
            esc(label)
        )
    };
    let _ = write!(
        body,
        r#"<form method="get" action="/desk"><label>单位 <select name="unit">{}"#,
        opt("", "全部", unit)
    );
    for u in &units {
        body.push_str(&opt(
            &u.id,
            &format!("{}（{}）", u.account_name, u.id),
            unit,
        ));
    }
    body.push_str(r#"</select></label> <label>状态 <select name="state">"#);
    body.push_str(&opt("", "全部（不含基线）", state));
    for st in [
        "held",
        "queued",
        "publishing",
        "published",
        "failed",
        "rejected",
        "seen",
    ] {
        body.push_str(&opt(st, state_zh(st), state));
    }
    body.push_str(r#"</select></label> <button>筛选</button></form>"#);
    let _ = write!(
        body,
        r#"<h2>稿件（{}）</h2><table><tr><th>单位</th><th>状态</th><th>标题</th><th>发现时间</th><th>原因</th></tr>"#,
        items.len()
    );
    for i in &items {
        body.push_str(&item_row(i, config.daemon.timezone));
    }
    body.push_str("</table>");
    // Only the newest are read and shown; say so, and offer more.
    if items.len() >= crate::desk::list_limit(limit) {
        let mut more = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("unit", unit), ("state", state)] {
            if let Some(v) = v {
                more.append_pair(k, v);
            }
        }
        more.append_pair("limit", &crate::desk::MAX_LIST.to_string());
        let _ = write!(
            body,
            r#"<p>只显示最新的 {} 条。<a href="/desk?{}">显示最新 {} 条</a></p>"#,
            items.len(),
            esc(&more.finish()),
            crate::desk::MAX_LIST
        );
    }
    let _ = write!(
        body,
        r#"<h2>手动推送链接</h2><form method="post" action="/desk/push"><input type="hidden" name="csrf" value="{csrf}"><label>文章链接 <input type="url" name="url" required size="60"></label> <label>推送到 <select name="unit" required><option value="" selected disabled>请选择</option>"#,
        csrf = esc(&csrf)
    );
    for u in &units {
        body.push_str(&opt(
            &u.id,
            &format!("{}（{}）", u.account_name, u.id),
            None,
        ));
    }
    body.push_str(r#"</select></label> <label><input type="checkbox" name="force" value="1"> 已推送过也再推一次</label> <button>立即推送</button></form>"#);
    page("稿件", Some(&ed.name), &body)
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
    let item = match s.desk().item(&ed, &id) {
        Ok(i) => i,
        Err(e) => return back("/desk", Err(e)),
    };
    let config = s.config();
    let v = ItemView::from(&item);
    let unit = config.unit(&item.unit);
    let (shown_title, shortened) = unit
        .map(|u| u.platform_title(&item.title))
        .unwrap_or_else(|| (item.title.clone(), false));
    let mut preview = String::new();
    if shortened {
        let _ = write!(preview, "<p>{}</p>", esc(&item.title));
    }
    preview.push_str(&item.html);
    // The source line closing the post, as every platform will get it.
    if let Some(line) =
        unit.and_then(|u| crate::publish::source_line::render(u, &item, config.daemon.timezone))
    {
        preview.push_str(&line.html);
    }
    let srcdoc = format!(
        "<!doctype html><meta charset=utf-8><style>body{{font-family:sans-serif;line-height:1.7;padding:0 1em}}img{{max-width:100%}}</style><h1>{}</h1>{}",
        esc(&shown_title),
        preview
    );
    let mut body = flash(&q);
    let _ = write!(
        body,
        r#"<h2>{title}</h2><table>
<tr><th>编号</th><td>{id}</td></tr><tr><th>单位</th><td>{unit}</td></tr>
<tr><th>状态</th><td class="state-{state}">{state_zh}{prio}</td></tr>
<tr><th>原因</th><td>{reason}</td></tr>
<tr><th>原文链接</th><td><a href="{url}" rel="noopener noreferrer" target="_blank">{url}</a></td></tr>
<tr><th>原文发布时间</th><td>{published}</td></tr>
<tr><th>平台标题</th><td>{shown}{short}</td></tr>
<tr><th>备注</th><td>{notes}</td></tr>"#,
        title = esc(&item.title),
        id = esc(&item.id),
        unit = esc(&item.unit),
        state = esc(&v.state),
        state_zh = state_zh(&v.state),
        prio = if item.priority { " ★优先" } else { "" },
        reason = esc(v.reason.as_deref().unwrap_or("")),
        url = esc(&item.url),
        // The source article's own date, in the daemon's zone, named so it
        // is not taken for when the platform published it (see below).
        published = esc(&item
            .published_at
            .map(|t| {
                t.with_timezone(&config.daemon.timezone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .unwrap_or_else(|| "未知".into())),
        shown = esc(&shown_title),
        short = if shortened {
            "（标题过长已截断，完整标题作为正文第一行）"
        } else {
            ""
        },
        notes = esc(&item.notes.join("；")),
    );
    if let Some(rid) = &v.remote_id {
        let _ = write!(
            body,
            "<tr><th>平台稿件</th><td>{}</td></tr>",
            esc(v.remote_url.as_deref().unwrap_or(rid))
        );
    }
    for d in &v.deliveries {
        let _ = write!(
            body,
            "<tr><th>各账号</th><td>{}</td></tr>",
            esc(&d.zh_at(config.daemon.timezone))
        );
    }
    body.push_str("</table>");
    if !item.review_hits.is_empty() {
        body.push_str("<h3>审核命中</h3><ul>");
        for h in &item.review_hits {
            let ctx = esc(&h.context).replace(
                &esc(&h.matched),
                &format!(r#"<mark class="hit">{}</mark>"#, esc(&h.matched)),
            );
            let _ = write!(
                body,
                "<li>【{}】{}：…{}…</li>",
                esc(&h.list),
                esc(&h.term),
                ctx
            );
        }
        body.push_str("</ul>");
    }
    let c = esc(&csrf);
    let i = esc(&item.id);
    // Only what the item's state allows is offered (the desk refuses the
    // rest anyway; a button that is then refused only confuses).
    use crate::store::StateName as S;
    let state = item.state.kind();
    let waiting = matches!(state, S::Held | S::Queued | S::Failed);
    body.push_str(r#"<h3>操作</h3><div class="actions">"#);
    if state == S::Held {
        let _ = write!(
            body,
            r#"<form method="post" action="/desk/item/{i}/approve" class="inline"><input type="hidden" name="csrf" value="{c}"><button id="approve">通过审核</button></form>"#
        );
    }
    if waiting {
        let _ = write!(
            body,
            r#"<form method="post" action="/desk/item/{i}/priority" class="inline"><input type="hidden" name="csrf" value="{c}"><button id="priority">设为优先</button></form>"#
        );
    }
    if waiting || state == S::Seen {
        let _ = write!(
            body,
            r#"<form method="post" action="/desk/item/{i}/push" class="inline"><input type="hidden" name="csrf" value="{c}"><button id="push">立即发布</button></form>"#
        );
    }
    if waiting {
        let _ = write!(
            body,
            r#"<form method="post" action="/desk/item/{i}/reject"><input type="hidden" name="csrf" value="{c}"><label>驳回理由 <input name="reason" required maxlength="500" size="40"></label> <button id="reject">驳回</button></form>
<form method="post" action="/desk/item/{i}/title"><input type="hidden" name="csrf" value="{c}"><label>修改标题 <input name="title" required maxlength="100" size="50" value="{t}"></label> <button id="retitle">保存标题</button></form>"#,
            t = esc(&item.title)
        );
    }
    let _ = write!(
        body,
        r#"<form method="post" action="/desk/broadcast"><input type="hidden" name="csrf" value="{c}"><input type="hidden" name="item" value="{i}"><label>矩阵联动：推送到 <select name="to" required><option value="" selected disabled>请选择</option>"#
    );
    for u in config.units.iter().filter(|u| ed.may_act_on(&u.id)) {
        let _ = write!(
            body,
            r#"<option value="{}">{}（{}）及下级</option>"#,
            esc(&u.id),
            esc(&u.account_name),
            esc(&u.id)
        );
    }
    let _ = write!(
        body,
        r#"</select></label> <button id="broadcast">联动推送</button></form></div>
<h3>发布预览</h3><iframe sandbox="" title="发布预览" srcdoc="{}"></iframe>"#,
        esc(&srcdoc)
    );
    page(&item.title, Some(&ed.name), &body)
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    reason: Option<String>,
    title: Option<String>,
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
        "title" => desk
            .edit_title(&ed, &id, f.title.as_deref().unwrap_or(""))
            .await
            .map(|_| "标题已保存".to_string()),
        "push" => desk.push_now(&ed, &id).await.map(|ds| deliveries_zh(&ds)),
        _ => return (StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    back(&format!("/desk/item/{}", url_path(&id)), r)
}

fn url_path(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn deliveries_zh(ds: &[Delivery]) -> String {
    ds.iter().map(delivery_zh).collect::<Vec<_>>().join("；")
}

fn delivery_zh(d: &Delivery) -> String {
    format!(
        "{}（{}）：{} {}",
        d.account,
        d.unit,
        d.outcome.zh(),
        d.detail
    )
}

#[derive(Deserialize)]
struct PushForm {
    csrf: Option<String>,
    url: String,
    unit: String,
    force: Option<String>,
}

async fn push(
    State(s): State<Service>,
    headers: HeaderMap,
    form: Result<Form<PushForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (ed, f) = match guarded(&s, &headers, form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    // No default account: a push to the wrong account cannot be undone.
    if f.unit.trim().is_empty() {
        return back(
            "/desk",
            Err(DeskError::BadInput("请选择推送到哪个单位的账号".into())),
        );
    }
    let r = s
        .desk()
        .push_url(&ed, &f.url, &f.unit, f.force.is_some())
        .await
        .map(|ds| deliveries_zh(&ds));
    back("/desk", r)
}

#[derive(Deserialize)]
struct BroadcastForm {
    csrf: Option<String>,
    item: String,
    to: String,
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
    if f.to.trim().is_empty() {
        return back(
            &format!("/desk/item/{}", url_path(&f.item)),
            Err(DeskError::BadInput(
                "请选择联动推送到哪个单位（及其下级）".into(),
            )),
        );
    }
    let r = s
        .desk()
        .broadcast(&ed, &f.item, &f.to)
        .await
        .map(|ds| deliveries_zh(&ds));
    back(&format!("/desk/item/{}", url_path(&f.item)), r)
}

async fn audit_page(State(s): State<Service>, headers: HeaderMap) -> Response {
    let (ed, _) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let log = match s.desk().audit(&ed) {
        Ok(l) => l,
        Err(e) => return back("/desk", Err(e)),
    };
    let mut body = String::from(
        r#"<h2>审计日志</h2><p><a href="/desk/audit.csv">导出 CSV</a></p><table><tr><th>时间</th><th>编辑</th><th>操作</th><th>单位</th><th>稿件</th><th>之前</th><th>之后</th><th>说明</th></tr>"#,
    );
    let tz = s.config().daemon.timezone;
    for e in log.iter().rev().take(1000) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e
                .at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()),
            esc(&e.editor),
            e.action.label_zh(),
            esc(e.unit.as_deref().unwrap_or("")),
            esc(e.item.as_deref().unwrap_or("")),
            esc(e.before.as_deref().unwrap_or("")),
            esc(e.after.as_deref().unwrap_or("")),
            esc(e.detail.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</table>");
    page("审计日志", Some(&ed.name), &body)
}

async fn audit_csv(State(s): State<Service>, headers: HeaderMap) -> Response {
    let (ed, _) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match s.desk().audit(&ed) {
        Ok(log) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"autosync-audit.csv\"",
                ),
            ],
            crate::desk::audit_csv(&log),
        )
            .into_response(),
        Err(e) => back("/desk", Err(e)),
    }
}

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/desk", get(index))
        .route("/desk/item/{id}", get(item_page))
        .route("/desk/item/{id}/{action}", post(item_action))
        .route("/desk/push", post(push))
        .route("/desk/broadcast", post(broadcast))
        .route("/desk/audit", get(audit_page))
        .route("/desk/audit.csv", get(audit_csv))
        .merge(super::accounts_page::routes())
        .merge(super::report_page::routes())
}
