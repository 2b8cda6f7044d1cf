//! The editors' desk: what an editor can do to items, whoever asks (the HTTP
//! API, the web page, or the CLI when no daemon runs). Every action checks
//! the editor's reach, is written to the audit log with before and after,
//! and publishes only through the store's check-and-set, so **nothing an
//! editor does can publish an item twice**.

pub mod body;
pub mod confirm;
pub mod preview;
pub mod search;

use crate::config::{Config, Editor, Unit};
use crate::outbox::{Outboxes, PublishPath, Sent};
use crate::pipeline::Context;
use crate::store::{AuditAction, AuditEntry, Item, STATE_NAMES, State, StateName, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How many items a list shows when not told, and at most.
pub const DEFAULT_LIST: usize = 200;
pub const MAX_LIST: usize = 1000;

/// The shortest id prefix accepted for an item (ids are 16 hex digits).
pub const MIN_ID_PREFIX: usize = 6;

/// How many items a list asked for `asked` shows.
pub fn list_limit(asked: usize) -> usize {
    asked.clamp(1, MAX_LIST)
}

/// Why an action was refused, as a machine reads it: the JSON API answers
/// `{"code": …, "message": "中文…"}` so a script never has to match the
/// Chinese message, and the message can change wording freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    /// The item is not in a state that allows the action.
    WrongState,
    /// The unit already has the article.
    Duplicate,
    BadInput,
    /// What the editor confirmed is no longer what would happen (a
    /// broadcast's accounts changed, the previewed item changed).
    Stale,
    /// Undoing is no longer allowed (too long ago).
    Expired,
    Failed,
    Closed,
    /// Too many wrong tokens from the address lately (the API's 429).
    TooManyFailures,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::WrongState,
        ErrorCode::Duplicate,
        ErrorCode::BadInput,
        ErrorCode::Stale,
        ErrorCode::Expired,
        ErrorCode::Failed,
        ErrorCode::Closed,
        ErrorCode::TooManyFailures,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::WrongState => "wrong_state",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::BadInput => "bad_input",
            ErrorCode::Stale => "stale",
            ErrorCode::Expired => "expired",
            ErrorCode::Failed => "failed",
            ErrorCode::Closed => "closed",
            ErrorCode::TooManyFailures => "too_many_failures",
        }
    }
}

/// Why an action was refused; each maps to an HTTP status and a machine
/// code, and reads in Chinese (editors read it on the desk).
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("未登录或令牌无效")]
    Unauthorized,
    /// `unit` is the unit's name as editors know it (see [`Desk::unit_label`]).
    #[error("编辑「{editor}」无权操作{unit}")]
    Forbidden { editor: String, unit: String },
    #[error("未找到{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Duplicate(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Stale(String),
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    Failed(String),
    #[error("未配置编辑名单（[daemon] editors_file），编辑台未开放")]
    Closed,
    /// When the address may try again, in the daemon's zone.
    #[error("令牌错误次数过多。为防止令牌被猜测，请在 {0} 之后再试")]
    TooManyFailures(String),
}

impl DeskError {
    pub fn status(&self) -> u16 {
        match self {
            DeskError::Unauthorized => 401,
            DeskError::Forbidden { .. } => 403,
            DeskError::NotFound(_) => 404,
            DeskError::Conflict(_) | DeskError::Duplicate(_) | DeskError::Stale(_) => 409,
            DeskError::Expired(_) => 410,
            DeskError::BadInput(_) => 400,
            DeskError::Failed(_) => 502,
            DeskError::Closed => 503,
            DeskError::TooManyFailures(_) => 429,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            DeskError::Unauthorized => ErrorCode::Unauthorized,
            DeskError::Forbidden { .. } => ErrorCode::Forbidden,
            DeskError::NotFound(_) => ErrorCode::NotFound,
            DeskError::Conflict(_) => ErrorCode::WrongState,
            DeskError::Duplicate(_) => ErrorCode::Duplicate,
            DeskError::BadInput(_) => ErrorCode::BadInput,
            DeskError::Stale(_) => ErrorCode::Stale,
            DeskError::Expired(_) => ErrorCode::Expired,
            DeskError::Failed(_) => ErrorCode::Failed,
            DeskError::Closed => ErrorCode::Closed,
            DeskError::TooManyFailures(_) => ErrorCode::TooManyFailures,
        }
    }
}

/// A one-line text an editor typed (a title, a reason): trimmed, 1 to
/// `max` characters, no control characters (a newline or an invisible
/// character in a title reaches the platform as is).
pub fn plain_line<'a>(
    s: &'a str,
    what: &str,
    min: usize,
    max: usize,
) -> Result<&'a str, DeskError> {
    let s = s.trim();
    if s.chars().any(char::is_control) {
        return Err(DeskError::BadInput(format!(
            "{what}不能含控制字符（换行、制表符等）"
        )));
    }
    let n = s.chars().count();
    if !(min..=max).contains(&n) {
        return Err(DeskError::BadInput(format!(
            "{what}须为 {min} 至 {max} 字，现为 {n} 字"
        )));
    }
    Ok(s)
}

fn store_err(e: impl std::fmt::Display) -> DeskError {
    DeskError::Failed(format!("存储出错：{e}"))
}

/// A refused check-and-set is a conflict the editor can understand (someone
/// else acted first, or the item is past that step); anything else is a
/// failure of the store.
fn refused(action: &str) -> impl Fn(StoreError) -> DeskError + '_ {
    move |e| match e {
        StoreError::Refused {
            item,
            state,
            reason: Some(why),
        } => DeskError::Conflict(format!(
            "稿件 {item}（{}）不能{action}：{why}",
            state.label_zh()
        )),
        StoreError::Refused { item, state, .. } => DeskError::Conflict(format!(
            "稿件 {item} 当前状态为「{}」，不能{action}",
            state.label_zh()
        )),
        StoreError::NoSuchItem(id) => DeskError::NotFound(format!("稿件 {id}")),
        e => store_err(e),
    }
}

/// A hold or reject reason as an editor reads it: the review's machine
/// codes (`no-text: 未提取到正文; keyword: …`) dropped, parts joined by
/// `；`. The one place the desk shows reasons through, so the wording at the
/// source can change without the desk showing English.
pub fn reason_zh(reason: &str) -> String {
    reason
        .split("; ")
        .map(|part| match part.split_once(": ") {
            Some((code, rest))
                if !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '-') =>
            {
                rest.trim_end_matches("（manual review）").to_string()
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// Compare secrets (tokens, CSRF tokens) in time independent of where they
/// differ.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= (a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0)) as usize;
    }
    diff == 0
}

/// The editor a bearer token belongs to.
pub fn authenticate<'a>(config: &'a Config, token: &str) -> Result<&'a Editor, DeskError> {
    if config.daemon.editors_file.is_none() {
        return Err(DeskError::Closed);
    }
    let mut found = None;
    for e in &config.editors {
        // No early exit: the time taken does not tell which editor matched.
        if same_token(e.token.expose(), token) {
            found = Some(e);
        }
    }
    found.ok_or(DeskError::Unauthorized)
}

/// An item as editors see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemView {
    pub id: String,
    pub unit: String,
    pub state: String,
    pub title: String,
    pub url: String,
    /// Why it is held, failed or rejected.
    pub reason: Option<String>,
    pub priority: bool,
    pub published_at: Option<String>,
    pub discovered_at: String,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub hits: Vec<crate::review::Hit>,
    pub notes: Vec<String>,
    /// How far it got on each account of its unit.
    #[serde(default)]
    pub deliveries: Vec<DeliveryView>,
}

/// One account's delivery of an item, as editors see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryView {
    pub account: String,
    /// `publishing`, `published` or `failed`.
    pub state: String,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub at: Option<String>,
    pub reason: Option<String>,
}

impl DeliveryView {
    /// What an editor reads, in Chinese.
    pub fn zh(&self) -> String {
        let state = match self.state.as_str() {
            "publishing" => "发布中（结果待确认）",
            "published" => "已发布",
            _ => "失败",
        };
        let what = self
            .remote_url
            .as_deref()
            .or(self.remote_id.as_deref())
            .or(self.reason.as_deref())
            .unwrap_or("");
        format!("{}：{state} {what}", self.account)
    }

    /// The same, with when the platform published it, in `tz` (named: not
    /// the source article's date).
    pub fn zh_at(&self, tz: chrono_tz::Tz) -> String {
        let at = self
            .at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| format!("（平台时间 {}）", crate::clock::zoned(&t, tz)))
            .unwrap_or_default();
        format!("{}{at}", self.zh())
    }
}

impl From<&Item> for ItemView {
    fn from(i: &Item) -> Self {
        let (reason, remote_id, remote_url) = match &i.state {
            State::Held { reason } | State::Rejected { reason } => {
                (Some(reason.clone()), None, None)
            }
            State::Failed { reason, .. } => (Some(reason.clone()), None, None),
            State::Published {
                remote_id,
                remote_url,
                ..
            } => (None, Some(remote_id.clone()), remote_url.clone()),
            _ => (None, None, None),
        };
        ItemView {
            id: i.id.clone(),
            unit: i.unit.clone(),
            state: i.state.name().to_string(),
            title: i.title.clone(),
            url: i.url.clone(),
            reason,
            priority: i.priority,
            published_at: i.published_at.map(|t| t.to_rfc3339()),
            discovered_at: i.discovered_at.to_rfc3339(),
            remote_id,
            remote_url,
            hits: i.review_hits.clone(),
            notes: i.notes.clone(),
            deliveries: i
                .deliveries
                .iter()
                .map(|(account, d)| {
                    use crate::model::DeliveryState as D;
                    let (remote_id, remote_url, at, reason) = match d {
                        D::Publishing { since, .. } => (None, None, Some(since.to_rfc3339()), None),
                        D::Published {
                            remote_id,
                            remote_url,
                            at,
                            ..
                        } => (
                            Some(remote_id.clone()),
                            remote_url.clone(),
                            Some(at.to_rfc3339()),
                            None,
                        ),
                        D::Failed { reason, .. } => (None, None, None, Some(reason.clone())),
                    };
                    DeliveryView {
                        account: account.clone(),
                        state: d.name().to_string(),
                        remote_id,
                        remote_url,
                        at,
                        reason,
                    }
                })
                .collect(),
        }
    }
}

/// One account's answer to a push or broadcast.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Delivery {
    pub unit: String,
    pub account: String,
    pub outcome: DeliveryOutcome,
    pub detail: String,
    pub item: Option<String>,
}

/// What became of one account's post.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOutcome {
    /// On the account.
    Published,
    /// Not sent: the account already has it, or is sending it.
    Skipped,
    /// Not sent now (the account is paused or must wait); the item stays
    /// queued, first in line, and goes out when the account may post.
    Queued,
    /// Not sent: held for an editor (no body to publish).
    Held,
    /// Sent, and the outcome is not known yet: looked up before any retry.
    Unknown,
    Failed,
}

impl DeliveryOutcome {
    pub fn zh(self) -> &'static str {
        match self {
            DeliveryOutcome::Published => "已发布",
            DeliveryOutcome::Skipped => "跳过",
            DeliveryOutcome::Queued => "待发布",
            DeliveryOutcome::Held => "待审核",
            DeliveryOutcome::Unknown => "结果待确认",
            DeliveryOutcome::Failed => "失败",
        }
    }
}

/// Told the unit whose publish queue an editor changed.
pub type Wake = Arc<dyn Fn(&str) + Send + Sync>;

/// The desk over one store and config.
#[derive(Clone)]
pub struct Desk {
    pub ctx: Context,
    pub config: Arc<Config>,
    /// Told the unit whose queue changed (the daemon wakes its worker).
    pub wake: Option<Wake>,
    /// Every post goes through the account's outbox; in the daemon these
    /// are the workers' own (one lock, one state per account).
    pub outboxes: Arc<Outboxes>,
}

impl Desk {
    /// A desk with outboxes of its own (no daemon in this process).
    pub fn new(ctx: Context, config: Arc<Config>) -> Desk {
        let outboxes = Arc::new(Outboxes::new(ctx.clone(), config.daemon.timezone, None));
        Desk {
            ctx,
            config,
            wake: None,
            outboxes,
        }
    }

    /// A unit as editors know it: its organisation and account by name
    /// (the id only when the unit is not in the config).
    pub fn unit_label(&self, id: &str) -> String {
        match self.config.unit(id) {
            Some(u) => format!("「{}」（账号「{}」）", u.org_name, u.account_name),
            None => format!("单位 {id}"),
        }
    }

    fn forbidden(&self, ed: &Editor, unit: &str) -> DeskError {
        DeskError::Forbidden {
            editor: ed.name.clone(),
            unit: self.unit_label(unit),
        }
    }

    fn reach(&self, ed: &Editor, unit: &str) -> Result<(), DeskError> {
        if self.config.unit(unit).is_none() {
            return Err(DeskError::NotFound(format!("单位 {unit}")));
        }
        if !ed.may_act_on(unit) {
            return Err(self.forbidden(ed, unit));
        }
        Ok(())
    }

    /// The item's record, if the editor may act on its unit: what every
    /// action decides on (a body file gone must not stop a reject).
    fn item_record(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let item = self
            .ctx
            .store
            .record(id)
            .map_err(store_err)?
            .ok_or_else(|| {
                DeskError::NotFound(format!(
                    "稿件 {id}（完成超过 archive_after_days 天的稿件已归档）"
                ))
            })?;
        if !ed.may_act_on(&item.unit) {
            return Err(self.forbidden(ed, &item.unit));
        }
        Ok(item)
    }

    /// The whole id of the item `id` names: a whole id, or a unique prefix
    /// of at least [`MIN_ID_PREFIX`] characters (typed at the CLI).
    pub fn resolve_id(&self, id: &str) -> Result<String, DeskError> {
        use crate::store::Prefix;
        if id.chars().count() < MIN_ID_PREFIX {
            return Err(DeskError::BadInput(format!(
                "稿件编号“{id}”太短：至少输入前 {MIN_ID_PREFIX} 位"
            )));
        }
        match self.ctx.store.resolve_prefix(id).map_err(store_err)? {
            Prefix::One(whole) => Ok(whole),
            Prefix::None => Err(DeskError::NotFound(format!(
                "稿件 {id}（完成超过 archive_after_days 天的稿件已归档）"
            ))),
            Prefix::Many(ids) => Err(DeskError::BadInput(format!(
                "编号前缀“{id}”对应多篇稿件：{}{}；请多输入几位",
                ids.iter()
                    .take(crate::store::PREFIX_CANDIDATES)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("、"),
                if ids.len() > crate::store::PREFIX_CANDIDATES {
                    " 等"
                } else {
                    ""
                }
            ))),
        }
    }

    /// The item with its body, if the editor may act on its unit. A body
    /// file that cannot be read is said in a note, not an error: the editor
    /// can still reject the item.
    pub fn item(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let id = self.resolve_id(id)?;
        let mut item = self.item_record(ed, &id)?;
        if let Err(e) = self.ctx.store.load_body(&mut item) {
            tracing::error!(unit = %item.unit, item = %item.id, url = %item.url, "{e}");
            item.notes
                .push("正文文件丢失或损坏，无法显示；可驳回，或重新推送其链接".into());
        }
        Ok(item)
    }

    /// The `limit` newest items the editor can see (at most [`MAX_LIST`]),
    /// optionally of one unit and one state; without their bodies (see
    /// [`Desk::item`] for one whole). Only the items shown are read, so a
    /// list stays cheap however many items the store holds
    /// ([`crate::store::Store::newest`] says what "newest" means per state).
    pub fn list(
        &self,
        ed: &Editor,
        unit: Option<&str>,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, DeskError> {
        if let Some(u) = unit {
            self.reach(ed, u)?;
        }
        if let Some(s) = state
            && !STATE_NAMES.contains(&s)
        {
            return Err(DeskError::BadInput(format!(
                "没有「{s}」这个状态；可选：{}",
                STATE_NAMES.join("、")
            )));
        }
        let units: Vec<&str> = self
            .config
            .units
            .iter()
            .filter(|u| unit.is_none_or(|x| x == u.id) && ed.may_act_on(&u.id))
            .map(|u| u.id.as_str())
            .collect();
        let states: Vec<&str> = match state {
            Some(s) => vec![s],
            // `seen` items are the baseline, never published: not shown
            // unless asked for.
            None => STATE_NAMES
                .iter()
                .copied()
                .filter(|s| *s != "seen")
                .collect(),
        };
        self.ctx
            .store
            .newest(&units, &states, list_limit(limit))
            .map_err(store_err)
    }

    async fn record(
        &self,
        ed: &Editor,
        action: AuditAction,
        item: Option<&Item>,
        before: Option<String>,
        after: Option<String>,
        detail: Option<String>,
    ) -> Result<(), DeskError> {
        let entry = AuditEntry {
            at: self.ctx.clock.now(),
            editor: ed.name.clone(),
            action,
            unit: item.map(|i| i.unit.clone()),
            item: item.map(|i| i.id.clone()),
            before,
            after,
            detail,
        };
        self.ctx.store.audit(&entry).await.map_err(store_err)
    }

    /// The unit's queue or its counts changed: its accounts look at the
    /// queue now, and the daemon's gauges say so at once.
    fn woke(&self, unit: &str) {
        if let Some(w) = &self.wake {
            w(unit);
        }
    }

    /// One check-and-set on item `id` for an editor's action, audited.
    #[allow(clippy::too_many_arguments)]
    async fn act<F>(
        &self,
        ed: &Editor,
        id: &str,
        action: AuditAction,
        zh: &str,
        from: &[StateName],
        describe: impl Fn(&Item) -> String,
        detail: Option<String>,
        change: F,
    ) -> Result<Item, DeskError>
    where
        F: Fn(&mut Item) -> Result<(), String>,
    {
        let before = self.item_record(ed, id)?;
        let now = self.ctx.clock.now();
        let after = self
            .ctx
            .store
            .transition(id, from, now, change)
            .await
            .map_err(refused(zh))?;
        self.record(
            ed,
            action,
            Some(&after),
            Some(describe(&before)),
            Some(describe(&after)),
            detail,
        )
        .await?;
        Ok(after)
    }

    /// Held → queued.
    pub async fn approve(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let item = self
            .act(
                ed,
                id,
                AuditAction::Approve,
                "通过审核（只有待审核的稿件可以）",
                &[StateName::Held],
                |i| i.state.name().to_string(),
                None,
                |i| {
                    // A hand push waiting for its confirm goes out only by
                    // the confirm (which checks the version shown) or not
                    // at all: approving it would skip that step.
                    if confirm::awaiting_confirm(i) {
                        return Err("这是待确认的手动推送，请在稿件页确认推送或取消".into());
                    }
                    i.state = State::Queued;
                    Ok(())
                },
            )
            .await?;
        self.woke(&item.unit);
        Ok(item)
    }

    /// Not to be published, with a reason. Possible in every state before
    /// `publishing`, whatever became of the body.
    pub async fn reject(&self, ed: &Editor, id: &str, reason: &str) -> Result<Item, DeskError> {
        let reason = plain_line(reason, "驳回理由", 1, 500)?;
        let item = self
            .act(
                ed,
                id,
                AuditAction::Reject,
                "驳回",
                &[StateName::Held, StateName::Queued, StateName::Failed],
                |i| i.state.name().to_string(),
                Some(reason.to_string()),
                |i| {
                    i.state = State::Rejected {
                        reason: reason.to_string(),
                    };
                    Ok(())
                },
            )
            .await?;
        self.woke(&item.unit);
        Ok(item)
    }

    /// Jump the publish queue.
    pub async fn priority(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let item = self
            .act(
                ed,
                id,
                AuditAction::Priority,
                "设为优先",
                &[StateName::Held, StateName::Queued, StateName::Failed],
                |i| format!("priority={}", i.priority),
                None,
                |i| {
                    i.priority = true;
                    Ok(())
                },
            )
            .await?;
        self.woke(&item.unit);
        Ok(item)
    }

    /// Change the title before publishing (never while it is being sent).
    pub async fn edit_title(&self, ed: &Editor, id: &str, title: &str) -> Result<Item, DeskError> {
        let title = plain_line(title, "标题", 2, 100)?;
        self.act(
            ed,
            id,
            AuditAction::Title,
            "修改标题",
            &[StateName::Held, StateName::Queued, StateName::Failed],
            |i| i.title.clone(),
            None,
            |i| {
                i.title = title.to_string();
                Ok(())
            },
        )
        .await
    }

    fn unit(&self, id: &str) -> Result<&std::sync::Arc<Unit>, DeskError> {
        self.config
            .unit(id)
            .ok_or_else(|| DeskError::NotFound(format!("单位 {id}")))
    }

    /// Publish one item to its unit's account now (approving it if held),
    /// through the account's outbox.
    pub async fn push_now(&self, ed: &Editor, id: &str) -> Result<Vec<Delivery>, DeskError> {
        let before = self.item_record(ed, id)?;
        let now = self.ctx.clock.now();
        let item = self
            .ctx
            .store
            .transition(
                id,
                &[
                    StateName::Held,
                    StateName::Queued,
                    StateName::Failed,
                    StateName::Seen,
                ],
                now,
                |i| {
                    i.state = State::Queued;
                    i.priority = true;
                    // An editor's push tries again the accounts whose
                    // platform refused it (after a fix); what went out stays.
                    i.deliveries
                        .retain(|_, d| !matches!(d, crate::model::DeliveryState::Failed { .. }));
                    Ok(())
                },
            )
            .await
            .map_err(refused("推送"))?;
        let ds = self.deliver(&item, PublishPath::Push).await?;
        self.record(
            ed,
            AuditAction::Push,
            Some(&item),
            Some(before.state.name().to_string()),
            Some(summary(&ds)),
            Some(
                ds.iter()
                    .map(|d| d.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        )
        .await?;
        Ok(ds)
    }

    /// Send a queued item through the outbox of each of its unit's
    /// accounts: one answer an account (an account that cannot take it now
    /// never holds another).
    async fn deliver(&self, item: &Item, path: PublishPath) -> Result<Vec<Delivery>, DeskError> {
        let unit = self.unit(&item.unit)?;
        let mut out = Vec::new();
        for (i, account) in unit.accounts.iter().enumerate() {
            let outbox = self.outboxes.get(unit, i);
            let sent = outbox
                .send(&item.id, path)
                .await
                .map_err(|e| DeskError::Failed(format!("账号「{}」发送出错：{e}", account.name)))?;
            out.push(self.delivery(unit, &account.name, item, sent));
        }
        self.woke(&unit.id);
        Ok(out)
    }

    /// One account's answer, as an editor reads it.
    fn delivery(&self, unit: &Unit, account: &str, item: &Item, sent: Sent) -> Delivery {
        let tz = self.config.daemon.timezone;
        let (outcome, detail) = match sent {
            Sent::Published { remote, .. } => {
                (DeliveryOutcome::Published, remote.url.unwrap_or(remote.id))
            }
            Sent::Skipped { state, .. } => (
                DeliveryOutcome::Skipped,
                format!("已在发布中或已处理（{}）", state.label_zh()),
            ),
            Sent::Held { reason, .. } => (DeliveryOutcome::Held, reason),
            Sent::Failed { reason, .. } => (DeliveryOutcome::Failed, reason),
            Sent::Unknown { reason, .. } => (
                DeliveryOutcome::Unknown,
                format!("发布结果未知（{reason}），确认前不会重发"),
            ),
            Sent::Waiting { until, why } => (
                DeliveryOutcome::Queued,
                format!(
                    "{}，稿件已排在最前，{} 后发出",
                    why.zh(),
                    until.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z")
                ),
            ),
            Sent::Paused(p) => (
                DeliveryOutcome::Queued,
                format!("账号已暂停：{}；稿件保持待发布", p.reason.zh()),
            ),
            Sent::Idle => (DeliveryOutcome::Skipped, "没有可发布的内容".into()),
        };
        Delivery {
            unit: unit.id.clone(),
            account: account.to_string(),
            outcome,
            detail,
            item: Some(item.id.clone()),
        }
    }

    /// The audit log, oldest first.
    pub fn audit(&self, ed: &Editor) -> Result<Vec<AuditEntry>, DeskError> {
        let log = self.ctx.store.audit_log().map_err(store_err)?;
        Ok(log
            .into_iter()
            .filter(|e| e.unit.as_deref().is_none_or(|u| ed.may_act_on(u)))
            .collect())
    }
}

/// Each account's outcome in a word, for the audit log.
fn summary(ds: &[Delivery]) -> String {
    ds.iter()
        .map(|d| format!("{}:{}", d.account, d.outcome.zh()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An audit entry's before or after as an editor reads it: a state by its
/// Chinese name, the priority flag in words; anything else (a title, a
/// summary) as it is.
pub fn audit_value_zh(v: &str) -> String {
    match v {
        "priority=true" => "优先".into(),
        "priority=false" => "普通".into(),
        v => StateName::parse(v).map_or_else(|| v.to_string(), |s| s.label_zh().to_string()),
    }
}

/// The audit log as CSV (RFC 4180), for export: UTF-8 with a byte-order
/// mark (without it Excel, what the offices open it with, reads the Chinese
/// as mojibake), Chinese headers and action names, units by name, times in
/// `[daemon] timezone` with their offset (a spreadsheet has no other way to
/// tell the zone).
pub fn audit_csv(entries: &[AuditEntry], config: &Config) -> String {
    fn field(s: &str) -> String {
        // Quote always; a leading =,+,-,@ is defused so spreadsheets do not
        // run it as a formula.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    }
    let tz = config.daemon.timezone;
    let mut out = String::from("\u{feff}时间,编辑,操作,单位,稿件,操作前,操作后,说明\r\n");
    for e in entries {
        let unit = e.unit.as_deref().map(|u| {
            config
                .unit(u)
                .map_or_else(|| u.to_string(), |x| x.org_name.clone())
        });
        let row = [
            e.at.with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S%:z")
                .to_string(),
            e.editor.clone(),
            e.action.label_zh().to_string(),
            unit.unwrap_or_default(),
            e.item.clone().unwrap_or_default(),
            audit_value_zh(e.before.as_deref().unwrap_or_default()),
            audit_value_zh(e.after.as_deref().unwrap_or_default()),
            e.detail.clone().unwrap_or_default(),
        ];
        out.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_reasons_are_shown_without_their_machine_codes() {
        assert_eq!(
            reason_zh("no-text: 未提取到正文; keyword: 命中敏感词：某（政治）"),
            "未提取到正文；命中敏感词：某（政治）"
        );
        assert_eq!(
            reason_zh("manual: 需人工审核（manual review）"),
            "需人工审核"
        );
        assert_eq!(reason_zh("待确认推送"), "待确认推送");
    }

    #[test]
    fn token_comparison_needs_the_whole_token() {
        assert!(same_token("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!same_token("abcdefghijklmnop", "abcdefghijklmnoq"));
        assert!(!same_token("abcdefghijklmnop", "abcdefghijklmno"));
        assert!(!same_token("", "a"));
    }

    #[test]
    fn audit_csv_quotes_and_defuses_formulas() {
        let e = AuditEntry {
            at: chrono::Utc::now(),
            editor: "王\"编辑\"".into(),
            action: AuditAction::Reject,
            unit: Some("u".into()),
            item: Some("i".into()),
            before: Some("held".into()),
            after: Some("rejected".into()),
            detail: Some("=HYPERLINK(\"x\")".into()),
        };
        let config = crate::config::parse(
            "[daemon]\nstate_dir = \"state\"\ntimezone = \"Asia/Shanghai\"\n\n[[unit]]\nid = \"u\"\n\
             account_name = \"测试号\"\norg_name = \"测试县科协\"\nlevel = \"county\"\n\
             site = \"https://example.org/\"\n  [[unit.source]]\n  feed = \"https://example.org/rss.xml\"\n\
             \n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n",
            std::path::Path::new("/tmp/t.toml"),
        );
        let csv = audit_csv(&[e], &config.unwrap());
        assert!(
            csv.starts_with("\u{feff}时间,编辑,操作,单位,稿件,操作前,操作后,说明\r\n"),
            "{csv}"
        );
        assert!(
            csv.contains("\"驳回\"") && csv.contains("+08:00") && csv.contains("\"测试县科协\""),
            "{csv}"
        );
        assert!(csv.contains("\"王\"\"编辑\"\"\""), "{csv}");
        assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{csv}");
    }
}
