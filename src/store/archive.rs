//! Items done long ago, kept outside sled.
//!
//! Why: sled 0.34 keeps ~32 bytes resident per entry of every tree, and an
//! item has 3–4 entries (record, index, identities): ~120 bytes an item, for
//! ever — 120 MiB at a million items, which 2,000 units reach in months
//! (`BENCHMARKS.md`). Entries removed from sled make room for new ones (sled
//! reuses freed pages), so moving finished items out keeps the daemon's
//! memory flat. What must survive of them is small: their identities, so
//! that an old article a site still lists is never published again, and
//! their records, for history and reports.
//!
//! Per unit, in `archive/<hex of the unit id>/`:
//! - `ids`: sorted fixed-size entries (16-byte hash of the identity, 8-byte
//!   item id), looked up by binary search when sled does not know an
//!   identity. ~50 bytes an item on disk, nothing resident.
//! - `items.jsonl`: the records, one JSON object a line, appended.
//!
//! **An item's identities are durable in the archive before they leave
//! sled**, so a lookup finds an article in one or the other at every
//! moment, also across a crash; a crash in between leaves it in both, which
//! the next archival pass tidies (entries are deduplicated).

use super::sync_dir;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;

const HASH: usize = 16;
const ID: usize = 8;
const ENTRY: usize = HASH + ID;

#[derive(Debug)]
pub(super) struct Archive {
    root: PathBuf,
}

fn hash(identity: &str) -> [u8; HASH] {
    let d = Sha256::digest(identity.as_bytes());
    let mut h = [0; HASH];
    h.copy_from_slice(&d[..HASH]);
    h
}

impl Archive {
    pub(super) fn open(root: PathBuf) -> std::io::Result<Archive> {
        std::fs::create_dir_all(&root)?;
        Ok(Archive { root })
    }

    fn unit_dir(&self, unit: &str) -> PathBuf {
        self.root.join(hex::encode(unit.as_bytes()))
    }

    /// The archived item that one of `identities` of `unit` belongs to.
    pub(super) fn lookup(
        &self,
        unit: &str,
        identities: &[String],
    ) -> std::io::Result<Option<String>> {
        let ids = match std::fs::read(self.unit_dir(unit).join("ids")) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if ids.len() % ENTRY != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("archive of unit {unit}: ids file of {} bytes", ids.len()),
            ));
        }
        let n = ids.len() / ENTRY;
        let entry = |i: usize| &ids[i * ENTRY..(i + 1) * ENTRY];
        for ident in identities {
            let h = hash(ident);
            // Binary search over the sorted entries by their hash.
            let (mut lo, mut hi) = (0, n);
            while lo < hi {
                let mid = (lo + hi) / 2;
                match entry(mid)[..HASH].cmp(&h[..]) {
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                    std::cmp::Ordering::Equal => {
                        return Ok(Some(hex::encode(&entry(mid)[HASH..])));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Make `records` (JSON, one line each) and their identities durable in
    /// `unit`'s archive. Blocking: call it from a blocking thread. Each
    /// identity comes with its item id (16 hex digits).
    pub(super) fn add(
        &self,
        unit: &str,
        records: &[Vec<u8>],
        identities: &[(String, String)],
    ) -> std::io::Result<()> {
        let mut new = Vec::with_capacity(identities.len());
        for (ident, id) in identities {
            let raw = hex::decode(id)
                .ok()
                .filter(|r| r.len() == ID)
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("archive: item id {id:?} is not 16 hex digits"),
                    )
                })?;
            let mut e = [0; ENTRY];
            e[..HASH].copy_from_slice(&hash(ident));
            e[HASH..].copy_from_slice(&raw);
            new.push(e);
        }
        self.add_entries(unit, records, new)
    }

    /// [`Archive::add`] with the `ids` entries already made (a unit's
    /// history moved from another store, [`Archive::raw_ids`]).
    fn add_entries(
        &self,
        unit: &str,
        records: &[Vec<u8>],
        new: Vec<[u8; ENTRY]>,
    ) -> std::io::Result<()> {
        let dir = self.unit_dir(unit);
        std::fs::create_dir_all(&dir)?;
        {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("items.jsonl"))?;
            let mut buf = Vec::new();
            for r in records {
                buf.extend_from_slice(r);
                buf.push(b'\n');
            }
            f.write_all(&buf)?;
            f.sync_all()?;
        }
        let path = dir.join("ids");
        let mut entries: Vec<[u8; ENTRY]> = match std::fs::read(&path) {
            Ok(b) => b
                .chunks_exact(ENTRY)
                .map(|c| c.try_into().unwrap_or([0; ENTRY]))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        entries.extend(new);
        entries.sort_unstable();
        entries.dedup();
        let tmp = dir.join("ids.tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&entries.concat())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(&dir)?;
        sync_dir(&self.root)
    }

    /// `unit`'s `ids` file as it is: hashed identities cannot be turned back
    /// into identities, so a unit's history moves with its entries.
    pub(super) fn raw_ids(&self, unit: &str) -> std::io::Result<Vec<u8>> {
        match std::fs::read(self.unit_dir(unit).join("ids")) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Add records and raw `ids` entries ([`Archive::raw_ids`] of another
    /// store). Blocking.
    pub(super) fn add_raw(
        &self,
        unit: &str,
        records: &[Vec<u8>],
        ids: &[u8],
    ) -> std::io::Result<()> {
        if !ids.len().is_multiple_of(ENTRY) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("archive entries of unit {unit}: {} bytes", ids.len()),
            ));
        }
        let entries = ids
            .chunks_exact(ENTRY)
            .map(|c| c.try_into().unwrap_or([0; ENTRY]))
            .collect();
        self.add_entries(unit, records, entries)
    }

    /// The archived records of `unit`, oldest archival first (for reports
    /// and exports; reads the whole file).
    pub(super) fn records(&self, unit: &str) -> std::io::Result<Vec<Vec<u8>>> {
        match std::fs::read(self.unit_dir(unit).join("items.jsonl")) {
            Ok(b) => Ok(b
                .split(|c| *c == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_found_after_adding_and_only_in_their_unit() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path().join("archive")).unwrap();
        assert_eq!(a.lookup("u", &["https://a.org/1".into()]).unwrap(), None);
        let ids: Vec<(String, String)> = (0..500)
            .map(|n| (format!("https://a.org/{n}"), format!("{n:016x}")))
            .collect();
        a.add("u", &[b"{\"id\":\"x\"}".to_vec()], &ids[..250])
            .unwrap();
        a.add("u", &[b"{\"id\":\"y\"}".to_vec()], &ids[250..])
            .unwrap();
        // Adding again (a crash between archive and sled) changes nothing.
        a.add("u", &[], &ids[..10]).unwrap();
        for (ident, id) in &ids {
            let got = a.lookup("u", &["nope".into(), ident.clone()]).unwrap();
            assert_eq!(got.as_deref(), Some(id.as_str()), "{ident}");
        }
        assert_eq!(a.lookup("u", &["https://a.org/500".into()]).unwrap(), None);
        assert_eq!(a.lookup("v", &["https://a.org/1".into()]).unwrap(), None);
        let ids_file = dir
            .path()
            .join("archive")
            .join(hex::encode("u"))
            .join("ids");
        assert_eq!(
            std::fs::metadata(ids_file).unwrap().len(),
            500 * ENTRY as u64
        );
        assert_eq!(a.records("u").unwrap().len(), 2);
    }

    #[test]
    fn a_bad_item_id_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path().join("archive")).unwrap();
        let record = b"{\"id\":\"x\"}".to_vec();
        assert!(
            a.add("u", &[record], &[("x".into(), "not-hex".into())])
                .is_err()
        );
        assert_eq!(a.lookup("u", &["x".into()]).unwrap(), None);
        assert!(a.records("u").unwrap().is_empty(), "the record was written");
    }
}
