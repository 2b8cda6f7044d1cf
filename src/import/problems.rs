//! What is wrong with a form, as the centre's staff read it.
//!
//! Every finding is a typed [`Fault`] (tests and callers match on it, never
//! on text), placed by a [`Problem`] (file, row, column). The Chinese text
//! — what is wrong and how to fix it — is derived from the fault in one
//! place, so the table and the tests cannot drift apart. A fault never
//! carries personal data unmasked: ID numbers and phones are masked before
//! they get here.

use super::Column;
use std::fmt;

/// Where a row sits in its file, as the person who filled it in sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowAt {
    /// A spreadsheet or CSV row, 1-based, as Excel or WPS numbers it.
    Line(usize),
    /// A row of a Word document's table: table and row, 1-based.
    TableRow { table: usize, row: usize },
    /// A Word document's paragraph outside its tables, 1-based.
    Paragraph(usize),
}

impl RowAt {
    /// Do two rows belong to the same table? A form's rows are those of its
    /// header's table: a paragraph after a Word table is not one of them.
    pub fn same_table(self, other: RowAt) -> bool {
        match (self, other) {
            (RowAt::Line(_), RowAt::Line(_)) => true,
            (RowAt::TableRow { table: a, .. }, RowAt::TableRow { table: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for RowAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowAt::Line(n) => write!(f, "第 {n} 行"),
            RowAt::TableRow { table, row } => write!(f, "表格 {table} 第 {row} 行"),
            RowAt::Paragraph(n) => write!(f, "第 {n} 段"),
        }
    }
}

/// A row of a form: its file (with the sheet when there are several) and
/// row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub row: RowAt,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.file, self.row)
    }
}

/// Where the first of two duplicates is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstSeen {
    /// An earlier row of the forms imported.
    Row(Origin),
    /// A unit of the existing config (`-c`).
    Config { unit: String },
}

impl fmt::Display for FirstSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FirstSeen::Row(o) => write!(f, "{o}"),
            FirstSeen::Config { unit } => write!(f, "现有配置中的单位 {unit}"),
        }
    }
}

/// One thing wrong with a file or a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The file could not be read at all (format, damage).
    Unreadable {
        reason: String,
    },
    /// A format the import does not read (.doc, .wps, …).
    UnsupportedFormat {
        extension: String,
    },
    /// No row of the file names the form's columns.
    NoHeader,
    /// The header lacks a column the config needs.
    MissingColumn(Column),
    /// A header and no row under it: a blank template sent back.
    NoRows,
    /// The header lacks a column the certification needs (rows still usable).
    MissingOptionalColumn(Column),
    AccountNameEmpty,
    AccountNameTooLong {
        chars: usize,
    },
    OrgNameEmpty,
    /// A personal field the certification needs is empty.
    Missing(Column),
    /// Not 18 characters of 17 digits and a digit or X.
    IdShape {
        masked: String,
    },
    /// The GB 11643 check (region, birth date, check digit) fails.
    IdCheckDigit {
        masked: String,
    },
    /// Excel stored the ID as a number and lost its last digits.
    IdStoredAsNumber,
    /// Neither a mobile nor a landline with its area code.
    PhoneInvalid {
        masked: String,
    },
    /// A landline number without its area code.
    PhoneNoAreaCode {
        masked: String,
    },
    EmailNoAt {
        value: String,
    },
    EmailNoDomain {
        value: String,
    },
    SiteEmpty,
    SiteNotHttp {
        value: String,
    },
    /// A bare host was given; it was read as `http://host/`.
    SiteSchemeAdded {
        url: String,
    },
    DuplicateAccountName {
        name: String,
        first: FirstSeen,
    },
    DuplicateSite {
        site: String,
        first: FirstSeen,
    },
    /// The same account name and site as this unit of the config: imported
    /// before; not written again.
    AlreadyInConfig {
        unit: String,
    },
}

/// Whether a row with this fault can still become a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The row (or file) is not imported; the import exits non-zero.
    Unusable,
    /// Imported; the form should still be completed or checked.
    Warning,
}

impl Severity {
    pub fn label_zh(self) -> &'static str {
        match self {
            Severity::Unusable => "不可用",
            Severity::Warning => "提醒",
        }
    }
}

impl Fault {
    pub fn severity(&self) -> Severity {
        match self {
            Fault::MissingOptionalColumn(_)
            | Fault::Missing(_)
            | Fault::SiteSchemeAdded { .. }
            | Fault::NoRows
            | Fault::AlreadyInConfig { .. } => Severity::Warning,
            _ => Severity::Unusable,
        }
    }

    /// What is wrong, in Chinese.
    pub fn what_zh(&self) -> String {
        match self {
            Fault::Unreadable { reason } => format!("文件无法读取：{reason}"),
            Fault::UnsupportedFormat { extension } => format!("不支持 .{extension} 格式"),
            Fault::NoHeader => "找不到表头（头条号名称、机构名称、官方网站等列名）".into(),
            Fault::MissingColumn(c) => format!("表头缺少“{}”列", c.label_zh()),
            Fault::NoRows => "表头下没有填写任何单位".into(),
            Fault::MissingOptionalColumn(c) => format!("表头缺少“{}”列", c.label_zh()),
            Fault::AccountNameEmpty => "头条号名称为空".into(),
            Fault::AccountNameTooLong { chars } => {
                format!("头条号名称有 {chars} 个字，超过 10 个字")
            }
            Fault::OrgNameEmpty => "机构名称为空".into(),
            Fault::Missing(c) => format!("{}为空", c.label_zh()),
            Fault::IdShape { masked } => format!("身份证号 {masked} 不是 18 位"),
            Fault::IdCheckDigit { masked } => {
                format!("身份证号 {masked} 校验不通过（GB 11643 校验码、出生日期或地区码不对）")
            }
            Fault::IdStoredAsNumber => "身份证号被表格存成了数字，末几位已丢失".into(),
            Fault::PhoneInvalid { masked } => {
                format!("联系电话 {masked} 既不是手机号，也不是带区号的座机号")
            }
            Fault::PhoneNoAreaCode { masked } => format!("座机号 {masked} 缺少区号"),
            Fault::EmailNoAt { value } => format!("登录邮箱“{value}”没有 @"),
            Fault::EmailNoDomain { value } => format!("登录邮箱“{value}”缺少域名"),
            Fault::SiteEmpty => "官方网站为空".into(),
            Fault::SiteNotHttp { value } => {
                format!("官方网站“{value}”不是 http:// 或 https:// 网址")
            }
            Fault::SiteSchemeAdded { url } => {
                format!("官方网站没有写 http:// 或 https://，已按 {url} 导入")
            }
            Fault::DuplicateAccountName { name, first } => {
                format!("头条号名称“{name}”与 {first} 重复")
            }
            Fault::DuplicateSite { site, first } => format!("官方网站 {site} 与 {first} 重复"),
            Fault::AlreadyInConfig { unit } => {
                format!("已在现有配置中（单位 {unit}），本次不再写入")
            }
        }
    }

    /// How to fix it, in Chinese.
    pub fn fix_zh(&self) -> String {
        match self {
            Fault::Unreadable { .. } => "用 Excel/WPS 打开后另存为 .xlsx 再导入".into(),
            Fault::UnsupportedFormat { .. } => "另存为 .xlsx、.xls、.csv 或 .docx 后再导入".into(),
            Fault::NoHeader | Fault::MissingColumn(_) => {
                "使用通知附带的《集体认证信息表》模板，保留表头各列".into()
            }
            Fault::MissingOptionalColumn(_) => "认证需要此列，请按模板补齐".into(),
            Fault::NoRows => "请填报单位确认是否发错了文件（空模板）".into(),
            Fault::AccountNameEmpty => "填写头条号名称（单位全称或简称，10 个字以内）".into(),
            Fault::AccountNameTooLong { .. } => "改用 10 个字以内的简称".into(),
            Fault::OrgNameEmpty => "填写机构全称".into(),
            Fault::Missing(c) => format!("认证需要{}，请补填", c.label_zh()),
            Fault::IdShape { .. } | Fault::IdCheckDigit { .. } => {
                "核对运营人身份证号（18 位，末位可为 X）".into()
            }
            Fault::IdStoredAsNumber => {
                "把该列设为“文本”格式后重新填写身份证号，或在号码前加英文单引号".into()
            }
            Fault::PhoneInvalid { .. } => {
                "填写 11 位手机号，或带区号的座机号（如 029-88886666）".into()
            }
            Fault::PhoneNoAreaCode { .. } => "在座机号前加区号（如 029-88886666）".into(),
            Fault::EmailNoAt { .. } | Fault::EmailNoDomain { .. } => {
                "填写完整邮箱，如 kx@example.org.cn".into()
            }
            Fault::SiteEmpty | Fault::SiteNotHttp { .. } => {
                "填写单位官网首页地址，如 https://www.example.org.cn/".into()
            }
            Fault::SiteSchemeAdded { .. } => "核对网址能否打开；如是 https 网站请改写".into(),
            Fault::DuplicateAccountName { .. } => "一个头条号只登记一次；如是不同账号请改名".into(),
            Fault::DuplicateSite { .. } => "一个官网只绑定一个单位；核对是否重复填报".into(),
            Fault::AlreadyInConfig { .. } => "无需处理".into(),
        }
    }
}

/// A fault placed in its file, row and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// `None` for a fault of the whole file.
    pub row: Option<RowAt>,
    pub column: Option<Column>,
    pub fault: Fault,
}

impl Problem {
    pub fn severity(&self) -> Severity {
        self.fault.severity()
    }
}

/// The problems table: unusable rows first, then by file, row and column;
/// the same rows printed and written with `--problems FILE` (a spreadsheet
/// the centre sends back to the units).
pub fn as_table(problems: &[Problem]) -> crate::roster::Table {
    let mut sorted: Vec<&Problem> = problems.iter().collect();
    sorted.sort_by(|a, b| {
        (a.severity(), &a.file, a.row, a.column).cmp(&(b.severity(), &b.file, b.row, b.column))
    });
    let rows = sorted
        .into_iter()
        .map(|p| {
            vec![
                p.severity().label_zh().to_string(),
                p.file.clone(),
                p.row
                    .map_or_else(|| "整个文件".to_string(), |r| r.to_string()),
                p.column.map_or("", Column::label_zh).to_string(),
                p.fault.what_zh(),
                p.fault.fix_zh(),
            ]
        })
        .collect();
    crate::roster::Table {
        columns: vec![
            ("severity", "级别"),
            ("file", "文件"),
            ("row", "行"),
            ("column", "列"),
            ("what", "问题"),
            ("fix", "如何修改"),
        ],
        rows,
    }
}

/// The problems table as printed: one line a problem, tab-separated (it
/// pastes into a spreadsheet).
pub fn table(problems: &[Problem]) -> String {
    let t = as_table(problems);
    let mut out = t
        .columns
        .iter()
        .map(|(_, zh)| *zh)
        .collect::<Vec<_>>()
        .join("\t");
    out.push('\n');
    for r in &t.rows {
        out.push_str(&r.join("\t"));
        out.push('\n');
    }
    out
}
