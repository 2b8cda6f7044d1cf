//! The report's charts as inline SVG (plotters' SVG backend): no scripts,
//! no files beside the page, and vector lines that print sharp on A4.
//!
//! Three charts: posts per week per account (a heat map: one line an
//! account, one column a week), the pass rate by level, and how many
//! accounts are how many days past their last post at the period's end.

use super::{Report, ReportError, Row, Verdict};
use plotters::prelude::*;

/// Wide enough for the A4 text width at 96 dpi (about 190 mm).
const WIDTH: u32 = 720;

/// The heat map shows at most this many accounts (不合格 and 预警 first):
/// beyond, a page of a province's 2,000 accounts would be unreadable.
pub const HEATMAP_MAX_ACCOUNTS: usize = 120;

fn err(e: impl std::fmt::Display) -> ReportError {
    ReportError::Render {
        format: "chart",
        reason: e.to_string(),
    }
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().into()
}

/// A colour for `n` posts in a week, `max` being the busiest week shown:
/// light grey for none, then light to dark blue.
fn heat(n: u32, max: u32) -> RGBColor {
    if n == 0 {
        return RGBColor(238, 238, 238);
    }
    let t = f64::from(n) / f64::from(max.max(1));
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    RGBColor(mix(198, 8), mix(219, 48), mix(239, 107))
}

/// The rows the heat map shows, in order: 不合格, 预警, then the rest, each
/// in the report's order; and how many were left out.
pub fn heatmap_rows(report: &Report) -> (Vec<&Row>, usize) {
    let mut rows: Vec<&Row> = report.rows.iter().collect();
    rows.sort_by_key(|r| r.verdict);
    let left_out = rows.len().saturating_sub(HEATMAP_MAX_ACCOUNTS);
    rows.truncate(HEATMAP_MAX_ACCOUNTS);
    (rows, left_out)
}

/// Posts per week per account, as a heat map.
pub fn weekly_heatmap(report: &Report) -> Result<String, ReportError> {
    let (rows, _) = heatmap_rows(report);
    let weeks = report.weeks.len().max(1);
    let n = rows.len().max(1);
    let height = (n as u32) * 20 + 70;
    let max = rows
        .iter()
        .flat_map(|r| r.weekly.iter().copied())
        .max()
        .unwrap_or(0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(6)
            .x_label_area_size(28)
            .y_label_area_size(130)
            .build_cartesian_2d((0..weeks - 1).into_segmented(), (0..n - 1).into_segmented())
            .map_err(err)?;
        let label = |i: usize| {
            // Bottom to top: the first row is drawn at the top.
            n.checked_sub(i + 1)
                .and_then(|k| rows.get(k))
                .map(|r| r.account.clone())
                .unwrap_or_default()
        };
        let week = |i: usize| {
            report
                .weeks
                .get(i)
                .map(|d| d.format("%m-%d").to_string())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(weeks.min(16))
            .y_labels(n)
            .x_label_style(font(12))
            .y_label_style(font(13))
            .x_label_formatter(&|v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => week(*i),
                _ => String::new(),
            })
            .y_label_formatter(&|v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => label(*i),
                _ => String::new(),
            })
            .x_desc("周（起始日）")
            .draw()
            .map_err(err)?;
        let cells = rows.iter().enumerate().flat_map(|(j, r)| {
            let y = n - 1 - j;
            r.weekly.iter().enumerate().map(move |(i, v)| {
                let cell: [(SegmentValue<usize>, SegmentValue<usize>); 2] = [
                    (SegmentValue::Exact(i), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(i + 1), SegmentValue::Exact(y + 1)),
                ];
                Rectangle::new(cell, heat(*v, max).filled())
            })
        });
        chart.draw_series(cells).map_err(err)?;
        // The count in each busy cell, readable in print without colour.
        let counts = rows.iter().enumerate().flat_map(|(j, r)| {
            let y = n - 1 - j;
            r.weekly
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0)
                .map(move |(i, v)| {
                    let colour: &'static RGBColor = if f64::from(*v) > f64::from(max) * 0.5 {
                        &WHITE
                    } else {
                        &BLACK
                    };
                    Text::new(
                        v.to_string(),
                        (SegmentValue::CenterOf(i), SegmentValue::CenterOf(y)),
                        font(12)
                            .color(colour)
                            .pos(plotters::style::text_anchor::Pos::new(
                                plotters::style::text_anchor::HPos::Center,
                                plotters::style::text_anchor::VPos::Center,
                            )),
                    )
                })
        });
        chart.draw_series(counts).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Bars over named groups, with the value written on each bar.
fn bars(
    title_y: &str,
    groups: &[(String, f64, RGBColor)],
    y_max: f64,
    value: impl Fn(f64) -> String,
) -> Result<String, ReportError> {
    let n = groups.len().max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH / 2 - 10, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_style(font(13))
            .y_label_style(font(12))
            .x_label_formatter(&|v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => {
                    groups.get(*i).map(|g| g.0.clone()).unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_desc(title_y)
            .draw()
            .map_err(err)?;
        chart
            .draw_series(groups.iter().enumerate().map(|(i, (_, v, c))| {
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), *v),
                    ],
                    c.filled(),
                );
                r.set_margin(0, 0, 8, 8);
                r
            }))
            .map_err(err)?;
        chart
            .draw_series(groups.iter().enumerate().map(|(i, (_, v, _))| {
                Text::new(
                    value(*v),
                    (SegmentValue::CenterOf(i), *v + y_max * 0.05),
                    font(12).pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    )),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Pass rate (合格 and 预警) by level, in per cent.
pub fn pass_rate_by_level(report: &Report) -> Result<String, ReportError> {
    let groups: Vec<(String, f64, RGBColor)> = report
        .levels
        .iter()
        .map(|t| (t.label.clone(), t.pass_rate * 100.0, RGBColor(42, 122, 42)))
        .collect();
    bars("达标率（%）", &groups, 110.0, |v| format!("{v:.0}%"))
}

/// The bins of days since the last post at the period's end.
pub const SILENCE_BINS: [(&str, i64, i64); 6] = [
    ("0–3", 0, 3),
    ("4–7", 4, 7),
    ("8–10", 8, 10),
    ("11–14", 11, 14),
    ("15–30", 15, 30),
    ("31+", 31, i64::MAX),
];

/// How many accounts fall in each of [`SILENCE_BINS`], then those that
/// never posted.
pub fn silence_counts(report: &Report) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = SILENCE_BINS
        .iter()
        .map(|(label, lo, hi)| {
            let n = report
                .rows
                .iter()
                .filter(|r| r.last_post.is_some())
                .filter_map(|r| r.days_silent)
                .filter(|d| (lo..=hi).contains(&d))
                .count() as u32;
            (label.to_string(), n)
        })
        .collect();
    let never = report.rows.iter().filter(|r| r.last_post.is_none()).count() as u32;
    out.push(("从未发布".into(), never));
    out
}

/// The distribution of days since the last post.
pub fn silence_distribution(report: &Report) -> Result<String, ReportError> {
    let counts = silence_counts(report);
    let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1);
    let groups: Vec<(String, f64, RGBColor)> = counts
        .into_iter()
        .enumerate()
        .map(|(i, (label, n))| {
            let colour = match i {
                0..=2 => RGBColor(42, 122, 42),
                3 => RGBColor(214, 140, 0),
                _ => RGBColor(187, 0, 0),
            };
            (label, f64::from(n), colour)
        })
        .collect();
    bars("账号数", &groups, f64::from(max) * 1.15, |v| {
        format!("{v:.0}")
    })
}

/// The colour of a verdict, for the page.
pub fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Report, Total};
    use chrono::NaiveDate;

    fn empty(rows: Vec<Row>, weeks: usize) -> Report {
        let total = Total {
            group: "all".into(),
            label: "合计".into(),
            accounts: rows.len() as u32,
            pass: 0,
            warn: 0,
            fail: 0,
            pass_rate: 0.0,
            posts: 0,
        };
        let d = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        Report {
            from: d,
            to: d,
            judged_to: d,
            scope: None,
            scope_name: "全部单位".into(),
            timezone: "Asia/Shanghai".into(),
            made_at: chrono::Utc::now().fixed_offset(),
            levels: vec![],
            subtrees: vec![],
            platforms: vec![],
            all: total,
            weeks: (0..weeks)
                .map(|i| d + chrono::Days::new(7 * i as u64))
                .collect(),
            rows,
        }
    }

    fn row(account: &str, weekly: Vec<u32>) -> Row {
        Row {
            unit: "u".into(),
            account: account.into(),
            org: "<b>单位</b>".into(),
            level: crate::config::Level::County,
            parent: None,
            posts: weekly.iter().sum(),
            auto: 0,
            manual: 0,
            broadcast: 0,
            active_days: 0,
            longest_gap_days: None,
            last_post: None,
            days_silent: None,
            verdict: Verdict::Warn,
            held: 0,
            rejected: 0,
            failed: 0,
            median_delay_mins: None,
            broadcasts_asked: 0,
            broadcasts_carried: 0,
            weekly,
            max_silence_days: 14,
            platform: "file".into(),
        }
    }

    /// A report with no account, or one account over one week, still
    /// draws every chart (degenerate ranges must not panic).
    #[test]
    fn charts_draw_for_empty_and_single_cell_reports() {
        for r in [empty(vec![], 1), empty(vec![row("<甲>", vec![3])], 1)] {
            for svg in [
                weekly_heatmap(&r).unwrap(),
                pass_rate_by_level(&r).unwrap(),
                silence_distribution(&r).unwrap(),
            ] {
                assert!(svg.starts_with("<svg"), "{svg}");
                assert!(!svg.contains("NaN"), "{svg}");
                assert!(!svg.contains("<甲>"), "labels are escaped");
            }
        }
    }

    #[test]
    fn the_heat_map_shows_failing_accounts_first_and_caps_the_rest() {
        let mut rows: Vec<Row> = (0..HEATMAP_MAX_ACCOUNTS + 5)
            .map(|i| row(&format!("a{i}"), vec![1]))
            .collect();
        rows[HEATMAP_MAX_ACCOUNTS + 2].verdict = Verdict::Fail;
        let r = empty(rows, 1);
        let (shown, left_out) = heatmap_rows(&r);
        assert_eq!((shown.len(), left_out), (HEATMAP_MAX_ACCOUNTS, 5));
        assert_eq!(shown[0].account, format!("a{}", HEATMAP_MAX_ACCOUNTS + 2));
    }

    #[test]
    fn silence_bins_count_posted_accounts_and_never_posted_apart() {
        let mut a = row("a", vec![]);
        a.last_post = Some(chrono::Utc::now().fixed_offset());
        a.days_silent = Some(14);
        let mut b = row("b", vec![]);
        b.days_silent = Some(40);
        let counts = silence_counts(&empty(vec![a, b], 1));
        assert_eq!(counts[3], ("11–14".to_string(), 1));
        assert_eq!(counts[5].1, 0, "b never posted: not 31+");
        assert_eq!(counts[6], ("从未发布".to_string(), 1));
    }
}
