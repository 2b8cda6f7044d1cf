//! Show why the extractor chose the content it chose: `explain_extract FILE`.
fn main() -> anyhow::Result<()> {
    for a in std::env::args().skip(1) {
        let rec = autosync::extract::extract_file(std::path::Path::new(&a), None);
        let bytes = {
            let raw = std::fs::read(&a)?;
            if a.ends_with(".gz") {
                use std::io::Read;
                let mut o = Vec::new();
                flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut o)?;
                o
            } else {
                raw
            }
        };
        let (html, _) = autosync::charset::decode(&bytes, None);
        println!("{}", autosync::extract::Extractor::new().explain(&html));
        match rec {
            Ok(r) => println!("{}", serde_json::to_string_pretty(&r)?),
            Err(e) => println!("error: {e}"),
        }
    }
    Ok(())
}
