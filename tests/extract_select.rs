//! Per-site selectors matched on our own tree (`extract::select`) pick the
//! same elements as scraper's matcher on html5ever's tree, the path they
//! replaced: on every fixture page and every bench page, for the kinds of
//! selector units write (tags, classes, ids, attributes, combinators,
//! structural pseudo-classes, groups).

use std::io::Read;
use std::path::{Path, PathBuf};

use autosync::extract::conformance::{selected_html5ever, selected_ours};

/// Selectors matched on our tree by the extractor: they must pick exactly
/// what scraper picks.
const SELECTORS: &[&str] = &[
    "h1",
    "p",
    "a[href]",
    "div.content, div.article",
    "#content",
    "ul li a",
    "td > a",
    "[class*=con]",
    "a[href$=\".html\"]",
    "a[href^=http]",
    "div:not(.nav) > p",
    "body > div",
    "h1.title, h2.title, .TRS_Editor",
    "DIV.Content",
    "meta[name=description]",
];

/// Selectors that count siblings or look at emptiness: the arena drops
/// scripts, form controls and hidden elements, so these can differ and
/// the extractor keeps them on html5ever's tree. Measured, not required.
const SIBLING_SELECTORS: &[&str] = &[
    "div p + p",
    "li ~ li",
    ":root",
    "p:empty",
    "li:first-child",
    "li:last-child a",
    "tr:nth-child(2) td",
    "li:nth-of-type(3)",
    "span:only-child",
];

fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd {
        let p = e.expect("entry").path();
        if p.is_dir() {
            pages(&p, out);
        } else if p.to_string_lossy().ends_with(".html")
            || p.to_string_lossy().ends_with(".html.gz")
        {
            out.push(p);
        }
    }
}

fn read(p: &Path) -> String {
    let mut bytes = std::fs::read(p).expect("page");
    if p.to_string_lossy().ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .expect("a gzip page");
        bytes = out;
    }
    autosync::charset::decode(&bytes, None).0
}

fn differences(pages: &[PathBuf], sels: &[&str]) -> (usize, Vec<String>) {
    let mut compared = 0;
    let mut differ = Vec::new();
    for p in pages {
        let html = read(p);
        let ours = selected_ours(&html, sels).expect("valid selectors");
        // The arena's `<html>` keeps no attributes (the parser does not
        // merge a `<html>` tag's attributes onto it, as html5ever does): an
        // attribute or class selector can match `<html>` only on scraper's
        // side. No site's content or title is the whole document, so those
        // matches are left out of the comparison; everything else must agree.
        let mut theirs = selected_html5ever(&html, sels).expect("valid selectors");
        for t in &mut theirs {
            t.retain(|m| !m.starts_with("html: "));
        }
        let mut ours = ours;
        for o in &mut ours {
            o.retain(|m| !m.starts_with("html: "));
        }
        for ((sel, ours), theirs) in sels.iter().zip(&ours).zip(&theirs) {
            compared += 1;
            if ours != theirs {
                differ.push(format!(
                    "{} `{sel}`: ours {} matches, scraper {}; first difference {:?}",
                    p.display(),
                    ours.len(),
                    theirs.len(),
                    ours.iter().zip(theirs).find(|(a, b)| a != b)
                ));
            }
        }
    }
    (compared, differ)
}

/// Compares both selector sets on `list` (named `what` in the output):
/// the plain ones must agree exactly, the sibling-counting ones are counted.
fn check(what: &str, list: &[PathBuf]) {
    let (compared, differ) = differences(list, SELECTORS);
    let (_, sib) = differences(list, SIBLING_SELECTORS);
    println!(
        "{what}: {} pages × {} selectors, {} differ; sibling-counting selectors (kept on html5ever's tree): {} of {} pairs differ",
        list.len(),
        SELECTORS.len(),
        differ.len(),
        sib.len(),
        list.len() * SIBLING_SELECTORS.len()
    );
    assert!(compared > 0);
    assert!(
        differ.is_empty(),
        "{} differ: {:#?}",
        differ.len(),
        &differ[..differ.len().min(30)]
    );
}

#[test]
fn selectors_pick_the_same_elements_as_scraper_on_the_fixtures() {
    let mut list = Vec::new();
    pages(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut list,
    );
    list.sort();
    assert!(list.len() > 20, "only {} fixture pages", list.len());
    check("fixtures", &list);
}

#[test]
fn selectors_pick_the_same_elements_as_scraper_on_the_bench_pages() {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench");
    if !bench.is_dir() {
        eprintln!(
            "note: {} is absent; the bench differential is skipped",
            bench.display()
        );
        return;
    }
    let mut list = Vec::new();
    for set in ["zh-articles", "zyte"] {
        pages(&bench.join(set).join("html"), &mut list);
    }
    list.sort();
    assert!(list.len() > 100, "only {} bench pages", list.len());
    check("bench", &list);
}

#[test]
fn a_bad_selector_is_refused_with_scrapers_message() {
    let err = selected_ours("<p>x</p>", &["p["]).unwrap_err();
    assert_eq!(err, selected_html5ever("<p>x</p>", &["p["]).unwrap_err());
}

#[test]
fn only_selectors_that_count_siblings_stay_on_html5evers_tree() {
    for sel in SELECTORS {
        let ours = autosync::extract::conformance::matched_on_our_tree(sel).unwrap();
        assert_eq!(ours, !sel.contains(':'), "{sel}");
    }
    for sel in SIBLING_SELECTORS {
        assert!(
            !autosync::extract::conformance::matched_on_our_tree(sel).unwrap(),
            "{sel}"
        );
    }
}
