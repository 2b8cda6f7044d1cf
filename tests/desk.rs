//! The editors' desk through the CLI: on the store directly when no daemon
//! runs, and through the running daemon's API when one does.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const ALL: &str = "tok-all-0123456789abcdef";
const CITY: &str = "tok-city-0123456789abcdef";

fn desk_world(daemon_extra: &str) -> (World, PathBuf) {
    let w = World::new(Duration::ZERO);
    let editors = w.dir.path().join("editors.toml");
    std::fs::write(
        &editors,
        format!(
            "[[editor]]\nname = \"总台编辑\"\ntoken = \"{ALL}\"\n\n[[editor]]\nname = \"市台编辑\"\ntoken = \"{CITY}\"\nunits = [\"demo-city\"]\n"
        ),
    )
    .unwrap();
    let cfg = w.config(
        &format!("editors_file = \"editors.toml\"\n{daemon_extra}"),
        "",
    );
    // The province reviews everything by hand.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "level = \"provincial\"",
        "level = \"provincial\"\nreview = \"manual\"",
    );
    std::fs::write(&cfg, text).unwrap();
    (w, cfg)
}

fn items(w: &World, cfg: &str, token: &str, state: &str) -> Vec<Value> {
    let (code, out, err) = w.run(&[
        "items", "-c", cfg, "--token", token, "--state", state, "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `autosync push URL --unit UNIT` as `token`, with `extra` arguments.
fn push(
    w: &World,
    cfg: &str,
    token: &str,
    url: &str,
    unit: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec!["push", "-c", cfg, "--token", token, url, "--unit", unit];
    args.extend_from_slice(extra);
    w.run(&args)
}

#[test]
fn editors_review_push_and_broadcast_with_every_action_audited() {
    let (w, cfg) = desk_world("");
    let c = cfg.to_str().unwrap();
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    // Manual review: the province's three articles wait; the city's went out.
    let held = items(&w, c, ALL, "held");
    assert_eq!(held.len(), autosync::demo::LIST_ARTICLES.len(), "{held:?}");
    // `--limit` shows only the newest.
    let (code, out, err) = w.run(&[
        "items", "-c", c, "--token", ALL, "--state", "held", "--limit", "2", "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    for h in &held {
        for k in ["id", "unit", "state", "title", "url"] {
            assert!(h.get(k).is_some(), "{k} missing in {h}");
        }
        assert_eq!(h["state"], "held");
        assert_eq!(h["unit"], "demo-province");
    }
    assert_eq!(w.posts().len(), autosync::demo::FEED_ARTICLES.len());

    // No or a wrong token: refused. An editor outside the unit: refused.
    let id0 = held[0]["id"].as_str().unwrap().to_string();
    let (code, _, err) = w.run(&[
        "approve",
        "-c",
        c,
        "--token",
        "wrong-token-0123456789",
        &id0,
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("401"), "{err}");
    let (code, _, err) = w.run(&["approve", "-c", c, "--token", CITY, &id0]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("403"), "{err}");

    // Approve one, reject one, mark the third priority; a pass publishes the
    // approved one only.
    let id1 = held[1]["id"].as_str().unwrap().to_string();
    let id2 = held[2]["id"].as_str().unwrap().to_string();
    assert_eq!(w.run(&["approve", "-c", c, "--token", ALL, &id0]).0, 0);
    let (code, _, err) = w.run(&[
        "reject",
        "-c",
        c,
        "--token",
        ALL,
        &id1,
        "--reason",
        "与上周稿件重复",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(w.run(&["priority", "-c", c, "--token", ALL, &id2]).0, 0);
    // Approving twice is refused: it is no longer held.
    assert_eq!(w.run(&["approve", "-c", c, "--token", ALL, &id0]).0, 4);
    let (code, out) = w.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let titles: Vec<String> = w.posts().iter().map(|p| p.title.clone()).collect();
    assert!(
        titles.contains(&held[0]["title"].as_str().unwrap().to_string()),
        "{titles:?}"
    );
    assert!(!titles.contains(&held[1]["title"].as_str().unwrap().to_string()));
    assert_eq!(items(&w, c, ALL, "rejected").len(), 1);

    // Push a URL by hand to the city: published; again: refused; forced: again.
    let url = format!(
        "http://{}{}",
        w.site_addr,
        autosync::demo::LIST_ARTICLES[2].path
    );
    let before = w.posts().len();
    let (code, out, err) = push(&w, c, CITY, &url, "demo-city", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("手动推送 http") && out.contains("已发布"),
        "{out}"
    );
    assert_eq!(w.posts().len(), before + 1);
    let (code, _, err) = push(&w, c, CITY, &url, "demo-city", &[]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("已有该文章"), "{err}");
    let (code, _, err) = push(&w, c, CITY, &url, "demo-city", &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(w.posts().len(), before + 2);
    // The city editor cannot push to the province.
    let (code, _, err) = push(&w, c, CITY, &url, "demo-province", &[]);
    assert_eq!(code, 4, "{err}");

    // Broadcast the approved province item to the whole province: the
    // province has it already; the city gets it, once.
    let (code, out, err) = w.run(&[
        "broadcast",
        "-c",
        c,
        "--token",
        ALL,
        &id0,
        "--to",
        "demo-province",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("→ 示例省科协：跳过"), "{out}");
    assert!(out.contains("→ 示例市科协：已发布"), "{out}");
    let (code, out, _) = w.run(&[
        "broadcast",
        "-c",
        c,
        "--token",
        ALL,
        &id0,
        "--to",
        "demo-province",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("→ 示例市科协：跳过"),
        "a second broadcast published again: {out}"
    );
    // The city editor may not broadcast to the province's subtree.
    assert_eq!(
        w.run(&[
            "broadcast",
            "-c",
            c,
            "--token",
            CITY,
            &id0,
            "--to",
            "demo-province"
        ])
        .0,
        4
    );

    // Every action is in the audit log, with who, what, before and after.
    let (code, csv, _) = w.run(&["audit", "-c", c, "--token", ALL, "--csv"]);
    assert_eq!(code, 0);
    // UTF-8 with a BOM and Chinese headers, so Excel opens it readable.
    assert!(
        csv.starts_with("\u{feff}时间,编辑,操作,单位,稿件,操作前,操作后,说明"),
        "{csv}"
    );
    use autosync::store::AuditAction as A;
    for action in [A::Approve, A::Reject, A::Priority, A::PushUrl, A::Broadcast] {
        assert!(
            csv.contains(&format!(",\"{}\",", action.label_zh())),
            "{action:?} not audited:\n{csv}"
        );
    }
    assert!(csv.contains("与上周稿件重复"));
    assert!(csv.contains("\"待审核\",\"待发布\""), "{csv}");
    // The city editor sees only the city's entries.
    let (_, city_log, _) = w.run(&["audit", "-c", c, "--token", CITY]);
    assert!(!city_log.contains("demo-province\""), "{city_log}");
}

#[test]
fn the_daemon_serves_the_desk_api_safely() {
    let listen = free_addr();
    let (w, cfg) = desk_world(&format!("listen = \"{listen}\"\nshutdown_timeout_secs = 5"));
    let c = cfg.to_str().unwrap();
    let log = w.dir.path().join("daemon.log");
    let mut child = start_daemon(&cfg, &log);
    let up = wait_for(Duration::from_secs(30), || {
        http_get(listen, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    assert!(up, "daemon did not come up");
    let province = autosync::demo::LIST_ARTICLES.len();
    assert!(wait_for(Duration::from_secs(30), || items(
        &w, c, ALL, "held"
    )
    .len()
        == province));

    // Status codes of the API.
    let auth = format!("Bearer {ALL}");
    let r = http(listen, "GET", "/api/items", &[], "").unwrap();
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = http(
        listen,
        "GET",
        "/api/items",
        &[("Authorization", "Bearer nope-nope-nope-nope")],
        "",
    )
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = http(
        listen,
        "GET",
        "/api/items?unit=demo-province",
        &[("Authorization", &format!("Bearer {CITY}"))],
        "",
    )
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    let r = http(
        listen,
        "POST",
        "/api/push",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        "{not json",
    )
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let big = format!(
        "{{\"url\":\"{}\",\"unit\":\"demo-city\"}}",
        "x".repeat(100_000)
    );
    let r = http(
        listen,
        "POST",
        "/api/push",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &big,
    )
    .unwrap();
    assert!(r.starts_with("HTTP/1.1 413"), "{}", &r[..r.len().min(200)]);
    // The web page refuses a state change without the session's CSRF token.
    let r = http(
        listen,
        "POST",
        "/desk/item/x/approve",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "csrf=guess",
    )
    .unwrap();
    assert!(
        r.starts_with("HTTP/1.1 303") && r.contains("/desk/login"),
        "{r}"
    );

    // Approve through the CLI, which goes through the API: the worker
    // publishes it.
    let held = items(&w, c, ALL, "held");
    let id = held[0]["id"].as_str().unwrap();
    let (code, _, err) = w.run(&["approve", "-c", c, "--token", ALL, id]);
    assert_eq!(code, 0, "{err}");
    let title = held[0]["title"].as_str().unwrap().to_string();
    let published = wait_for(Duration::from_secs(30), || {
        w.posts().iter().any(|p| p.title == title)
    });
    // A reject moves nothing to publish, so no publishing step refreshes
    // the gauges: the desk's ring does, at once, not at the next poll.
    let held_gauge = || {
        http_get(listen, "/metrics")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("autosync_held_items{unit=\"demo-province\"} "))
            .map(|v| v.trim().to_string())
    };
    let before = (province - 1).to_string();
    assert!(wait_for(Duration::from_secs(30), || held_gauge()
        .as_deref()
        == Some(before.as_str())));
    let other = held[1]["id"].as_str().unwrap();
    let (code, _, err) = w.run(&[
        "reject",
        "-c",
        c,
        "--token",
        ALL,
        other,
        "--reason",
        "与主题无关",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        held_gauge(),
        Some((province - 2).to_string()),
        "held gauge after a reject"
    );
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        published,
        "approved item not published by the daemon\n{log_text}"
    );
    assert!(exit.is_some_and(|s| s.success()), "{log_text}");
    assert_eq!(w.posts().iter().filter(|p| p.title == title).count(), 1);
}

/// Issue 11: pushing the daemon's own `http://127.0.0.1:<listen>/status`
/// (or the same address spelled otherwise) published the daemon's JSON as
/// an article. Now the push is refused, names the unit and the URL, tells
/// nothing the address would have answered, and nothing goes out.
#[test]
fn hand_push_of_the_daemons_own_status_page_is_refused() {
    let listen = free_addr();
    let (w, cfg) = desk_world(&format!(
        "listen = \"{listen}\"\nshutdown_timeout_secs = 5\nrun_at_start = false"
    ));
    let c = cfg.to_str().unwrap();
    let log = w.dir.path().join("daemon.log");
    let mut child = start_daemon(&cfg, &log);
    let up = wait_for(Duration::from_secs(30), || {
        http_get(listen, "/status").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    assert!(up, "daemon did not come up");
    let port = listen.port();
    for url in [
        format!("http://127.0.0.1:{port}/status"),
        format!("http://localhost:{port}/status"),
        format!("http://2130706433:{port}/status"),
        format!("http://0x7f.1:{port}/status"),
        format!("http://0.0.0.0:{port}/status"),
        format!("http://[::1]:{port}/status"),
    ] {
        let (code, out, err) = push(&w, c, CITY, &url, "demo-city", &[]);
        assert_ne!(code, 0, "{url}: {out}{err}");
        assert!(
            err.contains("refused for unit demo-city") && err.contains(&format!(":{port}/status")),
            "{url}: {err}"
        );
        // Nothing of what /status says (unit ids, counts) is told.
        assert!(
            !err.contains("demo-province") && !err.contains('{'),
            "{url}: {err}"
        );
    }
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.is_some_and(|s| s.success()), "{log_text}");
    assert!(w.posts().is_empty(), "{:?}", w.posts());
}
