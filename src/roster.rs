//! `autosync roster`: the matrix as it runs, one row per account in tree
//! order, for the centre to check what is registered against what it asked
//! for — and the table writer (xlsx, CSV, JSON) the import's private roster
//! uses too.
//!
//! Account state and last post come from the same reading as `autosync
//! status` ([`crate::daemon::status_of`]: the running daemon, else the
//! store), so the roster never disagrees with `status`; a config whose
//! store was never created reads as not yet run rather than creating one.

use crate::admin::{AccountStatus, Status};
use crate::config::{Config, Level, SourceKind, Unit};
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("{path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("writing xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("reading the accounts' state: {0}")]
    Status(String),
}

/// A table's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "xlsx" => Ok(Format::Xlsx),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(format!("{s:?}: expected xlsx, csv or json")),
        }
    }
}

impl Format {
    /// The format a file's extension names, if any.
    pub fn of_path(path: &Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }
}

/// A table: each column's JSON key and Chinese heading, and the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<(&'static str, &'static str)>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The table in `format`: xlsx with a bold header row; CSV in UTF-8
    /// with a BOM (Excel on a Chinese Windows reads it as UTF-8 only
    /// then); JSON an array of objects by key.
    pub fn render(&self, format: Format) -> Result<Vec<u8>, RosterError> {
        match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
                w.write_record(self.columns.iter().map(|(_, zh)| zh))?;
                for r in &self.rows {
                    w.write_record(r)?;
                }
                w.into_inner()
                    .map_err(|e| RosterError::Csv(e.into_error().into()))
            }
            Format::Json => {
                let rows: Vec<serde_json::Map<String, serde_json::Value>> = self
                    .rows
                    .iter()
                    .map(|r| {
                        self.columns
                            .iter()
                            .zip(r)
                            .map(|((k, _), v)| (k.to_string(), v.clone().into()))
                            .collect()
                    })
                    .collect();
                let mut out = serde_json::to_vec_pretty(&rows).expect("strings serialise");
                out.push(b'\n');
                Ok(out)
            }
            Format::Xlsx => {
                let mut book = rust_xlsxwriter::Workbook::new();
                let sheet = book.add_worksheet();
                let bold = rust_xlsxwriter::Format::new().set_bold();
                for (c, (_, zh)) in self.columns.iter().enumerate() {
                    sheet.write_string_with_format(0, c as u16, *zh, &bold)?;
                }
                for (r, row) in self.rows.iter().enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        // Text, always: an ID or a phone must not become a
                        // number that loses digits.
                        sheet.write_string(r as u32 + 1, c as u16, v)?;
                    }
                }
                sheet.autofit();
                Ok(book.save_to_buffer()?)
            }
        }
    }
}

/// Writes `bytes` to `path` readable by its owner only (0600), also when
/// the file existed with a wider mode: it holds personal data.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), RosterError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let err = |source| RosterError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// The level as the centre names it.
pub fn level_zh(level: Level) -> &'static str {
    match level {
        Level::National => "全国",
        Level::Provincial => "省级",
        Level::City => "市级",
        Level::County => "县级",
        Level::Other => "其他",
    }
}

/// The units in tree order: each root (no parent, or a parent not in the
/// file) in file order, each followed by its subtree, children in file
/// order.
pub fn tree_order(cfg: &Config) -> Vec<&Unit> {
    // Indexed, not scanned: at 20,000 units a scan per unit is 400 million
    // comparisons for one roster.
    let known: std::collections::HashSet<&str> = cfg.units.iter().map(|u| u.id.as_str()).collect();
    let mut children: std::collections::HashMap<&str, Vec<&Unit>> = Default::default();
    let mut roots = Vec::new();
    for u in cfg.units.iter().map(|u| &**u) {
        match u.parent.as_deref().filter(|p| known.contains(p)) {
            Some(p) => children.entry(p).or_default().push(u),
            None => roots.push(u),
        }
    }
    let mut out = Vec::with_capacity(cfg.units.len());
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<&Unit> = roots.into_iter().rev().collect();
    while let Some(u) = stack.pop() {
        if !seen.insert(u.id.as_str()) {
            continue;
        }
        out.push(u);
        if let Some(c) = children.get(u.id.as_str()) {
            stack.extend(c.iter().rev());
        }
    }
    out
}

/// An account's standing, as the roster shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// No store yet: the daemon never ran with this config.
    NotRun,
    Ok,
    Paused {
        why_zh: String,
        since: chrono::DateTime<chrono::Utc>,
    },
    RateLimited {
        until: chrono::DateTime<chrono::Utc>,
    },
}

impl Standing {
    fn of(a: Option<&AccountStatus>) -> Standing {
        match a {
            None => Standing::NotRun,
            Some(a) => match (&a.paused, a.rate_limited_until) {
                (Some(p), _) => Standing::Paused {
                    why_zh: p.reason.zh(),
                    since: p.since,
                },
                (None, Some(until)) => Standing::RateLimited { until },
                (None, None) => Standing::Ok,
            },
        }
    }

    fn zh(&self, tz: chrono_tz::Tz) -> String {
        match self {
            Standing::NotRun => "尚未运行".into(),
            Standing::Ok => "正常".into(),
            Standing::Paused { why_zh, since } => {
                format!("已暂停（自 {}）：{why_zh}", local(*since, tz))
            }
            Standing::RateLimited { until } => format!("平台限流至 {}", local(*until, tz)),
        }
    }
}

fn local(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// The roster's columns.
pub const COLUMNS: [(&str, &str); 10] = [
    ("level", "层级"),
    ("parent", "上级单位"),
    ("unit", "单位"),
    ("account", "账号"),
    ("org_name", "机构名称"),
    ("site", "官方网站"),
    ("sources", "来源"),
    ("platform", "平台"),
    ("state", "账号状态"),
    ("last_post", "最近发布"),
];

/// The matrix as a table: one row per account, units in tree order, times
/// in `[daemon] timezone`. `status` is `None` when the daemon never ran.
pub fn matrix(cfg: &Config, status: Option<&Status>) -> Table {
    let tz = cfg.daemon.timezone;
    let mut rows = Vec::new();
    for u in tree_order(cfg) {
        let unit_status = status.and_then(|s| s.units.iter().find(|s| s.unit == u.id));
        let sources = if u.sources.is_empty() {
            "（首次轮询时自动发现）".to_string()
        } else {
            u.sources
                .iter()
                .map(|s| match s.kind {
                    SourceKind::Feed => format!("feed {}", s.url),
                    SourceKind::List { .. } => format!("list {}", s.url),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        for a in &u.accounts {
            let acc = unit_status.and_then(|s| s.accounts.iter().find(|x| x.account == a.name));
            let last_post = match (status, acc.and_then(|a| a.last_post)) {
                (None, _) => String::new(),
                (Some(_), Some(t)) => local(t, tz),
                (Some(_), None) => "从未发布".into(),
            };
            // A store that has never seen the account: the daemon has
            // not run since it was added.
            let standing = if status.is_some() && acc.is_none() {
                Standing::NotRun
            } else {
                Standing::of(acc)
            };
            rows.push(vec![
                level_zh(u.level).to_string(),
                u.parent.clone().unwrap_or_default(),
                u.id.clone(),
                a.name.clone(),
                u.org_name.clone(),
                u.site.to_string(),
                sources.clone(),
                a.publisher.kind().to_string(),
                standing.zh(tz),
                last_post,
            ]);
        }
    }
    Table {
        columns: COLUMNS.to_vec(),
        rows,
    }
}

/// The accounts' state as `autosync status` reads it; `None` when the
/// store was never created (nothing has run), so that reading the roster
/// creates nothing.
pub async fn read_status(cfg: &Config) -> Result<Option<Status>, RosterError> {
    if !cfg.daemon.state_dir.join("db").exists() {
        return Ok(None);
    }
    crate::daemon::status_of(cfg)
        .await
        .map(|(_, s)| Some(s))
        .map_err(RosterError::Status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
[daemon]
state_dir = "state"
[[unit]]
id = "child"
account_name = "子"
org_name = "子单位"
level = "city"
parent = "root"
site = "https://c.example/"
  [[unit.source]]
  feed = "https://c.example/rss"
  [unit.publisher]
  kind = "file"
  dir = "out"
[[unit]]
id = "root"
account_name = "根"
org_name = "根单位"
level = "provincial"
site = "https://r.example/"
  [[unit.source]]
  list = "https://r.example/xw/"
  [[unit.publisher]]
  kind = "file"
  dir = "out"
  [[unit.publisher]]
  kind = "webhook"
  url = "https://hook.example/in"
  secret_env = "ROOT_TWO"
  account_name = "根二"
"#;

    #[test]
    fn roster_lists_each_account_in_tree_order() {
        let cfg = crate::config::parse(CFG, Path::new("/tmp/a.toml")).unwrap();
        let t = matrix(&cfg, None);
        let ids: Vec<(&str, &str)> = t
            .rows
            .iter()
            .map(|r| (r[2].as_str(), r[3].as_str()))
            .collect();
        assert_eq!(ids, [("root", "根"), ("root", "根二"), ("child", "子")]);
        assert_eq!(t.rows[2][0], "市级");
        assert_eq!(t.rows[2][1], "root");
        assert_eq!(t.rows[0][6], "list https://r.example/xw/");
        assert_eq!(t.rows[0][8], "尚未运行");
    }

    #[test]
    fn every_format_renders_the_same_rows() {
        let t = Table {
            columns: vec![("a", "甲"), ("b", "乙")],
            rows: vec![vec!["1".into(), "二,\"三\"".into()]],
        };
        let csv = String::from_utf8(t.render(Format::Csv).unwrap()).unwrap();
        assert_eq!(csv, "\u{FEFF}甲,乙\n1,\"二,\"\"三\"\"\"\n");
        let json: serde_json::Value =
            serde_json::from_slice(&t.render(Format::Json).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!([{"a": "1", "b": "二,\"三\""}]));
        let xlsx = t.render(Format::Xlsx).unwrap();
        assert_eq!(&xlsx[..2], b"PK");
    }

    #[test]
    fn private_file_is_owner_only_even_when_it_existed_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"new").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }
}
