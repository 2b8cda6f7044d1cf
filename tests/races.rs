//! Races between the paths that act on one item — the publish worker, a
//! fetch retry, an editor — made deterministic: the code under test stops at
//! a pause point (`autosync::hooks`) while the other side acts, then goes
//! on. No sleeps. In each, the loser gets a clear refusal, nothing is
//! overwritten, and nothing is published twice or against a decision.

use autosync::config::{Config, Editor};
use autosync::desk::{DeliveryOutcome, Desk, DeskError};
use autosync::hooks::{Hooks, Point};
use autosync::outbox::{Outboxes, Sent};
use autosync::pipeline::{Context, UnitReport};
use autosync::secret::Secret;
use autosync::store::{Item, Stage, State, StateName};
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

struct Bench {
    dir: tempfile::TempDir,
    cfg: Arc<Config>,
    ctx: Context,
    outboxes: Arc<Outboxes>,
    desk: Desk,
    editor: Editor,
    site: std::net::SocketAddr,
    _shutdown: CancellationToken,
}

/// Two units (a province and its city), each publishing to a directory of
/// its own, over the sample site served locally.
async fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = listener.local_addr().unwrap();
    let sample = autosync::demo::SampleSite::new();
    let sd = shutdown.clone();
    tokio::spawn(async move { sample.serve(listener, sd).await });
    let unit = |id: &str, name: &str, level: &str, parent: &str| {
        format!(
            "[[unit]]\nid = \"{id}\"\naccount_name = \"{name}\"\norg_name = \"{name}科学技术协会\"\nlevel = \"{level}\"\n{parent}site = \"http://{site}/\"\n  [[unit.source]]\n  list = \"http://{site}/xwzx/\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out-{id}\"\n\n"
        )
    };
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\n\n[fetch]\nhost_delay_ms = 0\n\n{}{}",
        unit("prov", "示例省科协", "provincial", ""),
        unit("city", "示例市科协", "city", "parent = \"prov\"\n"),
    );
    let cfg = Arc::new(autosync::config::parse(&text, &dir.path().join("autosync.toml")).unwrap());
    let mut ctx = Context::open(
        &cfg,
        Arc::new(autosync::clock::SystemClock),
        shutdown.clone(),
    )
    .unwrap();
    ctx.hooks = Hooks::armable();
    let outboxes = Arc::new(Outboxes::new(ctx.clone(), cfg.daemon.timezone, None));
    // As in the daemon: the desk sends through the workers' outboxes.
    let mut desk = Desk::new(ctx.clone(), cfg.clone());
    desk.outboxes = outboxes.clone();
    Bench {
        dir,
        cfg,
        ctx,
        outboxes,
        desk,
        editor: Editor {
            name: "王编辑".into(),
            token: Secret::new("0123456789abcdef0123"),
            units: None,
            role: Default::default(),
        },
        site,
        _shutdown: shutdown,
    }
}

impl Bench {
    /// A queued item of `unit` with a body, at `path` on the sample site.
    async fn queued(&self, unit: &str, path: &str, title: &str) -> Item {
        let url = format!("http://{}{path}", self.site);
        let item = Item {
            title: title.into(),
            html: "<p>科普活动在全省各地展开，广大市民踊跃参加。</p>".into(),
            text: "科普活动在全省各地展开，广大市民踊跃参加。".into(),
            fingerprint: Some(format!("fp-{title}")),
            ..Item::new(unit, &url, "list:x", Utc::now(), State::Queued)
        };
        let ids = [url, format!("fp:fp-{title}")];
        self.ctx.store.insert_new(&item, &ids).await.unwrap();
        self.ctx.store.flush().await.unwrap();
        item
    }

    fn posts(&self, unit: &str) -> Vec<serde_json::Value> {
        let dir = self.cfg.unit(unit).map(|_| out_dir(self.dir.path(), unit));
        let Some(Ok(rd)) = dir.map(std::fs::read_dir) else {
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

    /// The unit's worker taking one step, in a task of its own.
    fn worker_step(&self, unit: &str) -> tokio::task::JoinHandle<Sent> {
        let outbox = self.outboxes.get(self.cfg.unit(unit).unwrap(), 0);
        tokio::spawn(async move { outbox.next().await.unwrap() })
    }
}

fn out_dir(base: &Path, unit: &str) -> PathBuf {
    base.join(format!("out-{unit}"))
}

#[tokio::test]
async fn a_reject_during_a_fetch_retry_is_never_overwritten() {
    let b = bench().await;
    let path = autosync::demo::LIST_ARTICLES[0].path;
    let url = format!("http://{}{path}", b.site);
    // An article whose fetch failed and whose retry is due.
    let failed = Item::new(
        "prov",
        &url,
        "list:x",
        Utc::now(),
        State::Failed {
            stage: Stage::Fetch,
            reason: "HTTP 503".into(),
            attempts: 1,
            next_retry: Some(Utc::now() - chrono::Duration::seconds(1)),
        },
    );
    b.ctx
        .store
        .insert_new(&failed, std::slice::from_ref(&url))
        .await
        .unwrap();
    let gate = b.ctx.hooks.arm(Point::FetchRetryBeforeWrite);
    let (ctx, unit) = (b.ctx.clone(), b.cfg.unit("prov").unwrap().clone());
    let retry = tokio::spawn(async move {
        let mut r = UnitReport::default();
        autosync::ingest::retry_due_fetches(&ctx, &unit, &mut r).await;
        r
    });
    // The retry has the article in hand; the editor rejects meanwhile.
    gate.reached().await;
    b.desk
        .reject(&b.editor, &failed.id, "内容不宜发布")
        .await
        .unwrap();
    gate.release();
    let r = retry.await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(
        matches!(b.state(&failed.id), State::Rejected { ref reason } if reason == "内容不宜发布"),
        "{:?}",
        b.state(&failed.id)
    );
    // And the worker finds nothing to send.
    assert_eq!(b.worker_step("prov").await.unwrap(), Sent::Idle);
    assert!(b.posts("prov").is_empty());
}

#[tokio::test]
async fn an_approve_while_the_worker_sends_is_refused_and_posts_once() {
    let b = bench().await;
    let item = b.queued("prov", "/a/1.html", "全省科普日活动启动").await;
    let gate = b.ctx.hooks.arm(Point::OutboxBeforeSend);
    let worker = b.worker_step("prov");
    gate.reached().await;
    assert_eq!(b.state(&item.id).kind(), StateName::Publishing);
    // An editor acting on a stale page: the item is no longer held.
    let e = b.desk.approve(&b.editor, &item.id).await.unwrap_err();
    assert!(
        matches!(e, DeskError::Conflict(ref m) if m.contains("发布中")),
        "{e}"
    );
    gate.release();
    assert!(matches!(worker.await.unwrap(), Sent::Published { .. }));
    assert_eq!(b.posts("prov").len(), 1);
    assert_eq!(b.state(&item.id).kind(), StateName::Published);
}

#[tokio::test]
async fn a_push_now_while_the_worker_sends_is_refused_and_posts_once() {
    let b = bench().await;
    let item = b.queued("prov", "/a/2.html", "院士专家走进校园").await;
    let gate = b.ctx.hooks.arm(Point::OutboxBeforeSend);
    let worker = b.worker_step("prov");
    gate.reached().await;
    let e = b.desk.push_now(&b.editor, &item.id).await.unwrap_err();
    assert!(matches!(e, DeskError::Conflict(_)), "{e}");
    gate.release();
    assert!(matches!(worker.await.unwrap(), Sent::Published { .. }));
    assert_eq!(b.posts("prov").len(), 1);
}

#[tokio::test]
async fn a_worker_step_while_a_push_now_sends_waits_and_posts_nothing_twice() {
    let b = bench().await;
    let item = b
        .queued("prov", "/a/3.html", "青少年科技创新大赛举行")
        .await;
    let gate = b.ctx.hooks.arm(Point::OutboxBeforeSend);
    let desk = b.desk.clone();
    let (ed, id) = (b.editor.clone(), item.id.clone());
    let push = tokio::spawn(async move { desk.push_now(&ed, &id).await });
    gate.reached().await;
    // The worker wants the account too: it waits for the push's send.
    let worker = b.worker_step("prov");
    gate.release();
    let d = push.await.unwrap().unwrap().remove(0);
    assert_eq!(d.outcome, DeliveryOutcome::Published, "{d:?}");
    assert_eq!(worker.await.unwrap(), Sent::Idle);
    assert_eq!(b.posts("prov").len(), 1);
}

#[tokio::test]
async fn a_broadcast_while_the_worker_sends_skips_that_account_and_posts_once() {
    let b = bench().await;
    // The province's article, and the city already has it queued.
    let origin = b
        .queued("prov", "/a/4.html", "科技工作者日座谈会召开")
        .await;
    let city_copy = b
        .queued("city", "/a/4.html", "科技工作者日座谈会召开")
        .await;
    let gate = b.ctx.hooks.arm(Point::OutboxBeforeSend);
    let worker = b.worker_step("city");
    gate.reached().await;
    let plan = b
        .desk
        .broadcast_plan(&b.editor, &origin.id, "prov")
        .unwrap();
    let deliveries = b
        .desk
        .broadcast(&b.editor, &origin.id, "prov", &plan.digest)
        .await
        .unwrap();
    let city = deliveries.iter().find(|d| d.unit == "city").unwrap();
    assert_eq!(city.outcome, DeliveryOutcome::Skipped, "{deliveries:?}");
    assert!(city.detail.contains("发布中"), "{}", city.detail);
    let prov = deliveries.iter().find(|d| d.unit == "prov").unwrap();
    assert_eq!(prov.outcome, DeliveryOutcome::Published, "{deliveries:?}");
    gate.release();
    assert!(matches!(worker.await.unwrap(), Sent::Published { .. }));
    assert_eq!(b.posts("city").len(), 1);
    assert_eq!(b.posts("prov").len(), 1);
    assert_eq!(b.state(&city_copy.id).kind(), StateName::Published);
}

#[tokio::test]
async fn a_title_edit_while_publishing_is_refused_and_the_post_keeps_its_title() {
    let b = bench().await;
    let item = b.queued("prov", "/a/5.html", "全国科技活动周开幕").await;
    let gate = b.ctx.hooks.arm(Point::OutboxBeforeSend);
    let worker = b.worker_step("prov");
    gate.reached().await;
    let e = b
        .desk
        .edit_title(&b.editor, &item.id, "改过的标题")
        .await
        .unwrap_err();
    assert!(matches!(e, DeskError::Conflict(_)), "{e}");
    gate.release();
    assert!(matches!(worker.await.unwrap(), Sent::Published { .. }));
    let posts = b.posts("prov");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["title"], "全国科技活动周开幕");
    let rec = b.ctx.store.record(&item.id).unwrap().unwrap();
    assert_eq!(rec.title, "全国科技活动周开幕");
}

/// Editors may reject an item whatever became of its body file (it used
/// to fail with "corrupt record" and leave the item publishable).
#[tokio::test]
async fn a_reject_works_when_the_body_file_is_gone() {
    let b = bench().await;
    let item = b.queued("prov", "/a/6.html", "学会学术年会召开").await;
    std::fs::remove_dir_all(b.ctx.store.path().join("bodies")).unwrap();
    let shown = b.desk.item(&b.editor, &item.id).unwrap();
    assert!(
        shown.notes.iter().any(|n| n.contains("正文")),
        "{:?}",
        shown.notes
    );
    b.desk
        .reject(&b.editor, &item.id, "正文丢失，不发")
        .await
        .unwrap();
    assert_eq!(b.state(&item.id).kind(), StateName::Rejected);
    assert_eq!(b.worker_step("prov").await.unwrap(), Sent::Idle);
    assert!(b.posts("prov").is_empty());
}

/// An item whose outcome is unknown (a crash mid-publish) waits for its
/// lookup alone: the account's other items go out meanwhile.
#[tokio::test]
async fn an_unknown_outcome_holds_back_only_its_own_item() {
    let b = bench().await;
    let stuck = b.queued("prov", "/a/7.html", "未知结果的稿件").await;
    let now = Utc::now();
    b.ctx
        .store
        .transition(&stuck.id, &[StateName::Queued], now, |i| {
            i.state = State::Publishing { since: now };
            Ok(())
        })
        .await
        .unwrap();
    b.queued("prov", "/a/8.html", "排在后面的稿件一").await;
    b.queued("prov", "/a/9.html", "排在后面的稿件二").await;
    for _ in 0..2 {
        assert!(matches!(
            b.worker_step("prov").await.unwrap(),
            Sent::Published { .. }
        ));
    }
    assert_eq!(b.worker_step("prov").await.unwrap(), Sent::Idle);
    assert_eq!(b.posts("prov").len(), 2);
    // Within the grace period, not listed on the account: still waiting,
    // never sent blind.
    assert_eq!(b.state(&stuck.id).kind(), StateName::Publishing);
}

/// The binding is enforced: a publisher whose account is not the unit's
/// sends nothing, and the pause names both names.
#[tokio::test]
async fn credentials_of_another_account_pause_it_and_send_nothing() {
    let b = bench().await;
    b.queued("city", "/a/10.html", "市科协召开全委会议").await;
    // The city's dry-run publisher writes into the province's directory and
    // says it is the province's account.
    let mut unit = autosync::config::Unit::clone(b.cfg.unit("city").unwrap());
    unit.accounts[0].publisher = b.cfg.unit("prov").unwrap().accounts[0].publisher.clone();
    // A file publisher stands in for whatever account it is told: make it
    // the province's by building it for an account that says so.
    let mut impostor = unit.accounts[0].clone();
    impostor.name = "示例省科协".into();
    let publisher =
        autosync::publish::build::build_publisher(&unit, &impostor, &b.ctx.fetcher).unwrap();
    let outbox = autosync::outbox::Outbox::with_publisher(
        b.ctx.clone(),
        std::sync::Arc::new(unit),
        0,
        b.cfg.daemon.timezone,
        None,
        publisher,
    );
    match outbox.next().await.unwrap() {
        Sent::Paused(p) => {
            let why = p.reason.to_string();
            assert!(
                why.contains("示例省科协") && why.contains("示例市科协"),
                "{why}"
            );
        }
        other => panic!("sent anyway: {other:?}"),
    }
    assert!(b.posts("prov").is_empty());
    // Paused in the store too: the next process (`once`, a restart) knows.
    let st = b.ctx.store.account_state(outbox.account()).unwrap();
    assert!(st.paused.is_some(), "{st:?}");
}

/// Guards the last check before a post leaves: an item whose body is gone
/// (retention) or was never there is held for an editor, never sent as an
/// empty post.
#[tokio::test]
async fn an_item_without_a_body_is_held_not_published() {
    let b = bench().await;
    let url = format!("http://{}/a/11.html", b.site);
    let item = Item {
        title: "没有正文的稿件".into(),
        ..Item::new("prov", &url, "list:x", Utc::now(), State::Queued)
    };
    b.ctx
        .store
        .insert_new(&item, std::slice::from_ref(&url))
        .await
        .unwrap();
    match b.worker_step("prov").await.unwrap() {
        Sent::Held { reason, .. } => assert!(reason.contains("正文"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.state(&item.id).kind(), StateName::Held);
    assert!(b.posts("prov").is_empty());
}

/// An item the platform refused (failed for that account) goes out again
/// when an editor pushes it, after a fix; nothing else is sent twice.
#[tokio::test]
async fn an_editors_push_retries_an_account_that_refused_the_item() {
    let b = bench().await;
    let item = b.queued("prov", "/a/12.html", "被平台退回的稿件").await;
    let accounts = ["示例省科协".to_string()];
    let now = Utc::now();
    b.ctx
        .store
        .deliver(
            &item.id,
            &accounts[0],
            &accounts,
            now,
            autosync::store::DeliveryStep::Take,
        )
        .await
        .unwrap();
    b.ctx
        .store
        .deliver(
            &item.id,
            &accounts[0],
            &accounts,
            now,
            autosync::store::DeliveryStep::Fail {
                reason: "title too long".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(b.state(&item.id).kind(), StateName::Failed);
    // The worker leaves it alone.
    assert_eq!(b.worker_step("prov").await.unwrap(), Sent::Idle);
    let ds = b.desk.push_now(&b.editor, &item.id).await.unwrap();
    assert_eq!(ds[0].outcome, DeliveryOutcome::Published, "{ds:?}");
    assert_eq!(b.posts("prov").len(), 1);
    assert_eq!(b.state(&item.id).kind(), StateName::Published);
}
