//! One account's row: its posts over the period, its silences and verdict,
//! what was held, rejected and failed.
//!
//! The rules (calendar days in `[daemon] timezone`; "end" is the period's
//! last day, or today when that is later):
//! - a **post** is a published delivery to the account (any path), at its
//!   platform time; records of the one-account format (no deliveries) are
//!   the unit's first account's. Its **path** is the one kept with the
//!   delivery; records from before paths were kept are read as: the item
//!   an editor pushed by URL (`source = "push"`) or a broadcast copy
//!   (`source = "broadcast:<item>"`) by that path, an item the audit log
//!   shows an editor pushed as a hand push, else automatic;
//! - a **gap** is the number of days between two consecutive post dates;
//!   the first runs from the last post before the period (else from the
//!   day the unit was first polled), the last to the end;
//! - **verdict**: 不合格 when a gap exceeds `max_silence_days` (a gap of
//!   exactly that many days passes), 预警 when it passes but the days
//!   silent at the end are within [`WARN_WITHIN_DAYS`] of it, else 合格.
//!   An account that never posted by the end is silent since its unit was
//!   first polled: 预警 while that is within `max_silence_days`, 不合格
//!   after, never 合格 (预警 too when the store knows no poll of it yet);
//! - **held** and **rejected** are the unit's (items are a unit's; each of
//!   its accounts' rows shows the same);
//! - **held**: items waiting for an editor at some time in the period —
//!   those still held whose last change (when they were held, or edited
//!   while held) is before the end, and those an editor released (the
//!   audit log's approve, reject or push of a held item) at or after the
//!   start that were found before the end;
//! - **rejected**: items rejected in the period (the audit log's reject,
//!   else the record's last change);
//! - an editor's own hand push counts in neither: it is held only while
//!   it waits for that editor's confirm, and "rejected" only when the
//!   editor cancels it — not a site article kept back by review;
//! - **failed**: items this account's platform refused for good in the
//!   period (the failure's time, else the record's last change), and items
//!   whose article could not be fetched and that wait for an editor, by
//!   their last change;
//! - **median delay**: over the period's posts, minutes from when the item
//!   was first seen (found on the site, or pushed, or broadcast) to the
//!   post;
//! - **broadcasts asked**: the period's broadcasts whose target subtree
//!   holds the unit; **carried**: those whose article the account had
//!   posted by the end (the broadcast's copy, or the unit's own item for
//!   it).

use super::{Asked, Verdict, WARN_WITHIN_DAYS, day_start, local_day};
use crate::config::{Level, Unit};
use crate::model::{DeliveryState, ItemOrigin, PublishPath, Stage, State};
use crate::store::{AuditAction, AuditEntry, Item};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};

/// One account's row (the CSV and JSON field names are the issue's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub unit: String,
    pub account: String,
    pub org: String,
    pub level: Level,
    pub parent: Option<String>,
    pub posts: u32,
    pub auto: u32,
    pub manual: u32,
    pub broadcast: u32,
    pub active_days: u32,
    /// `None` when nothing is known of the unit by the end (never polled).
    pub longest_gap_days: Option<i64>,
    /// The last post before the end of the period, in `[daemon] timezone`.
    pub last_post: Option<DateTime<FixedOffset>>,
    /// Days from the last post (never posted: from the unit's first poll)
    /// to the end.
    pub days_silent: Option<i64>,
    pub verdict: Verdict,
    pub held: u32,
    pub rejected: u32,
    pub failed: u32,
    pub median_delay_mins: Option<i64>,
    pub broadcasts_asked: u32,
    pub broadcasts_carried: u32,
    /// Posts per week (the report's `weeks`), for the charts.
    pub weekly: Vec<u32>,
    /// The unit's `max_silence_days` the verdict was judged against.
    pub max_silence_days: u32,
    /// The account's platform (`toutiao`, `wechat`, `webhook`, `file`).
    pub platform: String,
}

/// The period as instants and days in the daemon's time zone.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub tz: chrono_tz::Tz,
    pub from: NaiveDate,
    /// The last day judged: the period's last day, or today when earlier.
    pub end_day: NaiveDate,
    /// The first instant of the period.
    pub start: DateTime<Utc>,
    /// The first instant after the period.
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn new(tz: chrono_tz::Tz, p: super::Period, today: NaiveDate) -> Window {
        Window {
            tz,
            from: p.from,
            end_day: p.to.min(today),
            start: day_start(tz, p.from),
            end: day_start(tz, p.to.succ_opt().unwrap_or(p.to)),
        }
    }

    /// Is `t` inside the period?
    pub fn holds(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    fn monday(d: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))
    }

    /// The Monday of each week the judged period touches.
    pub fn weeks(&self) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut w = Self::monday(self.from);
        while w <= self.end_day {
            out.push(w);
            w = w + chrono::Days::new(7);
        }
        out
    }

    fn week_of(&self, d: NaiveDate) -> usize {
        ((Self::monday(d) - Self::monday(self.from)).num_days() / 7) as usize
    }
}

/// What a unit's rows are computed from.
pub struct UnitData<'a> {
    pub unit: &'a Unit,
    /// Live and archived items, baseline entries left out.
    pub items: &'a [Item],
    /// When the unit was first polled, as far as the store knows.
    pub first_polled: Option<DateTime<Utc>>,
    /// The unit's entries of the audit log.
    pub audit: &'a [&'a AuditEntry],
    /// The period's broadcasts that reached the unit.
    pub asked: &'a [Asked],
}

/// A post: when, by which path, and when its item was first seen.
struct Post {
    at: DateTime<Utc>,
    path: PublishPath,
    seen: DateTime<Utc>,
}

/// The account's row over the window `w`.
pub fn account_row(w: &Window, d: &UnitData, account: &crate::config::Account) -> Row {
    let unit = d.unit;
    let platform = account.publisher.kind().to_string();
    let account = account.name.as_str();
    let tz = w.tz;
    let max = i64::from(unit.silence.max_days);
    let mine = d.audit;
    let pushed: HashSet<&str> = mine
        .iter()
        .filter(|e| matches!(e.action, AuditAction::Push | AuditAction::PushUrl))
        .filter_map(|e| e.item.as_deref())
        .collect();
    let main = unit.accounts.first().is_some_and(|a| a.name == account);

    // Every post up to the end of the period, oldest first.
    let mut posts: Vec<Post> = Vec::new();
    for i in d.items {
        let (at, kept) = match i.deliveries.get(account) {
            Some(DeliveryState::Published { at, path, .. }) => (*at, *path),
            None if main && i.deliveries.is_empty() => match &i.state {
                State::Published { at, .. } => (*at, None),
                _ => continue,
            },
            _ => continue,
        };
        if at >= w.end {
            continue;
        }
        let path = kept.unwrap_or_else(|| {
            if i.source == "push" || pushed.contains(i.id.as_str()) {
                PublishPath::Push
            } else if i.source.starts_with("broadcast:") {
                PublishPath::Broadcast
            } else {
                PublishPath::Auto
            }
        });
        posts.push(Post {
            at,
            path,
            seen: i.discovered_at,
        });
    }
    posts.sort_by_key(|p| p.at);
    let (before, during): (Vec<&Post>, Vec<&Post>) = posts.iter().partition(|p| p.at < w.start);
    let count = |path| during.iter().filter(|p| p.path == path).count() as u32;
    let days: BTreeSet<NaiveDate> = during.iter().map(|p| local_day(tz, p.at)).collect();
    let mut weekly = vec![0u32; w.weeks().len()];
    for p in &during {
        if let Some(n) = weekly.get_mut(w.week_of(local_day(tz, p.at))) {
            *n += 1;
        }
    }

    // Silences, in calendar days.
    let first_day = d
        .first_polled
        .map(|t| local_day(tz, t))
        .filter(|day| *day <= w.end_day);
    let last = posts.last().map(|p| p.at);
    let anchor = before.last().map(|p| local_day(tz, p.at)).or(first_day);
    let longest_gap_days = anchor.map(|a| {
        let mut prev = a;
        let mut longest = 0;
        for day in days.iter().copied().chain([w.end_day]) {
            longest = longest.max((day - prev).num_days());
            prev = day;
        }
        longest
    });
    let days_silent = last
        .map(|t| local_day(tz, t))
        .or(first_day)
        .map(|since| (w.end_day - since).num_days().max(0));
    let verdict = match (last, longest_gap_days, days_silent) {
        // Never posted: silent since the first poll; never 合格.
        (None, _, Some(silent)) if silent > max => Verdict::Fail,
        (None, _, _) => Verdict::Warn,
        (Some(_), Some(gap), _) if gap > max => Verdict::Fail,
        (Some(_), _, Some(silent)) if silent >= max - WARN_WITHIN_DAYS => Verdict::Warn,
        (Some(_), _, _) => Verdict::Pass,
    };

    let mut delays: Vec<i64> = during
        .iter()
        .map(|p| (p.at - p.seen).num_minutes().max(0))
        .collect();
    delays.sort_unstable();
    let median_delay_mins = match delays.len() {
        0 => None,
        n if n % 2 == 1 => Some(delays[n / 2]),
        n => Some((delays[n / 2 - 1] + delays[n / 2]) / 2),
    };

    let (held, rejected) = held_and_rejected(w, d.items, mine);
    let failed = d
        .items
        .iter()
        .filter(|i| match (i.deliveries.get(account), &i.state) {
            (Some(DeliveryState::Failed { at, .. }), _) => w.holds(at.unwrap_or(i.updated_at)),
            (
                None,
                State::Failed {
                    stage: Stage::Fetch,
                    next_retry: None,
                    ..
                },
            ) => w.holds(i.updated_at),
            _ => false,
        })
        .count() as u32;

    let by_id: HashMap<&str, &Item> = d.items.iter().map(|i| (i.id.as_str(), i)).collect();
    let carried = d
        .asked
        .iter()
        .filter(|a| {
            a.item
                .as_deref()
                .and_then(|id| by_id.get(id))
                .and_then(|i| i.deliveries.get(account))
                .is_some_and(|d| matches!(d, DeliveryState::Published { at, .. } if *at < w.end))
        })
        .count() as u32;

    Row {
        unit: unit.id.clone(),
        account: account.to_string(),
        org: unit.org_name.clone(),
        level: unit.level,
        parent: unit.parent.clone(),
        posts: during.len() as u32,
        auto: count(PublishPath::Auto),
        manual: count(PublishPath::Push),
        broadcast: count(PublishPath::Broadcast),
        active_days: days.len() as u32,
        longest_gap_days,
        last_post: last.map(|t| t.with_timezone(&tz).fixed_offset()),
        days_silent,
        verdict,
        held,
        rejected,
        failed,
        median_delay_mins,
        broadcasts_asked: d.asked.len() as u32,
        broadcasts_carried: carried,
        weekly,
        max_silence_days: unit.silence.max_days,
        platform,
    }
}

/// Items held and rejected in the period (see the module docs).
fn held_and_rejected(w: &Window, items: &[Item], audit: &[&AuditEntry]) -> (u32, u32) {
    let mut released: HashMap<&str, DateTime<Utc>> = HashMap::new();
    let mut rejected_at: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for e in audit {
        let Some(id) = e.item.as_deref() else {
            continue;
        };
        if e.before.as_deref() == Some("held")
            && matches!(
                e.action,
                AuditAction::Approve | AuditAction::Reject | AuditAction::Push
            )
            && e.at >= w.start
        {
            released.entry(id).or_insert(e.at);
        }
        if e.action == AuditAction::Reject {
            rejected_at.insert(id, e.at);
        }
    }
    let mut held = 0;
    let mut rejected = 0;
    for i in items.iter().filter(|i| i.came_from() != ItemOrigin::Push) {
        let still_held = matches!(i.state, State::Held { .. }) && i.updated_at < w.end;
        let was_held = released.contains_key(i.id.as_str()) && i.discovered_at < w.end;
        if still_held || was_held {
            held += 1;
        }
        if matches!(i.state, State::Rejected { .. })
            && w.holds(
                rejected_at
                    .get(i.id.as_str())
                    .copied()
                    .unwrap_or(i.updated_at),
            )
        {
            rejected += 1;
        }
    }
    (held, rejected)
}
