//! Article bodies as files beside the sled database, not inside it.
//!
//! Why: a body (clean HTML plus its text, ~5–10 KB) is written once and
//! read once or twice, when it is reviewed and published; sled 0.34 handles
//! such values badly. Its leaves hold values inline, so every insert rewrites
//! a leaf full of other bodies into the log, and the log buffers and
//! re-materialised leaves stay on the heap until sled's epochs let go. In the
//! 2,000-unit worst-case cycle (20,000 articles fetched and stored,
//! `BENCHMARKS.md`) bodies in sled cost ~65 MiB of peak RSS and grew the
//! database by ~680 MB for ~100 MB of JSON; as files they cost neither, and
//! dropping old bodies (a retention policy) is deleting files.
//!
//! Layout: `bodies/<first two hex digits of the id>/<id>.<version>.json`,
//! where `version` is a hash of the content, so a new body never overwrites
//! the one a record still points to.
//!
//! **A body file is durable before the record that points to it is
//! written**: [`Bodies::write`] fsyncs the file and its directory before it
//! returns, so a crash can leave an unreferenced file (harmless) but never a
//! record whose body is missing.

use super::sync_dir;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bodies directory of one store.
#[derive(Debug)]
pub(super) struct Bodies {
    root: PathBuf,
    /// Makes temporary file names unique among concurrent writers.
    seq: AtomicU64,
}

impl Bodies {
    pub(super) fn open(root: PathBuf) -> std::io::Result<Bodies> {
        std::fs::create_dir_all(&root)?;
        Ok(Bodies {
            root,
            seq: AtomicU64::new(0),
        })
    }

    /// The content version of `bytes`: names the file.
    pub(super) fn version_of(bytes: &[u8]) -> String {
        hex::encode(&Sha256::digest(bytes)[..8])
    }

    /// Where the body `version` of item `id` lives. `None` for an id or
    /// version that is not a plain name (a corrupt record must not make us
    /// read or delete some other file).
    pub(super) fn path(&self, id: &str, version: &str) -> Option<PathBuf> {
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if id.len() < 2 || !plain(id) || !plain(version) {
            return None;
        }
        Some(
            self.root
                .join(&id[..2])
                .join(format!("{id}.{version}.json")),
        )
    }

    /// Write `bytes` as body of `id` and make it durable (file and directory
    /// entry). Blocking: call it from a blocking thread. Returns the version.
    pub(super) fn write(&self, id: &str, bytes: &[u8]) -> std::io::Result<String> {
        let version = Self::version_of(bytes);
        let path = self.path(id, &version).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad item id {id:?}"),
            )
        })?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(
            ".{id}.{}.{}.tmp",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            // Readers see the whole file or none: rename is atomic.
            std::fs::rename(&tmp, &path)?;
            sync_dir(&dir)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map(|()| version)
    }

    pub(super) fn read(&self, id: &str, version: &str) -> std::io::Result<Vec<u8>> {
        let path = self.path(id, version).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a body name")
        })?;
        std::fs::read(path)
    }

    /// Delete a body no record points to any more. A missing file is fine.
    pub(super) fn remove(&self, id: &str, version: &str) -> std::io::Result<()> {
        let Some(path) = self.path(id, version) else {
            return Ok(());
        };
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Bytes of all body files (walks the directory: for reports and
    /// benchmarks, not for hot paths).
    pub(super) fn size(&self) -> std::io::Result<u64> {
        let mut total = 0;
        for shard in std::fs::read_dir(&self.root)? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(shard.path())? {
                total += f?.metadata()?.len();
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_back_under_its_version_and_versions_differ_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let b = Bodies::open(dir.path().join("bodies")).unwrap();
        let v1 = b
            .write("0a1b2c3d4e5f6071", b"{\"html\":\"<p>1</p>\"}")
            .unwrap();
        let v2 = b
            .write("0a1b2c3d4e5f6071", b"{\"html\":\"<p>2</p>\"}")
            .unwrap();
        assert_ne!(v1, v2);
        assert_eq!(
            b.read("0a1b2c3d4e5f6071", &v1).unwrap(),
            b"{\"html\":\"<p>1</p>\"}"
        );
        assert_eq!(
            b.read("0a1b2c3d4e5f6071", &v2).unwrap(),
            b"{\"html\":\"<p>2</p>\"}"
        );
        // Sharded by the id's first two digits, no temporary files left.
        let shard: Vec<_> = std::fs::read_dir(dir.path().join("bodies/0a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(shard.len(), 2, "{shard:?}");
        assert!(shard.iter().all(|n| n.ends_with(".json")), "{shard:?}");
        b.remove("0a1b2c3d4e5f6071", &v1).unwrap();
        assert!(b.read("0a1b2c3d4e5f6071", &v1).is_err());
        b.remove("0a1b2c3d4e5f6071", &v1).unwrap();
    }

    /// A corrupt record must not steer reads or deletes outside the
    /// directory.
    #[test]
    fn names_that_are_not_plain_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let b = Bodies::open(dir.path().join("bodies")).unwrap();
        for (id, v) in [
            ("../../etc", "x"),
            ("ab", "../x"),
            ("a", "x"),
            ("", "x"),
            ("ab", ""),
        ] {
            assert!(b.path(id, v).is_none(), "{id} {v}");
            assert!(b.read(id, v).is_err());
            assert!(b.remove(id, v).is_ok());
        }
        assert!(b.write("../x", b"{}").is_err());
    }
}
