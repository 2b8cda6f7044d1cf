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
    /// only.
    pub fn due_for(
        &self,
        unit: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut due: Vec<Item> = self
            .due(unit, now)?
            .into_iter()
            .filter(|i| !i.deliveries.contains_key(account))
            .collect();
        // Items another account is sending may still be pending here. (Not
        // items every account is done with — published, or failed for good:
        // an account added to the config later must not get the unit's
        // old articles.)
        for item in self.records_in(unit, "publishing")? {
            if !item.deliveries.contains_key(account) && !due.iter().any(|d| d.id == item.id) {
                due.push(item);
            }
        }
        due.sort_by(super::items::queue_order);
        Ok(due)
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
