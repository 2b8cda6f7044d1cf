//! URL canonicalisation: one article, one key, however it was linked.
//!
//! The same article reaches us as `…/t20231120_1.html#top`, with `utm_*` from a
//! newsletter or `from=timeline` from a WeChat share; the store must see one
//! key. Only parameters that are *known* to be tracking-only are removed: an
//! unknown parameter may select the article (`?id=123`, `?from=list&id=…` on
//! some CMSs), and dropping it would merge different articles.

use url::Url;

/// Query keys that never select content (compared case-insensitively).
const TRACKING_KEYS: &[&str] = &[
    "spm",
    "spm_id_from",
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "share_token",
    "isappinstalled",
];

/// `from=` values WeChat appends when an article is shared; any other `from`
/// value is kept (some sites use `from` as a real parameter).
const WECHAT_FROM: &[&str] = &["timeline", "singlemessage", "groupmessage"];

/// Lowercase scheme and host, default port dropped, fragment dropped,
/// tracking parameters (`utm_*`, …) removed, the order of the remaining
/// parameters and their exact encoding kept, an empty query removed.
pub fn canonicalize(url: &Url) -> Url {
    // Scheme/host case and default ports are already normalised by the url
    // crate's parser; what is left is fragment and query.
    let mut u = url.clone();
    u.set_fragment(None);
    let kept: Option<Vec<&str>> = url.query().map(|q| {
        q.split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking(pair))
            .collect()
    });
    match kept {
        Some(pairs) if !pairs.is_empty() => u.set_query(Some(&pairs.join("&"))),
        _ => u.set_query(None),
    }
    u
}

/// Whether one raw `key=value` pair is tracking-only.
fn is_tracking(pair: &str) -> bool {
    let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
    let key = decode(raw_key).to_ascii_lowercase();
    if key.starts_with("utm_") || TRACKING_KEYS.contains(&key.as_str()) {
        return true;
    }
    key == "from" && WECHAT_FROM.contains(&decode(raw_value).to_ascii_lowercase().as_str())
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("k={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        canonicalize(&Url::parse(s).expect("test url")).to_string()
    }

    #[test]
    fn scheme_host_case_and_default_port_normalised() {
        assert_eq!(
            canon("HTTP://WWW.Example.GOV.cn:80/Xwzx/T1.html"),
            "http://www.example.gov.cn/Xwzx/T1.html",
            "path case is significant and kept"
        );
        assert_eq!(canon("https://a.cn:443/x"), "https://a.cn/x");
        assert_eq!(canon("http://a.cn:8080/x"), "http://a.cn:8080/x");
    }

    #[test]
    fn fragment_dropped() {
        assert_eq!(canon("http://a.cn/x.html#comments"), "http://a.cn/x.html");
    }

    #[test]
    fn tracking_params_removed_order_of_others_kept() {
        assert_eq!(
            canon("http://a.cn/d.jsp?utm_source=wx&id=12&UTM_Medium=x&cat=3&spm=a.b.c"),
            "http://a.cn/d.jsp?id=12&cat=3"
        );
        assert_eq!(
            canon("http://a.cn/x?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&_hsenc=5&_hsmi=6&yclid=7"),
            "http://a.cn/x"
        );
    }

    #[test]
    fn empty_query_removed() {
        assert_eq!(canon("http://a.cn/x.html?"), "http://a.cn/x.html");
        assert_eq!(
            canon("http://a.cn/x.html?utm_source=a"),
            "http://a.cn/x.html"
        );
        assert_eq!(
            canon("http://a.cn/x.html?&&id=1&"),
            "http://a.cn/x.html?id=1"
        );
    }

    #[test]
    fn wechat_share_params_removed_but_other_from_kept() {
        assert_eq!(
            canon(
                "https://mp.weixin.qq.com/s?__biz=MzA&mid=1&idx=1&sn=ab&from=timeline&isappinstalled=0"
            ),
            "https://mp.weixin.qq.com/s?__biz=MzA&mid=1&idx=1&sn=ab"
        );
        assert_eq!(
            canon("http://a.cn/view?from=list&id=5"),
            "http://a.cn/view?from=list&id=5"
        );
    }

    #[test]
    fn content_params_and_their_encoding_kept() {
        assert_eq!(
            canon("http://a.cn/s?q=%E7%A7%91%E5%8D%8F&id=1"),
            "http://a.cn/s?q=%E7%A7%91%E5%8D%8F&id=1"
        );
        // "share" alone is not a known tracking key.
        assert_eq!(canon("http://a.cn/s?share=1"), "http://a.cn/s?share=1");
    }

    #[test]
    fn idempotent() {
        let once = canon("http://A.cn/x?utm_a=1&id=2#f");
        assert_eq!(canon(&once), once);
    }
}
