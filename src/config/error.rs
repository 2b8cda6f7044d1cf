//! What a config problem says, and where: the file, the line and the unit,
//! so that an admin of two thousand units goes straight to it. A file's
//! problems are gathered ([`ConfigErrors`]), not cut short at the first, so
//! one `autosync check` lists everything there is to fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub unit: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub(super) fn new(
        file: &Path,
        line: Option<usize>,
        unit: Option<&str>,
        message: String,
    ) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            unit: unit.map(str::to_string),
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(unit) = &self.unit {
            write!(f, ": unit {unit}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one file (all are reported, not just the first).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The line (from 1) of byte `offset` of `text`.
/// The line starts of a text, found once: a line number is then a binary
/// search, not a count from the top (which made reading a config of N
/// units cost N² — 17 s at 8,000 units).
pub(super) struct Lines(Vec<usize>);

impl Lines {
    pub(super) fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(newlines(text).map(|i| i + 1));
        Lines(starts)
    }

    /// The 1-based line of byte `offset`.
    pub(super) fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset)
    }
}

fn newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
}

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// `path` could not be read: the one error of its file.
pub(super) fn unreadable(path: &Path, e: std::io::Error) -> ConfigErrors {
    ConfigErrors(vec![ConfigError::new(
        path,
        None,
        None,
        format!("cannot read: {e}"),
    )])
}

/// `text` (of `path`) is not TOML of the expected shape: serde's message, at
/// its line, in `unit` when the caller knows one.
pub(super) fn not_toml(
    path: &Path,
    text: &str,
    e: &toml::de::Error,
    unit: Option<&str>,
) -> ConfigErrors {
    let line = e.span().map(|s| line_of(text, s.start));
    let message = e.message().trim().to_string();
    ConfigErrors(vec![ConfigError::new(path, line, unit, message)])
}

#[cfg(test)]
mod lines_tests {
    use super::*;

    #[test]
    fn lines_agree_with_counting_from_the_top() {
        let text = "a\nbc\n\nd\n";
        let lines = Lines::new(text);
        for offset in 0..=text.len() + 3 {
            assert_eq!(lines.line(offset), line_of(text, offset), "offset {offset}");
        }
    }
}
