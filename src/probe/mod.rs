//! `autosync probe`: what the daemon would find on a site, shown to the
//! unit admin before the site is registered (or when it stops updating).
//!
//! Every source is fetched exactly as a poll fetches it — the one
//! [`Fetcher`] (robots.txt, the site guard, charset), the same feed and
//! list parsers, the same article extraction ([`crate::ingest`]'s
//! `obtain_with`) — but nothing touches the store, so the probe runs beside
//! a running daemon and changes nothing. For a list page it shows the block
//! the detector chose and why; the entries; and the newest entry's
//! extracted article. A source with zero entries is a failure with a hint.
//! A bare site URL (or a unit with no sources) gets the discovery's
//! suggestions, every candidate with its reason.
//!
//! [`suggest_sources`] is the discovery alone, for `import --probe`.

pub mod render;

use crate::config::{Source, SourceKind, Unit};
use crate::extract::ExtractOptions;
use crate::fetch::{self, Fetcher, Reach};
use crate::ingest::{Whose, obtain_with};
use crate::scope::SiteScope;
use crate::source::discover::{self, DiscoverError, Discovery, Kind};
use crate::source::{self, Entry, ListChoice};
use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use serde::Serialize;
use url::Url;

/// Entries shown per source, newest first as the source lists them.
pub const MAX_ENTRIES: usize = 50;
/// Lines of the newest article's text shown.
const FIRST_LINES: usize = 3;

/// Why a probe could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error("{url}: {error}")]
    Fetch { url: Url, error: String },
}

/// What a probe found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `unit ID` or the URL probed.
    pub target: String,
    pub site: Url,
    /// Times below are in this zone (`[daemon] timezone`; Asia/Shanghai
    /// without a config).
    pub timezone: String,
    /// The discovery's suggestions: for a bare site, or a unit with no
    /// sources (what the daemon would poll), or a page with no entries.
    pub discovery: Option<Discovery>,
    /// Each source probed: the unit's, or the discovery's chosen ones.
    pub sources: Vec<SourceReport>,
}

impl Report {
    /// Every source yields entries (and there is at least one source).
    pub fn ok(&self) -> bool {
        !self.sources.is_empty() && self.sources.iter().all(SourceReport::ok)
    }
}

/// One source probed.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub kind: Kind,
    pub url: Url,
    /// Where the fetch ended after redirects, when elsewhere.
    pub fetched: Option<Url>,
    pub link_selector: Option<String>,
    /// Why it could not be read (fetch, not a feed, a bad selector).
    pub error: Option<String>,
    /// A list page: the block the entries came from, and why.
    pub list: Option<ListChoice>,
    /// How many entries the source yields on the unit's site.
    pub total: usize,
    /// The first [`MAX_ENTRIES`] of them.
    pub entries: Vec<EntryView>,
    /// Entries dropped because they are off the unit's site.
    pub off_site: usize,
    /// The newest entry's article, extracted as the daemon would.
    pub newest: Option<ArticleView>,
    /// What to try when it yields nothing (Chinese, for the unit admin).
    pub hint: Option<String>,
}

impl SourceReport {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.total > 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub title: Option<String>,
    /// In the report's time zone, `YYYY-MM-DD HH:MM`; a bare date as
    /// `YYYY-MM-DD`.
    pub published_at: Option<String>,
    pub url: Url,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArticleView {
    pub url: Url,
    pub title: Option<String>,
    pub published_at: Option<String>,
    /// `来源：` as the page names it.
    pub source: Option<String>,
    pub author: Option<String>,
    /// The body's first lines.
    pub first_lines: Vec<String>,
    /// Characters of body text.
    pub chars: usize,
    pub images: Vec<Url>,
    /// Why the article could not be obtained.
    pub error: Option<String>,
}

/// Whose requests a probe makes: a unit's, or a bare URL's site.
struct Prober<'a> {
    fetcher: &'a Fetcher,
    tz: Tz,
    id: String,
    scope: SiteScope,
    extract: ExtractOptions,
}

impl Prober<'_> {
    fn reach(&self) -> Reach {
        Reach::site(&self.id, self.scope.clone())
    }

    /// A time in the report's zone; a bare date (a list's `2026-11-20`,
    /// read as midnight) as the site wrote it, since moving it to another
    /// zone would invent an hour.
    fn time(&self, t: Option<DateTime<FixedOffset>>) -> Option<String> {
        t.map(|t| {
            if t.time() == chrono::NaiveTime::MIN {
                t.format("%Y-%m-%d").to_string()
            } else {
                t.with_timezone(&self.tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            }
        })
    }

    async fn get(&self, url: &Url) -> Result<fetch::Page, String> {
        let req = fetch::Request::new(url.clone()).with_reach(self.reach());
        match self.fetcher.get(&req).await {
            Ok(fetch::Response::Ok(p)) => Ok(p),
            Ok(fetch::Response::NotModified) => Err(format!("{url}: unexpected 304")),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn discover(&self, site: &Url) -> Result<Discovery, DiscoverError> {
        discover::discover(self.fetcher, site, &self.reach(), &self.scope).await
    }

    /// Probe the discovery's chosen sources.
    async fn chosen(&self, d: &Discovery) -> Vec<SourceReport> {
        let mut out = Vec::new();
        for c in d.chosen() {
            out.push(self.source(&c.source()).await);
        }
        out
    }

    /// Fetch and read one source, and obtain its newest entry's article.
    async fn source(&self, src: &Source) -> SourceReport {
        let (kind, selector) = match &src.kind {
            SourceKind::Feed => (Kind::Feed, None),
            SourceKind::List { link_selector } => (Kind::List, link_selector.clone()),
        };
        let mut r = SourceReport {
            kind,
            url: src.url.clone(),
            fetched: None,
            link_selector: selector.clone(),
            error: None,
            list: None,
            total: 0,
            entries: Vec::new(),
            off_site: 0,
            newest: None,
            hint: None,
        };
        let page = match self.get(&src.url).await {
            Ok(p) => p,
            Err(e) => {
                r.error = Some(e);
                r.hint = Some("无法访问：请确认网址正确、网站可以从本机访问".into());
                return r;
            }
        };
        r.fetched = Some(page.url.clone()).filter(|u| *u != src.url);
        let text = page.text();
        let parsed = match kind {
            Kind::Feed => source::parse_feed(&page.body, &page.url),
            Kind::List => {
                source::explain_list(&text, &page.url, selector.as_deref()).map(|(e, choice)| {
                    r.list = Some(choice);
                    e
                })
            }
        };
        let entries = match parsed {
            Ok(e) => e,
            Err(e) => {
                r.error = Some(e.to_string());
                r.hint = Some(match kind {
                    Kind::Feed => "不是有效的订阅源：请确认这是 RSS/Atom 地址，而不是网页".into(),
                    Kind::List => "link_selector 不是有效的 CSS 选择器".into(),
                });
                return r;
            }
        };
        let (on_site, off): (Vec<Entry>, Vec<Entry>) =
            entries.into_iter().partition(|e| self.scope.allows(&e.url));
        r.off_site = off.len();
        r.total = on_site.len();
        r.entries = on_site
            .iter()
            .take(MAX_ENTRIES)
            .map(|e| EntryView {
                title: e.title.clone(),
                published_at: self.time(e.published_at),
                url: e.url.clone(),
            })
            .collect();
        if on_site.is_empty() {
            r.hint = Some(self.hint(kind, selector.as_deref(), &text, &page.url, r.off_site));
            return r;
        }
        // The newest by date; undated lists put the newest on top.
        let newest = on_site
            .iter()
            .filter(|e| e.published_at.is_some())
            .max_by_key(|e| e.published_at)
            .unwrap_or(&on_site[0]);
        r.newest = Some(self.article(newest).await);
        r
    }

    /// Why a source yielded nothing, and what to try.
    fn hint(
        &self,
        kind: Kind,
        selector: Option<&str>,
        html: &str,
        url: &Url,
        off: usize,
    ) -> String {
        if off > 0 {
            return format!(
                "{off} 条文章链接不在本单位网站上：如文章在另一域名，请在 allow_hosts 中加入该域名"
            );
        }
        if kind == Kind::Feed {
            return "订阅源中没有条目：请确认网站仍在更新这个订阅源".into();
        }
        let feeds: Vec<String> = discover::home_candidates(html, url, &self.scope)
            .candidates
            .into_iter()
            .filter(|c| c.kind == Kind::Feed)
            .map(|c| c.url.to_string())
            .collect();
        if let Some(f) = feeds.first() {
            return format!("页面声明了订阅源，可改用 feed = \"{f}\"");
        }
        match selector {
            Some(sel) => format!(
                "link_selector \"{sel}\" 没有选中任何文章链接：网站可能改版，请检查选择器"
            ),
            None => "没有识别出文章列表：请确认这是栏目的列表页（而不是首页或文章页），或用 link_selector 指定列表，如 \"ul.list a\"".into(),
        }
    }

    async fn article(&self, e: &Entry) -> ArticleView {
        // As a poll would: the fetch time bounds the publish time.
        let extract = crate::extract::ExtractOptions {
            fetched_at: Some(chrono::Utc::now().fixed_offset()),
            ..self.extract.clone()
        };
        let whose = Whose {
            id: &self.id,
            scope: self.scope.clone(),
            extract: &extract,
            budget: crate::extract::DEFAULT_EXTRACT_BUDGET,
        };
        match obtain_with(self.fetcher, &whose, e, false).await {
            Ok(c) => ArticleView {
                url: e.url.clone(),
                title: c.title,
                published_at: self.time(c.published_at),
                source: c.origin,
                author: c.author,
                first_lines: c
                    .text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .take(FIRST_LINES)
                    .map(|l| l.chars().take(120).collect())
                    .collect(),
                chars: c.text.chars().count(),
                images: c.images,
                error: None,
            },
            Err(err) => ArticleView {
                url: e.url.clone(),
                title: e.title.clone(),
                published_at: self.time(e.published_at),
                source: None,
                author: e.author.clone(),
                first_lines: Vec::new(),
                chars: 0,
                images: Vec::new(),
                error: Some(err.msg),
            },
        }
    }
}

/// Probe a configured unit: each of its sources, or — a unit bound by its
/// site — what discovery would choose, and those sources.
pub async fn probe_unit(fetcher: &Fetcher, unit: &Unit, tz: Tz) -> Result<Report, ProbeError> {
    let p = Prober {
        fetcher,
        tz,
        id: unit.id.clone(),
        scope: unit.scope(),
        extract: unit.extract.clone(),
    };
    let (discovery, sources) = if unit.sources.is_empty() {
        let d = p.discover(&unit.site).await?;
        let sources = p.chosen(&d).await;
        (Some(d), sources)
    } else {
        let mut sources = Vec::new();
        for s in &unit.sources {
            sources.push(p.source(s).await);
        }
        (None, sources)
    };
    Ok(Report {
        target: format!("unit {}", unit.id),
        site: unit.site.clone(),
        timezone: tz.to_string(),
        discovery,
        sources,
    })
}

/// Probe a URL with no config: a feed is probed as a feed; a site's home
/// page (path `/` or an index file) gets the discovery's suggestions and
/// those sources probed; any other page is probed as a list page, with the
/// suggestions of discovery when it yields nothing. Requests stay on the
/// URL's site.
pub async fn probe_url(fetcher: &Fetcher, url: &Url, tz: Tz) -> Result<Report, ProbeError> {
    let p = Prober {
        fetcher,
        tz,
        id: "probe".into(),
        scope: SiteScope::of_url(url),
        extract: ExtractOptions::default(),
    };
    let page = p.get(url).await.map_err(|error| ProbeError::Fetch {
        url: url.clone(),
        error,
    })?;
    let is_feed = source::parse_feed(&page.body, &page.url).is_ok_and(|e| !e.is_empty())
        || looks_like_feed(page.content_type.as_deref());
    let as_source = |kind| Source {
        url: url.clone(),
        kind,
        schedule: None,
    };
    let (discovery, sources) = if is_feed {
        (None, vec![p.source(&as_source(SourceKind::Feed)).await])
    } else if is_home(url) {
        let d = p.discover(url).await?;
        let sources = p.chosen(&d).await;
        (Some(d), sources)
    } else {
        let list = SourceKind::List {
            link_selector: None,
        };
        let r = p.source(&as_source(list)).await;
        let d = if r.ok() {
            None
        } else {
            Some(p.discover(url).await?)
        };
        (d, vec![r])
    };
    Ok(Report {
        target: url.to_string(),
        site: url.clone(),
        timezone: tz.to_string(),
        discovery,
        sources,
    })
}

/// The sources discovery suggests for a site (`import --probe`): the home
/// page's announced feeds, else its news sections as list pages, every
/// candidate with its verdict; [`Discovery::sources`] gives the chosen ones
/// as config sources. Requests stay on the site (its registrable domain and
/// port) and honour robots.txt, as the daemon's do.
pub async fn suggest_sources(fetcher: &Fetcher, site: &Url) -> Result<Discovery, ProbeError> {
    let scope = SiteScope::of_url(site);
    let reach = Reach::site("import", scope.clone());
    Ok(discover::discover(fetcher, site, &reach, &scope).await?)
}

/// Site discovery as `autosync import --probe` asks for it: the sources
/// discovery chooses for a site, best first, or why the site could not be
/// read.
pub struct DiscoveryFinder {
    fetcher: Fetcher,
}

impl DiscoveryFinder {
    pub fn new(fetcher: Fetcher) -> DiscoveryFinder {
        DiscoveryFinder { fetcher }
    }
}

#[async_trait::async_trait]
impl crate::import::probe::SourceFinder for DiscoveryFinder {
    async fn find(&self, site: &Url) -> Result<Vec<crate::import::probe::FoundSource>, String> {
        use crate::import::probe::FoundSource;
        let found = suggest_sources(&self.fetcher, site)
            .await
            .map_err(|e| e.to_string())?;
        Ok(found
            .chosen()
            .map(|c| match c.kind {
                discover::Kind::Feed => FoundSource::Feed(c.url.clone()),
                discover::Kind::List => FoundSource::List(c.url.clone()),
            })
            .collect())
    }
}

fn looks_like_feed(content_type: Option<&str>) -> bool {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    ["rss", "atom", "feed+json", "/xml"]
        .iter()
        .any(|k| ct.contains(k))
}

/// A site's home page: the root, or an index file at the root.
fn is_home(url: &Url) -> bool {
    let path = url.path().to_ascii_lowercase();
    path == "/"
        || ["/index.", "/default."]
            .iter()
            .any(|p| path.starts_with(p) && !path[1..].contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_pages_are_the_root_or_a_root_index_file() {
        let home = |s: &str| is_home(&Url::parse(s).unwrap());
        assert!(home("http://kx.example.cn/"));
        assert!(home("http://kx.example.cn"));
        assert!(home("http://kx.example.cn/index.html"));
        assert!(home("http://kx.example.cn/Default.aspx"));
        assert!(!home("http://kx.example.cn/xwdt/"));
        assert!(!home("http://kx.example.cn/xwdt/index.html"));
    }

    #[test]
    fn feed_content_types() {
        assert!(looks_like_feed(Some("application/rss+xml; charset=utf-8")));
        assert!(looks_like_feed(Some("text/xml")));
        assert!(!looks_like_feed(Some("text/html")));
        assert!(!looks_like_feed(None));
    }
}
