//! The desk's irreversible actions in two steps, body editing, undoing a
//! reject, and the API's coded Chinese errors — against the sample site
//! served locally and accounts that publish to files (what the file
//! "platform" receives is what was published).

use autosync::clock::Clock;
use autosync::config::{Config, Editor};
use autosync::desk::confirm::AWAITING_CONFIRM;
use autosync::desk::{DeliveryOutcome, Desk, ErrorCode};
use autosync::pipeline::Context;
use autosync::secret::Secret;
use autosync::store::{Item, State};
use chrono::{DateTime, Duration, Utc};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Wall time that moves only when told.
struct Manual(Mutex<DateTime<Utc>>);

impl Clock for Manual {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl Manual {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

struct Bench {
    dir: tempfile::TempDir,
    ctx: Context,
    desk: Desk,
    editor: Editor,
    clock: Arc<Manual>,
    site: std::net::SocketAddr,
    _shutdown: CancellationToken,
}

/// The config: a province and its city (and, with `county`, a county under
/// the province), each publishing to a directory of its own.
fn config(dir: &Path, site: std::net::SocketAddr, county: bool) -> Config {
    let unit = |id: &str, name: &str, level: &str, parent: &str| {
        format!(
            "[[unit]]\nid = \"{id}\"\naccount_name = \"{name}\"\norg_name = \"{name}科学技术协会\"\nlevel = \"{level}\"\n{parent}site = \"http://{site}/\"\n  [[unit.source]]\n  list = \"http://{site}/xwzx/\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out-{id}\"\n\n"
        )
    };
    let mut text = format!(
        "[daemon]\nstate_dir = \"state\"\nundo_reject_days = 3\n\n[fetch]\nhost_delay_ms = 0\n\n{}{}",
        unit("prov", "示例省科协", "provincial", ""),
        unit("city", "示例市科协", "city", "parent = \"prov\"\n"),
    );
    if county {
        text.push_str(&unit(
            "county",
            "示例县科协",
            "county",
            "parent = \"prov\"\n",
        ));
    }
    autosync::config::parse(&text, &dir.join("autosync.toml")).unwrap()
}

async fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = listener.local_addr().unwrap();
    let sample = autosync::demo::SampleSite::new();
    let sd = shutdown.clone();
    tokio::spawn(async move { sample.serve(listener, sd).await });
    let cfg = Arc::new(config(dir.path(), site, false));
    let clock = Arc::new(Manual(Mutex::new(Utc::now())));
    let ctx = Context::open(&cfg, clock.clone(), shutdown.clone()).unwrap();
    let desk = Desk::new(ctx.clone(), cfg.clone());
    Bench {
        dir,
        ctx,
        desk,
        editor: Editor {
            name: "王编辑".into(),
            token: Secret::new("0123456789abcdef0123"),
            units: None,
            role: Default::default(),
        },
        clock,
        site,
        _shutdown: shutdown,
    }
}

impl Bench {
    fn article(&self, n: usize) -> String {
        format!(
            "http://{}{}",
            self.site,
            autosync::demo::LIST_ARTICLES[n].path
        )
    }

    /// A queued item of `unit` with a body of three paragraphs.
    async fn queued(&self, unit: &str, path: &str) -> Item {
        let url = format!("http://{}{path}", self.site);
        let item = Item {
            title: "科技工作者日座谈会召开".into(),
            html: "<p>第一段：座谈会在省科技馆召开。</p><p>联系电话：0571-12345678</p><p>第三段：与会代表踊跃发言。</p>".into(),
            text: "第一段：座谈会在省科技馆召开。\n联系电话：0571-12345678\n第三段：与会代表踊跃发言。".into(),
            fingerprint: Some(format!("fp-{path}")),
            ..Item::new(unit, &url, "list:x", self.clock.now(), State::Queued)
        };
        let ids = [url, format!("fp:fp-{path}")];
        self.ctx.store.insert_new(&item, &ids).await.unwrap();
        self.ctx.store.flush().await.unwrap();
        item
    }

    /// What the unit's account received.
    fn posts(&self, unit: &str) -> Vec<serde_json::Value> {
        let Ok(rd) = std::fs::read_dir(self.dir.path().join(format!("out-{unit}"))) else {
            return vec![];
        };
        rd.filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "json")
                .then(|| serde_json::from_slice(&std::fs::read(p).ok()?).ok())?
        })
        .collect()
    }

    fn state(&self, id: &str) -> State {
        self.ctx.store.record(id).unwrap().unwrap().state
    }
}

#[tokio::test]
async fn a_hand_push_is_not_published_until_confirmed_and_a_replayed_confirm_publishes_once() {
    let b = bench().await;
    let p = b
        .desk
        .push_preview(&b.editor, &b.article(0), "city", false)
        .await
        .unwrap();
    assert_eq!(p.accounts, vec!["示例市科协".to_string()]);
    assert!(!p.html.is_empty());
    assert!(b.posts("city").is_empty(), "published before the confirm");
    assert_eq!(
        b.state(&p.preview),
        State::Held {
            reason: AWAITING_CONFIRM.into()
        }
    );
    // The preview the item page shows is the stored item's.
    let item = b.desk.item(&b.editor, &p.preview).unwrap();
    let shown = autosync::desk::preview::render(
        b.desk.config.unit("city").map(|u| &**u),
        &item,
        b.desk.config.daemon.timezone,
    );
    assert!(shown.contains(&p.title.replace('"', "&quot;")), "{shown}");
    // A double click: two confirms at once publish once.
    let (x, y) = tokio::join!(
        b.desk.push_confirm(&b.editor, &p.preview, Some(&p.version)),
        b.desk.push_confirm(&b.editor, &p.preview, Some(&p.version)),
    );
    let (ok, err) = match (x, y) {
        (Ok(ds), Err(e)) | (Err(e), Ok(ds)) => (ds, e),
        (x, y) => panic!("one confirm must win, one lose: {x:?} {y:?}"),
    };
    assert_eq!(ok[0].outcome, DeliveryOutcome::Published, "{ok:?}");
    assert_eq!(err.code(), ErrorCode::WrongState, "{err}");
    // A replayed confirm later: refused, in Chinese; still one post.
    let e = b
        .desk
        .push_confirm(&b.editor, &p.preview, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongState);
    assert!(e.to_string().contains("不是待确认的推送"), "{e}");
    assert_eq!(b.posts("city").len(), 1);
    // Pushing the same article again is a duplicate, said by name.
    let e = b
        .desk
        .push_preview(&b.editor, &b.article(0), "city", false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Duplicate);
    assert!(e.to_string().contains("示例市科协"), "{e}");
}

#[tokio::test]
async fn a_cancelled_push_is_never_published_and_an_empty_account_choice_is_refused() {
    let b = bench().await;
    let e = b
        .desk
        .push_preview(&b.editor, &b.article(1), "", false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadInput);
    assert!(e.to_string().contains("请选择"), "{e}");
    let p = b
        .desk
        .push_preview(&b.editor, &b.article(1), "city", false)
        .await
        .unwrap();
    // Approving the preview would skip the confirm: refused.
    let e = b.desk.approve(&b.editor, &p.preview).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongState, "{e}");
    assert!(e.to_string().contains("确认推送"), "{e}");
    b.desk.push_cancel(&b.editor, &p.preview).await.unwrap();
    let e = b
        .desk
        .push_confirm(&b.editor, &p.preview, Some(&p.version))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongState, "{e}");
    assert!(b.posts("city").is_empty());
}

#[tokio::test]
async fn a_confirm_is_refused_when_the_item_changed_after_its_preview() {
    let b = bench().await;
    let p = b
        .desk
        .push_preview(&b.editor, &b.article(2), "city", false)
        .await
        .unwrap();
    b.clock.advance(Duration::seconds(5));
    b.desk
        .edit_body(&b.editor, &p.preview, "只留一段。")
        .await
        .unwrap();
    let e = b
        .desk
        .push_confirm(&b.editor, &p.preview, Some(&p.version))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Stale, "{e}");
    assert!(b.posts("city").is_empty());
    // Seen again, it goes out: the edited version.
    let again = b
        .desk
        .push_preview_of(&b.desk.item(&b.editor, &p.preview).unwrap());
    assert!(again.html.contains("只留一段。"), "{}", again.html);
    b.desk
        .push_confirm(&b.editor, &p.preview, Some(&again.version))
        .await
        .unwrap();
    let posts = b.posts("city");
    assert_eq!(posts.len(), 1);
    assert!(posts[0]["html"].as_str().unwrap().contains("只留一段。"));
}

#[tokio::test]
async fn the_edited_body_is_what_the_platform_receives_and_is_audited() {
    let b = bench().await;
    let item = b.queued("prov", "/a/edit.html").await;
    let text = autosync::desk::body::as_text(&b.desk.item(&b.editor, &item.id).unwrap());
    assert!(text.contains("联系电话"), "{text}");
    let edited: String = text
        .lines()
        .filter(|l| !l.contains("联系电话"))
        .collect::<Vec<_>>()
        .join("\n");
    let after = b
        .desk
        .edit_body(&b.editor, &item.id, &edited)
        .await
        .unwrap();
    assert!(!after.html.contains("12345678"));
    // The preview is the edited version.
    let shown = autosync::desk::preview::render(
        b.desk.config.unit("prov").map(|u| &**u),
        &b.desk.item(&b.editor, &item.id).unwrap(),
        b.desk.config.daemon.timezone,
    );
    assert!(
        !shown.contains("12345678") && shown.contains("第三段"),
        "{shown}"
    );
    let ds = b.desk.push_now(&b.editor, &item.id).await.unwrap();
    assert_eq!(ds[0].outcome, DeliveryOutcome::Published, "{ds:?}");
    let posts = b.posts("prov");
    let html = posts[0]["html"].as_str().unwrap();
    assert!(!html.contains("12345678"), "{html}");
    assert!(html.contains("第一段") && html.contains("第三段"), "{html}");
    let log = b.ctx.store.audit_of(&item.id).unwrap();
    let edit = log
        .iter()
        .find(|e| e.action == autosync::store::AuditAction::EditBody)
        .unwrap();
    assert!(edit.before.as_deref().unwrap().contains("联系电话"));
    assert!(!edit.after.as_deref().unwrap().contains("联系电话"));
    // Published: no more edits.
    let e = b
        .desk
        .edit_body(&b.editor, &item.id, "再改")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongState, "{e}");
}

#[tokio::test]
async fn a_broadcast_confirm_is_refused_after_the_subtree_changed() {
    let b = bench().await;
    let origin = b.queued("prov", "/a/bc.html").await;
    let plan = b
        .desk
        .broadcast_plan(&b.editor, &origin.id, "prov")
        .unwrap();
    assert_eq!(plan.rows.len(), 2, "{plan:?}");
    assert!(plan.may_confirm());
    // A county joins the province's subtree before the confirm.
    let grown = Arc::new(config(b.dir.path(), b.site, true));
    let desk = Desk::new(b.ctx.clone(), grown);
    let e = desk
        .broadcast(&b.editor, &origin.id, "prov", &plan.digest)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Stale, "{e}");
    assert!(e.to_string().contains("请重新查看"), "{e}");
    assert!(b.posts("county").is_empty() && b.posts("city").is_empty());
    // Shown the new list, the confirm goes out to all three.
    let plan = desk.broadcast_plan(&b.editor, &origin.id, "prov").unwrap();
    assert_eq!(plan.rows.len(), 3);
    let ds = desk
        .broadcast(&b.editor, &origin.id, "prov", &plan.digest)
        .await
        .unwrap();
    assert_eq!(
        ds.iter()
            .filter(|d| d.outcome == DeliveryOutcome::Published)
            .count(),
        3,
        "{ds:?}"
    );
    // Now every unit has it: the plan says so, and nothing can be confirmed.
    let plan = desk.broadcast_plan(&b.editor, &origin.id, "prov").unwrap();
    assert!(
        plan.rows
            .iter()
            .all(|r| r.step == autosync::desk::confirm::PlanStep::Has)
    );
    assert!(!plan.may_confirm());
}

#[tokio::test]
async fn undoing_a_reject_is_refused_after_undo_reject_days() {
    let b = bench().await;
    let item = b.queued("city", "/a/undo.html").await;
    b.desk
        .reject(&b.editor, &item.id, "重复稿件")
        .await
        .unwrap();
    b.clock.advance(Duration::days(3) - Duration::hours(1));
    let back = b.desk.unreject(&b.editor, &item.id).await.unwrap();
    assert!(matches!(back.state, State::Held { .. }), "{:?}", back.state);
    let log = b.ctx.store.audit_of(&item.id).unwrap();
    assert_eq!(log[0].action, autosync::store::AuditAction::Unreject);
    // Held again: it needs approving; reject it again and wait N+1 days.
    b.desk
        .reject(&b.editor, &item.id, "确认不发")
        .await
        .unwrap();
    b.clock.advance(Duration::days(4));
    let e = b.desk.unreject(&b.editor, &item.id).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Expired, "{e}");
    assert!(e.to_string().contains("已超过 3 天"), "{e}");
    assert!(matches!(b.state(&item.id), State::Rejected { .. }));
}

#[tokio::test]
async fn titles_and_reasons_with_control_characters_are_refused() {
    let b = bench().await;
    let item = b.queued("city", "/a/ctl.html").await;
    let e = b
        .desk
        .edit_title(&b.editor, &item.id, "标题\u{0}后半")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadInput);
    let e = b
        .desk
        .reject(&b.editor, &item.id, "理由\n第二行")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("控制字符"), "{e}");
    assert_eq!(b.state(&item.id), State::Queued);
}

#[tokio::test]
async fn api_errors_answer_a_code_and_a_chinese_message() {
    let b = bench().await;
    let mut cfg = (*b.desk.config).clone();
    cfg.daemon.editors_file = Some(b.dir.path().join("editors.toml"));
    cfg.editors.push(b.editor.clone());
    let service = autosync::admin::Service {
        ctx: b.ctx.clone(),
        config: Arc::new(std::sync::RwLock::new(Arc::new(cfg))),
        metrics: Default::default(),
        sessions: Default::default(),
        outboxes: b.desk.outboxes.clone(),
        wakers: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(autosync::admin::serve(listener, service));
    let client = reqwest::Client::new();
    let auth = "Bearer 0123456789abcdef0123";
    let answer = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap();
        (status, v)
    };
    let zh = |v: &serde_json::Value| {
        let m = v["message"].as_str().unwrap().to_string();
        assert!(
            m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "not Chinese: {m}"
        );
        m
    };
    let (st, v) = answer(
        client
            .get(format!("{base}/api/items/nope"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
    zh(&v);
    let (st, v) = answer(
        client
            .get(format!("{base}/api/items/no-such-item"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (404, Some("not_found")), "{v}");
    zh(&v);
    let item = b.queued("city", "/a/api.html").await;
    let (st, v) = answer(
        client
            .post(format!("{base}/api/items/{}/approve", item.id))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (409, Some("wrong_state")), "{v}");
    assert!(zh(&v).contains("待发布"), "{v}");
    let (st, v) = answer(
        client
            .post(format!("{base}/api/push/preview"))
            .header("Authorization", auth)
            .json(&serde_json::json!({ "url": "not a url", "unit": "city" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (400, Some("bad_input")), "{v}");
    zh(&v);
    // The two steps over the API: preview, then the confirm publishes.
    let (st, p) = answer(
        client
            .post(format!("{base}/api/push/preview"))
            .header("Authorization", auth)
            .json(&serde_json::json!({ "url": b.article(0), "unit": "city" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{p}");
    assert!(b.posts("city").is_empty());
    let confirm = serde_json::json!({ "preview": p["preview"], "version": p["version"] });
    for expect in [200, 409] {
        let (st, v) = answer(
            client
                .post(format!("{base}/api/push"))
                .header("Authorization", auth)
                .json(&confirm)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, expect, "{v}");
    }
    assert_eq!(b.posts("city").len(), 1);
}
