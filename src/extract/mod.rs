//! Article extraction: from an article page to title, time, author, source,
//! clean body HTML, plain text and images.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use url::Url;

/// What an article page yields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Article {
    pub title: String,
    pub published_at: Option<DateTime<FixedOffset>>,
    pub author: Option<String>,
    /// `来源：` — the original publisher, when the page names one.
    pub source: Option<String>,
    /// Plain text of the body, paragraphs separated by newlines.
    pub text: String,
    /// Sanitised body HTML: main content only, links and images absolute.
    pub html: String,
    /// Absolute image URLs in body order.
    pub images: Vec<Url>,
}

/// Per-site overrides (config); empty means "find it automatically".
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    pub content_selector: Option<String>,
    pub title_selector: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{url}: not an article page: {reason}")]
    NotAnArticle { url: String, reason: String },
}

/// Extract an article from decoded HTML.
pub fn extract(
    html: &str,
    url: Option<&Url>,
    opts: &ExtractOptions,
) -> Result<Article, ExtractError> {
    let _ = (html, opts);
    Err(ExtractError::NotAnArticle {
        url: url.map(|u| u.to_string()).unwrap_or_default(),
        reason: "not implemented".into(),
    })
}

/// A body fragment that is already the article (feed `content:encoded`):
/// sanitise it, make links absolute, and derive text and images.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fragment {
    pub html: String,
    pub text: String,
    pub images: Vec<Url>,
}

pub fn clean_fragment(html: &str, base: Option<&Url>) -> Fragment {
    let _ = base;
    Fragment {
        html: html.to_string(),
        text: String::new(),
        images: Vec::new(),
    }
}

/// One line of `autosync extract`: the file name and what was extracted.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub file: String,
    #[serde(flatten)]
    pub article: Article,
}

/// Extract a saved page (raw bytes in any charset, `.html` or `.html.gz`).
/// `base` is the page's URL when known, for absolute links.
pub fn extract_file(
    path: &std::path::Path,
    base: Option<&Url>,
) -> Result<FileRecord, ExtractError> {
    let _ = base;
    Err(ExtractError::NotAnArticle {
        url: path.display().to_string(),
        reason: "not implemented".into(),
    })
}
