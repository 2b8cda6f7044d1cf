//! The scheduler's guarantees, over work that only counts and sleeps, in
//! tokio's paused time: one poll of a unit at a time, one turn of an
//! account at a time, at most `concurrency` of each, no lost ring, a stop
//! that waits for the work in flight and leaves nothing running after.

use super::*;
use chrono::TimeZone;
use std::sync::Mutex;

/// Who is running now, and everything that ran.
#[derive(Default)]
struct Log {
    polling: HashMap<String, usize>,
    turning: HashMap<(String, usize), usize>,
    polls_now: usize,
    polls_max: usize,
    turns_now: usize,
    turns_max: usize,
    overlap: Vec<String>,
    /// (unit, sources, started after)
    polls: Vec<(String, Vec<u16>, Duration)>,
    /// (unit, account, started after)
    turns: Vec<(String, usize, Duration)>,
    /// The copy of the unit each poll was handed.
    polled_copies: Vec<Arc<Unit>>,
}

#[derive(Clone)]
struct Fake {
    log: Arc<Mutex<Log>>,
    began: Instant,
    poll_takes: Duration,
    turn_takes: Duration,
    /// What a turn answers, by unit id (default: the idle minute).
    waits: Arc<HashMap<String, Duration>>,
    run_at_start: bool,
}

impl Fake {
    fn new(poll_takes: u64, turn_takes: u64) -> Fake {
        Fake {
            log: Default::default(),
            began: Instant::now(),
            poll_takes: Duration::from_secs(poll_takes),
            turn_takes: Duration::from_secs(turn_takes),
            waits: Default::default(),
            run_at_start: true,
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }
}

impl Work for Fake {
    async fn poll(&self, unit: Arc<Unit>, sources: Box<[u16]>, _retries_too: bool) {
        {
            let mut l = self.log();
            let n = l.polling.entry(unit.id.clone()).or_default();
            *n += 1;
            if *n > 1 {
                l.overlap.push(format!("two polls of {}", unit.id));
            }
            l.polls_now += 1;
            l.polls_max = l.polls_max.max(l.polls_now);
            let at = self.began.elapsed();
            l.polls.push((unit.id.clone(), sources.to_vec(), at));
            l.polled_copies.push(unit.clone());
        }
        tokio::time::sleep(self.poll_takes).await;
        let mut l = self.log();
        *l.polling.get_mut(&unit.id).unwrap() -= 1;
        l.polls_now -= 1;
    }

    async fn turn(
        &self,
        unit: Arc<Unit>,
        index: usize,
        _fresh: bool,
        _cancel: CancellationToken,
    ) -> Duration {
        let key = (unit.id.clone(), index);
        {
            let mut l = self.log();
            let n = l.turning.entry(key.clone()).or_default();
            *n += 1;
            if *n > 1 {
                l.overlap.push(format!("two turns of {key:?}"));
            }
            l.turns_now += 1;
            l.turns_max = l.turns_max.max(l.turns_now);
            let at = self.began.elapsed();
            l.turns.push((unit.id.clone(), index, at));
        }
        tokio::time::sleep(self.turn_takes).await;
        let mut l = self.log();
        *l.turning.get_mut(&key).unwrap() -= 1;
        l.turns_now -= 1;
        self.waits.get(&unit.id).copied().unwrap_or(IDLE_RECHECK)
    }

    fn now(&self) -> DateTime<Tz> {
        let t0 = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 3, 2, 0, 3, 0)
            .unwrap();
        t0 + chrono::Duration::from_std(self.began.elapsed()).unwrap()
    }

    fn run_at_start(&self) -> bool {
        self.run_at_start
    }
}

/// `n` units, each with a source on the unit's schedule and one on its
/// own (`*/5`): two schedule groups a unit.
fn units(n: usize) -> Vec<Arc<Unit>> {
    let mut text = String::from("[daemon]\nstate_dir = \"state\"\n");
    for i in 0..n {
        text.push_str(&format!(
            r#"
[[unit]]
id = "u{i}"
account_name = "账号{i}"
org_name = "单位{i}"
level = "county"
site = "http://127.0.0.1:9/"
schedule = "*/10 * * * *"
  [[unit.source]]
  feed = "http://127.0.0.1:9/{i}/a.xml"
  [[unit.source]]
  feed = "http://127.0.0.1:9/{i}/b.xml"
  schedule = "*/5 * * * *"
  [unit.publisher]
  kind = "file"
  dir = "out"
"#
        ));
    }
    let cfg = crate::config::parse(&text, std::path::Path::new("/nowhere/autosync.toml")).unwrap();
    cfg.units
}

fn start(work: &Fake, concurrency: usize, units: &[Arc<Unit>]) -> (Handle, CancellationToken) {
    let (handle, commands) = channel();
    let shutdown = CancellationToken::new();
    let scheduler = Scheduler::new(work.clone(), commands, concurrency, shutdown.clone());
    tokio::spawn(scheduler.run());
    for u in units {
        handle.start(u.clone());
    }
    (handle, shutdown)
}

async fn run_for(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn polls_of_a_unit_never_overlap_and_at_most_concurrency_run_at_once() {
    let work = Fake::new(90, 1);
    let (_h, shutdown) = start(&work, 3, &units(10));
    run_for(3600).await;
    shutdown.cancel();
    let l = work.log();
    assert_eq!(l.overlap, Vec::<String>::new());
    assert_eq!(l.polls_max, 3, "the slots were not all used, or overrun");
    // Each unit's two groups both polled, each with its own sources.
    for i in 0..10 {
        let of = |g: &[u16]| {
            l.polls
                .iter()
                .filter(|(u, s, _)| *u == format!("u{i}") && s == g)
                .count()
        };
        assert!(of(&[0]) >= 2, "u{i} group of the unit's schedule");
        assert!(of(&[1]) >= 2, "u{i} group of its */5 source");
    }
}

#[tokio::test(start_paused = true)]
async fn an_account_never_takes_two_turns_at_once_and_a_ring_during_a_turn_is_not_lost() {
    let work = Fake::new(1, 10);
    let mut fake = work.clone();
    fake.run_at_start = false;
    let (h, shutdown) = start(&fake, 8, &units(1));
    // The first turn runs 0–10 s; three rings during it make one more turn
    // right after it, not three, and not a minute later.
    run_for(2).await;
    for _ in 0..3 {
        h.ring("u0");
    }
    run_for(30).await;
    {
        let l = work.log();
        let starts: Vec<u64> = l.turns.iter().map(|t| t.2.as_secs()).collect();
        assert_eq!(starts, vec![0, 10], "turns started at {starts:?}");
    }
    // Then idle: the next turn a minute after the last ended (20 + 60 s).
    run_for(60).await;
    shutdown.cancel();
    let l = work.log();
    let starts: Vec<u64> = l.turns.iter().map(|t| t.2.as_secs()).collect();
    assert_eq!(starts, vec![0, 10, 80]);
    assert_eq!(l.overlap, Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_stop_waits_for_the_poll_in_flight_and_nothing_of_the_unit_runs_after() {
    let work = Fake::new(30, 1);
    let all = units(2);
    let (h, shutdown) = start(&work, 4, &all);
    run_for(1).await;
    let asked = Instant::now();
    h.stop(["u0"]).await;
    assert!(
        asked.elapsed() >= Duration::from_secs(29),
        "the stop answered while u0's poll still ran ({:?})",
        asked.elapsed()
    );
    assert_eq!(work.log().polling.get("u0"), Some(&0));
    let (polls, turns) = {
        let l = work.log();
        let p = l.polls.iter().filter(|p| p.0 == "u0").count();
        let t = l.turns.iter().filter(|t| t.0 == "u0").count();
        (p, t)
    };
    run_for(3 * 3600).await;
    {
        let l = work.log();
        assert_eq!(l.polls.iter().filter(|p| p.0 == "u0").count(), polls);
        assert_eq!(l.turns.iter().filter(|t| t.0 == "u0").count(), turns);
        assert!(
            l.polls.iter().filter(|p| p.0 == "u1").count() > 10,
            "u1 stopped too"
        );
    }
    // Started again (a reload that changed it): it polls again.
    h.start(all[0].clone());
    run_for(60).await;
    shutdown.cancel();
    assert!(work.log().polls.iter().filter(|p| p.0 == "u0").count() > polls);
}

#[tokio::test(start_paused = true)]
async fn an_account_with_a_backlog_does_not_keep_a_slot_from_the_others() {
    let mut work = Fake::new(1, 5);
    work.run_at_start = false;
    // u0's account always has more to send at once; u1's sleeps a minute.
    work.waits = Arc::new(HashMap::from([("u0".to_string(), Duration::ZERO)]));
    let (_h, shutdown) = start(&work, 1, &units(2));
    run_for(300).await;
    shutdown.cancel();
    let l = work.log();
    let u1: Vec<u64> = l
        .turns
        .iter()
        .filter(|t| t.0 == "u1")
        .map(|t| t.2.as_secs())
        .collect();
    // u1 gets its turn at start and then about every minute (+ a turn of
    // u0's before it), not never.
    assert!(u1.len() >= 4, "u1's turns: {u1:?}");
    assert!(u1[0] <= 5, "u1's first turn: {u1:?}");
    assert_eq!(l.turns_max, 1);
}

#[tokio::test(start_paused = true)]
async fn a_started_unit_polls_at_its_firings_plus_its_offset() {
    let mut work = Fake::new(1, 1);
    work.run_at_start = false;
    let all = units(1);
    let t0 = work.now();
    let (_h, shutdown) = start(&work, 4, &all);
    run_for(3600).await;
    shutdown.cancel();
    let l = work.log();
    let times: Vec<u64> = l
        .polls
        .iter()
        .filter(|p| p.1 == [0])
        .map(|p| p.2.as_secs())
        .collect();
    let sched = Schedule::parse("*/10 * * * *").unwrap();
    let want: Vec<u64> = sched
        .upcoming_polls("u0", None, t0, 6)
        .iter()
        .map(|t| (*t - t0).num_seconds() as u64)
        .filter(|s| *s < 3600)
        .collect();
    assert_eq!(times, want);
}

#[tokio::test(start_paused = true)]
async fn a_reload_that_kept_a_unit_hands_its_new_copy_to_the_next_poll_without_an_extra_poll() {
    // The same unit twice over, side by side: one renewed, one not.
    let (work, control) = (Fake::new(1, 1), Fake::new(1, 1));
    let old = units(1);
    let (h, shutdown) = start(&work, 4, &old);
    let (_c, control_shutdown) = start(&control, 4, &old);
    run_for(30).await;
    let before = work.log().polls.len();
    // The reload's copy (equal configuration, a different allocation), and
    // one whose configuration changed: that one must be a stop and a start,
    // never a silent swap.
    let new = units(1);
    let mut changed = Unit::clone(&new[0]);
    changed.schedule = "*/30 * * * *".into();
    h.renew(Arc::new(changed));
    h.renew(new[0].clone());
    run_for(1800).await;
    shutdown.cancel();
    control_shutdown.cancel();
    let l = work.log();
    assert!(!Arc::ptr_eq(&old[0], &new[0]));
    let after = &l.polled_copies[before..];
    assert!(!after.is_empty(), "no poll after the renew");
    assert!(
        after.iter().all(|u| Arc::ptr_eq(u, &new[0])),
        "a poll after the renew was handed another copy"
    );
    // Renewing polled nothing by itself and moved no timer.
    let at = |l: &Log| l.polls.iter().map(|p| p.2.as_secs()).collect::<Vec<u64>>();
    assert_eq!(at(&l), at(&control.log()));
}
