//! List discovery without a selector on the kinds of pages where it went
//! wrong on unseen government sites (issue 14): a hidden block of links
//! (inline style, a class hidden by the page's own <style>), a very short
//! list beside a large menu, and a table whose broken markup puts its first
//! row in a table of its own.

use autosync::source::{Entry, parse_list};
use url::Url;

fn list(name: &str, page: &str) -> Vec<Entry> {
    let path = format!(
        "{}/tests/fixtures/source/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let html = std::fs::read_to_string(&path).expect("fixture readable");
    let page = Url::parse(page).expect("test URL parses");
    parse_list(&html, &page, None).expect("parses")
}

fn paths(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.url.path().to_string()).collect()
}

#[test]
fn a_block_hidden_by_inline_style_never_wins() {
    let got = list("hidden_inline.html", "http://www.example-kx.cn/kxdt/");
    assert_eq!(got.len(), 6, "{:?}", paths(&got));
    assert!(
        got.iter().all(|e| e.url.path().starts_with("/kxdt/")),
        "{:?}",
        paths(&got)
    );
    assert_eq!(
        got[0].title.as_deref(),
        Some("市科协召开2024年度学会工作会议")
    );
}

#[test]
fn a_block_hidden_by_a_class_rule_in_the_page_never_wins() {
    let got = list("hidden_by_class.html", "http://www.example-kx.cn/kxdt/");
    // The visible list, though a mobile-only rule hides it on small
    // screens; neither the display:none nor the visibility:hidden block.
    assert_eq!(got.len(), 6, "{:?}", paths(&got));
    assert!(
        got.iter().all(|e| e.url.path().starts_with("/kxdt/")),
        "{:?}",
        paths(&got)
    );
}

#[test]
fn a_two_item_list_beside_a_large_menu_is_found() {
    let got = list("short_list.html", "http://www.example-kx.cn/tzgg/");
    assert_eq!(
        paths(&got),
        [
            "/tzgg/202405/t20240520_501.html",
            "/tzgg/202403/t20240311_488.html"
        ]
    );
    assert_eq!(
        got[0].published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-05-20T00:00:00+08:00")
    );
}

#[test]
fn a_three_item_list_beside_a_large_menu_is_found() {
    let got = list("short_list_three.html", "http://www.example-kx.cn/xhgz/");
    assert_eq!(got.len(), 3, "{:?}", paths(&got));
    assert!(got.iter().all(|e| e.url.path().starts_with("/xhgz/")));
}

#[test]
fn a_table_split_by_broken_markup_keeps_its_first_row() {
    let got = list(
        "table_split_first_row.html",
        "http://www.example-kx.cn/kxdt/",
    );
    let ids: Vec<String> = got
        .iter()
        .map(|e| e.url.query().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "id=900", "id=899", "id=898", "id=897", "id=896", "id=895", "id=894"
        ]
    );
    assert_eq!(
        got[0].title.as_deref(),
        Some("市科协召开2024年度学会工作会议")
    );
}

/// A list page whose markup never closes its `<div>`s (old CMS templates
/// that open one per row, or a hostile page): a browser caps the nesting
/// and so does the parser that list discovery goes through first
/// (`extract::tame`), so the page is read in linear time and its list is
/// found. (html5ever alone took 95 s on 200,000 unclosed `<div>`s.)
#[test]
fn a_list_page_nested_past_a_browsers_depth_still_lists_its_links() {
    let rows: String = (1..=8)
        .map(|i| {
            format!("<div class=row><a href=\"/kxdt/2024/content_{i}.html\">市科协第{i}期科普讲座走进社区</a><span>2024-05-0{i}</span></div>")
        })
        .collect();
    let html = format!(
        "<html><head><title>科协动态</title></head><body><div class=list>{rows}</div>{}</body></html>",
        "<div>".repeat(60_000)
    );
    let page = Url::parse("http://www.example-kx.cn/kxdt/").unwrap();
    let got = parse_list(&html, &page, None).expect("parses");
    assert_eq!(got.len(), 8, "{:?}", paths(&got));
    assert_eq!(got[7].url.path(), "/kxdt/2024/content_8.html");
}
