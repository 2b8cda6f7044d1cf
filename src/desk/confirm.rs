//! The desk's irreversible actions, each in two steps: first what would
//! happen is shown, then the editor confirms **that**.
//!
//! - A hand push fetches and extracts the URL and stores the item *held*,
//!   with the hold reason [`AWAITING_CONFIRM`]: the preview the editor sees
//!   is that stored item, and confirming publishes that stored item (held →
//!   queued through the store's check-and-set, then the account's outbox).
//!   A second confirm (a double click, a replayed request) finds the item
//!   no longer held and is refused, so it publishes once. Cancelling rejects
//!   the item. A confirm may carry the version it saw (`updated_at`), so an
//!   item changed after the preview (a body edit) is not published unseen.
//! - A broadcast first lists every unit of the subtree and what would
//!   happen there (sent, already has it, out of the editor's reach), with a
//!   digest of that list; the confirm carries the digest and is refused when
//!   the list has changed since.
//! - A reject can be undone for `[daemon] undo_reject_days`.

use super::{Delivery, DeliveryOutcome, Desk, DeskError, refused, same_token, store_err};
use crate::config::Editor;
use crate::ingest;
use crate::outbox::PublishPath;
use crate::source::{self, Entry};
use crate::store::{AuditAction, Inserted, Item, State, StateName, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

/// The hold reason of a hand push waiting for its editor's confirm.
pub const AWAITING_CONFIRM: &str = "待确认推送";

/// Whether `item` is a hand push waiting for its confirm.
pub fn awaiting_confirm(item: &Item) -> bool {
    matches!(&item.state, State::Held { reason } if reason == AWAITING_CONFIRM)
}

/// The version of an item a preview showed: a confirm carrying another is
/// refused (the item changed after it was shown).
pub fn version(item: &Item) -> String {
    item.updated_at.timestamp_micros().to_string()
}

/// What a broadcast would do in one unit of the subtree.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PlanStep {
    /// Its accounts get it.
    Send,
    /// It has the article already (published, being sent, rejected): not
    /// sent again.
    Has,
    /// Outside the editor's reach: the broadcast cannot be confirmed.
    OutOfReach,
}

impl PlanStep {
    pub fn zh(self) -> &'static str {
        match self {
            PlanStep::Send => "将推送",
            PlanStep::Has => "已有，不再推送",
            PlanStep::OutOfReach => "无权推送",
        }
    }
}

/// One unit's line of a broadcast plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanRow {
    pub unit: String,
    pub org_name: String,
    pub accounts: Vec<String>,
    pub step: PlanStep,
    /// Why, in Chinese (e.g. the state of the item the unit has).
    pub detail: String,
}

/// What a broadcast of `item` to `to`'s subtree would do, and the digest a
/// confirm must carry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BroadcastPlan {
    pub item: String,
    pub to: String,
    pub rows: Vec<PlanRow>,
    pub digest: String,
}

impl BroadcastPlan {
    /// It can be confirmed: every unit is in reach and one at least gets it.
    pub fn may_confirm(&self) -> bool {
        self.rows.iter().all(|r| r.step != PlanStep::OutOfReach)
            && self.rows.iter().any(|r| r.step == PlanStep::Send)
    }
}

/// A hand push stored for its confirm, and what the preview needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PushPreview {
    /// The item's id: what the confirm names.
    pub preview: String,
    /// The version shown (see [`version`]).
    pub version: String,
    pub unit: String,
    pub accounts: Vec<String>,
    /// The title as the platform gets it.
    pub title: String,
    pub html: String,
    pub notes: Vec<String>,
}

impl Desk {
    /// The first step of a hand push: fetch and extract `url` for `unit_id`
    /// and store it held for confirmation, through the same dedupe as
    /// polling (an article the unit already has is refused unless
    /// `force`). Nothing is sent.
    pub async fn push_preview(
        &self,
        ed: &Editor,
        url: &str,
        unit_id: &str,
        force: bool,
    ) -> Result<PushPreview, DeskError> {
        if unit_id.trim().is_empty() {
            return Err(DeskError::BadInput("请选择推送到哪个单位的账号".into()));
        }
        self.reach(ed, unit_id)?;
        let unit = self.unit(unit_id)?;
        let url = Url::parse(url.trim())
            .map_err(|e| DeskError::BadInput(format!("「{url}」不是有效的网址：{e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeskError::BadInput(format!("{url} 不是 http(s) 网址")));
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
            from_feed: false,
        };
        let store = &self.ctx.store;
        if let Some(id) = store
            .lookup(unit_id, &ingest::identities(&entry))
            .map_err(store_err)?
            && !force
        {
            let state = store
                .record(&id)
                .map_err(store_err)?
                .map(|i| i.state.kind().label_zh())
                .unwrap_or("已归档");
            return Err(DeskError::Duplicate(format!(
                "{} 已有该文章（稿件 {id}，{state}）；如确需再次推送，请选择强制推送",
                self.unit_label(unit_id)
            )));
        }
        let content = ingest::obtain(&self.ctx, unit, &entry, true)
            .await
            .map_err(|e| DeskError::Failed(format!("{url} 抓取或提取失败：{}", e.msg)))?;
        let now = self.ctx.clock.now();
        let mut item = ingest::new_item(unit, "push", &entry, now, State::Queued);
        ingest::fill(&mut item, content);
        item.state = State::Held {
            reason: AWAITING_CONFIRM.into(),
        };
        item.priority = true;
        let fp = format!("fp:{}", item.fingerprint.clone().unwrap_or_default());
        if let Some(id) = store
            .lookup(unit_id, std::slice::from_ref(&fp))
            .map_err(store_err)?
            && !force
        {
            return Err(DeskError::Duplicate(format!(
                "{} 已有内容相同的文章（稿件 {id}）；如确需再次推送，请选择强制推送",
                self.unit_label(unit_id)
            )));
        }
        let identities = if force {
            // A forced push is a new item of its own, known only by itself.
            item.id = Item::id_for(unit_id, &format!("{url}#push-{}", now.timestamp_millis()));
            vec![format!("push:{}", item.id)]
        } else {
            let mut ids = ingest::identities(&entry);
            ids.push(fp);
            ids
        };
        if let Inserted::Known(id) = store
            .insert_new(&item, &identities)
            .await
            .map_err(store_err)?
        {
            return Err(DeskError::Duplicate(format!(
                "{} 已有该文章（稿件 {id}）",
                self.unit_label(unit_id)
            )));
        }
        store.flush().await.map_err(store_err)?;
        self.record(
            ed,
            AuditAction::PushPreview,
            Some(&item),
            None,
            Some(item.state.name().to_string()),
            Some(format!("{url}{}", if force { "（强制）" } else { "" })),
        )
        .await?;
        let stored = self.item(ed, &item.id)?;
        Ok(self.push_preview_of(&stored))
    }

    /// The preview of a stored hand push.
    pub fn push_preview_of(&self, item: &Item) -> PushPreview {
        let unit = self.config.unit(&item.unit);
        PushPreview {
            preview: item.id.clone(),
            version: version(item),
            unit: item.unit.clone(),
            accounts: unit
                .map(|u| u.accounts.iter().map(|a| a.name.clone()).collect())
                .unwrap_or_default(),
            title: unit
                .map(|u| u.platform_title(&item.title).0)
                .unwrap_or_else(|| item.title.clone()),
            html: super::preview::body_html(unit.map(|u| &**u), item, self.config.daemon.timezone),
            notes: item.notes.clone(),
        }
    }

    /// The second step: publish the previewed item `id` now, if it is still
    /// waiting for its confirm (and, given `seen`, unchanged since it was
    /// shown). A second confirm is refused: it publishes once.
    pub async fn push_confirm(
        &self,
        ed: &Editor,
        id: &str,
        seen: Option<&str>,
    ) -> Result<Vec<Delivery>, DeskError> {
        let before = self.item_record(ed, id)?;
        if !awaiting_confirm(&before) {
            return Err(DeskError::Conflict(format!(
                "稿件 {id} 当前状态为「{}」，不是待确认的推送（已确认或已取消的推送不会再发）",
                before.state.kind().label_zh()
            )));
        }
        if let Some(seen) = seen
            && seen != version(&before)
        {
            return Err(DeskError::Stale(format!(
                "稿件 {id} 在预览之后被修改过，请重新查看预览再确认"
            )));
        }
        let seen = seen.map(str::to_string);
        let now = self.ctx.clock.now();
        let item = self
            .ctx
            .store
            .transition(id, &[StateName::Held], now, |i| {
                if !awaiting_confirm(i) {
                    return Err("不是待确认的推送".into());
                }
                if seen.as_deref().is_some_and(|s| s != version(i)) {
                    return Err("预览之后被修改过".into());
                }
                i.state = State::Queued;
                i.priority = true;
                Ok(())
            })
            .await
            .map_err(refused("确认推送"))?;
        let ds = self.deliver(&item, PublishPath::Push).await?;
        self.record(
            ed,
            AuditAction::PushUrl,
            Some(&item),
            Some(AWAITING_CONFIRM.into()),
            Some(super::summary(&ds)),
            Some(item.url.clone()),
        )
        .await?;
        Ok(ds)
    }

    /// Cancel a previewed hand push: the item is rejected (and can be
    /// pushed again with 强制).
    pub async fn push_cancel(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let before = self.item_record(ed, id)?;
        if !awaiting_confirm(&before) {
            return Err(DeskError::Conflict(format!(
                "稿件 {id} 不是待确认的推送，无法取消"
            )));
        }
        self.reject(ed, id, "编辑取消了手动推送").await
    }

    /// Both steps at once, for the CLI: the command line is the confirm.
    pub async fn push_url(
        &self,
        ed: &Editor,
        url: &str,
        unit_id: &str,
        force: bool,
    ) -> Result<Vec<Delivery>, DeskError> {
        let p = self.push_preview(ed, url, unit_id, force).await?;
        self.push_confirm(ed, &p.preview, Some(&p.version)).await
    }

    /// What broadcasting item `id` to `to`'s subtree would do, unit by
    /// unit; nothing is written.
    pub fn broadcast_plan(
        &self,
        ed: &Editor,
        id: &str,
        to: &str,
    ) -> Result<BroadcastPlan, DeskError> {
        if to.trim().is_empty() {
            return Err(DeskError::BadInput(
                "请选择联动推送到哪个单位（及其下级）".into(),
            ));
        }
        let origin = self.item(ed, id)?;
        self.reach(ed, to)?;
        if origin.text.trim().is_empty() {
            return Err(DeskError::Conflict(format!(
                "稿件 {id} 没有正文，无法联动推送"
            )));
        }
        let ids = broadcast_identities(&origin)?;
        let store = &self.ctx.store;
        let mut rows = Vec::new();
        for unit in self.config.subtree(to) {
            let (step, detail) = if !ed.may_act_on(&unit.id) {
                (PlanStep::OutOfReach, "不在你的管理范围内".to_string())
            } else {
                match store.lookup(&unit.id, &ids).map_err(store_err)? {
                    None => (PlanStep::Send, "新稿件".to_string()),
                    Some(eid) => match store.record(&eid).map_err(store_err)? {
                        Some(i)
                            if matches!(
                                i.state.kind(),
                                StateName::Queued | StateName::Held | StateName::Failed
                            ) =>
                        {
                            (
                                PlanStep::Send,
                                format!("已有该文章（{}），将发布它", i.state.kind().label_zh()),
                            )
                        }
                        Some(i) => (
                            PlanStep::Has,
                            format!("已有该文章（{}）", i.state.kind().label_zh()),
                        ),
                        None => (PlanStep::Has, "已有该文章（已归档）".to_string()),
                    },
                }
            };
            rows.push(PlanRow {
                unit: unit.id.clone(),
                org_name: unit.org_name.clone(),
                accounts: unit.accounts.iter().map(|a| a.name.clone()).collect(),
                step,
                detail,
            });
        }
        let mut h = Sha256::new();
        for part in [origin.id.as_str(), to] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for r in &rows {
            h.update(r.unit.as_bytes());
            h.update([0]);
            for a in &r.accounts {
                h.update(a.as_bytes());
                h.update([1]);
            }
            h.update([r.step as u8, 0]);
        }
        Ok(BroadcastPlan {
            item: origin.id,
            to: to.to_string(),
            rows,
            digest: hex::encode(h.finalize()),
        })
    }

    /// Push item `id` to every account in `to`'s subtree that the plan
    /// with `digest` said would get it, each through its own outbox and
    /// recorded as an item of that unit. Refused when the plan has changed
    /// since it was shown (a unit or account added or removed, a unit that
    /// got the article meanwhile), or when a unit is out of reach.
    pub async fn broadcast(
        &self,
        ed: &Editor,
        id: &str,
        to: &str,
        digest: &str,
    ) -> Result<Vec<Delivery>, DeskError> {
        let plan = self.broadcast_plan(ed, id, to)?;
        if !same_token(&plan.digest, digest.trim()) {
            return Err(DeskError::Stale(
                "联动推送的范围在确认前已变化（下级单位或账号有增减，或有单位已有该文章），请重新查看名单后再确认".into(),
            ));
        }
        let outside: Vec<String> = plan
            .rows
            .iter()
            .filter(|r| r.step == PlanStep::OutOfReach)
            .map(|r| self.unit_label(&r.unit))
            .collect();
        if !outside.is_empty() {
            return Err(DeskError::Forbidden {
                editor: ed.name.clone(),
                unit: outside.join("、"),
            });
        }
        let origin = self.item(ed, id)?;
        let ids = broadcast_identities(&origin)?;
        let url = origin.url.clone();
        let mut out = Vec::new();
        for row in &plan.rows {
            let Some(unit) = self.config.unit(&row.unit) else {
                continue;
            };
            let skip = |detail: String, item: Option<String>| Delivery {
                unit: unit.id.clone(),
                account: unit.account_name.clone(),
                outcome: DeliveryOutcome::Skipped,
                detail,
                item,
            };
            if row.step == PlanStep::Has {
                out.push(skip(row.detail.clone(), None));
                continue;
            }
            let store = &self.ctx.store;
            let now = self.ctx.clock.now();
            let item = match store.lookup(&unit.id, &ids).map_err(store_err)? {
                // The unit has it but has not published it: publish that
                // item, if it is still waiting when we get to it.
                Some(eid) => {
                    let res = store
                        .transition(
                            &eid,
                            &[StateName::Queued, StateName::Held, StateName::Failed],
                            now,
                            |i| {
                                i.state = State::Queued;
                                i.priority = true;
                                Ok(())
                            },
                        )
                        .await;
                    match res {
                        Ok(i) => i,
                        Err(StoreError::Refused { state, .. }) => {
                            out.push(skip(
                                format!("已有该文章（{}）", state.label_zh()),
                                Some(eid),
                            ));
                            continue;
                        }
                        Err(StoreError::NoSuchItem(_)) => {
                            out.push(skip("已有该文章（已归档）".into(), Some(eid)));
                            continue;
                        }
                        Err(e) => return Err(store_err(e)),
                    }
                }
                None => {
                    let mut i = origin.clone();
                    i.id = Item::id_for(&unit.id, &url);
                    i.unit = unit.id.clone();
                    i.source = format!("broadcast:{}", origin.id);
                    i.state = State::Queued;
                    i.priority = true;
                    i.notes = vec![format!(
                        "由 {} 联动推送（{}）",
                        self.config
                            .unit(&origin.unit)
                            .map_or(origin.unit.as_str(), |u| u.org_name.as_str()),
                        ed.name
                    )];
                    i.discovered_at = now;
                    i.updated_at = now;
                    if let Inserted::Known(k) =
                        store.insert_new(&i, &ids).await.map_err(store_err)?
                    {
                        out.push(skip("已有该文章".into(), Some(k)));
                        continue;
                    }
                    store.flush().await.map_err(store_err)?;
                    i
                }
            };
            out.extend(self.deliver(&item, PublishPath::Broadcast).await?);
        }
        let summary: Vec<String> = out
            .iter()
            .map(|d| format!("{}（{}）：{}", d.account, d.unit, d.outcome.zh()))
            .collect();
        self.record(
            ed,
            AuditAction::Broadcast,
            Some(&origin),
            None,
            Some(to.to_string()),
            Some(summary.join("；")),
        )
        .await?;
        Ok(out)
    }

    /// Undo a reject: back to held (it needs approving again), for
    /// `[daemon] undo_reject_days` after the reject; refused after.
    pub async fn unreject(&self, ed: &Editor, id: &str) -> Result<Item, DeskError> {
        let before = self.item_record(ed, id)?;
        let State::Rejected { reason } = &before.state else {
            return Err(DeskError::Conflict(format!(
                "稿件 {id} 当前状态为「{}」，不是已驳回，无需撤销",
                before.state.kind().label_zh()
            )));
        };
        let reason = reason.clone();
        let when = self.rejected_at(&before)?;
        let now = self.ctx.clock.now();
        let days = self.config.daemon.undo_reject.num_days();
        if now - when > self.config.daemon.undo_reject {
            let tz = self.config.daemon.timezone;
            return Err(DeskError::Expired(format!(
                "稿件 {id} 驳回于 {}，已超过 {days} 天，不能撤销驳回；如需发布请重新推送其链接",
                when.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
            )));
        }
        self.act(
            ed,
            id,
            AuditAction::Unreject,
            "撤销驳回",
            &[StateName::Rejected],
            |i| i.state.name().to_string(),
            Some(reason.clone()),
            |i| {
                i.state = State::Held {
                    reason: format!("撤销驳回（原驳回理由：{reason}）"),
                };
                Ok(())
            },
        )
        .await
        .inspect(|item| self.woke(&item.unit))
    }

    /// When `item` was rejected: its newest reject in the audit log, else
    /// (rejected by no editor) when its record last changed.
    pub fn rejected_at(&self, item: &Item) -> Result<chrono::DateTime<chrono::Utc>, DeskError> {
        let log = self.ctx.store.audit_of(&item.id).map_err(store_err)?;
        Ok(log
            .iter()
            .find(|e| e.action == AuditAction::Reject)
            .map_or(item.updated_at, |e| e.at))
    }

    /// Whether a reject of `item` may still be undone now.
    pub fn may_unreject(&self, item: &Item) -> bool {
        matches!(item.state, State::Rejected { .. })
            && self
                .rejected_at(item)
                .is_ok_and(|t| self.ctx.clock.now() - t <= self.config.daemon.undo_reject)
    }
}

/// The identities a broadcast copy of `origin` is known by in every unit.
fn broadcast_identities(origin: &Item) -> Result<Vec<String>, DeskError> {
    let url = Url::parse(&origin.url)
        .map_err(|e| DeskError::Failed(format!("稿件 {} 的网址有误：{e}", origin.id)))?;
    let mut ids = vec![url.to_string()];
    if let Some(fp) = &origin.fingerprint {
        ids.push(format!("fp:{fp}"));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::ErrorCode;

    #[test]
    fn error_codes_are_a_closed_set_of_stable_names() {
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for (c, n) in ErrorCode::ALL.iter().zip(&names) {
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{n}\""));
        }
        let mut dedup = names.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), names.len());
    }

    #[test]
    fn desk_errors_read_in_chinese() {
        for e in [
            DeskError::Unauthorized,
            DeskError::Closed,
            DeskError::NotFound("稿件 x".into()),
            DeskError::Forbidden {
                editor: "王".into(),
                unit: "「某县科协」".into(),
            },
        ] {
            let m = e.to_string();
            assert!(
                m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{m}"
            );
            assert!(!m.contains("token") && !m.contains("not found"), "{m}");
        }
    }

    #[test]
    fn titles_and_reasons_refuse_control_characters() {
        let e = super::super::plain_line("标题\n第二行", "标题", 2, 100).unwrap_err();
        assert_eq!(e.code(), ErrorCode::BadInput);
        assert!(e.to_string().contains("控制字符"), "{e}");
        assert!(super::super::plain_line("正常\u{200b}标题", "标题", 2, 100).is_ok());
        assert!(super::super::plain_line("a\u{1b}[31m", "理由", 1, 500).is_err());
        let e = super::super::plain_line(&"长".repeat(101), "标题", 2, 100).unwrap_err();
        assert!(e.to_string().contains("101"), "{e}");
    }
}
