//! The outbox: the one path by which anything is sent to an account.
//!
//! Why one: the daemon's worker, `autosync once`, an editor's push and a
//! broadcast all send posts. Each used to apply its own subset of the rules
//! (`once` ignored the spacing and the daily cap, a push ignored a paused
//! account, a wrong account only warned). Here every send of an account goes
//! through its [`Outbox`], under the account's lock, in this order:
//!
//! 1. **reconcile** — items left `publishing` (a crash, an unknown outcome)
//!    are looked up on the account: found → published; certainly absent and
//!    older than `publish_grace` → queued again; else they wait, *alone*:
//!    the account's other items are not held behind them;
//! 2. **gate** — a paused account sends nothing; the platform's
//!    `Retry-After` is honoured to the second; spacing
//!    (`min_post_interval_secs`, automatic posts only: an editor's push is
//!    an explicit "now") and the daily cap (every post counts);
//! 3. **binding** — the platform's account identity is checked before the
//!    first post after start or reload and every [`BINDING_RECHECK`]; a
//!    name other than the unit's `account_name` pauses the account
//!    ([`PauseReason::WrongAccount`], naming both): **nothing is sent to an
//!    account it does not belong to**;
//! 4. **take** — the store's check-and-set `queued → publishing`, flushed
//!    before the request leaves (**never post blind twice**);
//! 5. **send** and record the typed [`Outcome`].
//!
//! What the account's state is (paused, rate-limited until, verified) lives
//! in the store, so `once`, the daemon after a restart and the desk agree.

use crate::config::Unit;
use crate::hooks::Point;
use crate::metrics::Metrics;
use crate::model::{AccountKey, AccountState, Pause, PauseReason};
use crate::pipeline::Context;
use crate::publish::{self, Outcome, Post, PublishError, Publisher};
use crate::store::{DeliveryStep, Item, StateName, StoreError};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

/// Give up retrying an item after this many attempts; it then waits for ops.
pub const MAX_ATTEMPTS: u32 = 8;

/// The account binding is checked again after this long.
pub const BINDING_RECHECK: chrono::Duration = chrono::Duration::hours(6);

/// While an account is paused, its binding is checked again this often (a
/// cheap GET; nothing is posted until it succeeds). A reload checks at once,
/// and so does a renewed credential file (see [`Outboxes::get`]).
pub const PAUSED_RECHECK: chrono::Duration = chrono::Duration::minutes(15);

/// When the binding check itself fails (network), it is tried again after
/// this long; nothing is sent meanwhile.
pub const BINDING_RETRY: chrono::Duration = chrono::Duration::minutes(1);

/// How a post came to be sent (kept with each delivery, see `model`).
pub use crate::model::PublishPath;

/// Why nothing can be sent before a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// `min_post_interval_secs` since the account's last post.
    Spacing,
    /// `daily_post_cap` reached; the next day starts then.
    DailyCap(u32),
    /// The platform asked for a pause (`Retry-After`, or a passing error
    /// before the request was sent).
    RateLimited(String),
    /// The binding could not be checked (network); tried again then.
    BindingUnchecked(String),
}

impl Wait {
    /// What an editor reads.
    pub fn zh(&self) -> String {
        match self {
            Wait::Spacing => "距上一条发布未满最小间隔".into(),
            Wait::DailyCap(n) => format!("已达每日发布上限（{n} 条）"),
            Wait::RateLimited(_) => "平台要求稍后再发".into(),
            Wait::BindingUnchecked(_) => "暂时无法核对账号绑定".into(),
        }
    }
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::Spacing => f.write_str("min_post_interval_secs since the last post"),
            Wait::DailyCap(n) => write!(f, "daily_post_cap of {n} reached"),
            Wait::RateLimited(r) => write!(f, "rate limited by the platform ({r})"),
            Wait::BindingUnchecked(e) => write!(f, "account binding not checked ({e})"),
        }
    }
}

/// What one step of the outbox did.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// On the account.
    Published {
        item: String,
        title: String,
        remote: publish::Remote,
    },
    /// Not sent: held for an editor (no body to publish).
    Held { item: String, reason: String },
    /// Sent and refused by the platform for good, or not sendable (body
    /// lost): the item is `failed`.
    Failed { item: String, reason: String },
    /// The item was not waiting any more (someone else took it, or it is
    /// done): nothing was sent.
    Skipped { item: String, state: StateName },
    /// The request may have gone through: the item stays `publishing` and is
    /// looked up before it is ever sent again; other items go on.
    Unknown { item: String, reason: String },
    /// Nothing may be sent before `until`; items stay queued.
    Waiting { until: DateTime<Utc>, why: Wait },
    /// The account is paused; items stay queued.
    Paused(Pause),
    /// Nothing is due.
    Idle,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("item {item}: bad source URL: {source}")]
    BadUrl {
        item: String,
        #[source]
        source: url::ParseError,
    },
}

/// What the outbox remembers between steps (in memory: a new outbox after a
/// start or a reload checks the binding again at once).
#[derive(Default)]
struct Session {
    /// The binding matched then.
    checked: Option<DateTime<Utc>>,
    /// The last binding check while paused (or failing).
    tried: Option<DateTime<Utc>>,
    /// The one-account store's items adopted (see `Store::adopt_deliveries`).
    adopted: bool,
}

/// One account's outbox. Its lock serialises every send to the account.
pub struct Outbox {
    account: AccountKey,
    /// Every account of the unit, its first first: an item is published
    /// once all of them have it.
    accounts: Vec<String>,
    /// This account's spacing and daily cap.
    limits: crate::config::Limits,
    /// The config's own unit, shared (see `Config::units`).
    unit: Arc<Unit>,
    publisher: Result<Arc<dyn Publisher>, String>,
    ctx: Context,
    tz: chrono_tz::Tz,
    metrics: Option<Arc<Metrics>>,
    session: tokio::sync::Mutex<Session>,
    /// The credential file as it was when the publisher was built: a
    /// renewed cookie shows as a different stamp (see [`Outboxes::get`]).
    credential: Option<crate::credential::Stamp>,
}

/// The outboxes of a process: one per account, built on first use, so the
/// daemon's worker and the desk in the same process share one (and its
/// lock). A reload drops them: credentials are read again and paused
/// accounts are checked again at once.
pub struct Outboxes {
    ctx: Context,
    tz: chrono_tz::Tz,
    metrics: Option<Arc<Metrics>>,
    map: std::sync::Mutex<HashMap<AccountKey, Arc<Outbox>>>,
}

impl Outboxes {
    pub fn new(ctx: Context, tz: chrono_tz::Tz, metrics: Option<Arc<Metrics>>) -> Outboxes {
        Outboxes {
            ctx,
            tz,
            metrics,
            map: Default::default(),
        }
    }

    /// The outbox of `unit`'s account number `index` (its main one is 0),
    /// as configured now.
    pub fn get(&self, unit: &Arc<Unit>, index: usize) -> Arc<Outbox> {
        let account = &unit.accounts[index];
        let key = AccountKey {
            unit: unit.id.clone(),
            account: account.name.clone(),
        };
        let mut map = self.map.lock().expect("outboxes lock");
        if let Some(o) = map.get(&key) {
            // One in use (a send under its lock) is replaced only once it
            // is done: two outboxes of one account must not send at once.
            if !o.credential_changed() || !o.idle() {
                return o.clone();
            }
            // A renewed cookie: a new outbox reads it and, its session
            // fresh, checks the binding at once — a paused account resumes
            // without a restart and without waiting for PAUSED_RECHECK.
            tracing::info!(unit = %key.unit, account = %key.account, "the account's credential file changed: read again, binding checked now");
        }
        let o = Arc::new(Outbox::new(
            self.ctx.clone(),
            unit.clone(),
            index,
            self.tz,
            self.metrics.clone(),
        ));
        map.insert(key, o.clone());
        o
    }

    /// The outboxes of every account of `unit`, its main one first.
    pub fn of_unit(&self, unit: &Arc<Unit>) -> Vec<Arc<Outbox>> {
        (0..unit.accounts.len())
            .map(|i| self.get(unit, i))
            .collect()
    }

    /// The accounts of `unit` whose credential file changed since their
    /// outbox read it (renewed with `account set-cookie`, the desk or by
    /// hand); their outboxes are dropped (one in use is replaced by the
    /// next `get` after its send), so the next step reads the new
    /// credential and checks the binding at once. The caller wakes the
    /// unit's workers.
    pub fn renewed(&self, unit: &Unit) -> Vec<String> {
        let mut map = self.map.lock().expect("outboxes lock");
        let mut out = Vec::new();
        for a in &unit.accounts {
            let key = AccountKey {
                unit: unit.id.clone(),
                account: a.name.clone(),
            };
            if let Some(o) = map.get(&key)
                && o.credential_changed()
            {
                if o.idle() {
                    map.remove(&key);
                }
                out.push(a.name.clone());
            }
        }
        out
    }

    /// Forget every outbox (a reload): the next use builds them anew.
    pub fn reset(&self) {
        self.map.lock().expect("outboxes lock").clear();
    }
}

impl Outbox {
    /// The outbox of `unit`'s account number `index` (0: its main one).
    pub fn new(
        ctx: Context,
        unit: Arc<Unit>,
        index: usize,
        tz: chrono_tz::Tz,
        metrics: Option<Arc<Metrics>>,
    ) -> Outbox {
        let publisher = publish::build::build_publisher(&unit, &unit.accounts[index], &ctx.fetcher);
        Outbox::build(ctx, unit, index, tz, metrics, publisher)
    }

    /// An outbox over a publisher built elsewhere (tests, a platform double).
    pub fn with_publisher(
        ctx: Context,
        unit: Arc<Unit>,
        index: usize,
        tz: chrono_tz::Tz,
        metrics: Option<Arc<Metrics>>,
        publisher: Arc<dyn Publisher>,
    ) -> Outbox {
        Outbox::build(ctx, unit, index, tz, metrics, Ok(publisher))
    }

    fn build(
        ctx: Context,
        unit: Arc<Unit>,
        index: usize,
        tz: chrono_tz::Tz,
        metrics: Option<Arc<Metrics>>,
        publisher: Result<Arc<dyn Publisher>, String>,
    ) -> Outbox {
        let account = unit.accounts[index].clone();
        let credential = account.publisher.secret().and_then(|s| s.stamp());
        Outbox {
            account: AccountKey {
                unit: unit.id.clone(),
                account: account.name.clone(),
            },
            accounts: unit.account_names(),
            limits: account.limits,
            unit,
            publisher,
            ctx,
            tz,
            metrics,
            session: Default::default(),
            credential,
        }
    }

    pub fn account(&self) -> &AccountKey {
        &self.account
    }

    /// Nothing is under way through this outbox (its lock is free).
    fn idle(&self) -> bool {
        self.session.try_lock().is_ok()
    }

    /// Whether the account's credential file is not the one this outbox's
    /// publisher was built from (a stat, no read).
    pub fn credential_changed(&self) -> bool {
        let now = self
            .unit
            .accounts
            .iter()
            .find(|a| a.name == self.account.account);
        now.and_then(|a| a.publisher.secret())
            .and_then(|s| s.stamp())
            != self.credential
    }

    fn now(&self) -> DateTime<Utc> {
        self.ctx.clock.now()
    }

    /// Send the account's next due item (priority first, then oldest), if
    /// the gate and the binding allow: automatic publishing.
    pub async fn next(&self) -> Result<Sent, OutboxError> {
        let mut session = self.session.lock().await;
        self.adopt(&mut session).await?;
        self.reconcile().await?;
        let now = self.now();
        let Some(item) = self
            .ctx
            .store
            .next_due_for(&self.unit.id, &self.account.account, now)?
        else {
            return Ok(Sent::Idle);
        };
        if let Some(stop) = self.gate(&mut session, PublishPath::Auto).await? {
            return Ok(stop);
        }
        self.ctx.hooks.at(Point::OutboxBeforeTake).await;
        self.take_and_send(&mut session, &item.id, PublishPath::Auto)
            .await
    }

    /// Send item `id` now, through the same steps (an editor's push or a
    /// broadcast: the spacing is waived, nothing else is). The item must be
    /// `queued` (or due for a retry); the caller makes it so through the
    /// store's check-and-set.
    pub async fn send(&self, id: &str, path: PublishPath) -> Result<Sent, OutboxError> {
        let mut session = self.session.lock().await;
        self.adopt(&mut session).await?;
        self.reconcile().await?;
        if let Some(stop) = self.gate(&mut session, path).await? {
            return Ok(stop);
        }
        self.take_and_send(&mut session, id, path).await
    }

    /// Settle what an earlier run left under way on this account (see
    /// `reconcile`); what could not be settled, in sentences.
    pub async fn settle_unknown(&self) -> Result<Vec<String>, OutboxError> {
        let mut session = self.session.lock().await;
        self.adopt(&mut session).await?;
        self.reconcile().await
    }

    /// Items left `publishing` are looked up on the account. Each is settled
    /// or left alone; a failing lookup leaves it for the next time (it is
    /// never sent meanwhile) and does not hold the account's other items.
    async fn reconcile(&self) -> Result<Vec<String>, OutboxError> {
        let mut unsettled = Vec::new();
        if !self.ctx.store.any_in(&self.unit.id, "publishing")? {
            return Ok(unsettled);
        }
        let Ok(publisher) = &self.publisher else {
            return Ok(unsettled);
        };
        // Never before the platform itself may still show it.
        let grace = self.ctx.publish_grace.max(
            chrono::Duration::from_std(publisher.listing_delay()).unwrap_or(chrono::Duration::MAX),
        );
        for (item, since) in self
            .ctx
            .store
            .delivering(&self.unit.id, &self.account.account)?
        {
            let post = to_post(&item, &self.unit, self.tz)?;
            match publisher.lookup(&post).await {
                Ok(Some(remote)) => {
                    tracing::info!(unit = %self.unit.id, account = %self.account.account, item = %item.id, url = %item.url, "reconciled: already on the account");
                    self.record_published_with(&item, remote, vec![], PublishPath::Auto)
                        .await?;
                }
                Ok(None) if self.now() - since >= grace => {
                    tracing::info!(unit = %self.unit.id, account = %self.account.account, item = %item.id, url = %item.url, "reconciled: not on the account, queued again");
                    self.requeue(&item.id).await?;
                }
                Ok(None) => unsettled.push(format!(
                    "item {} ({}): outcome unknown, not listed on the account yet; looked up again before it is ever sent",
                    item.id, item.url
                )),
                Err(e) => unsettled.push(format!(
                    "account {}: cannot check whether item {} ({}) was published ({e}); it is not sent meanwhile",
                    self.account.account, item.id, item.url
                )),
            }
        }
        Ok(unsettled)
    }

    /// This account's step with an item it is sending: a refusal means
    /// someone else settled it meanwhile, which is fine.
    async fn step(&self, id: &str, step: DeliveryStep) -> Result<Option<Item>, OutboxError> {
        match self
            .ctx
            .store
            .deliver(id, &self.account.account, &self.accounts, self.now(), step)
            .await
        {
            Ok(i) => Ok(Some(i)),
            Err(e) if e.is_refusal() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Back to pending on this account (nothing was sent, or it certainly
    /// did not arrive).
    async fn requeue(&self, id: &str) -> Result<Option<Item>, OutboxError> {
        self.step(id, DeliveryStep::Requeue).await
    }

    /// Stores of the one-account format: this account (the unit's first)
    /// adopts what their items say of publishing, once per process.
    async fn adopt(&self, session: &mut Session) -> Result<(), OutboxError> {
        if !session.adopted {
            if self.accounts.first() == Some(&self.account.account) {
                let n = self
                    .ctx
                    .store
                    .adopt_deliveries(&self.unit.id, &self.account.account)
                    .await?;
                if n > 0 {
                    tracing::info!(unit = %self.unit.id, account = %self.account.account, items = n, "deliveries of the one-account store adopted");
                }
            }
            session.adopted = true;
        }
        Ok(())
    }

    /// Anything that stops a send now: a pause, a platform's wait, the
    /// spacing, the daily cap, the binding.
    async fn gate(
        &self,
        session: &mut Session,
        path: PublishPath,
    ) -> Result<Option<Sent>, OutboxError> {
        let now = self.now();
        let mut st = self.ctx.store.account_state(&self.account)?;
        if let Some(t) = st.not_before
            && t > now
        {
            return Ok(Some(Sent::Waiting {
                until: t,
                why: Wait::RateLimited("Retry-After".into()),
            }));
        }
        if path == PublishPath::Auto
            && !self.limits.min_interval.is_zero()
            && let Some(last) = self
                .ctx
                .store
                .last_delivered(&self.unit.id, &self.account.account)?
        {
            let next = last
                + chrono::Duration::from_std(self.limits.min_interval)
                    .unwrap_or(chrono::Duration::MAX);
            if next > now {
                return Ok(Some(Sent::Waiting {
                    until: next,
                    why: Wait::Spacing,
                }));
            }
        }
        if let Some(cap) = self.limits.daily_cap {
            let (start, tomorrow) = self.day(now);
            if self
                .ctx
                .store
                .delivered_since(&self.unit.id, &self.account.account, start)?
                >= cap as usize
            {
                return Ok(Some(Sent::Waiting {
                    until: tomorrow,
                    why: Wait::DailyCap(cap),
                }));
            }
        }
        self.binding(session, &mut st, now).await
    }

    /// Start of `now`'s day and of the next, in the daemon's time zone.
    fn day(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let local = now.with_timezone(&self.tz);
        let start = self
            .tz
            .with_ymd_and_hms(local.year(), local.month(), local.day(), 0, 0, 0)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        (start, start + chrono::Duration::days(1))
    }

    /// The binding check (see the module docs). `None`: it matches.
    async fn binding(
        &self,
        session: &mut Session,
        st: &mut AccountState,
        now: DateTime<Utc>,
    ) -> Result<Option<Sent>, OutboxError> {
        let fresh = session.checked.is_some_and(|t| now - t < BINDING_RECHECK);
        if fresh && st.paused.is_none() {
            return Ok(None);
        }
        if let Some(p) = &st.paused
            && session.tried.is_some_and(|t| now - t < PAUSED_RECHECK)
        {
            return Ok(Some(Sent::Paused(p.clone())));
        }
        if let Some(t) = session.tried
            && st.paused.is_none()
            && session.checked.is_none()
            && now - t < BINDING_RETRY
        {
            return Ok(Some(Sent::Waiting {
                until: t + BINDING_RETRY,
                why: Wait::BindingUnchecked("checked again shortly".into()),
            }));
        }
        session.tried = Some(now);
        let publisher = match &self.publisher {
            Ok(p) => p,
            Err(detail) => {
                let reason = PauseReason::NotConfigured {
                    detail: detail.clone(),
                };
                return self.pause(st, reason, now).await.map(Some);
            }
        };
        match publisher.verify().await {
            Ok(info) if same_name(&info.display_name, &self.account.account) => {
                let was = st.paused.take();
                st.verified = Some((now, info.display_name));
                self.ctx.store.put_account_state(&self.account, st).await?;
                session.checked = Some(now);
                if let Some(p) = was {
                    tracing::info!(unit = %self.unit.id, account = %self.account.account, "account resumed (was paused: {})", p.reason);
                }
                self.gauge_paused(false);
                Ok(None)
            }
            Ok(info) => {
                let reason = PauseReason::WrongAccount {
                    expected: self.account.account.clone(),
                    actual: info.display_name,
                };
                self.pause(st, reason, now).await.map(Some)
            }
            Err(PublishError::LoginExpired(detail)) => self
                .pause(st, PauseReason::LoginExpired { detail }, now)
                .await
                .map(Some),
            Err(PublishError::Paused(reason)) => self.pause(st, reason, now).await.map(Some),
            Err(e) => {
                tracing::warn!(unit = %self.unit.id, account = %self.account.account, "account binding not checked: {e}; nothing is sent until it is");
                Ok(Some(Sent::Waiting {
                    until: now + BINDING_RETRY,
                    why: Wait::BindingUnchecked(e.to_string()),
                }))
            }
        }
    }

    async fn pause(
        &self,
        st: &mut AccountState,
        reason: PauseReason,
        now: DateTime<Utc>,
    ) -> Result<Sent, OutboxError> {
        let pause = match &st.paused {
            // Same cause: keep since when.
            Some(p) if p.reason == reason => p.clone(),
            _ => {
                tracing::error!(unit = %self.unit.id, account = %self.account.account, "account paused: {reason}");
                Pause { reason, since: now }
            }
        };
        st.paused = Some(pause.clone());
        self.ctx.store.put_account_state(&self.account, st).await?;
        self.gauge_paused(true);
        Ok(Sent::Paused(pause))
    }

    /// A pause the platform's answer to a publish called for.
    async fn pause_after_send(
        &self,
        session: &mut Session,
        reason: PauseReason,
        now: DateTime<Utc>,
    ) -> Result<Sent, OutboxError> {
        let mut st = self.ctx.store.account_state(&self.account)?;
        // Checked again only after PAUSED_RECHECK (or a reload): the binding
        // check may well pass while publishing does not.
        session.tried = Some(now);
        session.checked = None;
        self.pause(&mut st, reason, now).await
    }

    /// Take the item (`publishing`, flushed), send it, record the outcome.
    async fn take_and_send(
        &self,
        session: &mut Session,
        id: &str,
        path: PublishPath,
    ) -> Result<Sent, OutboxError> {
        let store = &self.ctx.store;
        let started = self.now();
        let mut item = match store
            .take(id, &self.account.account, &self.accounts, started, path)
            .await
        {
            Ok(item) => item,
            Err(StoreError::Refused { state, .. }) => {
                return Ok(Sent::Skipped {
                    item: id.to_string(),
                    state,
                });
            }
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = store.load_body(&mut item) {
            // Only a file deleted behind our back gets here (bodies are
            // durable before their records). Nothing was sent: the article
            // is fetched again rather than published empty.
            let reason = e.to_string();
            tracing::error!(unit = %self.unit.id, item = %id, url = %item.url, "body lost: {reason}; its article is fetched again");
            self.step(
                id,
                DeliveryStep::BodyLost {
                    reason: reason.clone(),
                },
            )
            .await?;
            self.count_failure();
            return Ok(Sent::Failed {
                item: id.to_string(),
                reason: format!("正文丢失（{reason}），将重新抓取原文"),
            });
        }
        // Never an empty post. Review holds items without a body, but a body
        // can also have gone since (retention, `[daemon] keep_bodies_days`).
        if item.html.trim().is_empty() && item.text.trim().is_empty() {
            let reason =
                "没有可发布的正文（未提取到，或已按保留期删除）；请重新推送原文链接以再次抓取"
                    .to_string();
            self.step(
                &item.id,
                DeliveryStep::Hold {
                    reason: reason.clone(),
                },
            )
            .await?;
            tracing::warn!(unit = %self.unit.id, item = %item.id, url = %item.url, "{reason}");
            return Ok(Sent::Held {
                item: item.id,
                reason,
            });
        }
        let post = to_post(&item, &self.unit, self.tz)?;
        self.ctx.hooks.at(Point::OutboxBeforeSend).await;
        let Ok(publisher) = &self.publisher else {
            // The gate pauses an account without a publisher; only a race
            // with a reload gets here. Nothing was sent.
            self.requeue(&item.id).await?;
            return Ok(Sent::Skipped {
                item: item.id,
                state: StateName::Queued,
            });
        };
        let outcome = publisher.publish(&post).await;
        let now = self.now();
        Ok(match outcome {
            Outcome::Published { remote, notes } => {
                let title = item.title.clone();
                self.record_published_with(&item, remote.clone(), notes, path)
                    .await?;
                Sent::Published {
                    item: item.id,
                    title,
                    remote,
                }
            }
            Outcome::RetryLater { after, reason } => {
                // A rate limit is not a failure of the item: it goes back in
                // the queue as it was, and the account waits exactly as long
                // as the platform asked.
                let after = chrono::Duration::from_std(after)
                    .unwrap_or(chrono::Duration::minutes(5))
                    .max(chrono::Duration::seconds(1));
                let until = now + after;
                self.requeue(&item.id).await?;
                let mut st = self.ctx.store.account_state(&self.account)?;
                st.not_before = Some(until);
                self.ctx.store.put_account_state(&self.account, &st).await?;
                tracing::warn!(unit = %self.unit.id, account = %self.account.account, item = %item.id, "platform asks to wait: {reason}; sending again after {}s (at {until})", after.num_seconds());
                Sent::Waiting {
                    until,
                    why: Wait::RateLimited(reason),
                }
            }
            Outcome::LoginExpired { reason } => {
                self.requeue(&item.id).await?;
                self.pause_after_send(session, PauseReason::LoginExpired { detail: reason }, now)
                    .await?
            }
            Outcome::Hold { reason } => {
                self.step(
                    &item.id,
                    DeliveryStep::Hold {
                        reason: reason.clone(),
                    },
                )
                .await?;
                tracing::warn!(unit = %self.unit.id, account = %self.account.account, item = %item.id, url = %item.url, "held: {reason}");
                Sent::Held {
                    item: item.id,
                    reason,
                }
            }
            Outcome::Paused { reason } => {
                self.requeue(&item.id).await?;
                self.pause_after_send(session, reason, now).await?
            }
            Outcome::Rejected { code, message } => {
                let code = code.map(|c| format!("code {c}: ")).unwrap_or_default();
                let reason = format!("rejected by the platform: {code}{message}");
                self.step(
                    &item.id,
                    DeliveryStep::Fail {
                        reason: reason.clone(),
                    },
                )
                .await?;
                self.count_failure();
                tracing::error!(unit = %self.unit.id, account = %self.account.account, item = %item.id, url = %item.url, "{reason}");
                Sent::Failed {
                    item: item.id,
                    reason,
                }
            }
            Outcome::Unknown { reason } => {
                // It may be on the account: look before anything is sent again.
                match publisher.lookup(&post).await {
                    Ok(Some(remote)) => {
                        let title = item.title.clone();
                        self.record_published_with(&item, remote.clone(), vec![], path)
                            .await?;
                        Sent::Published {
                            item: item.id,
                            title,
                            remote,
                        }
                    }
                    // Stays `publishing`; reconciling decides later.
                    _ => {
                        tracing::warn!(unit = %self.unit.id, account = %self.account.account, item = %item.id, url = %item.url, "publish outcome unknown ({reason}); looked up before any retry");
                        self.count_failure();
                        Sent::Unknown {
                            item: item.id,
                            reason,
                        }
                    }
                }
            }
        })
    }

    async fn record_published_with(
        &self,
        item: &Item,
        remote: publish::Remote,
        notes: Vec<String>,
        path: PublishPath,
    ) -> Result<(), OutboxError> {
        let now = self.now();
        let done = self
            .step(
                &item.id,
                DeliveryStep::Published {
                    remote_id: remote.id.clone(),
                    remote_url: remote.url.clone(),
                    notes,
                },
            )
            .await?;
        if done.is_some() {
            tracing::info!(unit = %self.unit.id, account = %self.account.account, item = %item.id, url = %item.url, remote = %remote.id, path = path.as_str(), "published");
            if let Some(m) = &self.metrics {
                let (unit, account) = (&self.unit.id, &self.account.account);
                m.published(unit, account, path);
                m.last_publish(unit, account, now);
                m.publish_latency(unit, now - item.discovered_at);
            }
        }
        Ok(())
    }

    fn count_failure(&self) {
        if let Some(m) = &self.metrics {
            m.publish_failed(&self.unit.id, &self.account.account);
        }
    }

    fn gauge_paused(&self, paused: bool) {
        if let Some(m) = &self.metrics {
            m.account_paused(&self.unit.id, &self.account.account, paused);
        }
    }
}

/// The platform's display name is the account's: the same up to spaces,
/// full-width forms and case (the review's matching form).
fn same_name(platform: &str, configured: &str) -> bool {
    crate::review::normalize(platform) == crate::review::normalize(configured)
}

/// The post every platform gets for `item`: its body closed by the unit's
/// source line (`publish::source_line`). Rendered from the stored item each
/// time, so a re-send after a crash carries the line once, like the first.
pub fn to_post(item: &Item, unit: &Unit, tz: chrono_tz::Tz) -> Result<Post, OutboxError> {
    let (html, text) = match crate::publish::source_line::render(unit, item, tz) {
        Some(line) => crate::publish::source_line::append(&item.html, &item.text, &line),
        None => (item.html.clone(), item.text.clone()),
    };
    Ok(Post {
        item_id: item.id.clone(),
        title: item.title.clone(),
        html,
        text,
        source_url: Url::parse(&item.url).map_err(|source| OutboxError::BadUrl {
            item: item.id.clone(),
            source,
        })?,
        images: item
            .images
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect(),
        published_at: item.published_at,
        author: item.author.clone(),
        source: item.origin.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_match_up_to_spaces_and_full_width_forms() {
        assert!(same_name("某市科协", "某市科协"));
        assert!(same_name(" 某市 科协 ", "某市科协"));
        assert!(same_name("ＡＢＣ科协", "ABC科协"));
        assert!(!same_name("某省科协", "某市科协"));
    }

    /// A renewed cookie replaces the account's outbox, but never while a
    /// send holds the old one's lock: two outboxes of one account would
    /// send at once (spacing and the daily cap broken).
    #[tokio::test]
    async fn a_renewed_credential_never_replaces_an_outbox_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let cookie = dir.path().join("cookie");
        std::fs::write(&cookie, "sessionid=a; csrftoken=b").unwrap();
        // A toutiao account whose cookie is the file `cookie`.
        let text = include_str!("../tests/fixtures/check/one_unit.toml")
            .replace("{daemon}", "")
            .replace("{schedule}", "*/10 * * * *")
            .replace("{cookie}", "cookie_file = \"cookie\"");
        let config = crate::config::parse(&text, &dir.path().join("autosync.toml")).unwrap();
        let ctx = Context::open(
            &config,
            Arc::new(crate::clock::SystemClock),
            Default::default(),
        )
        .unwrap();
        let outboxes = Outboxes::new(ctx, config.daemon.timezone, None);
        let unit = &config.units[0];
        let first = outboxes.get(unit, 0);
        let busy = first.session.lock().await;
        crate::credential::write_private(&cookie, "sessionid=c; csrftoken=d").unwrap();
        assert!(
            Arc::ptr_eq(&first, &outboxes.get(unit, 0)),
            "replaced while in use"
        );
        assert_eq!(outboxes.renewed(unit), vec!["示例省科协".to_string()]);
        assert!(
            Arc::ptr_eq(&first, &outboxes.get(unit, 0)),
            "dropped while in use"
        );
        drop(busy);
        assert!(
            !Arc::ptr_eq(&first, &outboxes.get(unit, 0)),
            "old cookie kept"
        );
    }
}
