use super::*;

fn item(unit: &str, url: &str) -> Item {
    Item {
        title: "标题".into(),
        ..Item::new(unit, url, "feed:x", Utc::now(), State::Queued)
    }
}

/// The one account `acc` takes `id` for publishing.
async fn take(s: &Store, id: &str, now: DateTime<Utc>) -> Result<Item, StoreError> {
    s.deliver(id, "acc", &["acc".to_string()], now, DeliveryStep::Take)
        .await
}

/// Move `id` from whatever state it is in to `state` through the
/// check-and-set (the tests' shortcut).
async fn move_to(s: &Store, id: &str, state: State, now: DateTime<Utc>) -> Item {
    s.transition(id, &StateName::ALL, now, |i| {
        i.state = state.clone();
        Ok(())
    })
    .await
    .unwrap()
}

/// A store holding one queued item with a body (`<p>正文</p>`).
async fn store_with_one_body() -> (tempfile::TempDir, Store, Item) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut a = item("u", "https://a.org/1");
    a.html = "<p>正文</p>".into();
    a.text = "正文".into();
    s.insert_new(&a, std::slice::from_ref(&a.url))
        .await
        .unwrap();
    (dir, s, a)
}

#[tokio::test]
async fn same_article_by_two_identities_is_one_item() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let a = item("u", "https://a.org/1.html");
    let ids = vec![a.url.clone(), "fp:abc".to_string()];
    assert_eq!(
        s.insert_new(&a, &ids).await.unwrap(),
        Inserted::New(a.id.clone())
    );
    let b = item("u", "https://a.org/other.html");
    let ids_b = vec![b.url.clone(), "fp:abc".to_string()];
    assert_eq!(
        s.insert_new(&b, &ids_b).await.unwrap(),
        Inserted::Known(a.id.clone())
    );
    // The second URL now leads to the first item, and no second item exists.
    assert_eq!(
        s.lookup("u", std::slice::from_ref(&b.url)).unwrap(),
        Some(a.id.clone())
    );
    assert_eq!(s.unit_counts("u").unwrap().values().sum::<usize>(), 1);
    // Another unit has its own namespace.
    let c = item("v", "https://a.org/1.html");
    assert!(matches!(
        s.insert_new(&c, std::slice::from_ref(&c.url))
            .await
            .unwrap(),
        Inserted::New(_)
    ));
}

#[tokio::test]
async fn a_state_change_keeps_the_body_without_rewriting_it() {
    let (_dir, s, a) = store_with_one_body().await;
    let record = s
        .trees()
        .unwrap()
        .items
        .get(a.id.as_bytes())
        .unwrap()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&record).contains("正文"),
        "body inside the record"
    );
    let now = Utc::now();
    let mut got = take(&s, &a.id, now).await.unwrap();
    s.load_body(&mut got).unwrap();
    assert_eq!(got.text, "正文");
    let got = move_to(&s, &a.id, State::Queued, now).await;
    assert_eq!(
        got.body_version,
        s.record(&a.id).unwrap().unwrap().body_version
    );
    assert_eq!(s.get(&a.id).unwrap().unwrap().text, "正文");
    assert_eq!(s.items_in("u", "queued").unwrap()[0].html, "<p>正文</p>");
}

/// A transition's change edits the record it is given; whatever the body
/// fields of the caller's world, the item keeps its body.
#[tokio::test]
async fn a_transition_keeps_the_body() {
    let (dir, s, a) = store_with_one_body().await;
    s.transition(&a.id, &[StateName::Queued], Utc::now(), |i| {
        i.title = "新标题".into();
        i.body_version = None;
        Ok(())
    })
    .await
    .unwrap();
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    let got = s.get(&a.id).unwrap().unwrap();
    assert_eq!((got.title.as_str(), got.text.as_str()), ("新标题", "正文"));
}

#[tokio::test]
async fn transition_with_body_replaces_the_body_file_and_removes_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut a = item("u", "https://a.org/1");
    a.text = "旧".into();
    s.insert_new(&a, std::slice::from_ref(&a.url))
        .await
        .unwrap();
    a.text = "新".into();
    s.transition_with_body(&a.id, &[StateName::Queued], Utc::now(), &a, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(s.get(&a.id).unwrap().unwrap().text, "新");
    let shard = dir.path().join("bodies").join(&a.id[..2]);
    let files: Vec<_> = std::fs::read_dir(&shard).unwrap().collect();
    assert_eq!(files.len(), 1, "old body file left: {files:?}");
    // Refused: the stored body stays, the new file goes.
    a.text = "第三版".into();
    let e = s
        .transition_with_body(&a.id, &[StateName::Failed], Utc::now(), &a, |_| Ok(()))
        .await
        .unwrap_err();
    assert!(e.is_refusal(), "{e}");
    assert_eq!(s.get(&a.id).unwrap().unwrap().text, "新");
    assert_eq!(std::fs::read_dir(&shard).unwrap().count(), 1);
    // Items without a body (the baseline) cost no file at all.
    let seen = Item::new("u", "https://a.org/2", "feed:x", Utc::now(), State::Seen);
    s.insert_new(&seen, std::slice::from_ref(&seen.url))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("bodies"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(s.get(&seen.id).unwrap().unwrap().html, "");
}

/// The check-and-set: a caller that expects another state than the
/// item's is refused and nothing is written; so is a move the table does
/// not allow, and a change that declines.
#[tokio::test]
async fn a_transition_from_the_wrong_state_or_against_the_table_writes_nothing() {
    let (_dir, s, a) = store_with_one_body().await;
    let now = Utc::now();
    let reject = |i: &mut Item| {
        i.state = State::Rejected {
            reason: "编辑驳回".into(),
        };
        Ok(())
    };
    s.transition(&a.id, &[StateName::Queued], now, reject)
        .await
        .unwrap();
    // A later writer that read the item while it was queued loses.
    let e = s
        .transition(&a.id, &[StateName::Queued, StateName::Failed], now, |i| {
            i.state = State::Queued;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            StoreError::Refused {
                state: StateName::Rejected,
                ..
            }
        ),
        "{e}"
    );
    // Out of a final state: refused by the table, whatever the caller says.
    let e = s
        .transition(&a.id, &StateName::ALL, now, |i| {
            i.state = State::Publishing { since: now };
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            StoreError::Illegal {
                from: StateName::Rejected,
                to: StateName::Publishing,
                ..
            }
        ),
        "{e}"
    );
    let e = s
        .transition(&a.id, &[StateName::Rejected], now, |_| Err("不要".into()))
        .await
        .unwrap_err();
    assert!(e.is_refusal(), "{e}");
    let got = s.record(&a.id).unwrap().unwrap();
    assert!(
        matches!(got.state, State::Rejected { .. }),
        "{:?}",
        got.state
    );
    assert_eq!(s.records_in("u", "rejected").unwrap().len(), 1);
    assert!(s.records_in("u", "queued").unwrap().is_empty());
    assert!(matches!(
        s.transition("nope", &StateName::ALL, now, |_| Ok(())).await,
        Err(StoreError::NoSuchItem(_))
    ));
}

/// A body file removed behind the store's back is an error that names
/// the item, never an empty article that could be published.
#[tokio::test]
async fn a_missing_body_file_is_an_error_naming_the_item() {
    let (dir, s, a) = store_with_one_body().await;
    std::fs::remove_dir_all(dir.path().join("bodies").join(&a.id[..2])).unwrap();
    let e = s.get(&a.id).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains(&a.id), "{e}");
    // Taken for publishing, it is not sent: it goes back to be fetched
    // again, and the queue is not blocked by it.
    let now = Utc::now();
    let mut taken = take(&s, &a.id, now).await.unwrap();
    assert!(matches!(
        s.load_body(&mut taken),
        Err(StoreError::Corrupt { .. })
    ));
    s.deliver(
        &a.id,
        "acc",
        &["acc".to_string()],
        now,
        DeliveryStep::BodyLost {
            reason: "gone".into(),
        },
    )
    .await
    .unwrap();
    let rec = &s.records_in("u", "failed").unwrap()[0];
    assert!(
        matches!(&rec.state, State::Failed { stage: Stage::Fetch, next_retry: Some(t), .. } if *t == now),
        "{:?}",
        rec.state
    );
    assert!(s.due("u", now).unwrap().is_empty());
    assert!(s.records_in("u", "publishing").unwrap().is_empty());
}

/// The editors' list reads only what it shows; what it shows must be
/// exactly the newest by each state's index time, across units, states
/// and the priority classes of a state, as a full sort would give.
#[tokio::test]
async fn newest_matches_a_full_sort_across_units_states_and_classes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let t0 = Utc::now();
    let mut all: Vec<(DateTime<Utc>, String)> = Vec::new();
    for n in 0..60u32 {
        let unit = if n % 2 == 0 { "u1" } else { "u2" };
        let at = t0 - chrono::Duration::minutes(i64::from((n * 37) % 97));
        let mut i = item(unit, &format!("https://a.org/{n}"));
        i.discovered_at = at;
        i.published_at = None;
        i.state = match n % 3 {
            0 => State::Published {
                remote_id: n.to_string(),
                remote_url: None,
                at,
            },
            1 => State::Held { reason: "x".into() },
            _ => State::Queued,
        };
        // Priority puts a queued item in the other class of its range.
        i.priority = n % 5 == 0;
        s.insert_new(&i, std::slice::from_ref(&i.url))
            .await
            .unwrap();
        all.push((at, i.id.clone()));
    }
    all.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    for limit in [1, 7, 25, 60, 100] {
        let got: Vec<String> = s
            .newest(&["u1", "u2"], &["published", "held", "queued"], limit)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        let want: Vec<&String> = all.iter().take(limit).map(|(_, id)| id).collect();
        assert_eq!(got.len(), want.len(), "limit {limit}");
        // Equal times may come in either order; the times must match.
        let time_of = |id: &String| all.iter().find(|(_, i)| i == id).unwrap().0;
        let got_t: Vec<_> = got.iter().map(time_of).collect();
        let want_t: Vec<_> = want.iter().map(|id| time_of(id)).collect();
        assert_eq!(got_t, want_t, "limit {limit}");
    }
    assert!(s.newest(&["u1"], &["held"], 0).unwrap().is_empty());
    assert!(s.newest(&["nobody"], &["held"], 5).unwrap().is_empty());
}

/// Compaction rewrites the database with only what is live: smaller
/// after archival, and nothing lost — live items with their bodies,
/// archived identities, counts.
#[tokio::test]
async fn compaction_shrinks_after_archival_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let mut live = item("u", "https://a.org/live");
    live.text = "正文".into();
    {
        let s = Store::open(dir.path()).unwrap();
        for n in 0..3000 {
            let mut i = item("u", &format!("https://a.org/{n}"));
            i.state = State::Seen;
            i.updated_at = now - chrono::Duration::days(90);
            s.insert_new(&i, std::slice::from_ref(&i.url))
                .await
                .unwrap();
        }
        s.insert_new(&live, std::slice::from_ref(&live.url))
            .await
            .unwrap();
        assert_eq!(
            s.archive_before("u", now - chrono::Duration::days(60))
                .await
                .unwrap(),
            3000
        );
    }
    let c = compact(dir.path()).unwrap();
    assert!(c.bytes_after < c.bytes_before, "{c:?}");
    for p in ["db.compact", "db.compact.done", "db.old"] {
        assert!(!dir.path().join(p).exists(), "{p} left");
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.get(&live.id).unwrap().unwrap().text, "正文");
    assert!(
        s.lookup("u", &["https://a.org/1234".into()])
            .unwrap()
            .is_some()
    );
    assert_eq!(s.unit_counts("u").unwrap().get("seen"), Some(&3000));
    drop(s);
    // A running daemon holds the store: compaction is refused, not forced.
    let _held = Store::open(dir.path()).unwrap();
    assert!(compact(dir.path()).is_err());
}

/// A crash during compaction: with the completion marker the copy
/// replaces the database, without it the partial copy is discarded.
#[tokio::test]
async fn an_interrupted_compaction_is_finished_or_discarded_at_open() {
    let with_copy = |marker: bool| async move {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let (x, y) = (item("u", "https://a.org/x"), item("u", "https://a.org/y"));
        {
            let s = Store::open(dir.path()).unwrap();
            s.insert_new(&x, std::slice::from_ref(&x.url))
                .await
                .unwrap();
            let o = Store::open(other.path()).unwrap();
            o.insert_new(&y, std::slice::from_ref(&y.url))
                .await
                .unwrap();
            o.flush().await.unwrap();
            s.flush().await.unwrap();
        }
        std::fs::rename(other.path().join("db"), dir.path().join("db.compact")).unwrap();
        if marker {
            std::fs::write(dir.path().join("db.compact.done"), "").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let has = |i: &Item| s.get(&i.id).unwrap().is_some();
        let got = (has(&x), has(&y));
        assert!(!dir.path().join("db.compact").exists());
        assert!(!dir.path().join("db.compact.done").exists());
        got
    };
    assert_eq!(
        with_copy(true).await,
        (false, true),
        "complete copy swapped in"
    );
    assert_eq!(
        with_copy(false).await,
        (true, false),
        "partial copy discarded"
    );
}

/// The invariant archival must keep: an article moved out of sled is
/// still known by every identity, so it is never inserted (and
/// published) again; status and the update clock still count it.
#[tokio::test]
async fn archived_articles_are_never_taken_for_new() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    // Whole seconds: the index keeps milliseconds.
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let ago = |d| now - chrono::Duration::days(d);
    let mut old = item("u", "https://a.org/old");
    old.text = "正文".into();
    old.state = State::Published {
        remote_id: "1".into(),
        remote_url: None,
        at: ago(40),
    };
    old.updated_at = ago(40);
    let ids = |i: &Item| {
        vec![
            i.url.clone(),
            format!("guid:{}", i.url),
            format!("fp:{}", i.id),
        ]
    };
    s.insert_new(&old, &ids(&old)).await.unwrap();
    // A second URL of the same article, learnt later.
    s.add_identities("u", &old.id, &["https://a.org/old?from=rss".into()])
        .unwrap();
    let mut recent = item("u", "https://a.org/recent");
    recent.state = State::Published {
        remote_id: "2".into(),
        remote_url: None,
        at: ago(2),
    };
    let mut held = item("u", "https://a.org/held");
    held.state = State::Held { reason: "x".into() };
    held.updated_at = ago(50);
    for i in [&recent, &held] {
        s.insert_new(i, &ids(i)).await.unwrap();
    }

    assert_eq!(s.archive_before("u", ago(30)).await.unwrap(), 1);
    assert!(s.get(&old.id).unwrap().is_none(), "still in sled");
    assert!(s.get(&recent.id).unwrap().is_some());
    assert!(
        s.get(&held.id).unwrap().is_some(),
        "held items wait for an editor"
    );
    for ident in ids(&old)
        .into_iter()
        .chain(["https://a.org/old?from=rss".to_string()])
    {
        assert_eq!(
            s.lookup("u", std::slice::from_ref(&ident)).unwrap(),
            Some(old.id.clone()),
            "{ident}"
        );
    }
    // Found again by a poll: known, not new.
    let again = Item {
        state: State::Queued,
        ..item("u", "https://a.org/old")
    };
    assert_eq!(
        s.insert_new(&again, &ids(&again)).await.unwrap(),
        Inserted::Known(old.id.clone())
    );
    assert!(s.get(&old.id).unwrap().is_none());
    assert!(s.records_in("u", "queued").unwrap().is_empty());
    // Counted and dated still, after a restart too.
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.unit_counts("u").unwrap().get("published"), Some(&2));
    assert_eq!(s.last_published("u").unwrap(), Some(ago(2)));
    let rec = s.archived_records("u").unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(
        (rec[0].id.as_str(), rec[0].title.as_str()),
        (old.id.as_str(), "标题")
    );
    // Nothing more to move.
    assert_eq!(s.archive_before("u", ago(30)).await.unwrap(), 0);
    // The last post comes from the archive once the recent one goes too.
    assert_eq!(s.archive_before("u", now).await.unwrap(), 1);
    assert_eq!(s.last_published("u").unwrap(), Some(ago(2)));
    assert_eq!(s.unit_counts("u").unwrap().get("published"), Some(&2));
}

/// A crash after the archive was written but before sled let go: the
/// item is in both, still found, and the next pass finishes the move
/// without counting or listing it twice.
#[tokio::test]
async fn archival_interrupted_after_the_archive_write_completes_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut old = item("u", "https://a.org/old");
    old.state = State::Rejected { reason: "x".into() };
    old.updated_at = now - chrono::Duration::days(40);
    {
        let s = Store::open(dir.path()).unwrap();
        s.insert_new(&old, std::slice::from_ref(&old.url))
            .await
            .unwrap();
        s.flush().await.unwrap();
        // The first half of archive_before, then the "crash".
        s.archive
            .add("u", &[encode(&old)], &[(old.url.clone(), old.id.clone())])
            .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.lookup("u", std::slice::from_ref(&old.url)).unwrap(),
        Some(old.id.clone())
    );
    assert_eq!(s.archive_before("u", now).await.unwrap(), 1);
    assert_eq!(
        s.lookup("u", std::slice::from_ref(&old.url)).unwrap(),
        Some(old.id.clone())
    );
    assert_eq!(s.unit_counts("u").unwrap().get("rejected"), Some(&1));
    assert_eq!(s.archived_records("u").unwrap().len(), 1);
}

/// `[daemon] keep_bodies_days`: old published and rejected items lose
/// their body files but keep their records; recent ones and items still
/// on their way (queued) keep everything.
#[tokio::test]
async fn retention_drops_old_bodies_and_keeps_records_and_recent_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let days = |n| now - chrono::Duration::days(n);
    let mk = |n: u32, state: State, updated| {
        let mut i = item("u", &format!("https://a.org/{n}"));
        i.text = format!("正文{n}");
        i.state = state;
        i.updated_at = updated;
        i.discovered_at = updated;
        i
    };
    let published = |at| State::Published {
        remote_id: "1".into(),
        remote_url: None,
        at,
    };
    let old_pub = mk(1, published(days(40)), days(40));
    let new_pub = mk(2, published(days(2)), days(2));
    let old_rej = mk(3, State::Rejected { reason: "x".into() }, days(40));
    let old_queued = mk(4, State::Queued, days(40));
    for i in [&old_pub, &new_pub, &old_rej, &old_queued] {
        s.insert_new(i, std::slice::from_ref(&i.url)).await.unwrap();
    }
    assert_eq!(s.drop_bodies_before("u", days(30), now).await.unwrap(), 2);
    for gone in [&old_pub, &old_rej] {
        let got = s.get(&gone.id).unwrap().unwrap();
        assert_eq!((got.text.as_str(), got.body_version.as_deref()), ("", None));
        assert_eq!(got.title, "标题");
        assert!(
            got.notes.iter().any(|n| n.contains("retention")),
            "{:?}",
            got.notes
        );
    }
    for kept in [&new_pub, &old_queued] {
        assert_eq!(s.get(&kept.id).unwrap().unwrap().text, kept.text);
    }
    let files: usize = std::fs::read_dir(dir.path().join("bodies"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(files, 2, "the dropped bodies' files are gone");
    // Idempotent: nothing left to drop.
    assert_eq!(s.drop_bodies_before("u", days(30), now).await.unwrap(), 0);
}

/// Retention flushes once for a unit's batch, not once per body: at
/// 20,000 units the daily pass made one fsync per body (BENCHMARKS.md, "Six
/// simulated months"), and the first pass after `keep_bodies_days` is set
/// on a big store drops months of bodies at once. The records are still
/// durable before any file goes.
#[tokio::test]
async fn retention_flushes_once_for_a_units_batch_before_deleting_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let old = now - chrono::Duration::days(40);
    for n in 0..12 {
        let mut i = item("u", &format!("https://a.org/{n}"));
        i.text = format!("正文{n}");
        i.state = State::Published {
            remote_id: n.to_string(),
            remote_url: None,
            at: old,
        };
        s.insert_new(&i, std::slice::from_ref(&i.url))
            .await
            .unwrap();
    }
    let before = s.flushes().await;
    let cutoff = now - chrono::Duration::days(30);
    assert_eq!(s.drop_bodies_before("u", cutoff, now).await.unwrap(), 12);
    assert_eq!(s.flushes().await - before, 1, "one flush for 12 bodies");
    // Nothing to drop: no flush at all.
    assert_eq!(s.drop_bodies_before("u", cutoff, now).await.unwrap(), 0);
    assert_eq!(s.flushes().await - before, 1);
    // Durable: a reopened store has the records without bodies.
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    let records = s.records_in("u", "published").unwrap();
    assert_eq!(records.len(), 12);
    assert!(records.iter().all(|r| r.body_version.is_none()));
}

/// Stores written by format 1 (bodies in a sled tree) are migrated at
/// open: every body readable afterwards, the tree gone, format 2 stamped.
#[tokio::test]
async fn a_format_1_store_is_migrated_to_body_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = item("u", "https://a.org/1");
    {
        // What format 1 wrote: the record without a body version, the
        // body in the `bodies` tree.
        let db = sled::open(dir.path().join("db")).unwrap();
        db.open_tree("meta").unwrap().insert("format", "1").unwrap();
        db.open_tree("items")
            .unwrap()
            .insert(a.id.as_bytes(), encode(&a))
            .unwrap();
        db.open_tree("index")
            .unwrap()
            .insert(index_key(&a), &[])
            .unwrap();
        db.open_tree("bodies")
            .unwrap()
            .insert(
                a.id.as_bytes(),
                r#"{"html":"<p>旧</p>","text":"旧"}"#.as_bytes(),
            )
            .unwrap();
        db.flush().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let got = s.get(&a.id).unwrap().unwrap();
    assert_eq!((got.html.as_str(), got.text.as_str()), ("<p>旧</p>", "旧"));
    assert_eq!(s.items_in("u", "queued").unwrap()[0].text, "旧");
    let trees = s.trees().unwrap();
    let db = &trees.db;
    assert!(!db.tree_names().iter().any(|n| &n[..] == b"bodies"));
    assert_eq!(
        &*db.open_tree("meta")
            .unwrap()
            .get("format")
            .unwrap()
            .unwrap(),
        b"2"
    );
    drop((trees, s));
    // And again: nothing left to migrate, the body still there.
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.get(&a.id).unwrap().unwrap().text, "旧");
}

#[tokio::test]
async fn state_changes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let a = item("u", "https://a.org/1.html");
    {
        let s = Store::open(dir.path()).unwrap();
        s.insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        move_to(
            &s,
            &a.id,
            State::Publishing { since: Utc::now() },
            Utc::now(),
        )
        .await;
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.get(&a.id).unwrap().unwrap().state.name(), "publishing");
}

#[tokio::test]
async fn index_follows_state_changes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let a = item("u", "https://a.org/1");
    s.insert_new(&a, std::slice::from_ref(&a.url))
        .await
        .unwrap();
    assert_eq!(s.items_in("u", "queued").unwrap().len(), 1);
    let now = Utc::now();
    move_to(&s, &a.id, State::Publishing { since: now }, now).await;
    assert!(s.items_in("u", "queued").unwrap().is_empty());
    assert_eq!(s.items_in("u", "publishing").unwrap()[0].id, a.id);
    let counts = s.unit_counts("u").unwrap();
    assert_eq!(counts.get("publishing"), Some(&1));
    assert_eq!(counts.len(), 1);
    assert!(s.unit_counts("v").unwrap().is_empty());
}

#[tokio::test]
async fn last_post_and_todays_count_come_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let t0 = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    assert_eq!(s.last_published("u").unwrap(), None);
    for (n, mins) in [(1, 0), (2, 30), (3, 90)] {
        let a = item("u", &format!("https://a.org/{n}"));
        s.insert_new(&a, std::slice::from_ref(&a.url))
            .await
            .unwrap();
        let at = t0 + chrono::Duration::minutes(mins);
        let st = State::Published {
            remote_id: format!("r{n}"),
            remote_url: None,
            at,
        };
        move_to(&s, &a.id, State::Publishing { since: at }, at).await;
        move_to(&s, &a.id, st, at).await;
    }
    assert_eq!(
        s.last_published("u").unwrap(),
        Some(t0 + chrono::Duration::minutes(90))
    );
    assert_eq!(
        s.published_since("u", t0 + chrono::Duration::minutes(30))
            .unwrap(),
        2
    );
    assert_eq!(s.published_since("u", t0).unwrap(), 3);
    assert_eq!(s.published_since("v", t0).unwrap(), 0);
}

#[tokio::test]
async fn an_account_takes_an_item_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let a = item("u", "https://a.org/1");
    s.insert_new(&a, std::slice::from_ref(&a.url))
        .await
        .unwrap();
    let now = Utc::now();
    assert!(take(&s, &a.id, now).await.is_ok());
    // The second taker (a worker, an editor) gets nothing.
    assert!(take(&s, &a.id, now).await.unwrap_err().is_refusal());
    assert_eq!(s.items_in("u", "publishing").unwrap().len(), 1);
    assert!(s.items_in("u", "queued").unwrap().is_empty());
    assert!(matches!(
        take(&s, "nope", now).await,
        Err(StoreError::NoSuchItem(_))
    ));
}

#[tokio::test]
async fn audit_log_keeps_order_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let e = |action: AuditAction| AuditEntry {
        at: Utc::now(),
        editor: "王编辑".into(),
        action,
        unit: Some("u".into()),
        item: Some("i".into()),
        before: Some("held".into()),
        after: Some("queued".into()),
        detail: None,
    };
    {
        let s = Store::open(dir.path()).unwrap();
        s.audit(&e(AuditAction::Approve)).await.unwrap();
        s.audit(&e(AuditAction::Reject)).await.unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let log = s.audit_log().unwrap();
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["approve", "reject"]
    );
}

/// Guards against the sled 0.34 `flush_async` deadlock: many units
/// inserting (transactions) and flushing at once must all finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_and_flushes_do_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut set = tokio::task::JoinSet::new();
    for u in 0..64 {
        let s = s.clone();
        set.spawn(async move {
            for n in 0..20 {
                let a = item(&format!("u{u}"), &format!("https://a.org/{n}"));
                s.insert_new(&a, std::slice::from_ref(&a.url))
                    .await
                    .unwrap();
                s.flush().await.unwrap();
            }
        });
    }
    let all = async { while set.join_next().await.is_some() {} };
    tokio::time::timeout(std::time::Duration::from_secs(60), all)
        .await
        .expect("inserts and flushes finished (no deadlock)");
    let total: usize = (0..64)
        .map(|u| {
            s.unit_counts(&format!("u{u}"))
                .unwrap()
                .values()
                .sum::<usize>()
        })
        .sum();
    assert_eq!(total, 64 * 20);
}

#[test]
fn store_of_another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format", "99")
            .unwrap();
        db.flush().unwrap();
    }
    let e = Store::open(dir.path()).err().unwrap();
    assert!(e.to_string().contains("version 99"), "{e}");
}

#[tokio::test]
async fn due_puts_priority_first_then_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let mut a = item("u", "https://a.org/1");
    a.discovered_at = now - chrono::Duration::minutes(5);
    let mut b = item("u", "https://a.org/2");
    b.discovered_at = now - chrono::Duration::minutes(10);
    let mut c = item("u", "https://a.org/3");
    c.priority = true;
    let mut d = item("u", "https://a.org/4");
    d.state = State::Failed {
        stage: Stage::Publish,
        reason: "429".into(),
        attempts: 1,
        next_retry: Some(now + chrono::Duration::minutes(1)),
    };
    for i in [&a, &b, &c, &d] {
        s.insert_new(i, std::slice::from_ref(&i.url)).await.unwrap();
    }
    let due: Vec<String> = s
        .due("u", now)
        .unwrap()
        .into_iter()
        .map(|i| i.url)
        .collect();
    assert_eq!(due, vec![c.url.clone(), b.url.clone(), a.url.clone()]);
    let later = s.due("u", now + chrono::Duration::minutes(2)).unwrap();
    assert_eq!(later.len(), 4);
}

#[test]
fn fingerprint_ignores_markup_whitespace_and_punctuation() {
    assert_eq!(
        fingerprint("标题", "第一段。\n\n 第二段！"),
        fingerprint("标题", "第一段 第二段")
    );
    assert_ne!(fingerprint("标题", "第一段"), fingerprint("标题", "第二段"));
}

/// Two accounts of one unit: each takes the item once; the item is
/// publishing while either sends, queued while one still has it pending,
/// published once both have it; each account's last post and day count
/// come from its own deliveries.
#[tokio::test]
async fn an_item_is_published_once_every_account_has_it() {
    let (_dir, s, a) = store_with_one_body().await;
    let accounts = ["toutiao".to_string(), "wechat".to_string()];
    // Whole milliseconds: the per-account index keeps those.
    let t0 = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let step = |acc: &'static str, step: DeliveryStep| {
        let (s, id, accounts) = (s.clone(), a.id.clone(), accounts.clone());
        async move { s.deliver(&id, acc, &accounts, t0, step).await }
    };
    let published = |id: &str| DeliveryStep::Published {
        remote_id: id.into(),
        remote_url: None,
        notes: vec![],
    };
    assert_eq!(
        step("toutiao", DeliveryStep::Take)
            .await
            .unwrap()
            .state
            .kind(),
        StateName::Publishing
    );
    // The other account is still free to take it; the same one is not.
    assert!(
        step("toutiao", DeliveryStep::Take)
            .await
            .unwrap_err()
            .is_refusal()
    );
    assert_eq!(
        s.due_for("u", "wechat", t0).unwrap().len(),
        1,
        "pending on wechat while toutiao sends"
    );
    assert!(s.due_for("u", "toutiao", t0).unwrap().is_empty());
    let got = step("toutiao", published("t1")).await.unwrap();
    assert_eq!(got.state.kind(), StateName::Queued, "wechat still pending");
    assert_eq!(s.last_delivered("u", "toutiao").unwrap(), Some(t0));
    assert_eq!(s.last_delivered("u", "wechat").unwrap(), None);
    assert_eq!(s.delivered_since("u", "toutiao", t0).unwrap(), 1);
    step("wechat", DeliveryStep::Take).await.unwrap();
    // A crash here, then the outcome was certainly not there: pending again.
    assert_eq!(
        step("wechat", DeliveryStep::Requeue)
            .await
            .unwrap()
            .state
            .kind(),
        StateName::Queued
    );
    step("wechat", DeliveryStep::Take).await.unwrap();
    let got = step("wechat", published("w1")).await.unwrap();
    assert!(
        matches!(&got.state, State::Published { remote_id, .. } if remote_id == "t1"),
        "{:?}",
        got.state
    );
    assert_eq!(got.deliveries.len(), 2);
    assert!(s.due_for("u", "wechat", t0).unwrap().is_empty());
    // Done on both: nobody takes it again.
    assert!(
        step("wechat", DeliveryStep::Take)
            .await
            .unwrap_err()
            .is_refusal()
    );
}

/// A refusal on one account does not hold the other; the item ends failed
/// (with which account refused) only when every account is done.
#[tokio::test]
async fn one_account_refusing_never_holds_the_other() {
    let (_dir, s, a) = store_with_one_body().await;
    let accounts = ["toutiao".to_string(), "wechat".to_string()];
    let now = Utc::now();
    s.deliver(&a.id, "wechat", &accounts, now, DeliveryStep::Take)
        .await
        .unwrap();
    let got = s
        .deliver(
            &a.id,
            "wechat",
            &accounts,
            now,
            DeliveryStep::Fail {
                reason: "review refused".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(got.state.kind(), StateName::Queued);
    assert_eq!(s.due_for("u", "toutiao", now).unwrap().len(), 1);
    s.deliver(&a.id, "toutiao", &accounts, now, DeliveryStep::Take)
        .await
        .unwrap();
    let got = s
        .deliver(
            &a.id,
            "toutiao",
            &accounts,
            now,
            DeliveryStep::Published {
                remote_id: "t".into(),
                remote_url: None,
                notes: vec![],
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(&got.state, State::Failed { reason, next_retry: None, .. } if reason.contains("wechat")),
        "{:?}",
        got.state
    );
}

/// A rejected item is taken by no account, whatever the others did.
#[tokio::test]
async fn no_account_takes_a_rejected_item() {
    let (_dir, s, a) = store_with_one_body().await;
    let now = Utc::now();
    move_to(
        &s,
        &a.id,
        State::Rejected {
            reason: "不发".into(),
        },
        now,
    )
    .await;
    let e = s
        .deliver(
            &a.id,
            "wechat",
            &["wechat".to_string()],
            now,
            DeliveryStep::Take,
        )
        .await
        .unwrap_err();
    assert!(e.is_refusal(), "{e}");
    assert!(s.due_for("u", "wechat", now).unwrap().is_empty());
}

/// Stores of the one-account format: the unit's first account adopts what
/// their items say (published, under way, refused), once; a publish retry
/// becomes pending; the account's last post is then known.
#[tokio::test]
async fn a_one_account_store_is_adopted_by_the_units_first_account() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let mk = |n: u32, state: State| {
        let mut i = item("u", &format!("https://a.org/{n}"));
        i.state = state;
        i
    };
    let published = mk(
        1,
        State::Published {
            remote_id: "r1".into(),
            remote_url: None,
            at: t,
        },
    );
    let under_way = mk(2, State::Publishing { since: t });
    let retry = mk(
        3,
        State::Failed {
            stage: Stage::Publish,
            reason: "503".into(),
            attempts: 1,
            next_retry: Some(t),
        },
    );
    for i in [&published, &under_way, &retry] {
        s.insert_new(i, std::slice::from_ref(&i.url)).await.unwrap();
    }
    assert_eq!(s.last_delivered("u", "acc").unwrap(), None);
    assert_eq!(s.adopt_deliveries("u", "acc").await.unwrap(), 2);
    assert_eq!(s.last_delivered("u", "acc").unwrap(), Some(t));
    assert_eq!(s.delivering("u", "acc").unwrap().len(), 1);
    assert_eq!(s.record(&retry.id).unwrap().unwrap().state, State::Queued);
    assert_eq!(s.due_for("u", "acc", t).unwrap().len(), 1);
    // Once.
    assert_eq!(s.adopt_deliveries("u", "acc").await.unwrap(), 0);
}

/// Archival takes an item's deliveries out of the per-account index too.
#[tokio::test]
async fn archival_leaves_no_delivery_behind_in_the_index() {
    let (_dir, s, a) = store_with_one_body().await;
    let old = DateTime::from_timestamp(Utc::now().timestamp() - 90 * 86_400, 0).unwrap();
    take(&s, &a.id, old).await.unwrap();
    s.deliver(
        &a.id,
        "acc",
        &["acc".to_string()],
        old,
        DeliveryStep::Published {
            remote_id: "r".into(),
            remote_url: None,
            notes: vec![],
        },
    )
    .await
    .unwrap();
    assert_eq!(s.last_delivered("u", "acc").unwrap(), Some(old));
    assert_eq!(s.archive_before("u", Utc::now()).await.unwrap(), 1);
    assert_eq!(s.trees().unwrap().dindex.len(), 0);
    // The account's last post is still known, from the archive's summary
    // (the update clock must not restart).
    assert_eq!(s.last_delivered("u", "acc").unwrap(), Some(old));
}

/// The update clock reads an account's last post, its unit's last new
/// article and first poll: archival (which may come a week after a post)
/// must not make an account look as if it never posted.
#[tokio::test]
async fn an_accounts_last_post_and_the_units_first_and_last_finds_survive_archival() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    // Whole seconds: the index keeps milliseconds.
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let ago = |d| now - chrono::Duration::days(d);
    let mut baseline = Item::new("u", "https://a.org/base", "feed:x", ago(50), State::Seen);
    baseline.updated_at = ago(50);
    s.insert_new(&baseline, std::slice::from_ref(&baseline.url))
        .await
        .unwrap();
    let posted = Item {
        title: "标题".into(),
        ..Item::new("u", "https://a.org/1", "feed:x", ago(41), State::Queued)
    };
    s.insert_new(&posted, std::slice::from_ref(&posted.url))
        .await
        .unwrap();
    take(&s, &posted.id, ago(40)).await.unwrap();
    let step = DeliveryStep::Published {
        remote_id: "r1".into(),
        remote_url: None,
        notes: vec![],
    };
    s.deliver(&posted.id, "acc", &["acc".to_string()], ago(40), step)
        .await
        .unwrap();
    let before = (
        s.last_delivered("u", "acc").unwrap(),
        s.last_new_article("u").unwrap(),
        s.first_found("u").unwrap(),
    );
    assert_eq!(before, (Some(ago(40)), Some(ago(41)), Some(ago(50))));

    assert_eq!(s.archive_before("u", ago(30)).await.unwrap(), 2);
    assert!(s.get(&posted.id).unwrap().is_none(), "still in sled");
    assert_eq!(s.last_delivered("u", "acc").unwrap(), Some(ago(40)));
    assert_eq!(s.last_delivered("u", "other").unwrap(), None);
    assert_eq!(s.last_new_article("u").unwrap(), Some(ago(41)));
    assert_eq!(s.first_found("u").unwrap(), Some(ago(50)));
}

/// One platform holds the item (a rule an editor must fix) while another
/// account is sending it: the hold stands, and the other account's post —
/// which went out — is still recorded, even after an editor's reject.
#[tokio::test]
async fn a_hold_by_one_platform_never_loses_another_accounts_post() {
    let (_dir, s, a) = store_with_one_body().await;
    let accounts = ["toutiao".to_string(), "wechat".to_string()];
    let now = Utc::now();
    for acc in ["toutiao", "wechat"] {
        s.deliver(&a.id, acc, &accounts, now, DeliveryStep::Take)
            .await
            .unwrap();
    }
    let got = s
        .deliver(
            &a.id,
            "wechat",
            &accounts,
            now,
            DeliveryStep::Hold {
                reason: "正文超过 20000 字".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(got.state.kind(), StateName::Held);
    s.transition(&a.id, &[StateName::Held], now, |i| {
        i.state = State::Rejected {
            reason: "不发".into(),
        };
        Ok(())
    })
    .await
    .unwrap();
    let got = s
        .deliver(
            &a.id,
            "toutiao",
            &accounts,
            now,
            DeliveryStep::Published {
                remote_id: "t1".into(),
                remote_url: None,
                notes: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(got.state.kind(), StateName::Rejected);
    assert!(matches!(
        got.deliveries.get("toutiao"),
        Some(crate::model::DeliveryState::Published { .. })
    ));
    assert!(s.delivering("u", "toutiao").unwrap().is_empty());
    // And nobody takes it again.
    assert!(s.due_for("u", "wechat", now).unwrap().is_empty());
}

/// An account added to a unit later gets what is still waiting, never the
/// unit's old articles (published, or refused for good everywhere).
#[tokio::test]
async fn an_account_added_later_gets_no_old_articles() {
    let (_dir, s, a) = store_with_one_body().await;
    let now = Utc::now();
    let one = ["toutiao".to_string()];
    s.deliver(&a.id, "toutiao", &one, now, DeliveryStep::Take)
        .await
        .unwrap();
    s.deliver(
        &a.id,
        "toutiao",
        &one,
        now,
        DeliveryStep::Fail {
            reason: "refused".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.record(&a.id).unwrap().unwrap().state.kind(),
        StateName::Failed
    );
    // The config now names a second account: nothing old for it.
    assert!(s.due_for("u", "webhook", now).unwrap().is_empty());
}
