//! A form as rows of cell texts, whatever file it came in.
//!
//! Every reader (spreadsheet, CSV, Word) turns its file into [`Grid`]s so
//! that header detection and validation see one shape. Merged cells are
//! filled in here — a merged cell's text copied into every cell it covers —
//! because forms merge their header cells and the title line, and a header
//! found in the covered cell must name the same column as the one found in
//! the top-left cell.

use super::problems::{Fault, RowAt};
use std::path::Path;

/// A form is a page or two of a table: a file (or a Word document's
/// unpacked text) past this is not one, and is refused before it is read
/// into memory.
pub const MAX_FORM_BYTES: u64 = 64 << 20;

/// One row: where it is in the file and its cells' text, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridRow {
    pub at: RowAt,
    pub cells: Vec<String>,
}

/// One table of a file: a sheet, the CSV, or a Word document's body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grid {
    /// The file's name as the staff know it, with the sheet when a workbook
    /// has several.
    pub label: String,
    pub rows: Vec<GridRow>,
}

/// A merged region, rows and columns inclusive, 0-based within the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: usize,
    pub last_row: usize,
    pub first_col: usize,
    pub last_col: usize,
}

/// Copies each merged region's top-left text into the cells it covers
/// (where they are empty: a region never overwrites text of its own).
pub fn fill_merges(rows: &mut [GridRow], merges: &[Merge]) {
    for m in merges {
        let Some(text) = rows
            .get(m.first_row)
            .and_then(|r| r.cells.get(m.first_col))
            .cloned()
        else {
            continue;
        };
        for r in m.first_row..=m.last_row.min(rows.len().saturating_sub(1)) {
            let cells = &mut rows[r].cells;
            if cells.len() <= m.last_col {
                cells.resize(m.last_col + 1, String::new());
            }
            for cell in &mut cells[m.first_col..=m.last_col] {
                if cell.is_empty() {
                    cell.clone_from(&text);
                }
            }
        }
    }
}

/// A cell's text as it will be read: surrounding whitespace (the
/// ideographic space included) gone, inner line breaks made spaces.
pub fn clean_cell(s: &str) -> String {
    s.split(['\n', '\r'])
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}'))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The grids of a form file, by its extension. Each is labelled with the
/// path as given: forms collected from many units often share the
/// template's file name, in a folder per unit.
pub fn read_file(path: &Path) -> Result<Vec<Grid>, Fault> {
    let label = path.display().to_string();
    let size = std::fs::metadata(path)
        .map_err(|e| Fault::Unreadable {
            reason: e.to_string(),
        })?
        .len();
    if size > MAX_FORM_BYTES {
        return Err(Fault::Unreadable {
            reason: format!("文件有 {} MB，超过 {} MB", size >> 20, MAX_FORM_BYTES >> 20),
        });
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" | "xlsm" | "xls" => super::sheet::read(path, &label),
        "csv" | "txt" => super::csv::read(path, &label).map(|g| vec![g]),
        "docx" => super::docx::read(path, &label).map(|g| vec![g]),
        _ => Err(Fault::UnsupportedFormat { extension: ext }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, cells: &[&str]) -> GridRow {
        GridRow {
            at: RowAt::Line(n),
            cells: cells.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn merged_cells_take_the_top_left_text_without_overwriting() {
        let mut rows = vec![row(1, &["联系电话", ""]), row(2, &["", "x"])];
        fill_merges(
            &mut rows,
            &[Merge {
                first_row: 0,
                last_row: 1,
                first_col: 0,
                last_col: 1,
            }],
        );
        assert_eq!(rows[0].cells, ["联系电话", "联系电话"]);
        assert_eq!(rows[1].cells, ["联系电话", "x"]);
    }

    #[test]
    fn cells_are_trimmed_and_line_breaks_become_spaces() {
        assert_eq!(clean_cell("\u{3000} 头条号\r\n名称 "), "头条号 名称");
        assert_eq!(clean_cell("   "), "");
    }
}
