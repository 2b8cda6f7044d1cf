//! An account's health as one typed value, read from what the store keeps
//! of the account ([`AccountState`]): ok, paused (why, since when) or rate
//! limited (until when). `/metrics`, `status --json`, the log and the
//! alerts all read this one value, so they cannot disagree.

use crate::model::{AccountState, PauseReason};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account's health at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccountHealth {
    /// Publishing as usual.
    #[default]
    Ok,
    /// Nothing is sent until the cause is gone.
    Paused {
        reason: PauseReason,
        since: DateTime<Utc>,
    },
    /// The platform asked for no request before `until` (not a failure).
    RateLimited { until: DateTime<Utc> },
}

impl AccountHealth {
    /// The account's health at `now`: a pause wins over a rate limit, a
    /// rate limit that has run out is over.
    pub fn of(st: &AccountState, now: DateTime<Utc>) -> Self {
        match (&st.paused, st.not_before) {
            (Some(p), _) => AccountHealth::Paused {
                reason: p.reason.clone(),
                since: p.since,
            },
            (None, Some(until)) if until > now => AccountHealth::RateLimited { until },
            _ => AccountHealth::Ok,
        }
    }

    /// Its state without the details (the metric's label).
    pub fn state(&self) -> HealthState {
        match self {
            AccountHealth::Ok => HealthState::Ok,
            AccountHealth::Paused { .. } => HealthState::Paused,
            AccountHealth::RateLimited { .. } => HealthState::RateLimited,
        }
    }
}

impl std::fmt::Display for AccountHealth {
    /// What ops read in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountHealth::Ok => f.write_str("ok"),
            AccountHealth::Paused { reason, since } => {
                write!(
                    f,
                    "paused since {}: {reason}",
                    since.format("%Y-%m-%d %H:%M:%SZ")
                )
            }
            AccountHealth::RateLimited { until } => {
                write!(
                    f,
                    "rate limited until {}",
                    until.format("%Y-%m-%d %H:%M:%SZ")
                )
            }
        }
    }
}

/// The three states, as the `state` label of `autosync_account_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Ok,
    Paused,
    RateLimited,
}

impl HealthState {
    pub const ALL: [HealthState; 3] = [
        HealthState::Ok,
        HealthState::Paused,
        HealthState::RateLimited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Ok => "ok",
            HealthState::Paused => "paused",
            HealthState::RateLimited => "rate_limited",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Pause;

    #[test]
    fn a_pause_wins_over_a_rate_limit_and_a_past_limit_is_over() {
        let now = Utc::now();
        let later = now + chrono::Duration::minutes(5);
        let paused = AccountState {
            paused: Some(Pause {
                reason: PauseReason::LoginExpired {
                    detail: "code 401".into(),
                },
                since: now,
            }),
            not_before: Some(later),
            verified: None,
        };
        assert_eq!(AccountHealth::of(&paused, now).state(), HealthState::Paused);
        let limited = AccountState {
            not_before: Some(later),
            ..Default::default()
        };
        assert_eq!(
            AccountHealth::of(&limited, now),
            AccountHealth::RateLimited { until: later }
        );
        assert_eq!(AccountHealth::of(&limited, later), AccountHealth::Ok);
        assert_eq!(
            AccountHealth::of(&AccountState::default(), now),
            AccountHealth::Ok
        );
    }

    #[test]
    fn health_serialises_with_its_state_named() {
        let v = serde_json::to_value(AccountHealth::Ok).unwrap();
        assert_eq!(v, serde_json::json!({"state": "ok"}));
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let v = serde_json::to_value(AccountHealth::RateLimited { until: t }).unwrap();
        assert_eq!(v["state"], "rate_limited");
        let back: AccountHealth = serde_json::from_value(v).unwrap();
        assert_eq!(back, AccountHealth::RateLimited { until: t });
    }
}
