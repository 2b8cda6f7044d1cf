//! Finding the form's table in a grid: the header row by its column names,
//! the responsible person's line above it, the data rows below.
//!
//! Forms come back edited: a title and a "负责人：… 手机：…" line above the
//! table, column names with spaces, full-width letters, line breaks or
//! notes in brackets ("头条号名称（10字以内）"), a header over two rows
//! under merged cells ("运营人" over "姓名" and "身份证"), a 序号 column,
//! notes below the table. Names are therefore compared in their normalised
//! form ([`crate::review::normalize`]) with the notes in brackets dropped,
//! and the longest known name a cell contains decides its column.

use super::grid::{Grid, GridRow};
use super::problems::{Fault, Origin, Problem};
use super::{Column, Form, FormRow, Responsible};
use std::collections::BTreeMap;

/// How far down a header may sit (title lines, instructions above it).
const HEADER_SEARCH_ROWS: usize = 40;

/// A header names at least this many of the form's columns: fewer is a
/// line of text that happens to mention one.
const MIN_HEADER_COLUMNS: usize = 3;

impl Column {
    /// Names the column goes by in the forms, the template's first.
    fn names(self) -> &'static [&'static str] {
        match self {
            Column::AccountName => &[
                "头条号名称",
                "头条号名",
                "头条号",
                "账号名称",
                "帐号名称",
                "账号名",
            ],
            Column::OrgName => &["机构名称", "机构全称", "单位名称", "单位全称", "组织名称"],
            Column::Email => &[
                "登录邮箱",
                "邮箱",
                "电子邮箱",
                "电子邮件",
                "email",
                "e-mail",
            ],
            Column::OperatorName => &["运营人姓名", "运营者姓名", "运营人", "运营者", "姓名"],
            Column::OperatorId => &[
                "运营人身份证",
                "运营人身份证号",
                "身份证号码",
                "身份证号",
                "身份证",
            ],
            Column::Phone => &["联系电话", "电话", "手机", "手机号", "联系方式"],
            Column::Site => &["官方网站", "网站", "官网", "网址", "网站地址"],
        }
    }
}

/// A header cell's text without spacing, width, case or bracketed notes.
fn header_key(cell: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in crate::review::normalize(cell).chars() {
        match c {
            '(' | '[' | '【' | '〔' => depth += 1,
            ')' | ']' | '】' | '〕' => depth = depth.saturating_sub(1),
            '*' | ':' | '：' | '※' => {}
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The column a header cell names: the one with the longest name the cell
/// contains (运营人身份证 is the ID, not the operator).
fn column_of(cell: &str) -> Option<Column> {
    let key = header_key(cell);
    if key.is_empty() {
        return None;
    }
    Column::ALL
        .iter()
        .flat_map(|c| c.names().iter().map(move |n| (*c, *n)))
        .filter(|(_, n)| key.contains(n))
        .max_by_key(|(_, n)| n.chars().count())
        .map(|(c, _)| c)
}

/// The grid columns under each form column, left to right: a header cell
/// merged across two columns (联系电话 over a mobile and a landline) names
/// both.
fn columns_of(cells: &[String]) -> BTreeMap<Column, Vec<usize>> {
    let mut map: BTreeMap<Column, Vec<usize>> = BTreeMap::new();
    for (i, cell) in cells.iter().enumerate() {
        if let Some(c) = column_of(cell) {
            map.entry(c).or_default().push(i);
        }
    }
    map
}

/// Two header rows read as one: each column's upper and lower names
/// joined ("运营人" + "身份证"), or the one name when a merge repeated it.
fn joined(upper: &[String], lower: &[String]) -> Vec<String> {
    (0..upper.len().max(lower.len()))
        .map(|i| {
            let u = upper.get(i).map_or("", String::as_str);
            let l = lower.get(i).map_or("", String::as_str);
            if u == l || l.is_empty() {
                u.to_string()
            } else if u.is_empty() {
                l.to_string()
            } else {
                format!("{u}{l}")
            }
        })
        .collect()
}

/// Where the header is: its last row and each column's position.
struct Header {
    first: usize,
    last: usize,
    columns: BTreeMap<Column, Vec<usize>>,
}

fn find_header(rows: &[GridRow]) -> Option<Header> {
    let usable = |m: &BTreeMap<Column, Vec<usize>>| {
        m.len() >= MIN_HEADER_COLUMNS
            && (m.contains_key(&Column::AccountName) || m.contains_key(&Column::OrgName))
    };
    for i in 0..rows.len().min(HEADER_SEARCH_ROWS) {
        let one = columns_of(&rows[i].cells);
        if !usable(&one) {
            continue;
        }
        // A second header row under merged cells names more columns when
        // joined with this one.
        if let Some(next) = rows.get(i + 1).filter(|n| n.at.same_table(rows[i].at)) {
            let two = columns_of(&joined(&rows[i].cells, &next.cells));
            if two.len() > one.len() {
                return Some(Header {
                    first: i,
                    last: i + 1,
                    columns: two,
                });
            }
        }
        return Some(Header {
            first: i,
            last: i,
            columns: one,
        });
    }
    None
}

/// "负责人：张三 手机：13800000000" above the table.
fn responsible(above: &[GridRow]) -> Option<Responsible> {
    let text = above
        .iter()
        .flat_map(|r| r.cells.iter())
        .map(|c| crate::review::normalize(c))
        .collect::<Vec<_>>()
        .join(" ");
    let name = regex::Regex::new(
        r"负责人(?:姓名)?:?([^\s:,;，；0-9a-z]{2,8}?)(?:手机|电话|联系|[\s:,;，；0-9]|$)",
    )
    .expect("static regex")
    .captures(&text)
    .map(|c| c[1].to_string());
    let phone = regex::Regex::new(r"(?:手机|电话|联系方式)(?:号码?)?:?([0-9][0-9\-]{6,})")
        .expect("static regex")
        .captures(&text)
        .map(|c| c[1].to_string());
    (name.is_some() || phone.is_some()).then_some(Responsible { name, phone })
}

/// A line of text under the table, not a unit: a note ("注：…",
/// "填表说明…") in one cell, or any text merged across the row (every cell
/// that has text holds the same: a unit's name, organisation and site
/// differ).
fn is_note(values: &BTreeMap<Column, String>, cells: &[String]) -> bool {
    let filled: Vec<&String> = cells.iter().filter(|c| !c.is_empty()).collect();
    let first = filled.first().map(|c| c.trim_start()).unwrap_or("");
    let merged_line = filled.len() >= 2 && filled.iter().all(|c| *c == filled[0]);
    let note = values.values().filter(|v| !v.is_empty()).count() <= 1
        && ["注", "备注", "说明", "填表", "填报说明"]
            .iter()
            .any(|p| first.starts_with(p));
    merged_line || note
}

/// The form in `grid`: its rows under the header, with the problems of the
/// header itself (none found, a required column missing).
pub fn read_form(grid: &Grid) -> (Option<Form>, Vec<Problem>) {
    let file_problem = |fault| Problem {
        file: grid.label.clone(),
        row: None,
        column: None,
        fault,
    };
    let Some(h) = find_header(&grid.rows) else {
        return (None, vec![file_problem(Fault::NoHeader)]);
    };
    let mut problems = Vec::new();
    let mut fatal = false;
    for c in Column::ALL {
        if !h.columns.contains_key(&c) {
            let required = c.required();
            fatal |= required;
            problems.push(Problem {
                file: grid.label.clone(),
                row: Some(grid.rows[h.first].at),
                column: Some(c),
                fault: if required {
                    Fault::MissingColumn(c)
                } else {
                    Fault::MissingOptionalColumn(c)
                },
            });
        }
    }
    if fatal {
        return (None, problems);
    }
    let header_at = grid.rows[h.first].at;
    let mut rows = Vec::new();
    for r in grid.rows[h.last + 1..]
        .iter()
        .take_while(|r| r.at.same_table(header_at))
    {
        let values: BTreeMap<Column, String> = h
            .columns
            .iter()
            .map(|(c, at)| {
                // The first of its grid columns with something in it.
                let v = at
                    .iter()
                    .filter_map(|i| r.cells.get(*i))
                    .find(|v| !v.is_empty());
                (*c, v.cloned().unwrap_or_default())
            })
            .collect();
        // Empty template rows, notes, and the header repeated on each page
        // of a Word table are not units.
        if values.values().all(String::is_empty)
            || is_note(&values, &r.cells)
            || columns_of(&r.cells).len() >= MIN_HEADER_COLUMNS
        {
            continue;
        }
        rows.push(FormRow {
            origin: Origin {
                file: grid.label.clone(),
                row: r.at,
            },
            values,
        });
    }
    if rows.is_empty() {
        problems.push(Problem {
            file: grid.label.clone(),
            row: Some(header_at),
            column: None,
            fault: Fault::NoRows,
        });
    }
    let form = Form {
        file: grid.label.clone(),
        responsible: responsible(&grid.rows[..h.first]),
        rows,
    };
    (Some(form), problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::problems::RowAt;

    fn grid(rows: &[&[&str]]) -> Grid {
        Grid {
            label: "f.xlsx".into(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| GridRow {
                    at: RowAt::Line(i + 1),
                    cells: r.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]
        /// Any grid, of any shape, gives a form or problems, never a panic:
        /// rows shorter than the header, headers on the last row, notes.
        #[test]
        fn any_grid_reads_without_panic(cells in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(vec![
                "", "头条号名称", "机构名称", "官方网站", "运营人", "身份证", "姓名",
                "注：说明", "负责人：王五", "手机：13900001111", "x", "https://a.example/",
            ]), 0..9),
            0..12,
        )) {
            let rows: Vec<Vec<&str>> = cells;
            let refs: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
            let g = grid(&refs);
            let (form, problems) = read_form(&g);
            proptest::prop_assert!(form.is_some() || !problems.is_empty());
        }
    }

    #[test]
    fn header_names_tolerate_spacing_width_notes_and_longer_names() {
        assert_eq!(
            column_of("头 条 号\n名称（10字以内）"),
            Some(Column::AccountName)
        );
        assert_eq!(column_of("*运营人身份证号码"), Some(Column::OperatorId));
        assert_eq!(column_of("运营人姓名"), Some(Column::OperatorName));
        assert_eq!(column_of("登录邮箱（单位公共邮箱）"), Some(Column::Email));
        assert_eq!(column_of("ＥＭＡＩＬ"), Some(Column::Email));
        assert_eq!(column_of("序号"), None);
    }

    #[test]
    fn header_below_title_and_responsible_line_with_a_two_row_header() {
        let g = grid(&[
            &["集体认证信息表", "集体认证信息表"],
            &["负责人：王五", "", "手机：13900001111"],
            &[
                "序号",
                "头条号名称",
                "机构名称",
                "运营人",
                "运营人",
                "联系电话",
                "官方网站",
                "登录邮箱",
            ],
            &["", "", "", "姓名", "身份证", "", "", ""],
            &[
                "1",
                "示例科协",
                "示例市科学技术协会",
                "张三",
                "x",
                "029-88886666",
                "https://a.example/",
                "a@a.example",
            ],
            &["", "", "", "", "", "", "", ""],
            &["注：每个单位一行", "", "", "", "", "", "", ""],
            // A line merged across the table under it (filled by the merge).
            &[
                "填报单位（盖章）",
                "填报单位（盖章）",
                "填报单位（盖章）",
                "填报单位（盖章）",
                "填报单位（盖章）",
                "填报单位（盖章）",
                "填报单位（盖章）",
                "填报单位（盖章）",
            ],
        ]);
        let (form, problems) = read_form(&g);
        assert!(problems.is_empty(), "{problems:?}");
        let form = form.unwrap();
        assert_eq!(form.rows.len(), 1);
        let r = &form.rows[0];
        assert_eq!(r.origin.row, RowAt::Line(5));
        assert_eq!(r.values[&Column::OperatorName], "张三");
        assert_eq!(r.values[&Column::OperatorId], "x");
        assert_eq!(r.values[&Column::Site], "https://a.example/");
        let who = form.responsible.unwrap();
        assert_eq!(who.name.as_deref(), Some("王五"));
        assert_eq!(who.phone.as_deref(), Some("13900001111"));
    }

    #[test]
    fn a_header_merged_over_two_columns_reads_either() {
        let mut g = grid(&[
            &["头条号名称", "机构名称", "联系电话", "", "官方网站"],
            &["a", "b", "", "029-88886666", "https://a.example/"],
            &["c", "d", "13800000000", "", "https://c.example/"],
        ]);
        let merge = crate::import::grid::Merge {
            first_row: 0,
            last_row: 0,
            first_col: 2,
            last_col: 3,
        };
        crate::import::grid::fill_merges(&mut g.rows, &[merge]);
        let (form, _) = read_form(&g);
        let phones: Vec<&str> = form
            .as_ref()
            .unwrap()
            .rows
            .iter()
            .map(|r| r.values[&Column::Phone].as_str())
            .collect();
        assert_eq!(phones, ["029-88886666", "13800000000"]);
    }

    #[test]
    fn a_form_without_the_site_column_is_refused_by_name() {
        let g = grid(&[&["头条号名称", "机构名称", "联系电话"], &["a", "b", "c"]]);
        let (form, problems) = read_form(&g);
        assert!(form.is_none());
        assert!(
            problems
                .iter()
                .any(|p| p.fault == Fault::MissingColumn(Column::Site))
        );
    }

    #[test]
    fn a_blank_template_is_a_warning_not_silence() {
        let (form, problems) = read_form(&grid(&[
            &["头条号名称", "机构名称", "官方网站"],
            &["", "", ""],
        ]));
        assert!(form.unwrap().rows.is_empty());
        assert_eq!(problems.len(), 5, "{problems:?}"); // four optional columns missing, no rows
        assert_eq!(problems[4].fault, Fault::NoRows);
    }

    #[test]
    fn a_grid_without_header_says_so() {
        let (form, problems) = read_form(&grid(&[&["随便写点什么"]]));
        assert!(form.is_none());
        assert_eq!(problems[0].fault, Fault::NoHeader);
    }
}
