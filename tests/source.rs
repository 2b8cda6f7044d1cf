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
