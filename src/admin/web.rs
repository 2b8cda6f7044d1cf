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
use super::session::logged_in;
use crate::config::Editor;
use crate::desk::ItemView;
use crate::store::Item;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::fmt::Write;

fn state_zh(s: &str) -> &'static str {
    crate::store::StateName::parse(s).map_or("未知", |n| n.label_zh())
}

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
        .route("/desk/audit", get(audit_page))
        .route("/desk/audit.csv", get(audit_csv))
        .merge(super::item_page::routes())
        .merge(super::accounts_page::routes())
        .merge(super::report_page::routes())
}
