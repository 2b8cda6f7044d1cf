//! Editing an article's body before it is published.
//!
//! Office editors remove a paragraph or a phone number; they do not write
//! HTML. So the body is edited as plain text: one paragraph a line, each of
//! the article's images a line of its own (`[图片3]`) that can be moved or
//! deleted but not invented (an image the article did not have cannot be
//! added here). What is saved is rebuilt as HTML and goes through the same
//! sanitiser as every fetched article ([`crate::extract::clean_fragment`]),
//! so an edit can never bring in markup a site could not.
//!
//! What is lost: a paragraph's inline formatting, headings, lists and
//! tables become plain paragraphs. The desk says so next to the form.

use super::{Desk, DeskError, refused};
use crate::config::Editor;
use crate::store::{AuditAction, Item, StateName};

/// At most this many characters in an edited body.
pub const MAX_BODY_CHARS: usize = 100_000;

/// The elements whose text is one paragraph line.
const BLOCKS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "figcaption",
    "td",
    "th",
    "dd",
    "dt",
];

/// An image's line in the plain-text form (`n` counts from 1).
fn image_line(n: usize) -> String {
    format!("[图片{n}]")
}

/// The image a line names, if it is an image line.
fn image_of(line: &str) -> Option<usize> {
    line.strip_prefix("[图片")?
        .strip_suffix(']')?
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
}

/// The body as an editor edits it: one paragraph a line, images as
/// `[图片N]` lines, N the image's place in `item.images`.
pub fn as_text(item: &Item) -> String {
    use scraper::Node;
    let doc = scraper::Html::parse_fragment(&item.html);
    let mut lines: Vec<String> = Vec::new();
    let mut inside: Vec<ego_tree::NodeId> = Vec::new();
    for edge in doc.root_element().traverse() {
        match edge {
            ego_tree::iter::Edge::Open(node) => {
                let Node::Element(el) = node.value() else {
                    continue;
                };
                let name = el.name();
                if name == "img" {
                    let src = el.attr("src").unwrap_or("");
                    let n = item.images.iter().position(|i| i == src);
                    if let Some(n) = n {
                        lines.push(image_line(n + 1));
                    }
                } else if BLOCKS.contains(&name) && inside.is_empty() {
                    inside.push(node.id());
                    let text: String = scraper::ElementRef::wrap(node)
                        .map(|e| e.text().collect::<Vec<_>>().join(""))
                        .unwrap_or_default();
                    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !text.is_empty() {
                        lines.push(text);
                    }
                }
            }
            ego_tree::iter::Edge::Close(node) => {
                if inside.last() == Some(&node.id()) {
                    inside.pop();
                }
            }
        }
    }
    if lines.is_empty() && !item.text.trim().is_empty() {
        // A body without block markup: its text, as it is.
        return item.text.trim().to_string();
    }
    lines.join("\n\n")
}

/// The HTML an edited plain text stands for, before sanitising; refuses
/// control characters (other than line breaks and tabs), an empty body, a
/// body over [`MAX_BODY_CHARS`], and image lines the article has no image
/// for.
pub fn to_html(text: &str, images: &[String]) -> Result<String, DeskError> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DeskError::BadInput(
            "正文不能含控制字符（换行和制表符除外）".into(),
        ));
    }
    let n = text.chars().count();
    if n > MAX_BODY_CHARS {
        return Err(DeskError::BadInput(format!(
            "正文最多 {MAX_BODY_CHARS} 字，现为 {n} 字"
        )));
    }
    let mut html = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match image_of(line) {
            Some(k) => {
                let src = images.get(k - 1).ok_or_else(|| {
                    DeskError::BadInput(format!(
                        "正文中的「{line}」没有对应的图片：原文只有 {} 张图片",
                        images.len()
                    ))
                })?;
                html.push_str(&format!(
                    r#"<p><img src="{}"></p>"#,
                    crate::admin::layout::esc(src)
                ));
            }
            None => {
                html.push_str(&format!("<p>{}</p>", crate::admin::layout::esc(line)));
            }
        }
    }
    if html.is_empty() {
        return Err(DeskError::BadInput("正文不能为空；不发布请驳回稿件".into()));
    }
    Ok(html)
}

impl Desk {
    /// Replace the body of a held, queued or failed item with `text` (the
    /// plain-text form of [`as_text`]), re-sanitised, through the store's
    /// check-and-set; audited with the text before and after. What is
    /// published afterwards, and what the preview shows, is this body.
    pub async fn edit_body(&self, ed: &Editor, id: &str, text: &str) -> Result<Item, DeskError> {
        let before = self.item(ed, id)?;
        let html = to_html(text, &before.images)?;
        let base = url::Url::parse(&before.url).ok();
        let clean = crate::extract::clean_fragment(&html, base.as_ref());
        if clean.text.trim().is_empty() && clean.images.is_empty() {
            return Err(DeskError::BadInput(
                "正文清理后为空；不发布请驳回稿件".into(),
            ));
        }
        let mut edited = before.clone();
        edited.html = clean.html;
        edited.text = clean.text;
        edited.images = clean.images.iter().map(|u| u.to_string()).collect();
        let images = edited.images.clone();
        let now = self.ctx.clock.now();
        let after = self
            .ctx
            .store
            .transition_with_body(
                id,
                &[StateName::Held, StateName::Queued, StateName::Failed],
                now,
                &edited,
                |i| {
                    i.images = images.clone();
                    i.notes.retain(|n| !n.starts_with("正文已由编辑修改"));
                    i.notes.push(format!("正文已由编辑修改（{}）", ed.name));
                    Ok(())
                },
            )
            .await
            .map_err(refused("修改正文"))?;
        let mut after_full = after.clone();
        after_full.html = edited.html.clone();
        after_full.text = edited.text.clone();
        self.record(
            ed,
            AuditAction::EditBody,
            Some(&after),
            Some(as_text(&before)),
            Some(as_text(&after_full)),
            None,
        )
        .await?;
        Ok(after_full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(html: &str, images: &[&str]) -> Item {
        let mut i = Item::new(
            "u",
            "https://example.org/a",
            "site",
            chrono::Utc::now(),
            crate::store::State::Queued,
        );
        i.html = html.into();
        i.images = images.iter().map(|s| s.to_string()).collect();
        i
    }

    #[test]
    fn body_text_form_has_a_line_a_paragraph_and_image_lines() {
        let i = item(
            r#"<h2>标题</h2><p>第一段 <b>加粗</b></p><figure><img src="https://example.org/1.jpg"></figure><ul><li>甲</li><li>乙</li></ul>"#,
            &["https://example.org/1.jpg"],
        );
        assert_eq!(as_text(&i), "标题\n\n第一段 加粗\n\n[图片1]\n\n甲\n\n乙");
    }

    #[test]
    fn body_edit_keeps_only_the_articles_images_and_escapes_text() {
        let imgs = vec!["https://example.org/1.jpg".to_string()];
        let html = to_html("<script>x</script>\n[图片1]\n", &imgs).unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains(r#"src="https://example.org/1.jpg""#),
            "{html}"
        );
        let e = to_html("[图片2]", &imgs).unwrap_err();
        assert!(e.to_string().contains("没有对应的图片"), "{e}");
    }

    #[test]
    fn body_edit_refuses_control_characters_but_not_line_breaks() {
        assert!(to_html("一段\r\n\t二段", &[]).is_ok());
        let e = to_html("一段\u{7}", &[]).unwrap_err();
        assert_eq!(e.code(), super::super::ErrorCode::BadInput);
        assert!(e.to_string().contains("控制字符"));
        assert!(to_html(" \n ", &[]).is_err());
        assert!(to_html(&"字".repeat(MAX_BODY_CHARS + 1), &[]).is_err());
    }
}
