//! [`Wechat`]: one official account, through the API with its AppID and
//! AppSecret. See the [module docs](super) for why it works as it does.
//!
//! How answers map to an [`Outcome`]:
//!
//! | answer | outcome |
//! |---|---|
//! | submitted, `publish_status` 0 within the polls | `Published` (link from `article_detail`) |
//! | `publish_status` 1 after every poll (a few seconds) | `Unknown` (lookup settles it) |
//! | `publish_status` 2 / 3 / 4 | `Rejected` (originality check, failure, review: the reason) |
//! | `publish_status` 5 / 6 | `Rejected` (deleted / banned after publishing: never sent again) |
//! | 40164, 61004 (IP not in the whitelist) | `Paused(IpNotWhitelisted { ip })` |
//! | 48001, 50002 (no permission) | `Paused(NoPermission)` |
//! | wrong AppID / AppSecret on the token call | `Paused(NotConfigured)` |
//! | 40001, 42001 (token refused) | one new token (`force_refresh`), the call once more |
//! | 45009 (daily quota) | `RetryLater` until midnight China time (+1 min) |
//! | -1, 45011 (busy, minute quota), no connection | `RetryLater` (60 s) |
//! | 45002/45003/45004/45110/45166 on `draft/add` (a content rule) | `Hold` (an editor fixes it) |
//! | timeout, reset or unreadable answer of `draft/add` or `submit` | `Unknown` |
//! | other error codes of `draft/add` or `submit` | `Rejected { code }` |

use super::images::{self, Fitted};
use super::rules::{self, IMAGE_MAX_BYTES};
use super::{Call, codes};
use crate::clock::{Clock, SystemClock};
use crate::model::PauseReason;
use crate::publish::text::{short, snippet};
use crate::publish::{
    AccountInfo, ImageSource, Outcome, Post, PublishError, Publisher, Remote, transport_reason,
};
use crate::secret::Secret;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use regex::Regex;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// A token is used until this long before it expires, so a call never
/// races its expiry.
const TOKEN_MARGIN: Duration = Duration::from_secs(5 * 60);
/// When the platform is busy or unreachable.
const RETRY_SOON: Duration = Duration::from_secs(60);
/// When the API is not where base_url says: ops must fix the config.
const RETRY_MUCH_LATER: Duration = Duration::from_secs(3600);
/// After 45009 the quota resets at midnight China time; a minute more
/// covers the difference between our clock and the platform's.
const QUOTA_RESET_MARGIN: Duration = Duration::from_secs(60);
/// How long `publish` waits for the platform to decide, poll by poll
/// (6 s in all): the platform usually decides within seconds, and what
/// takes longer is left to reconciliation rather than holding the
/// account's worker.
pub const STATUS_POLLS: [Duration; 5] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_millis(1500),
    Duration::from_secs(2),
];
/// `lookup` reads at most this many pages of `LOOKUP_PAGE` published
/// articles, newest first. Reconciliation runs before every send, so
/// between a post and its lookup the account gains only what editors
/// publish by hand meanwhile: 200 articles is two days at the API's daily
/// cap. Past that `lookup` cannot be sure and says so (`Err`), never
/// "absent".
const LOOKUP_PAGES: u32 = 10;
const LOOKUP_PAGE: u32 = 20;
/// A submission whose answer was lost is not "certainly absent" until this
/// long after it (publishing normally takes seconds; the platform's own
/// checks, minutes).
const LOST_SUBMISSION_SETTLES: Duration = Duration::from_secs(30 * 60);

/// What a [`Wechat`] is built from.
pub struct WechatParams {
    /// `https://api.weixin.qq.com` (or a double).
    pub base_url: Url,
    pub app_id: String,
    pub app_secret: Secret,
    /// The account's name, as configured: what [`Wechat::verify`] reports.
    pub account_name: String,
    /// The default cover image's bytes (any image [`images::fit_image`]
    /// takes): the cover of articles without an image of their own.
    pub cover: Vec<u8>,
}

/// Why a [`Wechat`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    #[error("wechat base_url {0} is not an http(s) URL")]
    BadBaseUrl(String),
    #[error("wechat app_id is empty")]
    NoAppId,
}

/// One WeChat official account.
pub struct Wechat {
    /// A submission is not "certainly absent" until this long after it.
    settle: Duration,
    base_url: Url,
    app_id: String,
    app_secret: Secret,
    account_name: String,
    http: reqwest::Client,
    images: Arc<dyn ImageSource>,
    clock: Arc<dyn Clock>,
    polls: Vec<Duration>,
    cover: Arc<Vec<u8>>,
    /// The default cover's media_id, once uploaded (once per process).
    cover_media_id: tokio::sync::Mutex<Option<String>>,
    token: tokio::sync::Mutex<Option<Token>>,
    /// Submissions not known to be settled, by the article's source URL:
    /// `lookup` must not call them absent while the platform may still
    /// publish them.
    pending: std::sync::Mutex<HashMap<String, Pending>>,
}

struct Token {
    value: Secret,
    fresh_until: Instant,
}

#[derive(Clone)]
struct Pending {
    /// `None` while the submit's answer is awaited, or when it was lost.
    publish_id: Option<String>,
    since: Instant,
}

impl fmt::Debug for Wechat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The AppSecret and the access token are credentials: never printed.
        f.debug_struct("Wechat")
            .field("base_url", &self.base_url.as_str())
            .field("app_id", &self.app_id)
            .field("account_name", &self.account_name)
            .field("app_secret", &"***")
            .finish_non_exhaustive()
    }
}

/// A failed API call. Messages name the call, never its URL (the access
/// token is in the query).
#[derive(Debug, thiserror::Error)]
enum ApiError {
    /// Nothing reached the platform.
    #[error("{call}: could not connect: {reason}")]
    NotSent { call: Call, reason: String },
    /// Sent, but no usable answer came back: it may have been applied.
    #[error("{call}: {reason}")]
    NoAnswer { call: Call, reason: String },
    #[error("{call}: HTTP {status}")]
    Http { call: Call, status: u16 },
    #[error("{call}: errcode {code}: {message}")]
    Code {
        call: Call,
        code: i64,
        message: String,
    },
}

/// What an error code means for the account.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    /// The access token was refused: renew it.
    TokenRefused,
    /// The AppID/AppSecret pair is wrong.
    Credentials,
    IpNotWhitelisted(String),
    NoPermission,
    DailyQuota,
    Busy,
    Other,
}

fn class(call: Call, code: i64, message: &str) -> Class {
    match code {
        codes::INVALID_CREDENTIAL
        | codes::INVALID_APPSECRET
        | codes::INVALID_APPID
        | codes::APPID_MISSING
        | codes::APPSECRET_MISSING
            if call == Call::Token =>
        {
            Class::Credentials
        }
        codes::INVALID_CREDENTIAL
        | codes::INVALID_ACCESS_TOKEN
        | codes::ACCESS_TOKEN_EXPIRED
        | codes::ACCESS_TOKEN_MISSING => Class::TokenRefused,
        codes::INVALID_IP | codes::CLIENT_IP_NOT_REGISTERED => {
            Class::IpNotWhitelisted(caller_ip(message).unwrap_or_else(|| "unknown".into()))
        }
        codes::API_UNAUTHORIZED | codes::USER_LIMITED => Class::NoPermission,
        codes::DAILY_QUOTA => Class::DailyQuota,
        codes::SYSTEM_BUSY | codes::MINUTE_QUOTA => Class::Busy,
        _ => Class::Other,
    }
}

static CALLER_IP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:invalid ip|requestip:?|clientip:?)\s+([0-9a-f.:]*[0-9a-f])")
        .expect("static regex")
});

/// The caller's address in a whitelist refusal: "invalid ip 1.2.3.4 ipv6
/// ::ffff:1.2.3.4, not in whitelist rid: …".
fn caller_ip(message: &str) -> Option<String> {
    CALLER_IP
        .captures(message)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// How long until the daily quotas reset: midnight in China (UTC+8, no
/// daylight saving), plus a margin.
pub fn until_quota_resets(now: DateTime<Utc>) -> Duration {
    let tz = chrono_tz::Asia::Shanghai;
    let tomorrow = now.with_timezone(&tz).date_naive() + chrono::Days::new(1);
    let midnight = tomorrow.and_hms_opt(0, 0, 0).expect("midnight exists");
    let reset = tz
        .from_local_datetime(&midnight)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + chrono::Duration::hours(24));
    (reset - now).to_std().unwrap_or(Duration::ZERO) + QUOTA_RESET_MARGIN
}

enum Body {
    Json(Value),
    /// A file in the multipart part `media`.
    File {
        name: String,
        mime: &'static str,
        bytes: Vec<u8>,
    },
}

/// Why one image did not make it into the article.
enum ImageFailure {
    /// Leave it out, with this note.
    Drop(String),
    /// Stop the publish (nothing of it has been posted).
    Abort(Outcome),
}

impl Wechat {
    pub fn new(
        params: WechatParams,
        http: reqwest::Client,
        images: Arc<dyn ImageSource>,
    ) -> Result<Self, WechatError> {
        let base = &params.base_url;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(WechatError::BadBaseUrl(base.to_string()));
        }
        if params.app_id.trim().is_empty() {
            return Err(WechatError::NoAppId);
        }
        Ok(Wechat {
            base_url: params.base_url,
            app_id: params.app_id,
            app_secret: params.app_secret,
            account_name: params.account_name,
            http,
            images,
            clock: Arc::new(SystemClock),
            polls: STATUS_POLLS.to_vec(),
            cover: Arc::new(params.cover),
            cover_media_id: tokio::sync::Mutex::new(None),
            token: tokio::sync::Mutex::new(None),
            pending: std::sync::Mutex::new(HashMap::new()),
            settle: LOST_SUBMISSION_SETTLES,
        })
    }

    /// How long a submission may take to settle on this account (see
    /// `settle_secs` in the config); 30 minutes unless told.
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Wall time for the quota's reset (tests pin it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The waits before each `freepublish/get` after a submit (default
    /// [`STATUS_POLLS`]).
    pub fn with_status_polls(mut self, polls: Vec<Duration>) -> Self {
        self.polls = polls;
        self
    }

    /// One call with a token; a refused token is renewed once and the call
    /// made once more (the refusal means it was not applied).
    async fn call(
        &self,
        call: Call,
        query: &[(&str, &str)],
        body: &Body,
    ) -> Result<Value, ApiError> {
        let token = self.token(None).await?;
        match self.send(call, Some(&token), query, body).await {
            Err(ApiError::Code { code, message, .. })
                if class(call, code, &message) == Class::TokenRefused =>
            {
                tracing::info!(app_id = %self.app_id, %call, code, "access token refused; renewing it once");
                let token = self.token(Some(&token)).await?;
                self.send(call, Some(&token), query, body).await
            }
            other => other,
        }
    }

    /// The cached token, or a new one. `refused`: the token the platform
    /// just refused — unless another call already replaced it, a new one
    /// is forced (`force_refresh`), since the platform would otherwise hand
    /// back the same.
    async fn token(&self, refused: Option<&Secret>) -> Result<Secret, ApiError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.fresh_until
            && refused.is_none_or(|r| *r != t.value)
        {
            return Ok(t.value.clone());
        }
        let body = Body::Json(json!({
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.app_secret.expose(),
            "force_refresh": refused.is_some(),
        }));
        let v = self.send(Call::Token, None, &[], &body).await?;
        let value = v
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::NoAnswer {
                call: Call::Token,
                reason: "the answer has no access_token".into(),
            })?;
        let lifetime =
            Duration::from_secs(v.get("expires_in").and_then(Value::as_u64).unwrap_or(7200));
        let value = Secret::new(value);
        *cached = Some(Token {
            value: value.clone(),
            fresh_until: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
        });
        Ok(value)
    }

    async fn send(
        &self,
        call: Call,
        token: Option<&Secret>,
        query: &[(&str, &str)],
        body: &Body,
    ) -> Result<Value, ApiError> {
        let mut url = self.base_url.clone();
        url.set_path(call.path());
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            if let Some(t) = token {
                q.append_pair("access_token", t.expose());
            }
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let req = self.http.post(url);
        let req = match body {
            Body::Json(v) => req.json(v),
            Body::File { name, mime, bytes } => {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(name.clone())
                    .mime_str(mime)
                    .map_err(|e| ApiError::NotSent {
                        call,
                        reason: format!("bad content type {mime}: {}", e.without_url()),
                    })?;
                req.multipart(reqwest::multipart::Form::new().part("media", part))
            }
        };
        let resp = req.send().await.map_err(|e| {
            let not_sent = e.is_connect() || e.is_builder();
            // The URL carries the access token.
            let reason = transport_reason(&e.without_url());
            if not_sent {
                ApiError::NotSent { call, reason }
            } else {
                ApiError::NoAnswer { call, reason }
            }
        })?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(ApiError::NoAnswer {
                call,
                reason: format!("HTTP {status}"),
            });
        }
        if !status.is_success() {
            return Err(ApiError::Http {
                call,
                status: status.as_u16(),
            });
        }
        let bytes = resp.bytes().await.map_err(|e| ApiError::NoAnswer {
            call,
            reason: format!("reading the answer: {}", transport_reason(&e.without_url())),
        })?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| ApiError::NoAnswer {
            call,
            reason: format!("the answer is not JSON: {}", snippet(&bytes)),
        })?;
        match v.get("errcode").and_then(Value::as_i64) {
            None | Some(0) => Ok(v),
            Some(code) => Err(ApiError::Code {
                call,
                code,
                message: v
                    .get("errmsg")
                    .and_then(Value::as_str)
                    .unwrap_or("(no errmsg)")
                    .to_string(),
            }),
        }
    }

    /// What a failed call means for the post being published. Calls before
    /// `draft/add` posted nothing; after it, a lost answer is `Unknown`.
    fn outcome(&self, e: ApiError) -> Outcome {
        let reason = e.to_string();
        match e {
            ApiError::NotSent { .. } => Outcome::RetryLater {
                after: RETRY_SOON,
                reason,
            },
            ApiError::NoAnswer { call, .. } if call.writes_post() => Outcome::Unknown {
                reason: format!("{reason} (it may have been applied; looked up before any retry)"),
            },
            ApiError::NoAnswer { .. } => Outcome::RetryLater {
                after: RETRY_SOON,
                reason,
            },
            ApiError::Http {
                status: 404 | 405 | 410,
                ..
            } => Outcome::RetryLater {
                after: RETRY_MUCH_LATER,
                reason: format!("{reason}: the API is not there; check base_url"),
            },
            ApiError::Http { call, status } if call.writes_post() && status != 429 => {
                Outcome::Rejected {
                    code: None,
                    message: reason,
                }
            }
            ApiError::Http { .. } => Outcome::RetryLater {
                after: RETRY_SOON,
                reason,
            },
            ApiError::Code {
                call,
                code,
                message,
            } => match class(call, code, &message) {
                Class::Credentials => Outcome::Paused {
                    reason: credentials_pause(code, &message),
                },
                Class::IpNotWhitelisted(ip) => Outcome::Paused {
                    reason: PauseReason::IpNotWhitelisted {
                        ip,
                        detail: format!("errcode {code}: {message}"),
                    },
                },
                Class::NoPermission => Outcome::Paused {
                    reason: no_permission(code, &message),
                },
                Class::DailyQuota => {
                    let after = until_quota_resets(self.clock.now());
                    Outcome::RetryLater {
                        after,
                        reason: format!(
                            "{reason}: the daily quota is used up; waiting until it resets at midnight China time"
                        ),
                    }
                }
                Class::TokenRefused => Outcome::RetryLater {
                    after: RETRY_SOON,
                    reason: format!(
                        "{reason}: refused right after renewal (is another program renewing this AppID's token?)"
                    ),
                },
                Class::Busy => Outcome::RetryLater {
                    after: RETRY_SOON,
                    reason,
                },
                Class::Other if call == Call::DraftAdd && is_content_rule(code) => Outcome::Hold {
                    reason: format!(
                        "微信公众号拒绝了这篇文章的内容（errcode {code}：{message}），请修改标题、摘要、作者或正文后再发布。"
                    ),
                },
                Class::Other if call.writes_post() => Outcome::Rejected {
                    code: Some(code),
                    message,
                },
                Class::Other => Outcome::RetryLater {
                    after: RETRY_SOON,
                    reason,
                },
            },
        }
    }

    /// The image at `url`, fetched from the unit's site and made fit.
    async fn fetch_image(&self, url: &Url, referer: &Url) -> Result<Fitted, String> {
        let image = self
            .images
            .fetch_image(url, referer)
            .await
            .map_err(|e| format!("could not be fetched: {e}"))?;
        fit(image.bytes.to_vec()).await
    }

    /// An image uploaded for the body: its URL on the platform.
    async fn upload_body_image(&self, image: &Fitted) -> Result<String, ImageFailure> {
        let v = self.upload(Call::UploadImg, &[], image).await?;
        v.get("url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ImageFailure::Drop(format!(
                    "the upload answer has no url: {}",
                    short(&v.to_string())
                ))
            })
    }

    /// An image uploaded as permanent material (a cover): its media_id.
    async fn add_material(&self, image: &Fitted) -> Result<String, ImageFailure> {
        let v = self
            .upload(Call::AddMaterial, &[("type", "image")], image)
            .await?;
        v.get("media_id")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ImageFailure::Drop(format!(
                    "the upload answer has no media_id: {}",
                    short(&v.to_string())
                ))
            })
    }

    /// One upload, tried twice when its answer is lost (an upload is only
    /// an image on the platform, harmless twice). An account-level refusal
    /// stops the publish; a refusal of the image drops it.
    async fn upload(
        &self,
        call: Call,
        query: &[(&str, &str)],
        image: &Fitted,
    ) -> Result<Value, ImageFailure> {
        let body = Body::File {
            name: format!("image.{}", image.format.ext()),
            mime: image.format.mime(),
            bytes: image.bytes.clone(),
        };
        let mut last = None;
        for _ in 0..2 {
            // Only the upload's own failures concern the image; a token
            // call's concern the account.
            match self.call(call, query, &body).await {
                Ok(v) => return Ok(v),
                Err(e @ ApiError::NoAnswer { call: c, .. }) if c == call => last = Some(e),
                Err(ApiError::Code {
                    call: c,
                    code,
                    message,
                }) if c == call && class(c, code, &message) == Class::Other => {
                    return Err(ImageFailure::Drop(format!(
                        "refused by the platform (errcode {code}: {message})"
                    )));
                }
                Err(ApiError::Http { call: c, status })
                    if c == call && !matches!(status, 404 | 405 | 410 | 429) =>
                {
                    return Err(ImageFailure::Drop(format!("refused: HTTP {status}")));
                }
                Err(e) => return Err(ImageFailure::Abort(self.outcome(e))),
            }
        }
        let e = last.map(|e| e.to_string()).unwrap_or_default();
        Err(ImageFailure::Drop(format!("upload failed twice: {e}")))
    }

    /// The cover's media_id: the article's first image, else the default
    /// cover. `Ok((media_id, is_default))`.
    async fn cover(
        &self,
        first: Option<&Fitted>,
        notes: &mut Vec<String>,
    ) -> Result<(String, bool), Outcome> {
        if let Some(image) = first {
            match self.add_material(image).await {
                Ok(id) => return Ok((id, false)),
                Err(ImageFailure::Abort(o)) => return Err(o),
                Err(ImageFailure::Drop(reason)) => notes.push(format!(
                    "第一张图片不能用作封面（{reason}），已改用默认封面"
                )),
            }
        }
        let mut cached = self.cover_media_id.lock().await;
        if let Some(id) = cached.as_ref() {
            return Ok((id.clone(), true));
        }
        let not_usable = |reason: String| Outcome::Paused {
            reason: PauseReason::NotConfigured {
                detail: format!("默认封面图（cover）无法使用：{reason}；请更换图片后重新加载配置"),
            },
        };
        let image = fit(self.cover.to_vec()).await.map_err(not_usable)?;
        match self.add_material(&image).await {
            Ok(id) => {
                *cached = Some(id.clone());
                Ok((id, true))
            }
            Err(ImageFailure::Abort(o)) => Err(o),
            Err(ImageFailure::Drop(reason)) => Err(not_usable(reason)),
        }
    }

    fn pending_set(&self, post: &Post, publish_id: Option<String>) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.insert(
            post.source_url.to_string(),
            Pending {
                publish_id,
                since: Instant::now(),
            },
        );
    }

    fn pending_clear(&self, post: &Post) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.remove(post.source_url.as_str());
    }

    fn pending_get(&self, post: &Post) -> Option<Pending> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.get(post.source_url.as_str()).cloned()
    }

    /// Ask how submission `publish_id` went, a few times; `Unknown` when the
    /// platform has not decided by the last poll.
    async fn await_publication(
        &self,
        post: &Post,
        publish_id: &str,
        notes: Vec<String>,
    ) -> Outcome {
        let body = Body::Json(json!({ "publish_id": publish_id }));
        let mut last = String::from("no answer yet");
        for wait in &self.polls {
            tokio::time::sleep(*wait).await;
            let v = match self.call(Call::Get, &[], &body).await {
                Ok(v) => v,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            match Status::of(&v) {
                Status::Publishing => last = "still publishing (publish_status 1)".into(),
                Status::Published(remote) => {
                    self.pending_clear(post);
                    return Outcome::Published { remote, notes };
                }
                Status::Failed(message) | Status::RemovedAfterPublishing(message) => {
                    self.pending_clear(post);
                    return Outcome::Rejected {
                        code: None,
                        message,
                    };
                }
                Status::Unexpected(what) => last = what,
            }
        }
        let waited: Duration = self.polls.iter().sum();
        Outcome::Unknown {
            reason: format!(
                "submitted (publish_id {publish_id}) but not published after {}s: {last}; looked up later",
                waited.as_secs_f32()
            ),
        }
    }

    /// The published article whose `content_source_url` is `source_url`,
    /// newest first, within [`LOOKUP_PAGES`].
    async fn find_published(&self, source_url: &str) -> Result<Option<Remote>, PublishError> {
        for page in 0..LOOKUP_PAGES {
            // no_content: the articles' HTML is not needed to match them.
            let body = Body::Json(json!({
                "offset": page * LOOKUP_PAGE,
                "count": LOOKUP_PAGE,
                "no_content": 1,
            }));
            let v = self
                .call(Call::BatchGet, &[], &body)
                .await
                .map_err(publish_error)?;
            let items = v
                .get("item")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in &items {
                let article_id = item.get("article_id").and_then(id_string);
                let news = item
                    .pointer("/content/news_item")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if let Some(hit) = news.iter().find(|n| {
                    n.get("content_source_url").and_then(Value::as_str) == Some(source_url)
                }) {
                    let url = hit
                        .get("url")
                        .and_then(Value::as_str)
                        .filter(|u| !u.is_empty());
                    return Ok(Some(Remote {
                        id: article_id.unwrap_or_default(),
                        url: url.map(str::to_string),
                    }));
                }
            }
            let total = v.get("total_count").and_then(Value::as_u64);
            let read = u64::from(page * LOOKUP_PAGE) + items.len() as u64;
            if items.len() < LOOKUP_PAGE as usize || total.is_some_and(|t| read >= t) {
                return Ok(None);
            }
        }
        Err(PublishError::Undecided(format!(
            "{source_url} is not among the account's {} newest articles and older ones are not read; \
             whether it was published cannot be told",
            LOOKUP_PAGES * LOOKUP_PAGE
        )))
    }
}

/// Bytes made fit for the platform, on a blocking thread (decoding and
/// encoding are CPU work).
async fn fit(bytes: Vec<u8>) -> Result<Fitted, String> {
    tokio::task::spawn_blocking(move || images::fit_image(&bytes, IMAGE_MAX_BYTES))
        .await
        .map_err(|e| format!("conversion failed: {e}"))?
        .map_err(|e| e.to_string())
}

/// Content rules `draft/add` enforces: an editor can fix these.
fn is_content_rule(code: i64) -> bool {
    matches!(
        code,
        codes::CONTENT_TOO_LONG
            | codes::TITLE_TOO_LONG
            | codes::DIGEST_TOO_LONG
            | codes::AUTHOR_TOO_LONG
            | codes::INVALID_CONTENT
    )
}

fn credentials_pause(code: i64, message: &str) -> PauseReason {
    PauseReason::NotConfigured {
        detail: format!(
            "AppID 或 AppSecret 不正确（errcode {code}：{message}）；请核对 app_id，或在公众平台重置 AppSecret 后更新并重新加载配置"
        ),
    }
}

fn no_permission(code: i64, message: &str) -> PauseReason {
    PauseReason::NoPermission {
        detail: format!(
            "errcode {code}: {message}（2025 年 7 月起只有已认证的公众号可通过接口发布）"
        ),
    }
}

/// What a failed call means for `verify` and `lookup`.
fn publish_error(e: ApiError) -> PublishError {
    match e {
        ApiError::Code {
            call,
            code,
            message,
        } => match class(call, code, &message) {
            Class::Credentials => PublishError::Paused(credentials_pause(code, &message)),
            Class::IpNotWhitelisted(ip) => PublishError::Paused(PauseReason::IpNotWhitelisted {
                ip,
                detail: format!("errcode {code}: {message}"),
            }),
            Class::NoPermission => PublishError::Paused(no_permission(code, &message)),
            _ => PublishError::Platform {
                code,
                message: format!("{message} ({call})"),
            },
        },
        other => PublishError::Transport(other.to_string()),
    }
}

/// A `freepublish/get` answer.
enum Status {
    Publishing,
    Published(Remote),
    /// 2, 3, 4: not published; the reason.
    Failed(String),
    /// 5, 6: it was published, then taken down.
    RemovedAfterPublishing(String),
    Unexpected(String),
}

impl Status {
    fn of(v: &Value) -> Status {
        let detail = || {
            let mut d = String::new();
            if let Some(m) = v
                .get("errmsg")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty() && *m != "ok")
            {
                d.push_str(&format!(": {m}"));
            }
            if let Some(f) = v
                .get("fail_idx")
                .and_then(Value::as_array)
                .filter(|f| !f.is_empty())
            {
                d.push_str(&format!(" (failed articles: {})", Value::Array(f.clone())));
            }
            d
        };
        match v.get("publish_status").and_then(Value::as_i64) {
            Some(0) => {
                let id = v
                    .get("article_id")
                    .and_then(id_string)
                    .or_else(|| v.get("publish_id").and_then(id_string))
                    .unwrap_or_default();
                let url = v
                    .pointer("/article_detail/item/0/article_url")
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string);
                Status::Published(Remote { id, url })
            }
            Some(1) => Status::Publishing,
            Some(2) => Status::Failed(format!(
                "原创声明校验未通过 (publish_status 2: the originality check failed){}",
                detail()
            )),
            Some(3) => Status::Failed(format!(
                "发布失败 (publish_status 3: publishing failed){}",
                detail()
            )),
            Some(4) => Status::Failed(format!(
                "平台审核未通过 (publish_status 4: refused by the platform's review){}",
                detail()
            )),
            Some(5) => Status::RemovedAfterPublishing(format!(
                "发布后已被删除 (publish_status 5: published, then deleted){}; not sent again",
                detail()
            )),
            Some(6) => Status::RemovedAfterPublishing(format!(
                "发布后被平台封禁 (publish_status 6: published, then banned by the platform){}; not sent again",
                detail()
            )),
            other => Status::Unexpected(format!("unexpected publish_status {other:?}")),
        }
    }
}

/// Ids come as numbers or strings.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl Publisher for Wechat {
    fn kind(&self) -> &'static str {
        "wechat"
    }

    /// A submission the platform is still checking is invisible to
    /// `lookup` (its list holds finished articles only), and a process that
    /// restarted no longer knows it submitted one: it must not be sent again
    /// before it can have settled.
    fn listing_delay(&self) -> std::time::Duration {
        self.settle
    }

    /// There is no call that names the account to a client-credential
    /// token. What can be proved is that the AppID/AppSecret pair works from
    /// this address and may use the publishing API: a token, then a
    /// one-article `freepublish/batchget` (which fails with 48001 or 40164
    /// exactly when publishing would). The name reported is the one the
    /// operator configured for this AppID: the binding is the AppID ↔
    /// account pair in the config, so a `[unit.publisher] account_name`
    /// that disagrees with the unit's account pauses the account, naming
    /// both.
    async fn verify(&self) -> Result<AccountInfo, PublishError> {
        let probe = Body::Json(json!({"offset": 0, "count": 1, "no_content": 1}));
        self.call(Call::BatchGet, &[], &probe)
            .await
            .map_err(publish_error)?;
        Ok(AccountInfo {
            id: self.app_id.clone(),
            display_name: self.account_name.clone(),
        })
    }

    async fn publish(&self, post: &Post) -> Outcome {
        let (title, shortened) = rules::title(&post.title);
        if title.is_empty() {
            return Outcome::Hold {
                reason: "标题为空：微信公众号文章须有标题，请填写后再发布。".into(),
            };
        }
        let mut notes = Vec::new();
        if shortened {
            notes.push(format!("标题已缩短为“{title}”，完整标题放在正文第一行"));
        }
        let (author, note) = rules::author(post.author.as_deref());
        notes.extend(note);
        let digest = rules::digest(&post.text);
        let body = rules::body(post, shortened);
        // Held before any upload when even the body without its images is
        // too long.
        if let Some(hold) = rules::hold_if_too_long(&rules::without_images(&body)) {
            return hold;
        }

        let (urls, image_notes) = rules::image_urls(&body, &post.source_url);
        notes.extend(image_notes);
        let mut uploaded = HashMap::new();
        let mut first = None;
        for url in urls {
            let image = match self.fetch_image(&url, &post.source_url).await {
                Ok(i) => i,
                Err(reason) => {
                    notes.push(format!("已删去图片 {url}：{reason}"));
                    continue;
                }
            };
            match self.upload_body_image(&image).await {
                Ok(u) => {
                    if let Some(n) = &image.note {
                        notes.push(format!("图片 {url}：{n}"));
                    }
                    uploaded.insert(url, u);
                    first.get_or_insert(image);
                }
                Err(ImageFailure::Drop(reason)) => {
                    notes.push(format!("已删去图片 {url}：{reason}"))
                }
                Err(ImageFailure::Abort(outcome)) => return outcome,
            }
        }
        let content = rules::rewrite_images(&body, &post.source_url, &uploaded);
        if let Some(hold) = rules::hold_if_too_long(&content) {
            return hold;
        }
        // Last line of defence: the body references only the platform's
        // images.
        let issued: HashSet<String> = uploaded.values().cloned().collect();
        if let Some(bad) = rules::foreign_image(&content, &issued) {
            return Outcome::Rejected {
                code: None,
                message: format!(
                    "the body of {} still holds an image not uploaded ({bad}); not sent",
                    post.source_url
                ),
            };
        }
        let (thumb, default_cover) = match self.cover(first.as_ref(), &mut notes).await {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };

        let draft = Body::Json(json!({"articles": [{
            "article_type": "news",
            "title": title,
            "author": author.unwrap_or_default(),
            "digest": digest,
            "content": content,
            "content_source_url": post.source_url.as_str(),
            "thumb_media_id": thumb,
            "need_open_comment": 0,
            "only_fans_can_comment": 0,
        }]}));
        let media_id = match self.call(Call::DraftAdd, &[], &draft).await {
            Ok(v) => match v
                .get("media_id")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
            {
                Some(m) => m.to_string(),
                None => {
                    return Outcome::Unknown {
                        reason: format!("{}: success without a media_id", Call::DraftAdd),
                    };
                }
            },
            Err(ApiError::Code { code, .. })
                if code == codes::INVALID_MEDIA_ID && default_cover =>
            {
                // The default cover's material was deleted on the platform:
                // upload it again next time.
                *self.cover_media_id.lock().await = None;
                return Outcome::RetryLater {
                    after: RETRY_SOON,
                    reason: "the default cover's material is gone from the platform; it is uploaded again".into(),
                };
            }
            Err(e) => return self.outcome(e),
        };
        tracing::info!(app_id = %self.app_id, item = %post.item_id, %media_id, "wechat draft added; submitting");

        // From here on the platform may publish it: lookup must not call it
        // absent until we know.
        self.pending_set(post, None);
        let submit = Body::Json(json!({ "media_id": media_id }));
        let publish_id = match self.call(Call::Submit, &[], &submit).await {
            Ok(v) => match v.get("publish_id").and_then(id_string) {
                Some(id) => id,
                None => {
                    return Outcome::Unknown {
                        reason: format!("{}: success without a publish_id", Call::Submit),
                    };
                }
            },
            Err(e) => {
                let outcome = self.outcome(e);
                if !matches!(outcome, Outcome::Unknown { .. }) {
                    // Refused: nothing was submitted.
                    self.pending_clear(post);
                }
                return outcome;
            }
        };
        self.pending_set(post, Some(publish_id.clone()));
        self.await_publication(post, &publish_id, notes).await
    }

    /// Found by `content_source_url` among the published articles. A
    /// submission of ours the platform has not decided on, or whose answer
    /// was lost not long ago, is [`PublishError::Undecided`], not absent.
    async fn lookup(&self, post: &Post) -> Result<Option<Remote>, PublishError> {
        if let Some(found) = self.find_published(post.source_url.as_str()).await? {
            self.pending_clear(post);
            return Ok(Some(found));
        }
        let Some(pending) = self.pending_get(post) else {
            return Ok(None);
        };
        let Some(publish_id) = pending.publish_id else {
            if pending.since.elapsed() < self.settle {
                return Err(PublishError::Undecided(format!(
                    "the answer to submitting {} was lost {}s ago and it is not published yet; \
                     it may still be",
                    post.source_url,
                    pending.since.elapsed().as_secs()
                )));
            }
            self.pending_clear(post);
            return Ok(None);
        };
        let body = Body::Json(json!({ "publish_id": publish_id }));
        let v = self
            .call(Call::Get, &[], &body)
            .await
            .map_err(publish_error)?;
        match Status::of(&v) {
            Status::Published(remote) => {
                self.pending_clear(post);
                Ok(Some(remote))
            }
            Status::Publishing => Err(PublishError::Undecided(format!(
                "{} is still being published (publish_id {publish_id})",
                post.source_url
            ))),
            Status::Failed(_) => {
                self.pending_clear(post);
                Ok(None)
            }
            Status::RemovedAfterPublishing(message) => {
                // It was out: never send it again.
                self.pending_clear(post);
                tracing::warn!(item = %post.item_id, "{message}");
                Ok(Some(Remote {
                    id: v
                        .get("article_id")
                        .and_then(id_string)
                        .unwrap_or(publish_id),
                    url: None,
                }))
            }
            Status::Unexpected(what) => Err(PublishError::Undecided(format!(
                "{}: {what} (publish_id {publish_id})",
                post.source_url
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_ip_is_read_from_whitelist_refusals() {
        assert_eq!(
            caller_ip("invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist rid: 6789-abc")
                .as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            caller_ip("access clientip is not registered requestIP: 203.0.113.9 rid: x").as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(caller_ip("invalid ip, not in whitelist"), None);
        assert_eq!(
            class(Call::DraftAdd, codes::INVALID_IP, "whatever"),
            Class::IpNotWhitelisted("unknown".into())
        );
    }

    #[test]
    fn error_codes_mean_different_things_on_the_token_call() {
        assert_eq!(
            class(Call::Token, codes::INVALID_CREDENTIAL, ""),
            Class::Credentials
        );
        assert_eq!(
            class(Call::Submit, codes::INVALID_CREDENTIAL, ""),
            Class::TokenRefused
        );
        assert_eq!(
            class(Call::Get, codes::ACCESS_TOKEN_EXPIRED, ""),
            Class::TokenRefused
        );
        assert_eq!(
            class(Call::Submit, codes::API_UNAUTHORIZED, ""),
            Class::NoPermission
        );
        assert_eq!(class(Call::Submit, 53503, ""), Class::Other);
    }

    #[test]
    fn the_quota_resets_at_midnight_china_time_plus_a_minute() {
        // 2026-11-26 23:30 in Shanghai is 15:30 UTC.
        let now = DateTime::parse_from_rfc3339("2026-11-26T15:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(until_quota_resets(now), Duration::from_secs(31 * 60));
        // 00:30 in Shanghai (16:30 UTC the day before): almost a whole day.
        let now = DateTime::parse_from_rfc3339("2026-11-26T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            until_quota_resets(now),
            Duration::from_secs(23 * 3600 + 31 * 60)
        );
    }
}
