//! What a WeChat article may be: the limits of `draft/add`, applied before
//! anything is sent so that a post the platform would refuse is either
//! fixed here (a title shortened, an author cut at a name boundary, images
//! rewritten) or held for an editor ([`Outcome::Hold`]) with a reason in
//! Chinese they can act on — never sent to fail.
//!
//! The limits (characters, not bytes): title 32, author 16, digest 128;
//! the body (HTML included) under 20,000 characters, without `<script>` or
//! `<style>`, and with images only from the platform (`media/uploadimg`).

use crate::publish::html::{
    ImgTag, escape_attr, escape_text, find_img_tags, strip_script_and_style,
    strip_unsafe_image_carriers,
};
use crate::publish::text::{normalise_space, short, shorten_title};
use crate::publish::{Outcome, Post};
use std::collections::{HashMap, HashSet};
use url::Url;

pub const TITLE_MAX_CHARS: usize = 32;
pub const AUTHOR_MAX_CHARS: usize = 16;
pub const DIGEST_MAX_CHARS: usize = 128;
/// The body must be *shorter* than this many characters, tags included.
pub const CONTENT_MAX_CHARS: usize = 20_000;
/// Body images must be smaller than this many bytes (the API says "1 MB";
/// staying under a decimal megabyte is safe whichever it means).
pub const IMAGE_MAX_BYTES: usize = 1_000_000;

/// The title sent, and whether it was shortened (then the full title opens
/// the body: see [`body`]).
pub fn title(title: &str) -> (String, bool) {
    shorten_title(title, TITLE_MAX_CHARS)
}

/// The author sent, if any, and a note when it had to change. A list of
/// names too long is cut after the last whole name that fits; one name too
/// long is left out rather than cut in the middle.
pub fn author(author: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(a) = author.map(normalise_space).filter(|a| !a.is_empty()) else {
        return (None, None);
    };
    let chars: Vec<char> = a.chars().collect();
    if chars.len() <= AUTHOR_MAX_CHARS {
        return (Some(a), None);
    }
    let is_sep = |c: char| matches!(c, ' ' | '、' | '，' | ',' | '；' | ';' | '/' | '|');
    let cut = (2..=AUTHOR_MAX_CHARS)
        .rev()
        .find(|&i| chars.get(i).copied().is_some_and(is_sep));
    match cut {
        Some(i) => {
            let head: String = chars[..i].iter().collect();
            let head = head.trim_end_matches(is_sep).to_string();
            let note =
                format!("author shortened to {head:?} (at most {AUTHOR_MAX_CHARS} characters)");
            (Some(head), Some(note))
        }
        None => (
            None,
            Some(format!(
                "author {a:?} left out: longer than {AUTHOR_MAX_CHARS} characters"
            )),
        ),
    }
}

/// The digest: the article's first whole sentences that fit in
/// [`DIGEST_MAX_CHARS`] (a first sentence longer than that is cut with
/// `…`). Empty for an article without text (the platform then takes the
/// body's beginning itself).
pub fn digest(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    for sentence in sentences(text) {
        let n = sentence.chars().count();
        let joiner = joiner(&out, &sentence);
        if count + joiner.len() + n > DIGEST_MAX_CHARS {
            if out.is_empty() {
                let head: String = sentence.chars().take(DIGEST_MAX_CHARS - 1).collect();
                return format!("{}…", head.trim_end());
            }
            break;
        }
        out.push_str(joiner);
        out.push_str(&sentence);
        count += joiner.len() + n;
    }
    out
}

/// The text's sentences, in order: split after sentence-ending punctuation
/// (with the closing quotes or brackets that follow it) and at line ends (a
/// heading without a full stop is a sentence of its own).
fn sentences(text: &str) -> Vec<String> {
    let closing = |c: char| matches!(c, '”' | '’' | '」' | '）' | ')' | '"' | '\'');
    let mut out = Vec::new();
    for line in text.lines() {
        let chars: Vec<char> = normalise_space(line).chars().collect();
        let mut start = 0;
        let mut i = 0;
        while i < chars.len() {
            let next = chars.get(i + 1).copied();
            let ends = matches!(chars[i], '。' | '！' | '？' | '；' | '!' | '?' | ';')
                // An ASCII full stop ends a sentence before a space, not in
                // "3.5" or "www.example.org".
                || (chars[i] == '.' && next.is_none_or(|n| n.is_whitespace() || closing(n)));
            if ends {
                while chars.get(i + 1).copied().is_some_and(closing) {
                    i += 1;
                }
                push_sentence(&mut out, &chars[start..=i]);
                start = i + 1;
            }
            i += 1;
        }
        push_sentence(&mut out, &chars[start.min(chars.len())..]);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, chars: &[char]) {
    let s: String = chars.iter().collect();
    let s = s.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
}

/// What goes between two sentences: nothing after Chinese punctuation
/// before Chinese text, else a space (between English sentences, after a
/// heading without punctuation).
fn joiner(before: &str, next: &str) -> &'static str {
    let (Some(b), Some(n)) = (before.chars().last(), next.chars().next()) else {
        return "";
    };
    let closed = matches!(b, '。' | '！' | '？' | '；' | '”' | '’' | '」' | '）' | '…');
    if closed && !n.is_ascii() { "" } else { " " }
}

/// The body before its images are uploaded: without `<script>`/`<style>`,
/// comments and `<picture>` sources (which could carry an image past the
/// rewrite), and — when the title was shortened — with the full title as
/// its first line, so no reader loses it.
pub fn body(post: &Post, title_shortened: bool) -> String {
    let html = strip_unsafe_image_carriers(&strip_script_and_style(&post.html));
    if title_shortened {
        format!(
            "<p>{}</p>{html}",
            escape_text(&normalise_space(&post.title))
        )
    } else {
        html
    }
}

/// [`Outcome::Hold`] when `content` is too long for the platform; the
/// reason tells an editor what to do.
pub fn hold_if_too_long(content: &str) -> Option<Outcome> {
    let n = content.chars().count();
    (n >= CONTENT_MAX_CHARS).then(|| Outcome::Hold {
        reason: format!(
            "正文过长：共 {n} 字符（含排版代码），微信公众号要求少于 {CONTENT_MAX_CHARS} 字符。\
             请删减正文或拆分为多篇后再发布。"
        ),
    })
}

/// `html` with every `<img>` removed: the shortest the body can become, for
/// holding a body that is too long before any image is uploaded.
pub fn without_images(html: &str) -> String {
    replace_images(html, |_| None)
}

/// `html` with each `<img>` tag replaced by what `f` makes of it (removed
/// on `None`).
fn replace_images(html: &str, f: impl Fn(&ImgTag) -> Option<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut last = 0;
    for tag in find_img_tags(html) {
        out.push_str(&html[last..tag.start]);
        last = tag.end;
        if let Some(replacement) = f(&tag) {
            out.push_str(&replacement);
        }
    }
    out.push_str(&html[last..]);
    out
}

/// The images `html` references, as absolute http(s) URLs, each once, in
/// order; and notes for those that cannot be used at all.
pub fn image_urls(html: &str, base: &Url) -> (Vec<Url>, Vec<String>) {
    let mut urls: Vec<Url> = Vec::new();
    let mut notes = Vec::new();
    for tag in find_img_tags(html) {
        match resolve(&tag, base) {
            Ok(u) => {
                if !urls.contains(&u) {
                    urls.push(u);
                }
            }
            Err(note) => notes.push(note),
        }
    }
    (urls, notes)
}

fn resolve(tag: &ImgTag, base: &Url) -> Result<Url, String> {
    let Some(src) = tag.source() else {
        return Err("已删去一张图片：没有可用的图片地址（src）".to_string());
    };
    match base.join(&src) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(format!("已删去图片 {}：不是 http(s) 地址", short(&src))),
    }
}

/// `html` with each image's `src` replaced by its uploaded URL (from
/// `uploaded`, by the image's absolute URL); images not there are removed
/// (the caller noted why). Only `src` and `alt` are kept: lazy-loading and
/// sizing attributes would point elsewhere or fight the platform's layout.
pub fn rewrite_images(html: &str, base: &Url, uploaded: &HashMap<Url, String>) -> String {
    replace_images(html, |tag| {
        let url = resolve(tag, base).ok().and_then(|u| uploaded.get(&u))?;
        let mut img = format!("<img src=\"{}\"", escape_attr(url));
        if let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty()) {
            img.push_str(&format!(" alt=\"{}\"", escape_attr(alt)));
        }
        img.push('>');
        Some(img)
    })
}

/// An image in `content` whose `src` the platform did not issue, if any —
/// parsed the way a browser would, an independent check of the regex-based
/// rewrite.
pub fn foreign_image(content: &str, issued: &HashSet<String>) -> Option<String> {
    let doc = scraper::Html::parse_fragment(content);
    let sel = scraper::Selector::parse("img").expect("static selector");
    doc.select(&sel).find_map(|img| {
        let src = img.value().attr("src").unwrap_or("");
        (!issued.contains(src)).then(|| short(src))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(title: &str, html: &str) -> Post {
        Post {
            item_id: "u/1".into(),
            title: title.into(),
            html: html.into(),
            text: String::new(),
            source_url: Url::parse("https://www.example.org/news/1.html").unwrap(),
            images: vec![],
            published_at: None,
            author: None,
            source: None,
        }
    }

    #[test]
    fn a_title_over_32_characters_is_shortened_and_opens_the_body_in_full() {
        let long = "关于举办2026年全省青少年科普讲解大赛的通知——决赛名单公示及后续工作安排说明";
        let (t, cut) = title(long);
        assert!(cut && t.chars().count() <= 32 && t.ends_with('…'), "{t}");
        let b = body(&post(long, "<p>正文</p>"), cut);
        assert_eq!(b, format!("<p>{long}</p><p>正文</p>"));
        let (t, cut) = title(&"字".repeat(32));
        assert!(!cut && t.chars().count() == 32);
    }

    #[test]
    fn the_body_loses_scripts_styles_comments_and_picture_sources() {
        let b = body(
            &post(
                "t",
                "<p>a</p><script>x()</script><style>p{}</style><!-- <img src=x> --><picture><source srcset=y.webp></picture>",
            ),
            false,
        );
        assert_eq!(b, "<p>a</p><picture></picture>");
    }

    #[test]
    fn authors_over_16_are_cut_at_a_name_or_left_out() {
        assert_eq!(author(Some(" 张三 ")), (Some("张三".into()), None));
        let (a, note) = author(Some("张三、李四、王五、赵六、孙七、周八、吴九"));
        assert_eq!(a.as_deref(), Some("张三、李四、王五、赵六、孙七"));
        assert!(note.unwrap().contains("shortened"));
        let (a, note) = author(Some(&"长".repeat(17)));
        assert_eq!(a, None);
        assert!(note.unwrap().contains("left out"));
        assert_eq!(author(Some("  ")), (None, None));
    }

    #[test]
    fn the_digest_is_whole_first_sentences_within_128() {
        let text = "省科协今天举办科普讲座。来自全省的两百名教师参加！\n讲座内容丰富。";
        assert_eq!(digest(text), text.replace('\n', ""));
        let many = "这是一句十个字的话。".repeat(20);
        let d = digest(&many);
        assert_eq!(d.chars().count(), 120, "{d}");
        assert!(d.ends_with('。'));
        let one = format!("{}。", "长".repeat(200));
        let d = digest(&one);
        assert_eq!(d.chars().count(), 128);
        assert!(d.ends_with('…'));
        assert_eq!(digest(""), "");
        assert_eq!(
            digest("Version 3.5 is out. See www.example.org now."),
            "Version 3.5 is out. See www.example.org now."
        );
        assert_eq!(
            digest("一、背景\n他说：“好。”然后走了。"),
            "一、背景 他说：“好。”然后走了。"
        );
    }

    #[test]
    fn a_body_of_20000_characters_or_more_is_held_with_a_chinese_reason() {
        assert!(hold_if_too_long(&"字".repeat(CONTENT_MAX_CHARS - 1)).is_none());
        let Some(Outcome::Hold { reason }) = hold_if_too_long(&"字".repeat(CONTENT_MAX_CHARS))
        else {
            panic!("not held")
        };
        assert!(
            reason.contains("20000") && reason.contains("请删减"),
            "{reason}"
        );
    }

    #[test]
    fn images_are_rewritten_to_uploaded_urls_or_dropped() {
        let base = Url::parse("https://www.example.org/news/1.html").unwrap();
        let html = r#"<p><img src="a.png" alt="合影" width="9"></p><img data-src="/b.gif" src="data:,"><img src="javascript:x"><img src="a.png">"#;
        let (urls, notes) = image_urls(html, &base);
        assert_eq!(
            urls.iter().map(Url::as_str).collect::<Vec<_>>(),
            [
                "https://www.example.org/news/a.png",
                "https://www.example.org/b.gif"
            ]
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        let uploaded = HashMap::from([(urls[0].clone(), "http://mmbiz/1.png".to_string())]);
        let out = rewrite_images(html, &base, &uploaded);
        assert_eq!(
            out,
            r#"<p><img src="http://mmbiz/1.png" alt="合影"></p><img src="http://mmbiz/1.png">"#
        );
        let issued = HashSet::from(["http://mmbiz/1.png".to_string()]);
        assert_eq!(foreign_image(&out, &issued), None);
        assert!(foreign_image(r#"<IMG SRC="http://x/y.png">"#, &issued).is_some());
        assert_eq!(without_images(html), "<p></p>");
    }
}
