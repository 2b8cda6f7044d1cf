//! The summary line every `[daemon] summary_every_mins`: a quiet log still
//! shows the daemon is alive and working, and which units failed.

/// What the daemon did since its last summary line.
#[derive(Debug, Default)]
pub struct Summary {
    counts: std::sync::Mutex<SummaryCounts>,
}

/// The counts of one summary period.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SummaryCounts {
    /// Units polled at least once.
    pub units: std::collections::BTreeSet<String>,
    pub polls: u64,
    pub new: u64,
    pub published: u64,
    /// Polls with an error, and the units they were of.
    pub failed_polls: u64,
    pub failed_units: std::collections::BTreeSet<String>,
}

impl Summary {
    /// One poll of `unit` took in `new` entries; `failed` when it had an
    /// error.
    pub fn poll(&self, unit: &str, new: usize, failed: bool) {
        let mut c = self.counts.lock().expect("summary lock");
        c.units.insert(unit.to_string());
        c.polls += 1;
        c.new += new as u64;
        if failed {
            c.failed_polls += 1;
            c.failed_units.insert(unit.to_string());
        }
    }

    /// A post went out.
    pub fn published(&self) {
        self.counts.lock().expect("summary lock").published += 1;
    }

    /// The period's counts, starting a new period.
    pub fn take(&self) -> SummaryCounts {
        std::mem::take(&mut *self.counts.lock().expect("summary lock"))
    }
}

impl std::fmt::Display for SummaryCounts {
    /// The summary line's text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "polled {} unit(s) ({} polls), {} new, {} published, {} failed poll(s)",
            self.units.len(),
            self.polls,
            self.new,
            self.published,
            self.failed_polls
        )?;
        if !self.failed_units.is_empty() {
            let names: Vec<&str> = self.failed_units.iter().map(String::as_str).collect();
            write!(f, " (units: {})", names.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_a_period_and_starts_the_next_empty() {
        let s = Summary::default();
        s.poll("a", 2, false);
        s.poll("a", 0, true);
        s.poll("b", 1, false);
        s.published();
        assert_eq!(
            s.take().to_string(),
            "polled 2 unit(s) (3 polls), 3 new, 1 published, 1 failed poll(s) (units: a)"
        );
        assert_eq!(
            s.take().to_string(),
            "polled 0 unit(s) (0 polls), 0 new, 0 published, 0 failed poll(s)"
        );
    }
}
