//! A probe report as a unit admin reads it: Chinese, times in the report's
//! zone, one block per source.

use super::{ArticleView, Report, SourceReport};
use crate::source::ListChoice;
use crate::source::discover::{Discovery, Kind};
use crate::source::list::Block;
use std::fmt::Write;

/// Entries printed per source (`--json` has up to [`super::MAX_ENTRIES`]).
const SHOWN: usize = 10;

/// The human form of `autosync probe`.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "探测 {}（站点 {}；时间为 {}）",
        r.target, r.site, r.timezone
    );
    if let Some(d) = &r.discovery {
        discovery(&mut out, d);
    }
    for (i, s) in r.sources.iter().enumerate() {
        source(&mut out, i + 1, s);
    }
    if r.sources.is_empty() {
        let _ = writeln!(
            out,
            "\n结果：没有找到可用的来源。请在 [[unit.source]] 中填写订阅源（feed）或栏目列表页（list）。"
        );
    } else if r.ok() {
        let _ = writeln!(out, "\n结果：正常，每个来源都找到了文章。");
    } else {
        let bad = r.sources.iter().filter(|s| !s.ok()).count();
        let _ = writeln!(out, "\n结果：{bad} 个来源没有找到文章，见上面的提示。");
    }
    out
}

fn kind_zh(k: Kind) -> &'static str {
    match k {
        Kind::Feed => "订阅源",
        Kind::List => "列表页",
    }
}

fn discovery(out: &mut String, d: &Discovery) {
    let _ = writeln!(out, "\n== 站点发现：首页 {} ==", d.home);
    if d.candidates.is_empty() {
        let _ = writeln!(
            out,
            "  首页上既没有声明订阅源（<link rel=\"alternate\">），也没有像“新闻动态”“通知公告”这样的栏目链接。"
        );
    }
    for c in &d.candidates {
        let mark = if c.verdict.chosen() { "✔" } else { "✘" };
        let _ = writeln!(
            out,
            "  {mark} {} {}\n      来由：{}\n      结论：{}",
            kind_zh(c.kind),
            c.url,
            c.why_zh(),
            c.verdict.zh()
        );
    }
}

fn source(out: &mut String, n: usize, s: &SourceReport) {
    let _ = writeln!(out, "\n== 来源 {n}：{} {} ==", kind_zh(s.kind), s.url);
    if let Some(f) = &s.fetched {
        let _ = writeln!(out, "  跳转到：{f}（请考虑在配置中改用新地址）");
    }
    if let Some(e) = &s.error {
        let _ = writeln!(out, "  错误：{e}");
    }
    if let Some(choice) = &s.list {
        list_choice(out, choice);
    }
    if s.error.is_none() {
        let _ = writeln!(out, "  条目：{} 条", s.total);
        for e in s.entries.iter().take(SHOWN) {
            let _ = writeln!(
                out,
                "    {}  {}  {}",
                e.published_at.as_deref().unwrap_or("（无日期）"),
                e.title.as_deref().unwrap_or("（无标题）"),
                e.url
            );
        }
        if s.total > SHOWN {
            let _ = writeln!(out, "    ……另有 {} 条", s.total - SHOWN);
        }
        if s.off_site > 0 {
            let _ = writeln!(out, "  不在本单位网站上、已略去：{} 条", s.off_site);
        }
    }
    if let Some(a) = &s.newest {
        article(out, a);
    }
    if !s.ok() {
        let _ = writeln!(out, "  ✘ 没有找到文章。");
    }
    if let Some(h) = &s.hint {
        let _ = writeln!(out, "  提示：{h}");
    }
}

/// `html#.>body#.>div#.main>ul#.list` as `div.main > ul.list`.
fn pretty_path(path: &str) -> String {
    path.split('>')
        .filter(|p| !p.starts_with("html#") && !p.starts_with("body#"))
        .map(|p| {
            let (tag, rest) = p.split_once('#').unwrap_or((p, ""));
            let (id, class) = rest.split_once('.').unwrap_or((rest, ""));
            let mut s = tag.to_string();
            if !id.is_empty() {
                s.push('#');
                s.push_str(id);
            }
            for c in class.split_whitespace() {
                s.push('.');
                s.push_str(c);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

fn block_zh(b: &Block) -> String {
    let mut s = format!(
        "{}：{} 项，{} 项带日期，{} 个链接像文章页，标题平均 {:.0} 字",
        pretty_path(&b.path),
        b.items,
        b.dated,
        b.article_urls,
        b.avg_title_chars
    );
    if b.next_to_pager {
        s.push_str("，紧邻翻页");
    }
    if b.furniture {
        s.push_str("，位于导航/页脚等页面框架（降权）");
    }
    if b.side_heading {
        s.push_str("，位于“热点排行”类侧栏标题下（降权）");
    }
    let _ = write!(s, "；得分 {:.1}", b.score);
    s
}

fn list_choice(out: &mut String, c: &ListChoice) {
    match c {
        ListChoice::Selector { selector } => {
            let _ = writeln!(out, "  按 link_selector \"{selector}\" 选取链接");
        }
        ListChoice::Detected {
            block,
            merged,
            runner_up,
        } => {
            let _ = writeln!(out, "  选中的列表区块：{}", block_zh(block));
            if *merged > 0 {
                let _ = writeln!(out, "    （另合并 {merged} 个结构相同的区块）");
            }
            if let Some(r) = runner_up {
                let _ = writeln!(out, "  未选的次优区块：{}", block_zh(r));
            }
        }
        ListChoice::NothingListLike { best } => {
            let _ = writeln!(out, "  页面上没有像文章列表的区块");
            if let Some(b) = best {
                let _ = writeln!(out, "    最接近的：{}（不足 1.0）", block_zh(b));
            }
        }
    }
}

fn article(out: &mut String, a: &ArticleView) {
    let _ = writeln!(out, "  最新一条的正文（按守护进程的方式提取）：{}", a.url);
    if let Some(e) = &a.error {
        let _ = writeln!(out, "    ✘ 提取失败：{e}");
        return;
    }
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let _ = writeln!(out, "    标题：{}", or_dash(&a.title));
    let _ = writeln!(out, "    时间：{}", or_dash(&a.published_at));
    let _ = writeln!(
        out,
        "    来源：{}　作者：{}",
        or_dash(&a.source),
        or_dash(&a.author)
    );
    let _ = writeln!(out, "    正文：{} 字", a.chars);
    for l in &a.first_lines {
        let _ = writeln!(out, "      {l}");
    }
    let _ = writeln!(out, "    图片：{} 张", a.images.len());
    for i in a.images.iter().take(5) {
        let _ = writeln!(out, "      {i}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn block_paths_read_like_css() {
        assert_eq!(
            super::pretty_path("html#.>body#.>div#main.col left>ul#.list"),
            "div#main.col.left > ul.list"
        );
    }
}
