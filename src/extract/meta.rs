//! Title, author and source (the publish time has its own module,
//! [`super::dates`]).
//!
//! Each comes from the most explicit evidence first: CMS meta tags
//! (`ArticleTitle`, `author`), JSON-LD, then the labelled line that Chinese
//! CMSs print under the title (`发布时间：… 来源：… 作者：…`).

use super::dom::{Data, Dom, collapse_ws, is_cjk};
use super::score::is_block;

/// `<meta>` name/property/itemprop (lower-cased) and content, in order.
pub(crate) fn collect_metas(dom: &Dom) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in dom.by_tag("meta") {
        let Some(e) = dom.elem(i) else { continue };
        let Some(content) = e.attr("content") else {
            continue;
        };
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        for key in ["name", "property", "itemprop", "http-equiv"] {
            if let Some(k) = e.attr(key) {
                out.push((k.trim().to_ascii_lowercase(), content.to_string()));
            }
        }
    }
    // `<time itemprop=datePublished datetime=...>` and friends in the body.
    for i in 0..dom.nodes.len() {
        let Some(e) = dom.elem(i) else { continue };
        if e.tag == "meta" {
            continue;
        }
        if let Some(prop) = e.attr("itemprop") {
            let v = e
                .attr("datetime")
                .or(e.attr("content"))
                .map(str::to_string)
                .unwrap_or_else(|| dom.text_of(i));
            if !v.is_empty() && v.len() < 200 {
                out.push((prop.trim().to_ascii_lowercase(), v));
            }
        }
    }
    out
}

pub(crate) fn meta<'a>(metas: &'a [(String, String)], keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| {
        metas
            .iter()
            .find(|(mk, _)| mk == k)
            .map(|(_, v)| v.as_str())
    })
}

/// Values of a key anywhere in the JSON-LD blocks (first match, depth-first).
pub(crate) fn json_ld_values(dom: &Dom, key: &str) -> Vec<serde_json::Value> {
    fn walk(v: &serde_json::Value, key: &str, out: &mut Vec<serde_json::Value>, depth: usize) {
        if depth > 8 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                if let Some(x) = m.get(key) {
                    out.push(x.clone());
                }
                for x in m.values() {
                    walk(x, key, out, depth + 1);
                }
            }
            serde_json::Value::Array(a) => {
                for x in a {
                    walk(x, key, out, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for block in &dom.json_ld {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(block.trim()) {
            walk(&v, key, &mut out, 0);
        }
    }
    out
}

/// Separators between a headline and the site/channel names after it.
fn split_title(title: &str) -> Vec<String> {
    let cjk = title.chars().filter(|&c| is_cjk(c)).count() * 2 > title.chars().count();
    let seps: &[&str] = if cjk {
        &["_", "|", "｜", "－", " - ", "-", "—", " – ", "::"]
    } else {
        &[" | ", " - ", " — ", " – ", " :: ", " · ", " // ", "|", "_"]
    };
    let mut parts = vec![title.to_string()];
    for sep in seps {
        parts = parts
            .iter()
            .flat_map(|p| p.split(sep).map(str::to_string).collect::<Vec<_>>())
            .collect();
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Cut site-name suffixes (` - 新华网`, `_科协要闻_某某协会`, ` | Site`).
pub(crate) fn cut_site_suffix(title: &str) -> String {
    let title = decode_entities(title);
    let parts = split_title(&title);
    let Some(first) = parts.first() else {
        return title.trim().to_string();
    };
    let len = |s: &str| s.chars().count();
    let longest = parts.iter().max_by_key(|p| len(p)).unwrap_or(first);
    if len(longest) >= 2 * len(first) && len(first) < 8 {
        longest.clone()
    } else {
        first.clone()
    }
}

/// Headline candidates in the page: headings and elements named "title".
fn headings(dom: &Dom, body: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for i in body..dom.subtree_end(body) {
        let Some(e) = dom.elem(i) else { continue };
        let named = {
            let cid = &dom.nodes[i].class_id;
            cid.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
                .any(|t| {
                    matches!(
                        t,
                        "title"
                            | "headline"
                            | "tit"
                            | "bt"
                            | "biaoti"
                            | "arttitle"
                            | "articletitle"
                            | "detailtitle"
                            | "newstitle"
                            | "heading"
                    )
                })
        };
        if matches!(e.tag.as_str(), "h1" | "h2" | "h3")
            || (named && !matches!(e.tag.as_str(), "a" | "html" | "body"))
        {
            let t = dom.text_of(i);
            let n = t.chars().count();
            if (4..=200).contains(&n) {
                out.push((i, t));
            }
        }
    }
    out
}

/// The title and, when it is shown in the page, the element that shows it.
pub(crate) fn find_title(
    dom: &Dom,
    metas: &[(String, String)],
    body: usize,
) -> (String, Option<usize>) {
    let heads = headings(dom, body);
    let page_title = dom.title.clone();
    let og = meta(metas, &["og:title", "twitter:title"]).map(collapse_ws);
    if let Some(t) = meta(metas, &["articletitle", "headline"])
        .map(|t| collapse_ws(&decode_entities(t)))
        .filter(|t| !t.is_empty())
    {
        let node = heads.iter().find(|(_, h)| *h == t).map(|(i, _)| *i);
        return (t, node);
    }
    // A heading the <title> or og:title also carries is the headline.
    // Segments after the first are site and channel names: a logo heading
    // that says the site name is not the headline.
    let suffixes: Vec<String> = split_title(&page_title).into_iter().skip(1).collect();
    let mut best: Option<&(usize, String)> = None;
    for h in heads.iter().filter(|h| !suffixes.contains(&h.1)) {
        let in_title = page_title.contains(h.1.as_str())
            || og.as_deref().is_some_and(|o| o.contains(h.1.as_str()));
        if in_title && best.is_none_or(|b| h.1.chars().count() > b.1.chars().count()) {
            best = Some(h);
        }
    }
    if let Some((i, t)) = best {
        return (t.clone(), Some(*i));
    }
    if let Some(jl) = json_ld_values(dom, "headline")
        .into_iter()
        .find_map(|v| v.as_str().map(collapse_ws))
    {
        let node = heads.iter().find(|(_, h)| *h == jl).map(|(i, _)| *i);
        return (jl, node);
    }
    let og_cut = og.filter(|o| !o.is_empty()).map(|o| cut_site_suffix(&o));
    if og_cut.is_none() {
        // A lone <h1> that is not the site name beats a <title> that did
        // not mention it (templates that print only the site there).
        let h1s: Vec<&(usize, String)> = heads
            .iter()
            .filter(|(i, t)| dom.tag(*i) == "h1" && !suffixes.contains(t))
            .collect();
        if let [only] = h1s.as_slice() {
            return (only.1.clone(), Some(only.0));
        }
    }
    let cut = og_cut.or_else(|| (!page_title.is_empty()).then(|| cut_site_suffix(&page_title)));
    if let Some(t) = cut {
        let node = heads.iter().find(|(_, h)| *h == t).map(|(i, _)| *i);
        return (t, node);
    }
    match heads
        .iter()
        .find(|(i, _)| dom.tag(*i) == "h1")
        .or(heads.first())
    {
        Some((i, t)) => (t.clone(), Some(*i)),
        None => (String::new(), None),
    }
}

/// Text lines of `dom` between node indices, split at block elements,
/// each with the index where it starts.
pub(crate) fn lines_between(dom: &Dom, from: usize, to: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = from;
    for i in from..to.min(dom.nodes.len()) {
        match &dom.nodes[i].data {
            Data::Text(t) => {
                if cur.is_empty() {
                    start = i;
                }
                cur.push_str(t);
                cur.push(' ');
            }
            Data::Element(e) if is_block(&e.tag) || e.tag == "br" => {
                let line = collapse_ws(&cur);
                if !line.is_empty() {
                    out.push((start, line));
                }
                cur.clear();
            }
            _ => {}
        }
    }
    let line = collapse_ws(&cur);
    if !line.is_empty() {
        out.push((start, line));
    }
    out
}

/// The value after a label such as `来源：`, up to the next label or gap.
fn labelled(line: &str, labels: &[&str]) -> Option<String> {
    for label in labels {
        let Some(at) = line.find(label) else { continue };
        let rest = line[at + label.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(['：', ':']) else {
            continue;
        };
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| {
                c.is_whitespace()
                    || c == '\u{3000}'
                    || c == '|'
                    || c == '｜'
                    || c == '】'
                    || c == ')'
                    || c == '）'
            })
            .unwrap_or(rest.len());
        let mut v = rest[..end].to_string();
        for stop in [
            "发布时间",
            "时间",
            "作者",
            "来源",
            "编辑",
            "日期",
            "浏览",
            "点击",
            "字号",
        ] {
            if let Some(p) = v.find(stop)
                && p > 0
            {
                v.truncate(p);
            }
        }
        let v = v
            .trim_matches(|c: char| c == ',' || c == '，' || c == ';' || c == '；')
            .to_string();
        if !v.is_empty() && v.chars().count() <= 40 {
            return Some(v);
        }
    }
    None
}

pub(crate) fn find_source(
    metas: &[(String, String)],
    header: &[(usize, String)],
    tail: &[(usize, String)],
) -> Option<String> {
    let labels = ["文章来源", "信息来源", "稿件来源", "来源"];
    header
        .iter()
        .chain(tail.iter())
        .find_map(|(_, l)| labelled(l, &labels))
        .or_else(|| {
            // TRS and similar CMSs also carry it as a meta tag.
            meta(metas, &["contentsource", "source", "article:source"])
                .map(|v| collapse_ws(&decode_entities(v)))
                .filter(|v| !v.is_empty() && v.chars().count() <= 40 && !v.contains("://"))
        })
}

pub(crate) fn find_author(
    dom: &Dom,
    metas: &[(String, String)],
    header: &[(usize, String)],
    body: usize,
) -> Option<String> {
    // `责任编辑` is the desk editor, not the author: only `作者` counts.
    for (_, line) in header {
        let cleaned = line.replace("责任编辑", "").replace("编辑", "");
        if let Some(a) = labelled(&cleaned, &["作者", "撰稿", "文"])
            .filter(|a| !a.contains("来源"))
            .and_then(|a| clean_author(&a))
        {
            return Some(a);
        }
    }
    if let Some(a) = meta(
        metas,
        &[
            "author",
            "article:author",
            "dc.creator",
            "byl",
            "sailthru.author",
            "parsely-author",
        ],
    )
    .and_then(clean_author)
    {
        return Some(a);
    }
    for v in json_ld_values(dom, "author") {
        let name = match &v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(m) => {
                m.get("name").and_then(|n| n.as_str()).map(str::to_string)
            }
            serde_json::Value::Array(a) => a.first().and_then(|x| {
                x.get("name")
                    .and_then(|n| n.as_str())
                    .map(str::to_string)
                    .or_else(|| x.as_str().map(str::to_string))
            }),
            _ => None,
        };
        if let Some(n) = name.as_deref().and_then(clean_author) {
            return Some(n);
        }
    }
    // English bylines: rel=author or a short element named byline/author.
    for i in body..dom.subtree_end(body) {
        let Some(e) = dom.elem(i) else { continue };
        let cid = &dom.nodes[i].class_id;
        if (e.attr("rel") == Some("author")
            || cid.contains("byline")
            || cid.split_whitespace().any(|c| c == "author"))
            && let Some(t) = clean_author(&dom.text_of(i))
        {
            return Some(t);
        }
    }
    None
}

/// A usable author name, or None for what CMSs put in author fields
/// that is not one: user ids, URLs, editors' roles, whole sentences.
fn clean_author(raw: &str) -> Option<String> {
    let t = collapse_ws(&decode_entities(raw));
    let t = match t.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("by ") => t[3..].trim().to_string(),
        _ => t,
    };
    let n = t.chars().count();
    let roles = ["编辑", "选稿", "责编", "审核", "校对", "监制"];
    if !(2..=60).contains(&n)
        || t.starts_with("http")
        || t.chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '_')
        || roles.iter().any(|r| t.contains(r))
    {
        return None;
    }
    Some(t)
}

/// Decode the character references CMSs leave double-escaped in meta
/// values (`&#8216;`, `&amp;`).
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[1..e];
            let c = if let Some(num) = name.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                code.and_then(char::from_u32)
            } else {
                match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    _ => None,
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_fields_that_are_not_names_are_refused() {
        assert_eq!(clean_author("By Jane Doe").as_deref(), Some("Jane Doe"));
        assert_eq!(clean_author("105464"), None);
        assert_eq!(clean_author("选稿：许文杰"), None);
        assert_eq!(clean_author("https://example.com/jane"), None);
        assert_eq!(
            decode_entities("&#8216;The Medium&#8217; &amp; co &bogus"),
            "‘The Medium’ & co &bogus"
        );
    }

    #[test]
    fn site_suffixes_are_cut() {
        assert_eq!(
            cut_site_suffix("全国科普日活动启动_科协要闻_某某协会"),
            "全国科普日活动启动"
        );
        assert_eq!(
            cut_site_suffix("习近平主持召开座谈会 - 新华网"),
            "习近平主持召开座谈会"
        );
        assert_eq!(
            cut_site_suffix("Stocks rally on rate hopes | Site"),
            "Stocks rally on rate hopes"
        );
    }

    #[test]
    fn source_and_author_labels() {
        let lines = vec![(
            0,
            "发布时间：2023-11-20 来源：中国科协 作者：张三 责任编辑：李四".to_string(),
        )];
        assert_eq!(find_source(&[], &lines, &[]).as_deref(), Some("中国科协"));
        let metas = vec![("contentsource".to_string(), "学会部".to_string())];
        assert_eq!(find_source(&metas, &[], &[]).as_deref(), Some("学会部"));
        let dom = Dom::parse("<html><body></body></html>");
        assert_eq!(find_author(&dom, &[], &lines, 0).as_deref(), Some("张三"));
        let lines = vec![(0, "来源：新华网 责任编辑：李四".to_string())];
        assert_eq!(find_author(&dom, &[], &lines, 0), None);
    }
}
