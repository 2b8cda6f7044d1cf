//! The webhook client: one signed JSON `POST` per post.
//!
//! How an answer maps, for a publish and for a [`lookup`](Webhook::lookup)
//! (which sends the same post again, with the same `Idempotency-Key`):
//!
//! | answer | publish | lookup |
//! |---|---|---|
//! | 2xx | `Published` (remote id: the answer's `id`, else the item id; link: its `url`) | found |
//! | 409 (the key is stored already) | `Published`, with a note | found |
//! | 429, 503 (`Retry-After` in seconds or an HTTP date; [`DEFAULT_RETRY_AFTER`] without one; at most 1 h) | `RetryLater` | `Err` (and no re-send before then) |
//! | 408 (the receiver did not get the whole request) | `RetryLater` ([`DEFAULT_RETRY_AFTER`]) | `Err` |
//! | 401, 403 (the receiver refuses our secret, so every post) | `Paused` (the account waits for a fixed secret; nothing is lost) | `Err` |
//! | other 4xx | `Rejected` with the answer's message | `Err` |
//! | 5xx, a timeout or reset after sending, an answer after a redirect | `Unknown` | `Err` |
//! | could not connect (refused, DNS, TLS: nothing was sent) | `RetryLater` ([`DEFAULT_RETRY_AFTER`]) | `Err` |
//!
//! **Why `lookup` sends again.** A receiver has no API to ask whether it
//! holds a post, so after an `Unknown` the only way to learn is to send the
//! same post with the same `Idempotency-Key`: a receiver that had it answers
//! 409 (nothing new stored), one that did not stores it now and answers 2xx.
//! Either way it is there, and the receiver's idempotency makes the re-send
//! safe — it is not a blind second post. `lookup` therefore never answers
//! `Ok(None)` ("certainly not there"): no answer proves that. A refusal (401
//! after the secret was changed, 400, 404) comes from checks a receiver
//! makes before it looks at the key, so it says nothing about an earlier
//! copy; a 5xx or no answer says nothing either. All of those are `Err`:
//! the item stays `publishing` and is sent again at the next reconcile.
//!
//! Reconciling runs on every step of the outbox, before its gate, so two
//! limits keep re-sends from flooding a receiver that is down: one item is
//! sent again at most once per [`RESEND_INTERVAL`], and not at all while
//! the receiver's last `Retry-After` lasts.
//!
//! The secret never leaves this process (only the body's HMAC does) and is
//! never printed. The URL may carry a token of the receiver's (in its path
//! or query, or as user:password), so `Debug`, errors and logs name only its
//! origin (`https://host:port`).

use super::super::toutiao::retry_after;
use crate::publish::transport_reason;
use crate::publish::{AccountInfo, Outcome, Post, PublishError, Publisher, Remote};
use crate::secret::Secret;
use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Autosync-Signature";
/// The header carrying the item id, the same on every send of one post.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The wait after a 429/503 without `Retry-After`, a 408, or a connection
/// that could not be made: long enough not to hammer a receiver that is
/// restarting, short enough that posts are not held up for long.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// One item is sent again by `lookup` at most this often.
pub const RESEND_INTERVAL: Duration = Duration::from_secs(60);
/// More of an answer than this is not read: only its message is wanted.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// A receiver's message is cut to this many characters for the editors.
const MAX_MESSAGE_CHARS: usize = 300;
/// Longer remote ids in an answer are ignored (the item id is used).
const MAX_REMOTE_ID_CHARS: usize = 200;

type HmacSha256 = Hmac<Sha256>;

/// The value of [`SIGNATURE_HEADER`] for `body`: `sha256=` and the hex
/// HMAC-SHA256 of the raw bytes with the secret.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = hmac(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` (compared in constant time).
pub fn signature_matches(secret: &Secret, body: &[u8], header: &str) -> bool {
    let Some(given) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(given) else {
        return false;
    };
    let mut mac = hmac(secret);
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn hmac(secret: &Secret) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` fails for none.
    HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC accepts any key length")
}

/// The JSON body of one post, as a receiver reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPost {
    /// The item id; equal to the `Idempotency-Key`.
    pub id: String,
    pub unit: String,
    pub account_name: String,
    pub title: String,
    /// Sanitised body HTML with absolute links and images.
    pub content_html: String,
    pub text: String,
    /// The original article on the unit's site.
    pub url: String,
    /// RFC 3339, or null when the site gave no date.
    pub published_at: Option<String>,
    pub source: Option<String>,
    pub author: Option<String>,
    /// Absolute URLs of the article's images, on the unit's site.
    pub images: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not echoed: the URL may carry a token.
    #[error("the webhook url must be an http or https URL with a host")]
    NotHttp,
    #[error("the webhook account has no name")]
    NoAccountName,
}

/// One webhook account: a receiver URL and the secret shared with it.
pub struct Webhook {
    url: Url,
    secret: Secret,
    unit: String,
    account_name: String,
    http: reqwest::Client,
    resend_interval: Duration,
    /// Until when the receiver asked to wait (its last 429/503).
    wait_until: Mutex<Option<Instant>>,
    /// When `lookup` last sent each item again.
    resent: Mutex<HashMap<String, Instant>>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("origin", &self.origin())
            .field("unit", &self.unit)
            .field("account_name", &self.account_name)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// What one `POST` came to.
enum Answer {
    /// The receiver has the post: stored now (2xx), or before (409).
    Has { remote: Remote, already: bool },
    /// 429/503/408: send nothing before `after`.
    Wait { after: Duration, reason: String },
    /// Nothing left this process (no connection).
    NotSent { reason: String },
    /// A 4xx: the receiver refused this request.
    Refused { status: StatusCode, message: String },
    /// It may or may not have been stored.
    Unclear { reason: String },
    /// The post cannot be put into a request (never sent).
    Unsendable { reason: String },
}

impl Webhook {
    /// Posts to `url`, signed with `secret`, as `account_name` of `unit`.
    /// `http` is used as is: its timeout bounds every send (a send that
    /// times out is [`Outcome::Unknown`]).
    pub fn new(
        url: Url,
        secret: Secret,
        unit: &str,
        account_name: &str,
        http: reqwest::Client,
    ) -> Result<Webhook, WebhookError> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(WebhookError::NotHttp);
        }
        if account_name.trim().is_empty() {
            return Err(WebhookError::NoAccountName);
        }
        Ok(Webhook {
            url,
            secret,
            unit: unit.to_string(),
            account_name: account_name.trim().to_string(),
            http,
            resend_interval: RESEND_INTERVAL,
            wait_until: Mutex::new(None),
            resent: Mutex::new(HashMap::new()),
        })
    }

    /// Send one item again at most this often (default [`RESEND_INTERVAL`]).
    pub fn with_resend_interval(mut self, interval: Duration) -> Self {
        self.resend_interval = interval;
        self
    }

    /// The receiver's origin (`https://host:port`), what logs may show.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    pub fn account_name(&self) -> &str {
        &self.account_name
    }

    /// The body `post` is sent as.
    pub fn payload(&self, post: &Post) -> WebhookPost {
        WebhookPost {
            id: post.item_id.clone(),
            unit: self.unit.clone(),
            account_name: self.account_name.clone(),
            title: post.title.clone(),
            content_html: post.html.clone(),
            text: post.text.clone(),
            url: post.source_url.to_string(),
            published_at: post.published_at.map(|t| t.to_rfc3339()),
            source: post.source.clone(),
            author: post.author.clone(),
            images: post.images.iter().map(Url::to_string).collect(),
        }
    }

    /// Note a receiver's request to wait, for the re-sends of `lookup`.
    fn wait(&self, after: Duration) {
        *lock(&self.wait_until) = Some(Instant::now() + after);
    }

    /// `Err` when `lookup` must not send `item` now: the receiver asked to
    /// wait, or the item was sent again less than the interval ago.
    fn may_resend(&self, item: &str) -> Result<(), String> {
        let now = Instant::now();
        if let Some(until) = *lock(&self.wait_until)
            && until > now
        {
            return Err(format!(
                "the webhook receiver at {} asked to wait {}s more; the post is sent again (to learn whether it arrived) after that",
                self.origin(),
                (until - now).as_secs() + 1
            ));
        }
        let mut resent = lock(&self.resent);
        resent.retain(|_, t| now.duration_since(*t) < self.resend_interval);
        if let Some(t) = resent.get(item) {
            return Err(format!(
                "sent again to {} {}s ago without a clear answer; sent again at most once every {}s",
                self.origin(),
                now.duration_since(*t).as_secs(),
                self.resend_interval.as_secs()
            ));
        }
        resent.insert(item.to_string(), now);
        Ok(())
    }

    async fn send(&self, post: &Post) -> Answer {
        let origin = self.origin();
        let body = match serde_json::to_vec(&self.payload(post)) {
            Ok(b) => b,
            Err(e) => {
                return Answer::Unsendable {
                    reason: format!("the post cannot be encoded as JSON: {e}"),
                };
            }
        };
        let Ok(key) = HeaderValue::from_str(&post.item_id) else {
            return Answer::Unsendable {
                reason: format!(
                    "item id {:?} cannot be sent as an {IDEMPOTENCY_HEADER}",
                    post.item_id
                ),
            };
        };
        let mut signed = HeaderValue::from_str(&signature(&self.secret, &body))
            .expect("sha256= and hex digits are a valid header value");
        signed.set_sensitive(true);
        tracing::debug!(unit = %self.unit, item = %post.item_id, receiver = %origin, "webhook POST");
        let sent = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, key)
            .header(SIGNATURE_HEADER, signed)
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            // Nothing was sent: no connection (refused, DNS, TLS, connect
            // timeout).
            Err(e) if e.is_connect() => {
                return Answer::NotSent {
                    reason: format!("POST {origin}: {}", transport_reason(&e.without_url())),
                };
            }
            Err(e) => {
                return Answer::Unclear {
                    reason: format!(
                        "POST {origin}: {} (the post may have arrived)",
                        transport_reason(&e.without_url())
                    ),
                };
            }
        };
        let status = resp.status();
        if resp.url() != &self.url {
            // A 301/302/303 turns the POST into a GET, whose 2xx would say
            // nothing; a 307/308 may have stored it. Which one it was is not
            // known here.
            return Answer::Unclear {
                reason: format!(
                    "POST {origin}: answered HTTP {status} after a redirect (to {}); whether the post arrived is not known: configure the URL the receiver answers at",
                    resp.url().origin().ascii_serialization()
                ),
            };
        }
        let headers = resp.headers().clone();
        let answer = read_capped(resp).await;
        classify(status, &headers, answer, &post.item_id, &origin)
    }
}

/// The [`Answer`] of a response that came from the configured URL.
fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    answer: Result<Vec<u8>, String>,
    item_id: &str,
    origin: &str,
) -> Answer {
    let reason = || format!("POST {origin}: HTTP {status}");
    if status.is_success() || status == StatusCode::CONFLICT {
        // The status says it is stored; an unreadable answer only loses
        // the link.
        return Answer::Has {
            remote: remote_from(answer.as_deref().unwrap_or_default(), item_id),
            already: status == StatusCode::CONFLICT,
        };
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return Answer::Wait {
            after: retry_after(headers, chrono::Utc::now()),
            reason: reason(),
        };
    }
    if status == StatusCode::REQUEST_TIMEOUT {
        return Answer::Wait {
            after: DEFAULT_RETRY_AFTER,
            reason: format!("{}: the receiver did not get the whole request", reason()),
        };
    }
    let message = match &answer {
        Ok(bytes) => message_of(bytes),
        Err(e) => format!("(the answer could not be read: {e})"),
    };
    if status.is_client_error() {
        return Answer::Refused { status, message };
    }
    Answer::Unclear {
        reason: format!("{}: {message} (the post may have been stored)", reason()),
    }
}

/// At most [`MAX_ANSWER_BYTES`] of the answer.
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while out.len() < MAX_ANSWER_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER_BYTES - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(e) => return Err(transport_reason(&e.without_url())),
        }
    }
    Ok(out)
}

/// The post as the receiver names it: its answer's `id` and `url` when it
/// gives them (a `url` only if http(s): editors open it).
fn remote_from(answer: &[u8], item_id: &str) -> Remote {
    let v: Option<Value> = serde_json::from_slice(answer).ok();
    let field = |k: &str| v.as_ref().and_then(|v| v.get(k));
    let id = field("id")
        .and_then(|id| match id {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty() && s.chars().count() <= MAX_REMOTE_ID_CHARS)
        .unwrap_or_else(|| item_id.to_string());
    let url = field("url")
        .and_then(Value::as_str)
        .and_then(|s| Url::parse(s).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(String::from);
    Remote { id, url }
}

/// A receiver's message for the editors: the JSON answer's `message`
/// (`error`, `msg`, `detail`, `error.message`), else its text; on one line,
/// cut to [`MAX_MESSAGE_CHARS`].
fn message_of(answer: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(answer).ok().and_then(|v| {
        ["message", "error", "msg", "detail"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
            .or_else(|| {
                v.get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(answer).into_owned());
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(no message)".to_string();
    }
    if line.chars().count() <= MAX_MESSAGE_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing held under these locks can be left half-changed by a panic.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl Publisher for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    /// A receiver has no identity to ask for: the binding is the URL and
    /// the secret the operator configured for this account, so this names
    /// the configured account (the outbox compares it with the account it
    /// expects) and sends nothing.
    async fn verify(&self) -> Result<AccountInfo, PublishError> {
        Ok(AccountInfo {
            id: self.origin(),
            display_name: self.account_name.clone(),
        })
    }

    async fn publish(&self, post: &Post) -> Outcome {
        match self.send(post).await {
            Answer::Has { remote, already } => Outcome::Published {
                remote,
                notes: if already {
                    vec!["接收方已有这篇稿件（409）：之前的一次发送已经送达".to_string()]
                } else {
                    Vec::new()
                },
            },
            Answer::Wait { after, reason } => {
                self.wait(after);
                Outcome::RetryLater { after, reason }
            }
            Answer::NotSent { reason } => Outcome::RetryLater {
                after: DEFAULT_RETRY_AFTER,
                reason,
            },
            // The receiver refuses us, not this post: every post would be
            // refused the same way and lost, so the account pauses instead
            // and the items wait for the fixed secret.
            Answer::Refused { status, message }
                if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) =>
            {
                Outcome::Paused {
                    reason: crate::model::PauseReason::CredentialsRefused {
                        detail: format!("HTTP {}: {message}", status.as_u16()),
                    },
                }
            }
            Answer::Refused { status, message } => Outcome::Rejected {
                code: None,
                message: format!("HTTP {}: {message}", status.as_u16()),
            },
            Answer::Unclear { reason } => Outcome::Unknown { reason },
            Answer::Unsendable { reason } => Outcome::Rejected {
                code: None,
                message: reason,
            },
        }
    }

    /// Sends the post again with the same `Idempotency-Key` (see the module
    /// docs): found when the receiver has it now; `Err` whenever its answer
    /// does not say so. Never `Ok(None)`.
    async fn lookup(&self, post: &Post) -> Result<Option<Remote>, PublishError> {
        self.may_resend(&post.item_id)
            .map_err(PublishError::Transport)?;
        match self.send(post).await {
            Answer::Has { remote, .. } => Ok(Some(remote)),
            Answer::Wait { after, reason } => {
                self.wait(after);
                Err(PublishError::Transport(format!(
                    "{reason}: the receiver asks to wait {}s",
                    after.as_secs()
                )))
            }
            Answer::NotSent { reason } | Answer::Unclear { reason } => {
                Err(PublishError::Transport(reason))
            }
            Answer::Refused { status, message } => Err(PublishError::Platform {
                code: i64::from(status.as_u16()),
                message: format!(
                    "{message} (the post was sent again to learn whether it arrived and was refused, which does not say whether an earlier send arrived)"
                ),
            }),
            Answer::Unsendable { reason } => Err(PublishError::Io(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2.
        let s = Secret::new("Jefe");
        let sig = signature(&s, b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signature_matches(&s, b"what do ya want for nothing?", &sig));
        assert!(!signature_matches(
            &s,
            b"what do ya want for nothing!",
            &sig
        ));
        assert!(!signature_matches(
            &Secret::new("jefe"),
            b"what do ya want for nothing?",
            &sig
        ));
        assert!(!signature_matches(&s, b"x", "5bdcc146"));
        assert!(!signature_matches(&s, b"x", "sha256=zz"));
    }

    #[test]
    fn receiver_messages_are_read_from_json_or_text_and_cut() {
        assert_eq!(
            message_of(br#"{"message":"title missing"}"#),
            "title missing"
        );
        assert_eq!(message_of(br#"{"error":{"message":"nope"}}"#), "nope");
        assert_eq!(message_of(b"  plain\n text  "), "plain text");
        assert_eq!(message_of(b""), "(no message)");
        let long = "字".repeat(1000);
        let m = message_of(long.as_bytes());
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS);
        assert!(m.ends_with('…'));
    }

    #[test]
    fn remote_takes_the_answers_id_and_only_an_http_url() {
        let r = remote_from(br#"{"id":42,"url":"https://p.example/a/42"}"#, "item");
        assert_eq!(r.id, "42");
        assert_eq!(r.url.as_deref(), Some("https://p.example/a/42"));
        let r = remote_from(br#"{"url":"javascript:alert(1)"}"#, "item");
        assert_eq!((r.id.as_str(), r.url), ("item", None));
        assert_eq!(remote_from(b"ok", "item").id, "item");
    }

    #[test]
    fn debug_shows_only_the_origin_and_never_the_secret() {
        let w = Webhook::new(
            Url::parse("https://user:pw@hooks.example.org:8443/in/TOKENPATH?k=QUERYTOKEN").unwrap(),
            Secret::new("SECRETVALUE"),
            "u",
            "示例省科协",
            reqwest::Client::new(),
        )
        .unwrap();
        let d = format!("{w:?}");
        assert!(d.contains("https://hooks.example.org:8443"), "{d}");
        for leak in ["SECRETVALUE", "TOKENPATH", "QUERYTOKEN", "pw"] {
            assert!(!d.contains(leak), "{leak} in {d}");
        }
    }

    #[test]
    fn constructor_refuses_a_non_http_url_without_echoing_it() {
        let e = Webhook::new(
            Url::parse("ftp://x/SECRETPATH").unwrap(),
            Secret::new("s"),
            "u",
            "a",
            reqwest::Client::new(),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("SECRETPATH"));
    }
}
