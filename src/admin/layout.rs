//! The desk's page frame (header, navigation, style) and the small pieces
//! every page shares: escaping, the flash message, and the redirect back
//! with one.

use crate::desk::DeskError;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::fmt::Write;

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

pub(super) fn page(title: &str, editor: Option<&str>, body: &str) -> Response {
    let who = editor
        .map(|e| {
            format!(
                r#"<span>编辑：{}</span> <a href="/desk">稿件</a> <a href="/desk/accounts">账号</a> <a href="/desk/audit">审计日志</a> <a href="/desk/report">报表</a> <form method="post" action="/desk/logout" class="inline"><button>退出</button></form>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    let html = format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} - autosync 编辑台</title>
<style>
body{{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f6f8;color:#222}}
header{{background:#1f4e8c;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center}}
header a,header span{{color:#fff}} header h1{{font-size:1.1em;margin:0;flex:1}}
main{{padding:1em;max-width:1100px;margin:auto}}
table{{border-collapse:collapse;width:100%;background:#fff}} td,th{{border:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}}
.state-held{{color:#b35c00;font-weight:bold}} .state-published{{color:#2a7a2a}} .state-failed,.state-rejected{{color:#b00}}
.msg{{background:#fff7d6;border:1px solid #e6c200;padding:.5em;margin-bottom:1em}} .err{{background:#fde2e2;border-color:#d33}}
form.inline{{display:inline}} .actions form{{margin:.3em 0}} iframe{{width:100%;height:480px;border:1px solid #ccc;background:#fff}}
.hit{{background:#ffe08a}} .banner{{background:#fff3cd;border:1px solid #e0b84c;padding:.3em 1em;margin:.5em 0}} button{{cursor:pointer}}
</style></head><body><header><h1>autosync 编辑台</h1>{who}</header><main>{body}</main></body></html>"#,
        t = esc(title)
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

pub(super) fn flash(q: &HashMap<String, String>) -> String {
    let mut out = String::new();
    if let Some(m) = q.get("msg") {
        let _ = write!(out, r#"<div class="msg">{}</div>"#, esc(m));
    }
    if let Some(m) = q.get("err") {
        let _ = write!(out, r#"<div class="msg err">{}</div>"#, esc(m));
    }
    out
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
