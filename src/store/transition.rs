//! The one way an existing item's record changes: a check-and-set.
//!
//! Why one: every path that acts on an item — the publish worker, the fetch
//! retry, an editor's approve or reject, a hand push, a broadcast,
//! reconciliation, retention — reads an item, decides, and writes. Any of
//! them doing a blind write lets the loser of a race overwrite the winner (an
//! editor's reject undone by a fetch retry that started before it, and the
//! article published). Here the read, the check and the write are one sled
//! transaction: the caller names the states it expects the item to be in,
//! and the change it wants; if the item has moved on meanwhile, the change
//! is refused and nothing is written. The move itself must be in the table
//! of [`crate::model::TRANSITIONS`].

use super::items::Body;
use super::*;

/// What becomes of the item's body file in a transition.
enum BodyChange {
    /// The record keeps naming the file it names.
    Keep,
    /// A new file (already durable) replaces it.
    Set(String),
    /// The record stops naming a file (retention); only this version.
    Drop(String),
}

/// Why a transaction stopped (internal; mapped to [`StoreError`]).
pub(super) enum Abort {
    Missing,
    Refused(StateName),
    Declined(StateName, String),
    Illegal(StateName, StateName),
    Corrupt(String),
}

impl Store {
    /// Change item `id` if and only if it is in one of the states `from`:
    /// `change` gets the stored record (without its body) and edits it —
    /// its state, title, priority, notes — or declines with a reason. The
    /// new state must be one the old may become ([`StateName::can_become`]).
    /// `updated_at` becomes `now`, the index follows, and the change is
    /// flushed before this returns, so the caller may take the step that
    /// depends on it (above all: send a post).
    ///
    /// `change` may run more than once (sled retries conflicting
    /// transactions), so it must only edit the record it is given.
    pub async fn transition<F>(
        &self,
        id: &str,
        from: &[StateName],
        now: DateTime<Utc>,
        change: F,
    ) -> Result<Item, StoreError>
    where
        F: Fn(&mut Item) -> Result<(), String>,
    {
        let item = self.cas(id, from, now, BodyChange::Keep, change)?;
        self.flush().await?;
        Ok(item)
    }

    /// [`Store::transition`] that also replaces the item's body with
    /// `item.html`/`item.text` (an article fetched again): the new file is
    /// durable before the record names it; if the transition is refused the
    /// new file goes and the stored item is untouched; once the record is
    /// flushed the old file goes.
    pub async fn transition_with_body<F>(
        &self,
        id: &str,
        from: &[StateName],
        now: DateTime<Utc>,
        body: &Item,
        change: F,
    ) -> Result<Item, StoreError>
    where
        F: Fn(&mut Item) -> Result<(), String>,
    {
        let Some(bytes) = Body::encoded(body) else {
            return self.transition(id, from, now, change).await;
        };
        let new = self.write_body(id, bytes).await?;
        let before = self
            .trees()?
            .items
            .get(id.as_bytes())?
            .map(|v| decode::<Item>(id.as_bytes(), &v))
            .transpose()?
            .and_then(|i| i.body_version);
        match self.cas(id, from, now, BodyChange::Set(new.clone()), change) {
            Ok(item) => {
                self.flush().await?;
                if let Some(old) = before.filter(|old| *old != new) {
                    // Only an unreferenced file is left behind if this fails.
                    if let Err(e) = self.bodies.remove(id, &old) {
                        tracing::warn!(item = %id, error = %e, "old body file not removed");
                    }
                }
                Ok(item)
            }
            Err(e) => {
                if let Err(rm) = self.bodies.remove(id, &new) {
                    tracing::warn!(item = %id, error = %rm, "unused body file not removed");
                }
                Err(e)
            }
        }
    }

    /// Retention: the record of `id` stops naming its body file `version`
    /// (and says so in a note), if it is still in one of `from` and still
    /// names that file. Not flushed: the caller flushes (once for a whole
    /// batch, [`Store::drop_bodies_before`]) before it deletes the file.
    /// `Ok(false)` when the item moved on meanwhile.
    pub(super) fn forget_body(
        &self,
        id: &str,
        version: &str,
        from: &[StateName],
        now: DateTime<Utc>,
        note: String,
    ) -> Result<bool, StoreError> {
        let res = self.cas(
            id,
            from,
            now,
            BodyChange::Drop(version.to_string()),
            |i: &mut Item| {
                i.notes.push(note.clone());
                Ok(())
            },
        );
        match res {
            Ok(_) => Ok(true),
            Err(e) if e.is_refusal() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn cas<F>(
        &self,
        id: &str,
        from: &[StateName],
        now: DateTime<Utc>,
        body: BodyChange,
        change: F,
    ) -> Result<Item, StoreError>
    where
        F: Fn(&mut Item) -> Result<(), String>,
    {
        let trees = self.trees()?;
        let res =
            (&trees.items, &trees.index, &trees.dindex).transaction(|(items, index, dindex)| {
                let abort = |a| ConflictableTransactionError::Abort(a);
                let Some(v) = items.get(id.as_bytes())? else {
                    return Err(abort(Abort::Missing));
                };
                let old: Item =
                    serde_json::from_slice(&v).map_err(|e| abort(Abort::Corrupt(e.to_string())))?;
                let was = old.state.kind();
                if !from.contains(&was) {
                    return Err(abort(Abort::Refused(was)));
                }
                let mut new = old.clone();
                change(&mut new).map_err(|why| abort(Abort::Declined(was, why)))?;
                let to = new.state.kind();
                if !was.can_become(to) {
                    return Err(abort(Abort::Illegal(was, to)));
                }
                // The store alone decides which body file the record names.
                new.body_version = match &body {
                    BodyChange::Keep => old.body_version.clone(),
                    BodyChange::Set(v) => Some(v.clone()),
                    BodyChange::Drop(v) if old.body_version.as_deref() == Some(v) => None,
                    BodyChange::Drop(_) => {
                        return Err(abort(Abort::Declined(was, "body changed".into())));
                    }
                };
                new.id = old.id.clone();
                new.unit = old.unit.clone();
                new.updated_at = now;
                index.remove(index_key(&old))?;
                index.insert(index_key(&new), &[])?;
                // Each account's deliveries are indexed too (its last post, its
                // day's count, what it has under way).
                // (Only when they changed: most transitions leave them.)
                if old.deliveries != new.deliveries {
                    for k in super::deliveries::dindex_keys(&old) {
                        dindex.remove(k)?;
                    }
                    for k in super::deliveries::dindex_keys(&new) {
                        dindex.insert(k, &[])?;
                    }
                }
                items.insert(id.as_bytes(), encode(&new))?;
                Ok(new)
            });
        // Only a storage error is the store's; the aborts are the item's.
        let res = res.map_err(|e| abort_error(id, e));
        self.wrote(res)
    }
}

/// Only a storage error is the store's; the aborts are the item's.
pub(super) fn abort_error(id: &str, e: TransactionError<Abort>) -> StoreError {
    match e {
        TransactionError::Abort(Abort::Missing) => StoreError::NoSuchItem(id.to_string()),
        TransactionError::Abort(Abort::Refused(state)) => StoreError::Refused {
            item: id.to_string(),
            state,
            reason: None,
        },
        TransactionError::Abort(Abort::Declined(state, why)) => StoreError::Refused {
            item: id.to_string(),
            state,
            reason: Some(why),
        },
        TransactionError::Abort(Abort::Illegal(from, to)) => StoreError::Illegal {
            item: id.to_string(),
            from,
            to,
        },
        TransactionError::Abort(Abort::Corrupt(reason)) => StoreError::Corrupt {
            key: id.to_string(),
            reason,
        },
        TransactionError::Storage(e) => StoreError::from(e),
    }
}
