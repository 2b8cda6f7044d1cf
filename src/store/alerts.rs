//! What the alert watch keeps (see `crate::alert`), in the `meta` tree:
//!
//! | key | value |
//! |---|---|
//! | `alert \0 mark \0 unit \0 subject` | the state last alerted for the subject (an account's health, its silence stretch, a source, the unit's polls) |
//! | `alert \0 pending \0 id` (8 bytes, big-endian) | an alert queued for one target and not yet delivered |
//!
//! Why in the store: a restart must neither alert every change again nor
//! miss one that happened while it was down, and an alert queued but not
//! yet delivered when the process stopped is still sent. A change's marks
//! and the alerts it queues are written in one batch, so a crash keeps both
//! or neither. The values are the caller's (JSON); the store only keeps
//! them.

use super::*;
use serde::de::DeserializeOwned;

const MARK: &[u8] = b"alert\0mark\0";
const PENDING: &[u8] = b"alert\0pending\0";

fn mark_key(unit: &str, subject: &str) -> Vec<u8> {
    let mut k = MARK.to_vec();
    k.extend_from_slice(&key2(unit, subject));
    k
}

/// The prefix of every mark of `unit` (what moves with it between shards).
pub(super) fn marks_of(unit: &str) -> Vec<u8> {
    mark_key(unit, "")
}

fn pending_key(id: u64) -> Vec<u8> {
    let mut k = PENDING.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

impl Store {
    /// The state last alerted for `subject` of `unit`, if any.
    pub fn alert_mark<T: DeserializeOwned>(
        &self,
        unit: &str,
        subject: &str,
    ) -> Result<Option<T>, StoreError> {
        let k = mark_key(unit, subject);
        match self.trees()?.meta.get(&k)? {
            Some(v) => decode(&k, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Write new marks and queue alerts, in one batch, flushed.
    pub async fn record_alerts<M: Serialize, P: Serialize>(
        &self,
        marks: &[(String, String, M)],
        pending: &[P],
    ) -> Result<(), StoreError> {
        if marks.is_empty() && pending.is_empty() {
            return Ok(());
        }
        let trees = self.trees()?;
        let mut batch = sled::Batch::default();
        for (unit, subject, m) in marks {
            batch.insert(mark_key(unit, subject), encode(m));
        }
        for p in pending {
            let id = trees.db.generate_id()?;
            batch.insert(pending_key(id), encode(p));
        }
        let written = trees.meta.apply_batch(batch);
        drop(trees);
        self.wrote(written.map_err(StoreError::from))?;
        self.flush().await
    }

    /// Every queued alert, oldest first, with its id.
    pub fn pending_alerts<P: DeserializeOwned>(&self) -> Result<Vec<(u64, P)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.trees()?.meta.scan_prefix(PENDING) {
            let (k, v) = kv?;
            let id = k
                .get(PENDING.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt {
                    key: String::from_utf8_lossy(&k).replace('\0', "/"),
                    reason: "not a pending alert key".into(),
                })?;
            out.push((id, decode(&k, &v)?));
        }
        Ok(out)
    }

    /// Replace a queued alert (its attempts, its next try), or remove it
    /// (`None`: delivered or given up), flushed.
    pub async fn update_pending_alert<P: Serialize>(
        &self,
        id: u64,
        alert: Option<&P>,
    ) -> Result<(), StoreError> {
        let meta = self.trees()?.meta.clone();
        let written = match alert {
            Some(p) => meta.insert(pending_key(id), encode(p)).map(drop),
            None => meta.remove(pending_key(id)).map(drop),
        };
        self.wrote(written.map_err(StoreError::from))?;
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_and_queued_alerts_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.alert_mark::<String>("u", "account\0a").unwrap(), None);
            s.record_alerts(
                &[("u".into(), "account\0a".into(), "paused".to_string())],
                &["to wecom".to_string(), "to dingtalk".to_string()],
            )
            .await
            .unwrap();
            let pending: Vec<(u64, String)> = s.pending_alerts().unwrap();
            assert_eq!(pending.len(), 2);
            s.update_pending_alert::<String>(pending[0].0, None)
                .await
                .unwrap();
            s.update_pending_alert(pending[1].0, Some(&"retried".to_string()))
                .await
                .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(
            s.alert_mark::<String>("u", "account\0a")
                .unwrap()
                .as_deref(),
            Some("paused")
        );
        let pending: Vec<(u64, String)> = s.pending_alerts().unwrap();
        assert_eq!(
            pending.into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
            ["retried"]
        );
    }
}
