//! Where an account's credential (a toutiao cookie, a WeChat AppSecret, a
//! webhook's signing secret) comes from, whether it changed since it was
//! read, and how a renewed one is written.
//!
//! Why here and not in each platform: a renewed cookie must resume its
//! paused account at once, without a restart. The outbox compares the
//! credential file's [`Stamp`] with the one it was built with and builds
//! the account's publisher again when they differ (`outbox::Outboxes::get`);
//! `autosync account set-cookie` and the desk write the file with
//! [`write_private`] (temp file, fsync, rename: the daemon never reads half
//! a cookie) and ring the account's worker.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where a credential is read from (the option the config uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `…_file = PATH` (resolved against the config file's directory).
    File(PathBuf),
    /// `…_env = NAME`.
    Env(String),
    /// `…_credential = NAME`: systemd's `LoadCredential=`, copied when the
    /// service starts.
    Credential(String),
}

/// An account's credential as the config names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The option family: `cookie`, `app_secret`, `secret`.
    pub what: &'static str,
    pub source: Source,
}

impl SecretRef {
    /// The first source given, as a platform's config holds them.
    pub fn first(
        what: &'static str,
        file: Option<&Path>,
        env: Option<&str>,
        credential: Option<&str>,
    ) -> Option<SecretRef> {
        let source = match (file, env, credential) {
            (Some(f), _, _) => Source::File(f.to_path_buf()),
            (None, Some(e), _) => Source::Env(e.to_string()),
            (None, None, Some(c)) => Source::Credential(c.to_string()),
            (None, None, None) => return None,
        };
        Some(SecretRef { what, source })
    }

    /// The option's name as written in the config (`cookie_file`).
    pub fn option(&self) -> String {
        let kind = match self.source {
            Source::File(_) => "file",
            Source::Env(_) => "env",
            Source::Credential(_) => "credential",
        };
        format!("{}_{kind}", self.what)
    }

    /// The file it is read from, if any (a credential's only when the
    /// service runs with `$CREDENTIALS_DIRECTORY`).
    pub fn path(&self) -> Option<PathBuf> {
        match &self.source {
            Source::File(p) => Some(p.clone()),
            Source::Credential(name) => {
                std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| Path::new(&d).join(name))
            }
            Source::Env(_) => None,
        }
    }

    /// What the file looks like now (`None`: no file, or none readable).
    pub fn stamp(&self) -> Option<Stamp> {
        self.path().and_then(|p| Stamp::of(&p))
    }
}

/// A file's identity and last change: a rename over it (what
/// [`write_private`] does) or an edit in place both change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl Stamp {
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}

/// Write `value` to `path` as a whole, mode 0600: a temp file beside it,
/// synced, renamed over it, the directory synced. A reader sees the old
/// file or the new one, never a part. When the file existed, its owner and
/// group are kept (root renewing the cookie of a service that runs as its
/// own user must not lock the service out); a failure to keep them (not
/// root) is not an error: the file is then the writer's.
pub fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?
        .to_string_lossy();
    let owner = std::fs::metadata(path)
        .ok()
        .map(|m| (m.uid(), m.gid()))
        .or_else(|| std::fs::metadata(dir).ok().map(|m| (m.uid(), m.gid())));
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        if let Some((uid, gid)) = owner {
            let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
        }
        f.write_all(value.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_write_replaces_the_file_whole_with_mode_0600_and_changes_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cookie");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let before = Stamp::of(&f).unwrap();
        write_private(&f, "sessionid=a; csrftoken=b").unwrap();
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "sessionid=a; csrftoken=b\n"
        );
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_ne!(Stamp::of(&f), Some(before));
        // No temp file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_private_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a directory fails.
        let target = dir.path().join("sub");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), "").unwrap();
        assert!(write_private(&target, "v").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_option_is_named_as_written() {
        let r = SecretRef::first("cookie", None, Some("X"), Some("c")).unwrap();
        assert_eq!(r.option(), "cookie_env");
        assert_eq!(r.path(), None);
        assert!(SecretRef::first("cookie", None, None, None).is_none());
    }
}
