//! Pages as html5ever may read them.
//!
//! Why: list discovery, site discovery, per-site selectors and feed
//! fragments still parse with html5ever (through scraper), which follows
//! the standard without the caps browsers add: its cost grows with nesting
//! depth and with the active formatting elements it reconstructs, so a page
//! of 200,000 unclosed `<div>`s took 95 s and 100,000 `<p><font color=N>`
//! used 24 GB (BENCHMARKS.md, "HTML parser"). Our own parser is linear and
//! caps both, like a browser. A page it parses without touching a cap goes
//! to html5ever as written (the same tree either way, tested on every bench
//! page); a page that hit a cap goes as our capped tree written back out —
//! well nested and no deeper than the cap, so html5ever reads it in linear
//! time. What the arena leaves out (scripts, styles, hidden and form
//! elements) is left out of such a page too: only pathological pages lose
//! it, and a hidden block dropped is one that must never win anyway.

use super::dom::{Data, Dom, ROOT};
use super::parse::{Entities, is_void, parse_capped};
use std::borrow::Cow;

/// `html` as html5ever should be given it (see the module docs).
pub fn for_html5ever(html: &str) -> Cow<'_, str> {
    match parse_capped(html, &Entities::new(), None) {
        Ok((_, false)) | Err(_) => Cow::Borrowed(html),
        Ok((dom, true)) => {
            tracing::debug!(
                bytes = html.len(),
                "page hit the parser's caps: html5ever reads its capped tree"
            );
            Cow::Owned(serialize(&dom))
        }
    }
}

fn escape(s: &str, attr: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' if !attr => out.push_str("&lt;"),
            '>' if !attr => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// The arena written out as HTML, without recursion (its depth is capped,
/// but a loop costs nothing more).
fn serialize(dom: &Dom) -> String {
    // No doctype and no `<title>` (kept apart in the arena): the result is
    // read as a document and as a fragment (a feed's content) alike.
    let mut out = String::new();
    // (node, next child to write)
    let mut stack: Vec<(usize, usize)> = vec![(ROOT, 0)];
    while let Some(&mut (node, ref mut next)) = stack.last_mut() {
        let children = &dom.nodes[node].children;
        if *next < children.len() {
            let child = children[*next];
            *next += 1;
            match &dom.nodes[child].data {
                Data::Text(t) => escape(t, false, &mut out),
                Data::Element(e) => {
                    out.push('<');
                    out.push_str(&e.tag);
                    for (k, v) in &e.attrs {
                        out.push(' ');
                        out.push_str(k);
                        out.push_str("=\"");
                        escape(v, true, &mut out);
                        out.push('"');
                    }
                    out.push('>');
                    if !is_void(&e.tag) {
                        stack.push((child, 0));
                    }
                }
                Data::Document => {}
            }
        } else {
            stack.pop();
            if let Data::Element(e) = &dom.nodes[node].data {
                out.push_str("</");
                out.push_str(&e.tag);
                out.push('>');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_page_goes_to_html5ever_as_written() {
        let page = "<html><body><ul><li><a href=/a>一</a><li><a href=/b>二</a></ul><p><b>x<p>y</b>";
        assert!(matches!(for_html5ever(page), Cow::Borrowed(p) if p == page));
    }

    /// The pages that stalled html5ever come out well nested and small
    /// enough to read fast, their text kept.
    #[test]
    fn pathological_pages_are_tamed_and_keep_their_text() {
        let deep = format!("{}<a href=/x>深处的链接</a>", "<div>".repeat(50_000));
        let tamed = for_html5ever(&deep);
        assert!(matches!(tamed, Cow::Owned(_)));
        let doc = scraper::Html::parse_document(&tamed);
        let text: String = doc.root_element().text().collect();
        assert!(text.contains("深处的链接"), "text lost");
        // What makes html5ever linear on it: no deeper than the cap.
        let depth = doc
            .root_element()
            .descendants()
            .map(|n| n.ancestors().count())
            .max()
            .unwrap_or(0);
        assert!(
            depth <= crate::extract::parse::MAX_DEPTH + 2,
            "depth {depth}"
        );

        let fonts: String = (0..3_000)
            .map(|i| format!("<p><font color={i}>第{i}行</p>"))
            .collect();
        let tamed = for_html5ever(&fonts);
        assert!(matches!(tamed, Cow::Owned(_)));
        assert!(tamed.len() < fonts.len() * 40, "{} bytes", tamed.len());
        let doc = scraper::Html::parse_document(&tamed);
        let text: String = doc.root_element().text().collect();
        assert!(text.contains("第2999行"));
    }

    #[test]
    fn the_written_tree_escapes_what_it_must() {
        // Deep enough to hit the cap, then closed again: the link after it
        // sits near the top.
        let deep = format!(
            "{}{}<a href=\"/q?a=1&amp;b=&quot;2&quot;\">x &lt; y</a>",
            "<span>".repeat(1_000),
            "</span>".repeat(1_000)
        );
        assert!(matches!(for_html5ever(&deep), Cow::Owned(_)));
        let tamed = for_html5ever(&deep).into_owned();
        let doc = scraper::Html::parse_document(&tamed);
        let a = doc
            .select(&scraper::Selector::parse("a").unwrap())
            .next()
            .expect("the link survives");
        assert_eq!(a.value().attr("href"), Some("/q?a=1&b=\"2\""));
        assert_eq!(a.text().collect::<String>(), "x < y");
    }
}
