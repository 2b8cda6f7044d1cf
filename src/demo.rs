//! `autosync demo`: a whole pass with no network. It starts a sample website
//! (a GBK TRS-style list page, GBK and UTF-8 article pages, an RSS feed) and
//! a mock toutiao account on loopback ports, runs one pass and prints what
//! was published and where the store is.
//!
//! The sample site is also what the README's first command shows a new user,
//! so it looks like the real thing: TRS paths, gb2312 labels on GBK bytes
//! (with GBK-only characters), navigation, sidebars and a footer to skip.

use crate::clock::SystemClock;
use crate::config;
use crate::pipeline::{self, Context};
use crate::publish::toutiao_mock;
use axum::Router;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A 2×2 PNG, for article images.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a,
    0x73, 0x00, 0x00, 0x00, 0x16, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x9f, 0x81, 0xe1, 0x3f, 0x03, 0xc3, 0x7f, 0x06, 0x00, 0x1d, 0xf0, 0x03, 0xfd, 0x9a, 0x4c, 0x58,
    0x8a, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// One article of the sample site.
#[derive(Debug, Clone)]
pub struct SampleArticle {
    pub path: &'static str,
    pub title: &'static str,
    pub date: &'static str,
    pub body: &'static str,
}

/// An article added at run time (tests add one to see exactly one new post).
#[derive(Debug, Clone)]
pub struct OwnedArticle {
    pub path: String,
    pub title: String,
    pub date: String,
    pub body: String,
}

impl From<&SampleArticle> for OwnedArticle {
    fn from(a: &SampleArticle) -> Self {
        OwnedArticle {
            path: a.path.into(),
            title: a.title.into(),
            date: a.date.into(),
            body: a.body.into(),
        }
    }
}

/// A fault the sample site can be told to serve at a path, for tests of bad
/// input.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status code.
    Status(u16),
    /// A body of this many bytes (an oversized page).
    Huge(usize),
    /// This body, as text/html or XML.
    Body(&'static str, String),
    /// A redirect with this status (301, 302, 308) to this location.
    Redirect(u16, String),
}

#[derive(Debug, Default)]
struct SiteState {
    list: Vec<OwnedArticle>,
    feed: Vec<OwnedArticle>,
    faults: std::collections::HashMap<String, Fault>,
}

/// The sample website. Cheap to clone; all clones share one state.
#[derive(Debug, Clone)]
pub struct SampleSite {
    state: Arc<std::sync::RwLock<SiteState>>,
}

impl Default for SampleSite {
    fn default() -> Self {
        Self::new()
    }
}

impl SampleSite {
    /// The built-in sample content.
    pub fn new() -> Self {
        SampleSite {
            state: Arc::new(std::sync::RwLock::new(SiteState {
                list: LIST_ARTICLES.iter().map(OwnedArticle::from).collect(),
                feed: FEED_ARTICLES.iter().map(OwnedArticle::from).collect(),
                faults: Default::default(),
            })),
        }
    }

    /// Put a new article on top of the GBK list page.
    pub fn add_list_article(&self, a: OwnedArticle) {
        self.state.write().expect("site lock").list.insert(0, a);
    }

    /// Put a new article on top of the RSS feed (its page is served too).
    pub fn add_feed_article(&self, a: OwnedArticle) {
        self.state.write().expect("site lock").feed.insert(0, a);
    }

    /// Serve `fault` at `path` from now on (`None` clears it).
    pub fn set_fault(&self, path: &str, fault: Option<Fault>) {
        let mut st = self.state.write().expect("site lock");
        match fault {
            Some(f) => st.faults.insert(path.to_string(), f),
            None => st.faults.remove(path),
        };
    }

    /// Serve the site on `listener` until `shutdown`.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let base = format!("http://{}", listener.local_addr()?);
        let app = Router::new()
            .route("/{*path}", get(sample_page))
            .with_state((Arc::new(base), self.clone()));
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    }
}

/// The GBK list page's articles, newest first.
pub const LIST_ARTICLES: &[SampleArticle] = &[
    SampleArticle {
        path: "/xwzx/202611/t20261120_1003.html",
        title: "省科协召开全省学会工作会议",
        date: "2026-11-20",
        body: "<p>11月20日，省科协在省会召开全省学会工作会议，总结今年以来学会工作，部署下一阶段重点任务。</p><p>会议指出，要发挥学会联系广泛、人才荟萃的优势，推动学会在服务科技工作者、服务创新驱动发展中发挥更大作用。朱镕基同志关于科技工作的论述被多次提及。</p><p><img src=\"../../images/meeting.png\" alt=\"会议现场\"></p><p>各市科协、省级学会负责同志参加会议。</p>",
    },
    SampleArticle {
        path: "/xwzx/202611/t20261118_1002.html",
        title: "“科技之春”科普宣传月活动启动",
        date: "2026-11-18",
        body: "<p>11月18日，“科技之春”科普宣传月活动在省科技馆启动。活动为期一个月，将开展科普讲座、科技展览、科普进校园等系列活动。</p><p>启动仪式上，张喆研究员为青少年作了题为《身边的科学》的科普报告，现场气氛热烈。</p><p><img src=\"/images/kepu.png\"></p>",
    },
    SampleArticle {
        path: "/xwzx/202611/t20261115_1001.html",
        title: "省科协举办科技工作者座谈会",
        date: "2026-11-15",
        body: "<p>11月15日，省科协举办科技工作者座谈会，来自高校、科研院所和企业的二十余位科技工作者代表参加座谈。</p><p>与会代表围绕科技成果转化、青年人才培养等问题踊跃发言，提出了许多有价值的意见和建议。</p>",
    },
];

/// The feed's articles: one with full `content:encoded`, one with a summary
/// only (its page is fetched).
pub const FEED_ARTICLES: &[SampleArticle] = &[
    SampleArticle {
        path: "/kpzx/2026-11/21/content_2002.htm",
        title: "市科协开展“科普进社区”活动",
        date: "2026-11-21",
        body: "<p>近日，市科协组织科普志愿者走进城区十个社区，开展以“健康生活、科学防病”为主题的科普进社区活动。</p><p>志愿者们通过展板展示、现场讲解、发放资料等形式，向居民普及健康知识，受到居民欢迎。</p>",
    },
    SampleArticle {
        path: "/kpzx/2026-11/19/content_2001.htm",
        title: "市青少年科技创新大赛圆满落幕",
        date: "2026-11-19",
        body: "<p>11月19日，第二十届市青少年科技创新大赛在市科技馆落下帷幕。本届大赛共收到参赛作品六百余件。</p><p>经过专家评审，共评出一等奖三十项、二等奖六十项、三等奖九十项。获奖作品将推荐参加省级比赛。</p><p><img data-src=\"/images/contest.png\" src=\"/images/loading.gif\"></p>",
    },
];

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

fn trs_article(a: &OwnedArticle) -> String {
    format!(
        r##"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>{title}_科协要闻_示例省科学技术协会</title>
<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{date} 09:30">
<meta name="ContentSource" content="示例省科协"></head>
<body><div class="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/xwzx/">新闻中心</a></li><li><a href="/kpzx/">科普资讯</a></li></ul></div>
<div class="main"><div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/xwzx/">科协要闻</a></div>
<div class="article"><h1>{title}</h1><div class="info">发布时间：{date} 09:30　来源：示例省科协　作者：宣传部</div>
<div class="TRS_Editor">{body}</div>
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a></div>
<div class="pager"><p>上一篇：<a href="./t20261101_900.html">上一篇文章标题</a></p><p>下一篇：<a href="./t20261102_901.html">下一篇文章标题</a></p></div></div></div>
<div class="footer"><p>版权所有：示例省科学技术协会　地址：示例市科技路1号</p></div></body></html>"##,
        title = a.title,
        date = a.date,
        body = a.body
    )
}

fn list_page(list: &[OwnedArticle]) -> String {
    let items: String = list
        .iter()
        .map(|a| {
            format!(
                "<li><a href=\".{}\" title=\"{t}\" target=\"_blank\">{t}</a><span>{}</span></li>\n",
                a.path.trim_start_matches("/xwzx"),
                a.date,
                t = a.title
            )
        })
        .collect();
    format!(
        r#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><title>科协要闻_示例省科学技术协会</title></head>
<body><div class="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/xwzx/">科协要闻</a></li><li><a href="/kpzx/">科普资讯</a></li><li><a href="/zwgk/">政务公开</a></li></ul></div>
<div class="left"><h3>热点排行</h3><ul><li><a href="/xwzx/202610/t20261001_800.html">国庆假期全省科技馆接待观众创新高</a></li><li><a href="/xwzx/202609/t20260901_700.html">全国科普日活动掠影</a></li></ul></div>
<div class="right"><div class="title">科协要闻</div><ul class="list">
{items}</ul>
<div class="page"><a href="index.html">首页</a> <a href="index_1.html">下一页</a> <a href="index_9.html">尾页</a></div></div>
<div class="footer"><a href="/attach/2026/guide.pdf">办事指南下载</a> 版权所有：示例省科学技术协会</div></body></html>"#
    )
}

fn utf8_article(a: &OwnedArticle) -> String {
    format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title} - 示例市科协</title>
<meta property="og:title" content="{title}"><meta property="article:published_time" content="{date}T10:00:00+08:00"></head>
<body><nav><a href="/">首页</a> <a href="/kpzx/">科普资讯</a></nav><main><article><h1>{title}</h1>
<p class="meta">时间：{date} 10:00 来源：示例市科协</p><div class="article-content">{body}</div></article>
<aside><h3>相关阅读</h3><ul><li><a href="/kpzx/2026-10/01/content_1900.htm">往期活动回顾</a></li></ul></aside></main>
<footer>Copyright © 示例市科学技术协会 版权所有</footer></body></html>"#,
        title = a.title,
        date = a.date,
        body = a.body
    )
}

fn feed(base: &str, articles: &[OwnedArticle]) -> String {
    let mut items = String::new();
    for (i, a) in articles.iter().enumerate() {
        let link = format!("{base}{}", a.path);
        let content = if i == 0 {
            format!(
                "<content:encoded><![CDATA[{}]]></content:encoded>",
                a.body.replace("src=\"/", &format!("src=\"{base}/"))
            )
        } else {
            String::new()
        };
        items.push_str(&format!(
            "<item><title>{}</title><link>{link}</link><guid>{link}</guid><pubDate>{}</pubDate><description>{}</description>{content}</item>\n",
            a.title,
            rfc822(&a.date),
            "活动简讯"
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>示例市科协</title><link>{base}/</link><description>示例市科学技术协会</description>
{items}</channel></rss>"#
    )
}

fn rfc822(date: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| format!("{} 10:00:00 +0800", d.format("%a, %d %b %Y")))
        .unwrap_or_default()
}

fn html_gbk(body: String) -> Response {
    let mut h = HeaderMap::new();
    // Like many CMS servers: no charset in the header, the page says gb2312.
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    (h, gbk(&body)).into_response()
}

fn html_utf8(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn sample_page(
    State((base, site)): State<(Arc<String>, SampleSite)>,
    AxPath(path): AxPath<String>,
) -> Response {
    let path = format!("/{path}");
    let st = site.state.read().expect("site lock");
    if let Some(f) = st.faults.get(&path) {
        return match f {
            Fault::Status(code) => StatusCode::from_u16(*code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
            Fault::Huge(n) => {
                let mut body = b"<html><body><p>".to_vec();
                body.resize(*n, b'x');
                ([(header::CONTENT_TYPE, "text/html")], body).into_response()
            }
            Fault::Body(ct, body) => ([(header::CONTENT_TYPE, *ct)], body.clone()).into_response(),
            Fault::Redirect(code, to) => (
                StatusCode::from_u16(*code).unwrap_or(StatusCode::MOVED_PERMANENTLY),
                [(header::LOCATION, to.clone())],
            )
                .into_response(),
        };
    }
    if path == "/robots.txt" {
        return "User-agent: *\nDisallow: /admin/\n".into_response();
    }
    if path == "/xwzx/" || path == "/xwzx/index.html" {
        return html_gbk(list_page(&st.list));
    }
    // The feed also lives at a second address, for tests of a moved feed.
    if path == "/rss.xml" || path == "/feeds/news.xml" {
        return (
            [(header::CONTENT_TYPE, "application/rss+xml")],
            feed(&base, &st.feed),
        )
            .into_response();
    }
    if path.starts_with("/images/") && path.ends_with(".png") {
        return ([(header::CONTENT_TYPE, "image/png")], PNG).into_response();
    }
    if let Some(a) = st.list.iter().find(|a| a.path == path) {
        return html_gbk(trs_article(a));
    }
    if let Some(a) = st.feed.iter().find(|a| a.path == path) {
        return html_utf8(utf8_article(a));
    }
    (StatusCode::NOT_FOUND, "404 Not Found").into_response()
}

/// The demo's config: a province reading the GBK list page and a city
/// reading the feed, both of the site at `site`, publishing to the accounts
/// at `province` and `city` (tests may pass one account for both).
pub fn demo_config(
    state_dir: &std::path::Path,
    site: SocketAddr,
    province: SocketAddr,
    city: SocketAddr,
) -> String {
    format!(
        r#"[daemon]
state_dir = "{state}"

[fetch]
host_delay_ms = 0

[[unit]]
id = "demo-province"
account_name = "示例省科协"
org_name = "示例省科学技术协会"
level = "provincial"
site = "http://{site}/"
backfill = 10
  [[unit.source]]
  list = "http://{site}/xwzx/"
  [unit.publisher]
  kind = "toutiao"
  base_url = "http://{province}"
  cookie_file = "cookie"

[[unit]]
id = "demo-city"
account_name = "示例市科协"
org_name = "示例市科学技术协会"
level = "city"
parent = "demo-province"
site = "http://{site}/"
backfill = 10
  [[unit.source]]
  feed = "http://{site}/rss.xml"
  [unit.publisher]
  kind = "toutiao"
  base_url = "http://{city}"
  cookie_file = "cookie"
"#,
        state = state_dir.display().to_string().replace('\\', "/")
    )
}

/// Run the demo, printing to `out`.
pub async fn run(out: &mut dyn Write) -> anyhow::Result<()> {
    let dir: PathBuf = std::env::temp_dir().join(format!("autosync-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let shutdown = CancellationToken::new();
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let site_addr = site.local_addr()?;
    let sample = SampleSite::new();
    let sd = shutdown.clone();
    tokio::spawn(async move { sample.serve(site, sd).await });
    // Two accounts, as in the matrix: the province's and the city's.
    let mut accounts = Vec::new();
    for (name, display) in [("province", "示例省科协"), ("city", "示例市科协")] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        accounts.push((listener.local_addr()?, dir.join(format!("account-{name}"))));
        let opts = toutiao_mock::MockOptions {
            data_dir: dir.join(format!("account-{name}")),
            display_name: display.to_string(),
            ..Default::default()
        };
        tokio::spawn(toutiao_mock::serve(listener, opts, shutdown.clone()));
    }
    std::fs::write(
        dir.join("cookie"),
        "sessionid=demo-session; csrftoken=demo-csrf",
    )?;
    let cfg_path = dir.join("autosync.toml");
    std::fs::write(
        &cfg_path,
        demo_config(&dir.join("state"), site_addr, accounts[0].0, accounts[1].0),
    )?;
    let cfg = config::load(&cfg_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    writeln!(
        out,
        "sample website: http://{site_addr}/  (GBK list page /xwzx/, RSS /rss.xml)"
    )?;
    writeln!(
        out,
        "mock accounts:  http://{}/ (示例省科协), http://{}/ (示例市科协)",
        accounts[0].0, accounts[1].0
    )?;
    writeln!(out, "config:         {}", cfg_path.display())?;
    writeln!(out)?;

    let ctx =
        Context::open(&cfg, Arc::new(SystemClock), shutdown.clone()).map_err(anyhow::Error::msg)?;
    let reports = pipeline::run_pass(&ctx, &cfg, None).await;
    for r in &reports {
        write!(out, "{r}")?;
    }
    ctx.store.flush().await?;
    writeln!(out)?;
    writeln!(out, "store: {}", ctx.store.path().display())?;
    for (addr, data) in &accounts {
        let posts = toutiao_mock::load_articles(data);
        writeln!(
            out,
            "account at http://{addr}/ now shows {} post(s) (data: {}):",
            posts.len(),
            data.display()
        )?;
        for p in posts {
            writeln!(out, "    {} {}", p.pgc_id, p.title)?;
        }
    }
    shutdown.cancel();
    if reports.iter().any(|r| !r.ok()) {
        anyhow::bail!("the demo pass had failures (see above)");
    }
    Ok(())
}
