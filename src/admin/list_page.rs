//! The desk's item list (`GET /desk`): what an editor opens first, so it
//! answers "what is waiting for me" (the counts per state, each a link) and
//! "where is that article" (search by title, URL or id; filters by unit with
//! its subtree, state, origin and the day found), a page of
//! [`PAGE_SIZE`](crate::desk::search::PAGE_SIZE) at a time.
//!
//! The query and its answer are [`crate::desk::search`]; this file only
//! draws them (maud, escaped by default). Units are shown by name; times in
//! `[daemon] timezone`, named in the column header. A hand push is its own
//! page (`/desk/push`), linked from here, not a form on the list.

#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::{back, flash_markup, page_markup};
use super::session::logged_in;
use crate::config::{Config, Editor};
use crate::desk::ItemView;
use crate::desk::search::{self, LISTED_STATES, ListPage, ListQuery};
use crate::model::ItemOrigin;
use crate::store::{Item, StateName};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use std::collections::HashMap;

pub fn routes() -> Router<Service> {
    Router::new().route("/desk", get(index))
}

/// A unit's name for editors (the id only if the unit left the config).
pub(super) fn unit_name<'a>(config: &'a Config, id: &'a str) -> &'a str {
    config.unit(id).map_or(id, |u| u.org_name.as_str())
}

async fn index(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Response {
    let (ed, _) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = match ListQuery::parse(&raw) {
        Ok(q) => q,
        Err(e) => return back("/desk", Err(e.into())),
    };
    let config = s.config();
    let found = match search::list(&s.ctx.store, &config, &ed, &q) {
        Ok(p) => p,
        Err(e) => return back("/desk", Err(e)),
    };
    let body = html! {
        (flash_markup(&raw))
        (account_banner(&s, &config, &ed))
        p { a href="/desk/push" { "手动推送文章链接 →" } }
        (filters(&config, &ed, &q))
        (counts(&q, &found))
        (table(&config, &found.items))
        (pager(&q, &found))
    };
    page_markup("稿件", Some(&ed.name), body)
}

/// The filter form; every field keeps what the editor chose.
fn filters(config: &Config, ed: &Editor, q: &ListQuery) -> Markup {
    let tz = config.daemon.timezone;
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    html! {
        form.filters method="get" action="/desk" {
            label { "搜索 " input type="search" name="q" size="30" placeholder="标题、网址或稿件编号" value=[q.q.as_deref()]; }
            " "
            label { "单位 "
                select name="unit" {
                    option value="" { "全部" }
                    @for u in search::units_in_reach(config, ed) {
                        option value=(u.id) selected[q.unit.as_deref() == Some(u.id.as_str())] { (u.org_name) }
                    }
                }
            }
            " "
            label { input type="checkbox" name="subtree" value="1" checked[q.subtree]; "含下级" }
            " "
            label { "状态 "
                select name="state" {
                    option value="" { "全部（不含基线）" }
                    @for st in LISTED_STATES.into_iter().chain([StateName::Seen]) {
                        option value=(st.as_str()) selected[q.state == Some(st)] { (st.label_zh()) }
                    }
                }
            }
            " "
            label { "来源 "
                select name="origin" {
                    option value="" { "全部" }
                    @for o in ItemOrigin::ALL {
                        option value=(o.as_str()) selected[q.origin == Some(o)] { (o.label_zh()) }
                    }
                }
            }
            br;
            label { "发现日期 从 " input type="date" name="from" value=[day(q.from)]; }
            label { " 至 " input type="date" name="to" value=[day(q.to)]; }
            " （" (tz.name()) " 时间） "
            button type="submit" { "筛选" }
            " "
            a href="/desk" { "清除条件" }
        }
    }
}

/// `待审核 12 · 待发布 3 · …`, each a link to the list in that state under
/// the same filters; the state shown is marked.
fn counts(q: &ListQuery, found: &ListPage) -> Markup {
    let all: usize = found
        .counts
        .iter()
        .filter(|(s, _)| *s != StateName::Seen)
        .map(|(_, n)| n)
        .sum();
    html! {
        p.counts {
            a href={ "/desk?" (q.in_state(None).to_query()) } class=[q.state.is_none().then_some("current")] { "全部 " (all) }
            @for (st, n) in &found.counts {
                " · "
                a href={ "/desk?" (q.in_state(Some(*st)).to_query()) } class=[(q.state == Some(*st)).then_some("current")] {
                    (st.label_zh()) " " (n)
                }
            }
        }
    }
}

fn table(config: &Config, items: &[Item]) -> Markup {
    let tz = config.daemon.timezone;
    html! {
        @if items.is_empty() {
            p { "没有符合条件的稿件。" }
        } @else {
            table {
                tr {
                    th { "单位" } th { "状态" } th { "标题" } th { "来源" }
                    th { "发现时间（" (tz.name()) "）" } th { "原因" }
                }
                @for i in items {
                    @let v = ItemView::from(i);
                    tr {
                        td { (unit_name(config, &i.unit)) }
                        td class={ "state-" (v.state) } {
                            (i.state.kind().label_zh())
                            @if i.priority { " ★优先" }
                        }
                        td { a href={ "/desk/item/" (i.id) } { (i.title) } }
                        td { (i.came_from().label_zh()) }
                        td { (i.discovered_at.with_timezone(&tz).format("%Y-%m-%d %H:%M")) }
                        td { (v.reason.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn pager(q: &ListQuery, found: &ListPage) -> Markup {
    html! {
        div.pager {
            @if found.page > 1 {
                a href={ "/desk?" (q.on_page(found.page - 1).to_query()) } rel="prev" { "上一页" }
            }
            span { "第 " (found.page) " 页（共 " (found.pages) " 页），共 " (found.total) " 条" }
            @if found.page < found.pages {
                a href={ "/desk?" (q.on_page(found.page + 1).to_query()) } rel="next" { "下一页" }
            }
        }
    }
}

/// What an editor must know first about the accounts in reach: paused
/// ones (and why), ones the platform asked to wait, and ones nearing or past
/// the inspection's silence deadline — most urgent first. Empty when all is
/// well.
fn account_banner(s: &Service, config: &Config, ed: &Editor) -> Markup {
    use crate::update_clock::SilenceLevel;
    let now = s.ctx.clock.now();
    let Ok(status) = super::status_where(config, &s.ctx.store, now, |u| ed.may_act_on(&u.id))
    else {
        return html! {};
    };
    let tz = config.daemon.timezone;
    let when = |t: chrono::DateTime<chrono::Utc>| crate::clock::zoned(&t, tz);
    // (urgency, line): a pause first, then overdue, warnings, waits.
    let mut lines: Vec<(u8, i64, String)> = Vec::new();
    for u in &status.units {
        for a in &u.accounts {
            let who = format!("账号「{}」（{}）", a.account, unit_name(config, &u.unit));
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
    lines.sort();
    html! {
        @if !lines.is_empty() {
            div.banner {
                strong { "需要注意的账号" }
                ul { @for (_, _, l) in &lines { li { (l) } } }
            }
        }
    }
}
