//! Writing the chosen content out as sanitised HTML, plain text and an
//! image list, leaving boilerplate behind.
//!
//! The container that scored best still holds share bars, "related" lists,
//! 上一篇/下一篇 links, bylines and copyright lines. They are dropped here,
//! subtree by subtree, by signals that do not depend on the site: element
//! names, class/id words, link density, and the short stock phrases such
//! blocks consist of. Everything that survives is re-emitted through a tag
//! and attribute allow-list, so no script, style, iframe, form control,
//! event handler or `javascript:` link can reach a publisher. Links and
//! image sources are kept by the scheme of the URL they *parse* to (a
//! scheme allow-list), never by a test on the attribute's text, which
//! tabs, newlines, control characters and character references get past.

use url::Url;

use super::dom::{Data, Dom, collapse_ws};
use super::score::{Stats, class_weight, is_block};
use super::video::{VIDEO_NOTE, VIDEO_TAG};

#[derive(Debug, Default)]
pub(crate) struct Rendered {
    pub html: String,
    pub text: String,
    pub images: Vec<Url>,
    /// Videos written out as a note with the original link.
    pub videos: usize,
}

/// Schemes a link in the output may have: nothing a browser would run
/// (`javascript:`, `vbscript:`) or render as a document (`data:`).
const LINK_SCHEMES: &[&str] = &["http", "https", "mailto", "tel"];
/// Schemes an image in the output may have (a `data:` image is dropped too:
/// the publisher uploads images by URL).
const IMAGE_SCHEMES: &[&str] = &["http", "https"];
/// Stands in for a missing base, only to learn what a relative reference
/// would resolve to; never written out.
const RELATIVE_PROBE: &str = "http://relative.invalid/";

/// Class/id words that mark a subtree as boilerplate wherever it sits.
const BOILER_TOKENS: &[&str] = &[
    "share",
    "sharing",
    "social",
    "comment",
    "comments",
    "related",
    "recommend",
    "recommended",
    "sidebar",
    "breadcrumb",
    "breadcrumbs",
    "crumb",
    "crumbs",
    "advert",
    "advertisement",
    "ad",
    "ads",
    "adsbygoogle",
    "banner",
    "footer",
    "copyright",
    "toolbar",
    "subscribe",
    "newsletter",
    "popup",
    "modal",
    "pager",
    "pagination",
    "disqus",
    "taboola",
    "outbrain",
    "byline",
    "dateline",
    "tags",
    "tag",
    "keywords",
    "bdshare",
    "jiathis",
    "fenxiang",
    "xgxw",
    "xgwz",
    "xgyd",
    "qrcode",
    "ewm",
    "print",
    "prenext",
    "sxp",
    "nav",
    "navbar",
    "navigation",
    "menu",
    "promo",
    "sponsor",
    "sponsored",
    "login",
    "signup",
    "cookie",
    "gdpr",
    "rss",
    "author",
    "authors",
    "meta",
    "widget",
    "share-bar",
    "bottom",
    "noprint",
    "hidden",
    "hide",
    "sr-only",
    "visually",
    "screen-reader",
    "skip",
    "caption",
    "captions",
    "credit",
    "credits",
    "gallery",
    "slideshow",
    "carousel",
    "lightbox",
];

/// Short stock phrases whole boilerplate blocks start with.
const BOILER_PREFIXES: &[&str] = &[
    "上一篇",
    "下一篇",
    "上一条",
    "下一条",
    "上一页",
    "下一页",
    "相关阅读",
    "相关链接",
    "相关新闻",
    "相关文章",
    "相关推荐",
    "推荐阅读",
    "热点推荐",
    "分享到",
    "分享：",
    "分享:",
    "扫一扫",
    "打印本页",
    "关闭窗口",
    "关闭本页",
    "【打印",
    "【关闭",
    "[打印",
    "[关闭",
    "版权所有",
    "网站地图",
    "返回顶部",
    "【字号",
    "【字体",
    "字体：",
    "[字体",
    "阅读次数",
    "浏览次数",
    "点击数",
    "copyright",
    "©",
    "share this",
    "share on",
    "related:",
    "related articles",
    "related stories",
    "read more",
    "advertisement",
    "sign up",
    "follow us",
    "click here",
    "all rights reserved",
    "特别声明",
    "平台声明",
    "免责声明",
    "声明：",
    "以上内容",
    "欢迎关注",
    "notice: the content above",
];

/// Short words that open a widget ("收藏本文", "广告 …") but also open
/// real sentences ("收藏家…"): only for very short blocks.
const WIDGET_PREFIXES: &[&str] = &["打印", "收藏", "广告", "字号"];

/// Whole-block texts that are widget labels.
const BOILER_EXACT: &[&str] = &[
    "comments",
    "comment",
    "tags",
    "tag",
    "more",
    "more:",
    "share",
    "tweet",
    "email",
    "print",
    "related",
    "advertisement",
    "评论",
    "分享",
    "打印",
    "关闭",
    "收藏",
    "返回",
    "返回列表",
];

/// Labels of the time-stamp lines CMSs print inside the body container.
const DATE_LINE_LABELS: &[&str] = &[
    "updated",
    "published",
    "posted",
    "last updated",
    "发布时间",
    "发布日期",
    "更新时间",
    "发稿时间",
];

/// Openers of "more stories" blocks.
const MORE_PREFIXES: &[&str] = &[
    "you may also like",
    "you might also like",
    "more from",
    "more stories",
    "recommended for you",
    "tell us what you think",
    "você pode gostar",
    "leia também",
    "lesen sie auch",
    "читайте также",
];

/// Phrases that mark a short block as a rights or platform notice
/// wherever they appear in it.
const BOILER_PHRASES: &[&str] = &[
    "未经授权",
    "未经书面授权",
    "请勿转载",
    "禁止转载",
    "仅提供信息存储",
    "版权归原作者",
    "all rights reserved",
];

fn has_token(class_id: &str, list: &[&str]) -> bool {
    class_id
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .any(|t| !t.is_empty() && list.contains(&t))
}

pub(crate) struct Renderer<'a> {
    pub dom: &'a Dom,
    pub st: &'a [Stats],
    /// Content scores, when the content was found by scoring.
    pub score: Option<&'a [f32]>,
    pub base: Option<&'a Url>,
    /// Whether to remove boilerplate (false for feed fragments, which are
    /// already the article).
    pub strip: bool,
    /// Text that is printed elsewhere (the title), dropped when a block
    /// repeats it exactly.
    pub title: Option<&'a str>,
    /// When set, every dropped subtree is noted here with the reason.
    pub trace: Option<&'a std::cell::RefCell<Vec<String>>>,
    /// The article's own address: where a video note sends readers.
    pub origin: Option<&'a Url>,
}

#[derive(Clone, Copy)]
enum Step {
    Enter(usize),
    Exit(usize),
}

impl Renderer<'_> {
    pub fn render(&self, roots: &[usize]) -> Rendered {
        let total: u32 = roots.iter().map(|&r| self.st[r].chars).sum();
        // Normalised once: every short block is compared with it.
        let title = self.title.map(headline_key);
        let title = title.as_deref();
        let mut out = Rendered::default();
        let mut text = String::new();
        let mut stack: Vec<Step> = Vec::with_capacity(64);
        let mut pre_depth = 0usize;
        for &root in roots.iter().rev() {
            stack.push(Step::Enter(root));
        }
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter(i) => match &self.dom.nodes[i].data {
                    Data::Text(t) => {
                        if pre_depth > 0 {
                            text.push_str(t);
                            escape_into(&mut out.html, t);
                        } else {
                            let leading = t.starts_with(char::is_whitespace);
                            let trailing = t.ends_with(char::is_whitespace);
                            let c = collapse_ws(t);
                            if c.is_empty() {
                                if !t.is_empty() {
                                    text.push(' ');
                                    out.html.push(' ');
                                }
                                continue;
                            }
                            if leading {
                                text.push(' ');
                                out.html.push(' ');
                            }
                            text.push_str(&c);
                            escape_into(&mut out.html, &c);
                            if trailing {
                                text.push(' ');
                                out.html.push(' ');
                            }
                        }
                    }
                    Data::Document => {
                        for &c in self.dom.nodes[i].children.iter().rev() {
                            stack.push(Step::Enter(c));
                        }
                    }
                    Data::Element(e) => {
                        if self.strip
                            && !roots.contains(&i)
                            && let Some(why) = self.is_boilerplate(i, total, title)
                        {
                            if let Some(log) = &self.trace {
                                let head: String = self.dom.text_of(i).chars().take(50).collect();
                                log.borrow_mut()
                                    .push(format!("dropped #{i} <{}> ({why}): {head}", e.tag));
                            }
                            continue;
                        }
                        let tag = e.tag.as_str();
                        // A headline before any text is the article's own
                        // title, printed separately; later ones are
                        // section headings.
                        if self.strip && tag == "h1" && text.trim().is_empty() {
                            if let Some(log) = &self.trace {
                                log.borrow_mut()
                                    .push(format!("dropped #{i} <h1> (leading headline)"));
                            }
                            continue;
                        }
                        match tag {
                            VIDEO_TAG => {
                                self.video_note(i, &mut out, &mut text);
                                continue;
                            }
                            "br" => {
                                text.push('\n');
                                out.html.push_str("<br>");
                                continue;
                            }
                            "hr" => {
                                text.push('\n');
                                out.html.push_str("<hr>");
                                continue;
                            }
                            "img" => {
                                self.image(e, &mut out);
                                continue;
                            }
                            "head" | "title" | "meta" | "base" => continue,
                            _ => {}
                        }
                        if is_block(tag) {
                            text.push('\n');
                        } else if matches!(tag, "td" | "th") {
                            text.push(' ');
                        }
                        if tag == "pre" {
                            pre_depth += 1;
                        }
                        self.open_tag(i, &mut out.html);
                        stack.push(Step::Exit(i));
                        for &c in self.dom.nodes[i].children.iter().rev() {
                            stack.push(Step::Enter(c));
                        }
                    }
                },
                Step::Exit(i) => {
                    let tag = self.dom.tag(i);
                    if tag == "pre" {
                        pre_depth = pre_depth.saturating_sub(1);
                    }
                    if is_block(tag) {
                        text.push('\n');
                    }
                    if let Some(name) = self.out_tag(i) {
                        out.html.push_str("</");
                        out.html.push_str(name);
                        out.html.push('>');
                    }
                }
            }
        }
        out.text = text
            .split('\n')
            .map(|l| {
                l.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}' || c == '\u{a0}')
            })
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        out.html = tidy_html(&out.html);
        out
    }

    /// The tag written to the output for element `i`, or None to unwrap it.
    fn out_tag(&self, i: usize) -> Option<&'static str> {
        let tag = self.dom.tag(i);
        Some(match tag {
            "p" => "p",
            "h1" | "h2" => "h2",
            "h3" => "h3",
            "h4" => "h4",
            "h5" => "h5",
            "h6" => "h6",
            "ul" => "ul",
            "ol" => "ol",
            "li" => "li",
            "dl" => "dl",
            "dt" => "dt",
            "dd" => "dd",
            "blockquote" => "blockquote",
            "pre" => "pre",
            "code" => "code",
            "strong" | "b" => "strong",
            "em" | "i" => "em",
            "u" => "u",
            "sub" => "sub",
            "sup" => "sup",
            "table" => "table",
            "thead" => "thead",
            "tbody" => "tbody",
            "tfoot" => "tfoot",
            "tr" => "tr",
            "td" => "td",
            "th" => "th",
            "caption" => "caption",
            "figure" => "figure",
            "figcaption" => "figcaption",
            "a" => {
                self.href(i)?;
                "a"
            }
            // Layout blocks: a block without blocks inside is a paragraph;
            // one with blocks inside is unwrapped.
            "div" | "section" | "article" | "main" | "center" | "header" | "address" | "font" => {
                if self.st[i].has_block || tag == "font" {
                    return None;
                }
                "p"
            }
            _ => return None,
        })
    }

    fn href(&self, i: usize) -> Option<String> {
        let raw = self.dom.elem(i)?.attr("href")?.trim();
        if raw.is_empty() || raw.starts_with('#') {
            return None;
        }
        self.safe_url(raw, LINK_SCHEMES)
    }

    /// `raw` as written to the output, when the URL it stands for has one
    /// of `schemes`; `None` drops it.
    ///
    /// Decided on the parsed URL, never on the text: the URL parser (the
    /// WHATWG one, which browsers share) drops tabs and newlines anywhere and
    /// control characters and spaces in front, so `java\tscript:` or
    /// `\u{1}javascript:` (entity-encoded in the page, decoded by the HTML
    /// parser) are `javascript:` URLs to a browser while no `starts_with`
    /// on the raw text sees them. What is written out is the parsed URL's
    /// serialisation, so the output holds no such characters either.
    fn safe_url(&self, raw: &str, schemes: &[&str]) -> Option<String> {
        let parsed = match self.base {
            Some(b) => b.join(raw),
            None => Url::parse(raw),
        };
        match parsed {
            Ok(u) => schemes.contains(&u.scheme()).then(|| u.to_string()),
            // No base to resolve against: a relative reference stays
            // relative, stripped of what the parser would drop, once the
            // stripped text is checked to still be relative.
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let stripped: String = raw
                    .chars()
                    .filter(|c| !c.is_ascii_control() && *c != ' ')
                    .collect();
                let probe = Url::parse(RELATIVE_PROBE).expect("static url");
                let joined = probe.join(&stripped).ok()?;
                (Url::parse(&stripped).is_err() && schemes.contains(&joined.scheme()))
                    .then_some(stripped)
            }
            Err(_) => None,
        }
    }

    fn open_tag(&self, i: usize, html: &mut String) {
        let Some(name) = self.out_tag(i) else { return };
        html.push('<');
        html.push_str(name);
        if name == "a" {
            if let Some(h) = self.href(i) {
                html.push_str(" href=\"");
                escape_into(html, &h);
                html.push('"');
            }
        } else if matches!(name, "td" | "th")
            && let Some(e) = self.dom.elem(i)
        {
            for attr in ["colspan", "rowspan"] {
                if let Some(v) = e
                    .attr(attr)
                    .filter(|v| v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty())
                {
                    html.push_str(&format!(" {attr}=\"{v}\""));
                }
            }
        }
        html.push('>');
    }

    fn image(&self, e: &super::dom::Elem, out: &mut Rendered) {
        // Lazy loaders keep the real address in a data attribute and put a
        // placeholder in src.
        let lazy = [
            "data-src",
            "data-original",
            "data-lazy-src",
            "data-actualsrc",
            "data-url",
            "data-echo",
        ];
        // The first candidate that is a safe image URL: a lazy loader's
        // placeholder is often a `data:` GIF in `src`.
        let Some(abs) = lazy
            .iter()
            .filter_map(|a| e.attr(a))
            .chain(e.attr("src"))
            .chain(e.attr("srcset").and_then(|s| s.split_whitespace().next()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .find_map(|s| self.safe_url(s, IMAGE_SCHEMES))
        else {
            return;
        };
        if self.strip {
            // Tracking pixels and icons.
            let tiny = |a: &str| {
                e.attr(a)
                    .and_then(|v| v.trim().trim_end_matches("px").parse::<u32>().ok())
                    .is_some_and(|v| v < 32)
            };
            if tiny("width") || tiny("height") {
                return;
            }
        }
        out.html.push_str("<img src=\"");
        escape_into(&mut out.html, &abs);
        out.html.push('"');
        if let Some(alt) = e.attr("alt").filter(|a| !a.trim().is_empty()) {
            out.html.push_str(" alt=\"");
            escape_into(&mut out.html, alt.trim());
            out.html.push('"');
        }
        out.html.push('>');
        if let Ok(u) = Url::parse(&abs)
            && matches!(u.scheme(), "http" | "https")
            && !out.images.contains(&u)
        {
            out.images.push(u);
        }
    }

    /// A video, written as a note with the article's link (or, with no
    /// article address, the video's own).
    fn video_note(&self, i: usize, out: &mut Rendered, text: &mut String) {
        let own = || {
            (i..self.dom.subtree_end(i))
                .filter_map(|j| self.dom.elem(j))
                .flat_map(|e| [e.attr("src"), e.attr("data-src")])
                .flatten()
                .find_map(|s| self.safe_url(s.trim(), LINK_SCHEMES))
        };
        let link = self.origin.map(Url::to_string).or_else(own);
        out.videos += 1;
        // No address at all (a saved page, a player without a source): the
        // note without the colon that would announce a link.
        let note = if link.is_some() {
            VIDEO_NOTE
        } else {
            VIDEO_NOTE.trim_end_matches('：')
        };
        text.push('\n');
        text.push_str(note);
        out.html.push_str("<p>");
        escape_into(&mut out.html, note);
        if let Some(link) = link {
            text.push_str(&link);
            out.html.push_str("<a href=\"");
            escape_into(&mut out.html, &link);
            out.html.push_str("\">");
            escape_into(&mut out.html, &link);
            out.html.push_str("</a>");
        }
        out.html.push_str("</p>");
        text.push('\n');
    }

    /// Whether the subtree at `i` is boilerplate inside the content.
    /// `title` is the title as [`headline_key`] normalises it.
    fn is_boilerplate(&self, i: usize, total: u32, title: Option<&str>) -> Option<&'static str> {
        let dom = self.dom;
        let e = dom.elem(i)?;
        let s = &self.st[i];
        let tag = e.tag.as_str();
        if self.holds_video(i) || self.is_caption(i) {
            return None;
        }
        if matches!(
            tag,
            "nav" | "aside" | "footer" | "header" | "menu" | "figcaption"
        ) {
            return (s.chars < total / 2 + 1).then_some("page furniture element");
        }
        if matches!(
            tag,
            "a" | "img" | "br" | "strong" | "b" | "em" | "i" | "sup" | "sub"
        ) {
            return None;
        }
        let cid = &self.dom.nodes[i].class_id;
        // Never throw away most of the article on the strength of a name.
        let small = s.chars < (total / 3).max(1) || s.chars < 40;
        if small && !cid.is_empty() && has_token(cid, BOILER_TOKENS) && class_weight(cid) <= 0.0 {
            return Some("boilerplate class/id");
        }
        if s.chars == 0 {
            return (s.img == 0 && !matches!(tag, "td" | "th" | "tr" | "p")).then_some("empty");
        }
        // Short blocks that start with a stock phrase or repeat the title.
        // (Few nodes too: a deep chain of wrappers around one short text
        // must not be re-read at every level.)
        if s.chars < 200 && dom.subtree_len(i) < 400 {
            let t = dom.text_of(i);
            let lower = t.to_lowercase();
            let trimmed = lower.trim_start_matches(['【', '[', '(', '（', ' ', '>', '»', '·']);
            // Attachments of a notice are links, and they are the content.
            if trimmed.starts_with("附件") {
                return None;
            }
            if BOILER_PREFIXES.iter().any(|p| trimmed.starts_with(p))
                || MORE_PREFIXES.iter().any(|p| trimmed.starts_with(p))
                || BOILER_PHRASES.iter().any(|p| lower.contains(p))
                || BOILER_EXACT.contains(&trimmed.trim_end_matches(['】', ']', ')', '）']).trim())
                || (s.chars < 16 && WIDGET_PREFIXES.iter().any(|p| trimmed.starts_with(p)))
            {
                return Some("stock phrase");
            }
            if s.chars < 80
                && DATE_LINE_LABELS.iter().any(|p| trimmed.starts_with(p))
                && trimmed.chars().any(|c| c.is_ascii_digit())
            {
                return Some("time-stamp line");
            }
            if let Some(title) = title
                && same_headline(&t, title)
            {
                return Some("repeats the title");
            }
        }
        let ld = s.link_density();
        let is_list =
            matches!(tag, "ul" | "ol") || (s.chars > 0 && s.li_chars as f32 / s.chars as f32 > 0.9);
        // Link lists: navigation, related articles, tag clouds.
        if is_block(tag) || matches!(tag, "span" | "font") {
            if ld > 0.5 && s.punct < 3 && s.chars < 600 {
                return Some("link list");
            }
            if matches!(tag, "p" | "li") {
                return (ld > 0.85 && s.chars < 120).then_some("link line");
            }
        }
        // Readability's conditional cleaning for containers without prose.
        if matches!(
            tag,
            "div" | "section" | "table" | "ul" | "ol" | "dl" | "form" | "fieldset"
        ) {
            let weight = class_weight(cid);
            let cscore = self.score.map_or(0.0, |sc| sc[i]);
            if weight + cscore < 0.0 && s.chars < total / 2 {
                return Some("negative score");
            }
            if s.punct < 10 {
                let p = s.p as f32;
                let img = s.img as f32;
                let li = s.li as f32 - 100.0;
                let in_figure = self.has_ancestor(i, "figure");
                if img > 1.0 && p / img < 0.5 && !in_figure && s.chars < 200 {
                    return Some("image gallery without text");
                }
                if !is_list && li > p {
                    return Some("list-like block");
                }
                if !is_list
                    && s.chars < 25
                    && (s.img == 0 || s.img > 2)
                    && !in_figure
                    && !self.in_line_run(i)
                {
                    return Some("small block");
                }
                if (!is_list && weight < 25.0 && ld > 0.2 && s.chars < 400)
                    || (weight >= 25.0 && ld > 0.5)
                {
                    return Some("link-heavy block");
                }
            }
        }
        None
    }

    /// Whether a small subtree holds a video (a player box with no text
    /// would otherwise go as empty).
    fn holds_video(&self, i: usize) -> bool {
        self.dom.subtree_len(i) <= 64
            && (i..self.dom.subtree_end(i)).any(|j| self.dom.tag(j) == VIDEO_TAG)
    }

    /// Whether `i` is an image's caption: a `<figcaption>` of a figure with
    /// an image, or a short line right after an image that is named or
    /// centred like one or says so (图为…, （摄影 …）). Captions stay with
    /// their image: no class name, length or tag drops them.
    fn is_caption(&self, i: usize) -> bool {
        let dom = self.dom;
        let s = &self.st[i];
        if s.chars == 0 || s.chars > 120 || s.link_chars > 0 {
            return false;
        }
        let Some(e) = dom.elem(i) else { return false };
        let tag = e.tag.as_str();
        if tag == "figcaption" {
            let mut n = i;
            for _ in 0..3 {
                let p = dom.nodes[n].parent;
                if p == n {
                    return false;
                }
                if dom.tag(p) == "figure" {
                    return self.st[p].img > 0;
                }
                n = p;
            }
            return false;
        }
        if !(is_block(tag) || matches!(tag, "span" | "font" | "center" | "td")) {
            return false;
        }
        if !self.after_image(i) {
            return false;
        }
        let cid = &dom.nodes[i].class_id;
        let named = cid
            .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
            .any(|t| {
                matches!(
                    t,
                    // Not `img`/`photo`/`image`: those name credit and
                    // copyright lines too (`image-copyright`).
                    "caption"
                        | "captions"
                        | "figcaption"
                        | "tuzhu"
                        | "tushuo"
                        | "imgtitle"
                        | "pictext"
                        | "pictitle"
                        | "imgtxt"
                )
            });
        let centred = tag == "center"
            || e.attr("align")
                .is_some_and(|a| a.eq_ignore_ascii_case("center"))
            || e.attr("style").is_some_and(|st| {
                st.to_ascii_lowercase()
                    .replace(' ', "")
                    .contains("text-align:center")
            });
        if !named && has_token(cid, BOILER_TOKENS) {
            return false;
        }
        let t = dom.text_of(i);
        let t = t.trim_start_matches(['（', '(', '【', '[', ' ', '\u{3000}']);
        if BOILER_PREFIXES.iter().any(|p| t.starts_with(p))
            || WIDGET_PREFIXES.iter().any(|p| t.starts_with(p))
        {
            return false;
        }
        let says = [
            "图为",
            "图：",
            "图:",
            "上图",
            "下图",
            "图片：",
            "图片来源",
            "摄影",
            "图/",
        ]
        .iter()
        .any(|p| t.starts_with(p))
            || t.contains("摄影：")
            || t.contains("摄影:")
            || t.contains("（摄")
            || t.contains("(摄");
        named || says || (centred && s.chars <= 60)
    }

    /// Whether the element before `i` (whitespace and `<br>` skipped) is or
    /// holds an image, or `i` itself opens with one.
    fn after_image(&self, i: usize) -> bool {
        let dom = self.dom;
        if self.st[i].img > 0 {
            return true;
        }
        let mut at = i;
        // A few blank texts and `<br>`s at most lie between.
        for _ in 0..4 {
            let Some(c) = previous_sibling(dom, at) else {
                return false;
            };
            match &dom.nodes[c].data {
                Data::Text(t) if t.trim().is_empty() => at = c,
                Data::Element(e) if e.tag == "br" => at = c,
                Data::Element(_) => return self.st[c].img > 0 && self.st[c].chars < 10,
                _ => return false,
            }
        }
        false
    }

    /// Whether `i` is one of many short link-free lines that together make
    /// up real text (a blog or poem that breaks every phrase), as opposed
    /// to a lone widget label.
    fn in_line_run(&self, i: usize) -> bool {
        let parent = self.dom.nodes[i].parent;
        let mut lines = 0;
        let mut chars = 0;
        for &c in &self.dom.nodes[parent].children {
            let s = &self.st[c];
            if self.dom.elem(c).is_some() && s.chars > 0 && s.chars < 25 && s.link_chars == 0 {
                lines += 1;
                chars += s.chars;
            }
        }
        lines >= 4 && chars >= 60
    }

    fn has_ancestor(&self, i: usize, tag: &str) -> bool {
        let mut n = i;
        for _ in 0..3 {
            let p = self.dom.nodes[n].parent;
            if p == n {
                return false;
            }
            if self.dom.tag(p) == tag {
                return true;
            }
            n = p;
        }
        false
    }
}

/// The sibling before node `i`, found from the arena's document order
/// (the node before `i` is that sibling's last descendant) rather than by
/// searching the parent's children, which would make a parent with many
/// children quadratic.
fn previous_sibling(dom: &Dom, i: usize) -> Option<usize> {
    let parent = dom.nodes[i].parent;
    if parent == i || i == 0 {
        return None;
    }
    let mut j = i - 1;
    // Bounded: a sibling nested deeper than this is not an image beside
    // a caption.
    for _ in 0..64 {
        if j == parent {
            return None;
        }
        if dom.nodes[j].parent == parent {
            return Some(j);
        }
        let up = dom.nodes[j].parent;
        if up == j {
            return None;
        }
        j = up;
    }
    None
}

/// Whether a block's text is the headline again, give or take spacing,
/// punctuation and a kicker or site name around it.
/// Letters and digits only, lower-cased: what two headlines are compared on.
fn headline_key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `text` repeats the title; `title` is already a [`headline_key`].
fn same_headline(text: &str, title: &str) -> bool {
    let (t, h) = (headline_key(text), title);
    if t.is_empty() || h.chars().count() < 4 {
        return false;
    }
    t == h || (t.contains(h) && t.chars().count() <= h.chars().count() * 3 / 2)
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

/// Drop empty paragraphs and collapse blank runs the unwrapping left.
fn tidy_html(html: &str) -> String {
    let mut s = html.to_string();
    loop {
        let before = s.len();
        for empty in [
            "<p></p>",
            "<p> </p>",
            "<li></li>",
            "<strong></strong>",
            "<em></em>",
            "<p><br></p>",
        ] {
            s = s.replace(empty, "");
        }
        if s.len() == before {
            break;
        }
    }
    s.trim().to_string()
}
