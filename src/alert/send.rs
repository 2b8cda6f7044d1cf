//! One alert to one target: each robot's JSON, its signing, and how it
//! says yes.
//!
//! - WeCom group robot: `{"msgtype":"markdown","markdown":{"content":…}}`,
//!   answering `{"errcode":0,…}`;
//! - DingTalk robot: `{"msgtype":"text","text":{"content":…}}`; signed
//!   robots take `timestamp` (ms) and `sign` = base64 HMAC-SHA256 of
//!   "timestamp\nsecret" (keyed by the secret) as query parameters;
//!   answering `{"errcode":0,…}`;
//! - Feishu custom bot: `{"msg_type":"text","content":{"text":…}}`; signed
//!   bots take `timestamp` (seconds, a string) and `sign` = base64
//!   HMAC-SHA256 keyed by "timestamp\nsecret" over nothing, in the body;
//!   answering `{"code":0,…}`;
//! - a plain webhook: the [`Alert`] as JSON with its Chinese `text`; any
//!   2xx is a yes.
//!
//! No error names the URL: reqwest's own errors carry it, so it is cut off
//! ([`reqwest::Error::without_url`]) before anything is formatted.

use super::config::{AlertKind, Target};
use super::message::Alert;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::time::Duration;

/// How long one delivery may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// Answers kept in an error at most this long (a robot's error page).
const MAX_ANSWER_CHARS: usize = 200;

/// Why a delivery failed. None of them holds the target's URL.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("signing secret: {0}")]
    Secret(String),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("HTTP {status}: {answer}")]
    Status { status: u16, answer: String },
    #[error("the robot refused it: {0}")]
    Refused(String),
}

type HmacSha256 = Hmac<Sha256>;

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk's `sign` for `timestamp_ms`.
pub fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    hmac_base64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

/// Feishu's `sign` for `timestamp_secs`.
pub fn feishu_sign(timestamp_secs: i64, secret: &str) -> String {
    hmac_base64(format!("{timestamp_secs}\n{secret}").as_bytes(), b"")
}

/// The plain webhook's body: the alert's typed fields and its text.
#[derive(Serialize)]
struct WebhookBody<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    text: &'a str,
}

/// The HTTP client alerts go out by (robots are on the internet, not on a
/// unit's site: not the fetcher's guarded client).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("autosync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("alert client: {e}"))
}

/// What one request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// One alert and its text: what the plain webhook takes (its typed
    /// fields), and a robot its text.
    One(&'a Alert, String),
    /// Texts of several alerts joined, for a robot: one message instead of
    /// a burst the robot would refuse (WeCom takes 20 a minute).
    Joined(String),
}

impl Payload<'_> {
    pub fn text(&self) -> &str {
        match self {
            Payload::One(_, t) | Payload::Joined(t) => t,
        }
    }
}

/// Send `payload` to `target` at `now` (the signature's time).
pub async fn send(
    client: &reqwest::Client,
    target: &Target,
    payload: &Payload<'_>,
    now: DateTime<Utc>,
) -> Result<(), SendError> {
    let text = payload.text();
    let mut url = url::Url::parse(target.url.expose())
        .map_err(|e| SendError::Transport(format!("the URL does not parse: {e}")))?;
    let secret = match &target.secret {
        Some(s) => Some(s.read().map_err(SendError::Secret)?),
        None => None,
    };
    let body = match target.kind {
        AlertKind::Wecom => {
            serde_json::json!({"msgtype": "markdown", "markdown": {"content": text}})
        }
        AlertKind::Dingtalk => {
            if let Some(s) = &secret {
                let ts = now.timestamp_millis();
                url.query_pairs_mut()
                    .append_pair("timestamp", &ts.to_string())
                    .append_pair("sign", &dingtalk_sign(ts, s.expose()));
            }
            serde_json::json!({"msgtype": "text", "text": {"content": text}})
        }
        AlertKind::Feishu => {
            let mut body = serde_json::json!({"msg_type": "text", "content": {"text": text}});
            if let Some(s) = &secret {
                let ts = now.timestamp();
                body["timestamp"] = ts.to_string().into();
                body["sign"] = feishu_sign(ts, s.expose()).into();
            }
            body
        }
        AlertKind::Webhook => match payload {
            Payload::One(alert, text) => {
                serde_json::to_value(WebhookBody { alert, text }).expect("alerts serialise")
            }
            Payload::Joined(text) => serde_json::json!({ "text": text }),
        },
    };
    let resp = client
        .post(url)
        .timeout(SEND_TIMEOUT)
        .json(&body)
        .send()
        .await
        .map_err(|e| SendError::Transport(error_chain(e)))?;
    let status = resp.status();
    let answer = resp
        .text()
        .await
        .map_err(|e| SendError::Transport(error_chain(e)))?;
    if !status.is_success() {
        return Err(SendError::Status {
            status: status.as_u16(),
            answer: excerpt(&answer),
        });
    }
    match target.kind {
        AlertKind::Webhook => Ok(()),
        // The robots answer 200 with a code: 0 is yes.
        AlertKind::Wecom | AlertKind::Dingtalk => robot_code(&answer, "errcode", "errmsg"),
        AlertKind::Feishu => robot_code(&answer, "code", "msg")
            .or_else(|_| robot_code(&answer, "StatusCode", "StatusMessage")),
    }
}

/// A robot's `{"<code>":0}` is yes; another code (with its message), or an
/// answer that is not JSON, is a refusal.
fn robot_code(answer: &str, code: &str, message: &str) -> Result<(), SendError> {
    let v: serde_json::Value = serde_json::from_str(answer)
        .map_err(|_| SendError::Refused(format!("not a robot's answer: {}", excerpt(answer))))?;
    match v.get(code).and_then(serde_json::Value::as_i64) {
        Some(0) => Ok(()),
        Some(n) => Err(SendError::Refused(format!(
            "{code} {n}: {}",
            v.get(message)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
        ))),
        None => Err(SendError::Refused(format!(
            "no {code} in the answer: {}",
            excerpt(answer)
        ))),
    }
}

fn excerpt(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_ANSWER_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The error and its causes, without the URL reqwest puts in it.
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers, computed independently (Python's hmac and base64).
    #[test]
    fn signatures_match_the_robots_specs() {
        assert_eq!(
            dingtalk_sign(1_700_000_000_000, "SECabc"),
            "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM="
        );
        assert_eq!(
            feishu_sign(1_700_000_000, "abc"),
            "VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4="
        );
    }
}
