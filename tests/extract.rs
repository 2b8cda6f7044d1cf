//! End-to-end extraction of saved pages: raw bytes in their real charset,
//! through `charset::decode`, to title, time, source, text and images.

use std::path::{Path, PathBuf};

use autosync::extract::{ExtractError, ExtractOptions, extract, extract_file};
use url::Url;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/extract")
        .join(name)
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("test URL parses")
}

#[test]
fn trs_gbk_article_yields_metadata_and_clean_body() {
    let base = url("http://www.example-kx.org.cn/kxyw/202311/t20231120_4525.html");
    let rec = extract_file(&fixture("trs_gbk.html"), Some(&base)).expect("article");
    let a = &rec.article;
    assert_eq!(a.title, "省科协召开2023年度学会工作会议");
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2023-11-20T15:30:00+08:00")
    );
    assert_eq!(a.source.as_deref(), Some("学会部"));
    assert_eq!(a.author.as_deref(), Some("王晓明"));
    assert!(
        a.text.starts_with("11月17日，省科协在省城召开"),
        "{}",
        a.text
    );
    assert!(a.text.contains("常务副主席朱镕出席会议"));
    assert!(
        a.text
            .ends_with("三家学会作了交流发言。\n附件：2024年学会工作要点.pdf"),
        "{}",
        a.text
    );
    assert_eq!(
        a.text.lines().count(),
        4,
        "one line a paragraph: {}",
        a.text
    );
    assert!(
        a.html
            .contains("href=\"http://www.example-kx.org.cn/kxyw/202311/P020231120_1.pdf\""),
        "{}",
        a.html
    );
    for junk in [
        "网站首页",
        "当前位置",
        "上一篇",
        "下一篇",
        "分享到",
        "打印本页",
        "版权所有",
        "ICP",
        "字体",
    ] {
        assert!(!a.text.contains(junk), "{junk} leaked into {}", a.text);
        assert!(!a.html.contains(junk), "{junk} leaked into {}", a.html);
    }
    assert_eq!(
        a.images,
        vec![url(
            "http://www.example-kx.org.cn/kxyw/202311/W020231120_pic1.jpg"
        )]
    );
    assert!(!a.html.contains("onclick"));
    assert!(!a.html.contains("style="));
    assert!(!a.html.contains("<script"));
    assert!(rec.file.ends_with("trs_gbk.html"));
}

#[test]
fn gb2312_label_still_decodes_gbk_only_characters() {
    let rec = extract_file(&fixture("gb2312_gbk_chars.html"), None).expect("article");
    let a = &rec.article;
    assert_eq!(a.title, "陶喆与朱镕基：一次科普讲座的回忆");
    assert!(a.text.contains("“喆”和“镕”两个字"), "{}", a.text);
    assert!(!a.text.contains('\u{fffd}'));
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2022-03-08T09:15:00+08:00")
    );
    assert_eq!(a.source.as_deref(), Some("某某科普网"));
    assert!(!a.text.contains("Copyright"));
}

#[test]
fn page_without_charset_is_detected_as_gbk() {
    let rec = extract_file(&fixture("no_charset_gbk.html"), None).expect("article");
    let a = &rec.article;
    assert_eq!(a.title, "全国科普日活动在京启动");
    assert!(a.text.contains("全国科普日活动在北京启动"), "{}", a.text);
    assert!(!a.text.contains("友情链接"));
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2023-09-16T00:00:00+08:00")
    );
}

#[test]
fn english_news_page() {
    let base = url("https://news.example.com/2023/05/04/bike-lanes.html");
    let rec = extract_file(&fixture("english_news.html"), Some(&base)).expect("article");
    let a = &rec.article;
    assert_eq!(a.title, "City council approves new bike lanes");
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2023-05-04T09:30:00-04:00")
    );
    assert_eq!(a.author.as_deref(), Some("Jane Doe"));
    assert!(
        a.text.starts_with("The city council voted 7-2"),
        "{}",
        a.text
    );
    assert!(
        a.text
            .contains("Construction is expected to begin next spring")
    );
    for junk in [
        "Tweet",
        "Most read",
        "Bike share expands",
        "All rights reserved",
        "Home",
    ] {
        assert!(!a.text.contains(junk), "{junk} leaked into {}", a.text);
    }
    assert_eq!(
        a.images,
        vec![url("https://news.example.com/images/bike-lanes.jpg")]
    );
}

#[test]
fn list_page_is_not_an_article() {
    let base = url("http://www.example-kx.org.cn/tzgg/");
    match extract_file(&fixture("list_page.html"), Some(&base)) {
        Err(ExtractError::NotAnArticle { url, reason }) => {
            assert_eq!(url, base.to_string());
            assert!(!reason.is_empty());
        }
        other => panic!("expected NotAnArticle, got {other:?}"),
    }
}

#[test]
fn not_found_page_is_not_an_article() {
    let html = "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1><p>The page you requested could not be found.</p></body></html>";
    let err = extract(
        html,
        Some(&url("https://e.com/x")),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ExtractError::NotAnArticle { .. }), "{err}");
}

#[test]
fn missing_file_is_a_read_error_naming_the_path() {
    let err = extract_file(&fixture("does_not_exist.html"), None).unwrap_err();
    assert!(err.to_string().contains("does_not_exist.html"), "{err}");
}

#[test]
fn gzipped_page_is_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("abc123.html.gz");
    let raw = std::fs::read(fixture("english_news.html")).expect("fixture");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).expect("gzip");
    std::fs::write(&path, gz.finish().expect("gzip")).expect("write");
    let rec = extract_file(&path, None).expect("article");
    assert_eq!(rec.article.title, "City council approves new bike lanes");
    assert_eq!(autosync::extract::bench::page_id(&rec.file), "abc123");
}
