//! Whether the store's retention fits the number of units this daemon
//! serves: the warning `check` prints and the daemon logs at start and on
//! reload.
//!
//! Why: the retention defaults (`archive_after_days = 60`,
//! `keep_bodies_days = 0`, bodies for ever) suit a province of a few
//! hundred units, and a small deployment should not lose article bodies on
//! an upgrade. At the whole matrix (10,000–30,000 units) the same defaults
//! keep millions of live items in the database — sled keeps per-page
//! metadata of all of them resident, ~16–24 MiB per 100,000 — and tens of
//! GB of bodies after six months (BENCHMARKS.md, "Six simulated months
//! with archival"). Nothing fails at first: memory and disk grow for weeks.
//! So the config is judged against the volume it implies, at a stated rate,
//! and the warning says what to set; README "Sizing the store for the whole
//! matrix" has the measured table.

use super::Daemon;
use super::check::MIN_ARCHIVE_AFTER_DAYS;

/// The rate the sizing assumes: new articles a unit a day. A county
/// association posts less, a province more; two is the matrix's middle
/// (the benchmarks use it).
pub const ASSUMED_ARTICLES_PER_UNIT_DAY: u64 = 2;

/// Resident memory of the open store per 100,000 live items, the upper end
/// of what was measured (16–24 MiB, BENCHMARKS.md "Memory" and "Six
/// simulated months"): the warning errs on the safe side.
pub const RESIDENT_MIB_PER_100K_LIVE: u64 = 24;

/// What the store's live items may take of the daemon's memory: half of
/// the 200 MB target (issue 13); the rest is the daemon's per-unit state.
pub const STORE_MEMORY_BUDGET_MIB: u64 = 100;

/// Disk a body file takes (allocated, `du`): 7.4 KiB measured at 20,000
/// units for 3–8 KB of html and text (4 KiB blocks); 10 KB leaves room for
/// longer real articles.
pub const BODY_BYTES_ON_DISK: u64 = 10_000;

/// Bodies kept for ever are warned about when six months of them would take
/// more than this (10 GB: ~2,800 units at the assumed rate).
pub const BODIES_FOREVER_WARN_BYTES: u64 = 10_000_000_000;

/// The horizon of the warnings that grow for ever: six months.
const HORIZON_DAYS: u64 = 180;

/// Most live items that fit [`STORE_MEMORY_BUDGET_MIB`].
const LIVE_BUDGET: u64 = STORE_MEMORY_BUDGET_MIB * 100_000 / RESIDENT_MIB_PER_100K_LIVE;

/// The README section the warnings point at.
const SEE: &str = "see README \"Sizing the store for the whole matrix\"";

/// A retention setting that does not fit the unit count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizingWarning {
    /// `archive_after_days` keeps more live items than fit the memory
    /// budget (`configured_days` `None`: never archives, counted at six
    /// months).
    LiveItems {
        units: usize,
        configured_days: Option<u32>,
        live_items: u64,
        resident_mib: u64,
        /// The longest window that fits, never below the minimum.
        fitting_days: u32,
        /// Even the minimum window does not fit: the matrix needs shards.
        needs_shards: bool,
    },
    /// `keep_bodies_days = 0` at a unit count where six months of bodies
    /// are tens of GB.
    BodiesForever {
        units: usize,
        bytes_a_day: u64,
        six_months_bytes: u64,
        /// What to set: fits the archive window and the undo window.
        suggested_days: u32,
        suggested_bytes: u64,
    },
}

impl SizingWarning {
    /// The `[daemon]` option the warning is about (for its line).
    pub fn option(&self) -> &'static str {
        match self {
            SizingWarning::LiveItems { .. } => "archive_after_days",
            SizingWarning::BodiesForever { .. } => "keep_bodies_days",
        }
    }
}

/// Live items in the database with a window of `days` (`None`: never,
/// six months): the upkeep runs daily, so up to a day more than the window.
fn live_items(units: usize, days: Option<u32>) -> u64 {
    let days = days.map_or(HORIZON_DAYS, |d| u64::from(d) + 1);
    units as u64 * ASSUMED_ARTICLES_PER_UNIT_DAY * days
}

fn resident_mib(live: u64) -> u64 {
    (live * RESIDENT_MIB_PER_100K_LIVE).div_ceil(100_000)
}

/// What does not fit among `daemon`'s retention settings for `units` units
/// (the units this daemon serves: its shard's).
pub fn store_sizing(units: usize, daemon: &Daemon) -> Vec<SizingWarning> {
    let mut out = Vec::new();
    if units == 0 {
        return out;
    }
    let configured_days = daemon.archive_after.map(|d| d.num_days().max(0) as u32);
    let per_day = units as u64 * ASSUMED_ARTICLES_PER_UNIT_DAY;
    let fitting = (LIVE_BUDGET / per_day).saturating_sub(1);
    let fitting_days = u32::try_from(fitting)
        .unwrap_or(u32::MAX)
        .max(MIN_ARCHIVE_AFTER_DAYS as u32);
    let live = live_items(units, configured_days);
    if live > LIVE_BUDGET {
        out.push(SizingWarning::LiveItems {
            units,
            configured_days,
            live_items: live,
            resident_mib: resident_mib(live),
            fitting_days,
            needs_shards: live_items(units, Some(fitting_days)) > LIVE_BUDGET,
        });
    }
    if daemon.keep_bodies.is_none() {
        let bytes_a_day = per_day * BODY_BYTES_ON_DISK;
        let six_months_bytes = bytes_a_day * HORIZON_DAYS;
        if six_months_bytes > BODIES_FOREVER_WARN_BYTES {
            // Bodies can only go while their items are in the database
            // (keep_bodies_days ≤ archive_after_days), and an undone
            // reject should find its text: the window that fits, at most
            // a month, at least the undo window when the window allows.
            let window = if live > LIVE_BUDGET {
                fitting_days
            } else {
                configured_days.unwrap_or(30)
            };
            let undo = daemon.undo_reject.num_days().max(0) as u32;
            let suggested_days = window.min(30).max(undo.min(window)).max(1);
            out.push(SizingWarning::BodiesForever {
                units,
                bytes_a_day,
                six_months_bytes,
                suggested_days,
                suggested_bytes: bytes_a_day * u64::from(suggested_days),
            });
        }
    }
    out
}

fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

impl std::fmt::Display for SizingWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = ASSUMED_ARTICLES_PER_UNIT_DAY;
        match self {
            SizingWarning::LiveItems {
                units,
                configured_days,
                live_items,
                resident_mib,
                fitting_days,
                needs_shards,
            } => {
                let what = match configured_days {
                    Some(d) => format!("[daemon] archive_after_days = {d}"),
                    None => "[daemon] archive_after_days = 0 (never archive)".into(),
                };
                let when = if configured_days.is_some() {
                    "the database holds"
                } else {
                    "after six months the database holds"
                };
                write!(
                    f,
                    "{what} with {units} units: at ~{rate} new articles a unit a day {when} ~{live_items} live items, ~{resident_mib} MiB resident (~{RESIDENT_MIB_PER_100K_LIVE} MiB per 100,000), over the {STORE_MEMORY_BUDGET_MIB} MiB the store may take of a 200 MB daemon; "
                )?;
                if *needs_shards {
                    write!(
                        f,
                        "set archive_after_days = {fitting_days} (the minimum) and split the units over several daemons (`shard = \"I/N\"`)"
                    )?;
                } else {
                    write!(
                        f,
                        "set archive_after_days = {fitting_days} (the longest window that fits)"
                    )?;
                }
                write!(f, "; {SEE}")
            }
            SizingWarning::BodiesForever {
                units,
                bytes_a_day,
                six_months_bytes,
                suggested_days,
                suggested_bytes,
            } => write!(
                f,
                "[daemon] keep_bodies_days = 0 keeps every article body for ever: with {units} units at ~{rate} articles a unit a day that is ~{} a day, ~{} after six months; set keep_bodies_days = {suggested_days} (~{} of bodies; at most archive_after_days); {SEE}",
                gb(*bytes_a_day),
                gb(*six_months_bytes),
                gb(*suggested_bytes),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon(archive: u32, keep_bodies: u32) -> Daemon {
        let text = crate::config::tests::MINIMAL.replace(
            "state_dir = \"state\"",
            &format!(
                "state_dir = \"state\"\narchive_after_days = {archive}\nkeep_bodies_days = {keep_bodies}"
            ),
        );
        crate::config::parse(&text, std::path::Path::new("/a.toml"))
            .unwrap_or_else(|e| panic!("{e}"))
            .daemon
    }

    #[test]
    fn the_default_window_at_twenty_thousand_units_warns_with_the_window_that_fits() {
        let w = store_sizing(20_000, &daemon(60, 30));
        assert_eq!(w.len(), 1, "{w:?}");
        let SizingWarning::LiveItems {
            live_items,
            fitting_days,
            needs_shards,
            ..
        } = &w[0]
        else {
            panic!("{w:?}")
        };
        // 20,000 × 2 × 61 days; 416,666 live items fit 100 MiB at 24 MiB
        // per 100,000: 10 days of 40,000, minus the day the upkeep lags.
        assert_eq!(
            (*live_items, *fitting_days, *needs_shards),
            (2_440_000, 9, false)
        );
        let s = w[0].to_string();
        assert!(
            s.contains("archive_after_days = 60 with 20000 units"),
            "{s}"
        );
        assert!(s.contains("~2440000 live items, ~586 MiB resident"), "{s}");
        assert!(s.contains("set archive_after_days = 9"), "{s}");
        assert!(s.contains("Sizing the store for the whole matrix"), "{s}");
        // What it recommends fits.
        assert!(store_sizing(20_000, &daemon(9, 9)).is_empty());
    }

    #[test]
    fn never_archiving_is_counted_at_six_months() {
        let w = store_sizing(5_000, &daemon(0, 0));
        let live: Vec<_> = w
            .iter()
            .filter_map(|w| match w {
                SizingWarning::LiveItems {
                    live_items,
                    configured_days,
                    ..
                } => Some((*live_items, *configured_days)),
                _ => None,
            })
            .collect();
        assert_eq!(live, [(1_800_000, None)]);
        assert!(w[0].to_string().contains("after six months"), "{}", w[0]);
    }

    #[test]
    fn a_matrix_too_big_for_the_minimum_window_is_told_to_shard() {
        let w = store_sizing(30_000, &daemon(7, 7));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            matches!(
                w[0],
                SizingWarning::LiveItems {
                    fitting_days: 7,
                    needs_shards: true,
                    ..
                }
            ),
            "{w:?}"
        );
        assert!(w[0].to_string().contains("(`shard = \"I/N\"`)"), "{}", w[0]);
    }

    #[test]
    fn bodies_kept_for_ever_warn_at_matrix_size_with_a_keep_that_fits_the_windows() {
        let w = store_sizing(20_000, &daemon(60, 0));
        let Some(SizingWarning::BodiesForever {
            bytes_a_day,
            six_months_bytes,
            suggested_days,
            ..
        }) = w.iter().find(|w| w.option() == "keep_bodies_days")
        else {
            panic!("{w:?}")
        };
        assert_eq!(*bytes_a_day, 400_000_000);
        assert_eq!(*six_months_bytes, 72_000_000_000);
        // The window that fits the memory (9 days), not the configured 60.
        assert_eq!(*suggested_days, 9);
        let s = w
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            s.contains("~72.0 GB after six months; set keep_bodies_days = 9"),
            "{s}"
        );
        // At a window that fits, the suggestion follows it, up to a month.
        let w = store_sizing(3_000, &daemon(60, 0));
        assert!(
            matches!(
                w.last(),
                Some(SizingWarning::BodiesForever {
                    suggested_days: 30,
                    ..
                })
            ),
            "{w:?}"
        );
    }

    #[test]
    fn a_province_with_the_defaults_gets_no_warning() {
        for units in [1, 300, 2_000] {
            assert!(store_sizing(units, &daemon(60, 0)).is_empty(), "{units}");
        }
        assert!(store_sizing(0, &daemon(0, 0)).is_empty());
    }
}
