//! Moving a unit's history from one store to another: when the shard count
//! changes (`crate::shard`), a unit moves to another daemon, and what its
//! old store knows must go with it — above all which articles it already
//! has (its identities, live and archived), or the new shard would treat
//! the site's current list as new.
//!
//! The export is JSON lines: a header, then the unit's items (record, body,
//! identities), its sources' and accounts' states, its archive (records and
//! hashed identities, which cannot be turned back into identities and so
//! move as they are) and its audit entries. The import writes them through
//! the same trees and keys the store writes itself, archive first, then
//! items with their indexes in one transaction each, so that a crash midway
//! leaves nothing half-known, and a second run completes the first.
//!
//! **An import never merges two histories**: a unit that already has items
//! in the target store that the export does not have (the new shard polled
//! it before the import) is refused, naming how many.

use super::deliveries::dindex_keys;
use super::*;
use crate::model::AccountState;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};

/// Version of the export format.
const FORMAT: u32 = 1;

/// An item's body as exported.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExportBody {
    html: String,
    text: String,
}

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header {
        format: u32,
        unit: String,
        exported_at: DateTime<Utc>,
    },
    Item {
        record: Box<Item>,
        body: Option<ExportBody>,
        identities: Vec<String>,
    },
    Source {
        key: String,
        state: SourceState,
    },
    Account {
        account: String,
        state: AccountState,
    },
    Archive {
        /// The archived records, each a JSON line as archived.
        records: Vec<String>,
        /// The hashed identities, hex.
        ids: String,
        /// What status and the update clock keep of the archive (counts,
        /// last posts), as stored.
        summary: Option<serde_json::Value>,
    },
    Audit {
        entry: AuditEntry,
    },
    /// What else the store keeps of the unit in `meta`: the sources site
    /// discovery chose and why, the alert marks (so the new shard neither
    /// discovers again at once nor repeats alerts). Key and value as stored,
    /// hex.
    Meta {
        key: String,
        value: String,
    },
}

/// What an export or import moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transferred {
    pub items: usize,
    /// Items the target already had (a second run of an import).
    pub already_there: usize,
    pub archived: usize,
    pub sources: usize,
    pub accounts: usize,
    pub audit: usize,
}

/// Why an export or import failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("line {line} of the export: {reason}")]
    Format { line: usize, reason: String },
    #[error("the export is of unit {found:?}, not {expected:?}")]
    OtherUnit { expected: String, found: String },
    #[error(
        "unit {unit} already has {n} item(s) in this store that the export does not have: this daemon has polled it on its own; its history would be merged with another's. Import into a store before the unit is polled there"
    )]
    Diverged { unit: String, n: usize },
    #[error(
        "unit {unit} already has a different archive in this store ({have} records, the export {exported})"
    )]
    ArchiveDiffers {
        unit: String,
        have: usize,
        exported: usize,
    },
}

impl From<sled::Error> for TransferError {
    fn from(e: sled::Error) -> TransferError {
        TransferError::Store(StoreError::from(e))
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TransferError {
    let what = what.into();
    move |source| TransferError::Io { what, source }
}

impl Store {
    /// Write everything the store knows of `unit` to `out`.
    pub fn export_unit(
        &self,
        unit: &str,
        now: DateTime<Utc>,
        out: &mut dyn Write,
    ) -> Result<Transferred, TransferError> {
        let mut done = Transferred::default();
        let mut put = |line: &Line| -> Result<(), TransferError> {
            serde_json::to_writer(&mut *out, line)
                .map_err(|e| io("writing the export")(e.into()))?;
            out.write_all(b"\n").map_err(io("writing the export"))
        };
        put(&Line::Header {
            format: FORMAT,
            unit: unit.to_string(),
            exported_at: now,
        })?;
        let trees = self.trees()?;
        // Identities by item: the `keys` tree is `unit \0 identity → id`.
        let mut identities: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let prefix = key2(unit, "");
        for kv in trees.keys.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let ident = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            identities
                .entry(String::from_utf8_lossy(&v).into_owned())
                .or_default()
                .push(ident);
        }
        for kv in trees.items.iter() {
            let (k, v) = kv?;
            let mut item: Item = decode(&k, &v)?;
            if item.unit != unit {
                continue;
            }
            let body = match self.load_body(&mut item) {
                Ok(()) if !item.html.is_empty() || !item.text.is_empty() => Some(ExportBody {
                    html: std::mem::take(&mut item.html),
                    text: std::mem::take(&mut item.text),
                }),
                // No body (seen, failed fetch, or deleted by retention):
                // the record and identities still move.
                _ => None,
            };
            item.body_version = None;
            put(&Line::Item {
                identities: identities.remove(&item.id).unwrap_or_default(),
                record: Box::new(item),
                body,
            })?;
            done.items += 1;
        }
        for kv in trees.sources.scan_prefix(&prefix) {
            let (k, v) = kv?;
            put(&Line::Source {
                key: String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                state: decode(&k, &v)?,
            })?;
            done.sources += 1;
        }
        for kv in trees.accounts.scan_prefix(&prefix) {
            let (k, v) = kv?;
            put(&Line::Account {
                account: String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                state: decode(&k, &v)?,
            })?;
            done.accounts += 1;
        }
        let discovered = super::discovered::discovered_key(unit);
        let mut meta: Vec<(sled::IVec, sled::IVec)> = Vec::new();
        if let Some(v) = trees.meta.get(&discovered)? {
            meta.push((discovered.into(), v));
        }
        for kv in trees.meta.scan_prefix(super::alerts::marks_of(unit)) {
            meta.push(kv?);
        }
        let summary = match trees.meta.get(super::upkeep::archived_key(unit))? {
            Some(v) => Some(decode::<serde_json::Value>(b"archived", &v)?),
            None => None,
        };
        drop(trees);
        let what = || format!("reading the archive of unit {unit}");
        let records = self.archive.records(unit).map_err(io(what()))?;
        let ids = self.archive.raw_ids(unit).map_err(io(what()))?;
        if !records.is_empty() || !ids.is_empty() || summary.is_some() {
            done.archived = records.len();
            put(&Line::Archive {
                records: records
                    .into_iter()
                    .map(|r| String::from_utf8_lossy(&r).into_owned())
                    .collect(),
                ids: hex::encode(ids),
                summary,
            })?;
        }
        for (k, v) in meta {
            put(&Line::Meta {
                key: hex::encode(k),
                value: hex::encode(v),
            })?;
        }
        for entry in self.audit_log()? {
            if entry.unit.as_deref() == Some(unit) {
                put(&Line::Audit { entry })?;
                done.audit += 1;
            }
        }
        out.flush().map_err(io("writing the export"))?;
        Ok(done)
    }

    /// Read an export of `unit` and add it to this store (see the module
    /// docs for what is refused). Flushed before it returns.
    pub async fn import_unit(
        &self,
        unit: &str,
        input: &mut dyn BufRead,
    ) -> Result<Transferred, TransferError> {
        let mut lines = Vec::new();
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(io("reading the export"))?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line = serde_json::from_str(&line).map_err(|e| TransferError::Format {
                line: n + 1,
                reason: e.to_string(),
            })?;
            lines.push((n + 1, parsed));
        }
        match lines.first() {
            Some((
                _,
                Line::Header {
                    format, unit: u, ..
                },
            )) => {
                if *format != FORMAT {
                    return Err(TransferError::Format {
                        line: 1,
                        reason: format!("format {format}, this autosync reads {FORMAT}"),
                    });
                }
                if u != unit {
                    return Err(TransferError::OtherUnit {
                        expected: unit.to_string(),
                        found: u.clone(),
                    });
                }
            }
            _ => {
                return Err(TransferError::Format {
                    line: 1,
                    reason: "no header: not an autosync unit export".into(),
                });
            }
        }
        for (n, l) in &lines {
            let bad = |reason: String| TransferError::Format { line: *n, reason };
            match l {
                Line::Item { record, .. } if record.unit != unit => {
                    return Err(bad(format!(
                        "item {} is of unit {}",
                        record.id, record.unit
                    )));
                }
                // Only what is the unit's own: an export never writes
                // another unit's entries or the store's own.
                Line::Meta { key, .. } => {
                    let key = hex::decode(key).map_err(|e| bad(format!("meta entry: {e}")))?;
                    if key != super::discovered::discovered_key(unit)
                        && !key.starts_with(&super::alerts::marks_of(unit))
                    {
                        return Err(bad(format!(
                            "meta entry {:?} is not unit {unit}'s",
                            String::from_utf8_lossy(&key)
                        )));
                    }
                }
                _ => {}
            }
        }
        // Refuse to merge histories: every live item of the unit here must
        // be one of the export's.
        let exported: BTreeSet<&str> = lines
            .iter()
            .filter_map(|(_, l)| match l {
                Line::Item { record, .. } => Some(record.id.as_str()),
                _ => None,
            })
            .collect();
        let mut foreign = 0;
        for kv in self.trees()?.items.iter() {
            let (k, v) = kv?;
            let item: Item = decode(&k, &v)?;
            if item.unit == unit && !exported.contains(item.id.as_str()) {
                foreign += 1;
            }
        }
        if foreign > 0 {
            return Err(TransferError::Diverged {
                unit: unit.to_string(),
                n: foreign,
            });
        }
        let mut done = Transferred::default();
        // The archive first: its identities must be known before anything
        // could be polled again.
        for (n, l) in &lines {
            if let Line::Archive {
                records,
                ids,
                summary,
            } = l
            {
                let ids = hex::decode(ids).map_err(|e| TransferError::Format {
                    line: *n,
                    reason: format!("archive ids: {e}"),
                })?;
                let what = || format!("the archive of unit {unit}");
                let have = self.archive.records(unit).map_err(io(what()))?;
                let records: Vec<Vec<u8>> = records.iter().map(|r| r.as_bytes().to_vec()).collect();
                if have.is_empty() {
                    let (archive, unit) = (self.archive.clone(), unit.to_string());
                    let count = records.len();
                    tokio::task::spawn_blocking(move || archive.add_raw(&unit, &records, &ids))
                        .await
                        .map_err(|e| StoreError::Db(format!("archive task: {e}")))?
                        .map_err(io(what()))?;
                    done.archived += count;
                } else if have != records {
                    return Err(TransferError::ArchiveDiffers {
                        unit: unit.to_string(),
                        have: have.len(),
                        exported: records.len(),
                    });
                }
                if let Some(summary) = summary {
                    let tree = self.trees()?.meta.clone();
                    self.put_absent(&tree, super::upkeep::archived_key(unit), encode(summary))?;
                }
            }
        }
        // The unit's audit entries already here, read once: a second run
        // must not repeat the history (and one read per entry would make a
        // long history quadratic).
        let mut audited: Vec<AuditEntry> = self
            .audit_log()?
            .into_iter()
            .filter(|e| e.unit.as_deref() == Some(unit))
            .collect();
        for (n, l) in lines {
            match l {
                Line::Item {
                    record,
                    body,
                    identities,
                } => {
                    if self.import_item(*record, body, &identities).await? {
                        done.items += 1;
                    } else {
                        done.already_there += 1;
                    }
                }
                Line::Source { key, state } => {
                    let tree = self.trees()?.sources.clone();
                    done.sources += self.put_absent(&tree, key2(unit, &key), encode(&state))?;
                }
                Line::Account { account, state } => {
                    let tree = self.trees()?.accounts.clone();
                    done.accounts +=
                        self.put_absent(&tree, key2(unit, &account), encode(&state))?;
                }
                Line::Audit { entry } => {
                    if !audited.contains(&entry) {
                        self.audit(&entry).await?;
                        audited.push(entry);
                        done.audit += 1;
                    }
                }
                Line::Meta { key, value } => {
                    let bad = |reason: String| TransferError::Format { line: n, reason };
                    let hex = |h: &str| hex::decode(h).map_err(|e| bad(format!("meta entry: {e}")));
                    // Checked above: the unit's own.
                    let tree = self.trees()?.meta.clone();
                    self.put_absent(&tree, hex(&key)?, hex(&value)?)?;
                }
                Line::Header { .. } | Line::Archive { .. } => {}
            }
        }
        self.flush().await?;
        Ok(done)
    }

    /// Write `value` under `key` unless the key is there (what this store
    /// knows of its own wins); 1 when written.
    fn put_absent(
        &self,
        tree: &sled::Tree,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<usize, StoreError> {
        if tree.get(&key)?.is_some() {
            return Ok(0);
        }
        self.wrote(tree.insert(key, value).map_err(StoreError::from))?;
        Ok(1)
    }

    /// Add one exported item, its body first, then record, identities and
    /// both indexes in one transaction. `false` when it is already here.
    async fn import_item(
        &self,
        mut record: Item,
        body: Option<ExportBody>,
        identities: &[String],
    ) -> Result<bool, StoreError> {
        if self.record(&record.id)?.is_some() {
            return Ok(false);
        }
        record.body_version = None;
        if let Some(b) = body {
            let (html, text) = (b.html, b.text);
            let probe = Item {
                html,
                text,
                ..record.clone()
            };
            if let Some(bytes) = items::Body::encoded(&probe) {
                record.body_version = Some(self.write_body(&record.id, bytes).await?);
            }
        }
        record.html = String::new();
        record.text = String::new();
        let trees = self.trees()?;
        let res = (&trees.items, &trees.keys, &trees.index, &trees.dindex).transaction(
            |(items, keys, index, dindex)| {
                items.insert(record.id.as_bytes(), encode(&record))?;
                index.insert(index_key(&record), &[])?;
                for k in dindex_keys(&record) {
                    dindex.insert(k, &[])?;
                }
                for ident in identities {
                    keys.insert(key2(&record.unit, ident), record.id.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            },
        );
        drop(trees);
        self.wrote(res.map_err(|e: TransactionError<()>| StoreError::from(e)))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(unit: &str, url: &str) -> Item {
        Item {
            title: "标题".into(),
            html: "<p>正文</p>".into(),
            text: "正文".into(),
            ..Item::new(unit, url, "feed:x", Utc::now(), State::Queued)
        }
    }

    /// A store with unit `u`: one item published on account `acc` (then
    /// archived), one published and live, one queued; a source's state,
    /// the account's state and an audit entry; and an item of unit `v`.
    async fn old_shard(dir: &Path) -> (Store, Vec<Item>) {
        let s = Store::open(dir).unwrap();
        let t0 = Utc::now() - chrono::Duration::days(100);
        let acc = ["acc".to_string()];
        let mut items = Vec::new();
        for (n, url) in ["https://u.org/1", "https://u.org/2", "https://u.org/3"]
            .iter()
            .enumerate()
        {
            let i = item("u", url);
            s.insert_new(&i, &[i.url.clone(), format!("guid:{n}")])
                .await
                .unwrap();
            items.push(i);
        }
        for (i, at) in [(0, t0), (1, Utc::now())] {
            let id = &items[i].id;
            s.deliver(id, "acc", &acc, at, DeliveryStep::Take)
                .await
                .unwrap();
            let step = DeliveryStep::Published {
                remote_id: format!("r{i}"),
                remote_url: None,
                notes: vec![],
            };
            s.deliver(id, "acc", &acc, at, step).await.unwrap();
        }
        assert_eq!(
            s.archive_before("u", Utc::now() - chrono::Duration::days(30))
                .await
                .unwrap(),
            1
        );
        let st = SourceState {
            baselined: true,
            ..SourceState::default()
        };
        s.put_source_state("u", "feed:x", &st).unwrap();
        let a = crate::model::AccountKey {
            unit: "u".into(),
            account: "acc".into(),
        };
        let state = AccountState {
            verified: Some((Utc::now(), "账号".into())),
            ..AccountState::default()
        };
        s.put_account_state(&a, &state).await.unwrap();
        s.audit(&AuditEntry {
            at: Utc::now(),
            editor: "ed".into(),
            action: AuditAction::Approve,
            unit: Some("u".into()),
            item: Some(items[2].id.clone()),
            before: None,
            after: None,
            detail: None,
        })
        .await
        .unwrap();
        // What site discovery chose and an alert mark: they move too.
        let meta = &s.trees().unwrap().meta;
        meta.insert(super::super::discovered::discovered_key("u"), &b"{}"[..])
            .unwrap();
        let mut mark = super::super::alerts::marks_of("u");
        mark.extend_from_slice(b"acc");
        meta.insert(mark, &b"{}"[..]).unwrap();
        let other = item("v", "https://v.org/1");
        s.insert_new(&other, std::slice::from_ref(&other.url))
            .await
            .unwrap();
        s.flush().await.unwrap();
        (s, items)
    }

    fn export(s: &Store, unit: &str) -> Vec<u8> {
        let mut out = Vec::new();
        s.export_unit(unit, Utc::now(), &mut out).unwrap();
        out
    }

    /// The point of moving a unit: the new shard must know every article
    /// the old one had — live and archived — or it would post the site's
    /// current list again.
    #[tokio::test]
    async fn a_moved_unit_knows_every_article_it_had_and_what_went_out() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (old, items) = old_shard(a.path()).await;
        let bytes = export(&old, "u");
        let new = Store::open(b.path()).unwrap();
        let done = new.import_unit("u", &mut bytes.as_slice()).await.unwrap();
        assert_eq!(
            done,
            Transferred {
                items: 2,
                already_there: 0,
                archived: 1,
                sources: 1,
                accounts: 1,
                audit: 1,
            }
        );
        for (n, i) in items.iter().enumerate() {
            assert_eq!(
                new.lookup("u", std::slice::from_ref(&i.url)).unwrap(),
                Some(i.id.clone()),
                "{n}"
            );
            assert_eq!(
                new.lookup("u", &[format!("guid:{n}")]).unwrap(),
                Some(i.id.clone())
            );
        }
        // The unit of the other shard stayed behind.
        assert_eq!(
            new.lookup("v", &["https://v.org/1".to_string()]).unwrap(),
            None
        );
        // What went out, and what still waits, with its body.
        assert_eq!(
            new.last_delivered("u", "acc").unwrap(),
            old.last_delivered("u", "acc").unwrap()
        );
        let mut queued = new.get(&items[2].id).unwrap().unwrap();
        new.load_body(&mut queued).unwrap();
        assert_eq!(
            (queued.state.name(), queued.html.as_str()),
            ("queued", "<p>正文</p>")
        );
        assert_eq!(new.due("u", Utc::now()).unwrap().len(), 1);
        assert_eq!(new.unit_counts("u").unwrap(), old.unit_counts("u").unwrap());
        assert!(new.source_state("u", "feed:x").unwrap().baselined);
        let a = crate::model::AccountKey {
            unit: "u".into(),
            account: "acc".into(),
        };
        assert_eq!(
            new.account_state(&a).unwrap(),
            old.account_state(&a).unwrap()
        );
        assert_eq!(new.audit_log().unwrap().len(), 1);
        let meta = &new.trees().unwrap().meta;
        assert!(
            meta.get(super::super::discovered::discovered_key("u"))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            meta.scan_prefix(super::super::alerts::marks_of("u"))
                .count(),
            1
        );
    }

    /// An export is outside input: it may only write the unit's own
    /// entries, never the store's own or another unit's.
    #[tokio::test]
    async fn an_export_cannot_write_meta_entries_that_are_not_the_units() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (old, _) = old_shard(a.path()).await;
        let mut bytes = export(&old, "u");
        bytes.extend_from_slice(
            format!(
                "{{\"kind\":\"meta\",\"key\":\"{}\",\"value\":\"00\"}}\n",
                hex::encode(b"format")
            )
            .as_bytes(),
        );
        let new = Store::open(b.path()).unwrap();
        let err = new
            .import_unit("u", &mut bytes.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(err, TransferError::Format { .. }), "{err}");
        assert!(err.to_string().contains("is not unit u's"), "{err}");
        // Refused before anything was written.
        assert!(
            new.lookup("u", &["https://u.org/1".to_string()])
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn importing_twice_adds_nothing_the_second_time() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (old, _) = old_shard(a.path()).await;
        let bytes = export(&old, "u");
        let new = Store::open(b.path()).unwrap();
        new.import_unit("u", &mut bytes.as_slice()).await.unwrap();
        let again = new.import_unit("u", &mut bytes.as_slice()).await.unwrap();
        assert_eq!(
            again,
            Transferred {
                already_there: 2,
                ..Transferred::default()
            }
        );
        assert_eq!(new.audit_log().unwrap().len(), 1);
        assert_eq!(new.unit_counts("u").unwrap().values().sum::<usize>(), 3);
    }

    /// A new shard that already polled the unit has a history of its own:
    /// merging two would make one of them wrong, so it is refused.
    #[tokio::test]
    async fn an_import_into_a_store_that_polled_the_unit_is_refused() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (old, _) = old_shard(a.path()).await;
        let bytes = export(&old, "u");
        let new = Store::open(b.path()).unwrap();
        let own = item("u", "https://u.org/new");
        new.insert_new(&own, std::slice::from_ref(&own.url))
            .await
            .unwrap();
        let err = new
            .import_unit("u", &mut bytes.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(err, TransferError::Diverged { n: 1, .. }), "{err}");
        assert!(
            new.lookup("u", &["https://u.org/1".to_string()])
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_export_of_another_unit_or_a_damaged_one_is_refused_by_line() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (old, _) = old_shard(a.path()).await;
        let bytes = export(&old, "u");
        let new = Store::open(b.path()).unwrap();
        let err = new
            .import_unit("v", &mut bytes.as_slice())
            .await
            .unwrap_err();
        assert!(matches!(err, TransferError::OtherUnit { .. }), "{err}");
        let mut damaged = bytes.clone();
        damaged.extend_from_slice(b"{\"kind\":\"item\",\"record\":7}\n");
        let lines = bytes.iter().filter(|b| **b == b'\n').count();
        let err = new
            .import_unit("u", &mut damaged.as_slice())
            .await
            .unwrap_err();
        match err {
            TransferError::Format { line, .. } => assert_eq!(line, lines + 1),
            e => panic!("{e}"),
        }
        // Nothing was written by either.
        assert!(
            new.lookup("u", &["https://u.org/1".to_string()])
                .unwrap()
                .is_none()
        );
        let err = new
            .import_unit("u", &mut &b"not json\n"[..])
            .await
            .unwrap_err();
        assert!(
            matches!(err, TransferError::Format { line: 1, .. }),
            "{err}"
        );
    }
}
