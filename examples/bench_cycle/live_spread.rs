//! `--live-spread UNITS DIR OUT.csv`: the real daemon's polls over one
//! 10-minute period, counted at the loopback sites (issue 13).
//!
//! `--spread` computes when each unit's poll is due from the schedule code
//! alone. This runs the daemon itself — its scheduler, its `concurrency`
//! slots, the fetcher's politeness — on UNITS loopback sites with the
//! default schedule (`*/10 * * * *`), no `jitter_secs` (each unit's stable
//! offset spreads it over the period) and no poll at start, and reads the
//! sites' request counters every second over the first whole period after
//! the daemon is up (it starts at least 30 s before that period's firing):
//! every unit polls once in it, at its offset. (Units whose offset in the
//! period the daemon started in was still ahead are not polled in that
//! period: a unit's first poll is at the next firing plus its offset,
//! so a start can delay a unit's first poll by up to a period.) Writes `second,polls` (second of the 10-minute period, feed
//! and list requests begun in it) for `bench/spread_plot.py`-style plots;
//! prints the busiest second and the share of the period with a poll.

use anyhow::Context as _;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::time::Duration;

const PERIOD_SECS: i64 = 600;

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let usage = "--live-spread UNITS DIR OUT.csv";
    let units: usize = args.first().context(usage)?.parse()?;
    let dir = PathBuf::from(args.get(1).context(usage)?);
    let out = PathBuf::from(args.get(2).context(usage)?);
    let o = super::parse_opts(&[
        "--units".into(),
        units.to_string(),
        "--items".into(),
        "3".into(),
    ])?;
    let work = tempfile::Builder::new()
        .prefix("autosync-live-spread-")
        .tempdir_in(&dir)?;
    let mut server = super::spawn_self(&["--serve", &units.to_string(), "3", "0", "0", "0", "1"])?;
    let mut sout = BufReader::new(server.stdout.take().context("stdout")?);
    let port: u16 = super::read_line(&mut sout)?
        .strip_prefix("PORT ")
        .context("server did not say its port")?
        .parse()?;
    let state = work.path().join("state");
    let listen = format!("127.0.0.1:{}", super::free_port()?);
    let sc = super::Scenario {
        name: "live-spread",
        backfill: 0,
        state_dir: &state,
        listen: &listen,
        schedule: "*/10 * * * *",
    };
    // The scenario's config, as the daemon is run in production: no poll
    // at start, no jitter cap (the spread is the point).
    let text = super::config_text(&o, port, &sc, &work.path().join("published"))
        .replace("run_at_start = true\n", "run_at_start = false\n")
        .replace("jitter_secs = 30\n", "");
    anyhow::ensure!(
        !text.contains("jitter_secs") && text.contains("run_at_start = false"),
        "the scenario's config changed: {usage} needs its run_at_start and jitter_secs lines"
    );
    let cfg = work.path().join("daemon.toml");
    std::fs::write(&cfg, text)?;
    let log = work.path().join("daemon.log");
    let mut daemon = super::spawn_self(&[
        "--daemon",
        cfg.to_str().context("path")?,
        log.to_str().context("path")?,
    ])?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let per_second = rt.block_on(async {
        let mut counts = vec![0u64; PERIOD_SECS as usize];
        let polls = |s: &super::site::Stats| s.feed + s.list + s.not_modified + s.failed;
        // The next firing at least 30 s away, then the period from it.
        let now = chrono::Utc::now().timestamp();
        let firing = (now + 30).div_euclid(PERIOD_SECS) * PERIOD_SECS + PERIOD_SECS;
        let wait = Duration::from_millis(((firing - now) * 1000) as u64).saturating_sub(
            Duration::from_millis(u64::from(chrono::Utc::now().timestamp_subsec_millis())),
        );
        eprintln!(
            "daemon started; measuring the period from {} (in {} s)",
            chrono::DateTime::from_timestamp(firing, 0).unwrap_or_default(),
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
        let mut last = polls(&super::server_stats(port).await?);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        for _ in 0..PERIOD_SECS {
            tick.tick().await;
            let now = polls(&super::server_stats(port).await?);
            // The second that just ended, as a second of the period.
            let second = (chrono::Utc::now().timestamp() - 1).rem_euclid(PERIOD_SECS);
            counts[second as usize] += now - last;
            last = now;
        }
        anyhow::Ok(counts)
    })?;
    let _ = daemon.kill();
    let _ = daemon.wait();
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    let mut f = std::fs::File::create(&out)?;
    writeln!(f, "second,polls")?;
    for (s, n) in per_second.iter().enumerate() {
        writeln!(f, "{s},{n}")?;
    }
    let total: u64 = per_second.iter().sum();
    let (busiest, at) = per_second
        .iter()
        .enumerate()
        .map(|(s, n)| (*n, s))
        .max()
        .unwrap_or_default();
    let busy = per_second.iter().filter(|n| **n > 0).count();
    println!(
        "{units} units: {total} polls in 600 s; busiest second {busiest} polls (second {at} of the period); {busy} of 600 seconds with a poll; mean {:.1} a second",
        total as f64 / PERIOD_SECS as f64
    );
    Ok(())
}
