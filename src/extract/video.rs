//! Videos in an article: kept as a note with the original link.
//!
//! Why: the platforms take text and images only, so a video cannot go out
//! with the article; dropped silently (the parser discards `<video>`,
//! `<iframe>` and `<embed>` with everything else a publisher must not get),
//! readers would meet a gap where the article says "see the video below".
//! The body gets 【视频】请点击原文链接观看：URL in the video's place instead,
//! and the item's notes tell the editor.
//!
//! The parser drops those elements before the tree exists, so they are
//! renamed to [`VIDEO_TAG`] in the markup first — only when the page holds
//! one (one case-insensitive multi-pattern scan, so pages without a video
//! pay next to nothing). An `<iframe>` counts only when it shows a known
//! video host or a video file; maps, forms and ads stay dropped.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use url::Url;

/// The element a video is renamed to; [`super::clean`] writes the note.
pub(crate) const VIDEO_TAG: &str = "x-autosync-video";

/// The note written in the video's place; the link follows it.
pub(crate) const VIDEO_NOTE: &str = "【视频】请点击原文链接观看：";

/// The note for the editor, with the number of videos.
pub(crate) fn editor_note(videos: usize) -> String {
    format!(
        "正文含 {videos} 个视频，平台无法发布视频，已在原位置改为“请点击原文链接观看”及原文链接"
    )
}

/// Hosts (and their subdomains) whose frames are video players.
const VIDEO_HOSTS: &[&str] = &[
    "v.qq.com",
    "video.qq.com",
    "weishi.qq.com",
    "channels.weixin.qq.com",
    "bilibili.com",
    "youku.com",
    "iqiyi.com",
    "ixigua.com",
    "douyin.com",
    "kuaishou.com",
    "miaopai.com",
    "le.com",
    "mgtv.com",
    "tv.cctv.com",
    "v.cctv.com",
    "player.cntv.cn",
    "vod.xinhuaxmt.com",
    "v.xinhuanet.com",
    "video.xinhuanet.com",
    "v.people.cn",
    "youtube.com",
    "youtube-nocookie.com",
    "youtu.be",
    "vimeo.com",
    "dailymotion.com",
];

/// File endings of video streams.
const VIDEO_FILES: &[&str] = &[".mp4", ".m3u8", ".flv", ".webm", ".mov", ".m4v", ".ogv"];

enum Kind {
    Video,
    VideoEnd,
    Iframe,
    IframeEnd,
    Embed,
}

const KINDS: [Kind; 5] = [
    Kind::Video,
    Kind::VideoEnd,
    Kind::Iframe,
    Kind::IframeEnd,
    Kind::Embed,
];

/// Finds and renames video elements; built once per extractor.
pub(crate) struct VideoMarker {
    tags: AhoCorasick,
}

impl VideoMarker {
    pub fn new() -> VideoMarker {
        VideoMarker {
            tags: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .build(["<video", "</video", "<iframe", "</iframe", "<embed"])
                .expect("static patterns build"),
        }
    }

    /// `html` with its videos renamed to [`VIDEO_TAG`]; borrowed unchanged
    /// when it holds none.
    pub fn mark<'a>(&self, html: &'a str) -> Cow<'a, str> {
        let mut out: Option<String> = None;
        let mut copied = 0;
        // An iframe that is a video: its end tag is renamed too.
        let mut video_frame = false;
        for m in self.tags.find_iter(html) {
            // The whole name, not a prefix of another (`<videos>`, `<embedded>`).
            let next = html[m.end()..].chars().next();
            if !next.is_none_or(|c| c.is_ascii_whitespace() || c == '>' || c == '/') {
                continue;
            }
            let tag_end = html[m.end()..].find('>').map(|e| m.end() + e + 1);
            let attrs = &html[m.end()..tag_end.map_or(m.end(), |e| e - 1)];
            let (replacement, close_after) = match KINDS[m.pattern().as_usize()] {
                Kind::Video => ("<".to_string() + VIDEO_TAG, false),
                Kind::VideoEnd => ("</".to_string() + VIDEO_TAG, false),
                Kind::Iframe if is_video_src(attrs) => {
                    video_frame = true;
                    ("<".to_string() + VIDEO_TAG, false)
                }
                Kind::IframeEnd if video_frame => {
                    video_frame = false;
                    ("</".to_string() + VIDEO_TAG, false)
                }
                Kind::Embed if tag_end.is_some() => ("<".to_string() + VIDEO_TAG, true),
                _ => continue,
            };
            let buf = out.get_or_insert_with(|| String::with_capacity(html.len() + 64));
            buf.push_str(&html[copied..m.start()]);
            buf.push_str(&replacement);
            copied = m.end();
            if close_after && let Some(end) = tag_end {
                // `<embed>` is void: close the renamed element right away.
                buf.push_str(&html[copied..end]);
                buf.push_str("</");
                buf.push_str(VIDEO_TAG);
                buf.push('>');
                copied = end;
            }
        }
        match out {
            Some(mut buf) => {
                buf.push_str(&html[copied..]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(html),
        }
    }
}

/// The value of the `src` (or `data-src`) attribute in a start tag's
/// attribute text.
fn src_attr(attrs: &str) -> Option<&str> {
    let lower = attrs.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("src") {
        let at = from + at;
        from = at + 3;
        let before = lower[..at].chars().next_back();
        if !before.is_none_or(|c| c.is_ascii_whitespace() || c == '-' || c == '"' || c == '\'') {
            continue;
        }
        let rest = attrs[at + 3..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next(),
            _ => rest
                .split(|c: char| c.is_ascii_whitespace() || c == '>')
                .next(),
        };
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            return Some(v);
        }
    }
    None
}

/// Whether a frame's source is a video player or a video file.
fn is_video_src(attrs: &str) -> bool {
    let Some(src) = src_attr(attrs) else {
        return false;
    };
    let src = if src.starts_with("//") {
        format!("https:{src}")
    } else {
        src.to_string()
    };
    let Ok(u) = Url::parse(&src) else {
        // A relative frame is the site's own page, not a player we know,
        // unless it is a video file.
        let path = src
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        return VIDEO_FILES.iter().any(|e| path.ends_with(e));
    };
    let host = u.host_str().unwrap_or("").to_ascii_lowercase();
    let path = u.path().to_ascii_lowercase();
    VIDEO_HOSTS
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
        || (host == "mp.weixin.qq.com" && path.contains("video"))
        || VIDEO_FILES.iter().any(|e| path.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_and_player_frames_are_renamed_others_are_not() {
        let m = VideoMarker::new();
        let page = "<p>a</p><VIDEO src=v.mp4 controls><source src=v.webm></VIDEO>\
                    <iframe src=\"https://player.bilibili.com/player.html?bvid=1\"></iframe>\
                    <iframe src='https://map.example.com/x'></iframe>\
                    <embed src=//v.qq.com/x.swf><p>b</p><videos>";
        let got = m.mark(page);
        assert_eq!(
            got,
            "<p>a</p><x-autosync-video src=v.mp4 controls><source src=v.webm></x-autosync-video>\
             <x-autosync-video src=\"https://player.bilibili.com/player.html?bvid=1\"></x-autosync-video>\
             <iframe src='https://map.example.com/x'></iframe>\
             <x-autosync-video src=//v.qq.com/x.swf></x-autosync-video><p>b</p><videos>"
        );
        assert!(matches!(m.mark("<p>no video</p>"), Cow::Borrowed(_)));
        // A start tag without its end is left as it is.
        assert_eq!(m.mark("<p>x<embed src=a.mp4"), "<p>x<embed src=a.mp4");
    }

    #[test]
    fn frame_sources_are_read_in_any_quoting() {
        assert_eq!(
            src_attr(" width=1 src='//v.qq.com/a' "),
            Some("//v.qq.com/a")
        );
        assert_eq!(src_attr(" data-src=\"x.mp4\""), Some("x.mp4"));
        assert_eq!(src_attr(" srcdoc=x"), None);
        assert!(is_video_src(
            " src=\"https://v.qq.com/txp/iframe/player.html?vid=x\""
        ));
        assert!(is_video_src(" src=\"/upload/2024/movie.MP4\""));
        assert!(!is_video_src(" src=\"https://evil.example/v.qq.com.html\""));
        assert!(!is_video_src(" src=\"/map.html\""));
    }
}
