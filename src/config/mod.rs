//! Configuration: the TOML file ops and unit admins write, parsed, validated
//! and turned into the runtime [`Config`].
//!
//! Two layers, as in vector: `Raw*` structs mirror the file exactly
//! (`deny_unknown_fields`, so a typo is an error rather than a silently
//! ignored option), and [`Config`] is what the rest of the program uses, with
//! every default applied and every cross-reference (parents, cycles) checked.
//! Every error names the file, the line and the unit.

use crate::extract::ExtractOptions;
use crate::fetch::FetchOptions;
use crate::review::Policy;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use url::Url;

/// `[daemon] archive_after_days` when not given: two months of items stay
/// in the database (editors' lists, reconciliation, reports at hand).
pub const DEFAULT_ARCHIVE_AFTER_DAYS: u32 = 60;
const MIN_ARCHIVE_AFTER_DAYS: i64 = 7;

/// Units polled at once by default. Polls wait mostly on the network and on
/// per-host politeness, not on the CPU; 2,000 units need about this many in
/// flight to poll in under a minute (BENCHMARKS.md), and each costs little
/// memory.
pub const DEFAULT_CONCURRENCY: usize = 128;

/// The longest account name the platform accepts, in characters.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 10;

// ---------------------------------------------------------------- raw file

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    daemon: RawDaemon,
    #[serde(default)]
    fetch: RawFetch,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    unit: Vec<RawUnit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    state_dir: PathBuf,
    listen: Option<String>,
    editors_file: Option<PathBuf>,
    timezone: Option<String>,
    concurrency: Option<usize>,
    publish_grace_secs: Option<u64>,
    run_at_start: Option<bool>,
    shutdown_timeout_secs: Option<u64>,
    keep_bodies_days: Option<u32>,
    archive_after_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    user_agent: Option<String>,
    timeout_secs: Option<u64>,
    max_body_bytes: Option<usize>,
    max_redirects: Option<usize>,
    host_delay_ms: Option<u64>,
    respect_robots: Option<bool>,
    proxy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    backfill: Option<usize>,
    schedule: Option<Spanned<String>>,
    jitter_secs: Option<u64>,
    min_post_interval_secs: Option<u64>,
    daily_post_cap: Option<u32>,
    review: Option<Policy>,
    word_lists: Option<Vec<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: Spanned<String>,
    account_name: Spanned<String>,
    org_name: String,
    level: Level,
    parent: Option<Spanned<String>>,
    site: Spanned<String>,
    contact: Option<String>,
    backfill: Option<usize>,
    schedule: Option<Spanned<String>>,
    jitter_secs: Option<u64>,
    min_post_interval_secs: Option<u64>,
    daily_post_cap: Option<u32>,
    review: Option<Policy>,
    word_lists: Option<Vec<PathBuf>>,
    #[serde(default)]
    allow_hosts: Vec<String>,
    content_selector: Option<String>,
    title_selector: Option<String>,
    #[serde(default)]
    source: Vec<Spanned<RawSource>>,
    publisher: Spanned<PublisherConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    feed: Option<String>,
    list: Option<String>,
    link_selector: Option<String>,
    schedule: Option<String>,
}

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

/// The platform an account lives on: the closed registry of publishers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum PublisherConfig {
    /// 头条号 through its web API.
    Toutiao {
        base_url: String,
        /// A file holding the cookie string (relative to the config file).
        cookie_file: Option<PathBuf>,
        /// Or an environment variable holding it.
        cookie_env: Option<String>,
        /// Or a systemd credential (`LoadCredential=`): the file of this name
        /// in `$CREDENTIALS_DIRECTORY`.
        cookie_credential: Option<String>,
    },
    /// One JSON file per published item, for dry runs.
    File { dir: PathBuf },
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
    /// Upper bound of the unit's fixed random delay after each scheduled time.
    pub jitter: Duration,
    /// Per-account publishing limits.
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
    pub publisher: PublisherConfig,
    /// Line of the unit's `id` in the config file, for messages.
    pub line: usize,
}

impl Unit {
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
            publisher,
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
            && *publisher == other.publisher
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
    /// How long shutdown waits for in-flight work.
    pub shutdown_timeout: Duration,
    /// Article bodies of items published or rejected this many days ago are
    /// deleted (the records stay); `None` keeps them for ever.
    pub keep_bodies: Option<chrono::Duration>,
    /// Items published, rejected or seen this many days ago leave the
    /// database for the archive (`None`: never). Keeps the daemon's memory
    /// flat; see `store::archive`.
    pub archive_after: Option<chrono::Duration>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub daemon: Daemon,
    pub fetch: FetchOptions,
    pub units: Vec<Unit>,
    /// From `[daemon] editors_file`; empty when there is none.
    pub editors: Vec<Editor>,
}

impl Config {
    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.id == id)
    }

    /// `id` and every unit below it in the matrix, `id` first.
    pub fn subtree(&self, id: &str) -> Vec<&Unit> {
        let mut out: Vec<&Unit> = self.unit(id).into_iter().collect();
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].id.clone();
            out.extend(
                self.units
                    .iter()
                    .filter(|u| u.parent.as_deref() == Some(cur.as_str())),
            );
            i += 1;
        }
        out
    }
}

/// An editor of the desk, from `[daemon] editors_file`.
#[derive(Debug, Clone)]
pub struct Editor {
    pub name: String,
    pub token: Secret,
    /// The units the editor may act on (exactly these); all units when
    /// `None`.
    pub units: Option<Vec<String>>,
}

impl Editor {
    pub fn may_act_on(&self, unit: &str) -> bool {
        self.units
            .as_ref()
            .is_none_or(|u| u.iter().any(|x| x == unit))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEditors {
    #[serde(default)]
    editor: Vec<RawEditor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEditor {
    name: Spanned<String>,
    token: String,
    units: Option<Vec<String>>,
}

/// Tokens shorter than this are refused: they are the editors' passwords.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Read the editors file; unit names are checked against `config`.
pub fn load_editors(path: &Path, config: &Config) -> Result<Vec<Editor>, ConfigErrors> {
    let one = |line: Option<usize>, message: String| ConfigError {
        file: path.to_path_buf(),
        line,
        unit: None,
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors(vec![one(None, format!("cannot read: {e}"))]))?;
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let raw: RawEditors = toml::from_str(&text).map_err(|e| {
        ConfigErrors(vec![one(
            e.span().map(|s| line_of(s.start)),
            e.message().trim().to_string(),
        )])
    })?;
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut tokens = HashSet::new();
    let mut out = Vec::new();
    for r in raw.editor {
        let line = Some(line_of(r.name.span().start));
        let name = r.name.into_inner();
        if name.trim().is_empty() || !names.insert(name.clone()) {
            errors.push(one(
                line,
                format!("editor name {name:?} is empty or used twice"),
            ));
        }
        if r.token.chars().count() < MIN_TOKEN_CHARS {
            errors.push(one(
                line,
                format!("editor {name:?}: token shorter than {MIN_TOKEN_CHARS} characters"),
            ));
        }
        if !tokens.insert(r.token.clone()) {
            errors.push(one(
                line,
                format!("editor {name:?}: token used by another editor"),
            ));
        }
        for u in r.units.iter().flatten() {
            if config.unit(u).is_none() {
                errors.push(one(
                    line,
                    format!("editor {name:?}: unit {u:?} is not in the config"),
                ));
            }
        }
        out.push(Editor {
            name,
            token: Secret::new(r.token),
            units: r.units,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

// ---------------------------------------------------------------- errors

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub unit: Option<String>,
    pub message: String,
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

// ---------------------------------------------------------------- loading

/// Read and validate a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: None,
            unit: None,
            message: format!("cannot read: {e}"),
        }])
    })?;
    let mut cfg = parse(&text, path)?;
    if let Some(ed) = cfg.daemon.editors_file.clone() {
        cfg.editors = load_editors(&ed, &cfg)?;
    }
    Ok(cfg)
}

/// Parse and validate config text; `path` names it in errors and anchors
/// relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let err = |line: Option<usize>, unit: Option<&str>, message: String| ConfigError {
        file: path.to_path_buf(),
        line,
        unit: unit.map(str::to_string),
        message,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(s.start));
        // Name the unit the error sits in, when it sits in one.
        let unit = e.span().and_then(|s| unit_around(text, s.start));
        let msg = e.message().trim().to_string();
        ConfigErrors(vec![err(line, unit.as_deref(), msg)])
    })?;
    let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut errors = Vec::new();

    let d = raw.daemon;
    let listen = match d.listen.as_deref().unwrap_or("127.0.0.1:8640").parse() {
        Ok(a) => a,
        Err(e) => {
            errors.push(err(None, None, format!("[daemon] listen: {e}")));
            "127.0.0.1:8640".parse().expect("static addr")
        }
    };
    let timezone = match d.timezone.as_deref().unwrap_or("Asia/Shanghai").parse() {
        Ok(tz) => tz,
        Err(e) => {
            errors.push(err(None, None, format!("[daemon] timezone: {e}")));
            chrono_tz::Asia::Shanghai
        }
    };
    let daemon = Daemon {
        state_dir: resolve(&base_dir, &d.state_dir),
        listen,
        editors_file: d.editors_file.map(|p| resolve(&base_dir, &p)),
        timezone,
        concurrency: d.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
        publish_grace: chrono::Duration::seconds(d.publish_grace_secs.unwrap_or(120) as i64),
        run_at_start: d.run_at_start.unwrap_or(true),
        shutdown_timeout: Duration::from_secs(d.shutdown_timeout_secs.unwrap_or(20)),
        keep_bodies: match d.keep_bodies_days {
            None | Some(0) => None,
            Some(n) => Some(chrono::Duration::days(i64::from(n))),
        },
        archive_after: match d.archive_after_days.unwrap_or(DEFAULT_ARCHIVE_AFTER_DAYS) {
            0 => None,
            n => Some(chrono::Duration::days(i64::from(n))),
        },
    };
    if let Some(a) = daemon.archive_after
        && a < chrono::Duration::days(MIN_ARCHIVE_AFTER_DAYS)
    {
        errors.push(err(
            None,
            None,
            format!(
                "[daemon] archive_after_days = {}: at least {MIN_ARCHIVE_AFTER_DAYS} (the daily cap and editors work on recent items), or 0 for never",
                a.num_days()
            ),
        ));
    }
    if let (Some(a), Some(k)) = (daemon.archive_after, daemon.keep_bodies)
        && k > a
    {
        errors.push(err(
            None,
            None,
            format!(
                "[daemon] keep_bodies_days = {} is longer than archive_after_days = {}: bodies are only deleted while their items are in the database; make keep_bodies_days at most archive_after_days, or 0",
                k.num_days(),
                a.num_days()
            ),
        ));
    }
    let check_schedule = |expr: &str| {
        crate::schedule::Schedule::parse(expr)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let defaults = raw.defaults;
    let default_schedule = match &defaults.schedule {
        Some(s) => {
            if let Err(e) = check_schedule(s.get_ref()) {
                errors.push(err(
                    Some(line_of(s.span().start)),
                    None,
                    format!("[defaults] {e}"),
                ));
            }
            s.get_ref().clone()
        }
        None => crate::schedule::DEFAULT_SCHEDULE.to_string(),
    };

    let mut fetch = FetchOptions::default();
    let f = raw.fetch;
    if let Some(ua) = f.user_agent {
        fetch.user_agent = ua;
    }
    if let Some(t) = f.timeout_secs {
        fetch.timeout = Duration::from_secs(t.max(1));
    }
    if let Some(m) = f.max_body_bytes {
        fetch.max_body_bytes = m;
    }
    if let Some(r) = f.max_redirects {
        fetch.max_redirects = r;
    }
    if let Some(ms) = f.host_delay_ms {
        fetch.host_delay = Duration::from_millis(ms);
    }
    if let Some(r) = f.respect_robots {
        fetch.respect_robots = r;
    }
    if let Some(p) = f.proxy {
        match parse_http_url(&p) {
            Ok(u) => fetch.proxy = Some(u),
            Err(e) => errors.push(err(None, None, format!("[fetch] proxy: {e}"))),
        }
    }

    let mut units = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for ru in raw.unit {
        let line = line_of(ru.id.span().start);
        let id = ru.id.get_ref().clone();
        let uerr = |line: usize, message: String| err(Some(line), Some(&id), message);
        if !valid_id(&id) {
            errors.push(uerr(
                line,
                "id must be lowercase letters, digits and '-', starting with a letter or digit"
                    .into(),
            ));
        }
        if let Some(first) = seen.insert(id.clone(), line) {
            errors.push(uerr(
                line,
                format!("duplicate id (first defined on line {first})"),
            ));
        }
        let name_line = line_of(ru.account_name.span().start);
        let account_name = ru.account_name.get_ref().trim().to_string();
        let n = account_name.chars().count();
        if n == 0 || n > MAX_ACCOUNT_NAME_CHARS {
            errors.push(uerr(
                name_line,
                format!(
                    "account_name {account_name:?} has {n} characters; it must have 1 to {MAX_ACCOUNT_NAME_CHARS}"
                ),
            ));
        }
        let site_line = line_of(ru.site.span().start);
        let site = match parse_http_url(ru.site.get_ref()) {
            Ok(u) => Some(u),
            Err(e) => {
                errors.push(uerr(site_line, format!("site: {e}")));
                None
            }
        };
        let mut sources = Vec::new();
        if ru.source.is_empty() {
            errors.push(uerr(
                line,
                "no [[unit.source]]: give at least one feed or list".into(),
            ));
        }
        for rs in &ru.source {
            let sline = line_of(rs.span().start);
            let rs = rs.get_ref();
            if let Some(expr) = &rs.schedule
                && let Err(e) = check_schedule(expr)
            {
                errors.push(uerr(sline, e));
            }
            let (url, kind) = match (&rs.feed, &rs.list) {
                (Some(feed), None) => {
                    if rs.link_selector.is_some() {
                        errors.push(uerr(
                            sline,
                            "link_selector only applies to a list source".into(),
                        ));
                    }
                    (feed, SourceKind::Feed)
                }
                (None, Some(list)) => {
                    if let Some(sel) = &rs.link_selector
                        && let Err(e) = scraper::Selector::parse(sel)
                    {
                        errors.push(uerr(
                            sline,
                            format!("link_selector {sel:?} is not a valid CSS selector: {e}"),
                        ));
                    }
                    (
                        list,
                        SourceKind::List {
                            link_selector: rs.link_selector.clone(),
                        },
                    )
                }
                _ => {
                    errors.push(uerr(
                        sline,
                        "a source takes exactly one of feed = \"…\" or list = \"…\"".into(),
                    ));
                    continue;
                }
            };
            match parse_http_url(url) {
                Ok(url) => sources.push(Source {
                    url,
                    kind,
                    schedule: rs.schedule.clone(),
                }),
                Err(e) => errors.push(uerr(sline, format!("source {url:?}: {e}"))),
            }
        }
        let mut keys = HashSet::new();
        for s in &sources {
            if !keys.insert(s.key()) {
                errors.push(uerr(line, format!("source {} is listed twice", s.url)));
            }
        }
        for sel in [&ru.content_selector, &ru.title_selector]
            .into_iter()
            .flatten()
        {
            if let Err(e) = scraper::Selector::parse(sel) {
                errors.push(uerr(
                    line,
                    format!("selector {sel:?} is not valid CSS: {e}"),
                ));
            }
        }
        let pline = line_of(ru.publisher.span().start);
        let publisher = match ru.publisher.into_inner() {
            PublisherConfig::Toutiao {
                base_url,
                cookie_file,
                cookie_env,
                cookie_credential,
            } => {
                if let Err(e) = parse_http_url(&base_url) {
                    errors.push(uerr(pline, format!("publisher base_url: {e}")));
                }
                let given = [
                    cookie_file.is_some(),
                    cookie_env.is_some(),
                    cookie_credential.is_some(),
                ];
                if given.iter().filter(|g| **g).count() != 1 {
                    errors.push(uerr(
                        pline,
                        "toutiao publisher takes exactly one of cookie_file, cookie_env or cookie_credential".into(),
                    ));
                }
                if let Some(c) = &cookie_credential
                    && (c.is_empty() || c.contains('/'))
                {
                    errors.push(uerr(
                        pline,
                        format!("cookie_credential {c:?} must be a plain file name"),
                    ));
                }
                PublisherConfig::Toutiao {
                    base_url,
                    cookie_file: cookie_file.map(|p| resolve(&base_dir, &p)),
                    cookie_env,
                    cookie_credential,
                }
            }
            PublisherConfig::File { dir } => PublisherConfig::File {
                dir: resolve(&base_dir, &dir),
            },
        };
        let schedule = match &ru.schedule {
            Some(s) => {
                if let Err(e) = check_schedule(s.get_ref()) {
                    errors.push(uerr(line_of(s.span().start), e));
                }
                s.get_ref().clone()
            }
            None => default_schedule.clone(),
        };
        let word_lists: Vec<PathBuf> = ru
            .word_lists
            .clone()
            .or(defaults.word_lists.clone())
            .unwrap_or_default()
            .iter()
            .map(|p| resolve(&base_dir, p))
            .collect();
        for wl in &word_lists {
            if let Err(e) = crate::review::WordList::load(wl) {
                errors.push(uerr(line, format!("word_lists: {e}")));
            }
        }
        let review = ru.review.or(defaults.review).unwrap_or_default();
        if review == Policy::Keywords && word_lists.is_empty() {
            errors.push(uerr(
                line,
                "review = \"keywords\" needs word_lists = [\"…\"]".into(),
            ));
        }
        let Some(site) = site else { continue };
        units.push(Unit {
            parent: ru.parent.as_ref().map(|p| p.get_ref().clone()),
            id,
            account_name,
            org_name: ru.org_name,
            level: ru.level,
            site,
            contact: ru.contact,
            backfill: ru.backfill.or(defaults.backfill).unwrap_or(0),
            schedule,
            jitter: Duration::from_secs(ru.jitter_secs.or(defaults.jitter_secs).unwrap_or(30)),
            limits: Limits {
                min_interval: Duration::from_secs(
                    ru.min_post_interval_secs
                        .or(defaults.min_post_interval_secs)
                        .unwrap_or(0),
                ),
                daily_cap: ru.daily_post_cap.or(defaults.daily_post_cap),
            },
            review,
            word_lists,
            allow_hosts: ru.allow_hosts,
            extract: ExtractOptions {
                content_selector: ru.content_selector,
                title_selector: ru.title_selector,
            },
            sources,
            publisher,
            line,
        });
    }

    // Parents must exist and the matrix must be a tree.
    for u in &units {
        if let Some(p) = &u.parent {
            if !seen.contains_key(p) {
                errors.push(err(
                    Some(u.line),
                    Some(&u.id),
                    format!("parent {p:?} is not a unit in this file"),
                ));
            } else if p == &u.id {
                errors.push(err(
                    Some(u.line),
                    Some(&u.id),
                    "a unit cannot be its own parent".into(),
                ));
            }
        }
    }
    for u in &units {
        let mut cur = u.parent.clone();
        let mut steps = 0;
        while let Some(p) = cur {
            if p == u.id && steps > 0 {
                errors.push(err(
                    Some(u.line),
                    Some(&u.id),
                    "parent chain loops back to this unit".into(),
                ));
                break;
            }
            steps += 1;
            if steps > units.len() {
                break;
            }
            cur = units
                .iter()
                .find(|x| x.id == p)
                .and_then(|x| x.parent.clone());
        }
    }

    if errors.is_empty() {
        Ok(Config {
            path: path.to_path_buf(),
            daemon,
            fetch,
            units,
            editors: Vec::new(),
        })
    } else {
        Err(ConfigErrors(errors))
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
}

fn parse_http_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match u.scheme() {
        "http" | "https" if u.host_str().is_some() => Ok(u),
        _ => Err(format!("{s:?} is not an http(s) URL")),
    }
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
    use super::*;

    const MINIMAL: &str = r#"
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

    fn errs(text: &str) -> Vec<String> {
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
            format!("{f}: [daemon] listen: invalid socket address syntax"),
            format!("{f}: [daemon] timezone: failed to parse timezone"),
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
    fn keep_bodies_days_zero_or_absent_keeps_for_ever() {
        let with = |v: &str| {
            let text = MINIMAL.replace(
                "state_dir = \"state\"",
                &format!("state_dir = \"state\"\nkeep_bodies_days = {v}"),
            );
            parse(&text, Path::new("/a.toml"))
                .unwrap()
                .daemon
                .keep_bodies
        };
        assert_eq!(with("0"), None);
        assert_eq!(with("30"), Some(chrono::Duration::days(30)));
        let c = parse(MINIMAL, Path::new("/a.toml")).unwrap();
        assert_eq!(c.daemon.keep_bodies, None);
        assert!(
            !errs(&MINIMAL.replace(
                "state_dir = \"state\"",
                "state_dir = \"state\"\nkeep_bodies_days = -1"
            ))
            .is_empty()
        );
    }

    #[test]
    fn archive_after_days_defaults_to_60_and_is_checked() {
        let with = |extra: &str| {
            MINIMAL.replace(
                "state_dir = \"state\"",
                &format!("state_dir = \"state\"\n{extra}"),
            )
        };
        let p = Path::new("/a.toml");
        assert_eq!(
            parse(MINIMAL, p).unwrap().daemon.archive_after,
            Some(chrono::Duration::days(60))
        );
        assert_eq!(
            parse(&with("archive_after_days = 0"), p)
                .unwrap()
                .daemon
                .archive_after,
            None
        );
        let e = errs(&with("archive_after_days = 3"));
        assert!(
            e.iter().any(|e| e.contains("archive_after_days = 3")),
            "{e:?}"
        );
        let e = errs(&with("archive_after_days = 30\nkeep_bodies_days = 90"));
        assert!(
            e.iter().any(|e| e.contains("keep_bodies_days = 90")),
            "{e:?}"
        );
        assert!(parse(&with("archive_after_days = 30\nkeep_bodies_days = 30"), p).is_ok());
        assert!(parse(&with("archive_after_days = 0\nkeep_bodies_days = 365"), p).is_ok());
    }

    #[test]
    fn minimal_config_parses_with_defaults() {
        let c = parse(MINIMAL, Path::new("/etc/autosync/autosync.toml")).unwrap();
        assert_eq!(c.units.len(), 2);
        assert_eq!(c.daemon.state_dir, Path::new("/etc/autosync/state"));
        assert_eq!(c.units[1].parent.as_deref(), Some("cast"));
        assert_eq!(c.units[1].line, 18);
        assert_eq!(c.subtree("cast").len(), 2);
        assert!(matches!(c.units[0].publisher, PublisherConfig::File { .. }));
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

    #[test]
    fn account_name_longer_than_ten_characters_is_refused() {
        let e = errs(&MINIMAL.replace("示例省科协", "示例省科学技术协会官方账号"));
        assert!(
            e.iter()
                .any(|m| m.contains("unit sx-kx") && m.contains("13 characters")),
            "{e:?}"
        );
    }

    #[test]
    fn missing_parent_and_cycles_are_refused() {
        let e = errs(&MINIMAL.replace("parent = \"cast\"", "parent = \"nope\""));
        assert!(e.iter().any(|m| m.contains("parent \"nope\"")), "{e:?}");
        let cyc = MINIMAL.replace(
            "level = \"national\"",
            "level = \"national\"\nparent = \"sx-kx\"",
        );
        let e = errs(&cyc);
        assert!(e.iter().any(|m| m.contains("loops")), "{e:?}");
    }

    #[test]
    fn bad_ids_duplicates_and_sources_are_refused() {
        assert!(!errs(&MINIMAL.replace("id = \"cast\"", "id = \"CAST\"")).is_empty());
        let dup = MINIMAL.replace("id = \"sx-kx\"", "id = \"cast\"");
        assert!(errs(&dup).iter().any(|m| m.contains("duplicate")));
        let both = MINIMAL.replace(
            "feed = \"https://www.cast.org.cn/rss.xml\"",
            "feed = \"https://www.cast.org.cn/rss.xml\"\n  list = \"https://www.cast.org.cn/\"",
        );
        assert!(
            errs(&both)
                .iter()
                .any(|m| m.contains("exactly one of feed"))
        );
        let badsel = MINIMAL.replace("ul.list a", "ul..list");
        assert!(errs(&badsel).iter().any(|m| m.contains("not a valid CSS")));
    }

    #[test]
    fn toutiao_needs_exactly_one_cookie_source() {
        let e = errs(&MINIMAL.replace("cookie_env = \"SX_KX_COOKIE\"", ""));
        assert!(
            e.iter()
                .any(|m| m.contains("cookie_file, cookie_env or cookie_credential")),
            "{e:?}"
        );
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
    fn fetch_proxy_is_an_http_url() {
        let with = |v: &str| {
            MINIMAL.replacen(
                "[[unit]]",
                &format!("[fetch]\nproxy = {v:?}\n\n[[unit]]"),
                1,
            )
        };
        let c = parse(&with("http://proxy.example.org:3128"), Path::new("/a.toml")).unwrap();
        assert_eq!(
            c.fetch.proxy.map(|u| u.to_string()).as_deref(),
            Some("http://proxy.example.org:3128/")
        );
        let e = errs(&with("socks5://proxy.example.org:1080"));
        assert!(e.iter().any(|m| m.contains("[fetch] proxy")), "{e:?}");
    }
}
