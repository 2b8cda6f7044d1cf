//! A fast HTML parser that builds the extraction arena ([`Dom`]) directly.
//!
//! Why not html5ever: on real pages (170 kB of mostly markup, scripts and
//! attributes) its character-at-a-time tokenizer was two thirds of the
//! whole extraction time, and scraper's tree plus the copy into the arena
//! added more. Extraction needs the *shape* a browser gives a page — text
//! in the right elements, implied end tags, tables with their rows — not
//! every error-recovery corner. So this parser scans bytes with `memchr`,
//! skips scripts and styles in one search, and applies the tree-building
//! rules of the HTML standard that decide where text ends up:
//!
//! - void elements; raw-text (`script`, `style`, ...) and RCDATA (`title`,
//!   `textarea`) content, `noscript` read as raw text as a scripting browser
//!   (and html5ever's default) does; self-closing only inside SVG/MathML;
//! - implied `html`/`head`/`body`, head elements staying in the head;
//! - `<p>` closed by block starts, `<li>`/`<dd>`/`<dt>`/`<option>` closing
//!   their open siblings, headings closing headings, a new `<a>` closing an
//!   open one;
//! - tables: cells close cells, rows close rows, implied `tbody`/`tr`;
//! - end tags matched within the standard's scopes, "any other end tag"
//!   stopping at special elements, `</p>` without a `<p>` making one;
//! - character references, named (the standard's full table, via
//!   html5ever's data) and numeric, with the standard's replacements.
//!
//! Deliberately left out, because they move text around rather than decide
//! whether it is there: foster parenting (stray text inside `<table>` stays
//! where it is instead of moving before the table) and the adoption agency /
//! reconstruction of formatting elements (a misnested `</b>` closes what it
//! crosses). Elements are appended to the open element in document order,
//! so the arena comes out in document order without a second pass.

use super::dom::{Data, Dom, Elem, Name, Node, ROOT, dropped_tag, hidden_attrs};

/// The named character references, looked up by name without the `&`
/// (`amp;`, and `amp` for the legacy forms without `;`): the standard's
/// table as html5ever ships it.
pub(crate) struct Entities;

impl Entities {
    pub fn new() -> Entities {
        Entities
    }

    fn get(&self, name: &str) -> Option<(u32, u32)> {
        html5ever::data::NAMED_ENTITIES.get(name).copied()
    }
}

impl Default for Entities {
    fn default() -> Self {
        Entities::new()
    }
}

/// Windows-1252 meanings of numeric references 0x80–0x9F, as browsers read them.
const C1: [u32; 32] = [
    0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
];

fn push_code(out: &mut String, cp: u32) {
    let cp = match cp {
        0 => 0xFFFD,
        0x80..=0x9F => C1[(cp - 0x80) as usize],
        0xD800..=0xDFFF => 0xFFFD,
        c if c > 0x10FFFF => 0xFFFD,
        c => c,
    };
    out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
}

/// Decode character references in `s` into `out`. In attribute values a
/// legacy reference without `;` followed by `=` or an alphanumeric stays
/// literal, as the standard says (`?a=1&copy=2` in URLs).
pub(crate) fn unescape_into(ents: &Entities, s: &str, attr: bool, out: &mut String) {
    let b = s.as_bytes();
    let mut last = 0;
    let mut i = 0;
    while let Some(amp) = find_char(s, i, '&') {
        i = amp + 1;
        let rest = &b[amp + 1..];
        if rest.first() == Some(&b'#') {
            let (hex, start) = match rest.get(1) {
                Some(b'x' | b'X') => (true, 2),
                _ => (false, 1),
            };
            let digits = rest[start..]
                .iter()
                .take_while(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
                .count();
            if digits == 0 {
                continue;
            }
            let mut cp: u32 = 0;
            for &c in &rest[start..start + digits] {
                let d = (c as char).to_digit(16).unwrap_or(0);
                cp = cp
                    .saturating_mul(if hex { 16 } else { 10 })
                    .saturating_add(d);
            }
            let mut end = amp + 1 + start + digits;
            if b.get(end) == Some(&b';') {
                end += 1;
            }
            out.push_str(&s[last..amp]);
            push_code(out, cp);
            last = end;
            i = end;
            continue;
        }
        let name_len = rest
            .iter()
            .take(40)
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            continue;
        }
        let name = &s[amp + 1..amp + 1 + name_len];
        let found = if rest.get(name_len) == Some(&b';') {
            ents.get(&s[amp + 1..amp + 2 + name_len])
                .map(|v| (v, name_len + 1))
        } else {
            None
        }
        .or_else(|| {
            // Legacy references without `;`: the longest known prefix.
            (2..=name_len.min(8))
                .rev()
                .find_map(|n| ents.get(&name[..n]).map(|v| (v, n)))
                .filter(|&(_, n)| {
                    !attr
                        || !rest
                            .get(n)
                            .is_some_and(|&c| c == b'=' || c.is_ascii_alphanumeric())
                })
        });
        if let Some(((a, b2), len)) = found {
            out.push_str(&s[last..amp]);
            push_code(out, a);
            if b2 != 0 {
                push_code(out, b2);
            }
            last = amp + 1 + len;
            i = last;
        }
    }
    out.push_str(&s[last..]);
}

fn unescape(ents: &Entities, s: &str, attr: bool) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    unescape_into(ents, s, attr, &mut out);
    out
}

fn is_void(tag: &str) -> bool {
    matches!(
        tag,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
            | "keygen"
            | "basefont"
            | "bgsound"
            | "frame"
    )
}

/// The standard's "special" elements: "any other end tag" stops at them.
fn is_special(tag: &str) -> bool {
    matches!(
        tag,
        "address"
            | "applet"
            | "area"
            | "article"
            | "aside"
            | "base"
            | "basefont"
            | "bgsound"
            | "blockquote"
            | "body"
            | "br"
            | "button"
            | "caption"
            | "center"
            | "col"
            | "colgroup"
            | "dd"
            | "details"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "embed"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "frame"
            | "frameset"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "iframe"
            | "img"
            | "input"
            | "keygen"
            | "li"
            | "link"
            | "listing"
            | "main"
            | "marquee"
            | "menu"
            | "meta"
            | "nav"
            | "noembed"
            | "noframes"
            | "noscript"
            | "object"
            | "ol"
            | "p"
            | "param"
            | "plaintext"
            | "pre"
            | "script"
            | "search"
            | "section"
            | "select"
            | "source"
            | "style"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "template"
            | "textarea"
            | "tfoot"
            | "th"
            | "thead"
            | "title"
            | "tr"
            | "track"
            | "ul"
            | "wbr"
            | "xmp"
    )
}

/// Start tags that close an open `<p>` (in button scope).
fn closes_p(tag: &str) -> bool {
    matches!(
        tag,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "center"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "header"
            | "hgroup"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "search"
            | "section"
            | "summary"
            | "ul"
            | "pre"
            | "listing"
            | "form"
            | "hr"
            | "xmp"
            | "plaintext"
    )
}

/// End tags closed only when in (default) scope.
fn block_end(tag: &str) -> bool {
    matches!(
        tag,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "button"
            | "center"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "header"
            | "hgroup"
            | "listing"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "pre"
            | "search"
            | "section"
            | "summary"
            | "ul"
            | "form"
            | "applet"
            | "marquee"
            | "object"
    )
}

fn is_heading(tag: &str) -> bool {
    matches!(tag, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

fn head_element(tag: &str) -> bool {
    matches!(
        tag,
        "base"
            | "basefont"
            | "bgsound"
            | "link"
            | "meta"
            | "title"
            | "noscript"
            | "noframes"
            | "style"
            | "script"
            | "template"
    )
}

/// Start tags that leave SVG/MathML content.
fn breaks_foreign(tag: &str) -> bool {
    matches!(
        tag,
        "b" | "big"
            | "blockquote"
            | "body"
            | "br"
            | "center"
            | "code"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "em"
            | "embed"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "hr"
            | "i"
            | "img"
            | "li"
            | "listing"
            | "menu"
            | "meta"
            | "nobr"
            | "ol"
            | "p"
            | "pre"
            | "ruby"
            | "s"
            | "small"
            | "span"
            | "strong"
            | "strike"
            | "sub"
            | "sup"
            | "table"
            | "tt"
            | "u"
            | "ul"
            | "var"
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
}

fn scope_boundary(tag: &str, foreign: bool, scope: Scope) -> bool {
    if foreign {
        return matches!(
            tag,
            "foreignobject" | "desc" | "title" | "mi" | "mo" | "mn" | "ms" | "mtext"
        );
    }
    match scope {
        Scope::Table => matches!(tag, "html" | "table" | "template"),
        _ => {
            matches!(
                tag,
                "applet"
                    | "caption"
                    | "html"
                    | "table"
                    | "td"
                    | "th"
                    | "marquee"
                    | "object"
                    | "template"
            ) || (scope == Scope::ListItem && matches!(tag, "ol" | "ul"))
                || (scope == Scope::Button && tag == "button")
        }
    }
}

struct Open {
    tag: Name,
    /// Arena index; `None` for dropped elements and everything inside them.
    idx: Option<usize>,
    foreign: bool,
}

struct Builder<'a> {
    ents: &'a Entities,
    dom: Dom,
    stack: Vec<Open>,
    head: Option<usize>,
    head_open: bool,
    body: Option<usize>,
    quirks: bool,
    /// The arena index of a text node that the next text may extend.
    last_text: Option<usize>,
}

impl<'a> Builder<'a> {
    fn top_idx(&self) -> Option<usize> {
        self.stack.last().and_then(|o| o.idx)
    }

    fn top_tag(&self) -> &str {
        self.stack.last().map_or("", |o| o.tag.as_str())
    }

    fn in_foreign(&self) -> bool {
        self.stack.last().is_some_and(|o| o.foreign)
    }

    fn push_node(&mut self, parent: usize, data: Data, class_id: String) -> usize {
        let idx = self.dom.nodes.len();
        self.dom.nodes.push(Node {
            parent,
            children: Vec::new(),
            data,
            class_id,
        });
        self.dom.nodes[parent].children.push(idx);
        idx
    }

    fn ensure_html(&mut self) {
        if self.stack.is_empty() {
            let idx = self.push_node(
                ROOT,
                Data::Element(Elem {
                    tag: Name::new("html"),
                    attrs: Vec::new(),
                }),
                String::new(),
            );
            self.stack.push(Open {
                tag: Name::new("html"),
                idx: Some(idx),
                foreign: false,
            });
        }
    }

    fn ensure_head(&mut self) {
        self.ensure_html();
        if self.head.is_none() {
            let idx = self.push_node(
                self.stack[0].idx.unwrap_or(ROOT),
                Data::Element(Elem {
                    tag: Name::new("head"),
                    attrs: Vec::new(),
                }),
                String::new(),
            );
            self.head = Some(idx);
            self.head_open = true;
            self.stack.push(Open {
                tag: Name::new("head"),
                idx: Some(idx),
                foreign: false,
            });
        }
    }

    fn ensure_body(&mut self, attrs: Vec<(Name, String)>) {
        if self.body.is_some() {
            return;
        }
        self.ensure_head();
        // Close the head and anything left open in it.
        if self.head_open {
            while self.stack.len() > 1 {
                let o = self.stack.pop();
                if o.is_some_and(|o| o.tag == "head") {
                    break;
                }
            }
            self.head_open = false;
        }
        self.stack.truncate(1);
        let class_id = class_id_of(&attrs);
        let idx = self.push_node(
            self.stack[0].idx.unwrap_or(ROOT),
            Data::Element(Elem {
                tag: Name::new("body"),
                attrs,
            }),
            class_id,
        );
        self.body = Some(idx);
        self.stack.push(Open {
            tag: Name::new("body"),
            idx: Some(idx),
            foreign: false,
        });
    }

    fn text(&mut self, raw: &str, decode: bool) {
        if raw.is_empty() {
            return;
        }
        if self.body.is_none() && !(self.head_open && self.top_tag() != "head") {
            // Before the body: whitespace stays in the head or, after
            // `</head>`, in `<html>` (dropped before the head); other text
            // starts the body.
            if raw.bytes().all(|b| b.is_ascii_whitespace()) {
                if self.head.is_none() {
                    return;
                }
            } else {
                self.ensure_body(Vec::new());
            }
        }
        let Some(parent) = self.top_idx() else {
            return;
        };
        let mut owned = if decode {
            unescape(self.ents, raw, false)
        } else {
            raw.to_string()
        };
        if owned.contains('\r') {
            owned = normalize_newlines(&owned).into_owned();
        }
        if owned.contains('\0') {
            owned.retain(|c| c != '\0');
        }
        if let Some(t) = self.last_text
            && self.dom.nodes[t].parent == parent
            && let Data::Text(s) = &mut self.dom.nodes[t].data
        {
            s.push_str(&owned);
            return;
        }
        let idx = self.push_node(parent, Data::Text(owned), String::new());
        self.last_text = Some(idx);
    }

    fn pop(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    fn pop_to(&mut self, pos: usize) {
        self.stack.truncate(pos.max(1));
    }

    /// Position of `tag` in the stack if it is in `scope`.
    fn in_scope(&self, pred: impl Fn(&str) -> bool, scope: Scope) -> Option<usize> {
        for (pos, o) in self.stack.iter().enumerate().rev() {
            if !o.foreign && pred(&o.tag) {
                return Some(pos);
            }
            if scope_boundary(&o.tag, o.foreign, scope) {
                return None;
            }
        }
        None
    }

    fn close_p(&mut self) {
        if let Some(pos) = self.in_scope(|t| t == "p", Scope::Button) {
            self.pop_to(pos);
        }
    }

    fn close_cell(&mut self) {
        if let Some(pos) = self.in_scope(|t| t == "td" || t == "th", Scope::Table) {
            self.pop_to(pos);
        }
    }

    fn insert(&mut self, tag: &str, attrs: Vec<(Name, String)>, void: bool, foreign: bool) {
        self.last_text = None;
        let parent = self.top_idx();
        let name = Name::new(tag);
        let mut idx = None;
        if tag == "script" {
            // Scripts never reach the arena; JSON-LD is kept aside (the
            // caller collects the body).
        } else if let Some(parent) = parent
            && !dropped_tag(tag)
            && !hidden_attrs(&attrs)
        {
            let class_id = class_id_of(&attrs);
            idx = Some(self.push_node(
                parent,
                Data::Element(Elem {
                    tag: name.clone(),
                    attrs,
                }),
                class_id,
            ));
        }
        if !void {
            self.stack.push(Open {
                tag: name,
                idx,
                foreign,
            });
        }
    }

    fn start_tag(&mut self, tag: &str, attrs: Vec<(Name, String)>, self_closing: bool) {
        if self.in_foreign() {
            if breaks_foreign(tag)
                || (tag == "font"
                    && attrs
                        .iter()
                        .any(|(k, _)| matches!(k.as_str(), "color" | "face" | "size")))
            {
                while self.in_foreign() && self.stack.len() > 1 {
                    self.stack.pop();
                }
            } else {
                self.insert(tag, attrs, self_closing, true);
                return;
            }
        }
        let tag = if tag == "image" { "img" } else { tag };
        match tag {
            "html" => {
                self.ensure_html();
                return;
            }
            "head" => {
                self.ensure_head();
                return;
            }
            "body" => {
                self.ensure_body(attrs);
                return;
            }
            "frameset" => return,
            _ => {}
        }
        if self.body.is_none() {
            if head_element(tag) {
                self.ensure_head();
                if !self.head_open {
                    // After `</head>`: back into the head, as browsers do.
                    // The head's subtree must stay contiguous, so the
                    // whitespace seen since `</head>` is given up.
                    let html = self.stack[0].idx.unwrap_or(ROOT);
                    while let Some(&last) = self.dom.nodes[html].children.last()
                        && Some(last) != self.head
                        && last + 1 == self.dom.nodes.len()
                        && matches!(self.dom.nodes[last].data, Data::Text(_))
                    {
                        self.dom.nodes[html].children.pop();
                        self.dom.nodes.pop();
                    }
                    self.last_text = None;
                    let head = self.head;
                    self.stack.push(Open {
                        tag: Name::new("head"),
                        idx: head,
                        foreign: false,
                    });
                    self.head_open = true;
                }
                self.insert(tag, attrs, is_void(tag), false);
                return;
            }
            self.ensure_body(Vec::new());
        }
        match tag {
            t if is_heading(t) => {
                self.close_p();
                if is_heading(self.top_tag()) {
                    self.pop();
                }
            }
            "li" | "dd" | "dt" => {
                let same = |t: &str| {
                    if tag == "li" {
                        t == "li"
                    } else {
                        t == "dd" || t == "dt"
                    }
                };
                for pos in (0..self.stack.len()).rev() {
                    let t = self.stack[pos].tag.as_str();
                    if same(t) {
                        self.pop_to(pos);
                        break;
                    }
                    if is_special(t) && !matches!(t, "address" | "div" | "p") {
                        break;
                    }
                }
                self.close_p();
            }
            "a" => {
                if let Some(pos) = self.in_scope(|t| t == "a", Scope::Default) {
                    self.pop_to(pos);
                }
            }
            "button" => {
                if let Some(pos) = self.in_scope(|t| t == "button", Scope::Default) {
                    self.pop_to(pos);
                }
            }
            "option" | "optgroup" if self.top_tag() == "option" => self.pop(),
            "table" => {
                if matches!(self.top_tag(), "table" | "tbody" | "thead" | "tfoot" | "tr") {
                    if let Some(pos) = self.in_scope(|t| t == "table", Scope::Table) {
                        self.pop_to(pos);
                    }
                } else if !self.quirks {
                    self.close_p();
                }
            }
            "td" | "th" => {
                self.close_cell();
                match self.top_tag() {
                    "tr" => {}
                    "tbody" | "thead" | "tfoot" => self.insert("tr", Vec::new(), false, false),
                    "table" => {
                        self.insert("tbody", Vec::new(), false, false);
                        self.insert("tr", Vec::new(), false, false);
                    }
                    _ => return,
                }
            }
            "tr" => {
                self.close_cell();
                if let Some(pos) = self.in_scope(|t| t == "tr", Scope::Table) {
                    self.pop_to(pos);
                }
                match self.top_tag() {
                    "tbody" | "thead" | "tfoot" => {}
                    "table" => self.insert("tbody", Vec::new(), false, false),
                    _ => return,
                }
            }
            "tbody" | "thead" | "tfoot" => {
                self.close_cell();
                if let Some(pos) = self.in_scope(
                    |t| matches!(t, "tr" | "tbody" | "thead" | "tfoot"),
                    Scope::Table,
                ) {
                    self.pop_to(pos);
                }
                if self.top_tag() != "table" {
                    return;
                }
            }
            "caption" | "colgroup" | "col"
                if self.top_tag() != "table" && !(tag == "col" && self.top_tag() == "colgroup") =>
            {
                return;
            }
            "caption" | "colgroup" | "col" | "option" | "optgroup" => {}
            t if closes_p(t) => self.close_p(),
            _ => {}
        }
        let foreign = matches!(tag, "svg" | "math");
        let void = is_void(tag) || (foreign && self_closing);
        self.insert(tag, attrs, void, foreign);
    }

    fn end_tag(&mut self, tag: &str) {
        self.last_text = None;
        if self.in_foreign() {
            // Close the nearest matching foreign element, if any.
            for pos in (0..self.stack.len()).rev() {
                let o = &self.stack[pos];
                if !o.foreign {
                    break;
                }
                if o.tag.eq_ignore_ascii_case(tag) {
                    self.pop_to(pos);
                    return;
                }
            }
        }
        match tag {
            "html" | "body" => {}
            "head" => {
                if self.head_open && self.top_tag() == "head" {
                    self.pop();
                    self.head_open = false;
                }
            }
            "br" => self.start_tag("br", Vec::new(), false),
            "p" => {
                if self.in_scope(|t| t == "p", Scope::Button).is_none() {
                    self.start_tag("p", Vec::new(), false);
                }
                self.close_p();
            }
            "li" => {
                if let Some(pos) = self.in_scope(|t| t == "li", Scope::ListItem) {
                    self.pop_to(pos);
                }
            }
            "dd" | "dt" => {
                if let Some(pos) = self.in_scope(|t| t == tag, Scope::Default) {
                    self.pop_to(pos);
                }
            }
            t if is_heading(t) => {
                if let Some(pos) = self.in_scope(is_heading, Scope::Default) {
                    self.pop_to(pos);
                }
            }
            t if block_end(t) => {
                if let Some(pos) = self.in_scope(|x| x == t, Scope::Default) {
                    self.pop_to(pos);
                }
            }
            "table" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" | "caption" | "colgroup" => {
                if let Some(pos) = self.in_scope(|x| x == tag, Scope::Table) {
                    self.pop_to(pos);
                }
            }
            "a" | "b" | "big" | "code" | "em" | "font" | "i" | "nobr" | "s" | "small"
            | "strike" | "strong" | "tt" | "u" => {
                if let Some(pos) = self.in_scope(|x| x == tag, Scope::Default) {
                    self.pop_to(pos);
                }
            }
            _ => {
                for pos in (1..self.stack.len()).rev() {
                    let t = self.stack[pos].tag.as_str();
                    if t == tag {
                        self.pop_to(pos);
                        return;
                    }
                    if is_special(t) {
                        return;
                    }
                }
            }
        }
    }
}

fn class_id_of(attrs: &[(Name, String)]) -> String {
    let is_key = |k: &Name| k == "class" || k == "id";
    // One allocation of the right size.
    let len: usize = attrs
        .iter()
        .filter(|(k, _)| is_key(k))
        .map(|(_, v)| v.len() + 1)
        .sum();
    if len == 0 {
        return String::new();
    }
    let mut class_id = String::with_capacity(len);
    for (k, v) in attrs {
        if k == "class" || k == "id" {
            class_id.push_str(v);
            class_id.push(' ');
        }
    }
    class_id.make_ascii_lowercase();
    class_id
}

/// `str::find` from a byte offset (std searches single characters with
/// memchr, so this is the fast scan the parser relies on).
fn find_char(s: &str, from: usize, c: char) -> Option<usize> {
    s.get(from..)?.find(c).map(|e| from + e)
}

fn find_str(s: &str, from: usize, pat: &str) -> Option<usize> {
    s.get(from..)?.find(pat).map(|e| from + e)
}

/// CR LF and lone CR become LF, as the tokenizer's input stream does.
fn normalize_newlines(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        s.into()
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// Case-insensitive search for `</name` followed by a tag-name end.
fn find_end_tag(s: &str, from: usize, name: &str) -> Option<usize> {
    let b = s.as_bytes();
    let n = name.len();
    let mut i = from;
    // Single-byte search (memchr) beats a two-byte substring search here.
    while let Some(at) = find_char(s, i, '<') {
        let after = at + 2 + n;
        if b.get(at + 1) == Some(&b'/')
            && b.len() >= after
            && b[at + 2..after].eq_ignore_ascii_case(name.as_bytes())
            && b.get(after)
                .is_none_or(|&c| is_ws(c) || c == b'/' || c == b'>')
        {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Whether the doctype puts the page in quirks mode (only the part of the
/// rule that matters here: `<p>` before `<table>` stays open in quirks).
fn quirky_doctype(doctype: &str) -> bool {
    let d = doctype.to_ascii_lowercase();
    let d = d.trim();
    if !d.starts_with("html") {
        return true;
    }
    if d.contains("public") {
        let has_system = d.contains("http://") || d.contains("https://");
        return d.contains("html 3")
            || d.contains("html 2")
            || d.contains("-//ietf//")
            || (!has_system
                && (d.contains("html 4.01 transitional") || d.contains("html 4.01 frameset")));
    }
    false
}

/// Parse a whole document into the arena.
pub(crate) fn parse_document(html: &str, ents: &Entities) -> Dom {
    let mut b = Builder {
        ents,
        dom: Dom::empty(),
        stack: Vec::with_capacity(64),
        head: None,
        head_open: false,
        body: None,
        quirks: true,
        last_text: None,
    };
    let s = html;
    let bytes = s.as_bytes();
    let len = bytes.len();
    let mut pos = 0;
    let mut seen_doctype = false;
    while pos < len {
        let Some(lt) = find_char(s, pos, '<') else {
            b.text(&s[pos..], true);
            break;
        };
        let next = bytes.get(lt + 1).copied();
        match next {
            Some(c) if c.is_ascii_alphabetic() => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                match read_start_tag(s, lt + 1, ents) {
                    Some((tag, attrs, self_closing, end)) => {
                        pos = end;
                        pos = b.handle_start(s, pos, tag, attrs, self_closing);
                    }
                    None => {
                        // EOF inside a tag: the tag is dropped.
                        pos = len;
                    }
                }
            }
            Some(b'/') => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                match bytes.get(lt + 2) {
                    Some(c) if c.is_ascii_alphabetic() => {
                        let name_end = (lt + 2..len)
                            .find(|&i| is_ws(bytes[i]) || bytes[i] == b'/' || bytes[i] == b'>')
                            .unwrap_or(len);
                        let name = s[lt + 2..name_end].to_ascii_lowercase();
                        let Some(end) = skip_tag_rest(bytes, name_end) else {
                            break;
                        };
                        pos = end;
                        if b.body.is_none()
                            && !b.head_open
                            && !matches!(name.as_str(), "head" | "html" | "body" | "br" | "p")
                        {
                            continue;
                        }
                        b.end_tag(&name);
                    }
                    Some(b'>') => pos = lt + 3,
                    _ => {
                        // Bogus comment.
                        pos = find_char(s, lt, '>').map_or(len, |e| e + 1);
                    }
                }
            }
            Some(b'!') => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                b.last_text = None;
                let rest = &bytes[lt + 2..];
                if rest.starts_with(b"--") {
                    let body = lt + 4;
                    pos = if bytes[body..].starts_with(b">") {
                        body + 1
                    } else if bytes[body..].starts_with(b"->") {
                        body + 2
                    } else {
                        find_str(s, body, "-->").map_or(len, |e| e + 3)
                    };
                } else {
                    let end = find_char(s, lt + 2, '>').map_or(len, |e| e + 1);
                    if rest.len() >= 7
                        && rest[..7].eq_ignore_ascii_case(b"doctype")
                        && !seen_doctype
                    {
                        seen_doctype = true;
                        // Between `<!doctype` and `>` (or the end of input).
                        let stop = if bytes.get(end.wrapping_sub(1)) == Some(&b'>') {
                            end - 1
                        } else {
                            end
                        };
                        let inner = s.get(lt + 9..stop).unwrap_or("");
                        b.quirks = quirky_doctype(inner);
                    }
                    pos = end;
                }
            }
            Some(b'?') => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                pos = find_char(s, lt, '>').map_or(len, |e| e + 1);
            }
            _ => {
                // A lone `<` is text.
                b.text(&s[pos..lt + 1], true);
                pos = lt + 1;
            }
        }
    }
    if b.body.is_none() {
        b.ensure_body(Vec::new());
    }
    let mut dom = b.dom;
    dom.finish();
    dom
}

impl Builder<'_> {
    /// Handle a start tag whose `>` ends at `pos`; returns where parsing
    /// continues (past raw-text content for scripts, styles and titles).
    fn handle_start(
        &mut self,
        s: &str,
        pos: usize,
        tag: Name,
        attrs: Vec<(Name, String)>,
        self_closing: bool,
    ) -> usize {
        let bytes = s.as_bytes();
        let foreign = self.in_foreign();
        let raw = !foreign
            && matches!(
                tag.as_str(),
                "script"
                    | "style"
                    | "xmp"
                    | "iframe"
                    | "noembed"
                    | "noframes"
                    | "noscript"
                    | "textarea"
                    | "title"
                    | "plaintext"
            );
        let json_ld = tag == "script"
            && attrs
                .iter()
                .any(|(k, v)| k == "type" && v.trim().eq_ignore_ascii_case("application/ld+json"));
        let base_href = (tag == "base" && self.dom.base_href.is_none())
            .then(|| {
                attrs
                    .iter()
                    .find(|(k, _)| k == "href")
                    .map(|(_, v)| v.clone())
            })
            .flatten();
        if base_href.is_some() {
            self.dom.base_href = base_href;
        }
        let tag_name = tag.clone();
        self.start_tag(&tag, attrs, self_closing);
        if !raw {
            if matches!(tag_name.as_str(), "pre" | "listing") {
                // A newline right after `<pre>` is not content.
                if bytes.get(pos) == Some(&b'\n') {
                    return pos + 1;
                }
                if bytes.get(pos) == Some(&b'\r') {
                    return pos
                        + if bytes.get(pos + 1) == Some(&b'\n') {
                            2
                        } else {
                            1
                        };
                }
            }
            return pos;
        }
        let (content_end, next) = if tag_name == "plaintext" {
            (s.len(), s.len())
        } else {
            match find_end_tag(s, pos, &tag_name) {
                Some(at) => {
                    let end = skip_tag_rest(bytes, at + 2 + tag_name.len()).unwrap_or(s.len());
                    (at, end)
                }
                None => (s.len(), s.len()),
            }
        };
        let content = normalize_newlines(&s[pos..content_end]);
        let content = content.as_ref();
        let opened = self.stack.last().is_some_and(|o| o.tag == tag_name);
        match tag_name.as_str() {
            "script" => {
                if json_ld {
                    self.dom.json_ld.push(content.to_string());
                }
            }
            "title" | "textarea" => {
                let text = unescape(self.ents, content, false);
                if tag_name == "title" && self.dom.title.is_empty() {
                    self.dom.title = text.split_whitespace().collect::<Vec<_>>().join(" ");
                }
                if opened {
                    self.last_text = None;
                    if let Some(parent) = self.top_idx()
                        && !text.is_empty()
                    {
                        self.push_node(parent, Data::Text(text), String::new());
                    }
                }
            }
            _ => {
                if opened {
                    self.last_text = None;
                    if let Some(parent) = self.top_idx()
                        && !content.is_empty()
                    {
                        self.push_node(parent, Data::Text(content.to_string()), String::new());
                    }
                }
            }
        }
        if opened {
            self.stack.pop();
            if self.head_open && self.body.is_none() {
                // still in the head
            }
        }
        self.last_text = None;
        next
    }
}

/// Skip the rest of a tag (attributes, quoted values) after `from`;
/// returns the index after `>`, or `None` at EOF.
fn skip_tag_rest(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    let mut quote: Option<u8> = None;
    let mut after_eq = false;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'>' {
                    return Some(i + 1);
                }
                if after_eq && (c == b'"' || c == b'\'') {
                    quote = Some(c);
                }
                if c == b'=' {
                    after_eq = true;
                } else if !is_ws(c) {
                    after_eq = false;
                }
            }
        }
        i += 1;
    }
    None
}

type StartTag = (Name, Vec<(Name, String)>, bool, usize);

/// Read a start tag from just after `<`: name, attributes (names
/// lower-cased, values unescaped, first of duplicates kept), whether it
/// ends in `/>`, and the index after `>`. `None` at EOF.
fn read_start_tag(s: &str, from: usize, ents: &Entities) -> Option<StartTag> {
    let b = s.as_bytes();
    let len = b.len();
    let mut i = from;
    while i < len && !is_ws(b[i]) && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    let tag = Name::new(&s[from..i]);
    let mut attrs: Vec<(Name, String)> = Vec::new();
    let mut self_closing = false;
    loop {
        while i < len && (is_ws(b[i]) || b[i] == b'/') {
            self_closing = b[i] == b'/';
            i += 1;
        }
        if i >= len {
            return None;
        }
        if b[i] == b'>' {
            return Some((tag, attrs, self_closing, i + 1));
        }
        self_closing = false;
        // Attribute name (a leading `=` belongs to the name).
        let ns = i;
        i += 1;
        while i < len && !is_ws(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let name = &s[ns..i];
        while i < len && is_ws(b[i]) {
            i += 1;
        }
        let mut value = String::new();
        if i < len && b[i] == b'=' {
            i += 1;
            while i < len && is_ws(b[i]) {
                i += 1;
            }
            if i >= len {
                return None;
            }
            let (vs, ve) = if b[i] == b'"' || b[i] == b'\'' {
                let q = b[i];
                let vs = i + 1;
                let ve = find_char(s, vs, q as char)?;
                i = ve + 1;
                (vs, ve)
            } else {
                let vs = i;
                while i < len && !is_ws(b[i]) && b[i] != b'>' {
                    i += 1;
                }
                (vs, i)
            };
            value = unescape(ents, &s[vs..ve], true);
        }
        let name = Name::new(name);
        if !attrs.iter().any(|(k, _)| *k == name) {
            attrs.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(html: &str) -> Dom {
        parse_document(html, &Entities::new())
    }

    fn shape(dom: &Dom, i: usize) -> String {
        let mut out = String::new();
        match &dom.nodes[i].data {
            Data::Text(t) => out.push_str(t),
            Data::Element(e) => {
                out.push('<');
                out.push_str(&e.tag);
                out.push('>');
                for &c in &dom.nodes[i].children {
                    out.push_str(&shape(dom, c));
                }
                out.push_str("</");
                out.push_str(&e.tag);
                out.push('>');
            }
            Data::Document => {
                for &c in &dom.nodes[i].children {
                    out.push_str(&shape(dom, c));
                }
            }
        }
        out
    }

    fn body_shape(html: &str) -> String {
        let dom = parse(html);
        let body = dom.by_tag("body").next().expect("a body");
        shape(&dom, body)
    }

    #[test]
    fn implied_end_tags_follow_the_standard() {
        assert_eq!(
            body_shape("<p>one<p>two<div>three</div><ul><li>a<li>b</ul>"),
            "<body><p>one</p><p>two</p><div>three</div><ul><li>a</li><li>b</li></ul></body>"
        );
        assert_eq!(
            body_shape("<h1>x<h2>y</h1>z"),
            "<body><h1>x</h1><h2>y</h2>z</body>"
        );
        assert_eq!(
            body_shape("<div><span>a</div>b"),
            "<body><div><span>a</span></div>b</body>"
        );
        assert_eq!(body_shape("a</p>b"), "<body>a<p></p>b</body>");
        assert_eq!(
            body_shape("<a href=1>x<a href=2>y</a>"),
            "<body><a>x</a><a>y</a></body>"
        );
    }

    #[test]
    fn tables_get_their_implied_rows() {
        assert_eq!(
            body_shape("<table><tr><td>a<td>b<tr><td>c</table>d"),
            "<body><table><tbody><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></tbody></table>d</body>"
        );
        assert_eq!(
            body_shape("<table><td>x</table>"),
            "<body><table><tbody><tr><td>x</td></tr></tbody></table></body>"
        );
    }

    #[test]
    fn raw_text_scripts_and_head_are_handled() {
        let dom = parse(
            "<!DOCTYPE html><html><head><title>T &amp; U</title><meta name=a content=b>\
             <script>if (a<b) document.write('<p>no</p>')</script>\
             <script type=\"application/ld+json\">{\"x\":1}</script></head>\
             <body><style>p{}</style><p>yes&nbsp;&#x4e2d;&copy&lt;</p></body></html>",
        );
        assert_eq!(dom.title, "T & U");
        assert_eq!(dom.json_ld, vec!["{\"x\":1}".to_string()]);
        let body = dom.by_tag("body").next().unwrap();
        assert_eq!(
            dom.text_of(body),
            "yes\u{a0}中©<".replace('\u{a0}', " ").trim()
        );
        assert_eq!(dom.by_tag("meta").count(), 1);
        let head = dom.by_tag("head").next().unwrap();
        assert!(dom.contains(head, dom.by_tag("meta").next().unwrap()));
    }

    #[test]
    fn attributes_are_unescaped_but_urls_keep_their_params() {
        let dom = parse("<a href='/x?a=1&copy=2&amp;b=3' CLASS=\"Foo\">l</a>");
        let a = dom.by_tag("a").next().unwrap();
        let e = dom.elem(a).unwrap();
        assert_eq!(e.attr("href"), Some("/x?a=1&copy=2&b=3"));
        assert_eq!(dom.nodes[a].class_id, "foo ");
    }

    /// The arena html5ever (through scraper) gives for the same page.
    fn html5ever_dom(html: &str) -> Dom {
        Dom::from_html(&scraper::Html::parse_document(html), None, None)
    }

    #[test]
    fn agrees_with_html5ever_on_the_fixture_pages() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/extract");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let (html, _) = crate::charset::decode(&bytes, None);
            let ours = parse(&html);
            let theirs = html5ever_dom(&html);
            assert_eq!(
                shape(&ours, ROOT),
                shape(&theirs, ROOT),
                "{}",
                path.display()
            );
            assert_eq!(ours.title, theirs.title);
            assert_eq!(ours.json_ld, theirs.json_ld);
            checked += 1;
        }
        assert!(checked >= 5);
    }

    #[test]
    fn agrees_with_html5ever_on_sloppy_markup() {
        for html in [
            "<html><head><title>t</title></head><body><p>a<p>b<div>c</div><ul><li>x<li>y</ul></body></html>",
            "<table><tr><td>a<td>b</table><p>after",
            "<div><span>a</div>b</span>c",
            "<h1>x<h2>y</h1>z",
            "text before<html><body>in body</body></html>after",
            "<p>one</p></div><p>two&amp;three &copy 2024 &#169; &#x4e2d;</p>",
            "<dl><dt>a<dd>b<dt>c</dl>",
            "<pre>\nkeep</pre><br/><hr><img src=a.png alt='&lt;x&gt;'>",
            "<div class=a id=B style='display: none'>hidden</div><div hidden>h</div><p>shown</p>",
        ] {
            assert_eq!(
                shape(&parse(html), ROOT),
                shape(&html5ever_dom(html), ROOT),
                "{html}"
            );
        }
    }

    #[test]
    fn random_markup_soup_does_not_panic() {
        // A deterministic generator over the pieces that stress the
        // tokenizer: multi-byte text next to every kind of `<` and `&`.
        let pieces = [
            "<",
            ">",
            "</",
            "<!",
            "<!--",
            "-->",
            "<!doctype",
            "<?",
            "&",
            "&#",
            "&#x",
            "&amp",
            ";",
            "\"",
            "'",
            "=",
            "/",
            " ",
            "\r",
            "\n",
            "\0",
            "中",
            "é",
            "😀",
            "p",
            "div",
            "table",
            "td",
            "tr",
            "script",
            "style",
            "title",
            "svg",
            "math",
            "a",
            "li",
            "pre",
            "body",
            "head",
            "html",
            "noscript",
            "textarea",
            "plaintext",
            "image",
            "br",
            "class",
        ];
        let mut seed: u64 = 0x2545F4914F6CDD1D;
        for _ in 0..3000 {
            let mut doc = String::new();
            for _ in 0..40 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                doc.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let dom = parse(&doc);
            // Document order: every child after its parent, inside its subtree.
            for (i, n) in dom.nodes.iter().enumerate().skip(1) {
                assert!(n.parent < i && dom.contains(n.parent, i), "{doc:?}");
            }
        }
    }

    #[test]
    fn truncated_and_odd_input_does_not_panic() {
        for s in [
            "<",
            "<a",
            "<a href='x",
            "</",
            "</a",
            "<!--",
            "<!",
            "&#",
            "&#x;",
            "&",
            "<p>&#99999999999;",
            "<svg><path/><p>x</svg>",
            "<table><div>x</div></table>",
            "<pre>\n\nx</pre>",
            "<title>x",
            "<script>x",
            "\r\n<p>a\rb</p>",
        ] {
            let _ = parse(s);
        }
    }
}
