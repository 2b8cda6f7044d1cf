//! Reports (通报) for the centre: per account, over a period of calendar
//! days, how often it posted and by which path, its longest silence, a
//! verdict against its unit's `max_silence_days`, what was held, rejected
//! or failed, and totals per level and per subtree; rendered as JSON, CSV,
//! XLSX or one self-contained HTML page with inline SVG charts.
//!
//! Why here and not in the desk: the same report is the `autosync report`
//! command, the desk's 报表 page and its download, and it must read the
//! archive as well as the live store so that a period long past reports
//! the same as it did then. The per-account rules are in [`rows`], the
//! sums in [`totals`]; each format is a file of its own.
//!
//! Days are calendar days in `[daemon] timezone` (inspectors count dates).
//! A period ending after today is judged up to today.

pub mod charts;
pub mod csv;
pub mod html;
pub mod rows;
pub mod totals;
pub mod xlsx;

use crate::config::{Config, Level, Unit};
use crate::store::{AuditAction, AuditEntry, Store, StoreError};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub use rows::Row;
pub use totals::Total;

/// The longest period a report may span (ten years): a typo in a year
/// should be an error, not a report of a millennium.
pub const MAX_PERIOD_DAYS: i64 = 3660;

/// How close to `max_silence_days` at the period's end makes a passing
/// account 预警 (the "within 4 days").
pub const WARN_WITHIN_DAYS: i64 = 4;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The dates asked for do not make a period.
    #[error("period: {0}")]
    Period(String),
    /// `--unit` names no unit of the config.
    #[error("{config}: no unit {unit:?}")]
    NoUnit { config: String, unit: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A format could not be written (a chart, the workbook).
    #[error("report: cannot write {format}: {reason}")]
    Render {
        format: &'static str,
        reason: String,
    },
}

/// The calendar days a report covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// `from`..=`to`, refused when reversed or longer than
    /// [`MAX_PERIOD_DAYS`].
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Period, ReportError> {
        if to < from {
            return Err(ReportError::Period(format!(
                "--to {to} is before --from {from}"
            )));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(ReportError::Period(format!(
                "{from} to {to} spans more than {MAX_PERIOD_DAYS} days"
            )));
        }
        Ok(Period { from, to })
    }

    /// Parse `YYYY-MM-DD` dates, naming the option that is wrong.
    pub fn parse(from: &str, to: &str) -> Result<Period, ReportError> {
        let day = |name: &str, s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|e| {
                ReportError::Period(format!("{name} {s:?} is not a date (YYYY-MM-DD): {e}"))
            })
        };
        Period::new(day("--from", from)?, day("--to", to)?)
    }
}

/// The first instant of `day` in `tz` (midnight, or the first moment after
/// a gap where a zone skips it).
pub fn day_start(tz: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        // A zone that skips midnight (a DST change at 00:00): an hour on.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The calendar day of `t` in `tz`.
pub fn local_day(tz: chrono_tz::Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// An account's verdict over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// A gap exceeded `max_silence_days`, or it never posted and has been
    /// silent longer than that since its unit was first polled.
    #[serde(rename = "不合格")]
    Fail,
    /// It passes, but at the period's end it is within
    /// [`WARN_WITHIN_DAYS`] of `max_silence_days`; or it never posted and
    /// is not yet past it.
    #[serde(rename = "预警")]
    Warn,
    #[serde(rename = "合格")]
    Pass,
}

impl Verdict {
    pub fn zh(self) -> &'static str {
        match self {
            Verdict::Fail => "不合格",
            Verdict::Warn => "预警",
            Verdict::Pass => "合格",
        }
    }
}

/// What an editor reads for a level.
pub fn level_zh(l: Level) -> &'static str {
    match l {
        Level::National => "全国",
        Level::Provincial => "省级",
        Level::City => "市级",
        Level::County => "县级",
        Level::Other => "其他",
    }
}

/// The order levels are listed in: top of the matrix first.
pub fn level_rank(l: Level) -> u8 {
    match l {
        Level::National => 0,
        Level::Provincial => 1,
        Level::City => 2,
        Level::County => 3,
        Level::Other => 4,
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Html,
    Xlsx,
    Csv,
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Html, Format::Xlsx, Format::Csv, Format::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The `Content-Type` of a download.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// A report: the period, its scope, when it was made, one row per account
/// and the totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The last day judged: `to`, or today when `to` is later.
    pub judged_to: NaiveDate,
    /// The unit whose subtree it covers; `None`: every unit (or, on the
    /// desk, every unit the editor may see).
    pub scope: Option<String>,
    /// The scope as an editor reads it (the unit's organisation, 全部单位).
    pub scope_name: String,
    pub timezone: String,
    pub made_at: DateTime<FixedOffset>,
    pub rows: Vec<Row>,
    /// Per level, top of the matrix first.
    pub levels: Vec<Total>,
    /// Per unit with units below it in scope: the unit and its subtree.
    pub subtrees: Vec<Total>,
    /// Per platform (provincial reports give a pass rate per platform).
    pub platforms: Vec<Total>,
    /// Everything in scope.
    pub all: Total,
    /// The Monday of each week the period touches (the columns of
    /// [`Row::weekly`]).
    pub weeks: Vec<NaiveDate>,
}

/// Which units a report covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// A unit and its whole subtree; every unit when `None`.
    pub unit: Option<String>,
    /// Only units this editor may see (the desk); `None`: all.
    pub editor: Option<crate::config::Editor>,
}

/// Build the report of `period` over `scope`, reading `store` (live and
/// archived items, the audit log) at `now`.
pub fn build(
    config: &Config,
    store: &Store,
    period: Period,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    let tz = config.daemon.timezone;
    let today = local_day(tz, now);
    if period.from > today {
        return Err(ReportError::Period(format!(
            "--from {} is after today ({today} in {tz})",
            period.from
        )));
    }
    let units: Vec<&Unit> = match &scope.unit {
        Some(id) => {
            if config.unit(id).is_none() {
                return Err(ReportError::NoUnit {
                    config: config.path.display().to_string(),
                    unit: id.clone(),
                });
            }
            config.subtree(id)
        }
        None => config.units.iter().map(|u| &**u).collect(),
    };
    let units: Vec<&Unit> = units
        .into_iter()
        .filter(|u| scope.editor.as_ref().is_none_or(|e| e.may_act_on(&u.id)))
        .collect();
    let window = rows::Window::new(tz, period, today);
    let audit = store.audit_log()?;
    let mut by_unit: HashMap<&str, Vec<&AuditEntry>> = HashMap::new();
    for e in &audit {
        if let Some(u) = e.unit.as_deref() {
            by_unit.entry(u).or_default().push(e);
        }
    }
    let broadcasts = period_broadcasts(config, store, &audit, &window)?;
    let mut out = Vec::new();
    for unit in &units {
        let items = store.unit_history(&unit.id)?;
        let mut first = crate::update_clock::first_polled(store, unit)?;
        for i in &items {
            first = Some(first.map_or(i.discovered_at, |f| f.min(i.discovered_at)));
        }
        let mut asked = Vec::new();
        for b in broadcasts.iter().filter(|b| b.reached.contains(&unit.id)) {
            let item = match &b.identities {
                Some(ids) => store.lookup(&unit.id, ids)?,
                None => None,
            };
            asked.push(Asked { at: b.at, item });
        }
        let data = rows::UnitData {
            unit,
            items: &items,
            first_polled: first,
            audit: by_unit.get(unit.id.as_str()).map_or(&[], Vec::as_slice),
            asked: &asked,
        };
        for account in &unit.accounts {
            out.push(rows::account_row(&window, &data, account));
        }
    }
    let (levels, subtrees, all) = totals::compute(&out, &units);
    let platforms = totals::per_platform(&out);
    let scope_name = match &scope.unit {
        Some(id) => config
            .unit(id)
            .map_or_else(|| id.clone(), |u| format!("{}（含下级）", u.org_name)),
        None if scope.editor.as_ref().is_some_and(|e| e.units.is_some()) => {
            "本编辑可见的全部单位".into()
        }
        None => "全部单位".into(),
    };
    Ok(Report {
        from: period.from,
        to: period.to,
        judged_to: window.end_day,
        scope: scope.unit.clone(),
        scope_name,
        timezone: tz.name().to_string(),
        made_at: now.with_timezone(&tz).fixed_offset(),
        rows: out,
        levels,
        subtrees,
        platforms,
        all,
        weeks: window.weeks(),
    })
}

/// One broadcast a unit was asked to carry: when, and the unit's own item
/// for the article (the copy the broadcast made, or the one it had), when
/// the store knows one.
#[derive(Debug, Clone)]
pub struct Asked {
    pub at: DateTime<Utc>,
    pub item: Option<String>,
}

/// One broadcast of the period: when, the units it reached (the target's
/// subtree as configured now), and the identities its article is known by
/// (URL and content fingerprint, as the broadcast looked it up in each
/// unit; `None` when the original item is gone from the store).
struct Broadcast {
    at: DateTime<Utc>,
    reached: std::collections::HashSet<String>,
    identities: Option<Vec<String>>,
}

/// The audit log's `broadcast` entries of the period (each subtree and
/// original item read once, whatever the number of units).
fn period_broadcasts(
    config: &Config,
    store: &Store,
    audit: &[AuditEntry],
    w: &rows::Window,
) -> Result<Vec<Broadcast>, ReportError> {
    let mut out = Vec::new();
    for e in audit
        .iter()
        .filter(|e| e.action == AuditAction::Broadcast && w.holds(e.at))
    {
        let (Some(to), Some(origin)) = (&e.after, &e.item) else {
            continue;
        };
        let found = match store.record(origin)? {
            Some(i) => Some(i),
            None => match &e.unit {
                Some(u) => store
                    .archived_records(u)?
                    .into_iter()
                    .find(|i| &i.id == origin),
                None => None,
            },
        };
        let identities = found.map(|o| {
            let mut ids =
                vec![url::Url::parse(&o.url).map_or_else(|_| o.url.clone(), |u| u.to_string())];
            if let Some(fp) = &o.fingerprint {
                ids.push(format!("fp:{fp}"));
            }
            ids
        });
        out.push(Broadcast {
            at: e.at,
            reached: config.subtree(to).iter().map(|u| u.id.clone()).collect(),
            identities,
        });
    }
    Ok(out)
}

/// Render `report` in `format`.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, ReportError> {
    match format {
        Format::Json => serde_json::to_vec_pretty(report).map_err(|e| ReportError::Render {
            format: "json",
            reason: e.to_string(),
        }),
        Format::Csv => csv::render(report),
        Format::Xlsx => xlsx::render(report),
        Format::Html => Ok(html::render(report).into_bytes()),
    }
}

/// The file name a download gets: `autosync-report-<scope>-<from>-<to>.<ext>`.
pub fn file_name(report: &Report, format: Format) -> String {
    let scope: String = report
        .scope
        .as_deref()
        .unwrap_or("all")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "autosync-report-{scope}-{}-{}.{}",
        report.from,
        report.to,
        format.as_str()
    )
}

/// The query of a report over HTTP (`/report` and the desk's download).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Query {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
}

/// Where a report came from, for the CLI's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The running daemon answered at this URL.
    Daemon(String),
    /// No daemon answered: the store was read directly.
    Store(std::path::PathBuf),
}

/// `autosync report`: the report rendered in `format`, from the running
/// daemon's `/report` when it answers (the store admits one process), else
/// from the store directly.
pub async fn produce(
    config: &Config,
    period: Period,
    unit: Option<&str>,
    format: Format,
) -> Result<(Source, Vec<u8>), ReportError> {
    if let Some(id) = unit
        && config.unit(id).is_none()
    {
        return Err(ReportError::NoUnit {
            config: config.path.display().to_string(),
            unit: id.to_string(),
        });
    }
    let url = format!("http://{}/report", config.daemon.listen);
    let query = Query {
        from: period.from.to_string(),
        to: period.to.to_string(),
        unit: unit.map(str::to_string),
        format: Some(format),
    };
    let daemon_err = |reason: String| ReportError::Render {
        format: format.as_str(),
        reason: format!("{url}: {reason}"),
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .connect_timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| daemon_err(e.to_string()))?;
    match client.get(&url).query(&query).send().await {
        Ok(resp) if resp.status().is_success() => {
            let bytes = resp.bytes().await.map_err(|e| daemon_err(e.to_string()))?;
            Ok((Source::Daemon(url.clone()), bytes.to_vec()))
        }
        Ok(resp) => {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            // The daemon judged the dates (a period starting after today):
            // the same error as from the store.
            if status == reqwest::StatusCode::BAD_REQUEST {
                return Err(ReportError::Period(
                    text.trim().trim_start_matches("period: ").to_string(),
                ));
            }
            Err(daemon_err(format!("HTTP {status}: {}", text.trim())))
        }
        Err(e) if e.is_connect() => {
            let dir = config.daemon.state_dir.clone();
            let store = Store::open(&dir)?;
            let scope = Scope {
                unit: unit.map(str::to_string),
                editor: None,
            };
            let report = build(config, &store, period, &scope, Utc::now())?;
            Ok((Source::Store(dir), render(&report, format)?))
        }
        Err(e) => Err(daemon_err(e.to_string())),
    }
}
