//! The watch: what the store says of each unit now, compared with what was
//! last alerted (the *marks*, kept in the store), and one alert per change.
//!
//! Subjects, each with its own mark:
//! - an account's health ([`AccountHealth`]): paused (or paused for another
//!   reason) alerts, leaving a pause alerts; every change — rate limits
//!   included, which are no failure and alert nobody — is logged once;
//! - an account's update clock: each threshold (`silence_warn_days`, then
//!   `max_silence_days`) alerts once per silence stretch; a post starts a
//!   new stretch;
//! - each source: its polls finding no entries, and finding some again;
//! - the unit's polls: a source failing `[daemon] failing_polls` polls in a
//!   row, and the unit's polls all succeeding again.
//!
//! A subject seen for the first time alerts only when it is not well (a
//! paused account, a silent one): a new install reports what needs doing
//! and nothing else. The new marks and the alerts they queue are written in
//! one batch before anyone is told, so a restart neither repeats an alert
//! nor misses a change that happened while it was down.

use super::deliver::Queued;
use super::health::AccountHealth;
use super::message::{Alert, Event};
use crate::config::{Config, Unit};
use crate::metrics::Metrics;
use crate::model::AccountKey;
use crate::store::{Store, StoreError};
use crate::update_clock::{self, SilenceLevel};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the daemon runs the watch over every unit.
pub const WATCH_EVERY: Duration = Duration::from_secs(60);

/// What was last alerted (or seen) of one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mark", rename_all = "snake_case")]
pub enum Mark {
    /// An account's health, and since when it has been so.
    Account {
        health: AccountHealth,
        since: DateTime<Utc>,
    },
    /// An account's silence stretch (where its clock starts) and the
    /// highest level alerted in it.
    Silence {
        stretch: DateTime<Utc>,
        level: SilenceLevel,
    },
    /// A source's polls find no entries since then (`None`: they do).
    Source { empty_since: Option<DateTime<Utc>> },
    /// Whether the unit counts as failing.
    Polls { failing: bool },
}

fn account_subject(account: &str) -> String {
    format!("account\0{account}")
}

/// Two healths the same for alerting: the same state and, when paused,
/// the same kind of reason (its detail and time may differ when the outbox
/// pauses it again).
fn same(a: &AccountHealth, b: &AccountHealth) -> bool {
    match (a, b) {
        (AccountHealth::Paused { reason: x, .. }, AccountHealth::Paused { reason: y, .. }) => {
            x.code() == y.code()
        }
        _ => a.state() == b.state(),
    }
}

/// An account's health and since when, as the watch last recorded it:
/// what `status` shows next to the state.
pub fn recorded_health(
    store: &Store,
    unit: &str,
    account: &str,
) -> Result<Option<(AccountHealth, DateTime<Utc>)>, StoreError> {
    Ok(
        match store.alert_mark::<Mark>(unit, &account_subject(account))? {
            Some(Mark::Account { health, since }) => Some((health, since)),
            _ => None,
        },
    )
}

/// Runs the watch (see the module docs).
pub struct Detector {
    store: Store,
    metrics: Option<Arc<Metrics>>,
    /// The delivery task's bell; `try_send`: the watch never waits for it.
    wake: Option<mpsc::Sender<()>>,
}

/// What one unit's check found: new marks and the alerts they raise.
#[derive(Default)]
struct Found {
    marks: Vec<(String, String, Mark)>,
    alerts: Vec<Alert>,
}

impl Detector {
    pub fn new(
        store: Store,
        metrics: Option<Arc<Metrics>>,
        wake: Option<mpsc::Sender<()>>,
    ) -> Self {
        Detector {
            store,
            metrics,
            wake,
        }
    }

    /// Check every unit of `cfg` at `now`; the alerts queued. A unit whose
    /// store cannot be read is logged and checked again next time.
    pub async fn check(&self, cfg: &Config, now: DateTime<Utc>) -> Vec<Alert> {
        let mut all = Vec::new();
        for unit in &cfg.units {
            match self.check_unit(cfg, unit, now).await {
                Ok(a) => all.extend(a),
                Err(e) => tracing::error!(unit = %unit.id, "alert watch: {e}"),
            }
        }
        all
    }

    /// Check one unit at `now`: record what changed and queue its alerts
    /// for every target that takes the unit's.
    pub async fn check_unit(
        &self,
        cfg: &Config,
        unit: &Unit,
        now: DateTime<Utc>,
    ) -> Result<Vec<Alert>, StoreError> {
        let mut f = Found::default();
        for a in &unit.accounts {
            self.account_health(unit, &a.name, now, &mut f)?;
            self.silence(cfg, unit, &a.name, now, &mut f)?;
        }
        self.sources(unit, now, &mut f)?;
        self.polls(cfg, unit, now, &mut f)?;
        let queued: Vec<Queued> = f
            .alerts
            .iter()
            .flat_map(|alert| {
                cfg.alerting
                    .targets
                    .iter()
                    .filter(|t| t.covers(&unit.id))
                    .map(|t| Queued::new(t, alert.clone(), now))
            })
            .collect();
        self.store.record_alerts(&f.marks, &queued).await?;
        for alert in &f.alerts {
            // What changed is logged where it is found (the account's
            // change here, the update clock's and the sources' by their
            // own modules); this only says where the alert goes.
            let targets = queued.iter().filter(|q| q.alert == *alert).count();
            if targets > 0 {
                tracing::info!(unit = %unit.id, "alert queued for {targets} target(s): {} (unit {})", alert.what(), unit.id);
            } else {
                tracing::debug!(unit = %unit.id, "no alert target takes unit {}: {}", unit.id, alert.what());
            }
        }
        if !queued.is_empty()
            && let Some(w) = &self.wake
        {
            // Full: the task is already due to look.
            let _ = w.try_send(());
        }
        Ok(f.alerts)
    }

    fn alert(unit: &Unit, now: DateTime<Utc>, event: Event) -> Alert {
        Alert {
            unit: unit.id.clone(),
            org_name: unit.org_name.clone(),
            at: now,
            event,
        }
    }

    fn account_health(
        &self,
        unit: &Unit,
        account: &str,
        now: DateTime<Utc>,
        f: &mut Found,
    ) -> Result<(), StoreError> {
        let st = self.store.account_state(&AccountKey {
            unit: unit.id.clone(),
            account: account.to_string(),
        })?;
        let health = AccountHealth::of(&st, now);
        if let Some(m) = &self.metrics {
            m.account_state(&unit.id, account, health.state());
        }
        let before = recorded_health(&self.store, &unit.id, account)?;
        if before.as_ref().is_some_and(|(h, _)| same(h, &health)) {
            return Ok(());
        }
        let since = match &health {
            AccountHealth::Paused { since, .. } => *since,
            _ => now,
        };
        let u = &unit.id;
        match &before {
            Some((old, _)) => tracing::warn!(
                unit = %u, account = %account,
                "account {account} of unit {u}: {old} -> {health}"
            ),
            None if health != AccountHealth::Ok => {
                tracing::warn!(unit = %u, account = %account, "account {account} of unit {u}: {health}")
            }
            None => {}
        }
        let was_paused = matches!(before, Some((AccountHealth::Paused { .. }, _)));
        match &health {
            AccountHealth::Paused { reason, since } => f.alerts.push(Self::alert(
                unit,
                now,
                Event::AccountPaused {
                    account: account.to_string(),
                    reason: reason.clone(),
                    since: *since,
                },
            )),
            _ if was_paused => f.alerts.push(Self::alert(
                unit,
                now,
                Event::AccountResumed {
                    account: account.to_string(),
                },
            )),
            _ => {}
        }
        f.marks.push((
            u.clone(),
            account_subject(account),
            Mark::Account { health, since },
        ));
        Ok(())
    }

    fn silence(
        &self,
        cfg: &Config,
        unit: &Unit,
        account: &str,
        now: DateTime<Utc>,
        f: &mut Found,
    ) -> Result<(), StoreError> {
        let Some((stretch, posted)) = update_clock::started(&self.store, unit, account)? else {
            return Ok(());
        };
        let r = update_clock::read(&unit.silence, cfg.daemon.timezone, stretch, now);
        let subject = format!("silence\0{account}");
        let before = match self.store.alert_mark::<Mark>(&unit.id, &subject)? {
            Some(Mark::Silence {
                stretch: s,
                level: l,
            }) if s == stretch => Some(l),
            // Another stretch (the account posted since), or never seen.
            _ => None,
        };
        if before == Some(r.level) {
            return Ok(());
        }
        if r.level > before.unwrap_or(SilenceLevel::Ok) {
            f.alerts.push(Self::alert(
                unit,
                now,
                Event::Silence {
                    account: account.to_string(),
                    level: r.level,
                    days_silent: r.days_silent,
                    max_silence_days: unit.silence.max_days,
                    deadline: r.deadline,
                    last_post: posted.then_some(stretch),
                    last_new_article: self.store.last_new_article(&unit.id)?,
                },
            ));
        }
        f.marks.push((
            unit.id.clone(),
            subject,
            Mark::Silence {
                stretch,
                level: r.level,
            },
        ));
        Ok(())
    }

    fn sources(&self, unit: &Unit, now: DateTime<Utc>, f: &mut Found) -> Result<(), StoreError> {
        for s in &unit.sources {
            let key = s.key();
            let st = self.store.source_state(&unit.id, &key)?;
            let subject = format!("source\0{key}");
            let before = match self.store.alert_mark::<Mark>(&unit.id, &subject)? {
                Some(Mark::Source { empty_since }) => Some(empty_since),
                _ => None,
            };
            if before == Some(st.empty_since) {
                continue;
            }
            let was_empty = before.flatten().is_some();
            match st.empty_since {
                Some(since) if !was_empty => f.alerts.push(Self::alert(
                    unit,
                    now,
                    Event::SourceEmpty {
                        source: s.url.to_string(),
                        since,
                    },
                )),
                None if was_empty => f.alerts.push(Self::alert(
                    unit,
                    now,
                    Event::SourceRecovered {
                        source: s.url.to_string(),
                    },
                )),
                _ => {}
            }
            f.marks.push((
                unit.id.clone(),
                subject,
                Mark::Source {
                    empty_since: st.empty_since,
                },
            ));
        }
        Ok(())
    }

    fn polls(
        &self,
        cfg: &Config,
        unit: &Unit,
        now: DateTime<Utc>,
        f: &mut Found,
    ) -> Result<(), StoreError> {
        // The source with the most failed polls in a row; one gone for
        // good (410) is disabled, not failing.
        let mut worst: Option<(String, crate::store::SourceState)> = None;
        for s in &unit.sources {
            let st = self.store.source_state(&unit.id, &s.key())?;
            let worse = worst
                .as_ref()
                .is_none_or(|(_, w)| st.consecutive_errors > w.consecutive_errors);
            if !st.gone && worse {
                worst = Some((s.url.to_string(), st));
            }
        }
        let threshold = cfg.alerting.failing_polls;
        let failing = worst
            .as_ref()
            .is_some_and(|(_, st)| st.consecutive_errors >= threshold);
        let before = match self.store.alert_mark::<Mark>(&unit.id, "polls")? {
            Some(Mark::Polls { failing }) => Some(failing),
            _ => None,
        };
        if before == Some(failing) {
            return Ok(());
        }
        match worst {
            Some((source, st)) if failing => f.alerts.push(Self::alert(
                unit,
                now,
                Event::UnitFailing {
                    source,
                    failed_polls: st.consecutive_errors,
                    error: st.last_error,
                },
            )),
            _ if before == Some(true) => {
                f.alerts.push(Self::alert(unit, now, Event::UnitRecovered))
            }
            _ => {}
        }
        f.marks
            .push((unit.id.clone(), "polls".into(), Mark::Polls { failing }));
        Ok(())
    }
}
