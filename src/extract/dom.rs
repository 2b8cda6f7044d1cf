//! A compact, read-only copy of the parsed page.
//!
//! [`super::parse`] builds it directly from the page (or, when per-site
//! CSS selectors must be matched, html5ever through scraper parses it and
//! the tree is copied in). Nodes are kept in document order. Document order means a parent always
//! has a smaller index than its children, so per-node statistics can be
//! summed bottom-up in one reverse sweep — no recursion, no quadratic walks,
//! and no stack overflow on the absurdly deep tables some CMSs produce.
//! Scripts, styles and hidden elements are dropped while copying, since no
//! later stage wants them (JSON-LD scripts are kept aside for metadata).

use std::borrow::Cow;

use scraper::{Html, Node as HNode, Selector};

pub(crate) const ROOT: usize = 0;

/// A lower-case tag or attribute name. The names every page repeats
/// thousands of times are static strings, so building the arena does not
/// allocate for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name(Cow<'static, str>);

/// The static copy of a name common enough to be worth not allocating
/// (a `match`, which compiles to a length switch and a few compares).
fn common_name(raw: &str) -> Option<&'static str> {
    Some(match raw {
        "a" => "a",
        "abbr" => "abbr",
        "address" => "address",
        "article" => "article",
        "aside" => "aside",
        "b" => "b",
        "base" => "base",
        "blockquote" => "blockquote",
        "body" => "body",
        "br" => "br",
        "button" => "button",
        "caption" => "caption",
        "center" => "center",
        "cite" => "cite",
        "code" => "code",
        "col" => "col",
        "colgroup" => "colgroup",
        "dd" => "dd",
        "div" => "div",
        "dl" => "dl",
        "dt" => "dt",
        "em" => "em",
        "figcaption" => "figcaption",
        "figure" => "figure",
        "font" => "font",
        "footer" => "footer",
        "form" => "form",
        "h1" => "h1",
        "h2" => "h2",
        "h3" => "h3",
        "h4" => "h4",
        "h5" => "h5",
        "h6" => "h6",
        "head" => "head",
        "header" => "header",
        "hr" => "hr",
        "html" => "html",
        "i" => "i",
        "iframe" => "iframe",
        "img" => "img",
        "input" => "input",
        "label" => "label",
        "li" => "li",
        "link" => "link",
        "main" => "main",
        "meta" => "meta",
        "nav" => "nav",
        "noscript" => "noscript",
        "ol" => "ol",
        "option" => "option",
        "p" => "p",
        "path" => "path",
        "picture" => "picture",
        "pre" => "pre",
        "s" => "s",
        "script" => "script",
        "section" => "section",
        "select" => "select",
        "small" => "small",
        "source" => "source",
        "span" => "span",
        "strong" => "strong",
        "style" => "style",
        "sub" => "sub",
        "sup" => "sup",
        "svg" => "svg",
        "table" => "table",
        "tbody" => "tbody",
        "td" => "td",
        "template" => "template",
        "tfoot" => "tfoot",
        "th" => "th",
        "thead" => "thead",
        "time" => "time",
        "title" => "title",
        "tr" => "tr",
        "u" => "u",
        "ul" => "ul",
        "g" => "g",
        "use" => "use",
        "textarea" => "textarea",
        "video" => "video",
        "audio" => "audio",
        "class" => "class",
        "id" => "id",
        "href" => "href",
        "src" => "src",
        "alt" => "alt",
        "rel" => "rel",
        "type" => "type",
        "name" => "name",
        "content" => "content",
        "property" => "property",
        "itemprop" => "itemprop",
        "datetime" => "datetime",
        "data-src" => "data-src",
        "srcset" => "srcset",
        "width" => "width",
        "height" => "height",
        "target" => "target",
        "role" => "role",
        "hidden" => "hidden",
        "lang" => "lang",
        "charset" => "charset",
        "http-equiv" => "http-equiv",
        "value" => "value",
        "tabindex" => "tabindex",
        "loading" => "loading",
        "sizes" => "sizes",
        "align" => "align",
        "border" => "border",
        "d" => "d",
        "fill" => "fill",
        "viewbox" => "viewbox",
        "xmlns" => "xmlns",
        "aria-label" => "aria-label",
        "aria-hidden" => "aria-hidden",
        "onclick" => "onclick",
        "colspan" => "colspan",
        "rowspan" => "rowspan",
        "valign" => "valign",
        "cellpadding" => "cellpadding",
        "cellspacing" => "cellspacing",
        "bgcolor" => "bgcolor",
        "color" => "color",
        "face" => "face",
        "size" => "size",
        "data-original" => "data-original",
        "data-id" => "data-id",
        "decoding" => "decoding",
        "media" => "media",
        "crossorigin" => "crossorigin",
        "async" => "async",
        "defer" => "defer",
        "action" => "action",
        "method" => "method",
        "for" => "for",
        "placeholder" => "placeholder",
        "dir" => "dir",
        "clip-rule" => "clip-rule",
        "fill-rule" => "fill-rule",
        "stroke" => "stroke",
        "transform" => "transform",
        _ => return None,
    })
}

impl Name {
    /// The name for `raw`, lower-cased.
    pub fn new(raw: &str) -> Name {
        if raw.bytes().any(|b| b.is_ascii_uppercase()) {
            return Name::from(raw.to_ascii_lowercase());
        }
        match common_name(raw) {
            Some(n) => Name(Cow::Borrowed(n)),
            None => Name(Cow::Owned(raw.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        match common_name(&s) {
            Some(n) => Name(Cow::Borrowed(n)),
            None => Name(Cow::Owned(s)),
        }
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug)]
pub(crate) struct Elem {
    /// Lower-case local name.
    pub tag: Name,
    pub attrs: Vec<(Name, String)>,
}

impl Elem {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub(crate) enum Data {
    Document,
    Element(Elem),
    Text(String),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub parent: usize,
    pub children: Vec<usize>,
    pub data: Data,
    /// `class` and `id` joined and lower-cased, for boilerplate patterns.
    pub class_id: String,
}

#[derive(Debug)]
pub(crate) struct Dom {
    pub nodes: Vec<Node>,
    /// Bodies of `<script type="application/ld+json">`.
    pub json_ld: Vec<String>,
    /// `<base href>`, if the page has one.
    pub base_href: Option<String>,
    /// Text of `<title>`.
    pub title: String,
    /// Elements matched by the per-site content selector, if one was given.
    pub marked_content: Vec<usize>,
    /// Elements matched by the per-site title selector, if one was given.
    pub marked_title: Vec<usize>,
    /// One past the last index of each node's subtree.
    ends: Vec<usize>,
}

/// Elements whose whole subtree is dropped while copying.
pub(crate) fn dropped_tag(tag: &str) -> bool {
    matches!(
        tag,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "iframe"
            | "object"
            | "embed"
            | "canvas"
            | "select"
            | "option"
            | "button"
            | "textarea"
            | "input"
            | "link"
            | "map"
            | "audio"
            | "video"
            | "dialog"
    )
}

fn hidden(el: &scraper::node::Element) -> bool {
    style_hides(el.attr("hidden"), el.attr("style"))
}

/// [`hidden`] for attributes already copied out (names lower-cased).
pub(crate) fn hidden_attrs(attrs: &[(Name, String)]) -> bool {
    let get = |name: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    style_hides(get("hidden"), get("style"))
}

fn style_hides(hidden: Option<&str>, style: Option<&str>) -> bool {
    if hidden.is_some() {
        return true;
    }
    if let Some(style) = style {
        let s: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        // Only display:none: WeChat and others ship the article with
        // visibility:hidden and reveal it from script.
        if s.contains("display:none") {
            return true;
        }
    }
    false
}

impl Dom {
    #[cfg(test)]
    pub fn parse(html: &str) -> Dom {
        super::parse::parse_document(html, &super::parse::Entities::new())
    }

    /// A document with only its root node.
    pub(crate) fn empty() -> Dom {
        let mut dom = Dom {
            nodes: Vec::with_capacity(2048),
            json_ld: Vec::new(),
            base_href: None,
            title: String::new(),
            marked_content: Vec::new(),
            marked_title: Vec::new(),
            ends: Vec::new(),
        };
        dom.nodes.push(Node {
            parent: ROOT,
            children: Vec::new(),
            data: Data::Document,
            class_id: String::new(),
        });
        dom
    }

    /// Compute subtree ends once all nodes are in (document order).
    pub(crate) fn finish(&mut self) {
        // A node's subtree ends where its last child's does.
        let n = self.nodes.len();
        let mut ends: Vec<usize> = (1..=n).collect();
        for i in (0..n).rev() {
            if let Some(&last) = self.nodes[i].children.last() {
                ends[i] = ends[last];
            }
        }
        self.ends = ends;
    }

    /// Copy a parsed document; elements matching the optional per-site
    /// selectors are remembered by arena index.
    pub fn from_html(doc: &Html, content: Option<&Selector>, title: Option<&Selector>) -> Dom {
        let content_ids: Vec<_> = content
            .map(|s| doc.select(s).map(|e| e.id()).collect())
            .unwrap_or_default();
        let title_ids: Vec<_> = title
            .map(|s| doc.select(s).map(|e| e.id()).collect())
            .unwrap_or_default();
        let mut dom = Dom::empty();
        // Explicit stack of (scraper node, arena parent, depth) instead of
        // recursion. html5ever does not cap nesting; the copy does, as the
        // parser does (`parse::tree::MAX_DEPTH`): below the cap, children
        // become siblings, so no later walk over ancestors is unbounded.
        let mut stack = Vec::with_capacity(64);
        for child in doc.tree.root().children().rev() {
            stack.push((child, ROOT, 1));
        }
        while let Some((node, parent, depth)) = stack.pop() {
            let idx = dom.nodes.len();
            match node.value() {
                HNode::Text(t) => {
                    dom.nodes.push(Node {
                        parent,
                        children: Vec::new(),
                        data: Data::Text(t.to_string()),
                        class_id: String::new(),
                    });
                    dom.nodes[parent].children.push(idx);
                }
                HNode::Element(el) => {
                    let tag = el.name().to_ascii_lowercase();
                    if tag == "script" {
                        if el
                            .attr("type")
                            .is_some_and(|t| t.eq_ignore_ascii_case("application/ld+json"))
                        {
                            let body: String = node
                                .children()
                                .filter_map(|c| c.value().as_text().map(|t| t.to_string()))
                                .collect();
                            dom.json_ld.push(body);
                        }
                        continue;
                    }
                    if tag == "title" && dom.title.is_empty() {
                        dom.title = node
                            .children()
                            .filter_map(|c| c.value().as_text().map(|t| t.to_string()))
                            .collect::<String>()
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ");
                    }
                    if tag == "base" && dom.base_href.is_none() {
                        dom.base_href = el.attr("href").map(str::to_string);
                    }
                    if dropped_tag(&tag) || hidden(el) {
                        continue;
                    }
                    let attrs: Vec<(Name, String)> = el
                        .attrs()
                        .map(|(k, v)| (Name::new(k), v.to_string()))
                        .collect();
                    let mut class_id = String::new();
                    for (k, v) in &attrs {
                        if k == "class" || k == "id" {
                            class_id.push_str(v);
                            class_id.push(' ');
                        }
                    }
                    class_id.make_ascii_lowercase();
                    dom.nodes.push(Node {
                        parent,
                        children: Vec::new(),
                        data: Data::Element(Elem {
                            tag: Name::from(tag),
                            attrs,
                        }),
                        class_id,
                    });
                    dom.nodes[parent].children.push(idx);
                    if content_ids.contains(&node.id()) {
                        dom.marked_content.push(idx);
                    }
                    if title_ids.contains(&node.id()) {
                        dom.marked_title.push(idx);
                    }
                    let (inner, inner_depth) = if depth >= super::parse::MAX_DEPTH {
                        (parent, depth)
                    } else {
                        (idx, depth + 1)
                    };
                    for child in node.children().rev() {
                        stack.push((child, inner, inner_depth));
                    }
                }
                _ => {}
            }
        }
        dom.finish();
        dom
    }

    pub fn elem(&self, i: usize) -> Option<&Elem> {
        match &self.nodes[i].data {
            Data::Element(e) => Some(e),
            _ => None,
        }
    }

    pub fn tag(&self, i: usize) -> &str {
        self.elem(i).map_or("", |e| e.tag.as_str())
    }

    /// Indices of the subtree rooted at `i`, in document order. Because the
    /// arena is in document order, a subtree is a contiguous index range.
    pub fn subtree_end(&self, i: usize) -> usize {
        self.ends[i]
    }

    /// How many nodes the subtree at `i` has, itself included.
    pub fn subtree_len(&self, i: usize) -> usize {
        self.ends[i] - i
    }

    /// Whether `a` is `b` or an ancestor of `b`.
    pub fn contains(&self, a: usize, b: usize) -> bool {
        b >= a && b < self.subtree_end(a)
    }

    /// Raw concatenated text of a subtree, whitespace collapsed.
    pub fn text_of(&self, i: usize) -> String {
        let mut out = String::new();
        for n in i..self.subtree_end(i) {
            if let Data::Text(t) = &self.nodes[n].data {
                out.push_str(t);
            }
        }
        collapse_ws(&out)
    }

    /// All elements with a given tag name, in document order.
    pub fn by_tag<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = usize> + 'a {
        (0..self.nodes.len()).filter(move |&i| self.tag(i) == tag)
    }
}

/// Collapse runs of whitespace (including NBSP and ideographic space) into
/// one space and trim.
pub(crate) fn collapse_ws(s: &str) -> String {
    // Word by word rather than char by char: one copy per word.
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xac00..=0xd7af)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_is_in_document_order_and_drops_scripts() {
        let dom = Dom::parse(
            "<html><head><title> A  title </title><script>var x=1</script>\
             <script type='application/ld+json'>{\"a\":1}</script></head>\
             <body><div id=a><p>one</p><p style='display: none'>hidden</p></div><p>two</p></body></html>",
        );
        assert_eq!(dom.title, "A title");
        assert_eq!(dom.json_ld, vec!["{\"a\":1}".to_string()]);
        let body = dom.by_tag("body").next().unwrap();
        assert_eq!(dom.text_of(body), "onetwo");
        let div = dom.by_tag("div").next().unwrap();
        for n in div..dom.subtree_end(div) {
            assert!(dom.contains(div, n));
        }
        assert!(!dom.contains(div, dom.subtree_end(div)));
    }
}
