//! HTML helpers shared by the platform clients: finding the images of a
//! body the way a browser would (platforms take only images they host, so
//! every one must be found to be replaced), removing what could carry an
//! image or code past that rewrite, and escaping.

use regex::Regex;
use std::sync::LazyLock;

static IMG_TAG: LazyLock<Regex> = LazyLock::new(|| {
    // `<image>` is parsed as `<img>` by browsers (and by the platform), so it
    // must be treated as one. Quoted values may contain `>`.
    Regex::new(r#"(?i)<im(?:g|age)\b(?:[^>"']|"[^"]*"|'[^']*')*>"#).expect("static regex")
});
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([^\s"'=<>/`]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"#)
        .expect("static regex")
});
static COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<!--.*?(?:-->|$)").expect("static regex"));
static SOURCE_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<source\b(?:[^>"']|"[^"]*"|'[^']*')*>"#).expect("static regex")
});

/// Remove what could smuggle a foreign image past the `<img>` rewrite:
/// comments (a commented-out `<img>` is still text to some parsers) and
/// `<picture>` sources.
pub(crate) fn strip_unsafe_image_carriers(html: &str) -> String {
    let no_comments = COMMENT.replace_all(html, "");
    SOURCE_TAG.replace_all(&no_comments, "").into_owned()
}

pub(crate) struct ImgTag {
    pub(crate) start: usize,
    pub(crate) end: usize,
    attrs: Vec<(String, String)>,
}

impl ImgTag {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Where the image really is: `src`, or a lazy-loading attribute when
    /// `src` is a placeholder.
    pub(crate) fn source(&self) -> Option<String> {
        let usable = |v: &str| {
            let v = v.trim();
            !v.is_empty()
                && !v.starts_with("data:")
                && !v.starts_with("about:")
                && !v.starts_with('#')
        };
        ["src", "data-src", "data-original", "data-url"]
            .iter()
            .filter_map(|k| self.attr(k))
            .find(|v| usable(v))
            .map(|v| v.trim().to_string())
    }
}

pub(crate) fn find_img_tags(html: &str) -> Vec<ImgTag> {
    IMG_TAG
        .find_iter(html)
        .map(|m| {
            let tag = m.as_str();
            // Skip `<img` / `<image` itself.
            let name_len = if tag
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case("<image"))
            {
                6
            } else {
                4
            };
            let inner = tag[name_len..].trim_end_matches('>');
            let attrs = ATTR
                .captures_iter(inner)
                .map(|c| {
                    let name = c
                        .get(1)
                        .map(|m| m.as_str().to_ascii_lowercase())
                        .unwrap_or_default();
                    let value = c
                        .get(2)
                        .or(c.get(3))
                        .or(c.get(4))
                        .map(|m| m.as_str())
                        .unwrap_or("");
                    (name, decode_entities(value))
                })
                .collect();
            ImgTag {
                start: m.start(),
                end: m.end(),
                attrs,
            }
        })
        .collect()
}

pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub(crate) fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

static SCRIPT_OR_STYLE: LazyLock<Regex> = LazyLock::new(|| {
    // An unterminated element runs to the end, as a browser would read it.
    Regex::new(r"(?is)<(script|style)\b[^>]*>.*?(?:</(?:script|style)\s*>|$)")
        .expect("static regex")
});

/// `html` without `<script>` and `<style>` elements (and their contents).
/// The sanitiser already drops them; platforms that refuse them get this
/// second line of defence.
pub(crate) fn strip_script_and_style(html: &str) -> String {
    SCRIPT_OR_STYLE.replace_all(html, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn img_tags_are_found_with_quoted_gt_uppercase_and_image_alias() {
        let html = r#"<p>a<IMG alt="x > y" SRC='/a.jpg?x=1&amp;y=2'></p><image src=b.png><img data-src="c.gif" src="data:,">"#;
        let tags = find_img_tags(html);
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[0].source().as_deref(), Some("/a.jpg?x=1&y=2"));
        assert_eq!(tags[0].attr("alt"), Some("x > y"));
        assert_eq!(tags[1].source().as_deref(), Some("b.png"));
        assert_eq!(tags[2].source().as_deref(), Some("c.gif"));
    }

    #[test]
    fn comments_and_picture_sources_are_stripped() {
        let s = strip_unsafe_image_carriers(
            r#"a<!-- <img src="x"> -->b<picture><source srcset="y.webp"></picture>"#,
        );
        assert_eq!(s, "ab<picture></picture>");
    }

    #[test]
    fn script_and_style_elements_go_with_their_contents() {
        assert_eq!(
            strip_script_and_style(
                "<p>a</p><SCRIPT type=x>alert(1)</script><style>p{}</style ><p>b</p><script>open"
            ),
            "<p>a</p><p>b</p>"
        );
    }
}
