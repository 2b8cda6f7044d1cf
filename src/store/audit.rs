use super::*;

/// One editor action: who, when, what, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub editor: String,
    pub action: AuditAction,
    pub unit: Option<String>,
    pub item: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Free text: a reason, a URL, who got a broadcast.
    pub detail: Option<String>,
}

/// What an editor did. Stored as the kebab-case name (`push-url`), the
/// same strings the log held before it was typed, so old logs still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// Held → queued.
    Approve,
    /// Held → rejected.
    Reject,
    /// Marked priority.
    Priority,
    /// Title changed.
    Title,
    /// An item pushed now.
    Push,
    /// A URL fetched and pushed by hand.
    PushUrl,
    /// An item sent to a branch of the tree.
    Broadcast,
    /// An account's cookie renewed on the desk.
    SetCookie,
    /// A URL fetched for a hand push and shown for confirmation (not sent).
    PushPreview,
    /// The body edited before publishing (before and after in the entry).
    EditBody,
    /// A reject undone: back to held.
    Unreject,
}

impl AuditAction {
    pub const ALL: [AuditAction; 11] = [
        AuditAction::Approve,
        AuditAction::Reject,
        AuditAction::Priority,
        AuditAction::Title,
        AuditAction::Push,
        AuditAction::PushUrl,
        AuditAction::Broadcast,
        AuditAction::SetCookie,
        AuditAction::PushPreview,
        AuditAction::EditBody,
        AuditAction::Unreject,
    ];

    /// The stored and machine-readable name (`push-url`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Approve => "approve",
            AuditAction::Reject => "reject",
            AuditAction::Priority => "priority",
            AuditAction::Title => "title",
            AuditAction::Push => "push",
            AuditAction::PushUrl => "push-url",
            AuditAction::Broadcast => "broadcast",
            AuditAction::SetCookie => "set-cookie",
            AuditAction::PushPreview => "push-preview",
            AuditAction::EditBody => "edit-body",
            AuditAction::Unreject => "unreject",
        }
    }

    /// What an editor reads.
    pub fn label_zh(self) -> &'static str {
        match self {
            AuditAction::Approve => "通过",
            AuditAction::Reject => "驳回",
            AuditAction::Priority => "标为重点",
            AuditAction::Title => "修改标题",
            AuditAction::Push => "立即推送",
            AuditAction::PushUrl => "手动推送网址",
            AuditAction::Broadcast => "联动推送",
            AuditAction::SetCookie => "更新账号 Cookie",
            AuditAction::PushPreview => "预览推送",
            AuditAction::EditBody => "修改正文",
            AuditAction::Unreject => "撤销驳回",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

    /// The audit entries of item `id`, newest first. One pass over the log
    /// (a key does not name its item), but only the entries whose stored
    /// bytes name the item are decoded — decoding was nearly all of the
    /// cost (see `audit_of_cost`).
    pub fn audit_of(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let needle = [b"\"item\":".as_slice(), &encode(&id)].concat();
        let finder = memchr::memmem::Finder::new(&needle);
        let mut out = Vec::new();
        for kv in self.trees()?.audit.iter().rev() {
            let (k, v) = kv?;
            if finder.find(&v).is_none() {
                continue;
            }
            let e: AuditEntry = decode(&k, &v)?;
            if e.item.as_deref() == Some(id) {
                out.push(e);
            }
        }
        Ok(out)
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

#[cfg(test)]
mod audit_action_tests {
    use super::AuditAction;

    #[test]
    fn audit_actions_keep_the_names_old_logs_were_written_with() {
        for a in AuditAction::ALL {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<AuditAction>(&json).unwrap(), a);
            assert!(!a.label_zh().is_ascii());
        }
    }
}

#[cfg(test)]
mod audit_of_tests {
    use super::*;

    fn entry(n: u64, item: &str) -> AuditEntry {
        AuditEntry {
            at: DateTime::from_timestamp_millis(1_700_000_000_000 + n as i64).unwrap(),
            editor: "王编辑".into(),
            action: AuditAction::Approve,
            unit: Some("u".into()),
            item: Some(item.into()),
            before: Some("held".into()),
            after: Some("queued".into()),
            detail: None,
        }
    }

    /// Written straight to the tree: `audit` flushes each entry.
    fn fill(store: &Store, n: u64) {
        let trees = store.trees().unwrap();
        for i in 0..n {
            let mut k = (1_700_000_000_000u64 + i).to_be_bytes().to_vec();
            k.extend_from_slice(&i.to_be_bytes());
            let e = entry(i, &format!("item-{}", i % 5000));
            trees.audit.insert(k, encode(&e)).unwrap();
        }
    }

    #[test]
    fn audit_of_finds_an_items_entries_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        fill(&store, 12_000);
        let log = store.audit_of("item-7").unwrap();
        assert_eq!(log.len(), 3);
        assert!(log[0].at > log[1].at && log[1].at > log[2].at);
        assert!(store.audit_of("item-none").unwrap().is_empty());
    }

    /// `cargo test --release --lib audit_of_cost -- --ignored --nocapture`:
    /// what one item page's history costs over a large log.
    #[test]
    #[ignore]
    fn audit_of_cost() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // `fill` writes keys 0..n again: the log holds `n` entries.
        for n in [10_000u64, 100_000, 300_000] {
            fill(&store, n);
            let t = std::time::Instant::now();
            let found = store.audit_of("item-42").unwrap().len();
            println!(
                "audit_of over {n} entries: {:?} ({found} found)",
                t.elapsed()
            );
        }
    }
}
