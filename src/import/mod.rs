//! `autosync import`: the collective certification forms (集体认证信息表)
//! the centre collects from a thousand units, read into `[[unit]]` tables.
//!
//! Forms come back as Word tables, spreadsheets and GBK CSV files, edited
//! by hand; typing them into the config is slow and error-prone, and an
//! account name of eleven characters or a mistyped site found at the first
//! poll is found too late. So every row is checked here, every problem
//! named by file, row and column with how to fix it (in Chinese: the
//! centre's staff read it), and only usable rows become units.
//!
//! Personal data (operators' names, ID numbers, phones, login mailboxes,
//! the responsible person) never goes into the config or a log: it goes,
//! when asked, into a separate roster written with mode 0600, and the
//! problems table shows it masked.
//!
//! | file | what |
//! |---|---|
//! | `grid.rs` | a file as rows of cell texts, merged cells filled; reader by extension |
//! | `sheet.rs`, `csv.rs`, `docx.rs` | the readers: calamine, the csv crate over the project's charset detection, `word/document.xml` |
//! | `header.rs` | the header row by its column names, the responsible person's line, the data rows |
//! | `rules.rs` | one validation rule a field |
//! | `validate.rs` | rows to units: rules, duplicates (also against the config), stable ids |
//! | `problems.rs` | typed faults, their Chinese text, the problems table |
//! | `probe.rs` | `--probe`: the [`probe::SourceFinder`] seam to site discovery |
//! | `output.rs` | the `[[unit]]` tables and the private roster |

mod csv;
mod docx;
mod grid;
mod header;
pub mod output;
pub mod probe;
pub mod problems;
pub mod rules;
mod sheet;
pub mod validate;

use crate::config::Level;
use problems::{Origin, Problem, Severity};
use std::collections::BTreeMap;
use std::path::PathBuf;
use url::Url;

/// The form's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    AccountName,
    OrgName,
    Email,
    OperatorName,
    OperatorId,
    Phone,
    Site,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::AccountName,
        Column::OrgName,
        Column::Email,
        Column::OperatorName,
        Column::OperatorId,
        Column::Phone,
        Column::Site,
    ];

    /// The column's name in the template.
    pub fn label_zh(self) -> &'static str {
        match self {
            Column::AccountName => "头条号名称",
            Column::OrgName => "机构名称",
            Column::Email => "登录邮箱",
            Column::OperatorName => "运营人姓名",
            Column::OperatorId => "运营人身份证",
            Column::Phone => "联系电话",
            Column::Site => "官方网站",
        }
    }

    /// Without it no unit can be written (the config needs it); the others
    /// only the certification needs.
    pub fn required(self) -> bool {
        matches!(self, Column::AccountName | Column::OrgName | Column::Site)
    }
}

/// The person responsible for a form (the line above its table).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Responsible {
    pub name: Option<String>,
    pub phone: Option<String>,
}

impl std::fmt::Debug for Responsible {
    /// Personal data: never printed by a `{:?}` in a log or a test failure.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responsible(***)")
    }
}

/// One data row of a form: each column's text.
#[derive(Clone, PartialEq, Eq)]
pub struct FormRow {
    pub origin: Origin,
    pub values: BTreeMap<Column, String>,
}

impl std::fmt::Debug for FormRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FormRow({}, ***)", self.origin)
    }
}

/// A form found in a file (a sheet, a CSV, a Word table).
#[derive(Debug, Clone)]
pub struct Form {
    pub file: String,
    pub responsible: Option<Responsible>,
    pub rows: Vec<FormRow>,
}

/// A unit's personal data: only for the private roster.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Personal {
    pub operator_name: Option<String>,
    pub operator_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub responsible: Option<Responsible>,
}

impl std::fmt::Debug for Personal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Personal(***)")
    }
}

/// A row that passed every rule: a unit to write.
#[derive(Debug, Clone)]
pub struct ImportedUnit {
    pub origin: Origin,
    pub id: String,
    pub account_name: String,
    pub org_name: String,
    pub site: Url,
    pub personal: Personal,
    pub probe: probe::Probe,
}

/// What the command line adds to every unit.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub parent: Option<String>,
    /// `None`: written as `other`, with a comment asking to check it.
    pub level: Option<Level>,
}

/// Reads `level` as the config writes it (`national`, `provincial`, …).
pub fn parse_level(s: &str) -> Result<Level, String> {
    use serde::Deserialize;
    use serde::de::IntoDeserializer;
    let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = s.into_deserializer();
    Level::deserialize(d)
        .map_err(|_| format!("{s:?}: expected national, provincial, city, county or other"))
}

/// The result of reading and checking the forms.
#[derive(Debug)]
pub struct Import {
    pub units: Vec<ImportedUnit>,
    pub problems: Vec<Problem>,
    /// Data rows read, usable or not.
    pub rows: usize,
}

impl Import {
    /// A row or a file could not be imported: the command exits non-zero.
    pub fn has_unusable(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.severity() == Severity::Unusable)
    }

    /// The closing line under the problems table.
    pub fn summary_zh(&self) -> String {
        let count = |s| self.problems.iter().filter(|p| p.severity() == s).count();
        format!(
            "共读取 {} 行，导入 {} 个单位；{} 个问题导致行或文件不可用，{} 条提醒。",
            self.rows,
            self.units.len(),
            count(Severity::Unusable),
            count(Severity::Warning)
        )
    }
}

/// Reads every file's forms and checks every row against the rules and
/// `existing` (the config given with `-c`, else empty).
pub fn import(files: &[PathBuf], existing: &validate::Existing) -> Import {
    let mut problems = Vec::new();
    let mut forms = Vec::new();
    for path in files {
        let grids = match grid::read_file(path) {
            Ok(g) => g,
            Err(fault) => {
                problems.push(Problem {
                    file: path.display().to_string(),
                    row: None,
                    column: None,
                    fault,
                });
                continue;
            }
        };
        let mut found = false;
        let mut header_problems = Vec::new();
        for g in &grids {
            let (form, p) = header::read_form(g);
            if let Some(f) = form {
                found = true;
                problems.extend(p);
                forms.push(f);
            } else {
                header_problems.extend(p);
            }
        }
        // A workbook's other sheets (instructions, a blank copy) need no
        // header; a file where no sheet has one is a problem.
        if !found {
            problems.extend(header_problems);
        }
    }
    let rows = forms.iter().map(|f| f.rows.len()).sum();
    let (units, p) = validate::validate(&forms, existing);
    problems.extend(p);
    Import {
        units,
        problems,
        rows,
    }
}

/// Why `autosync import` could not run at all (a form's problems are not
/// errors: they are the problems table).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("--parent {parent:?} is not a unit of {config}")]
    UnknownParent { parent: String, config: String },
    #[error("{path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Roster(#[from] crate::roster::RosterError),
}

/// One `autosync import`.
pub struct Request<'a> {
    pub files: Vec<PathBuf>,
    pub options: Options,
    /// The config given with `-c`: its ids, account names and sites count
    /// as taken, and `--parent` must be one of its units.
    pub existing: Option<&'a crate::config::Config>,
    /// `--probe`: how each site's sources are found (site discovery;
    /// tests give a local one). `None`: the daemon finds them at the
    /// unit's first poll.
    pub probe: Option<&'a dyn probe::SourceFinder>,
    /// `-o`: where the `[[unit]]` tables go (else the caller prints them).
    pub output: Option<PathBuf>,
    /// `--roster`: the private roster (xlsx, json, else CSV by extension).
    pub roster: Option<PathBuf>,
    /// `--problems`: the problems table also as a file (xlsx, json, else
    /// CSV), to send back to the units.
    pub problems: Option<PathBuf>,
}

/// What an import did: the forms' reading and the tables written.
pub struct Done {
    pub import: Import,
    pub toml: String,
}

/// Reads, checks, probes (when asked) and writes: the units to `output`
/// (not when no row was usable: an earlier file is not emptied), the
/// private roster to `roster` with mode 0600.
pub async fn run(req: Request<'_>) -> Result<Done, ImportError> {
    if let (Some(parent), Some(cfg)) = (&req.options.parent, req.existing)
        && cfg.unit(parent).is_none()
    {
        return Err(ImportError::UnknownParent {
            parent: parent.clone(),
            config: cfg.path.display().to_string(),
        });
    }
    let existing = req.existing.map(validate::Existing::of).unwrap_or_default();
    let mut import = import(&req.files, &existing);
    if let Some(f) = req.probe {
        probe::probe_all(&mut import.units, f, 16).await;
    }
    let toml = output::units_toml(&import.units, &req.options);
    if let Some(path) = &req.output
        && !import.units.is_empty()
    {
        std::fs::write(path, &toml).map_err(|source| ImportError::Write {
            path: path.display().to_string(),
            source,
        })?;
    }
    let format_of = |p: &std::path::Path| {
        crate::roster::Format::of_path(p).unwrap_or(crate::roster::Format::Csv)
    };
    if let Some(path) = &req.roster {
        let bytes = output::personal_table(&import.units).render(format_of(path))?;
        crate::roster::write_private(path, &bytes)?;
    }
    if let Some(path) = &req.problems {
        let bytes = problems::as_table(&import.problems).render(format_of(path))?;
        std::fs::write(path, bytes).map_err(|source| ImportError::Write {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(Done { import, toml })
}
