//! A small website for the discovery and probe tests: pages put in by
//! path (fixtures from `tests/fixtures/discover/`, generated list and
//! article pages), served on 127.0.0.1 from a runtime of its own, with a
//! count of the requests each path got.
#![allow(dead_code)]

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

type Pages = Arc<RwLock<HashMap<String, (String, Vec<u8>)>>>;

pub struct Site {
    pages: Pages,
    hits: Arc<RwLock<HashMap<String, usize>>>,
    pub addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Site {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's context panics.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// One entry of a generated list page.
pub struct Article {
    pub path: String,
    pub title: String,
    pub date: String,
}

impl Site {
    pub fn start() -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let pages: Pages = Arc::default();
        let hits: Arc<RwLock<HashMap<String, usize>>> = Arc::default();
        let (p, h) = (pages.clone(), hits.clone());
        // Bound here, served on the site's own runtime: usable from sync
        // tests and from inside another runtime alike.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        rt.spawn(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            let app = Router::new().fallback(move |uri: Uri| {
                let (p, h) = (p.clone(), h.clone());
                async move { serve(&p, &h, uri.path()) }
            });
            axum::serve(l, app).await
        });
        Site {
            pages,
            hits,
            addr,
            rt: Some(rt),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn put(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        self.pages
            .write()
            .unwrap()
            .insert(path.into(), (content_type.into(), body.into()));
    }

    pub fn remove(&self, path: &str) {
        self.pages.write().unwrap().remove(path);
    }

    /// A fixture of `tests/fixtures/discover/`, as bytes (GBK ones stay GBK).
    pub fn put_fixture(&self, path: &str, fixture: &str) {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/discover")
            .join(fixture);
        self.put(path, "text/html", std::fs::read(file).unwrap());
    }

    /// A list page at `path` and an article page for each entry.
    pub fn put_list(&self, path: &str, heading: &str, articles: &[Article]) {
        let items: String = articles
            .iter()
            .map(|a| {
                format!(
                    "<li><a href=\"{}\" title=\"{t}\">{t}</a><span>{}</span></li>\n",
                    a.path,
                    a.date,
                    t = a.title
                )
            })
            .collect();
        let page = format!(
            r#"<html><head><meta charset="utf-8"><title>{heading}</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/about/">关于我们</a></div>
<div class="main"><h2>{heading}</h2><ul class="list">
{items}</ul><div class="page">共有{n}条记录 <a href="index_1.html">下一页</a></div></div>
<div class="footer">版权所有</div></body></html>"#,
            n = articles.len()
        );
        self.put(path, "text/html; charset=utf-8", page);
        for a in articles {
            self.put_article(a);
        }
    }

    pub fn put_article(&self, a: &Article) {
        let page = format!(
            r#"<!doctype html><html><head><meta charset="utf-8"><title>{t}</title>
<meta name="ArticleTitle" content="{t}"><meta name="PubDate" content="{d} 09:30"></head>
<body><div class="nav"><a href="/">首页</a></div><div class="article"><h1>{t}</h1>
<div class="info">发布时间：{d} 09:30　来源：示例科协　作者：宣传部</div>
<div class="content"><p>{t}。本次活动由示例科协主办，来自各地的科技工作者代表参加，围绕科技创新与科学普及深入交流。</p>
<p>与会代表表示，将进一步发挥科协组织的桥梁纽带作用，推动科普工作高质量发展。</p>
<p><img src="/images/a.png" alt="活动现场"></p></div></div></body></html>"#,
            t = a.title,
            d = a.date
        );
        self.put(&a.path, "text/html; charset=utf-8", page);
    }

    /// An RSS feed of `articles` (links absolute, pages served too).
    pub fn put_rss(&self, path: &str, articles: &[Article]) {
        let items: String = articles
            .iter()
            .map(|a| {
                format!(
                    "<item><title>{}</title><link>{}</link><pubDate>{}</pubDate></item>\n",
                    a.title,
                    self.url(&a.path),
                    rfc822(&a.date)
                )
            })
            .collect();
        let feed = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>示例</title><link>{}</link>
{items}</channel></rss>"#,
            self.url("/")
        );
        self.put(path, "application/rss+xml", feed);
        for a in articles {
            self.put_article(a);
        }
    }

    /// An Atom feed of `articles`.
    pub fn put_atom(&self, path: &str, articles: &[Article]) {
        let entries: String = articles
            .iter()
            .map(|a| {
                format!(
                    "<entry><title>{}</title><id>{}</id><link href=\"{}\"/><updated>{}T09:30:00+08:00</updated></entry>\n",
                    a.title,
                    self.url(&a.path),
                    self.url(&a.path),
                    a.date
                )
            })
            .collect();
        let feed = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>示例</title><id>{}</id><updated>2026-11-21T09:30:00+08:00</updated>
{entries}</feed>"#,
            self.url("/")
        );
        self.put(path, "application/atom+xml", feed);
    }

    /// Requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.read().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A config in `dir` with one unit `id` on this site (no host delay),
/// publishing to files; `daemon` and `unit` are extra lines of those
/// tables (`unit` may add `[[unit.source]]`s).
pub fn config(dir: &Path, site: &Site, id: &str, daemon: &str, unit: &str) -> std::path::PathBuf {
    let text = format!(
        r#"[daemon]
state_dir = "state"
{daemon}

[fetch]
host_delay_ms = 0

[[unit]]
id = "{id}"
account_name = "示例科协"
org_name = "示例科学技术协会"
level = "county"
site = "{}"
{unit}
  [unit.publisher]
  kind = "file"
  dir = "out"
"#,
        site.url("/")
    );
    let path = dir.join("autosync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `n` dated articles under `dir` (`dir/2026/11/t202611DD_N.html`), newest
/// first, titled with `prefix`.
pub fn articles(dir: &str, prefix: &str, n: usize) -> Vec<Article> {
    (0..n)
        .map(|i| {
            let day = 20 - i;
            Article {
                path: format!("{dir}202611/t202611{day:02}_{}.html", 1000 + i),
                title: format!("{prefix}第{}期工作简报发布", n - i),
                date: format!("2026-11-{day:02}"),
            }
        })
        .collect()
}

fn rfc822(date: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| format!("{} 09:30:00 +0800", d.format("%a, %d %b %Y")))
        .unwrap_or_default()
}

fn serve(pages: &Pages, hits: &RwLock<HashMap<String, usize>>, path: &str) -> Response {
    *hits.write().unwrap().entry(path.to_string()).or_default() += 1;
    if path.ends_with(".png") {
        return ([(header::CONTENT_TYPE, "image/png")], PNG).into_response();
    }
    match pages.read().unwrap().get(path) {
        Some((ct, body)) => ([(header::CONTENT_TYPE, ct.clone())], body.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "404 Not Found").into_response(),
    }
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
