//! CSS selectors matched on our own arena.
//!
//! Why: per-site selectors (a unit's `content_selector` / `title_selector`)
//! used to be matched on html5ever's tree, which meant parsing the page a
//! second time with a parser that is not linear (see [`super::tame`]).
//! Implementing `selectors::Element` — the trait scraper itself implements,
//! with scraper's own selector grammar (`scraper::selector::Simple`) — over
//! the arena lets the same selectors run on the tree the extractor already
//! has: one linear parse, the same matches (differential tests against
//! scraper in `tests/extract_select.rs`).
//!
//! Selectors that look at siblings or emptiness are the exception (see
//! [`Css::sees_siblings`]): they still take the html5ever path.
//!
//! The arena keeps only HTML element names and no namespaces: a selector is
//! matched as if every element were in the HTML namespace, which is how a
//! site's selectors are written. Elements the arena drops (scripts, styles,
//! hidden blocks, form controls) cannot match, and are not counted by
//! structural pseudo-classes: a selector aimed at a hidden block found
//! nothing on the html5ever path either, since the copy dropped it.

use super::dom::{Data, Dom, ROOT};
use scraper::selector::{CssLocalName, CssString, NonTSPseudoClass, PseudoElement, Simple};
use selectors::attr::{AttrSelectorOperation, CaseSensitivity, NamespaceConstraint};
use selectors::matching::{self, MatchingContext};
use selectors::parser::{ParseRelative, SelectorList};
use selectors::{Element, OpaqueElement};

/// A parsed selector group (comma-separated), ready to match on a [`Dom`].
#[derive(Debug, Clone)]
pub(crate) struct Css {
    list: SelectorList<Simple>,
    /// The same selector for scraper's matcher (the html5ever path).
    scraper: scraper::Selector,
    /// Whether the selector looks at siblings (see [`Css::sees_siblings`]).
    siblings: bool,
}

impl Css {
    /// `s` parsed with scraper's grammar; the error is scraper's message.
    pub(crate) fn parse(s: &str) -> Result<Css, String> {
        // scraper's message for a bad selector is the one config checks
        // already print; parse with it first so the two never disagree.
        let scraper = scraper::Selector::parse(s).map_err(|e| e.to_string())?;
        let mut parser = cssparser::Parser::new(s);
        SelectorList::parse(&scraper::selector::Parser, &mut parser, ParseRelative::No)
            .map(|list| Css {
                list,
                scraper,
                // Pseudo-classes (`:first-child`, `:nth-of-type`, `:empty`…)
                // and the sibling combinators. Read off the text, so an
                // attribute value with a `:` counts too: that only sends a
                // selector down the old path, never a wrong match.
                siblings: s.contains([':', '+', '~']),
            })
            .map_err(|e| format!("{:?}", e.kind))
    }

    /// Whether matching depends on an element's siblings or emptiness.
    /// The arena drops scripts, styles, form controls and hidden elements,
    /// so such a selector can count siblings differently from a browser
    /// (`span:only-child` beside a dropped `<input>`); those selectors are
    /// still matched on html5ever's tree, where the differential tests found
    /// them to differ. Every other selector picks the same elements.
    pub(crate) fn sees_siblings(&self) -> bool {
        self.siblings
    }

    /// The selector for scraper's matcher.
    pub(crate) fn for_scraper(&self) -> &scraper::Selector {
        &self.scraper
    }

    /// The elements of `dom` this selector matches, in document order.
    pub(crate) fn select(&self, dom: &Dom) -> Vec<usize> {
        let mut caches = matching::SelectorCaches::default();
        let mut cx = MatchingContext::new(
            matching::MatchingMode::Normal,
            None,
            &mut caches,
            matching::QuirksMode::NoQuirks,
            matching::NeedsSelectorFlags::No,
            matching::MatchingForInvalidation::No,
        );
        (0..dom.nodes.len())
            .filter(|&i| dom.elem(i).is_some())
            .filter(|&i| matching::matches_selector_list(&self.list, &El { dom, i }, &mut cx))
            .collect()
    }
}

/// One element of the arena, as `selectors` sees it.
#[derive(Clone, Copy)]
struct El<'a> {
    dom: &'a Dom,
    i: usize,
}

impl std::fmt::Debug for El<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>#{}", self.dom.tag(self.i), self.i)
    }
}

impl<'a> El<'a> {
    fn at(&self, i: usize) -> El<'a> {
        El { dom: self.dom, i }
    }

    fn attr(&self, name: &str) -> Option<&'a str> {
        self.dom.elem(self.i).and_then(|e| e.attr(name))
    }

    /// This node's siblings, and where it stands among them. Children are
    /// in document order (increasing indices), so the position is a binary
    /// search: no walk is quadratic in a parent's number of children.
    fn siblings(&self) -> (&'a [usize], usize) {
        let parent = self.dom.nodes[self.i].parent;
        let kids = &self.dom.nodes[parent].children;
        let pos = kids.binary_search(&self.i).unwrap_or(0);
        (kids, pos)
    }

    fn is_element(&self, i: usize) -> bool {
        self.dom.elem(i).is_some()
    }
}

impl Element for El<'_> {
    type Impl = Simple;

    fn opaque(&self) -> OpaqueElement {
        OpaqueElement::new(&self.dom.nodes[self.i])
    }

    fn parent_element(&self) -> Option<Self> {
        let p = self.dom.nodes[self.i].parent;
        (self.i != ROOT && self.is_element(p)).then(|| self.at(p))
    }

    fn parent_node_is_shadow_root(&self) -> bool {
        false
    }

    fn containing_shadow_host(&self) -> Option<Self> {
        None
    }

    fn is_pseudo_element(&self) -> bool {
        false
    }

    fn prev_sibling_element(&self) -> Option<Self> {
        let (kids, pos) = self.siblings();
        kids[..pos]
            .iter()
            .rev()
            .find(|&&k| self.is_element(k))
            .map(|&k| self.at(k))
    }

    fn next_sibling_element(&self) -> Option<Self> {
        let (kids, pos) = self.siblings();
        kids[pos + 1..]
            .iter()
            .find(|&&k| self.is_element(k))
            .map(|&k| self.at(k))
    }

    fn first_element_child(&self) -> Option<Self> {
        self.dom.nodes[self.i]
            .children
            .iter()
            .find(|&&k| self.is_element(k))
            .map(|&k| self.at(k))
    }

    fn is_html_element_in_html_document(&self) -> bool {
        true
    }

    fn has_local_name(&self, name: &CssLocalName) -> bool {
        self.dom.tag(self.i) == &*name.0
    }

    fn has_namespace(&self, ns: &html5ever::Namespace) -> bool {
        &**ns == "http://www.w3.org/1999/xhtml"
    }

    fn is_same_type(&self, other: &Self) -> bool {
        self.dom.tag(self.i) == other.dom.tag(other.i)
    }

    fn attr_matches(
        &self,
        ns: &NamespaceConstraint<&html5ever::Namespace>,
        local_name: &CssLocalName,
        operation: &AttrSelectorOperation<&CssString>,
    ) -> bool {
        // The arena's attributes are all in no namespace.
        if matches!(ns, NamespaceConstraint::Specific(url) if !url.is_empty()) {
            return false;
        }
        self.attr(&local_name.0)
            .is_some_and(|v| operation.eval_str(v))
    }

    fn match_non_ts_pseudo_class(
        &self,
        pc: &NonTSPseudoClass,
        _: &mut MatchingContext<'_, Simple>,
    ) -> bool {
        // scraper's grammar has no such pseudo-classes (an empty enum).
        match *pc {}
    }

    fn match_pseudo_element(&self, pe: &PseudoElement, _: &mut MatchingContext<Simple>) -> bool {
        match *pe {}
    }

    fn is_link(&self) -> bool {
        // As scraper decides it, so that `:link` matches the same.
        self.dom.tag(self.i) == "link"
    }

    fn is_html_slot_element(&self) -> bool {
        false
    }

    fn has_id(&self, id: &CssLocalName, case: CaseSensitivity) -> bool {
        self.attr("id")
            .is_some_and(|v| case.eq(id.0.as_bytes(), v.as_bytes()))
    }

    fn has_class(&self, name: &CssLocalName, case: CaseSensitivity) -> bool {
        self.attr("class").is_some_and(|v| {
            v.split_ascii_whitespace()
                .any(|c| case.eq(name.0.as_bytes(), c.as_bytes()))
        })
    }

    fn has_custom_state(&self, _: &CssLocalName) -> bool {
        false
    }

    fn imported_part(&self, _: &CssLocalName) -> Option<CssLocalName> {
        None
    }

    fn is_part(&self, _: &CssLocalName) -> bool {
        false
    }

    fn is_empty(&self) -> bool {
        !self.dom.nodes[self.i].children.iter().any(|&k| {
            self.is_element(k) || matches!(&self.dom.nodes[k].data, Data::Text(t) if !t.is_empty())
        })
    }

    fn is_root(&self) -> bool {
        self.i != ROOT && self.dom.nodes[self.i].parent == ROOT
    }

    fn apply_selector_flags(&self, _: matching::ElementSelectorFlags) {}

    fn add_element_unique_hashes(&self, _: &mut selectors::bloom::BloomFilter) -> bool {
        false
    }
}
