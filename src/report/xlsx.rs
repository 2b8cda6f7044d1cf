//! The report as an XLSX workbook (rust_xlsxwriter): a sheet of rows (one
//! line an account) and a sheet of totals (overall, per level, per
//! subtree). Numbers are numbers, so the office can sort and sum them.

use super::csv::fields;
use super::{Report, ReportError, Total, level_zh};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

/// The rows sheet's headers, in the CSV's field order.
pub const HEADERS: [&str; 22] = [
    "单位ID",
    "账号",
    "单位名称",
    "层级",
    "上级单位",
    "发布数",
    "自动",
    "手动推送",
    "联动",
    "活跃天数",
    "最长间隔（天）",
    "最近发布",
    "未更新（天）",
    "结论",
    "待审核",
    "驳回",
    "失败",
    "延迟中位数（分钟）",
    "联动收到",
    "联动发布",
    "未更新上限（天）",
    "平台",
];

/// Columns of [`HEADERS`] that hold numbers.
const NUMERIC: [usize; 14] = [5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 17, 18, 19, 20];

fn err(e: XlsxError) -> ReportError {
    ReportError::Render {
        format: "xlsx",
        reason: e.to_string(),
    }
}

fn header(ws: &mut Worksheet, cols: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, h) in cols.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, bold)?;
        ws.set_column_width(c as u16, (h.chars().count() as f64 * 2.0).max(10.0))?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn rows_sheet(ws: &mut Worksheet, report: &Report, bold: &Format) -> Result<(), XlsxError> {
    ws.set_name("账号")?;
    header(ws, &HEADERS, bold)?;
    for (i, r) in report.rows.iter().enumerate() {
        let row = i as u32 + 1;
        let mut values = fields(r);
        // Text as it is: a workbook cell never runs as a formula (the
        // CSV's defusing apostrophe would only show).
        values[0] = r.unit.clone();
        values[1] = r.account.clone();
        values[2] = r.org.clone();
        values[3] = level_zh(r.level).to_string();
        values[4] = r.parent.clone().unwrap_or_default();
        for (c, v) in values.iter().enumerate() {
            let col = c as u16;
            match v.parse::<f64>() {
                Ok(n) if NUMERIC.contains(&c) => ws.write_number(row, col, n)?,
                _ if v.is_empty() => ws,
                _ => ws.write_string(row, col, v)?,
            };
        }
    }
    ws.autofilter(0, 0, report.rows.len() as u32, HEADERS.len() as u16 - 1)?;
    Ok(())
}

fn totals_sheet(ws: &mut Worksheet, report: &Report, bold: &Format) -> Result<(), XlsxError> {
    ws.set_name("汇总")?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "统计期间 {} 至 {}（评判至 {}）· 范围：{} · 生成：{}（{}）",
            report.from,
            report.to,
            report.judged_to,
            report.scope_name,
            report.made_at.format("%Y-%m-%d %H:%M"),
            report.timezone
        ),
        bold,
    )?;
    let cols = [
        "范围",
        "账号数",
        "合格",
        "预警",
        "不合格",
        "达标率",
        "发布数",
    ];
    for (c, h) in cols.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, bold)?;
        ws.set_column_width(c as u16, if c == 0 { 28.0 } else { 10.0 })?;
    }
    let percent = Format::new().set_num_format("0.0%");
    let all: Vec<&Total> = std::iter::once(&report.all)
        .chain(&report.levels)
        .chain(&report.subtrees)
        .chain(&report.platforms)
        .collect();
    for (i, t) in all.iter().enumerate() {
        let row = i as u32 + 3;
        ws.write_string(row, 0, &t.label)?;
        for (c, n) in [t.accounts, t.pass, t.warn, t.fail].iter().enumerate() {
            ws.write_number(row, c as u16 + 1, f64::from(*n))?;
        }
        ws.write_number_with_format(row, 5, t.pass_rate, &percent)?;
        ws.write_number(row, 6, f64::from(t.posts))?;
    }
    Ok(())
}

pub fn render(report: &Report) -> Result<Vec<u8>, ReportError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    rows_sheet(wb.add_worksheet(), report, &bold).map_err(err)?;
    totals_sheet(wb.add_worksheet(), report, &bold).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}
