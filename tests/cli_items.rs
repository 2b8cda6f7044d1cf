//! The editors' item commands at the CLI: ids by a unique prefix of at
//! least 6 characters, title edit and push-now on an existing item, and one
//! line in words per action (`--json` for the object).

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const ALL: &str = "tok-all-0123456789abcdef";

/// The demo, the province reviewing by hand (its articles wait as held).
fn held_world() -> (World, PathBuf, Vec<Value>) {
    let w = World::new(Duration::ZERO);
    std::fs::write(
        w.dir.path().join("editors.toml"),
        format!("[[editor]]\nname = \"总台编辑\"\ntoken = \"{ALL}\"\n"),
    )
    .unwrap();
    let cfg = w.config("editors_file = \"editors.toml\"", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "level = \"provincial\"",
        "level = \"provincial\"\nreview = \"manual\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let (code, out, err) = w.run(&[
        "items",
        "-c",
        cfg.to_str().unwrap(),
        "--token",
        ALL,
        "--state",
        "held",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let held: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(held.len() >= 3, "{held:?}");
    (w, cfg, held)
}

fn field(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

#[test]
fn actions_take_a_unique_id_prefix_and_print_one_line_in_words() {
    let (w, cfg, held) = held_world();
    let c = cfg.to_str().unwrap();
    let (id0, title0) = (field(&held[0], "id"), field(&held[0], "title"));
    let short = &id0[..6];

    // Shorter than 6: refused in Chinese, nothing changed.
    let (code, out, err) = w.run(&["approve", "-c", c, "--token", ALL, &id0[..5]]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.contains("至少输入前 6 位"), "{err}");
    // An unknown prefix: not found.
    let (code, _, err) = w.run(&["approve", "-c", c, "--token", ALL, "zzzzzz"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("404"), "{err}");

    // Approve by its prefix: one line in words.
    let (code, out, err) = w.run(&["approve", "-c", c, "--token", ALL, short]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("已通过：稿件 {short}…「{title0}」（示例省科协），待发布\n")
    );

    // A new title for another held item, by prefix; `--json` gives the object.
    let id1 = field(&held[1], "id");
    let (code, out, err) = w.run(&["title", "-c", c, "--token", ALL, &id1[..8], "新的标题"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "已修改标题：稿件 {}…「新的标题」（示例省科协），待审核\n",
            &id1[..6]
        )
    );
    let (code, out, err) = w.run(&[
        "reject",
        "-c",
        c,
        "--token",
        ALL,
        &id1[..7],
        "--reason",
        "重复",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], id1.as_str());
    assert_eq!(v["state"], "rejected");
    assert_eq!(v["title"], "新的标题");

    // Push the approved item now, by prefix: it goes out once.
    let before = w.posts().len();
    let (code, out, err) = w.run(&["push-now", "-c", c, "--token", ALL, short]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().count(), 1, "one account, one line: {out}");
    assert!(
        out.starts_with(&format!(
            "立即发布 稿件 {short}… → 示例省科协：已发布 http://"
        )),
        "{out}"
    );
    assert_eq!(w.posts().len(), before + 1);
    assert!(w.posts().iter().any(|p| p.title == title0));

    // Every action is audited under the whole id.
    let (code, audit, _) = w.run(&["audit", "-c", c, "--token", ALL]);
    assert_eq!(code, 0);
    assert!(audit.contains(&id0) && audit.contains(&id1), "{audit}");
}

#[test]
fn prefixes_work_through_the_running_daemon_too() {
    let listen = free_addr();
    let w = World::new(Duration::ZERO);
    std::fs::write(
        w.dir.path().join("editors.toml"),
        format!("[[editor]]\nname = \"总台编辑\"\ntoken = \"{ALL}\"\n"),
    )
    .unwrap();
    let cfg = w.config(
        &format!(
            "editors_file = \"editors.toml\"\nlisten = \"{listen}\"\nshutdown_timeout_secs = 5\nrun_at_start = false"
        ),
        "",
    );
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "level = \"provincial\"",
        "level = \"provincial\"\nreview = \"manual\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let c = cfg.to_str().unwrap();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let (_, out, _) = w.run(&[
        "items", "-c", c, "--token", ALL, "--state", "held", "--json",
    ]);
    let held: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let id = field(&held[0], "id");
    let log = w.dir.path().join("daemon.log");
    let mut child = start_daemon(&cfg, &log);
    assert!(wait_for(Duration::from_secs(30), || http_get(
        listen, "/healthz"
    )
    .is_some()));
    let (code, out, err) = w.run(&[
        "title",
        "-c",
        c,
        "--token",
        ALL,
        &id[..6],
        "守护进程里改的标题",
    ]);
    let (code5, _, err5) = w.run(&["approve", "-c", c, "--token", ALL, &id[..5]]);
    signal(&child, "-TERM");
    let _ = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("已修改标题：稿件 ") && out.contains("「守护进程里改的标题」"),
        "{out}"
    );
    assert_eq!(code5, 4, "{err5}");
    assert!(
        err5.contains("至少输入前 6 位") && err5.contains("400"),
        "{err5}"
    );
}

#[test]
fn status_and_check_next_show_times_in_the_daemons_zone_named() {
    let (w, cfg, _) = held_world();
    let c = cfg.to_str().unwrap();
    // The demo's zone is the default, Asia/Shanghai (CST, +08:00).
    let (code, out, err) = w.run(&["status", "-c", c]);
    assert_eq!(code, 0, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("demo-city\t"))
        .unwrap_or_else(|| panic!("{out}"));
    let last_poll = row.split('\t').nth(1).unwrap();
    assert!(last_poll.ends_with(" CST"), "{row}");
    let shown =
        chrono::NaiveDateTime::parse_from_str(last_poll.trim_end_matches(" CST"), "%Y-%m-%d %H:%M")
            .unwrap();
    let (_, json, _) = w.run(&["status", "-c", c, "--json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let city = v["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] == "demo-city")
        .unwrap();
    // JSON keeps RFC 3339 with its offset; the table shows the same instant
    // in the zone, to the minute.
    let t = chrono::DateTime::parse_from_rfc3339(city["last_poll"].as_str().unwrap()).unwrap();
    let local = t.with_timezone(&chrono_tz::Asia::Shanghai).naive_local();
    assert_eq!(
        local.format("%Y-%m-%d %H:%M").to_string(),
        shown.format("%Y-%m-%d %H:%M").to_string()
    );

    let (code, out, err) = w.run(&["check", "-c", c, "--next", "2"]);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("demo-city\t"))
        .unwrap_or_else(|| panic!("{out}"));
    let times: Vec<&str> = line.split('\t').nth(2).unwrap().split(", ").collect();
    assert_eq!(times.len(), 2, "{line}");
    assert!(times.iter().all(|t| t.ends_with(" CST")), "{line}");
}

#[test]
fn an_ambiguous_prefix_is_refused_with_the_candidates_listed_in_chinese() {
    let (w, cfg, _) = held_world();
    let c = cfg.to_str().unwrap();
    // Two items whose ids share their first 6 characters (real ids are
    // hashes; the store is written directly, no daemon runs).
    {
        use autosync::model::{Item, State};
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = autosync::store::Store::open(&w.dir.path().join("state")).unwrap();
        for n in 1..=2 {
            let url = format!("http://{}/same/{n}.html", w.site_addr);
            let held = State::Held {
                reason: "manual: 需人工审核".into(),
            };
            let item = Item {
                id: format!("3f2a9c000000000{n}"),
                title: format!("同前缀稿件{n}"),
                ..Item::new("demo-province", &url, "feed:x", chrono::Utc::now(), held)
            };
            rt.block_on(store.insert_new(&item, std::slice::from_ref(&url)))
                .unwrap();
        }
        rt.block_on(store.flush()).unwrap();
    }
    let (code, out, err) = w.run(&["approve", "-c", c, "--token", ALL, "3f2a9c"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(
        err.contains("对应多篇稿件")
            && err.contains("3f2a9c0000000001")
            && err.contains("3f2a9c0000000002"),
        "{err}"
    );
    // The whole id (a prefix of itself) names one.
    let (code, out, err) = w.run(&["approve", "-c", c, "--token", ALL, "3f2a9c0000000002"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("已通过：稿件 3f2a9c…「同前缀稿件2」"),
        "{out}"
    );
}
