use super::*;

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
    /// The last poll that found entries.
    #[serde(default)]
    pub last_entries: Option<DateTime<Utc>>,
    /// Since when the source's polls find no entries (see `ingest`).
    #[serde(default)]
    pub empty_since: Option<DateTime<Utc>>,
    /// What ops should know that is not an error (no entries found).
    #[serde(default)]
    pub warning: Option<String>,
}

impl Store {
    pub fn source_state(&self, unit: &str, source: &str) -> Result<SourceState, StoreError> {
        let k = key2(unit, source);
        match self.trees()?.sources.get(&k)? {
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
        let written = self.trees()?.sources.insert(key2(unit, source), encode(st));
        self.wrote(written.map(drop).map_err(StoreError::from))
    }
}
