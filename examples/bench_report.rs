//! How long a report (issue 16) takes over a large matrix: builds a store
//! of `--units` units (one national, 31 provinces, the rest cities under
//! them), each with `--posts` posts spread over the last 120 days, archives
//! what is older than 60 days, then times `report::build` and each format
//! for a month, over everything and over one province.
//!
//! ```text
//! cargo run --release --example bench_report -- --units 2000 --posts 20
//! ```

use autosync::model::PublishPath;
use autosync::report::{self, Format, Period, Scope};
use autosync::store::{DeliveryStep, Item, State, Store};
use chrono::{Duration, Utc};
use std::fmt::Write;
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let units = arg("--units", 2000).max(33);
    let posts = arg("--posts", 20);
    let dir = tempfile::tempdir()?;
    let mut text = format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:9\"\n{}",
        ""
    );
    for u in 0..units {
        let (level, parent) = match u {
            0 => ("national", None),
            1..=31 => ("provincial", Some("u0".to_string())),
            _ => ("city", Some(format!("u{}", 1 + u % 31))),
        };
        let _ = write!(
            text,
            "\n[[unit]]\nid = \"u{u}\"\naccount_name = \"账号{u}\"\norg_name = \"单位{u}\"\nlevel = \"{level}\"\n{}site = \"http://127.0.0.1:9/{u}/\"\n  [[unit.source]]\n  feed = \"http://127.0.0.1:9/{u}/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n",
            parent
                .map(|p| format!("parent = \"{p}\"\n"))
                .unwrap_or_default()
        );
    }
    let path = dir.path().join("autosync.toml");
    std::fs::write(&path, text)?;
    let config = autosync::config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::open(&config.daemon.state_dir)?;
    let now = Utc::now();
    let t = Instant::now();
    for u in &config.units {
        let accounts = u.account_names();
        for n in 0..posts {
            // Spread over 120 days, some units silent for weeks.
            let age = (n as i64 * 120 / posts.max(1) as i64) + (u.line as i64 % 17);
            let at = now - Duration::days(age) - Duration::hours(3);
            let i = Item {
                title: format!("稿件{n}"),
                ..Item::new(
                    &u.id,
                    &format!("http://127.0.0.1:9/{}/{n}.html", u.id),
                    "feed:x",
                    at - Duration::minutes(20),
                    State::Queued,
                )
            };
            store.insert_new(&i, std::slice::from_ref(&i.url)).await?;
            store
                .take(&i.id, &accounts[0], &accounts, at, PublishPath::Auto)
                .await?;
            store
                .deliver(
                    &i.id,
                    &accounts[0],
                    &accounts,
                    at,
                    DeliveryStep::Published {
                        remote_id: n.to_string(),
                        remote_url: None,
                        notes: vec![],
                    },
                )
                .await?;
        }
        store
            .archive_before(&u.id, now - Duration::days(60))
            .await?;
    }
    println!(
        "store: {} units × {posts} posts built and archived in {:.1} s",
        units,
        t.elapsed().as_secs_f64()
    );
    let tz = config.daemon.timezone;
    let today = now.with_timezone(&tz).date_naive();
    // A month long past (archived) and the last month (live).
    for (label, from, to) in [
        (
            "archived month",
            today - Duration::days(100),
            today - Duration::days(70),
        ),
        ("last 30 days", today - Duration::days(30), today),
    ] {
        let period = Period::new(from, to)?;
        for unit in [None, Some("u1")] {
            let scope = Scope {
                unit: unit.map(str::to_string),
                editor: None,
            };
            let t = Instant::now();
            let r = report::build(&config, &store, period, &scope, now)?;
            let built = t.elapsed();
            let mut line = format!(
                "{label}, {}: {} rows, {} posts; build {:.0} ms",
                unit.unwrap_or("all"),
                r.rows.len(),
                r.all.posts,
                built.as_secs_f64() * 1000.0
            );
            for f in Format::ALL {
                let t = Instant::now();
                let bytes = report::render(&r, f)?;
                let _ = write!(
                    line,
                    "; {} {:.0} ms ({} KiB)",
                    f.as_str(),
                    t.elapsed().as_secs_f64() * 1000.0,
                    bytes.len() / 1024
                );
            }
            println!("{line}");
        }
    }
    Ok(())
}
