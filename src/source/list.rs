//! HTML list pages: find the article links of the page's main repeated list.
//!
//! Real targets are government and association CMS pages (TRS WCM, Hanweb,
//! old ASP sites): one column list of `<li><a title>…</a><span>date</span></li>`
//! surrounded by navigation, a left menu, "热点排行" boxes, a pager and a
//! footer full of 友情链接. With `link_selector` the operator says where the
//! list is; without it we find it:
//!
//! 1. Every `a[href]` that could be an article is a *candidate*: http(s),
//!    on the page's site ([`crate::scope`]: registrable domain and port), not
//!    an attachment, not `javascript:`/`mailto:`, not the page
//!    itself, not a pager link (`下一页`, `index_1.html`, `?page=2`).
//! 2. Each candidate belongs to the nearest ancestor that *repeats*: an element
//!    with ≥ 3 same-tag children that contain candidates (the `ul` of `li`s,
//!    the `tbody` of `tr`s, the `div` of cards). That ancestor is the group's
//!    container, the child is the item. An item yields one link: its longest
//!    title (cards repeat the link on the image and on "阅读全文").
//! 3. Groups are scored by item count × title length (article titles are
//!    long, menu entries are 2–4 characters) × how article-like the URLs are
//!    (digits, dates) × how many items carry a date, raised when a pager
//!    sits right by the list (the page's own list is the one that pages),
//!    and heavily discounted inside header/nav/footer/aside or elements whose
//!    class/id says nav/menu/footer/sidebar/hot/rank/friend-links, under a
//!    heading such as 热点排行 / 推荐阅读, or when the "items" are page
//!    regions holding many links each.
//! 4. The best group wins, together with groups built the same way
//!    (same ancestor path: a list split into several `ul`s).
//!
//! Hanweb (大汉) column pages ship their list as CDATA records inside
//! `<script type="text/xml"><datastore>`, rendered by JavaScript; those records
//! are inlined as ordinary markup before parsing so the same rules apply.
//!
//! Dates next to a link (`2023-11-20`, `2023年11月20日`, `[11-20]`) become
//! `published_at` in Asia/Shanghai (+08:00); a date without a year takes it
//! from the article URL (`/2023-11/20/`, `t20231120_…`) or is left out.

mod hidden;

use super::{Entry, SourceError, canonicalize};
use crate::scope::SiteScope;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use ego_tree::NodeId;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use url::Url;

/// Article links on a list page: with `link_selector` when given, else found
/// automatically. Only links on the page's own site are returned.
// SourceError names the URL and the selector; it is built once per failed
// source, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse_list(
    html: &str,
    page_url: &Url,
    link_selector: Option<&str>,
) -> Result<Vec<Entry>, SourceError> {
    explain_list(html, page_url, link_selector).map(|(entries, _)| entries)
}

/// Which block of a list page its entries came from, and why: what
/// `autosync probe` shows a unit admin, so that a wrong pick is seen before
/// the site is registered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum ListChoice {
    /// The operator's `link_selector` chose the links.
    Selector { selector: String },
    /// Found automatically: the best-scoring repeated block (with blocks
    /// built the same way, `merged`), and the best one that lost.
    Detected {
        block: Block,
        merged: usize,
        runner_up: Option<Block>,
    },
    /// No repeated block scored as an article list (the best is shown).
    NothingListLike { best: Option<Block> },
}

/// One repeated block of links, as the detector judged it (module docs,
/// step 3).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Block {
    /// Tag, id and class path from the root (`div#.right>ul#.list`).
    pub path: String,
    pub items: usize,
    /// Items with a date beside the link.
    pub dated: usize,
    /// Items whose URL looks like an article (digits, a date in the path).
    pub article_urls: usize,
    /// Average title length in characters (menus: 2–4, articles: 12+).
    pub avg_title_chars: f64,
    /// A pager sits right by it (the page's own list is the one that pages).
    pub next_to_pager: bool,
    /// Inside header/nav/footer/aside or furniture named so (discounted).
    pub furniture: bool,
    /// Under a side box heading such as 热点排行 (discounted).
    pub side_heading: bool,
    pub score: f64,
}

/// [`parse_list`], and which block the entries came from.
// SourceError names the URL and the selector; it is built once per failed
// source, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn explain_list(
    html: &str,
    page_url: &Url,
    link_selector: Option<&str>,
) -> Result<(Vec<Entry>, ListChoice), SourceError> {
    let html = inline_datastores(html);
    // Through the linear parser's caps first: html5ever is not linear.
    let doc = Html::parse_document(&crate::extract::tame::for_html5ever(&html));
    let ctx = Ctx::new(&doc, page_url);
    let (selected, choice): (Vec<Candidate>, ListChoice) = match link_selector {
        Some(sel) => {
            let selector = Selector::parse(sel).map_err(|e| SourceError::BadSelector {
                url: page_url.clone(),
                selector: sel.to_string(),
                reason: e.to_string(),
            })?;
            let anchors = doc.select(&selector).flat_map(|el| {
                if el.value().name() == "a" {
                    vec![el]
                } else {
                    el.select(&A_HREF).collect()
                }
            });
            let cands = candidates(anchors, &ctx);
            let tree = Tree::new(&cands);
            // The operator chose the links; grouping only serves to find
            // each link's item, for its date.
            let picked = cands
                .into_iter()
                .map(|c| {
                    let item = tree.container_of(c.anchor).map(|(_, item)| item);
                    c.with_item(item)
                })
                .collect();
            let choice = ListChoice::Selector {
                selector: sel.to_string(),
            };
            (picked, choice)
        }
        None => auto_detect(&doc, &ctx),
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in selected {
        if !seen.insert(c.url.clone()) {
            continue;
        }
        let published_at = c
            .date
            .as_ref()
            .and_then(|d| d.resolve(&c.url))
            .and_then(to_shanghai);
        out.push(Entry {
            url: c.url,
            guid: None,
            title: Some(c.title).filter(|t| !t.is_empty()),
            published_at,
            author: None,
            content_html: None,
            summary: None,
            from_feed: false,
        });
    }
    Ok((out, choice))
}

static A_HREF: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("a[href]").expect("static selector"));
static BASE_HREF: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("base[href]").expect("static selector"));

/// What every candidate is judged against.
struct Ctx {
    /// `<base href>` if any, else the page URL: what relative hrefs resolve against.
    base: Url,
    /// The page URL with `index.*` and paging parameters normalised away.
    page_key: String,
    /// The page's own site: links elsewhere are not the list's articles.
    site: SiteScope,
}

impl Ctx {
    fn new(doc: &Html, page_url: &Url) -> Self {
        let base = base_of(doc, page_url);
        let page = canonicalize(page_url);
        Ctx {
            base,
            page_key: page_key(&page),
            site: SiteScope::of_url(&page),
        }
    }
}

/// What a page's relative hrefs resolve against: its `<base href>` if any,
/// else its own URL.
pub(crate) fn base_of(doc: &Html, page_url: &Url) -> Url {
    doc.select(&BASE_HREF)
        .next()
        .and_then(|b| b.attr("href"))
        .and_then(|h| page_url.join(h.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| page_url.clone())
}

/// One link that may be an article.
#[derive(Clone)]
struct Candidate<'a> {
    anchor: ElementRef<'a>,
    url: Url,
    title: String,
    date: Option<ListDate>,
}

impl<'a> Candidate<'a> {
    fn with_item(mut self, item: Option<ElementRef<'a>>) -> Self {
        let text = match item {
            Some(item) if item.id() != self.anchor.id() => text_outside_anchors(item),
            // The anchor is its own item (`<a>…</a> 2023-11-20<br>`): the
            // date follows it.
            _ => text_after(self.anchor),
        };
        self.date = find_date(&text)
            // `<a><span>title</span><span>2023-11-20</span></a>`
            .or(self.date)
            // `<dt><a>title</a></dt><dd>2023-11-20</dd>`: the date is the
            // item's short, link-free next sibling.
            .or_else(|| {
                let item = item.filter(|i| i.id() != self.anchor.id())?;
                let next = item.next_siblings().find_map(ElementRef::wrap)?;
                if next.select(&A_HREF).next().is_some() {
                    return None;
                }
                let t = collapse(&next.text().collect::<String>());
                (t.chars().count() <= 30).then(|| find_date(&t)).flatten()
            });
        self
    }
}

/// Filter the anchors down to candidates, in document order.
fn candidates<'a>(anchors: impl Iterator<Item = ElementRef<'a>>, ctx: &Ctx) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    let mut seen_nodes = HashSet::new();
    for a in anchors {
        if !seen_nodes.insert(a.id()) {
            continue;
        }
        let Some(href) = a.attr("href").map(str::trim) else {
            continue;
        };
        let lower = href.to_ascii_lowercase();
        if href.is_empty()
            || href.starts_with('#')
            || ["javascript:", "mailto:", "tel:", "data:", "about:"]
                .iter()
                .any(|p| lower.starts_with(p))
        {
            continue;
        }
        let Ok(url) = ctx.base.join(href) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        let url = canonicalize(&url);
        if !ctx.site.allows(&url) || is_attachment(&url) {
            continue;
        }
        let (text, anchor_date) = anchor_text(a);
        if is_pager_text(&text) || is_pager_url(&url) || page_key(&url) == ctx.page_key {
            continue;
        }
        out.push(Candidate {
            anchor: a,
            url,
            title: title_of(a, &text),
            date: anchor_date,
        });
    }
    out
}

/// The anchor's text without date-only pieces (`<span>2023-11-20</span>`
/// inside the link), and the date those pieces held.
fn anchor_text(a: ElementRef) -> (String, Option<ListDate>) {
    static DATE_ONLY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^[\[(（【]?\s*(?:(?:19|20)\d{2}\s*[-/.年]\s*)?\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*[\])）】]?$",
        )
        .expect("static regex")
    });
    let mut text = String::new();
    let mut date = None;
    for piece in a.text() {
        let trimmed = piece.trim();
        if DATE_ONLY.is_match(trimmed) {
            date = date.or_else(|| find_date(trimmed));
        } else {
            text.push_str(piece);
        }
    }
    (collapse(&text), date)
}

/// The visible title, or the `title` attribute when the text is cut short
/// ("关于…的...") or empty, or an image's alt text.
fn title_of(a: ElementRef, text: &str) -> String {
    let attr = a.attr("title").map(collapse).unwrap_or_default();
    let truncated = text.ends_with("...") || text.ends_with('…') || text.ends_with("..");
    if !attr.is_empty()
        && (text.is_empty() || truncated || attr.chars().count() > text.chars().count())
    {
        return attr;
    }
    if !text.is_empty() {
        return text.to_string();
    }
    a.descendent_elements()
        .filter(|e| e.value().name() == "img")
        .find_map(|img| img.attr("alt").map(collapse).filter(|s| !s.is_empty()))
        .unwrap_or_default()
}

/// Where candidates sit in the tree: how many are under each element.
struct Tree {
    under: HashMap<NodeId, usize>,
}

impl Tree {
    fn new(cands: &[Candidate]) -> Self {
        let mut under = HashMap::new();
        for c in cands {
            *under.entry(c.anchor.id()).or_insert(0) += 1;
            for anc in c.anchor.ancestors() {
                *under.entry(anc.id()).or_insert(0) += 1;
            }
        }
        Tree { under }
    }

    fn has(&self, id: NodeId) -> bool {
        self.under.get(&id).is_some_and(|n| *n > 0)
    }

    /// The nearest ancestor of `a` with ≥ 3 same-tag children holding
    /// candidates (the container), and the child of it on the way to `a`
    /// (the item).
    fn container_of<'a>(&self, a: ElementRef<'a>) -> Option<(ElementRef<'a>, ElementRef<'a>)> {
        self.container_with(a, 3)
    }

    /// [`Tree::container_of`] with `min` same-tag children.
    fn container_with<'a>(
        &self,
        a: ElementRef<'a>,
        min: usize,
    ) -> Option<(ElementRef<'a>, ElementRef<'a>)> {
        let mut child = a;
        while let Some(parent) = child.parent().and_then(ElementRef::wrap) {
            let tag = child.value().name();
            let repeats = parent
                .child_elements()
                .filter(|c| c.value().name() == tag && self.has(c.id()))
                .count();
            if repeats >= min {
                return Some((parent, child));
            }
            child = parent;
        }
        None
    }
}

/// Items of one container.
struct Group<'a> {
    container: ElementRef<'a>,
    /// One candidate per item, in document order.
    items: Vec<Candidate<'a>>,
    score: f64,
}

fn auto_detect<'a>(doc: &'a Html, ctx: &Ctx) -> (Vec<Candidate<'a>>, ListChoice) {
    // What the page hides is no list a reader sees (see `hidden`).
    let hidden = hidden::hidden_elements(doc);
    let cands: Vec<Candidate<'a>> = candidates(doc.select(&A_HREF), ctx)
        .into_iter()
        .filter(|c| !hidden::is_hidden(c.anchor, &hidden))
        .collect();
    let tree = Tree::new(&cands);

    // container → (item → best candidate of the item)
    let mut groups: Vec<(ElementRef<'a>, Vec<(NodeId, Candidate<'a>)>)> = Vec::new();
    let mut group_index: HashMap<NodeId, usize> = HashMap::new();
    for c in cands {
        // A link that repeats nowhere is no list's member; two in a row
        // can be a short list that is the page's content (a column with
        // two notices), scored like any other.
        let Some((container, item)) = tree
            .container_of(c.anchor)
            .or_else(|| tree.container_with(c.anchor, 2))
        else {
            continue;
        };
        let gi = *group_index.entry(container.id()).or_insert_with(|| {
            groups.push((container, Vec::new()));
            groups.len() - 1
        });
        let items = &mut groups[gi].1;
        match items.iter_mut().find(|(id, _)| *id == item.id()) {
            Some((_, best)) => {
                if c.title.chars().count() > best.title.chars().count() {
                    *best = c.with_item(Some(item));
                }
            }
            None => items.push((item.id(), c.with_item(Some(item)))),
        }
    }

    let mut scored: Vec<Group<'a>> = groups
        .into_iter()
        .map(|(container, items)| {
            let item_ids: Vec<NodeId> = items.iter().map(|(id, _)| *id).collect();
            let mut seen = HashSet::new();
            let items: Vec<Candidate> = items
                .into_iter()
                .map(|(_, c)| c)
                .filter(|c| seen.insert(c.url.clone()))
                .collect();
            let links_per_item = item_ids
                .iter()
                .map(|id| tree.under.get(id).copied().unwrap_or(0))
                .sum::<usize>() as f64
                / item_ids.len().max(1) as f64;
            let score = score(container, &items, links_per_item, &tree);
            Group {
                container,
                items,
                score,
            }
        })
        .collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    for g in &scored {
        tracing::trace!(
            container = %signature(g.container),
            items = g.items.len(),
            score = g.score,
            "list group"
        );
    }
    let Some(best) = scored.first() else {
        return (Vec::new(), ListChoice::NothingListLike { best: None });
    };
    if best.score < MIN_SCORE {
        let best = Some(block_of(best, &tree));
        return (Vec::new(), ListChoice::NothingListLike { best });
    }
    let best_sig = signature(best.container);
    let best_tag = best.container.value().name().to_string();
    let best_score = best.score;
    let same = |i: usize, g: &Group| {
        i == 0 || (g.score >= best_score * 0.3 && signature(g.container) == best_sig)
    };
    let block = block_of(best, &tree);
    let merged = scored
        .iter()
        .enumerate()
        .filter(|(i, g)| same(*i, g))
        .count()
        - 1;
    let runner_up = scored
        .iter()
        .enumerate()
        .find(|(i, g)| !same(*i, g))
        .map(|(_, g)| block_of(g, &tree));
    let choice = ListChoice::Detected {
        block,
        merged,
        runner_up,
    };
    let mut picked: Vec<Candidate<'a>> = Vec::new();
    for (i, g) in scored.into_iter().enumerate() {
        if same(i, &g) {
            picked.extend(g.items);
            continue;
        }
        // Broken markup can cut a list apart (a stray `<table>` ends the
        // table after its first row, which then sits alone in a table of
        // its own): a link of another group whose ancestor is built
        // exactly like the winning container belongs to the list.
        picked.extend(g.items.into_iter().filter(|c| {
            c.anchor
                .ancestors()
                .filter_map(ElementRef::wrap)
                .take(8)
                .any(|a| a.value().name() == best_tag && signature(a) == best_sig)
        }));
    }
    // Page order: document order of the anchors.
    let order: HashMap<NodeId, usize> = doc
        .root_element()
        .descendent_elements()
        .enumerate()
        .map(|(i, e)| (e.id(), i))
        .collect();
    picked.sort_by_key(|c| order.get(&c.anchor.id()).copied().unwrap_or(usize::MAX));
    (picked, choice)
}

/// A scored group as [`ListChoice`] shows it: the factors of [`score`].
fn block_of(g: &Group, tree: &Tree) -> Block {
    let n = g.items.len();
    Block {
        path: signature(g.container),
        items: n,
        dated: g.items.iter().filter(|c| c.date.is_some()).count(),
        article_urls: g.items.iter().filter(|c| article_like(&c.url)).count(),
        avg_title_chars: g
            .items
            .iter()
            .map(|c| c.title.chars().count() as f64)
            .sum::<f64>()
            / n.max(1) as f64,
        next_to_pager: next_to_pager(g.container, tree),
        furniture: in_boilerplate(g.container),
        side_heading: under_side_heading(g.container),
        score: g.score,
    }
}

/// Below this the best group is no article list (a menu, a pager, a lone
/// banner): an empty result is more honest than a guess.
const MIN_SCORE: f64 = 1.0;

/// `links_per_item`: candidate anchors per item; a list item holds one to
/// three (title, image, "阅读全文"), a layout block (header, footer, column)
/// holds many.
fn score(container: ElementRef, items: &[Candidate], links_per_item: f64, tree: &Tree) -> f64 {
    if items.is_empty() {
        return 0.0;
    }
    let n = items.len() as f64;
    let avg_title = items
        .iter()
        .map(|c| c.title.chars().count().min(30) as f64)
        .sum::<f64>()
        / n;
    // 2–4 character menu entries score near nothing, 12+ characters fully.
    let title_factor = ((avg_title - 2.0) / 10.0).clamp(0.05, 1.0);
    let article_frac = items.iter().filter(|c| article_like(&c.url)).count() as f64 / n;
    let date_frac = items.iter().filter(|c| c.date.is_some()).count() as f64 / n;
    let mut s = n * title_factor * (0.3 + article_frac) * (1.0 + date_frac);
    if links_per_item > 4.0 {
        s *= 0.2;
    }
    // Children of <body> are page regions, not list items.
    if matches!(container.value().name(), "body" | "html") {
        s *= 0.3;
    }
    if next_to_pager(container, tree) {
        s *= 1.5;
    }
    if in_boilerplate(container) {
        s *= 0.1;
    }
    if under_side_heading(container) {
        s *= 0.1;
    }
    s
}

/// Whether a pager sits right by the container: the page's own list is the
/// one that pages. "Right by": within two ancestor levels that hold few
/// other candidate links (not a wrapper around sidebar and list alike).
fn next_to_pager(container: ElementRef, tree: &Tree) -> bool {
    const PAGER_MARKS: &[&str] = &[
        "下一页",
        "尾页",
        "末页",
        "页次",
        "createPageHTML",
        "共有",
        "条记录",
    ];
    let own = tree.under.get(&container.id()).copied().unwrap_or(0);
    container
        .ancestors()
        .filter_map(ElementRef::wrap)
        .take(2)
        .take_while(|anc| tree.under.get(&anc.id()).copied().unwrap_or(0) <= own + 5)
        .any(|anc| {
            let text: String = anc.text().collect();
            PAGER_MARKS.iter().any(|m| text.contains(m))
        })
}

/// Tag and class/id path from the root: groups built the same way share it.
fn signature(el: ElementRef) -> String {
    let mut parts: Vec<String> = std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .map(|e| {
            let v = e.value();
            format!(
                "{}#{}.{}",
                v.name(),
                v.id().unwrap_or(""),
                v.attr("class").unwrap_or("").trim()
            )
        })
        .collect();
    parts.reverse();
    parts.join(">")
}

/// Class/id fragments of page furniture. Matched against the start or end of
/// each class/id token, so `leftnav`, `hotnews`, `friendlinks` hit while
/// `photo` (not `hot`) and `headline` (not `header`) do not.
const FURNITURE: &[&str] = &[
    "nav",
    "menu",
    "header",
    "foot",
    "sidebar",
    "aside",
    "rank",
    "hot",
    "friend",
    "links",
    "crumb",
    "banner",
    "copyright",
    "bottom",
    "share",
    "yqlj",
    "rdph",
    "djph",
    "phb",
    "xglj",
];

/// Only at the start of a token: `sidebox`, `side-list`, but not
/// `rightside`, which some CMS templates use for the main column.
const FURNITURE_PREFIX: &[&str] = &["side"];

/// Whether the container sits in header/nav/footer/aside or in an element
/// named like page furniture (within a few levels: outer wrappers say little).
fn in_boilerplate(container: ElementRef) -> bool {
    std::iter::once(container)
        .chain(container.ancestors().filter_map(ElementRef::wrap))
        .take(6)
        .any(|e| {
            let v = e.value();
            if matches!(v.name(), "header" | "footer" | "nav" | "aside") {
                return true;
            }
            [v.id(), v.attr("class")]
                .into_iter()
                .flatten()
                .flat_map(|s| s.split(|c: char| !c.is_ascii_alphanumeric()))
                .filter(|t| !t.is_empty())
                .map(str::to_ascii_lowercase)
                .any(|t| {
                    FURNITURE.iter().any(|k| t.starts_with(k) || t.ends_with(k))
                        || FURNITURE_PREFIX.iter().any(|k| t.starts_with(k))
                })
        })
}

/// Box titles of lists that are not the page's own list.
const SIDE_HEADINGS: &[&str] = &[
    "热点",
    "排行",
    "热门",
    "友情链接",
    "相关链接",
    "推荐阅读",
    "相关文章",
    "相关新闻",
    "精彩推荐",
    "猜你喜欢",
    "最新更新",
    "最新发布",
    "最新文章",
];

/// Whether a short heading just before the container (or one of its near
/// ancestors) names a side box ("热点排行", "推荐阅读"…).
fn under_side_heading(container: ElementRef) -> bool {
    std::iter::once(container)
        .chain(container.ancestors().filter_map(ElementRef::wrap))
        .take(3)
        .any(|e| {
            e.prev_siblings()
                .filter_map(ElementRef::wrap)
                .take(2)
                .any(|sib| {
                    let t = collapse(&sib.text().collect::<String>());
                    t.chars().count() <= 20 && SIDE_HEADINGS.iter().any(|k| t.contains(k))
                })
        })
}

/// URLs that look like article pages: a numeric file name, a date in the
/// path, or an id-like query parameter.
fn article_like(url: &Url) -> bool {
    static DIGITS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d{3,}").expect("static regex"));
    static DATE_PATH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"/(19|20)\d{2}[-/_]?\d{2}").expect("static regex"));
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    if DIGITS.is_match(last) || DATE_PATH.is_match(url.path()) {
        return true;
    }
    url.query_pairs().any(|(k, v)| {
        k.to_ascii_lowercase().ends_with("id") && v.chars().any(|c| c.is_ascii_digit())
    })
}

// ------------------------------------------------------------ link filters

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_attachment(url: &Url) -> bool {
    const EXT: &[&str] = &[
        "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "wps", "et", "dps", "ofd", "txt",
        "rtf", "csv", "zip", "rar", "7z", "gz", "tar", "jpg", "jpeg", "png", "gif", "bmp", "webp",
        "tif", "tiff", "svg", "mp3", "mp4", "avi", "wmv", "flv", "mov", "apk", "exe", "msi", "iso",
        "xml",
    ];
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    last.rsplit_once('.')
        .is_some_and(|(_, ext)| EXT.contains(&ext.to_ascii_lowercase().as_str()))
}

fn is_pager_text(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "下一页",
        "上一页",
        "首页",
        "尾页",
        "末页",
        "前一页",
        "后一页",
        "上页",
        "下页",
        "最后一页",
        "第一页",
        "下一页 »",
        "« 上一页",
        "next",
        "prev",
        "previous",
        "last",
        "first",
        ">",
        "<",
        ">>",
        "<<",
        "»",
        "«",
        "›",
        "‹",
        "...",
        "…",
    ];
    let t = text.trim().to_ascii_lowercase();
    WORDS.contains(&t.as_str())
        || t.trim_end_matches(['»', '>', ' '])
            .trim_start_matches(['«', '<', ' '])
            .pipe(|core| ["下一页", "上一页", "next", "prev"].contains(&core))
        || (!t.is_empty() && t.len() <= 4 && t.chars().all(|c| c.is_ascii_digit()))
        || (t.starts_with('[')
            && t.ends_with(']')
            && t[1..t.len() - 1].chars().all(|c| c.is_ascii_digit()))
}

/// Pager files: `index_1.html`, `list_2.shtml`, `node_12_3.htm`.
fn is_pager_url(url: &Url) -> bool {
    static PAGER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(index|list|default|more|node_\d+)_\d+\.[a-z]+$").expect("static regex")
    });
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    PAGER.is_match(&last.to_ascii_lowercase())
}

/// Query keys that only page through a list.
const PAGING_KEYS: &[&str] = &[
    "page",
    "pageno",
    "pagenum",
    "pageindex",
    "pagesize",
    "p",
    "pn",
    "pg",
    "curpage",
    "currentpage",
    "cur_page",
    "start",
    "offset",
];

/// The page with `index.*` file names and paging parameters removed: links
/// with the same key are the list itself or another page of it.
fn page_key(url: &Url) -> String {
    let path = url.path();
    let path = match path.rsplit_once('/') {
        Some((dir, file))
            if ["index.", "default."]
                .iter()
                .any(|p| file.to_ascii_lowercase().starts_with(p)) =>
        {
            format!("{dir}/")
        }
        _ => path.to_string(),
    };
    let query: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| !PAGING_KEYS.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{}://{}{}?{}",
        url.scheme(),
        url.host_str().unwrap_or("").trim_start_matches("www."),
        path,
        query.join("&")
    )
}

/// Replace Hanweb `<script type="text/xml">…<record><![CDATA[<li>…</li>]]>
/// </record>…</script>` blocks by their records' markup, so list items that
/// a browser would render via JavaScript are visible to the parser.
fn inline_datastores(html: &str) -> std::borrow::Cow<'_, str> {
    static SCRIPT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?is)<script[^>]*type\s*=\s*["']?text/xml["']?[^>]*>(.*?)</script>"#)
            .expect("static regex")
    });
    static CDATA: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)<!\[CDATA\[(.*?)\]\]>").expect("static regex"));
    if !html.contains("<datastore") && !html.contains("<record") {
        return std::borrow::Cow::Borrowed(html);
    }
    SCRIPT.replace_all(html, |cap: &regex::Captures| {
        let body = cap.get(1).map_or("", |m| m.as_str());
        if !body.contains("<record") {
            return cap[0].to_string();
        }
        let records: String = CDATA
            .captures_iter(body)
            .filter_map(|c| c.get(1).map(|m| m.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        format!("<div class=\"datastore\">{records}</div>")
    })
}

/// Tiny helper so the pager test reads left to right.
trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

// ------------------------------------------------------------------ dates

/// A date seen next to a link; the year may be missing (`[11-20]`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct ListDate {
    year: Option<i32>,
    month: u32,
    day: u32,
    time: Option<(u32, u32, u32)>,
}

impl ListDate {
    /// The full date; a missing year is taken from the article URL.
    fn resolve(&self, url: &Url) -> Option<chrono::NaiveDateTime> {
        let year = self.year.or_else(|| year_in_url(url))?;
        let date = NaiveDate::from_ymd_opt(year, self.month, self.day)?;
        let (h, m, s) = self.time.unwrap_or((0, 0, 0));
        date.and_hms_opt(h, m, s)
    }
}

fn to_shanghai(dt: chrono::NaiveDateTime) -> Option<DateTime<FixedOffset>> {
    FixedOffset::east_opt(8 * 3600)?
        .from_local_datetime(&dt)
        .single()
}

/// The first plausible date in `text`.
fn find_date(text: &str) -> Option<ListDate> {
    static FULL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?:^|\D)((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?",
        )
        .expect("static regex")
    });
    static SHORT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:^|[^\d\-/.])(\d{1,2})\s*[-/月]\s*(\d{1,2})(?:\s*日)?(?:$|[^\d\-/.])")
            .expect("static regex")
    });
    for cap in FULL.captures_iter(text) {
        let num = |i: usize| cap.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let (Some(y), Some(m), Some(d)) = (num(1), num(2), num(3)) else {
            continue;
        };
        if NaiveDate::from_ymd_opt(y as i32, m, d).is_none() {
            continue;
        }
        let time = match (num(4), num(5)) {
            (Some(h), Some(mi)) if h < 24 && mi < 60 => Some((h, mi, num(6).unwrap_or(0).min(59))),
            _ => None,
        };
        return Some(ListDate {
            year: Some(y as i32),
            month: m,
            day: d,
            time,
        });
    }
    for cap in SHORT.captures_iter(text) {
        let num = |i: usize| cap.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let (Some(m), Some(d)) = (num(1), num(2)) else {
            continue;
        };
        // Leap day checked against a leap year: the real year comes later.
        if NaiveDate::from_ymd_opt(2024, m, d).is_some() {
            return Some(ListDate {
                year: None,
                month: m,
                day: d,
                time: None,
            });
        }
    }
    None
}

/// The year of a date in an article URL (`/2023-11/20/`, `t20231120_1`,
/// `/art/2023/11/20/`, `/202311/`).
fn year_in_url(url: &Url) -> Option<i32> {
    static YEAR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:^|\D)((?:19|20)\d{2})(?:[-/_]?(?:0[1-9]|1[0-2]))").expect("static regex")
    });
    YEAR.captures(url.path())
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
}

/// Text of `el` outside any `<a>`: the date column, not the title.
fn text_outside_anchors(el: ElementRef) -> String {
    let mut out = String::new();
    for node in el.descendants() {
        if let Node::Text(t) = node.value() {
            let in_anchor = node
                .ancestors()
                .take_while(|n| n.id() != el.id())
                .any(|n| matches!(n.value(), Node::Element(e) if e.name() == "a"));
            if !in_anchor {
                out.push_str(t);
                out.push(' ');
            }
        }
    }
    out
}

/// Text after `a` up to the next link (`<a>…</a> (2023-11-20)<br>`).
fn text_after(a: ElementRef) -> String {
    let mut out = String::new();
    for sib in a.next_siblings() {
        match sib.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) if e.name() == "a" => break,
            Node::Element(_) => {
                if let Some(el) = ElementRef::wrap(sib) {
                    if el.select(&A_HREF).next().is_some() {
                        break;
                    }
                    out.extend(el.text());
                }
            }
            _ => {}
        }
        out.push(' ');
        if out.len() > 200 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).expect("test url")
    }

    #[test]
    fn dates_in_list_formats() {
        let d = |y, m, dd| {
            Some(ListDate {
                year: y,
                month: m,
                day: dd,
                time: None,
            })
        };
        assert_eq!(find_date(" 2023-11-20 "), d(Some(2023), 11, 20));
        assert_eq!(find_date("2023年11月2日"), d(Some(2023), 11, 2));
        assert_eq!(find_date("(2023/1/5)"), d(Some(2023), 1, 5));
        assert_eq!(find_date("[11-20]"), d(None, 11, 20));
        assert_eq!(find_date("11月20日"), d(None, 11, 20));
        assert_eq!(find_date("2023-13-01"), None, "no month 13");
        assert_eq!(find_date("阅读 1234 次"), None);
        assert_eq!(
            find_date("2023-11-20 09:30").and_then(|d| d.time),
            Some((9, 30, 0))
        );
    }

    #[test]
    fn year_for_short_dates_comes_from_the_url() {
        assert_eq!(
            year_in_url(&u("http://a.cn/2023-11/20/content_1.htm")),
            Some(2023)
        );
        assert_eq!(
            year_in_url(&u("http://a.cn/xw/202311/t20231120_1.html")),
            Some(2023)
        );
        assert_eq!(
            year_in_url(&u("http://a.cn/art/2022/11/20/art_1_2.html")),
            Some(2022)
        );
        assert_eq!(year_in_url(&u("http://a.cn/news/123.html")), None);
    }

    #[test]
    fn links_off_the_pages_registrable_domain_or_port_are_dropped() {
        let items = |hosts: &[&str]| -> String {
            hosts
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    format!(
                        r#"<li><a href="http://{h}/202311/t2023112{i}_{i}.html">第{i}条文章的标题比较长一些</a> 2023-11-2{i}</li>"#
                    )
                })
                .collect()
        };
        let html = format!(
            "<html><body><ul>{}</ul></body></html>",
            items(&[
                "news.www.gov.cn",
                "other.gov.cn",
                "www.gov.cn",
                "gov.cn",
                "www.gov.cn:8080",
                "kx.sh.gov.cn"
            ])
        );
        let got: Vec<String> = parse_list(&html, &u("http://www.gov.cn/xw/"), None)
            .expect("parses")
            .iter()
            .map(|e| {
                e.url.host_str().unwrap_or("").to_string()
                    + &e.url.port().map(|p| format!(":{p}")).unwrap_or_default()
            })
            .collect();
        assert_eq!(got, ["news.www.gov.cn", "www.gov.cn", "gov.cn"]);
        let html = format!(
            "<html><body><ul>{}</ul></body></html>",
            items(&[
                "news.cast.org.cn",
                "www.hbkx.org.cn",
                "cast.org.cn",
                "www.cast.org.cn"
            ])
        );
        let got: Vec<String> = parse_list(&html, &u("http://www.cast.org.cn/xw/"), None)
            .expect("parses")
            .iter()
            .map(|e| e.url.host_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(got, ["news.cast.org.cn", "cast.org.cn", "www.cast.org.cn"]);
    }

    #[test]
    fn attachments_and_pagers() {
        assert!(is_attachment(&u("http://a.cn/x/P020231110.PDF")));
        assert!(is_attachment(&u("http://a.cn/x/a.docx")));
        assert!(!is_attachment(&u("http://a.cn/x/t20231110_1.shtml")));
        assert!(is_pager_url(&u("http://a.cn/x/index_2.shtml")));
        assert!(is_pager_url(&u("http://a.cn/kpdt/node_12_3.htm")));
        assert!(!is_pager_url(&u("http://a.cn/x/t20231110_2.html")));
        assert!(is_pager_text("下一页"));
        assert!(is_pager_text("下一页 »"));
        assert!(is_pager_text("3"));
        assert!(!is_pager_text("2023年工作要点"));
    }

    #[test]
    fn page_key_ignores_index_file_and_paging_params() {
        assert_eq!(
            page_key(&u("http://www.a.cn/xw/index.shtml")),
            page_key(&u("http://a.cn/xw/"))
        );
        assert_eq!(
            page_key(&u("http://a.cn/news.asp?classid=5&page=2")),
            page_key(&u("http://a.cn/news.asp?classid=5"))
        );
        assert_ne!(
            page_key(&u("http://a.cn/news.asp?classid=6")),
            page_key(&u("http://a.cn/news.asp?classid=5"))
        );
    }

    #[test]
    fn article_like_urls() {
        for s in [
            "http://a.cn/xw/202311/t20231120_123.html",
            "http://a.cn/2023-11/20/content_123.htm",
            "http://a.cn/art/2023/11/20/art_123_456.html",
            "http://a.cn/news/123.html",
            "http://a.cn/shownews.asp?id=12",
        ] {
            assert!(article_like(&u(s)), "{s}");
        }
        for s in [
            "http://a.cn/xwzx/",
            "http://a.cn/col/col12/index.html",
            "http://a.cn/about.asp",
        ] {
            assert!(!article_like(&u(s)), "{s}");
        }
    }

    #[test]
    fn anchors_directly_in_a_cell_with_dates_after_them() {
        let html = r#"<html><body><div class="nav"><a href="/">首页</a></div>
            <td class="list">
              <a href="/n/1001.html">第一条文章的标题比较长</a> (2023-11-20)<br>
              <a href="/n/1002.html">第二条文章的标题比较长</a> (2023-11-19)<br>
              <a href="/n/1003.html">第三条文章的标题比较长</a> (2023-11-18)<br>
            </td></body></html>"#;
        let entries = parse_list(html, &u("http://a.cn/n/"), None).expect("parses");
        let got: Vec<_> = entries.iter().map(|e| e.url.path().to_string()).collect();
        assert_eq!(got, ["/n/1001.html", "/n/1002.html", "/n/1003.html"]);
        assert_eq!(
            entries[1].published_at.map(|d| d.to_rfc3339()),
            Some("2023-11-19T00:00:00+08:00".into())
        );
    }

    #[test]
    fn date_inside_the_anchor_is_not_part_of_the_title() {
        let html = r#"<html><body><ul class="news">
            <li><a href="/n/1001.html"><span class="t">第一条文章的标题比较长</span><span class="d">2023-11-20</span></a></li>
            <li><a href="/n/1002.html"><span class="t">第二条文章的标题比较长</span><span class="d">2023-11-19</span></a></li>
            <li><a href="/n/1003.html"><span class="t">第三条文章的标题比较长</span><span class="d">[11-18]</span></a></li>
            </ul></body></html>"#;
        let entries = parse_list(html, &u("http://a.cn/n/"), None).expect("parses");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].title.as_deref(), Some("第一条文章的标题比较长"));
        assert_eq!(
            entries[0].published_at.map(|d| d.to_rfc3339()),
            Some("2023-11-20T00:00:00+08:00".into())
        );
        // No year anywhere (not in the URL either): no date rather than a guess.
        assert_eq!(entries[2].published_at, None);
    }

    #[test]
    fn definition_list_dates_in_the_next_sibling() {
        let html = r#"<html><body><dl class="list">
            <dt><a href="/a/2023/11/20/art_1_101.html">关于开展科技周活动的通知公告</a></dt><dd>2023-11-20</dd>
            <dt><a href="/a/2023/11/19/art_1_102.html">关于评选优秀科技论文的通知公告</a></dt><dd>2023-11-19</dd>
            <dt><a href="/a/2023/11/18/art_1_103.html">关于学会年检工作安排的通知公告</a></dt><dd>2023-11-18</dd>
            </dl></body></html>"#;
        let entries =
            parse_list(html, &u("http://a.cn/col/col1/index.html"), None).expect("parses");
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[2].published_at.map(|d| d.to_rfc3339()),
            Some("2023-11-18T00:00:00+08:00".into())
        );
    }

    #[test]
    fn base_href_is_honoured_and_off_site_base_links_dropped() {
        let html = r#"<html><head><base href="http://www.a.cn/xwzx/"></head><body><ul>
            <li><a href="202311/t20231120_1.html">第一条文章的标题比较长</a> 2023-11-20</li>
            <li><a href="202311/t20231119_2.html">第二条文章的标题比较长</a> 2023-11-19</li>
            <li><a href="http://www.b.cn/202311/t20231118_3.html">外站文章的标题比较长</a> 2023-11-18</li>
            <li><a href="202311/t20231117_4.html">第四条文章的标题比较长</a> 2023-11-17</li>
            </ul></body></html>"#;
        let entries =
            parse_list(html, &u("http://www.a.cn/cms/list.jsp?cat=3"), None).expect("parses");
        let got: Vec<_> = entries.iter().map(|e| e.url.to_string()).collect();
        assert_eq!(
            got,
            [
                "http://www.a.cn/xwzx/202311/t20231120_1.html",
                "http://www.a.cn/xwzx/202311/t20231119_2.html",
                "http://www.a.cn/xwzx/202311/t20231117_4.html",
            ]
        );
    }

    #[test]
    fn dated_sidebar_does_not_beat_the_undated_paged_main_list() {
        let main: String = (1..=10)
            .map(|i| format!(r#"<li><a href="/xw/202311/t2023111{}_{i}00.html">本站栏目第{i}篇文章的完整标题</a></li>"#, i % 10))
            .collect();
        let side: String = (1..=8)
            .map(|i| format!(r#"<li><a href="/tz/202311/t2023110{}_{i}50.html">侧栏第{i}篇文章的完整标题</a><span>2023-11-0{i}</span></li>"#, i % 10))
            .collect();
        let html = format!(
            r#"<html><body><div class="w"><div class="col-l"><div class="lm"><h3>工作动态</h3><ul>{main}</ul></div>
            <div class="fy"><a href="index_1.html">下一页</a><a href="index_9.html">尾页</a></div></div>
            <div class="col-r"><div class="r-box"><h3>最新发布</h3><ul>{side}</ul></div></div></div></body></html>"#
        );
        let entries = parse_list(&html, &u("http://a.cn/xw/"), None).expect("parses");
        assert_eq!(entries.len(), 10);
        assert!(entries.iter().all(|e| e.url.path().starts_with("/xw/")));
    }

    #[test]
    fn nothing_list_like_gives_nothing() {
        let html = r#"<html><body><nav><a href="/a/">关于</a><a href="/b/">新闻</a><a href="/c/">联系</a></nav>
            <p>本站正在维护。</p></body></html>"#;
        assert!(
            parse_list(html, &u("http://a.cn/"), None)
                .expect("parses")
                .is_empty()
        );
    }
}
