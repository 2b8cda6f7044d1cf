//! Tree construction: the HTML standard's insertion modes for the body and
//! tables, on a stack of open elements that is bounded in depth.
//!
//! The arena ([`Dom`]) must come out in document order with dropped
//! subtrees (scripts, hidden blocks, form controls) gone. While parsing,
//! every element gets a node — the adoption agency and foster parenting
//! may later move it, or move visible content out of a dropped element —
//! and [`Builder::finish`] renumbers the arena once at the end, only when
//! something was moved or must be dropped.
//!
//! Why a depth cap: with an unbounded stack, scope checks walk the stack
//! per tag and a page of 200,000 unclosed `<div>`s is quadratic (56 s).
//! Browsers cap the tree depth (Blink at 512, `kMaximumHTMLParserDOMTreeDepth`):
//! an element opened at the cap is inserted where it stands but not pushed,
//! so its content continues in the element at the cap. The same cap bounds
//! every walk over the stack and the list of active formatting elements,
//! so each tag costs at most a constant; the common checks (`<p>` open?)
//! are counters, O(1).

use std::borrow::Cow;

use super::super::dom::{Data, Dom, Elem, Name, Node, ROOT, dropped_tag, hidden_attrs};
use super::tags::{
    Scope, block_end, breaks_foreign, closes_p, head_element, is_heading, is_special, is_void,
    scope_boundary,
};
use super::{Entities, normalize_newlines, unescape};

/// Most elements open at once (Blink's tree-depth limit); see the module doc.
pub(crate) const MAX_DEPTH: usize = 512;

/// Flags kept per arena node while building.
const ON_STACK: u8 = 1;
const DROPPED: u8 = 2;

/// A node created but not yet attached (the adoption agency creates
/// elements before it knows their parent).
pub(super) const DETACHED: usize = usize::MAX;

/// The insertion modes that change where things go once in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Body,
    Table,
    TableBody,
    Row,
    Cell,
    Caption,
    ColumnGroup,
}

pub(super) struct Open {
    pub tag: Name,
    /// Arena index.
    pub idx: usize,
    pub foreign: bool,
    /// In the SVG namespace (else MathML), for a foreign element.
    pub svg: bool,
    pub point: Point,
}

/// Where a foreign element lets HTML back in: the standard's HTML
/// integration points (`foreignObject`, `desc`, `title` in SVG;
/// `annotation-xml` with an HTML encoding) and MathML text integration
/// points (`mi`, `mo`, `mn`, `ms`, `mtext`). HTML inside them stays inside
/// (and is dropped with the `<svg>`) instead of breaking out into the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Point {
    /// An HTML element, or a foreign one that is no integration point.
    None,
    Html,
    MathText,
    /// `annotation-xml` without an HTML encoding: not an integration point,
    /// but special, a scope boundary, and `<svg>` in it is SVG.
    Annotation,
}

impl Open {
    /// The standard's "special" category, foreign elements included.
    pub fn special(&self) -> bool {
        if self.foreign {
            self.point != Point::None
        } else {
            is_special(&self.tag)
        }
    }

    /// Whether the element ends a scope: foreign elements end every scope
    /// at their integration points (and `annotation-xml`) but table scope.
    pub fn boundary(&self, scope: Scope) -> bool {
        if self.foreign {
            scope != Scope::Table && self.point != Point::None
        } else {
            scope_boundary(&self.tag, scope)
        }
    }
}

/// An entry of the list of active formatting elements: an arena element
/// (whose tag and attributes are the token to clone) or a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fmt {
    Marker,
    Elem(usize),
}

pub(super) struct Builder<'a> {
    pub ents: &'a Entities,
    pub dom: Dom,
    pub stack: Vec<Open>,
    pub afe: Vec<Fmt>,
    /// [`ON_STACK`] / [`DROPPED`] per arena node.
    flags: Vec<u8>,
    pub head: Option<usize>,
    pub head_open: bool,
    pub body: Option<usize>,
    /// A `<frameset>` came before any body: the document is frames, and
    /// from there on only frames (and `<noframes>`) are read, never text.
    frameset: bool,
    pub quirks: bool,
    pub mode: Mode,
    /// Set while a token in table context is processed by the in-body
    /// rules: what would go into the table goes before it instead.
    pub foster: bool,
    /// The arena is out of document order or holds nodes to drop.
    reorder: bool,
    /// Open HTML `<p>` elements: every block start asks for one.
    open_p: usize,
    /// Open HTML `<template>` elements: their contents stay in them (and
    /// are dropped with them), never opening the body.
    templates: usize,
    /// Open HTML `<select>` elements, so that a page of `<input>`s outside
    /// any select does not look for one on every tag.
    selects: usize,
    /// Elements the reconstruction of formatting elements may still clone
    /// (see [`super::formatting`]).
    pub clone_budget: usize,
    /// A cap (depth, active formatting elements, clones) changed the tree
    /// from what the standard's rules alone would build: the page is one
    /// that would make an uncapped parser (html5ever) slow.
    pub capped: bool,
}

fn is_table_context(tag: &str) -> bool {
    matches!(tag, "table" | "tbody" | "tfoot" | "thead" | "tr")
}

pub(super) fn is_table_part(tag: &str) -> bool {
    matches!(
        tag,
        "caption" | "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr"
    )
}

/// Formatting elements, whose end tags run the adoption agency.
pub(super) fn is_formatting(tag: &str) -> bool {
    matches!(
        tag,
        "a" | "b"
            | "big"
            | "code"
            | "em"
            | "font"
            | "i"
            | "nobr"
            | "s"
            | "small"
            | "strike"
            | "strong"
            | "tt"
            | "u"
    )
}

fn is_ascii_ws(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
}

pub(super) fn class_id_of(attrs: &[(Name, String)]) -> String {
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
        if is_key(k) {
            class_id.push_str(v);
            class_id.push(' ');
        }
    }
    class_id.make_ascii_lowercase();
    class_id
}

impl<'a> Builder<'a> {
    pub fn new(ents: &'a Entities, input_len: usize) -> Builder<'a> {
        let dom = Dom::empty();
        Builder {
            ents,
            flags: vec![0; dom.nodes.len()],
            dom,
            stack: Vec::with_capacity(64),
            afe: Vec::new(),
            head: None,
            head_open: false,
            frameset: false,
            body: None,
            quirks: true,
            mode: Mode::Body,
            foster: false,
            reorder: false,
            open_p: 0,
            templates: 0,
            selects: 0,
            clone_budget: input_len / 16 + 10_000,
            capped: false,
        }
    }

    pub fn top_tag(&self) -> &str {
        self.stack.last().map_or("", |o| o.tag.as_str())
    }

    pub fn in_foreign(&self) -> bool {
        self.stack.last().is_some_and(|o| o.foreign)
    }

    /// Whether a start tag goes by the rules for foreign content (the
    /// standard's tree construction dispatcher): not in an integration
    /// point, where HTML is read as HTML.
    pub fn foreign_for_start(&self, tag: &str) -> bool {
        self.stack.last().is_some_and(|o| {
            o.foreign
                && match o.point {
                    Point::Html => false,
                    Point::MathText => matches!(tag, "mglyph" | "malignmark"),
                    Point::Annotation => tag != "svg",
                    Point::None => true,
                }
        })
    }

    /// Whether text goes by the rules for foreign content.
    fn foreign_for_text(&self) -> bool {
        self.stack
            .last()
            .is_some_and(|o| o.foreign && matches!(o.point, Point::None | Point::Annotation))
    }

    pub fn on_stack(&self, idx: usize) -> bool {
        self.flags[idx] & ON_STACK != 0
    }

    // ---- the arena ----

    /// A new element node, not yet attached.
    pub fn create(&mut self, tag: Name, attrs: Vec<(Name, String)>) -> usize {
        let idx = self.dom.nodes.len();
        let drop = tag == "script" || dropped_tag(&tag) || hidden_attrs(&attrs);
        let class_id = class_id_of(&attrs);
        self.dom.nodes.push(Node {
            parent: DETACHED,
            children: Vec::new(),
            data: Data::Element(Elem { tag, attrs }),
            class_id,
        });
        self.flags.push(if drop { DROPPED } else { 0 });
        self.reorder |= drop;
        idx
    }

    /// A new element with `old`'s tag and attributes, not yet attached.
    pub fn clone_element(&mut self, old: usize) -> usize {
        let (tag, attrs) = match &self.dom.nodes[old].data {
            Data::Element(e) => (e.tag.clone(), e.attrs.clone()),
            _ => (Name::new("span"), Vec::new()),
        };
        self.create(tag, attrs)
    }

    /// Attach `idx` as the last child of `parent`, or before its child
    /// `before`.
    pub fn attach(&mut self, idx: usize, parent: usize, before: Option<usize>) {
        self.dom.nodes[idx].parent = parent;
        let children = &mut self.dom.nodes[parent].children;
        match before.and_then(|b| children.iter().rposition(|&c| c == b)) {
            Some(at) => {
                children.insert(at, idx);
                self.reorder = true;
            }
            None => children.push(idx),
        }
    }

    pub fn detach(&mut self, idx: usize) {
        let parent = self.dom.nodes[idx].parent;
        if parent == DETACHED {
            return;
        }
        let children = &mut self.dom.nodes[parent].children;
        if let Some(at) = children.iter().rposition(|&c| c == idx) {
            children.remove(at);
        }
        self.dom.nodes[idx].parent = DETACHED;
        self.reorder = true;
    }

    /// Move all children of `from` to the end of `to`.
    pub fn move_children(&mut self, from: usize, to: usize) {
        let kids = std::mem::take(&mut self.dom.nodes[from].children);
        for &k in &kids {
            self.dom.nodes[k].parent = to;
        }
        self.dom.nodes[to].children.extend(kids);
        self.reorder = true;
    }

    /// The standard's "appropriate place for inserting a node" with the
    /// element at stack position `pos` as target: (parent, before).
    pub fn place_for(&self, pos: usize) -> (usize, Option<usize>) {
        let target = &self.stack[pos];
        if self.foster
            && !target.foreign
            && is_table_context(&target.tag)
            && let Some(t) = self.stack[..=pos]
                .iter()
                .rposition(|o| o.tag == "table" && !o.foreign)
        {
            let table = self.stack[t].idx;
            let parent = self.dom.nodes[table].parent;
            if parent != DETACHED {
                return (parent, Some(table));
            }
            if t > 0 {
                return (self.stack[t - 1].idx, None);
            }
        }
        (target.idx, None)
    }

    // ---- the stack ----

    fn push_open(&mut self, tag: Name, idx: usize, foreign: bool) {
        if tag == "p" && !foreign {
            self.open_p += 1;
        }
        if tag == "template" && !foreign {
            self.templates += 1;
        }
        if tag == "select" && !foreign {
            self.selects += 1;
        }
        self.flags[idx] |= ON_STACK;
        // A foreign element is in the namespace of the element it was
        // opened in, unless it is `<svg>` or `<math>` itself.
        let svg = foreign
            && (tag == "svg"
                || (tag != "math" && self.stack.last().is_some_and(|o| o.foreign && o.svg)));
        let point = match (foreign, svg, tag.as_str()) {
            (true, true, "foreignobject" | "desc" | "title") => Point::Html,
            (true, false, "mi" | "mo" | "mn" | "ms" | "mtext") => Point::MathText,
            (true, false, "annotation-xml") => Point::Annotation,
            _ => Point::None,
        };
        self.stack.push(Open {
            tag,
            idx,
            foreign,
            svg,
            point,
        });
    }

    fn forget(&mut self, o: &Open) {
        if o.tag == "p" && !o.foreign {
            self.open_p -= 1;
        }
        if o.tag == "template" && !o.foreign {
            self.templates -= 1;
        }
        if o.tag == "select" && !o.foreign {
            self.selects -= 1;
        }
        self.flags[o.idx] &= !ON_STACK;
    }

    pub fn pop(&mut self) {
        if self.stack.len() > 1
            && let Some(o) = self.stack.pop()
        {
            self.forget(&o);
        }
    }

    /// Pop everything from stack position `pos` up (never `<html>`).
    pub fn pop_to(&mut self, pos: usize) {
        while self.stack.len() > pos.max(1) {
            self.pop();
        }
    }

    pub fn remove_from_stack(&mut self, pos: usize) {
        let o = self.stack.remove(pos);
        self.forget(&o);
    }

    pub fn insert_on_stack(&mut self, pos: usize, idx: usize) {
        let tag = match &self.dom.nodes[idx].data {
            Data::Element(e) => e.tag.clone(),
            _ => Name::new("span"),
        };
        if tag == "p" {
            self.open_p += 1;
        }
        self.flags[idx] |= ON_STACK;
        self.stack.insert(
            pos,
            Open {
                tag,
                idx,
                foreign: false,
                svg: false,
                point: Point::None,
            },
        );
    }

    pub fn replace_on_stack(&mut self, pos: usize, idx: usize) {
        let old = self.stack[pos].idx;
        self.flags[old] &= !ON_STACK;
        self.flags[idx] |= ON_STACK;
        self.stack[pos].idx = idx;
    }

    pub fn stack_pos(&self, idx: usize) -> Option<usize> {
        if !self.on_stack(idx) {
            return None;
        }
        self.stack.iter().rposition(|o| o.idx == idx)
    }

    /// Position of the nearest HTML element matching `pred` if it is in
    /// `scope`.
    pub fn in_scope(&self, pred: impl Fn(&str) -> bool, scope: Scope) -> Option<usize> {
        for (pos, o) in self.stack.iter().enumerate().rev() {
            if !o.foreign && pred(&o.tag) {
                return Some(pos);
            }
            if o.boundary(scope) {
                return None;
            }
        }
        None
    }

    /// Whether stack position `pos` is in (default) scope.
    pub fn pos_in_scope(&self, pos: usize) -> bool {
        !self.stack[pos + 1..]
            .iter()
            .any(|o| o.boundary(Scope::Default))
    }

    pub(super) fn close_p(&mut self) {
        if self.open_p == 0 {
            return;
        }
        if let Some(pos) = self.in_scope(|t| t == "p", Scope::Button) {
            self.pop_to(pos);
        }
    }

    /// The standard's "generate implied end tags", except for `keep`.
    pub(super) fn implied_end_tags(&mut self, keep: &str) {
        while self.stack.len() > 1
            && let Some(o) = self.stack.last()
            && !o.foreign
            && o.tag != keep
            && matches!(
                o.tag.as_str(),
                "dd" | "dt" | "li" | "optgroup" | "option" | "p" | "rb" | "rp" | "rt" | "rtc"
            )
        {
            self.pop();
        }
    }

    /// Pop until the current node is one of `tags` (or `<html>`).
    pub(super) fn clear_back_to(&mut self, tags: &[&str]) {
        while self.stack.len() > 1 {
            let top = self.top_tag();
            if top == "html" || top == "template" || tags.contains(&top) {
                break;
            }
            self.pop();
        }
    }

    /// The standard's "reset the insertion mode appropriately".
    pub fn reset_mode(&mut self) {
        for (pos, o) in self.stack.iter().enumerate().rev() {
            if o.foreign {
                continue;
            }
            let mode = match o.tag.as_str() {
                "td" | "th" if pos > 0 => Mode::Cell,
                "tr" => Mode::Row,
                "tbody" | "thead" | "tfoot" => Mode::TableBody,
                "caption" => Mode::Caption,
                "colgroup" => Mode::ColumnGroup,
                "table" => Mode::Table,
                "body" | "html" => Mode::Body,
                _ => continue,
            };
            self.mode = mode;
            return;
        }
        self.mode = Mode::Body;
    }

    // ---- insertion ----

    /// Insert an element at the appropriate place and, unless void or at
    /// the depth cap, push it. Returns the node and whether it was pushed.
    pub fn insert(
        &mut self,
        tag: &str,
        attrs: Vec<(Name, String)>,
        void: bool,
        foreign: bool,
    ) -> (usize, bool) {
        let name = Name::new(tag);
        if tag == "script" && !foreign {
            // A script never reaches the arena and holds nothing that can
            // move (its content is raw text, read by the tokenizer): it is
            // open, as a placeholder on the root, only while its content
            // is skipped.
            if self.stack.len() < MAX_DEPTH {
                self.stack.push(Open {
                    tag: name,
                    idx: ROOT,
                    foreign,
                    svg: false,
                    point: Point::None,
                });
            }
            return (ROOT, true);
        }
        let html_encoding = foreign
            && tag == "annotation-xml"
            && attrs.iter().any(|(k, v)| {
                k == "encoding"
                    && (v.eq_ignore_ascii_case("text/html")
                        || v.eq_ignore_ascii_case("application/xhtml+xml"))
            });
        let idx = self.create(name.clone(), attrs);
        let (parent, before) = self.place_for(self.stack.len() - 1);
        self.attach(idx, parent, before);
        let push = !void && self.stack.len() < MAX_DEPTH;
        if push {
            self.push_open(name, idx, foreign);
            if tag == "template" && !foreign {
                self.afe.push(Fmt::Marker);
            }
            if let Some(o) = self.stack.last_mut()
                && html_encoding
                && o.point == Point::Annotation
            {
                o.point = Point::Html;
            }
        } else if !void {
            self.capped = true;
        }
        (idx, push)
    }

    /// Insert a cloned element (reconstruction) and push it.
    pub fn insert_clone(&mut self, old: usize) -> Option<usize> {
        if self.stack.len() >= MAX_DEPTH {
            return None;
        }
        let idx = self.clone_element(old);
        let (parent, before) = self.place_for(self.stack.len() - 1);
        self.attach(idx, parent, before);
        let tag = match &self.dom.nodes[idx].data {
            Data::Element(e) => e.tag.clone(),
            _ => Name::new("span"),
        };
        self.push_open(tag, idx, false);
        Some(idx)
    }

    /// Insert text at the appropriate place, joining a text node just
    /// before it.
    fn insert_text(&mut self, text: Cow<'_, str>) {
        if text.is_empty() {
            return;
        }
        let (parent, before) = self.place_for(self.stack.len() - 1);
        let children = &self.dom.nodes[parent].children;
        let prev = match before {
            None => children.last().copied(),
            Some(b) => children
                .iter()
                .rposition(|&c| c == b)
                .and_then(|at| at.checked_sub(1))
                .map(|at| children[at]),
        };
        if let Some(p) = prev
            && let Data::Text(s) = &mut self.dom.nodes[p].data
        {
            s.push_str(&text);
            return;
        }
        let idx = self.dom.nodes.len();
        self.dom.nodes.push(Node {
            parent: DETACHED,
            children: Vec::new(),
            data: Data::Text(text.into_owned()),
            class_id: String::new(),
        });
        self.flags.push(0);
        self.attach(idx, parent, before);
    }

    /// Raw text content of the element just opened (script, title, ...).
    pub fn raw_text(&mut self, mut text: String) {
        // Raw text and RCDATA keep a NUL as U+FFFD (body text drops it).
        if text.contains('\0') {
            text = text.replace('\0', "\u{FFFD}");
        }
        self.insert_text(Cow::Owned(text));
    }

    fn html_element(&mut self, tag: &str, parent: usize) -> usize {
        let idx = self.create(Name::new(tag), Vec::new());
        self.attach(idx, parent, None);
        idx
    }

    pub fn ensure_html(&mut self) {
        if self.stack.is_empty() {
            let idx = self.html_element("html", ROOT);
            self.push_open(Name::new("html"), idx, false);
        }
    }

    pub fn ensure_head(&mut self) {
        self.ensure_html();
        if self.head.is_none() {
            let idx = self.html_element("head", self.stack[0].idx);
            self.head = Some(idx);
            self.head_open = true;
            self.push_open(Name::new("head"), idx, false);
        }
    }

    pub fn ensure_body(&mut self, attrs: Vec<(Name, String)>) {
        if self.body.is_some() || self.frameset {
            return;
        }
        self.ensure_head();
        // Close the head and anything left open in it.
        self.pop_to(1);
        self.head_open = false;
        let idx = self.create(Name::new("body"), attrs);
        self.attach(idx, self.stack[0].idx, None);
        self.body = Some(idx);
        self.push_open(Name::new("body"), idx, false);
        self.mode = Mode::Body;
    }

    /// Character data between tags.
    pub fn text(&mut self, raw: &str, decode: bool) {
        if raw.is_empty() {
            return;
        }
        if self.body.is_none()
            && self.templates == 0
            && !(self.head_open && self.top_tag() != "head")
        {
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
        if self.stack.is_empty() {
            return;
        }
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
        if self.frameset {
            // Text in or after a frameset is never shown.
            return;
        }
        if self.body.is_none() || self.foreign_for_text() {
            self.insert_text(Cow::Owned(owned));
            return;
        }
        loop {
            match self.mode {
                Mode::Table | Mode::TableBody | Mode::Row if is_table_context(self.top_tag()) => {
                    if is_ascii_ws(&owned) {
                        self.insert_text(Cow::Owned(owned));
                    } else {
                        // Text in a table goes before it, with its formatting.
                        self.foster = true;
                        self.reconstruct();
                        self.insert_text(Cow::Owned(owned));
                        self.foster = false;
                    }
                }
                Mode::ColumnGroup if !is_ascii_ws(&owned) => {
                    if self.top_tag() != "colgroup" {
                        return;
                    }
                    self.pop();
                    self.mode = Mode::Table;
                    continue;
                }
                Mode::ColumnGroup => self.insert_text(Cow::Owned(owned)),
                _ => {
                    self.reconstruct();
                    self.insert_text(Cow::Owned(owned));
                }
            }
            return;
        }
    }

    /// A start tag (after the tokenizer's raw-text handling).
    pub fn start_tag(&mut self, tag: &str, attrs: Vec<(Name, String)>, self_closing: bool) {
        if self.frameset {
            self.start_in_frameset(tag, attrs);
            return;
        }
        if self.foreign_for_start(tag) {
            if breaks_foreign(tag)
                || (tag == "font"
                    && attrs
                        .iter()
                        .any(|(k, _)| matches!(k.as_str(), "color" | "face" | "size")))
            {
                self.leave_foreign();
            } else {
                self.insert(tag, attrs, self_closing, true);
                return;
            }
        }
        let tag = if tag == "image" { "img" } else { tag };
        if self.templates > 0 && matches!(tag, "html" | "head" | "body" | "frameset") {
            // Inside a template these are ignored.
            return;
        }
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
            "frameset" => {
                // Before the body it makes a frames document (in the body
                // it is ignored, as once text or any element is in).
                if self.body.is_none() {
                    self.ensure_head();
                    self.pop_to(1);
                    self.head_open = false;
                    self.insert("frameset", attrs, false, false);
                    self.frameset = true;
                }
                return;
            }
            _ => {}
        }
        if self.body.is_none() && self.templates == 0 {
            if head_element(tag) {
                self.ensure_head();
                if !self.head_open {
                    // After `</head>`: back into the head, as browsers do.
                    // The head's subtree must stay contiguous, so the
                    // whitespace seen since `</head>` is given up.
                    let html = self.stack[0].idx;
                    while let Some(&last) = self.dom.nodes[html].children.last()
                        && Some(last) != self.head
                        && last + 1 == self.dom.nodes.len()
                        && matches!(self.dom.nodes[last].data, Data::Text(_))
                    {
                        self.dom.nodes[html].children.pop();
                        self.dom.nodes.pop();
                        self.flags.pop();
                    }
                    if let Some(head) = self.head {
                        self.push_open(Name::new("head"), head, false);
                    }
                    self.head_open = true;
                }
                self.insert(tag, attrs, is_void(tag), false);
                return;
            }
            self.ensure_body(Vec::new());
        }
        let mut attrs = attrs;
        // A table token may be reprocessed in the mode it switched to; each
        // round pops or changes mode, and the count guards the depth cap.
        for _ in 0..8 {
            if !self.start_in_mode(tag, &mut attrs, self_closing) {
                return;
            }
        }
    }

    /// Back to HTML from foreign content: pop up to the nearest HTML
    /// element or integration point.
    fn leave_foreign(&mut self) {
        while self.stack.len() > 1
            && self
                .stack
                .last()
                .is_some_and(|o| o.foreign && matches!(o.point, Point::None | Point::Annotation))
        {
            self.pop();
        }
    }

    /// The "in frameset" and "after frameset" rules for a start tag: frames
    /// nest, `<noframes>` (raw text) goes anywhere, everything else is
    /// ignored.
    fn start_in_frameset(&mut self, tag: &str, attrs: Vec<(Name, String)>) {
        let in_frameset = self.top_tag() == "frameset";
        match tag {
            "frameset" | "frame" if in_frameset => {
                self.insert(tag, attrs, tag == "frame", false);
            }
            "noframes" => {
                self.insert(tag, attrs, false, false);
            }
            _ => {}
        }
    }

    /// The "in body" rules for a start tag.
    pub(super) fn start_in_body(
        &mut self,
        tag: &str,
        attrs: Vec<(Name, String)>,
        self_closing: bool,
    ) {
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
                if let Some(at) = self.afe_find("a") {
                    let Fmt::Elem(old) = self.afe[at] else {
                        return;
                    };
                    if self.adoption("a") {
                        self.any_other_end("a");
                    }
                    if let Some(p) = self.afe.iter().rposition(|&f| f == Fmt::Elem(old)) {
                        self.afe.remove(p);
                    }
                    if let Some(p) = self.stack_pos(old) {
                        self.remove_from_stack(p);
                    }
                }
                self.reconstruct();
                let (idx, pushed) = self.insert(tag, attrs, false, false);
                if pushed {
                    self.afe_push(idx);
                }
                return;
            }
            "nobr" => {
                self.reconstruct();
                if self.in_scope(|t| t == "nobr", Scope::Default).is_some() {
                    if self.adoption("nobr") {
                        self.any_other_end("nobr");
                    }
                    self.reconstruct();
                }
                let (idx, pushed) = self.insert(tag, attrs, false, false);
                if pushed {
                    self.afe_push(idx);
                }
                return;
            }
            t if is_formatting(t) => {
                self.reconstruct();
                let (idx, pushed) = self.insert(tag, attrs, false, false);
                if pushed {
                    self.afe_push(idx);
                }
                return;
            }
            "applet" | "marquee" | "object" => {
                self.reconstruct();
                if self.insert(tag, attrs, false, false).1 {
                    self.afe.push(Fmt::Marker);
                }
                return;
            }
            "button" => {
                if let Some(pos) = self.in_scope(|t| t == "button", Scope::Default) {
                    self.pop_to(pos);
                }
                self.reconstruct();
            }
            "table" => {
                if !self.quirks {
                    self.close_p();
                }
                if self.insert(tag, attrs, false, false).1 {
                    self.mode = Mode::Table;
                }
                return;
            }
            "hr" => self.close_p(),
            "xmp" => {
                self.close_p();
                self.reconstruct();
            }
            "option" | "optgroup" => {
                if self.top_tag() == "option" {
                    self.pop();
                }
                self.reconstruct();
            }
            "select" | "input" | "keygen" | "textarea"
                if let Some(pos) = (self.selects > 0)
                    .then(|| self.in_scope(|t| t == "select", Scope::Default))
                    .flatten() =>
            {
                // A select does not nest and holds no text controls: a
                // second `<select>` closes the first (and is dropped), an
                // `<input>` closes it and goes after it.
                self.pop_to(pos);
                if tag == "select" {
                    return;
                }
                if tag != "textarea" {
                    self.reconstruct();
                }
            }
            "rb" | "rtc" | "rp" | "rt" => {
                // Ruby parts close the open ones before them (`rp` and
                // `rt` stay inside an `rtc`).
                if self.in_scope(|t| t == "ruby", Scope::Default).is_some() {
                    let keep = if matches!(tag, "rp" | "rt") {
                        "rtc"
                    } else {
                        ""
                    };
                    self.implied_end_tags(keep);
                }
            }
            "caption" | "col" | "colgroup" | "frame" | "head" | "tbody" | "td" | "tfoot" | "th"
            | "thead" | "tr" => return,
            t if closes_p(t) => self.close_p(),
            t if head_element(t) => {}
            "textarea" | "iframe" | "noembed" | "param" | "source" | "track" => {}
            _ => self.reconstruct(),
        }
        let foreign = matches!(tag, "svg" | "math");
        let void = is_void(tag) || (foreign && self_closing);
        self.insert(tag, attrs, void, foreign);
    }

    /// An end tag.
    pub fn end_tag(&mut self, tag: &str) {
        if self.in_foreign() && matches!(tag, "p" | "br") {
            // Like a breakout start tag: back to HTML, then read as HTML.
            self.leave_foreign();
        } else if self.in_foreign() {
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
        if self.frameset {
            // `</frameset>` closes a frameset, never the root.
            if tag == "frameset" && self.top_tag() == "frameset" {
                self.pop();
            }
            return;
        }
        if tag == "template" {
            // Closes the innermost template, whatever is open in it.
            if self.templates > 0
                && let Some(pos) = self
                    .stack
                    .iter()
                    .rposition(|o| !o.foreign && o.tag == "template")
            {
                self.pop_to(pos);
                self.clear_afe_to_marker();
                self.reset_mode();
            }
            return;
        }
        match tag {
            "html" | "body" => return,
            "head" => {
                if self.head_open && self.top_tag() == "head" {
                    self.pop();
                    self.head_open = false;
                }
                return;
            }
            _ => {}
        }
        if self.body.is_none() {
            // Before the body only `</br>` does something: it opens the
            // body and is read as `<br>`.
            if tag == "br" {
                self.ensure_body(Vec::new());
            } else {
                return;
            }
        }
        for _ in 0..8 {
            if !self.end_in_mode(tag) {
                return;
            }
        }
    }

    pub(super) fn end_in_body(&mut self, tag: &str) {
        match tag {
            "br" => self.start_in_body("br", Vec::new(), false),
            "p" => {
                if self.open_p == 0 || self.in_scope(|t| t == "p", Scope::Button).is_none() {
                    self.start_in_body("p", Vec::new(), false);
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
                    if matches!(t, "applet" | "marquee" | "object") {
                        self.clear_afe_to_marker();
                    }
                }
            }
            t if is_formatting(t) => {
                if self.adoption(t) {
                    self.any_other_end(t);
                }
            }
            _ => self.any_other_end(tag),
        }
    }

    /// "Any other end tag": close the nearest element of that name unless a
    /// special element comes first.
    pub fn any_other_end(&mut self, tag: &str) {
        for pos in (1..self.stack.len()).rev() {
            let o = &self.stack[pos];
            if !o.foreign && o.tag == tag {
                self.pop_to(pos);
                return;
            }
            if o.special() {
                return;
            }
        }
    }

    /// The finished arena: in document order, dropped subtrees gone.
    pub fn finish(self) -> Dom {
        let Builder {
            mut dom,
            flags,
            reorder,
            ..
        } = self;
        if reorder {
            renumber(&mut dom, &flags);
        }
        dom.finish();
        dom
    }
}

/// Rebuild the arena in document (pre-)order, leaving out dropped subtrees.
fn renumber(dom: &mut Dom, flags: &[u8]) {
    let mut old = std::mem::take(&mut dom.nodes);
    let mut nodes: Vec<Node> = Vec::with_capacity(old.len());
    // (old index, new parent)
    let mut todo: Vec<(usize, usize)> = vec![(ROOT, ROOT)];
    while let Some((o, parent)) = todo.pop() {
        if o != ROOT && flags[o] & DROPPED != 0 {
            continue;
        }
        let new = nodes.len();
        let node = &mut old[o];
        let mut children = std::mem::take(&mut node.children);
        let data = std::mem::replace(&mut node.data, Data::Document);
        let class_id = std::mem::take(&mut node.class_id);
        todo.extend(children.iter().rev().map(|&c| (c, new)));
        // The old list's allocation holds the new indices.
        children.clear();
        nodes.push(Node {
            parent,
            children,
            data,
            class_id,
        });
        if new != ROOT {
            nodes[parent].children.push(new);
        }
    }
    dom.nodes = nodes;
}
