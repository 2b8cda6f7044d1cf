//! Wall-clock time, passed in rather than read from a global so that tests can
//! pin it. (Sleeping and timeouts use tokio's clock, which tests pause.)

use chrono::{DateTime, Utc};

/// The one way a time is shown to people (editors, `status`, `check
/// --next`): to the minute, in `[daemon] timezone`, the zone named (`CST`)
/// so that nobody reads it as UTC or as the server's zone.
pub fn zoned<Z: chrono::TimeZone>(t: &DateTime<Z>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// [`zoned`] to the second, with the weekday: for schedules, where a
/// unit's offset of seconds and the day of the week are the point.
pub fn zoned_precise<Z: chrono::TimeZone>(t: &DateTime<Z>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %a %Z")
        .to_string()
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Wall time that follows tokio's clock: under `tokio::time::pause` it moves
/// exactly as far as tokio's paused time is advanced, so schedules computed
/// from it agree with the sleeps that wait for them. For tests.
#[derive(Debug, Clone)]
pub struct TokioClock {
    wall: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        TokioClock {
            wall,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.start;
        self.wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}
