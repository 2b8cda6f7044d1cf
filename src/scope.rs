//! Which hosts belong to a unit's site: one rule, used by the config
//! ([`crate::config::Unit::allows`]), by list discovery (links on a list
//! page) and by the fetcher (every request a unit makes, every redirect hop).
//!
//! Before this module there were two rules, and both were wrong in a way
//! that lets articles of other organisations out: "the configured host or a
//! subdomain of it, `www.` stripped" turned `site = "http://www.gov.cn/"`
//! into "every `*.gov.cn` host", and the list page's rule knew a hand-written
//! handful of public suffixes.
//!
//! The rule now: a URL is in scope when its host has the same **registrable
//! domain** (public suffix plus one label, from the public-suffix list that
//! the `psl` crate compiles in, so no network is needed) as one of the
//! configured hosts — the unit's site, its sources' hosts and `allow_hosts`
//! — and its **port** is that host's configured port.
//!
//! - `www.cast.org.cn` admits `news.cast.org.cn` and `cast.org.cn` (all
//!   `cast.org.cn`).
//! - A host right under a public suffix, such as `www.gov.cn`, is its own
//!   registrable domain: it admits itself, its subdomains and its `www.`
//!   variant (`gov.cn`), never a sibling such as `other.gov.cn`.
//! - A host that has no registrable domain (an IP address, `localhost`, a
//!   public suffix itself) admits only itself and its `www.` variant.
//! - The port: a URL without one (the scheme's default) matches a configured
//!   host without one, so `http://` and `https://` of a site are both its
//!   site; any other port must be configured (a source URL or an
//!   `allow_hosts` entry `host:port`). Another service on the same machine
//!   is not the site.
//!
//! The scope says nothing about addresses: which addresses a request may
//! reach is the fetcher's business (`fetch::guard`), which asks this module
//! for the configured hosts and ports ([`SiteScope::origins`]).

use url::{Host, Url};

/// The hosts (and ports) a unit's links may go to. Cheap to build: a few
/// public-suffix look-ups per configured host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteScope {
    origins: Vec<Origin>,
}

/// One configured host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    host: Host<String>,
    /// Its registrable domain, when it has one (domain names only).
    domain: Option<String>,
    /// Explicit port; `None` is the scheme's default (80 or 443).
    port: Option<u16>,
}

impl SiteScope {
    /// An empty scope: admits nothing.
    pub fn new() -> SiteScope {
        SiteScope::default()
    }

    /// The scope of a unit: its site, its sources' URLs and its
    /// `allow_hosts` entries (`host`, `host:port` or a URL).
    pub fn of_unit<'a>(
        site: &Url,
        sources: impl IntoIterator<Item = &'a Url>,
        allow_hosts: impl IntoIterator<Item = &'a str>,
    ) -> SiteScope {
        let mut s = SiteScope::new();
        s.add_url(site);
        for u in sources {
            s.add_url(u);
        }
        for h in allow_hosts {
            s.add_host_entry(h);
        }
        s
    }

    /// The scope of one URL's site (a list page's own links).
    pub fn of_url(url: &Url) -> SiteScope {
        let mut s = SiteScope::new();
        s.add_url(url);
        s
    }

    /// Add `url`'s host and port. URLs without a host add nothing.
    pub fn add_url(&mut self, url: &Url) {
        let Some(host) = url.host() else { return };
        let host = normalise(host.to_owned());
        let domain = registrable(&host);
        let origin = Origin {
            host,
            domain,
            port: url.port(),
        };
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
    }

    /// Add an `allow_hosts` entry: `host`, `host:port`, or a whole URL. An
    /// entry that is none of these adds nothing (it could only ever admit
    /// something by accident).
    pub fn add_host_entry(&mut self, entry: &str) {
        let entry = entry.trim();
        let entry = entry.trim_start_matches("*.").trim_start_matches('.');
        let parsed = if entry.contains("://") {
            Url::parse(entry)
        } else {
            Url::parse(&format!("http://{entry}/"))
        };
        if let Ok(u) = parsed
            && matches!(u.scheme(), "http" | "https")
        {
            self.add_url(&u);
        }
    }

    /// Whether `url` is on the site: http(s), a host of a configured
    /// registrable domain (or the very host, or its `www.` variant, when it
    /// has none), on that host's configured port.
    pub fn allows(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = url.host() else {
            return false;
        };
        let host = normalise(host.to_owned());
        let domain = registrable(&host);
        let port = url.port();
        self.origins.iter().any(|o| {
            o.port == port
                && (same_host(&o.host, &host) || (o.domain.is_some() && o.domain == domain))
        })
    }

    /// The configured hosts, each with its explicit port (`None`: the
    /// scheme's default, 80 or 443): what the fetcher may reach on an
    /// internal address for a unit whose site is on one.
    pub fn origins(&self) -> impl Iterator<Item = (&Host<String>, Option<u16>)> + '_ {
        self.origins.iter().map(|o| (&o.host, o.port))
    }

    /// Whether nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }
}

/// Lowercase (the url crate already does) and without a trailing dot, so
/// `www.gov.cn.` is `www.gov.cn`.
fn normalise(host: Host<String>) -> Host<String> {
    match host {
        Host::Domain(d) => Host::Domain(d.trim_end_matches('.').to_ascii_lowercase()),
        ip => ip,
    }
}

/// The registrable domain of a domain name (none for an IP address or a
/// name that is itself a public suffix).
fn registrable(host: &Host<String>) -> Option<String> {
    let Host::Domain(d) = host else { return None };
    let domain = psl::domain_str(d)?;
    Some(domain.to_string())
}

/// The same host, `www.` ignored on either side (IP addresses exactly).
fn same_host(a: &Host<String>, b: &Host<String>) -> bool {
    match (a, b) {
        (Host::Domain(a), Host::Domain(b)) => {
            a.strip_prefix("www.").unwrap_or(a) == b.strip_prefix("www.").unwrap_or(b)
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn site(s: &str) -> SiteScope {
        SiteScope::of_url(&u(s))
    }

    #[test]
    fn registrable_domain_admits_its_subdomains() {
        let s = site("https://www.cast.org.cn/");
        assert!(s.allows(&u("https://news.cast.org.cn/a.html")));
        assert!(s.allows(&u("http://cast.org.cn/a.html")));
        assert!(s.allows(&u("https://www.cast.org.cn./a.html")));
        assert!(!s.allows(&u("https://www.hbkx.org.cn/a.html")));
        assert!(!s.allows(&u("https://notcast.org.cn/a.html")));
    }

    #[test]
    fn site_right_under_a_public_suffix_admits_only_itself() {
        let s = site("http://www.gov.cn/");
        assert!(s.allows(&u("http://www.gov.cn/zhengce/1.htm")));
        assert!(s.allows(&u("http://gov.cn/1.htm")), "www. variant");
        assert!(
            s.allows(&u("http://news.www.gov.cn/1.htm")),
            "its own subdomain"
        );
        assert!(!s.allows(&u("http://other.gov.cn/1.htm")));
        assert!(!s.allows(&u("http://kx.sh.gov.cn/1.htm")));
        // Same from the other side: a province site does not admit gov.cn.
        let s = site("http://kx.sh.gov.cn/");
        assert!(!s.allows(&u("http://www.gov.cn/1.htm")));
    }

    #[test]
    fn port_must_be_the_configured_one() {
        let s = site("http://www.cast.org.cn/");
        assert!(s.allows(&u("https://www.cast.org.cn/a")), "default ports");
        assert!(!s.allows(&u("http://www.cast.org.cn:8080/a")));
        let s = site("http://127.0.0.1:8000/");
        assert!(s.allows(&u("http://127.0.0.1:8000/a")));
        assert!(!s.allows(&u("http://127.0.0.1:8001/a")));
        assert!(!s.allows(&u("http://127.0.0.1/a")));
    }

    #[test]
    fn ip_addresses_and_single_labels_match_exactly() {
        let s = site("http://127.0.0.1:8000/");
        assert!(!s.allows(&u("http://127.0.0.2:8000/a")));
        assert!(!s.allows(&u("http://localhost:8000/a")));
        let s = site("http://localhost/");
        assert!(s.allows(&u("http://localhost/a")));
        assert!(!s.allows(&u("http://other/a")));
        let s = site("http://[::1]:81/");
        assert!(s.allows(&u("http://[0:0::1]:81/a")));
    }

    #[test]
    fn allow_hosts_entries_with_and_without_ports() {
        let s = SiteScope::of_unit(
            &u("https://www.example.org/"),
            [&u("https://feeds.example.net/rss.xml")],
            [
                "cdn.example.com",
                "media.example.org:8443",
                "https://img.example.edu/",
                "not a host",
            ],
        );
        assert!(s.allows(&u("https://static.example.com/x.jpg")));
        assert!(s.allows(&u("https://example.net/a.html")));
        assert!(s.allows(&u("https://media.example.org:8443/a")));
        assert!(s.allows(&u("https://img.example.edu/a")));
        assert!(!s.allows(&u("https://media.example.com:8443/a")));
        assert!(!s.allows(&u("https://evil.org/a")));
        assert!(!s.allows(&u("ftp://www.example.org/a")));
    }

    #[test]
    fn origins_list_configured_hosts_and_ports() {
        let s = SiteScope::of_unit(&u("http://127.0.0.1:8000/"), [], ["intranet.example"]);
        let got: Vec<(String, Option<u16>)> =
            s.origins().map(|(h, p)| (h.to_string(), p)).collect();
        assert_eq!(
            got,
            [
                ("127.0.0.1".to_string(), Some(8000)),
                ("intranet.example".to_string(), None)
            ]
        );
    }
}
