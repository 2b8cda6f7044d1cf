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
pub mod source_line;
pub mod text;
pub mod toutiao;
/// The toutiao double (`autosync mock-account`), also under its old name.
pub use toutiao::mock as toutiao_mock;
pub mod webhook;
pub mod wechat;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset};
use std::time::Duration;
use url::Url;

/// The platforms an account can live on: the closed registry. A platform is
/// a folder (or file) under `src/publish/` holding its config (options,
/// validation, build), its title and body rules, its client and its
/// double; adding one is that folder and a variant here — nothing else.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PublisherConfig {
    /// 头条号 through its web API.
    Toutiao(toutiao::ToutiaoConfig),
    /// 微信公众号 through the official API (drafts, then free publishing).
    Wechat(wechat::WechatConfig),
    /// A province's own platform, or any system: signed JSON POSTs.
    Webhook(webhook::WebhookConfig),
    /// One JSON file per published item, for dry runs.
    File(file::FileConfig),
}

impl PublisherConfig {
    /// The `kind` in the config, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PublisherConfig::Toutiao(_) => "toutiao",
            PublisherConfig::Wechat(_) => "wechat",
            PublisherConfig::Webhook(_) => "webhook",
            PublisherConfig::File(_) => "file",
        }
    }

    /// Relative paths are relative to the config file's directory.
    pub fn resolve_paths(&mut self, base_dir: &std::path::Path) {
        match self {
            PublisherConfig::Toutiao(c) => c.resolve_paths(base_dir),
            PublisherConfig::Wechat(c) => c.resolve_paths(base_dir),
            PublisherConfig::Webhook(c) => c.resolve_paths(base_dir),
            PublisherConfig::File(c) => c.resolve_paths(base_dir),
        }
    }

    /// What is wrong with the options, as sentences naming them.
    pub fn validate(&self) -> Vec<String> {
        match self {
            PublisherConfig::Toutiao(c) => c.validate(),
            PublisherConfig::Wechat(c) => c.validate(),
            PublisherConfig::Webhook(c) => c.validate(),
            PublisherConfig::File(c) => c.validate(),
        }
    }

    /// Where the account's credential comes from (none for `file`): the
    /// outbox builds the publisher again when that file changes, and
    /// `check` and `account set-cookie` find it there.
    pub fn secret(&self) -> Option<crate::credential::SecretRef> {
        match self {
            PublisherConfig::Toutiao(c) => c.secret(),
            PublisherConfig::Wechat(c) => c.secret(),
            PublisherConfig::Webhook(c) => c.secret(),
            PublisherConfig::File(_) => None,
        }
    }

    /// The account's publisher (credentials read now).
    pub fn build(&self, ctx: &BuildCtx) -> Result<std::sync::Arc<dyn Publisher>, String> {
        match self {
            PublisherConfig::Toutiao(c) => c.build(ctx),
            PublisherConfig::Wechat(c) => c.build(ctx),
            PublisherConfig::Webhook(c) => c.build(ctx),
            PublisherConfig::File(c) => c.build(ctx),
        }
    }

    /// The title as the platform will show it, and whether it had to be
    /// shortened (the review holds what an editor should see first).
    pub fn title(&self, title: &str) -> (String, bool) {
        match self {
            PublisherConfig::Toutiao(_) => toutiao::platform_title(title),
            PublisherConfig::Wechat(_) => wechat::rules::title(title),
            PublisherConfig::Webhook(_) | PublisherConfig::File(_) => (title.to_string(), false),
        }
    }

    /// The account's own name where the platform's config gives one (else
    /// the unit's `account_name` is the account's).
    pub fn account_name(&self) -> Option<&str> {
        match self {
            PublisherConfig::Wechat(c) => c.account_name.as_deref(),
            PublisherConfig::Webhook(c) => c.account_name.as_deref(),
            PublisherConfig::Toutiao(_) | PublisherConfig::File(_) => None,
        }
    }

    /// The platform's own daily quota, the daily cap when the config sets
    /// none.
    pub fn default_daily_cap(&self) -> Option<u32> {
        match self {
            PublisherConfig::Wechat(_) => Some(wechat::DEFAULT_DAILY_CAP),
            _ => None,
        }
    }
}

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

    /// How long after a request the platform may still be deciding a post
    /// it accepted, without `lookup` being able to see it (WeChat's checks
    /// take minutes, and its list shows only finished articles). An item
    /// left under way is sent again only after the longer of this and
    /// `[daemon] publish_grace_secs` — never while the first may still
    /// appear.
    fn listing_delay(&self) -> Duration {
        Duration::ZERO
    }

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
