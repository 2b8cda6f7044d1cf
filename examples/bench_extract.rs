//! Run the extraction benchmark over a directory of saved pages.
//!
//! ```text
//! cargo run --release --example bench_extract -- DIR [--truth TRUTH.json] [--out out.jsonl]
//! ```
//! DIR holds `html/<id>.html.gz`; when `--truth` is omitted and
//! `DIR/ground-truth.json` exists, it is used.
//!
//! `bench_extract --explain FILE...` instead shows, per page, the best
//! content candidates, the chosen roots, every subtree dropped as
//! boilerplate, and the extracted record: the tool for finding out why a
//! page came out wrong (and whether a per-site selector is needed).

use std::path::PathBuf;

fn explain(files: &[String]) -> anyhow::Result<()> {
    let ex = autosync::extract::Extractor::new();
    for f in files {
        let path = std::path::Path::new(f);
        let mut bytes = std::fs::read(path)?;
        if f.ends_with(".gz") {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out)?;
            bytes = out;
        }
        let (html, enc) = autosync::charset::decode(&bytes, None);
        println!("== {f} ({})", enc.name());
        println!("{}", ex.explain(&html));
        match autosync::extract::extract_file(path, None) {
            Ok(r) => println!("{}", serde_json::to_string_pretty(&r)?),
            Err(e) => println!("error: {e}"),
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.first().map(String::as_str) == Some("--explain") {
        return explain(&all[1..]);
    }
    let mut args = all.into_iter();
    let mut dir: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut truth: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--truth" => truth = args.next().map(PathBuf::from),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let Some(dir) = dir else {
        anyhow::bail!("usage: bench_extract DIR [--truth TRUTH.json] [--out out.jsonl]");
    };
    let truth = truth.or_else(|| Some(dir.join("ground-truth.json")).filter(|p| p.is_file()));
    let report = autosync::extract::bench::run(&dir, truth.as_deref())?;
    if let Some(out) = out {
        report.write_jsonl(&out)?;
    }
    for (path, why) in &report.failures {
        eprintln!("failed: {}: {why}", path.display());
    }
    print!("{}", report.summary());
    Ok(())
}
