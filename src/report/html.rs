//! The report as one self-contained HTML page (maud: escaped by default):
//! a cover line (period, scope, when made), the totals, the 不合格 and 预警
//! accounts first, the charts as inline SVG, then every account. No
//! scripts, no external files; print CSS lays it out on A4.

use super::charts;
use super::{Report, Row, Total, Verdict, level_zh};
use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = r#"
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;color:#222;margin:1.5em auto;max-width:1100px;padding:0 1em;font-size:14px}
h1{font-size:1.5em;margin:.2em 0} h2{font-size:1.15em;border-bottom:2px solid #1f4e8c;padding-bottom:.2em;margin-top:1.4em}
.cover{color:#444;margin:.3em 0 1em} .note{color:#666;font-size:.9em}
table{border-collapse:collapse;width:100%;margin:.5em 0} th,td{border:1px solid #bbb;padding:.25em .4em;text-align:left}
th{background:#eef2f8} td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#b00;font-weight:bold} .warn{color:#b35c00;font-weight:bold} .pass{color:#2a7a2a}
.charts{display:flex;flex-wrap:wrap;gap:10px} .charts figure{margin:0} figcaption{font-weight:bold;margin:.3em 0}
svg{max-width:100%;height:auto}
@page{size:A4;margin:14mm 12mm}
@media print{body{margin:0;max-width:none;padding:0;font-size:10.5px} h2{break-after:avoid} tr,figure{break-inside:avoid} thead{display:table-header-group}}
"#;

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
}

fn totals_table(rows: &[&Total]) -> Markup {
    html! {
        table {
            thead { tr { th { "范围" } th { "账号数" } th { "合格" } th { "预警" } th { "不合格" } th { "达标率" } th { "发布数" } } }
            tbody {
                @for t in rows {
                    tr {
                        td { (t.label) }
                        td.n { (t.accounts) } td.n { (t.pass) } td.n { (t.warn) } td.n { (t.fail) }
                        td.n { (pct(t.pass_rate)) } td.n { (t.posts) }
                    }
                }
            }
        }
    }
}

fn accounts_table(rows: &[&Row]) -> Markup {
    html! {
        table {
            thead {
                tr {
                    th { "单位" } th { "账号" } th { "层级" } th { "结论" }
                    th { "发布" } th { "自动" } th { "手动" } th { "联动" } th { "活跃天数" }
                    th { "最长间隔（天）" } th { "最近发布" } th { "未更新（天）" }
                    th { "待审" } th { "驳回" } th { "失败" } th { "延迟中位数（分）" } th { "联动 收到/发布" }
                }
            }
            tbody {
                @for r in rows {
                    tr {
                        td { (r.org) br; span.note { (r.unit) } }
                        td { (r.account) }
                        td { (level_zh(r.level)) }
                        td class=(charts::verdict_class(r.verdict)) { (r.verdict.zh()) }
                        td.n { (r.posts) } td.n { (r.auto) } td.n { (r.manual) } td.n { (r.broadcast) }
                        td.n { (r.active_days) }
                        td.n { (opt(r.longest_gap_days)) }
                        td { (r.last_post.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "从未发布".into())) }
                        td.n { (opt(r.days_silent)) }
                        td.n { (r.held) } td.n { (r.rejected) } td.n { (r.failed) }
                        td.n { (opt(r.median_delay_mins)) }
                        td.n { (r.broadcasts_asked) " / " (r.broadcasts_carried) }
                    }
                }
            }
        }
    }
}

/// A chart, or a line saying why it could not be drawn (the rest of the
/// report stands without it).
fn chart(caption: &str, svg: Result<String, super::ReportError>) -> Markup {
    html! {
        figure {
            figcaption { (caption) }
            @match svg {
                Ok(s) => (PreEscaped(s)),
                Err(e) => p.note { "图表无法生成：" (e.to_string()) },
            }
        }
    }
}

/// The page.
pub fn render(report: &Report) -> String {
    let flagged: Vec<&Row> = {
        let mut v: Vec<&Row> = report
            .rows
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .collect();
        v.sort_by_key(|r| r.verdict);
        v
    };
    let all_rows: Vec<&Row> = report.rows.iter().collect();
    let mut totals: Vec<&Total> = vec![&report.all];
    totals.extend(report.levels.iter());
    totals.extend(report.platforms.iter());
    let (_, left_out) = charts::heatmap_rows(report);
    let max_days: Vec<u32> = {
        let mut v: Vec<u32> = report.rows.iter().map(|r| r.max_silence_days).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let rule = match max_days.as_slice() {
        [d] => format!("{d} 天"),
        _ => "各单位设定的天数".into(),
    };
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "新媒体账号更新情况通报 " (report.from) " 至 " (report.to) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "新媒体账号更新情况通报" }
                p.cover {
                    "统计期间：" (report.from) " 至 " (report.to)
                    @if report.judged_to < report.to { "（评判至 " (report.judged_to) "）" }
                    " · 范围：" (report.scope_name)
                    " · 生成时间：" (report.made_at.format("%Y-%m-%d %H:%M")) "（" (report.timezone) "）"
                }
                p.note {
                    "评判规则：统计期内（自期前最后一次发布起算）连续未发布超过 " (rule) " 为不合格；"
                    "合格但期末距该期限不足 " (super::WARN_WITHIN_DAYS) " 天为预警；从未发布的账号自单位首次采集起计算，最多为预警。"
                    "达标率 =（合格 + 预警）÷ 账号数。"
                }
                h2 { "汇总" }
                (totals_table(&totals))
                @if !report.subtrees.is_empty() {
                    h2 { "按下级汇总" }
                    (totals_table(&report.subtrees.iter().collect::<Vec<_>>()))
                }
                h2 { "不合格与预警账号（" (flagged.len()) "）" }
                @if flagged.is_empty() {
                    p { "无。" }
                } @else {
                    (accounts_table(&flagged))
                }
                h2 { "图表" }
                div.charts {
                    (chart("达标率（按层级）", charts::pass_rate_by_level(report)))
                    (chart("期末距最近一次发布的天数（账号分布）", charts::silence_distribution(report)))
                    (chart("每周发布数（按账号）", charts::weekly_heatmap(report)))
                }
                @if left_out > 0 {
                    p.note { "每周发布图仅列出前 " (charts::HEATMAP_MAX_ACCOUNTS) " 个账号（不合格、预警优先），另有 " (left_out) " 个账号见下表。" }
                }
                h2 { "全部账号（" (all_rows.len()) "）" }
                (accounts_table(&all_rows))
            }
        }
    }
    .into_string()
}
