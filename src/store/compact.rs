use super::*;

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Copy)]
pub struct Compacted {
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Rewrite the database of the store in `dir` into a fresh one, which
/// holds only what is live: sled never shrinks its file and keeps resident
/// what its largest moment needed (freed pages are reused, not returned),
/// so after archival has moved most items out, or after a one-time spike,
/// this gives the disk and the memory back. The store must be closed (the
/// daemon stopped): sled admits one process.
///
/// Crash-safe: the copy is written beside the database (`db.compact`), a
/// marker (`db.compact.done`) says it is complete, then the directories are
/// swapped; [`Store::open`] finishes or discards whatever a crash left.
pub fn compact(dir: &Path) -> Result<Compacted, StoreError> {
    let err = |what: &str, e: &dyn std::fmt::Display| StoreError::Open {
        path: dir.to_path_buf(),
        reason: format!("compaction, {what}: {e}"),
    };
    // Validates the format (and migrates) and holds the lock; its handle is
    // the one copied from (no second open: see `open_sled`).
    let store = Store::open(dir)?;
    let (_, next, done) = compaction_paths(dir);
    let old = store.trees()?.db.clone();
    drop(store);
    let bytes_before = old.size_on_disk()?;
    if next.exists() {
        std::fs::remove_dir_all(&next).map_err(|e| err("removing an old copy", &e))?;
    }
    let new = open_sled(&next).map_err(|e| err("creating the copy", &e))?;
    new.import(old.export());
    new.flush()?;
    let bytes_after = new.size_on_disk()?;
    drop((old, new));
    std::fs::File::create(&done)
        .and_then(|f| f.sync_all())
        .and_then(|()| sync_dir(dir))
        .map_err(|e| err("marking the copy complete", &e))?;
    finish_compaction(dir).map_err(|e| err("swapping in the copy", &e))?;
    Ok(Compacted {
        bytes_before,
        bytes_after,
    })
}

pub(super) fn compaction_paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("db"),
        dir.join("db.compact"),
        dir.join("db.compact.done"),
    )
}

/// Complete or undo a compaction a crash interrupted. With the marker, the
/// copy is whole: it replaces the database (whichever rename was done).
/// Without it, a copy is partial and goes.
pub(super) fn finish_compaction(dir: &Path) -> std::io::Result<()> {
    let (db_dir, next, done) = compaction_paths(dir);
    let old = dir.join("db.old");
    if done.exists() {
        // The copy moved in but the old one was not yet gone... or a rename
        // failed halfway: never leave the store without its database.
        if !next.exists() && !db_dir.exists() && old.exists() {
            std::fs::rename(&old, &db_dir)?;
        }
        if next.exists() {
            if db_dir.exists() {
                if old.exists() {
                    std::fs::remove_dir_all(&old)?;
                }
                std::fs::rename(&db_dir, &old)?;
            }
            std::fs::rename(&next, &db_dir)?;
            sync_dir(dir)?;
        }
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::remove_file(&done)?;
        sync_dir(dir)?;
    } else if next.exists() {
        std::fs::remove_dir_all(&next)?;
    }
    Ok(())
}
