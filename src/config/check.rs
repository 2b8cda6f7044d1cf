//! Validation: the raw file (`raw.rs`) checked part by part and turned into
//! the runtime types, every default applied and every path resolved.
//!
//! One small `check_*` function a part of the file or a rule. Each reads its
//! raw part, pushes what is wrong onto the [`Checker`] and returns the
//! runtime value (or `None` where there is none to build), so that one pass
//! reports every problem in the file, not just the first. [`super::parse`]
//! calls them in one fixed order — `[daemon]`, `[defaults]`, `[fetch]`, the
//! `[[unit]]`s as they come, then the matrix of parents — and the errors
//! come out in that order (pinned by the test
//! `every_error_keeps_its_text_line_unit_and_order` in `mod.rs`).

use super::Account;
use super::raw::{RawDaemon, RawDefaults, RawFetch, RawSource, RawUnit};
use super::{
    ConfigError, ConfigErrors, DEFAULT_ARCHIVE_AFTER_DAYS, DEFAULT_CONCURRENCY,
    DEFAULT_MAX_NEW_PER_POLL, DEFAULT_UNDO_REJECT_DAYS, Daemon, Limits, MAX_ACCOUNT_NAME_CHARS,
    PublisherConfig, Silence, Source, SourceKind, Unit,
};
use crate::extract::ExtractOptions;
use crate::fetch::FetchOptions;
use crate::publish::source_line::SourceLine;
use crate::review::Policy;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use url::Url;

/// Shorter archive windows are refused: the daily cap and the editors work
/// on recent items, which must still be in the database.
pub(super) const MIN_ARCHIVE_AFTER_DAYS: i64 = 7;

/// What the checks share: the file (its name for messages, its text for
/// lines, its directory for relative paths) and the errors found so far.
pub(super) struct Checker<'a> {
    lines: super::error::Lines,
    path: &'a Path,
    base_dir: PathBuf,
    errors: Vec<ConfigError>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(text: &'a str, path: &'a Path) -> Self {
        Checker {
            lines: super::error::Lines::new(text),
            path,
            base_dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            errors: Vec::new(),
        }
    }

    /// `value` when no check found a problem, else every problem found.
    pub(super) fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }

    pub(super) fn line_of(&self, offset: usize) -> usize {
        self.lines.line(offset)
    }

    /// A problem outside any unit (`[daemon]`, `[fetch]`, `[defaults]`).
    fn file_error(&mut self, line: Option<usize>, message: String) {
        let e = ConfigError::new(self.path, line, None, message);
        self.errors.push(e);
    }

    /// A problem of unit `id`, at `line`.
    fn unit_error(&mut self, id: &str, line: usize, message: String) {
        let e = ConfigError::new(self.path, Some(line), Some(id), message);
        self.errors.push(e);
    }

    /// `p` as written, when absolute; else relative to the config file.
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

// ---------------------------------------------------------------- sections

/// `[daemon]`: the listen address and the time zone parse, the retention
/// windows agree; defaults for the rest.
pub(super) fn check_daemon(c: &mut Checker, d: RawDaemon) -> Daemon {
    // Each error at the line of its key (a default cannot be wrong).
    let line =
        |c: &Checker, v: &Option<Spanned<String>>| v.as_ref().map(|s| c.line_of(s.span().start));
    let text = |v: &Option<Spanned<String>>, default: &'static str| {
        v.as_ref()
            .map_or(default.to_string(), |s| s.get_ref().clone())
    };
    let listen = match text(&d.listen, "127.0.0.1:8640").parse() {
        Ok(a) => a,
        Err(e) => {
            let l = line(c, &d.listen);
            c.file_error(l, format!("[daemon] listen: {e}"));
            "127.0.0.1:8640".parse().expect("static addr")
        }
    };
    let timezone = match text(&d.timezone, "Asia/Shanghai").parse() {
        Ok(tz) => tz,
        Err(e) => {
            let l = line(c, &d.timezone);
            c.file_error(l, format!("[daemon] timezone: {e}"));
            chrono_tz::Asia::Shanghai
        }
    };
    // Numbers that would silently mean something else (a pool of no
    // polls, a grace beyond what a date can hold) are refused, named.
    let at_least_one = |c: &mut Checker, key: &str, v: Option<usize>| {
        if v == Some(0) {
            c.file_error(None, format!("[daemon] {key} = 0: at least 1"));
        }
    };
    at_least_one(c, "concurrency", d.concurrency);
    at_least_one(c, "max_new_per_poll", d.max_new_per_poll);
    const MAX_GRACE_SECS: u64 = 7 * 24 * 3600;
    let grace_secs = match d.publish_grace_secs {
        Some(n) if n > MAX_GRACE_SECS => {
            c.file_error(
                None,
                format!(
                    "[daemon] publish_grace_secs = {n}: at most {MAX_GRACE_SECS} (a week); an item whose outcome is unknown waits this long before it is sent again"
                ),
            );
            MAX_GRACE_SECS
        }
        Some(n) => n,
        None => 120,
    };
    let shard = d
        .shard
        .and_then(|s| match s.get_ref().parse::<crate::shard::Shard>() {
            Ok(s) => Some(s),
            Err(e) => {
                let line = c.line_of(s.span().start);
                c.file_error(Some(line), format!("[daemon] shard: {e}"));
                None
            }
        });
    let mut desk_trusted_proxies = Vec::new();
    if let Some(list) = d.desk_trusted_proxies {
        let l = Some(c.line_of(list.span().start));
        for a in list.into_inner() {
            match a.trim().parse::<std::net::IpAddr>() {
                Ok(ip) => desk_trusted_proxies.push(ip),
                Err(e) => c.file_error(
                    l,
                    format!("[daemon] desk_trusted_proxies: {a:?}: {e} (an IP address, no port)"),
                ),
            }
        }
    }
    let extract_budget = check_extract_budget(c, d.extract_budget_ms);
    let daemon = Daemon {
        extract_budget,
        shard,
        desk_secure_cookie: d.desk_secure_cookie.unwrap_or(false),
        desk_trusted_proxies,
        state_dir: c.resolve(&d.state_dir),
        listen,
        editors_file: d.editors_file.map(|p| c.resolve(&p)),
        timezone,
        concurrency: d.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
        publish_grace: chrono::Duration::seconds(grace_secs as i64),
        run_at_start: d.run_at_start.unwrap_or(true),
        max_new_per_poll: d
            .max_new_per_poll
            .unwrap_or(DEFAULT_MAX_NEW_PER_POLL)
            .max(1),
        shutdown_timeout: Duration::from_secs(d.shutdown_timeout_secs.unwrap_or(20)),
        keep_bodies: match d.keep_bodies_days {
            None | Some(0) => None,
            Some(n) => Some(chrono::Duration::days(i64::from(n))),
        },
        undo_reject: chrono::Duration::days(i64::from(
            d.undo_reject_days.unwrap_or(DEFAULT_UNDO_REJECT_DAYS),
        )),
        archive_after: match d.archive_after_days.unwrap_or(DEFAULT_ARCHIVE_AFTER_DAYS) {
            0 => None,
            n => Some(chrono::Duration::days(i64::from(n))),
        },
    };
    check_retention(c, &daemon);
    daemon
}

/// `extract_budget_ms`, within bounds: below [`MIN_EXTRACT_BUDGET_MS`] real
/// pages on a loaded machine would fail for nothing, above
/// [`MAX_EXTRACT_BUDGET_MS`] a hostile page holds a blocking thread and its
/// unit for minutes.
fn check_extract_budget(c: &mut Checker, v: Option<Spanned<u64>>) -> Duration {
    use crate::extract::{DEFAULT_EXTRACT_BUDGET, MAX_EXTRACT_BUDGET_MS, MIN_EXTRACT_BUDGET_MS};
    let Some(v) = v else {
        return DEFAULT_EXTRACT_BUDGET;
    };
    let ms = *v.get_ref();
    if (MIN_EXTRACT_BUDGET_MS..=MAX_EXTRACT_BUDGET_MS).contains(&ms) {
        return Duration::from_millis(ms);
    }
    let line = c.line_of(v.span().start);
    c.file_error(
        Some(line),
        format!(
            "[daemon] extract_budget_ms = {ms}: between {MIN_EXTRACT_BUDGET_MS} and {MAX_EXTRACT_BUDGET_MS}; a page whose extraction takes longer fails like a fetch and is tried again"
        ),
    );
    DEFAULT_EXTRACT_BUDGET
}

/// `archive_after_days` is at least [`MIN_ARCHIVE_AFTER_DAYS`] (or never),
/// and bodies are not kept longer than their items stay in the database.
fn check_retention(c: &mut Checker, daemon: &Daemon) {
    if let Some(a) = daemon.archive_after
        && a < chrono::Duration::days(MIN_ARCHIVE_AFTER_DAYS)
    {
        c.file_error(
            None,
            format!(
                "[daemon] archive_after_days = {}: at least {MIN_ARCHIVE_AFTER_DAYS} (the daily cap and editors work on recent items), or 0 for never",
                a.num_days()
            ),
        );
    }
    if let (Some(a), Some(k)) = (daemon.archive_after, daemon.keep_bodies)
        && k > a
    {
        c.file_error(
            None,
            format!(
                "[daemon] keep_bodies_days = {} is longer than archive_after_days = {}: bodies are only deleted while their items are in the database; make keep_bodies_days at most archive_after_days, or 0",
                k.num_days(),
                a.num_days()
            ),
        );
    }
}

/// `[defaults] schedule`, or the built-in one: the schedule of every unit
/// without its own.
pub(super) fn check_default_schedule(c: &mut Checker, defaults: &RawDefaults) -> String {
    match &defaults.schedule {
        Some(s) => {
            if let Err(e) = valid_schedule(s.get_ref()) {
                let line = c.line_of(s.span().start);
                c.file_error(Some(line), format!("[defaults] {e}"));
            }
            s.get_ref().clone()
        }
        None => crate::schedule::DEFAULT_SCHEDULE.to_string(),
    }
}

/// What is wrong with an update clock of `max` days that warns at `warn`
/// days, if anything: an inspection fails an account silent for `max` days,
/// so it is at least one, and a warning after that would come too late.
fn silence_problem(max: u32, warn: &[u32]) -> Option<String> {
    if max == 0 {
        return Some("max_silence_days = 0: at least 1 (days without a post before an inspection fails the account)".into());
    }
    let late: Vec<String> = warn
        .iter()
        .filter(|d| **d == 0 || **d >= max)
        .map(u32::to_string)
        .collect();
    (!late.is_empty()).then(|| {
        format!(
            "silence_warn_days {}: each must be from 1 to max_silence_days - 1 = {}",
            late.join(", "),
            max - 1
        )
    })
}

/// `[defaults] max_silence_days` and `silence_warn_days` agree with each
/// other (a unit that overrides one is checked with its own).
pub(super) fn check_default_silence(c: &mut Checker, d: &RawDefaults) {
    let max = d
        .max_silence_days
        .as_ref()
        .map_or(super::DEFAULT_MAX_SILENCE_DAYS, |m| *m.get_ref());
    let Some(warn) = d.silence_warn_days.as_ref() else {
        if let Some(m) = &d.max_silence_days
            && let Some(e) = silence_problem(max, &[])
        {
            let line = c.line_of(m.span().start);
            c.file_error(Some(line), format!("[defaults] {e}"));
        }
        return;
    };
    if let Some(e) = silence_problem(max, warn.get_ref()) {
        let at = d.max_silence_days.as_ref().map_or(warn.span(), |m| {
            if max == 0 { m.span() } else { warn.span() }
        });
        let line = c.line_of(at.start);
        c.file_error(Some(line), format!("[defaults] {e}"));
    }
}

/// The unit's update clock: its own values over `[defaults]` over the
/// built-in ones. The built-in warnings that a shorter `max_silence_days`
/// leaves no room for are dropped (a province of ten days need not restate
/// them); warnings the file gives must fit, or the unit is in error (one
/// reported by [`check_default_silence`] is not reported again per unit).
fn check_unit_silence(
    c: &mut Checker,
    id: &str,
    (own_max, own_warn): (Option<&Spanned<u32>>, Option<&Spanned<Vec<u32>>>),
    d: &RawDefaults,
) -> Silence {
    let max = own_max.or(d.max_silence_days.as_ref());
    let warn = own_warn.or(d.silence_warn_days.as_ref());
    let max_days = max.map_or(super::DEFAULT_MAX_SILENCE_DAYS, |m| *m.get_ref());
    let mut warn_days = match warn {
        Some(w) => w.get_ref().clone(),
        None => super::DEFAULT_SILENCE_WARN_DAYS
            .into_iter()
            .filter(|d| *d < max_days)
            .collect(),
    };
    let own = [own_max.map(Spanned::span), own_warn.map(Spanned::span)];
    if let Some(span) = own.iter().flatten().next()
        && let Some(e) = silence_problem(max_days, &warn_days)
    {
        let line = c.line_of(span.start);
        c.unit_error(id, line, e);
    }
    warn_days.sort_unstable();
    warn_days.dedup();
    Silence {
        max_days: max_days.max(1),
        warn_days,
    }
}

/// `[defaults] source_line` parses (reported once here, not per unit).
/// The source line of units without one of their own: `[defaults]`'s
/// (`None` when it turns the line off, or is reported here as bad), else
/// the built-in one. Parsed once and shared by those units.
pub(super) fn check_default_source_line(c: &mut Checker, d: &RawDefaults) -> Option<SourceLine> {
    match &d.source_line {
        None => Some(SourceLine::default_line()),
        Some(t) => SourceLine::parse(t.get_ref()).unwrap_or_else(|e| {
            let line = c.line_of(t.span().start);
            c.file_error(Some(line), format!("[defaults] {e}"));
            None
        }),
    }
}

/// The unit's source line: its own template over `fallback` (see
/// [`check_default_source_line`]). An unknown placeholder is an error at
/// the unit's line.
fn check_source_line(
    c: &mut Checker,
    id: &str,
    own: Option<&Spanned<String>>,
    fallback: &Option<SourceLine>,
) -> Option<SourceLine> {
    match own {
        Some(t) => SourceLine::parse(t.get_ref()).unwrap_or_else(|e| {
            let line = c.line_of(t.span().start);
            c.unit_error(id, line, e);
            None
        }),
        None => fallback.clone(),
    }
}

/// `[fetch]` over [`FetchOptions::default`]; the proxy is an http(s) URL.
pub(super) fn check_fetch(c: &mut Checker, f: RawFetch) -> FetchOptions {
    let mut fetch = FetchOptions::default();
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
            Err(e) => c.file_error(None, format!("[fetch] proxy: {e}")),
        }
    }
    fetch
}

// ---------------------------------------------------------------- a unit

/// One `[[unit]]`, over `[defaults]`. Its id goes into `seen` (id → line of
/// its first unit) even when the unit has errors. `None` when its site is
/// unusable: there is no unit to build then, only errors.
pub(super) fn check_unit(
    c: &mut Checker,
    ru: RawUnit,
    defaults: &RawDefaults,
    default_schedule: &str,
    default_source_line: &Option<SourceLine>,
    seen: &mut BTreeMap<String, usize>,
) -> Option<Unit> {
    let line = c.line_of(ru.id.span().start);
    let id = ru.id.into_inner();
    check_unit_id(c, &id, line, seen);
    let account_name = check_account_name(c, &id, &ru.account_name);
    let site = check_site(c, &id, &ru.site);
    let sources = check_sources(c, &id, line, &ru.source);
    check_selectors(c, &id, line, [&ru.content_selector, &ru.title_selector]);
    let silence = check_unit_silence(
        c,
        &id,
        (ru.max_silence_days.as_ref(), ru.silence_warn_days.as_ref()),
        defaults,
    );
    let source_line = check_source_line(c, &id, ru.source_line.as_ref(), default_source_line);
    let limits = Limits {
        min_interval: Duration::from_secs(
            ru.min_post_interval_secs
                .or(defaults.min_post_interval_secs)
                .unwrap_or(0),
        ),
        daily_cap: ru.daily_post_cap.or(defaults.daily_post_cap),
    };
    let accounts = check_accounts(c, &id, &account_name, &limits, ru.publisher);
    let schedule = check_unit_schedule(c, &id, ru.schedule.as_ref(), default_schedule);
    let word_lists = check_word_lists(
        c,
        &id,
        line,
        ru.word_lists
            .or(defaults.word_lists.clone())
            .unwrap_or_default(),
    );
    let review = ru.review.or(defaults.review).unwrap_or_default();
    check_review(c, &id, line, review, &word_lists);
    let site = site?;
    // Held for the daemon's life, 20,000 times over: no spare capacity
    // (pushing two accounts reserved room for four, ~700 bytes a unit).
    let (mut sources, mut accounts, mut word_lists, mut allow_hosts) =
        (sources, accounts, word_lists, ru.allow_hosts);
    sources.shrink_to_fit();
    accounts.shrink_to_fit();
    word_lists.shrink_to_fit();
    allow_hosts.shrink_to_fit();
    Some(Unit {
        parent: ru.parent.map(Spanned::into_inner),
        id,
        account_name,
        org_name: ru.org_name,
        level: ru.level,
        site,
        contact: ru.contact,
        backfill: ru.backfill.or(defaults.backfill).unwrap_or(0),
        schedule,
        jitter: ru
            .jitter_secs
            .or(defaults.jitter_secs)
            .map(Duration::from_secs),
        limits,
        review,
        word_lists,
        allow_hosts,
        extract: ExtractOptions {
            content_selector: ru.content_selector,
            title_selector: ru.title_selector,
            // Set per page by whoever fetched it.
            fetched_at: None,
        },
        sources,
        accounts,
        silence,
        source_line,
        line,
    })
}

/// The id's shape (it names the unit in the store, URLs and the CLI), and
/// only one unit per id.
fn check_unit_id(c: &mut Checker, id: &str, line: usize, seen: &mut BTreeMap<String, usize>) {
    if !valid_id(id) {
        c.unit_error(
            id,
            line,
            "id must be lowercase letters, digits and '-', starting with a letter or digit".into(),
        );
    }
    if let Some(first) = seen.insert(id.to_string(), line) {
        c.unit_error(
            id,
            line,
            format!("duplicate id (first defined on line {first})"),
        );
    }
}

/// The account's name, trimmed: 1 to [`MAX_ACCOUNT_NAME_CHARS`] characters,
/// what the platform accepts.
fn check_account_name(c: &mut Checker, id: &str, name: &Spanned<String>) -> String {
    let line = c.line_of(name.span().start);
    let account_name = name.get_ref().trim().to_string();
    let n = account_name.chars().count();
    if n == 0 || n > MAX_ACCOUNT_NAME_CHARS {
        c.unit_error(
            id,
            line,
            format!(
                "account_name {account_name:?} has {n} characters; it must have 1 to {MAX_ACCOUNT_NAME_CHARS}"
            ),
        );
    }
    account_name
}

/// The site is an http(s) URL; `None` when it is not.
fn check_site(c: &mut Checker, id: &str, site: &Spanned<String>) -> Option<Url> {
    let line = c.line_of(site.span().start);
    match parse_http_url(site.get_ref()) {
        Ok(u) => Some(u),
        Err(e) => {
            c.unit_error(id, line, format!("site: {e}"));
            None
        }
    }
}

/// Each source valid, none listed twice (same kind and URL). The sources
/// that are valid. None at all is valid: the unit is bound by its `site`,
/// whose sources the daemon discovers (`site_binding`).
fn check_sources(
    c: &mut Checker,
    id: &str,
    line: usize,
    raw: &[Spanned<RawSource>],
) -> Vec<Source> {
    let sources: Vec<Source> = raw
        .iter()
        .filter_map(|rs| check_source(c, id, rs))
        .collect();
    let mut keys = HashSet::new();
    for s in &sources {
        if !keys.insert(s.key()) {
            c.unit_error(id, line, format!("source {} is listed twice", s.url));
        }
    }
    sources
}

/// One `[[unit.source]]`: its own schedule, if any, is valid; exactly one of
/// `feed` or `list`, an http(s) URL; a `link_selector` only on a list, and
/// valid CSS.
fn check_source(c: &mut Checker, id: &str, rs: &Spanned<RawSource>) -> Option<Source> {
    let line = c.line_of(rs.span().start);
    let rs = rs.get_ref();
    if let Some(expr) = &rs.schedule
        && let Err(e) = valid_schedule(expr)
    {
        c.unit_error(id, line, e);
    }
    let (url, kind) = match (&rs.feed, &rs.list) {
        (Some(feed), None) => {
            if rs.link_selector.is_some() {
                c.unit_error(
                    id,
                    line,
                    "link_selector only applies to a list source".into(),
                );
            }
            (feed, SourceKind::Feed)
        }
        (None, Some(list)) => {
            if let Some(sel) = &rs.link_selector
                && let Err(e) = scraper::Selector::parse(sel)
            {
                c.unit_error(
                    id,
                    line,
                    format!("link_selector {sel:?} is not a valid CSS selector: {e}"),
                );
            }
            (
                list,
                SourceKind::List {
                    link_selector: rs.link_selector.clone(),
                },
            )
        }
        _ => {
            c.unit_error(
                id,
                line,
                "a source takes exactly one of feed = \"…\" or list = \"…\"".into(),
            );
            return None;
        }
    };
    match parse_http_url(url) {
        Ok(url) => Some(Source {
            url,
            kind,
            schedule: rs.schedule.clone(),
        }),
        Err(e) => {
            c.unit_error(id, line, format!("source {url:?}: {e}"));
            None
        }
    }
}

/// `content_selector` and `title_selector` are valid CSS.
fn check_selectors(c: &mut Checker, id: &str, line: usize, selectors: [&Option<String>; 2]) {
    for sel in selectors.into_iter().flatten() {
        if let Err(e) = scraper::Selector::parse(sel) {
            c.unit_error(id, line, format!("selector {sel:?} is not valid CSS: {e}"));
        }
    }
}

/// `[unit.publisher]` (one account) or `[[unit.publisher]]` (several):
/// each table's own limits (`min_post_interval_secs`, `daily_post_cap`,
/// else the unit's, else the platform's quota), its platform options checked
/// by the platform itself (`src/publish/<kind>/`), paths resolved against
/// the config file; every account of a unit has a name of its own.
fn check_accounts(
    c: &mut Checker,
    id: &str,
    unit_account: &str,
    unit_limits: &Limits,
    publisher: Spanned<toml::Value>,
) -> Vec<Account> {
    let line = c.line_of(publisher.span().start);
    let tables = match publisher.into_inner() {
        toml::Value::Table(t) => vec![t],
        toml::Value::Array(a) => {
            let mut tables = Vec::new();
            for v in a {
                match v {
                    toml::Value::Table(t) => tables.push(t),
                    _ => c.unit_error(
                        id,
                        line,
                        "publisher: each [[unit.publisher]] must be a table".into(),
                    ),
                }
            }
            tables
        }
        _ => {
            c.unit_error(
                id,
                line,
                "publisher must be a table ([unit.publisher]) or tables ([[unit.publisher]])"
                    .into(),
            );
            return Vec::new();
        }
    };
    if tables.is_empty() {
        c.unit_error(id, line, "a unit needs at least one publisher".into());
    }
    let mut accounts: Vec<Account> = Vec::new();
    for mut t in tables {
        let mut limits = unit_limits.clone();
        if let Some(v) = t.remove("min_post_interval_secs") {
            match v.as_integer().and_then(|n| u64::try_from(n).ok()) {
                Some(n) => limits.min_interval = Duration::from_secs(n),
                None => c.unit_error(
                    id,
                    line,
                    "publisher min_post_interval_secs: a whole number of seconds".into(),
                ),
            }
        }
        if let Some(v) = t.remove("daily_post_cap") {
            match v.as_integer().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => limits.daily_cap = Some(n),
                None => c.unit_error(id, line, "publisher daily_post_cap: a whole number".into()),
            }
        }
        let mut p = match toml::Value::Table(t).try_into::<PublisherConfig>() {
            Ok(p) => p,
            Err(e) => {
                c.unit_error(id, line, format!("publisher: {}", e.message()));
                continue;
            }
        };
        // The platform knows its own options.
        p.resolve_paths(&c.base_dir);
        for problem in p.validate() {
            c.unit_error(id, line, problem);
        }
        // The platform's own quota when nobody says otherwise.
        limits.daily_cap = limits.daily_cap.or(p.default_daily_cap());
        let name = p.account_name().unwrap_or(unit_account).to_string();
        if accounts.iter().any(|a| a.name == name) {
            c.unit_error(
                id,
                line,
                format!(
                    "two publishers for account {name:?}: give each [[unit.publisher]] its own account_name"
                ),
            );
            continue;
        }
        accounts.push(Account {
            name,
            publisher: p,
            limits,
        });
    }
    accounts
}

/// The unit's own schedule is valid; else `[defaults]`'s.
fn check_unit_schedule(
    c: &mut Checker,
    id: &str,
    schedule: Option<&Spanned<String>>,
    default_schedule: &str,
) -> String {
    match schedule {
        Some(s) => {
            if let Err(e) = valid_schedule(s.get_ref()) {
                let line = c.line_of(s.span().start);
                c.unit_error(id, line, e);
            }
            s.get_ref().clone()
        }
        None => default_schedule.to_string(),
    }
}

/// Every word list (the unit's, else `[defaults]`'s) loads, whatever the
/// review policy; resolved against the config file.
fn check_word_lists(c: &mut Checker, id: &str, line: usize, lists: Vec<PathBuf>) -> Vec<PathBuf> {
    let lists: Vec<PathBuf> = lists.iter().map(|p| c.resolve(p)).collect();
    for wl in &lists {
        if let Err(e) = crate::review::WordList::load(wl) {
            c.unit_error(id, line, format!("word_lists: {e}"));
        }
    }
    lists
}

/// The `keywords` policy has word lists to check.
fn check_review(c: &mut Checker, id: &str, line: usize, review: Policy, word_lists: &[PathBuf]) {
    if review == Policy::Keywords && word_lists.is_empty() {
        c.unit_error(
            id,
            line,
            "review = \"keywords\" needs word_lists = [\"…\"]".into(),
        );
    }
}

// ---------------------------------------------------------------- the matrix

/// Every parent is a unit of this file (`seen`: every id, also of units
/// dropped for errors), and not the unit itself.
pub(super) fn check_parents(c: &mut Checker, units: &[Unit], seen: &BTreeMap<String, usize>) {
    for u in units {
        if let Some(p) = &u.parent {
            if !seen.contains_key(p) {
                c.unit_error(
                    &u.id,
                    u.line,
                    format!("parent {p:?} is not a unit in this file"),
                );
            } else if p == &u.id {
                c.unit_error(&u.id, u.line, "a unit cannot be its own parent".into());
            }
        }
    }
}

/// No parent chain comes back to where it started: the matrix is a tree.
pub(super) fn check_cycles(c: &mut Checker, units: &[Unit]) {
    for u in units {
        let mut cur = u.parent.clone();
        let mut steps = 0;
        while let Some(p) = cur {
            if p == u.id && steps > 0 {
                c.unit_error(&u.id, u.line, "parent chain loops back to this unit".into());
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
}

// ---------------------------------------------------------------- helpers

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
}

pub fn parse_http_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match u.scheme() {
        "http" | "https" if u.host_str().is_some() => Ok(u),
        _ => Err(format!("{s:?} is not an http(s) URL")),
    }
}

/// A cron expression the scheduler accepts; its error message, else.
fn valid_schedule(expr: &str) -> Result<(), String> {
    crate::schedule::Schedule::parse(expr)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::tests::{MINIMAL, errs};
    use std::path::Path;

    /// Guards a panic found on bad input: a huge publish_grace_secs made
    /// chrono panic; 0 for counts was silently raised to 1.
    #[test]
    fn out_of_range_daemon_numbers_are_errors_not_panics() {
        for (line, needle) in [
            (
                "publish_grace_secs = 10000000000000000",
                "publish_grace_secs",
            ),
            ("concurrency = 0", "concurrency = 0"),
            ("max_new_per_poll = 0", "max_new_per_poll = 0"),
        ] {
            let text = MINIMAL.replace(
                "state_dir = \"state\"",
                &format!("state_dir = \"state\"\n{line}"),
            );
            let e = errs(&text).join("\n");
            assert!(e.contains(needle), "{line}: {e}");
        }
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
    fn account_name_longer_than_ten_characters_is_refused() {
        let e = errs(&MINIMAL.replace("示例省科协", "示例省科学技术协会官方账号"));
        assert!(
            e.iter()
                .any(|m| m.contains("unit sx-kx") && m.contains("13 characters")),
            "{e:?}"
        );
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
}

#[cfg(test)]
mod silence_tests {
    use super::super::tests::{MINIMAL, errs};
    use super::super::{Silence, parse};
    use std::path::Path;

    /// MINIMAL with `defaults` as a `[defaults]` table and `unit` added to
    /// unit sx-kx (its line 24 and on, with `defaults` one line).
    fn with(defaults: &str, unit: &str) -> String {
        MINIMAL
            .replace(
                "state_dir = \"state\"\n",
                &format!("state_dir = \"state\"\n[defaults]\n{defaults}\n"),
            )
            .replace(
                "level = \"provincial\"",
                &format!("level = \"provincial\"\n{unit}"),
            )
    }

    fn silence(text: &str) -> Vec<Silence> {
        parse(text, Path::new("/a.toml"))
            .unwrap()
            .units
            .into_iter()
            .map(|u| u.silence.clone())
            .collect()
    }

    fn s(max_days: u32, warn_days: &[u32]) -> Silence {
        Silence {
            max_days,
            warn_days: warn_days.to_vec(),
        }
    }

    #[test]
    fn the_update_clock_defaults_to_14_days_warned_at_7_10_12() {
        assert_eq!(silence(MINIMAL), vec![s(14, &[7, 10, 12]); 2]);
    }

    #[test]
    fn a_unit_overrides_defaults_and_a_shorter_clock_drops_the_builtin_warnings_past_it() {
        // Ten days for the province: the built-in 10 and 12 would come too
        // late, so they are dropped rather than refused.
        let text = with("max_silence_days = 20", "max_silence_days = 10");
        assert_eq!(silence(&text), vec![s(20, &[7, 10, 12]), s(10, &[7])]);
        let text = with("silence_warn_days = [12, 3, 3]", "silence_warn_days = [5]");
        assert_eq!(silence(&text), vec![s(14, &[3, 12]), s(14, &[5])]);
    }

    #[test]
    fn update_clock_errors_name_file_line_and_unit() {
        let e = errs(&with("", "max_silence_days = 0"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("autosync.toml:24"), "{}", e[0]);
        assert!(e[0].contains("unit sx-kx"), "{}", e[0]);
        assert!(
            e[0].contains("max_silence_days = 0: at least 1"),
            "{}",
            e[0]
        );

        // Warnings the file gives must come before the deadline: the unit's
        // shorter clock with the [defaults]' warnings is the unit's error.
        let e = errs(&with(
            "silence_warn_days = [7, 10, 12]",
            "max_silence_days = 10",
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("unit sx-kx"), "{}", e[0]);
        assert!(
            e[0].contains(
                "silence_warn_days 10, 12: each must be from 1 to max_silence_days - 1 = 9"
            ),
            "{}",
            e[0]
        );

        // A problem of [defaults] alone is reported once, at its line.
        let e = errs(&with("max_silence_days = 5", ""));
        assert!(
            e.is_empty(),
            "built-in warnings past 5 days are dropped: {e:?}"
        );
        let e = errs(&with(
            "max_silence_days = 5\nsilence_warn_days = [0, 5]",
            "",
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("autosync.toml:6"), "{}", e[0]);
        assert!(
            e[0].contains("[defaults] silence_warn_days 0, 5"),
            "{}",
            e[0]
        );
        assert!(!e[0].contains("unit"), "{}", e[0]);

        let e = errs(&with("max_silence_days = -1", ""));
        assert_eq!(e.len(), 1, "{e:?}");
    }
}
