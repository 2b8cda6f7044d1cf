//! Extraction time on pathological pages: deep nesting, huge tables, long
//! attribute runs, many unclosed or misnested formatting elements, stray
//! table content. The parser must stay linear on all of them (issue 14).
//!
//! `cargo run --release --example bench_pathological [-- --html5ever | --write DIR]`
//! prints a Markdown table (BENCHMARKS.md, "Pathological pages"): page
//! size, the extractor's time (parse, score, clean, metadata: the path the
//! daemon uses), and with `--html5ever` the time html5ever (through
//! scraper, as the per-site selector path uses it) takes only to parse.

use std::time::{Duration, Instant};

fn repeat(piece: impl Fn(usize) -> String, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&piece(i));
    }
    s
}

fn page(body: String) -> String {
    format!("<!doctype html><html><head><title>t</title></head><body>{body}</body></html>")
}

fn cases() -> Vec<(&'static str, String)> {
    let text = "中国科学技术协会发布通知，请各单位认真学习。";
    vec![
        (
            "25,000 nested <div>, closed",
            page(format!(
                "{}{text}{}",
                "<div>".repeat(25_000),
                "</div>".repeat(25_000)
            )),
        ),
        (
            "100,000 nested <div>, closed",
            page(format!(
                "{}{text}{}",
                "<div>".repeat(100_000),
                "</div>".repeat(100_000)
            )),
        ),
        (
            "200,000 unclosed <div> (1 MB)",
            page(format!("{}{text}", "<div>".repeat(200_000))),
        ),
        (
            "200,000 unclosed <span> with text",
            page(repeat(|_| "<span>字".to_string(), 200_000)),
        ),
        (
            "5,000 nested tables",
            page(format!("{}{text}", "<table><tr><td>".repeat(5_000))),
        ),
        (
            "table 5,000 rows x 20 cells",
            page(format!(
                "<table>{}</table>",
                repeat(
                    |r| format!("<tr>{}</tr>", repeat(|c| format!("<td>{r}-{c}</td>"), 20)),
                    5_000
                )
            )),
        ),
        (
            "100,000 unclosed <tr><td>",
            page(format!(
                "<table>{}",
                repeat(|i| format!("<tr><td>{i}"), 100_000)
            )),
        ),
        (
            "one tag with 100,000 attributes",
            page(format!(
                "<div {}>{text}</div>",
                repeat(|i| format!("a{i}=\"{i}\" "), 100_000)
            )),
        ),
        (
            "one 2 MB attribute value",
            page(format!(
                "<a href=\"{}\">{text}</a><p>{text}</p>",
                "x".repeat(2_000_000)
            )),
        ),
        (
            "200,000 unclosed <b>",
            page(repeat(|_| "<b>字".to_string(), 200_000)),
        ),
        (
            "100,000 unclosed distinct <font>",
            page(repeat(|i| format!("<font color=#{i:06x}>字"), 100_000)),
        ),
        (
            "100,000 <p><font></p> (reconstruction)",
            page(repeat(
                |i| format!("<p><font color=#{i:06x}>字</p>"),
                100_000,
            )),
        ),
        (
            "50,000 <b>x<div>y</b> (adoption agency)",
            page(repeat(|_| "<b>x<div>y</b>".to_string(), 50_000)),
        ),
        (
            "100,000 stray runs in a <table> (foster parenting)",
            page(format!(
                "<table>{}</table>",
                repeat(|_| "text<b>bold".to_string(), 100_000)
            )),
        ),
        (
            "list page, 50,000 unclosed <li> (2.6 MB)",
            page(format!(
                "<ul>{}</ul>",
                repeat(
                    |i| format!(
                        "<li><a href=\"/art/2024/{i}.html\">科协动态第{i}期</a><span>2024-01-01</span>"
                    ),
                    50_000
                )
            )),
        ),
    ]
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let with_html5ever = args.iter().any(|a| a == "--html5ever");
    // `--write DIR`: save the pages (NN.html) to time another build on them,
    // e.g. `autosync extract DIR/NN.html` of an older commit.
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
    {
        std::fs::create_dir_all(dir).expect("create the output directory");
        for (i, (name, html)) in cases().into_iter().enumerate() {
            let path = std::path::Path::new(dir).join(format!("{i:02}.html"));
            std::fs::write(&path, html).expect("write a page");
            println!("{} {name}", path.display());
        }
        return;
    }
    let ex = autosync::extract::Extractor::new();
    let opts = autosync::extract::ExtractOptions::default();
    println!(
        "| page | size | autosync extract (ms) | text chars |{}",
        if with_html5ever {
            " html5ever parse only (ms) |"
        } else {
            ""
        }
    );
    println!(
        "|---|---:|---:|---:|{}",
        if with_html5ever { "---:|" } else { "" }
    );
    for (name, html) in cases() {
        let (res, t) = time(|| ex.extract(&html, None, &opts));
        let chars = res.map_or(0, |a| a.text.chars().count());
        let mut row = format!(
            "| {name} | {:.2} MB | {:.1} | {chars} |",
            html.len() as f64 / 1e6,
            t.as_secs_f64() * 1e3
        );
        if with_html5ever {
            let (_, t5) = time(|| scraper::Html::parse_document(&html));
            row.push_str(&format!(" {:.1} |", t5.as_secs_f64() * 1e3));
        }
        println!("{row}");
    }
}
