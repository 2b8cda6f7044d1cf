//! A fast HTML parser that builds the extraction arena ([`Dom`]) directly.
//!
//! Why not html5ever: on real pages (170 kB of mostly markup, scripts and
//! attributes) its character-at-a-time tokenizer was two thirds of the
//! whole extraction time, and scraper's tree plus the copy into the arena
//! added more. Extraction needs the *shape* a browser gives a page — text
//! in the right elements, implied end tags, tables with their rows — not
//! every error-recovery corner. So this parser scans bytes with `memchr`,
//! skips scripts and styles in one search, and applies the tree-building
//! rules of the HTML standard that decide where text ends up:
//!
//! - void elements; raw-text (`script`, `style`, ...) and RCDATA (`title`,
//!   `textarea`) content, `noscript` read as raw text as a scripting browser
//!   (and html5ever's default) does; self-closing only inside SVG/MathML;
//! - implied `html`/`head`/`body`, head elements staying in the head;
//! - `<p>` closed by block starts, `<li>`/`<dd>`/`<dt>`/`<option>` closing
//!   their open siblings, headings closing headings, a new `<a>` closing an
//!   open one;
//! - tables: cells close cells, rows close rows, implied `tbody`/`tr`;
//! - end tags matched within the standard's scopes, "any other end tag"
//!   stopping at special elements, `</p>` without a `<p>` making one;
//! - character references, named (the standard's full table, via
//!   html5ever's data) and numeric, with the standard's replacements.
//!
//! - the list of active formatting elements with its reconstruction and
//!   the adoption agency algorithm ([`formatting`]), and foster parenting
//!   of what stands in a table outside its cells ([`tree`]): they move
//!   text into the elements a browser puts it in;
//! - a depth cap of [`tree::MAX_DEPTH`] open elements, as browsers have, so
//!   every tag costs a bounded amount of work and no page is quadratic;
//! - SVG/MathML integration points (`foreignObject`, `desc`, `title`,
//!   `mi`…`mtext`, HTML `annotation-xml`: HTML in them stays in them) and
//!   CDATA as text there; ruby's implied end tags; template contents kept
//!   in the template; a `<frameset>` before the body making a frames
//!   document; a `<select>` closed by a second one or a text control.
//!
//! The tokenizer is here, tree construction in [`tree`], [`table`] and
//! [`formatting`], the standard's tag classes in [`tags`]. Not followed:
//! templates' own insertion modes (their content is dropped anyway),
//! `<select>`'s own insertion mode beyond the above, `<frameset>` after
//! the body has begun, the `<form>` element pointer; none of these changes
//! the text of any html5lib test (`tests/parse_html5lib.rs` measures what
//! is left).

use std::time::Instant;

use super::dom::{Dom, Name};
use tree::Builder;
pub(crate) use tree::MAX_DEPTH;

mod formatting;
mod table;
mod tags;
pub(crate) use tags::is_void;
mod tree;

/// The named character references, looked up by name without the `&`
/// (`amp;`, and `amp` for the legacy forms without `;`): the standard's
/// table as html5ever ships it.
pub(crate) struct Entities;

impl Entities {
    pub fn new() -> Entities {
        Entities
    }

    fn get(&self, name: &str) -> Option<(u32, u32)> {
        // The table also lists every prefix of a name, as (0, 0), for
        // html5ever's incremental matching: those are not references
        // (`&prod_id=` is not `&prod;`).
        html5ever::data::NAMED_ENTITIES
            .get(name)
            .copied()
            .filter(|&(a, _)| a != 0)
    }
}

impl Default for Entities {
    fn default() -> Self {
        Entities::new()
    }
}

/// Windows-1252 meanings of numeric references 0x80–0x9F, as browsers read them.
const C1: [u32; 32] = [
    0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
];

fn push_code(out: &mut String, cp: u32) {
    let cp = match cp {
        0 => 0xFFFD,
        0x80..=0x9F => C1[(cp - 0x80) as usize],
        0xD800..=0xDFFF => 0xFFFD,
        c if c > 0x10FFFF => 0xFFFD,
        c => c,
    };
    out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
}

/// Decode character references in `s` into `out`. In attribute values a
/// legacy reference without `;` followed by `=` or an alphanumeric stays
/// literal, as the standard says (`?a=1&copy=2` in URLs).
pub(crate) fn unescape_into(ents: &Entities, s: &str, attr: bool, out: &mut String) {
    let b = s.as_bytes();
    let mut last = 0;
    let mut i = 0;
    while let Some(amp) = find_char(s, i, '&') {
        i = amp + 1;
        let rest = &b[amp + 1..];
        if rest.first() == Some(&b'#') {
            let (hex, start) = match rest.get(1) {
                Some(b'x' | b'X') => (true, 2),
                _ => (false, 1),
            };
            let digits = rest[start..]
                .iter()
                .take_while(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
                .count();
            if digits == 0 {
                continue;
            }
            let mut cp: u32 = 0;
            for &c in &rest[start..start + digits] {
                let d = (c as char).to_digit(16).unwrap_or(0);
                cp = cp
                    .saturating_mul(if hex { 16 } else { 10 })
                    .saturating_add(d);
            }
            let mut end = amp + 1 + start + digits;
            if b.get(end) == Some(&b';') {
                end += 1;
            }
            out.push_str(&s[last..amp]);
            push_code(out, cp);
            last = end;
            i = end;
            continue;
        }
        let name_len = rest
            .iter()
            .take(40)
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            continue;
        }
        let name = &s[amp + 1..amp + 1 + name_len];
        let found = if rest.get(name_len) == Some(&b';') {
            ents.get(&s[amp + 1..amp + 2 + name_len])
                .map(|v| (v, name_len + 1))
        } else {
            None
        }
        .or_else(|| {
            // Legacy references without `;`: the longest known prefix.
            (2..=name_len.min(8))
                .rev()
                .find_map(|n| ents.get(&name[..n]).map(|v| (v, n)))
                .filter(|&(_, n)| {
                    !attr
                        || !rest
                            .get(n)
                            .is_some_and(|&c| c == b'=' || c.is_ascii_alphanumeric())
                })
        });
        if let Some(((a, b2), len)) = found {
            out.push_str(&s[last..amp]);
            push_code(out, a);
            if b2 != 0 {
                push_code(out, b2);
            }
            last = amp + 1 + len;
            i = last;
        }
    }
    out.push_str(&s[last..]);
}

fn unescape(ents: &Entities, s: &str, attr: bool) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    unescape_into(ents, s, attr, &mut out);
    out
}

/// `str::find` from a byte offset (std searches single characters with
/// memchr, so this is the fast scan the parser relies on).
fn find_char(s: &str, from: usize, c: char) -> Option<usize> {
    s.get(from..)?.find(c).map(|e| from + e)
}

fn find_str(s: &str, from: usize, pat: &str) -> Option<usize> {
    s.get(from..)?.find(pat).map(|e| from + e)
}

/// Where a comment whose text starts at `from` ends: after `-->` or the
/// `--!>` browsers also accept.
fn comment_end(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = from;
    while let Some(at) = find_str(s, i, "--") {
        match b.get(at + 2) {
            Some(b'>') => return Some(at + 3),
            Some(b'!') if b.get(at + 3) == Some(&b'>') => return Some(at + 4),
            _ => i = at + 1,
        }
    }
    None
}

/// CR LF and lone CR become LF, as the tokenizer's input stream does.
fn normalize_newlines(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        s.into()
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// Case-insensitive search for `</name` followed by a tag-name end.
fn find_end_tag(s: &str, from: usize, name: &str) -> Option<usize> {
    let b = s.as_bytes();
    let n = name.len();
    let mut i = from;
    // Single-byte search (memchr) beats a two-byte substring search here.
    while let Some(at) = find_char(s, i, '<') {
        let after = at + 2 + n;
        if b.get(at + 1) == Some(&b'/')
            && b.len() >= after
            && b[at + 2..after].eq_ignore_ascii_case(name.as_bytes())
            && b.get(after)
                .is_none_or(|&c| is_ws(c) || c == b'/' || c == b'>')
        {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Public identifiers that put a page in quirks mode (the HTML standard's
/// list, lower-cased; a prefix match).
const QUIRKS_PUBLIC_PREFIXES: &[&str] = &[
    "+//silmaril//dtd html pro v0r11 19970101//",
    "-//as//dtd html 3.0 aswedit + extensions//",
    "-//advasoft ltd//dtd html 3.0 aswedit + extensions//",
    "-//ietf//dtd html 2.0 level 1//",
    "-//ietf//dtd html 2.0 level 2//",
    "-//ietf//dtd html 2.0 strict level 1//",
    "-//ietf//dtd html 2.0 strict level 2//",
    "-//ietf//dtd html 2.0 strict//",
    "-//ietf//dtd html 2.0//",
    "-//ietf//dtd html 2.1e//",
    "-//ietf//dtd html 3.0//",
    "-//ietf//dtd html 3.2 final//",
    "-//ietf//dtd html 3.2//",
    "-//ietf//dtd html 3//",
    "-//ietf//dtd html level 0//",
    "-//ietf//dtd html level 1//",
    "-//ietf//dtd html level 2//",
    "-//ietf//dtd html level 3//",
    "-//ietf//dtd html strict level 0//",
    "-//ietf//dtd html strict level 1//",
    "-//ietf//dtd html strict level 2//",
    "-//ietf//dtd html strict level 3//",
    "-//ietf//dtd html strict//",
    "-//ietf//dtd html//",
    "-//metrius//dtd metrius presentational//",
    "-//microsoft//dtd internet explorer 2.0 html strict//",
    "-//microsoft//dtd internet explorer 2.0 html//",
    "-//microsoft//dtd internet explorer 2.0 tables//",
    "-//microsoft//dtd internet explorer 3.0 html strict//",
    "-//microsoft//dtd internet explorer 3.0 html//",
    "-//microsoft//dtd internet explorer 3.0 tables//",
    "-//netscape comm. corp.//dtd html//",
    "-//netscape comm. corp.//dtd strict html//",
    "-//o'reilly and associates//dtd html 2.0//",
    "-//o'reilly and associates//dtd html extended 1.0//",
    "-//o'reilly and associates//dtd html extended relaxed 1.0//",
    "-//sq//dtd html 2.0 hotmetal + extensions//",
    "-//softquad software//dtd hotmetal pro 6.0::19990601::extensions to html 4.0//",
    "-//softquad//dtd hotmetal pro 4.0::19971010::extensions to html 4.0//",
    "-//spyglass//dtd html 2.0 extended//",
    "-//sun microsystems corp.//dtd hotjava html//",
    "-//sun microsystems corp.//dtd hotjava strict html//",
    "-//w3c//dtd html 3 1995-03-24//",
    "-//w3c//dtd html 3.2 draft//",
    "-//w3c//dtd html 3.2 final//",
    "-//w3c//dtd html 3.2//",
    "-//w3c//dtd html 3.2s draft//",
    "-//w3c//dtd html 4.0 frameset//",
    "-//w3c//dtd html 4.0 transitional//",
    "-//w3c//dtd html experimental 19960712//",
    "-//w3c//dtd html experimental 970421//",
    "-//w3c//dtd w3 html//",
    "-//w3o//dtd w3 html 3.0//",
    "-//webtechs//dtd mozilla html 2.0//",
    "-//webtechs//dtd mozilla html//",
];

/// Where a script's content ends: its `</script>`, except that inside an
/// escaped `<!--` section a nested `<script>` is "double escaped" and its
/// `</script>` does not end the outer one (the standard's script data
/// escape states; `document.write('<!--<script>…</script>-->')` would
/// otherwise end the script early and show the rest as text).
fn find_script_end(s: &str, from: usize) -> Option<usize> {
    let plain = find_end_tag(s, from, "script");
    // Nearly every script has no `<!--` before its end: one search.
    let stop = plain.unwrap_or(s.len());
    if find_str(&s[..stop], from, "<!--").is_none() {
        return plain;
    }
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Data,
        Escaped(u8),
        Double(u8),
    }
    let b = s.as_bytes();
    let tag_at = |i: usize, close: bool| {
        let start = i + if close { 2 } else { 1 };
        b.len() >= start + 6
            && b[start..start + 6].eq_ignore_ascii_case(b"script")
            && b.get(start + 6)
                .is_some_and(|&c| is_ws(c) || c == b'/' || c == b'>')
            && (!close || b[i + 1] == b'/')
    };
    let mut st = St::Data;
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        st = match (st, c) {
            (St::Data, b'<') if tag_at(i, true) => return Some(i),
            (St::Data, b'<') if b[i..].starts_with(b"<!--") => {
                i += 4;
                st = St::Escaped(2);
                continue;
            }
            (St::Data, _) => St::Data,
            (St::Escaped(_), b'<') if tag_at(i, true) => return Some(i),
            (St::Escaped(_), b'<') if tag_at(i, false) => {
                i += 7;
                st = St::Double(0);
                continue;
            }
            (St::Escaped(d), b'-') => St::Escaped(d.saturating_add(1)),
            (St::Escaped(d), b'>') if d >= 2 => St::Data,
            (St::Escaped(_), _) => St::Escaped(0),
            (St::Double(_), b'<') if tag_at(i, true) => {
                i += 8;
                st = St::Escaped(0);
                continue;
            }
            (St::Double(d), b'-') => St::Double(d.saturating_add(1)),
            (St::Double(d), b'>') if d >= 2 => St::Data,
            (St::Double(_), _) => St::Double(0),
        };
        i += 1;
    }
    None
}

/// Whether the doctype (the text between `<!doctype` and `>`) puts the page
/// in quirks mode, by the HTML standard's rules. What it changes here: a
/// `<p>` before a `<table>` stays open in quirks mode (old CMS pages with
/// HTML 4.0 Transitional doctypes are common).
fn quirky_doctype(doctype: &str) -> bool {
    let d = doctype.trim_start();
    let name_end = d.find(|c: char| c.is_ascii_whitespace()).unwrap_or(d.len());
    if !d[..name_end].eq_ignore_ascii_case("html") {
        return true;
    }
    let rest = d[name_end..].trim_start();
    // A quoted identifier after `keyword`; `None` when absent, `Err` when
    // malformed (the standard's force-quirks).
    let quoted = |s: &str| -> Result<(Option<String>, usize), ()> {
        let s2 = s.trim_start();
        let skipped = s.len() - s2.len();
        match s2.chars().next() {
            Some(q @ ('"' | '\'')) => match s2[1..].find(q) {
                Some(end) => Ok((Some(s2[1..1 + end].to_ascii_lowercase()), skipped + end + 2)),
                None => Err(()),
            },
            None => Ok((None, skipped)),
            Some(_) => Err(()),
        }
    };
    let keyword = |s: &str, k: &str| s.len() >= k.len() && s[..k.len()].eq_ignore_ascii_case(k);
    let (public, system) = if keyword(rest, "public") {
        let Ok((public, used)) = quoted(&rest[6..]) else {
            return true;
        };
        if public.is_none() {
            return true;
        }
        let after = &rest[6 + used..];
        match quoted(after) {
            Ok((system, _)) => (public, system),
            Err(()) if after.trim().is_empty() => (public, None),
            Err(()) => return true,
        }
    } else if keyword(rest, "system") {
        match quoted(&rest[6..]) {
            Ok((Some(system), _)) => (None, Some(system)),
            _ => return true,
        }
    } else if rest.is_empty() {
        (None, None)
    } else {
        return true;
    };
    if system.as_deref() == Some("http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd") {
        return true;
    }
    let Some(public) = public else {
        return false;
    };
    matches!(
        public.as_str(),
        "-//w3o//dtd w3 html strict 3.0//en//" | "-/w3c/dtd html 4.0 transitional/en" | "html"
    ) || QUIRKS_PUBLIC_PREFIXES.iter().any(|p| public.starts_with(p))
        || (system.is_none()
            && (public.starts_with("-//w3c//dtd html 4.01 frameset//")
                || public.starts_with("-//w3c//dtd html 4.01 transitional//")))
}

/// The page took longer than its budget to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverBudget;

/// Parse a whole document into the arena.
pub(crate) fn parse_document(html: &str, ents: &Entities) -> Dom {
    match parse_document_until(html, ents, None) {
        Ok(dom) => dom,
        // Without a deadline there is nothing to run over.
        Err(OverBudget) => Dom::empty(),
    }
}

/// Parse a whole document into the arena, giving up at `deadline`.
pub(crate) fn parse_document_until(
    html: &str,
    ents: &Entities,
    deadline: Option<Instant>,
) -> Result<Dom, OverBudget> {
    parse_capped(html, ents, deadline).map(|(dom, _)| dom)
}

/// [`parse_document_until`], and whether a cap (depth, active formatting
/// elements, clones) shaped the tree.
pub(crate) fn parse_capped(
    html: &str,
    ents: &Entities,
    deadline: Option<Instant>,
) -> Result<(Dom, bool), OverBudget> {
    let mut b = Builder::new(ents, html.len());
    // Checking the clock costs ~25 ns; every 256 tokens keeps it in the noise.
    let mut tick: u32 = 0;
    let s = html;
    let bytes = s.as_bytes();
    let len = bytes.len();
    let mut pos = 0;
    let mut seen_doctype = false;
    while pos < len {
        tick = tick.wrapping_add(1);
        if tick.is_multiple_of(256)
            && let Some(d) = deadline
            && Instant::now() >= d
        {
            return Err(OverBudget);
        }
        let Some(lt) = find_char(s, pos, '<') else {
            b.text(&s[pos..], true);
            break;
        };
        let next = bytes.get(lt + 1).copied();
        match next {
            Some(c) if c.is_ascii_alphabetic() => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                match read_start_tag(s, lt + 1, ents) {
                    Some((tag, attrs, self_closing, end)) => {
                        pos = end;
                        pos = handle_start(&mut b, s, pos, tag, attrs, self_closing);
                    }
                    None => {
                        // EOF inside a tag: the tag is dropped.
                        pos = len;
                    }
                }
            }
            Some(b'/') => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                match bytes.get(lt + 2) {
                    Some(c) if c.is_ascii_alphabetic() => {
                        let name_end = (lt + 2..len)
                            .find(|&i| is_ws(bytes[i]) || bytes[i] == b'/' || bytes[i] == b'>')
                            .unwrap_or(len);
                        let name = s[lt + 2..name_end].to_ascii_lowercase();
                        let Some(end) = skip_tag_rest(bytes, name_end) else {
                            break;
                        };
                        pos = end;
                        if b.body.is_none()
                            && !b.head_open
                            && !matches!(
                                name.as_str(),
                                "head" | "html" | "body" | "br" | "frameset"
                            )
                        {
                            continue;
                        }
                        b.end_tag(&name);
                    }
                    Some(b'>') => pos = lt + 3,
                    // `</` at the end of input is text.
                    None => {
                        b.text("</", false);
                        pos = len;
                    }
                    _ => {
                        // Bogus comment.
                        pos = find_char(s, lt, '>').map_or(len, |e| e + 1);
                    }
                }
            }
            Some(b'!') => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                let rest = &bytes[lt + 2..];
                if rest.starts_with(b"--") {
                    let body = lt + 4;
                    pos = if bytes[body..].starts_with(b">") {
                        body + 1
                    } else if bytes[body..].starts_with(b"->") {
                        body + 2
                    } else {
                        comment_end(s, body).unwrap_or(len)
                    };
                } else if rest.starts_with(b"[CDATA[") && b.in_foreign() {
                    // In SVG and MathML a CDATA section is text, up to
                    // `]]>` (or the end of input); elsewhere a bogus comment.
                    let start = lt + 9;
                    let (stop, next) = s[start..]
                        .find("]]>")
                        .map_or((len, len), |e| (start + e, start + e + 3));
                    b.text(&s[start..stop], false);
                    pos = next;
                } else {
                    let end = find_char(s, lt + 2, '>').map_or(len, |e| e + 1);
                    if rest.len() >= 7
                        && rest[..7].eq_ignore_ascii_case(b"doctype")
                        && !seen_doctype
                    {
                        seen_doctype = true;
                        // Between `<!doctype` and `>` (or the end of input).
                        let stop = if bytes.get(end.wrapping_sub(1)) == Some(&b'>') {
                            end - 1
                        } else {
                            end
                        };
                        let inner = s.get(lt + 9..stop).unwrap_or("");
                        b.quirks = quirky_doctype(inner);
                    }
                    pos = end;
                }
            }
            Some(b'?') => {
                if lt > pos {
                    b.text(&s[pos..lt], true);
                }
                pos = find_char(s, lt, '>').map_or(len, |e| e + 1);
            }
            _ => {
                // A lone `<` is text.
                b.text(&s[pos..lt + 1], true);
                pos = lt + 1;
            }
        }
    }
    if b.body.is_none() {
        b.ensure_body(Vec::new());
    }
    let capped = b.capped;
    Ok((b.finish(), capped))
}

/// Handle a start tag whose `>` ends at `pos`; returns where parsing
/// continues (past raw-text content for scripts, styles and titles).
fn handle_start(
    b: &mut Builder<'_>,
    s: &str,
    pos: usize,
    tag: Name,
    attrs: Vec<(Name, String)>,
    self_closing: bool,
) -> usize {
    let bytes = s.as_bytes();
    let foreign = b.foreign_for_start(&tag);
    let raw = !foreign
        && matches!(
            tag.as_str(),
            "script"
                | "style"
                | "xmp"
                | "iframe"
                | "noembed"
                | "noframes"
                | "noscript"
                | "textarea"
                | "title"
                | "plaintext"
        );
    let json_ld = tag == "script"
        && attrs
            .iter()
            .any(|(k, v)| k == "type" && v.trim().eq_ignore_ascii_case("application/ld+json"));
    let base_href = (tag == "base" && b.dom.base_href.is_none())
        .then(|| {
            attrs
                .iter()
                .find(|(k, _)| k == "href")
                .map(|(_, v)| v.clone())
        })
        .flatten();
    if base_href.is_some() {
        b.dom.base_href = base_href;
    }
    let tag_name = tag.clone();
    b.start_tag(&tag, attrs, self_closing);
    if !raw {
        if matches!(tag_name.as_str(), "pre" | "listing") {
            // A newline right after `<pre>` is not content.
            if bytes.get(pos) == Some(&b'\n') {
                return pos + 1;
            }
            if bytes.get(pos) == Some(&b'\r') {
                return pos
                    + if bytes.get(pos + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
            }
        }
        return pos;
    }
    let (content_end, next) = if tag_name == "plaintext" {
        (s.len(), s.len())
    } else {
        let end = if tag_name == "script" {
            find_script_end(s, pos)
        } else {
            find_end_tag(s, pos, &tag_name)
        };
        match end {
            Some(at) => {
                let end = skip_tag_rest(bytes, at + 2 + tag_name.len()).unwrap_or(s.len());
                (at, end)
            }
            None => (s.len(), s.len()),
        }
    };
    let content = normalize_newlines(&s[pos..content_end]);
    let content = content.as_ref();
    let opened = b.stack.last().is_some_and(|o| o.tag == tag_name);
    match tag_name.as_str() {
        "script" => {
            if json_ld {
                b.dom.json_ld.push(content.to_string());
            }
        }
        "title" | "textarea" => {
            let text = unescape(b.ents, content, false);
            if tag_name == "title" && b.dom.title.is_empty() {
                b.dom.title = text.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            if opened {
                b.raw_text(text);
            }
        }
        _ => {
            if opened {
                b.raw_text(content.to_string());
            }
        }
    }
    if opened {
        b.pop();
    }
    next
}

/// Skip the rest of a tag (attributes, quoted values) after `from`;
/// returns the index after `>`, or `None` at EOF.
fn skip_tag_rest(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    let mut quote: Option<u8> = None;
    let mut after_eq = false;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'>' {
                    return Some(i + 1);
                }
                if after_eq && (c == b'"' || c == b'\'') {
                    quote = Some(c);
                }
                if c == b'=' {
                    after_eq = true;
                } else if !is_ws(c) {
                    after_eq = false;
                }
            }
        }
        i += 1;
    }
    None
}

type StartTag = (Name, Vec<(Name, String)>, bool, usize);

/// Read a start tag from just after `<`: name, attributes (names
/// lower-cased, values unescaped, first of duplicates kept), whether it
/// ends in `/>`, and the index after `>`. `None` at EOF.
fn read_start_tag(s: &str, from: usize, ents: &Entities) -> Option<StartTag> {
    let b = s.as_bytes();
    let len = b.len();
    let mut i = from;
    while i < len && !is_ws(b[i]) && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    let tag = Name::new(&s[from..i]);
    let mut attrs: Vec<(Name, String)> = Vec::new();
    let mut seen: Option<std::collections::HashSet<String>> = None;
    let mut self_closing = false;
    loop {
        while i < len && (is_ws(b[i]) || b[i] == b'/') {
            self_closing = b[i] == b'/';
            i += 1;
        }
        if i >= len {
            return None;
        }
        if b[i] == b'>' {
            return Some((tag, attrs, self_closing, i + 1));
        }
        self_closing = false;
        // Attribute name (a leading `=` belongs to the name).
        let ns = i;
        i += 1;
        while i < len && !is_ws(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let name = &s[ns..i];
        while i < len && is_ws(b[i]) {
            i += 1;
        }
        let mut value = String::new();
        if i < len && b[i] == b'=' {
            i += 1;
            while i < len && is_ws(b[i]) {
                i += 1;
            }
            if i >= len {
                return None;
            }
            let (vs, ve) = if b[i] == b'"' || b[i] == b'\'' {
                let q = b[i];
                let vs = i + 1;
                let ve = find_char(s, vs, q as char)?;
                i = ve + 1;
                (vs, ve)
            } else {
                let vs = i;
                while i < len && !is_ws(b[i]) && b[i] != b'>' {
                    i += 1;
                }
                (vs, i)
            };
            value = unescape(ents, &s[vs..ve], true);
        }
        let name = Name::new(name);
        // Duplicates: a scan for the usual few attributes, a set past that
        // (a tag with 100,000 attributes was quadratic: 30 s).
        let dup = match &mut seen {
            Some(set) => !set.insert(name.to_string()),
            None => attrs.iter().any(|(k, _)| *k == name),
        };
        if !dup {
            attrs.push((name, value));
            if seen.is_none() && attrs.len() > 16 {
                seen = Some(attrs.iter().map(|(k, _)| k.to_string()).collect());
            }
        }
    }
}

#[cfg(test)]
mod tests;
