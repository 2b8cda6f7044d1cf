//! Publish dates on varied pages written for the kinds that went wrong on
//! pages nobody tuned for (issue 14): old table layouts in GBK, portal news
//! with a 更新 line, a reprint's date line before the newspaper's name,
//! blogs with comments, TRS pages, related-articles and sidebar boxes with
//! later dates, a page with only a URL date and one with a date later than
//! its fetch. Each page goes through the real path: raw bytes, charset
//! decoding, extraction with the page's URL and fetch time.
//!
//! The pages live in `tests/fixtures/dates/`, not under `fixtures/extract/`:
//! the parser's own test reads every *file* of that folder and compares its
//! tree with html5ever's, and a subfolder there would break it.

use std::path::Path;

use autosync::extract::{ExtractOptions, Extractor};
use chrono::{DateTime, FixedOffset};
use url::Url;

/// When the pages were "fetched" in the tests below.
const FETCHED: &str = "2024-06-30T12:00:00+08:00";

/// One page and its expected publish time, from `expected.json` (which
/// `bench/dates_fixtures.py` reads too, to score trafilatura on the same
/// pages).
#[derive(serde::Deserialize)]
struct Case {
    file: String,
    url: String,
    fetched: String,
    /// RFC 3339; midnight when the page shows only a day.
    want: String,
    kind: String,
}

fn cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dates/expected.json");
    let text = std::fs::read_to_string(path).expect("expected.json readable");
    serde_json::from_str(&text).expect("expected.json parses")
}

fn time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test time parses")
}

fn published(ex: &Extractor, file: &str, url: &str, fetched: Option<&str>) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dates")
        .join(file);
    let bytes = std::fs::read(&path).expect("fixture readable");
    let (html, _) = autosync::charset::decode(&bytes, None);
    let url = Url::parse(url).expect("test URL parses");
    let opts = ExtractOptions {
        fetched_at: fetched.map(time),
        ..ExtractOptions::default()
    };
    let a = ex
        .extract(&html, Some(&url), &opts)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        a.text.chars().count() > 100,
        "{file}: the body was not found: {}",
        a.text
    );
    a.published_at.map(|d| d.to_rfc3339())
}

#[test]
fn publish_dates_on_varied_pages() {
    let ex = Extractor::new();
    let cases = cases();
    assert!(cases.len() >= 12, "the fixtures went missing");
    let mut wrong = Vec::new();
    for c in &cases {
        let got = published(&ex, &c.file, &c.url, Some(&c.fetched));
        if got.as_deref() != Some(c.want.as_str()) {
            wrong.push(format!(
                "{} ({}; {}): got {got:?}, want {}",
                c.file, c.kind, c.url, c.want
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_date_later_than_the_fetch_is_never_taken() {
    let ex = Extractor::new();
    // Fetched before the article's own day: no shown date qualifies, and
    // the URL carries none.
    let got = published(
        &ex,
        "future_date.html",
        "http://www.example-kx.cn/tzgg/55.html",
        Some("2024-05-20T09:00:00+08:00"),
    );
    assert_eq!(got, None);
    // The same bound holds for the URL's date.
    let got = published(
        &ex,
        "url_only.html",
        "http://www.example-kx.cn/kp/202405/t20240512_991.html",
        Some("2024-05-11T09:00:00+08:00"),
    );
    assert_eq!(got, None);
}

#[test]
fn comment_dates_never_win_even_when_the_post_shows_none() {
    let ex = Extractor::new();
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dates/blog_comments.html");
    let html = std::fs::read_to_string(path)
        .expect("fixture readable")
        .replace("posted @ 2024-03-03 21:40 ", "");
    let url = Url::parse("https://blog.example.com/zhangsan/p/18020.html").unwrap();
    let opts = ExtractOptions {
        fetched_at: Some(time(FETCHED)),
        ..ExtractOptions::default()
    };
    let a = ex.extract(&html, Some(&url), &opts).expect("article");
    assert_eq!(a.published_at, None);
}
