//! The model: an article of a unit ([`Item`]), where it is in its life
//! ([`State`]), and which moves between states are legal ([`StateName::can_become`]).
//!
//! Why a module of its own: the store enforces the state machine (every
//! change is one check-and-set, see `Store::transition`), the ingest and the
//! outbox propose changes, the desk shows them; all of them speak of the same
//! few types, and none of them should have to import the database to do so.
//!
//! The legal moves, one table ([`TRANSITIONS`]); a change that keeps the
//! state (a title edit, a note) is a move from a state to itself:
//!
//! | from | to |
//! |---|---|
//! | seen | queued (an editor pushes an old article) |
//! | queued | queued, publishing, held, rejected |
//! | publishing | publishing (another account), published, queued, failed, held |
//! | published | published (notes, retention) |
//! | failed | failed, queued, publishing, held, rejected |
//! | held | held, queued, rejected |
//! | rejected | rejected (retention), held (an editor undoes the reject) |
//!
//! **Published is final** and a reject nearly so: nothing leads out of
//! published, so a published article is never sent again; a rejected one
//! can only go back to held (an editor's undo, for `[daemon]
//! undo_reject_days`), never straight to the publish queue. The publish-side states (queued → publishing → published | failed)
//! are those of one delivery; when a unit publishes to several accounts they
//! become per (item, account), under the same table.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Where an item is in its life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum State {
    /// Known but never to be published: it was there before the unit was
    /// bound (the baseline of a first poll beyond `backfill`).
    Seen,
    /// Content ready, waiting for its turn to publish.
    Queued,
    /// A publish request is (or was, before a crash) under way. `title` is
    /// the title sent, for looking the post up on the account.
    Publishing { since: DateTime<Utc> },
    /// On the account.
    Published {
        remote_id: String,
        remote_url: Option<String>,
        at: DateTime<Utc>,
    },
    /// Something went wrong. With `next_retry`, it is tried again then; without,
    /// it waits for an editor or ops.
    Failed {
        stage: Stage,
        reason: String,
        attempts: u32,
        next_retry: Option<DateTime<Utc>>,
    },
    /// Waiting for an editor's decision.
    Held { reason: String },
    /// An editor decided it is not to be published.
    Rejected { reason: String },
}

impl State {
    /// The short name used in summaries, the CLI and metrics.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The state without its data.
    pub fn kind(&self) -> StateName {
        match self {
            State::Seen => StateName::Seen,
            State::Queued => StateName::Queued,
            State::Publishing { .. } => StateName::Publishing,
            State::Published { .. } => StateName::Published,
            State::Failed { .. } => StateName::Failed,
            State::Held { .. } => StateName::Held,
            State::Rejected { .. } => StateName::Rejected,
        }
    }
}

/// Every [`State::name`], in [`StateName::ALL`]'s order (derived, so the
/// two lists cannot drift).
pub const STATE_NAMES: [&str; 7] = {
    let mut out = [""; 7];
    let mut i = 0;
    while i < out.len() {
        out[i] = StateName::ALL[i].as_str();
        i += 1;
    }
    out
};

/// A state without its data: what the transition table and the store's
/// index speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateName {
    Seen,
    Queued,
    Publishing,
    Published,
    Failed,
    Held,
    Rejected,
}

/// The legal moves (see the module docs); anything not here is refused by
/// the store.
pub const TRANSITIONS: &[(StateName, &[StateName])] = {
    use StateName::*;
    &[
        (Seen, &[Queued]),
        (Queued, &[Queued, Publishing, Held, Rejected]),
        (Publishing, &[Publishing, Published, Queued, Failed, Held]),
        (Published, &[Published]),
        (Failed, &[Failed, Queued, Publishing, Held, Rejected]),
        (Held, &[Held, Queued, Rejected]),
        // An editor may undo a reject for a few days: back to held, where
        // it needs approving again (`desk::Desk::unreject`).
        (Rejected, &[Rejected, Held]),
    ]
};

impl StateName {
    pub const ALL: [StateName; 7] = [
        StateName::Seen,
        StateName::Queued,
        StateName::Publishing,
        StateName::Published,
        StateName::Failed,
        StateName::Held,
        StateName::Rejected,
    ];

    /// The short name used in the index, summaries, the CLI and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            StateName::Seen => "seen",
            StateName::Queued => "queued",
            StateName::Publishing => "publishing",
            StateName::Published => "published",
            StateName::Failed => "failed",
            StateName::Held => "held",
            StateName::Rejected => "rejected",
        }
    }

    /// What an editor reads.
    pub fn label_zh(self) -> &'static str {
        match self {
            StateName::Seen => "基线（不发布）",
            StateName::Queued => "待发布",
            StateName::Publishing => "发布中",
            StateName::Published => "已发布",
            StateName::Failed => "失败",
            StateName::Held => "待审核",
            StateName::Rejected => "已驳回",
        }
    }

    pub fn parse(s: &str) -> Option<StateName> {
        StateName::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// May an item in this state be moved to `to`? (The table, [`TRANSITIONS`].)
    pub fn can_become(self, to: StateName) -> bool {
        TRANSITIONS
            .iter()
            .find(|(from, _)| *from == self)
            .is_some_and(|(_, tos)| tos.contains(&to))
    }

    /// Final states: nothing leads out of them but edits that keep them —
    /// and, for a few days, an editor's undo of a reject (back to held,
    /// never towards publishing). Retention treats them as done.
    pub fn is_final(self) -> bool {
        matches!(self, StateName::Published | StateName::Rejected)
    }
}

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Getting the article (fetch or extraction).
    Fetch,
    /// Sending it to the account.
    Publish,
}

/// One article of one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub unit: String,
    /// Canonical URL of the article.
    pub url: String,
    /// Key of the source it was found through.
    pub source: String,
    pub guid: Option<String>,
    /// Content fingerprint, once the content is known.
    pub fingerprint: Option<String>,
    pub title: String,
    pub published_at: Option<DateTime<FixedOffset>>,
    pub author: Option<String>,
    /// `来源：` on the page.
    pub origin: Option<String>,
    /// The body lives in a file of its own (see the module docs), written
    /// once at insert (and by [`Store::put_body`]), so that the many state
    /// changes of an item rewrite only its small record.
    #[serde(skip)]
    pub html: String,
    #[serde(skip)]
    pub text: String,
    pub images: Vec<String>,
    pub priority: bool,
    /// Notes for editors and ops (images dropped, title shortened, …).
    pub notes: Vec<String>,
    /// Word-list and personal-data hits of the review, with context.
    #[serde(default)]
    pub review_hits: Vec<crate::review::Hit>,
    pub discovered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Which body file is this item's. Managed by the store alone:
    /// `Store::insert_new` and `Store::transition_with_body` set it; a
    /// transition keeps the stored one whatever the caller's copy says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_version: Option<String>,
    #[serde(flatten)]
    pub state: State,
    /// How far the item got on each of its unit's accounts (by account
    /// name); an account not here has it pending. Changed only with the
    /// item, in the same check-and-set: the item's own publish-side state is
    /// what its deliveries add up to ([`Item::aggregate`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deliveries: BTreeMap<String, DeliveryState>,
}

/// How an item came into the store: found on its unit's site (or feed),
/// pushed by hand by an editor, or copied from another unit's item by a
/// broadcast. Told by the item's `source` key (`push`, `broadcast:<item>`,
/// or a source of the unit); not the article's own `来源：` line
/// ([`Item::origin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemOrigin {
    Site,
    Push,
    Broadcast,
}

impl ItemOrigin {
    pub const ALL: [ItemOrigin; 3] = [ItemOrigin::Site, ItemOrigin::Push, ItemOrigin::Broadcast];

    /// The name in URLs (`origin=site|push|broadcast`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemOrigin::Site => "site",
            ItemOrigin::Push => "push",
            ItemOrigin::Broadcast => "broadcast",
        }
    }

    pub fn parse(s: &str) -> Option<ItemOrigin> {
        ItemOrigin::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// What an editor reads.
    pub fn label_zh(self) -> &'static str {
        match self {
            ItemOrigin::Site => "网站采集",
            ItemOrigin::Push => "手动推送",
            ItemOrigin::Broadcast => "矩阵联动",
        }
    }
}

impl Item {
    /// How the item came into the store (see [`ItemOrigin`]).
    pub fn came_from(&self) -> ItemOrigin {
        if self.source == "push" {
            ItemOrigin::Push
        } else if self.source.starts_with("broadcast:") {
            ItemOrigin::Broadcast
        } else {
            ItemOrigin::Site
        }
    }

    /// What the item's publish-side state is, given its deliveries to
    /// `accounts` (the unit's accounts now): publishing while any account
    /// sends it; queued while any account still has it pending; published
    /// once every account has it; failed when every account is done and
    /// some refused it. Accounts no longer configured do not count.
    pub fn aggregate(&self, accounts: &[String]) -> State {
        let mut pending = false;
        let mut since: Option<DateTime<Utc>> = None;
        let mut published: Option<(String, Option<String>, DateTime<Utc>)> = None;
        let mut failed: Vec<String> = Vec::new();
        let mut attempts = 0;
        for a in accounts {
            match self.deliveries.get(a) {
                None => pending = true,
                Some(DeliveryState::Publishing { since: s, .. }) => {
                    since = Some(since.map_or(*s, |t| t.min(*s)));
                }
                Some(DeliveryState::Published {
                    remote_id,
                    remote_url,
                    at,
                    ..
                }) => {
                    // The first account's post names the item; the time is
                    // the latest.
                    let at = published.as_ref().map_or(*at, |p| p.2.max(*at));
                    let (id, url) = published
                        .take()
                        .map(|p| (p.0, p.1))
                        .unwrap_or((remote_id.clone(), remote_url.clone()));
                    published = Some((id, url, at));
                }
                Some(DeliveryState::Failed {
                    reason,
                    attempts: n,
                    ..
                }) => {
                    failed.push(format!("{a}: {reason}"));
                    attempts = attempts.max(*n);
                }
            }
        }
        if let Some(since) = since {
            State::Publishing { since }
        } else if pending {
            State::Queued
        } else if failed.is_empty() {
            let (remote_id, remote_url, at) =
                published.unwrap_or((String::new(), None, self.updated_at));
            State::Published {
                remote_id,
                remote_url,
                at,
            }
        } else {
            State::Failed {
                stage: Stage::Publish,
                reason: failed.join("; "),
                attempts,
                next_retry: None,
            }
        }
    }

    /// A new item of `unit` for the article at canonical `url`, found
    /// through `source` at `now`: no content yet, in `state`.
    pub fn new(unit: &str, url: &str, source: &str, now: DateTime<Utc>, state: State) -> Item {
        Item {
            id: Item::id_for(unit, url),
            unit: unit.to_string(),
            url: url.to_string(),
            source: source.to_string(),
            guid: None,
            fingerprint: None,
            title: String::new(),
            published_at: None,
            author: None,
            origin: None,
            html: String::new(),
            text: String::new(),
            images: vec![],
            priority: false,
            notes: vec![],
            review_hits: vec![],
            discovered_at: now,
            updated_at: now,
            body_version: None,
            state,
            deliveries: BTreeMap::new(),
        }
    }

    /// The item id for a unit's article: short, stable and safe in URLs and
    /// on the command line.
    pub fn id_for(unit: &str, canonical_url: &str) -> String {
        let mut h = Sha256::new();
        h.update(unit.as_bytes());
        h.update([0]);
        h.update(canonical_url.as_bytes());
        hex::encode(&h.finalize()[..8])
    }
}

/// The fingerprint of an article's content: the same article reached by two
/// URLs (or two sources) of one unit has the same one. Whitespace and
/// punctuation are ignored so that markup changes do not make a new article.
pub fn fingerprint(title: &str, text: &str) -> String {
    let mut h = Sha256::new();
    for c in title.chars().chain(['\u{0}']).chain(text.chars()) {
        if c.is_alphanumeric() || c == '\u{0}' {
            let mut buf = [0u8; 4];
            for lc in c.to_lowercase() {
                h.update(lc.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    hex::encode(&h.finalize()[..16])
}

/// How a post came to be sent: counted apart in metrics and reports, and
/// kept with each delivery (taken at the account's take, carried to its
/// post), so that a report tells an automatic post from an editor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishPath {
    /// Found on the site and published in auto-update mode.
    Auto,
    /// An editor's hand push (an item, or a URL).
    Push,
    /// An editor's broadcast to a branch of the matrix.
    Broadcast,
}

impl PublishPath {
    pub const ALL: [PublishPath; 3] =
        [PublishPath::Auto, PublishPath::Push, PublishPath::Broadcast];

    /// The name in logs and the `path` label of `autosync_published_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishPath::Auto => "auto",
            PublishPath::Push => "push",
            PublishPath::Broadcast => "broadcast",
        }
    }
}

/// One account's delivery of an item: how far the item got on that
/// account. An account with no delivery for an item that is waiting to go
/// out has it *pending*; the record exists from the moment the account
/// takes the item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum DeliveryState {
    /// The request is (or was, before a crash) under way: looked up on the
    /// account before anything is sent again. `path`: how it was taken
    /// (`None` in records written before paths were kept).
    Publishing {
        since: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PublishPath>,
    },
    /// On the account; `path` as it was taken.
    Published {
        remote_id: String,
        remote_url: Option<String>,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PublishPath>,
    },
    /// The platform refused it for good; `at` when (`None` in records
    /// written before it was kept).
    Failed {
        reason: String,
        attempts: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
}

impl DeliveryState {
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryState::Publishing { .. } => "publishing",
            DeliveryState::Published { .. } => "published",
            DeliveryState::Failed { .. } => "failed",
        }
    }
}

/// An account: one platform account of one unit. Today a unit has one;
/// the key already names both so that per-account deliveries fit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountKey {
    pub unit: String,
    /// The account's name on the platform (`account_name`).
    pub account: String,
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.unit, self.account)
    }
}

/// Why an account's publishing is paused: nothing is sent to it until the
/// cause is gone (a renewed cookie, a reload, a binding that matches again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PauseReason {
    /// The platform says the login (cookie) expired.
    LoginExpired { detail: String },
    /// The credentials belong to another account than the unit's.
    WrongAccount { expected: String, actual: String },
    /// The platform refuses this account publishing at all (e.g. WeChat
    /// 48001: only verified accounts may publish through the API).
    NoPermission { detail: String },
    /// The platform accepts calls only from whitelisted addresses, and ours
    /// is not one (e.g. WeChat 40164/61004): ops add `ip` to the account's
    /// whitelist.
    IpNotWhitelisted { ip: String, detail: String },
    /// The account cannot be reached with the configuration given
    /// (no cookie file, a bad base URL).
    NotConfigured { detail: String },
    /// The platform refuses our credentials for every post (a webhook
    /// receiver's 401/403 after its secret changed): no post is worth
    /// sending until ops fix them.
    CredentialsRefused { detail: String },
}

impl PauseReason {
    /// Short machine name, for metrics and JSON.
    pub fn code(&self) -> &'static str {
        match self {
            PauseReason::LoginExpired { .. } => "login_expired",
            PauseReason::WrongAccount { .. } => "wrong_account",
            PauseReason::NoPermission { .. } => "no_permission",
            PauseReason::IpNotWhitelisted { .. } => "ip_not_whitelisted",
            PauseReason::NotConfigured { .. } => "not_configured",
            PauseReason::CredentialsRefused { .. } => "credentials_refused",
        }
    }

    /// What an editor reads.
    pub fn zh(&self) -> String {
        match self {
            PauseReason::LoginExpired { .. } => "登录已过期，请更新 Cookie".into(),
            PauseReason::WrongAccount { expected, actual } => {
                format!("绑定的账号不符：应为“{expected}”，实为“{actual}”")
            }
            PauseReason::NoPermission { detail } => format!("平台不允许该账号发布：{detail}"),
            PauseReason::IpNotWhitelisted { ip, .. } => {
                format!("服务器地址 {ip} 不在该账号的 IP 白名单中，请在平台后台添加")
            }
            PauseReason::NotConfigured { detail } => format!("账号配置有误：{detail}"),
            PauseReason::CredentialsRefused { detail } => {
                format!("平台拒绝了账号凭据（密钥或令牌），请核对后重新加载：{detail}")
            }
        }
    }
}

impl std::fmt::Display for PauseReason {
    /// What ops read in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PauseReason::LoginExpired { detail } => {
                write!(f, "login expired ({detail}); renew the cookie, then reload")
            }
            PauseReason::WrongAccount { expected, actual } => write!(
                f,
                "the credentials are those of account {actual:?}, not {expected:?}; nothing is sent until they match"
            ),
            PauseReason::NoPermission { detail } => {
                write!(f, "the platform refuses this account publishing ({detail})")
            }
            PauseReason::IpNotWhitelisted { ip, detail } => write!(
                f,
                "the caller address {ip} is not in the account's IP whitelist ({detail}); add it on the platform"
            ),
            PauseReason::NotConfigured { detail } => write!(f, "not configured: {detail}"),
            PauseReason::CredentialsRefused { detail } => write!(
                f,
                "the platform refuses the account's credentials ({detail}); fix the secret, then reload"
            ),
        }
    }
}

/// A pause and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub reason: PauseReason,
    pub since: DateTime<Utc>,
}

/// What the store keeps of an account between runs, so that `once`, the
/// daemon after a restart and the desk all honour it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// Set while publishing is paused.
    pub paused: Option<Pause>,
    /// The platform asked for no request before this time (Retry-After).
    pub not_before: Option<DateTime<Utc>>,
    /// The last binding check that matched: when, and the name the
    /// platform gave.
    pub verified: Option<(DateTime<Utc>, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table, exhaustively: every pair of states is either listed or
    /// refused, and the final states lead nowhere else.
    #[test]
    fn transition_table_is_exactly_the_documented_one() {
        use StateName::*;
        let legal: &[(StateName, StateName)] = &[
            (Seen, Queued),
            (Queued, Queued),
            (Queued, Publishing),
            (Queued, Held),
            (Queued, Rejected),
            (Publishing, Publishing),
            (Publishing, Published),
            (Publishing, Queued),
            (Publishing, Failed),
            (Publishing, Held),
            (Published, Published),
            (Failed, Failed),
            (Failed, Queued),
            (Failed, Publishing),
            (Failed, Held),
            (Failed, Rejected),
            (Held, Held),
            (Held, Queued),
            (Held, Rejected),
            (Rejected, Rejected),
            (Rejected, Held),
        ];
        for from in StateName::ALL {
            for to in StateName::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        for f in StateName::ALL.into_iter().filter(|s| s.is_final()) {
            for to in StateName::ALL {
                // A reject's undo goes back to held, and only there.
                let undo = (f, to) == (Rejected, Held);
                assert_eq!(f.can_become(to), to == f || undo, "{f} -> {to}");
            }
        }
        // Only through `publishing` does anything reach `published`.
        for from in StateName::ALL {
            assert_eq!(
                from.can_become(Published),
                matches!(from, Publishing | Published),
                "{from}"
            );
        }
    }

    #[test]
    fn state_names_round_trip() {
        for n in StateName::ALL {
            assert_eq!(StateName::parse(n.as_str()), Some(n));
            assert!(STATE_NAMES.contains(&n.as_str()));
        }
    }
}
