//! What the editors' CLI subcommands call: the running daemon's API when it
//! answers (sled admits one process), else the desk directly on the store.
//! Either way the same checks, the same audit log, the same JSON.

use crate::clock::SystemClock;
use crate::config::Config;
use crate::desk::{Desk, DeskError, ItemView, audit_csv};
use crate::pipeline::Context;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One editor request.
#[derive(Debug, Clone)]
pub enum Request {
    Items {
        unit: Option<String>,
        state: Option<String>,
        limit: usize,
    },
    Approve {
        id: String,
    },
    Reject {
        id: String,
        reason: String,
    },
    Priority {
        id: String,
    },
    Title {
        id: String,
        title: String,
    },
    PushItem {
        id: String,
    },
    PushUrl {
        url: String,
        unit: String,
        force: bool,
    },
    Broadcast {
        item: String,
        to: String,
    },
    Audit,
    AuditCsv,
}

/// A refused or failed request: the HTTP status it maps to and why.
#[derive(Debug, thiserror::Error)]
#[error("{message} (HTTP {status})")]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

impl From<DeskError> for Refused {
    fn from(e: DeskError) -> Self {
        Refused {
            status: e.status(),
            message: e.to_string(),
        }
    }
}

/// The answer: JSON, or CSV text for [`Request::AuditCsv`].
pub enum Answer {
    Json(Value),
    Text(String),
}

/// Send `req` as the editor holding `token`.
pub async fn call(config: &Config, token: &str, req: Request) -> Result<Answer, Refused> {
    let base = format!("http://{}", config.daemon.listen);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| Refused {
            status: 500,
            message: e.to_string(),
        })?;
    let (method, path, body) = match &req {
        Request::Items { unit, state, limit } => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("limit", &limit.to_string());
            if let Some(u) = unit {
                q.append_pair("unit", u);
            }
            if let Some(s) = state {
                q.append_pair("state", s);
            }
            ("GET", format!("/api/items?{}", q.finish()), None)
        }
        Request::Approve { id } => ("POST", format!("/api/items/{}/approve", enc(id)), None),
        Request::Priority { id } => ("POST", format!("/api/items/{}/priority", enc(id)), None),
        Request::PushItem { id } => ("POST", format!("/api/items/{}/push", enc(id)), None),
        Request::Reject { id, reason } => (
            "POST",
            format!("/api/items/{}/reject", enc(id)),
            Some(json!({ "reason": reason })),
        ),
        Request::Title { id, title } => (
            "POST",
            format!("/api/items/{}/title", enc(id)),
            Some(json!({ "title": title })),
        ),
        // Two steps on the daemon (preview or plan, then its confirm): the
        // command line is the editor's confirm.
        Request::PushUrl { url, unit, force } => {
            let first = json!({ "url": url, "unit": unit, "force": force });
            let Some(p) = step(&client, &base, token, "/api/push/preview", &first).await? else {
                return local(config, token, req).await;
            };
            let confirm = json!({ "preview": p["preview"], "version": p["version"] });
            ("POST", "/api/push".into(), Some(confirm))
        }
        Request::Broadcast { item, to } => {
            let first = json!({ "item": item, "to": to });
            let Some(p) = step(&client, &base, token, "/api/broadcast/plan", &first).await? else {
                return local(config, token, req).await;
            };
            let confirm = json!({ "item": item, "to": to, "digest": p["digest"] });
            ("POST", "/api/broadcast".into(), Some(confirm))
        }
        Request::Audit => ("GET", "/api/audit".into(), None),
        Request::AuditCsv => ("GET", "/api/audit.csv".into(), None),
    };
    let mut rb = if method == "GET" {
        client.get(format!("{base}{path}"))
    } else {
        client.post(format!("{base}{path}"))
    };
    rb = rb.bearer_auth(token);
    if let Some(b) = &body {
        rb = rb.json(b);
    }
    match rb.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            if (200..300).contains(&status) {
                if matches!(req, Request::AuditCsv) {
                    return Ok(Answer::Text(text));
                }
                serde_json::from_str(&text)
                    .map(Answer::Json)
                    .map_err(|e| Refused {
                        status: 502,
                        message: format!("bad answer from the daemon: {e}"),
                    })
            } else {
                Err(Refused {
                    status,
                    message: error_message(text),
                })
            }
        }
        // No daemon: act on the store directly.
        Err(e) if e.is_connect() => local(config, token, req).await,
        Err(e) => Err(Refused {
            status: 502,
            message: format!("{base}: {e}"),
        }),
    }
}

/// The message of an error answer (`{"code", "message"}`), else its text.
fn error_message(text: String) -> String {
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|e| e.as_str())
                .map(str::to_string)
        })
        .unwrap_or(text)
}

/// The first of a two-step request: its JSON answer, or `None` when no
/// daemon answers (the caller acts on the store instead).
async fn step(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> Result<Option<Value>, Refused> {
    let resp = match client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Ok(None),
        Err(e) => {
            return Err(Refused {
                status: 502,
                message: format!("{base}: {e}"),
            });
        }
    };
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(Refused {
            status,
            message: error_message(text),
        });
    }
    serde_json::from_str(&text).map(Some).map_err(|e| Refused {
        status: 502,
        message: format!("bad answer from the daemon: {e}"),
    })
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn local(config: &Config, token: &str, req: Request) -> Result<Answer, Refused> {
    let ed = crate::desk::authenticate(config, token)?.clone();
    let ctx =
        Context::open(config, Arc::new(SystemClock), CancellationToken::new()).map_err(|e| {
            Refused {
                status: 503,
                message: e,
            }
        })?;
    let desk = Desk::new(ctx.clone(), Arc::new(config.clone()));
    let view = |i: crate::store::Item| json!(ItemView::from(&i));
    // A unique prefix names the item, as through the daemon's API.
    let req = match req {
        Request::Approve { id } => Request::Approve {
            id: desk.resolve_id(&id)?,
        },
        Request::Priority { id } => Request::Priority {
            id: desk.resolve_id(&id)?,
        },
        Request::Reject { id, reason } => Request::Reject {
            id: desk.resolve_id(&id)?,
            reason,
        },
        Request::Title { id, title } => Request::Title {
            id: desk.resolve_id(&id)?,
            title,
        },
        Request::PushItem { id } => Request::PushItem {
            id: desk.resolve_id(&id)?,
        },
        Request::Broadcast { item, to } => Request::Broadcast {
            item: desk.resolve_id(&item)?,
            to,
        },
        other => other,
    };
    let out = match req {
        Request::Items { unit, state, limit } => Answer::Json(json!(
            desk.list(&ed, unit.as_deref(), state.as_deref(), limit)?
                .iter()
                .map(ItemView::from)
                .collect::<Vec<_>>()
        )),
        Request::Approve { id } => Answer::Json(view(desk.approve(&ed, &id).await?)),
        Request::Priority { id } => Answer::Json(view(desk.priority(&ed, &id).await?)),
        Request::Reject { id, reason } => Answer::Json(view(desk.reject(&ed, &id, &reason).await?)),
        Request::Title { id, title } => {
            Answer::Json(view(desk.edit_title(&ed, &id, &title).await?))
        }
        Request::PushItem { id } => Answer::Json(json!(desk.push_now(&ed, &id).await?)),
        Request::PushUrl { url, unit, force } => {
            Answer::Json(json!(desk.push_url(&ed, &url, &unit, force).await?))
        }
        Request::Broadcast { item, to } => {
            let plan = desk.broadcast_plan(&ed, &item, &to)?;
            Answer::Json(json!(desk.broadcast(&ed, &item, &to, &plan.digest).await?))
        }
        Request::Audit => Answer::Json(json!(desk.audit(&ed)?)),
        Request::AuditCsv => Answer::Text(audit_csv(&desk.audit(&ed)?, &desk.config)),
    };
    ctx.store.flush().await.map_err(|e| Refused {
        status: 500,
        message: e.to_string(),
    })?;
    Ok(out)
}

/// The one line in words an action on one item prints (`--json` prints the
/// object instead): what was done, the item by its short id, title and
/// unit (by name), and where it stands now, e.g.
/// `已通过：稿件 3f2a9c…「标题」（某市科协），待发布`. `None` for answers
/// that are not one item (lists, deliveries).
pub fn said(config: &Config, req: &Request, answer: &Value) -> Option<String> {
    let done = match req {
        Request::Approve { .. } => "已通过",
        Request::Reject { .. } => "已驳回",
        Request::Priority { .. } => "已设为优先",
        Request::Title { .. } => "已修改标题",
        Request::PushItem { id } => {
            let short: String = id.chars().take(crate::desk::MIN_ID_PREFIX).collect();
            return said_delivered(config, &format!("立即发布 稿件 {short}…"), answer);
        }
        Request::PushUrl { url, .. } => {
            return said_delivered(config, &format!("手动推送 {url}"), answer);
        }
        Request::Broadcast { item, .. } => {
            let short: String = item.chars().take(crate::desk::MIN_ID_PREFIX).collect();
            return said_delivered(config, &format!("联动推送 稿件 {short}…"), answer);
        }
        _ => return None,
    };
    let v: ItemView = serde_json::from_value(answer.clone()).ok()?;
    let short: String = v.id.chars().take(crate::desk::MIN_ID_PREFIX).collect();
    let unit = config
        .unit(&v.unit)
        .map_or(v.unit.as_str(), |u| u.account_name.as_str());
    let state = crate::model::StateName::parse(&v.state).map_or(v.state.as_str(), |s| s.label_zh());
    let prio = if v.priority { "（优先）" } else { "" };
    Some(format!(
        "{done}：稿件 {short}…「{}」（{unit}），{state}{prio}",
        v.title
    ))
}

/// A push's or broadcast's answer in words: one line per account, e.g.
/// `立即发布 稿件 3f2a9c… → 示例市科协：已发布 https://…`.
fn said_delivered(config: &Config, what: &str, answer: &Value) -> Option<String> {
    let deliveries: Vec<crate::desk::Delivery> = serde_json::from_value(answer.clone()).ok()?;
    let lines: Vec<String> = deliveries
        .iter()
        .map(|d| {
            let unit = config
                .unit(&d.unit)
                .map_or(d.unit.as_str(), |u| u.account_name.as_str());
            // The unit only when its name is not the account's own.
            let unit = if unit == d.account {
                String::new()
            } else {
                format!("（{unit}）")
            };
            format!(
                "{what} → {}{unit}：{} {}",
                d.account,
                d.outcome.zh(),
                d.detail
            )
            .trim_end()
            .to_string()
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
