//! Where a request may go, checked before anything connects.
//!
//! An editor can hand-push any address, and a polled site can redirect or
//! link anywhere; without this module both reached the daemon's own
//! `/status`, the cloud metadata address and any machine on the intranet,
//! and what those answered was published or shown in notes. Every request
//! of the [`super::Fetcher`] — feed, list, article, image, robots.txt, each
//! redirect hop — carries a [`Reach`], and is refused unless:
//!
//! 1. its scheme is http or https;
//! 2. for a unit's own request ([`Reach::site`]), its host is on the unit's
//!    site ([`crate::scope`]: registrable domain and port);
//! 3. the address connected to is public — not loopback, private, shared,
//!    link-local, unspecified, multicast or reserved — unless it is an
//!    address (IP **and** port) that one of the unit's configured hosts
//!    (site, sources, `allow_hosts`) resolves to: intranet sites exist, and
//!    the tests run sites on 127.0.0.1 with their own ports, while another
//!    port of the same machine (the daemon's desk) stays refused.
//!
//! **The address actually connected to.** An IP-literal host (however
//! spelled: the url crate reads `2130706433`, `0x7f.1` and `0177.0.0.1` as
//! `127.0.0.1`, and IPv4-mapped IPv6 is classified as the IPv4 address it
//! maps) is checked here before the request. A name is checked by
//! [`GuardedResolver`], the fetch client's DNS resolver: it resolves once
//! and hands the connector only the permitted addresses, so there is no
//! second look-up for a rebinding name to answer differently.
//!
//! **Per-request policy, per-client resolver.** reqwest asks its resolver
//! about a name only, not which request it is for, and one client serves all
//! units (one client per unit would cost a connection pool and TLS config
//! each, for 2,000 units). So the request's target and reach travel in a
//! task-local ([`in_target`]) set around the `send()` that connects: hyper
//! calls the resolver inside that future's poll. A resolver called without
//! one (nothing should) refuses: forgetting the policy fails closed.
//!
//! **Proxies.** With a proxy (`[fetch] proxy`, or `http_proxy` and friends,
//! which reqwest honours) the proxy resolves and connects, so the address
//! check of a *name* is skipped; the scheme, the site scope and the check of
//! IP-literal hosts stay. The resolver trusts exactly the configured proxies'
//! host names.
//!
//! A refusal says which unit, which URL and why, naming the kind of address
//! but never what it answered (it was never asked).

use crate::scope::SiteScope;
use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use url::{Host, Url};

/// Whose request this is, and so where it may go. The default reaches
/// nothing: a caller that forgets to say is refused, not let through.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// The unit the request is for (`None` only in the default).
    unit: Option<Arc<str>>,
    /// Hosts the request may go to; `None`: any host.
    hosts: Option<Arc<SiteScope>>,
    /// The unit's configured hosts, whose own addresses may be internal.
    own: Arc<SiteScope>,
}

impl Reach {
    /// A unit's own request (a source, an article found by polling, and
    /// robots.txt and redirect hops of those): on the unit's site only.
    pub fn site(unit: &str, scope: SiteScope) -> Reach {
        let scope = Arc::new(scope);
        Reach {
            unit: Some(unit.into()),
            hosts: Some(scope.clone()),
            own: scope,
        }
    }

    /// On a unit's behalf to any host (an editor's hand push): public
    /// addresses, and the unit's own site where that is internal.
    pub fn any_host(unit: &str, scope: SiteScope) -> Reach {
        Reach {
            unit: Some(unit.into()),
            hosts: None,
            own: Arc::new(scope),
        }
    }

    /// The same, with `url`'s site added to the hosts it may go to (an
    /// article's images: the unit's site or the article's own). Internal
    /// addresses stay those of the unit's configuration.
    pub fn also_site_of(mut self, url: &Url) -> Reach {
        if let Some(hosts) = &mut self.hosts {
            Arc::make_mut(hosts).add_url(url);
        }
        self
    }

    /// The unit the request is for.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    /// Whether `ip` on `port` is one of the unit's configured hosts'
    /// addresses. `target` is the request's host: a configured name on its
    /// configured port owns whatever it resolves to; another configured name
    /// is looked up to compare.
    async fn owns(&self, ip: IpAddr, port: u16, target: &Host<String>) -> bool {
        let ip = ip.to_canonical();
        for (host, configured) in self.own.origins() {
            let ports = match configured {
                Some(p) => [p, p],
                None => [80, 443],
            };
            if !ports.contains(&port) {
                continue;
            }
            let owned = match host {
                Host::Ipv4(a) => IpAddr::V4(*a) == ip,
                Host::Ipv6(a) => IpAddr::V6(*a).to_canonical() == ip,
                Host::Domain(_) if host == target => true,
                Host::Domain(d) => match tokio::net::lookup_host((d.as_str(), port)).await {
                    Ok(addrs) => addrs.map(|a| a.ip().to_canonical()).any(|a| a == ip),
                    Err(_) => false,
                },
            };
            if owned {
                return true;
            }
        }
        false
    }
}

/// Why a request was refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only http and https are fetched")]
    Scheme,
    #[error("no reach given (whose request is this?)")]
    NoReach,
    #[error("not on the unit's site")]
    OffSite,
    #[error("resolves to {0}")]
    Internal(AddrKind),
}

/// The kinds of address a request may not reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrKind {
    Loopback,
    /// RFC 1918, shared (100.64/10), IPv6 unique-local and site-local.
    Private,
    LinkLocal,
    Unspecified,
    Multicast,
    /// Broadcast, documentation, benchmarking, reserved ranges.
    Reserved,
}

impl std::fmt::Display for AddrKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddrKind::Loopback => "a loopback address",
            AddrKind::Private => "a private address",
            AddrKind::LinkLocal => "a link-local address",
            AddrKind::Unspecified => "an unspecified address",
            AddrKind::Multicast => "a multicast address",
            AddrKind::Reserved => "a reserved address",
        })
    }
}

/// What kind of non-public address `ip` is; `None` for a public one.
pub fn internal_kind(ip: IpAddr) -> Option<AddrKind> {
    match ip.to_canonical() {
        IpAddr::V4(a) => v4_kind(a),
        IpAddr::V6(a) => v6_kind(a),
    }
}

fn v4_kind(a: Ipv4Addr) -> Option<AddrKind> {
    let [b0, b1, b2, _] = a.octets();
    Some(match (b0, b1, b2) {
        (0, ..) => AddrKind::Unspecified,
        (127, ..) => AddrKind::Loopback,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) | (100, 64..=127, _) => AddrKind::Private,
        (169, 254, _) => AddrKind::LinkLocal,
        (224..=239, ..) => AddrKind::Multicast,
        (240..=255, ..)
        | (192, 0, 0)
        | (192, 0, 2)
        | (198, 51, 100)
        | (203, 0, 113)
        | (198, 18..=19, _) => AddrKind::Reserved,
        _ => return None,
    })
}

fn v6_kind(a: Ipv6Addr) -> Option<AddrKind> {
    let s = a.segments();
    // Addresses that embed an IPv4 one reach it: IPv4-compatible (::a.b.c.d,
    // deprecated), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => AddrKind::Unspecified,
        [0, 0, 0, 0, 0, 0, 0, 1] => AddrKind::Loopback,
        [0, 0, 0, 0, 0, 0, hi, lo] => {
            return v4_kind(embedded(hi, lo)).or(Some(AddrKind::Reserved));
        }
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return v4_kind(embedded(hi, lo)),
        [0x2002, hi, lo, ..] => return v4_kind(embedded(hi, lo)),
        [0x64, 0xff9b, 1, ..] => AddrKind::Private,
        [x, ..] if x & 0xfe00 == 0xfc00 => AddrKind::Private,
        [x, ..] if x & 0xffc0 == 0xfe80 => AddrKind::LinkLocal,
        [x, ..] if x & 0xffc0 == 0xfec0 => AddrKind::Private,
        [x, ..] if x & 0xff00 == 0xff00 => AddrKind::Multicast,
        [0x100, 0, 0, 0, ..] | [0x2001, 0xdb8, ..] => AddrKind::Reserved,
        _ => return None,
    })
}

/// Everything that can be decided before connecting: scheme, site scope,
/// and the address when the host is an IP literal.
pub(crate) async fn check(url: &Url, reach: &Reach) -> Result<(), Refusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::Scheme);
    }
    if reach.unit.is_none() {
        return Err(Refusal::NoReach);
    }
    if let Some(hosts) = &reach.hosts
        && !hosts.allows(url)
    {
        return Err(Refusal::OffSite);
    }
    let ip = match url.host() {
        Some(Host::Ipv4(a)) => IpAddr::V4(a),
        Some(Host::Ipv6(a)) => IpAddr::V6(a),
        // Names are checked where they are resolved.
        _ => return Ok(()),
    };
    let target = url.host().expect("an IP host").to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    match internal_kind(ip) {
        Some(kind) if !reach.owns(ip, port, &target).await => Err(Refusal::Internal(kind)),
        _ => Ok(()),
    }
}

/// The request being sent, for the resolver.
#[derive(Debug, Clone)]
struct Target {
    host: Host<String>,
    port: u16,
    reach: Reach,
}

tokio::task_local! {
    static TARGET: Target;
}

/// Run `fut` (the `send()` of a request to `url`) with `url` and `reach`
/// where [`GuardedResolver`] finds them.
pub(crate) async fn in_target<F: std::future::Future>(
    url: &Url,
    reach: &Reach,
    fut: F,
) -> F::Output {
    let target = Target {
        host: url
            .host()
            .map(|h| h.to_owned())
            .unwrap_or_else(|| Host::Domain(String::new())),
        port: url.port_or_known_default().unwrap_or(80),
        reach: reach.clone(),
    };
    TARGET.scope(target, fut).await
}

/// The fetch client's DNS resolver: resolves a request's host once and
/// gives the connector only the addresses its reach permits.
#[derive(Debug, Default)]
pub(crate) struct GuardedResolver {
    /// Host names of the configured proxies, resolved without a check.
    proxies: Vec<String>,
}

impl GuardedResolver {
    pub(crate) fn new(proxies: Vec<String>) -> GuardedResolver {
        GuardedResolver { proxies }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_ascii_lowercase();
        let target = TARGET.try_with(Target::clone).ok();
        let is_target = target
            .as_ref()
            .is_some_and(|t| matches!(&t.host, Host::Domain(d) if *d == name));
        let is_proxy = !is_target && self.proxies.contains(&name);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if is_proxy {
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let Some(t) = target.filter(|_| is_target) else {
                return Err(Box::new(Refusal::NoReach) as Box<dyn StdError + Send + Sync>);
            };
            let mut permitted = Vec::with_capacity(addrs.len());
            let mut refused = None;
            for a in addrs {
                match internal_kind(a.ip()) {
                    Some(kind) if !t.reach.owns(a.ip(), t.port, &t.host).await => {
                        refused.get_or_insert(kind);
                    }
                    _ => permitted.push(a),
                }
            }
            match refused {
                Some(kind) if permitted.is_empty() => Err(Box::new(Refusal::Internal(kind)) as _),
                _ => Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// The refusal behind a failed request, if the resolver refused it.
pub(crate) fn refusal_in(e: &(dyn StdError + 'static)) -> Option<Refusal> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refusal>() {
            return Some(r.clone());
        }
        cur = err.source();
    }
    None
}

/// Host names of the proxies reqwest takes from the environment
/// (`http_proxy`, `https_proxy`, `all_proxy`, either case) and `configured`.
pub(crate) fn proxy_hosts(configured: Option<&Url>) -> Vec<String> {
    let from_env = [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ]
    .into_iter()
    .filter_map(|k| std::env::var(k).ok())
    .filter_map(|v| {
        let v = v.trim();
        // reqwest reads a bare `host:port` as http://host:port.
        Url::parse(v)
            .ok()
            .filter(|u| u.host_str().is_some())
            .or_else(|| Url::parse(&format!("http://{v}")).ok())
    });
    configured
        .cloned()
        .into_iter()
        .chain(from_env)
        .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn odd_spellings_of_loopback_are_ip_literals_to_the_url_parser() {
        for s in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0x7f000001/",
        ] {
            assert_eq!(
                u(s).host(),
                Some(Host::Ipv4(Ipv4Addr::LOCALHOST)),
                "{s} is 127.0.0.1"
            );
        }
        assert_eq!(
            u("http://0.0.0.0/").host(),
            Some(Host::Ipv4(Ipv4Addr::UNSPECIFIED))
        );
        assert_eq!(
            u("http://[::1]/").host(),
            Some(Host::Ipv6(Ipv6Addr::LOCALHOST))
        );
    }

    #[test]
    fn address_kinds() {
        let k = |s: &str| internal_kind(s.parse().expect("ip"));
        assert_eq!(k("127.0.0.1"), Some(AddrKind::Loopback));
        assert_eq!(k("127.255.0.9"), Some(AddrKind::Loopback));
        assert_eq!(k("::1"), Some(AddrKind::Loopback));
        assert_eq!(k("::ffff:127.0.0.1"), Some(AddrKind::Loopback));
        assert_eq!(k("::127.0.0.1"), Some(AddrKind::Loopback));
        assert_eq!(k("64:ff9b::a00:1"), Some(AddrKind::Private));
        assert_eq!(k("2002:a9fe:a9fe::1"), Some(AddrKind::LinkLocal));
        assert_eq!(k("0.0.0.0"), Some(AddrKind::Unspecified));
        assert_eq!(k("0.1.2.3"), Some(AddrKind::Unspecified));
        assert_eq!(k("::"), Some(AddrKind::Unspecified));
        assert_eq!(k("10.1.2.3"), Some(AddrKind::Private));
        assert_eq!(k("172.16.0.1"), Some(AddrKind::Private));
        assert_eq!(k("172.31.255.1"), Some(AddrKind::Private));
        assert_eq!(k("192.168.1.1"), Some(AddrKind::Private));
        assert_eq!(k("100.64.0.1"), Some(AddrKind::Private));
        assert_eq!(k("fd00::1"), Some(AddrKind::Private));
        assert_eq!(k("169.254.169.254"), Some(AddrKind::LinkLocal));
        assert_eq!(k("fe80::1"), Some(AddrKind::LinkLocal));
        assert_eq!(k("224.0.0.1"), Some(AddrKind::Multicast));
        assert_eq!(k("ff02::1"), Some(AddrKind::Multicast));
        assert_eq!(k("255.255.255.255"), Some(AddrKind::Reserved));
        assert_eq!(k("192.0.2.1"), Some(AddrKind::Reserved));
        assert_eq!(k("2001:db8::1"), Some(AddrKind::Reserved));
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "1.1.1.1",
            "2400:3200::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(k(public), None, "{public}");
        }
    }

    fn site_reach(site: &str) -> Reach {
        Reach::site("u", SiteScope::of_url(&u(site)))
    }

    #[tokio::test]
    async fn the_default_reach_refuses_everything() {
        assert_eq!(
            check(&u("https://www.example.org/"), &Reach::default()).await,
            Err(Refusal::NoReach)
        );
    }

    #[tokio::test]
    async fn internal_literals_are_refused_unless_the_units_own_address_and_port() {
        let own = SiteScope::of_url(&u("http://127.0.0.1:8000/"));
        let push = Reach::any_host("u", own.clone());
        assert_eq!(check(&u("http://127.0.0.1:8000/a"), &push).await, Ok(()));
        assert_eq!(
            check(&u("http://[::ffff:127.0.0.1]:8000/a"), &push).await,
            Ok(())
        );
        for refused in [
            "http://127.0.0.1:8001/status",
            "http://127.0.0.1/",
            "http://2130706433:8001/",
            "http://0x7f.1:8001/",
            "http://0.0.0.0:8000/",
            "http://[::1]:8000/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://192.168.0.1:8000/",
        ] {
            assert!(
                matches!(check(&u(refused), &push).await, Err(Refusal::Internal(_))),
                "{refused}"
            );
        }
        assert_eq!(check(&u("http://93.184.216.34/x"), &push).await, Ok(()));
        // The unit's own polling: the public address is off its site.
        let poll = site_reach("http://127.0.0.1:8000/");
        assert_eq!(
            check(&u("http://93.184.216.34/x"), &poll).await,
            Err(Refusal::OffSite)
        );
        assert_eq!(
            check(&u("ftp://127.0.0.1:8000/x"), &poll).await,
            Err(Refusal::Scheme)
        );
    }

    #[tokio::test]
    async fn images_may_come_from_the_articles_site_but_not_an_internal_one() {
        let unit = site_reach("https://www.cast.org.cn/");
        let img = unit
            .clone()
            .also_site_of(&u("https://news.example.com/a.html"));
        assert_eq!(
            check(&u("https://img.example.com/1.jpg"), &img).await,
            Ok(())
        );
        assert_eq!(
            check(&u("https://evil.org/1.jpg"), &img).await,
            Err(Refusal::OffSite)
        );
        assert_eq!(
            check(&u("https://img.example.com/1.jpg"), &unit).await,
            Err(Refusal::OffSite)
        );
        let internal = unit.also_site_of(&u("http://10.0.0.1/a.html"));
        assert!(matches!(
            check(&u("http://10.0.0.1/1.jpg"), &internal).await,
            Err(Refusal::Internal(AddrKind::Private))
        ));
    }

    #[test]
    fn refusals_read_as_sentences() {
        assert_eq!(
            Refusal::Internal(AddrKind::Unspecified).to_string(),
            "resolves to an unspecified address"
        );
        assert_eq!(
            Refusal::Internal(AddrKind::LinkLocal).to_string(),
            "resolves to a link-local address"
        );
    }

    #[test]
    fn refusals_are_found_behind_wrapping_errors() {
        #[derive(Debug)]
        struct Wrap(Box<dyn StdError + Send + Sync>);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("dns error")
            }
        }
        impl StdError for Wrap {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&*self.0)
            }
        }
        let e = Wrap(Box::new(Refusal::Internal(AddrKind::Loopback)));
        assert_eq!(refusal_in(&e), Some(Refusal::Internal(AddrKind::Loopback)));
        assert_eq!(refusal_in(&std::io::Error::other("x")), None);
    }
}
