//! The report's rows as CSV: UTF-8 with a byte-order mark, so that
//! spreadsheet software (Excel, WPS) opens the Chinese right; one line per
//! account, the field names as the header.

use super::{Report, ReportError, Row};

/// The header, in order: the CSV and JSON field names.
pub const FIELDS: [&str; 22] = [
    "unit",
    "account",
    "org",
    "level",
    "parent",
    "posts",
    "auto",
    "manual",
    "broadcast",
    "active_days",
    "longest_gap_days",
    "last_post",
    "days_silent",
    "verdict",
    "held",
    "rejected",
    "failed",
    "median_delay_mins",
    "broadcasts_asked",
    "broadcasts_carried",
    "max_silence_days",
    "platform",
];

/// Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is
/// defused with a leading apostrophe.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One row's fields, in [`FIELDS`]' order.
pub fn fields(r: &Row) -> Vec<String> {
    vec![
        text(&r.unit),
        text(&r.account),
        text(&r.org),
        serde_json::to_value(r.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        text(r.parent.as_deref().unwrap_or("")),
        r.posts.to_string(),
        r.auto.to_string(),
        r.manual.to_string(),
        r.broadcast.to_string(),
        r.active_days.to_string(),
        opt(r.longest_gap_days),
        opt(r.last_post.map(|t| t.format("%Y-%m-%d %H:%M").to_string())),
        opt(r.days_silent),
        r.verdict.zh().to_string(),
        r.held.to_string(),
        r.rejected.to_string(),
        r.failed.to_string(),
        opt(r.median_delay_mins),
        r.broadcasts_asked.to_string(),
        r.broadcasts_carried.to_string(),
        r.max_silence_days.to_string(),
        r.platform.clone(),
    ]
}

pub fn render(report: &Report) -> Result<Vec<u8>, ReportError> {
    let err = |e: &dyn std::fmt::Display| ReportError::Render {
        format: "csv",
        reason: e.to_string(),
    };
    let mut w = ::csv::WriterBuilder::new()
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(FIELDS).map_err(|e| err(&e))?;
    for r in &report.rows {
        w.write_record(fields(r)).map_err(|e| err(&e))?;
    }
    w.into_inner().map_err(|e| err(&e))
}
