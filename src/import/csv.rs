//! CSV forms: UTF-8 (with or without BOM), UTF-16 with BOM, or GBK as Excel
//! on a Chinese Windows saves them — the charset found by the project's one
//! decoder ([`crate::charset::decode`]), rows by the `csv` crate.

use super::grid::{Grid, GridRow, clean_cell};
use super::problems::{Fault, RowAt};
use std::path::Path;

pub fn read(path: &Path, label: &str) -> Result<Grid, Fault> {
    let bytes = std::fs::read(path).map_err(|e| Fault::Unreadable {
        reason: e.to_string(),
    })?;
    let (text, _) = crate::charset::decode(&bytes, None);
    let text = text.trim_start_matches('\u{FEFF}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| Fault::Unreadable {
            reason: e.to_string(),
        })?;
        let line = rec.position().map_or(rows.len() + 1, |p| p.line() as usize);
        rows.push(GridRow {
            at: RowAt::Line(line),
            cells: rec.iter().map(clean_cell).collect(),
        });
    }
    Ok(Grid {
        label: label.to_string(),
        rows,
    })
}
