use super::*;

/// An item's body, stored apart from its record.
#[derive(Deserialize)]
pub(super) struct Body {
    html: String,
    text: String,
}

impl Body {
    /// The item's body as stored, `None` when it has none (a `seen` item, a
    /// failed fetch): no file is written for those.
    pub(super) fn encoded(item: &Item) -> Option<Vec<u8>> {
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

/// Where an item stands in the publish queue: the article's date, or when
/// it was found if it has none.
fn queue_time(item: &Item) -> DateTime<Utc> {
    item.published_at
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(item.discovered_at)
}

/// The publish queue's order: priority first, then oldest (by the
/// article's date or, undated, when it was found; then when it was found).
///
/// Why the date-or-found time and not the date with undated articles
/// first: it is the order the `index` keys of queued items are kept in
/// (see [`index_key`]), so the head of a queue is read from the index
/// without decoding the backlog behind it ([`QueueHead`]). Keys hold the
/// time to the millisecond; items within one millisecond are decoded and
/// sorted by this function.
pub(super) fn queue_order(a: &Item, b: &Item) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(queue_time(a).cmp(&queue_time(b)))
        .then(a.discovered_at.cmp(&b.discovered_at))
        .then(a.id.cmp(&b.id))
}

/// The queued items of a unit in exact [`queue_order`], read lazily: the
/// `index` keys come out in order of (priority class, time in
/// milliseconds); the records of one such group are decoded together and
/// sorted, and nothing after the group is read until it is used up. So
/// taking the head of a backlog of B items decodes one group, not B
/// records (an outbox step over a backlog was O(B) decodes, draining it
/// O(B²)).
pub(super) struct QueueHead<'a> {
    store: &'a Store,
    keys: std::iter::Peekable<Box<dyn Iterator<Item = Result<sled::IVec, StoreError>>>>,
    /// Where the (class, time) part of a key starts.
    at: usize,
    group: std::collections::VecDeque<Item>,
}

impl<'a> QueueHead<'a> {
    pub(super) fn new(store: &'a Store, unit: &str) -> Self {
        let mut prefix = key2(unit, "queued");
        prefix.push(0);
        let at = prefix.len();
        let keys: Box<dyn Iterator<Item = _>> =
            Box::new(store.scan_index(prefix).map(|kv| kv.map(|(k, _)| k)));
        QueueHead {
            store,
            keys: keys.peekable(),
            at,
            group: Default::default(),
        }
    }

    /// Decode the next (class, millisecond) group of keys into `group`.
    fn fill(&mut self) -> Result<(), StoreError> {
        let at = self.at;
        let order = |k: &[u8]| k.get(at..at + 9).map(<[u8]>::to_vec);
        let Some(first) = self.keys.next().transpose()? else {
            return Ok(());
        };
        let group_of = order(&first);
        let mut ids = vec![first];
        while let Some(Ok(next)) = self.keys.peek() {
            if order(next) != group_of {
                break;
            }
            if let Some(Ok(k)) = self.keys.next() {
                ids.push(k);
            }
        }
        let mut items = Vec::with_capacity(ids.len());
        for k in ids {
            // The id follows the 1-byte class, 8-byte time and a NUL.
            let id = &k[(at + 10).min(k.len())..];
            if let Some(v) = self.store.trees()?.items.get(id)? {
                items.push(decode::<Item>(id, &v)?);
            }
        }
        items.sort_by(queue_order);
        self.group = items.into();
        Ok(())
    }
}

impl Iterator for QueueHead<'_> {
    type Item = Result<Item, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        // A group whose records are all gone (a race with a transition)
        // is empty: read on.
        while self.group.is_empty() {
            self.keys.peek()?;
            if let Err(e) = self.fill() {
                return Some(Err(e));
            }
        }
        self.group.pop_front().map(Ok)
    }
}

/// The `index` key of an item: unit, state name, then an order that makes a
/// prefix scan come out in queue order (priority first, then oldest; failed
/// items by retry time).
pub(super) fn index_key(item: &Item) -> Vec<u8> {
    let millis = |t: DateTime<Utc>| t.timestamp_millis().max(0) as u64;
    let (class, t) = match &item.state {
        State::Queued => (u8::from(!item.priority), queue_time(item)),
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

impl Store {
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
            if let Some(id) = self.trees()?.keys.get(key2(unit, ident))? {
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
        // A new item has been sent nowhere yet (a broadcast copies an
        // item of another unit, never its deliveries).
        record.deliveries.clear();
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
        let trees = self.trees()?;
        let res = (&trees.items, &trees.keys, &trees.index).transaction(|(items, keys, index)| {
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
        self.wrote(res.map_err(|e: TransactionError<()>| StoreError::from(e)))
    }

    /// Write a body file durably, off the async threads (it fsyncs).
    pub(super) async fn write_body(&self, id: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
        let (bodies, id) = (self.bodies.clone(), id.to_string());
        let written = tokio::task::spawn_blocking(move || {
            bodies.write(&id, &bytes).map_err(|source| StoreError::Io {
                what: format!("writing the body of item {id}"),
                source,
            })
        })
        .await
        .map_err(|e| StoreError::Db(format!("body write task: {e}")))?;
        self.sled.record(WriteTarget::Files, written)
    }

    /// Add identities (e.g. the content fingerprint, once known) to an item.
    pub fn add_identities(
        &self,
        unit: &str,
        id: &str,
        identities: &[String],
    ) -> Result<(), StoreError> {
        let trees = self.trees()?;
        for ident in identities {
            let written = trees.keys.insert(key2(unit, ident), id.as_bytes());
            self.wrote(written.map_err(StoreError::from))?;
        }
        Ok(())
    }

    /// The item's record, without its body: for every decision about the
    /// item (an editor's reject must work even when the body file is gone).
    pub fn record(&self, id: &str) -> Result<Option<Item>, StoreError> {
        match self.trees()?.items.get(id.as_bytes())? {
            Some(v) => decode(id.as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    /// The item with its body.
    pub fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let Some(v) = self.trees()?.items.get(id.as_bytes())? else {
            return Ok(None);
        };
        let mut item: Item = decode(id.as_bytes(), &v)?;
        self.load_body(&mut item)?;
        Ok(Some(item))
    }

    /// Read the item's body into `html` and `text` (records are read
    /// without it). A missing or unreadable body file is `Corrupt`.
    pub fn load_body(&self, item: &mut Item) -> Result<(), StoreError> {
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
            if let Some(v) = self.trees()?.items.get(id.as_bytes())? {
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
                    for kv in self.trees()?.index.scan_prefix(&prefix).rev() {
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
            if let Some(v) = self.trees()?.items.get(id.as_bytes())? {
                out.push(decode(id.as_bytes(), &v)?);
            }
        }
        Ok(out)
    }

    /// The ids of `unit`'s items in `state` with the time the index orders
    /// them by (see [`Store::newest`]), from the index keys alone: what the
    /// desk's search narrows by unit and state before it reads a record.
    pub fn index_entries(
        &self,
        unit: &str,
        state: &str,
    ) -> Result<Vec<(DateTime<Utc>, String)>, StoreError> {
        let mut prefix = key2(unit, state);
        prefix.push(0);
        let n = prefix.len();
        self.scan_index(prefix)
            .map(|kv| {
                let (k, _) = kv?;
                // The 1-byte class, the 8-byte time, a NUL, then the id.
                let id = String::from_utf8_lossy(k.get(n + 10..).unwrap_or_default());
                Ok((key_time(&k, n + 1), id.into_owned()))
            })
            .collect()
    }

    /// How many of `unit`'s items are in `state`, from the index alone
    /// (archived items not counted: the desk cannot show them).
    pub fn count_in(&self, unit: &str, state: &str) -> Result<usize, StoreError> {
        let mut prefix = key2(unit, state);
        prefix.push(0);
        let mut n = 0;
        // Keys only: nothing decoded or copied.
        for kv in self.scan_index(prefix) {
            kv?;
            n += 1;
        }
        Ok(n)
    }

    /// Is any item of `unit` in state `state`? From the index alone.
    pub fn any_in(&self, unit: &str, state: &str) -> Result<bool, StoreError> {
        self.ids_in(unit, state)
            .next()
            .transpose()
            .map(|id| id.is_some())
    }

    pub(super) fn ids_in(
        &self,
        unit: &str,
        state: &str,
    ) -> impl Iterator<Item = Result<String, StoreError>> + '_ {
        let mut prefix = key2(unit, state);
        prefix.push(0);
        let n = prefix.len();
        self.scan_index(prefix).map(move |kv| {
            let (k, _) = kv?;
            // The id follows the 1-byte class, 8-byte time and a NUL.
            Ok(String::from_utf8_lossy(&k[n + 10..]).into_owned())
        })
    }

    /// Items of `unit` that are due for publishing at `now`: queued ones and
    /// those whose publish failed and whose retry time has come, priority
    /// first, then oldest. Records only: [`Store::begin_publishing`] loads
    /// the body of the one that is taken.
    pub fn due(&self, unit: &str, now: DateTime<Utc>) -> Result<Vec<Item>, StoreError> {
        let mut due = QueueHead::new(self, unit).collect::<Result<Vec<_>, _>>()?;
        due.extend(self.retries_due(unit, now)?);
        due.sort_by(queue_order);
        Ok(due)
    }

    /// The unit's items whose publish failed and whose retry time has come
    /// at `now`. Reads only those: failed items are kept by retry time, the
    /// ones never to be retried last.
    pub(super) fn retries_due(
        &self,
        unit: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut due = Vec::new();
        for id in self.ids_in(unit, "failed") {
            let id = id?;
            let Some(v) = self.trees()?.items.get(id.as_bytes())? else {
                continue;
            };
            let item: Item = decode(id.as_bytes(), &v)?;
            match &item.state {
                State::Failed {
                    stage: Stage::Publish,
                    next_retry: Some(t),
                    ..
                } if *t <= now => due.push(item),
                // A retry of another stage (not the outbox's) due now.
                State::Failed {
                    next_retry: Some(t),
                    ..
                } if *t <= now => {}
                // Later, or never: so is everything after it.
                State::Failed { .. } => break,
                // A record out of step with its key: not due.
                _ => {}
            }
        }
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
        // The time follows the 1-byte class.
        self.scan_index(prefix)
            .rev()
            .map(move |kv| Ok(key_time(&kv?.0, n + 1)))
    }

    /// When the unit's account last got a post.
    pub fn last_published(&self, unit: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let live = self.published_times(unit).next().transpose()?;
        Ok(live.max(self.archived(unit)?.last_published))
    }

    /// When the unit's sources last found a new article (not a baseline
    /// entry), archived items included: the update clock's usual cause of a
    /// silent account is a site that published nothing new. Cheap: the
    /// newest few index keys of each state, not every record.
    pub fn last_new_article(&self, unit: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        // Index order is by discovery for held, rejected and publishing, by
        // publication (later than discovery) for published, by the site's
        // date for queued, by retry time for failed: the newest discovery
        // is among each state's newest few, looked at state by state so
        // that one busy state cannot push another's out.
        let mut live = None;
        for state in STATE_NAMES.into_iter().filter(|s| *s != "seen") {
            for i in self.newest(&[unit], &[state], 8)? {
                live = live.max(Some(i.discovered_at));
            }
        }
        Ok(live.max(self.archived(unit)?.last_discovered))
    }

    /// When the unit's sources were first polled, as far as the store
    /// knows: its earliest found entry (the first poll records its whole
    /// baseline, as `seen` items ordered by discovery), archived ones
    /// included.
    pub fn first_found(&self, unit: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut prefix = key2(unit, "seen");
        prefix.push(0);
        let n = prefix.len();
        let live = match self.scan_index(prefix).next().transpose()? {
            Some((k, _)) => k
                .get(n + 1..n + 9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .and_then(|ms| DateTime::from_timestamp_millis(ms as i64)),
            None => None,
        };
        let archived = self.archived(unit)?.first_discovered;
        Ok(match (live, archived) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
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
        for kv in self.trees()?.index.scan_prefix(&prefix) {
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
}

/// What an id prefix names (see [`Store::resolve_prefix`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefix {
    /// Exactly one item: its whole id.
    One(String),
    /// No live item.
    None,
    /// Several items: the first few ids, in key order.
    Many(Vec<String>),
}

/// Candidates listed for an ambiguous prefix, at most.
pub const PREFIX_CANDIDATES: usize = 10;

impl Store {
    /// The item whose id starts with `prefix` (an editor types the first
    /// characters of a long id). Only keys are scanned, in order, and at
    /// most [`PREFIX_CANDIDATES`] + 1 of them: no record is decoded, so it
    /// costs the same however many items the store holds. A whole id is
    /// its own prefix. Archived items are not looked up.
    pub fn resolve_prefix(&self, prefix: &str) -> Result<Prefix, StoreError> {
        let ids = self
            .trees()?
            .items
            .scan_prefix(prefix.as_bytes())
            .keys()
            .take(PREFIX_CANDIDATES + 1)
            .map(|k| k.map(|k| String::from_utf8_lossy(&k).into_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match ids.len() {
            0 => Prefix::None,
            1 => Prefix::One(ids.into_iter().next().unwrap_or_default()),
            _ if ids.iter().any(|i| i == prefix) => Prefix::One(prefix.to_string()),
            _ => Prefix::Many(ids),
        })
    }
}

#[cfg(test)]
mod prefix_tests {
    use super::*;

    async fn with_ids(ids: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        for (n, id) in ids.iter().enumerate() {
            let url = format!("https://e.org/{n}");
            let item = Item {
                id: id.to_string(),
                ..Item::new("u", &url, "feed:x", Utc::now(), State::Queued)
            };
            s.insert_new(&item, std::slice::from_ref(&url))
                .await
                .unwrap();
        }
        (dir, s)
    }

    #[tokio::test]
    async fn a_unique_prefix_names_its_item_and_an_ambiguous_one_lists_candidates() {
        let (_d, s) = with_ids(&["3f2a9c0000000001", "3f2a9c0000000002", "77aa000000000000"]).await;
        assert_eq!(
            s.resolve_prefix("77aa00").unwrap(),
            Prefix::One("77aa000000000000".into())
        );
        assert_eq!(
            s.resolve_prefix("3f2a9c").unwrap(),
            Prefix::Many(vec!["3f2a9c0000000001".into(), "3f2a9c0000000002".into()])
        );
        assert_eq!(
            s.resolve_prefix("3f2a9c0000000002").unwrap(),
            Prefix::One("3f2a9c0000000002".into())
        );
        assert_eq!(s.resolve_prefix("000000").unwrap(), Prefix::None);
    }

    #[tokio::test]
    async fn an_ambiguous_prefix_reads_only_a_few_keys() {
        let ids: Vec<String> = (0..50).map(|n| format!("abcdef{n:010}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (_d, s) = with_ids(&refs).await;
        match s.resolve_prefix("abcdef").unwrap() {
            Prefix::Many(c) => assert_eq!(c.len(), PREFIX_CANDIDATES + 1),
            other => panic!("{other:?}"),
        }
    }
}
