//! Finding the main content: per-node text statistics and a
//! readability-style score.
//!
//! Why readability's scheme: it needs no training data and its signals —
//! long paragraphs with punctuation, low link density, class/id names —
//! hold for English news sites and Chinese government CMSs alike. Chinese
//! punctuation counts like English commas, and the names Chinese CMSs give
//! their body containers (`TRS_Editor`, `UCAP-CONTENT`, `zoom`, ...) count
//! as positive names, so the same scoring works on both.

use super::dom::{Data, Dom, ROOT};

/// Bottom-up text statistics of every node.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    /// Non-whitespace characters of text below the node.
    pub chars: u32,
    /// Of those, characters inside `<a>`.
    pub link_chars: u32,
    /// Commas, full stops and their CJK forms: a cheap "this is prose" signal.
    pub punct: u32,
    pub p: u32,
    pub img: u32,
    pub li: u32,
    pub li_chars: u32,
    /// Whether a block-level element is somewhere below.
    pub has_block: bool,
}

impl Stats {
    pub fn link_density(&self) -> f32 {
        if self.chars == 0 {
            0.0
        } else {
            self.link_chars as f32 / self.chars as f32
        }
    }
}

pub(crate) fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "aside"
            | "nav"
            | "header"
            | "footer"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "tr"
            | "td"
            | "th"
            | "blockquote"
            | "pre"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "figure"
            | "figcaption"
            | "form"
            | "fieldset"
            | "address"
            | "hr"
            | "center"
            | "body"
            | "html"
    )
}

pub(crate) fn compute_stats(dom: &Dom) -> Vec<Stats> {
    let n = dom.nodes.len();
    let mut st = vec![Stats::default(); n];
    for i in (0..n).rev() {
        let node = &dom.nodes[i];
        match &node.data {
            Data::Text(t) => {
                let mut chars = 0;
                let mut punct = 0;
                for c in t.chars() {
                    if !(c.is_whitespace() || c == '\u{a0}' || c == '\u{3000}') {
                        chars += 1;
                        if matches!(c, ',' | '，' | '。' | '、' | '；' | '！' | '？') {
                            punct += 1;
                        }
                    }
                }
                st[i].chars += chars;
                st[i].punct += punct;
            }
            Data::Element(e) => match e.tag.as_str() {
                "a" => st[i].link_chars = st[i].chars,
                "p" => st[i].p += 1,
                "img" => st[i].img += 1,
                "li" => {
                    st[i].li += 1;
                    st[i].li_chars = st[i].chars;
                }
                _ => {}
            },
            Data::Document => {}
        }
        if i == ROOT {
            break;
        }
        let s = st[i];
        let p = &mut st[node.parent];
        p.chars += s.chars;
        p.link_chars += s.link_chars;
        p.punct += s.punct;
        p.p += s.p;
        p.img += s.img;
        p.li += s.li;
        p.li_chars += s.li_chars;
        p.has_block |= s.has_block || is_block(dom.tag(i));
    }
    st
}

/// Class/id names that mark boilerplate or content. Matched on whole
/// tokens (split at space, `-`, `_`) so that `ad` does not hit `head`.
const NEGATIVE_TOKENS: &[&str] = &[
    "ad",
    "ads",
    "advert",
    "advertisement",
    "banner",
    "breadcrumb",
    "breadcrumbs",
    "combx",
    "comment",
    "comments",
    "contact",
    "foot",
    "footer",
    "footnote",
    "gdpr",
    "masthead",
    "outbrain",
    "promo",
    "related",
    "share",
    "sharing",
    "social",
    "shoutbox",
    "sidebar",
    "sidebox",
    "skyscraper",
    "sponsor",
    "sponsored",
    "shopping",
    "tags",
    "tool",
    "tools",
    "toolbar",
    "widget",
    "nav",
    "navbar",
    "menu",
    "recommend",
    "recommended",
    "newsletter",
    "subscribe",
    "subscription",
    "popup",
    "modal",
    "copyright",
    "pager",
    "pagination",
    "print",
    "disqus",
    "taboola",
    "byline",
    "author",
    "meta",
    "dateline",
    "caption",
    "hidden",
    "hide",
    "login",
    "signup",
    "cookie",
    "rss",
    "weixin",
    "qrcode",
    "ewm",
    "fenxiang",
    "bdshare",
    "xgxw",
    "xgwz",
    "xgyd",
    "hot",
    "rank",
    "more",
    "links",
    "link",
    "friendlink",
    "crumb",
    "location",
    "position",
    "dqwz",
    "next",
    "prev",
    "prenext",
    "sxp",
    "jiathis",
    "banquan",
];
const POSITIVE_TOKENS: &[&str] = &[
    "article", "body", "content", "entry", "hentry", "main", "page", "post", "text", "blog",
    "story", "detail", "details", "news", "zoom", "zw", "editor", "artibody", "con", "cont", "txt",
    "nr", "wznr", "zwnr", "xl", "xxnr", "maintext",
];
/// Body containers of common Chinese and international CMSs: a stronger
/// signal than the generic words above.
const CMS_CONTENT: &[&str] = &[
    "trs_editor",
    "ucap-content",
    "custom_unionstyle",
    "article-content",
    "article_content",
    "articlecontent",
    "article-body",
    "article_body",
    "articlebody",
    "post-content",
    "entry-content",
    "story-body",
    "content_text",
    "art_content",
    "artibody",
    "main-content",
    "zoom",
    "view trs_editor",
    "pages_content",
    "news_content",
    "newscontent",
    "detail-content",
    "rich_media_content",
    "js_content",
    "g-article",
    "article-text",
    "bodytext",
    "body-text",
];

pub(crate) fn class_weight(class_id: &str) -> f32 {
    if class_id.is_empty() {
        return 0.0;
    }
    let mut w = 0.0;
    let mut neg = false;
    let mut pos = false;
    for tok in class_id.split(|c: char| c.is_whitespace() || c == '-' || c == '_') {
        if tok.is_empty() {
            continue;
        }
        if !neg && NEGATIVE_TOKENS.contains(&tok) {
            neg = true;
        }
        if !pos && POSITIVE_TOKENS.contains(&tok) {
            pos = true;
        }
    }
    if neg {
        w -= 25.0;
    }
    if pos {
        w += 25.0;
    }
    if class_id
        .split_whitespace()
        .any(|c| CMS_CONTENT.contains(&c))
    {
        w += 25.0;
    }
    w
}

fn tag_base(tag: &str) -> f32 {
    match tag {
        "div" | "article" | "section" | "main" => 5.0,
        "pre" | "td" | "blockquote" => 3.0,
        "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
        _ => 0.0,
    }
}

/// Elements whose own text counts as a paragraph when they hold no blocks.
fn paragraph_tag(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "pre"
            | "body"
            | "main"
            | "dl"
            | "dt"
            | "figure"
            | "table"
            | "tbody"
            | "tr"
            | "td"
            | "blockquote"
            | "div"
            | "section"
            | "article"
            | "span"
            | "font"
            | "center"
            | "li"
            | "dd"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
    )
}

/// Names of blocks that hold someone else's text: comments, related and
/// recommended articles. Their paragraphs are real prose, so they would
/// otherwise outscore a short article.
const OTHER_CONTENT: &[&str] = &[
    "comment",
    "comments",
    "related",
    "recommend",
    "recommended",
    "recommendation",
    "recommendations",
    "relate",
    "xgwz",
    "xgxw",
    "xgyd",
    "tuijian",
    "popular",
    "trending",
    "disqus",
    "reply",
    "replies",
    "outbrain",
    "taboola",
    "stream",
];

/// Whether paragraph `i` sits inside a smallish block named as
/// someone else's content.
fn in_other_content(dom: &Dom, st: &[Stats], i: usize, body: usize) -> bool {
    // Guard: never discount most of the page on the strength of a name.
    let limit = st[body].chars / 5 * 4;
    let mut n = i;
    for _ in 0..8 {
        if n <= body {
            return false;
        }
        let cid = &dom.nodes[n].class_id;
        if !cid.is_empty()
            && st[n].chars < limit
            && cid
                .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
                .any(|t| OTHER_CONTENT.contains(&t))
        {
            return true;
        }
        n = dom.nodes[n].parent;
    }
    false
}

fn in_list_item(dom: &Dom, c: usize, body: usize) -> bool {
    let mut n = c;
    for _ in 0..6 {
        if n <= body {
            return false;
        }
        if dom.tag(n) == "li" {
            return true;
        }
        n = dom.nodes[n].parent;
    }
    false
}

pub(crate) struct Scored {
    /// Content score per node (0 for unscored nodes).
    pub score: Vec<f32>,
    /// The chosen content roots, in document order.
    pub roots: Vec<usize>,
    /// Scored candidates, best first: fallbacks when the roots turn out
    /// to hold no prose.
    pub ranked: Vec<usize>,
}

/// Score every node and choose the main content. `body` is where to look.
pub(crate) fn choose(dom: &Dom, st: &[Stats], body: usize) -> Scored {
    let n = dom.nodes.len();
    let mut score = vec![0.0f32; n];
    let mut scored = vec![false; n];
    let end = dom.subtree_end(body);

    // Text belongs to its nearest block ancestor ("own" text). A block's
    // own text is a paragraph: it scores for the block's parent when the
    // block holds only inline content (a `<p>`), or for the block itself
    // when text and blocks are mixed (text between `<br>`s in a `<div>`
    // that also has `<div>`s in it).
    #[derive(Clone, Copy, Default)]
    struct Own {
        chars: u32,
        links: u32,
        punct: u32,
    }
    let mut own = vec![Own::default(); n];
    for (i, node) in dom.nodes.iter().enumerate().take(end).skip(body) {
        if !matches!(node.data, Data::Text(_)) || st[i].chars == 0 {
            continue;
        }
        let mut b = node.parent;
        let mut in_link = false;
        while b > body && !is_block(dom.tag(b)) {
            in_link |= dom.tag(b) == "a";
            b = dom.nodes[b].parent;
        }
        let o = &mut own[b];
        o.chars += st[i].chars;
        o.punct += st[i].punct;
        if in_link {
            o.links += st[i].chars;
        }
    }
    // Short lines (poems, blogs that break every phrase, address blocks)
    // are pooled per holder and scored together.
    let mut pool = vec![Own::default(); n];
    let mut paras: Vec<(usize, f32)> = Vec::new();
    for i in body..end {
        let o = own[i];
        if o.chars == 0 || o.links * 2 > o.chars || !paragraph_tag(dom.tag(i)) && i != body {
            continue;
        }
        let holder = if st[i].has_block || i == body {
            i
        } else {
            dom.nodes[i].parent
        };
        if in_other_content(dom, st, i, body) {
            continue;
        }
        if o.chars >= 25 {
            let para = 1.0 + o.punct as f32 + (o.chars as f32 / 100.0).floor().min(3.0);
            paras.push((holder, para));
        } else {
            pool[holder].chars += o.chars;
            pool[holder].punct += o.punct;
        }
    }
    for (i, p) in pool.iter().enumerate() {
        if p.chars >= 50 {
            paras.push((
                i,
                1.0 + p.punct as f32 + (p.chars as f32 / 100.0).floor().min(10.0),
            ));
        }
    }
    for (holder, para) in paras {
        let mut anc = holder;
        let mut level = 0;
        while level < 5 && anc != ROOT && anc >= body {
            if !scored[anc] {
                scored[anc] = true;
                // A name is weak evidence for a block with little text:
                // `content-wrapper title` around a headline must not beat
                // the paragraphs next to it.
                let name_trust = (st[anc].chars as f32 / 300.0).min(1.0);
                score[anc] =
                    tag_base(dom.tag(anc)) + class_weight(&dom.nodes[anc].class_id) * name_trust;
            }
            let div = match level {
                0 => 1.0,
                1 => 2.0,
                l => l as f32 * 3.0,
            };
            score[anc] += para / div;
            if anc == body {
                break;
            }
            anc = dom.nodes[anc].parent;
            level += 1;
        }
    }

    let mut cands: Vec<usize> = (body..end).filter(|&i| scored[i]).collect();
    for &c in &cands {
        score[c] *= 1.0 - st[c].link_density();
        // Teasers in a feed ("you may also like", news streams) are list
        // items; an article body is not inside one.
        if in_list_item(dom, c, body) {
            score[c] *= 0.5;
        }
    }
    cands.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let Some(&first) = cands.first() else {
        return Scored {
            score,
            roots: vec![body],
            ranked: Vec::new(),
        };
    };
    let mut top = first;
    let top_score = score[top];

    // Several strong candidates under one ancestor: the article is split
    // into blocks, take the ancestor (readability's alternative ancestors).
    let strong: Vec<usize> = cands
        .iter()
        .skip(1)
        .take(4)
        .copied()
        .filter(|&c| score[c] >= top_score * 0.75)
        .collect();
    if strong.len() >= 2 {
        let mut anc = dom.nodes[top].parent;
        while anc > body {
            let shared = strong.iter().filter(|&&c| dom.contains(anc, c)).count();
            if shared >= 2 {
                top = anc;
                break;
            }
            anc = dom.nodes[anc].parent;
        }
    }

    // Climb while the parent scores about as well (content split over
    // sibling blocks inside one wrapper).
    let mut last = score[top];
    let mut parent = dom.nodes[top].parent;
    while parent > body {
        if !scored[parent] {
            parent = dom.nodes[parent].parent;
            continue;
        }
        let ps = score[parent];
        if ps < last / 3.0 {
            break;
        }
        if ps > last {
            top = parent;
            break;
        }
        last = ps;
        parent = dom.nodes[parent].parent;
    }
    // A lone child wrapper adds nothing: use its parent so siblings such
    // as a lead image are not lost.
    while top > body
        && dom.nodes[dom.nodes[top].parent]
            .children
            .iter()
            .filter(|&&c| dom.elem(c).is_some())
            .count()
            == 1
    {
        top = dom.nodes[top].parent;
    }

    // Siblings that look like they belong to the article.
    let top_score = score[top];
    let threshold = (top_score * 0.2).max(10.0);
    let parent = dom.nodes[top].parent;
    let mut roots = Vec::new();
    if top == body || parent < body {
        roots.push(top);
    } else {
        let top_class = dom.elem(top).and_then(|e| e.attr("class")).unwrap_or("");
        for &sib in &dom.nodes[parent].children {
            if sib == top {
                roots.push(sib);
                continue;
            }
            let Some(e) = dom.elem(sib) else { continue };
            let mut bonus = 0.0;
            if !top_class.is_empty() && e.attr("class") == Some(top_class) {
                bonus += top_score * 0.2;
            }
            let s = &st[sib];
            let append = if scored[sib] && score[sib] + bonus >= threshold {
                true
            } else if e.tag == "p" {
                let ld = s.link_density();
                (s.chars > 80 && ld < 0.25)
                    || (s.chars > 0 && s.chars <= 80 && ld == 0.0 && s.punct > 0)
            } else {
                false
            };
            if append {
                roots.push(sib);
            }
        }
    }
    // An article split into sections under different wrappers (a pull
    // quote or figure between them) repeats its body container's class:
    // collect the other sections too.
    let top_class = dom
        .elem(top)
        .and_then(|e| e.attr("class"))
        .unwrap_or("")
        .trim();
    if !top_class.is_empty() {
        for &c in &cands {
            if dom.elem(c).and_then(|e| e.attr("class")).map(str::trim) == Some(top_class)
                && score[c] >= top_score * 0.2
                && st[c].link_density() < 0.3
                && !roots
                    .iter()
                    .any(|&r| dom.contains(r, c) || dom.contains(c, r))
            {
                roots.push(c);
            }
        }
        roots.sort_unstable();
    }
    cands.truncate(8);
    Scored {
        score,
        roots,
        ranked: cands,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: &str =
        "This sentence is long enough to be a paragraph, and it has commas, which count.";

    fn page(body: &str) -> Dom {
        Dom::parse(&format!("<html><body>{body}</body></html>"))
    }

    fn root_texts(dom: &Dom) -> Vec<String> {
        let st = compute_stats(dom);
        let body = dom.by_tag("body").next().unwrap();
        let s = choose(dom, &st, body);
        s.roots.iter().map(|&r| dom.text_of(r)).collect()
    }

    #[test]
    fn sections_sharing_the_body_class_are_all_kept() {
        let p = format!("<p>{SENT}</p>").repeat(4);
        let dom = page(&format!(
            "<div class=nav><a href=/>Home</a></div>\
             <div class=wrap1><div class='post-body'>{p}<p>First part ends.</p></div></div>\
             <div class=quote><blockquote>A pull quote</blockquote></div>\
             <div class=wrap2><div class='post-body'>{p}{p}<p>Second part ends.</p></div></div>"
        ));
        let roots = root_texts(&dom).join("|");
        assert!(roots.contains("First part ends."), "{roots}");
        assert!(roots.contains("Second part ends."), "{roots}");
        assert!(!roots.contains("Home"), "{roots}");
    }

    #[test]
    fn recommended_articles_do_not_outscore_a_short_article() {
        let p = format!("<p>{SENT}</p>");
        let many = p.repeat(8);
        let dom = page(&format!(
            "<div class=article-content>{p}{p}<p>The real article.</p></div>\
             <div class='content--recommend'>{many}</div>"
        ));
        let roots = root_texts(&dom).join("|");
        assert!(roots.contains("The real article."), "{roots}");
        assert!(!roots.contains(&SENT.repeat(5)), "{roots}");
    }

    #[test]
    fn short_lines_pool_into_a_paragraph() {
        let lines: String = (0..30)
            .map(|i| format!("<div>short line {i}</div>"))
            .collect();
        let dom = page(&format!(
            "<div class=side><p>{SENT}</p></div><div class=entry>{lines}</div>"
        ));
        let roots = root_texts(&dom).join("|");
        assert!(roots.contains("short line 29"), "{roots}");
    }
}
