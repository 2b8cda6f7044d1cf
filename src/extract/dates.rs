//! The publish time of an article page.
//!
//! Why a module of its own: the date is what an inspection and an editor
//! look at first, and pages show many dates — today's date in the top bar,
//! the dates of related articles, of comments, of the sidebar's news — of
//! which exactly one is the article's. The rules are general (no site is
//! named here), in this order:
//!
//! 1. the CMS's own meta tags and JSON-LD (`PubDate`,
//!    `article:published_time`, `datePublished`);
//! 2. a *labelled* date near the headline: after a label (`发布时间：`,
//!    `发表于`, `日期：`, `更新`), before a word that says what it is
//!    (`2024-05-12 10:00 更新`, `… 发布`), on the `来源：` line, or
//!    before a newspaper's name (`2024年05月12日 科技日报`) — looked for in
//!    the headline's table row, then from the headline down to the body,
//!    then in the body's first lines;
//! 3. the unlabelled date nearest the headline (or, with no headline found
//!    in the page, nearest the body's start);
//! 4. a labelled date right after the body (blogs' "posted on", a notice's
//!    signing date);
//! 5. `<time datetime>`, then modification-time meta tags;
//! 6. the date in the URL path (`/2024/05/12/`, `/202405/t20240512_1.html`).
//!
//! A date inside a comment, related-articles, recommendation or sidebar
//! block (by class/id, `<aside>`, or a list item that is a link) or after a
//! word such as 相关 or 推荐 on its line never wins, and no date later than
//! the page's fetch time (passed in, never read from the system clock) is
//! taken. Times without a zone are Beijing time, which is what the sites
//! this crate polls mean.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use regex::Regex;
use url::Url;

use super::dom::{Data, Dom};
use super::meta::{json_ld_values, lines_between};

/// Compiled patterns, built once per [`super::Extractor`].
pub(crate) struct Patterns {
    date: Regex,
    date_en: Regex,
    date_en_dmy: Regex,
    url_compact: Regex,
}

impl Patterns {
    pub fn new() -> Patterns {
        let build = |re: &str| Regex::new(re).expect("static pattern compiles");
        Patterns {
            date: build(
                r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?(?:[\sT\-]*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})(?:\.\d+)?)?)?(?:\s*(Z|[+-]\d{2}:?\d{2}))?",
            ),
            date_en: build(
                r"(?i)\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{2})",
            ),
            date_en_dmy: build(
                r"(?i)\b(\d{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+((?:19|20)\d{2})",
            ),
            url_compact: build(r"(?:^|[^\d])((?:19|20)\d{2})(\d{2})(\d{2})(?:[^\d]|$)"),
        }
    }
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

fn month_of(name: &str) -> Option<u32> {
    let m = match name.get(..3)?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    Some(m)
}

fn make(
    y: i32,
    m: u32,
    d: u32,
    hh: u32,
    mm: u32,
    ss: u32,
    zone: Option<&str>,
) -> Option<DateTime<FixedOffset>> {
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let time = NaiveTime::from_hms_opt(hh, mm, ss)?;
    let naive = NaiveDateTime::new(date, time);
    let offset = match zone {
        None => beijing(),
        Some("Z") | Some("z") => FixedOffset::east_opt(0)?,
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z.chars().filter(|c| c.is_ascii_digit()).collect();
            let h: i32 = digits.get(..2)?.parse().ok()?;
            let m: i32 = digits.get(2..4).unwrap_or("0").parse().ok()?;
            FixedOffset::east_opt(sign * (h * 3600 + m * 60))?
        }
    };
    offset.from_local_datetime(&naive).single()
}

impl Patterns {
    /// The first date in `s`, in any of the usual notations.
    pub fn parse_date(&self, s: &str) -> Option<DateTime<FixedOffset>> {
        let s = s.trim();
        if let Ok(d) = DateTime::parse_from_rfc3339(s) {
            return Some(d);
        }
        if let Ok(d) = DateTime::parse_from_rfc2822(s) {
            return Some(d);
        }
        let num = |m: Option<regex::Match>| m.and_then(|m| m.as_str().parse::<u32>().ok());
        if let Some(c) = self.date.captures(s) {
            let y = num(c.get(1))? as i32;
            let got = make(
                y,
                num(c.get(2))?,
                num(c.get(3))?,
                num(c.get(4)).unwrap_or(0),
                num(c.get(5)).unwrap_or(0),
                num(c.get(6)).unwrap_or(0),
                c.get(7).map(|m| m.as_str()),
            );
            if got.is_some() {
                return got;
            }
        }
        if let Some(c) = self.date_en.captures(s) {
            return make(
                num(c.get(3))? as i32,
                month_of(&c[1])?,
                num(c.get(2))?,
                0,
                0,
                0,
                None,
            );
        }
        if let Some(c) = self.date_en_dmy.captures(s) {
            return make(
                num(c.get(3))? as i32,
                month_of(&c[2])?,
                num(c.get(1))?,
                0,
                0,
                0,
                None,
            );
        }
        None
    }

    /// The date a URL path carries (`/2023-11/20/`, `/t20231120_1.html`).
    pub fn url_date(&self, url: &Url) -> Option<DateTime<FixedOffset>> {
        let path = url.path();
        if let Some(c) = self.date.captures(path) {
            let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
            if c.get(4).is_none()
                && let Some(d) = make(num(1)? as i32, num(2)?, num(3)?, 0, 0, 0, None)
            {
                return Some(d);
            }
        }
        for c in self.url_compact.captures_iter(path) {
            let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
            if let (Some(y), Some(m), Some(d)) = (num(1), num(2), num(3))
                && let Some(dt) = make(y as i32, m, d, 0, 0, 0, None)
            {
                return Some(dt);
            }
        }
        None
    }
}

/// Meta keys that name the publish time, most specific first.
const PUBLISHED_KEYS: &[&str] = &[
    "article:published_time",
    "pubdate",
    "publishdate",
    "publish_date",
    "publishtime",
    "publish-date",
    "datepublished",
    "og:published_time",
    "og:article:published_time",
    "article:published",
    "published_time",
    "dc.date.issued",
    "dcterms.created",
    "dc.date.created",
    "dc.date",
    "firstpublishedtime",
    "sailthru.date",
    "parsely-pub-date",
    "release_date",
    "date",
    "created",
];

/// Meta keys that name a modification time: better than nothing, worse
/// than any date the page shows.
const MODIFIED_KEYS: &[&str] = &["article:modified_time", "lastmodifiedtime"];

/// Labels printed right before a publish date (compared lower-cased, at
/// the end of the text before the date).
const DATE_LABELS: &[&str] = &[
    "发布时间",
    "发稿时间",
    "发布于",
    "发表于",
    "发布日期",
    "发表时间",
    "发表日期",
    "发文日期",
    "成文日期",
    "印发日期",
    "更新时间",
    "更新于",
    "更新",
    "发布",
    "时间",
    "日期",
    "published on",
    "published",
    "posted on",
    "posted",
    "updated",
    "date",
];

/// What comes before 时间/日期 in labels of other times than the
/// article's: an event's (活动时间), a deadline (截止日期).
const EVENT_WORDS: &[&str] = &[
    "活动", "会议", "报名", "截止", "开始", "结束", "举办", "举行", "考试", "比赛", "申报", "开放",
    "培训", "有效", "成立", "出生", "提交", "受理", "开幕", "闭幕", "演出", "展览", "讲座",
];

/// Whether the text before a date ends in a publish-time label.
fn publish_label_before(before: &str) -> bool {
    DATE_LABELS.iter().any(|l| {
        before.strip_suffix(l).is_some_and(|head| {
            !(matches!(*l, "时间" | "日期") && EVENT_WORDS.iter().any(|w| head.ends_with(w)))
        })
    })
}

/// Words right after a date that say it is the article's.
const DATE_SUFFIXES: &[&str] = &[
    "更新",
    "发布",
    "发表",
    "来源",
    "作者",
    "published",
    "updated",
    "posted",
];

/// Words that, before a date on its line, make it another page's date.
const FOREIGN_WORDS: &[&str] = &[
    "推荐",
    "相关",
    "评论",
    "回复",
    "热门",
    "排行",
    "上一篇",
    "下一篇",
    "上一条",
    "下一条",
];

/// Class/id words of blocks whose dates belong to other texts: comments,
/// related articles.
fn others_block(token: &str) -> bool {
    const STARTS: &[&str] = &[
        "comment",
        "reply",
        "pinglun",
        "discuss",
        "respond",
        "related",
        "recommend",
        "tuijian",
        "xgwz",
        "xgxw",
        "xgyd",
        "xglj",
        "zxwz",
    ];
    // `relative` (a CSS utility class) is not `related`.
    STARTS.iter().any(|s| token.starts_with(s)) || matches!(token, "relate" | "xiangguan")
}

/// Class/id words of side boxes: their dates are mostly other articles',
/// but an article's own info panel (`时间：…` beside the text) sits in
/// one too, so only an unlabelled date there is refused.
fn side_block(token: &str) -> bool {
    const STARTS: &[&str] = &["sidebar", "aside", "hot", "rank", "paihang", "more"];
    STARTS.iter().any(|s| token.starts_with(s)) || token == "side"
}

/// What [`Patterns::find_date`] looks at.
pub(crate) struct DatePage<'a> {
    pub dom: &'a Dom,
    pub metas: &'a [(String, String)],
    pub title: &'a str,
    /// The element showing the headline, when found.
    pub title_node: Option<usize>,
    pub body: usize,
    /// The chosen content: its first node and one past its last.
    pub first: usize,
    pub last_end: usize,
    pub url: Option<&'a Url>,
    /// When the page was fetched: no later date is taken.
    pub fetched_at: Option<DateTime<FixedOffset>>,
}

/// One date shown in a line.
struct Shown {
    at: DateTime<FixedOffset>,
    labelled: bool,
    /// A word such as 推荐 before it on its line: another page's date.
    foreign: bool,
}

impl Patterns {
    /// Every full date in `line` (year, month and day), with whether it is
    /// labelled as a publish time.
    fn shown_in(&self, line: &str) -> Vec<Shown> {
        let lower = line.to_lowercase();
        let source_line = line.contains("来源");
        // (start, end, date) of every date in the line, in any notation.
        let mut found: Vec<(usize, usize, DateTime<FixedOffset>)> = Vec::new();
        for c in self.date.captures_iter(&lower) {
            let Some(m) = c.get(0) else { continue };
            // `120240512` or `12024-05-12` is a number, not a date.
            if lower[..m.start()]
                .chars()
                .next_back()
                .is_some_and(|ch| ch.is_ascii_digit())
            {
                continue;
            }
            if let Some(at) = captured(&c) {
                found.push((m.start(), m.end(), at));
            }
        }
        // `Nov. 19, 2019` and `19 November 2019`: (regex, year, month, day).
        for (re, y, mo, d) in [(&self.date_en, 3, 1, 2), (&self.date_en_dmy, 3, 2, 1)] {
            for c in re.captures_iter(&lower) {
                let (Some(m), Some(month)) = (c.get(0), month_of(&c[mo])) else {
                    continue;
                };
                let num = |i: usize| c.get(i).and_then(|x| x.as_str().parse::<u32>().ok());
                if let (Some(y), Some(d)) = (num(y), num(d))
                    && let Some(at) = make(y as i32, month, d, 0, 0, 0, None)
                {
                    found.push((m.start(), m.end(), at));
                }
            }
        }
        found.sort_by_key(|f| f.0);
        let mut out = Vec::new();
        let mut prev_end = 0;
        for (start, end, at) in found {
            if start < prev_end {
                continue;
            }
            let before = lower[..start].trim_end_matches(|ch: char| {
                ch.is_whitespace()
                    || matches!(
                        ch,
                        '：' | ':' | '[' | '【' | '(' | '（' | '|' | '｜' | '\u{3000}' | '-' | '@'
                    )
            });
            let after = lower[end..].trim_start_matches(|ch: char| {
                ch.is_whitespace() || matches!(ch, ']' | '】' | ')' | '）' | '\u{3000}')
            });
            let labelled = source_line
                || publish_label_before(before)
                || DATE_SUFFIXES.iter().any(|s| after.starts_with(s))
                || newspaper_follows(after);
            let since_prev = &lower[prev_end..start];
            let foreign = FOREIGN_WORDS.iter().any(|w| since_prev.contains(w));
            prev_end = end;
            out.push(Shown {
                at,
                labelled,
                foreign,
            });
        }
        out
    }
}

/// Whether the text after a date starts with a newspaper's or agency's
/// name (`科技日报`, `新华社`, `人民网`): the date line of a reprint.
fn newspaper_follows(after: &str) -> bool {
    let name: String = after
        .chars()
        .take_while(|c| super::dom::is_cjk(*c))
        .take(13)
        .collect();
    let n = name.chars().count();
    (2..=12).contains(&n)
        && ["报", "社", "网", "台", "刊", "报社"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// The date a capture of [`Patterns::date`] holds.
fn captured(c: &regex::Captures) -> Option<DateTime<FixedOffset>> {
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    make(
        num(1)? as i32,
        num(2)?,
        num(3)?,
        num(4).unwrap_or(0),
        num(5).unwrap_or(0),
        num(6).unwrap_or(0),
        c.get(7).map(|m| m.as_str()),
    )
}

/// Whether node `i` sits in a block whose dates are other texts' (comments,
/// related articles). `strict` (for unlabelled dates) also counts side
/// boxes and a list item or table row holding a link: a news column
/// without a telling class.
fn in_foreign_block(dom: &Dom, i: usize, body: usize, strict: bool) -> bool {
    let mut linked_items = strict;
    let mut at = i;
    // Deep enough for any real page; bounded so no page costs more.
    for _ in 0..64 {
        if at == body || at >= dom.nodes.len() {
            return false;
        }
        if let Some(e) = dom.elem(at) {
            // Not <footer>: blog themes print "Posted on" in the post's own.
            if strict && e.tag == "aside" {
                return true;
            }
            let cid = dom.nodes[at].class_id.to_ascii_lowercase();
            if cid
                .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
                .any(|t| others_block(t) || (strict && side_block(t)))
            {
                return true;
            }
            if linked_items && (e.tag == "li" || e.tag == "tr") {
                // Only the line's own item counts, and only a small one: a
                // layout table's row holds links and the article alike.
                let short = dom.subtree_len(at) <= 40;
                if short && (at..dom.subtree_end(at)).any(|j| dom.tag(j) == "a") {
                    return true;
                }
                linked_items = false;
            }
        }
        let parent = dom.nodes[at].parent;
        if parent == at {
            return false;
        }
        at = parent;
    }
    false
}

/// A text node showing the headline, between `from` and `to`: where the
/// headline is when no heading element carried it (old table layouts put
/// it in a plain cell).
fn locate_title(dom: &Dom, title: &str, from: usize, to: usize) -> Option<usize> {
    let want = title.trim();
    let n = want.chars().count();
    if n < 4 {
        return None;
    }
    (from..to.min(dom.nodes.len())).find(|&i| match &dom.nodes[i].data {
        Data::Text(t) => {
            // The headline itself, or most of it (a cut-off <title>); not a
            // banner that names the site the <title> is.
            let t = t.trim();
            let m = t.chars().count();
            (t.contains(want) && m <= n * 3 / 2 + 4) || (m * 3 >= n * 2 && want.contains(t))
        }
        _ => false,
    })
}

/// Lines in the order they are searched, each with whether it is in the
/// body (where only short lines count as date lines).
fn search_lines(p: &DatePage) -> Vec<(usize, String, bool)> {
    let dom = p.dom;
    let window_from = p.first.saturating_sub(400).max(p.body);
    let anchor = p
        .title_node
        .filter(|&t| t < p.last_end)
        .or_else(|| locate_title(dom, p.title, window_from, p.last_end.min(p.first + 200)));
    let mut out: Vec<(usize, String, bool)> = Vec::new();
    let push = |lines: Vec<(usize, String)>, in_body: bool, out: &mut Vec<_>| {
        out.extend(lines.into_iter().map(|(i, l)| (i, l, in_body)));
    };
    if let Some(t) = anchor {
        // The headline's own table row (a date cell beside a title cell).
        let mut at = t;
        for _ in 0..4 {
            let parent = dom.nodes[at].parent;
            if parent == at {
                break;
            }
            at = parent;
            if dom.tag(at) == "tr" {
                if dom.subtree_len(at) <= 120 {
                    push(lines_between(dom, at, dom.subtree_end(at)), false, &mut out);
                }
                break;
            }
        }
        if t < p.first {
            let mut lines = lines_between(dom, t, p.first);
            lines.truncate(40);
            push(lines, false, &mut out);
        } else {
            // The headline inside the content: its next lines.
            let mut lines = lines_between(dom, t, p.last_end);
            lines.truncate(6);
            push(lines, false, &mut out);
        }
        let mut lines = lines_between(dom, p.first, p.last_end);
        lines.truncate(4);
        push(lines, true, &mut out);
    } else {
        // No headline in the page: nearest the body's start first, on
        // either side of it (a date cell above the body, a date line
        // opening it), so a top bar's "today" comes last.
        let mut lines = lines_between(dom, window_from, p.first);
        let keep = lines.len().saturating_sub(12);
        lines.drain(..keep);
        push(lines, false, &mut out);
        let mut lines = lines_between(dom, p.first, p.last_end);
        lines.truncate(4);
        push(lines, true, &mut out);
        out.sort_by_key(|(i, _, _)| i.abs_diff(p.first));
    }
    out
}

impl Patterns {
    /// The publish time. A date-only value (midnight) is refined by the
    /// same day with a time of day printed near the headline.
    pub fn find_date(&self, p: &DatePage) -> Option<DateTime<FixedOffset>> {
        let lines = search_lines(p);
        let found = self.find_date_raw(p, &lines)?;
        if found.time() != NaiveTime::MIN {
            return Some(found);
        }
        for (_, line, _) in &lines {
            if line.chars().count() > 160 {
                continue;
            }
            for s in self.shown_in(line) {
                if s.at.date_naive() == found.date_naive() && s.at.time() != NaiveTime::MIN {
                    return Some(s.at);
                }
            }
        }
        Some(found)
    }

    fn find_date_raw(
        &self,
        p: &DatePage,
        lines: &[(usize, String, bool)],
    ) -> Option<DateTime<FixedOffset>> {
        let ok = |d: &DateTime<FixedOffset>| p.fetched_at.is_none_or(|f| *d <= f);
        let from_metas = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                p.metas
                    .iter()
                    .filter(|(mk, _)| mk == k)
                    .find_map(|(_, v)| self.parse_date(v).filter(ok))
            })
        };
        if let Some(d) = from_metas(PUBLISHED_KEYS) {
            return Some(d);
        }
        if let Some(d) = json_ld_values(p.dom, "datePublished")
            .iter()
            .find_map(|v| v.as_str().and_then(|s| self.parse_date(s)).filter(ok))
        {
            return Some(d);
        }
        // Labelled dates near the headline win; then the nearest date at all.
        for want_label in [true, false] {
            for (i, line, in_body) in lines {
                let n = line.chars().count();
                if !want_label && n > if *in_body { 60 } else { 120 } {
                    continue;
                }
                if in_foreign_block(p.dom, *i, p.body, !want_label) {
                    continue;
                }
                if let Some(s) = self
                    .shown_in(line)
                    .into_iter()
                    .find(|s| !s.foreign && ok(&s.at) && (s.labelled || !want_label))
                {
                    return Some(s.at);
                }
            }
        }
        // After the body: a labelled date (a blog's "posted on"), or a
        // notice's signing date alone on its line.
        let inside = lines_between(p.dom, p.first, p.last_end);
        let after = lines_between(p.dom, p.last_end, p.last_end + 200);
        let tail = inside
            .iter()
            .rev()
            .take(4)
            .map(|l| (l, true))
            .chain(after.iter().take(8).map(|l| (l, false)));
        for ((i, line), in_body) in tail {
            if in_foreign_block(p.dom, *i, p.body, false) {
                continue;
            }
            let alone =
                in_body && line.chars().count() <= 16 && !in_foreign_block(p.dom, *i, p.body, true);
            if let Some(s) = self
                .shown_in(line)
                .into_iter()
                .find(|s| !s.foreign && ok(&s.at) && (s.labelled || alone))
            {
                return Some(s.at);
            }
        }
        for i in p.dom.by_tag("time") {
            if in_foreign_block(p.dom, i, p.body, true) {
                continue;
            }
            if let Some(d) = p
                .dom
                .elem(i)
                .and_then(|e| e.attr("datetime"))
                .and_then(|v| self.parse_date(v))
                .filter(ok)
            {
                return Some(d);
            }
        }
        if let Some(d) = from_metas(MODIFIED_KEYS) {
            return Some(d);
        }
        p.url.and_then(|u| self.url_date(u)).filter(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_common_notations() {
        let p = Patterns::new();
        let d = p.parse_date("发布时间：2023年11月20日 10:30").unwrap();
        assert_eq!(d.to_rfc3339(), "2023-11-20T10:30:00+08:00");
        let d = p.parse_date("2023-11-20T02:30:00Z").unwrap();
        assert_eq!(d.to_rfc3339(), "2023-11-20T02:30:00+00:00");
        let d = p.parse_date("2023-11-20-15:30:00").unwrap();
        assert_eq!(d.to_rfc3339(), "2023-11-20T15:30:00+08:00");
        let d = p.parse_date("2023/1/5").unwrap();
        assert_eq!(d.to_rfc3339(), "2023-01-05T00:00:00+08:00");
        let d = p.parse_date("Updated Nov. 19, 2019").unwrap();
        assert_eq!(
            d.date_naive(),
            NaiveDate::from_ymd_opt(2019, 11, 19).unwrap()
        );
        assert!(p.parse_date("2023-13-45").is_none());
    }

    #[test]
    fn url_dates() {
        let p = Patterns::new();
        let u = Url::parse("http://www.example.gov.cn/xw/202311/t20231120_123.html").unwrap();
        assert_eq!(
            p.url_date(&u).unwrap().to_rfc3339(),
            "2023-11-20T00:00:00+08:00"
        );
        let u =
            Url::parse("http://www.kepu.gov.cn/politics/2023-12/01/content_1755244.html").unwrap();
        assert_eq!(
            p.url_date(&u).unwrap().to_rfc3339(),
            "2023-12-01T00:00:00+08:00"
        );
        let u = Url::parse("http://blog.example.com/2024/05/12/post-title/").unwrap();
        assert_eq!(
            p.url_date(&u).unwrap().to_rfc3339(),
            "2024-05-12T00:00:00+08:00"
        );
        let u = Url::parse("http://example.com/about.html").unwrap();
        assert!(p.url_date(&u).is_none());
    }

    #[test]
    fn labels_before_and_words_after_a_date_mark_it() {
        let p = Patterns::new();
        let labelled = |line: &str| {
            p.shown_in(line)
                .iter()
                .map(|s| (s.at.date_naive().to_string(), s.labelled, s.foreign))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            labelled("发布时间：2024-05-12 10:00"),
            vec![("2024-05-12".into(), true, false)]
        );
        assert_eq!(
            labelled("2024-05-12 10:00 更新"),
            vec![("2024-05-12".into(), true, false)]
        );
        assert_eq!(
            labelled("2024年05月12日 科技日报 第3版"),
            vec![("2024-05-12".into(), true, false)]
        );
        assert_eq!(
            labelled("活动时间：2024-05-01 报名截止日期：2024-04-20"),
            vec![
                ("2024-05-01".into(), false, false),
                ("2024-04-20".into(), false, false)
            ]
        );
        assert_eq!(
            labelled("2024-05-12 浏览次数：35"),
            vec![("2024-05-12".into(), false, false)]
        );
        assert_eq!(
            labelled("最新推荐文章于 2024-05-07 发布"),
            vec![("2024-05-07".into(), true, true)]
        );
        assert_eq!(
            labelled("By Jane Doe | Updated Nov. 19, 2019, 10:02 a.m."),
            vec![("2019-11-19".into(), true, false)]
        );
        assert_eq!(
            labelled("Published 18 November 2019"),
            vec![("2019-11-18".into(), true, false)]
        );
        // A longer number is not a date.
        assert!(labelled("编号 120240512 与 12024-05-12").is_empty());
    }
}
