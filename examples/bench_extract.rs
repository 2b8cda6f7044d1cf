//! Run the extraction benchmark over a directory of saved pages.
//!
//! ```text
//! cargo run --release --example bench_extract -- DIR [--truth TRUTH.json] [--out out.jsonl]
//! ```
//! DIR holds `html/<id>.html.gz`; when `--truth` is omitted and
//! `DIR/ground-truth.json` exists, it is used.

use std::io::Write;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
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
        let mut f = std::io::BufWriter::new(std::fs::File::create(&out)?);
        for r in &report.records {
            writeln!(f, "{}", serde_json::to_string(r)?)?;
        }
    }
    for (path, why) in &report.failures {
        eprintln!("failed: {}: {why}", path.display());
    }
    println!(
        "pages {}  extracted {}  failed {}  {:.3}s  {:.1} pages/s (one thread, decode+extract)",
        report.pages,
        report.records.len(),
        report.failures.len(),
        report.elapsed.as_secs_f64(),
        report.pages_per_sec()
    );
    for (name, s) in [("words", report.words), ("cjk", report.cjk)] {
        if let Some(s) = s {
            println!(
                "{name:5} F1 {:.4}  precision {:.4}  recall {:.4}  empty {}",
                s.f1, s.precision, s.recall, s.empty
            );
        }
    }
    Ok(())
}
