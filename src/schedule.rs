//! When each unit is polled: cron expressions with the meaning ops already
//! know from crontab(5).
//!
//! Ops write crontab lines (`30 2 * * 1-5`), so that is the meaning they get.
//! The `cron` crate does the calendar walking, but its dialect differs from
//! crontab in three ways that would silently shift schedules: it wants a
//! seconds field, it numbers weekdays Sunday = 1 … Saturday = 7 (crontab:
//! Sunday = 0 or 7, Monday = 1), and it ANDs day-of-month with day-of-week
//! where crontab ORs them when both are restricted. So this module parses the
//! crontab line itself, expands every field to an explicit list of values
//! (which sidesteps the crate's own range/step/name handling entirely), and
//! hands the crate only plain number lists:
//!
//! * weekday values are shifted by one (`0`/`7` → `1`, `1-5` → `2,3,4,5,6`);
//! * the OR rule is two crate schedules — day-of-month restricted with every
//!   weekday, and every day-of-month with the weekday restricted — and the
//!   earlier next time wins.
//!
//! Following Vixie cron, a day field counts as "restricted" unless its text
//! starts with `*`; so `*/2 * 1` ANDs (odd days that are Mondays) while
//! `1-31 * 1` ORs (every day).
//!
//! A schedule that can never fire (`0 0 30 2 *`) is a configuration error, not
//! a unit that silently never runs, so [`Schedule::parse`] rejects it.
//!
//! ## Spreading units over the period
//!
//! Thousands of units share a schedule; firing them all at the scheduled
//! minute would start every poll in the same second. So each unit polls at
//! the firing time plus an offset of its own ([`Schedule::poll_after`]):
//! a hash of the unit id (stable across restarts and reloads) picks a
//! point in `[0, bound)`, where the bound is
//!
//! * the *period near that firing* — the shorter of the gap from this firing
//!   to the next and the gap after that one. The offset is below the gap to
//!   the next firing, so a unit still polls exactly once per period (never
//!   twice in one, never skipping one); taking the shorter of two gaps keeps
//!   an irregular schedule local: `0 9,10 * * *` spreads both polls over an
//!   hour, not the 10:00 one over 23 hours, and `0 9 * * 1-5` spreads every
//!   weekday's poll over 24 hours (Friday's included, not over the weekend);
//! * and, when `jitter_secs` is set (unit or `[defaults]`), at most that:
//!   ops who want polls close to the written time say how close (`0`: exactly
//!   at it).

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

/// What a unit without its own `schedule` uses: every ten minutes.
pub const DEFAULT_SCHEDULE: &str = "*/10 * * * *";

/// The last year the `cron` crate can compute (its year field ends there).
const LAST_YEAR: u32 = 2100;
const FIRST_YEAR: u32 = 1970;

/// Why a schedule expression was rejected. Every variant names the
/// expression, since the config loader adds only file/line/unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule {expr:?} is empty")]
    Empty { expr: String },
    #[error(
        "schedule {expr:?} has {found} fields; expected 5 (minute hour day-of-month month day-of-week), \
         6 (seconds first) or 7 (seconds … year)"
    )]
    FieldCount { expr: String, found: usize },
    #[error(
        "schedule {expr:?}: unknown macro {name:?} (known: @hourly @daily @midnight @weekly @monthly @yearly @annually)"
    )]
    UnknownMacro { expr: String, name: String },
    #[error("schedule {expr:?}: {field} field {text:?}: {problem}")]
    Field {
        expr: String,
        field: &'static str,
        text: String,
        problem: String,
    },
    #[error("schedule {expr:?} can never fire (no matching date after {reference})")]
    NeverFires { expr: String, reference: String },
    /// The crate refused what this module generated: a bug here, not in
    /// the expression, but still reported rather than panicking.
    #[error(
        "schedule {expr:?}: internal translation {translated:?} rejected by cron crate: {message}"
    )]
    Translation {
        expr: String,
        translated: String,
        message: String,
    },
}

/// A parsed crontab-style schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    expr: String,
    /// One crate schedule, or two for crontab's day-of-month OR day-of-week
    /// rule; the next firing is the earliest of their next times.
    parts: Vec<cron::Schedule>,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}
impl Eq for Schedule {}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// Deserialises from the expression string (so a config field can be a
/// `Schedule` and get the same errors); serialises back to it.
impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expr = String::deserialize(d)?;
        Schedule::parse(&expr).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.expr)
    }
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

/// The date from which [`Schedule::parse`] checks that a schedule can fire at
/// all. Fixed, so that parsing does not depend on the wall clock.
fn reference_date() -> DateTime<Tz> {
    // 2025-01-01 00:00 UTC; cannot fail for a valid constant date.
    Tz::UTC
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(|| DateTime::<chrono::Utc>::UNIX_EPOCH.with_timezone(&Tz::UTC))
}

impl Schedule {
    /// Parses a crontab line (5 fields), a 6-field line with seconds first,
    /// a 7-field line with seconds first and year last, or a macro
    /// (`@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`,
    /// `@yearly`/`@annually`).
    ///
    /// Rejects out-of-range values, unknown names, and schedules that cannot
    /// fire after a fixed reference date (2025-01-01). A 7-field schedule whose
    /// years are all past *today* but not past the reference passes here;
    /// use [`Schedule::parse_at`] with the current time to catch that too.
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        Self::parse_at(expr, reference_date())
    }

    /// Like [`Schedule::parse`], but the schedule must fire after `now`.
    pub fn parse_at(expr: &str, now: DateTime<Tz>) -> Result<Schedule, ScheduleError> {
        let trimmed = expr.trim();
        let schedule = Schedule {
            expr: trimmed.to_string(),
            parts: translate(trimmed)?,
        };
        if schedule.next_after(now).is_none() {
            return Err(ScheduleError::NeverFires {
                expr: trimmed.to_string(),
                reference: now.to_rfc3339(),
            });
        }
        Ok(schedule)
    }

    /// The original expression, trimmed.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The first firing strictly after `after`, in `after`'s time zone;
    /// `None` once the schedule is exhausted (a year list that has passed,
    /// or beyond 2100, where the `cron` crate stops).
    ///
    /// Around DST changes: a local time that does not exist (spring-forward
    /// gap) is skipped; a local time that occurs twice fires at its first
    /// occurrence.
    pub fn next_after(&self, after: DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.parts
            .iter()
            .filter_map(|part| next_strictly_after(part, &after))
            .min()
    }

    /// When `unit_id` polls next: the first firing strictly after `after`,
    /// plus the unit's offset for that firing ([`Schedule::offset`]).
    /// `None` once the schedule is exhausted.
    pub fn poll_after(
        &self,
        unit_id: &str,
        cap: Option<Duration>,
        after: DateTime<Tz>,
    ) -> Option<DateTime<Tz>> {
        let firing = self.next_after(after)?;
        Some(firing + self.offset(unit_id, cap, firing))
    }

    /// The daemon's next poll of `unit_id`: the first firing after `last`
    /// (the firing whose poll ran last; `None` before the first) whose poll
    /// time is still ahead of `now`, and that time. Counted from the last
    /// firing, not from `now`: a poll late in its period that runs past the
    /// next firing must not cost that firing its poll, still to come at its
    /// offset. Poll times already past are skipped (as cron skips what it
    /// missed); far behind (a suspended machine), it starts again from `now`.
    pub fn next_poll(
        &self,
        unit_id: &str,
        cap: Option<Duration>,
        last: Option<DateTime<Tz>>,
        now: DateTime<Tz>,
    ) -> Option<(DateTime<Tz>, DateTime<Tz>)> {
        const CATCH_UP: usize = 16;
        let mut firing = self.next_after(last.unwrap_or(now))?;
        for _ in 0..CATCH_UP {
            let at = firing + self.offset(unit_id, cap, firing);
            if at > now {
                return Some((firing, at));
            }
            firing = self.next_after(firing)?;
        }
        let firing = self.next_after(now)?;
        Some((firing, firing + self.offset(unit_id, cap, firing)))
    }

    /// The unit's delay after `firing` (a firing of this schedule): its
    /// stable share of the period near that firing, at most `cap` (the
    /// module docs give the rule). Always below the gap to the next firing,
    /// so one poll per period.
    pub fn offset(
        &self,
        unit_id: &str,
        cap: Option<Duration>,
        firing: DateTime<Tz>,
    ) -> chrono::Duration {
        let gap = |from: DateTime<Tz>| {
            self.next_after(from)
                .map(|next| ((next - from).to_std().unwrap_or_default(), next))
        };
        // A schedule with no next firing has no period to spread over: only
        // an explicit cap applies.
        let period = gap(firing).map(|(first, next)| match gap(next) {
            Some((second, _)) => first.min(second),
            None => first,
        });
        let bound = match (period, cap) {
            (Some(p), Some(c)) => p.min(c),
            (Some(p), None) => p,
            (None, Some(c)) => c,
            (None, None) => Duration::ZERO,
        };
        chrono::Duration::from_std(jitter(unit_id, bound))
            .unwrap_or_else(|_| chrono::Duration::zero())
    }

    /// The unit's next `n` polls strictly after `after`, in order: what
    /// `autosync check --next` prints and the daemon keeps.
    pub fn upcoming_polls(
        &self,
        unit_id: &str,
        cap: Option<Duration>,
        after: DateTime<Tz>,
        n: usize,
    ) -> Vec<DateTime<Tz>> {
        self.upcoming(after, n)
            .into_iter()
            .map(|f| f + self.offset(unit_id, cap, f))
            .collect()
    }

    /// The next `n` firings strictly after `after`, in order.
    pub fn upcoming(&self, after: DateTime<Tz>, n: usize) -> Vec<DateTime<Tz>> {
        let mut out = Vec::with_capacity(n.min(1024));
        let mut at = after;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }
}

/// The crate's iterator yields, for a local time that occurs twice, the
/// earlier instant first; if `after` lies in the second pass of a fold that
/// earlier instant is not after it. Skip such items (a handful at most).
fn next_strictly_after(part: &cron::Schedule, after: &DateTime<Tz>) -> Option<DateTime<Tz>> {
    part.after(after).take(8).find(|t| t > after)
}

/// A per-unit offset in `[0, max)`, stable across restarts, so that many
/// units on the same schedule do not all fetch in the same second.
pub fn jitter(unit_id: &str, max: Duration) -> Duration {
    let nanos = max.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    let digest = Sha256::digest(unit_id.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    let offset = u128::from_be_bytes(first) % nanos;
    let secs = u64::try_from(offset / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder is below 1e9 and so fits a u32.
    let sub = u32::try_from(offset % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, sub)
}

// ------------------------------------------------------------ translation

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const SECONDS: FieldSpec = FieldSpec {
    name: "seconds",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTES: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAYS_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
        ("january", 1),
        ("february", 2),
        ("march", 3),
        ("april", 4),
        ("june", 6),
        ("july", 7),
        ("august", 8),
        ("september", 9),
        ("october", 10),
        ("november", 11),
        ("december", 12),
    ],
};
/// crontab numbering: Sunday is 0 and also 7.
const DAYS_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
        ("sunday", 0),
        ("monday", 1),
        ("tuesday", 2),
        ("wednesday", 3),
        ("thursday", 4),
        ("friday", 5),
        ("saturday", 6),
    ],
};
const YEARS: FieldSpec = FieldSpec {
    name: "year",
    min: FIRST_YEAR,
    max: LAST_YEAR,
    names: &[],
};

/// Expands a macro to its 5-field crontab equivalent.
fn expand_macro(expr: &str) -> Result<&'static str, ScheduleError> {
    Ok(match expr.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        _ => {
            return Err(ScheduleError::UnknownMacro {
                expr: expr.to_string(),
                name: expr.to_string(),
            });
        }
    })
}

/// Turns a crontab expression into one or two `cron` crate schedules.
fn translate(expr: &str) -> Result<Vec<cron::Schedule>, ScheduleError> {
    if expr.is_empty() {
        return Err(ScheduleError::Empty {
            expr: expr.to_string(),
        });
    }
    let line = if expr.starts_with('@') {
        expand_macro(expr)?
    } else {
        expr
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (seconds, rest, year) = match fields.len() {
        5 => ("0", &fields[..], None),
        6 => (fields[0], &fields[1..], None),
        7 => (fields[0], &fields[1..6], Some(fields[6])),
        found => {
            return Err(ScheduleError::FieldCount {
                expr: expr.to_string(),
                found,
            });
        }
    };
    let [minute, hour, dom, month, dow] = rest else {
        // The match above always leaves exactly five fields here.
        return Err(ScheduleError::FieldCount {
            expr: expr.to_string(),
            found: fields.len(),
        });
    };

    let field = |spec: &FieldSpec, text: &str| {
        parse_field(spec, text).map_err(|problem| ScheduleError::Field {
            expr: expr.to_string(),
            field: spec.name,
            text: text.to_string(),
            problem,
        })
    };
    let seconds = list(&field(&SECONDS, seconds)?);
    let minutes = list(&field(&MINUTES, minute)?);
    let hours = list(&field(&HOURS, hour)?);
    let doms = list(&field(&DAYS_OF_MONTH, dom)?);
    let months = list(&field(&MONTHS, month)?);
    let dows = list(&to_cron_weekdays(&field(&DAYS_OF_WEEK, dow)?));
    let years = match year {
        Some(text) if text != "*" => format!(" {}", list(&field(&YEARS, text)?)),
        _ => String::new(),
    };

    let build = |dom: &str, dow: &str| {
        let translated = format!("{seconds} {minutes} {hours} {dom} {months} {dow}{years}");
        translated
            .parse::<cron::Schedule>()
            .map_err(|e| ScheduleError::Translation {
                expr: expr.to_string(),
                translated: translated.clone(),
                message: e.to_string(),
            })
    };

    // Vixie cron: a day field is "unrestricted" iff its text starts with '*'.
    let dom_restricted = !dom.starts_with('*');
    let dow_restricted = !dow.starts_with('*');
    if dom_restricted && dow_restricted {
        Ok(vec![build(&doms, "*")?, build("*", &dows)?])
    } else {
        Ok(vec![build(&doms, &dows)?])
    }
}

/// crontab weekdays (Sunday = 0 or 7, Monday = 1) to the crate's
/// (Sunday = 1, Monday = 2 … Saturday = 7).
fn to_cron_weekdays(crontab: &BTreeSet<u32>) -> BTreeSet<u32> {
    crontab.iter().map(|&d| (d % 7) + 1).collect()
}

fn list(values: &BTreeSet<u32>) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Expands one crontab field (`*`, `5`, `1-5`, `*/15`, `1-30/2`, `5/10`,
/// `mon-fri`, and comma lists of these) to the set of values it covers.
/// Weekday 7 is folded into 0 (both Sunday).
fn parse_field(spec: &FieldSpec, text: &str) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err("empty item in list".to_string());
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("step {step:?} is not a number"))?;
                if step == 0 {
                    return Err("step must be at least 1".to_string());
                }
                (base, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if base == "*" {
            (spec.min, spec.max)
        } else if let Some((a, b)) = base.split_once('-') {
            let a = value(spec, a)?;
            let mut b = value(spec, b)?;
            // `fri-sun`, `5-0`: Sunday as the end of a range means 7.
            if spec.name == DAYS_OF_WEEK.name && b == 0 && a > 0 {
                b = 7;
            }
            if a > b {
                return Err(format!("range {base:?} runs backwards"));
            }
            (a, b)
        } else {
            let a = value(spec, base)?;
            // `5/10` is a common extension meaning `5-max/10`.
            if step.is_some() {
                (a, spec.max)
            } else {
                (a, a)
            }
        };
        let step = step.unwrap_or(1) as usize;
        out.extend((start..=end).step_by(step));
    }
    if spec.name == DAYS_OF_WEEK.name && out.remove(&7) {
        out.insert(0);
    }
    Ok(out)
}

fn value(spec: &FieldSpec, text: &str) -> Result<u32, String> {
    let v = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>()
            .map_err(|_| format!("{text:?} is too large"))?
    } else {
        let lower = text.to_ascii_lowercase();
        match spec.names.iter().find(|(n, _)| *n == lower) {
            Some(&(_, v)) => v,
            None if spec.names.is_empty() => {
                return Err(format!("{text:?} is not a number"));
            }
            None => return Err(format!("{text:?} is not a number or a known name")),
        }
    };
    if v < spec.min || v > spec.max {
        return Err(format!(
            "value {v} is out of range {}-{}",
            spec.min, spec.max
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike, Weekday};
    use std::collections::HashSet;

    fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Tz> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid Shanghai time")
    }

    /// The crontab weekday set a field parses to (before crate translation).
    fn dow(text: &str) -> Vec<u32> {
        parse_field(&DAYS_OF_WEEK, text)
            .expect("valid weekday field")
            .into_iter()
            .collect()
    }

    /// Which weekdays a schedule fires on over three weeks (daily at 00:00).
    fn weekdays_fired(expr: &str) -> HashSet<Weekday> {
        let s = Schedule::parse(expr).expect("valid");
        // 2026-03-01 is a Sunday.
        s.upcoming(sh(2026, 2, 28, 23, 59, 0), 21)
            .into_iter()
            .map(|t| t.weekday())
            .collect()
    }

    #[test]
    fn weekday_values_translate_to_cron_crate_numbering() {
        // crontab value(s) → crate numbering (Sunday = 1).
        let table: &[(&str, &str)] = &[
            ("0", "1"),
            ("7", "1"),
            ("1", "2"),
            ("6", "7"),
            ("0,7", "1"),
            ("1-5", "2,3,4,5,6"),
            ("5-7", "1,6,7"),
            ("*/2", "1,3,5,7"),
            ("1-7/2", "1,2,4,6"),
            ("mon-fri", "2,3,4,5,6"),
            ("MON-Fri", "2,3,4,5,6"),
            ("sat,sun", "1,7"),
            ("fri-sun", "1,6,7"),
            ("Sunday", "1"),
            ("*", "1,2,3,4,5,6,7"),
        ];
        for (crontab, crate_side) in table {
            let got = list(&to_cron_weekdays(
                &parse_field(&DAYS_OF_WEEK, crontab).expect("valid"),
            ));
            assert_eq!(&got, crate_side, "crontab weekday field {crontab:?}");
        }
    }

    #[test]
    fn sunday_is_both_zero_and_seven() {
        assert_eq!(dow("0"), vec![0]);
        assert_eq!(dow("7"), vec![0]);
        let want: HashSet<Weekday> = [Weekday::Sun].into();
        assert_eq!(weekdays_fired("0 0 * * 0"), want);
        assert_eq!(weekdays_fired("0 0 * * 7"), want);
        assert_eq!(weekdays_fired("0 0 * * sun"), want);
    }

    #[test]
    fn weekday_ranges_fire_on_the_right_days() {
        use Weekday::*;
        assert_eq!(
            weekdays_fired("0 0 * * 1-5"),
            [Mon, Tue, Wed, Thu, Fri].into()
        );
        assert_eq!(weekdays_fired("0 0 * * 5-7"), [Fri, Sat, Sun].into());
        assert_eq!(weekdays_fired("0 0 * * */2"), [Sun, Tue, Thu, Sat].into());
        assert_eq!(weekdays_fired("0 0 * * mon,wed"), [Mon, Wed].into());
        assert_eq!(weekdays_fired("0 0 * * sat-sun"), [Sat, Sun].into());
    }

    #[test]
    fn weekday_field_monday_to_friday_at_0230_over_a_week() {
        let s = Schedule::parse("30 2 * * 1-5").expect("valid");
        // From Saturday 2026-03-07 noon: Mon 9 … Fri 13, then Mon 16.
        let got = s.upcoming(sh(2026, 3, 7, 12, 0, 0), 6);
        let want: Vec<_> = [9, 10, 11, 12, 13, 16]
            .iter()
            .map(|&d| sh(2026, 3, d, 2, 30, 0))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_restricted() {
        let s = Schedule::parse("0 0 13 * 5").expect("valid");
        let got = s.upcoming(sh(2026, 1, 31, 0, 0, 0), 60);
        for t in &got {
            assert!(
                t.day() == 13 || t.weekday() == Weekday::Fri,
                "{t} is neither the 13th nor a Friday"
            );
        }
        // Every 13th and every Friday of 2026-02..2026-06 appear.
        let mut day = chrono::NaiveDate::from_ymd_opt(2026, 2, 1).expect("date");
        let end = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        let mut expected = 0;
        while day < end {
            if day.day() == 13 || day.weekday() == Weekday::Fri {
                expected += 1;
                assert!(
                    got.iter().any(|t| t.date_naive() == day),
                    "{day} missing from {got:?}"
                );
            }
            day = day.succ_opt().expect("date");
        }
        assert!(expected > 20);
        // 2026-02-13 is itself a Friday: fired once, not twice.
        assert_eq!(
            got.iter()
                .filter(
                    |t| t.date_naive() == chrono::NaiveDate::from_ymd_opt(2026, 2, 13).expect("d")
                )
                .count(),
            1
        );
    }

    #[test]
    fn star_prefixed_day_field_means_and() {
        // Vixie: `*/2` day-of-month is "unrestricted" for the OR rule, so
        // this is odd days that are also Mondays.
        let s = Schedule::parse("0 0 */2 * 1").expect("valid");
        for t in s.upcoming(sh(2026, 1, 1, 0, 0, 0), 20) {
            assert_eq!(t.weekday(), Weekday::Mon, "{t}");
            assert_eq!(t.day() % 2, 1, "{t}");
        }
        // Day-of-month only: weekday `*` does not widen it.
        let s = Schedule::parse("0 0 1 * *").expect("valid");
        assert!(
            s.upcoming(sh(2026, 1, 1, 0, 0, 0), 12)
                .iter()
                .all(|t| t.day() == 1)
        );
    }

    #[test]
    fn every_ten_minutes_is_the_default() {
        let s = Schedule::parse(DEFAULT_SCHEDULE).expect("valid");
        let got = s.upcoming(sh(2026, 5, 1, 23, 43, 10), 4);
        assert_eq!(
            got,
            vec![
                sh(2026, 5, 1, 23, 50, 0),
                sh(2026, 5, 2, 0, 0, 0),
                sh(2026, 5, 2, 0, 10, 0),
                sh(2026, 5, 2, 0, 20, 0),
            ]
        );
    }

    #[test]
    fn next_after_is_strictly_after() {
        let s = Schedule::parse("*/10 * * * *").expect("valid");
        assert_eq!(
            s.next_after(sh(2026, 5, 1, 10, 0, 0)),
            Some(sh(2026, 5, 1, 10, 10, 0))
        );
        let just_before = sh(2026, 5, 1, 9, 59, 59) + chrono::Duration::milliseconds(999);
        assert_eq!(s.next_after(just_before), Some(sh(2026, 5, 1, 10, 0, 0)));
    }

    #[test]
    fn lists_ranges_and_steps_expand() {
        assert_eq!(
            parse_field(&MINUTES, "*/15")
                .expect("ok")
                .into_iter()
                .collect::<Vec<_>>(),
            vec![0, 15, 30, 45]
        );
        assert_eq!(parse_field(&DAYS_OF_MONTH, "1-30/2").expect("ok").len(), 15);
        assert_eq!(
            parse_field(&HOURS, "1,3,8-10")
                .expect("ok")
                .into_iter()
                .collect::<Vec<_>>(),
            vec![1, 3, 8, 9, 10]
        );
        assert_eq!(
            parse_field(&MINUTES, "5/20")
                .expect("ok")
                .into_iter()
                .collect::<Vec<_>>(),
            vec![5, 25, 45]
        );
        // A step wider than the range is legal in crontab: just the start.
        assert_eq!(
            parse_field(&MINUTES, "*/90")
                .expect("ok")
                .into_iter()
                .collect::<Vec<_>>(),
            vec![0]
        );
        assert_eq!(
            parse_field(&MONTHS, "JAN,jul-Sep")
                .expect("ok")
                .into_iter()
                .collect::<Vec<_>>(),
            vec![1, 7, 8, 9]
        );
        let s = Schedule::parse("0 9-17/4 * * *").expect("valid");
        let hours: Vec<u32> = s
            .upcoming(sh(2026, 5, 1, 0, 0, 0), 3)
            .iter()
            .map(|t| t.hour())
            .collect();
        assert_eq!(hours, vec![9, 13, 17]);
    }

    #[test]
    fn month_names_restrict_months() {
        let s = Schedule::parse("0 0 1 jan,jul *").expect("valid");
        let got = s.upcoming(sh(2026, 2, 1, 0, 0, 0), 3);
        assert_eq!(
            got,
            vec![
                sh(2026, 7, 1, 0, 0, 0),
                sh(2027, 1, 1, 0, 0, 0),
                sh(2027, 7, 1, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn macros_mean_their_crontab_lines() {
        let from = sh(2026, 3, 4, 10, 20, 0); // a Wednesday
        let cases = [
            ("@hourly", sh(2026, 3, 4, 11, 0, 0)),
            ("@daily", sh(2026, 3, 5, 0, 0, 0)),
            ("@midnight", sh(2026, 3, 5, 0, 0, 0)),
            ("@weekly", sh(2026, 3, 8, 0, 0, 0)), // Sunday
            ("@monthly", sh(2026, 4, 1, 0, 0, 0)),
            ("@yearly", sh(2027, 1, 1, 0, 0, 0)),
            ("@annually", sh(2027, 1, 1, 0, 0, 0)),
            ("@Daily", sh(2026, 3, 5, 0, 0, 0)),
        ];
        for (expr, want) in cases {
            let s = Schedule::parse(expr).expect(expr);
            assert_eq!(s.next_after(from), Some(want), "{expr}");
            assert_eq!(s.to_string(), expr);
        }
        assert!(matches!(
            Schedule::parse("@reboot"),
            Err(ScheduleError::UnknownMacro { .. })
        ));
    }

    #[test]
    fn six_field_form_has_seconds_first() {
        let s = Schedule::parse("30 0 12 * * mon").expect("valid");
        // 2026-03-09 is a Monday.
        assert_eq!(
            s.next_after(sh(2026, 3, 7, 0, 0, 0)),
            Some(sh(2026, 3, 9, 12, 0, 30))
        );
        // Same OR rule on the day fields in the 6-field form.
        let s = Schedule::parse("0 0 0 13 * 5").expect("valid");
        let got = s.upcoming(sh(2026, 3, 1, 0, 0, 0), 3);
        assert_eq!(
            got,
            vec![
                sh(2026, 3, 6, 0, 0, 0),
                sh(2026, 3, 13, 0, 0, 0),
                sh(2026, 3, 20, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn seven_field_form_has_a_year_last() {
        let s = Schedule::parse("0 0 8 1 5 * 2030").expect("valid");
        assert_eq!(
            s.upcoming(sh(2026, 1, 1, 0, 0, 0), 2),
            vec![sh(2030, 5, 1, 8, 0, 0)]
        );
        let s = Schedule::parse("0 0 8 1 5 * *").expect("valid");
        assert_eq!(s.upcoming(sh(2026, 1, 1, 0, 0, 0), 2).len(), 2);
        // Weekday translation applies in the 7-field form too.
        let s = Schedule::parse("0 0 8 * * 0 2031").expect("valid");
        let t = s.next_after(sh(2026, 1, 1, 0, 0, 0)).expect("fires");
        assert_eq!((t.year(), t.weekday()), (2031, Weekday::Sun));
    }

    #[test]
    fn schedules_that_never_fire_are_errors() {
        for expr in [
            "0 0 31 2 *",
            "0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 0 1 1 * 2020",
        ] {
            match Schedule::parse(expr) {
                Err(e @ ScheduleError::NeverFires { .. }) => {
                    assert!(e.to_string().contains(expr), "{e}");
                }
                other => panic!("{expr}: expected NeverFires, got {other:?}"),
            }
        }
        // Rare but possible: Feb 29.
        assert!(Schedule::parse("0 0 29 2 *").is_ok());
        // With the OR rule, Feb 30 OR Mondays still fires.
        assert!(Schedule::parse("0 0 30 2 1").is_ok());
    }

    #[test]
    fn parse_at_rejects_years_already_past() {
        let now = sh(2026, 11, 26, 0, 0, 0);
        assert!(Schedule::parse("0 0 0 1 1 * 2026").is_ok());
        assert!(matches!(
            Schedule::parse_at("0 0 0 1 1 * 2026", now),
            Err(ScheduleError::NeverFires { .. })
        ));
        assert!(Schedule::parse_at("0 0 0 1 1 * 2027", now).is_ok());
    }

    #[test]
    fn invalid_expressions_are_errors_naming_the_expression() {
        let cases = [
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day-of-month"),
            ("* * 32 * *", "day-of-month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day-of-week"),
            ("* * * * funday", "day-of-week"),
            ("* * * foo *", "month"),
            ("*/0 * * * *", "minute"),
            ("5-2 * * * *", "minute"),
            ("1,,2 * * * *", "minute"),
            ("a * * * *", "minute"),
            ("99999999999 * * * *", "minute"),
            ("60 * * * * *", "seconds"),
            ("0 0 0 1 1 * 2101", "year"),
        ];
        for (expr, field) in cases {
            let err = Schedule::parse(expr).expect_err(expr);
            let msg = err.to_string();
            assert!(msg.contains(expr), "{expr}: {msg}");
            assert!(msg.contains(field), "{expr}: {msg} should name {field}");
        }
        for expr in ["", "   ", "* * * *", "* * * * * * * *"] {
            assert!(Schedule::parse(expr).is_err(), "{expr:?}");
        }
    }

    #[test]
    fn deserialises_from_a_config_string_with_the_same_errors() {
        #[derive(serde::Deserialize)]
        struct Unit {
            schedule: Schedule,
        }
        let u: Unit = toml::from_str("schedule = \"30 2 * * 1-5\"").expect("valid");
        assert_eq!(u.schedule.to_string(), "30 2 * * 1-5");
        let err = toml::from_str::<Unit>("schedule = \"0 0 30 2 *\"")
            .err()
            .expect("never fires");
        assert!(err.to_string().contains("can never fire"), "{err}");
    }

    #[test]
    fn display_is_the_original_expression() {
        let s = Schedule::parse("  30 2 * * MON-fri ").expect("valid");
        assert_eq!(s.to_string(), "30 2 * * MON-fri");
        assert_eq!(s.as_str(), "30 2 * * MON-fri");
    }

    #[test]
    fn upcoming_returns_n_in_order_and_stops_when_exhausted() {
        let s = Schedule::parse("0 */6 * * *").expect("valid");
        let got = s.upcoming(sh(2026, 1, 1, 1, 0, 0), 5);
        assert_eq!(got.len(), 5);
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(got[0], sh(2026, 1, 1, 6, 0, 0));
        assert_eq!(got[4], sh(2026, 1, 2, 6, 0, 0));
        assert!(s.upcoming(sh(2026, 1, 1, 1, 0, 0), 0).is_empty());
        let once = Schedule::parse("0 0 0 1 1 * 2030").expect("valid");
        assert_eq!(once.upcoming(sh(2026, 1, 1, 0, 0, 0), 5).len(), 1);
    }

    #[test]
    fn times_come_back_in_the_callers_zone() {
        let s = Schedule::parse("0 9 * * *").expect("valid");
        let utc_after = Tz::UTC
            .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
            .single()
            .expect("t");
        let t = s.next_after(utc_after).expect("fires");
        assert_eq!(t.timezone(), Tz::UTC);
        assert_eq!(t.hour(), 9);
        let t = s
            .next_after(utc_after.with_timezone(&chrono_tz::Asia::Shanghai))
            .expect("fires");
        assert_eq!((t.hour(), t.timezone()), (9, chrono_tz::Asia::Shanghai));
    }

    #[test]
    fn dst_gap_and_fold_do_not_panic_or_go_backwards() {
        let ny = chrono_tz::America::New_York;
        // 2026-03-08 02:00–03:00 does not exist; 2026-11-01 01:00–02:00 twice.
        let s = Schedule::parse("30 2 * * *").expect("valid");
        let before_gap = ny
            .with_ymd_and_hms(2026, 3, 7, 12, 0, 0)
            .single()
            .expect("t");
        let got = s.upcoming(before_gap, 3);
        assert_eq!(got.len(), 3);
        assert!(got.windows(2).all(|w| w[0] < w[1]));

        let every_minute = Schedule::parse("* * * * *").expect("valid");
        let in_fold_second_pass = ny
            .with_ymd_and_hms(2026, 11, 1, 1, 15, 30)
            .latest()
            .expect("t");
        let mut at = in_fold_second_pass;
        for _ in 0..200 {
            let next = every_minute.next_after(at).expect("fires");
            assert!(next > at, "{next} not after {at}");
            at = next;
        }
        let s = Schedule::parse("30 1 * * *").expect("valid");
        let got = s.upcoming(
            ny.with_ymd_and_hms(2026, 10, 31, 12, 0, 0)
                .single()
                .expect("t"),
            3,
        );
        assert!(got.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn jitter_is_stable_bounded_and_spread() {
        let max = Duration::from_secs(600);
        assert_eq!(jitter("unit-a", max), jitter("unit-a", max));
        assert_eq!(jitter("unit-a", Duration::ZERO), Duration::ZERO);
        let offsets: BTreeSet<Duration> = (0..1000)
            .map(|i| jitter(&format!("unit-{i}"), max))
            .collect();
        assert!(offsets.iter().all(|d| *d < max));
        // A thousand units spread over many distinct seconds.
        let seconds: BTreeSet<u64> = offsets.iter().map(Duration::as_secs).collect();
        assert!(
            seconds.len() > 400,
            "only {} distinct seconds",
            seconds.len()
        );
        assert!(jitter("x", Duration::from_nanos(1)) == Duration::ZERO);
    }

    #[test]
    fn a_thousand_units_on_every_ten_minutes_spread_over_the_period() {
        let s = Schedule::parse("*/10 * * * *").expect("valid");
        let after = sh(2026, 5, 1, 10, 3, 0);
        let firing = sh(2026, 5, 1, 10, 10, 0);
        let ids: Vec<String> = (0..1000).map(|i| format!("unit-{i}")).collect();
        let first: Vec<DateTime<Tz>> = ids
            .iter()
            .map(|id| s.poll_after(id, None, after).expect("fires"))
            .collect();
        let mut per_minute = [0usize; 10];
        for t in &first {
            assert!(
                *t >= firing && *t < firing + chrono::Duration::minutes(10),
                "{t}"
            );
            per_minute[usize::try_from((*t - firing).num_minutes()).expect("minute")] += 1;
        }
        // A tenth each is 100; none crowded, none nearly empty.
        for (m, n) in per_minute.iter().enumerate() {
            assert!(
                (50..=200).contains(n),
                "minute {m} holds {n}: {per_minute:?}"
            );
        }
        // Stable: the same times on every call (and so after a restart).
        let again: Vec<DateTime<Tz>> = ids
            .iter()
            .map(|id| s.poll_after(id, None, after).expect("fires"))
            .collect();
        assert_eq!(first, again);
        // And the same offset in every period.
        for id in ids.iter().take(50) {
            let polls = s.upcoming_polls(id, None, after, 6);
            let firings = s.upcoming(after, 6);
            let offsets: HashSet<chrono::Duration> =
                polls.iter().zip(&firings).map(|(p, f)| *p - *f).collect();
            assert_eq!(offsets.len(), 1, "{id}: {polls:?}");
        }
    }

    /// Each poll falls in its own period: at or after its firing, before
    /// the next. So a unit never polls twice in one period, nor skips one.
    fn assert_one_poll_per_period(expr: &str, cap: Option<Duration>, max_offset: chrono::Duration) {
        let s = Schedule::parse(expr).expect("valid");
        let after = sh(2026, 2, 27, 12, 0, 0);
        let firings = s.upcoming(after, 41);
        for i in 0..200 {
            let id = format!("unit-{i}");
            let polls = s.upcoming_polls(&id, cap, after, 40);
            for (k, p) in polls.iter().enumerate() {
                assert!(
                    firings[k] <= *p && *p < firings[k + 1],
                    "{expr} {id}: poll {p} outside [{}, {})",
                    firings[k],
                    firings[k + 1]
                );
                assert!(*p - firings[k] < max_offset, "{expr} {id}: {p}");
            }
        }
    }

    #[test]
    fn spread_never_polls_twice_in_a_period_on_irregular_schedules() {
        // Weekdays at 9: Friday's poll stays within a day, not the weekend.
        assert_one_poll_per_period("0 9 * * 1-5", None, chrono::Duration::hours(24));
        // Uneven gaps (1 h, 23 h): both polls spread over the short one.
        assert_one_poll_per_period("0 9,10 * * *", None, chrono::Duration::hours(1));
        assert_one_poll_per_period("*/5 8-20 * * *", None, chrono::Duration::minutes(5));
        assert_one_poll_per_period("0 0 1 * *", None, chrono::Duration::days(31));
    }

    #[test]
    fn an_explicit_jitter_caps_the_offset() {
        let cap = Duration::from_secs(30);
        assert_one_poll_per_period("*/10 * * * *", Some(cap), chrono::Duration::seconds(30));
        // A cap wider than the period does not widen it.
        assert_one_poll_per_period(
            "*/10 * * * *",
            Some(Duration::from_secs(3600)),
            chrono::Duration::minutes(10),
        );
        // 0: exactly on the scheduled time.
        let s = Schedule::parse("*/10 * * * *").expect("valid");
        let after = sh(2026, 5, 1, 10, 3, 0);
        assert_eq!(
            s.poll_after("unit-a", Some(Duration::ZERO), after),
            Some(sh(2026, 5, 1, 10, 10, 0))
        );
    }

    #[test]
    fn a_poll_running_past_the_next_firing_keeps_that_firings_poll() {
        let s = Schedule::parse("*/10 * * * *").expect("valid");
        let (f1, f2, f3) = (
            sh(2026, 5, 1, 10, 10, 0),
            sh(2026, 5, 1, 10, 20, 0),
            sh(2026, 5, 1, 10, 30, 0),
        );
        // A unit whose offset is past the first minute of the period.
        let id = (0..)
            .map(|i| format!("unit-{i}"))
            .find(|id| s.offset(id, None, f2) > chrono::Duration::minutes(1))
            .expect("some unit");
        let off = s.offset(&id, None, f2);
        // The 10:10 poll ran until 10:20:30: the 10:20 poll is still due.
        let late = sh(2026, 5, 1, 10, 20, 30);
        assert_eq!(s.next_poll(&id, None, Some(f1), late), Some((f2, f2 + off)));
        // Counting from now instead would have skipped it.
        assert_eq!(s.poll_after(&id, None, late), Some(f3 + off));
        // Once its time has passed, the next period's.
        assert_eq!(
            s.next_poll(&id, None, Some(f1), f2 + off),
            Some((f3, f3 + off))
        );
        // The first poll: from now.
        assert_eq!(
            s.next_poll(&id, None, None, sh(2026, 5, 1, 10, 3, 0)),
            Some((f1, f1 + s.offset(&id, None, f1)))
        );
        // Far behind (a suspended machine): from now, not period by period.
        let next_day = sh(2026, 5, 2, 10, 3, 0);
        let f = sh(2026, 5, 2, 10, 10, 0);
        assert_eq!(
            s.next_poll(&id, None, Some(f1), next_day),
            Some((f, f + s.offset(&id, None, f)))
        );
    }
}
