//! The update clock: how long each account has gone without a post.
//!
//! Why: an inspection fails an account outright when it has not posted for
//! `max_silence_days` (two weeks; ten days in some provinces). Every kind of
//! post counts — automatic, an editor's push, a broadcast — since all go
//! through the account's outbox and end as a published delivery, which is
//! what the clock reads (`Store::last_delivered`, archived posts included).
//! Days are calendar days in `[daemon] timezone`: inspectors count dates,
//! not hours.

use crate::config::{Silence, Unit};
use crate::store::{Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// How close an account is to failing an inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "level", content = "days", rename_all = "lowercase")]
pub enum SilenceLevel {
    /// Below the first warning threshold.
    Ok,
    /// Silent for at least this many days (the highest threshold reached).
    Warning(u32),
    /// Silent for `max_silence_days` or more: an inspection fails it.
    Overdue,
}

impl std::fmt::Display for SilenceLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SilenceLevel::Ok => f.write_str("ok"),
            SilenceLevel::Warning(d) => write!(f, "warning ({d} days)"),
            SilenceLevel::Overdue => f.write_str("overdue"),
        }
    }
}

/// An account's clock at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Whole calendar days since the clock started.
    pub days_silent: i64,
    /// The day the account becomes overdue unless it posts before.
    pub deadline: NaiveDate,
    pub level: SilenceLevel,
}

/// The clock of an account silent since `since` (its last post, or when its
/// unit was first polled), read at `now`.
pub fn read(
    silence: &Silence,
    tz: chrono_tz::Tz,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Reading {
    let start = since.with_timezone(&tz).date_naive();
    let today = now.with_timezone(&tz).date_naive();
    // A post stamped a little ahead of this host's clock is today's.
    let days_silent = (today - start).num_days().max(0);
    let deadline = start + chrono::Days::new(u64::from(silence.max_days));
    let level = if days_silent >= i64::from(silence.max_days) {
        SilenceLevel::Overdue
    } else {
        silence
            .warn_days
            .iter()
            .rev()
            .find(|d| days_silent >= i64::from(**d))
            .map_or(SilenceLevel::Ok, |d| SilenceLevel::Warning(*d))
    };
    Reading {
        days_silent,
        deadline,
        level,
    }
}

/// Where an account's clock starts: its last post, else (it never posted)
/// when its unit was first polled, as far as the store knows — `None` when
/// nothing is known. The second value says whether it is a post.
pub fn started(
    store: &Store,
    unit: &Unit,
    account: &str,
) -> Result<Option<(DateTime<Utc>, bool)>, StoreError> {
    let mut last = store.last_delivered(&unit.id, account)?;
    // A store of the one-account format knows the last post only for the
    // unit, which was its main account's (as the publish worker reads it).
    if last.is_none() && unit.accounts.first().is_some_and(|a| a.name == account) {
        last = store.last_published(&unit.id)?;
    }
    if let Some(t) = last {
        return Ok(Some((t, true)));
    }
    Ok(first_polled(store, unit)?.map(|t| (t, false)))
}

/// When the unit was first polled, as far as the store knows: its first
/// found entry, else the earliest poll its sources' states record.
pub fn first_polled(store: &Store, unit: &Unit) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut first = store.first_found(&unit.id)?;
    for s in &store.polled_sources(unit)? {
        let ss = store.source_state(&unit.id, &s.key())?;
        for t in [ss.last_poll, ss.last_success].into_iter().flatten() {
            first = Some(first.map_or(t, |f| f.min(t)));
        }
    }
    Ok(first)
}

/// The level each account was last seen at, so that crossing a threshold
/// is logged once, not at every refresh (in memory: a restart logs each
/// account that is not ok once more).
#[derive(Debug, Default)]
pub struct Watch {
    last: Mutex<HashMap<(String, String), SilenceLevel>>,
}

impl Watch {
    /// Record `level` for the account; the level it was at before when this
    /// is a change (`Some(None)` the first time it is seen).
    pub fn crossed(
        &self,
        unit: &str,
        account: &str,
        level: SilenceLevel,
    ) -> Option<Option<SilenceLevel>> {
        let mut last = self.last.lock().expect("silence watch lock");
        let before = last.insert((unit.to_string(), account.to_string()), level);
        (before != Some(level)).then_some(before)
    }
}

/// Refresh the unit's accounts' `autosync_days_since_last_post` at `now`,
/// and log each account that crossed a threshold since the last refresh
/// (the daemon calls this with its other gauges). A store error leaves the
/// gauges as they were: the next refresh tries again.
pub fn refresh(
    store: &Store,
    metrics: &crate::metrics::Metrics,
    watch: &Watch,
    unit: &Unit,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) {
    for a in &unit.accounts {
        let Ok(Some((since, posted))) = started(store, unit, &a.name) else {
            continue;
        };
        let r = read(&unit.silence, tz, since, now);
        metrics.days_since_last_post(&unit.id, &a.name, r.days_silent);
        let Some(before) = watch.crossed(&unit.id, &a.name, r.level) else {
            continue;
        };
        let (u, account) = (&unit.id, &a.name);
        if r.level > before.unwrap_or(SilenceLevel::Ok) {
            let since = if posted {
                "its last post"
            } else {
                "its unit's first poll (never posted)"
            };
            let site = match store.last_new_article(u) {
                Ok(Some(t)) => t.with_timezone(&tz).format("%Y-%m-%d").to_string(),
                Ok(None) => "never".into(),
                Err(e) => format!("unknown ({e})"),
            };
            tracing::warn!(
                unit = %u, account = %account,
                "update clock: account {account} of unit {u} is {}: {} days since {since}, deadline {}; last new article on the site: {site}",
                r.level, r.days_silent, r.deadline
            );
        } else if r.level == SilenceLevel::Ok && before.is_some() {
            tracing::info!(unit = %u, account = %account, "update clock: account {account} of unit {u} posted again; ok until {}", r.deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn days_are_calendar_days_in_the_daemon_timezone() {
        let s = Silence::default();
        let tz = chrono_tz::Asia::Shanghai;
        // 23:00 on the 1st to 01:00 on the 2nd, Beijing time: one day,
        // though two hours (and the same UTC date).
        let r = read(&s, tz, at(2026, 11, 1, 23), at(2026, 11, 2, 1));
        assert_eq!(r.days_silent, 1);
        assert_eq!(r.deadline, NaiveDate::from_ymd_opt(2026, 11, 15).unwrap());
        assert_eq!(r.level, SilenceLevel::Ok);
    }

    #[test]
    fn the_highest_threshold_reached_is_the_level_and_max_days_is_overdue() {
        let s = Silence::default();
        let tz = chrono_tz::Asia::Shanghai;
        let level = |days: u32| read(&s, tz, at(2026, 11, 1, 9), at(2026, 11, 1 + days, 9)).level;
        assert_eq!(level(6), SilenceLevel::Ok);
        assert_eq!(level(7), SilenceLevel::Warning(7));
        assert_eq!(level(11), SilenceLevel::Warning(10));
        assert_eq!(level(13), SilenceLevel::Warning(12));
        assert_eq!(level(14), SilenceLevel::Overdue);
    }

    #[test]
    fn a_crossing_is_reported_once() {
        let w = Watch::default();
        assert_eq!(w.crossed("u", "a", SilenceLevel::Ok), Some(None));
        assert_eq!(w.crossed("u", "a", SilenceLevel::Ok), None);
        assert_eq!(
            w.crossed("u", "a", SilenceLevel::Warning(7)),
            Some(Some(SilenceLevel::Ok))
        );
        assert_eq!(w.crossed("u", "a", SilenceLevel::Warning(7)), None);
        assert_eq!(w.crossed("u", "b", SilenceLevel::Warning(7)), Some(None));
    }
}
