//! Word forms (.docx): the body read from `word/document.xml` — each
//! paragraph outside a table a one-cell row (the title and the responsible
//! person's line live there), each table row a row. Horizontally merged
//! cells (`gridSpan`) repeat their text over the columns they span and
//! vertically merged ones (`vMerge`) take the text of the cell they
//! continue, so the columns line up with the header as in a spreadsheet.
//! A table nested in a cell adds its text to that cell.

use super::grid::{Grid, GridRow, MAX_FORM_BYTES, clean_cell};
use super::problems::{Fault, RowAt};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::io::Read;
use std::path::Path;

/// The body of the .docx at `path` as one grid.
pub fn read(path: &Path, label: &str) -> Result<Grid, Fault> {
    let unreadable = |e: &dyn std::fmt::Display| Fault::Unreadable {
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| unreadable(&e))?;
    let mut xml = String::new();
    // Bounded: a small file may unpack to gigabytes.
    zip.by_name("word/document.xml")
        .map_err(|e| unreadable(&format!("word/document.xml: {e}")))?
        .take(MAX_FORM_BYTES + 1)
        .read_to_string(&mut xml)
        .map_err(|e| unreadable(&e))?;
    if xml.len() as u64 > MAX_FORM_BYTES {
        return Err(unreadable(&format!(
            "word/document.xml 解压后超过 {} MB",
            MAX_FORM_BYTES >> 20
        )));
    }
    let rows = parse_body(&xml).map_err(|e| unreadable(&format!("word/document.xml: {e}")))?;
    Ok(Grid {
        label: label.to_string(),
        rows,
    })
}

/// One cell being read: its text and how it is merged.
#[derive(Default)]
struct Cell {
    text: String,
    span: usize,
    /// `vMerge` without `restart`: continues the cell above.
    continues: bool,
}

/// Where the reader is.
#[derive(Default)]
struct Body {
    rows: Vec<GridRow>,
    /// Table nesting depth: only the outermost table makes rows.
    depth: usize,
    tables: usize,
    table_row: usize,
    paragraphs: usize,
    paragraph: String,
    row: Vec<Cell>,
    cell: Option<Cell>,
    /// The previous row of the current table, by grid column, for `vMerge`.
    above: Vec<String>,
}

impl Body {
    fn text(&mut self, s: &str) {
        match (&mut self.cell, self.depth) {
            (Some(c), _) => c.text.push_str(s),
            (None, 0) => self.paragraph.push_str(s),
            _ => {}
        }
    }

    fn start(&mut self, e: &BytesStart<'_>) {
        match e.local_name().as_ref() {
            "tbl" => {
                self.depth += 1;
                if self.depth == 1 {
                    self.tables += 1;
                    self.table_row = 0;
                    self.above.clear();
                }
            }
            "tr" if self.depth == 1 => self.row.clear(),
            "tc" if self.depth == 1 => {
                self.cell = Some(Cell {
                    span: 1,
                    ..Cell::default()
                })
            }
            _ => self.property(e),
        }
    }

    /// An empty element: a merge property, a tab or a break.
    fn property(&mut self, e: &BytesStart<'_>) {
        let val = || {
            e.try_get_attribute("w:val")
                .ok()
                .flatten()
                .map(|a| a.value.into_owned())
        };
        match e.local_name().as_ref() {
            "gridSpan" if self.depth == 1 => {
                if let Some(c) = &mut self.cell {
                    c.span = val().and_then(|v| v.parse().ok()).unwrap_or(1).clamp(1, 64);
                }
            }
            "vMerge" if self.depth == 1 => {
                if let Some(c) = &mut self.cell {
                    c.continues = val().is_none_or(|v| v == "continue");
                }
            }
            "tab" | "br" => self.text(" "),
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        match name {
            "tbl" => self.depth = self.depth.saturating_sub(1),
            "p" => {
                if let Some(c) = &mut self.cell {
                    c.text.push('\n');
                } else if self.depth == 0 {
                    self.paragraphs += 1;
                    let text = clean_cell(&std::mem::take(&mut self.paragraph));
                    if !text.is_empty() {
                        self.rows.push(GridRow {
                            at: RowAt::Paragraph(self.paragraphs),
                            cells: vec![text],
                        });
                    }
                }
            }
            "tc" if self.depth == 1 => {
                if let Some(c) = self.cell.take() {
                    self.row.push(c);
                }
            }
            "tr" if self.depth == 1 => {
                self.table_row += 1;
                let mut cells = Vec::new();
                for c in std::mem::take(&mut self.row) {
                    let col = cells.len();
                    let text = if c.continues {
                        self.above.get(col).cloned().unwrap_or_default()
                    } else {
                        clean_cell(&c.text)
                    };
                    cells.extend(std::iter::repeat_n(text, c.span));
                }
                self.above.clone_from(&cells);
                self.rows.push(GridRow {
                    at: RowAt::TableRow {
                        table: self.tables,
                        row: self.table_row,
                    },
                    cells,
                });
            }
            _ => {}
        }
    }
}

/// The rows of `word/document.xml`.
fn parse_body(xml: &str) -> Result<Vec<GridRow>, quick_xml::Error> {
    let mut reader = Reader::from_str(xml);
    let mut body = Body::default();
    loop {
        match reader.read_event()? {
            Event::Start(e) => body.start(&e),
            Event::Empty(e) => body.property(&e),
            Event::End(e) => body.end(e.local_name().as_ref()),
            Event::Text(t) => body.text(&t.xml10_content()),
            Event::CData(t) => body.text(&t.into_inner()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref()? {
                    Some(c) => Some(c),
                    None => match &*r {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                if let Some(c) = c {
                    body.text(c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(body.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_vertical_merges_line_up_with_the_header() {
        let xml = r#"<w:document xmlns:w="x"><w:body>
<w:p><w:r><w:t>集体认证信息表</w:t></w:r></w:p>
<w:tbl>
<w:tr><w:tc><w:tcPr><w:vMerge w:val="restart"/></w:tcPr><w:p><w:r><w:t>头条号</w:t></w:r><w:r><w:t>名称</w:t></w:r></w:p></w:tc>
<w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>运营人</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>
<w:tc><w:p><w:r><w:t>姓名</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>A&amp;B&#x4e00;</w:t></w:r></w:p></w:tc></w:tr>
</w:tbl></w:body></w:document>"#;
        let rows = parse_body(xml).unwrap();
        assert_eq!(rows[0].at, RowAt::Paragraph(1));
        assert_eq!(rows[0].cells, ["集体认证信息表"]);
        assert_eq!(rows[1].at, RowAt::TableRow { table: 1, row: 1 });
        assert_eq!(rows[1].cells, ["头条号名称", "运营人", "运营人"]);
        assert_eq!(rows[2].cells, ["头条号名称", "姓名", "A&B一"]);
    }
}
