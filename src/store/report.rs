//! What a report (`crate::report`) reads of a unit: every item it ever had
//! that may have gone out or been decided on, live or archived.
//!
//! Why a query of its own: reports look back over periods long past, whose
//! items have left sled for the archive (`upkeep::archive_before`); the
//! desk's lists and the update clock read only the newest keys. Read-only.

use super::*;

impl Store {
    /// Every item of `unit` but its baseline (`seen`) entries, live records
    /// first and then archived ones, each item once (an item in both — a
    /// crash between archive and sled — is the live record, which is the
    /// newer). Records only, no bodies. Reads the unit's whole archive file:
    /// for reports and exports, not for hot paths.
    pub fn unit_history(&self, unit: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for state in STATE_NAMES.into_iter().filter(|s| *s != "seen") {
            out.extend(self.records_in(unit, state)?);
        }
        let live: std::collections::HashSet<String> = out.iter().map(|i| i.id.clone()).collect();
        out.extend(
            self.archived_records(unit)?
                .into_iter()
                .filter(|i| i.state != State::Seen && !live.contains(&i.id)),
        );
        Ok(out)
    }
}
