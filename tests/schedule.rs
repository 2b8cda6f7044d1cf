//! Cross-checks `Schedule` against a deliberately naive crontab(5) evaluator
//! that tests every minute of a period. The evaluator shares no code with
//! the module (which goes through the `cron` crate), so a translation slip —
//! weekday numbering, the day-of-month/day-of-week OR rule, names, steps —
//! shows up as a differing firing time.

use autosync::schedule::{DEFAULT_SCHEDULE, Schedule, jitter};
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike};
use chrono_tz::Tz;
use std::collections::HashSet;

/// One crontab field as the set of values it allows (brute force).
fn reference_field(text: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> HashSet<u32> {
    let value = |s: &str| -> u32 {
        s.parse().unwrap_or_else(|_| {
            let pos = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(s))
                .unwrap_or_else(|| panic!("reference: unknown name {s}"));
            pos as u32 + name_base
        })
    };
    let mut out = HashSet::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().expect("step")),
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a), value(b))
        } else if item.contains('/') {
            // Extension: `5/20` means `5-max/20`.
            (value(range), max)
        } else {
            (value(range), value(range))
        };
        // Extension beyond Vixie cron (documented in the module): `fri-sun`
        // ends on Sunday as 7.
        let hi = if max == 7 && hi == 0 && lo > 0 { 7 } else { hi };
        let mut v = lo;
        while v <= hi {
            out.insert(v);
            v += step;
        }
    }
    out
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Every minute in [from, to) that a 5-field crontab line fires on.
fn brute_force(expr: &str, from: DateTime<Tz>, to: DateTime<Tz>) -> Vec<DateTime<Tz>> {
    let f: Vec<&str> = expr.split_whitespace().collect();
    let minutes = reference_field(f[0], 0, 59, &[], 0);
    let hours = reference_field(f[1], 0, 23, &[], 0);
    let doms = reference_field(f[2], 1, 31, &[], 0);
    let months = reference_field(f[3], 1, 12, MONTHS, 1);
    let dows: HashSet<u32> = reference_field(f[4], 0, 7, DAYS, 0)
        .into_iter()
        .map(|d| d % 7)
        .collect();
    let or_rule = !f[2].starts_with('*') && !f[4].starts_with('*');
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let dom_ok = doms.contains(&t.day());
        let dow_ok = dows.contains(&t.weekday().num_days_from_sunday());
        let day_ok = if or_rule {
            dom_ok || dow_ok
        } else {
            dom_ok && dow_ok
        };
        if day_ok
            && minutes.contains(&t.minute())
            && hours.contains(&t.hour())
            && months.contains(&t.month())
        {
            out.push(t);
        }
        t += Duration::minutes(1);
    }
    out
}

fn shanghai(y: i32, m: u32, d: u32) -> DateTime<Tz> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// Ops-style lines, many touching the weekday and day-rule translation.
const EXPRESSIONS: &[&str] = &[
    DEFAULT_SCHEDULE,
    "30 2 * * 1-5",
    "0 0 13 * 5",
    "0 0 13 * fri",
    "0 8 * * 0",
    "0 8 * * 7",
    "0 8 * * sun",
    "0 8 * * 5-7",
    "0 8 * * fri-sun",
    "0 8 * * */2",
    "0 8 * * 1-7/3",
    "15 9,18 * * MON-Fri",
    "0 */3 * * sat,sun",
    "0 0 1,15 * 1",
    "0 0 */2 * 1",
    "0 0 1-31 * 1",
    "0 12 * 2 *",
    "0 12 29 feb *",
    "45 23 31 * *",
    "0 0 * jan-mar/2 wed",
    "5/20 8-18/5 * * *",
    "*/7 3 10-20 * 2,4",
    "59 23 28-31 * 0",
];

#[test]
fn matches_a_brute_force_crontab_evaluator() {
    // Ten weeks across a leap-year February, so month ends, Feb 29 and every
    // weekday/day-of-month combination are exercised.
    let from = shanghai(2028, 1, 20);
    let to = shanghai(2028, 3, 31);
    for expr in EXPRESSIONS {
        let want = brute_force(expr, from, to);
        let s = Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        // upcoming is strictly after, so start one second before `from`.
        let got: Vec<_> = s
            .upcoming(from - Duration::seconds(1), want.len() + 1)
            .into_iter()
            .filter(|t| *t < to)
            .collect();
        assert!(!want.is_empty(), "{expr}: reference found nothing");
        if got != want {
            let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
            panic!(
                "{expr}: {} firings vs reference {}; first difference at index {first_diff:?}: got {:?} want {:?}",
                got.len(),
                want.len(),
                first_diff.and_then(|i| got.get(i)),
                first_diff.and_then(|i| want.get(i)),
            );
        }
    }
}

#[test]
fn seconds_forms_agree_with_the_five_field_form() {
    let from = shanghai(2026, 6, 1);
    for expr in EXPRESSIONS {
        let five = Schedule::parse(expr).expect("5-field");
        let six = Schedule::parse(&format!("0 {expr}")).expect("6-field");
        let seven = Schedule::parse(&format!("0 {expr} *")).expect("7-field");
        let want = five.upcoming(from, 50);
        assert_eq!(six.upcoming(from, 50), want, "6-field {expr}");
        assert_eq!(seven.upcoming(from, 50), want, "7-field {expr}");
    }
}

#[test]
fn error_messages_name_the_expression_for_the_config_loader() {
    for expr in [
        "0 0 31 2 *",
        "60 * * * *",
        "* * * 13 *",
        "* * * * 8",
        "@often",
    ] {
        let err = Schedule::parse(expr).expect_err(expr);
        assert!(err.to_string().contains(expr), "{err}");
    }
}

#[test]
fn jitter_is_usable_as_a_fetch_offset() {
    let max = std::time::Duration::from_secs(60);
    let a = jitter("kx-beijing", max);
    assert!(a < max);
    assert_eq!(a, jitter("kx-beijing", max));
}
