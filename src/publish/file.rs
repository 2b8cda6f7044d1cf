//! The `file` publisher: one JSON file per published item, for dry runs.
//!
//! It lets a unit be configured, polled and reviewed end to end without an
//! account: what would have been posted lands in `dir` as
//! `<sanitised item_id>.json`. Files are written to a temporary name and
//! renamed, so a crash never leaves a half-written post that `lookup` would
//! mistake for a published one.

use super::{AccountInfo, Outcome, Post, PublishError, Publisher, Remote};
use async_trait::async_trait;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the pipeline should wait after a local write failure (disk full,
/// permissions): long enough for an operator to notice.
const RETRY_AFTER_IO_ERROR: Duration = Duration::from_secs(300);

/// `kind = "file"`: one JSON file per published item, for dry runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub dir: PathBuf,
}

impl FileConfig {
    /// Relative to the config file's directory.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        if self.dir.is_relative() {
            self.dir = base_dir.join(&self.dir);
        }
    }

    pub fn validate(&self) -> Vec<String> {
        Vec::new()
    }

    /// Standing in for the account the unit names.
    pub fn build(
        &self,
        ctx: &super::BuildCtx,
    ) -> Result<std::sync::Arc<dyn super::Publisher>, String> {
        Ok(std::sync::Arc::new(
            FilePublisher::new(self.dir.clone()).for_account(ctx.account_name),
        ))
    }
}

/// Publishes into a directory.
#[derive(Debug, Clone)]
pub struct FilePublisher {
    dir: PathBuf,
    /// The account this stands in for: a dry run "is" the unit's account,
    /// so the outbox's binding check passes.
    account: String,
}

/// What one file holds.
#[derive(Debug, Serialize)]
struct FilePost<'a> {
    item_id: &'a str,
    title: &'a str,
    html: &'a str,
    text: &'a str,
    source_url: &'a str,
    images: Vec<&'a str>,
    published_at: Option<String>,
    author: Option<&'a str>,
    source: Option<&'a str>,
}

impl FilePublisher {
    pub fn new(dir: PathBuf) -> Self {
        FilePublisher {
            dir,
            account: String::new(),
        }
    }

    /// Standing in for the account named `account`.
    pub fn for_account(mut self, account: &str) -> Self {
        self.account = account.to_string();
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file `post` is (or would be) published to.
    pub fn path_for(&self, item_id: &str) -> PathBuf {
        self.dir.join(file_name(item_id))
    }

    fn write(&self, post: &Post) -> Result<PathBuf, String> {
        let path = self.path_for(&post.item_id);
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
        let doc = FilePost {
            item_id: &post.item_id,
            title: &post.title,
            html: &post.html,
            text: &post.text,
            source_url: post.source_url.as_str(),
            images: post.images.iter().map(|u| u.as_str()).collect(),
            published_at: post.published_at.map(|t| t.to_rfc3339()),
            author: post.author.as_deref(),
            source: post.source.as_deref(),
        };
        let json = serde_json::to_vec_pretty(&doc)
            .map_err(|e| format!("encoding {}: {e}", path.display()))?;
        write_atomically(&path, &json)?;
        Ok(path)
    }
}

/// `item_id` made safe as a file name. Anything outside `[A-Za-z0-9._-]`
/// becomes `_`; when that changed the id, a short hash of the original keeps
/// distinct ids (`a/b`, `a_b`) in distinct files.
fn file_name(item_id: &str) -> String {
    let mut safe: String = item_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let changed = safe != item_id || safe.is_empty() || safe.starts_with('.');
    if changed {
        let hash = Sha256::digest(item_id.as_bytes());
        safe = format!(
            "{}_{}",
            safe.trim_start_matches('.'),
            &hex::encode(hash)[..12]
        );
    }
    format!("{safe}.json")
}

/// Write `bytes` to `path` through a temporary sibling and a rename, synced,
/// so readers see either the old file or the complete new one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Unique per writer, so concurrent writes of one path never share a
    // temporary file.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{thread}-{nanos}",
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every platform can sync a
        // directory, so this is best effort.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("writing {}: {e}", path.display()));
    }
    Ok(())
}

#[async_trait]
impl Publisher for FilePublisher {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn verify(&self) -> Result<AccountInfo, PublishError> {
        let (dir, account) = (self.dir.clone(), self.account.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)
                .map_err(|e| PublishError::Io(format!("creating {}: {e}", dir.display())))?;
            let probe = dir.join(format!(".autosync-probe-{}", std::process::id()));
            std::fs::write(&probe, b"probe")
                .map_err(|e| PublishError::Io(format!("{} is not writable: {e}", dir.display())))?;
            let _ = std::fs::remove_file(&probe);
            Ok(AccountInfo {
                id: dir.display().to_string(),
                display_name: account,
            })
        })
        .await
        .map_err(|e| PublishError::Io(format!("checking {}: {e}", self.dir.display())))?
    }

    async fn publish(&self, post: &Post) -> Outcome {
        let this = self.clone();
        let post = post.clone();
        let written = tokio::task::spawn_blocking(move || this.write(&post)).await;
        match written {
            Ok(Ok(path)) => {
                let id = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                let url = std::path::absolute(&path)
                    .ok()
                    .and_then(|p| url::Url::from_file_path(p).ok())
                    .map(|u| u.to_string());
                Outcome::Published {
                    remote: Remote { id, url },
                    notes: Vec::new(),
                }
            }
            Ok(Err(reason)) => Outcome::RetryLater {
                after: RETRY_AFTER_IO_ERROR,
                reason,
            },
            Err(e) => Outcome::RetryLater {
                after: RETRY_AFTER_IO_ERROR,
                reason: format!("writing into {}: {e}", self.dir.display()),
            },
        }
    }

    async fn lookup(&self, post: &Post) -> Result<Option<Remote>, PublishError> {
        let path = self.path_for(&post.item_id);
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => {
                let id = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                let url = std::path::absolute(&path)
                    .ok()
                    .and_then(|p| url::Url::from_file_path(p).ok())
                    .map(|u| u.to_string());
                Ok(Some(Remote { id, url }))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PublishError::Io(format!(
                "checking {}: {e}",
                path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn post(id: &str) -> Post {
        Post {
            item_id: id.into(),
            title: "标题".into(),
            html: "<p>正文</p>".into(),
            text: "正文".into(),
            source_url: Url::parse("https://www.example.org/a/1.html").unwrap(),
            images: vec![Url::parse("https://www.example.org/a/1.jpg").unwrap()],
            published_at: None,
            author: Some("张三".into()),
            source: None,
        }
    }

    #[test]
    fn file_names_are_safe_and_distinct_for_distinct_ids() {
        assert_eq!(file_name("abc-1.x"), "abc-1.x.json");
        let a = file_name("a/b");
        let b = file_name("a_b");
        assert_ne!(a, b);
        assert!(!a.contains('/'));
        assert!(!file_name("../etc").starts_with('.'));
        assert!(!file_name("").starts_with('.'));
    }

    #[tokio::test]
    async fn publish_writes_one_complete_json_and_lookup_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = FilePublisher::new(dir.path().join("out"));
        assert!(p.lookup(&post("u1/42")).await.unwrap().is_none());
        let Outcome::Published { remote, .. } = p.publish(&post("u1/42")).await else {
            panic!("not published")
        };
        let path = dir.path().join("out").join(&remote.id);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["title"], "标题");
        assert_eq!(v["images"][0], "https://www.example.org/a/1.jpg");
        assert_eq!(v["author"], "张三");
        assert_eq!(
            p.lookup(&post("u1/42")).await.unwrap().unwrap().id,
            remote.id
        );
        // No temporary files are left behind.
        assert_eq!(
            std::fs::read_dir(dir.path().join("out")).unwrap().count(),
            1
        );
    }

    #[tokio::test]
    async fn verify_fails_when_the_dir_cannot_be_created() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let p = FilePublisher::new(file.join("sub"));
        assert!(matches!(p.verify().await, Err(PublishError::Io(_))));
        assert!(
            FilePublisher::new(dir.path().join("ok"))
                .verify()
                .await
                .is_ok()
        );
    }
}
