//! Finding items and audit entries on the desk: the query an editor's list
//! URL carries, typed ([`ListQuery`], [`AuditQuery`]), and what answers it.
//!
//! Why it is careful about reading: a province's editor reaches every item
//! of thousands of units, and the list is the page opened most. The store's
//! index keys carry unit, state and time, so a list without a search word,
//! origin or date is answered from the keys alone (counts per state by
//! counting keys, the page by [`Store::newest`]) and only the page's fifty
//! records are read. A search, origin or date filter has to look at the
//! records, but only those of the units and states asked for, and keeps ids,
//! not items, until the page is cut.
//!
//! Dates are calendar days in `[daemon] timezone` and filter on when the
//! item was found (发现日期), the one time every item has; the article's
//! own date is often missing.

use super::DeskError;
use crate::config::{Config, Editor, Unit};
use crate::model::ItemOrigin;
use crate::store::{AuditAction, AuditEntry, Item, StateName, Store, StoreError};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use std::collections::HashMap;

/// Items on one page of the list.
pub const PAGE_SIZE: usize = 50;
/// Audit entries on one page.
pub const AUDIT_PAGE_SIZE: usize = 100;

/// The states the list counts and shows when no state is asked for, in the
/// order an editor works through them. `seen` (the baseline, never
/// published) is shown only when asked for.
pub const LISTED_STATES: [StateName; 6] = [
    StateName::Held,
    StateName::Queued,
    StateName::Publishing,
    StateName::Published,
    StateName::Failed,
    StateName::Rejected,
];

/// What is wrong with a list URL, in words an editor reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("日期「{0}」无法识别，请按 年-月-日 填写，例如 2026-03-01")]
    BadDate(String),
    #[error("开始日期 {from} 晚于结束日期 {to}")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("没有「{0}」这种状态")]
    BadState(String),
    #[error("没有「{0}」这种来源，可选：网站采集、手动推送、矩阵联动")]
    BadOrigin(String),
    #[error("没有「{0}」这种操作")]
    BadAction(String),
    #[error("页码「{0}」无效，应为正整数")]
    BadPage(String),
}

impl From<QueryError> for DeskError {
    fn from(e: QueryError) -> DeskError {
        DeskError::BadInput(e.to_string())
    }
}

/// The item list's filters, as `GET /desk` carries them: `q`, `unit`,
/// `subtree=1`, `state`, `origin`, `from`, `to`, `page`. Empty values mean
/// "not filtered" (what an untouched form field sends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Words of the title, part of the URL, or the item id.
    pub q: Option<String>,
    pub unit: Option<String>,
    /// With the unit, every unit below it too.
    pub subtree: bool,
    pub state: Option<StateName>,
    pub origin: Option<ItemOrigin>,
    /// First and last day found, inclusive, in the daemon's zone.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// 1-based.
    pub page: usize,
}

fn given<'a>(q: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn date(v: Option<&str>) -> Result<Option<NaiveDate>, QueryError> {
    v.map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| QueryError::BadDate(d.into())))
        .transpose()
}

fn page_no(v: Option<&str>) -> Result<usize, QueryError> {
    match v {
        None => Ok(1),
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| QueryError::BadPage(p.into())),
    }
}

fn dates(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), QueryError> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(QueryError::Reversed { from: f, to: t });
    }
    Ok((from, to))
}

impl ListQuery {
    pub fn parse(q: &HashMap<String, String>) -> Result<ListQuery, QueryError> {
        let state = given(q, "state")
            .map(|s| StateName::parse(s).ok_or_else(|| QueryError::BadState(s.into())))
            .transpose()?;
        let origin = given(q, "origin")
            .map(|s| ItemOrigin::parse(s).ok_or_else(|| QueryError::BadOrigin(s.into())))
            .transpose()?;
        let (from, to) = dates(date(given(q, "from"))?, date(given(q, "to"))?)?;
        Ok(ListQuery {
            q: given(q, "q").map(str::to_string),
            unit: given(q, "unit").map(str::to_string),
            subtree: given(q, "subtree").is_some_and(|v| v != "0"),
            state,
            origin,
            from,
            to,
            page: page_no(given(q, "page"))?,
        })
    }

    /// The query as a URL's query string (without `?`), `page` left out when
    /// it is the first: for the list's own links.
    pub fn to_query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        let fmt = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        let pairs = [
            ("q", self.q.clone()),
            ("unit", self.unit.clone()),
            ("subtree", self.subtree.then(|| "1".to_string())),
            ("state", self.state.map(|s| s.as_str().to_string())),
            ("origin", self.origin.map(|o| o.as_str().to_string())),
            ("from", fmt(self.from)),
            ("to", fmt(self.to)),
            ("page", (self.page > 1).then(|| self.page.to_string())),
        ];
        for (k, v) in pairs {
            if let Some(v) = v {
                s.append_pair(k, &v);
            }
        }
        s.finish()
    }

    /// The same filters on another page.
    pub fn on_page(&self, page: usize) -> ListQuery {
        ListQuery {
            page,
            ..self.clone()
        }
    }

    /// The same filters in another state (or all), from the first page.
    pub fn in_state(&self, state: Option<StateName>) -> ListQuery {
        ListQuery {
            state,
            page: 1,
            ..self.clone()
        }
    }

    /// Whether answering needs the records, not only the index keys.
    fn reads_records(&self) -> bool {
        self.q.is_some() || self.origin.is_some() || self.from.is_some() || self.to.is_some()
    }
}

/// One page of the list, and how many items each state holds under the
/// same filters (the state filter aside, so each count links somewhere).
#[derive(Debug, Clone)]
pub struct ListPage {
    /// Records only (no bodies), newest first.
    pub items: Vec<Item>,
    /// Items matching every filter, over all pages.
    pub total: usize,
    /// The page shown (1-based) and how many there are (at least 1).
    pub page: usize,
    pub pages: usize,
    /// Per state of [`LISTED_STATES`] (and `seen` when it is the filter).
    pub counts: Vec<(StateName, usize)>,
}

/// The units an editor may filter by: those in reach, in config order.
pub fn units_in_reach<'a>(config: &'a Config, ed: &Editor) -> Vec<&'a Unit> {
    config
        .units
        .iter()
        .map(|u| &**u)
        .filter(|u| ed.may_act_on(&u.id))
        .collect()
}

/// The units a query covers: the one asked for (with its subtree when
/// asked), or every unit in reach.
fn units_of<'a>(
    config: &'a Config,
    ed: &Editor,
    q: &ListQuery,
) -> Result<Vec<&'a Unit>, DeskError> {
    let Some(id) = &q.unit else {
        return Ok(units_in_reach(config, ed));
    };
    if config.unit(id).is_none() {
        return Err(DeskError::NotFound(format!("单位 {id}")));
    }
    if !ed.may_act_on(id) {
        return Err(DeskError::Forbidden {
            editor: ed.name.clone(),
            unit: id.clone(),
        });
    }
    Ok(if q.subtree {
        config
            .subtree(id)
            .into_iter()
            .filter(|u| ed.may_act_on(&u.id))
            .collect()
    } else {
        config.unit(id).map(|u| &**u).into_iter().collect()
    })
}

/// Start of `day` in `tz`, as UTC (a day that starts in a gap starts at
/// its first valid instant).
fn day_start(tz: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// What a search word matches: the title or URL as a case-insensitive
/// substring, the item's id by prefix, and a pasted URL also in its
/// canonical form (the store keeps URLs canonical: tracking parameters and
/// fragments dropped).
struct Needle {
    lower: String,
    canonical: Option<String>,
}

impl Needle {
    fn new(q: &str) -> Needle {
        let canonical = url::Url::parse(q)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|u| crate::source::canonicalize(&u).to_string());
        Needle {
            lower: q.to_lowercase(),
            canonical,
        }
    }

    fn matches(&self, i: &Item) -> bool {
        i.title.to_lowercase().contains(&self.lower)
            || i.url.to_lowercase().contains(&self.lower)
            || self.canonical.as_deref() == Some(i.url.as_str())
            || (self.lower.len() >= 6 && i.id.starts_with(&self.lower))
    }
}

/// Does `i` pass the record filters of `q` (all but unit and state)?
fn passes(q: &ListQuery, needle: Option<&Needle>, tz: chrono_tz::Tz, i: &Item) -> bool {
    let from = q.from.map(|d| day_start(tz, d));
    let until = q.to.and_then(|d| d.succ_opt()).map(|d| day_start(tz, d));
    needle.is_none_or(|n| n.matches(i))
        && q.origin.is_none_or(|o| i.came_from() == o)
        && from.is_none_or(|f| i.discovered_at >= f)
        && until.is_none_or(|u| i.discovered_at < u)
}

fn failed(e: StoreError) -> DeskError {
    DeskError::Failed(format!("存储出错：{e}"))
}

/// The page of items `q` asks for, among those `ed` may see, with the
/// counts per state.
pub fn list(
    store: &Store,
    config: &Config,
    ed: &Editor,
    q: &ListQuery,
) -> Result<ListPage, DeskError> {
    let units = units_of(config, ed, q)?;
    let mut counted: Vec<StateName> = LISTED_STATES.to_vec();
    if q.state == Some(StateName::Seen) {
        counted.push(StateName::Seen);
    }
    let shown: Vec<StateName> = match q.state {
        Some(s) => vec![s],
        None => LISTED_STATES.to_vec(),
    };
    let mut counts: Vec<(StateName, usize)> = counted.iter().map(|s| (*s, 0)).collect();
    let window = (q.page - 1) * PAGE_SIZE..q.page * PAGE_SIZE;
    let (total, items) = if q.reads_records() {
        let needle = q.q.as_deref().map(Needle::new);
        let tz = config.daemon.timezone;
        // (time, id) of every match to show; records are dropped as read.
        let mut matched: Vec<(DateTime<Utc>, String)> = Vec::new();
        for u in &units {
            for (state, n) in counts.iter_mut() {
                for (t, id) in store.index_entries(&u.id, state.as_str()).map_err(failed)? {
                    let Some(item) = store.record(&id).map_err(failed)? else {
                        continue;
                    };
                    if passes(q, needle.as_ref(), tz, &item) {
                        *n += 1;
                        if shown.contains(state) {
                            matched.push((t, id));
                        }
                    }
                }
            }
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let total = matched.len();
        let mut items = Vec::new();
        for (_, id) in matched
            .get(window.start.min(total)..window.end.min(total))
            .unwrap_or_default()
        {
            if let Some(i) = store.record(id).map_err(failed)? {
                items.push(i);
            }
        }
        (total, items)
    } else {
        for u in &units {
            for (state, n) in counts.iter_mut() {
                *n += store.count_in(&u.id, state.as_str()).map_err(failed)?;
            }
        }
        let total = counts
            .iter()
            .filter(|(s, _)| shown.contains(s))
            .map(|(_, n)| n)
            .sum();
        let ids: Vec<&str> = units.iter().map(|u| u.id.as_str()).collect();
        let states: Vec<&str> = shown.iter().map(|s| s.as_str()).collect();
        let newest = store.newest(&ids, &states, window.end).map_err(failed)?;
        (total, newest.into_iter().skip(window.start).collect())
    };
    Ok(ListPage {
        items,
        total,
        page: q.page,
        pages: total.div_ceil(PAGE_SIZE).max(1),
        counts,
    })
}

/// The audit page's filters: `editor`, `unit`, `action`, `page`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub editor: Option<String>,
    pub unit: Option<String>,
    pub action: Option<AuditAction>,
    pub page: usize,
}

impl AuditQuery {
    pub fn parse(q: &HashMap<String, String>) -> Result<AuditQuery, QueryError> {
        let action = given(q, "action")
            .map(|a| {
                AuditAction::ALL
                    .into_iter()
                    .find(|x| x.as_str() == a)
                    .ok_or_else(|| QueryError::BadAction(a.into()))
            })
            .transpose()?;
        Ok(AuditQuery {
            editor: given(q, "editor").map(str::to_string),
            unit: given(q, "unit").map(str::to_string),
            action,
            page: page_no(given(q, "page"))?,
        })
    }

    pub fn to_query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("editor", self.editor.clone()),
            ("unit", self.unit.clone()),
            ("action", self.action.map(|a| a.as_str().to_string())),
            ("page", (self.page > 1).then(|| self.page.to_string())),
        ];
        for (k, v) in pairs {
            if let Some(v) = v {
                s.append_pair(k, &v);
            }
        }
        s.finish()
    }

    pub fn on_page(&self, page: usize) -> AuditQuery {
        AuditQuery {
            page,
            ..self.clone()
        }
    }

    /// Does the entry pass the filters?
    pub fn passes(&self, e: &AuditEntry) -> bool {
        self.editor.as_deref().is_none_or(|x| e.editor == x)
            && self
                .unit
                .as_deref()
                .is_none_or(|x| e.unit.as_deref() == Some(x))
            && self.action.is_none_or(|a| e.action == a)
    }

    /// The page of `log` (oldest first, as the store keeps it) these
    /// filters ask for, newest first; and how many entries match in all.
    pub fn page_of<'a>(&self, log: &'a [AuditEntry]) -> (Vec<&'a AuditEntry>, usize) {
        let matched: Vec<&AuditEntry> = log.iter().rev().filter(|e| self.passes(e)).collect();
        let total = matched.len();
        let page = matched
            .into_iter()
            .skip((self.page - 1) * AUDIT_PAGE_SIZE)
            .take(AUDIT_PAGE_SIZE)
            .collect();
        (page, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::State;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_query_parses_every_filter_and_round_trips() {
        let parsed = ListQuery::parse(&q(&[
            ("q", " 科普 "),
            ("unit", "city"),
            ("subtree", "1"),
            ("state", "held"),
            ("origin", "broadcast"),
            ("from", "2026-03-01"),
            ("to", "2026-03-31"),
            ("page", "3"),
        ]))
        .unwrap();
        assert_eq!(parsed.q.as_deref(), Some("科普"));
        assert!(parsed.subtree);
        assert_eq!(parsed.state, Some(StateName::Held));
        assert_eq!(parsed.origin, Some(ItemOrigin::Broadcast));
        assert_eq!(parsed.page, 3);
        let again: HashMap<String, String> =
            url::form_urlencoded::parse(parsed.to_query().as_bytes())
                .into_owned()
                .collect();
        assert_eq!(ListQuery::parse(&again).unwrap(), parsed);
    }

    #[test]
    fn empty_form_fields_mean_no_filter() {
        let parsed =
            ListQuery::parse(&q(&[("q", ""), ("unit", ""), ("state", ""), ("from", " ")])).unwrap();
        assert_eq!(
            parsed,
            ListQuery {
                page: 1,
                ..Default::default()
            }
        );
        assert_eq!(parsed.to_query(), "");
    }

    #[test]
    fn bad_list_queries_are_refused_in_chinese() {
        let err = |p: &[(&str, &str)]| ListQuery::parse(&q(p)).unwrap_err().to_string();
        assert!(err(&[("from", "2026/03/01")]).contains("无法识别"));
        assert!(err(&[("from", "2026-03-02"), ("to", "2026-03-01")]).contains("晚于"));
        assert!(err(&[("state", "done")]).contains("状态"));
        assert!(err(&[("origin", "rss")]).contains("来源"));
        assert!(err(&[("page", "0")]).contains("页码"));
        assert!(err(&[("page", "x")]).contains("页码"));
    }

    fn item(n: u32, title: &str, source: &str, found: DateTime<Utc>) -> Item {
        Item {
            title: title.into(),
            ..Item::new(
                "u",
                &format!("https://example.org/news/{n}.html"),
                source,
                found,
                State::Held {
                    reason: "人工审核".into(),
                },
            )
        }
    }

    #[test]
    fn search_matches_title_url_pasted_url_and_id_prefix_ignoring_case() {
        let now = Utc::now();
        let i = item(7, "Autosync 科普日活动", "feed:x", now);
        for hit in [
            "科普日",
            "AUTOSYNC",
            "news/7",
            "https://example.org/news/7.html",
            "https://EXAMPLE.org/news/7.html#top",
            &i.id[..8],
        ] {
            assert!(Needle::new(hit).matches(&i), "{hit}");
        }
        for miss in [
            "科普周",
            "news/8",
            "https://example.org/news/70.html",
            &i.id[..3],
        ] {
            assert!(!Needle::new(miss).matches(&i), "{miss}");
        }
    }

    #[test]
    fn date_range_is_days_found_in_the_daemon_zone() {
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        // 2026-03-01 23:30 in Shanghai is still 2026-03-01 15:30 UTC; 00:30
        // on the 2nd is the 1st in UTC but the 2nd on the desk.
        let late = tz
            .with_ymd_and_hms(2026, 3, 1, 23, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        let next = tz
            .with_ymd_and_hms(2026, 3, 2, 0, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let only_1st = ListQuery {
            from: Some(day),
            to: Some(day),
            page: 1,
            ..Default::default()
        };
        assert!(passes(&only_1st, None, tz, &item(1, "a", "feed:x", late)));
        assert!(!passes(&only_1st, None, tz, &item(2, "b", "feed:x", next)));
    }

    #[test]
    fn origin_filter_uses_the_items_source_key() {
        let now = Utc::now();
        let by = |o| ListQuery {
            origin: Some(o),
            page: 1,
            ..Default::default()
        };
        let site = item(1, "a", "feed:x", now);
        let push = item(2, "b", "push", now);
        let copy = item(3, "c", "broadcast:abc", now);
        let tz = chrono_tz::UTC;
        assert!(passes(&by(ItemOrigin::Site), None, tz, &site));
        assert!(!passes(&by(ItemOrigin::Site), None, tz, &push));
        assert!(passes(&by(ItemOrigin::Push), None, tz, &push));
        assert!(passes(&by(ItemOrigin::Broadcast), None, tz, &copy));
        assert!(!passes(&by(ItemOrigin::Broadcast), None, tz, &site));
    }

    /// Two units, one below the other, over a fresh store.
    fn world(dir: &std::path::Path) -> (Store, Config) {
        let unit = |id: &str, parent: &str| {
            format!(
                "[[unit]]\nid = \"{id}\"\naccount_name = \"{id}号\"\norg_name = \"{id}科协\"\nlevel = \"county\"\n{parent}site = \"https://{id}.example.org/\"\n  [[unit.source]]\n  feed = \"https://{id}.example.org/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n\n"
            )
        };
        let text = format!(
            "[daemon]\nstate_dir = \"state\"\n\n{}{}",
            unit("a", ""),
            unit("b", "parent = \"a\"\n")
        );
        let config = crate::config::parse(&text, &dir.join("autosync.toml")).unwrap();
        (Store::open(&config.daemon.state_dir).unwrap(), config)
    }

    fn everyone() -> Editor {
        Editor {
            name: "总台".into(),
            token: crate::secret::Secret::new("0123456789abcdef0123"),
            units: None,
            role: Default::default(),
        }
    }

    /// The index path (no search word) and the record path (a word every
    /// item matches) must give the same pages in the same order and the
    /// same counts: an editor adding a filter must not see items reorder.
    #[tokio::test]
    async fn the_index_path_and_the_record_path_agree() {
        let dir = tempfile::tempdir().unwrap();
        let (store, config) = world(dir.path());
        let t0 = Utc::now() - chrono::Duration::days(1);
        for n in 0..130u32 {
            let unit = if n % 3 == 0 { "a" } else { "b" };
            let state = match n % 4 {
                0 => State::Held {
                    reason: "人工审核".into(),
                },
                1 => State::Queued,
                2 => State::Rejected {
                    reason: "重复".into(),
                },
                _ => State::Published {
                    remote_id: format!("r{n}"),
                    remote_url: None,
                    at: t0 + chrono::Duration::minutes(2 * n as i64 + 1),
                },
            };
            let i = Item {
                title: format!("稿件{n}"),
                ..Item::new(
                    unit,
                    &format!("https://{unit}.example.org/{n}.html"),
                    "feed:x",
                    t0 + chrono::Duration::minutes(n as i64),
                    state,
                )
            };
            store
                .insert_new(&i, std::slice::from_ref(&i.url))
                .await
                .unwrap();
        }
        let ed = everyone();
        for (unit, subtree, state) in [
            (None, false, None),
            (Some("a"), false, None),
            (Some("a"), true, Some(StateName::Held)),
            (None, false, Some(StateName::Published)),
        ] {
            for page in 1..=3 {
                let plain = ListQuery {
                    unit: unit.map(str::to_string),
                    subtree,
                    state,
                    page,
                    ..Default::default()
                };
                let searched = ListQuery {
                    q: Some("稿件".into()),
                    ..plain.clone()
                };
                let a = list(&store, &config, &ed, &plain).unwrap();
                let b = list(&store, &config, &ed, &searched).unwrap();
                let ids = |p: &ListPage| p.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
                assert_eq!(ids(&a), ids(&b), "{plain:?}");
                assert_eq!(
                    (a.total, a.pages, &a.counts),
                    (b.total, b.pages, &b.counts),
                    "{plain:?}"
                );
            }
        }
        let all = list(
            &store,
            &config,
            &ed,
            &ListQuery {
                page: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((all.total, all.pages, all.items.len()), (130, 3, PAGE_SIZE));
        let held = all
            .counts
            .iter()
            .find(|(s, _)| *s == StateName::Held)
            .unwrap()
            .1;
        assert_eq!(held, 33);
        // An editor of `b` only: `a` is out of reach, and not counted.
        let b_only = Editor {
            units: Some(["b".to_string()].into()),
            ..everyone()
        };
        let mine = list(
            &store,
            &config,
            &b_only,
            &ListQuery {
                page: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(mine.total, 86);
        let of_unit = |u: &str| ListQuery {
            unit: Some(u.into()),
            page: 1,
            ..Default::default()
        };
        assert!(matches!(
            list(&store, &config, &b_only, &of_unit("a")),
            Err(DeskError::Forbidden { .. })
        ));
        assert!(matches!(
            list(&store, &config, &ed, &of_unit("zz")),
            Err(DeskError::NotFound(_))
        ));
    }

    fn entry(editor: &str, unit: &str, action: AuditAction) -> AuditEntry {
        AuditEntry {
            at: Utc::now(),
            editor: editor.into(),
            action,
            unit: Some(unit.into()),
            item: None,
            before: None,
            after: None,
            detail: None,
        }
    }

    #[test]
    fn audit_query_filters_and_pages_newest_first() {
        let mut log: Vec<AuditEntry> = (0..250)
            .map(|n| {
                entry(
                    if n % 2 == 0 { "甲" } else { "乙" },
                    "u",
                    AuditAction::Approve,
                )
            })
            .collect();
        log.push(entry("甲", "v", AuditAction::Reject));
        let aq = AuditQuery::parse(&q(&[
            ("editor", "甲"),
            ("action", "approve"),
            ("page", "2"),
        ]))
        .unwrap();
        let (page, total) = aq.page_of(&log);
        assert_eq!(total, 125);
        assert_eq!(page.len(), 25);
        assert!(
            page.iter()
                .all(|e| e.editor == "甲" && e.action == AuditAction::Approve)
        );
        let (first, _) = AuditQuery::parse(&q(&[])).unwrap().page_of(&log);
        assert_eq!(first[0].action, AuditAction::Reject, "newest first");
        assert!(AuditQuery::parse(&q(&[("action", "delete")])).is_err());
    }
}
