//! What site discovery's pure half finds on saved pages: the announced
//! feeds and the news-section links, each with its score, and how long it
//! takes a page.
//!
//! `cargo run --release --example explain_discovery -- FILE...` (html or
//! html.gz; base URL `http://example.invalid/`), or with no arguments over
//! `../shared/bench/zh-articles/` (real Chinese news, government and
//! kepu.gov.cn pages, whose menus name their sections), each page at its
//! own URL from the ground truth. Article pages carry the same menus as
//! home pages: a fair sample of what the section rule meets.

use autosync::scope::SiteScope;
use autosync::source::discover::{Found, home_candidates};
use std::io::Read;
use std::path::Path;
use url::Url;

fn read(path: &Path) -> anyhow::Result<String> {
    let mut bytes = std::fs::read(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out)?;
        bytes = out;
    }
    Ok(autosync::charset::decode(&bytes, None).0)
}

fn pages() -> anyhow::Result<Vec<(std::path::PathBuf, Url)>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        let base = Url::parse("http://example.invalid/")?;
        return Ok(args.into_iter().map(|f| (f.into(), base.clone())).collect());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/zh-articles");
    if !dir.exists() {
        println!("{} is absent: pass files instead", dir.display());
        return Ok(Vec::new());
    }
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json"))?)?;
    let mut out = Vec::new();
    for (id, v) in truth.as_object().into_iter().flatten() {
        let Some(url) = v["url"].as_str().and_then(|u| Url::parse(u).ok()) else {
            continue;
        };
        out.push((dir.join("html").join(format!("{id}.html.gz")), url));
    }
    out.sort();
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let pages = pages()?;
    let (mut with, mut total, mut spent) = (0, 0, std::time::Duration::ZERO);
    for (path, url) in &pages {
        let html = read(path)?;
        let started = std::time::Instant::now();
        let home = home_candidates(&html, url, &SiteScope::of_url(url));
        spent += started.elapsed();
        println!("== {url}");
        for c in &home.candidates {
            let why = match &c.found {
                Found::Announced { format } => format!("feed {format:?}"),
                Found::Section { score, .. } => format!("{score:5.1}"),
            };
            println!("   {why}  {:<12} {}  [{}]", c.label, c.url, c.verdict);
        }
        with += usize::from(!home.candidates.is_empty());
        total += home.candidates.len();
    }
    if !pages.is_empty() {
        println!(
            "\n{} pages: {with} with candidates, {total} candidates, {:.2} ms a page",
            pages.len(),
            spent.as_secs_f64() * 1000.0 / pages.len() as f64
        );
    }
    Ok(())
}
