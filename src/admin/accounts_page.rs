//! The desk's accounts page (`/desk/accounts`) and renewing a cookie.
//!
//! Why a page of its own: an account that posts nothing fails the
//! inspection, and the usual causes — an expired login, a site with nothing
//! new — are not visible from the items. Every account within the editor's
//! reach is listed with its state (正常 · 已暂停：why, since · 限流至 T),
//! days since its last post, its deadline and when its site last had a new
//! article, in `[daemon] timezone`. An admin-level editor (`role =
//! "admin"`) renews a toutiao cookie here: the form posts with the
//! session's CSRF token, never shows the cookie in place, and is audited
//! without the value; the daemon then reads the new cookie and checks the
//! account at once ([`crate::outbox::Outboxes::renewed`]).
//!
//! `POST /api/accounts/renewed` is what `autosync account
//! set-cookie` calls after writing the file: it takes no token, since all
//! it can do is make the daemon read credential files that *changed* on
//! disk (nothing happens otherwise), which only someone who may write them
//! can bring about.
//!
//! Built with `maud` (escapes by default); the rest of the desk moves to it
//! later.

#![allow(clippy::result_large_err)]

use super::Service;
use super::layout::{back, flash, page};
use super::session::{HasCsrf, guarded, logged_in};
use crate::account_cmd::{self, SetCookieError};
use crate::config::Editor;
use crate::credential::Source;
use crate::desk::DeskError;
use crate::publish::PublisherConfig;
use crate::store::AuditEntry;
use crate::update_clock::SilenceLevel;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/desk/accounts", get(accounts))
        .route("/desk/accounts/cookie", post(set_cookie))
        .route("/api/accounts/renewed", post(renewed))
}

/// How the account's cookie can be renewed here, if at all.
enum Renewal {
    /// Through the form (`cookie_file`).
    Form,
    /// Not a toutiao account: nothing called a cookie.
    NotACookie,
    /// `cookie_env` / `cookie_credential`: only where the service starts.
    Elsewhere(String),
}

fn renewal(p: &PublisherConfig) -> Renewal {
    let PublisherConfig::Toutiao(c) = p else {
        return Renewal::NotACookie;
    };
    match c.secret() {
        Some(s) if matches!(s.source, Source::File(_)) => Renewal::Form,
        Some(s) => Renewal::Elsewhere(s.option()),
        None => Renewal::Elsewhere("nothing".into()),
    }
}

async fn accounts(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (ed, csrf) = match logged_in(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let config = s.config();
    let now = s.ctx.clock.now();
    let status = match super::status_where(&config, &s.ctx.store, now, |u| ed.may_act_on(&u.id)) {
        Ok(st) => st,
        Err(e) => {
            tracing::error!("accounts page: {e}");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "存储暂不可读，请稍后再试",
            )
                .into_response();
        }
    };
    let tz = config.daemon.timezone;
    let when = |t: DateTime<Utc>| crate::clock::zoned(&t, tz);
    let body: Markup = html! {
        (maud::PreEscaped(flash(&q)))
        h2 { "账号" }
        p { "时间均为 " (tz.name()) " 时间。检查要求账号在期限内有新发布；网站长期无新文章时，账号也会沉默。" }
        table {
            tr {
                th { "单位" } th { "账号" } th { "平台" } th { "状态" }
                th { "距上次发布" } th { "截止日期" } th { "网站最近新文章" }
                @if ed.role == crate::config::Role::Admin { th { "更新 cookie" } }
            }
            @for u in &status.units {
                @for a in &u.accounts {
                    tr {
                        td { (super::list_page::unit_name(&config, &u.unit)) }
                        td { (a.account) }
                        td { (a.kind) }
                        td {
                            @if let Some(p) = &a.paused {
                                strong.state-failed { "已暂停" } "：" (p.reason.zh()) "（自 " (when(p.since)) "）"
                            } @else if let Some(t) = a.rate_limited_until {
                                "平台限流，" (when(t)) " 后继续"
                            } @else {
                                span.state-published { "正常" }
                            }
                        }
                        td {
                            @match a.days_silent {
                                Some(d) => {
                                    (d) " 天"
                                    @match a.silence {
                                        Some(SilenceLevel::Overdue) => { strong.state-failed { "（已超期）" } }
                                        Some(SilenceLevel::Warning(_)) => { strong.state-held { "（临近期限）" } }
                                        _ => {}
                                    }
                                    @if a.last_post.is_none() { "（从未发布）" }
                                }
                                None => { "—" }
                            }
                        }
                        td { @if let Some(d) = a.deadline { (d.format("%Y-%m-%d")) } @else { "—" } }
                        td { @if let Some(t) = a.last_new_article { (when(t)) } @else { "暂无" } }
                        @if ed.role == crate::config::Role::Admin {
                            td { (cookie_cell(&config, &ed, &u.unit, &a.account, &csrf)) }
                        }
                    }
                }
            }
        }
        @if status.units.is_empty() { p { "没有可查看的账号。" } }
    };
    page("账号", Some(&ed.name), &body.into_string())
}

/// The renewal form of one account, or why there is none. The field is a
/// password field and starts empty: the cookie in use is never shown.
fn cookie_cell(
    config: &crate::config::Config,
    ed: &Editor,
    unit: &str,
    account: &str,
    csrf: &str,
) -> Markup {
    let Some(a) = config
        .unit(unit)
        .and_then(|u| u.accounts.iter().find(|a| a.name == account))
    else {
        return html! {};
    };
    if !ed.may_manage_accounts_of(unit) {
        return html! { "—" };
    }
    match renewal(&a.publisher) {
        Renewal::Form => html! {
            form method="post" action="/desk/accounts/cookie" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="unit" value=(unit);
                input type="hidden" name="account" value=(account);
                input type="password" name="cookie" autocomplete="off" required
                    placeholder="粘贴登录后的完整 cookie（含 sessionid、csrftoken）" size="30";
                " "
                button type="submit" { "保存并核对" }
            }
        },
        Renewal::NotACookie => html! { "该平台不使用 cookie" },
        Renewal::Elsewhere(option) => html! {
            "cookie 由 " code { (option) } " 提供，请在服务器上更新并重启服务"
        },
    }
}

#[derive(Deserialize)]
struct CookieForm {
    csrf: Option<String>,
    unit: String,
    account: String,
    cookie: String,
}

impl HasCsrf for CookieForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// What an editor reads when a renewal is refused (the cookie is never in
/// it).
fn refusal_zh(e: &SetCookieError) -> String {
    match e {
        SetCookieError::Malformed(why) => format!(
            "cookie 未保存：格式不对（{why}）。请登录头条号后台后复制完整的 Cookie 请求头。"
        ),
        SetCookieError::Write { .. } => {
            "cookie 未保存：写入文件失败，请联系运维（详情见日志）。".into()
        }
        other => format!("cookie 未保存：{other}"),
    }
}

async fn set_cookie(
    State(s): State<Service>,
    headers: HeaderMap,
    form: Result<Form<CookieForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (ed, f) = match guarded(&s, &headers, form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !ed.may_manage_accounts_of(&f.unit) {
        return back(
            "/desk/accounts",
            Err(DeskError::BadInput(format!(
                "只有管理员（role = \"admin\"）可更新单位 {} 的账号 cookie",
                f.unit
            ))),
        );
    }
    let config = s.config();
    let (unit, account, cookie) = (f.unit.clone(), f.account.clone(), f.cookie);
    let cfg = config.clone();
    let written = tokio::task::spawn_blocking(move || {
        account_cmd::set_cookie(&cfg, &unit, Some(&account), &cookie)
    })
    .await;
    let w = match written {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => {
            tracing::warn!(editor = %ed.name, unit = %f.unit, account = %f.account, "desk cookie renewal refused: {e}");
            return back("/desk/accounts", Err(DeskError::BadInput(refusal_zh(&e))));
        }
        Err(e) => {
            tracing::error!(unit = %f.unit, account = %f.account, "desk cookie renewal: {e}");
            return back(
                "/desk/accounts",
                Err(DeskError::Failed("cookie 未保存：内部错误".into())),
            );
        }
    };
    tracing::info!(editor = %ed.name, unit = %w.unit, account = %w.account, file = %w.path.display(), "cookie renewed on the desk");
    let entry = AuditEntry {
        at: s.ctx.clock.now(),
        editor: ed.name.clone(),
        action: crate::store::AuditAction::SetCookie,
        unit: Some(w.unit.clone()),
        item: None,
        before: None,
        after: None,
        detail: Some(format!("账号 {} 的 cookie 已更新", w.account)),
    };
    if let Err(e) = s.ctx.store.audit(&entry).await {
        tracing::error!(unit = %w.unit, "audit of a cookie renewal: {e}");
    }
    wake_renewed(&s);
    back(
        "/desk/accounts",
        Ok(format!(
            "账号「{}」的 cookie 已保存，正在用新 cookie 核对账号；稍后刷新本页查看状态。",
            w.account
        )),
    )
}

/// Drop the outboxes whose credential file changed and wake their units'
/// workers (every unit: accounts may share a file); the accounts renewed,
/// as "unit/account".
fn wake_renewed(s: &Service) -> Vec<String> {
    let config = s.config();
    let desk = s.desk();
    let mut out = Vec::new();
    for u in &config.units {
        let renewed = s.outboxes.renewed(u);
        if renewed.is_empty() {
            continue;
        }
        if let Some(wake) = &desk.wake {
            wake(&u.id);
        }
        out.extend(renewed.into_iter().map(|a| format!("{}/{a}", u.id)));
    }
    out
}

/// `autosync account set-cookie` wrote a credential file: read what
/// changed now.
async fn renewed(State(s): State<Service>) -> Response {
    let accounts = wake_renewed(&s);
    if !accounts.is_empty() {
        tracing::info!(
            ?accounts,
            "credentials renewed on disk: accounts checked again now"
        );
    }
    Json(serde_json::json!({ "renewed": accounts })).into_response()
}
