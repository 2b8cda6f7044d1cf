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
