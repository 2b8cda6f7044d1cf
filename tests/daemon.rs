//! `autosync run` as ops run it: a real process, killed and restarted.

mod common;

use autosync::demo::OwnedArticle;
use common::*;
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

/// `[daemon]` lines for these tests: a loopback listener, a short grace
/// and shutdown.
fn daemon_lines(listen: std::net::SocketAddr) -> String {
    format!("listen = \"{listen}\"\npublish_grace_secs = 1\nshutdown_timeout_secs = 5")
}

fn new_article(i: usize) -> OwnedArticle {
    OwnedArticle {
        path: format!("/xwzx/202611/t2026112{}_20{i:02}.html", i % 10),
        title: format!("第{i}期科普大讲堂在省科技馆举行"),
        date: format!("2026-11-2{}", i % 10),
        body: format!(
            "<p>第{i}期科普大讲堂日前在省科技馆举行，邀请专家围绕前沿科技话题作专题报告。</p><p>现场观众与专家积极互动，气氛热烈。本期讲座共吸引三百余名市民参加。</p>"
        ),
    }
}

/// How many items the store holds as published, read with no daemon
/// running (`autosync status` then opens the store itself).
fn durably_published(cfg: &std::path::Path) -> usize {
    let out = Command::new(assert_cmd::cargo::cargo_bin("autosync"))
        .args(["status", "-c"])
        .arg(cfg)
        .env("AUTOSYNC_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("from the store"),
        "status from the store: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter(|l| l.starts_with("demo-"))
        .map(|l| {
            let published = l.split('\t').nth(6).unwrap_or_else(|| panic!("{l}"));
            published
                .parse::<usize>()
                .unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .sum()
}

#[test]
fn kill_9_at_any_moment_loses_nothing_and_posts_nothing_twice() {
    // A deliberately slow account: each publish answer comes 700 ms after the
    // article is stored, so kills land between "applied" and "answered".
    let w = World::new(Duration::from_millis(700));
    let log = w.dir.path().join("daemon.log");
    let cfg = w.config(&daemon_lines(free_addr()), "");
    let mut expected = autosync::demo::LIST_ARTICLES.len() + autosync::demo::FEED_ARTICLES.len();
    // Kills that landed mid-publish: the account holds a post the store does
    // not hold as published. That is the window "never post blind twice" is
    // about (the item is `publishing` on disk, its answer never recorded),
    // so a run in which no kill landed there would prove nothing.
    let mut mid_publish = Vec::new();
    for round in 0..12 {
        if round % 2 == 1 {
            w.site.add_list_article(new_article(round));
            expected += 1;
        }
        let before = w.posts().len();
        let mut child = start_daemon(&cfg, &log);
        if round == 11 {
            // Chance alone might miss the window: this kill waits for the
            // account to store a post (the round's new article at least is
            // queued), then lands inside its 700 ms held-back answer.
            wait_for_post(&w, before, Duration::from_secs(20));
        } else {
            // Kill at varied moments: during start, polling, publishing.
            std::thread::sleep(Duration::from_millis(150 + (round as u64 * 271) % 1500));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if w.posts().len() > durably_published(&cfg) {
            mid_publish.push(round);
        }
    }
    assert!(
        !mid_publish.is_empty(),
        "no kill landed while a publish was in flight:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // A last, undisturbed run finishes the work.
    let listen = free_addr();
    let cfg = w.config(&daemon_lines(listen), "");
    let mut child = start_daemon(&cfg, &log);
    let up = wait_for(Duration::from_secs(30), || {
        http_get(listen, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    assert!(up, "/healthz never answered");
    let done = wait_for(Duration::from_secs(90), || w.posts().len() >= expected);
    // Every post may be on the account before this run has reported
    // anything: a worker sets its unit's queue depth after its first step
    // (here: reconciling what the last kill left), the daemon its footprint
    // at its first trim. Read /metrics once they have.
    let mut metrics = String::new();
    wait_for(Duration::from_secs(30), || {
        metrics = http_get(listen, "/metrics").unwrap_or_default();
        metrics.contains("autosync_queue_depth{unit=\"demo-province\"}")
            && !metrics.contains("\nautosync_store_db_bytes 0\n")
    });
    // Status comes from the running daemon.
    let status = Command::new(assert_cmd::cargo::cargo_bin("autosync"))
        .args(["status", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let status_out = String::from_utf8_lossy(&status.stdout).into_owned();
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        done,
        "only {} of {expected} posts after restarts\n{log_text}",
        w.posts().len()
    );
    assert!(
        exit.is_some_and(|s| s.success()),
        "daemon did not exit 0 on SIGTERM: {exit:?}\n{log_text}"
    );

    let mut per_title: HashMap<String, usize> = HashMap::new();
    for p in w.posts() {
        *per_title.entry(p.title).or_default() += 1;
    }
    let twice: Vec<_> = per_title.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "published more than once: {twice:?}\n{log_text}"
    );
    assert_eq!(per_title.len(), expected, "{per_title:?}");
    eprintln!(
        "kill -9 test: kills in rounds {mid_publish:?} landed mid-publish; {} reconciliations",
        log_text.matches("reconciled").count()
    );

    assert!(
        metrics.contains("autosync_queue_depth{unit=\"demo-province\"} 0"),
        "{metrics}"
    );
    // The account's update clock, read from the store at the worker's start
    // (this last run may have nothing left to post). A family with no series
    // yet renders nothing, so the latency histogram need not be there.
    assert!(
        metrics.contains("autosync_last_publish_timestamp_seconds{unit=\"demo-province\""),
        "{metrics}"
    );
    // The footprint gauges ops watch for the store's growth: set at start
    // and after every trim, with plausible values.
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(gauge("autosync_resident_memory_bytes") > 1e6, "{metrics}");
    assert!(gauge("autosync_store_db_bytes") > 0.0, "{metrics}");
    assert!(
        status.status.success(),
        "{status_out}{}\n{log_text}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(
        status_out.contains("from the running daemon"),
        "{status_out}"
    );
    assert!(status_out.contains("demo-province"), "{status_out}");
}

/// Wait (at most `limit`, polling every 20 ms) until the account holds more
/// than `before` posts.
fn wait_for_post(w: &World, before: usize, limit: Duration) {
    let t = std::time::Instant::now();
    while w.posts().len() <= before && t.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sighup_applies_a_good_config_and_refuses_a_bad_one() {
    let w = World::new(Duration::ZERO);
    let log = w.dir.path().join("daemon.log");
    let listen = free_addr();
    // Start with the province only.
    let full = autosync::demo::demo_config(
        &w.dir.path().join("state"),
        w.site_addr,
        w.account_addr,
        w.city_account_addr,
    );
    let province_only = full
        .split("\n[[unit]]\nid = \"demo-city\"")
        .next()
        .unwrap()
        .to_string();
    let path = w.dir.path().join("autosync.toml");
    let with_daemon = |t: &str| {
        t.replace(
            "[daemon]\n",
            &format!("[daemon]\nlisten = \"{listen}\"\nshutdown_timeout_secs = 5\n"),
        )
    };
    std::fs::write(&path, with_daemon(&province_only)).unwrap();
    let mut child = start_daemon(&path, &log);
    let list = autosync::demo::LIST_ARTICLES.len();
    assert!(wait_for(Duration::from_secs(30), || w.posts().len() >= list));

    // A bad config is refused; the daemon keeps running.
    std::fs::write(
        &path,
        with_daemon(&province_only).replace("level = \"provincial\"", "level = \"planet\""),
    )
    .unwrap();
    signal(&child, "-HUP");
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("reload refused")
    }));
    assert!(
        child.try_wait().unwrap().is_none(),
        "daemon died on a bad config"
    );

    // A good config with a new unit: the new unit's articles come.
    std::fs::write(&path, with_daemon(&full)).unwrap();
    signal(&child, "-HUP");
    let all = list + autosync::demo::FEED_ARTICLES.len();
    let ok = wait_for(Duration::from_secs(30), || w.posts().len() >= all);
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(ok, "new unit not picked up on SIGHUP\n{log_text}");
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{log_text}");
    assert_eq!(w.posts().len(), all);
}
