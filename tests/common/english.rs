//! A check that no English sentence reaches a page an editor reads.
//!
//! The editors are Chinese office staff; an English error ("item … is
//! published, not held") is a message they cannot act on. Single English
//! words are normal on the desk (`autosync`, `CSV`, `Cookie`, a URL, an
//! account's name), so what is flagged is a *run* of [`RUN`] or more
//! consecutive English words in the page's text (tags and attributes
//! removed, scripts and styles dropped), minus an allowlist of words and
//! anything that looks like a URL, a path, an id or a number.

/// How many consecutive English words make a sentence.
pub const RUN: usize = 3;

/// Words that are fine on a Chinese page, whatever surrounds them.
pub const ALLOWED: &[&str] = &[
    "autosync", "csv", "cookie", "token", "url", "id", "api", "rss", "html", "https", "http",
    "cst", "utc", "json", "excel", "xlsx",
];

/// The page's visible text: tags (with their attributes) removed, the
/// contents of `script`, `style` and `iframe` dropped, common entities
/// decoded.
pub fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        if html.as_bytes()[i] == b'<' {
            // Skip whole elements whose content is not text an editor reads.
            let skipped = ["script", "style", "iframe"].iter().find_map(|t| {
                let open = format!("<{t}");
                lower[i..].starts_with(&open).then(|| {
                    let close = format!("</{t}>");
                    lower[i..]
                        .find(&close)
                        .map_or(html.len(), |e| i + e + close.len())
                })
            });
            let end = match skipped {
                Some(end) => end,
                None => html[i..].find('>').map_or(html.len(), |e| i + e + 1),
            };
            // An inline tag is part of the sentence around it; any other
            // (a cell, a paragraph, an option) ends it.
            let name: String = lower[i + 1..end]
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let inline = [
                "a", "span", "strong", "em", "b", "i", "mark", "code", "label",
            ];
            out.push_str(if inline.contains(&name.as_str()) {
                " "
            } else {
                " | "
            });
            i = end;
            continue;
        }
        let next = html[i..].find('<').map_or(html.len(), |e| i + e);
        out.push_str(&html[i..next]);
        i = next;
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// What a whitespace-separated token is, for the check.
#[derive(PartialEq)]
enum Token {
    /// Letters (maybe an apostrophe or hyphen), punctuation around them.
    Word,
    /// A word the allowlist names: part of a run, but a run of these
    /// alone (an account called "Science Daily News") is no sentence.
    Allowed,
    /// Anything else (a URL, a number, an id, Chinese): ends a run.
    Other,
}

fn token(t: &str, allow: &[&str]) -> Token {
    let w = t.trim_matches(|c: char| ",.;:!?()\"'[]{}".contains(c));
    if !w.chars().any(|c| c.is_ascii_alphabetic())
        || !w
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '\'' || c == '-')
    {
        return Token::Other;
    }
    if ALLOWED
        .iter()
        .chain(allow)
        .any(|a| a.eq_ignore_ascii_case(w))
    {
        Token::Allowed
    } else {
        Token::Word
    }
}

/// The runs of [`RUN`] or more English words in `html`'s visible text, not
/// all of them allowed; `allow` adds words (account names from the config,
/// say).
pub fn english_runs(html: &str, allow: &[&str]) -> Vec<String> {
    let text = visible_text(html);
    let mut runs = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    let mut words = 0;
    let mut end = |run: &mut Vec<&str>, words: &mut usize| {
        if run.len() >= RUN && *words > 0 {
            runs.push(run.join(" "));
        }
        run.clear();
        *words = 0;
    };
    // Splitting on whitespace and on every non-ASCII character: a Chinese
    // character between two words ends the run.
    for t in text.split(|c: char| c.is_whitespace() || !c.is_ascii()) {
        if t.is_empty() {
            continue;
        }
        match token(t, allow) {
            Token::Word => {
                run.push(t);
                words += 1;
            }
            Token::Allowed => run.push(t),
            Token::Other => end(&mut run, &mut words),
        }
    }
    end(&mut run, &mut words);
    runs
}

/// Fails the test, naming the page and the English found, if `html` has an
/// English sentence.
pub fn assert_no_english(what: &str, html: &str, allow: &[&str]) {
    let runs = english_runs(html, allow);
    assert!(
        runs.is_empty(),
        "English on the desk page {what}: {runs:?}\n{}",
        visible_text(html)
    );
}
