//! `--due DIR BACKLOG STEPS`: the outbox step over a backlog (issue 13).
//!
//! One unit with BACKLOG queued items (dated a minute apart, one account);
//! then STEPS outbox steps, each: the lookup of the next item, then its take
//! and its post through the store's check-and-set (as the outbox does).
//! Twice, on two fresh stores in the same process, one after the other:
//! the lookup as it was (`due_for`, which decodes the whole backlog, first
//! of the list) and as it is (`next_due_for`, the head of the queue). (Not
//! interleaved on one store: a full scan leaves sled garbage that the next
//! operation collects, which would be charged to the other lookup.) Both
//! must take the same items in the same order. Prints one JSON line per
//! way: microseconds per lookup and per take + post, and the process's
//! CPU seconds for the whole drain.

use anyhow::{Context as _, bail};
use autosync::store::{DeliveryStep, Item, State, Store};
use std::path::Path;
use std::time::Instant;

#[derive(Debug, serde::Serialize)]
struct DueResult {
    lookup: &'static str,
    backlog: usize,
    steps: usize,
    fill_secs: f64,
    lookup_us: f64,
    take_and_post_us: f64,
    steps_cpu_secs: f64,
}

pub fn due_main(args: &[String]) -> anyhow::Result<()> {
    let usage = "--due DIR BACKLOG STEPS";
    let dir = Path::new(args.first().context(usage)?);
    let backlog: usize = args.get(1).context(usage)?.parse()?;
    let steps: usize = args.get(2).context(usage)?.parse()?;
    if steps > backlog {
        bail!("STEPS must not exceed BACKLOG");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut taken = Vec::new();
    for lookup in ["full list", "head"] {
        let (res, ids) = rt.block_on(drain(
            &dir.join(lookup.replace(' ', "-")),
            lookup,
            backlog,
            steps,
        ))?;
        if lookup == "full list" {
            taken = ids;
        } else if taken != ids {
            bail!("the two lookups took different items");
        }
        println!("{}", serde_json::to_string(&res)?);
    }
    Ok(())
}

async fn drain(
    dir: &Path,
    lookup: &'static str,
    backlog: usize,
    steps: usize,
) -> anyhow::Result<(DueResult, Vec<String>)> {
    let store = Store::open(dir)?;
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-09-01T08:00:00+08:00")?.to_utc();
    let fill = Instant::now();
    for n in 0..backlog {
        let url = format!("http://10.0.0.1/xwzx/202611/t20261120_{n}.html");
        let item = Item {
            title: format!("第{n}篇"),
            published_at: Some((t0 + chrono::Duration::minutes(n as i64)).fixed_offset()),
            ..Item::new(
                "u00000",
                &url,
                "list:http://10.0.0.1/xwzx/",
                t0,
                State::Queued,
            )
        };
        store.insert_new(&item, std::slice::from_ref(&url)).await?;
        if n % 20 == 19 {
            store.flush().await?;
        }
    }
    store.flush().await?;
    let fill_secs = fill.elapsed().as_secs_f64();
    let accounts = ["toutiao".to_string()];
    let (mut look, mut send) = (0.0, 0.0);
    let mut ids = Vec::with_capacity(steps);
    let cpu0 = super::cpu_secs(std::process::id())?;
    for k in 0..steps {
        let now = chrono::Utc::now();
        let t = Instant::now();
        let next = if lookup == "head" {
            store.next_due_for("u00000", "toutiao", now)?
        } else {
            store.due_for("u00000", "toutiao", now)?.into_iter().next()
        };
        look += t.elapsed().as_secs_f64();
        let Some(next) = next else {
            bail!("step {k}: nothing due with {} left", backlog - k);
        };
        let t = Instant::now();
        store
            .deliver(&next.id, "toutiao", &accounts, now, DeliveryStep::Take)
            .await?;
        let posted = DeliveryStep::Published {
            remote_id: format!("r{k}"),
            remote_url: None,
            notes: vec![],
        };
        store
            .deliver(&next.id, "toutiao", &accounts, now, posted)
            .await?;
        send += t.elapsed().as_secs_f64();
        ids.push(next.id);
    }
    let steps_cpu_secs = super::cpu_secs(std::process::id())? - cpu0;
    let per = |s: f64| s / steps.max(1) as f64 * 1e6;
    drop(store);
    std::fs::remove_dir_all(dir)?;
    Ok((
        DueResult {
            lookup,
            backlog,
            steps,
            fill_secs,
            lookup_us: per(look),
            take_and_post_us: per(send),
            steps_cpu_secs,
        },
        ids,
    ))
}
