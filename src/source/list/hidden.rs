//! Which elements of a list page a browser would not show.
//!
//! Why: CMS templates ship blocks nobody sees — a full archive of links for
//! search engines, the other tabs of a tabbed box, a pager's every page —
//! and such a block, being the longest list of article links on the page,
//! used to win over the visible list. An element is hidden when it or an
//! ancestor has the `hidden` attribute, an inline `display:none` or
//! `visibility:hidden`, or matches a rule of the page's own `<style>` that
//! says so (later rules that show it again win, as in the cascade; rules
//! inside `@media` and other at-rules are left out: they apply only on some
//! screens). Stylesheets in other files are not fetched.

use std::collections::HashMap;
use std::collections::HashSet;

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Selector};

/// At most this many rules of the page's `<style>` are matched: a page
/// that inlines a whole CSS framework costs no more than this.
const MAX_RULES: usize = 200;

/// What a declaration block does to visibility, if anything.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Effect {
    Hide,
    Show,
}

fn effect_of(declarations: &str) -> Option<Effect> {
    let d: String = declarations
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let mut effect = None;
    for decl in d.split(';') {
        let Some((prop, value)) = decl.split_once(':') else {
            continue;
        };
        let value = value.trim_end_matches("!important");
        match (prop, value) {
            ("display", "none") | ("visibility", "hidden" | "collapse") => {
                effect = Some(Effect::Hide)
            }
            ("display", _) | ("visibility", "visible") => effect = effect.or(Some(Effect::Show)),
            _ => {}
        }
    }
    effect
}

/// Whether an element's own attributes hide it.
fn hidden_inline(el: ElementRef) -> bool {
    let v = el.value();
    v.attr("hidden").is_some() || v.attr("style").and_then(effect_of) == Some(Effect::Hide)
}

/// `(selector list, declarations)` of the top-level rules of a stylesheet.
fn rules(css: &str) -> Vec<(String, String)> {
    // Comments out first: they may hold braces.
    let mut text = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(at) = rest.find("/*") {
        text.push_str(&rest[..at]);
        rest = rest[at + 2..]
            .find("*/")
            .map_or("", |e| &rest[at + 2 + e + 2..]);
    }
    text.push_str(rest);
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        let selector = rest[..open].trim();
        // The block's end, counting nested blocks (at-rules hold rules).
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        if !selector.starts_with('@') {
            // A `;` before the selector ends an at-statement (`@import …;`).
            let selector = selector.rsplit(';').next().unwrap_or("").trim();
            out.push((selector.to_string(), rest[open + 1..end].to_string()));
        }
        rest = &rest[end + 1..];
    }
    out
}

/// Every element the page hides itself (not their descendants: see
/// [`is_hidden`]).
pub(super) fn hidden_elements(doc: &Html) -> HashSet<NodeId> {
    let mut state: HashMap<NodeId, Effect> = HashMap::new();
    let style_sel = Selector::parse("style").expect("static selector");
    let mut matched = 0;
    for style in doc.select(&style_sel) {
        // `<style media=print>` is not what a reader sees on screen.
        if style
            .value()
            .attr("media")
            .is_some_and(|m| !m.is_empty() && !m.contains("screen") && !m.contains("all"))
        {
            continue;
        }
        let css: String = style.text().collect();
        for (selectors, declarations) in rules(&css) {
            let Some(effect) = effect_of(&declarations) else {
                continue;
            };
            for sel in selectors.split(',').map(str::trim) {
                // States and generated content (`:hover`, `::before`) are
                // not what the page shows as it loads.
                if sel.is_empty() || sel.contains(':') {
                    continue;
                }
                matched += 1;
                if matched > MAX_RULES {
                    break;
                }
                let Ok(selector) = Selector::parse(sel) else {
                    continue;
                };
                for el in doc.select(&selector) {
                    state.insert(el.id(), effect);
                }
            }
        }
    }
    let mut hidden: HashSet<NodeId> = state
        .into_iter()
        .filter(|(_, e)| *e == Effect::Hide)
        .map(|(id, _)| id)
        .collect();
    for el in doc.root_element().descendent_elements() {
        if hidden_inline(el) {
            hidden.insert(el.id());
        }
    }
    hidden
}

/// Whether `el` or an ancestor is hidden.
pub(super) fn is_hidden(el: ElementRef, hidden: &HashSet<NodeId>) -> bool {
    !hidden.is_empty()
        && (hidden.contains(&el.id()) || el.ancestors().any(|a| hidden.contains(&a.id())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden_texts(html: &str) -> Vec<String> {
        let doc = Html::parse_document(html);
        let hidden = hidden_elements(&doc);
        let a = Selector::parse("a").unwrap();
        doc.select(&a)
            .filter(|e| is_hidden(*e, &hidden))
            .map(|e| e.text().collect())
            .collect()
    }

    #[test]
    fn inline_styles_attributes_and_page_rules_hide() {
        let got = hidden_texts(
            "<style>/* .x{display:block} */ .a, #b { DISPLAY: none !important }\
             @media print { .c { display:none } } .d{visibility:hidden}\
             .tab{display:none} .tab.on{display:block} a:hover{display:none}</style>\
             <a>0</a><p class=a><a>1</a></p><p id=b><a>2</a></p><p class=c><a>3</a></p>\
             <div class=d><a>4</a></div><div class='tab on'><a>5</a></div><div class=tab><a>6</a></div>\
             <div style='display : none'><span><a>7</a></span></div><div hidden><a>8</a></div>\
             <div style='visibility:hidden'><a>9</a></div><style media=print>.e{display:none}</style>\
             <p class=e><a>10</a></p>",
        );
        assert_eq!(got, ["1", "2", "4", "6", "7", "8", "9"]);
    }

    #[test]
    fn broken_stylesheets_do_not_panic() {
        for css in [
            "",
            "{",
            "}",
            ".a{display:none",
            "@media{",
            "/* open",
            ".a{}}}",
            "::{}",
        ] {
            let _ = hidden_texts(&format!("<style>{css}</style><p class=a><a>x</a></p>"));
        }
    }
}
