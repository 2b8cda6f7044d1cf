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
//! | `items` | item id | [`Item`] |
//! | `keys` | `unit \0 identity` | item id; identities are canonical URLs, `guid:` ids and `fp:` content fingerprints |
//! | `sources` | `unit \0 source key` | [`SourceState`] |
//! | `audit` | time (ms, big-endian) + sequence | [`AuditEntry`]: every editor action, append-only |
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

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod archive;
mod bodies;
use archive::Archive;
use bodies::Bodies;

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
    #[error("store: item {0} not found")]
    NoSuchItem(String),
    #[error("store: corrupt record under {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error(
        "store: item {item}: body lost ({reason}); the item is back in `failed` and its article will be fetched again"
    )]
    BodyLost { item: String, reason: String },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// Where an item is in its life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum State {
    /// Known but never to be published: it was there before the unit was
    /// bound (the baseline of a first poll beyond `backfill`).
    Seen,
    /// Content ready, waiting for its turn to publish.
    Queued,
    /// A publish request is (or was, before a crash) under way. `title` is
    /// the title sent, for looking the post up on the account.
    Publishing { since: DateTime<Utc> },
    /// On the account.
    Published {
        remote_id: String,
        remote_url: Option<String>,
        at: DateTime<Utc>,
    },
    /// Something went wrong. With `next_retry`, it is tried again then; without,
    /// it waits for an editor or ops.
    Failed {
        stage: Stage,
        reason: String,
        attempts: u32,
        next_retry: Option<DateTime<Utc>>,
    },
    /// Waiting for an editor's decision.
    Held { reason: String },
    /// An editor decided it is not to be published.
    Rejected { reason: String },
}

impl State {
    /// The short name used in summaries, the CLI and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            State::Seen => "seen",
            State::Queued => "queued",
            State::Publishing { .. } => "publishing",
            State::Published { .. } => "published",
            State::Failed { .. } => "failed",
            State::Held { .. } => "held",
            State::Rejected { .. } => "rejected",
        }
    }
}

/// Every [`State::name`].
pub const STATE_NAMES: [&str; 7] = [
    "seen",
    "queued",
    "publishing",
    "published",
    "failed",
    "held",
    "rejected",
];

/// Which step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Getting the article (fetch or extraction).
    Fetch,
    /// Sending it to the account.
    Publish,
}

/// One article of one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub unit: String,
    /// Canonical URL of the article.
    pub url: String,
    /// Key of the source it was found through.
    pub source: String,
    pub guid: Option<String>,
    /// Content fingerprint, once the content is known.
    pub fingerprint: Option<String>,
    pub title: String,
    pub published_at: Option<DateTime<FixedOffset>>,
    pub author: Option<String>,
    /// `来源：` on the page.
    pub origin: Option<String>,
    /// The body lives in a file of its own (see the module docs), written
    /// once at insert (and by [`Store::put_body`]), so that the many state
    /// changes of an item rewrite only its small record.
    #[serde(skip)]
    pub html: String,
    #[serde(skip)]
    pub text: String,
    pub images: Vec<String>,
    pub priority: bool,
    /// Notes for editors and ops (images dropped, title shortened, …).
    pub notes: Vec<String>,
    /// Word-list and personal-data hits of the review, with context.
    #[serde(default)]
    pub review_hits: Vec<crate::review::Hit>,
    pub discovered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Which body file is this item's. Managed by the store alone:
    /// [`Store::insert_new`] and [`Store::put_body`] set it, [`Store::put`]
    /// keeps the stored one whatever the caller's copy says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_version: Option<String>,
    #[serde(flatten)]
    pub state: State,
}

impl Item {
    /// A new item of `unit` for the article at canonical `url`, found
    /// through `source` at `now`: no content yet, in `state`.
    pub fn new(unit: &str, url: &str, source: &str, now: DateTime<Utc>, state: State) -> Item {
        Item {
            id: Item::id_for(unit, url),
            unit: unit.to_string(),
            url: url.to_string(),
            source: source.to_string(),
            guid: None,
            fingerprint: None,
            title: String::new(),
            published_at: None,
            author: None,
            origin: None,
            html: String::new(),
            text: String::new(),
            images: vec![],
            priority: false,
            notes: vec![],
            review_hits: vec![],
            discovered_at: now,
            updated_at: now,
            body_version: None,
            state,
        }
    }

    /// The item id for a unit's article: short, stable and safe in URLs and
    /// on the command line.
    pub fn id_for(unit: &str, canonical_url: &str) -> String {
        let mut h = Sha256::new();
        h.update(unit.as_bytes());
        h.update([0]);
        h.update(canonical_url.as_bytes());
        hex::encode(&h.finalize()[..8])
    }
}

/// The fingerprint of an article's content: the same article reached by two
/// URLs (or two sources) of one unit has the same one. Whitespace and
/// punctuation are ignored so that markup changes do not make a new article.
pub fn fingerprint(title: &str, text: &str) -> String {
    let mut h = Sha256::new();
    for c in title.chars().chain(['\u{0}']).chain(text.chars()) {
        if c.is_alphanumeric() || c == '\u{0}' {
            let mut buf = [0u8; 4];
            for lc in c.to_lowercase() {
                h.update(lc.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    hex::encode(&h.finalize()[..16])
}

/// Per-source polling state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Set once the first poll recorded its baseline.
    pub baselined: bool,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_errors: u32,
    /// Set on 410 Gone: not polled again until the config changes it.
    pub gone: bool,
}

/// An item's body, stored apart from its record.
#[derive(Deserialize)]
struct Body {
    html: String,
    text: String,
}

impl Body {
    /// The item's body as stored, `None` when it has none (a `seen` item, a
    /// failed fetch): no file is written for those.
    fn encoded(item: &Item) -> Option<Vec<u8>> {
        #[derive(Serialize)]
        struct BodyRef<'a> {
            html: &'a str,
            text: &'a str,
        }
        (!item.html.is_empty() || !item.text.is_empty()).then(|| {
            encode(&BodyRef {
                html: &item.html,
                text: &item.text,
            })
        })
    }
}

/// What [`Store::insert_new`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new item.
    New(String),
    /// Some identity of it was already known: this existing item.
    Known(String),
}

/// Counts per state, for summaries and metrics.
pub type StateCounts = std::collections::BTreeMap<&'static str, usize>;

/// The store. Cheap to clone (sled handles are reference-counted).
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    items: sled::Tree,
    keys: sled::Tree,
    sources: sled::Tree,
    index: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
    bodies: Arc<Bodies>,
    archive: Arc<Archive>,
    /// One flush at a time (see [`Store::flush`]).
    flushing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Inserts share it, archival takes it alone (see [`Store::insert_new`]).
    archiving: Arc<tokio::sync::RwLock<()>>,
}

/// What a unit's archive holds, kept in the `meta` tree: counts by state and
/// the last post, so that status and the update clock still see them.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Archived {
    counts: std::collections::BTreeMap<String, usize>,
    last_published: Option<DateTime<Utc>>,
}

fn archived_key(unit: &str) -> Vec<u8> {
    key2("archived", unit)
}

/// One editor action: who, when, what, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub editor: String,
    /// `approve`, `reject`, `priority`, `title`, `push`, `push-url`,
    /// `broadcast`.
    pub action: String,
    pub unit: Option<String>,
    pub item: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Free text: a reason, a URL, who got a broadcast.
    pub detail: Option<String>,
}

/// The `index` key of an item: unit, state name, then an order that makes a
/// prefix scan come out in queue order (priority first, then oldest; failed
/// items by retry time).
fn index_key(item: &Item) -> Vec<u8> {
    let millis = |t: DateTime<Utc>| t.timestamp_millis().max(0) as u64;
    let (class, t) = match &item.state {
        State::Queued => (
            u8::from(!item.priority),
            item.published_at
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(item.discovered_at),
        ),
        State::Failed { next_retry, .. } => (
            u8::from(next_retry.is_none()),
            next_retry.unwrap_or(item.updated_at),
        ),
        // By publication time: the last post and today's count come from the
        // keys alone.
        State::Published { at, .. } => (1, *at),
        _ => (1, item.discovered_at),
    };
    let mut k = key2(&item.unit, item.state.name());
    k.push(0);
    k.push(class);
    k.extend_from_slice(&millis(t).to_be_bytes());
    k.push(0);
    k.extend_from_slice(item.id.as_bytes());
    k
}

fn key2(unit: &str, rest: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(unit.len() + 1 + rest.len());
    k.extend_from_slice(unit.as_bytes());
    k.push(0);
    k.extend_from_slice(rest.as_bytes());
    k
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
    let old = store.db.clone();
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

/// fsync a directory, so that an entry created, renamed or removed in it
/// survives a crash (bodies, archive, compaction).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn compaction_paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("db"),
        dir.join("db.compact"),
        dir.join("db.compact.done"),
    )
}

/// Complete or undo a compaction a crash interrupted. With the marker, the
/// copy is whole: it replaces the database (whichever rename was done).
/// Without it, a copy is partial and goes.
fn finish_compaction(dir: &Path) -> std::io::Result<()> {
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
        let meta = db.open_tree("meta")?;
        let found = meta
            .get("format")?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let store = Store {
            path: dir.to_path_buf(),
            items: db.open_tree("items")?,
            keys: db.open_tree("keys")?,
            sources: db.open_tree("sources")?,
            index: db.open_tree("index")?,
            audit: db.open_tree("audit")?,
            meta: meta.clone(),
            bodies: Arc::new(bodies),
            archive: Arc::new(
                Archive::open(dir.join("archive"))
                    .map_err(|e| open_err(format!("{}: {e}", dir.join("archive").display())))?,
            ),
            db,
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
        store.db.flush()?;
        Ok(store)
    }

    /// Format 1 kept bodies in a sled tree. Each becomes a durable file,
    /// then its record names it; the tree is dropped after all are done, so
    /// a crash midway leaves a store that migrates again at the next start
    /// (a body already moved is simply written once more).
    fn migrate_bodies_out_of_sled(&self) -> Result<(), StoreError> {
        let old = self.db.open_tree("bodies")?;
        for kv in old.iter() {
            let (id, body) = kv?;
            let id_s = String::from_utf8_lossy(&id).into_owned();
            let Some(rec) = self.items.get(&id)? else {
                continue;
            };
            let mut item: Item = decode(&id, &rec)?;
            let version = self
                .bodies
                .write(&id_s, &body)
                .map_err(|e| StoreError::Db(format!("migrating the body of item {id_s}: {e}")))?;
            item.body_version = Some(version);
            self.items.insert(&id, encode(&item))?;
        }
        self.db.flush()?;
        self.db.drop_tree("bodies")?;
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
        let _one = self.flushing.lock().await;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
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
        .map_err(|e| StoreError::Db(format!("flush task: {e}")))??;
        Ok(())
    }

    /// Is any of these identities (canonical URL, `guid:…`, `fp:…`) of `unit`
    /// known? Returns the item it belongs to.
    pub fn lookup(&self, unit: &str, identities: &[String]) -> Result<Option<String>, StoreError> {
        match self.lookup_live(unit, identities)? {
            Some(id) => Ok(Some(id)),
            // Not in sled: maybe archived. (Identities reach the archive
            // before they leave sled, so one of the two always has them.)
            None => self.lookup_archived(unit, identities),
        }
    }

    fn lookup_live(&self, unit: &str, identities: &[String]) -> Result<Option<String>, StoreError> {
        for ident in identities {
            if let Some(id) = self.keys.get(key2(unit, ident))? {
                return Ok(Some(String::from_utf8_lossy(&id).into_owned()));
            }
        }
        Ok(None)
    }

    fn lookup_archived(
        &self,
        unit: &str,
        identities: &[String],
    ) -> Result<Option<String>, StoreError> {
        self.archive
            .lookup(unit, identities)
            .map_err(|e| StoreError::Db(format!("archive of unit {unit}: {e}")))
    }

    /// Insert `item` under all its `identities` in one transaction, unless one
    /// of them is already known; then the known item's other identities are
    /// completed (so the next lookup by this URL is a hit) and it is returned.
    /// The body file is made durable first; the record is not flushed: call
    /// [`Store::flush`] before depending on it.
    pub async fn insert_new(
        &self,
        item: &Item,
        identities: &[String],
    ) -> Result<Inserted, StoreError> {
        let mut record = item.clone();
        record.html = String::new();
        record.text = String::new();
        record.body_version = None;
        // Archival moves identities out of sled; while an insert is under
        // way none leaves, so "not in sled, not archived" stays true until
        // the transaction below has run.
        let _no_archival = self.archiving.read().await;
        if self.lookup_live(&item.unit, identities)?.is_none() {
            if let Some(id) = self.lookup_archived(&item.unit, identities)? {
                return Ok(Inserted::Known(id));
            }
            // A known article costs no body file. (Should the transaction
            // still find it known, racing another insert, the file written
            // is left unreferenced: harmless, and the record keeps its own
            // body.)
            if let Some(bytes) = Body::encoded(item) {
                record.body_version = Some(self.write_body(&item.id, bytes).await?);
            }
        }
        let res = (&self.items, &self.keys, &self.index).transaction(|(items, keys, index)| {
            let mut existing = None;
            for ident in identities {
                if let Some(id) = keys.get(key2(&item.unit, ident))? {
                    existing = Some(id);
                    break;
                }
            }
            if let Some(id) = existing {
                for ident in identities {
                    keys.insert(key2(&item.unit, ident), id.clone())?;
                }
                return Ok(Inserted::Known(String::from_utf8_lossy(&id).into_owned()));
            }
            items.insert(item.id.as_bytes(), encode(&record))?;
            index.insert(index_key(item), &[])?;
            for ident in identities {
                keys.insert(key2(&item.unit, ident), item.id.as_bytes())?;
            }
            Ok::<_, ConflictableTransactionError<()>>(Inserted::New(item.id.clone()))
        });
        res.map_err(|e: TransactionError<()>| StoreError::Db(format!("{e:?}")))
    }

    /// Write a body file durably, off the async threads (it fsyncs).
    async fn write_body(&self, id: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
        let (bodies, id) = (self.bodies.clone(), id.to_string());
        tokio::task::spawn_blocking(move || {
            bodies
                .write(&id, &bytes)
                .map_err(|e| StoreError::Db(format!("writing the body of item {id}: {e}")))
        })
        .await
        .map_err(|e| StoreError::Db(format!("body write task: {e}")))?
    }

    /// Add identities (e.g. the content fingerprint, once known) to an item.
    pub fn add_identities(
        &self,
        unit: &str,
        id: &str,
        identities: &[String],
    ) -> Result<(), StoreError> {
        for ident in identities {
            self.keys.insert(key2(unit, ident), id.as_bytes())?;
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let Some(v) = self.items.get(id.as_bytes())? else {
            return Ok(None);
        };
        let mut item: Item = decode(id.as_bytes(), &v)?;
        self.load_body(&mut item)?;
        Ok(Some(item))
    }

    fn load_body(&self, item: &mut Item) -> Result<(), StoreError> {
        let Some(version) = &item.body_version else {
            return Ok(());
        };
        let corrupt = |reason: String| StoreError::Corrupt {
            key: item.id.clone(),
            reason,
        };
        let bytes = self
            .bodies
            .read(&item.id, version)
            .map_err(|e| corrupt(format!("body file {version}: {e}")))?;
        let b: Body = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(format!("body file {version}: {e}")))?;
        item.html = b.html;
        item.text = b.text;
        Ok(())
    }

    /// Replace an item's body (after its content changed): the new file is
    /// made durable, the record names it and is flushed, then the old file
    /// goes. The rest of the record is not written (see [`Store::put`]).
    pub async fn put_body(&self, item: &Item) -> Result<(), StoreError> {
        let new = match Body::encoded(item) {
            Some(bytes) => Some(self.write_body(&item.id, bytes).await?),
            None => None,
        };
        let res = self.items.transaction(|items| {
            let Some(old) = items.get(item.id.as_bytes())? else {
                return Ok(None);
            };
            let mut rec: Item = serde_json::from_slice(&old)
                .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
            let before = std::mem::replace(&mut rec.body_version, new.clone());
            items.insert(item.id.as_bytes(), encode(&rec))?;
            Ok(before)
        });
        let before = res.map_err(|e: TransactionError<String>| StoreError::Db(format!("{e:?}")))?;
        self.flush().await?;
        if let Some(old) = before.filter(|old| Some(old) != new.as_ref()) {
            // Only an unreferenced file is left behind if this fails.
            if let Err(e) = self.bodies.remove(&item.id, &old) {
                tracing::warn!(item = %item.id, error = %e, "old body file not removed");
            }
        }
        Ok(())
    }

    /// Archival: move `unit`'s items that are done — published, rejected
    /// or seen before `before` — out of sled into the unit's archive (see
    /// [`archive`](self::archive)). Their identities stay findable, so the
    /// articles are never taken for new; their records are kept in the
    /// archive's `items.jsonl`; their bodies stay where they are. Returns how
    /// many items moved.
    pub async fn archive_before(
        &self,
        unit: &str,
        before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut done = Vec::new();
        for state in ["published", "rejected", "seen"] {
            for id in self.ids_in(unit, state) {
                let id = id?;
                let Some(v) = self.items.get(id.as_bytes())? else {
                    continue;
                };
                let item: Item = decode(id.as_bytes(), &v)?;
                let when = match item.state {
                    State::Published { at, .. } => at,
                    _ => item.updated_at,
                };
                if when < before {
                    done.push(item);
                } else if state == "published" {
                    // In order of publication: the rest are newer.
                    break;
                }
            }
        }
        if done.is_empty() {
            return Ok(0);
        }
        // Every identity that names one of them.
        let wanted: std::collections::HashSet<&str> = done.iter().map(|i| i.id.as_str()).collect();
        let mut prefix = unit.as_bytes().to_vec();
        prefix.push(0);
        let mut identities: Vec<(String, String)> = Vec::new();
        for kv in self.keys.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let id = String::from_utf8_lossy(&v);
            if wanted.contains(id.as_ref()) {
                let ident = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                identities.push((ident, id.into_owned()));
            }
        }
        // Durable in the archive first.
        let records: Vec<Vec<u8>> = done.iter().map(encode).collect();
        let (archive, u, ids) = (self.archive.clone(), unit.to_string(), identities.clone());
        tokio::task::spawn_blocking(move || archive.add(&u, &records, &ids))
            .await
            .map_err(|e| StoreError::Db(format!("archive task: {e}")))?
            .map_err(|e| StoreError::Db(format!("archive of unit {unit}: {e}")))?;
        let mut by_item: std::collections::HashMap<&str, Vec<&str>> = Default::default();
        for (ident, id) in &identities {
            by_item.entry(id.as_str()).or_default().push(ident.as_str());
        }
        // Then out of sled, with no insert in between (see insert_new).
        let _alone = self.archiving.write().await;
        let mut moved = 0;
        for chunk in done.chunks(256) {
            let res = (&self.items, &self.index, &self.keys, &self.meta).transaction(
                |(items, index, keys, meta)| {
                    let k = archived_key(unit);
                    let mut stats: Archived = match meta.get(&k)? {
                        Some(v) => serde_json::from_slice(&v)
                            .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?,
                        None => Archived::default(),
                    };
                    let mut n = 0;
                    for item in chunk {
                        let Some(cur) = items.get(item.id.as_bytes())? else {
                            continue;
                        };
                        let cur: Item = serde_json::from_slice(&cur)
                            .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
                        // Changed since it was read (an editor acted on it):
                        // it stays; its archived identities point to it too.
                        if cur.state != item.state || cur.updated_at != item.updated_at {
                            continue;
                        }
                        items.remove(item.id.as_bytes())?;
                        index.remove(index_key(&cur))?;
                        for ident in by_item.get(item.id.as_str()).into_iter().flatten() {
                            let key = key2(unit, ident);
                            // Only if it still names this item.
                            if keys
                                .get(&key)?
                                .is_some_and(|v| v.as_ref() == item.id.as_bytes())
                            {
                                keys.remove(key)?;
                            }
                        }
                        *stats
                            .counts
                            .entry(cur.state.name().to_string())
                            .or_default() += 1;
                        if let State::Published { at, .. } = cur.state {
                            stats.last_published = stats.last_published.max(Some(at));
                        }
                        n += 1;
                    }
                    meta.insert(k, encode(&stats))?;
                    Ok(n)
                },
            );
            moved += res.map_err(|e: TransactionError<String>| StoreError::Db(format!("{e:?}")))?;
        }
        drop(_alone);
        self.flush().await?;
        Ok(moved)
    }

    /// The records `unit`'s archive holds, in the order they were archived
    /// (reads the whole file: for reports and exports). An item archived
    /// twice (a crash between the archive and sled) comes once.
    pub fn archived_records(&self, unit: &str) -> Result<Vec<Item>, StoreError> {
        let lines = self
            .archive
            .records(unit)
            .map_err(|e| StoreError::Db(format!("archive of unit {unit}: {e}")))?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for l in lines.iter().rev() {
            let item: Item = decode(format!("archive/{unit}").as_bytes(), l)?;
            if seen.insert(item.id.clone()) {
                out.push(item);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Retention: delete the bodies of `unit`'s items published (or
    /// rejected) before `before`. Their records stay, without a body
    /// version and with a note saying when the body went. Each record is
    /// changed and flushed before its file is deleted, so a crash leaves at
    /// worst an unreferenced file. Returns how many bodies went.
    pub async fn drop_bodies_before(
        &self,
        unit: &str,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut old = Vec::new();
        for item in self.records_in(unit, "published")? {
            match item.state {
                // Index order is by publication time: the rest are newer.
                State::Published { at, .. } if at >= before => break,
                _ if item.body_version.is_some() => old.push(item),
                _ => {}
            }
        }
        for item in self.records_in(unit, "rejected")? {
            if item.updated_at < before && item.body_version.is_some() {
                old.push(item);
            }
        }
        let mut dropped = Vec::new();
        for item in old {
            let version = item.body_version.clone();
            let res = self.items.transaction(|items| {
                let Some(cur) = items.get(item.id.as_bytes())? else {
                    return Ok(false);
                };
                let mut rec: Item = serde_json::from_slice(&cur)
                    .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
                // Changed meanwhile (an editor approved a rejected item):
                // not ours to touch.
                if rec.body_version != version || rec.state.name() != item.state.name() {
                    return Ok(false);
                }
                rec.body_version = None;
                rec.notes.push(format!(
                    "body deleted on {} (retention)",
                    now.format("%Y-%m-%d")
                ));
                items.insert(item.id.as_bytes(), encode(&rec))?;
                Ok(true)
            });
            if res.map_err(|e: TransactionError<String>| StoreError::Db(format!("{e:?}")))?
                && let Some(v) = version
            {
                dropped.push((item.id, v));
            }
        }
        if dropped.is_empty() {
            return Ok(0);
        }
        self.flush().await?;
        for (id, v) in &dropped {
            if let Err(e) = self.bodies.remove(id, v) {
                tracing::warn!(item = %id, error = %e, "body file not removed");
            }
        }
        Ok(dropped.len())
    }

    /// Write an item's record back, keeping the index in step; the body and
    /// the record's body version are not changed (see [`Store::put_body`]).
    /// Not flushed.
    pub fn put(&self, item: &Item) -> Result<(), StoreError> {
        let res = (&self.items, &self.index).transaction(|(items, index)| {
            let mut body_version = None;
            if let Some(old) = items.get(item.id.as_bytes())? {
                let old: Item = serde_json::from_slice(&old)
                    .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
                index.remove(index_key(&old))?;
                body_version = old.body_version;
            }
            let mut rec = item.clone();
            rec.body_version = body_version;
            items.insert(item.id.as_bytes(), encode(&rec))?;
            index.insert(index_key(item), &[])?;
            Ok(())
        });
        res.map_err(|e: TransactionError<String>| StoreError::Db(format!("{e:?}")))
    }

    /// Items of `unit` in state `state` (a [`State::name`]), in queue order,
    /// with their bodies.
    pub fn items_in(&self, unit: &str, state: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = self.records_in(unit, state)?;
        for item in &mut out {
            self.load_body(item)?;
        }
        Ok(out)
    }

    /// The same without the bodies (`html` and `text` left empty): for
    /// lists and counts, which never show a body.
    pub fn records_in(&self, unit: &str, state: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for id in self.ids_in(unit, state) {
            let id = id?;
            if let Some(v) = self.items.get(id.as_bytes())? {
                out.push(decode(id.as_bytes(), &v)?);
            }
        }
        Ok(out)
    }

    /// The `limit` newest items of `units` in `states`, records only,
    /// newest first — without reading any other record: the index keys are
    /// scanned backwards, range by range, and a range is left as soon as it
    /// is older than everything kept. "Newest" is the time a state is kept
    /// in order by (see `index_key`): when published for `published`, queue
    /// order for `queued`, the retry time for `failed`, when found for the
    /// rest. For the editors' lists, which must stay cheap when a store
    /// holds millions of items.
    pub fn newest(
        &self,
        units: &[&str],
        states: &[&str],
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Min-heap of the kept (time, id): its top is the oldest kept.
        let mut kept: BinaryHeap<Reverse<(u64, String)>> = BinaryHeap::new();
        for unit in units {
            for state in states {
                for class in [1u8, 0] {
                    let mut prefix = key2(unit, state);
                    prefix.push(0);
                    prefix.push(class);
                    let n = prefix.len();
                    for kv in self.index.scan_prefix(&prefix).rev() {
                        let (k, _) = kv?;
                        let Some(t) = k.get(n..n + 8) else { continue };
                        let t = u64::from_be_bytes(t.try_into().unwrap_or([0; 8]));
                        if kept.len() == limit
                            && kept.peek().is_some_and(|Reverse((oldest, _))| t <= *oldest)
                        {
                            break;
                        }
                        let id = String::from_utf8_lossy(&k[(n + 9).min(k.len())..]).into_owned();
                        kept.push(Reverse((t, id)));
                        if kept.len() > limit {
                            kept.pop();
                        }
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(kept.len());
        for Reverse((_, id)) in kept.into_sorted_vec() {
            if let Some(v) = self.items.get(id.as_bytes())? {
                out.push(decode(id.as_bytes(), &v)?);
            }
        }
        Ok(out)
    }

    /// Is any item of `unit` in state `state`? From the index alone.
    pub fn any_in(&self, unit: &str, state: &str) -> Result<bool, StoreError> {
        self.ids_in(unit, state)
            .next()
            .transpose()
            .map(|id| id.is_some())
    }

    fn ids_in(
        &self,
        unit: &str,
        state: &str,
    ) -> impl Iterator<Item = Result<String, StoreError>> + '_ {
        let mut prefix = key2(unit, state);
        prefix.push(0);
        let n = prefix.len();
        self.index.scan_prefix(prefix).map(move |kv| {
            let (k, _) = kv?;
            // The id follows the 1-byte class, 8-byte time and a NUL.
            Ok(String::from_utf8_lossy(&k[n + 10..]).into_owned())
        })
    }

    /// Change an item's state and flush before returning: the caller may take
    /// the step that depends on it.
    pub async fn set_state(
        &self,
        id: &str,
        state: State,
        now: DateTime<Utc>,
    ) -> Result<Item, StoreError> {
        let mut item = self
            .get(id)?
            .ok_or_else(|| StoreError::NoSuchItem(id.to_string()))?;
        item.state = state;
        item.updated_at = now;
        self.put(&item)?;
        self.flush().await?;
        Ok(item)
    }

    /// Items of `unit` that are due for publishing at `now`: queued ones and
    /// those whose publish failed and whose retry time has come, priority
    /// first, then oldest. Records only: [`Store::begin_publishing`] loads
    /// the body of the one that is taken.
    pub fn due(&self, unit: &str, now: DateTime<Utc>) -> Result<Vec<Item>, StoreError> {
        let mut due = self.records_in(unit, "queued")?;
        for item in self.records_in(unit, "failed")? {
            match &item.state {
                State::Failed {
                    stage: Stage::Publish,
                    next_retry: Some(t),
                    ..
                } if *t <= now => due.push(item),
                // Index order is by retry time: the rest are later.
                State::Failed {
                    next_retry: Some(t),
                    ..
                } if *t > now => break,
                _ => {}
            }
        }
        due.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.published_at.cmp(&b.published_at))
                .then(a.discovered_at.cmp(&b.discovered_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(due)
    }

    /// Publication times of the unit's posts, newest first, read from the
    /// index keys (no record is decoded).
    fn published_times(
        &self,
        unit: &str,
    ) -> impl Iterator<Item = Result<DateTime<Utc>, StoreError>> + '_ {
        let mut prefix = key2(unit, "published");
        prefix.push(0);
        let n = prefix.len();
        self.index.scan_prefix(prefix).rev().map(move |kv| {
            let (k, _) = kv?;
            let ms = k
                .get(n + 1..n + 9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            Ok(DateTime::from_timestamp_millis(ms as i64).unwrap_or_default())
        })
    }

    /// When the unit's account last got a post.
    pub fn last_published(&self, unit: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let live = self.published_times(unit).next().transpose()?;
        Ok(live.max(self.archived(unit)?.last_published))
    }

    /// How many posts the unit's account got at or after `since`.
    pub fn published_since(&self, unit: &str, since: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut n = 0;
        for t in self.published_times(unit) {
            if t? < since {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Counts per state of one unit's items, from the index alone.
    pub fn unit_counts(&self, unit: &str) -> Result<StateCounts, StoreError> {
        let mut counts = StateCounts::new();
        let mut prefix = unit.as_bytes().to_vec();
        prefix.push(0);
        for kv in self.index.scan_prefix(&prefix) {
            let (k, _) = kv?;
            let rest = &k[prefix.len()..];
            let state = rest.split(|b| *b == 0).next().unwrap_or_default();
            let name = STATE_NAMES
                .into_iter()
                .find(|n| n.as_bytes() == state)
                .unwrap_or("unknown");
            *counts.entry(name).or_default() += 1;
        }
        for (state, n) in self.archived(unit)?.counts {
            let name = STATE_NAMES
                .into_iter()
                .find(|s| *s == state)
                .unwrap_or("unknown");
            *counts.entry(name).or_default() += n;
        }
        Ok(counts)
    }

    fn archived(&self, unit: &str) -> Result<Archived, StoreError> {
        let k = archived_key(unit);
        match self.meta.get(&k)? {
            Some(v) => decode(&k, &v),
            None => Ok(Archived::default()),
        }
    }

    pub fn source_state(&self, unit: &str, source: &str) -> Result<SourceState, StoreError> {
        let k = key2(unit, source);
        match self.sources.get(&k)? {
            Some(v) => decode(&k, &v),
            None => Ok(SourceState::default()),
        }
    }

    /// Not flushed: call [`Store::flush`] before depending on it.
    pub fn put_source_state(
        &self,
        unit: &str,
        source: &str,
        st: &SourceState,
    ) -> Result<(), StoreError> {
        self.sources.insert(key2(unit, source), encode(st))?;
        Ok(())
    }

    /// Move an item from a publishable state (`queued`, or `failed` with a
    /// retry) to `publishing`, atomically, and flush. `None` when the item is
    /// in any other state: someone else (the worker, another editor) has it,
    /// or it is already published. This check-and-set is what keeps two
    /// paths from sending one item twice.
    pub async fn begin_publishing(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Item>, StoreError> {
        let res = (&self.items, &self.index).transaction(|(items, index)| {
            let Some(old) = items.get(id.as_bytes())? else {
                return Ok(None);
            };
            let old: Item = serde_json::from_slice(&old)
                .map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
            let publishable = matches!(
                old.state,
                State::Queued
                    | State::Failed {
                        stage: Stage::Publish,
                        next_retry: Some(_),
                        ..
                    }
            );
            if !publishable {
                return Ok(None);
            }
            let mut new = old.clone();
            new.state = State::Publishing { since: now };
            new.updated_at = now;
            index.remove(index_key(&old))?;
            index.insert(index_key(&new), &[])?;
            items.insert(id.as_bytes(), encode(&new))?;
            Ok(Some(new))
        });
        let item = res.map_err(|e: TransactionError<String>| StoreError::Db(format!("{e:?}")))?;
        let Some(mut item) = item else {
            return Ok(None);
        };
        self.flush().await?;
        if let Err(e) = self.load_body(&mut item) {
            // Only a file deleted behind our back gets here (bodies are
            // durable before their records). Nothing was sent: the article
            // is fetched again rather than published empty.
            let reason = e.to_string();
            item.state = State::Failed {
                stage: Stage::Fetch,
                reason: format!("body lost: {reason}"),
                attempts: 0,
                next_retry: Some(now),
            };
            item.updated_at = now;
            self.put(&item)?;
            self.flush().await?;
            return Err(StoreError::BodyLost {
                item: item.id,
                reason,
            });
        }
        Ok(Some(item))
    }

    /// Append an editor action to the audit log and flush it.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut k = (entry.at.timestamp_millis().max(0) as u64)
            .to_be_bytes()
            .to_vec();
        k.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        self.audit.insert(k, encode(entry))?;
        self.flush().await
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::new();
        for kv in self.audit.iter() {
            let (k, v) = kv?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    /// Size of the sled database on disk, in bytes (cheap: no body files).
    pub fn db_size(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Size of the store on disk, in bytes: the database and the body files
    /// (this walks `bodies/`: for reports, not for hot paths).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        let bodies = self
            .bodies
            .size()
            .map_err(|e| StoreError::Db(format!("{}/bodies: {e}", self.path.display())))?;
        Ok(self.db.size_on_disk()? + bodies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(unit: &str, url: &str) -> Item {
        Item {
            title: "标题".into(),
            ..Item::new(unit, url, "feed:x", Utc::now(), State::Queued)
        }
    }

    /// A store holding one queued item with a body (`<p>正文</p>`).
    async fn store_with_one_body() -> (tempfile::TempDir, Store, Item) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut a = item("u", "https://a.org/1");
        a.html = "<p>正文</p>".into();
        a.text = "正文".into();
        s.insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        (dir, s, a)
    }

    #[tokio::test]
    async fn same_article_by_two_identities_is_one_item() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let a = item("u", "https://a.org/1.html");
        let ids = vec![a.url.clone(), "fp:abc".to_string()];
        assert_eq!(
            s.insert_new(&a, &ids).await.unwrap(),
            Inserted::New(a.id.clone())
        );
        let b = item("u", "https://a.org/other.html");
        let ids_b = vec![b.url.clone(), "fp:abc".to_string()];
        assert_eq!(
            s.insert_new(&b, &ids_b).await.unwrap(),
            Inserted::Known(a.id.clone())
        );
        // The second URL now leads to the first item, and no second item exists.
        assert_eq!(
            s.lookup("u", std::slice::from_ref(&b.url)).unwrap(),
            Some(a.id.clone())
        );
        assert_eq!(s.unit_counts("u").unwrap().values().sum::<usize>(), 1);
        // Another unit has its own namespace.
        let c = item("v", "https://a.org/1.html");
        assert!(matches!(
            s.insert_new(&c, std::slice::from_ref(&c.url))
                .await
                .unwrap(),
            Inserted::New(_)
        ));
    }

    #[tokio::test]
    async fn a_state_change_keeps_the_body_without_rewriting_it() {
        let (_dir, s, a) = store_with_one_body().await;
        let record = s.items.get(a.id.as_bytes()).unwrap().unwrap();
        assert!(
            !String::from_utf8_lossy(&record).contains("正文"),
            "body inside the record"
        );
        let now = Utc::now();
        let got = s.begin_publishing(&a.id, now).await.unwrap().unwrap();
        assert_eq!(got.text, "正文");
        let got = s.set_state(&a.id, State::Queued, now).await.unwrap();
        assert_eq!(got.html, "<p>正文</p>");
        assert_eq!(s.get(&a.id).unwrap().unwrap().text, "正文");
        assert_eq!(s.items_in("u", "queued").unwrap()[0].html, "<p>正文</p>");
    }

    /// `put` is handed copies the caller built (without the store's body
    /// version); it must not cut an item off from its body.
    #[tokio::test]
    async fn put_of_a_callers_copy_keeps_the_body() {
        let (dir, s, mut a) = store_with_one_body().await;
        assert_eq!(a.body_version, None, "the caller's copy");
        a.title = "新标题".into();
        s.put(&a).unwrap();
        s.flush().await.unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        let got = s.get(&a.id).unwrap().unwrap();
        assert_eq!((got.title.as_str(), got.text.as_str()), ("新标题", "正文"));
    }

    #[tokio::test]
    async fn put_body_replaces_the_body_file_and_removes_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut a = item("u", "https://a.org/1");
        a.text = "旧".into();
        s.insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        a.text = "新".into();
        s.put_body(&a).await.unwrap();
        assert_eq!(s.get(&a.id).unwrap().unwrap().text, "新");
        let shard = dir.path().join("bodies").join(&a.id[..2]);
        let files: Vec<_> = std::fs::read_dir(&shard).unwrap().collect();
        assert_eq!(files.len(), 1, "old body file left: {files:?}");
        // Items without a body (the baseline) cost no file at all.
        let seen = Item::new("u", "https://a.org/2", "feed:x", Utc::now(), State::Seen);
        s.insert_new(&seen, std::slice::from_ref(&seen.url))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("bodies"))
                .unwrap()
                .count(),
            1
        );
        assert_eq!(s.get(&seen.id).unwrap().unwrap().html, "");
    }

    /// A body file removed behind the store's back is an error that names
    /// the item, never an empty article that could be published.
    #[tokio::test]
    async fn a_missing_body_file_is_an_error_naming_the_item() {
        let (dir, s, a) = store_with_one_body().await;
        std::fs::remove_dir_all(dir.path().join("bodies").join(&a.id[..2])).unwrap();
        let e = s.get(&a.id).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains(&a.id), "{e}");
        // Taken for publishing, it is not sent: it goes back to be fetched
        // again, and the queue is not blocked by it.
        let now = Utc::now();
        let e = s.begin_publishing(&a.id, now).await.unwrap_err();
        assert!(matches!(e, StoreError::BodyLost { .. }), "{e}");
        let rec = &s.records_in("u", "failed").unwrap()[0];
        assert!(
            matches!(&rec.state, State::Failed { stage: Stage::Fetch, next_retry: Some(t), .. } if *t == now),
            "{:?}",
            rec.state
        );
        assert!(s.due("u", now).unwrap().is_empty());
        assert!(s.records_in("u", "publishing").unwrap().is_empty());
    }

    /// The editors' list reads only what it shows; what it shows must be
    /// exactly the newest by each state's index time, across units, states
    /// and the priority classes of a state, as a full sort would give.
    #[tokio::test]
    async fn newest_matches_a_full_sort_across_units_states_and_classes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let t0 = Utc::now();
        let mut all: Vec<(DateTime<Utc>, String)> = Vec::new();
        for n in 0..60u32 {
            let unit = if n % 2 == 0 { "u1" } else { "u2" };
            let at = t0 - chrono::Duration::minutes(i64::from((n * 37) % 97));
            let mut i = item(unit, &format!("https://a.org/{n}"));
            i.discovered_at = at;
            i.published_at = None;
            i.state = match n % 3 {
                0 => State::Published {
                    remote_id: n.to_string(),
                    remote_url: None,
                    at,
                },
                1 => State::Held { reason: "x".into() },
                _ => State::Queued,
            };
            // Priority puts a queued item in the other class of its range.
            i.priority = n % 5 == 0;
            s.insert_new(&i, std::slice::from_ref(&i.url))
                .await
                .unwrap();
            all.push((at, i.id.clone()));
        }
        all.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        for limit in [1, 7, 25, 60, 100] {
            let got: Vec<String> = s
                .newest(&["u1", "u2"], &["published", "held", "queued"], limit)
                .unwrap()
                .into_iter()
                .map(|i| i.id)
                .collect();
            let want: Vec<&String> = all.iter().take(limit).map(|(_, id)| id).collect();
            assert_eq!(got.len(), want.len(), "limit {limit}");
            // Equal times may come in either order; the times must match.
            let time_of = |id: &String| all.iter().find(|(_, i)| i == id).unwrap().0;
            let got_t: Vec<_> = got.iter().map(time_of).collect();
            let want_t: Vec<_> = want.iter().map(|id| time_of(id)).collect();
            assert_eq!(got_t, want_t, "limit {limit}");
        }
        assert!(s.newest(&["u1"], &["held"], 0).unwrap().is_empty());
        assert!(s.newest(&["nobody"], &["held"], 5).unwrap().is_empty());
    }

    /// Compaction rewrites the database with only what is live: smaller
    /// after archival, and nothing lost — live items with their bodies,
    /// archived identities, counts.
    #[tokio::test]
    async fn compaction_shrinks_after_archival_and_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let mut live = item("u", "https://a.org/live");
        live.text = "正文".into();
        {
            let s = Store::open(dir.path()).unwrap();
            for n in 0..3000 {
                let mut i = item("u", &format!("https://a.org/{n}"));
                i.state = State::Seen;
                i.updated_at = now - chrono::Duration::days(90);
                s.insert_new(&i, std::slice::from_ref(&i.url))
                    .await
                    .unwrap();
            }
            s.insert_new(&live, std::slice::from_ref(&live.url))
                .await
                .unwrap();
            assert_eq!(
                s.archive_before("u", now - chrono::Duration::days(60))
                    .await
                    .unwrap(),
                3000
            );
        }
        let c = compact(dir.path()).unwrap();
        assert!(c.bytes_after < c.bytes_before, "{c:?}");
        for p in ["db.compact", "db.compact.done", "db.old"] {
            assert!(!dir.path().join(p).exists(), "{p} left");
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.get(&live.id).unwrap().unwrap().text, "正文");
        assert!(
            s.lookup("u", &["https://a.org/1234".into()])
                .unwrap()
                .is_some()
        );
        assert_eq!(s.unit_counts("u").unwrap().get("seen"), Some(&3000));
        drop(s);
        // A running daemon holds the store: compaction is refused, not forced.
        let _held = Store::open(dir.path()).unwrap();
        assert!(compact(dir.path()).is_err());
    }

    /// A crash during compaction: with the completion marker the copy
    /// replaces the database, without it the partial copy is discarded.
    #[tokio::test]
    async fn an_interrupted_compaction_is_finished_or_discarded_at_open() {
        let with_copy = |marker: bool| async move {
            let dir = tempfile::tempdir().unwrap();
            let other = tempfile::tempdir().unwrap();
            let (x, y) = (item("u", "https://a.org/x"), item("u", "https://a.org/y"));
            {
                let s = Store::open(dir.path()).unwrap();
                s.insert_new(&x, std::slice::from_ref(&x.url))
                    .await
                    .unwrap();
                let o = Store::open(other.path()).unwrap();
                o.insert_new(&y, std::slice::from_ref(&y.url))
                    .await
                    .unwrap();
                o.flush().await.unwrap();
                s.flush().await.unwrap();
            }
            std::fs::rename(other.path().join("db"), dir.path().join("db.compact")).unwrap();
            if marker {
                std::fs::write(dir.path().join("db.compact.done"), "").unwrap();
            }
            let s = Store::open(dir.path()).unwrap();
            let has = |i: &Item| s.get(&i.id).unwrap().is_some();
            let got = (has(&x), has(&y));
            assert!(!dir.path().join("db.compact").exists());
            assert!(!dir.path().join("db.compact.done").exists());
            got
        };
        assert_eq!(
            with_copy(true).await,
            (false, true),
            "complete copy swapped in"
        );
        assert_eq!(
            with_copy(false).await,
            (true, false),
            "partial copy discarded"
        );
    }

    /// The invariant archival must keep: an article moved out of sled is
    /// still known by every identity, so it is never inserted (and
    /// published) again; status and the update clock still count it.
    #[tokio::test]
    async fn archived_articles_are_never_taken_for_new() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        // Whole seconds: the index keeps milliseconds.
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let ago = |d| now - chrono::Duration::days(d);
        let mut old = item("u", "https://a.org/old");
        old.text = "正文".into();
        old.state = State::Published {
            remote_id: "1".into(),
            remote_url: None,
            at: ago(40),
        };
        old.updated_at = ago(40);
        let ids = |i: &Item| {
            vec![
                i.url.clone(),
                format!("guid:{}", i.url),
                format!("fp:{}", i.id),
            ]
        };
        s.insert_new(&old, &ids(&old)).await.unwrap();
        // A second URL of the same article, learnt later.
        s.add_identities("u", &old.id, &["https://a.org/old?from=rss".into()])
            .unwrap();
        let mut recent = item("u", "https://a.org/recent");
        recent.state = State::Published {
            remote_id: "2".into(),
            remote_url: None,
            at: ago(2),
        };
        let mut held = item("u", "https://a.org/held");
        held.state = State::Held { reason: "x".into() };
        held.updated_at = ago(50);
        for i in [&recent, &held] {
            s.insert_new(i, &ids(i)).await.unwrap();
        }

        assert_eq!(s.archive_before("u", ago(30)).await.unwrap(), 1);
        assert!(s.get(&old.id).unwrap().is_none(), "still in sled");
        assert!(s.get(&recent.id).unwrap().is_some());
        assert!(
            s.get(&held.id).unwrap().is_some(),
            "held items wait for an editor"
        );
        for ident in ids(&old)
            .into_iter()
            .chain(["https://a.org/old?from=rss".to_string()])
        {
            assert_eq!(
                s.lookup("u", std::slice::from_ref(&ident)).unwrap(),
                Some(old.id.clone()),
                "{ident}"
            );
        }
        // Found again by a poll: known, not new.
        let again = Item {
            state: State::Queued,
            ..item("u", "https://a.org/old")
        };
        assert_eq!(
            s.insert_new(&again, &ids(&again)).await.unwrap(),
            Inserted::Known(old.id.clone())
        );
        assert!(s.get(&old.id).unwrap().is_none());
        assert!(s.records_in("u", "queued").unwrap().is_empty());
        // Counted and dated still, after a restart too.
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.unit_counts("u").unwrap().get("published"), Some(&2));
        assert_eq!(s.last_published("u").unwrap(), Some(ago(2)));
        let rec = s.archived_records("u").unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(
            (rec[0].id.as_str(), rec[0].title.as_str()),
            (old.id.as_str(), "标题")
        );
        // Nothing more to move.
        assert_eq!(s.archive_before("u", ago(30)).await.unwrap(), 0);
        // The last post comes from the archive once the recent one goes too.
        assert_eq!(s.archive_before("u", now).await.unwrap(), 1);
        assert_eq!(s.last_published("u").unwrap(), Some(ago(2)));
        assert_eq!(s.unit_counts("u").unwrap().get("published"), Some(&2));
    }

    /// A crash after the archive was written but before sled let go: the
    /// item is in both, still found, and the next pass finishes the move
    /// without counting or listing it twice.
    #[tokio::test]
    async fn archival_interrupted_after_the_archive_write_completes_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut old = item("u", "https://a.org/old");
        old.state = State::Rejected { reason: "x".into() };
        old.updated_at = now - chrono::Duration::days(40);
        {
            let s = Store::open(dir.path()).unwrap();
            s.insert_new(&old, std::slice::from_ref(&old.url))
                .await
                .unwrap();
            s.flush().await.unwrap();
            // The first half of archive_before, then the "crash".
            s.archive
                .add("u", &[encode(&old)], &[(old.url.clone(), old.id.clone())])
                .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(
            s.lookup("u", std::slice::from_ref(&old.url)).unwrap(),
            Some(old.id.clone())
        );
        assert_eq!(s.archive_before("u", now).await.unwrap(), 1);
        assert_eq!(
            s.lookup("u", std::slice::from_ref(&old.url)).unwrap(),
            Some(old.id.clone())
        );
        assert_eq!(s.unit_counts("u").unwrap().get("rejected"), Some(&1));
        assert_eq!(s.archived_records("u").unwrap().len(), 1);
    }

    /// `[daemon] keep_bodies_days`: old published and rejected items lose
    /// their body files but keep their records; recent ones and items still
    /// on their way (queued) keep everything.
    #[tokio::test]
    async fn retention_drops_old_bodies_and_keeps_records_and_recent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let days = |n| now - chrono::Duration::days(n);
        let mk = |n: u32, state: State, updated| {
            let mut i = item("u", &format!("https://a.org/{n}"));
            i.text = format!("正文{n}");
            i.state = state;
            i.updated_at = updated;
            i.discovered_at = updated;
            i
        };
        let published = |at| State::Published {
            remote_id: "1".into(),
            remote_url: None,
            at,
        };
        let old_pub = mk(1, published(days(40)), days(40));
        let new_pub = mk(2, published(days(2)), days(2));
        let old_rej = mk(3, State::Rejected { reason: "x".into() }, days(40));
        let old_queued = mk(4, State::Queued, days(40));
        for i in [&old_pub, &new_pub, &old_rej, &old_queued] {
            s.insert_new(i, std::slice::from_ref(&i.url)).await.unwrap();
        }
        assert_eq!(s.drop_bodies_before("u", days(30), now).await.unwrap(), 2);
        for gone in [&old_pub, &old_rej] {
            let got = s.get(&gone.id).unwrap().unwrap();
            assert_eq!((got.text.as_str(), got.body_version.as_deref()), ("", None));
            assert_eq!(got.title, "标题");
            assert!(
                got.notes.iter().any(|n| n.contains("retention")),
                "{:?}",
                got.notes
            );
        }
        for kept in [&new_pub, &old_queued] {
            assert_eq!(s.get(&kept.id).unwrap().unwrap().text, kept.text);
        }
        let files: usize = std::fs::read_dir(dir.path().join("bodies"))
            .unwrap()
            .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
            .sum();
        assert_eq!(files, 2, "the dropped bodies' files are gone");
        // Idempotent: nothing left to drop.
        assert_eq!(s.drop_bodies_before("u", days(30), now).await.unwrap(), 0);
    }

    /// Stores written by format 1 (bodies in a sled tree) are migrated at
    /// open: every body readable afterwards, the tree gone, format 2 stamped.
    #[tokio::test]
    async fn a_format_1_store_is_migrated_to_body_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = item("u", "https://a.org/1");
        {
            // What format 1 wrote: the record without a body version, the
            // body in the `bodies` tree.
            let db = sled::open(dir.path().join("db")).unwrap();
            db.open_tree("meta").unwrap().insert("format", "1").unwrap();
            db.open_tree("items")
                .unwrap()
                .insert(a.id.as_bytes(), encode(&a))
                .unwrap();
            db.open_tree("index")
                .unwrap()
                .insert(index_key(&a), &[])
                .unwrap();
            db.open_tree("bodies")
                .unwrap()
                .insert(
                    a.id.as_bytes(),
                    r#"{"html":"<p>旧</p>","text":"旧"}"#.as_bytes(),
                )
                .unwrap();
            db.flush().unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let got = s.get(&a.id).unwrap().unwrap();
        assert_eq!((got.html.as_str(), got.text.as_str()), ("<p>旧</p>", "旧"));
        assert_eq!(s.items_in("u", "queued").unwrap()[0].text, "旧");
        assert!(!s.db.tree_names().iter().any(|n| &n[..] == b"bodies"));
        assert_eq!(
            &*s.db
                .open_tree("meta")
                .unwrap()
                .get("format")
                .unwrap()
                .unwrap(),
            b"2"
        );
        drop(s);
        // And again: nothing left to migrate, the body still there.
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.get(&a.id).unwrap().unwrap().text, "旧");
    }

    #[tokio::test]
    async fn state_changes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = item("u", "https://a.org/1.html");
        {
            let s = Store::open(dir.path()).unwrap();
            s.insert_new(&a, std::slice::from_ref(&a.url))
                .await
                .unwrap();
            s.set_state(&a.id, State::Publishing { since: Utc::now() }, Utc::now())
                .await
                .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.get(&a.id).unwrap().unwrap().state.name(), "publishing");
    }

    #[tokio::test]
    async fn index_follows_state_changes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let a = item("u", "https://a.org/1");
        s.insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        assert_eq!(s.items_in("u", "queued").unwrap().len(), 1);
        let now = Utc::now();
        s.set_state(&a.id, State::Publishing { since: now }, now)
            .await
            .unwrap();
        assert!(s.items_in("u", "queued").unwrap().is_empty());
        assert_eq!(s.items_in("u", "publishing").unwrap()[0].id, a.id);
        let counts = s.unit_counts("u").unwrap();
        assert_eq!(counts.get("publishing"), Some(&1));
        assert_eq!(counts.len(), 1);
        assert!(s.unit_counts("v").unwrap().is_empty());
    }

    #[tokio::test]
    async fn last_post_and_todays_count_come_from_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let t0 = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        assert_eq!(s.last_published("u").unwrap(), None);
        for (n, mins) in [(1, 0), (2, 30), (3, 90)] {
            let a = item("u", &format!("https://a.org/{n}"));
            s.insert_new(&a, std::slice::from_ref(&a.url))
                .await
                .unwrap();
            let at = t0 + chrono::Duration::minutes(mins);
            let st = State::Published {
                remote_id: format!("r{n}"),
                remote_url: None,
                at,
            };
            s.set_state(&a.id, st, at).await.unwrap();
        }
        assert_eq!(
            s.last_published("u").unwrap(),
            Some(t0 + chrono::Duration::minutes(90))
        );
        assert_eq!(
            s.published_since("u", t0 + chrono::Duration::minutes(30))
                .unwrap(),
            2
        );
        assert_eq!(s.published_since("u", t0).unwrap(), 3);
        assert_eq!(s.published_since("v", t0).unwrap(), 0);
    }

    #[tokio::test]
    async fn begin_publishing_takes_an_item_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let a = item("u", "https://a.org/1");
        s.insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        let now = Utc::now();
        assert!(s.begin_publishing(&a.id, now).await.unwrap().is_some());
        // The second taker (a worker, an editor) gets nothing.
        assert!(s.begin_publishing(&a.id, now).await.unwrap().is_none());
        assert_eq!(s.items_in("u", "publishing").unwrap().len(), 1);
        assert!(s.items_in("u", "queued").unwrap().is_empty());
        assert!(s.begin_publishing("nope", now).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn audit_log_keeps_order_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let e = |action: &str| AuditEntry {
            at: Utc::now(),
            editor: "王编辑".into(),
            action: action.into(),
            unit: Some("u".into()),
            item: Some("i".into()),
            before: Some("held".into()),
            after: Some("queued".into()),
            detail: None,
        };
        {
            let s = Store::open(dir.path()).unwrap();
            s.audit(&e("approve")).await.unwrap();
            s.audit(&e("reject")).await.unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let log = s.audit_log().unwrap();
        assert_eq!(
            log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["approve", "reject"]
        );
    }

    /// Guards against the sled 0.34 `flush_async` deadlock: many units
    /// inserting (transactions) and flushing at once must all finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_inserts_and_flushes_do_not_deadlock() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut set = tokio::task::JoinSet::new();
        for u in 0..64 {
            let s = s.clone();
            set.spawn(async move {
                for n in 0..20 {
                    let a = item(&format!("u{u}"), &format!("https://a.org/{n}"));
                    s.insert_new(&a, std::slice::from_ref(&a.url))
                        .await
                        .unwrap();
                    s.flush().await.unwrap();
                }
            });
        }
        let all = async { while set.join_next().await.is_some() {} };
        tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("inserts and flushes finished (no deadlock)");
        let total: usize = (0..64)
            .map(|u| {
                s.unit_counts(&format!("u{u}"))
                    .unwrap()
                    .values()
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(total, 64 * 20);
    }

    #[test]
    fn store_of_another_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path().join("db")).unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("format", "99")
                .unwrap();
            db.flush().unwrap();
        }
        let e = Store::open(dir.path()).err().unwrap();
        assert!(e.to_string().contains("version 99"), "{e}");
    }

    #[tokio::test]
    async fn due_puts_priority_first_then_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let mut a = item("u", "https://a.org/1");
        a.discovered_at = now - chrono::Duration::minutes(5);
        let mut b = item("u", "https://a.org/2");
        b.discovered_at = now - chrono::Duration::minutes(10);
        let mut c = item("u", "https://a.org/3");
        c.priority = true;
        let mut d = item("u", "https://a.org/4");
        d.state = State::Failed {
            stage: Stage::Publish,
            reason: "429".into(),
            attempts: 1,
            next_retry: Some(now + chrono::Duration::minutes(1)),
        };
        for i in [&a, &b, &c, &d] {
            s.insert_new(i, std::slice::from_ref(&i.url)).await.unwrap();
        }
        let due: Vec<String> = s
            .due("u", now)
            .unwrap()
            .into_iter()
            .map(|i| i.url)
            .collect();
        assert_eq!(due, vec![c.url.clone(), b.url.clone(), a.url.clone()]);
        let later = s.due("u", now + chrono::Duration::minutes(2)).unwrap();
        assert_eq!(later.len(), 4);
    }

    #[test]
    fn fingerprint_ignores_markup_whitespace_and_punctuation() {
        assert_eq!(
            fingerprint("标题", "第一段。\n\n 第二段！"),
            fingerprint("标题", "第一段 第二段")
        );
        assert_ne!(fingerprint("标题", "第一段"), fingerprint("标题", "第二段"));
    }
}
