//! CSV forms: UTF-8 (with or without BOM), UTF-16 with BOM, or GBK as Excel
//! on a Chinese Windows saves them — the charset found by the project's one
//! decoder ([`crate::charset::decode`]), rows by the `csv` crate. Excel's
//! "Unicode text" (.txt) is the same with tabs, and some exports use
//! semicolons: the separator is the one the first lines use most.

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
        .delimiter(separator(text))
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

/// The separator the first lines use most: comma, tab or semicolon.
fn separator(text: &str) -> u8 {
    let head: String = text.lines().take(8).collect();
    [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| (head.matches(char::from(*d)).count(), *d == b','))
        .unwrap_or(b',')
}

#[cfg(test)]
mod tests {
    use super::separator;

    #[test]
    fn separator_is_the_one_the_form_uses() {
        assert_eq!(separator("头条号名称,机构名称\na,b"), b',');
        assert_eq!(
            separator("头条号名称\t机构名称\t官方网站\na\tb,c\td"),
            b'\t'
        );
        assert_eq!(separator("a;b;c"), b';');
        assert_eq!(separator("只有一列"), b',');
    }
}
