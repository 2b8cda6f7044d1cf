//! RSS 0.9x/1.0/2.0, Atom and JSON Feed, through feed-rs.
//!
//! feed-rs does the format work (and applies `xml:base` to Atom links); this
//! module adds what real Chinese feeds need around it:
//! - XML declared in a legacy encoding (`gb2312`, `gbk`, `big5`) is transcoded
//!   to UTF-8 first, with `gb2312` read as GB18030 because real "gb2312" feeds
//!   carry GBK-only characters; an undeclared non-UTF-8 feed is decoded by
//!   [`crate::charset::decode`].
//! - Links that are still relative are resolved against the feed's own link,
//!   else the URL the feed was fetched from; items with no usable http(s) link
//!   are skipped, because an entry without a URL cannot be published or
//!   deduplicated.
//! - feed-rs invents an id for items that have none; we keep the `guid` empty
//!   then, so that the URL is the identity and not a hash that changes when a
//!   title is edited.
//! - Dates: Chinese CMS feeds write `2023-11-20 10:00:00` (Beijing time, no
//!   zone) or RFC 822 with `CST` meaning China Standard Time, not US Central;
//!   both are read as +08:00.
//! - `content_html` is passed on as the feed has it (not sanitised here: the
//!   extract stage cleans article HTML from any source).

use super::{Entry, SourceError, canonicalize};
use chrono::{DateTime, FixedOffset};
use encoding_rs::Encoding;
use std::borrow::Cow;
use std::collections::HashSet;
use url::Url;

/// Parse a feed's raw bytes; relative links resolve against `xml:base` or,
/// failing that, `feed_url`.
// SourceError names the URL and the selector; it is built once per failed
// source, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn parse_feed(bytes: &[u8], feed_url: &Url) -> Result<Vec<Entry>, SourceError> {
    let bad = |reason: String| SourceError::BadFeed {
        url: feed_url.clone(),
        reason,
    };
    let utf8 = to_utf8(bytes);
    // Atom (and anything using xml:base) resolves relative links against the
    // document URI, as XML Base says; feed-rs does that when given the feed
    // URL. RSS has no such rule, and real RSS feeds with relative item links
    // mean the site (the channel `<link>`), so there the base is left unset
    // and the fallback below picks the channel link.
    let xml_base_applies = root_name(&utf8) == Some("feed") || utf8.contains("xml:base");
    let parser = feed_rs::parser::Builder::new()
        .base_uri(xml_base_applies.then_some(feed_url.as_str()))
        // Empty id marks "the feed gave none" (see module docs).
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(parse_feed_date)
        .build();
    let feed = parser
        .parse(utf8.as_bytes())
        .map_err(|e| bad(e.to_string()))?;

    // The feed's own site link is a better base than the feed URL for feeds
    // that use site-relative item links (RSS has no xml:base).
    let site_base = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| feed_url.join(&l.href).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let base = site_base.as_ref().unwrap_or(feed_url);

    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in feed.entries {
        let guid = Some(item.id.trim().to_string()).filter(|s| !s.is_empty());
        let Some(url) = item_url(&item, guid.as_deref(), base) else {
            tracing::debug!(feed = %feed_url, guid = ?guid, "feed item without a usable link; skipped");
            continue;
        };
        let url = canonicalize(&url);
        let key = guid.clone().unwrap_or_else(|| url.to_string());
        if !seen.insert(key) {
            continue;
        }
        let title = item.title.as_ref().map(text_of).filter(|t| !t.is_empty());
        let published_at: Option<DateTime<FixedOffset>> =
            item.published.or(item.updated).map(|d| d.fixed_offset());
        let author = item
            .authors
            .iter()
            .filter_map(|p| p.name.as_deref().or(p.email.as_deref()))
            .map(str::trim)
            .find(|n| !n.is_empty() && *n != "unknown")
            .map(str::to_string);
        let content_html = item.content.as_ref().and_then(|c| {
            let body = c.body.as_deref()?.trim();
            if body.is_empty() {
                return None;
            }
            // JSON Feed's content_text arrives as text/plain: make it HTML.
            if c.content_type.ty() == "text" && c.content_type.subty() == "plain" {
                Some(text_to_html(body))
            } else {
                Some(body.to_string())
            }
        });
        let summary = item
            .summary
            .as_ref()
            .map(|s| s.content.trim().to_string())
            .filter(|s| !s.is_empty());
        out.push(Entry {
            url,
            guid,
            title,
            published_at,
            author,
            content_html,
            summary,
            from_feed: true,
        });
    }
    Ok(out)
}

/// A feed timestamp: RFC 3339, RFC 822 (with the usual deviations), or the
/// zone-less forms Chinese CMSs emit, which are Beijing time.
fn parse_feed_date(raw: &str) -> Option<DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let utc = |d: DateTime<FixedOffset>| d.with_timezone(&Utc);
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(utc(d));
    }
    let beijing = FixedOffset::east_opt(8 * 3600)?;
    // RFC 822 as found in the wild: full day/month names, "CST"/"GMT+8" for
    // Beijing, "UTC", "Z".
    static ZONE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\s*(CST|Beijing|GMT\s*\+\s*0?8(:?00)?|UTC\s*\+\s*0?8(:?00)?)$")
            .expect("static regex")
    });
    static NAMES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)^(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s*)?(\d{1,2})\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+",
        )
        .expect("static regex")
    });
    let mut r = ZONE.replace(s, " +0800").into_owned();
    if r.ends_with(" UTC") || r.ends_with(" Z") {
        r = format!(
            "{} +0000",
            r.trim_end_matches(" UTC").trim_end_matches(" Z")
        );
    }
    let r = NAMES.replace(&r, "$1 $2 ").into_owned();
    if let Ok(d) = DateTime::parse_from_rfc2822(&r) {
        return Some(utc(d));
    }
    // "2023-11-20T10:00:00" / "2023-11-20 10:00:00+0800": ISO without colon
    // in the offset or without an offset at all.
    for f in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(utc(d));
        }
    }
    const NAIVE: &[&str] = &[
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y年%m月%d日 %H:%M:%S",
        "%Y年%m月%d日 %H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ];
    let naive = NAIVE
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    beijing.from_local_datetime(&naive).single().map(utc)
}

/// The item's article URL: its alternate (or first) link, else a guid that is
/// itself a URL (RSS `isPermaLink`).
fn item_url(item: &feed_rs::model::Entry, guid: Option<&str>, base: &Url) -> Option<Url> {
    let link = item
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| item.links.first())
        .map(|l| l.href.trim())
        .filter(|h| !h.is_empty());
    let candidate = link.and_then(|h| base.join(h).ok()).or_else(|| {
        guid.filter(|g| g.starts_with("http://") || g.starts_with("https://"))
            .and_then(|g| Url::parse(g).ok())
    })?;
    matches!(candidate.scheme(), "http" | "https").then_some(candidate)
}

/// A title as plain text: HTML titles (Atom `type="html"`) lose their tags.
fn text_of(t: &feed_rs::model::Text) -> String {
    let raw = t.content.trim();
    let text = if t.content_type.subty() == "html" && raw.contains('<') {
        scraper::Html::parse_fragment(&crate::extract::tame::for_html5ever(raw))
            .root_element()
            .text()
            .collect::<String>()
    } else {
        raw.to_string()
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_to_html(text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", esc(p).replace('\n', "<br>")))
        .collect()
}

/// The feed as UTF-8 text with a matching XML declaration.
fn to_utf8(bytes: &[u8]) -> Cow<'_, str> {
    // A BOM is authoritative.
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Cow::Owned(rewrite_declaration(&text));
    }
    let declared = declared_encoding(bytes);
    if let Some(label) = &declared {
        let label = label.to_ascii_lowercase();
        // GB2312 and GBK labels are read as GB18030, their superset.
        let enc = if matches!(label.as_str(), "gb2312" | "gbk" | "x-gbk" | "gb_2312-80") {
            Some(encoding_rs::GB18030)
        } else {
            Encoding::for_label(label.as_bytes())
        };
        // A legacy label on bytes that are valid UTF-8 with non-ASCII in
        // them is a stale declaration (CMS switched to UTF-8, template kept
        // "gb2312"): GBK text is practically never valid UTF-8.
        let lying = std::str::from_utf8(bytes).is_ok_and(|t| !t.is_ascii());
        match enc {
            Some(enc) if enc != encoding_rs::UTF_8 && !lying => {
                let (text, _, _) = enc.decode(bytes);
                return Cow::Owned(rewrite_declaration(&text));
            }
            _ => {}
        }
    }
    match std::str::from_utf8(bytes) {
        // A stale legacy label must go, or feed-rs would decode again by it.
        Ok(s) if declared.is_some_and(|l| !l.eq_ignore_ascii_case("utf-8")) => {
            Cow::Owned(rewrite_declaration(s))
        }
        Ok(s) => Cow::Borrowed(s),
        // Undeclared and not UTF-8: let charset detection decide.
        Err(_) => {
            let (text, _) = crate::charset::decode(bytes, None);
            Cow::Owned(rewrite_declaration(&text))
        }
    }
}

/// The local name of the document's root element (`rss`, `feed`, `RDF`).
fn root_name(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        let name = &rest[..end];
        return Some(name.rsplit(':').next().unwrap_or(name));
    }
}

/// The `encoding="…"` of an XML declaration at the start of `bytes`.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    // The declaration is ASCII in every ASCII-compatible encoding.
    let head = String::from_utf8_lossy(head);
    let start = head.trim_start().strip_prefix("<?xml")?;
    let decl = &start[..start.find("?>")?];
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &after[1..];
    Some(rest[..rest.find(quote)?].trim().to_string())
}

/// Replace the XML declaration's encoding by UTF-8 (the text now is UTF-8,
/// and a parser trusting the old label would decode it twice).
fn rewrite_declaration(text: &str) -> String {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if let Some(rest) = trimmed.strip_prefix("<?xml")
        && let Some(end) = rest.find("?>")
    {
        return format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
            &rest[end + 2..]
        );
    }
    trimmed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_dates_in_the_wild() {
        let at = |s: &str| parse_feed_date(s).map(|d| d.to_rfc3339());
        let expect = Some("2023-11-20T02:00:00+00:00".to_string());
        assert_eq!(at("2023-11-20T10:00:00+08:00"), expect);
        assert_eq!(at("Mon, 20 Nov 2023 10:00:00 +0800"), expect);
        assert_eq!(
            at("Mon, 20 Nov 2023 10:00:00 CST"),
            expect,
            "CST is Beijing"
        );
        assert_eq!(at("Monday, 20 November 2023 10:00:00 GMT+8"), expect);
        assert_eq!(at("20 Nov 2023 02:00:00 GMT"), expect);
        assert_eq!(at("Mon, 20 Nov 2023 02:00:00 UTC"), expect);
        assert_eq!(at("2023-11-20 10:00:00"), expect, "zone-less is Beijing");
        assert_eq!(at("2023-11-20 10:00"), expect);
        assert_eq!(at("2023/11/20 10:00:00"), expect);
        assert_eq!(at("2023年11月20日 10:00"), expect);
        assert_eq!(at("2023-11-20 10:00:00+0800"), expect);
        assert_eq!(
            at("2023-11-20"),
            Some("2023-11-19T16:00:00+00:00".to_string())
        );
        assert_eq!(at("昨天"), None);
        assert_eq!(at(""), None);
    }

    #[test]
    fn root_name_skips_declaration_and_comments() {
        assert_eq!(
            root_name("<?xml version=\"1.0\"?>\n<!-- x --><feed xmlns=\"a\">"),
            Some("feed")
        );
        assert_eq!(root_name("<rdf:RDF xmlns:rdf=\"r\">"), Some("RDF"));
        assert_eq!(root_name("{\"version\": 1}"), None);
    }

    #[test]
    fn declared_encoding_is_found() {
        assert_eq!(
            declared_encoding(b"<?xml version=\"1.0\" encoding=\"gb2312\"?><rss/>").as_deref(),
            Some("gb2312")
        );
        assert_eq!(
            declared_encoding(b"\n <?xml version='1.0' encoding = 'GBK' ?><rss/>").as_deref(),
            Some("GBK")
        );
        assert_eq!(declared_encoding(b"<?xml version=\"1.0\"?><rss/>"), None);
        assert_eq!(declared_encoding(b"<rss/>"), None);
    }

    #[test]
    fn gb2312_label_decodes_gbk_only_characters() {
        // 镕 is outside GB2312 but in GBK; a strict GB2312 decoder loses it.
        let (bytes, _, _) = encoding_rs::GBK.encode("朱镕基");
        let mut doc = b"<?xml version=\"1.0\" encoding=\"gb2312\"?><t>".to_vec();
        doc.extend_from_slice(&bytes);
        doc.extend_from_slice(b"</t>");
        let text = to_utf8(&doc);
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>朱镕基</t>"
        );
    }

    #[test]
    fn stale_gb2312_declaration_on_utf8_bytes_is_ignored() {
        let doc = "<?xml version=\"1.0\" encoding=\"gb2312\"?><t>科协</t>";
        let text = to_utf8(doc.as_bytes());
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>科协</t>"
        );
        let feed = concat!(
            "<?xml version=\"1.0\" encoding=\"gb2312\"?><rss version=\"2.0\"><channel><title>t</title>",
            "<item><title>科协新闻</title><link>http://a.cn/1.html</link></item></channel></rss>"
        );
        let entries = parse_feed(
            feed.as_bytes(),
            &Url::parse("http://a.cn/rss").expect("url"),
        )
        .expect("parses");
        assert_eq!(entries[0].title.as_deref(), Some("科协新闻"));
    }

    #[test]
    fn utf8_input_is_borrowed_untouched() {
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>科协</t>";
        assert!(matches!(to_utf8(doc.as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn plain_text_content_becomes_paragraphs() {
        assert_eq!(
            text_to_html("a < b\nline\n\nsecond"),
            "<p>a &lt; b<br>line</p><p>second</p>"
        );
    }
}
