//! The review step: may a new item be published automatically, or must it
//! wait for an editor?
//!
//! Three kinds of check, because three things go wrong on a government
//! account and each is worse than a delay:
//!
//! * **word lists** (policy `keywords`): terms the unit's editors want to see
//!   before anything containing them goes out. Matching has to survive the
//!   ways the same words appear on real pages — full-width letters and digits
//!   from Chinese input methods, mixed case, and spacing (`习 近 平`,
//!   ideographic spaces, NBSP from `&nbsp;` padding) — so terms and text are
//!   both normalised before matching, and hits are mapped back to the original
//!   text so the editor sees exactly what was on the page.
//! * **extraction looks wrong** (every policy): no body, no date, a title we
//!   had to shorten, images we could not fetch. Publishing a broken article is
//!   worse than holding a good one.
//! * **personal data** (every policy): mainland resident ID numbers and mobile
//!   numbers, which notices sometimes carry (公示 lists, contact lines). IDs
//!   are validated (date of birth and ISO 7064 MOD 11-2 check character) so
//!   that long document numbers do not trip the check. Values are only ever
//!   reported masked; the context shown around any hit has them masked too.
//!
//! Every reason string starts with a stable ASCII code (`keyword:`,
//! `no-text:`, …, see [`reason_code`]) followed by the Chinese text editors
//! read.

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How a unit's new items are reviewed.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Publish whatever passes the extraction and personal-data checks.
    #[default]
    Auto,
    /// Every item waits for an editor.
    Manual,
    /// Items that hit the unit's word lists wait; the rest are as `auto`.
    Keywords,
}

/// Errors loading word lists. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("word list {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "word list {path}, line {line}: not valid UTF-8 (save the file as UTF-8; GBK and other encodings are not accepted)"
    )]
    InvalidUtf8 { path: PathBuf, line: usize },
}

/// Characters of original text shown either side of a hit.
pub const CONTEXT_CHARS: usize = 20;

/// The `list` of hits that report personal data rather than word-list terms.
pub const PERSONAL_DATA_LIST: &str = "personal-data";

/// Stable reason codes (the part before the first `:` of a reason).
pub mod codes {
    pub const MANUAL: &str = "manual";
    pub const KEYWORD: &str = "keyword";
    pub const NO_WORD_LISTS: &str = "no-word-lists";
    pub const NO_TEXT: &str = "no-text";
    pub const NO_TITLE: &str = "no-title";
    pub const NO_DATE: &str = "no-date";
    pub const TITLE_SHORTENED: &str = "title-shortened";
    pub const IMAGES_DROPPED: &str = "images-dropped";
    pub const PERSONAL_DATA: &str = "personal-data";
}

/// The machine-readable code of a reason produced by [`review`]
/// (`"no-text: 未提取到正文"` → `"no-text"`).
pub fn reason_code(reason: &str) -> &str {
    reason.split_once(':').map_or(reason, |(code, _)| code)
}

// ---------------------------------------------------------------- word lists

/// A named list of terms, one per line in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordList {
    /// Shown to editors with each hit: the file stem for loaded lists.
    pub name: String,
    pub terms: Vec<String>,
}

impl WordList {
    /// Loads a UTF-8 file: one term per line; blank lines and lines starting
    /// with `#` are ignored; a leading BOM and CRLF line ends are tolerated;
    /// surrounding whitespace (including U+3000) is trimmed.
    pub fn load(path: impl AsRef<Path>) -> Result<WordList, ReviewError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ReviewError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let mut terms = Vec::new();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = std::str::from_utf8(line).map_err(|_| ReviewError::InvalidUtf8 {
                path: path.to_path_buf(),
                line: i + 1,
            })?;
            let term = line.trim();
            if term.is_empty() || term.starts_with('#') {
                continue;
            }
            terms.push(term.to_string());
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(WordList::from_terms(name, terms))
    }

    /// A list from terms in memory; terms are trimmed, empty ones dropped,
    /// exact duplicates dropped.
    pub fn from_terms<I, S>(name: impl Into<String>, terms: I) -> WordList
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut seen = BTreeSet::new();
        let terms = terms
            .into_iter()
            .map(|t| t.as_ref().trim().to_string())
            .filter(|t| !t.is_empty() && seen.insert(t.clone()))
            .collect();
        WordList {
            name: name.into(),
            terms,
        }
    }
}

/// One place in a text that needs an editor's eye.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// The word list's name, or [`PERSONAL_DATA_LIST`].
    pub list: String,
    /// The term as written in the list; for personal data, its kind
    /// (`身份证号`, `手机号`).
    pub term: String,
    /// The span of the original text that matched (masked for personal data).
    pub matched: String,
    /// About [`CONTEXT_CHARS`] characters of original text either side,
    /// the hit included (personal data masked).
    pub context: String,
}

// ------------------------------------------------------------ normalisation

/// Full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space to
/// their ASCII forms; everything else unchanged.
pub fn halfwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Characters dropped before matching: whitespace of every kind (U+3000 and
/// NBSP included), the zero-width characters and soft hyphens pages use
/// for spacing or to break up words.
fn is_dropped(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

/// The matching form of a string: half-width, lowercase, no spacing.
pub fn normalize(s: &str) -> String {
    Normalized::new(s).text
}

/// A normalised text with, for each of its bytes, the byte offset in the
/// original of the character it came from, so matches map back.
struct Normalized {
    text: String,
    origin: Vec<usize>,
}

impl Normalized {
    fn new(original: &str) -> Normalized {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        for (at, c) in original.char_indices() {
            let c = halfwidth(c);
            if is_dropped(c) {
                continue;
            }
            for lower in c.to_lowercase() {
                text.push(lower);
                origin.resize(text.len(), at);
            }
        }
        Normalized { text, origin }
    }

    /// The original byte range covering normalised bytes `range`.
    fn original_range(&self, original: &str, range: Range<usize>) -> Option<Range<usize>> {
        let start = *self.origin.get(range.start)?;
        let last = *self.origin.get(range.end.checked_sub(1)?)?;
        let last_len = original.get(last..)?.chars().next()?.len_utf8();
        Some(start..last + last_len)
    }
}

/// Up to [`CONTEXT_CHARS`] characters either side of `range`, with the range.
fn context(text: &str, range: Range<usize>) -> String {
    let start = text[..range.start]
        .char_indices()
        .rev()
        .nth(CONTEXT_CHARS - 1)
        .map_or(0, |(i, _)| i);
    let end = text[range.end..]
        .char_indices()
        .nth(CONTEXT_CHARS)
        .map_or(text.len(), |(i, _)| range.end + i);
    text[start..end].to_string()
}

// ---------------------------------------------------------------- matcher

/// All of a unit's word lists compiled into one automaton. Build it once per
/// set of lists (at config load), not per item.
#[derive(Debug, Clone)]
pub struct Matcher {
    automaton: Result<AhoCorasick, String>,
    /// For each pattern id: (list index, term index).
    patterns: Vec<(usize, usize)>,
    lists: Vec<WordList>,
}

impl Matcher {
    /// Compiles the lists. Terms that normalise to nothing are skipped.
    ///
    /// If the automaton cannot be built (only beyond aho-corasick's size
    /// limits, far past any real word list), the matcher reports a hit on
    /// every non-empty text rather than letting items through unchecked;
    /// [`Matcher::build_error`] says why.
    pub fn new(lists: &[WordList]) -> Matcher {
        let mut normalized = Vec::new();
        let mut patterns = Vec::new();
        for (li, list) in lists.iter().enumerate() {
            for (ti, term) in list.terms.iter().enumerate() {
                let n = normalize(term);
                if !n.is_empty() {
                    normalized.push(n);
                    patterns.push((li, ti));
                }
            }
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&normalized)
            .map_err(|e| e.to_string());
        Matcher {
            automaton,
            patterns,
            lists: lists.to_vec(),
        }
    }

    /// Why the automaton could not be built, if it could not.
    pub fn build_error(&self) -> Option<&str> {
        self.automaton.as_ref().err().map(String::as_str)
    }

    /// The number of (non-empty) terms compiled in.
    pub fn term_count(&self) -> usize {
        self.patterns.len()
    }

    /// Non-overlapping, leftmost-longest hits of any list's term in `text`,
    /// in text order, each with the original span and its context.
    pub fn find(&self, text: &str) -> Vec<Hit> {
        let automaton = match &self.automaton {
            Ok(a) => a,
            Err(e) => {
                if text.trim().is_empty() {
                    return Vec::new();
                }
                return vec![Hit {
                    list: "matcher-error".to_string(),
                    term: e.clone(),
                    matched: String::new(),
                    context: context(text, 0..0),
                }];
            }
        };
        if self.patterns.is_empty() {
            return Vec::new();
        }
        let norm = Normalized::new(text);
        let mut hits = Vec::new();
        for m in automaton.find_iter(&norm.text) {
            let Some(&(li, ti)) = self.patterns.get(m.pattern().as_usize()) else {
                continue;
            };
            let Some(span) = norm.original_range(text, m.range()) else {
                continue;
            };
            hits.push(Hit {
                list: self.lists[li].name.clone(),
                term: self.lists[li].terms[ti].clone(),
                matched: text[span.clone()].to_string(),
                context: context(text, span),
            });
        }
        hits
    }
}

// ------------------------------------------------------------ personal data

/// What kind of personal data was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalDataKind {
    /// 18-character mainland resident identity card number.
    ResidentId,
    /// Mainland mobile number.
    Mobile,
}

impl PersonalDataKind {
    /// The name editors see.
    pub fn label(self) -> &'static str {
        match self {
            PersonalDataKind::ResidentId => "身份证号",
            PersonalDataKind::Mobile => "手机号",
        }
    }
}

/// One piece of personal data in a text. The value itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalData {
    pub kind: PersonalDataKind,
    /// Byte range in the text searched.
    pub range: Range<usize>,
    /// The value with its middle masked: `1101**********1234`, `1381****678`.
    pub masked: String,
}

/// Whether `id` (exactly 18 ASCII characters) is a well-formed mainland
/// resident ID: a known province code, a real date of birth (1900–2099), and
/// the ISO 7064 MOD 11-2 check character (`X` or `x` for 10).
pub fn is_valid_resident_id(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const PROVINCES: &[u8] = &[
        11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51,
        52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
    ];
    let digit = |i: usize| u32::from(b[i] - b'0');
    let province = (b[0] - b'0') * 10 + (b[1] - b'0');
    if !PROVINCES.contains(&province) {
        return false;
    }
    let year = digit(6) * 1000 + digit(7) * 100 + digit(8) * 10 + digit(9);
    let month = digit(10) * 10 + digit(11);
    let day = digit(12) * 10 + digit(13);
    if !(1900..=2099).contains(&year) {
        return false;
    }
    let Ok(year) = i32::try_from(year) else {
        return false;
    };
    if chrono::NaiveDate::from_ymd_opt(year, month, day).is_none() {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = (0..17).map(|i| digit(i) * WEIGHTS[i]).sum();
    let expected = b"10X98765432"[(sum % 11) as usize];
    b[17].to_ascii_uppercase() == expected
}

fn is_mobile(digits: &[char]) -> bool {
    digits.len() == 11
        && digits[0] == '1'
        && ('3'..='9').contains(&digits[1])
        && digits.iter().all(char::is_ascii_digit)
}

/// Keeps the first `keep_start` and last `keep_end` characters.
pub fn mask(value: &[char], keep_start: usize, keep_end: usize) -> String {
    value
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if i < keep_start || i + keep_end >= value.len() {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Finds resident ID numbers and mobile numbers in `text`. Full-width digits
/// count; a number must not be part of a longer digit run. Mobile numbers
/// are also found as `138 1234 5678`, `138-1234-5678` and `+8613812345678`.
pub fn find_personal_data(text: &str) -> Vec<PersonalData> {
    // Half-width view, one entry per original char, with its byte range.
    let chars: Vec<(Range<usize>, char)> = text
        .char_indices()
        .map(|(at, c)| (at..at + c.len_utf8(), halfwidth(c)))
        .collect();
    let is_digit = |i: usize| chars.get(i).is_some_and(|(_, c)| c.is_ascii_digit());
    let run_end = |mut i: usize| {
        while is_digit(i) {
            i += 1;
        }
        i
    };
    let span = |from: usize, to: usize| chars[from].0.start..chars[to - 1].0.end;

    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(i) {
            i += 1;
            continue;
        }
        let start = i;
        let end = run_end(i);
        i = end;
        let digits: Vec<char> = chars[start..end].iter().map(|(_, c)| *c).collect();

        // ID ending in X: 17 digits, then X, then no further digit.
        if digits.len() == 17
            && chars.get(end).is_some_and(|(_, c)| matches!(c, 'X' | 'x'))
            && !is_digit(end + 1)
        {
            let mut id = digits.clone();
            id.push('X');
            if is_valid_resident_id(&id.iter().collect::<String>()) {
                found.push(PersonalData {
                    kind: PersonalDataKind::ResidentId,
                    range: span(start, end + 1),
                    masked: mask(&id, 4, 4),
                });
            }
            i = end + 1;
            continue;
        }
        // A digit run glued to a trailing X is not a separate number.
        if chars.get(end).is_some_and(|(_, c)| matches!(c, 'X' | 'x')) {
            continue;
        }
        match digits.len() {
            18 if is_valid_resident_id(&digits.iter().collect::<String>()) => {
                found.push(PersonalData {
                    kind: PersonalDataKind::ResidentId,
                    range: span(start, end),
                    masked: mask(&digits, 4, 4),
                });
            }
            11 if is_mobile(&digits) => found.push(PersonalData {
                kind: PersonalDataKind::Mobile,
                range: span(start, end),
                masked: mask(&digits, 4, 3),
            }),
            // +86 / 0086 glued to the number.
            13 | 15
                if is_mobile(&digits[digits.len() - 11..]) && {
                    let prefix: String = digits[..digits.len() - 11].iter().collect();
                    prefix == "86" || prefix == "0086"
                } =>
            {
                found.push(PersonalData {
                    kind: PersonalDataKind::Mobile,
                    range: span(start, end),
                    masked: mask(&digits[digits.len() - 11..], 4, 3),
                })
            }
            // 138 1234 5678 / 138-1234-5678
            3 if digits[0] == '1' && ('3'..='9').contains(&digits[1]) => {
                let sep = chars.get(end).map(|(_, c)| *c);
                if let Some(sep @ (' ' | '-')) = sep {
                    let b_end = run_end(end + 1);
                    let c_end = run_end(b_end + 1);
                    if b_end == end + 5
                        && chars.get(b_end).map(|(_, c)| *c) == Some(sep)
                        && c_end == b_end + 5
                    {
                        let all: Vec<char> = chars[start..c_end]
                            .iter()
                            .map(|(_, c)| *c)
                            .filter(char::is_ascii_digit)
                            .collect();
                        found.push(PersonalData {
                            kind: PersonalDataKind::Mobile,
                            range: span(start, c_end),
                            masked: mask(&all, 4, 3),
                        });
                        i = c_end;
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// `text` with every personal-data value replaced by its mask, and the
/// ranges of the masks in the new text.
fn redact(text: &str, found: &[PersonalData]) -> (String, Vec<Range<usize>>) {
    let mut out = String::with_capacity(text.len());
    let mut ranges = Vec::with_capacity(found.len());
    let mut at = 0;
    for pd in found {
        out.push_str(&text[at..pd.range.start]);
        let start = out.len();
        out.push_str(&pd.masked);
        ranges.push(start..out.len());
        at = pd.range.end;
    }
    out.push_str(&text[at..]);
    (out, ranges)
}

// ---------------------------------------------------------------- review

/// What the extractor produced, as far as review cares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Draft<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub published_at_known: bool,
    /// The title was longer than the platform allows and was cut.
    pub title_shortened: bool,
    /// Images in the article that could not be fetched.
    pub images_dropped: usize,
}

/// The review's answer for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Publish,
    Hold {
        /// `code: 中文说明`, one per problem; see [`reason_code`].
        reasons: Vec<String>,
        /// Where in the title/text the problems are, for the editor.
        hits: Vec<Hit>,
    },
}

impl Verdict {
    pub fn is_publish(&self) -> bool {
        matches!(self, Verdict::Publish)
    }
}

/// Decides whether `draft` may be published under `policy`. `matcher` holds
/// the unit's word lists; it is required for [`Policy::Keywords`] (without
/// it every item is held, since publishing unchecked would defeat the
/// policy) and consulted for [`Policy::Manual`] to point editors at hits.
pub fn review(policy: Policy, draft: &Draft, matcher: Option<&Matcher>) -> Verdict {
    let mut reasons = Vec::new();
    let mut hits = Vec::new();

    if policy == Policy::Manual {
        reasons.push(format!("{}: 需人工审核", codes::MANUAL));
    }

    // Personal data first: the texts word lists see are redacted, so no
    // hit's context can carry an unmasked value.
    let mut pd_labels = Vec::new();
    let mut redacted = Vec::new();
    for part in [draft.title, draft.text] {
        let found = find_personal_data(part);
        let (clean, ranges) = redact(part, &found);
        for (pd, range) in found.iter().zip(ranges) {
            pd_labels.push(format!("{} {}", pd.kind.label(), pd.masked));
            hits.push(Hit {
                list: PERSONAL_DATA_LIST.to_string(),
                term: pd.kind.label().to_string(),
                matched: pd.masked.clone(),
                context: context(&clean, range),
            });
        }
        redacted.push(clean);
    }
    for label in &pd_labels {
        reasons.push(format!("{}: 疑似个人信息：{label}", codes::PERSONAL_DATA));
    }

    match (policy, matcher) {
        (Policy::Keywords | Policy::Manual, Some(m)) => {
            let mut terms = Vec::new();
            for part in &redacted {
                for hit in m.find(part) {
                    let key = (hit.list.clone(), hit.term.clone());
                    if !terms.contains(&key) {
                        terms.push(key);
                    }
                    hits.push(hit);
                }
            }
            if policy == Policy::Keywords {
                for (list, term) in terms {
                    reasons.push(format!("{}: 命中敏感词：{term}（{list}）", codes::KEYWORD));
                }
            }
        }
        (Policy::Keywords, None) => {
            reasons.push(format!(
                "{}: 未配置敏感词表，无法按关键词审核",
                codes::NO_WORD_LISTS
            ));
        }
        _ => {}
    }

    if draft.text.trim().is_empty() {
        reasons.push(format!("{}: 未提取到正文", codes::NO_TEXT));
    }
    if draft.title.trim().is_empty() {
        reasons.push(format!("{}: 未提取到标题", codes::NO_TITLE));
    }
    if !draft.published_at_known {
        reasons.push(format!("{}: 未找到发布时间", codes::NO_DATE));
    }
    if draft.title_shortened {
        reasons.push(format!("{}: 标题过长已截断", codes::TITLE_SHORTENED));
    }
    if draft.images_dropped > 0 {
        reasons.push(format!(
            "{}: 图片未能获取：{} 张",
            codes::IMAGES_DROPPED,
            draft.images_dropped
        ));
    }

    if reasons.is_empty() {
        Verdict::Publish
    } else {
        Verdict::Hold { reasons, hits }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(terms: &[&str]) -> Matcher {
        Matcher::new(&[WordList::from_terms("test", terms.iter().copied())])
    }

    fn good_draft<'a>(title: &'a str, text: &'a str) -> Draft<'a> {
        Draft {
            title,
            text,
            published_at_known: true,
            title_shortened: false,
            images_dropped: 0,
        }
    }

    fn reasons(v: &Verdict) -> Vec<String> {
        match v {
            Verdict::Publish => Vec::new(),
            Verdict::Hold { reasons, .. } => reasons.clone(),
        }
    }

    fn codes_of(v: &Verdict) -> Vec<String> {
        reasons(v)
            .iter()
            .map(|r| reason_code(r).to_string())
            .collect()
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/words")
            .join(name)
    }

    #[test]
    fn halfwidth_maps_the_fullwidth_block_and_ideographic_space() {
        assert_eq!(halfwidth('Ａ'), 'A');
        assert_eq!(halfwidth('１'), '1');
        assert_eq!(halfwidth('！'), '!');
        assert_eq!(halfwidth('～'), '~');
        assert_eq!(halfwidth('\u{3000}'), ' ');
        assert_eq!(halfwidth('中'), '中');
        assert_eq!(halfwidth('。'), '。');
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(
            normalize("习 近\u{3000}平\u{00A0}x\u{200B}Y\u{00AD}z"),
            "习近平xyz"
        );
    }

    #[test]
    fn fullwidth_text_matches_halfwidth_term_and_vice_versa() {
        let m = matcher(&["abc123", "ＶＰＮ"]);
        let hits = m.find("看这里ＡＢＣ１２３和vpn");
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].term, "abc123");
        assert_eq!(hits[0].matched, "ＡＢＣ１２３");
        assert_eq!(hits[1].term, "ＶＰＮ");
        assert_eq!(hits[1].matched, "vpn");
    }

    #[test]
    fn spaced_text_matches_and_reports_the_spaced_original() {
        let m = matcher(&["习近平"]);
        for (text, span) in [
            ("会议上习 近 平讲话", "习 近 平"),
            ("会议上习\u{3000}近\u{3000}平讲话", "习\u{3000}近\u{3000}平"),
            ("习\u{00A0}近平", "习\u{00A0}近平"),
            ("习\n近平", "习\n近平"),
            ("习\u{200B}近平", "习\u{200B}近平"),
        ] {
            let hits = m.find(text);
            assert_eq!(hits.len(), 1, "{text:?}");
            assert_eq!(hits[0].matched, span, "{text:?}");
        }
        // A term written with spaces matches the unspaced text too.
        let m = matcher(&["Falun Gong"]);
        assert_eq!(m.find("FALUNGONG").len(), 1);
    }

    #[test]
    fn case_is_ignored() {
        let m = matcher(&["VPN"]);
        let hits = m.find("使用Vpn软件");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].matched, "Vpn");
    }

    #[test]
    fn hit_context_is_original_text_around_the_hit() {
        let m = matcher(&["敏感"]);
        let before = "一二三四五六七八九十甲乙丙丁戊己庚辛壬癸子丑";
        let after = "ＡＢＣ　ＤＥＦ abc 零一二三四五六七八九十末尾多余";
        let text = format!("{before}敏 感{after}");
        let hits = m.find(&text);
        assert_eq!(hits.len(), 1);
        let ctx = &hits[0].context;
        let want_before: String = before.chars().skip(before.chars().count() - 20).collect();
        let want_after: String = after.chars().take(20).collect();
        assert_eq!(ctx, &format!("{want_before}敏 感{want_after}"));
        // Near the edges the context is just shorter.
        let hits = m.find("敏感");
        assert_eq!(hits[0].context, "敏感");
    }

    #[test]
    fn matches_are_leftmost_longest_and_non_overlapping() {
        let m = Matcher::new(&[
            WordList::from_terms("a", ["中国", "中国科协"]),
            WordList::from_terms("b", ["科协会议"]),
        ]);
        let hits = m.find("中国科协会议");
        assert_eq!(hits.len(), 1);
        assert_eq!(
            (hits[0].list.as_str(), hits[0].term.as_str()),
            ("a", "中国科协")
        );
        let hits = m.find("中国和中国科协");
        let terms: Vec<&str> = hits.iter().map(|h| h.term.as_str()).collect();
        assert_eq!(terms, vec!["中国", "中国科协"]);
    }

    #[test]
    fn blank_terms_never_match() {
        let m = Matcher::new(&[WordList {
            name: "odd".into(),
            terms: vec!["\u{3000}".into(), " ".into()],
        }]);
        assert_eq!(m.term_count(), 0);
        assert!(m.find("任何文字 any text").is_empty());
        assert!(m.build_error().is_none());
    }

    #[test]
    fn word_list_file_skips_comments_blanks_and_bom() {
        let list = WordList::load(fixture("sensitive.txt")).expect("loads");
        assert_eq!(list.name, "sensitive");
        assert_eq!(
            list.terms,
            vec!["法轮功", "习近平", "Falun Gong", "ＶＰＮ翻墙"]
        );
        let m = Matcher::new(&[list]);
        let hits = m.find("有人用vpn 翻墙；falun gong");
        let terms: Vec<&str> = hits.iter().map(|h| h.term.as_str()).collect();
        assert_eq!(terms, vec!["ＶＰＮ翻墙", "Falun Gong"]);
        assert!(hits.iter().all(|h| h.list == "sensitive"));
    }

    #[test]
    fn non_utf8_word_list_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gbk.txt");
        // "敏感" in GBK on line 3.
        std::fs::write(&path, b"# ok\nfine\n\xc3\xf4\xb8\xd0\n").expect("write");
        let err = WordList::load(&path).expect_err("GBK rejected");
        assert!(
            matches!(err, ReviewError::InvalidUtf8 { line: 3, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("gbk.txt") && msg.contains("line 3") && msg.contains("UTF-8"),
            "{msg}"
        );

        let missing = WordList::load(dir.path().join("missing.txt")).expect_err("missing");
        assert!(missing.to_string().contains("missing.txt"));
    }

    #[test]
    fn resident_id_checksum_and_birth_date_are_validated() {
        for valid in [
            "11010519491231002X",
            "11010519491231002x",
            "440308199901011234",
            "320102200002290013", // 2000-02-29, a leap day
        ] {
            assert!(is_valid_resident_id(valid), "{valid}");
        }
        for invalid in [
            "110105194912310021", // wrong check character
            "440308199901011235", // wrong check digit
            "320102190002290017", // 1900-02-29 does not exist (checksum ok)
            "110105194913310021", // month 13 (checksum ok)
            "990105194912310023", // no province 99 (checksum ok)
            "110105184912310020", // born 1849 (checksum ok)
            "11010519491231002",  // 17 chars
            "1101051949123100XX",
        ] {
            assert!(!is_valid_resident_id(invalid), "{invalid}");
        }
    }

    #[test]
    fn resident_ids_are_found_only_as_whole_numbers() {
        let found = find_personal_data("申请人身份证号11010519491231002X，已公示。");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, PersonalDataKind::ResidentId);
        assert_eq!(found[0].masked, "1101**********002X");
        // Full-width digits count.
        let found = find_personal_data("号码：４４０３０８１９９９０１０１１２３４");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].masked, "4403**********1234");
        // Inside a longer run (a document or account number): not an ID.
        assert!(find_personal_data("编号9440308199901011234").is_empty());
        assert!(find_personal_data("编号4403081999010112345").is_empty());
        // Checksum-invalid 18-digit numbers are not reported.
        assert!(find_personal_data("流水号440308199901011235").is_empty());
    }

    #[test]
    fn mobile_numbers_respect_digit_boundaries() {
        let found = find_personal_data("联系电话：13812345678。");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, PersonalDataKind::Mobile);
        assert_eq!(found[0].masked, "1381****678");
        for text in [
            "订单号113812345678", // longer run before
            "订单号138123456789", // longer run after
            "号码12812345678",    // second digit 2
            "1381234567",         // ten digits
        ] {
            assert!(find_personal_data(text).is_empty(), "{text}");
        }
        for text in [
            "电话138 1234 5678。",
            "电话138-1234-5678",
            "电话+8613812345678",
            "电话(+86)13812345678",
            "电话１３８１２３４５６７８",
            "13812345678",
        ] {
            let found = find_personal_data(text);
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].masked, "1381****678", "{text}");
        }
        assert!(find_personal_data("138-1234 5678").is_empty());
        assert_eq!(find_personal_data("13812345678,13987654321").len(), 2);
    }

    #[test]
    fn auto_publishes_a_clean_article() {
        let v = review(
            Policy::Auto,
            &good_draft("科协召开年会", "正文内容。"),
            Some(&matcher(&["年会"])),
        );
        assert_eq!(v, Verdict::Publish);
        assert!(v.is_publish());
    }

    #[test]
    fn manual_always_holds() {
        let v = review(Policy::Manual, &good_draft("标题", "正文"), None);
        assert_eq!(codes_of(&v), vec!["manual"]);
        // Hits are still shown to the editor under manual.
        let v = review(
            Policy::Manual,
            &good_draft("标题", "正文有敏感词"),
            Some(&matcher(&["敏感词"])),
        );
        match v {
            Verdict::Hold { reasons, hits } => {
                assert_eq!(reasons.len(), 1);
                assert_eq!(hits.len(), 1);
            }
            Verdict::Publish => panic!("manual published"),
        }
    }

    #[test]
    fn keywords_holds_on_hits_in_title_or_text_and_publishes_the_rest() {
        let m = matcher(&["敏感词"]);
        let v = review(
            Policy::Keywords,
            &good_draft("含敏感词的标题", "正文"),
            Some(&m),
        );
        assert_eq!(codes_of(&v), vec!["keyword"]);
        assert!(reasons(&v)[0].contains("命中敏感词：敏感词"));
        let v = review(
            Policy::Keywords,
            &good_draft("标题", "正文敏 感 词，又是敏感词"),
            Some(&m),
        );
        match &v {
            Verdict::Hold { reasons, hits } => {
                assert_eq!(reasons.len(), 1, "one reason per distinct term");
                assert_eq!(hits.len(), 2);
                assert_eq!(hits[0].matched, "敏 感 词");
            }
            Verdict::Publish => panic!("held expected"),
        }
        let v = review(
            Policy::Keywords,
            &good_draft("标题", "干净的正文"),
            Some(&m),
        );
        assert_eq!(v, Verdict::Publish);
    }

    #[test]
    fn keywords_without_word_lists_holds() {
        let v = review(Policy::Keywords, &good_draft("标题", "正文"), None);
        assert_eq!(codes_of(&v), vec!["no-word-lists"]);
    }

    #[test]
    fn auto_ignores_word_lists() {
        let m = matcher(&["敏感词"]);
        let v = review(Policy::Auto, &good_draft("标题", "敏感词"), Some(&m));
        assert_eq!(v, Verdict::Publish);
    }

    #[test]
    fn extraction_problems_hold_under_every_policy() {
        let broken = Draft {
            title: "",
            text: "  \n ",
            published_at_known: false,
            title_shortened: true,
            images_dropped: 3,
        };
        for policy in [Policy::Auto, Policy::Keywords, Policy::Manual] {
            let v = review(policy, &broken, Some(&matcher(&["x"])));
            let c = codes_of(&v);
            for code in [
                "no-text",
                "no-title",
                "no-date",
                "title-shortened",
                "images-dropped",
            ] {
                assert!(
                    c.iter().any(|x| x == code),
                    "{policy:?}: {c:?} lacks {code}"
                );
            }
            let r = reasons(&v);
            assert!(r.iter().any(|r| r.contains("未提取到正文")));
            assert!(r.iter().any(|r| r.contains("未找到发布时间")));
            assert!(r.iter().any(|r| r.contains("标题过长已截断")));
            assert!(r.iter().any(|r| r.contains("图片未能获取：3 张")));
        }
        // Each alone is enough.
        let mut d = good_draft("标题", "正文");
        d.images_dropped = 1;
        assert_eq!(
            codes_of(&review(Policy::Auto, &d, None)),
            vec!["images-dropped"]
        );
        let mut d = good_draft("标题", "正文");
        d.published_at_known = false;
        assert_eq!(codes_of(&review(Policy::Auto, &d, None)), vec!["no-date"]);
    }

    #[test]
    fn personal_data_holds_and_is_never_echoed_in_full() {
        let id = "11010519491231002X";
        let phone = "13812345678";
        let text = format!("获奖人：张三，身份证{id}，电话{phone}，敏感词在此。");
        let m = matcher(&["敏感词"]);
        for policy in [Policy::Auto, Policy::Keywords, Policy::Manual] {
            let v = review(policy, &good_draft("公示", &text), Some(&m));
            let Verdict::Hold { reasons, hits } = &v else {
                panic!("{policy:?} published personal data");
            };
            assert!(
                reasons
                    .iter()
                    .any(|r| r == "personal-data: 疑似个人信息：身份证号 1101**********002X")
            );
            assert!(
                reasons
                    .iter()
                    .any(|r| r == "personal-data: 疑似个人信息：手机号 1381****678")
            );
            let dump = format!("{v:?}");
            assert!(
                !dump.contains(id) && !dump.contains(phone),
                "{policy:?} leaked: {dump}"
            );
            // Word-list hits next to personal data show it masked too.
            if policy != Policy::Auto {
                let kw = hits
                    .iter()
                    .find(|h| h.term == "敏感词")
                    .expect("keyword hit");
                assert!(kw.context.contains("1381****678"), "{}", kw.context);
            }
            let pd: Vec<&Hit> = hits
                .iter()
                .filter(|h| h.list == PERSONAL_DATA_LIST)
                .collect();
            assert_eq!(pd.len(), 2);
            assert!(pd[0].context.contains("身份证1101**********002X"));
        }
    }

    #[test]
    fn policy_reads_lowercase_names() {
        #[derive(Deserialize)]
        struct W {
            p: Policy,
        }
        let w: W = toml::from_str("p = \"keywords\"").expect("parses");
        assert_eq!(w.p, Policy::Keywords);
        let w: W = toml::from_str("p = \"manual\"").expect("parses");
        assert_eq!(w.p, Policy::Manual);
        assert!(toml::from_str::<W>("p = \"Auto\"").is_err());
        assert_eq!(Policy::default(), Policy::Auto);
    }

    #[test]
    fn a_megabyte_with_ten_thousand_terms_is_matched_correctly() {
        // Terms from CJK U+4E00.., filler from U+8000.., so filler never
        // matches by accident.
        let term = |i: u32| -> String {
            [
                0x4E00 + i / 100,
                0x4E00 + 100 + i % 100,
                0x4E00 + 300 + i % 7,
            ]
            .iter()
            .filter_map(|&c| char::from_u32(c))
            .collect()
        };
        let terms: Vec<String> = (0..10_000).map(term).collect();
        let m = Matcher::new(&[WordList::from_terms("big", &terms)]);
        assert_eq!(m.term_count(), 10_000);

        let mut text = String::new();
        let mut planted = Vec::new();
        let mut k: u32 = 0;
        while text.len() < 1_000_000 {
            for _ in 0..200 {
                k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                text.push(char::from_u32(0x8000 + (k >> 16) % 2000).unwrap_or('字'));
            }
            let i = (k >> 8) % 10_000;
            // Every third planted term is spaced out, every fifth followed by
            // full-width ASCII.
            let t = term(i);
            if planted.len() % 3 == 0 {
                let spaced: Vec<String> = t.chars().map(String::from).collect();
                text.push_str(&spaced.join("\u{3000}"));
            } else {
                text.push_str(&t);
            }
            if planted.len() % 5 == 0 {
                text.push_str("ＡＢＣ");
            }
            planted.push(t);
        }
        let hits = m.find(&text);
        let got: Vec<&str> = hits.iter().map(|h| h.term.as_str()).collect();
        let want: Vec<&str> = planted.iter().map(String::as_str).collect();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "hits differ from planted terms");
        assert!(hits.iter().all(|h| h.context.contains(&h.matched)));
    }
}
