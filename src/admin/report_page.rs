//! Reports over HTTP: the desk's 报表 page (a period, a unit of the
//! editor's, the report shown in a frame and downloadable as HTML, XLSX,
//! CSV or JSON) and the daemon's `/report`, which `autosync report` asks
//! while the daemon holds the store (like `/status`, for ops on the
//! loopback listener: the report names units and counts, no secrets).
//!
//! The desk's report covers only units the editor may see: a unit outside
//! them is refused, and without a unit the report is of all of theirs.

// Handlers return an early `Response` as the error of small helpers, as in
// `web.rs`.
#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::page;
use super::session::logged_in;
use crate::config::Editor;
use crate::report::{self, Format, Period, ReportError, Scope};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Datelike;
use maud::html;

fn status_of(e: &ReportError) -> StatusCode {
    match e {
        ReportError::Period(_) => StatusCode::BAD_REQUEST,
        ReportError::NoUnit { .. } => StatusCode::NOT_FOUND,
        ReportError::Store(_) | ReportError::Render { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Build and render off the async threads (a report reads every record of
/// its units, archives included).
async fn make(
    s: &Service,
    q: &report::Query,
    editor: Option<Editor>,
    format: Format,
) -> Result<(report::Report, Vec<u8>), ReportError> {
    let period = Period::parse(&q.from, &q.to)?;
    let (config, store, now) = (s.config(), s.ctx.store.clone(), s.ctx.clock.now());
    let scope = Scope {
        unit: q.unit.clone().filter(|u| !u.is_empty()),
        editor,
    };
    tokio::task::spawn_blocking(move || {
        let r = report::build(&config, &store, period, &scope, now)?;
        let bytes = report::render(&r, format)?;
        Ok((r, bytes))
    })
    .await
    .map_err(|e| ReportError::Render {
        format: format.as_str(),
        reason: format!("report task: {e}"),
    })?
}

/// The bytes as a download (HTML shown in place unless asked to save).
fn file(r: &report::Report, format: Format, bytes: Vec<u8>, attach: bool) -> Response {
    let name = report::file_name(r, format);
    let disposition = if attach || format != Format::Html {
        format!("attachment; filename=\"{name}\"")
    } else {
        format!("inline; filename=\"{name}\"")
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if format == Format::Html && !attach {
        // The 报表 page shows it in a frame.
        super::framed_by_the_desk(h);
    }
    resp
}

/// `GET /report?from=&to=&unit=&format=`: what `autosync report` asks the
/// running daemon.
async fn ops_report(State(s): State<Service>, Query(q): Query<report::Query>) -> Response {
    let format = q.format.unwrap_or(Format::Json);
    match make(&s, &q, None, format).await {
        Ok((r, bytes)) => file(&r, format, bytes, false),
        Err(e) => (status_of(&e), e.to_string()).into_response(),
    }
}

/// The desk's query: every field optional, defaults filled in.
#[derive(Debug, Default, serde::Deserialize)]
struct DeskQuery {
    from: Option<String>,
    to: Option<String>,
    unit: Option<String>,
    format: Option<Format>,
    download: Option<String>,
}

impl DeskQuery {
    /// The query with the period defaulting to this month up to today.
    fn filled(&self, today: chrono::NaiveDate) -> report::Query {
        let first = today.with_day(1).unwrap_or(today);
        let or = |v: &Option<String>, d: chrono::NaiveDate| {
            v.clone()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| d.to_string())
        };
        report::Query {
            from: or(&self.from, first),
            to: or(&self.to, today),
            unit: self.unit.clone().filter(|u| !u.is_empty()),
            format: self.format,
        }
    }
}

/// 403 for a unit outside the editor's reach.
fn refuse_outside(ed: &Editor, unit: Option<&str>) -> Result<(), Response> {
    match unit {
        Some(u) if !ed.may_act_on(u) => Err((
            StatusCode::FORBIDDEN,
            format!("编辑 {} 无权查看单位 {u} 的报表", ed.name),
        )
            .into_response()),
        _ => Ok(()),
    }
}

/// The logged-in editor, the query with its defaults, and today; a unit
/// outside the editor's reach is refused before anything is read.
fn desk_query(
    s: &Service,
    headers: &HeaderMap,
    dq: &DeskQuery,
) -> Result<(Editor, report::Query, chrono::NaiveDate), Response> {
    let (ed, _) = logged_in(s, headers)?;
    let today = report::local_day(s.config().daemon.timezone, s.ctx.clock.now());
    let q = dq.filled(today);
    refuse_outside(&ed, q.unit.as_deref())?;
    Ok((ed, q, today))
}

/// `GET /desk/report`: the form, and the report of the period asked.
async fn desk_report(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(dq): Query<DeskQuery>,
) -> Response {
    let (ed, q, today) = match desk_query(&s, &headers, &dq) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let config = s.config();
    // Checked here so the editor reads the reason on the page, not in a
    // frame.
    let problem = Period::parse(&q.from, &q.to)
        .and_then(|p| {
            if p.from > today {
                Err(ReportError::Period(format!("起始日 {} 晚于今天", p.from)))
            } else {
                Ok(p)
            }
        })
        .err();
    let link = |format: Format, download: bool| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("from", &q.from).append_pair("to", &q.to);
        if let Some(u) = &q.unit {
            ser.append_pair("unit", u);
        }
        ser.append_pair("format", format.as_str());
        if download {
            ser.append_pair("download", "1");
        }
        format!("/desk/report/file?{}", ser.finish())
    };
    let units: Vec<&crate::config::Unit> = config
        .units
        .iter()
        .map(|u| &**u)
        .filter(|u| ed.may_act_on(&u.id))
        .collect();
    let body = html! {
        h2 { "报表（通报）" }
        form method="get" action="/desk/report" {
            label { "起始日 " input type="date" name="from" value=(q.from) required; }
            " "
            label { "截止日 " input type="date" name="to" value=(q.to) required; }
            " "
            label { "范围 "
                select name="unit" {
                    option value="" { "全部可见单位" }
                    @for u in &units {
                        option value=(u.id) selected[q.unit.as_deref() == Some(u.id.as_str())] {
                            (u.org_name) "（" (u.id) "，含下级）"
                        }
                    }
                }
            }
            " "
            button { "生成报表" }
        }
        p.note { "日期为 " (config.daemon.timezone.name()) " 的日历日；范围含所选单位的全部下级单位。" }
        @if let Some(e) = &problem {
            div class="msg err" { (e.to_string()) }
        } @else {
            p {
                "下载："
                a href=(link(Format::Html, true)) { "HTML（可打印）" } " · "
                a href=(link(Format::Xlsx, true)) { "Excel（XLSX）" } " · "
                a href=(link(Format::Csv, true)) { "CSV" } " · "
                a href=(link(Format::Json, true)) { "JSON" } " · "
                a href=(link(Format::Html, false)) target="_blank" { "在新窗口打开" }
            }
            iframe src=(link(Format::Html, false)) title="报表" style="height:900px" sandbox="allow-same-origin" {}
        }
    };
    page("报表", Some(&ed.name), &body.into_string())
}

/// `GET /desk/report/file?from=&to=&unit=&format=[&download=1]`.
async fn desk_file(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(dq): Query<DeskQuery>,
) -> Response {
    let (ed, q, _) = match desk_query(&s, &headers, &dq) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let format = q.format.unwrap_or(Format::Html);
    match make(&s, &q, Some(ed), format).await {
        Ok((r, bytes)) => file(&r, format, bytes, dq.download.is_some()),
        Err(e) => (status_of(&e), e.to_string()).into_response(),
    }
}

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/report", get(ops_report))
        .route("/desk/report", get(desk_report))
        .route("/desk/report/file", get(desk_file))
}
