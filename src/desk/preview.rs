//! The article as it will be published, for the desk's preview — built in
//! one place, so the item page, the hand-push confirm and the JSON API show
//! the same thing (and so what is added to every post, like a source line,
//! is wired in here once).
//!
//! The preview must not make the editor's browser load anything from the
//! sites (a site learns who reads the desk, and a slow or hostile site
//! stalls the page): every `<img>` points at the desk's own
//! `/desk/image/{item}/{n}`, which fetches the article's image through the
//! daemon's fetcher (with its address guards and size cap) for an editor
//! who may see the item; an image that is not one of the article's becomes
//! a placeholder naming its URL.

use super::{Desk, DeskError};
use crate::config::{Editor, Unit};
use crate::store::Item;
use regex::Regex;
use std::sync::LazyLock;

/// Largest image the desk passes on.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

static IMG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?is)<img\b[^>]*>"#).expect("static regex"));
static SRC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#).expect("static regex")
});

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The desk's address of image `n` (from 0) of `item`.
pub fn image_path(item: &str, n: usize) -> String {
    let id: String = url::form_urlencoded::byte_serialize(item.as_bytes()).collect();
    format!("/desk/image/{id}/{n}")
}

/// `html` with every image pointing at the desk ([`image_path`]), or a
/// placeholder when it is not one of `item`'s images.
pub fn rehost_images(html: &str, item: &Item) -> String {
    IMG.replace_all(html, |c: &regex::Captures| {
        let tag = &c[0];
        let src = SRC
            .captures(tag)
            .and_then(|s| s.get(1).or(s.get(2)).or(s.get(3)))
            .map(|m| unescape(m.as_str()))
            .unwrap_or_default();
        match item.images.iter().position(|i| *i == src) {
            Some(n) => format!(
                r#"<img src="{}" alt="">"#,
                crate::admin::layout::esc(&image_path(&item.id, n))
            ),
            None => format!(
                r#"<span class="img-missing">［图片：{}］</span>"#,
                crate::admin::layout::esc(&src)
            ),
        }
    })
    .into_owned()
}

/// The body as the platform gets it: the full title first when the
/// platform's title is shortened, then the article, then the unit's source
/// line (`来源：…`, rendered by the same function the outbox uses), times
/// in `tz`.
pub fn body_html(unit: Option<&Unit>, item: &Item, tz: chrono_tz::Tz) -> String {
    let shortened = unit.is_some_and(|u| u.platform_title(&item.title).1);
    let mut out = String::new();
    if shortened {
        out.push_str(&format!(
            "<p>{}</p>",
            crate::admin::layout::esc(&item.title)
        ));
    }
    out.push_str(&item.html);
    if let Some(line) = unit.and_then(|u| crate::publish::source_line::render(u, item, tz)) {
        out.push_str(&line.html);
    }
    out
}

/// The whole preview document (for a sandboxed iframe's `srcdoc`): the
/// title as the platform gets it, the body, images through the desk.
pub fn render(unit: Option<&Unit>, item: &Item, tz: chrono_tz::Tz) -> String {
    let title = unit
        .map(|u| u.platform_title(&item.title).0)
        .unwrap_or_else(|| item.title.clone());
    format!(
        "<!doctype html><meta charset=utf-8><style>body{{font-family:sans-serif;line-height:1.7;padding:0 1em}}img{{max-width:100%}}.img-missing{{color:#888}}</style><h1>{}</h1>{}",
        crate::admin::layout::esc(&title),
        rehost_images(&body_html(unit, item, tz), item)
    )
}

impl Desk {
    /// Image `n` of item `id`, fetched for an editor who may see the item:
    /// its content type and bytes.
    pub async fn image(
        &self,
        ed: &Editor,
        id: &str,
        n: usize,
    ) -> Result<(String, bytes::Bytes), DeskError> {
        let item = self.item_record(ed, id)?;
        let src = item
            .images
            .get(n)
            .ok_or_else(|| DeskError::NotFound(format!("稿件 {id} 的第 {} 张图片", n + 1)))?;
        let unit = self.unit(&item.unit)?;
        let bad = |why: String| DeskError::Failed(format!("图片 {src} 无法显示：{why}"));
        let url = url::Url::parse(src).map_err(|e| bad(e.to_string()))?;
        let page_url = url::Url::parse(&item.url).map_err(|e| bad(e.to_string()))?;
        let mut req = crate::fetch::Request::new(url)
            .with_reach(crate::fetch::Reach::site(&unit.id, unit.scope()).also_site_of(&page_url));
        req.referer = Some(page_url);
        let page = match self.ctx.fetcher.get(&req).await {
            Ok(crate::fetch::Response::Ok(p)) => p,
            Ok(crate::fetch::Response::NotModified) => return Err(bad("站点未返回内容".into())),
            Err(e) => return Err(bad(e.to_string())),
        };
        let ct = page
            .content_type
            .clone()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        // Only images go out under the desk's origin: an HTML or SVG answer
        // would run as the desk's own page.
        if !ct.starts_with("image/") || ct.contains("svg") {
            return Err(bad(format!("不是图片（{ct}）")));
        }
        if page.body.len() > MAX_IMAGE_BYTES {
            return Err(bad(format!("超过 {} MB", MAX_IMAGE_BYTES / 1024 / 1024)));
        }
        Ok((ct, page.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_loads_no_image_from_the_sites() {
        let mut i = Item::new(
            "u",
            "https://example.org/a",
            "site",
            chrono::Utc::now(),
            crate::store::State::Queued,
        );
        i.id = "abc".into();
        i.images = vec!["https://example.org/1.jpg?a=1&b=2".into()];
        i.html = r#"<p>x</p><img src="https://example.org/1.jpg?a=1&amp;b=2" alt="y"><IMG SRC='https://evil.example/t.gif'>"#.into();
        let out = render(None, &i, chrono_tz::Asia::Shanghai);
        assert!(
            out.contains(r#"<img src="/desk/image/abc/0" alt="">"#),
            "{out}"
        );
        assert!(!out.contains("<img src=\"https://"), "{out}");
        assert!(!out.to_lowercase().contains("<img src='https"), "{out}");
        assert!(
            out.contains("［图片：https://evil.example/t.gif］"),
            "{out}"
        );
    }
}
