//! What site discovery chose for a unit bound by its website alone (a
//! `[[unit]]` with a `site` and no `[[unit.source]]`), and why: kept so the
//! daemon polls the same sources until there is a reason to look again,
//! and so `status` and the log can say where a unit's articles come from.
//! One record per unit in the `meta` tree (`discovered \0 unit`).

use super::*;
use crate::config::{Source, Unit};
use crate::source::discover::Discovery;

/// Why discovery ran (again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The unit's first poll.
    FirstPoll,
    /// The unit's `site` is not the one discovery ran on.
    SiteChanged,
    /// The last discovery could not read the home page.
    Retry,
    /// The discovered sources stopped yielding entries (or none was found).
    SourcesDry,
    /// The home page's feed and section links changed.
    HomeChanged,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::FirstPoll => "first poll",
            Trigger::SiteChanged => "the site changed in the config",
            Trigger::Retry => "retry after a failure",
            Trigger::SourcesDry => "the discovered sources stopped yielding entries",
            Trigger::HomeChanged => "the home page's links changed",
        })
    }
}

/// A unit's discovery record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Discovered {
    /// The site discovery ran on.
    pub site: Option<String>,
    /// When discovery last ran (successful or not).
    pub at: Option<DateTime<Utc>>,
    /// When the home page was last compared with the recorded fingerprint.
    pub checked_at: Option<DateTime<Utc>>,
    /// Why it last ran.
    pub trigger: Option<Trigger>,
    /// The last successful discovery: its chosen candidates are the unit's
    /// sources.
    pub discovery: Option<Discovery>,
    /// Why the last run failed (the home page could not be read); cleared
    /// by a successful run.
    pub error: Option<String>,
}

impl Discovered {
    /// The sources discovery chose (none before a successful run).
    pub fn sources(&self) -> Vec<Source> {
        self.discovery
            .as_ref()
            .map(Discovery::sources)
            .unwrap_or_default()
    }
}

pub(super) fn discovered_key(unit: &str) -> Vec<u8> {
    key2("discovered", unit)
}

impl Store {
    /// The unit's discovery record (empty when discovery never ran).
    pub fn discovered(&self, unit: &str) -> Result<Discovered, StoreError> {
        let k = discovered_key(unit);
        match self.trees()?.meta.get(&k)? {
            Some(v) => decode(&k, &v),
            None => Ok(Discovered::default()),
        }
    }

    /// Not flushed: call [`Store::flush`] before depending on it.
    pub fn put_discovered(&self, unit: &str, d: &Discovered) -> Result<(), StoreError> {
        let written = self.trees()?.meta.insert(discovered_key(unit), encode(d));
        self.wrote(written.map(drop).map_err(StoreError::from))
    }

    /// The sources polled for `unit`: its configured ones, else (a unit
    /// bound by its site) the ones discovery chose. Configured sources
    /// always win.
    pub fn polled_sources(&self, unit: &Unit) -> Result<Vec<Source>, StoreError> {
        if !unit.sources.is_empty() {
            return Ok(unit.sources.clone());
        }
        Ok(self.discovered(&unit.id)?.sources())
    }
}
