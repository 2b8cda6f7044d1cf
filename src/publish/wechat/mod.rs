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

pub mod client;
pub mod config;
pub mod images;
pub mod mock;
pub mod rules;

pub use client::Wechat;
pub use config::WechatConfig;

/// Articles a WeChat account may submit through the API per day
/// (`freepublish/submit`); the default daily cap of `kind = "wechat"`
/// accounts.
pub const DEFAULT_DAILY_CAP: u32 = 100;

/// The API's error codes (`{"errcode":N,"errmsg":"…"}`) this module acts
/// on, by name; the client and the double share them.
pub mod codes {
    /// The platform is busy: try again shortly.
    pub const SYSTEM_BUSY: i64 = -1;
    /// Invalid AppSecret on the token call; invalid (or no longer latest)
    /// access token elsewhere.
    pub const INVALID_CREDENTIAL: i64 = 40001;
    pub const INVALID_GRANT_TYPE: i64 = 40002;
    pub const INVALID_FILE_TYPE: i64 = 40005;
    pub const INVALID_MEDIA_ID: i64 = 40007;
    pub const INVALID_IMAGE_SIZE: i64 = 40009;
    pub const INVALID_APPID: i64 = 40013;
    pub const INVALID_ACCESS_TOKEN: i64 = 40014;
    pub const INVALID_PARAMETER: i64 = 40035;
    pub const INVALID_APPSECRET: i64 = 40125;
    /// The caller's IP is not in the account's whitelist.
    pub const INVALID_IP: i64 = 40164;
    pub const ACCESS_TOKEN_MISSING: i64 = 41001;
    pub const APPID_MISSING: i64 = 41002;
    pub const APPSECRET_MISSING: i64 = 41004;
    pub const MEDIA_DATA_MISSING: i64 = 41005;
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    pub const REQUIRE_POST: i64 = 43002;
    pub const EMPTY_POST_DATA: i64 = 44002;
    pub const EMPTY_NEWS: i64 = 44003;
    pub const CONTENT_TOO_LONG: i64 = 45002;
    pub const TITLE_TOO_LONG: i64 = 45003;
    pub const DIGEST_TOO_LONG: i64 = 45004;
    /// The call's daily quota is used up (until midnight, China time).
    pub const DAILY_QUOTA: i64 = 45009;
    /// Too many calls a minute.
    pub const MINUTE_QUOTA: i64 = 45011;
    pub const AUTHOR_TOO_LONG: i64 = 45110;
    pub const INVALID_CONTENT: i64 = 45166;
    pub const DATA_FORMAT: i64 = 47001;
    /// The account has no permission for this API (unverified account).
    pub const API_UNAUTHORIZED: i64 = 48001;
    /// The API is forbidden to this account (the platform limited it).
    pub const USER_LIMITED: i64 = 50002;
    /// The caller's IP is not registered (whitelist, older form).
    pub const CLIENT_IP_NOT_REGISTERED: i64 = 61004;
}

/// The API calls this module makes (and the double answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `cgi-bin/stable_token`: an access token for the AppID and AppSecret.
    Token,
    /// `cgi-bin/media/uploadimg`: an image for the body.
    UploadImg,
    /// `cgi-bin/material/add_material?type=image`: the cover.
    AddMaterial,
    /// `cgi-bin/draft/add`.
    DraftAdd,
    /// `cgi-bin/freepublish/submit`.
    Submit,
    /// `cgi-bin/freepublish/get`: how a submission went.
    Get,
    /// `cgi-bin/freepublish/batchget`: the published articles, newest first.
    BatchGet,
}

impl Call {
    pub const ALL: [Call; 7] = [
        Call::Token,
        Call::UploadImg,
        Call::AddMaterial,
        Call::DraftAdd,
        Call::Submit,
        Call::Get,
        Call::BatchGet,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Call::Token => "/cgi-bin/stable_token",
            Call::UploadImg => "/cgi-bin/media/uploadimg",
            Call::AddMaterial => "/cgi-bin/material/add_material",
            Call::DraftAdd => "/cgi-bin/draft/add",
            Call::Submit => "/cgi-bin/freepublish/submit",
            Call::Get => "/cgi-bin/freepublish/get",
            Call::BatchGet => "/cgi-bin/freepublish/batchget",
        }
    }

    /// Short name, for fault lines (`submit lose`) and the double's call log.
    pub fn name(self) -> &'static str {
        match self {
            Call::Token => "token",
            Call::UploadImg => "uploadimg",
            Call::AddMaterial => "add_material",
            Call::DraftAdd => "draft",
            Call::Submit => "submit",
            Call::Get => "get",
            Call::BatchGet => "batchget",
        }
    }

    /// Whether a lost answer may mean the post went (further) out: after
    /// `draft/add` or `freepublish/submit`, nothing is sent blind again.
    pub fn writes_post(self) -> bool {
        matches!(self, Call::DraftAdd | Call::Submit)
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path())
    }
}

impl std::str::FromStr for Call {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Call::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Call::ALL.iter().map(|c| c.name()).collect();
                format!("unknown call {s:?}: expected one of {}", names.join(", "))
            })
    }
}
