//! The desk's audit log (`GET /desk/audit`) and its export
//! (`GET /desk/audit.csv`): who did what to which item, when, with before
//! and after — what an office shows an inspector, so it reads as the office
//! speaks: actions in Chinese, units by name, items by title (linked to
//! their page), times in `[daemon] timezone` with the zone named.
//!
//! Filters by editor, unit and action, newest first, a page at a time
//! ([`crate::desk::search::AuditQuery`]); the export takes the same filters
//! (without the page) and is [`crate::desk::audit_csv`], the same as
//! `/api/audit.csv`.

#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::{back, page_markup};
use super::list_page::unit_name;
use super::session::logged_in;
use crate::desk::audit_value_zh;
use crate::desk::search::{self, AuditQuery};
use crate::store::AuditAction;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use std::collections::{BTreeSet, HashMap};

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/desk/audit", get(audit_page))
        .route("/desk/audit.csv", get(audit_csv))
}

async fn audit_page(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Response {
    let (ed, _) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let aq = match AuditQuery::parse(&raw) {
        Ok(q) => q,
        Err(e) => return back("/desk/audit", Err(e.into())),
    };
    let log = match s.desk().audit(&ed) {
        Ok(l) => l,
        Err(e) => return back("/desk", Err(e)),
    };
    let config = s.config();
    let tz = config.daemon.timezone;
    let editors: BTreeSet<&str> = log.iter().map(|e| e.editor.as_str()).collect();
    let (entries, total) = aq.page_of(&log);
    let pages = total.div_ceil(search::AUDIT_PAGE_SIZE).max(1);
    // Items by title; one archived or gone keeps its id.
    let title = |id: &str| {
        s.ctx
            .store
            .record(id)
            .ok()
            .flatten()
            .map_or_else(|| id.to_string(), |i| i.title)
    };
    let export = AuditQuery {
        page: 1,
        ..aq.clone()
    }
    .to_query();
    let body = html! {
        h2 { "审计日志" }
        form.filters method="get" action="/desk/audit" {
            label { "编辑 "
                select name="editor" {
                    option value="" { "全部" }
                    @for e in &editors {
                        option value=(e) selected[aq.editor.as_deref() == Some(*e)] { (e) }
                    }
                }
            }
            " "
            label { "单位 "
                select name="unit" {
                    option value="" { "全部" }
                    @for u in search::units_in_reach(&config, &ed) {
                        option value=(u.id) selected[aq.unit.as_deref() == Some(u.id.as_str())] { (u.org_name) }
                    }
                }
            }
            " "
            label { "操作 "
                select name="action" {
                    option value="" { "全部" }
                    @for a in AuditAction::ALL {
                        option value=(a.as_str()) selected[aq.action == Some(a)] { (a.label_zh()) }
                    }
                }
            }
            " " button type="submit" { "筛选" } " " a href="/desk/audit" { "清除条件" }
            " · " a href={ "/desk/audit.csv?" (export) } { "导出表格（CSV，按当前条件）" }
        }
        @if entries.is_empty() {
            p { "没有符合条件的记录。" }
        } @else {
            table {
                tr {
                    th { "时间（" (tz.name()) "）" } th { "编辑" } th { "操作" } th { "单位" }
                    th { "稿件" } th { "操作前" } th { "操作后" } th { "说明" }
                }
                @for e in &entries {
                    tr {
                        td { (e.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S")) }
                        td { (e.editor) }
                        td { (e.action.label_zh()) }
                        td { @if let Some(u) = &e.unit { (unit_name(&config, u)) } }
                        td { @if let Some(i) = &e.item { a href={ "/desk/item/" (i) } { (title(i)) } } }
                        td { (audit_value_zh(e.before.as_deref().unwrap_or(""))) }
                        td { (audit_value_zh(e.after.as_deref().unwrap_or(""))) }
                        td { (e.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        div.pager {
            @if aq.page > 1 {
                a href={ "/desk/audit?" (aq.on_page(aq.page - 1).to_query()) } rel="prev" { "上一页" }
            }
            span { "第 " (aq.page) " 页（共 " (pages) " 页），共 " (total) " 条" }
            @if aq.page < pages {
                a href={ "/desk/audit?" (aq.on_page(aq.page + 1).to_query()) } rel="next" { "下一页" }
            }
        }
    };
    page_markup("审计日志", Some(&ed.name), body)
}

async fn audit_csv(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Response {
    let (ed, _) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let aq = match AuditQuery::parse(&raw) {
        Ok(q) => q,
        Err(e) => return back("/desk/audit", Err(e.into())),
    };
    match s.desk().audit(&ed) {
        Ok(mut log) => {
            log.retain(|e| aq.passes(e));
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"autosync-audit.csv\"",
                    ),
                ],
                crate::desk::audit_csv(&log, &s.config()),
            )
                .into_response()
        }
        Err(e) => back("/desk", Err(e)),
    }
}
