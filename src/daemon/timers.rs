//! A queue of keyed deadlines: at most one deadline a key, the earliest
//! first.
//!
//! Why: the daemon used to keep a sleeping tokio task per unit schedule and
//! per account, ~5 KiB of task each even with their work boxed — 97 MiB at
//! 20,000 units (BENCHMARKS.md, "The daemon at 20,000 units"). A sleeping
//! unit is now an entry here (a few dozen bytes) and one scheduler task
//! sleeps until the earliest.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use tokio::time::Instant;

/// Deadlines by key. Setting a key again moves its deadline.
#[derive(Debug)]
pub struct Timers<K> {
    /// (deadline, insertion number, key): the number keeps keys due at the
    /// same instant in the order they were set, and the tuple unique.
    by_time: BTreeSet<(Instant, u64, K)>,
    at: HashMap<K, (Instant, u64)>,
    seq: u64,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_time: BTreeSet::new(),
            at: HashMap::new(),
            seq: 0,
        }
    }
}

impl<K: Ord + Hash + Clone> Timers<K> {
    /// `key` is due at `when` (replacing any deadline it had).
    pub fn set(&mut self, key: K, when: Instant) {
        self.remove(&key);
        self.seq += 1;
        self.by_time.insert((when, self.seq, key.clone()));
        self.at.insert(key, (when, self.seq));
    }

    /// `key` is no longer due.
    pub fn remove(&mut self, key: &K) -> bool {
        match self.at.remove(key) {
            Some((when, seq)) => self.by_time.remove(&(when, seq, key.clone())),
            None => false,
        }
    }

    /// When the earliest key is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_time.first().map(|(when, _, _)| *when)
    }

    /// The earliest key due at or before `now`, taken off the queue.
    pub fn pop_due(&mut self, now: Instant) -> Option<K> {
        let (when, _, _) = self.by_time.first()?;
        if *when > now {
            return None;
        }
        let (_, _, key) = self.by_time.pop_first()?;
        self.at.remove(&key);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn keys_come_due_earliest_first_and_in_setting_order_at_one_instant() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set("c", t0 + Duration::from_secs(3));
        t.set("a", t0 + Duration::from_secs(1));
        t.set("b", t0 + Duration::from_secs(1));
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None, "nothing is due yet");
        let now = t0 + Duration::from_secs(2);
        assert_eq!(t.pop_due(now), Some("a"));
        assert_eq!(t.pop_due(now), Some("b"));
        assert_eq!(t.pop_due(now), None);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn setting_a_key_again_moves_it_and_never_doubles_it() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(1, t0 + Duration::from_secs(5));
        t.set(1, t0 + Duration::from_secs(1));
        assert_eq!(t.pop_due(t0 + Duration::from_secs(1)), Some(1));
        assert_eq!(t.pop_due(t0 + Duration::from_secs(9)), None);
    }

    #[test]
    fn a_removed_key_never_comes_due() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(1, t0);
        t.set(2, t0);
        assert!(t.remove(&1));
        assert!(!t.remove(&1));
        assert_eq!(t.pop_due(t0), Some(2));
        assert_eq!(t.next_deadline(), None);
    }
}
