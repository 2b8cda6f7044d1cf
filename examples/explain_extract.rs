//! Why a page extracted as it did. (The benchmark itself is `autosync bench
//! DIR`.)
//!
//! `cargo run --release --example explain_extract -- FILE...` shows, per page, the best
//! content candidates, the chosen roots, every subtree dropped as
//! boilerplate, and the extracted record: the tool for finding out why a
//! page came out wrong (and whether a per-site selector is needed).

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
        match ex.extract_file(path, None) {
            Ok(r) => println!("{}", serde_json::to_string_pretty(&r)?),
            Err(e) => println!("error: {e}"),
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let files: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--explain")
        .collect();
    if files.is_empty() {
        anyhow::bail!(
            "usage: explain_extract FILE...\n(the benchmark itself is `autosync bench DIR`)"
        );
    }
    explain(&files)
}
