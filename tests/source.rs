//! Discovery on realistic fixtures: feeds of every supported flavour and the
//! HTML list pages of Chinese government/association CMSs.

use autosync::source::{Entry, SourceError, parse_feed, parse_list};
use chrono::{DateTime, FixedOffset};
use url::Url;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn u(s: &str) -> Url {
    Url::parse(s).expect("test url")
}

fn date(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test date")
}

fn urls(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.url.to_string()).collect()
}

// ---------------------------------------------------------------- feeds

#[test]
fn rss2_content_encoded_and_summary_only_items() {
    let feed_url = u("https://www.sast.gov.cn/rss/kxdt.xml");
    let entries =
        parse_feed(&fixture("feeds/rss2_content_encoded.xml"), &feed_url).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            // utm_* stripped by canonicalisation.
            "https://www.sast.gov.cn/content.html?id=4821",
            // Relative link resolved against the channel link, fragment dropped.
            "https://www.sast.gov.cn/content.html?id=4818",
            // No <link>, permalink guid used.
            "https://www.sast.gov.cn/content.html?id=4815",
        ],
        "the link-less item is skipped and the repeated guid deduplicated"
    );
    let first = &entries[0];
    assert_eq!(first.guid.as_deref(), Some("sast-kxdt-4821"));
    assert_eq!(
        first.title.as_deref(),
        Some("市科协召开2023年度学会工作推进会")
    );
    assert_eq!(first.author.as_deref(), Some("学会部"));
    assert_eq!(first.published_at, Some(date("2023-11-20T09:15:00+08:00")));
    let html = first.content_html.as_deref().expect("content:encoded");
    assert!(
        html.contains("<img src=\"/uploads/2023/11/meeting.jpg\""),
        "{html}"
    );
    assert!(
        first
            .summary
            .as_deref()
            .is_some_and(|s| s.starts_with("11月17日"))
    );

    let second = &entries[1];
    assert_eq!(second.content_html, None, "description only: no content");
    assert!(
        second
            .summary
            .as_deref()
            .is_some_and(|s| s.contains("科普法"))
    );
}

#[test]
fn atom_xml_base_resolves_relative_links() {
    let feed_url = u("https://feeds.cast.org.cn/news.atom");
    let entries = parse_feed(&fixture("feeds/atom_xml_base.xml"), &feed_url).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "https://www.cast.org.cn/xw/art/2023/11/20/art_1120.html",
            // Entry-level xml:base overrides the feed's.
            "https://www.cast.org.cn/kxyw/2023/1118/c1118.html",
            // No link at all: the id is a URL and is used.
            "https://www.cast.org.cn/xw/only-id.html",
        ]
    );
    let first = &entries[0];
    assert_eq!(
        first.title.as_deref(),
        Some("中国科协召开十届常委会第十次会议"),
        "html title stripped"
    );
    assert_eq!(
        first.guid.as_deref(),
        Some("tag:cast.org.cn,2023:news/art-1120")
    );
    assert_eq!(
        first.published_at,
        Some(date("2023-11-20T08:00:00+08:00")),
        "published preferred over updated"
    );
    assert_eq!(first.author.as_deref(), Some("新闻中心"));
    assert_eq!(
        first.content_html.as_deref(),
        Some("<p>会议审议通过了有关事项。</p>")
    );
    let second = &entries[1];
    assert_eq!(second.content_html, None);
    assert_eq!(second.summary.as_deref(), Some("宣讲团走进20所中学。"));
    assert_eq!(
        second.published_at,
        Some(date("2023-11-18T15:00:00Z")),
        "updated when no published"
    );
    assert_eq!(
        entries[2].content_html, None,
        "out-of-line content is not content"
    );
}

#[test]
fn json_feed_items() {
    let feed_url = u("https://www.bast.net.cn/feed.json");
    let entries = parse_feed(&fixture("feeds/json_feed.json"), &feed_url).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "https://www.bast.net.cn/art/2023/11/20/art_1.html",
            "https://www.bast.net.cn/art/2023/11/19/art_2.html",
            "https://www.bast.net.cn/art/2023/11/18/art_3.html",
        ]
    );
    assert_eq!(
        entries[0].content_html.as_deref(),
        Some("<p>论坛聚焦人工智能与科技创新。</p>")
    );
    assert_eq!(entries[0].summary.as_deref(), Some("论坛聚焦人工智能。"));
    assert_eq!(entries[0].author.as_deref(), Some("宣传部"));
    assert_eq!(entries[0].guid.as_deref(), Some("bast-2023-1120-1"));
    assert_eq!(
        entries[1].content_html.as_deref(),
        Some("<p>大赛共收到作品1200件。</p><p>评审将于12月进行。</p>"),
        "content_text becomes HTML paragraphs"
    );
    assert_eq!(entries[2].content_html, None);
    assert_eq!(entries[2].summary.as_deref(), Some("摘要而已。"));
}

#[test]
fn rss1_rdf_items() {
    let feed_url = u("http://www.zast.org.cn/rss.rdf");
    let entries = parse_feed(&fixture("feeds/rss1_rdf.xml"), &feed_url).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "http://www.zast.org.cn/art/2023/11/20/art_1229_4567.html",
            "http://www.zast.org.cn/art/2023/11/16/art_1229_4560.html",
        ]
    );
    assert_eq!(
        entries[0].title.as_deref(),
        Some("省科协党组召开理论学习中心组学习会")
    );
    assert_eq!(
        entries[0].published_at,
        Some(date("2023-11-20T09:00:00+08:00"))
    );
    assert_eq!(entries[1].summary, None);
}

#[test]
fn gb2312_declared_rss_is_transcoded() {
    let feed_url = u("http://www.hbkx.org.cn/rss/tzgg.xml");
    let entries = parse_feed(&fixture("feeds/rss2_gb2312.xml"), &feed_url).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "http://www.hbkx.org.cn/tzgg/202311/t20231120_4567.shtml",
            // "./…" relative to the channel link, not to the feed URL.
            "http://www.hbkx.org.cn/tzgg/202311/t20231115_4550.shtml",
        ]
    );
    // 镕 is GBK-only: proves gb2312 was read as GB18030.
    assert_eq!(
        entries[0].title.as_deref(),
        Some("关于表彰朱镕基科技奖获奖者的决定")
    );
    assert_eq!(
        entries[0].guid, None,
        "no guid in the feed: the URL is the identity"
    );
    // CMS-style zone-less date: Beijing time (17:00 there is 09:00 UTC).
    assert_eq!(
        entries[1].published_at.map(|d| d.naive_utc().to_string()),
        Some("2023-11-15 09:00:00".to_string())
    );
}

#[test]
fn malformed_feed_is_bad_feed_naming_the_url() {
    let feed_url = u("https://www.example.gov.cn/rss.xml");
    for bytes in [
        fixture("feeds/malformed.xml"),
        b"".to_vec(),
        b"<rss version=\"2.0\"><channel><item>".to_vec(),
    ] {
        let err = parse_feed(&bytes, &feed_url).expect_err("not a feed");
        assert!(matches!(err, SourceError::BadFeed { .. }));
        assert!(
            err.to_string()
                .contains("https://www.example.gov.cn/rss.xml"),
            "{err}"
        );
    }
}

// ----------------------------------------------------------- list pages

fn list_fixture(name: &str) -> String {
    String::from_utf8(fixture(&format!("source/{name}"))).expect("utf-8 fixture")
}

#[test]
fn trs_list_page_finds_exactly_the_main_list() {
    let page = u("http://www.hbkx.org.cn/xwzx/tzgg/index.shtml");
    let entries = parse_list(&list_fixture("trs_list.html"), &page, None).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231120_4567.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231117_4561.shtml",
            "http://www.hbkx.org.cn/xwzx/gzdt/202311/t20231116_4558.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231115_4552.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231114_4549.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231110_4541.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231108_4533.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231106_4528.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231103_4520.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202311/t20231101_4515.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202310/t20231030_4507.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202310/t20231027_4501.shtml",
            "http://www.hbkx.org.cn/xwzx/tzgg/202310/t20231025_4496.shtml",
        ],
        "pdf, off-site item, menus, 热点排行, pager and footer all left out"
    );
    // The title attribute beats the truncated text.
    assert_eq!(
        entries[0].title.as_deref(),
        Some("关于举办2023年湖北省科技工作者学术年会的通知")
    );
    assert_eq!(
        entries[0].published_at,
        Some(date("2023-11-20T00:00:00+08:00"))
    );
    assert!(
        entries
            .iter()
            .all(|e| e.published_at.is_some() && e.guid.is_none())
    );
}

#[test]
fn content_htm_list_with_short_dates() {
    let page = u("http://www.hnkp.gov.cn/kpdt/node_12.htm");
    let entries = parse_list(&list_fixture("content_list.html"), &page, None).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "http://www.hnkp.gov.cn/2023-11/20/content_58831.htm",
            "http://www.hnkp.gov.cn/2023-11/20/content_58829.htm",
            "http://www.hnkp.gov.cn/2023-11/19/content_58820.htm",
            "http://www.hnkp.gov.cn/2023-11/18/content_58812.htm",
            "http://www.hnkp.gov.cn/2023-11/17/content_58801.htm",
            "http://www.hnkp.gov.cn/2023-11/16/content_58795.htm",
            "http://www.hnkp.gov.cn/2023-11/15/content_58788.htm",
            "http://www.hnkp.gov.cn/2023-11/14/content_58780.htm",
            "http://www.hnkp.gov.cn/2023-11/13/content_58771.htm",
            "http://www.hnkp.gov.cn/2023-11/10/content_58760.htm",
        ],
        "推荐阅读, 图片新闻, pager (node_12_2.htm) and nav left out"
    );
    // "[11-20]" + year from the URL.
    assert_eq!(
        entries[0].published_at,
        Some(date("2023-11-20T00:00:00+08:00"))
    );
    assert_eq!(
        entries[2].title.as_deref(),
        Some("“院士专家科普行”走进信阳革命老区")
    );
}

#[test]
fn table_based_list_with_id_query_links() {
    let page = u("http://www.xxkx.org.cn/news.asp?classid=5");
    let entries = parse_list(&list_fixture("table_list.html"), &page, None).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "http://www.xxkx.org.cn/shownews.asp?id=2291",
            "http://www.xxkx.org.cn/shownews.asp?id=2288",
            "http://www.xxkx.org.cn/shownews.asp?id=2285",
            "http://www.xxkx.org.cn/shownews.asp?id=2280&classid=5",
            "http://www.xxkx.org.cn/shownews.asp?id=2276",
            "http://www.xxkx.org.cn/shownews.asp?id=2270",
            "http://www.xxkx.org.cn/shownews.asp?id=2266",
            "http://www.xxkx.org.cn/shownews.asp?id=2261",
        ]
    );
    assert_eq!(
        entries[0].published_at,
        Some(date("2023-11-20T00:00:00+08:00"))
    );
    assert_eq!(
        entries[3].title.as_deref(),
        Some("市土木建筑学会组织观摩绿色建筑示范项目")
    );
}

#[test]
fn card_list_one_entry_per_card() {
    let page = u("https://www.gdkx.org.cn/news/");
    let entries = parse_list(&list_fixture("card_list.html"), &page, None).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "https://www.gdkx.org.cn/news/20231120/8841.html",
            "https://www.gdkx.org.cn/news/20231118/8835.html",
            "https://www.gdkx.org.cn/art/2023/11/16/art_2051_8830.html",
            "https://www.gdkx.org.cn/news/20231115/8826.html",
            "https://www.gdkx.org.cn/news/20231113/8819.html",
            "https://www.gdkx.org.cn/news/20231110/8810.html",
        ],
        "热门文章 aside, nav, pager and footer left out"
    );
    assert_eq!(
        entries[0].title.as_deref(),
        Some("广东省科协举办粤港澳大湾区科技创新峰会")
    );
    assert_eq!(
        entries[5].published_at,
        Some(date("2023-11-10T00:00:00+08:00"))
    );
}

#[test]
fn link_selector_picks_the_named_links() {
    let page = u("http://www.hbkx.org.cn/xwzx/tzgg/index.shtml");
    let html = list_fixture("trs_list.html");
    // The operator points at the 热点排行 box: exactly its links come back.
    let entries = parse_list(&html, &page, Some("div.hot li")).expect("parses");
    assert_eq!(entries.len(), 8);
    assert_eq!(
        entries[1].url.as_str(),
        "http://www.hbkx.org.cn/xwzx/gzdt/202311/t20231113_4546.shtml"
    );
    assert_eq!(
        entries[1].title.as_deref(),
        Some("省科协党组理论学习中心组举行专题学习")
    );
    // Selecting anchors directly works too; filters still apply (pdf, off-site).
    let entries = parse_list(&html, &page, Some("div.list a")).expect("parses");
    assert_eq!(entries.len(), 13);
    assert_eq!(
        entries[0].published_at,
        Some(date("2023-11-20T00:00:00+08:00"))
    );
}

#[test]
fn bad_link_selector_names_page_and_selector() {
    let page = u("http://www.hbkx.org.cn/xwzx/tzgg/");
    let err = parse_list("<html></html>", &page, Some("ul >> li[")).expect_err("bad selector");
    assert!(matches!(err, SourceError::BadSelector { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("http://www.hbkx.org.cn/xwzx/tzgg/") && msg.contains("ul >> li["),
        "{msg}"
    );
}

#[test]
fn garbage_html_gives_no_entries_not_a_panic() {
    let page = u("http://www.example.gov.cn/list/");
    for html in [
        "",
        "<<<>>>",
        "<a href=\"http://[::1\">x</a>",
        "\u{0}\u{feff}<li><a href=//>",
    ] {
        let entries = parse_list(html, &page, None).expect("parses");
        assert!(entries.is_empty(), "{html:?}");
    }
}

#[test]
fn hanweb_datastore_records_are_the_list() {
    let page = u("https://www.zast.org.cn/col/col1229/index.html");
    let entries = parse_list(&list_fixture("hanweb_list.html"), &page, None).expect("parses");
    assert_eq!(
        urls(&entries),
        [
            "https://www.zast.org.cn/art/2023/11/20/art_1229_60123.html",
            "https://www.zast.org.cn/art/2023/11/17/art_1229_60101.html",
            "https://www.zast.org.cn/art/2023/11/15/art_1229_60088.html",
            "https://www.zast.org.cn/art/2023/11/13/art_1229_60070.html",
        ]
    );
    assert_eq!(
        entries[3].published_at,
        Some(date("2023-11-13T00:00:00+08:00"))
    );
}
