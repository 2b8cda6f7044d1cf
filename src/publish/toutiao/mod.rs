//! The toutiao (头条号) platform client.
//!
//! It speaks the web API the 头条号 back office uses: the logged-in browser
//! cookie authenticates every call and the cookie's `csrftoken` goes back as
//! `X-CSRFToken` on every POST. There is no official API for 头条号 articles,
//! so this client is written defensively:
//!
//! * Every answer is classified into an [`Outcome`] so the pipeline knows
//!   whether to retry, pause the account, give up, or *look the post up first*.
//!   Once the publish POST may have reached the platform, `publish` never
//!   sends it again: a timeout, a reset connection, a 5xx or an unreadable
//!   answer all become [`Outcome::Unknown`], and [`Toutiao::lookup`] decides.
//! * The platform only accepts images it hosts itself, so every `<img>` in the
//!   body is fetched from the unit's site (with the article as Referer, for
//!   hot-link protection), uploaded, and rewritten to the returned `web_url`
//!   plus a `web_uri` attribute. An image that cannot be had is dropped with a
//!   note rather than blocking the article; a body that would still carry a
//!   foreign image is never sent (the platform would refuse it with 7115).
//! * Titles longer than 30 characters are shortened deterministically
//!   ([`platform_title`]) so that `lookup` can find the post again by title.
//! * The cookie is a [`Secret`]: it is sent as a sensitive header and never
//!   appears in `Debug`, logs or errors.
//!
//! How a publish answer maps to an [`Outcome`]:
//!
//! | answer | outcome |
//! |---|---|
//! | `code` 0 with `data.pgc_id` | `Published` (notes: dropped images, shortened title) |
//! | 401, 403, redirect to `/auth/page/login`, "未登录"-like message | `LoginExpired` |
//! | 429, 503 (Retry-After in seconds or HTTP date, default 60 s, max 1 h) | `RetryLater` |
//! | connection refused / DNS / TLS (nothing sent), 408 | `RetryLater` |
//! | 404, 405, 410, other redirects (the endpoint is wrong, not the post) | `RetryLater` (1 h) |
//! | other 5xx, timeout or reset after sending, unreadable or non-JSON answer | `Unknown` |
//! | non-zero `code` ("频繁"/"稍后"-like messages: `RetryLater`) | `Rejected { code, message }` |
//! | other 4xx | `Rejected { code: None, … }` |
//!
//! Image uploads are retried once after a short wait; when that fails too, a
//! throttled or unreachable platform gives the post back (`RetryLater`),
//! anything else drops just that image with a note.

use super::html::{escape_attr, escape_text, find_img_tags, strip_unsafe_image_carriers};
use super::text::{self, normalise_space, short, snippet};
use super::{
    AccountInfo, Image, ImageSource, Outcome, Post, PublishError, Publisher, Remote,
    transport_reason,
};
use crate::secret::Secret;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

mod config;
pub mod mock;
pub use config::ToutiaoConfig;
use reqwest::header::{COOKIE, HeaderMap, HeaderValue, LOCATION, REFERER, RETRY_AFTER, USER_AGENT};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The platform's title limits, in characters.
pub const TITLE_MIN_CHARS: usize = 2;
pub const TITLE_MAX_CHARS: usize = 30;

/// Sent when the configured client has no User-Agent of its own; the back
/// office rejects requests without one.
const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (compatible; autosync/0.1; +toutiao publisher)";
/// Retry-After when the platform throttles without saying for how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Ceiling for a Retry-After, so a bogus header cannot park an account for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// An image upload is retried once in place only if the wait is this short;
/// longer waits are handed back to the pipeline as `RetryLater`.
const MAX_INLINE_UPLOAD_WAIT: Duration = Duration::from_secs(5);
/// `lookup` pages through at most this many list pages of `LIST_PAGE_SIZE`.
const LOOKUP_MAX_PAGES: u32 = 5;
const LIST_PAGE_SIZE: u32 = 20;
/// Where the platform sends a browser whose login expired.
const LOGIN_PATH: &str = "/auth/page/login";

const MEDIA_INFO_PATH: &str = "/mp/agw/media/get_media_info";
const UPLOAD_PATH: &str = "/mp/agw/article_material/photo/upload_picture/?type=json";
const PUBLISH_PATH: &str = "/mp/agw/article/publish?source=mp&type=article";
const LIST_PATH: &str = "/mp/agw/article/list/";

/// One 头条号 account.
pub struct Toutiao {
    base_url: Url,
    cookie: HeaderValue,
    csrf: HeaderValue,
    account_name: String,
    http: reqwest::Client,
    images: Arc<dyn ImageSource>,
}

impl fmt::Debug for Toutiao {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cookie and the CSRF token are credentials: never printed.
        f.debug_struct("Toutiao")
            .field("base_url", &self.base_url.as_str())
            .field("account_name", &self.account_name)
            .field("cookie", &"***")
            .finish_non_exhaustive()
    }
}

impl Toutiao {
    /// A client for the account logged in with `cookie` (the browser's cookie
    /// string, which must hold `sessionid` and `csrftoken`).
    ///
    /// `http` is used as is: its timeout bounds every call (a publish that
    /// times out is reported as [`Outcome::Unknown`]).
    pub fn new(
        base_url: Url,
        cookie: Secret,
        account_name: String,
        http: reqwest::Client,
        images: Arc<dyn ImageSource>,
    ) -> Result<Self, PublishError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host_str().is_none() {
            return Err(PublishError::Transport(format!(
                "toutiao base_url {base_url} for account {account_name:?} is not an http(s) URL"
            )));
        }
        let csrf = cookie_value(cookie.expose(), "csrftoken")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                PublishError::LoginExpired(format!(
                    "the cookie for toutiao account {account_name:?} has no csrftoken; \
                     log in again and copy the whole cookie string"
                ))
            })?;
        let bad_header = || {
            PublishError::LoginExpired(format!(
                "the cookie for toutiao account {account_name:?} holds characters that cannot be \
                 sent in a header (line breaks?); copy it again"
            ))
        };
        let mut cookie_header =
            HeaderValue::from_str(cookie.expose().trim()).map_err(|_| bad_header())?;
        cookie_header.set_sensitive(true);
        let mut csrf_header = HeaderValue::from_str(csrf).map_err(|_| bad_header())?;
        csrf_header.set_sensitive(true);
        Ok(Toutiao {
            base_url,
            cookie: cookie_header,
            csrf: csrf_header,
            account_name,
            http,
            images,
        })
    }

    fn endpoint(&self, path_and_query: &str) -> Url {
        // The paths are constants, so joining cannot fail on a valid base.
        self.base_url
            .join(path_and_query)
            .unwrap_or_else(|_| self.base_url.clone())
    }

    fn headers(&self, post: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, self.cookie.clone());
        h.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        // The back office checks that calls come from its own pages.
        if let Ok(referer) =
            HeaderValue::from_str(self.endpoint("/profile_v4/graphic/publish").as_str())
        {
            h.insert(REFERER, referer);
        }
        if post {
            h.insert("X-CSRFToken", self.csrf.clone());
        }
        h
    }

    /// GET a JSON API; every failure becomes a [`PublishError`] naming the URL.
    async fn get_json(&self, url: &Url) -> Result<Value, PublishError> {
        let resp = self
            .http
            .get(url.clone())
            .headers(self.headers(false))
            .send()
            .await
            .map_err(|e| PublishError::Transport(format!("GET {url}: {}", transport_reason(&e))))?;
        if let Some(reason) = login_expired(&resp) {
            return Err(PublishError::LoginExpired(format!("GET {url}: {reason}")));
        }
        let status = resp.status();
        if !status.is_success() {
            let after = retry_after(resp.headers(), Utc::now());
            let hint = if status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE
            {
                format!(" (retry after {}s)", after.as_secs())
            } else {
                String::new()
            };
            return Err(PublishError::Transport(format!(
                "GET {url}: HTTP {status}{hint}"
            )));
        }
        let body = resp.bytes().await.map_err(|e| {
            PublishError::Transport(format!(
                "GET {url}: reading the answer: {}",
                transport_reason(&e)
            ))
        })?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            PublishError::Transport(format!(
                "GET {url}: the answer is not JSON ({e}): {}",
                snippet(&body)
            ))
        })?;
        let code = v.get("code").and_then(Value::as_i64).unwrap_or(-1);
        if code != 0 {
            let message = message_of(&v);
            if is_login_message(&message) {
                return Err(PublishError::LoginExpired(format!("GET {url}: {message}")));
            }
            return Err(PublishError::Platform {
                code,
                message: format!("{message} (GET {url})"),
            });
        }
        Ok(v)
    }

    /// The images of `html`, fetched and uploaded; the body rewritten to
    /// reference only uploaded images, and the images the platform issued
    /// (`web_url` → `web_uri`). `Err` aborts the publish before anything was
    /// posted.
    async fn prepare_content(
        &self,
        post: &Post,
        notes: &mut Vec<String>,
    ) -> Result<(String, HashMap<String, String>), Outcome> {
        let html = strip_unsafe_image_carriers(&post.html);
        let tags = find_img_tags(&html);
        let mut uploaded: HashMap<String, Option<Uploaded>> = HashMap::new();
        let mut out = String::with_capacity(html.len());
        let mut last = 0;
        for tag in &tags {
            out.push_str(&html[last..tag.start]);
            last = tag.end;
            let Some(src) = tag.source() else {
                notes.push("已删去一张图片：没有可用的图片地址（src）".to_string());
                continue;
            };
            let abs = match post.source_url.join(&src) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => u,
                _ => {
                    notes.push(format!("已删去图片 {}：不是 http(s) 地址", short(&src)));
                    continue;
                }
            };
            let key = abs.to_string();
            if !uploaded.contains_key(&key) {
                let got = self.fetch_and_upload(&abs, &post.source_url).await;
                let entry = match got {
                    Ok(u) => Some(u),
                    Err(UploadFailure::Drop(reason)) => {
                        notes.push(format!("已删去图片 {abs}：{reason}"));
                        None
                    }
                    Err(UploadFailure::Abort(outcome)) => return Err(outcome),
                    Err(UploadFailure::Transient { reason, .. }) => {
                        notes.push(format!("已删去图片 {abs}：{reason}"));
                        None
                    }
                };
                uploaded.insert(key.clone(), entry);
            }
            if let Some(Some(u)) = uploaded.get(&key) {
                out.push_str(&format!(
                    "<img src=\"{}\" web_uri=\"{}\"",
                    escape_attr(&u.web_url),
                    escape_attr(&u.web_uri)
                ));
                if let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty()) {
                    out.push_str(&format!(" alt=\"{}\"", escape_attr(alt)));
                }
                out.push('>');
            }
        }
        out.push_str(&html[last..]);
        let issued = uploaded
            .into_values()
            .flatten()
            .map(|u| (u.web_url, u.web_uri))
            .collect();
        Ok((out, issued))
    }

    async fn fetch_and_upload(&self, url: &Url, referer: &Url) -> Result<Uploaded, UploadFailure> {
        let image = self
            .images
            .fetch_image(url, referer)
            .await
            .map_err(|e| UploadFailure::Drop(format!("could not be fetched: {e}")))?;
        let Some(mime) = image_mime(&image) else {
            return Err(UploadFailure::Drop(format!(
                "not an image ({} bytes, content type {})",
                image.bytes.len(),
                image.content_type.as_deref().unwrap_or("none")
            )));
        };
        let give_up = |after: Duration, reason: String, postpone: bool| {
            if postpone {
                // The platform is throttling or unreachable: the publish
                // would fail too, so hand the whole post back.
                UploadFailure::Abort(Outcome::RetryLater { after, reason })
            } else {
                UploadFailure::Drop(format!("upload kept failing: {reason}"))
            }
        };
        match self.upload(url, &image, mime).await {
            Err(UploadFailure::Transient {
                after,
                reason,
                postpone,
            }) => {
                if after > MAX_INLINE_UPLOAD_WAIT {
                    return Err(give_up(after, reason, postpone));
                }
                tracing::info!(image = %url, %reason, "image upload failed transiently; retrying once");
                tokio::time::sleep(after).await;
                match self.upload(url, &image, mime).await {
                    Err(UploadFailure::Transient {
                        after,
                        reason,
                        postpone,
                    }) => Err(give_up(after, reason, postpone)),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// One upload attempt. Transient failures come back as `Abort(RetryLater)`
    /// so the caller can decide between one retry and giving the post back.
    async fn upload(
        &self,
        image_url: &Url,
        image: &Image,
        mime: &'static str,
    ) -> Result<Uploaded, UploadFailure> {
        let url = self.endpoint(UPLOAD_PATH);
        let part = reqwest::multipart::Part::bytes(image.bytes.to_vec())
            .file_name(upload_file_name(image_url, mime))
            .mime_str(mime)
            .map_err(|e| UploadFailure::Drop(format!("bad content type {mime}: {e}")))?;
        let form = reqwest::multipart::Form::new().part("upfile", part);
        let transient =
            |reason: String, after: Duration, postpone: bool| UploadFailure::Transient {
                after,
                reason: format!("uploading image {image_url}: {reason}"),
                postpone,
            };
        let resp = match self
            .http
            .post(url.clone())
            .headers(self.headers(true))
            .multipart(form)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // Unreachable platform: postpone the post. A timeout or a
                // reset is more likely this upload's own trouble.
                return Err(transient(
                    format!("POST {url}: {}", transport_reason(&e)),
                    Duration::from_secs(1),
                    e.is_connect(),
                ));
            }
        };
        if let Some(reason) = login_expired(&resp) {
            return Err(UploadFailure::Abort(Outcome::LoginExpired {
                reason: format!("POST {url}: {reason}"),
            }));
        }
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let after = if resp.headers().contains_key(RETRY_AFTER) {
                retry_after(resp.headers(), Utc::now())
            } else {
                Duration::from_secs(1)
            };
            let throttled = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            return Err(transient(
                format!("POST {url}: HTTP {status}"),
                after,
                throttled,
            ));
        }
        if !status.is_success() {
            return Err(UploadFailure::Drop(format!(
                "upload refused: POST {url}: HTTP {status}"
            )));
        }
        let body = resp.bytes().await.map_err(|e| {
            transient(
                format!("POST {url}: reading the answer: {}", transport_reason(&e)),
                Duration::from_secs(1),
                false,
            )
        })?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            transient(
                format!(
                    "POST {url}: the answer is not JSON ({e}): {}",
                    snippet(&body)
                ),
                Duration::from_secs(1),
                false,
            )
        })?;
        let code = v.get("code").and_then(Value::as_i64).unwrap_or(-1);
        if code != 0 {
            let message = message_of(&v);
            return Err(match classify_code(code, &message) {
                CodeClass::Login => UploadFailure::Abort(Outcome::LoginExpired {
                    reason: format!("POST {url}: {message}"),
                }),
                CodeClass::Transient => {
                    transient(format!("code {code}: {message}"), DEFAULT_RETRY_AFTER, true)
                }
                CodeClass::Permanent => {
                    UploadFailure::Drop(format!("upload refused with code {code}: {message}"))
                }
            });
        }
        let field = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        match (field("web_url"), field("web_uri")) {
            (Some(web_url), Some(web_uri)) => Ok(Uploaded { web_url, web_uri }),
            _ => Err(UploadFailure::Drop(format!(
                "upload answer from {url} lacks web_url/web_uri: {}",
                snippet(&body)
            ))),
        }
    }

    /// The URL of a just-published article, from the first list page; best
    /// effort (the publish answer carries only the id).
    async fn article_url(&self, pgc_id: &str) -> Option<String> {
        let url = self.list_url(0);
        let v = self.get_json(&url).await.ok()?;
        list_items(&v)
            .into_iter()
            .find(|item| item.pgc_id == pgc_id)
            .and_then(|item| item.article_url)
    }

    fn list_url(&self, page: u32) -> Url {
        let mut url = self.endpoint(LIST_PATH);
        url.query_pairs_mut()
            .append_pair("status", "all")
            .append_pair("page", &page.to_string())
            .append_pair("size", &LIST_PAGE_SIZE.to_string());
        url
    }
}

#[derive(Debug, Clone)]
struct Uploaded {
    web_url: String,
    web_uri: String,
}

enum UploadFailure {
    /// Leave this image out and say so.
    Drop(String),
    /// Stop the whole publish (nothing has been posted yet).
    Abort(Outcome),
    /// Worth one more try after `after`; if that fails too, `postpone`
    /// says whether to give the whole post back (throttled, unreachable)
    /// or to drop just this image.
    Transient {
        after: Duration,
        reason: String,
        postpone: bool,
    },
}

#[async_trait]
impl Publisher for Toutiao {
    fn kind(&self) -> &'static str {
        "toutiao"
    }

    async fn verify(&self) -> Result<AccountInfo, PublishError> {
        let url = self.endpoint(MEDIA_INFO_PATH);
        let v = self.get_json(&url).await?;
        let media = v.pointer("/data/media");
        let id = media.and_then(|m| m.get("id")).and_then(id_string);
        let display_name = media
            .and_then(|m| m.get("display_name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let (Some(id), Some(display_name)) = (id, display_name) else {
            return Err(PublishError::Transport(format!(
                "GET {url}: the answer lacks data.media.id/display_name"
            )));
        };
        if display_name != self.account_name {
            tracing::warn!(
                configured = %self.account_name,
                platform = %display_name,
                "the toutiao cookie belongs to a different account than configured"
            );
        }
        Ok(AccountInfo { id, display_name })
    }

    async fn publish(&self, post: &Post) -> Outcome {
        let (title, shortened) = platform_title(&post.title);
        if title.chars().count() < TITLE_MIN_CHARS {
            return Outcome::Rejected {
                code: None,
                message: format!(
                    "title {:?} is shorter than {TITLE_MIN_CHARS} characters",
                    post.title
                ),
            };
        }
        let mut notes = Vec::new();
        let (mut content, issued) = match self.prepare_content(post, &mut notes).await {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };
        if shortened {
            notes.push(format!("标题已缩短为“{title}”，完整标题放在正文第一行"));
            content = format!(
                "<p>{}</p>{content}",
                escape_text(normalise_space(&post.title).as_str())
            );
        }
        // Last line of defence: the platform refuses a body with any image it
        // did not issue (7115), so never send one.
        if let Some(bad) = foreign_image(&content, &issued) {
            return Outcome::Rejected {
                code: None,
                message: format!(
                    "the body of {} still holds a non-uploaded image ({bad}); not sent",
                    post.source_url
                ),
            };
        }
        let extra = serde_json::json!({
            "content_word_cnt": post.text.chars().filter(|c| !c.is_whitespace()).count(),
            "source_url": post.source_url.as_str(),
            "item_id": post.item_id,
        });
        let url = self.endpoint(PUBLISH_PATH);
        let form: Vec<(&str, String)> = vec![
            ("pgc_id", "0".to_string()),
            ("title", title.clone()),
            ("content", content),
            ("save", "1".to_string()),
            ("extra", extra.to_string()),
        ];
        // Sent exactly once: from here on a failure may mean "applied".
        let resp = match self
            .http
            .post(url.clone())
            .headers(self.headers(true))
            .form(&form)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Outcome::RetryLater {
                    after: DEFAULT_RETRY_AFTER,
                    reason: format!("POST {url}: could not connect: {}", transport_reason(&e)),
                };
            }
            Err(e) => {
                return Outcome::Unknown {
                    reason: format!(
                        "POST {url}: {} (the article may have been published)",
                        transport_reason(&e)
                    ),
                };
            }
        };
        if let Some(reason) = login_expired(&resp) {
            return Outcome::LoginExpired {
                reason: format!("POST {url}: {reason}"),
            };
        }
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            return Outcome::RetryLater {
                after: retry_after(resp.headers(), Utc::now()),
                reason: format!("POST {url}: HTTP {status}"),
            };
        }
        if status.is_server_error() {
            return Outcome::Unknown {
                reason: format!("POST {url}: HTTP {status} (the article may have been published)"),
            };
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            return Outcome::RetryLater {
                after: DEFAULT_RETRY_AFTER,
                reason: format!("POST {url}: HTTP {status}"),
            };
        }
        if status.is_redirection()
            || status == StatusCode::NOT_FOUND
            || status == StatusCode::METHOD_NOT_ALLOWED
            || status == StatusCode::GONE
        {
            // Not about this post: the endpoint moved or base_url is wrong.
            // Rejecting would throw every queued post away; wait for a fix.
            return Outcome::RetryLater {
                after: MAX_RETRY_AFTER,
                reason: format!(
                    "POST {url}: HTTP {status}: the publish endpoint is not there; check base_url"
                ),
            };
        }
        if !status.is_success() {
            return Outcome::Rejected {
                code: None,
                message: format!("POST {url}: HTTP {status}"),
            };
        }
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Unknown {
                    reason: format!(
                        "POST {url}: reading the answer: {} (the article may have been published)",
                        transport_reason(&e)
                    ),
                };
            }
        };
        let v: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return Outcome::Unknown {
                    reason: format!(
                        "POST {url}: the answer is not JSON ({e}): {}",
                        snippet(&body)
                    ),
                };
            }
        };
        let code = v.get("code").and_then(Value::as_i64);
        match code {
            Some(0) => {}
            Some(code) => {
                let message = message_of(&v);
                return match classify_code(code, &message) {
                    CodeClass::Login => Outcome::LoginExpired {
                        reason: format!("POST {url}: {message}"),
                    },
                    CodeClass::Transient => Outcome::RetryLater {
                        after: DEFAULT_RETRY_AFTER,
                        reason: format!("POST {url}: code {code}: {message}"),
                    },
                    CodeClass::Permanent => Outcome::Rejected {
                        code: Some(code),
                        message,
                    },
                };
            }
            None => {
                return Outcome::Unknown {
                    reason: format!("POST {url}: the answer has no code: {}", snippet(&body)),
                };
            }
        }
        let Some(pgc_id) = v.pointer("/data/pgc_id").and_then(id_string) else {
            return Outcome::Unknown {
                reason: format!(
                    "POST {url}: success without data.pgc_id: {}",
                    snippet(&body)
                ),
            };
        };
        let url = match v
            .pointer("/data/article_url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
        {
            Some(u) => Some(u.to_string()),
            None => self.article_url(&pgc_id).await,
        };
        Outcome::Published {
            remote: Remote { id: pgc_id, url },
            notes,
        }
    }

    async fn lookup(&self, post: &Post) -> Result<Option<Remote>, PublishError> {
        let (title, _) = platform_title(&post.title);
        let mut seen = 0u64;
        for page in 0..LOOKUP_MAX_PAGES {
            let url = self.list_url(page);
            let v = self.get_json(&url).await?;
            let items = list_items(&v);
            if let Some(hit) = items.iter().find(|i| normalise_space(&i.title) == title) {
                return Ok(Some(Remote {
                    id: hit.pgc_id.clone(),
                    url: hit.article_url.clone(),
                }));
            }
            seen += items.len() as u64;
            let total = v.pointer("/data/total").and_then(Value::as_u64);
            if items.len() < LIST_PAGE_SIZE as usize || total.is_some_and(|t| seen >= t) {
                break;
            }
        }
        Ok(None)
    }
}

struct ListItem {
    pgc_id: String,
    title: String,
    article_url: Option<String>,
}

fn list_items(v: &Value) -> Vec<ListItem> {
    let Some(items) = v.pointer("/data/content").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| {
            Some(ListItem {
                pgc_id: i.get("pgc_id").and_then(id_string)?,
                title: i.get("title").and_then(Value::as_str)?.to_string(),
                article_url: i
                    .get("article_url")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            })
        })
        .collect()
}

/// The title this client sends for `title`, and whether it had to be
/// shortened ([`text::shorten_title`] to [`TITLE_MAX_CHARS`]).
/// Deterministic: `lookup` relies on finding the same string.
pub fn platform_title(title: &str) -> (String, bool) {
    text::shorten_title(title, TITLE_MAX_CHARS)
}

/// The value of cookie `name` inside a `Cookie` header string.
pub(crate) fn cookie_value<'a>(cookie: &'a str, name: &str) -> Option<&'a str> {
    cookie.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// Why the answer means "log in again", if it does: 401/403, a redirect to
/// the login page (followed or not, depending on the client's policy).
fn login_expired(resp: &Response) -> Option<String> {
    let status = resp.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Some(format!(
            "HTTP {status}: the login expired or the cookie is invalid"
        ));
    }
    if resp.url().path().starts_with(LOGIN_PATH) {
        return Some("redirected to the login page: the login expired".to_string());
    }
    if status.is_redirection() {
        let to = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or("");
        if to.contains(LOGIN_PATH) || to.contains("/login") {
            return Some("redirected to the login page: the login expired".to_string());
        }
    }
    None
}

/// The wait a 429/503 asks for: `Retry-After` in seconds or as an HTTP date,
/// clamped to 1 s ..= 1 h; 60 s when absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Duration {
    let Some(value) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) else {
        return DEFAULT_RETRY_AFTER;
    };
    parse_retry_after(value, now).unwrap_or(DEFAULT_RETRY_AFTER)
}

fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let d = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(d.clamp(Duration::from_secs(1), MAX_RETRY_AFTER))
}

enum CodeClass {
    Login,
    Transient,
    Permanent,
}

/// Business codes are not documented; only messages that plainly say
/// "log in" or "too frequent / busy, try later" are treated specially, every
/// other code is a rejection of this post.
fn classify_code(_code: i64, message: &str) -> CodeClass {
    let m = message.to_lowercase();
    if is_login_message(&m) {
        CodeClass::Login
    } else if [
        "频繁",
        "稍后",
        "繁忙",
        "too frequent",
        "rate limit",
        "try again later",
        "busy",
    ]
    .iter()
    .any(|k| m.contains(k))
    {
        CodeClass::Transient
    } else {
        CodeClass::Permanent
    }
}

fn is_login_message(message: &str) -> bool {
    let m = message.to_lowercase();
    [
        "未登录",
        "请登录",
        "登录过期",
        "登录已过期",
        "重新登录",
        "not logged in",
        "login expired",
    ]
    .iter()
    .any(|k| m.contains(k))
}

fn message_of(v: &Value) -> String {
    v.get("message")
        .or_else(|| v.get("msg"))
        .and_then(Value::as_str)
        .unwrap_or("(no message)")
        .to_string()
}

/// Ids come as numbers or strings depending on the endpoint.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The MIME type to upload `image` as, from its magic bytes (sites often
/// send `application/octet-stream`, and a hot-link "denied" page comes back
/// as HTML with 200).
fn image_mime(image: &Image) -> Option<&'static str> {
    let b = &image.bytes[..];
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else if b.starts_with(b"BM") && b.len() > 26 {
        Some("image/bmp")
    } else {
        None
    }
}

fn upload_file_name(url: &Url, mime: &str) -> String {
    let ext = mime.rsplit('/').next().unwrap_or("jpg");
    let stem: String = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("")
        .rsplit_once('.')
        .map(|(stem, _)| stem)
        .unwrap_or("image")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(60)
        .collect();
    let stem = if stem.is_empty() {
        "image".to_string()
    } else {
        stem
    };
    format!("{stem}.{ext}")
}

/// The image in `content` that the platform did not issue (`issued`:
/// `web_url` → `web_uri`), if any, parsed the way a browser would: an
/// independent check of the regex-based rewrite.
fn foreign_image(content: &str, issued: &HashMap<String, String>) -> Option<String> {
    let doc = scraper::Html::parse_fragment(content);
    let sel = scraper::Selector::parse("img").expect("static selector");
    doc.select(&sel).find_map(|img| {
        let src = img.value().attr("src").unwrap_or("");
        let uri = img.value().attr("web_uri");
        (issued.get(src).map(String::as_str) != uri || uri.is_none()).then(|| short(src))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_titles_are_kept_whitespace_normalised() {
        assert_eq!(
            platform_title("  科普  大篷车进校园 "),
            ("科普 大篷车进校园".to_string(), false)
        );
        let thirty: String = "字".repeat(30);
        assert_eq!(platform_title(&thirty), (thirty.clone(), false));
    }

    #[test]
    fn long_titles_are_cut_at_a_natural_break_with_ellipsis() {
        let t = "关于举办2026年全省青少年科普讲解大赛的通知——决赛名单公示及后续安排说明";
        let (s, cut) = platform_title(t);
        assert!(cut);
        assert_eq!(s, "关于举办2026年全省青少年科普讲解大赛的通知…");
        assert!(s.chars().count() <= TITLE_MAX_CHARS);

        let t = "省科协召开2026年度工作会议：部署科技工作者服务与全民科学素质提升重点任务";
        let (s, _) = platform_title(t);
        assert_eq!(s, "省科协召开2026年度工作会议…");
    }

    #[test]
    fn long_titles_without_breaks_are_cut_hard_at_29_plus_ellipsis() {
        let t: String = "科".repeat(45);
        let (s, cut) = platform_title(&t);
        assert!(cut);
        assert_eq!(s.chars().count(), 30);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn english_titles_break_at_spaces() {
        let t = "Provincial association holds the annual science popularisation week opening";
        let (s, _) = platform_title(t);
        assert!(s.chars().count() <= 30, "{s}");
        assert_eq!(s, "Provincial association holds…");
    }

    #[test]
    fn platform_title_is_deterministic_and_idempotent_on_its_output() {
        let t = "一二三四五六七八九十，一二三四五六七八九十，一二三四五六七八九十";
        let (a, _) = platform_title(t);
        assert_eq!(platform_title(t).0, a);
        assert_eq!(platform_title(&a), (a.clone(), false));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates_and_clamps() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 04:02:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("0", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn cookie_value_finds_csrftoken_among_pairs() {
        let c = "sessionid=abc; csrftoken=tok123; other=1";
        assert_eq!(cookie_value(c, "csrftoken"), Some("tok123"));
        assert_eq!(cookie_value(c, "sessionid"), Some("abc"));
        assert_eq!(cookie_value("xcsrftoken=1", "csrftoken"), None);
    }

    #[test]
    fn foreign_image_check_catches_unrewritten_imgs() {
        let issued = HashMap::from([("http://p/a".to_string(), "u/a".to_string())]);
        assert!(foreign_image(r#"<p><img src="http://x/a.jpg"></p>"#, &issued).is_some());
        assert!(foreign_image(r#"<p><img src="http://p/a" web_uri="u/b"></p>"#, &issued).is_some());
        assert!(foreign_image(r#"<p><img src="http://p/a"></p>"#, &issued).is_some());
        assert!(foreign_image(r#"<p><img src="http://p/a" web_uri="u/a"></p>"#, &issued).is_none());
        assert!(foreign_image(r#"<p>text only</p>"#, &issued).is_none());
    }

    #[test]
    fn image_mime_sniffs_magic_not_headers() {
        let img = |b: &'static [u8], ct: &str| Image {
            bytes: bytes::Bytes::from_static(b),
            content_type: Some(ct.into()),
        };
        assert_eq!(
            image_mime(&img(b"\x89PNG\r\n\x1a\nrest", "application/octet-stream")),
            Some("image/png")
        );
        assert_eq!(image_mime(&img(b"<html>denied</html>", "image/jpeg")), None);
    }

    #[test]
    fn debug_never_shows_the_cookie() {
        struct NoImages;
        #[async_trait]
        impl ImageSource for NoImages {
            async fn fetch_image(&self, _: &Url, _: &Url) -> Result<Image, String> {
                Err("none".into())
            }
        }
        let t = Toutiao::new(
            Url::parse("http://127.0.0.1:1/").unwrap(),
            Secret::new("sessionid=SESSIONVALUE; csrftoken=CSRFVALUE"),
            "x".into(),
            reqwest::Client::new(),
            Arc::new(NoImages),
        )
        .unwrap();
        let d = format!("{t:?}");
        assert!(
            !d.contains("SESSIONVALUE") && !d.contains("CSRFVALUE"),
            "{d}"
        );
    }

    #[test]
    fn constructor_refuses_a_cookie_without_csrftoken_without_echoing_it() {
        struct NoImages;
        #[async_trait]
        impl ImageSource for NoImages {
            async fn fetch_image(&self, _: &Url, _: &Url) -> Result<Image, String> {
                Err("none".into())
            }
        }
        let e = Toutiao::new(
            Url::parse("http://127.0.0.1:1/").unwrap(),
            Secret::new("sessionid=SESSIONVALUE"),
            "x".into(),
            reqwest::Client::new(),
            Arc::new(NoImages),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("csrftoken") && !s.contains("SESSIONVALUE"),
            "{s}"
        );
    }
}
