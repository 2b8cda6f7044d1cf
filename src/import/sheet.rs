//! Spreadsheets (.xlsx, .xls) through calamine: every sheet a grid, merged
//! regions filled in, numbers written as the staff typed them.

use super::grid::{Grid, GridRow, Merge, clean_cell, fill_merges};
use super::problems::{Fault, RowAt};
use calamine::{Data, Dimensions, Reader, Sheets, open_workbook_auto};
use std::path::Path;

/// Every sheet of the workbook at `path`, in order; a sheet's label names
/// it when the workbook has more than one.
pub fn read(path: &Path, label: &str) -> Result<Vec<Grid>, Fault> {
    let unreadable = |e: &dyn std::fmt::Display| Fault::Unreadable {
        reason: e.to_string(),
    };
    let mut book = open_workbook_auto(path).map_err(|e| unreadable(&e))?;
    let names = book.sheet_names();
    let mut grids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let range = book.worksheet_range_at(i);
        let range = match range {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(unreadable(&e)),
            None => continue,
        };
        let mut rows = Vec::new();
        if let Some((r0, c0)) = range.start() {
            // Absolute positions: row numbers as the spreadsheet shows them.
            for r in 0..r0 {
                rows.push(GridRow {
                    at: RowAt::Line(r as usize + 1),
                    cells: Vec::new(),
                });
            }
            for (dr, cells) in range.rows().enumerate() {
                let mut texts = vec![String::new(); c0 as usize];
                texts.extend(cells.iter().map(cell_text));
                rows.push(GridRow {
                    at: RowAt::Line(r0 as usize + dr + 1),
                    cells: texts,
                });
            }
        }
        fill_merges(&mut rows, &merges(&mut book, i));
        grids.push(Grid {
            label: if names.len() > 1 {
                format!("{label}（工作表 {name}）")
            } else {
                label.to_string()
            },
            rows,
        });
    }
    Ok(grids)
}

/// The sheet's merged regions; none when the format does not say.
fn merges<RS: std::io::Read + std::io::Seek>(book: &mut Sheets<RS>, sheet: usize) -> Vec<Merge> {
    let dims: Vec<Dimensions> = match book {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_id(sheet).unwrap_or_default(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_id(sheet).unwrap_or_default(),
        _ => Vec::new(),
    };
    dims.iter()
        .map(|d| Merge {
            first_row: d.start.0 as usize,
            last_row: d.end.0 as usize,
            first_col: d.start.1 as usize,
            last_col: d.end.1 as usize,
        })
        .collect()
}

/// A cell as the person typed it: whole numbers without `.0` (a phone
/// typed into a number cell), text trimmed.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => clean_cell(s),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        // An ID typed into a number cell: 6.10102199001011e17 — kept as
        // Excel shows it, so the rule can say what happened.
        Data::Float(f) => format!("{f:e}"),
        Data::Int(i) => i.to_string(),
        other => clean_cell(&other.to_string()),
    }
}
