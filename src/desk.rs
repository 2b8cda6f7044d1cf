//! The editors' desk: what an editor can do to items, whoever asks (the HTTP
//! API, the web page, or the CLI when no daemon runs). Every action checks
//! the editor's reach, is written to the audit log with before and after,
//! and publishes only through the store's check-and-set, so **nothing an
//! editor does can publish an item twice**.

use crate::config::{Config, Editor};
use crate::pipeline::{self, Context, Step};
use crate::source::{self, Entry};
use crate::store::{AuditEntry, Inserted, Item, STATE_NAMES, State};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use url::Url;

/// Why an action was refused; each maps to an HTTP status.
/// How many items a list shows when not told, and at most.
pub const DEFAULT_LIST: usize = 200;
pub const MAX_LIST: usize = 1000;

/// How many items a list asked for `asked` shows.
pub fn list_limit(asked: usize) -> usize {
    asked.clamp(1, MAX_LIST)
}

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("no valid token")]
    Unauthorized,
    #[error("editor {editor} may not act on unit {unit}")]
    Forbidden { editor: String, unit: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Failed(String),
    #[error("no editors_file is configured: the desk is closed")]
    Closed,
}

impl DeskError {
    pub fn status(&self) -> u16 {
        match self {
            DeskError::Unauthorized => 401,
            DeskError::Forbidden { .. } => 403,
            DeskError::NotFound(_) => 404,
            DeskError::Conflict(_) => 409,
            DeskError::BadInput(_) => 400,
            DeskError::Failed(_) => 502,
            DeskError::Closed => 503,
        }
    }
}

fn store_err(e: impl std::fmt::Display) -> DeskError {
    DeskError::Failed(format!("store: {e}"))
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
        }
    }
}

/// One account's answer to a push or broadcast.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Delivery {
    pub unit: String,
    pub account: String,
    /// `published`, `skipped` or `failed`.
    pub outcome: String,
    pub detail: String,
    pub item: Option<String>,
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
}

impl Desk {
    pub fn new(ctx: Context, config: Arc<Config>) -> Desk {
        Desk {
            ctx,
            config,
            wake: None,
        }
    }

    fn reach(&self, ed: &Editor, unit: &str) -> Result<(), DeskError> {
        if self.config.unit(unit).is_none() {
            return Err(DeskError::NotFound(format!("unit {unit}")));
        }
        if !ed.may_act_on(unit) {
            return Err(DeskError::Forbidden {
                editor: ed.name.clone(),
                unit: unit.to_string(),
            });
        }
        Ok(())
    }

    /// The item, if the editor may act on its unit.
    pub fn item(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let item = self.ctx.store.get(id).map_err(store_err)?.ok_or_else(|| {
            DeskError::NotFound(format!(
                "item {id} (items done more than archive_after_days ago are archived)"
            ))
        })?;
        if !ed.may_act_on(&item.unit) {
            return Err(DeskError::Forbidden {
                editor: ed.name.clone(),
                unit: item.unit.clone(),
            });
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
                "unknown state {s:?}; one of {}",
                STATE_NAMES.join(", ")
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
        action: &str,
        item: Option<&Item>,
        before: Option<String>,
        after: Option<String>,
        detail: Option<String>,
    ) -> Result<(), DeskError> {
        let entry = AuditEntry {
            at: self.ctx.clock.now(),
            editor: ed.name.clone(),
            action: action.to_string(),
            unit: item.map(|i| i.unit.clone()),
            item: item.map(|i| i.id.clone()),
            before,
            after,
            detail,
        };
        self.ctx.store.audit(&entry).await.map_err(store_err)
    }

    fn woke(&self, unit: &str) {
        if let Some(w) = &self.wake {
            w(unit);
        }
    }

    /// Held → queued.
    pub async fn approve(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let mut item = self.item(ed, id)?;
        if !matches!(item.state, State::Held { .. }) {
            return Err(DeskError::Conflict(format!(
                "item {id} is {}, not held",
                item.state.name()
            )));
        }
        let before = item.state.name().to_string();
        item.state = State::Queued;
        self.save(&item).await?;
        self.record(
            ed,
            "approve",
            Some(&item),
            Some(before),
            Some("queued".into()),
            None,
        )
        .await?;
        self.woke(&item.unit);
        Ok(item)
    }

    /// Not to be published, with a reason.
    pub async fn reject(&self, ed: &Editor, id: &str, reason: &str) -> Result<Item, DeskError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(DeskError::BadInput(
                "a reason of 1 to 500 characters is required".into(),
            ));
        }
        let mut item = self.item(ed, id)?;
        if !matches!(
            item.state,
            State::Held { .. } | State::Queued | State::Failed { .. }
        ) {
            return Err(DeskError::Conflict(format!(
                "item {id} is {} and cannot be rejected",
                item.state.name()
            )));
        }
        let before = item.state.name().to_string();
        item.state = State::Rejected {
            reason: reason.to_string(),
        };
        self.save(&item).await?;
        self.record(
            ed,
            "reject",
            Some(&item),
            Some(before),
            Some("rejected".into()),
            Some(reason.to_string()),
        )
        .await?;
        Ok(item)
    }

    /// Jump the publish queue.
    pub async fn priority(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let mut item = self.item(ed, id)?;
        if !matches!(
            item.state,
            State::Held { .. } | State::Queued | State::Failed { .. }
        ) {
            return Err(DeskError::Conflict(format!(
                "item {id} is {}; priority no longer applies",
                item.state.name()
            )));
        }
        let before = format!("priority={}", item.priority);
        item.priority = true;
        self.save(&item).await?;
        self.record(
            ed,
            "priority",
            Some(&item),
            Some(before),
            Some("priority=true".into()),
            None,
        )
        .await?;
        self.woke(&item.unit);
        Ok(item)
    }

    /// Change the title before publishing.
    pub async fn edit_title(&self, ed: &Editor, id: &str, title: &str) -> Result<Item, DeskError> {
        let title = title.trim();
        let n = title.chars().count();
        if !(2..=100).contains(&n) {
            return Err(DeskError::BadInput(format!(
                "a title needs 2 to 100 characters, not {n}"
            )));
        }
        let mut item = self.item(ed, id)?;
        if matches!(
            item.state,
            State::Published { .. } | State::Publishing { .. }
        ) {
            return Err(DeskError::Conflict(format!(
                "item {id} is {}; its title can no longer change",
                item.state.name()
            )));
        }
        let before = item.title.clone();
        item.title = title.to_string();
        self.save(&item).await?;
        self.record(
            ed,
            "title",
            Some(&item),
            Some(before),
            Some(title.to_string()),
            None,
        )
        .await?;
        Ok(item)
    }

    async fn save(&self, item: &Item) -> Result<(), DeskError> {
        let mut item = item.clone();
        item.updated_at = self.ctx.clock.now();
        self.ctx.store.put(&item).map_err(store_err)?;
        self.ctx.store.flush().await.map_err(store_err)
    }

    /// Publish one item to its unit's account now (approving it if held).
    pub async fn push_now(&self, ed: &Editor, id: &str) -> Result<Delivery, DeskError> {
        let mut item = self.item(ed, id)?;
        let before = item.state.name().to_string();
        match item.state {
            State::Held { .. } | State::Queued | State::Failed { .. } => {}
            _ => {
                return Err(DeskError::Conflict(format!(
                    "item {id} is {} and cannot be pushed",
                    item.state.name()
                )));
            }
        }
        item.state = State::Queued;
        item.priority = true;
        self.save(&item).await?;
        let d = self.publish_item(&item).await?;
        self.record(
            ed,
            "push",
            Some(&item),
            Some(before),
            Some(d.outcome.clone()),
            Some(d.detail.clone()),
        )
        .await?;
        Ok(d)
    }

    /// Send a queued item through its unit's publisher, check-and-set.
    async fn publish_item(&self, item: &Item) -> Result<Delivery, DeskError> {
        let unit = self
            .config
            .unit(&item.unit)
            .ok_or_else(|| DeskError::NotFound(format!("unit {}", item.unit)))?;
        let mut d = Delivery {
            unit: unit.id.clone(),
            account: unit.account_name.clone(),
            outcome: "failed".into(),
            detail: String::new(),
            item: Some(item.id.clone()),
        };
        let publisher = match pipeline::build_publisher(unit, &self.ctx) {
            Ok(p) => p,
            Err(e) => {
                d.detail = format!("{e}; the item stays queued");
                return Ok(d);
            }
        };
        match pipeline::publish_one(&self.ctx, unit, publisher.as_ref(), item).await {
            Ok(Step::Published(p)) => {
                d.outcome = "published".into();
                d.detail = p.remote_url.unwrap_or(p.remote_id);
            }
            Ok(Step::Skipped(_)) => {
                d.outcome = "skipped".into();
                d.detail = "already being published or published".into();
            }
            Ok(Step::Failed(e)) | Ok(Step::Stop(e)) => d.detail = e,
            Err(e) => return Err(store_err(e)),
        }
        Ok(d)
    }

    /// Fetch and extract `url` and publish it to `unit`'s account now,
    /// through the same dedupe: an article the unit already has is refused
    /// unless `force`.
    pub async fn push_url(
        &self,
        ed: &Editor,
        url: &str,
        unit_id: &str,
        force: bool,
    ) -> Result<Delivery, DeskError> {
        self.reach(ed, unit_id)?;
        let unit = self.config.unit(unit_id).expect("checked by reach");
        let url = Url::parse(url.trim())
            .map_err(|e| DeskError::BadInput(format!("{url:?} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeskError::BadInput(format!("{url} is not an http(s) URL")));
        }
        let url = source::canonicalize(&url);
        let entry = Entry {
            url: url.clone(),
            guid: None,
            title: None,
            published_at: None,
            author: None,
            content_html: None,
            summary: None,
        };
        let store = &self.ctx.store;
        if let Some(id) = store
            .lookup(unit_id, &pipeline::identities(&entry))
            .map_err(store_err)?
            && !force
        {
            let state = store
                .get(&id)
                .map_err(store_err)?
                .map(|i| i.state.name())
                .unwrap_or("?");
            return Err(DeskError::Conflict(format!(
                "unit {unit_id} already has {url} as item {id} ({state}); use force to push it again"
            )));
        }
        let content = pipeline::obtain(&self.ctx, unit, &entry, true)
            .await
            .map_err(|e| DeskError::Failed(e.msg))?;
        let now = self.ctx.clock.now();
        let mut item = pipeline::new_item(unit, "push", &entry, now, State::Queued);
        pipeline::fill(&mut item, content);
        item.priority = true;
        let fp = format!("fp:{}", item.fingerprint.clone().unwrap_or_default());
        if let Some(id) = store
            .lookup(unit_id, std::slice::from_ref(&fp))
            .map_err(store_err)?
            && !force
        {
            return Err(DeskError::Conflict(format!(
                "unit {unit_id} already has this article as item {id}; use force to push it again"
            )));
        }
        let identities = if force {
            // A forced push is a new item of its own, known only by itself.
            item.id = Item::id_for(unit_id, &format!("{url}#push-{}", now.timestamp_millis()));
            vec![format!("push:{}", item.id)]
        } else {
            let mut ids = pipeline::identities(&entry);
            ids.push(fp);
            ids
        };
        if let Inserted::Known(id) = store
            .insert_new(&item, &identities)
            .await
            .map_err(store_err)?
        {
            return Err(DeskError::Conflict(format!(
                "unit {unit_id} already has this article as item {id}"
            )));
        }
        store.flush().await.map_err(store_err)?;
        let d = self.publish_item(&item).await?;
        self.record(
            ed,
            "push-url",
            Some(&item),
            None,
            Some(d.outcome.clone()),
            Some(format!("{url}{}", if force { " (forced)" } else { "" })),
        )
        .await?;
        Ok(d)
    }

    /// Push one item to every account in `to`'s subtree, each through its
    /// own publisher and recorded as an item of that unit; an account that
    /// already has the article is skipped.
    pub async fn broadcast(
        &self,
        ed: &Editor,
        id: &str,
        to: &str,
    ) -> Result<Vec<Delivery>, DeskError> {
        let origin = self.item(ed, id)?;
        self.reach(ed, to)?;
        let targets = self.config.subtree(to);
        let outside: Vec<&str> = targets
            .iter()
            .filter(|u| !ed.may_act_on(&u.id))
            .map(|u| u.id.as_str())
            .collect();
        if !outside.is_empty() {
            return Err(DeskError::Forbidden {
                editor: ed.name.clone(),
                unit: outside.join(", "),
            });
        }
        if origin.text.trim().is_empty() {
            return Err(DeskError::Conflict(format!(
                "item {id} has no content to broadcast"
            )));
        }
        let url =
            Url::parse(&origin.url).map_err(|e| DeskError::Failed(format!("item {id}: {e}")))?;
        let mut out = Vec::new();
        for unit in targets {
            let skip = |detail: String, item: Option<String>| Delivery {
                unit: unit.id.clone(),
                account: unit.account_name.clone(),
                outcome: "skipped".into(),
                detail,
                item,
            };
            let mut ids = vec![url.to_string()];
            if let Some(fp) = &origin.fingerprint {
                ids.push(format!("fp:{fp}"));
            }
            let store = &self.ctx.store;
            let existing = store.lookup(&unit.id, &ids).map_err(store_err)?;
            let existing = match existing {
                Some(eid) => store.get(&eid).map_err(store_err)?,
                None => None,
            };
            let item = match existing {
                Some(i)
                    if matches!(
                        i.state,
                        State::Queued | State::Held { .. } | State::Failed { .. }
                    ) =>
                {
                    // The unit has it but has not published it: publish that item.
                    let mut i = i;
                    i.state = State::Queued;
                    i.priority = true;
                    self.save(&i).await?;
                    i
                }
                Some(i) => {
                    out.push(skip(
                        format!("already has it ({})", i.state.name()),
                        Some(i.id),
                    ));
                    continue;
                }
                None => {
                    let now = self.ctx.clock.now();
                    let mut i = origin.clone();
                    i.id = Item::id_for(&unit.id, url.as_str());
                    i.unit = unit.id.clone();
                    i.source = format!("broadcast:{}", origin.id);
                    i.state = State::Queued;
                    i.priority = true;
                    i.notes = vec![format!("broadcast from {} by {}", origin.unit, ed.name)];
                    i.discovered_at = now;
                    i.updated_at = now;
                    if let Inserted::Known(k) =
                        store.insert_new(&i, &ids).await.map_err(store_err)?
                    {
                        out.push(skip("already has it".into(), Some(k)));
                        continue;
                    }
                    store.flush().await.map_err(store_err)?;
                    i
                }
            };
            out.push(self.publish_item(&item).await?);
        }
        let summary: Vec<String> = out
            .iter()
            .map(|d| format!("{}:{}", d.unit, d.outcome))
            .collect();
        self.record(
            ed,
            "broadcast",
            Some(&origin),
            None,
            Some(to.to_string()),
            Some(summary.join(" ")),
        )
        .await?;
        Ok(out)
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

/// The audit log as CSV (RFC 4180), for export.
pub fn audit_csv(entries: &[AuditEntry]) -> String {
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
    let mut out = String::from("at,editor,action,unit,item,before,after,detail\r\n");
    for e in entries {
        let row = [
            e.at.to_rfc3339(),
            e.editor.clone(),
            e.action.clone(),
            e.unit.clone().unwrap_or_default(),
            e.item.clone().unwrap_or_default(),
            e.before.clone().unwrap_or_default(),
            e.after.clone().unwrap_or_default(),
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
            action: "reject".into(),
            unit: Some("u".into()),
            item: Some("i".into()),
            before: Some("held".into()),
            after: Some("rejected".into()),
            detail: Some("=HYPERLINK(\"x\")".into()),
        };
        let csv = audit_csv(&[e]);
        assert!(csv.starts_with("at,editor,action,unit,item,before,after,detail\r\n"));
        assert!(csv.contains("\"王\"\"编辑\"\"\""), "{csv}");
        assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{csv}");
    }
}
