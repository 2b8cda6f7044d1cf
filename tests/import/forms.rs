//! The forms the import tests read, made here in each format as the units
//! send them back: xlsx (rust_xlsxwriter) and xls (BIFF8 in a compound
//! file, by cfb) with a merged title and a two-row header under merged
//! cells, a GBK CSV, a docx built with the zip crate.

use std::io::Write;
use std::path::Path;

/// A valid resident ID: `first17` and its GB 11643 check character.
pub fn resident_id(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// An ID whose check character is wrong.
pub fn bad_check(first17: &str) -> String {
    let good = resident_id(first17);
    let last = if good.ends_with('0') { '1' } else { '0' };
    format!("{first17}{last}")
}

pub const HEADER: [&str; 7] = [
    "头条号名称",
    "机构名称",
    "登录邮箱",
    "运营人姓名",
    "运营人身份证",
    "联系电话",
    "官方网站",
];

/// Three good rows of a city's form.
pub fn good_rows() -> Vec<[String; 7]> {
    [
        (
            "甲市科协",
            "甲市科学技术协会",
            "jia@jiakx.org.cn",
            "张三",
            "61010219900101001",
            "13800000001",
            "https://www.jiakx.org.cn/",
        ),
        (
            "乙县科协",
            "乙县科学技术协会",
            "yi@yikx.gov.cn",
            "李四",
            "61010219900101002",
            "029-88886666",
            "http://kx.yi.gov.cn/",
        ),
        (
            "丙大学科协",
            "丙大学科学技术协会",
            "kx@bing.edu.cn",
            "王五",
            "61010219900101003",
            "(0917)3212345",
            "bing.edu.cn",
        ),
    ]
    .into_iter()
    .map(|(a, o, e, n, id, p, s)| [a, o, e, n, &resident_id(id), p, s].map(str::to_string))
    .collect()
}

/// A CSV form (a title and a responsible person's line above the table)
/// in GBK, as Excel on a Chinese Windows saves it.
pub fn gbk_csv(path: &Path, rows: &[[String; 7]]) {
    let mut text = String::from("集体认证信息表,,,,,,\n负责人：赵六 手机：13900001111,,,,,,\n");
    text.push_str(&HEADER.join(","));
    text.push('\n');
    for r in rows {
        text.push_str(&r.join(","));
        text.push('\n');
    }
    let (bytes, _, bad) = encoding_rs::GBK.encode(&text);
    assert!(!bad);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "not GBK: proves nothing"
    );
    std::fs::write(path, bytes).unwrap();
}

/// A spreadsheet form's layout: a merged title, the responsible person's
/// line, a header over two rows (序号 and each column merged down, 运营人
/// merged across 姓名 and 身份证, names with a line break, a note and a
/// space), the rows, a note under the table. Cells as (row, column, text);
/// merges as (first row, first column, last row, last column), their text
/// in the top-left cell.
struct Layout {
    cells: Vec<(u32, u16, String)>,
    merges: Vec<(u32, u16, u32, u16)>,
}

fn form_layout(rows: &[[String; 7]]) -> Layout {
    let mut cells: Vec<(u32, u16, String)> = vec![
        (0, 0, "集体认证信息表".into()),
        (1, 0, "负责人：赵六".into()),
        (1, 3, "手机：13900001111".into()),
        (2, 0, "序号".into()),
        (2, 1, "头条号\n名称（10字以内）".into()),
        (2, 2, "机构名称".into()),
        (2, 3, "登录 邮箱".into()),
        (2, 4, "运营人".into()),
        (3, 4, "姓名".into()),
        (3, 5, "身份证".into()),
        (2, 6, "联系电话".into()),
        (2, 7, "官方网站".into()),
    ];
    let mut merges = vec![(0, 0, 0, 7), (2, 4, 2, 5)];
    merges.extend([0u16, 1, 2, 3, 6, 7].map(|c| (2, c, 3, c)));
    for (i, r) in rows.iter().enumerate() {
        let row = 4 + i as u32;
        cells.push((row, 0, (i + 1).to_string()));
        cells.extend(
            r.iter()
                .enumerate()
                .map(|(c, v)| (row, c as u16 + 1, v.clone())),
        );
    }
    cells.push((5 + rows.len() as u32, 0, "注：每个单位一行。".into()));
    Layout { cells, merges }
}

/// The layout as .xlsx (rust_xlsxwriter), a phone typed into a number cell
/// as happens, and a second sheet of instructions.
pub fn xlsx_form(path: &Path, rows: &[[String; 7]]) {
    use rust_xlsxwriter::{Format, Workbook};
    let layout = form_layout(rows);
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let f = Format::new();
    for (r, c, text) in &layout.cells {
        let merge = layout.merges.iter().find(|m| (m.0, m.1) == (*r, *c));
        if let Some(m) = merge {
            ws.merge_range(m.0, m.1, m.2, m.3, text, &f).unwrap();
        } else if *c == 6 && *r >= 4 && text.chars().all(|c| c.is_ascii_digit()) {
            ws.write_number(*r, *c, text.parse::<f64>().unwrap())
                .unwrap();
        } else {
            ws.write_string(*r, *c, text).unwrap();
        }
    }
    let notes = book.add_worksheet();
    notes.set_name("填表说明").unwrap();
    notes.write_string(0, 0, "请按模板填写").unwrap();
    book.save(path).unwrap();
}

/// The layout as .xls: a BIFF8 workbook stream (BOF, BoundSheet8, EOF; the
/// sheet's BOF, Label records, MergeCells, EOF) in a compound file, as
/// Excel 97–2003 saves it.
pub fn xls_form(path: &Path, rows: &[[String; 7]]) {
    fn record(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
        out.extend(typ.to_le_bytes());
        out.extend((data.len() as u16).to_le_bytes());
        out.extend(data);
    }
    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }
    let bof = |dt: u16| [0x0600u16.to_le_bytes(), dt.to_le_bytes(), [0, 0], [0, 0]].concat();
    let layout = form_layout(rows);
    let name = "表1";
    let boundsheet = |pos: u32| {
        let mut d = pos.to_le_bytes().to_vec();
        d.extend([0, 0, name.encode_utf16().count() as u8, 1]);
        d.extend(utf16(name));
        d
    };
    // The globals' length does not depend on the sheet's position.
    let mut globals = Vec::new();
    record(&mut globals, 0x0809, &bof(0x0005));
    record(&mut globals, 0x0085, &boundsheet(0));
    record(&mut globals, 0x000A, &[]);
    let pos = globals.len() as u32;
    let mut stream = Vec::new();
    record(&mut stream, 0x0809, &bof(0x0005));
    record(&mut stream, 0x0085, &boundsheet(pos));
    record(&mut stream, 0x000A, &[]);
    record(&mut stream, 0x0809, &bof(0x0010));
    for (r, c, text) in &layout.cells {
        let mut d = Vec::new();
        d.extend((*r as u16).to_le_bytes());
        d.extend(c.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        d.extend((text.encode_utf16().count() as u16).to_le_bytes());
        d.push(1);
        d.extend(utf16(text));
        record(&mut stream, 0x0204, &d);
    }
    let mut m = (layout.merges.len() as u16).to_le_bytes().to_vec();
    for (r0, c0, r1, c1) in &layout.merges {
        for v in [*r0 as u16, *r1 as u16, *c0, *c1] {
            m.extend(v.to_le_bytes());
        }
    }
    record(&mut stream, 0x00E5, &m);
    record(&mut stream, 0x000A, &[]);
    // Past the mini-stream cutoff, as a real workbook is.
    stream.resize(stream.len().max(8192), 0);
    // Version 3 (512-byte sectors), what Excel writes.
    let file = std::fs::File::create(path).unwrap();
    let mut comp = cfb::CompoundFile::create_with_version(cfb::Version::V3, file).unwrap();
    comp.create_stream("/Workbook")
        .unwrap()
        .write_all(&stream)
        .unwrap();
    comp.flush().unwrap();
}

/// A .docx whose body is a title, the responsible person's line and the
/// form's table (官方网站 spanning two grid columns), built with the zip
/// crate.
pub fn docx_form(path: &Path, rows: &[[String; 7]]) {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
    let p = |s: &str| format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", esc(s));
    let tc = |s: &str, span: usize| {
        let pr = if span > 1 {
            format!("<w:tcPr><w:gridSpan w:val=\"{span}\"/></w:tcPr>")
        } else {
            String::new()
        };
        format!("<w:tc>{pr}{}</w:tc>", p(s))
    };
    let row = |cells: &[&str]| {
        let n = cells.len();
        let tcs: String = cells
            .iter()
            .enumerate()
            .map(|(i, c)| tc(c, if i + 1 == n { 2 } else { 1 }))
            .collect();
        format!("<w:tr>{tcs}</w:tr>")
    };
    let mut body = p("集体认证信息表") + &p("负责人：赵六　手机：13900001111");
    body.push_str("<w:tbl>");
    body.push_str(&row(&HEADER));
    for r in rows {
        body.push_str(&row(&r.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    body.push_str("</w:tbl>");
    body.push_str(&p("填表说明：每个单位一行"));
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", opts).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#).unwrap();
    zip.start_file("word/document.xml", opts).unwrap();
    zip.write_all(xml.as_bytes()).unwrap();
    zip.finish().unwrap();
}
