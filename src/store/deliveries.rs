//! Deliveries: how far an item got on each of its unit's accounts.
//!
//! Why in the item's record: a delivery changes together with the item (an
//! account takes an item only while the item is approved; the item is
//! published once every account has it), so both live in one record and
//! change in the one check-and-set (`Store::transition`). A second index
//! (`dindex`: `unit \0 account \0 state \0 time \0 item`) answers the
//! per-account questions — the account's last post, its posts today, what
//! it has under way — without reading records.

use super::*;
use crate::model::{DeliveryState, PublishPath};

/// The `dindex` keys of an item's deliveries.
pub(super) fn dindex_keys(item: &Item) -> Vec<Vec<u8>> {
    item.deliveries
        .iter()
        .map(|(account, d)| dindex_key(&item.unit, account, d, &item.id))
        .collect()
}

fn dindex_prefix(unit: &str, account: &str, state: &str) -> Vec<u8> {
    let mut k = key2(unit, account);
    k.push(0);
    k.extend_from_slice(state.as_bytes());
    k.push(0);
    k
}

fn dindex_key(unit: &str, account: &str, d: &DeliveryState, item: &str) -> Vec<u8> {
    let t = match d {
        DeliveryState::Publishing { since, .. } => *since,
        DeliveryState::Published { at, .. } => *at,
        // Failures carry no time of their own; they sort first.
        DeliveryState::Failed { .. } => DateTime::<Utc>::UNIX_EPOCH,
    };
    let mut k = dindex_prefix(unit, account, d.name());
    k.extend_from_slice(&(t.timestamp_millis().max(0) as u64).to_be_bytes());
    k.push(0);
    k.extend_from_slice(item.as_bytes());
    k
}

/// Is the item's state one its deliveries decide (approved, on its way)?
fn approved(state: &State) -> bool {
    matches!(
        state,
        State::Queued
            | State::Publishing { .. }
            | State::Published { .. }
            | State::Failed {
                stage: Stage::Publish,
                ..
            }
    )
}

/// One step of an account with an item.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryStep {
    /// The account takes the item to send it: pending → publishing. Only
    /// while the item is approved and waiting; never twice.
    Take,
    /// It is on the account.
    Published {
        remote_id: String,
        remote_url: Option<String>,
        notes: Vec<String>,
    },
    /// Nothing arrived (or certainly not): pending again.
    Requeue,
    /// The platform refused it for good.
    Fail { reason: String },
    /// Not sent: the item is held for an editor (for every account).
    Hold { reason: String },
    /// Not sent: the item's body is gone; it is fetched again.
    BodyLost { reason: String },
}

impl Store {
    /// Account `account` of the item's unit (whose accounts are `accounts`
    /// now) takes `step` with item `id`, and the item's own state follows
    /// (see [`Item::aggregate`]) — one check-and-set, flushed. A step that
    /// does not fit (the item was rejected, another process took it, the
    /// account already has it) is refused and writes nothing.
    pub async fn deliver(
        &self,
        id: &str,
        account: &str,
        accounts: &[String],
        now: DateTime<Utc>,
        step: DeliveryStep,
    ) -> Result<Item, StoreError> {
        self.deliver_via(id, account, accounts, now, step, None)
            .await
    }

    /// [`DeliveryStep::Take`] by `path` (the worker's automatic post, an
    /// editor's push or broadcast): the path is kept with the delivery and
    /// carried to its post, for reports.
    pub async fn take(
        &self,
        id: &str,
        account: &str,
        accounts: &[String],
        now: DateTime<Utc>,
        path: PublishPath,
    ) -> Result<Item, StoreError> {
        self.deliver_via(id, account, accounts, now, DeliveryStep::Take, Some(path))
            .await
    }

    async fn deliver_via(
        &self,
        id: &str,
        account: &str,
        accounts: &[String],
        now: DateTime<Utc>,
        step: DeliveryStep,
        path: Option<PublishPath>,
    ) -> Result<Item, StoreError> {
        // Taking needs an approved item; settling what this account sent
        // must be recorded whatever happened to the item meanwhile (another
        // account's platform held it, an editor then rejected it: the post
        // that went out still went out).
        let from: &[StateName] = match step {
            DeliveryStep::Take => &[StateName::Queued, StateName::Publishing, StateName::Failed],
            _ => &StateName::ALL,
        };
        self.transition(id, from, now, |i| {
            let mine = i.deliveries.get(account).cloned();
            match (&step, mine) {
                (DeliveryStep::Take, None) => {
                    // A failed fetch is no item to send; a publish failure
                    // of another account leaves this one's turn.
                    if matches!(
                        i.state,
                        State::Failed {
                            stage: Stage::Fetch,
                            ..
                        }
                    ) {
                        return Err("its article was never fetched".into());
                    }
                    i.deliveries.insert(
                        account.to_string(),
                        DeliveryState::Publishing { since: now, path },
                    );
                }
                (DeliveryStep::Take, Some(d)) => {
                    return Err(format!("account {account} has it already ({})", d.name()));
                }
                (step, Some(DeliveryState::Publishing { path: taken, .. })) => match step {
                    DeliveryStep::Take => unreachable!("matched above"),
                    DeliveryStep::Published {
                        remote_id,
                        remote_url,
                        notes,
                    } => {
                        i.deliveries.insert(
                            account.to_string(),
                            DeliveryState::Published {
                                remote_id: remote_id.clone(),
                                remote_url: remote_url.clone(),
                                at: now,
                                path: taken,
                            },
                        );
                        i.notes.extend(notes.iter().cloned());
                    }
                    DeliveryStep::Requeue => {
                        i.deliveries.remove(account);
                    }
                    DeliveryStep::Fail { reason } => {
                        i.deliveries.insert(
                            account.to_string(),
                            DeliveryState::Failed {
                                reason: reason.clone(),
                                attempts: 1,
                                at: Some(now),
                            },
                        );
                    }
                    DeliveryStep::Hold { reason } => {
                        i.deliveries.remove(account);
                        if approved(&i.state) {
                            i.state = State::Held {
                                reason: reason.clone(),
                            };
                        }
                        return Ok(());
                    }
                    DeliveryStep::BodyLost { reason } => {
                        i.deliveries.remove(account);
                        if approved(&i.state) {
                            i.state = State::Failed {
                                stage: Stage::Fetch,
                                reason: format!("正文丢失：{reason}"),
                                attempts: 0,
                                next_retry: Some(now),
                            };
                        }
                        return Ok(());
                    }
                },
                (_, other) => {
                    return Err(format!(
                        "account {account} is not sending it ({})",
                        other.map_or("pending", |d| d.name())
                    ));
                }
            }
            // An editor's decision (held, rejected) stands; an approved
            // item's state is what its deliveries add up to.
            if approved(&i.state) {
                i.state = i.aggregate(accounts);
            }
            Ok(())
        })
        .await
    }

    /// The account's items under way (`publishing`), with since when.
    pub fn delivering(
        &self,
        unit: &str,
        account: &str,
    ) -> Result<Vec<(Item, DateTime<Utc>)>, StoreError> {
        let mut out = Vec::new();
        for id in self.dindex_ids(unit, account, "publishing")? {
            if let Some(item) = self.record(&id)?
                && let Some(DeliveryState::Publishing { since, .. }) = item.deliveries.get(account)
            {
                let since = *since;
                out.push((item, since));
            }
        }
        Ok(out)
    }

    /// When the account last got a post, archived posts included (its
    /// update clock must not restart when its last post is archived).
    pub fn last_delivered(
        &self,
        unit: &str,
        account: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        // The newest key only: status and the gauges read this for every
        // account, often.
        let live = self.delivered_times(unit, account)?.next().transpose()?;
        let archived = self.archived(unit)?.last_delivered.get(account).copied();
        Ok(live.max(archived))
    }

    /// How many posts the account got at or after `since` (reads only
    /// those keys: the spacing and the daily cap ask on every step).
    pub fn delivered_since(
        &self,
        unit: &str,
        account: &str,
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for t in self.delivered_times(unit, account)? {
            if t? < since {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Publication times on the account, newest first, read lazily from
    /// `dindex` (no record is decoded).
    fn delivered_times(
        &self,
        unit: &str,
        account: &str,
    ) -> Result<impl Iterator<Item = Result<DateTime<Utc>, StoreError>> + use<>, StoreError> {
        let prefix = dindex_prefix(unit, account, "published");
        let n = prefix.len();
        Ok(self
            .trees()?
            .dindex
            .scan_prefix(&prefix)
            .rev()
            .map(move |kv| Ok(key_time(&kv?.0, n))))
    }

    /// The items of `account` in `state`, oldest first.
    fn dindex_ids(
        &self,
        unit: &str,
        account: &str,
        state: &str,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = dindex_prefix(unit, account, state);
        let n = prefix.len();
        let keys: Vec<sled::IVec> = self
            .trees()?
            .dindex
            .scan_prefix(&prefix)
            .map(|kv| kv.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        Ok(keys
            .into_iter()
            .map(|k| String::from_utf8_lossy(&k[(n + 9).min(k.len())..]).into_owned())
            .collect())
    }

    /// Items of `unit` that `account` has pending and may send at `now`:
    /// approved ones it has not taken, priority first, then oldest. Records
    /// only. Reads the whole backlog: for counts and lists; an outbox step
    /// takes [`Store::next_due_for`].
    pub fn due_for(
        &self,
        unit: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut due = self.under_way_elsewhere(unit, account, now)?;
        for item in super::items::QueueHead::new(self, unit) {
            let item = item?;
            if !item.deliveries.contains_key(account) {
                due.push(item);
            }
        }
        due.sort_by(super::items::queue_order);
        Ok(due)
    }

    /// The first of [`Store::due_for`], without reading the backlog behind
    /// it: one outbox step. The queued items are read in queue order up to
    /// the first one `account` has not taken (so the cost is the items this
    /// account is ahead of the unit's slowest account, not the backlog);
    /// the few others that can be due (retries whose time has come, items
    /// another account is sending) are compared with it.
    pub fn next_due_for(
        &self,
        unit: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Item>, StoreError> {
        let mut head = None;
        for item in super::items::QueueHead::new(self, unit) {
            let item = item?;
            if !item.deliveries.contains_key(account) {
                head = Some(item);
                break;
            }
        }
        Ok(self
            .under_way_elsewhere(unit, account, now)?
            .into_iter()
            .chain(head)
            .min_by(super::items::queue_order))
    }

    /// What `account` may send besides the unit's queued items: publish
    /// retries due at `now` and items another account is sending, which
    /// stay pending here. (Not items every account is done with —
    /// published, or failed for good: an account added to the config later
    /// must not get the unit's old articles.)
    fn under_way_elsewhere(
        &self,
        unit: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = self.retries_due(unit, now)?;
        out.extend(self.records_in(unit, "publishing")?);
        out.retain(|i| !i.deliveries.contains_key(account));
        Ok(out)
    }

    /// Stores written before deliveries knew only one account per unit:
    /// what their items say of publishing is that account's. Give the
    /// unit's items in a publish-side state without deliveries the
    /// delivery of `account` (the unit's first) that matches, once (a mark
    /// in `meta` says it is done). Returns how many items were adopted.
    pub async fn adopt_deliveries(&self, unit: &str, account: &str) -> Result<usize, StoreError> {
        let mark = key2("deliveries-adopted", unit);
        if self.trees()?.meta.get(&mark)?.is_some() {
            return Ok(0);
        }
        let mut n = 0;
        let accounts = [account.to_string()];
        for state in ["publishing", "published", "failed"] {
            for item in self.records_in(unit, state)? {
                if !item.deliveries.is_empty() {
                    continue;
                }
                let d = match &item.state {
                    State::Publishing { since } => DeliveryState::Publishing {
                        since: *since,
                        path: None,
                    },
                    State::Published {
                        remote_id,
                        remote_url,
                        at,
                    } => DeliveryState::Published {
                        remote_id: remote_id.clone(),
                        remote_url: remote_url.clone(),
                        at: *at,
                        path: None,
                    },
                    State::Failed {
                        stage: Stage::Publish,
                        reason,
                        attempts,
                        next_retry: None,
                    } => DeliveryState::Failed {
                        reason: reason.clone(),
                        attempts: *attempts,
                        at: Some(item.updated_at),
                    },
                    // A publish to be retried: pending again.
                    _ => continue,
                };
                let from = [item.state.kind()];
                let res = self
                    .transition(&item.id, &from, item.updated_at, |i| {
                        if !i.deliveries.is_empty() {
                            return Err("adopted meanwhile".into());
                        }
                        i.deliveries.insert(account.to_string(), d.clone());
                        i.state = i.aggregate(&accounts);
                        Ok(())
                    })
                    .await;
                match res {
                    Ok(_) => n += 1,
                    Err(e) if e.is_refusal() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // Publish retries of the old format become pending.
        for item in self.records_in(unit, "failed")? {
            if let State::Failed {
                stage: Stage::Publish,
                next_retry: Some(_),
                ..
            } = item.state
                && item.deliveries.is_empty()
            {
                let res = self
                    .transition(&item.id, &[StateName::Failed], item.updated_at, |i| {
                        i.state = State::Queued;
                        Ok(())
                    })
                    .await;
                if let Err(e) = res
                    && !e.is_refusal()
                {
                    return Err(e);
                }
            }
        }
        let trees = self.trees()?;
        trees.meta.insert(mark, b"1".as_slice())?;
        drop(trees);
        self.flush().await?;
        Ok(n)
    }

    /// Every delivery of the item, by account.
    pub fn deliveries_of(
        &self,
        id: &str,
    ) -> Result<std::collections::BTreeMap<String, DeliveryState>, StoreError> {
        Ok(self.record(id)?.map(|i| i.deliveries).unwrap_or_default())
    }
}

#[cfg(test)]
mod due_tests {
    use super::*;
    use chrono::Duration;

    const ACCOUNTS: [&str; 2] = ["acc", "other"];

    fn accounts() -> Vec<String> {
        ACCOUNTS.iter().map(|a| a.to_string()).collect()
    }

    fn item(n: usize, t0: DateTime<Utc>) -> Item {
        Item {
            title: format!("标题{n}"),
            ..Item::new(
                "u",
                &format!("https://a.org/{n}"),
                "feed:x",
                t0,
                State::Queued,
            )
        }
    }

    async fn insert(s: &Store, i: &Item) {
        s.insert_new(i, std::slice::from_ref(&i.url)).await.unwrap();
    }

    /// The outbox step over a backlog: it must not decode the items behind
    /// the head (that made draining a backlog of B items cost B² decodes).
    /// The backlog's records are made unreadable: a step that reads them
    /// fails.
    #[tokio::test]
    async fn an_outbox_step_reads_the_head_of_the_queue_not_the_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let t0 = Utc::now() - Duration::days(30);
        let mut ids = Vec::new();
        for n in 0..300 {
            let mut i = item(n, t0);
            i.published_at = Some((t0 + Duration::minutes(n as i64)).fixed_offset());
            insert(&s, &i).await;
            ids.push(i.id);
        }
        for id in &ids[1..] {
            s.trees()
                .unwrap()
                .items
                .insert(id.as_bytes(), b"not a record".as_slice())
                .unwrap();
        }
        let now = Utc::now();
        let head = s.next_due_for("u", "acc", now).unwrap().unwrap();
        assert_eq!(head.id, ids[0]);
        // The full list does read them (and says which record is bad).
        assert!(matches!(
            s.due_for("u", "acc", now),
            Err(StoreError::Corrupt { .. })
        ));
    }

    /// Every step takes exactly what the full queue order puts first, over a
    /// mix of everything that orders or filters the queue: priority, dated
    /// and undated articles, articles of the same millisecond found at
    /// different times, retries due and not yet due, items the other
    /// account is sending (pending here) and items this account already
    /// has (not again).
    #[tokio::test]
    async fn each_outbox_step_takes_the_head_of_the_full_queue_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let day = |d: i64| now - Duration::days(d);
        let mut n = 0;
        let mut next = |f: &dyn Fn(&mut Item)| {
            n += 1;
            let mut i = item(n, day(40) + Duration::minutes(n as i64));
            f(&mut i);
            i
        };
        let same_day = day(10).fixed_offset();
        let mut all = vec![
            next(&|i| i.published_at = Some(day(20).fixed_offset())),
            next(&|i| i.published_at = Some(day(30).fixed_offset())),
            next(&|i| i.discovered_at = day(25)),
            next(&|i| i.discovered_at = day(1)),
            next(&|i| {
                i.priority = true;
                i.published_at = Some(day(5).fixed_offset());
            }),
            next(&|i| i.priority = true),
            next(&|i| {
                i.state = State::Failed {
                    stage: Stage::Publish,
                    reason: "429".into(),
                    attempts: 1,
                    next_retry: Some(now - Duration::minutes(1)),
                };
                i.published_at = Some(day(15).fixed_offset());
            }),
            next(&|i| {
                i.state = State::Failed {
                    stage: Stage::Publish,
                    reason: "429".into(),
                    attempts: 1,
                    next_retry: Some(now + Duration::hours(1)),
                };
            }),
        ];
        for k in 0..5 {
            all.push(next(&|i| {
                i.published_at = Some(same_day);
                i.discovered_at = day(9) - Duration::seconds(k);
            }));
        }
        for i in &all {
            insert(&s, i).await;
        }
        // The other account is sending one (pending here) and has sent one
        // (pending here); this account has one under way elsewhere.
        let acc = accounts();
        s.deliver(&all[0].id, "other", &acc, now, DeliveryStep::Take)
            .await
            .unwrap();
        s.deliver(&all[1].id, "other", &acc, now, DeliveryStep::Take)
            .await
            .unwrap();
        let sent = DeliveryStep::Published {
            remote_id: "r".into(),
            remote_url: None,
            notes: vec![],
        };
        s.deliver(&all[1].id, "other", &acc, now, sent.clone())
            .await
            .unwrap();
        s.deliver(&all[2].id, "acc", &acc, now, DeliveryStep::Take)
            .await
            .unwrap();

        let mut taken = Vec::new();
        loop {
            let full = s.due_for("u", "acc", now).unwrap();
            let step = s.next_due_for("u", "acc", now).unwrap();
            assert_eq!(
                step.as_ref().map(|i| &i.id),
                full.first().map(|i| &i.id),
                "after {taken:?}"
            );
            let Some(head) = step else { break };
            s.deliver(&head.id, "acc", &acc, now, DeliveryStep::Take)
                .await
                .unwrap();
            s.deliver(&head.id, "acc", &acc, now, sent.clone())
                .await
                .unwrap();
            taken.push(head.title);
        }
        // Priority first (the undated one by when found: day 40, before
        // day 5); then oldest by date or, undated, by when found: day 30
        // (sent on the other account), day 20 (being sent there), the retry
        // (day 15), the five of day 10 by when found, the one found a day
        // ago.
        let expected: Vec<String> = [5, 4, 1, 0, 6, 12, 11, 10, 9, 8, 3]
            .into_iter()
            .map(|k| all[k].title.clone())
            .collect();
        assert_eq!(taken, expected);
        // The retry not yet due, and the item this account had under way,
        // were never taken.
        assert!(!taken.contains(&all[7].title) && !taken.contains(&all[2].title));
    }

    /// An account added to the config later never gets the unit's old
    /// articles, through a step or the list.
    #[tokio::test]
    async fn an_account_added_later_gets_no_old_articles_through_a_step() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        let i = item(1, now);
        insert(&s, &i).await;
        let acc = accounts();
        for a in ACCOUNTS {
            s.deliver(&i.id, a, &acc, now, DeliveryStep::Take)
                .await
                .unwrap();
            let sent = DeliveryStep::Published {
                remote_id: format!("r-{a}"),
                remote_url: None,
                notes: vec![],
            };
            s.deliver(&i.id, a, &acc, now, sent).await.unwrap();
        }
        assert!(s.next_due_for("u", "late", now).unwrap().is_none());
        assert!(s.due_for("u", "late", now).unwrap().is_empty());
    }
}
