//! The parser against html5lib's tree-construction tests, the reference
//! suite browsers' parsers are held to (issue 14, "Broken markup").
//!
//! Each document test's expected tree and the trees of this crate's parser
//! and of html5ever are compared on what extraction uses of them (see
//! `autosync::extract::conformance`: elements and their text, after the
//! arena's drops). The pass rates are in BENCHMARKS.md ("HTML parser");
//! `cargo test --test parse_html5lib -- --nocapture` prints them and every
//! test html5ever passes and this parser does not. The suite is read from
//! `../shared`; without it the test says so and passes.

use std::path::Path;

use autosync::extract::conformance;

/// Tests this parser passes today: a regression guard (the suite has 1,573
/// document tests; see BENCHMARKS.md for what the rest are).
const PASSING_AT_LEAST: usize = 1541;

#[test]
fn html5lib_tree_construction_text_affecting_trees() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/bench/html5lib-tests/tree-construction");
    if !dir.is_dir() {
        eprintln!(
            "note: {} is absent; the html5lib tests are skipped",
            dir.display()
        );
        return;
    }
    let r = conformance::run(&dir).expect("the html5lib test files read");
    println!(
        "html5lib tree-construction: {} files, {} document tests ({} fragment / scripting-off tests left out)",
        r.files, r.cases, r.skipped
    );
    let pct = |n: usize| 100.0 * n as f64 / r.cases.max(1) as f64;
    println!("autosync parser: {} passed ({:.1}%)", r.ours, pct(r.ours));
    println!(
        "html5ever:       {} passed ({:.1}%)",
        r.html5ever,
        pct(r.html5ever)
    );
    println!(
        "html5ever passes, autosync does not: {}; neither passes: {}",
        r.ours_only_fail.len(),
        r.both_fail
    );
    // AUTOSYNC_HTML5LIB_DIFF=1 shows the expected and the parsed trees.
    let diff = std::env::var_os("AUTOSYNC_HTML5LIB_DIFF").is_some();
    // Failures that change the text, not only which element holds it.
    let text_changing: Vec<_> = r
        .ours_only_fail
        .iter()
        .filter(|c| conformance::text_ours(&c.data) != conformance::text_expected(&c.expected))
        .collect();
    println!("of which change the text: {}", text_changing.len());
    for c in &text_changing {
        println!("  text: {}:{} {:?}", c.file, c.line, c.data);
    }
    for c in &r.ours_only_fail {
        println!("  {}:{} {:?}", c.file, c.line, c.data);
        if diff {
            println!("    want {}", conformance::shape_expected(&c.expected));
            println!("    got  {}", conformance::shape_ours(&c.data));
        }
    }
    assert!(
        r.cases > 1000,
        "the suite looks truncated: {} tests",
        r.cases
    );
    assert!(
        text_changing.is_empty(),
        "{} failures change the extracted text",
        text_changing.len()
    );
    assert!(
        r.ours >= PASSING_AT_LEAST,
        "{} passed, {PASSING_AT_LEAST} before",
        r.ours
    );
}
