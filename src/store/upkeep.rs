use super::*;

/// What a unit's archive holds, kept in the `meta` tree: counts by state and
/// the last post, so that status and the update clock still see them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Archived {
    pub(super) counts: std::collections::BTreeMap<String, usize>,
    pub(super) last_published: Option<DateTime<Utc>>,
    /// Each account's last post among the archived items: an account's
    /// update clock must not restart when its last post is archived (which
    /// may be a week after it).
    #[serde(default)]
    pub(super) last_delivered: std::collections::BTreeMap<String, DateTime<Utc>>,
    /// When the newest archived item that was not a baseline entry was
    /// found, and the first of any: the update clock's "last new article on
    /// the site" and "first polled" survive archival.
    #[serde(default)]
    pub(super) last_discovered: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(super) first_discovered: Option<DateTime<Utc>>,
}

pub(super) fn archived_key(unit: &str) -> Vec<u8> {
    key2("archived", unit)
}

impl Store {
    /// Archival: move `unit`'s items that are done — published, rejected
    /// or seen before `before` — out of sled into the unit's archive (see
    /// [`archive`](super::archive)). Their identities stay findable, so the
    /// articles are never taken for new; their records are kept in the
    /// archive's `items.jsonl`; their bodies stay where they are. Returns how
    /// many items moved. (A removal, not a transition: checked the same way,
    /// against the state and time it was read with.)
    pub async fn archive_before(
        &self,
        unit: &str,
        before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut done = Vec::new();
        for state in ["published", "rejected", "seen"] {
            for id in self.ids_in(unit, state) {
                let id = id?;
                let Some(v) = self.trees()?.items.get(id.as_bytes())? else {
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
        for kv in self.trees()?.keys.scan_prefix(&prefix) {
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
        let added = tokio::task::spawn_blocking(move || archive.add(&u, &records, &ids))
            .await
            .map_err(|e| StoreError::Db(format!("archive task: {e}")))?
            .map_err(|source| StoreError::Io {
                what: format!("archive of unit {unit}"),
                source,
            });
        self.sled.record(WriteTarget::Files, added)?;
        let mut by_item: std::collections::HashMap<&str, Vec<&str>> = Default::default();
        for (ident, id) in &identities {
            by_item.entry(id.as_str()).or_default().push(ident.as_str());
        }
        // Then out of sled, with no insert in between (see insert_new).
        let _alone = self.archiving.write().await;
        let mut moved = 0;
        for chunk in done.chunks(256) {
            let trees = self.trees()?;
            let res = (
                &trees.items,
                &trees.index,
                &trees.keys,
                &trees.meta,
                &trees.dindex,
            )
                .transaction(|(items, index, keys, meta, dindex)| {
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
                        for k in super::deliveries::dindex_keys(&cur) {
                            dindex.remove(k)?;
                        }
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
                        for (account, d) in &cur.deliveries {
                            if let crate::model::DeliveryState::Published { at, .. } = d {
                                let last =
                                    stats.last_delivered.entry(account.clone()).or_insert(*at);
                                *last = (*last).max(*at);
                            }
                        }
                        if cur.state != State::Seen {
                            stats.last_discovered =
                                stats.last_discovered.max(Some(cur.discovered_at));
                        }
                        stats.first_discovered = Some(
                            stats
                                .first_discovered
                                .map_or(cur.discovered_at, |t| t.min(cur.discovered_at)),
                        );
                        n += 1;
                    }
                    meta.insert(k, encode(&stats))?;
                    Ok(n)
                });
            drop(trees);
            moved += self.wrote(res.map_err(|e: TransactionError<String>| StoreError::from(e)))?;
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
    /// version and with a note saying when the body went. The records are
    /// changed and flushed before any file is deleted, so a crash leaves at
    /// worst unreferenced files. One flush for the unit's batch, not one per
    /// body: at 20,000 units × 2 articles a day the daily pass deleted
    /// 40,000 bodies with 40,000 fsyncs (BENCHMARKS.md, "Six simulated
    /// months"). Returns how many bodies went.
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
        let note = format!("body deleted on {} (retention)", now.format("%Y-%m-%d"));
        for item in old {
            let Some(version) = item.body_version.clone() else {
                continue;
            };
            // Changed meanwhile (another body, another state): not ours.
            if self.forget_body(&item.id, &version, &[item.state.kind()], now, note.clone())? {
                dropped.push((item.id, version));
            }
        }
        if dropped.is_empty() {
            return Ok(0);
        }
        // Durable before the first file goes.
        self.flush().await?;
        for (id, v) in &dropped {
            if let Err(e) = self.bodies.remove(id, v) {
                tracing::warn!(item = %id, error = %e, "body file not removed");
            }
        }
        Ok(dropped.len())
    }

    pub(super) fn archived(&self, unit: &str) -> Result<Archived, StoreError> {
        let k = archived_key(unit);
        match self.trees()?.meta.get(&k)? {
            Some(v) => decode(&k, &v),
            None => Ok(Archived::default()),
        }
    }
}
