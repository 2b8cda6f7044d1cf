//! Whether the store can write, and writing again without a restart.
//!
//! A full disk or a read-only remount makes writes fail. The store records
//! each failed write — what failed ([`WriteTarget`]), the system's reason,
//! since when — and forgets it when a later write of the same target
//! succeeds; meanwhile `/healthz` answers 503 with the reason and
//! `/status` and `autosync status` say it ([`Store::write_failure`]).
//! Nothing is sent while the store cannot write: an item leaves the queue
//! only through a flushed check-and-set, and that flush fails.
//!
//! **sled 0.34 does not recover by itself.** The first failed write of its
//! log leaves a "global error" that every later write and flush of that
//! database returns, even once space is back, until the database is opened
//! again (seen on a small tmpfs filled, then grown: inserts and flushes kept
//! failing with ENOSPC; a reopen in the same process found every flushed
//! record and wrote again). So the store's sled handles ([`Trees`]) sit in
//! a slot ([`Sled`]) that [`Store::check_writable`] — the daemon's periodic
//! probe — reopens in place when the database still fails and a plain file
//! write shows there is room again. Whatever sled had not flushed before the
//! failure is gone with the old handles; nothing depended on it (every step
//! that depends on a change flushes it first, and a failed flush stops the
//! step), so the reopened store is the state of the last successful flush.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// What failed to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteTarget {
    /// The sled database (records, index, audit log).
    Database,
    /// The files beside it: article bodies and the archive.
    Files,
}

impl std::fmt::Display for WriteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteTarget::Database => "database",
            WriteTarget::Files => "body and archive files",
        })
    }
}

/// Why the store cannot write, and since when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteFailure {
    pub target: WriteTarget,
    /// The system's reason, as ops know it: "No space left on device".
    pub error: String,
    /// The first failure of this run of failures.
    pub since: DateTime<Utc>,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (since {}; {})",
            self.error,
            self.since.format("%Y-%m-%d %H:%M:%SZ"),
            self.target
        )
    }
}

/// The reason of a failed write in the words of the C library for the
/// kinds a disk gives, whatever wrapped the error: sled hands an IO error on
/// as a new one whose text is the original's `Debug` output.
fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::StorageFull => "No space left on device".into(),
        ErrorKind::QuotaExceeded => "Disk quota exceeded".into(),
        ErrorKind::ReadOnlyFilesystem => "Read-only file system".into(),
        ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// A failure that says nothing about the disk: a bad name, a corrupt file.
fn about_the_data(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::InvalidInput | ErrorKind::InvalidData)
}

/// The sled database's handles, opened together.
pub(super) struct Trees {
    pub(super) db: sled::Db,
    pub(super) items: sled::Tree,
    pub(super) keys: sled::Tree,
    pub(super) sources: sled::Tree,
    pub(super) accounts: sled::Tree,
    pub(super) index: sled::Tree,
    pub(super) dindex: sled::Tree,
    pub(super) audit: sled::Tree,
    pub(super) meta: sled::Tree,
}

impl Trees {
    pub(super) fn open(db: sled::Db) -> sled::Result<Trees> {
        Ok(Trees {
            items: db.open_tree("items")?,
            keys: db.open_tree("keys")?,
            sources: db.open_tree("sources")?,
            accounts: db.open_tree("accounts")?,
            index: db.open_tree("index")?,
            dindex: db.open_tree("dindex")?,
            audit: db.open_tree("audit")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }
}

/// The slot of the store's sled handles, and the store's write failures.
/// Shared by every clone of the store.
pub(super) struct Sled {
    /// The database directory (`db/`).
    path: PathBuf,
    /// `None` only while [`Sled::reopen`] waits for the old database to
    /// close.
    trees: RwLock<Option<Arc<Trees>>>,
    failures: Mutex<BTreeMap<WriteTarget, WriteFailure>>,
    /// One reopen at a time.
    reopening: Mutex<()>,
    #[cfg(test)]
    fault: Mutex<Fault>,
}

/// Test seam: a disk that is full until the test says otherwise, and a
/// database that keeps failing after it, until reopened (as sled does).
#[cfg(test)]
#[derive(Debug, Default, Clone, Copy)]
struct Fault {
    disk_full: bool,
    db_poisoned: bool,
}

impl Sled {
    pub(super) fn new(path: PathBuf, trees: Trees) -> Sled {
        Sled {
            path,
            trees: RwLock::new(Some(Arc::new(trees))),
            failures: Default::default(),
            reopening: Default::default(),
            #[cfg(test)]
            fault: Default::default(),
        }
    }

    /// The current handles. Hold them for one operation, never across an
    /// await: a reopen waits for the old ones to go.
    pub(super) fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        self.trees
            .read()
            .expect("store handles lock")
            .clone()
            .ok_or(StoreError::Reopening)
    }

    /// Note the outcome of a write to `target`: an IO failure is recorded
    /// (keeping when the failures began), a success clears the target.
    pub(super) fn record<T>(
        &self,
        target: WriteTarget,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        #[cfg(test)]
        let result = self.injected(target).map_or(result, Err);
        let mut failures = self.failures.lock().expect("store failures lock");
        match &result {
            Ok(_) => {
                if let Some(f) = failures.remove(&target) {
                    tracing::info!(target = %target, "store writes again (failing since {})", f.since);
                }
            }
            Err(StoreError::Io { source, .. }) if !about_the_data(source.kind()) => {
                let error = reason(source);
                let since = failures.get(&target).map_or_else(Utc::now, |f| f.since);
                if !failures.contains_key(&target) {
                    tracing::error!(target = %target, "store cannot write: {error}");
                }
                failures.insert(
                    target,
                    WriteFailure {
                        target,
                        error,
                        since,
                    },
                );
            }
            Err(_) => {}
        }
        result
    }

    fn failing(&self, target: WriteTarget) -> bool {
        let failures = self.failures.lock().expect("store failures lock");
        failures.contains_key(&target)
    }

    fn failure(&self) -> Option<WriteFailure> {
        let failures = self.failures.lock().expect("store failures lock");
        failures.values().min_by_key(|f| f.since).cloned()
    }

    /// Drop the handles and open the database again, which clears sled's
    /// stored error. Blocking (up to a second while in-flight operations
    /// let go of the old handles). Meanwhile operations fail with
    /// [`StoreError::Reopening`]; should the open fail, they keep failing
    /// until the next reopen.
    fn reopen(&self) -> Result<(), StoreError> {
        let _one = self.reopening.lock().expect("store reopen lock");
        *self.trees.write().expect("store handles lock") = None;
        let db = super::open_sled(&self.path)?;
        let trees = Trees::open(db)?;
        *self.trees.write().expect("store handles lock") = Some(Arc::new(trees));
        #[cfg(test)]
        {
            self.fault.lock().expect("fault lock").db_poisoned = false;
        }
        tracing::info!(path = %self.path.display(), "store database reopened after a write failure");
        Ok(())
    }

    #[cfg(test)]
    fn injected(&self, target: WriteTarget) -> Option<StoreError> {
        let f = *self.fault.lock().expect("fault lock");
        let failing = match target {
            WriteTarget::Database => f.disk_full || f.db_poisoned,
            WriteTarget::Files => f.disk_full,
        };
        failing.then(|| StoreError::Io {
            what: format!("{target} (injected)"),
            source: ErrorKind::StorageFull.into(),
        })
    }
}

impl Store {
    /// The sled handles, for one operation (see [`Sled::trees`]).
    pub(super) fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        self.sled.trees()
    }

    /// Note a failed write to the database that is not a flush (an insert,
    /// a transaction): see [`Sled::record`]. Its success clears nothing —
    /// it is not on disk until a flush, and the flush's success clears. A
    /// refusal or an abort is not a storage failure and is not recorded.
    pub(super) fn wrote<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => self.sled.record(WriteTarget::Database, Err(e)),
        }
    }

    /// The `index` entries under `prefix` in key order, or the error that
    /// kept the database from being read.
    pub(super) fn scan_index(
        &self,
        prefix: Vec<u8>,
    ) -> impl DoubleEndedIterator<Item = Result<(sled::IVec, sled::IVec), StoreError>> + use<> {
        let (scan, unavailable) = match self.trees() {
            Ok(t) => (Some(t.index.scan_prefix(prefix)), None),
            Err(e) => (None, Some(Err(e))),
        };
        let entries = scan.into_iter().flatten();
        unavailable
            .into_iter()
            .chain(entries.map(|kv| kv.map_err(StoreError::from)))
    }

    /// Why the store cannot write, if it cannot: its oldest failing target.
    pub fn write_failure(&self) -> Option<WriteFailure> {
        self.sled.failure()
    }

    /// Probe: write and flush a small `meta` key, and while anything is
    /// failing also a small file beside the database; reopen the database
    /// when it still fails although the file was written (room is back,
    /// sled has not noticed: see the module docs). Cheap enough for once a
    /// minute; it is what notices recovery when nothing else writes.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.probe())
            .await
            .map_err(|e| StoreError::Db(format!("store probe task: {e}")))?
    }

    fn probe(&self) -> Result<(), StoreError> {
        let files_failing = self.sled.failing(WriteTarget::Files);
        match self.probe_database() {
            // The database fails (or a reopen did), yet a file can be
            // written: room is back and sled has not noticed.
            Err(StoreError::Io { .. } | StoreError::Reopening) if self.probe_files().is_ok() => {
                self.sled.reopen()?;
                self.probe_database()
            }
            Ok(()) if files_failing => self.probe_files(),
            r => r,
        }
    }

    fn probe_database(&self) -> Result<(), StoreError> {
        let written = (|| {
            let t = self.sled.trees()?;
            t.meta
                .insert("write-probe", Utc::now().to_rfc3339().as_bytes())?;
            t.db.flush()?;
            Ok(())
        })();
        self.sled.record(WriteTarget::Database, written)
    }

    fn probe_files(&self) -> Result<(), StoreError> {
        let path = self.path.join(".write-probe");
        let written = std::fs::File::create(&path)
            .and_then(|mut f| {
                f.write_all(Utc::now().to_rfc3339().as_bytes())?;
                f.sync_all()
            })
            .map_err(|source| StoreError::Io {
                what: path.display().to_string(),
                source,
            });
        self.sled.record(WriteTarget::Files, written)
    }

    /// Test seam: from now on writes fail as on a full disk (`true`), or
    /// room is back (`false`) — after which the database, like sled's,
    /// keeps failing until reopened.
    #[cfg(test)]
    pub(crate) fn simulate_disk_full(&self, full: bool) {
        let mut f = self.sled.fault.lock().expect("fault lock");
        f.disk_full = full;
        f.db_poisoned |= full;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Item, State};

    fn item(n: u32) -> Item {
        Item {
            title: format!("标题{n}"),
            html: format!("<p>正文{n}</p>"),
            text: format!("正文{n}"),
            ..Item::new(
                "u",
                &format!("https://a.org/{n}"),
                "feed:x",
                Utc::now(),
                State::Queued,
            )
        }
    }

    async fn insert(s: &Store, a: &Item) -> Result<(), StoreError> {
        s.insert_new(a, std::slice::from_ref(&a.url)).await?;
        s.flush().await
    }

    #[tokio::test]
    async fn a_full_disk_is_reported_until_the_probe_finds_room_again_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (a, b, c) = (item(1), item(2), item(3));
        insert(&s, &a).await.unwrap();
        insert(&s, &b).await.unwrap();
        s.check_writable().await.unwrap();
        assert_eq!(s.write_failure(), None);

        s.simulate_disk_full(true);
        // Writes fail, with the system's error kind kept.
        let e = insert(&s, &c).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Io { source, .. } if source.kind() == ErrorKind::StorageFull),
            "{e:?}"
        );
        let e = s
            .deliver(
                &a.id,
                "acc",
                &["acc".to_string()],
                Utc::now(),
                super::super::DeliveryStep::Take,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Io { .. }), "{e:?}");
        let f = s.write_failure().expect("a failure recorded");
        assert_eq!(f.error, "No space left on device");
        assert!(f.to_string().starts_with("No space left on device (since "));
        // The probe keeps it failing, and the failure keeps its start.
        assert!(s.check_writable().await.is_err());
        assert_eq!(s.write_failure().unwrap().since, f.since);

        // Room again: sled would still fail until reopened; the probe
        // reopens it, and the store writes again.
        s.simulate_disk_full(false);
        s.check_writable().await.unwrap();
        assert_eq!(s.write_failure(), None);
        insert(&s, &c).await.unwrap();
        // Nothing flushed before the failure is lost, bodies included.
        for i in [&a, &b, &c] {
            assert_eq!(s.get(&i.id).unwrap().unwrap().text, i.text);
        }
    }

    /// Another clone of the store (each task holds one) sees the reopened
    /// database, not the old one.
    #[tokio::test]
    async fn every_clone_of_the_store_uses_the_reopened_database() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let other = s.clone();
        s.sled.reopen().unwrap();
        let a = item(1);
        insert(&other, &a).await.unwrap();
        assert!(s.get(&a.id).unwrap().is_some());
        // The accounts tree too.
        let account = crate::model::AccountKey {
            unit: "u".into(),
            account: "账号".into(),
        };
        let st = crate::model::AccountState {
            not_before: Some(Utc::now()),
            ..Default::default()
        };
        other.put_account_state(&account, &st).await.unwrap();
        assert_eq!(s.account_state(&account).unwrap(), st);
        drop((s, other));
        let s = Store::open(dir.path()).unwrap();
        assert!(s.get(&a.id).unwrap().is_some());
        assert_eq!(s.account_state(&account).unwrap(), st);
    }

    #[test]
    fn a_bad_name_is_not_taken_for_a_disk_that_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let bad = Err::<(), _>(StoreError::Io {
            what: "body".into(),
            source: ErrorKind::InvalidInput.into(),
        });
        assert!(s.sled.record(WriteTarget::Files, bad).is_err());
        assert_eq!(s.write_failure(), None);
        let ro = Err::<(), _>(StoreError::Io {
            what: "body".into(),
            source: ErrorKind::ReadOnlyFilesystem.into(),
        });
        assert!(s.sled.record(WriteTarget::Files, ro).is_err());
        assert_eq!(s.write_failure().unwrap().error, "Read-only file system");
        assert!(s.sled.record(WriteTarget::Files, Ok(())).is_ok());
        assert_eq!(s.write_failure(), None);
    }
}
