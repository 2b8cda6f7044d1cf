//! The file as written: one `Raw*` struct a table, field for field.
//!
//! `deny_unknown_fields` everywhere, so a misspelt key is an error rather
//! than an option silently ignored. Nothing is defaulted or checked here
//! beyond what serde's types say (that is `check.rs`'s job); positions are
//! kept (`Spanned`) wherever a later check must name a line. [`Level`] and
//! [`PublisherConfig`] are read as they are used, so they appear here too.

use super::Level;
use super::error::{ConfigErrors, not_toml};
use crate::review::Policy;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub daemon: RawDaemon,
    #[serde(default)]
    pub fetch: RawFetch,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub unit: Vec<RawUnit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub state_dir: PathBuf,
    pub listen: Option<Spanned<String>>,
    pub editors_file: Option<PathBuf>,
    pub timezone: Option<Spanned<String>>,
    pub concurrency: Option<usize>,
    pub publish_grace_secs: Option<u64>,
    pub run_at_start: Option<bool>,
    pub max_new_per_poll: Option<usize>,
    pub shutdown_timeout_secs: Option<u64>,
    pub keep_bodies_days: Option<u32>,
    /// Days an editor may undo a reject (desk-act); default 7.
    pub undo_reject_days: Option<u32>,
    pub archive_after_days: Option<u32>,
    pub shard: Option<Spanned<String>>,
    /// The desk's session cookie carries `Secure` (served behind TLS).
    pub desk_secure_cookie: Option<bool>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (the
    /// login rate limit counts by client address).
    pub desk_trusted_proxies: Option<Spanned<Vec<String>>>,
    pub extract_budget_ms: Option<Spanned<u64>>,
    /// The watch (`crate::alert::config`): how often the summary line is
    /// logged, after how many failed polls a unit is alerted, and the
    /// `[[daemon.alert]]` targets.
    pub summary_every_mins: Option<u64>,
    pub failing_polls: Option<Spanned<u32>>,
    #[serde(default)]
    pub alert: Vec<crate::alert::config::RawAlert>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFetch {
    pub user_agent: Option<String>,
    pub timeout_secs: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub max_redirects: Option<usize>,
    pub host_delay_ms: Option<u64>,
    pub respect_robots: Option<bool>,
    pub proxy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub backfill: Option<usize>,
    pub schedule: Option<Spanned<String>>,
    pub jitter_secs: Option<u64>,
    pub min_post_interval_secs: Option<u64>,
    pub daily_post_cap: Option<u32>,
    pub review: Option<Policy>,
    pub word_lists: Option<Vec<PathBuf>>,
    pub max_silence_days: Option<Spanned<u32>>,
    pub silence_warn_days: Option<Spanned<Vec<u32>>>,
    /// The line closing every post (`crate::publish::source_line`); `""`
    /// turns it off.
    pub source_line: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUnit {
    pub id: Spanned<String>,
    pub account_name: Spanned<String>,
    pub org_name: String,
    pub level: Level,
    pub parent: Option<Spanned<String>>,
    pub site: Spanned<String>,
    pub contact: Option<String>,
    pub backfill: Option<usize>,
    pub schedule: Option<Spanned<String>>,
    pub jitter_secs: Option<u64>,
    pub min_post_interval_secs: Option<u64>,
    pub daily_post_cap: Option<u32>,
    pub review: Option<Policy>,
    pub word_lists: Option<Vec<PathBuf>>,
    pub max_silence_days: Option<Spanned<u32>>,
    pub silence_warn_days: Option<Spanned<Vec<u32>>>,
    /// The line closing every post (`crate::publish::source_line`); `""`
    /// turns it off.
    pub source_line: Option<Spanned<String>>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    pub content_selector: Option<String>,
    pub title_selector: Option<String>,
    #[serde(default)]
    pub source: Vec<Spanned<RawSource>>,
    /// One `[unit.publisher]` table, or several `[[unit.publisher]]`: read
    /// as TOML first, each table's common keys (its limits) taken out, the
    /// rest handed to the platform's own config (see `check_accounts`).
    pub publisher: Spanned<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub feed: Option<String>,
    pub list: Option<String>,
    pub link_selector: Option<String>,
    pub schedule: Option<String>,
}

/// `text` read into the raw structs; a syntax error, a misspelt key or a
/// value of the wrong type is the file's one error, with its line and, when
/// it sits in a `[[unit]]`, that unit.
pub(super) fn read(text: &str, path: &Path) -> Result<RawConfig, ConfigErrors> {
    toml::from_str(text).map_err(|e| {
        // Name the unit the error sits in, when it sits in one.
        let unit = e.span().and_then(|s| unit_around(text, s.start));
        not_toml(path, text, &e, unit.as_deref())
    })
}

/// The `id` of the `[[unit]]` table that contains byte `offset`, if any.
fn unit_around(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let start = before.rfind("[[unit]]")?;
    // The id may come after the error, so search the whole table.
    let table = &text[start..];
    let end = table[8..]
        .find("[[unit]]")
        .map(|e| e + 8)
        .unwrap_or(table.len());
    let re = regex::Regex::new(r#"(?m)^\s*id\s*=\s*"([^"]*)""#).expect("static regex");
    re.captures(&table[..end]).map(|c| c[1].to_string())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{MINIMAL, errs};

    #[test]
    fn unknown_key_is_an_error_with_line_and_unit() {
        let bad = MINIMAL.replace("backfill", "x").replace(
            "level = \"provincial\"",
            "level = \"provincial\"\nbackfil = 3",
        );
        let e = errs(&bad);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("autosync.toml:22"), "{}", e[0]);
        assert!(e[0].contains("unit sx-kx"), "{}", e[0]);
        assert!(e[0].contains("backfil"), "{}", e[0]);
    }
}
