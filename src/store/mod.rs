//! The durable store (sled). **The only module that touches sled.**
//!
//! Why sled: one embedded file tree, no server for ops to run, crash-safe
//! writes and multi-tree transactions. Its price is that only one process may
//! open it, which is why `autosync status` asks the daemon first.
//!
//! Trees (all values JSON, so the format is inspectable and versioned):
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `format` | the on-disk format version ([`FORMAT_VERSION`]) |
//! | `meta` | `archived \0 unit` | counts by state and last post of the unit's archived items |
//! | `meta` | `discovered \0 unit` | [`Discovered`]: the sources site discovery chose for a unit bound by its website, and why |
//! | `items` | item id | [`Item`] |
//! | `keys` | `unit \0 identity` | item id; identities are canonical URLs, `guid:` ids and `fp:` content fingerprints |
//! | `sources` | `unit \0 source key` | [`SourceState`] |
//! | `accounts` | `unit \0 account` | [`crate::model::AccountState`]: paused, rate-limited, verified |
//! | `meta` | `session \0 sha256(session id)` | [`SessionRecord`]: a desk session (editor, a salted fingerprint of its token, CSRF token, times); never the id or the token |
//! | `meta` | `alert \0 …` | what the alert watch last alerted and the alerts not yet delivered ([`alerts`](self::alerts)) |
//! | `audit` | time (ms, big-endian) + sequence | [`AuditEntry`]: every editor action, append-only |
//! | `dindex` | `unit \0 account \0 state \0 time \0 item id` | empty: each account's deliveries (last post, posts today, under way) |
//! | `index` | `unit \0 state \0 order \0 item id` | empty: finds a unit's items in one state (the publish queue, items to reconcile) without reading the others |
//!
//! Items done long ago (published, rejected or seen before
//! `[daemon] archive_after_days`) leave sled for [`archive`](self::archive):
//! their identities stay findable there, so they are never published again,
//! and sled's memory stays flat. The `meta` tree keeps each unit's archived
//! counts and last post (`archived \0 unit`).
//!
//! Article bodies (`html` and `text`) are files beside the database, not
//! in it (see [`bodies`](self::bodies) for why): `bodies/ab/<id>.<version>.json`,
//! the record naming its version. **A body is durable before the record that
//! names it is written.**
//!
//! Every state change is flushed to disk before the caller takes the step
//! that depends on it (above all: an item is `publishing` on disk before the
//! publish request leaves), so a crash can neither lose an item nor publish
//! one twice: an item found in `publishing` at start is looked up on the
//! account before anything else happens to it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod accounts;
mod alerts;
mod archive;
mod audit;
mod bodies;
mod compact;
mod deliveries;
mod discovered;
mod health;
mod items;
mod report;
mod sessions;
mod sources;
mod transfer;
mod transition;
mod upkeep;
use archive::Archive;
use bodies::Bodies;
use health::{Sled, Trees};
pub use health::{WriteFailure, WriteTarget};

pub use crate::model::{Item, STATE_NAMES, Stage, State, StateName, fingerprint};
pub use audit::{AuditAction, AuditEntry};
use compact::finish_compaction;
pub use compact::{Compacted, compact};
pub use deliveries::DeliveryStep;
pub use discovered::{Discovered, Trigger};
use items::index_key;
pub use items::{Inserted, PREFIX_CANDIDATES, Prefix, StateCounts};
pub use sessions::SessionRecord;
pub use sources::SourceState;
pub use transfer::{TransferError, Transferred};

/// Bumped whenever the meaning of stored data changes; a store of a newer
/// version is refused rather than misread, an older one is migrated at open.
///
/// 1: bodies in a sled tree `bodies`. 2: bodies in files (`bodies/`).
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "store {path}: cannot open: {reason} (is another autosync process using it? `autosync status` asks the running daemon)"
    )]
    Open { path: PathBuf, reason: String },
    #[error(
        "store {path}: on-disk format version {found}, this autosync reads version {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: String },
    #[error("store: {0}")]
    Db(String),
    /// A read or write the system refused (disk full, read-only, …): the
    /// kind stays inspectable (see `health`).
    #[error("store: {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("store: its database is being reopened after a write failure; try again")]
    Reopening,
    #[error("store: item {0} not found")]
    NoSuchItem(String),
    /// A check-and-set found the item in another state than the caller
    /// expected (someone else acted first), or the change declined: nothing
    /// was written.
    #[error("item {item} is {state}{}", reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Refused {
        item: String,
        state: StateName,
        reason: Option<String>,
    },
    /// A change asked for a move the state table does not allow: a bug in
    /// the caller, refused rather than written.
    #[error("item {item}: {from} -> {to} is not a legal state change")]
    Illegal {
        item: String,
        from: StateName,
        to: StateName,
    },
    #[error("store: corrupt record under {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error(
        "store: item {item}: body lost ({reason}); the item is back in `failed` and its article will be fetched again"
    )]
    BodyLost { item: String, reason: String },
}

impl StoreError {
    /// The item was not in a state the caller expected: someone else acted
    /// first. Not a failure of the store.
    pub fn is_refusal(&self) -> bool {
        matches!(self, StoreError::Refused { .. })
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(source) => StoreError::Io {
                what: "database".into(),
                source,
            },
            e => StoreError::Db(e.to_string()),
        }
    }
}

impl<E: std::fmt::Debug> From<TransactionError<E>> for StoreError {
    fn from(e: TransactionError<E>) -> Self {
        match e {
            TransactionError::Storage(e) => e.into(),
            TransactionError::Abort(e) => StoreError::Db(format!("{e:?}")),
        }
    }
}

/// The store. Cheap to clone (sled handles are reference-counted).
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    /// The sled handles (reopened in place after a write failure) and the
    /// store's write failures: see [`health`](self::health).
    sled: Arc<Sled>,
    bodies: Arc<Bodies>,
    archive: Arc<Archive>,
    /// One flush at a time (see [`Store::flush`]); counts them (each is an
    /// fsync: tests hold batch operations to one).
    flushing: std::sync::Arc<tokio::sync::Mutex<u64>>,
    /// Inserts share it, archival takes it alone (see [`Store::insert_new`]).
    archiving: Arc<tokio::sync::RwLock<()>>,
}

pub(crate) fn key2(unit: &str, rest: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(unit.len() + 1 + rest.len());
    k.extend_from_slice(unit.as_bytes());
    k.push(0);
    k.extend_from_slice(rest.as_bytes());
    k
}

/// The time a store index key carries: 8 big-endian milliseconds at `at`.
fn key_time(k: &[u8], at: usize) -> DateTime<Utc> {
    k.get(at..at + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
        .unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).replace('\0', "/"),
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store records always serialise")
}

fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        // Small: items are read rarely (the index does the scanning, the OS
        // caches the file), and every MiB here stays resident in the daemon:
        // 2 MiB instead of 8 cut its idle RSS by ~15 MiB with no measurable
        // cost to a cycle (BENCHMARKS.md).
        .cache_capacity(2 * 1024 * 1024)
}

/// Open a sled database. sled lets go of its file lock only when its last
/// background write has finished, a moment after the last handle is
/// dropped; an open right after a close in the same process (a test, a
/// compaction) waits for that, up to a second. Another process holding the
/// store still fails, after that second, with sled's lock error.
fn open_sled(path: &Path) -> sled::Result<sled::Db> {
    let mut waited = 0;
    loop {
        match sled_config(path).open() {
            // sled wraps the lock failure as `Other` with this text.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && waited < 100 =>
            {
                waited += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

/// fsync a directory, so that an entry created, renamed or removed in it
/// survives a crash (bodies, archive, compaction).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl Store {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: dir.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        finish_compaction(dir).map_err(|e| open_err(format!("finishing a compaction: {e}")))?;
        let db = open_sled(&dir.join("db")).map_err(|e| open_err(e.to_string()))?;
        let bodies = Bodies::open(dir.join("bodies"))
            .map_err(|e| open_err(format!("{}: {e}", dir.join("bodies").display())))?;
        let trees = Trees::open(db)?;
        let meta = trees.meta.clone();
        let found = meta
            .get("format")?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let store = Store {
            path: dir.to_path_buf(),
            sled: Arc::new(Sled::new(dir.join("db"), trees)),
            bodies: Arc::new(bodies),
            archive: Arc::new(
                Archive::open(dir.join("archive"))
                    .map_err(|e| open_err(format!("{}: {e}", dir.join("archive").display())))?,
            ),
            flushing: Default::default(),
            archiving: Default::default(),
        };
        match found.as_deref() {
            None => {}
            Some(v) if v == FORMAT_VERSION.to_string() => return Ok(store),
            Some("1") => {
                store.migrate_bodies_out_of_sled()?;
                tracing::info!(store = %dir.display(), "store migrated from format 1 to 2 (bodies in files)");
            }
            Some(v) => {
                return Err(StoreError::Version {
                    path: dir.to_path_buf(),
                    found: v.to_string(),
                });
            }
        }
        meta.insert("format", FORMAT_VERSION.to_string().as_bytes())?;
        store.trees()?.db.flush()?;
        Ok(store)
    }

    /// Format 1 kept bodies in a sled tree. Each becomes a durable file,
    /// then its record names it; the tree is dropped after all are done, so
    /// a crash midway leaves a store that migrates again at the next start
    /// (a body already moved is simply written once more).
    fn migrate_bodies_out_of_sled(&self) -> Result<(), StoreError> {
        let trees = self.trees()?;
        let old = trees.db.open_tree("bodies")?;
        for kv in old.iter() {
            let (id, body) = kv?;
            let id_s = String::from_utf8_lossy(&id).into_owned();
            let Some(rec) = trees.items.get(&id)? else {
                continue;
            };
            let mut item: Item = decode(&id, &rec)?;
            let version = self
                .bodies
                .write(&id_s, &body)
                .map_err(|e| StoreError::Db(format!("migrating the body of item {id_s}: {e}")))?;
            item.body_version = Some(version);
            trees.items.insert(&id, encode(&item))?;
        }
        trees.db.flush()?;
        trees.db.drop_tree("bodies")?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Make every change so far durable.
    ///
    /// Not `sled::Db::flush_async`: in sled 0.34 concurrent `flush_async`
    /// calls run on sled's own small IO thread pool and deadlock against
    /// transactions (spacejam/sled#1308, fixed on sled's main branch, never
    /// released) — the bench_cycle benchmark hung on it with 50 units. The
    /// blocking flush runs on tokio's blocking pool instead, so sled's pool
    /// stays free to write the buffers a flush waits for. Flushes are taken
    /// one at a time: a caller that waited finds its writes mostly on disk
    /// already (its own flush is then cheap), and a cycle of 2,000 units does
    /// not park hundreds of blocking threads in fsync. (And tokio's paused
    /// test clock waits for blocking work, where it would not for sled's own
    /// threads.)
    pub async fn flush(&self) -> Result<(), StoreError> {
        let mut one = self.flushing.lock().await;
        *one += 1;
        let db = self.trees()?.db.clone();
        let flushed = tokio::task::spawn_blocking(move || {
            let flushed = db.flush();
            // sled frees a sealed 512 KiB log buffer through crossbeam's
            // epoch GC, deferred into the bag of the thread that sealed it:
            // this blocking thread, which may not touch sled again for a
            // long time. Up to 64 buffers (32 MiB) per such thread stayed
            // resident; handing the bag over makes them freed as soon as
            // no one can still be reading them.
            crossbeam_epoch::pin().flush();
            flushed
        })
        .await
        .map_err(|e| StoreError::Db(format!("flush task: {e}")))?;
        let flushed = flushed.map(drop).map_err(StoreError::from);
        self.sled.record(WriteTarget::Database, flushed)
    }

    /// How many flushes this store has made.
    #[cfg(test)]
    pub(super) async fn flushes(&self) -> u64 {
        *self.flushing.lock().await
    }

    /// Size of the sled database on disk, in bytes (cheap: no body files).
    pub fn db_size(&self) -> Result<u64, StoreError> {
        Ok(self.trees()?.db.size_on_disk()?)
    }

    /// Size of the store on disk, in bytes: the database and the body files
    /// (this walks `bodies/`: for reports, not for hot paths).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        let bodies = self
            .bodies
            .size()
            .map_err(|e| StoreError::Db(format!("{}/bodies: {e}", self.path.display())))?;
        Ok(self.trees()?.db.size_on_disk()? + bodies)
    }
}

#[cfg(test)]
mod tests;
