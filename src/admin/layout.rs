//! The desk's page frame (header, navigation, style) and the small pieces
//! every page shares: the flash message and the redirect back with one.
//!
//! Built with maud, which escapes whatever it is given: a title or an
//! editor's name cannot break the page. `page` still takes a string body
//! for the pages not yet on maud; `esc` stays for those too.

use crate::desk::DeskError;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::HashMap;

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The desk's style: one sheet for every page, inline (no asset route).
const STYLE: &str = r#"
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f6f8;color:#222}
header{background:#1f4e8c;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
header a,header span{color:#fff} header h1{font-size:1.1em;margin:0;flex:1}
nav a{margin-right:.8em} header button{background:none;border:1px solid #fff;color:#fff;border-radius:3px}
main{padding:1em;max-width:1100px;margin:auto}
table{border-collapse:collapse;width:100%;background:#fff} td,th{border:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}
.state-held{color:#b35c00;font-weight:bold} .state-published{color:#2a7a2a} .state-failed,.state-rejected{color:#b00}
.msg{background:#fff7d6;border:1px solid #e6c200;padding:.5em;margin-bottom:1em} .err{background:#fde2e2;border-color:#d33}
form.inline{display:inline} .actions form{margin:.3em 0} iframe{width:100%;height:480px;border:1px solid #ccc;background:#fff}
.hit{background:#ffe08a} .banner{background:#fff3cd;border:1px solid #e0b84c;padding:.3em 1em;margin:.5em 0} button{cursor:pointer}
.filters{background:#fff;border:1px solid #ddd;padding:.6em;margin-bottom:.8em;line-height:2.2}
.counts{margin:.6em 0} .counts a{margin-right:.2em} .counts .current{font-weight:bold}
.pager{margin:.8em 0;display:flex;gap:1em;align-items:center}
"#;

/// A desk page around `body` (HTML already built and escaped, as the pages
/// not yet on maud make it).
pub(super) fn page(title: &str, editor: Option<&str>, body: &str) -> Response {
    page_markup(title, editor, PreEscaped(body.to_string()))
}

/// A desk page around `body`: the header with the editor's name and the
/// navigation when logged in, the style, and `no-store` (pages show what an
/// editor may act on; a shared computer's back button must not show them
/// after logout).
pub(super) fn page_markup(title: &str, editor: Option<&str>, body: Markup) -> Response {
    let html = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " - autosync 编辑台" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "autosync 编辑台" }
                    @if let Some(e) = editor {
                        nav {
                            a href="/desk" { "稿件" }
                            a href="/desk/push" { "手动推送" }
                            a href="/desk/accounts" { "账号" }
                            a href="/desk/audit" { "审计日志" }
                            a href="/desk/report" { "报表" }
                        }
                        span { "编辑：" (e) }
                        form method="post" action="/desk/logout" class="inline" { button { "退出" } }
                    }
                }
                main { (body) }
            }
        }
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(html.into_string()),
    )
        .into_response()
}

/// The message an action redirected back with (`msg`, or `err` for a
/// refusal), as maud markup.
pub(super) fn flash_markup(q: &HashMap<String, String>) -> Markup {
    html! {
        @if let Some(m) = q.get("msg") { div.msg { (m) } }
        @if let Some(m) = q.get("err") { div.msg.err { (m) } }
    }
}

/// The same as an HTML string, for the pages not on maud.
pub(super) fn flash(q: &HashMap<String, String>) -> String {
    flash_markup(q).into_string()
}

pub(super) fn back(to: &str, r: Result<String, DeskError>) -> Response {
    let (k, v) = match r {
        Ok(m) => ("msg", m),
        Err(e) => ("err", e.to_string()),
    };
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(k, &v)
        .finish();
    Redirect::to(&format!("{to}?{q}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
