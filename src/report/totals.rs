//! Totals over rows: per level (national, provincial, …) and per subtree
//! (a unit with the units below it in the report's scope), as provincial
//! reports give them: accounts, 合格, 预警, 不合格, pass rate, posts.
//!
//! The pass rate counts 合格 and 预警 (a 预警 account passes, close to its
//! deadline); 不合格 is what fails an inspection.

use super::{Row, Verdict, level_rank, level_zh};
use crate::config::Unit;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// One group's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The group: a level's code (`provincial`), a unit id, or `all`.
    pub group: String,
    /// As an editor reads it.
    pub label: String,
    pub accounts: u32,
    pub pass: u32,
    pub warn: u32,
    pub fail: u32,
    /// (合格 + 预警) / accounts, 0..=1; 0 without accounts.
    pub pass_rate: f64,
    pub posts: u32,
}

impl Total {
    fn of<'a>(group: &str, label: &str, rows: impl Iterator<Item = &'a Row>) -> Total {
        let mut t = Total {
            group: group.to_string(),
            label: label.to_string(),
            accounts: 0,
            pass: 0,
            warn: 0,
            fail: 0,
            pass_rate: 0.0,
            posts: 0,
        };
        for r in rows {
            t.accounts += 1;
            t.posts += r.posts;
            match r.verdict {
                Verdict::Pass => t.pass += 1,
                Verdict::Warn => t.warn += 1,
                Verdict::Fail => t.fail += 1,
            }
        }
        if t.accounts > 0 {
            t.pass_rate = f64::from(t.pass + t.warn) / f64::from(t.accounts);
        }
        t
    }
}

/// Per platform, in alphabetical order of the platform's code.
pub fn per_platform(rows: &[Row]) -> Vec<Total> {
    let mut kinds: Vec<&str> = rows.iter().map(|r| r.platform.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|k| {
            let label = match k {
                "toutiao" => "头条号",
                "wechat" => "微信公众号",
                "webhook" => "其他平台（webhook）",
                "file" => "文件（试运行）",
                other => other,
            };
            Total::of(k, label, rows.iter().filter(|r| r.platform == k))
        })
        .collect()
}

/// Per level (top first, levels without accounts left out), per subtree
/// (each unit in `units` with a unit below it in `units`, in `units`'
/// order), and over everything.
pub fn compute(rows: &[Row], units: &[&Unit]) -> (Vec<Total>, Vec<Total>, Total) {
    let mut levels: Vec<_> = rows.iter().map(|r| r.level).collect();
    levels.sort_by_key(|l| level_rank(*l));
    levels.dedup();
    let by_level = levels
        .into_iter()
        .map(|l| {
            let code = serde_json::to_value(l)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            Total::of(&code, level_zh(l), rows.iter().filter(|r| r.level == l))
        })
        .collect();
    // Each unit's children among `units`, then each root's subtree by a
    // walk down (linear in the subtree, not in the matrix).
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for u in units {
        if let Some(p) = u.parent.as_deref() {
            children.entry(p).or_default().push(u.id.as_str());
        }
    }
    let mut subtrees = Vec::new();
    for root in units {
        if !children.contains_key(root.id.as_str()) {
            continue;
        }
        let mut members: HashSet<&str> = HashSet::from([root.id.as_str()]);
        let mut todo = vec![root.id.as_str()];
        while let Some(u) = todo.pop() {
            for c in children.get(u).into_iter().flatten() {
                if members.insert(c) {
                    todo.push(c);
                }
            }
        }
        subtrees.push(Total::of(
            &root.id,
            &format!("{}（含下级）", root.org_name),
            rows.iter().filter(|r| members.contains(r.unit.as_str())),
        ));
    }
    let all = Total::of("all", "合计", rows.iter());
    (by_level, subtrees, all)
}
