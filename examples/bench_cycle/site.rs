//! The loopback stand-in for 2,000 unit websites.
//!
//! One axum server on `0.0.0.0:PORT` answers for every `127.0.a.b` address:
//! the fetcher keys politeness on the host name, so each address is a
//! distinct site with its own one-request-at-a-time gate and delay, exactly
//! like 2,000 real hosts. Peers outside 127.0.0.0/8 are refused, so binding
//! the wildcard address never serves anything off the machine.
//!
//! Site `i` is a feed site when `i` is even (RSS 2.0, UTF-8, every item with
//! its full `content:encoded`, so the pipeline fetches no article page) and a
//! GBK TRS-style list site when odd (the pipeline fetches each article page
//! and runs the extractor). Both answer `If-None-Match` with 304, like the
//! CMS servers in front of real sites. Content is deterministic, ~3–5 KB of
//! Chinese text an article, distinct per site and article.
//!
//! Churn (issue 13's steady state): with a [`Churn`], a fixed share of the
//! sites, chosen by a seed, gains one article each time the benchmark says
//! a cycle began (`/__cycle`), another share answers its feed or list page
//! only after 5–20 s, and another fails it every time (half with a 500,
//! half by never answering within the fetcher's 30 s timeout). Which site
//! does what, and how slow, depends only on the seed and the site.

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Sites per third octet: 127.0.(1 + i / 250).(1 + i % 250).
const PER_OCTET: usize = 250;

/// The loopback address of site `i`.
pub fn site_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, (1 + i / PER_OCTET) as u8, (1 + i % PER_OCTET) as u8)
}

/// Site index from a `127.0.a.b[:port]` host, if it is one of ours.
fn site_of(host: &str) -> Option<usize> {
    let ip: Ipv4Addr = host.split(':').next()?.parse().ok()?;
    let [127, 0, a, b] = ip.octets() else {
        return None;
    };
    let (a, b) = (usize::from(a), usize::from(b));
    (a >= 1 && (1..=PER_OCTET).contains(&b)).then(|| (a - 1) * PER_OCTET + (b - 1))
}

/// Whether site `i` serves a feed (else a GBK list page).
pub fn is_feed(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// Request counters, read at `/__stats` (host 127.0.0.1) by the benchmark.
#[derive(Default, serde::Serialize, serde::Deserialize, Clone, Copy, Debug)]
pub struct Stats {
    pub robots: u64,
    pub feed: u64,
    pub list: u64,
    pub article: u64,
    pub not_modified: u64,
    pub not_found: u64,
    /// Feed or list requests answered 500 or left hanging (churn).
    #[serde(default)]
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    robots: AtomicU64,
    feed: AtomicU64,
    list: AtomicU64,
    article: AtomicU64,
    not_modified: AtomicU64,
    not_found: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Stats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            robots: g(&self.robots),
            feed: g(&self.feed),
            list: g(&self.list),
            article: g(&self.article),
            not_modified: g(&self.not_modified),
            not_found: g(&self.not_found),
            failed: g(&self.failed),
        }
    }
}

/// Which shares of the sites change, are slow or fail, every cycle.
#[derive(Debug, Clone, Copy, Default)]
pub struct Churn {
    pub changing: f64,
    pub slow: f64,
    pub failing: f64,
    pub seed: u64,
}

/// What a site does every cycle under a [`Churn`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Steady,
    /// One more article a cycle.
    Changing,
    /// Its feed or list page takes this long.
    Slow(std::time::Duration),
    /// Its feed or list page answers 500.
    Error,
    /// Its feed or list page never answers in time.
    Hang,
}

impl Churn {
    fn role(&self, i: usize) -> Role {
        let r = (mix(i, self.seed as usize ^ 0xC0FFEE) % 10_000) as f64 / 10_000.0;
        if r < self.changing {
            Role::Changing
        } else if r < self.changing + self.slow {
            Role::Slow(std::time::Duration::from_secs(5 + (mix(i, 7) % 16) as u64))
        } else if r < self.changing + self.slow + self.failing {
            if mix(i, 11).is_multiple_of(2) {
                Role::Error
            } else {
                Role::Hang
            }
        } else {
            Role::Steady
        }
    }
}

struct Site {
    sites: usize,
    items: usize,
    close: bool,
    counters: Counters,
    churn: Churn,
    /// Cycles begun (`/__cycle`): how many articles a changing site gained.
    cycle: AtomicU64,
}

impl Site {
    /// The articles site `i` lists now, newest first: what it gained (numbered
    /// from [`GAINED`] on), then its first ones.
    fn listed(&self, i: usize) -> Vec<usize> {
        let gained = match self.churn.role(i) {
            Role::Changing => self.cycle.load(Ordering::Relaxed) as usize,
            _ => 0,
        };
        (0..gained)
            .rev()
            .map(|k| GAINED + k)
            .chain(0..self.items)
            .take(self.items)
            .collect()
    }
}

/// Article numbers from here on were gained during the run.
const GAINED: usize = 1000;

/// Serve `sites` sites of `items` articles each on `listener` (forever).
pub async fn serve(
    listener: tokio::net::TcpListener,
    sites: usize,
    items: usize,
    close: bool,
    churn: Churn,
) -> std::io::Result<()> {
    let st = Arc::new(Site {
        sites,
        items,
        close,
        counters: Counters::default(),
        churn,
        cycle: AtomicU64::new(0),
    });
    let app = Router::new().fallback(page).with_state(st);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

const SENTENCES: &[&str] = &[
    "会议强调，要深入学习贯彻党的二十大精神，坚持面向世界科技前沿、面向经济主战场、面向国家重大需求、面向人民生命健康。",
    "与会代表围绕科技成果转化、青年人才培养、基层科普能力建设等问题踊跃发言，提出了许多有价值的意见和建议。",
    "活动期间，科普志愿者走进社区、学校和农村，通过展板展示、现场讲解、互动体验等形式普及科学知识。",
    "近年来，全市科协系统认真履行“四服务”职责，团结引领广大科技工作者在创新驱动发展中建功立业。",
    "下一步，将进一步加强学会组织建设，完善学会治理结构，提升学会服务科技工作者和服务创新发展的能力。",
    "据统计，本次活动共举办科普讲座四十余场，发放科普资料一万余份，受益群众超过五万人次。",
    "专家指出，要把科学普及放在与科技创新同等重要的位置，厚植创新发展的社会土壤。",
    "各县（市、区）科协、市级学会负责同志，以及高校、科研院所和企业科技工作者代表参加会议。",
];

fn mix(i: usize, j: usize) -> usize {
    // A small deterministic hash: varied lengths without a RNG.
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 32)) as usize
}

fn title(i: usize, j: usize) -> String {
    format!("第{i}号单位科协召开第{j}次学会工作会议暨科普工作推进会")
}

fn day(j: usize) -> usize {
    // Gained articles are the newest.
    if j >= GAINED { 29 } else { 28 - (j % 20) }
}

/// ~3–5 KB of UTF-8 body HTML (1,000–1,700 characters).
fn body(i: usize, j: usize) -> String {
    let n = 9 + mix(i, j) % 6;
    let mut out = format!(
        "<p>11月{}日，第{i}号单位科协召开第{j}次学会工作会议，总结今年以来学会工作，部署下一阶段重点任务。</p>",
        day(j)
    );
    for k in 0..n {
        out.push_str("<p>");
        for s in 0..2 {
            out.push_str(SENTENCES[(mix(i, j + k) + k + s) % SENTENCES.len()]);
        }
        out.push_str("</p>");
        if k == 3 {
            out.push_str(&format!(
                "<p style=\"text-align:center\"><img src=\"/images/{i}_{j}.png\" alt=\"会议现场\"></p>"
            ));
        }
    }
    out
}

fn article_path(i: usize, j: usize) -> String {
    if is_feed(i) {
        format!("/kpzx/2026-11/{:02}/content_{i}_{j}.htm", day(j))
    } else {
        format!("/xwzx/202611/t202611{:02}_{j}.html", day(j))
    }
}

fn list_page(i: usize, listed: &[usize]) -> String {
    let mut lis = String::new();
    for &j in listed {
        let path = article_path(i, j);
        let t = title(i, j);
        lis.push_str(&format!(
            "<li><a href=\".{}\" title=\"{t}\" target=\"_blank\">{t}</a><span>2026-11-{:02}</span></li>\n",
            path.trim_start_matches("/xwzx"),
            day(j)
        ));
    }
    format!(
        r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><title>科协要闻_第{i}号单位科学技术协会</title></head>
<body><div class="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/xwzx/">科协要闻</a></li><li><a href="/kpzx/">科普资讯</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/xhgz/">学会工作</a></li></ul></div>
<div class="left"><h3>热点排行</h3><ul><li><a href="/xwzx/202610/t20261001_800.html">国庆假期全省科技馆接待观众创新高</a></li><li><a href="/xwzx/202609/t20260901_700.html">全国科普日活动掠影</a></li></ul></div>
<div class="right"><div class="title">科协要闻</div><ul class="list">
{lis}</ul>
<div class="page"><a href="index.html">首页</a> <a href="index_1.html">下一页</a> <a href="index_9.html">尾页</a></div></div>
<div class="footer"><a href="/attach/2026/guide.pdf">办事指南下载</a> 版权所有：第{i}号单位科学技术协会　地址：示例市科技路1号</div></body></html>"#
    )
}

fn trs_article(i: usize, j: usize) -> String {
    let t = title(i, j);
    format!(
        r##"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>{t}_科协要闻_第{i}号单位科学技术协会</title>
<meta name="ArticleTitle" content="{t}"><meta name="PubDate" content="2026-11-{d:02} 09:30">
<meta name="ContentSource" content="第{i}号单位科协"></head>
<body><div class="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/xwzx/">新闻中心</a></li><li><a href="/kpzx/">科普资讯</a></li></ul></div>
<div class="main"><div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/xwzx/">科协要闻</a></div>
<div class="article"><h1>{t}</h1><div class="info">发布时间：2026-11-{d:02} 09:30　来源：第{i}号单位科协　作者：宣传部</div>
<div class="TRS_Editor">{b}</div>
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a></div>
<div class="pager"><p>上一篇：<a href="./t20261101_900.html">上一篇文章标题</a></p><p>下一篇：<a href="./t20261102_901.html">下一篇文章标题</a></p></div></div></div>
<div class="footer"><p>版权所有：第{i}号单位科学技术协会　地址：示例市科技路1号</p></div></body></html>"##,
        d = day(j),
        b = body(i, j)
    )
}

fn feed(i: usize, base: &str, listed: &[usize]) -> String {
    let mut out = String::new();
    for &j in listed {
        let link = format!("{base}{}", article_path(i, j));
        let content = body(i, j).replace("src=\"/", &format!("src=\"{base}/"));
        out.push_str(&format!(
            "<item><title>{}</title><link>{link}</link><guid>{link}</guid><pubDate>{}</pubDate><description>活动简讯</description><content:encoded><![CDATA[{content}]]></content:encoded></item>\n",
            title(i, j),
            chrono::NaiveDate::from_ymd_opt(2026, 11, day(j) as u32)
                .map(|d| format!("{} 10:00:00 +0800", d.format("%a, %d %b %Y")))
                .unwrap_or_default(),
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>第{i}号单位科协</title><link>{base}/</link><description>第{i}号单位科学技术协会</description>
{out}</channel></rss>"#
    )
}

/// A validator that never changes: the content is fixed for the whole run.
fn etag_of(i: usize, newest: Option<usize>) -> String {
    format!("\"site-{i}-v1-{}\"", newest.unwrap_or(0))
}

async fn page(
    st: State<Arc<Site>>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let close = st.close;
    let mut resp = answer(st, peer, headers, uri).await;
    if close {
        // Experiment switch: no keep-alive, so the client pools no idle
        // connections (isolates their memory from the rest).
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

async fn answer(
    State(st): State<Arc<Site>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    // Never serve anything off the machine, whatever address we are bound to.
    let loopback = match peer.ip() {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    };
    if !loopback {
        return StatusCode::FORBIDDEN.into_response();
    }
    let c = &st.counters;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let path = uri.path();
    if path == "/__stats" {
        return axum::Json(c.snapshot()).into_response();
    }
    if path == "/__cycle" {
        return (st.cycle.fetch_add(1, Ordering::Relaxed) + 1)
            .to_string()
            .into_response();
    }
    let Some(i) = site_of(host).filter(|i| *i < st.sites) else {
        c.not_found.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_FOUND, "no such site").into_response();
    };
    if path == "/robots.txt" {
        c.robots.fetch_add(1, Ordering::Relaxed);
        return "User-agent: *\nDisallow: /admin/\n".into_response();
    }
    let base = format!("http://{host}");
    let source = if is_feed(i) { "/rss.xml" } else { "/xwzx/" };
    let listed = st.listed(i);
    if path == source {
        match st.churn.role(i) {
            Role::Slow(d) => tokio::time::sleep(d).await,
            Role::Error => {
                c.failed.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::INTERNAL_SERVER_ERROR, "500").into_response();
            }
            Role::Hang => {
                c.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_secs(45)).await;
                return (StatusCode::GATEWAY_TIMEOUT, "504").into_response();
            }
            Role::Steady | Role::Changing => {}
        }
        let etag = etag_of(i, listed.first().copied());
        if headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
        {
            c.not_modified.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        return if is_feed(i) {
            c.feed.fetch_add(1, Ordering::Relaxed);
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/rss+xml"),
            );
            (h, feed(i, &base, &listed)).into_response()
        } else {
            c.list.fetch_add(1, Ordering::Relaxed);
            // Like many CMS servers: no charset in the header, the page says gb2312.
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            (h, gbk(&list_page(i, &listed))).into_response()
        };
    }
    if !is_feed(i)
        && let Some(&j) = listed.iter().find(|j| article_path(i, **j) == path)
    {
        c.article.fetch_add(1, Ordering::Relaxed);
        return (
            [(header::CONTENT_TYPE, "text/html")],
            gbk(&trs_article(i, j)),
        )
            .into_response();
    }
    c.not_found.fetch_add(1, Ordering::Relaxed);
    (StatusCode::NOT_FOUND, "404 Not Found").into_response()
}

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// What a synthetic article of site `i` looks like, for the store benchmark:
/// (title, body html).
pub fn sample_article(i: usize, j: usize) -> (String, String) {
    (title(i, j), body(i, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_addresses_round_trip() {
        for i in [0, 1, 249, 250, 1999] {
            assert_eq!(site_of(&format!("{}:8080", site_ip(i))), Some(i));
        }
        assert_eq!(site_of("127.0.0.1:80"), None);
    }
}
