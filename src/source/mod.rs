//! Discovery: from a source (feed or HTML list page) to the article entries it
//! announces. Nothing here does I/O but [`discover`]'s async half (a site's
//! sources found from its home page); the pipeline fetches and hands the
//! bytes in, so every parser is testable on fixtures.

pub mod canon;
pub mod discover;
pub mod feed;
pub mod list;

use chrono::{DateTime, FixedOffset};
use url::Url;

pub use canon::canonicalize;
pub use feed::parse_feed;
pub use list::{ListChoice, explain_list, parse_list};

/// One article announced by a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Canonical article URL (see [`canonicalize`]).
    pub url: Url,
    /// Feed guid/id when the feed gives one; the item's identity within the
    /// source. List pages leave it empty and the URL is the identity.
    pub guid: Option<String>,
    pub title: Option<String>,
    pub published_at: Option<DateTime<FixedOffset>>,
    pub author: Option<String>,
    /// Full article HTML from the feed (`content:encoded`, Atom content),
    /// when the feed carries it; then the page need not be fetched.
    pub content_html: Option<String>,
    /// A summary only; the article page must be fetched.
    pub summary: Option<String>,
    /// Announced by a feed: its title, date and author are the publisher's
    /// own and win over what the article page shows (a list page's link
    /// text is often cut short, so there the page wins).
    pub from_feed: bool,
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{url}: not a valid feed: {reason}")]
    BadFeed { url: Url, reason: String },
    #[error("{url}: bad link_selector {selector:?}: {reason}")]
    BadSelector {
        url: Url,
        selector: String,
        reason: String,
    },
}
