//! WeChat official accounts (微信公众号, `kind = "wechat"`), through the
//! official API (`api.weixin.qq.com`) with the account's AppID and
//! AppSecret.
//!
//! Why it is built this way:
//!
//! * **Publishing is three steps and acceptance is not success.** An article
//!   becomes a draft (`draft/add`), the draft is submitted
//!   (`freepublish/submit`), and the platform publishes it *later*, after
//!   its own checks: the client asks (`freepublish/get`) a few times within
//!   a few seconds and, if the platform has not decided yet, reports
//!   [`Outcome::Unknown`](super::Outcome::Unknown) so reconciliation looks it
//!   up later instead of sending it again.
//! * **Never post blind twice.** Once `draft/add` or `freepublish/submit` may
//!   have reached the platform, a timeout or a lost answer is `Unknown`;
//!   `lookup` finds a published article by its `content_source_url` (the
//!   article's address on the unit's site, set on every draft), which is
//!   exact where titles are not.
//! * **Only the platform's images.** The body may reference only images
//!   uploaded through `media/uploadimg` (JPEG/PNG under 1 MB): every image is
//!   fetched from the unit's site, converted or shrunk ([`images`]),
//!   uploaded and rewritten, or dropped with a note. The cover must be a
//!   permanent image material: the article's first image, else the
//!   configured default cover.
//! * **Account-level refusals pause the account, not the article:** a
//!   caller IP missing from the whitelist (40164/61004), no publishing
//!   permission (48001: since July 2025 only verified accounts may publish
//!   through the API), a wrong AppID/AppSecret. The daily quota (45009)
//!   waits until midnight China time.
//! * **Secrets:** the AppSecret and access tokens are [`Secret`]s; tokens
//!   travel in the query string, so no URL is ever printed with its query.
//!
//! Files: [`config`] (the `[unit.publisher]` table), [`rules`] (title,
//! author, digest and body rules), [`images`] (conversion), [`client`]
//! ([`Wechat`], the [`Publisher`](super::Publisher)), [`mock`] (the strict
//! local double behind `autosync mock-wechat`).
//!
//! [`Secret`]: crate::secret::Secret

pub mod images;
pub mod rules;

/// Articles a WeChat account may submit through the API per day
/// (`freepublish/submit`); the default daily cap of `kind = "wechat"`
/// accounts.
pub const DEFAULT_DAILY_CAP: u32 = 100;
