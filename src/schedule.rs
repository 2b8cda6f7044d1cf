//! Placeholder until the real cron schedules land (branch `sched`): fixed
//! intervals only.

use chrono::DateTime;
use chrono_tz::Tz;
use std::time::Duration;

pub const DEFAULT_SCHEDULE: &str = "*/10 * * * *";

#[derive(Debug, thiserror::Error)]
#[error("schedule {expr:?}: {reason}")]
pub struct ScheduleError {
    pub expr: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        Ok(Schedule {
            expr: expr.to_string(),
        })
    }

    pub fn next_after(&self, after: DateTime<Tz>) -> Option<DateTime<Tz>> {
        Some(after + chrono::Duration::minutes(10))
    }

    pub fn upcoming(&self, after: DateTime<Tz>, n: usize) -> Vec<DateTime<Tz>> {
        let mut out = Vec::new();
        let mut t = after;
        for _ in 0..n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.expr)
    }
}

pub fn jitter(unit_id: &str, max: Duration) -> Duration {
    let _ = unit_id;
    max / 2
}
