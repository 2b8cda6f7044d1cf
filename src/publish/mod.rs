//! Publishing: the [`Publisher`] trait and one file per platform.
//!
//! The trait's answer is an [`Outcome`] rather than a `Result` because the
//! caller must treat each failure differently: retry later, pause the account,
//! give up, or — when the request may have gone through — look the post up
//! before anything is sent again. **Never post blind twice.**

pub mod build;
pub(crate) mod double;
pub mod file;
pub(crate) mod html;
pub mod text;
pub mod toutiao;
pub mod toutiao_mock;
pub mod wechat;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use std::time::Duration;
use url::Url;

/// What is sent to an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Stable item id from the store; publishers may use it for idempotency.
    pub item_id: String,
    pub title: String,
    /// Sanitised body HTML with absolute links and images.
    pub html: String,
    pub text: String,
    /// The article on the unit's site; the Referer for its images.
    pub source_url: Url,
    pub images: Vec<Url>,
    pub published_at: Option<DateTime<FixedOffset>>,
    pub author: Option<String>,
    pub source: Option<String>,
}

/// A post as it exists on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub id: String,
    pub url: Option<String>,
}

/// The account's identity, from the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub id: String,
    pub display_name: String,
}

/// What happened to one publish attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It is on the account. `notes` lists what was degraded (images dropped,
    /// title shortened) for the editors.
    Published { remote: Remote, notes: Vec<String> },
    /// Try again after `after` (429/503, a passing network error before the
    /// request was sent).
    RetryLater { after: Duration, reason: String },
    /// The account's login expired: pause the account, keep items queued.
    LoginExpired { reason: String },
    /// Nothing can be published to this account until ops act (no
    /// permission, an IP whitelist): pause it, keep items queued. Nothing
    /// was published.
    Paused { reason: crate::model::PauseReason },
    /// The platform refused this post for good.
    Rejected { code: Option<i64>, message: String },
    /// Not sent: the post breaks a rule of the platform that an editor can
    /// fix (a body too long): the item is held for an editor.
    Hold { reason: String },
    /// The request may or may not have been applied (timeout after sending):
    /// look the post up before any retry.
    Unknown { reason: String },
}

/// Errors of calls that are not a publish (binding check, lookup).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("login expired: {0}")]
    LoginExpired(String),
    /// The account cannot publish until ops act (see [`Outcome::Paused`]).
    #[error("{0}")]
    Paused(crate::model::PauseReason),
    #[error("platform error {code}: {message}")]
    Platform { code: i64, message: String },
    #[error("{0}")]
    Transport(String),
    /// The platform has not decided yet (a submission still being
    /// processed): neither found nor certainly absent, so reconciliation
    /// asks again later and sends nothing meanwhile.
    #[error("{0}")]
    Undecided(String),
    #[error("{0}")]
    Io(String),
}

/// One account on one platform.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Short platform name for logs and metrics (`toutiao`, `file`).
    fn kind(&self) -> &'static str;

    /// Check the binding (credentials valid, which account it is).
    async fn verify(&self) -> Result<AccountInfo, PublishError>;

    /// Publish one post.
    async fn publish(&self, post: &Post) -> Outcome;

    /// Find a post already on the account (after an [`Outcome::Unknown`] or a
    /// crash mid-publish). `Ok(None)` means it is certainly not there.
    async fn lookup(&self, post: &Post) -> Result<Option<Remote>, PublishError>;
}

/// What a platform's config needs to build its publisher: the account it
/// publishes as, and the process's shared clients.
pub struct BuildCtx<'a> {
    pub unit: &'a str,
    /// The account's name on the platform (what its binding check expects).
    pub account_name: &'a str,
    /// For the platform's API (hosts the operator configured; not subject
    /// to the site-scope checks of the fetcher).
    pub api: reqwest::Client,
    /// Images of the unit's articles, through the fetcher.
    pub images: std::sync::Arc<dyn ImageSource>,
}

/// Bytes of one image, fetched from the unit's site.
#[derive(Debug, Clone)]
pub struct Image {
    pub bytes: bytes::Bytes,
    pub content_type: Option<String>,
}

/// Where publishers get images from (the fetcher, in production), so that
/// politeness and size caps apply to them too.
#[async_trait]
pub trait ImageSource: Send + Sync {
    async fn fetch_image(&self, url: &Url, referer: &Url) -> Result<Image, String>;
}

/// reqwest's message with its source chain; never includes headers, but
/// does include the request's URL: a client whose URLs carry a secret (an
/// access token in the query) passes `e.without_url()`.
pub(crate) fn transport_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "broken answer"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}
