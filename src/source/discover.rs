//! Site discovery: from a unit's official website (its home page) to the
//! sources worth polling, with the reason for every candidate.
//!
//! The notice binds a unit's *website*, not a feed URL someone has to find,
//! and a thousand unit admins will not write `link_selector`s. So the home
//! page is read the way a person reads it:
//!
//! 1. **Feeds the page announces** (`<link rel="alternate"
//!    type="application/rss+xml|atom+xml|feed+json">`): the site's own
//!    statement of where its news is. Each is fetched and parsed; one that
//!    yields entries wins, and the news sections are then not needed.
//! 2. Else **the news sections**: links whose text names one (新闻动态,
//!    工作动态, 通知公告, 科协要闻, 学会动态, 要闻, 新闻中心 …). A scored
//!    rule, not a fixed list, because every CMS words its menu its own way:
//!    news words (新闻, 动态, 要闻, 资讯, 通知, 公告 …) score, known section
//!    names score more, menu furniture (首页, 联系我们, 领导 …) and long
//!    texts (article titles) do not count, a URL that looks like one article
//!    is discounted and one that looks like a column raised; a "更多>>" link
//!    takes its box's heading. Only links on the unit's site count. The
//!    best few are fetched and run through list detection
//!    ([`super::list`]); those that yield entries are kept, at most
//!    [`MAX_LISTS`], one of two that list the same articles.
//!
//! The pure half ([`home_candidates`]) turns HTML and a base URL into
//! candidates and is tested on fixtures; the async half ([`discover`])
//! fetches through the daemon's [`Fetcher`] (robots.txt, site guard,
//! charset) and gives each candidate its [`Verdict`]. Rejected candidates
//! stay in the result, so `status`, the log and `autosync probe` can say
//! why a section was not taken.
//!
//! [`Discovery::fingerprint`] hashes only the links discovery depends on
//! (announced feeds, scored sections), not the day's headlines, so the
//! daemon can tell when the home page's structure changed.

use super::{Entry, canonicalize};
use crate::config::{Source, SourceKind};
use crate::fetch::{self, Fetcher, Reach};
use crate::scope::SiteScope;
use chrono::{DateTime, FixedOffset};
use scraper::{ElementRef, Html, Selector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::LazyLock;
use url::Url;

/// At most this many section pages are fetched to validate them.
pub const MAX_SECTIONS_TRIED: usize = 6;
/// At most this many list pages are kept for a unit.
pub const MAX_LISTS: usize = 3;
/// A section link scoring below this is no news section.
pub const MIN_SECTION_SCORE: f64 = 3.0;
/// Two sources sharing this fraction of their entries list the same news.
const SAME_ENTRIES: f64 = 0.5;

/// What a candidate would be polled as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Feed,
    List,
}

/// A feed's announced format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    Rss,
    Atom,
    Json,
}

/// Why a link is a candidate at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "found", rename_all = "snake_case")]
pub enum Found {
    /// `<link rel="alternate">` on the home page.
    Announced { format: FeedFormat },
    /// A link whose text names a news section.
    Section {
        score: f64,
        /// The news words and known names its text matched.
        matched: Vec<String>,
        /// In the page's navigation menu (header, nav, a `menu` class).
        in_menu: bool,
    },
}

/// What became of a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Not fetched yet (the pure half's answer).
    Untested,
    /// Chosen: it yields entries.
    Chosen {
        entries: usize,
        newest: Option<DateTime<FixedOffset>>,
    },
    /// Not on the unit's site: the daemon may not poll it.
    OffSite,
    /// The fetch failed.
    Unreachable { error: String },
    /// Fetched, but not a feed (or a broken one).
    NotAFeed { error: String },
    /// Fetched and read, but no entries on the unit's site.
    NoEntries,
    /// Lists the same articles as a source already chosen.
    SameAs { url: Url },
    /// A feed was found: sections are not needed.
    NotNeeded,
    /// Beyond the sections tried or the lists kept.
    OverLimit,
}

impl Verdict {
    pub fn chosen(&self) -> bool {
        matches!(self, Verdict::Chosen { .. })
    }

    /// The verdict for a unit admin (Chinese).
    pub fn zh(&self) -> String {
        match self {
            Verdict::Untested => "未检验".into(),
            Verdict::Chosen { entries, newest } => format!(
                "采用：{entries} 条{}",
                newest
                    .map(|t| format!("，最新 {}", t.format("%Y-%m-%d")))
                    .unwrap_or_default()
            ),
            Verdict::OffSite => "不采用：不在本单位网站上".into(),
            Verdict::Unreachable { error } => format!("不采用：无法访问（{error}）"),
            Verdict::NotAFeed { error } => format!("不采用：不是有效的订阅源（{error}）"),
            Verdict::NoEntries => "不采用：页面上没有找到文章".into(),
            Verdict::SameAs { url } => format!("不采用：与 {url} 内容相同"),
            Verdict::NotNeeded => "未检验：已找到订阅源".into(),
            Verdict::OverLimit => "未检验：超出检验数量".into(),
        }
    }
}

impl std::fmt::Display for Verdict {
    /// The verdict for ops (logs, `status`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Untested => write!(f, "not tested"),
            Verdict::Chosen { entries, .. } => write!(f, "chosen: {entries} entries"),
            Verdict::OffSite => write!(f, "rejected: not on the unit's site"),
            Verdict::Unreachable { error } => write!(f, "rejected: unreachable: {error}"),
            Verdict::NotAFeed { error } => write!(f, "rejected: not a feed: {error}"),
            Verdict::NoEntries => write!(f, "rejected: no entries found"),
            Verdict::SameAs { url } => write!(f, "rejected: same entries as {url}"),
            Verdict::NotNeeded => write!(f, "not tested: a feed was found"),
            Verdict::OverLimit => write!(f, "not tested: over the limit"),
        }
    }
}

/// One candidate source and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub kind: Kind,
    pub url: Url,
    /// The link text (a "更多" link: its box's heading) or the feed's title.
    pub label: String,
    pub found: Found,
    pub verdict: Verdict,
}

impl Candidate {
    /// Why it is a candidate, for a unit admin (Chinese).
    pub fn why_zh(&self) -> String {
        match &self.found {
            Found::Announced { format } => {
                format!("首页声明的订阅源（{format:?}，<link rel=\"alternate\">）")
            }
            Found::Section {
                score,
                matched,
                in_menu,
            } => format!(
                "栏目链接“{}”：匹配 {}{}，得分 {score:.1}",
                self.label,
                matched.join("、"),
                if *in_menu {
                    "，位于导航菜单"
                } else {
                    ""
                }
            ),
        }
    }

    /// The source the daemon polls for it.
    pub fn source(&self) -> Source {
        Source {
            url: self.url.clone(),
            kind: match self.kind {
                Kind::Feed => SourceKind::Feed,
                Kind::List => SourceKind::List {
                    link_selector: None,
                },
            },
            schedule: None,
        }
    }
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Feed => "feed",
            Kind::List => "list",
        };
        let why = match &self.found {
            Found::Announced { format } => format!("announced on the home page ({format:?})"),
            Found::Section { score, .. } => {
                format!("section {:?} (score {score:.1})", self.label)
            }
        };
        write!(f, "{kind} {} — {why}; {}", self.url, self.verdict)
    }
}

/// What discovery found on a home page: every candidate, chosen or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    /// The site asked for.
    pub site: Url,
    /// The home page after redirects.
    pub home: Url,
    /// Hash of the links discovery depends on (module docs).
    pub fingerprint: String,
    /// Feeds first, then sections best first.
    pub candidates: Vec<Candidate>,
}

impl Discovery {
    pub fn chosen(&self) -> impl Iterator<Item = &Candidate> + '_ {
        self.candidates.iter().filter(|c| c.verdict.chosen())
    }

    /// The sources to poll: the chosen candidates.
    pub fn sources(&self) -> Vec<Source> {
        self.chosen().map(Candidate::source).collect()
    }
}

/// Why discovery found nothing to look at.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("site {site}: home page: {error}")]
    Home { site: Url, error: String },
}

/// The home page's candidates, untested: the pure half of [`discover`].
#[derive(Debug, Clone, PartialEq)]
pub struct Home {
    pub candidates: Vec<Candidate>,
    pub fingerprint: String,
}

static LINK_ALT: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("link[rel][href]").expect("static selector"));
static A_HREF: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("a[href]").expect("static selector"));

/// The candidates on a home page: announced feeds (off-site ones marked
/// [`Verdict::OffSite`]), then news sections best first, those past
/// [`MAX_SECTIONS_TRIED`] marked [`Verdict::OverLimit`]. `scope` is the
/// unit's site: what it may poll.
pub fn home_candidates(html: &str, page_url: &Url, scope: &SiteScope) -> Home {
    let doc = Html::parse_document(&crate::extract::tame::for_html5ever(html));
    let base = super::list::base_of(&doc, page_url);
    let verdict = |url: &Url| {
        if scope.allows(url) {
            Verdict::Untested
        } else {
            Verdict::OffSite
        }
    };
    let mut out: Vec<Candidate> = Vec::new();
    for link in doc.select(&LINK_ALT) {
        let rel = link.attr("rel").unwrap_or("").to_ascii_lowercase();
        if !rel.split_ascii_whitespace().any(|t| t == "alternate") {
            continue;
        }
        let Some(format) = feed_format(link.attr("type").unwrap_or("")) else {
            continue;
        };
        let Some(url) = link.attr("href").and_then(|h| absolute(&base, h)) else {
            continue;
        };
        if out.iter().any(|c| c.url == url) {
            continue;
        }
        out.push(Candidate {
            kind: Kind::Feed,
            verdict: verdict(&url),
            url,
            label: link.attr("title").map(collapse).unwrap_or_default(),
            found: Found::Announced { format },
        });
    }
    let home_key = column_key(&canonicalize(page_url));
    let mut sections: Vec<(Candidate, usize)> = Vec::new();
    for a in doc.select(&A_HREF) {
        let Some(url) = a.attr("href").and_then(|h| absolute(&base, h)) else {
            continue;
        };
        let url = canonicalize(&url);
        if column_key(&url) == home_key || url.path() == "/" || is_file(&url) {
            continue;
        }
        let text = collapse(&a.text().collect::<String>());
        let label = if is_more(&text) {
            match heading_of(a) {
                Some(h) => h,
                None => continue,
            }
        } else {
            text
        };
        let Some((score, matched)) = section_score(&label, &url) else {
            continue;
        };
        let in_menu = in_menu(a);
        match sections
            .iter_mut()
            .find(|(c, _)| column_key(&c.url) == column_key(&url))
        {
            // Linked again (menu and a "更多" link): one candidate, a
            // little surer.
            Some((c, times)) => {
                *times += 1;
                if let Found::Section {
                    score: s,
                    in_menu: m,
                    matched: mm,
                } = &mut c.found
                {
                    if score > *s {
                        *s = score;
                        *mm = matched;
                        c.label = label;
                    }
                    *m |= in_menu;
                }
            }
            None => sections.push((
                Candidate {
                    kind: Kind::List,
                    verdict: verdict(&url),
                    url,
                    label,
                    found: Found::Section {
                        score,
                        matched,
                        in_menu,
                    },
                },
                1,
            )),
        }
    }
    let mut sections: Vec<Candidate> = sections
        .into_iter()
        .map(|(mut c, times)| {
            if let Found::Section { score, .. } = &mut c.found {
                *score += 0.5 * (times.min(3) - 1) as f64;
            }
            c
        })
        .filter(|c| section_of(c) >= MIN_SECTION_SCORE)
        .collect();
    sections.sort_by(|a, b| section_of(b).total_cmp(&section_of(a)));
    let mut tried = 0;
    for c in &mut sections {
        if c.verdict == Verdict::Untested {
            tried += 1;
            if tried > MAX_SECTIONS_TRIED {
                c.verdict = Verdict::OverLimit;
            }
        }
    }
    out.extend(sections);
    let fingerprint = fingerprint(&out);
    Home {
        candidates: out,
        fingerprint,
    }
}

fn section_of(c: &Candidate) -> f64 {
    match c.found {
        Found::Section { score, .. } => score,
        Found::Announced { .. } => f64::MAX,
    }
}

/// Hash of what discovery depends on: the feeds' URLs and the sections'
/// URLs and labels, in a stable order.
fn fingerprint(cands: &[Candidate]) -> String {
    let mut lines: Vec<String> = cands
        .iter()
        .map(|c| format!("{:?}\t{}\t{}", c.kind, c.url, c.label))
        .collect();
    lines.sort();
    let digest = Sha256::digest(lines.join("\n").as_bytes());
    hex::encode(&digest[..8])
}

fn feed_format(ty: &str) -> Option<FeedFormat> {
    let ty = ty.trim().to_ascii_lowercase();
    let ty = ty.split(';').next().unwrap_or("").trim();
    match ty {
        "application/rss+xml" | "application/rdf+xml" => Some(FeedFormat::Rss),
        "application/atom+xml" => Some(FeedFormat::Atom),
        "application/feed+json" | "application/json+feed" => Some(FeedFormat::Json),
        _ => None,
    }
}

fn absolute(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim();
    let lower = href.to_ascii_lowercase();
    if href.is_empty() || href.starts_with('#') || lower.starts_with("javascript:") {
        return None;
    }
    base.join(href)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A column's URL without its index file: `/xwdt/` and `/xwdt/index.html`
/// are one section.
fn column_key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    let path = u.path().to_string();
    let last = path.rsplit('/').next().unwrap_or("");
    let lower = last.to_ascii_lowercase();
    if ["index.", "default."].iter().any(|p| lower.starts_with(p)) {
        u.set_path(&path[..path.len() - last.len()]);
    }
    u.to_string()
}

fn is_file(url: &Url) -> bool {
    let last = url
        .path()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    [
        ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".zip", ".rar", ".jpg", ".png", ".gif", ".mp4",
    ]
    .iter()
    .any(|e| last.ends_with(e))
}

/// "更多", "more>>", "查看更多 »": a link that stands for its box.
fn is_more(text: &str) -> bool {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !"+>»›》＞.…".contains(*c))
        .collect::<String>()
        .to_lowercase();
    matches!(t.as_str(), "更多" | "查看更多" | "more" | "更多内容" | "")
}

/// The heading of the box a "更多" link sits in: the short text of a
/// nearby element that is not the link itself.
fn heading_of(a: ElementRef) -> Option<String> {
    let own = collapse(&a.text().collect::<String>());
    for anc in a.ancestors().filter_map(ElementRef::wrap).take(3) {
        let text = collapse(&anc.text().collect::<String>());
        let text = collapse(&text.replacen(&own, "", 1));
        let n = text.chars().count();
        if n > 12 {
            return None;
        }
        if n >= 2 {
            return Some(text);
        }
    }
    None
}

fn in_menu(a: ElementRef) -> bool {
    a.ancestors().filter_map(ElementRef::wrap).take(6).any(|e| {
        let v = e.value();
        matches!(v.name(), "nav" | "header")
            || [v.id(), v.attr("class")]
                .into_iter()
                .flatten()
                .map(str::to_ascii_lowercase)
                .any(|s| s.contains("nav") || s.contains("menu"))
    })
}

/// News words in section names, with their weight. A section needs at
/// least one word of weight ≥ 2 (a news word, not only 工作 or 科协).
const NEWS_WORDS: &[(&str, f64)] = &[
    ("新闻", 3.0),
    ("动态", 3.0),
    ("要闻", 3.0),
    ("资讯", 2.5),
    ("快讯", 2.5),
    ("时讯", 2.5),
    ("简讯", 2.5),
    ("通知", 2.0),
    ("公告", 2.0),
    ("头条", 2.0),
    ("news", 3.0),
    ("信息", 1.0),
    ("活动", 1.0),
    ("工作", 0.5),
    ("科协", 0.5),
    ("学会", 0.5),
    ("基层", 0.5),
    ("地方", 0.5),
];

/// Names the association's sites use for their news columns.
const KNOWN_SECTIONS: &[&str] = &[
    "新闻动态",
    "工作动态",
    "通知公告",
    "科协要闻",
    "学会动态",
    "要闻",
    "动态",
    "新闻中心",
    "新闻资讯",
    "工作信息",
    "基层动态",
    "地方科协",
    "科协动态",
];

/// Menu entries that are never a news list, whatever else they say.
const NOT_SECTIONS: &[&str] = &[
    "首页",
    "联系",
    "关于",
    "简介",
    "概况",
    "领导",
    "机构",
    "章程",
    "登录",
    "注册",
    "下载",
    "搜索",
    "留言",
    "信箱",
    "地图",
    "english",
    "订阅",
    "rss",
    "客户端",
    "协议",
    "声明",
    "《",
    "app",
];

/// Menu entries that are lists, but seldom of articles to post.
const WEAK_SECTIONS: &[&str] = &["视频", "专题", "图片", "招聘", "招标"];

/// Whether a link text (and its URL) names a news section, and how surely.
fn section_score(label: &str, url: &Url) -> Option<(f64, Vec<String>)> {
    let name: String = label
        .chars()
        .filter(|c| !c.is_whitespace() && !"+>»›》＞·|│".contains(*c))
        .collect::<String>()
        .to_lowercase();
    let n = name.chars().count();
    // Section names are short; a long text is an article's title.
    if !(2..=10).contains(&n) || NOT_SECTIONS.iter().any(|w| name.contains(w)) {
        return None;
    }
    let mut matched = Vec::new();
    let mut score = 0.0;
    let mut strong = false;
    for (w, weight) in NEWS_WORDS {
        if name.contains(w) {
            score += weight;
            strong |= *weight >= 2.0;
            matched.push(w.to_string());
        }
    }
    if !strong {
        return None;
    }
    if KNOWN_SECTIONS.contains(&name.as_str()) {
        score += 2.0;
        matched.push(format!("栏目名“{name}”"));
    }
    if WEAK_SECTIONS.iter().any(|w| name.contains(w)) {
        score *= 0.4;
    }
    // A link to one article (`/2023/11/t20231120_123.html`) is a headline
    // that happens to say 动态, not the column.
    let last = url.path().rsplit('/').next().unwrap_or("");
    let long_digits = last
        .split(|c: char| !c.is_ascii_digit())
        .any(|d| d.len() >= 5);
    if long_digits {
        score *= 0.3;
    } else if last.is_empty()
        || last.to_ascii_lowercase().starts_with("index")
        || ["list", "column", "channel", "node", "col"]
            .iter()
            .any(|k| url.as_str().to_ascii_lowercase().contains(k))
    {
        score *= 1.2;
    }
    Some((score, matched))
}

/// Discover a site's sources: fetch its home page through `fetcher` with
/// `reach` (the unit's), collect [`home_candidates`] within `scope`, and
/// test them: announced feeds first, then, when no feed yields entries,
/// the news sections as list pages.
///
/// Fails only when the home page itself cannot be read; a candidate that
/// fails is a rejected candidate in the result.
pub async fn discover(
    fetcher: &Fetcher,
    site: &Url,
    reach: &Reach,
    scope: &SiteScope,
) -> Result<Discovery, DiscoverError> {
    let page = match get(fetcher, site, reach).await {
        Ok(p) => p,
        Err(error) => {
            return Err(DiscoverError::Home {
                site: site.clone(),
                error,
            });
        }
    };
    let home = home_candidates(&page.text(), &page.url, scope);
    let mut cands = home.candidates;
    // Entry URLs of the chosen sources, to drop one that lists the same.
    let mut chosen: Vec<(Url, HashSet<Url>)> = Vec::new();
    for kind in [Kind::Feed, Kind::List] {
        if kind == Kind::List && !chosen.is_empty() {
            for c in cands.iter_mut().filter(|c| c.kind == Kind::List) {
                if matches!(c.verdict, Verdict::Untested | Verdict::OverLimit) {
                    c.verdict = Verdict::NotNeeded;
                }
            }
            break;
        }
        for c in cands.iter_mut().filter(|c| c.kind == kind) {
            if c.verdict != Verdict::Untested {
                continue;
            }
            if kind == Kind::List && chosen.len() >= MAX_LISTS {
                c.verdict = Verdict::OverLimit;
                continue;
            }
            let entries = match test(fetcher, c, reach).await {
                Ok(e) => e,
                Err(v) => {
                    c.verdict = v;
                    continue;
                }
            };
            let entries: Vec<Entry> = entries
                .into_iter()
                .filter(|e| scope.allows(&e.url))
                .collect();
            if entries.is_empty() {
                c.verdict = Verdict::NoEntries;
                continue;
            }
            let urls: HashSet<Url> = entries.iter().map(|e| e.url.clone()).collect();
            if let Some((same, _)) = chosen.iter().find(|(_, other)| {
                urls.intersection(other).count() as f64 >= SAME_ENTRIES * urls.len() as f64
            }) {
                c.verdict = Verdict::SameAs { url: same.clone() };
                continue;
            }
            c.verdict = Verdict::Chosen {
                entries: entries.len(),
                newest: entries.iter().filter_map(|e| e.published_at).max(),
            };
            chosen.push((c.url.clone(), urls));
        }
    }
    Ok(Discovery {
        site: site.clone(),
        home: page.url,
        fingerprint: home.fingerprint,
        candidates: cands,
    })
}

/// The fingerprint of a site's home page now (one fetch), to compare with
/// a recorded [`Discovery::fingerprint`].
pub async fn home_fingerprint(
    fetcher: &Fetcher,
    site: &Url,
    reach: &Reach,
    scope: &SiteScope,
) -> Result<String, DiscoverError> {
    let page = get(fetcher, site, reach)
        .await
        .map_err(|error| DiscoverError::Home {
            site: site.clone(),
            error,
        })?;
    Ok(home_candidates(&page.text(), &page.url, scope).fingerprint)
}

async fn get(fetcher: &Fetcher, url: &Url, reach: &Reach) -> Result<fetch::Page, String> {
    let req = fetch::Request::new(url.clone()).with_reach(reach.clone());
    match fetcher.get(&req).await {
        Ok(fetch::Response::Ok(p)) => Ok(p),
        Ok(fetch::Response::NotModified) => Err(format!("{url}: unexpected 304")),
        Err(e) => Err(e.to_string()),
    }
}

/// Fetch a candidate and read it as what it claims to be.
async fn test(fetcher: &Fetcher, c: &Candidate, reach: &Reach) -> Result<Vec<Entry>, Verdict> {
    let page = get(fetcher, &c.url, reach)
        .await
        .map_err(|error| Verdict::Unreachable { error })?;
    match c.kind {
        Kind::Feed => super::parse_feed(&page.body, &page.url).map_err(|e| Verdict::NotAFeed {
            error: e.to_string(),
        }),
        Kind::List => super::list::parse_list(&page.text(), &page.url, None).map_err(|e| {
            Verdict::Unreachable {
                error: e.to_string(),
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn home(html: &str) -> Home {
        let site = u("https://www.kx.example.cn/");
        home_candidates(html, &site, &SiteScope::of_url(&site))
    }

    fn labels(h: &Home, kind: Kind) -> Vec<String> {
        h.candidates
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.label.clone())
            .collect()
    }

    #[test]
    fn announced_rss_and_atom_are_feed_candidates_and_off_site_ones_rejected() {
        let h = home(
            r#"<html><head>
            <link rel="alternate" type="application/rss+xml" title="新闻 RSS" href="/rss.xml">
            <link rel="Alternate" type="application/atom+xml; charset=utf-8" href="https://news.kx.example.cn/atom.xml">
            <link rel="alternate" type="application/rss+xml" href="https://feeds.other.example.com/kx">
            <link rel="alternate" hreflang="en" href="/en/">
            <link rel="stylesheet" type="text/css" href="/a.css">
            </head><body></body></html>"#,
        );
        let feeds: Vec<_> = h
            .candidates
            .iter()
            .filter(|c| c.kind == Kind::Feed)
            .collect();
        assert_eq!(feeds.len(), 3, "{feeds:?}");
        assert_eq!(feeds[0].url.as_str(), "https://www.kx.example.cn/rss.xml");
        assert_eq!(feeds[0].label, "新闻 RSS");
        assert_eq!(
            feeds[1].found,
            Found::Announced {
                format: FeedFormat::Atom
            }
        );
        assert_eq!(
            feeds[1].verdict,
            Verdict::Untested,
            "same registrable domain"
        );
        assert_eq!(feeds[2].verdict, Verdict::OffSite);
    }

    #[test]
    fn news_sections_score_and_menu_furniture_and_headlines_do_not() {
        let h = home(
            r#"<div class="nav"><a href="/">首页</a><a href="/gywm/">关于我们</a>
            <a href="/xwdt/">新闻动态</a><a href="/tzgg/index.html">通知公告</a>
            <a href="/zzjg/">组织机构</a><a href="/kpzy/">科普资源</a><a href="/sp/">视频新闻</a></div>
            <ul><li><a href="/xwdt/202611/t20261120_12345.html">省科协召开全省学会工作动态交流会</a></li>
            <li><a href="/xwdt/202611/t20261121_12346.html">工作动态</a></li></ul>
            <a href="https://www.other.example.com/news/">新闻中心</a>
            <a href="/app/">新闻客户端</a><a href="/xy/">《新闻评论服务协议》</a>"#,
        );
        let lists = labels(&h, Kind::List);
        assert_eq!(lists[..2], ["新闻动态", "通知公告"], "{lists:?}");
        assert!(!lists.iter().any(|l| l == "关于我们" || l == "科普资源"));
        assert!(!lists.iter().any(|l| l.contains("交流会")), "a headline");
        // A link to one article that happens to be titled like a section.
        assert!(!lists.iter().any(|l| l == "工作动态"), "{lists:?}");
        let off = h.candidates.iter().find(|c| c.label == "新闻中心").unwrap();
        assert_eq!(off.verdict, Verdict::OffSite);
        assert!(
            !lists.iter().any(|l| l == "视频新闻"),
            "seldom articles to post"
        );
        assert!(
            !lists
                .iter()
                .any(|l| l.contains("客户端") || l.contains("协议"))
        );
    }

    #[test]
    fn a_more_link_takes_its_boxes_heading_and_repeated_links_are_one_candidate() {
        let h = home(
            r#"<div class="box"><div class="hd"><span>学会动态</span><a href="/xhdt/">更多&gt;&gt;</a></div>
            <ul><li><a href="/xhdt/1.html">一</a></li></ul></div>
            <ul class="menu"><li><a href="/xhdt/index.html">学会动态</a></li></ul>"#,
        );
        let c: Vec<_> = h
            .candidates
            .iter()
            .filter(|c| c.kind == Kind::List)
            .collect();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].label, "学会动态");
        let Found::Section { in_menu, .. } = &c[0].found else {
            panic!()
        };
        assert!(in_menu);
    }

    #[test]
    fn fingerprint_ignores_the_days_headlines_but_not_the_sections() {
        let page = |headline: &str, section: &str| {
            format!(
                r#"<a href="/xwdt/">{section}</a><ul><li><a href="/xwdt/t1_{headline}.html">{headline}</a></li></ul>"#
            )
        };
        let a = home(&page("12345", "新闻动态")).fingerprint;
        assert_eq!(a, home(&page("99999", "新闻动态")).fingerprint);
        assert_ne!(a, home(&page("12345", "工作动态")).fingerprint);
    }

    #[test]
    fn sections_past_the_limit_are_not_tried() {
        let links: String = (0..MAX_SECTIONS_TRIED + 2)
            .map(|i| format!(r#"<a href="/c{i}/">新闻{i}</a>"#))
            .collect();
        let h = home(&links);
        let over = h
            .candidates
            .iter()
            .filter(|c| c.verdict == Verdict::OverLimit)
            .count();
        assert_eq!(over, 2);
    }
}
