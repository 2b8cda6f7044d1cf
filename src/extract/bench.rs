//! Extraction benchmark: run the extractor over a directory of saved pages
//! (`DIR/html/<id>.html.gz`), time it, and — given a ground-truth file —
//! score it with the metric of the article-extraction benchmark (4-token
//! shingles as multisets, per-page normalised TP/FP/FN, F1 of the mean
//! precision and mean recall). The scoring mirrors
//! `shared/tools/score_extraction.py` so `autosync bench` can report
//! numbers without Python; that script stays the reference.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use regex::Regex;

use super::{ExtractError, Extractor, FileRecord, read_page};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{path}: cannot list pages: {source}")]
    List {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read ground truth: {reason}")]
    Truth { path: String, reason: String },
}

/// F1 and its parts for one tokenisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    /// Pages with ground truth but no extracted text.
    pub empty: usize,
}

#[derive(Debug)]
pub struct BenchReport {
    pub pages: usize,
    /// Pages that produced no record, with why.
    pub failures: Vec<(PathBuf, String)>,
    /// One record per page that was extracted, in file-name order.
    pub records: Vec<FileRecord>,
    /// Time spent decoding and extracting (not reading or gunzipping).
    pub elapsed: Duration,
    /// Score with `\w+` tokens, when ground truth was given.
    pub words: Option<Score>,
    /// Score with one token per CJK character, when ground truth was given.
    pub cjk: Option<Score>,
}

impl BenchReport {
    pub fn pages_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.pages as f64 / s } else { 0.0 }
    }

    /// The lines `autosync bench` prints: speed, then the scores.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "pages {}  extracted {}  failed {}  {:.3}s  {:.1} pages/s (one thread, decode+extract)\n",
            self.pages,
            self.records.len(),
            self.failures.len(),
            self.elapsed.as_secs_f64(),
            self.pages_per_sec()
        );
        for (name, s) in [("words", self.words), ("cjk", self.cjk)] {
            if let Some(s) = s {
                out.push_str(&format!(
                    "{name:5} F1 {:.4}  precision {:.4}  recall {:.4}  empty {}\n",
                    s.f1, s.precision, s.recall, s.empty
                ));
            }
        }
        out
    }

    /// Write the records as `autosync extract` prints them, one JSON object
    /// a line (what the scorer reads).
    pub fn write_jsonl(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for r in &self.records {
            writeln!(
                f,
                "{}",
                serde_json::to_string(r).map_err(std::io::Error::other)?
            )?;
        }
        f.flush()
    }
}

/// The page id the scorer uses: the base name up to the first dot.
pub fn page_id(file: &str) -> String {
    let base = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    base.split('.').next().unwrap_or("").to_string()
}

/// Extract every page in `dir/html` (or `dir` itself when it has no
/// `html/`) on the current thread, and score against `truth` if given.
pub fn run(dir: &Path, truth: Option<&Path>) -> Result<BenchReport, BenchError> {
    let html_dir = if dir.join("html").is_dir() {
        dir.join("html")
    } else {
        dir.to_path_buf()
    };
    let list_err = |source| BenchError::List {
        path: html_dir.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&html_dir)
        .map_err(list_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.to_string_lossy().to_ascii_lowercase();
            n.ends_with(".html")
                || n.ends_with(".htm")
                || n.ends_with(".html.gz")
                || n.ends_with(".htm.gz")
        })
        .collect();
    files.sort();

    let ex = Extractor::new();
    let mut report = BenchReport {
        pages: files.len(),
        failures: Vec::new(),
        records: Vec::new(),
        elapsed: Duration::ZERO,
        words: None,
        cjk: None,
    };
    for path in files {
        let bytes = match read_page(&path) {
            Ok(b) => b,
            Err(e) => {
                report.failures.push((path, e.to_string()));
                continue;
            }
        };
        let started = Instant::now();
        let (html, _) = crate::charset::decode(&bytes, None);
        let got = ex.extract(&html, None, &super::ExtractOptions::default());
        report.elapsed += started.elapsed();
        match got {
            Ok(article) => report.records.push(FileRecord {
                file: path.display().to_string(),
                article,
            }),
            Err(ExtractError::NotAnArticle { reason, .. }) => report.failures.push((path, reason)),
            Err(e) => report.failures.push((path, e.to_string())),
        }
    }

    if let Some(truth) = truth {
        let truth_err = |reason: String| BenchError::Truth {
            path: truth.display().to_string(),
            reason,
        };
        let raw = std::fs::read_to_string(truth).map_err(|e| truth_err(e.to_string()))?;
        let json: HashMap<String, serde_json::Value> =
            serde_json::from_str(&raw).map_err(|e| truth_err(e.to_string()))?;
        let truth: Vec<(String, String)> = json
            .into_iter()
            .map(|(k, v)| {
                let body = v
                    .get("articleBody")
                    .and_then(|b| b.as_str())
                    .unwrap_or("")
                    .to_string();
                (k, body)
            })
            .collect();
        let pred: HashMap<String, &str> = report
            .records
            .iter()
            .map(|r| (page_id(&r.file), r.article.text.as_str()))
            .collect();
        let tok = Tokenizer::new();
        report.words = Some(score(&truth, &pred, |s| tok.words(s)));
        report.cjk = Some(score(&truth, &pred, |s| tok.cjk(s)));
    }
    Ok(report)
}

struct Tokenizer {
    word: Regex,
    cjk: Regex,
}

impl Tokenizer {
    fn new() -> Tokenizer {
        const CJK: &str = r"\x{3040}-\x{30ff}\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}\x{ac00}-\x{d7af}";
        Tokenizer {
            word: Regex::new(r"\w+").expect("static pattern compiles"),
            cjk: Regex::new(&format!(r"[{CJK}]|[^\W{CJK}]+")).expect("static pattern compiles"),
        }
    }
    fn words<'a>(&self, s: &'a str) -> Vec<&'a str> {
        self.word.find_iter(s).map(|m| m.as_str()).collect()
    }
    fn cjk<'a>(&self, s: &'a str) -> Vec<&'a str> {
        self.cjk.find_iter(s).map(|m| m.as_str()).collect()
    }
}

fn shingles<'a>(toks: &[&'a str]) -> HashMap<Vec<&'a str>, usize> {
    let mut out = HashMap::new();
    if toks.is_empty() {
        return out;
    }
    if toks.len() < 4 {
        out.insert(toks.to_vec(), 1);
        return out;
    }
    for w in toks.windows(4) {
        *out.entry(w.to_vec()).or_insert(0) += 1;
    }
    out
}

fn score<'a, F>(truth: &'a [(String, String)], pred: &HashMap<String, &'a str>, tokens: F) -> Score
where
    F: Fn(&'a str) -> Vec<&'a str>,
{
    let mut ps = Vec::new();
    let mut rs = Vec::new();
    let mut empty = 0;
    for (id, body) in truth {
        let got = pred.get(id).copied().unwrap_or("");
        if got.trim().is_empty() {
            empty += 1;
        }
        let t = shingles(&tokens(body));
        let p = shingles(&tokens(got));
        let mut tp = 0usize;
        for (k, &n) in &t {
            tp += n.min(p.get(k).copied().unwrap_or(0));
        }
        let tn: usize = t.values().sum();
        let pn: usize = p.values().sum();
        let (fp, fn_) = (pn - tp, tn - tp);
        let s = (tp + fp + fn_) as f64;
        let (tp, fp, fn_) = if s > 0.0 {
            (tp as f64 / s, fp as f64 / s, fn_ as f64 / s)
        } else {
            (0.0, 0.0, 0.0)
        };
        if tp + fp > 0.0 {
            ps.push(if fp == 0.0 && fn_ == 0.0 {
                1.0
            } else {
                tp / (tp + fp)
            });
        }
        if tp + fn_ > 0.0 {
            rs.push(if fp == 0.0 && fn_ == 0.0 {
                1.0
            } else {
                tp / (tp + fn_)
            });
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let (precision, recall) = (mean(&ps), mean(&rs));
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Score {
        f1,
        precision,
        recall,
        empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_id_is_base_name_up_to_first_dot() {
        assert_eq!(page_id("/x/html/abc123.html.gz"), "abc123");
        assert_eq!(page_id("abc.html"), "abc");
    }

    #[test]
    fn perfect_and_empty_predictions_score_as_expected() {
        let truth = vec![
            ("a".to_string(), "one two three four five six".to_string()),
            ("b".to_string(), "seven eight nine ten eleven".to_string()),
        ];
        let tok = Tokenizer::new();
        let mut pred = HashMap::new();
        pred.insert("a".to_string(), "one two three four five six");
        let s = score(&truth, &pred, |s| tok.words(s));
        assert_eq!(s.empty, 1);
        assert!((s.precision - 1.0).abs() < 1e-9);
        assert!((s.recall - 0.5).abs() < 1e-9);
        assert_eq!(tok.cjk("中国abc 科协"), vec!["中", "国", "abc", "科", "协"]);
    }
}
