//! `--spread UNITS OUT.csv`: when each unit's poll starts over one
//! 10-minute period, from the daemon's own schedule code (issue 13).
//!
//! The daemon's scheduler sets a unit's poll due at `Schedule::next_poll` (schedule
//! `*/10 * * * *`, the default); that time decides when the unit's requests
//! start. Before the spread, a unit polled at the firing plus its jitter of
//! at most `jitter_secs` (30 s): the same code with a 30 s cap. After, no
//! cap: each unit's stable share of the period. Writes a CSV of polls
//! starting in each second of the period, both ways
//! (`second,before,after`), for `bench/spread_plot.py`; prints the
//! busiest second and the share of the period with any poll, each way.

use anyhow::Context as _;
use autosync::schedule::{DEFAULT_SCHEDULE, Schedule};
use chrono::TimeZone;
use std::io::Write;
use std::time::Duration;

const PERIOD_SECS: usize = 600;

pub fn spread_main(args: &[String]) -> anyhow::Result<()> {
    let usage = "--spread UNITS OUT.csv";
    let units: usize = args.first().context(usage)?.parse()?;
    let out = args.get(1).context(usage)?;
    let s = Schedule::parse(DEFAULT_SCHEDULE).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A manual "now" just after a firing: the next one is 10:10:00.
    let now = chrono_tz::UTC
        .with_ymd_and_hms(2026, 11, 30, 10, 3, 0)
        .single()
        .context("time")?;
    let firing = s.next_after(now).context("the schedule fires")?;
    let mut before = vec![0usize; PERIOD_SECS];
    let mut after = vec![0usize; PERIOD_SECS];
    for i in 0..units {
        let id = format!("u{i:05}");
        for (cap, hist) in [
            (Some(Duration::from_secs(30)), &mut before),
            (None, &mut after),
        ] {
            let (f, at) = s.next_poll(&id, cap, None, now).context("a next poll")?;
            anyhow::ensure!(f == firing, "{id}: polls after another firing");
            let sec = usize::try_from((at - f).num_seconds())?;
            anyhow::ensure!(sec < PERIOD_SECS, "{id}: offset {sec} s past the period");
            hist[sec] += 1;
        }
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
    writeln!(f, "second,before,after")?;
    for k in 0..PERIOD_SECS {
        writeln!(f, "{k},{},{}", before[k], after[k])?;
    }
    f.flush()?;
    for (name, h) in [("before", &before), ("after", &after)] {
        let busy = h.iter().filter(|n| **n > 0).count();
        println!(
            "{name}: busiest second {} polls, polls in {busy} of {PERIOD_SECS} seconds, mean {:.1}/s over those",
            h.iter().max().unwrap_or(&0),
            units as f64 / busy.max(1) as f64
        );
    }
    Ok(())
}
