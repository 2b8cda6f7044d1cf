//! The parser held to the reference: html5lib's tree-construction tests and
//! html5ever, compared on what extraction uses of a tree.
//!
//! What is compared (the *text-affecting tree*): the element tree as the
//! extractor sees it — elements by tag name, nested as parsed, and their
//! text — after the drops the arena makes anyway (scripts, styles, form
//! controls, SVG, templates, `hidden` / `display:none` subtrees). Adjacent
//! text is joined and its whitespace collapsed and trimmed, and
//! whitespace-only text is left out; comments, doctypes and attributes are
//! not compared. Two trees with the same projection give the extractor the
//! same text in the same elements (scores, links, paragraphs). Used by
//! `tests/parse_html5lib.rs` and `tests/parse_differential.rs`; the numbers
//! are in BENCHMARKS.md ("HTML parser").

use std::path::Path;

use super::dom::{Data, Dom, Name, ROOT, collapse_ws, dropped_tag, hidden_attrs};
use super::parse::{Entities, parse_document};

/// The projection of a tree built by this crate's parser.
pub fn shape_ours(html: &str) -> String {
    shape_of(&parse_document(html, &Entities::new()), true)
}

/// The text of this parser's projection alone, element boundaries as `|`:
/// two trees with the same text differ only in where elements are.
pub fn text_ours(html: &str) -> String {
    shape_of(&parse_document(html, &Entities::new()), false)
}

/// The projection of html5ever's tree (through scraper, as the per-site
/// selector path parses).
pub fn shape_html5ever(html: &str) -> String {
    shape_of(
        &Dom::from_html(&scraper::Html::parse_document(html), None, None),
        true,
    )
}

/// What each per-site selector of `sels` picks on `html` through the
/// daemon's path (our parser, matched by [`super::select`]): each match as
/// its tag and its collapsed text, in document order. One parse for all.
pub fn selected_ours(html: &str, sels: &[&str]) -> Result<Vec<Vec<String>>, String> {
    let dom = parse_document(html, &Entities::new());
    sels.iter()
        .map(|s| Ok(picked(&dom, &super::select::Css::parse(s)?.select(&dom))))
        .collect()
}

/// The same through the path it replaced: html5ever (after the caps of
/// [`super::tame`]) and scraper's matcher, copied into the arena.
pub fn selected_html5ever(html: &str, sels: &[&str]) -> Result<Vec<Vec<String>>, String> {
    let doc = scraper::Html::parse_document(&super::tame::for_html5ever(html));
    sels.iter()
        .map(|s| {
            let css = scraper::Selector::parse(s).map_err(|e| e.to_string())?;
            let dom = Dom::from_html(&doc, Some(&css), None);
            Ok(picked(&dom, &dom.marked_content))
        })
        .collect()
}

/// Whether the extractor matches `sel` on its own tree (else on
/// html5ever's: a selector that counts siblings, see `select`).
pub fn matched_on_our_tree(sel: &str) -> Result<bool, String> {
    Ok(!super::select::Css::parse(sel)?.sees_siblings())
}

fn picked(dom: &Dom, nodes: &[usize]) -> Vec<String> {
    nodes
        .iter()
        .map(|&i| format!("{}: {}", dom.tag(i), dom.text_of(i)))
        .collect()
}

/// A tree to project: tag (empty for text), text, children.
struct Tree {
    tag: String,
    text: String,
    children: Vec<usize>,
}

/// Serialise `<tag>…</tag>` with joined, collapsed text, without recursion;
/// without `tags`, the text pieces alone, each ended by `|`.
fn serialise(nodes: &[Tree], root: usize, tags: bool) -> String {
    enum Step {
        Enter(usize),
        Close(usize),
    }
    let mut out = String::new();
    let mut pending = String::new();
    let flush = |pending: &mut String, out: &mut String| {
        let t = collapse_ws(pending);
        if !t.is_empty() && tags {
            out.push('"');
            out.push_str(&t);
            out.push('"');
        } else if !t.is_empty() {
            out.push_str(&t);
            out.push('|');
        }
        pending.clear();
    };
    let mut todo = vec![Step::Enter(root)];
    while let Some(step) = todo.pop() {
        match step {
            Step::Enter(i) if nodes[i].tag.is_empty() => pending.push_str(&nodes[i].text),
            Step::Enter(i) => {
                flush(&mut pending, &mut out);
                if tags {
                    out.push('<');
                    out.push_str(&nodes[i].tag);
                    out.push('>');
                }
                todo.push(Step::Close(i));
                todo.extend(nodes[i].children.iter().rev().map(|&c| Step::Enter(c)));
            }
            Step::Close(i) => {
                flush(&mut pending, &mut out);
                if tags {
                    out.push_str("</");
                    out.push_str(&nodes[i].tag);
                    out.push('>');
                }
            }
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn shape_of(dom: &Dom, tags: bool) -> String {
    let nodes: Vec<Tree> = dom
        .nodes
        .iter()
        .map(|n| match &n.data {
            Data::Document => Tree {
                tag: "#document".into(),
                text: String::new(),
                children: n.children.clone(),
            },
            Data::Element(e) => Tree {
                tag: e.tag.to_string(),
                text: String::new(),
                children: n.children.clone(),
            },
            Data::Text(t) => Tree {
                tag: String::new(),
                text: t.clone(),
                children: Vec::new(),
            },
        })
        .collect();
    serialise(&nodes, ROOT, tags)
}

/// The projection of an html5lib expected tree (`#document` section: lines
/// `| ` + two spaces per level), with the arena's drops applied.
pub fn shape_expected(tree: &str) -> String {
    project_expected(tree, true)
}

/// The text of an expected tree's projection (see [`text_ours`]).
pub fn text_expected(tree: &str) -> String {
    project_expected(tree, false)
}

fn project_expected(tree: &str, tags: bool) -> String {
    let mut nodes = vec![Tree {
        tag: "#document".into(),
        text: String::new(),
        children: Vec::new(),
    }];
    // (depth, node, dropped) of the open elements.
    let mut open: Vec<(usize, usize, bool)> = vec![(0, 0, false)];
    let mut attrs: Vec<(Name, String)> = Vec::new();
    let mut lines = tree.lines().peekable();
    // Attributes come after their element: drop decisions wait for them.
    let mut last_elem: Option<(usize, String)> = None;
    let decide = |nodes: &mut Vec<Tree>,
                  open: &mut Vec<(usize, usize, bool)>,
                  last: &mut Option<(usize, String)>,
                  attrs: &mut Vec<(Name, String)>| {
        if let Some((idx, tag)) = last.take()
            && (dropped_tag(&tag) || hidden_attrs(attrs))
            && let Some(o) = open.iter_mut().rev().find(|o| o.1 == idx)
        {
            o.2 = true;
            nodes[idx].tag = "#dropped".into();
        }
        attrs.clear();
    };
    while let Some(line) = lines.next() {
        let Some(body) = line.strip_prefix("| ") else {
            continue;
        };
        let indent = body.len() - body.trim_start_matches(' ').len();
        let depth = indent / 2 + 1;
        let item = &body[indent..];
        if !item.starts_with('<') && !item.starts_with('"') && item.contains("=\"") {
            // An attribute of the element just opened.
            if let Some((name, value)) = item.split_once('=') {
                attrs.push((Name::new(name), value.trim_matches('"').to_string()));
            }
            continue;
        }
        decide(&mut nodes, &mut open, &mut last_elem, &mut attrs);
        while open.last().is_some_and(|o| o.0 >= depth) {
            open.pop();
        }
        let (_, parent, dropped) = *open.last().unwrap_or(&(0, 0, false));
        if let Some(rest) = item.strip_prefix('"') {
            let mut text = rest.to_string();
            // Text runs over lines until its closing quote.
            while !text.ends_with('"') {
                match lines.next() {
                    Some(next) => {
                        text.push('\n');
                        text.push_str(next);
                    }
                    None => break,
                }
            }
            text.pop();
            if !dropped {
                let idx = nodes.len();
                nodes.push(Tree {
                    tag: String::new(),
                    text,
                    children: Vec::new(),
                });
                nodes[parent].children.push(idx);
            }
        } else if item.starts_with("<!--") {
            // A comment, perhaps over several lines.
            let mut l = item.to_string();
            while !l.ends_with("-->") {
                match lines.next() {
                    Some(next) => l = next.to_string(),
                    None => break,
                }
            }
        } else if item.starts_with("<!DOCTYPE") || item.starts_with("<?") {
        } else if let Some(inner) = item.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
            // `<svg path>`: a namespace, then the local name.
            let tag = inner
                .rsplit(' ')
                .next()
                .unwrap_or(inner)
                .to_ascii_lowercase();
            let idx = nodes.len();
            nodes.push(Tree {
                tag: tag.clone(),
                text: String::new(),
                children: Vec::new(),
            });
            if !dropped {
                nodes[parent].children.push(idx);
            }
            open.push((depth, idx, dropped));
            last_elem = Some((idx, tag));
        } else if item == "content" {
            // A template's contents: templates are dropped.
            let idx = nodes.len();
            nodes.push(Tree {
                tag: "#dropped".into(),
                text: String::new(),
                children: Vec::new(),
            });
            open.push((depth, idx, true));
        }
    }
    decide(&mut nodes, &mut open, &mut last_elem, &mut attrs);
    // Dropped elements were kept as placeholders until their attributes
    // were read; take them out.
    let dropped: Vec<bool> = nodes.iter().map(|n| n.tag == "#dropped").collect();
    for n in &mut nodes {
        n.children.retain(|&c| !dropped[c]);
    }
    serialise(&nodes, 0, tags)
}

/// One html5lib tree-construction test.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    /// Line of its `#data` in the file.
    pub line: usize,
    pub data: String,
    pub expected: String,
}

/// The document tests of a `.dat` file; fragment tests and tests run with
/// scripting off (this parser reads `<noscript>` as a scripting browser
/// does) are counted in the second value and left out.
pub fn read_dat(path: &Path) -> std::io::Result<(Vec<Case>, usize)> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let file = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut cases = Vec::new();
    let mut skipped = 0;
    let lines: Vec<&str> = text.split('\n').collect();
    let header = |l: &str| {
        matches!(
            l,
            "#data"
                | "#errors"
                | "#new-errors"
                | "#document"
                | "#document-fragment"
                | "#script-off"
                | "#script-on"
        )
    };
    let mut i = 0;
    while i < lines.len() {
        if lines[i] != "#data" {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < lines.len() && !header(lines[j]) {
            j += 1;
        }
        let data = lines[start..j].join("\n");
        let mut fragment = false;
        let mut script_off = false;
        let mut expected = String::new();
        while j < lines.len() && lines[j] != "#data" {
            match lines[j] {
                "#document-fragment" => fragment = true,
                "#script-off" => script_off = true,
                "#document" => {
                    let mut k = j + 1;
                    while k < lines.len() && lines[k] != "#data" {
                        expected.push_str(lines[k]);
                        expected.push('\n');
                        k += 1;
                    }
                    j = k;
                    continue;
                }
                _ => {}
            }
            j += 1;
        }
        if fragment || script_off {
            skipped += 1;
        } else {
            cases.push(Case {
                file: file.clone(),
                line: i + 1,
                data,
                expected,
            });
        }
        i = j;
    }
    Ok((cases, skipped))
}

/// Pass counts over a directory of `.dat` files.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub cases: usize,
    pub skipped: usize,
    pub ours: usize,
    pub html5ever: usize,
    /// Cases html5ever passes and this parser does not.
    pub ours_only_fail: Vec<Case>,
    /// Cases neither passes.
    pub both_fail: usize,
}

/// Run every document test in `dir/*.dat` through both parsers.
pub fn run(dir: &Path) -> std::io::Result<Report> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    files.sort();
    let mut r = Report::default();
    for f in files {
        let (cases, skipped) = read_dat(&f)?;
        r.files += 1;
        r.skipped += skipped;
        for c in cases {
            r.cases += 1;
            let want = shape_expected(&c.expected);
            let ours = shape_ours(&c.data) == want;
            let theirs = shape_html5ever(&c.data) == want;
            r.ours += usize::from(ours);
            r.html5ever += usize::from(theirs);
            if !ours && theirs {
                r.ours_only_fail.push(c);
            } else if !ours {
                r.both_fail += 1;
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_trees_are_read_with_their_drops() {
        let tree = "| <html>\n|   <head>\n|   <body>\n|     <p>\n|       class=\"x\"\n|       \"a\nb\"\n|     <div>\n|       hidden=\"\"\n|       \"gone\"\n|     <!-- c -->\n|     <svg svg>\n|       \"no\"\n|     \"tail\"\n";
        assert_eq!(
            shape_expected(tree),
            "<#document><html><head></head><body><p>\"a b\"</p>\"tail\"</body></html></#document>"
        );
        assert_eq!(
            shape_ours("<p class=x>a\nb<div hidden>gone</div><!-- c --><svg>no</svg>tail"),
            shape_expected(tree)
        );
    }
}
