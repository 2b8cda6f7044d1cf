use super::*;

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

impl Store {
    /// Append an editor action to the audit log and flush it.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut k = (entry.at.timestamp_millis().max(0) as u64)
            .to_be_bytes()
            .to_vec();
        let trees = self.trees()?;
        k.extend_from_slice(&trees.db.generate_id()?.to_be_bytes());
        let written = trees.audit.insert(k, encode(entry));
        drop(trees);
        self.wrote(written.map_err(StoreError::from))?;
        self.flush().await
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::new();
        for kv in self.trees()?.audit.iter() {
            let (k, v) = kv?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }
}
