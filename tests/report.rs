//! Reports (通报): a store built through the store's API with known posts,
//! gaps, holds and failures gives known rows — a test per column, the
//! verdict's boundaries, archived items, totals per level and subtree —
//! and the command, the desk page and the formats (CSV with a BOM, the
//! XLSX read back, the HTML in headless Chromium) show them.

mod common;

use autosync::config::Config;
use autosync::model::{DeliveryState, PublishPath};
use autosync::report::{self, Format, Period, Report, Row, Scope, Verdict};
use autosync::store::{AuditAction, AuditEntry, DeliveryStep, Item, State, StateName, Store};
use chrono::{DateTime, TimeZone, Utc};
use std::path::Path;

/// A time in Beijing, November 2026 unless the month says otherwise.
fn at(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn nov(d: u32, h: u32) -> DateTime<Utc> {
    at(11, d, h, 0)
}

/// The matrix: the national unit, a province under it, two cities under
/// the province, two counties under the first city; and a unit of its own
/// whose posts get archived.
fn config_text(listen: &str) -> String {
    let unit = |id: &str, name: &str, org: &str, level: &str, parent: Option<&str>| {
        format!(
            r#"
[[unit]]
id = "{id}"
account_name = "{name}"
org_name = "{org}"
level = "{level}"
{}site = "http://127.0.0.1:9/{id}/"
  [[unit.source]]
  feed = "http://127.0.0.1:9/{id}/rss.xml"
  [unit.publisher]
  kind = "file"
  dir = "out/{id}"
"#,
            parent
                .map(|p| format!("parent = \"{p}\"\n"))
                .unwrap_or_default()
        )
    };
    [
        format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"{listen}\"\neditors_file = \"editors.toml\"\n"
        ),
        unit("cast", "中国科协", "中国科学技术协会", "national", None),
        unit("prov", "示例省科协", "示例省科学技术协会", "provincial", Some("cast")),
        unit("city", "示例市科协", "示例市科学技术协会", "city", Some("prov")),
        unit("warnu", "乙市科协", "乙市科学技术协会", "city", Some("prov")),
        unit("county", "甲县科协", "甲县科学技术协会", "county", Some("city")),
        unit("county2", "丙县科协", "丙县科学技术协会", "county", Some("city")),
        unit("arch", "归档省科协", "归档省科学技术协会", "provincial", None),
    ]
    .concat()
}

const ALL: &str = "tok-report-all-0123456789";
const CITY: &str = "tok-report-city-0123456789";

fn write_config(dir: &Path, listen: &str) -> Config {
    let path = dir.join("autosync.toml");
    std::fs::write(&path, config_text(listen)).unwrap();
    std::fs::write(
        dir.join("editors.toml"),
        format!(
            "[[editor]]\nname = \"总台编辑\"\ntoken = \"{ALL}\"\n\n[[editor]]\nname = \"市编辑\"\ntoken = \"{CITY}\"\nunits = [\"city\", \"county\", \"county2\"]\n"
        ),
    )
    .unwrap();
    autosync::config::load(&path).unwrap()
}

struct Builder<'a> {
    store: &'a Store,
    config: &'a Config,
    n: u32,
}

impl Builder<'_> {
    fn accounts(&self, unit: &str) -> Vec<String> {
        self.config.unit(unit).unwrap().account_names()
    }

    /// A new item of `unit`, found at `found`, in `state`.
    async fn item(&mut self, unit: &str, source: &str, found: DateTime<Utc>, state: State) -> Item {
        self.n += 1;
        let url = format!("http://127.0.0.1:9/{unit}/a/{}.html", self.n);
        self.item_at(unit, &url, source, found, state).await
    }

    async fn item_at(
        &mut self,
        unit: &str,
        url: &str,
        source: &str,
        found: DateTime<Utc>,
        state: State,
    ) -> Item {
        let i = Item {
            title: format!("稿件{}", self.n),
            html: "<p>正文</p>".into(),
            text: "正文".into(),
            fingerprint: Some(format!("fp{}-{unit}", self.n)),
            ..Item::new(unit, url, source, found, state)
        };
        self.store
            .insert_new(&i, std::slice::from_ref(&i.url))
            .await
            .unwrap();
        self.store.flush().await.unwrap();
        i
    }

    /// An article of `unit` found `delay_mins` before `posted` and posted
    /// by `path` to the unit's account.
    async fn post(
        &mut self,
        unit: &str,
        posted: DateTime<Utc>,
        delay_mins: i64,
        path: PublishPath,
    ) -> Item {
        let source = match path {
            PublishPath::Push => "push".to_string(),
            PublishPath::Broadcast => "broadcast:x".to_string(),
            PublishPath::Auto => "feed:x".to_string(),
        };
        let found = posted - chrono::Duration::minutes(delay_mins);
        let i = self.item(unit, &source, found, State::Queued).await;
        self.deliver(&i, posted, path).await
    }

    async fn deliver(&mut self, i: &Item, posted: DateTime<Utc>, path: PublishPath) -> Item {
        let accounts = self.accounts(&i.unit);
        self.store
            .take(&i.id, &accounts[0], &accounts, posted, path)
            .await
            .unwrap();
        self.store
            .deliver(
                &i.id,
                &accounts[0],
                &accounts,
                posted,
                DeliveryStep::Published {
                    remote_id: format!("r{}", i.id),
                    remote_url: None,
                    notes: vec![],
                },
            )
            .await
            .unwrap()
    }

    /// A baseline entry: the unit's first poll.
    async fn polled(&mut self, unit: &str, when: DateTime<Utc>) {
        self.item(unit, "feed:x", when, State::Seen).await;
    }

    async fn audit(
        &self,
        at: DateTime<Utc>,
        action: AuditAction,
        i: &Item,
        before: &str,
        after: Option<&str>,
    ) {
        self.store
            .audit(&AuditEntry {
                at,
                editor: "总台编辑".into(),
                action,
                unit: Some(i.unit.clone()),
                item: Some(i.id.clone()),
                before: Some(before.into()),
                after: after.map(str::to_string),
                detail: None,
            })
            .await
            .unwrap();
    }
}

/// The known world (November 2026, Beijing time; "now" is 5 December):
///
/// | account | posts | verdict |
/// |---|---|---|
/// | cast | Oct 31, Nov 1, Nov 15, Nov 29 (a hand push of the old one-account format) | 合格, gaps of exactly 14 |
/// | prov | Oct 25; Nov 3 auto and push; Nov 17 broadcast; Nov 30 auto | 合格, a gap of 14, a post on the last day |
/// | city | Oct 22, Nov 5, Nov 20 | 不合格 (gaps of 14, then 15) |
/// | warnu | Nov 10, Nov 19; first polled Nov 9 | 预警 (11 days silent at the end) |
/// | county | never; first polled Nov 20 | 预警 (10 days) |
/// | county2 | never; first polled Oct 1 | 不合格 (60 days) |
/// | arch | Nov 2, 12, 22, then archived | 合格 |
async fn build_world(store: &Store, config: &Config) {
    let mut b = Builder {
        store,
        config,
        n: 0,
    };
    use PublishPath::*;
    // cast
    b.post("cast", nov(1, 9) - chrono::Duration::days(1), 5, Auto)
        .await;
    let origin = b.post("cast", nov(1, 9), 5, Auto).await;
    let bcast = b.post("cast", nov(15, 9), 5, Auto).await;
    // One post of the one-account format: no deliveries, a hand push by URL.
    let old = b.item("cast", "push", nov(29, 8), State::Queued).await;
    store
        .transition(&old.id, &[StateName::Queued], nov(29, 9), |i| {
            i.state = State::Publishing { since: nov(29, 9) };
            Ok(())
        })
        .await
        .unwrap();
    store
        .transition(&old.id, &[StateName::Publishing], nov(29, 9), |i| {
            i.state = State::Published {
                remote_id: "old".into(),
                remote_url: None,
                at: nov(29, 9),
            };
            Ok(())
        })
        .await
        .unwrap();
    let _ = origin;

    // prov
    b.post("prov", at(10, 25, 9, 0), 5, Auto).await;
    b.post("prov", nov(3, 9), 30, Auto).await;
    b.post("prov", nov(3, 15), 10, Push).await;
    // The broadcast of cast's Nov 15 article reaches prov's subtree on the
    // 17th; prov's copy goes out.
    let copy = b
        .item_at(
            "prov",
            &bcast.url,
            &format!("broadcast:{}", bcast.id),
            nov(17, 10),
            State::Queued,
        )
        .await;
    b.deliver(&copy, nov(17, 10), Broadcast).await;
    b.audit(
        nov(17, 10),
        AuditAction::Broadcast,
        &bcast,
        "",
        Some("prov"),
    )
    .await;
    b.post("prov", nov(30, 20), 60, Auto).await;
    // Held: one since October (still waiting), one approved on the 8th, one
    // held only after the period.
    b.item(
        "prov",
        "feed:x",
        at(10, 1, 9, 0),
        State::Held {
            reason: "人工审核".into(),
        },
    )
    .await;
    let approved = b
        .item(
            "prov",
            "feed:x",
            nov(6, 9),
            State::Held {
                reason: "人工审核".into(),
            },
        )
        .await;
    store
        .transition(&approved.id, &[StateName::Held], nov(8, 9), |i| {
            i.state = State::Queued;
            Ok(())
        })
        .await
        .unwrap();
    b.audit(
        nov(8, 9),
        AuditAction::Approve,
        &approved,
        "held",
        Some("queued"),
    )
    .await;
    b.item(
        "prov",
        "feed:x",
        at(12, 2, 9, 0),
        State::Held {
            reason: "人工审核".into(),
        },
    )
    .await;
    // Rejected: one on the 12th, one in October.
    for when in [nov(12, 9), at(10, 5, 9, 0)] {
        let r = b
            .item("prov", "feed:x", when, State::Held { reason: "x".into() })
            .await;
        store
            .transition(&r.id, &[StateName::Held], when, |i| {
                i.state = State::Rejected {
                    reason: "重复".into(),
                };
                Ok(())
            })
            .await
            .unwrap();
        b.audit(when, AuditAction::Reject, &r, "held", Some("rejected"))
            .await;
    }
    // An editor's own hand pushes: one previewed and cancelled on the 20th,
    // one still waiting for its confirm. Neither is a site article held
    // for review, so neither counts as held or rejected.
    let cancelled = b
        .item(
            "prov",
            "push",
            nov(20, 9),
            State::Held {
                reason: "待确认推送".into(),
            },
        )
        .await;
    store
        .transition(&cancelled.id, &[StateName::Held], nov(20, 9), |i| {
            i.state = State::Rejected {
                reason: "编辑取消了手动推送".into(),
            };
            Ok(())
        })
        .await
        .unwrap();
    b.audit(
        nov(20, 9),
        AuditAction::Reject,
        &cancelled,
        "held",
        Some("rejected"),
    )
    .await;
    b.item(
        "prov",
        "push",
        nov(21, 9),
        State::Held {
            reason: "待确认推送".into(),
        },
    )
    .await;
    // Failed: the platform refused one on the 14th.
    let f = b.item("prov", "feed:x", nov(14, 8), State::Queued).await;
    let accounts = b.accounts("prov");
    store
        .take(&f.id, &accounts[0], &accounts, nov(14, 9), Auto)
        .await
        .unwrap();
    store
        .deliver(
            &f.id,
            &accounts[0],
            &accounts,
            nov(14, 9),
            DeliveryStep::Fail {
                reason: "rejected by the platform".into(),
            },
        )
        .await
        .unwrap();

    // city: a gap of 15 days.
    b.post("city", at(10, 22, 9, 0), 5, Auto).await;
    b.post("city", nov(5, 9), 5, Auto).await;
    b.post("city", nov(20, 9), 5, Auto).await;

    // warnu: first polled on the 9th, 11 days silent at the end.
    b.polled("warnu", nov(9, 9)).await;
    b.post("warnu", nov(10, 9), 5, Auto).await;
    b.post("warnu", nov(19, 9), 5, Auto).await;

    // county: never posted, polled since the 20th; county2 since October.
    b.polled("county", nov(20, 9)).await;
    b.polled("county2", at(10, 1, 9, 0)).await;

    // arch
    for d in [2, 12, 22] {
        b.post("arch", nov(d, 9), 5, Auto).await;
    }
}

fn period() -> Period {
    Period::parse("2026-11-01", "2026-11-30").unwrap()
}

fn now() -> DateTime<Utc> {
    at(12, 5, 10, 0)
}

async fn world() -> (tempfile::TempDir, Config, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "127.0.0.1:9");
    let store = Store::open(&config.daemon.state_dir).unwrap();
    build_world(&store, &config).await;
    (dir, config, store)
}

fn build(config: &Config, store: &Store, unit: Option<&str>) -> Report {
    let scope = Scope {
        unit: unit.map(str::to_string),
        editor: None,
    };
    report::build(config, store, period(), &scope, now()).unwrap()
}

/// The report of `from`..=`to` over every unit.
fn over(config: &Config, store: &Store, from: &str, to: &str) -> Report {
    let p = Period::parse(from, to).unwrap();
    report::build(config, store, p, &Scope::default(), now()).unwrap()
}

fn row<'a>(r: &'a Report, unit: &str) -> &'a Row {
    r.rows.iter().find(|x| x.unit == unit).unwrap()
}

#[tokio::test]
async fn identity_columns_name_unit_account_org_level_and_parent() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    assert_eq!(r.rows.len(), 7);
    let p = row(&r, "prov");
    assert_eq!(p.account, "示例省科协");
    assert_eq!(p.org, "示例省科学技术协会");
    assert_eq!(p.level, autosync::config::Level::Provincial);
    assert_eq!(p.parent.as_deref(), Some("cast"));
    assert_eq!(row(&r, "cast").parent, None);
}

#[tokio::test]
async fn posts_are_counted_in_the_period_and_split_by_path() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let p = row(&r, "prov");
    // Oct 25 is before the period.
    assert_eq!((p.posts, p.auto, p.manual, p.broadcast), (4, 2, 1, 1));
    // The one-account format's post is the main account's; its path comes
    // from the item (a push by URL).
    let c = row(&r, "cast");
    assert_eq!((c.posts, c.auto, c.manual, c.broadcast), (3, 2, 1, 0));
    assert_eq!(row(&r, "county").posts, 0);
}

#[tokio::test]
async fn active_days_count_calendar_days_with_a_post() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    // Two posts on Nov 3: one day.
    assert_eq!(row(&r, "prov").active_days, 3);
    assert_eq!(row(&r, "city").active_days, 2);
    assert_eq!(row(&r, "county").active_days, 0);
}

#[tokio::test]
async fn longest_gap_counts_from_the_last_post_before_the_period_to_its_end() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    // Oct 25 → Nov 3 is 9, Nov 3 → 17 is 14, 17 → 30 is 13.
    assert_eq!(row(&r, "prov").longest_gap_days, Some(14));
    // Oct 22 → Nov 5 is 14, Nov 5 → 20 is 15.
    assert_eq!(row(&r, "city").longest_gap_days, Some(15));
    // First polled Nov 9, posts Nov 10 and 19, end Nov 30: 11.
    assert_eq!(row(&r, "warnu").longest_gap_days, Some(11));
    // Never posted: since the first poll.
    assert_eq!(row(&r, "county2").longest_gap_days, Some(60));
}

#[tokio::test]
async fn last_post_and_days_silent_are_read_at_the_end_of_the_period() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let p = row(&r, "prov");
    assert_eq!(
        p.last_post.map(|t| t.to_rfc3339()),
        Some("2026-11-30T20:00:00+08:00".to_string())
    );
    assert_eq!(p.days_silent, Some(0));
    assert_eq!(row(&r, "city").days_silent, Some(10));
    assert_eq!(row(&r, "county").last_post, None);
    assert_eq!(row(&r, "county").days_silent, Some(10));
    // A shorter period ends earlier: the last post before its end.
    let s = over(&config, &store, "2026-11-01", "2026-11-16");
    let p = row(&s, "prov");
    assert_eq!(
        p.last_post.map(|t| t.date_naive().to_string()).as_deref(),
        Some("2026-11-03")
    );
    assert_eq!(p.days_silent, Some(13));
}

#[tokio::test]
async fn a_gap_of_exactly_max_silence_days_passes_and_one_more_fails() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    // cast: Nov 1 → 15 → 29, 14 days each; prov: 14, with a post on the
    // last day.
    assert_eq!(row(&r, "cast").longest_gap_days, Some(14));
    assert_eq!(row(&r, "cast").verdict, Verdict::Pass);
    assert_eq!(row(&r, "prov").verdict, Verdict::Pass);
    assert_eq!(row(&r, "city").verdict, Verdict::Fail);
}

#[tokio::test]
async fn a_passing_account_within_four_days_of_the_deadline_is_a_warning() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    assert_eq!(row(&r, "warnu").verdict, Verdict::Warn);
    // The same account judged on Nov 28 is 9 days silent: passes.
    let early = over(&config, &store, "2026-11-01", "2026-11-28");
    assert_eq!(row(&early, "warnu").days_silent, Some(9));
    assert_eq!(row(&early, "warnu").verdict, Verdict::Pass);
}

#[tokio::test]
async fn an_account_that_never_posted_is_a_warning_then_a_failure_never_a_pass() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    assert_eq!(row(&r, "county").verdict, Verdict::Warn);
    assert_eq!(row(&r, "county2").verdict, Verdict::Fail);
    // Judged on the day of its first poll, it is still no pass.
    let first = over(&config, &store, "2026-11-20", "2026-11-20");
    assert_eq!(row(&first, "county").days_silent, Some(0));
    assert_eq!(row(&first, "county").verdict, Verdict::Warn);
}

#[tokio::test]
async fn held_rejected_and_failed_count_what_happened_in_the_period() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let p = row(&r, "prov");
    // Held: the one waiting since October, the one approved on the 8th and
    // the one rejected (from held) on the 12th; not the one held in
    // December.
    assert_eq!(p.held, 3);
    assert_eq!(p.rejected, 1);
    assert_eq!(p.failed, 1);
    assert_eq!((row(&r, "city").held, row(&r, "city").failed), (0, 0));
    // October: the one held since then, the one held and rejected then.
    let o = over(&config, &store, "2026-10-01", "2026-10-31");
    let p = row(&o, "prov");
    assert_eq!((p.held, p.rejected, p.failed), (2, 1, 0));
}

#[tokio::test]
async fn median_delay_is_minutes_from_first_seen_to_post() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    // prov's delays: 30, 10, 0 (the broadcast copy), 60: median 20.
    assert_eq!(row(&r, "prov").median_delay_mins, Some(20));
    assert_eq!(row(&r, "city").median_delay_mins, Some(5));
    assert_eq!(row(&r, "county").median_delay_mins, None);
}

#[tokio::test]
async fn broadcasts_asked_reach_the_subtree_and_carried_count_the_posts() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let b = |u: &str| (row(&r, u).broadcasts_asked, row(&r, u).broadcasts_carried);
    assert_eq!(b("prov"), (1, 1));
    assert_eq!(b("city"), (1, 0));
    assert_eq!(b("county2"), (1, 0));
    assert_eq!(b("cast"), (0, 0));
    assert_eq!(b("arch"), (0, 0));
}

#[tokio::test]
async fn archived_items_report_as_they_did_before_archival() {
    let (_d, config, store) = world().await;
    let before = build(&config, &store, None);
    for u in ["arch", "prov", "cast"] {
        assert!(store.archive_before(u, now()).await.unwrap() > 0, "{u}");
    }
    let after = build(&config, &store, None);
    for u in ["arch", "prov", "cast"] {
        assert_eq!(row(&after, u), row(&before, u), "{u}");
    }
    assert_eq!(row(&after, "arch").posts, 3);
    assert_eq!(row(&after, "arch").verdict, Verdict::Pass);
}

#[tokio::test]
async fn totals_per_level_and_per_subtree() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let t = |ts: &[report::Total], g: &str| {
        let t = ts.iter().find(|t| t.group == g).unwrap().clone();
        (t.accounts, t.pass, t.warn, t.fail, t.posts)
    };
    assert_eq!(t(std::slice::from_ref(&r.all), "all"), (7, 3, 2, 2, 14));
    assert!((r.all.pass_rate - 5.0 / 7.0).abs() < 1e-9);
    assert_eq!(
        r.levels
            .iter()
            .map(|l| l.group.as_str())
            .collect::<Vec<_>>(),
        ["national", "provincial", "city", "county"]
    );
    assert_eq!(t(&r.levels, "provincial"), (2, 2, 0, 0, 7));
    assert_eq!(t(&r.levels, "county"), (2, 0, 1, 1, 0));
    // Subtrees: each unit with units below it.
    assert_eq!(
        r.subtrees
            .iter()
            .map(|s| s.group.as_str())
            .collect::<Vec<_>>(),
        ["cast", "prov", "city"]
    );
    assert_eq!(t(&r.levels, "city"), (2, 0, 1, 1, 4));
    assert_eq!(t(&r.subtrees, "prov"), (5, 1, 2, 2, 8));
    assert_eq!(t(&r.subtrees, "city"), (3, 0, 1, 2, 2));
}

#[tokio::test]
async fn a_unit_scope_is_the_unit_and_its_whole_subtree() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, Some("city"));
    let units: Vec<&str> = r.rows.iter().map(|r| r.unit.as_str()).collect();
    assert_eq!(units, ["city", "county", "county2"]);
    assert_eq!(r.all.accounts, 3);
    assert_eq!(r.scope_name, "示例市科学技术协会（含下级）");
    let scope = Scope {
        unit: Some("nope".into()),
        editor: None,
    };
    let e = report::build(&config, &store, period(), &scope, now()).unwrap_err();
    assert!(e.to_string().contains("no unit \"nope\""), "{e}");
}

#[test]
fn periods_are_checked() {
    assert!(Period::parse("2026-11-30", "2026-11-01").is_err());
    assert!(Period::parse("2026-13-01", "2026-11-01").is_err());
    assert!(Period::parse("1026-11-01", "2026-11-01").is_err());
    let e = Period::parse("yesterday", "2026-11-01").unwrap_err();
    assert!(e.to_string().contains("--from \"yesterday\""), "{e}");
}

#[tokio::test]
async fn a_delivery_keeps_the_path_it_was_taken_by() {
    let (_d, _config, store) = world().await;
    let items = store.unit_history("prov").unwrap();
    let paths: Vec<Option<PublishPath>> = items
        .iter()
        .filter_map(|i| match i.deliveries.get("示例省科协") {
            Some(DeliveryState::Published { path, .. }) => Some(*path),
            _ => None,
        })
        .collect();
    assert_eq!(paths.len(), 5);
    assert!(paths.contains(&Some(PublishPath::Broadcast)));
    assert!(paths.contains(&Some(PublishPath::Push)));
    // A record without a path (written before paths were kept) still reads.
    let old = r#"{"id":"0000000000000001","unit":"u","url":"http://x/1","source":"feed:x","guid":null,"fingerprint":null,"title":"t","published_at":null,"author":null,"origin":null,"images":[],"priority":false,"notes":[],"discovered_at":"2026-11-01T00:00:00Z","updated_at":"2026-11-01T00:00:00Z","state":"published","remote_id":"r","remote_url":null,"at":"2026-11-01T00:00:00Z","deliveries":{"a":{"state":"published","remote_id":"r","remote_url":null,"at":"2026-11-01T00:00:00Z"},"b":{"state":"failed","reason":"x","attempts":1}}}"#;
    let i: Item = serde_json::from_str(old).unwrap();
    assert!(matches!(
        i.deliveries["a"],
        DeliveryState::Published { path: None, .. }
    ));
}

#[tokio::test]
async fn csv_has_a_bom_and_the_field_names_and_json_round_trips() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let csv = report::render(&r, Format::Csv).unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "no BOM");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "unit,account,org,level,parent,posts,auto,manual,broadcast,active_days,longest_gap_days,last_post,days_silent,verdict,held,rejected,failed,median_delay_mins,broadcasts_asked,broadcasts_carried,max_silence_days,platform"
    );
    let prov = lines.find(|l| l.starts_with("prov,")).unwrap();
    assert_eq!(
        prov,
        "prov,示例省科协,示例省科学技术协会,provincial,cast,4,2,1,1,3,14,2026-11-30 20:00,0,合格,3,1,1,20,1,1,14,file"
    );
    let json = report::render(&r, Format::Json).unwrap();
    let back: Report = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["rows"][0]["verdict"], "合格");
    for f in report::csv::FIELDS {
        assert!(v["rows"][0].get(f).is_some(), "{f} missing in the JSON");
    }
}

#[tokio::test]
async fn the_xlsx_reads_back_with_rows_and_totals() {
    use calamine::{Data, Reader, Xlsx};
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let bytes = report::render(&r, Format::Xlsx).unwrap();
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names(), ["账号", "汇总"]);
    let rows = wb.worksheet_range("账号").unwrap();
    assert_eq!(rows.height(), 8);
    assert_eq!(rows.get((0, 0)), Some(&Data::String("单位ID".into())));
    let prov = rows
        .rows()
        .find(|r| r[0] == Data::String("prov".into()))
        .unwrap();
    assert_eq!(prov[1], Data::String("示例省科协".into()));
    assert_eq!(prov[3], Data::String("省级".into()));
    assert_eq!(prov[5], Data::Float(4.0));
    assert_eq!(prov[13], Data::String("合格".into()));
    let county = rows
        .rows()
        .find(|r| r[0] == Data::String("county".into()))
        .unwrap();
    assert_eq!(county[11], Data::Empty, "never posted: no last post");
    let totals = wb.worksheet_range("汇总").unwrap();
    let all = totals
        .rows()
        .find(|r| r[0] == Data::String("合计".into()))
        .unwrap();
    assert_eq!(all[1], Data::Float(7.0));
    assert_eq!(all[4], Data::Float(2.0));
    match &all[5] {
        Data::Float(f) => assert!((f - 5.0 / 7.0).abs() < 1e-9),
        other => panic!("pass rate {other:?}"),
    }
}

#[tokio::test]
async fn the_html_is_self_contained_with_charts_and_failing_accounts_first() {
    let (_d, config, store) = world().await;
    let r = build(&config, &store, None);
    let html = String::from_utf8(report::render(&r, Format::Html).unwrap()).unwrap();
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("src=\"http"),
        "nothing loaded from elsewhere"
    );
    assert_eq!(html.matches("<svg").count(), 3, "three inline charts");
    assert!(html.contains("@page{size:A4"));
    assert!(html.contains("统计期间：2026-11-01 至 2026-11-30"));
    let flagged = html.find("不合格与预警账号（4）").unwrap();
    let all = html.find("全部账号（7）").unwrap();
    // 不合格 before 预警 in the flagged table, and it comes first.
    let first_fail = html[flagged..].find("丙县科学技术协会").unwrap();
    let first_warn = html[flagged..].find("乙市科学技术协会").unwrap();
    assert!(flagged < all && first_fail < first_warn);
}

/// The store as the CLI finds it: built, then closed.
async fn cli_world(listen: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), listen);
    let store = Store::open(&config.daemon.state_dir).unwrap();
    build_world(&store, &config).await;
    store.flush().await.unwrap();
    drop(store);
    dir
}

#[tokio::test]
async fn the_command_writes_each_format_from_the_store() {
    let listen = common::free_addr().to_string();
    let dir = cli_world(&listen).await;
    let cfg = dir.path().join("autosync.toml");
    for (format, check) in [
        ("json", b"{".as_slice()),
        ("csv", b"\xEF\xBB\xBF".as_slice()),
        ("xlsx", b"PK".as_slice()),
        ("html", b"<!DOCTYPE html>".as_slice()),
    ] {
        let out = dir.path().join(format!("r.{format}"));
        let o = assert_cmd::Command::cargo_bin("autosync")
            .unwrap()
            .args(["report", "-c"])
            .arg(&cfg)
            .args([
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
                "--unit",
                "prov",
                "--format",
                format,
                "-o",
            ])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{format}: {err}");
        assert!(err.contains("from the store at"), "{err}");
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.starts_with(check), "{format}");
    }
    let json: Report =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(json.rows.len(), 5, "prov and its subtree");
    assert_eq!(row(&json, "city").verdict, Verdict::Fail);
}

#[tokio::test]
async fn the_command_refuses_bad_dates_and_unknown_units_with_exit_2() {
    let listen = common::free_addr().to_string();
    let dir = cli_world(&listen).await;
    let cfg = dir.path().join("autosync.toml");
    for (args, says) in [
        (
            vec!["--from", "2026-11-31", "--to", "2026-11-30"],
            "--from \"2026-11-31\"",
        ),
        (vec!["--from", "2026-11-30", "--to", "2026-11-01"], "before"),
        (
            vec![
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
                "--unit",
                "nope",
            ],
            "no unit \"nope\"",
        ),
    ] {
        let o = assert_cmd::Command::cargo_bin("autosync")
            .unwrap()
            .args(["report", "-c"])
            .arg(&cfg)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Wall time pinned at [`now`].
struct Fixed;

impl autosync::clock::Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// The world behind a running HTTP endpoint (the daemon's router, with the
/// store held open as the daemon holds it).
async fn served_world() -> (tempfile::TempDir, std::net::SocketAddr) {
    use autosync::admin::{Service, router};
    use std::sync::{Arc, RwLock};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &addr.to_string());
    let ctx =
        autosync::pipeline::Context::open(&config, Arc::new(Fixed), Default::default()).unwrap();
    build_world(&ctx.store, &config).await;
    let outboxes = Arc::new(autosync::outbox::Outboxes::new(
        ctx.clone(),
        config.daemon.timezone,
        None,
    ));
    let service = Service {
        ctx,
        config: Arc::new(RwLock::new(Arc::new(config))),
        metrics: Default::default(),
        sessions: Default::default(),
        outboxes,
        wakers: Default::default(),
    };
    tokio::spawn(async move { axum::serve(listener, router(service)).await });
    (dir, addr)
}

/// Log in to the desk with `token`: the session cookie.
async fn login(http: &reqwest::Client, addr: std::net::SocketAddr, token: &str) -> String {
    let resp = common::desk_login(http, &format!("http://{addr}"), token).await;
    common::session_cookie(&resp).expect("logged in")
}

const NOV: &str = "from=2026-11-01&to=2026-11-30";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_report_page_and_downloads_keep_to_the_editors_units() {
    let (_dir, addr) = served_world().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: String, cookie: Option<String>| {
        let mut rb = http.get(format!("http://{addr}{path}"));
        if let Some(c) = cookie {
            rb = rb.header(reqwest::header::COOKIE, c);
        }
        rb.send()
    };
    // Not logged in: to the login page.
    let r = get(format!("/desk/report?{NOV}"), None).await.unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/desk/login");

    let all = login(&http, addr, ALL).await;
    let page = get(format!("/desk/report?{NOV}"), Some(all.clone()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("报表（通报）"), "{page}");
    assert!(
        page.contains(
            "/desk/report/file?from=2026-11-01&amp;to=2026-11-30&amp;format=xlsx&amp;download=1"
        ),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"/desk/report\">报表</a>"),
        "the nav link"
    );
    let csv = get(
        format!("/desk/report/file?{NOV}&format=csv&download=1"),
        Some(all.clone()),
    )
    .await
    .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(
        csv.headers()["content-disposition"],
        "attachment; filename=\"autosync-report-all-2026-11-01-2026-11-30.csv\""
    );
    let body = csv.bytes().await.unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(String::from_utf8_lossy(&body).lines().count(), 8);
    // A bad period is said on the page, in place of the report.
    let bad = get(
        "/desk/report?from=2026-11-30&to=2026-11-01".into(),
        Some(all.clone()),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(bad.contains("is before --from"), "{bad}");
    assert!(!bad.contains("<iframe"));

    // The city's editor sees the city's subtree only.
    let city = login(&http, addr, CITY).await;
    let json: Report = get(
        format!("/desk/report/file?{NOV}&format=json"),
        Some(city.clone()),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let units: Vec<&str> = json.rows.iter().map(|r| r.unit.as_str()).collect();
    assert_eq!(units, ["city", "county", "county2"]);
    let page = get(format!("/desk/report?{NOV}"), Some(city.clone()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("value=\"prov\""),
        "the province is not offered"
    );
    let r = get(
        format!("/desk/report/file?{NOV}&unit=prov&format=json"),
        Some(city),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
}

/// `autosync report -c DIR/autosync.toml ARGS`, run off the async threads
/// (the served world answers meanwhile).
async fn report_via(dir: &tempfile::TempDir, args: &[&str]) -> std::process::Output {
    let cfg = dir.path().join("autosync.toml");
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("autosync")
            .unwrap()
            .args(["report", "-c"])
            .arg(&cfg)
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_asks_the_running_daemon_which_holds_the_store() {
    let (dir, _addr) = served_world().await;
    let out = report_via(
        &dir,
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--format",
            "json",
        ],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("from the running daemon"), "{err}");
    let r: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r.rows.len(), 7);
    assert_eq!(row(&r, "prov").posts, 4);
}

/// The report in a real browser (Debian's headless Chromium): the desk's
/// 报表 page and the HTML report itself, its charts drawn. With
/// `AUTOSYNC_SCREENSHOTS=DIR`, screenshots for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_opens_in_chromium_on_the_desk_and_as_a_page() {
    use fantoccini::Locator;
    let Some(driver) = common::chromedriver_or_skip() else {
        return;
    };
    let (_dir, addr) = served_world().await;
    let browser = common::Browser::start(&driver, 1100, 1500).await;
    let c = &browser.client;
    let base = format!("http://{addr}");
    c.goto(&format!("{base}/desk/login")).await.unwrap();
    c.find(Locator::Css("input[name=token]"))
        .await
        .unwrap()
        .send_keys(ALL)
        .await
        .unwrap();
    c.form(Locator::Css("form[action='/desk/login']"))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    common::until(c, "编辑：总台编辑").await.unwrap();
    c.find(Locator::LinkText("报表"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    common::until(c, "报表（通报）").await.unwrap();
    // The form, filled with the period, generates the report in the frame.
    c.goto(&format!("{base}/desk/report?{NOV}&unit=prov"))
        .await
        .unwrap();
    common::until(c, "<iframe").await.unwrap();
    common::shot(c, "desk-report.png").await;

    c.goto(&format!("{base}/desk/report/file?{NOV}&format=html"))
        .await
        .unwrap();
    let page = common::until(c, "不合格与预警账号（4）").await.unwrap();
    assert!(page.contains("示例省科学技术协会"));
    let charts = c.find_all(Locator::Css("figure svg")).await.unwrap();
    assert_eq!(charts.len(), 3);
    for svg in &charts {
        let (_, _, w, h) = svg.rectangle().await.unwrap();
        assert!(w > 200.0 && h > 100.0, "a chart drawn at {w}×{h}");
    }
    // The heat map's cells: one per account and week, the busy ones with
    // their count.
    let cells = c
        .find_all(Locator::Css("figure:last-of-type svg rect"))
        .await
        .unwrap();
    assert!(cells.len() >= 7 * 5, "{} cells", cells.len());
    common::shot(c, "report.png").await;
    // It prints on A4: a PDF of A4 pages, and nothing wider than A4's
    // text width (190 mm, 718 px) at screen size already.
    let pdf = c
        .print(fantoccini::wd::PrintConfiguration::default())
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    if let Ok(dir) = std::env::var("AUTOSYNC_SCREENSHOTS") {
        std::fs::write(std::path::Path::new(&dir).join("report.pdf"), &pdf).unwrap();
    }
    c.set_window_size(760, 1000).await.unwrap();
    let inner = c
        .execute("return window.innerWidth", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    let wide = c
        .execute("return document.documentElement.scrollWidth", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(
        wide <= inner,
        "the page is {wide} px wide in a {inner} px window"
    );
    let _ = c.clone().close().await;
}

/// A unit with two accounts: a row each, each with its own posts, failures
/// and verdict (one account's post does not pass the other).
#[tokio::test]
async fn each_account_of_a_unit_has_its_own_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("autosync.toml");
    std::fs::write(
        &path,
        r#"[daemon]
state_dir = "state"
listen = "127.0.0.1:9"

[[unit]]
id = "m"
account_name = "甲号"
org_name = "双号单位"
level = "city"
site = "http://127.0.0.1:9/m/"
  [[unit.source]]
  feed = "http://127.0.0.1:9/m/rss.xml"
  [[unit.publisher]]
  kind = "file"
  dir = "out/a"
  [[unit.publisher]]
  kind = "webhook"
  url = "http://127.0.0.1:9/in"
  secret_file = "hook-secret"
  account_name = "乙号"
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("hook-secret"), "s3cret-s3cret-s3cret").unwrap();
    let config = autosync::config::load(&path).unwrap();
    let store = Store::open(&config.daemon.state_dir).unwrap();
    let mut b = Builder {
        store: &store,
        config: &config,
        n: 0,
    };
    let accounts = b.accounts("m");
    assert_eq!(accounts, ["甲号", "乙号"]);
    let i = b.item("m", "feed:x", nov(10, 8), State::Queued).await;
    for (account, step) in [
        (
            "甲号",
            DeliveryStep::Published {
                remote_id: "1".into(),
                remote_url: None,
                notes: vec![],
            },
        ),
        (
            "乙号",
            DeliveryStep::Fail {
                reason: "refused".into(),
            },
        ),
    ] {
        store
            .take(&i.id, account, &accounts, nov(10, 9), PublishPath::Auto)
            .await
            .unwrap();
        store
            .deliver(&i.id, account, &accounts, nov(10, 9), step)
            .await
            .unwrap();
    }
    let r = build(&config, &store, None);
    assert_eq!(r.rows.len(), 2);
    let a = &r.rows[0];
    let b = &r.rows[1];
    assert_eq!((a.account.as_str(), a.posts, a.failed), ("甲号", 1, 0));
    assert_eq!((b.account.as_str(), b.posts, b.failed), ("乙号", 0, 1));
    // 甲号: Nov 10 → 30 is 20 days; 乙号 never posted, first polled on the
    // 10th: 20 days silent. Both fail, for their own reasons.
    assert_eq!(a.longest_gap_days, Some(20));
    assert_eq!(b.last_post, None);
    assert_eq!(b.days_silent, Some(20));
    assert_eq!((a.verdict, b.verdict), (Verdict::Fail, Verdict::Fail));
    assert_eq!(r.all.accounts, 2);
    // Totals per platform: one account each.
    let p: Vec<(&str, u32, u32)> = r
        .platforms
        .iter()
        .map(|t| (t.group.as_str(), t.accounts, t.fail))
        .collect();
    assert_eq!(p, [("file", 1, 1), ("webhook", 1, 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refuses_a_period_after_today_as_the_store_does() {
    let (dir, _addr) = served_world().await;
    // "Today" is the daemon's: 5 December 2026.
    let out = report_via(&dir, &["--from", "2026-12-06", "--to", "2026-12-31"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--from 2026-12-06 is after today"), "{err}");
}
