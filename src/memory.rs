//! How the process uses the C allocator: the daemon's RSS target (< 100 MB
//! at 2,000 units, issue 3) is as much about glibc's malloc as about our own
//! allocations.
//!
//! Why this exists: a poll cycle allocates in bursts from tokio's workers,
//! sled's IO threads and the blocking pool, then frees almost everything.
//! glibc's defaults make that expensive in RSS:
//!
//! - up to 8 arenas per core, one per thread that happens to allocate
//!   concurrently, each keeping its own freed pages;
//! - a *sliding* mmap threshold: the first time a large block (sled's
//!   512 KiB log buffers, a big page body) is freed, glibc raises the
//!   threshold to that size, and from then on such blocks come from the
//!   arenas, where they fragment them instead of going back to the OS on
//!   `free`.
//!
//! Measured on the 2,000-unit first cycle (`BENCHMARKS.md`): peak RSS
//! 101 MiB with the defaults, 92 MiB with two arenas, 94 MiB with a fixed
//! threshold, 80 MiB with both; CPU unchanged within noise.
//!
//! Everything here is a no-op off glibc (musl, other systems).

/// Arenas: one per tokio worker on the 2-core machines this runs on; more
/// threads share them (contention is low: the work is mostly waiting).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENA_MAX: libc::c_int = 2;

/// Blocks from this size on are mmapped and unmapped on free: glibc's own
/// initial value, now kept fixed instead of sliding up to 32 MiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Set the allocator up for a long-running daemon. Call it first thing in
/// `main`, before any thread starts. An operator's own `MALLOC_ARENA_MAX` or
/// `MALLOC_MMAP_THRESHOLD_` (glibc reads them itself) wins over our value.
///
/// Returns the names of the settings glibc refused (empty when all took).
pub fn tune_allocator() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut refused = Vec::new();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut set = |param, value, env: &'static str| {
            if std::env::var_os(env).is_some() {
                return;
            }
            // SAFETY: mallopt only changes glibc's own tunables, under its
            // own locks; it returns 0 when it refuses a value.
            if unsafe { libc::mallopt(param, value) } != 1 {
                refused.push(env);
            }
        };
        set(libc::M_ARENA_MAX, ARENA_MAX, "MALLOC_ARENA_MAX");
        set(
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD,
            "MALLOC_MMAP_THRESHOLD_",
        );
    }
    refused
}

/// Give freed heap pages back to the OS. A poll cycle of thousands of units
/// allocates in bursts and frees almost all of it; glibc keeps the freed
/// pages in its arenas, so without this the daemon would sit at its
/// cycle's peak RSS between cycles (BENCHMARKS.md).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it takes their
    // locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The process's resident set size in bytes, from `/proc/self/statm`
/// (`None` where there is no procfs).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|p| pages * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc must accept both values (it answers 0 to a threshold above
    /// its maximum, for one), and both calls must be safe to repeat from a
    /// process that already runs threads, as the test harness does.
    #[test]
    fn allocator_accepts_the_tuning_and_trimming_is_safe() {
        assert_eq!(tune_allocator(), Vec::<&str>::new());
        assert_eq!(tune_allocator(), Vec::<&str>::new());
        let big: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 300 * 1024]).collect();
        assert_eq!(big[63][300 * 1024 - 1], 63);
        drop(big);
        release_free_memory();
    }

    /// A test process is resident in some megabytes, surely not in zero nor
    /// in terabytes: guards the statm field and the page-size arithmetic.
    #[cfg(target_os = "linux")]
    #[test]
    fn resident_bytes_reads_a_plausible_rss() {
        let rss = resident_bytes().expect("procfs");
        assert!((1 << 20..1 << 40).contains(&rss), "{rss}");
        // Touching 128 MiB more shows up (with room for what other tests of
        // this process free meanwhile).
        let big = vec![1u8; 128 << 20];
        let more = resident_bytes().expect("procfs");
        assert!(more >= rss + (64 << 20), "{rss} -> {more}");
        drop(big);
    }
}
