//! Turning bytes of unknown charset into text.
//!
//! Order of evidence: the HTTP `Content-Type` charset, then a BOM, then
//! `<meta charset>` / `http-equiv`, then the XML declaration, then detection
//! (chardetng). A GB2312 label is decoded as GB18030 (a superset of GBK),
//! because real pages labelled gb2312 carry GBK-only characters (喆, 镕).
//!
//! Labels lie often enough on government sites (a server-wide
//! `charset=utf-8` header in front of GBK pages is common) that the first
//! label is not trusted blindly: when it does not decode cleanly and another
//! piece of evidence does, the clean one wins.

use encoding_rs::{Encoding, GB18030, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// How many leading bytes the `<meta>` prescan looks at. The HTML standard
/// says 1024; real CMS templates put long comments and scripts first, so a
/// little more is read.
const PRESCAN_BYTES: usize = 4096;

/// Decode `bytes` to text. `content_type` is the HTTP header value, if any.
/// Returns the text and the encoding that was used.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> (String, &'static Encoding) {
    let mut candidates: Vec<&'static Encoding> = Vec::with_capacity(4);
    let mut push = |enc: &'static Encoding| {
        if !candidates.contains(&enc) {
            candidates.push(enc);
        }
    };
    if let Some(enc) = content_type
        .and_then(charset_param)
        .and_then(label_encoding)
    {
        push(enc);
    }
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        push(enc);
    }
    if let Some(enc) = meta_charset(bytes).and_then(label_encoding) {
        // A document cannot describe itself as UTF-16 in ASCII bytes; the
        // HTML standard reads such a meta as UTF-8.
        push(if enc == UTF_16LE || enc == UTF_16BE {
            UTF_8
        } else {
            enc
        });
    }
    if let Some(enc) = xml_encoding(bytes).and_then(label_encoding) {
        push(enc);
    }

    // GBK accepts most UTF-8 byte pairs, so "decodes cleanly" cannot
    // catch a legacy label in front of UTF-8 bytes. Valid UTF-8 with
    // non-ASCII in it is practically never an accident: when any of the
    // evidence names UTF-8, it wins.
    if candidates.first().is_some_and(|&e| e != UTF_8)
        && candidates.contains(&UTF_8)
        && !bytes.is_ascii()
        && let Ok(text) = std::str::from_utf8(strip_bom(bytes, UTF_8))
    {
        return (text.to_string(), UTF_8);
    }
    for &enc in &candidates {
        if let Some(text) = decode_clean(bytes, enc) {
            return (text, enc);
        }
    }
    // No label decodes cleanly (or there is none): ask the detector, and
    // take its guess if that decodes cleanly.
    let detected = detect(bytes);
    if let Some(text) = decode_clean(bytes, detected) {
        return (text, detected);
    }
    // Nothing is clean: the first label still is the best evidence we have.
    let enc = candidates.first().copied().unwrap_or(detected);
    (decode_lossy(bytes, enc), enc)
}

/// Map a charset label to the encoding used to decode it. GB2312/GBK
/// labels become GB18030: the decoders accept the same bytes, and GB18030
/// is what the page really is.
fn label_encoding(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches(['"', '\'']);
    // Windows code page names that servers send but the WHATWG label
    // list does not know.
    if [
        "cp936",
        "ms936",
        "windows-936",
        "gb18030-2000",
        "gb18030-2005",
    ]
    .iter()
    .any(|l| label.eq_ignore_ascii_case(l))
    {
        return Some(GB18030);
    }
    let enc = Encoding::for_label(label.as_bytes())?;
    if enc == encoding_rs::GBK {
        return Some(GB18030);
    }
    // `x-user-defined` is a browser oddity; treat it like Latin-1.
    if enc == encoding_rs::X_USER_DEFINED {
        return Some(WINDOWS_1252);
    }
    Some(enc)
}

fn decode_clean(bytes: &[u8], enc: &'static Encoding) -> Option<String> {
    let bytes = strip_bom(bytes, enc);
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
}

fn decode_lossy(bytes: &[u8], enc: &'static Encoding) -> String {
    let bytes = strip_bom(bytes, enc);
    enc.decode_without_bom_handling(bytes).0.into_owned()
}

fn strip_bom<'a>(bytes: &'a [u8], enc: &'static Encoding) -> &'a [u8] {
    match Encoding::for_bom(bytes) {
        Some((bom_enc, len)) if bom_enc == enc => &bytes[len..],
        _ => bytes,
    }
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    // chardetng answers UTF-8 for any input that is valid UTF-8 (it only
    // considers ISO-2022-JP when it sees ESC), but finds that out by
    // feeding every byte to some thirty statistical candidates: the
    // costliest step of extracting an unlabelled page. Checking validity
    // first gives the same answer at memory speed.
    if !bytes.contains(&0x1B) && std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(bytes, true);
    let enc = det.guess(None, chardetng::Utf8Detection::Allow);
    if enc == encoding_rs::GBK {
        GB18030
    } else {
        enc
    }
}

/// The `charset=` parameter of a `Content-Type` value.
fn charset_param(content_type: &str) -> Option<&str> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower.find("charset")?;
    let rest = content_type[at + "charset".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest
        .find(|c: char| c == ';' || c == '"' || c == '\'' || c.is_whitespace())
        .unwrap_or(rest.len());
    let label = &rest[..end];
    (!label.is_empty()).then_some(label)
}

/// Find the charset a `<meta>` tag declares within the first bytes.
/// Works on bytes because the charset is not known yet; every encoding we
/// care about (other than UTF-16, which has a BOM) is ASCII-compatible.
fn meta_charset(bytes: &[u8]) -> Option<&str> {
    let head = &bytes[..bytes.len().min(PRESCAN_BYTES)];
    let mut pos = 0;
    while let Some(off) = find_ci(&head[pos..], b"<meta") {
        let start = pos + off + 5;
        let end = head[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(head.len(), |e| start + e);
        let tag = &head[start..end];
        if let Some(label) = attr_after(tag, b"charset") {
            return Some(label);
        }
        pos = end;
    }
    None
}

/// `<?xml version="1.0" encoding="gbk"?>` at the start of the document.
fn xml_encoding(bytes: &[u8]) -> Option<&str> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = rest.iter().position(|&b| b == b'>')?;
    attr_after(&rest[..end], b"encoding")
}

/// The value after `name` `=` in a tag's bytes, quoted or not. Matches
/// both `charset="gbk"` and `content="text/html; charset=gbk"`.
fn attr_after<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a str> {
    let mut pos = 0;
    while let Some(off) = find_ci(&tag[pos..], name) {
        let mut i = pos + off + name.len();
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < tag.len() && tag[i] == b'=' {
            i += 1;
            while i < tag.len()
                && (tag[i].is_ascii_whitespace() || tag[i] == b'"' || tag[i] == b'\'')
            {
                i += 1;
            }
            let s = i;
            while i < tag.len() && (tag[i].is_ascii_alphanumeric() || b"-_:.".contains(&tag[i])) {
                i += 1;
            }
            if i > s {
                return std::str::from_utf8(&tag[s..i]).ok();
            }
        }
        pos = pos + off + name.len();
    }
    None
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(s: &str) -> Vec<u8> {
        let (b, _, bad) = GB18030.encode(s);
        assert!(!bad);
        b.into_owned()
    }

    #[test]
    fn gb2312_label_decodes_gbk_only_characters() {
        let page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body>朱镕基 陶喆</body></html>";
        let (text, enc) = decode(&gbk(page), None);
        assert_eq!(enc, GB18030);
        assert!(text.contains("朱镕基 陶喆"), "{text}");
    }

    #[test]
    fn page_without_any_charset_is_detected() {
        let page = "<html><body><p>中国科学技术协会召开全国学会工作会议，部署下一阶段的科普工作和学术交流活动。</p></body></html>";
        let (text, enc) = decode(&gbk(page), None);
        assert_eq!(enc, GB18030);
        assert!(text.contains("中国科学技术协会"), "{text}");
    }

    #[test]
    fn utf8_shortcut_agrees_with_chardetng() {
        let samples: [&[u8]; 4] = [
            "<p>中国科学技术协会召开全国学会工作会议。</p>".as_bytes(),
            "<p>Café au lait, naïve façade — “quoted”.</p>".as_bytes(),
            b"<p>plain ascii only</p>",
            "<p>Привет, мир</p>".as_bytes(),
        ];
        for bytes in samples {
            let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            det.feed(bytes, true);
            let slow = det.guess(None, chardetng::Utf8Detection::Allow);
            assert_eq!(detect(bytes), slow, "{}", String::from_utf8_lossy(bytes));
        }
        // Not UTF-8: still goes to the detector.
        assert_ne!(detect(&gbk("中国科学技术协会召开全国学会工作会议")), UTF_8);
    }

    #[test]
    fn utf8_bom_is_honoured() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<p>科普</p>".as_bytes());
        let (text, enc) = decode(&bytes, None);
        assert_eq!(enc, UTF_8);
        assert_eq!(text, "<p>科普</p>");
    }

    #[test]
    fn utf16_bom_is_honoured() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "<p>科普</p>".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let (text, enc) = decode(&bytes, None);
        assert_eq!(enc, UTF_16LE);
        assert_eq!(text, "<p>科普</p>");
    }

    #[test]
    fn xml_declaration_names_the_encoding() {
        let doc = "<?xml version=\"1.0\" encoding=\"GBK\"?><rss><title>新闻</title></rss>";
        let (text, enc) = decode(&gbk(doc), None);
        assert_eq!(enc, GB18030);
        assert!(text.contains("新闻"));
    }

    #[test]
    fn header_wins_over_meta_when_both_decode() {
        // Pure ASCII decodes cleanly as anything: the header decides.
        let page = b"<html><head><meta charset=\"gbk\"></head><body>hello</body></html>";
        let (_, enc) = decode(page, Some("text/html; charset=ISO-8859-2"));
        assert_eq!(enc, encoding_rs::ISO_8859_2);
        let (_, enc) = decode(page, None);
        assert_eq!(enc, GB18030);
    }

    #[test]
    fn lying_utf8_header_loses_to_clean_gbk_meta() {
        let page = "<html><head><meta charset=\"gbk\"></head><body>科协要闻：朱镕基</body></html>";
        let (text, enc) = decode(&gbk(page), Some("text/html;charset=UTF-8"));
        assert_eq!(enc, GB18030);
        assert!(text.contains("科协要闻：朱镕基"));
    }

    #[test]
    fn utf8_bytes_behind_a_gbk_header_are_read_as_utf8() {
        let page =
            "<html><head><meta charset=\"utf-8\"></head><body>科协要闻：全国科普日</body></html>";
        let (text, enc) = decode(page.as_bytes(), Some("text/html; charset=GBK"));
        assert_eq!(enc, UTF_8);
        assert!(text.contains("科协要闻：全国科普日"));
    }

    #[test]
    fn every_gbk_label_means_gb18030() {
        for label in [
            "gb2312",
            "GBK",
            "x-gbk",
            "gb_2312-80",
            "cp936",
            "CP936",
            "chinese",
            "gb18030",
        ] {
            assert_eq!(label_encoding(label), Some(GB18030), "{label}");
        }
    }

    #[test]
    fn quoted_header_charset_is_read() {
        assert_eq!(
            charset_param("text/html; charset=\"gb2312\""),
            Some("gb2312")
        );
        assert_eq!(charset_param("text/html"), None);
    }

    #[test]
    fn invalid_bytes_still_decode_lossily() {
        let (text, _) = decode(
            &[0x61, 0xFF, 0xFE, 0xFD, 0x62, 0x80],
            Some("text/html; charset=utf-8"),
        );
        assert!(text.starts_with('a'));
    }
}
