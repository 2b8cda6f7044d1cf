//! Configuration: the TOML file ops and unit admins write, parsed, validated
//! and turned into the runtime [`Config`].
//!
//! Two layers, as in vector. The raw layer (`raw.rs`) mirrors the file
//! exactly, one struct a table with `deny_unknown_fields`, so a misspelt key
//! is an error rather than an option silently ignored. The runtime layer
//! (here: [`Config`], [`Unit`], [`Daemon`], …) is what the rest of the
//! program uses: every default applied, every path resolved against the
//! file's directory, every cross-reference (parents, cycles) checked. Kept
//! apart, no code past [`parse`] applies a default or resolves a path of its
//! own, and a unit that exists is a unit that is valid.
//!
//! Validation (`check.rs`) goes from one layer to the other in small
//! `check_*` functions, one a part of the file or a rule, and reports every
//! problem of the file in one pass, not just the first. Every error
//! ([`ConfigError`]) names the file, the line and the unit, because with two
//! thousand units "invalid URL" alone is no help.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the runtime types, [`load`] and [`parse`] |
//! | `raw.rs` | the `Raw*` structs: the file as written |
//! | `check.rs` | raw to runtime: defaults, paths, the `check_*` rules |
//! | `editors.rs` | the editors file ([`Editor`], [`load_editors`]): tokens, kept out of the config |
//! | `error.rs` | [`ConfigError`], [`ConfigErrors`] |

mod check;
mod editors;
mod error;
mod lint;
mod raw;
mod sizing;

pub use crate::publish::PublisherConfig;
pub use check::parse_http_url;
pub use editors::{Editor, MIN_TOKEN_CHARS, Role, load_editors};
pub use error::{ConfigError, ConfigErrors};
pub use lint::{Findings, lint};
pub use sizing::{SizingWarning, store_sizing};

use crate::extract::ExtractOptions;
use crate::fetch::FetchOptions;
use crate::review::Policy;
use check::Checker;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// `[daemon] archive_after_days` when not given: two months of items stay
/// in the database (editors' lists, reconciliation, reports at hand).
pub const DEFAULT_ARCHIVE_AFTER_DAYS: u32 = 60;
/// Days a reject can be undone on the desk when `[daemon] undo_reject_days` is not set.
pub const DEFAULT_UNDO_REJECT_DAYS: u32 = 7;

/// Days without a post after which an inspection fails an account, when
/// neither the unit nor `[defaults]` says (some provinces say ten).
pub const DEFAULT_MAX_SILENCE_DAYS: u32 = 14;

/// Days without a post at which ops are warned, when not given: a week,
/// then with four and two days left before the usual two weeks.
pub const DEFAULT_SILENCE_WARN_DAYS: [u32; 3] = [7, 10, 12];

/// A unit's update clock: how long its accounts may stay silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// Whole days without a post at which an account is overdue (≥ 1).
    pub max_days: u32,
    /// Whole days without a post at which ops are warned: ascending, each
    /// below `max_days`.
    pub warn_days: Vec<u32>,
}

impl Default for Silence {
    fn default() -> Self {
        Silence {
            max_days: DEFAULT_MAX_SILENCE_DAYS,
            warn_days: DEFAULT_SILENCE_WARN_DAYS.to_vec(),
        }
    }
}

/// Units polled at once by default. Polls wait mostly on the network and on
/// per-host politeness, not on the CPU; 2,000 units need about this many in
/// flight to poll in under a minute (BENCHMARKS.md), and each costs little
/// memory.
pub const DEFAULT_CONCURRENCY: usize = 128;

/// `[daemon] max_new_per_poll` unset: a source yields at most this many new
/// entries to one poll.
pub const DEFAULT_MAX_NEW_PER_POLL: usize = 50;

/// The longest account name the platform accepts, in characters.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 10;

// ---------------------------------------------------------------- runtime

/// Where a unit sits in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    National,
    Provincial,
    City,
    County,
    Other,
}

/// Where a source's entries come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    Feed,
    List { link_selector: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub url: Url,
    pub kind: SourceKind,
    /// Its own cron schedule, when it has one; else the unit's.
    pub schedule: Option<String>,
}

impl Source {
    /// Stable key of the source in the store: kind and URL.
    pub fn key(&self) -> String {
        match self.kind {
            SourceKind::Feed => format!("feed:{}", self.url),
            SourceKind::List { .. } => format!("list:{}", self.url),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub account_name: String,
    pub org_name: String,
    pub level: Level,
    pub parent: Option<String>,
    pub site: Url,
    pub contact: Option<String>,
    pub backfill: usize,
    /// Cron expression (crontab(5) meaning) of the unit's polls.
    pub schedule: String,
    /// `jitter_secs`: at most this delay after each scheduled time. Unset,
    /// the unit's stable delay spreads over the schedule's period
    /// (`schedule` module docs).
    pub jitter: Option<Duration>,
    /// The unit's limits: each account's unless its `[[unit.publisher]]`
    /// sets its own.
    pub limits: Limits,
    /// Review policy: auto, manual or keywords.
    pub review: Policy,
    /// Word lists (one term a line) checked under the `keywords` policy.
    pub word_lists: Vec<PathBuf>,
    /// Hosts besides the site's and the sources' whose articles may be
    /// followed.
    pub allow_hosts: Vec<String>,
    pub extract: ExtractOptions,
    pub sources: Vec<Source>,
    /// The unit's accounts, each with its platform and limits; at least
    /// one. The first is the unit's main account (`account_name`, unless
    /// its publisher names another).
    pub accounts: Vec<Account>,
    /// How long its accounts may stay silent (`max_silence_days`,
    /// `silence_warn_days`).
    pub silence: Silence,
    /// The line closing each of its posts (`source_line`, else
    /// `[defaults]`, else the built-in one); `None` when turned off.
    pub source_line: Option<crate::publish::source_line::SourceLine>,
    /// Line of the unit's `id` in the config file, for messages.
    pub line: usize,
}

impl Unit {
    /// The names of the unit's accounts, its main one first.
    pub fn account_names(&self) -> Vec<String> {
        self.accounts.iter().map(|a| a.name.clone()).collect()
    }

    /// The title as the strictest of the unit's platforms will show it, and
    /// whether some platform shortens it.
    pub fn platform_title(&self, title: &str) -> (String, bool) {
        self.accounts
            .iter()
            .map(|a| a.publisher.title(title))
            .find(|(_, shortened)| *shortened)
            .unwrap_or_else(|| (title.to_string(), false))
    }

    /// May an article link to `url` be followed for this unit? Its own site,
    /// its sources' hosts and `allow_hosts`, by registrable domain and port
    /// (see [`crate::scope`]).
    pub fn allows(&self, url: &Url) -> bool {
        self.scope().allows(url)
    }

    /// The unit's site scope: its site, its sources' URLs and `allow_hosts`.
    pub fn scope(&self) -> crate::scope::SiteScope {
        crate::scope::SiteScope::of_unit(
            &self.site,
            self.sources.iter().map(|s| &s.url),
            self.allow_hosts.iter().map(String::as_str),
        )
    }
}

/// One account of a unit: where it lives and its own limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's name on the platform: its publisher's `account_name`,
    /// else the unit's.
    pub name: String,
    pub publisher: PublisherConfig,
    pub limits: Limits,
}

/// Per-account publishing limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// At least this long between two posts to the account.
    pub min_interval: Duration,
    /// At most this many posts a day (in the daemon's time zone).
    pub daily_cap: Option<u32>,
}

impl Unit {
    /// Does `other` configure the same unit the same way? Everything the
    /// file says counts; where it says it (`line`) does not, so a unit
    /// inserted above, or a comment, leaves the units below unchanged (a
    /// reload restarts only what changed).
    pub fn same_config(&self, other: &Unit) -> bool {
        // Destructured, not `..`: a field added to `Unit` fails to compile
        // here until someone decides whether it counts.
        let Unit {
            id,
            account_name,
            org_name,
            level,
            parent,
            site,
            contact,
            backfill,
            schedule,
            jitter,
            limits,
            review,
            word_lists,
            allow_hosts,
            extract,
            sources,
            accounts,
            silence,
            source_line,
            line: _,
        } = self;
        *id == other.id
            && *account_name == other.account_name
            && *org_name == other.org_name
            && *level == other.level
            && *parent == other.parent
            && *site == other.site
            && *contact == other.contact
            && *backfill == other.backfill
            && *schedule == other.schedule
            && *jitter == other.jitter
            && *limits == other.limits
            && *review == other.review
            && *word_lists == other.word_lists
            && *allow_hosts == other.allow_hosts
            && *extract == other.extract
            && *sources == other.sources
            && *accounts == other.accounts
            && *silence == other.silence
            && *source_line == other.source_line
    }
}

#[derive(Debug, Clone)]
pub struct Daemon {
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    pub editors_file: Option<PathBuf>,
    pub timezone: chrono_tz::Tz,
    pub concurrency: usize,
    /// How long an item whose publish outcome is unknown, and that the
    /// account does not list, waits before it is sent again.
    pub publish_grace: chrono::Duration,
    /// Poll every unit once at start instead of waiting for its schedule.
    pub run_at_start: bool,
    /// At most this many new entries of one source taken in by one poll
    /// (newest first); the rest wait for the next polls.
    pub max_new_per_poll: usize,
    /// How long shutdown waits for in-flight work.
    pub shutdown_timeout: Duration,
    /// Article bodies of items published or rejected this many days ago are
    /// deleted (the records stay); `None` keeps them for ever.
    pub keep_bodies: Option<chrono::Duration>,
    /// Items published, rejected or seen this many days ago leave the
    /// database for the archive (`None`: never). Keeps the daemon's memory
    /// flat; see `store::archive`.
    pub archive_after: Option<chrono::Duration>,
    /// This daemon serves only the units of this shard (`shard = "I/N"`, or
    /// `--shard`); see [`crate::shard`]. `None`: all of them.
    pub shard: Option<crate::shard::Shard>,
    /// How long after a reject an editor may undo it (back to held).
    pub undo_reject: chrono::Duration,
    /// `desk_secure_cookie`: the desk's cookies carry `Secure` and the
    /// `__Host-` prefix, for a desk served behind TLS.
    pub desk_secure_cookie: bool,
    /// `desk_trusted_proxies`: a request from one of these addresses is
    /// counted, for the login rate limit, by the last address its
    /// `X-Forwarded-For` names instead.
    pub desk_trusted_proxies: Vec<std::net::IpAddr>,
    /// How long one page's extraction may take before the item fails like
    /// a fetch and is retried (`extract_budget_ms`; see
    /// [`crate::extract::extract_off_runtime`]).
    pub extract_budget: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub daemon: Daemon,
    pub fetch: FetchOptions,
    /// Shared, not copied: the daemon's scheduler and every account's
    /// outbox hold the very unit the config holds (at 20,000 units each
    /// deep copy cost ~25 MiB).
    pub units: Vec<std::sync::Arc<Unit>>,
    /// From `[daemon] editors_file`; empty when there is none.
    pub editors: Vec<Editor>,
    /// How many units the file has in all: more than `units` holds when a
    /// shard is served.
    pub all_units: usize,
    /// `[[daemon.alert]]`, `[daemon] failing_polls` and
    /// `summary_every_mins` (see `crate::alert`).
    pub alerting: crate::alert::config::Alerting,
}

impl Config {
    pub fn unit(&self, id: &str) -> Option<&std::sync::Arc<Unit>> {
        self.units.iter().find(|u| u.id == id)
    }

    /// `id` and every unit below it in the matrix, `id` first.
    pub fn subtree(&self, id: &str) -> Vec<&Unit> {
        let mut out: Vec<&Unit> = self.unit(id).map(|u| &**u).into_iter().collect();
        if out.is_empty() {
            return out;
        }
        // Children indexed once, in file order: a scan of every unit per
        // member made a province's subtree (thousands of units, at 20,000
        // in all) tens of millions of comparisons.
        let mut children: std::collections::HashMap<&str, Vec<&Unit>> = Default::default();
        for u in &self.units {
            if let Some(p) = u.parent.as_deref() {
                children.entry(p).or_default().push(u);
            }
        }
        let mut i = 0;
        while i < out.len() {
            if let Some(c) = children.get(out[i].id.as_str()) {
                out.extend(c.iter().copied());
            }
            i += 1;
        }
        out
    }
}

// ---------------------------------------------------------------- loading

/// Read and validate a config file; with `[daemon] shard`, keep only that
/// shard's units.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_shard(path, None)
}

/// Every unit of the file, whatever shard it names: for what looks at the
/// whole matrix (an import's duplicate check, the plan of a re-shard).
pub fn load_all(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| error::unreadable(path, e))?;
    let mut cfg = parse(&text, path)?;
    if let Some(ed) = cfg.daemon.editors_file.clone() {
        cfg.editors = load_editors(&ed, &cfg)?;
    }
    Ok(cfg)
}

/// [`load`], serving `shard` when given (the `--shard` option) instead of
/// the file's `[daemon] shard`. The whole file is validated first — parents
/// and editors may name units of other shards — and then only the shard's
/// units are kept: nothing downstream can poll or post for a unit that
/// another daemon serves.
pub fn load_shard(path: &Path, shard: Option<crate::shard::Shard>) -> Result<Config, ConfigErrors> {
    let mut cfg = load_all(path)?;
    if shard.is_some() {
        cfg.daemon.shard = shard;
    }
    if let Some(s) = cfg.daemon.shard {
        cfg.all_units = cfg.units.len();
        cfg.units.retain(|u| s.serves(&u.id));
    }
    Ok(cfg)
}

/// Parse and validate config text; `path` names it in errors and anchors
/// relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let mut raw = raw::read(text, path)?;
    let mut c = Checker::new(text, path);
    let raw_alerting = crate::alert::config::RawAlerting {
        alert: std::mem::take(&mut raw.daemon.alert),
        failing_polls: raw.daemon.failing_polls.take(),
        summary_every_mins: raw.daemon.summary_every_mins,
    };
    let daemon = check::check_daemon(&mut c, raw.daemon);
    let default_schedule = check::check_default_schedule(&mut c, &raw.defaults);
    check::check_default_silence(&mut c, &raw.defaults);
    let default_source_line = check::check_default_source_line(&mut c, &raw.defaults);
    let fetch = check::check_fetch(&mut c, raw.fetch);
    // Every id in the file, with the line of its first unit; units dropped
    // for errors count too, so their children are not told their parent is
    // missing.
    let mut seen = BTreeMap::new();
    let mut units = Vec::new();
    for ru in raw.unit {
        units.extend(check::check_unit(
            &mut c,
            ru,
            &raw.defaults,
            &default_schedule,
            &default_source_line,
            &mut seen,
        ));
    }
    // Parents must exist and the matrix must be a tree.
    check::check_parents(&mut c, &units, &seen);
    check::check_cycles(&mut c, &units);
    // Alert targets last: their `units` may name any unit of the file.
    let (alerting, alert_errors) = crate::alert::config::check(
        raw_alerting,
        path,
        path.parent().unwrap_or(Path::new(".")),
        &|offset| c.line_of(offset),
        &|id| seen.contains_key(id),
    );
    let checked = c.finish(Config {
        path: path.to_path_buf(),
        daemon,
        fetch,
        all_units: units.len(),
        // Not `into_iter().map().collect()`: that reuses the units' own
        // buffer in place, and 20,000 pointers would keep 16 MiB.
        units: {
            let mut shared = Vec::with_capacity(units.len());
            shared.extend(units.into_iter().map(std::sync::Arc::new));
            shared
        },
        editors: Vec::new(),
        alerting,
    });
    match checked {
        Ok(_) if !alert_errors.is_empty() => Err(ConfigErrors(alert_errors)),
        Err(mut e) => {
            e.0.extend(alert_errors);
            Err(e)
        }
        ok => ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two units, parent and child: a feed and a file publisher, a list and
    /// toutiao.
    pub(super) const MINIMAL: &str = r#"
[daemon]
state_dir = "state"

[[unit]]
id = "cast"
account_name = "中国科协"
org_name = "中国科学技术协会"
level = "national"
site = "https://www.cast.org.cn/"
  [[unit.source]]
  feed = "https://www.cast.org.cn/rss.xml"
  [unit.publisher]
  kind = "file"
  dir = "out"

[[unit]]
id = "sx-kx"
account_name = "示例省科协"
org_name = "示例省科学技术协会"
level = "provincial"
parent = "cast"
site = "https://example.org/"
  [[unit.source]]
  list = "https://example.org/xwzx/"
  link_selector = "ul.list a"
  [unit.publisher]
  kind = "toutiao"
  base_url = "https://mp.toutiao.com"
  cookie_env = "SX_KX_COOKIE"
"#;

    /// The errors `text` gets, as printed.
    pub(super) fn errs(text: &str) -> Vec<String> {
        match parse(text, Path::new("/etc/autosync/autosync.toml")) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    /// Every check at once: each error's text, line and unit, and their
    /// order (file sections first, then unit by unit, then the matrix).
    #[test]
    fn every_error_keeps_its_text_line_unit_and_order() {
        let text = r#"[daemon]
state_dir = "state"
listen = "nowhere"
timezone = "Mars/Base"
archive_after_days = 3
keep_bodies_days = 9

[fetch]
proxy = "ftp://proxy.example.org"

[defaults]
schedule = "nope"

[[unit]]
id = "Bad"
account_name = ""
org_name = "o"
level = "city"
parent = "gone"
site = "nope"
schedule = "61 * * * *"
review = "keywords"
  [[unit.source]]
  feed = "https://a.example/f"
  link_selector = "a"
  schedule = "zz"
  [[unit.source]]
  feed = "https://a.example/g"
  list = "https://a.example/h"
  [[unit.source]]
  list = "a.example/l"
  [unit.publisher]
  kind = "toutiao"
  base_url = "mp"
  cookie_env = "A"
  cookie_credential = "a/b"

[[unit]]
id = "ok"
account_name = "一二三四五六七八九十一"
org_name = "o"
level = "city"
parent = "ok"
site = "https://b.example/"
  [[unit.source]]
  feed = "https://b.example/f"
  [[unit.source]]
  feed = "https://b.example/f"
  [unit.publisher]
  kind = "file"
  dir = "out"

[[unit]]
id = "ok"
account_name = "二"
org_name = "o"
level = "city"
parent = "ok2"
site = "https://c.example/"
  [[unit.source]]
  feed = "https://c.example/f"
  [unit.publisher]
  kind = "file"
  dir = "out"

[[unit]]
id = "ok2"
account_name = "三"
org_name = "o"
level = "city"
parent = "ok"
site = "https://d.example/"
  [[unit.source]]
  feed = "https://d.example/f"
  [unit.publisher]
  kind = "file"
  dir = "out"
"#;
        let f = "/etc/autosync/autosync.toml";
        let fields = "5 (minute hour day-of-month month day-of-week), 6 (seconds first) or 7 (seconds … year)";
        let want = [
            format!("{f}:3: [daemon] listen: invalid socket address syntax"),
            format!("{f}:4: [daemon] timezone: failed to parse timezone"),
            format!(
                "{f}: [daemon] archive_after_days = 3: at least 7 (the daily cap and editors work on recent items), or 0 for never"
            ),
            format!(
                "{f}: [daemon] keep_bodies_days = 9 is longer than archive_after_days = 3: bodies are only deleted while their items are in the database; make keep_bodies_days at most archive_after_days, or 0"
            ),
            format!("{f}:12: [defaults] schedule \"nope\" has 1 fields; expected {fields}"),
            format!("{f}: [fetch] proxy: \"ftp://proxy.example.org\" is not an http(s) URL"),
            format!(
                "{f}:15: unit Bad: id must be lowercase letters, digits and '-', starting with a letter or digit"
            ),
            format!("{f}:16: unit Bad: account_name \"\" has 0 characters; it must have 1 to 10"),
            format!("{f}:20: unit Bad: site: \"nope\" is not a URL: relative URL without a base"),
            format!("{f}:23: unit Bad: schedule \"zz\" has 1 fields; expected {fields}"),
            format!("{f}:23: unit Bad: link_selector only applies to a list source"),
            format!("{f}:27: unit Bad: a source takes exactly one of feed = \"…\" or list = \"…\""),
            format!(
                "{f}:30: unit Bad: source \"a.example/l\": \"a.example/l\" is not a URL: relative URL without a base"
            ),
            format!(
                "{f}:32: unit Bad: publisher base_url: \"mp\" is not a URL: relative URL without a base"
            ),
            format!(
                "{f}:32: unit Bad: toutiao publisher takes exactly one of cookie_file, cookie_env or cookie_credential"
            ),
            format!("{f}:32: unit Bad: cookie_credential \"a/b\" must be a plain file name"),
            format!(
                "{f}:21: unit Bad: schedule \"61 * * * *\": minute field \"61\": value 61 is out of range 0-59"
            ),
            format!("{f}:15: unit Bad: review = \"keywords\" needs word_lists = [\"…\"]"),
            format!(
                "{f}:40: unit ok: account_name \"一二三四五六七八九十一\" has 11 characters; it must have 1 to 10"
            ),
            format!("{f}:39: unit ok: source https://b.example/f is listed twice"),
            format!("{f}:54: unit ok: duplicate id (first defined on line 39)"),
            format!("{f}:39: unit ok: a unit cannot be its own parent"),
            format!("{f}:39: unit ok: parent chain loops back to this unit"),
            format!("{f}:54: unit ok: parent chain loops back to this unit"),
        ];
        assert_eq!(errs(text), want);
    }

    #[test]
    fn minimal_config_parses_with_defaults() {
        let c = parse(MINIMAL, Path::new("/etc/autosync/autosync.toml")).unwrap();
        assert_eq!(c.units.len(), 2);
        assert_eq!(c.daemon.state_dir, Path::new("/etc/autosync/state"));
        assert_eq!(c.units[1].parent.as_deref(), Some("cast"));
        assert_eq!(c.units[1].line, 18);
        assert_eq!(c.subtree("cast").len(), 2);
        assert!(matches!(
            c.units[0].accounts[0].publisher,
            PublisherConfig::File(_)
        ));
    }

    /// What 20,000 units hold for the daemon's life: one parse of the
    /// default source line, no spare capacity, no buffer kept from parsing.
    #[test]
    fn a_parsed_unit_holds_no_spare_room_and_shares_the_default_source_line() {
        let text = MINIMAL.replace(
            "  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"",
            "  [[unit.publisher]]\n  kind = \"file\"\n  dir = \"out\"\n  [[unit.publisher]]\n  kind = \"webhook\"\n  url = \"https://platform.example.gov.cn/in\"\n  secret_env = \"HOOK_SECRET\"\n  account_name = \"中国科协二\"",
        );
        let c = parse(&text, Path::new("/etc/autosync/autosync.toml")).unwrap();
        assert_eq!(c.units[0].accounts.len(), 2, "the fixture has two accounts");
        for u in &c.units {
            assert_eq!(u.accounts.capacity(), u.accounts.len(), "{}", u.id);
            assert_eq!(u.sources.capacity(), u.sources.len(), "{}", u.id);
        }
        assert_eq!(c.units.capacity(), c.units.len());
        let (a, b) = (
            c.units[0].source_line.as_ref().unwrap(),
            c.units[1].source_line.as_ref().unwrap(),
        );
        assert!(
            a.is_shared_with(b),
            "each unit parsed the default line anew"
        );
    }

    #[test]
    fn units_compare_by_configuration_not_by_their_line() {
        let path = Path::new("/etc/autosync/autosync.toml");
        let old = parse(MINIMAL, path).unwrap();
        // A unit inserted at the top, and comments and blank lines between
        // the others: every old unit moves down the file.
        let shifted = MINIMAL
            .replacen(
                "[[unit]]",
                "# added first\n[[unit]]\nid = \"new-top\"\naccount_name = \"新单位\"\n\
                 org_name = \"新单位\"\nlevel = \"other\"\nsite = \"https://new.example.org/\"\n  \
                 [[unit.source]]\n  feed = \"https://new.example.org/rss.xml\"\n  \
                 [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n\n[[unit]]",
                1,
            )
            .replace(
                "\n[[unit]]\nid = \"sx-kx\"",
                "\n\n# the province\n\n[[unit]]\nid = \"sx-kx\"",
            );
        let new = parse(&shifted, path).unwrap();
        assert_eq!(new.units.len(), 3);
        for u in &old.units {
            let moved = new.unit(&u.id).unwrap();
            assert_ne!(moved.line, u.line, "{} did not move: proves nothing", u.id);
            assert!(moved.same_config(u), "{} compared changed", u.id);
        }

        // One setting of one unit changed (a source's selector, a name, a
        // limit, the policy, an extract option, the jitter, the publisher, a
        // source's URL): only that unit differs.
        for (was, now) in [
            (
                "link_selector = \"ul.list a\"",
                "link_selector = \"ul.news a\"",
            ),
            (
                "org_name = \"示例省科学技术协会\"",
                "org_name = \"示例省科协\"",
            ),
            (
                "parent = \"cast\"\n",
                "parent = \"cast\"\nmin_post_interval_secs = 60\n",
            ),
            (
                "parent = \"cast\"\n",
                "parent = \"cast\"\nreview = \"manual\"\n",
            ),
            (
                "parent = \"cast\"\n",
                "parent = \"cast\"\ncontent_selector = \"#zoom\"\n",
            ),
            (
                "parent = \"cast\"\n",
                "parent = \"cast\"\njitter_secs = 5\n",
            ),
            (
                "cookie_env = \"SX_KX_COOKIE\"",
                "cookie_env = \"SX_KX_COOKIE2\"",
            ),
            ("https://example.org/xwzx/", "https://example.org/tzgg/"),
        ] {
            assert!(shifted.contains(was), "{was}");
            let changed = parse(&shifted.replace(was, now), path).unwrap();
            for u in &new.units {
                let same = changed.unit(&u.id).unwrap().same_config(u);
                assert_eq!(same, u.id != "sx-kx", "{}: {was} -> {now}", u.id);
            }
        }
    }

    #[test]
    fn unit_allows_its_own_site_and_subdomains_only() {
        let c = parse(MINIMAL, Path::new("a.toml")).unwrap();
        let u = &c.units[1];
        assert!(u.allows(&Url::parse("https://example.org/a.html").unwrap()));
        assert!(u.allows(&Url::parse("http://www.example.org/a.html").unwrap()));
        assert!(u.allows(&Url::parse("https://news.example.org/a.html").unwrap()));
        assert!(!u.allows(&Url::parse("https://evil.org/a.html").unwrap()));
        assert!(!u.allows(&Url::parse("https://notexample.org/a.html").unwrap()));
    }

    #[test]
    fn extract_budget_is_a_daemon_option_with_bounds_named_at_its_line() {
        let path = Path::new("/etc/autosync/autosync.toml");
        let c = parse(MINIMAL, path).unwrap();
        assert_eq!(
            c.daemon.extract_budget,
            crate::extract::DEFAULT_EXTRACT_BUDGET
        );
        let with = |v: &str| {
            MINIMAL.replacen(
                "state_dir = \"state\"\n",
                &format!("state_dir = \"state\"\nextract_budget_ms = {v}\n"),
                1,
            )
        };
        let c = parse(&with("250"), path).unwrap();
        assert_eq!(c.daemon.extract_budget, Duration::from_millis(250));
        for bad in ["0", "9", "600001"] {
            assert_eq!(
                errs(&with(bad)),
                [format!(
                    "/etc/autosync/autosync.toml:4: [daemon] extract_budget_ms = {bad}: between 10 and 600000; a page whose extraction takes longer fails like a fetch and is tried again"
                )],
            );
        }
        // A negative number is not a budget either (serde refuses it).
        assert!(!errs(&with("-5")).is_empty());
    }
}
