//! Past one box: N independent daemons, each serving the units whose stable
//! hash falls in its shard.
//!
//! Why this shape: the matrix is a set of units that never need each other
//! at run time (each unit's sources, store records and accounts are its
//! own), so splitting it needs no coordination — only that every daemon
//! agrees, from the unit id alone, which of them serves it. There is no
//! cluster of our own: no leader, no membership, no shared store. Each
//! daemon has its own store, and `check`, `status`, the desk and reports
//! see its own units.
//!
//! The hash is Lamping and Veach's *jump consistent hash* over the first 8
//! bytes of the SHA-256 of the unit id. SHA-256 keeps it stable across
//! versions, platforms and Rust releases (std's hasher promises none of
//! that); the jump hash means that growing from N to N+1 shards moves only
//! about 1/(N+1) of the units — each to the new shard — where `hash % N`
//! would move almost all of them. A unit that moves keeps its history in
//! the old shard's store (`README.md`, "Past one box").

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The largest shard count accepted: far more daemons than any matrix
/// needs, small enough that a typo (`0/40000`) is refused.
pub const MAX_SHARDS: u32 = 1024;

/// One daemon's part of the matrix: shard `index` of `count`, counted from
/// 0 (a StatefulSet's pod ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Why a shard spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("{0:?} is not I/N (e.g. \"0/4\": shard 0 of 4, counted from 0)")]
    Syntax(String),
    #[error("shard count {0} must be between 1 and {MAX_SHARDS}")]
    Count(u32),
    #[error("shard index {index} must be below the count {count} (shards are counted from 0)")]
    Index { index: u32, count: u32 },
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::Count(count));
        }
        if index >= count {
            return Err(ShardError::Index { index, count });
        }
        Ok(Shard { index, count })
    }

    /// Does this shard serve the unit `id`?
    pub fn serves(&self, id: &str) -> bool {
        shard_of(id, self.count) == self.index
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (i, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let parse = |p: &str| p.trim().parse::<u32>().map_err(|_| syntax());
        Shard::new(parse(i)?, parse(n)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard (0..`count`) that serves unit `id`.
pub fn shard_of(id: &str, count: u32) -> u32 {
    let digest = Sha256::digest(id.as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    jump_hash(u64::from_be_bytes(key), count)
}

/// The units that move when the shard count changes from `from` to `to`:
/// each needs its history exported from the old shard's store and imported
/// into the new one's (README, "Past one box").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub from: u32,
    pub to: u32,
    pub units: usize,
    /// (unit id, shard index before, shard index after).
    pub moves: Vec<(String, u32, u32)>,
}

pub fn plan<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    from: u32,
    to: u32,
) -> Result<Plan, ShardError> {
    Shard::new(0, from)?;
    Shard::new(0, to)?;
    let mut plan = Plan {
        from,
        to,
        units: 0,
        moves: Vec::new(),
    };
    for id in ids {
        plan.units += 1;
        let (a, b) = (shard_of(id, from), shard_of(id, to));
        if a != b {
            plan.moves.push((id.to_string(), a, b));
        }
    }
    Ok(plan)
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, a, b) in &self.moves {
            writeln!(f, "{id}\t{a}/{}\t{b}/{}", self.from, self.to)?;
        }
        writeln!(
            f,
            "# {} of {} unit(s) move from {} to {} shard(s)",
            self.moves.len(),
            self.units,
            self.from,
            self.to
        )
    }
}

/// Jump consistent hash (Lamping, Veach: "A Fast, Minimal Memory,
/// Consistent Hash Algorithm", 2014), as published.
fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2862933555777941757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn specs_parse_and_print_alike() {
        let s: Shard = "2/5".parse().unwrap();
        assert_eq!(s, Shard { index: 2, count: 5 });
        assert_eq!(s.to_string(), "2/5");
        assert_eq!(
            " 0 / 1 ".parse::<Shard>().unwrap(),
            Shard::new(0, 1).unwrap()
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert_eq!("3".parse::<Shard>(), Err(ShardError::Syntax("3".into())));
        assert_eq!(
            "a/4".parse::<Shard>(),
            Err(ShardError::Syntax("a/4".into()))
        );
        assert_eq!(
            "-1/4".parse::<Shard>(),
            Err(ShardError::Syntax("-1/4".into()))
        );
        assert_eq!("0/0".parse::<Shard>(), Err(ShardError::Count(0)));
        assert_eq!(
            "4/4".parse::<Shard>(),
            Err(ShardError::Index { index: 4, count: 4 })
        );
        assert_eq!("0/5000".parse::<Shard>(), Err(ShardError::Count(5000)));
    }

    /// The assignment is part of the deployed state (each shard's store
    /// holds its units' history): it must never change between versions.
    /// These values pin SHA-256 + jump hash as shipped.
    #[test]
    fn assignment_is_pinned_across_versions() {
        let got: Vec<u32> = ["cast", "sx-kx", "bj-kx", "unit-00042", "科协"]
            .iter()
            .map(|id| shard_of(id, 7))
            .collect();
        assert_eq!(got, PINNED);
    }
    // Computed when the scheme was adopted, and checked against an
    // independent implementation (Python, from the paper's code). A change
    // here means every deployed shard would move its units.
    const PINNED: [u32; 5] = [2, 0, 4, 3, 6];

    #[test]
    fn units_spread_evenly_over_shards() {
        let n = 8u32;
        let mut counts = vec![0usize; n as usize];
        for i in 0..20_000 {
            counts[shard_of(&format!("unit-{i}"), n) as usize] += 1;
        }
        // 2,500 expected each; a binomial's deviation is ~47.
        for c in counts {
            assert!((2_250..=2_750).contains(&c), "{c}");
        }
    }

    #[test]
    fn a_plan_lists_exactly_the_units_whose_shard_changes() {
        let ids: Vec<String> = (0..1000).map(|i| format!("u{i}")).collect();
        let p = plan(ids.iter().map(String::as_str), 3, 4).unwrap();
        assert_eq!(p.units, 1000);
        for (id, a, b) in &p.moves {
            assert_eq!((shard_of(id, 3), shard_of(id, 4)), (*a, *b));
            assert_eq!(*b, 3, "a unit moves only to the new shard");
        }
        // About a quarter moves, not nearly all as with `hash % N`.
        assert!((180..=320).contains(&p.moves.len()), "{}", p.moves.len());
        assert!(p.to_string().ends_with(&format!(
            "# {} of 1000 unit(s) move from 3 to 4 shard(s)\n",
            p.moves.len()
        )));
        assert_eq!(plan(["a"], 2, 0), Err(ShardError::Count(0)));
    }

    proptest! {
        /// Every unit is served by exactly one of the N daemons, whatever
        /// the ids and N.
        #[test]
        fn shards_partition_any_set_of_unit_ids_exactly(
            ids in proptest::collection::vec("[a-z0-9\\-\\p{Han}]{1,16}", 1..200),
            count in 1u32..64,
        ) {
            for id in &ids {
                let serving = (0..count)
                    .filter(|&i| Shard::new(i, count).unwrap().serves(id))
                    .count();
                prop_assert_eq!(serving, 1, "unit {:?} over {} shards", id, count);
            }
        }

        /// Growing from N to N+1 shards moves a unit only to the new shard:
        /// the others keep all their units (and their stores stay right).
        #[test]
        fn growing_moves_units_only_to_the_new_shard(
            id in "[a-z0-9\\-]{1,24}",
            count in 1u32..100,
        ) {
            let (before, after) = (shard_of(&id, count), shard_of(&id, count + 1));
            prop_assert!(after == before || after == count);
        }
    }
}
