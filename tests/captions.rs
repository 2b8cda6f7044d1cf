//! Captions stay with their images and videos become a note with the
//! original link (issue 14), on whole pages through the extractor and on a
//! feed's fragment.

use std::path::Path;

use autosync::extract::{Article, ExtractOptions, clean_fragment, extract};
use url::Url;

fn page(name: &str, url: &str) -> Article {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captions")
        .join(name);
    let html = std::fs::read_to_string(&path).expect("fixture readable");
    let url = Url::parse(url).expect("test URL parses");
    extract(&html, Some(&url), &ExtractOptions::default()).expect("article")
}

/// The text right after `image` in the body HTML, tags stripped.
fn text_after_image(html: &str, image: &str) -> String {
    let at = html
        .find(image)
        .unwrap_or_else(|| panic!("{image} not in {html}"));
    let mut out = String::new();
    let mut in_tag = false;
    for c in html[at..].chars().skip_while(|&c| c != '>').skip(1) {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
        if out.chars().count() >= 40 {
            break;
        }
    }
    out.trim().to_string()
}

#[test]
fn captions_stay_under_their_images() {
    let a = page(
        "figures.html",
        "http://www.example-kx.cn/dt/202405/t20240520_1.html",
    );
    for (image, caption) in [
        ("/upload/a.jpg", "图为活动启动仪式现场"),
        ("/upload/b.jpg", "小学生在体验区操作机器人"),
        ("/upload/c.jpg", "专家为市民讲解天文知识"),
        ("/upload/d.jpg", "（摄影 李四）"),
    ] {
        assert!(a.text.contains(caption), "{caption} dropped: {}", a.text);
        let after = text_after_image(&a.html, image);
        assert!(
            after.starts_with(caption),
            "{image} is followed by {after:?}, not its caption"
        );
    }
    // Page furniture with an image is still not a caption.
    assert!(!a.text.contains("扫一扫"), "{}", a.text);
    assert!(a.notes.is_empty(), "{:?}", a.notes);
}

#[test]
fn videos_become_a_note_with_the_original_link() {
    let url = "http://www.example-kx.cn/kp/202405/t20240521_2.html";
    let a = page("videos.html", url);
    let note = format!("【视频】请点击原文链接观看：{url}");
    assert_eq!(a.text.matches(&note).count(), 2, "{}", a.text);
    // In place: after the paragraph that precedes each video.
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(lines.len(), 6, "{}", a.text);
    assert_eq!(lines[1], note);
    assert_eq!(lines[3], note);
    assert!(
        a.html.contains(&format!(
            "<p>【视频】请点击原文链接观看：<a href=\"{url}\">{url}</a></p>"
        )),
        "{}",
        a.html
    );
    // The map frame is not a video and still goes; no player gets through.
    assert!(!a.html.contains("map.example.com"), "{}", a.html);
    assert!(
        !a.html.contains("iframe") && !a.html.contains("video "),
        "{}",
        a.html
    );
    assert_eq!(a.notes.len(), 1, "{:?}", a.notes);
    assert!(a.notes[0].contains("2 个视频"), "{:?}", a.notes);
}

#[test]
fn a_feed_fragment_video_is_noted_too() {
    let base = Url::parse("https://blog.example.com/post/9").unwrap();
    let f = clean_fragment(
        "<p>正文第一段，介绍这次活动。</p><video controls><source src=\"/v/9.mp4\"></video><p>正文第二段。</p>",
        Some(&base),
    );
    assert_eq!(
        f.text,
        "正文第一段，介绍这次活动。\n【视频】请点击原文链接观看：https://blog.example.com/post/9\n正文第二段。"
    );
    assert_eq!(f.notes.len(), 1);
    // Without the article's address the video's own is the link.
    let f = clean_fragment(
        "<p>说明。</p><video src=\"https://cdn.example.com/v.mp4\"></video>",
        None,
    );
    assert!(
        f.text
            .ends_with("【视频】请点击原文链接观看：https://cdn.example.com/v.mp4"),
        "{}",
        f.text
    );
    // Nor any source: the note alone, no dangling colon.
    let f = clean_fragment("<p>说明。</p><video controls></video>", None);
    assert_eq!(f.text, "说明。\n【视频】请点击原文链接观看");
    assert_eq!(f.notes.len(), 1);
}
