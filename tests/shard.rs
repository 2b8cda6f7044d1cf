//! Shard mode through the real binary: N daemons over one config serve
//! every unit exactly once, and a shard that does not serve a unit says
//! which one does.

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::Path;

/// A config of `n` units in a tree (a national unit, provinces under it),
/// each with a feed and a file publisher: nothing here touches a network.
fn config(dir: &Path, n: usize, daemon_extra: &str) -> std::path::PathBuf {
    let mut text = format!("[daemon]\nstate_dir = \"state\"\n{daemon_extra}\n",);
    for i in 0..n {
        let parent = if i == 0 {
            String::new()
        } else {
            "parent = \"u0\"\n".to_string()
        };
        let level = if i == 0 { "national" } else { "provincial" };
        text.push_str(&format!(
            r#"
[[unit]]
id = "u{i}"
account_name = "单位{i}"
org_name = "单位{i}科学技术协会"
level = "{level}"
{parent}site = "https://u{i}.example.org/"
  [[unit.source]]
  feed = "https://u{i}.example.org/rss.xml"
  [[unit.publisher]]
  kind = "file"
  dir = "out/u{i}"
"#
        ));
    }
    let path = dir.join("autosync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Run the binary on `cfg` with `args` (the subcommand first, `-c CFG`
/// after it): exit code, stdout, stderr.
fn autosync(sub: &str, cfg: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("autosync")
        .unwrap()
        .env_remove("AUTOSYNC_SHARD")
        .args([sub, "-c"])
        .arg(cfg)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The unit ids `check --next 1` lists: one line per unit and schedule.
fn served(cfg: &Path, shard: Option<&str>) -> (String, BTreeSet<String>) {
    let mut cmd = Command::cargo_bin("autosync").unwrap();
    cmd.env_remove("AUTOSYNC_SHARD")
        .args(["check", "-c"])
        .arg(cfg)
        .args(["--next", "1"]);
    if let Some(s) = shard {
        cmd.args(["--shard", s]);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    let mut lines = out.lines();
    let head = lines.next().unwrap().to_string();
    let ids = lines
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    (head, ids)
}

#[test]
fn shards_of_one_config_serve_every_unit_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 40, "");
    let (_, all) = served(&cfg, None);
    assert_eq!(all.len(), 40);
    let mut union = BTreeSet::new();
    let mut total = 0;
    for i in 0..3 {
        let spec = format!("{i}/3");
        let (head, ids) = served(&cfg, Some(&spec));
        assert!(
            head.ends_with(&format!("ok, shard {spec}: {} of 40 unit(s)", ids.len())),
            "{head}"
        );
        // A unit's parent may be in another shard: it is still valid.
        assert!(!ids.is_empty(), "shard {spec} serves nothing of 40");
        total += ids.len();
        union.extend(ids);
    }
    assert_eq!(total, 40, "a unit served twice");
    assert_eq!(union, all);
}

#[test]
fn the_command_line_shard_wins_over_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 12, "shard = \"0/2\"");
    let (head, from_file) = served(&cfg, None);
    assert!(head.contains("shard 0/2"), "{head}");
    let (head, from_cli) = served(&cfg, Some("1/2"));
    assert!(head.contains("shard 1/2"), "{head}");
    assert!(from_file.is_disjoint(&from_cli));
    assert_eq!(from_file.len() + from_cli.len(), 12);
}

#[test]
fn a_bad_shard_in_the_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 2, "shard = \"2/2\"");
    let (code, _, err) = autosync("check", &cfg, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(":3:"), "no line 3 in {err}");
    assert!(
        err.contains("[daemon] shard: shard index 2 must be below the count 2"),
        "{err}"
    );
}

#[test]
fn a_bad_shard_on_the_command_line_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 2, "");
    let (code, _, err) = autosync("check", &cfg, &["--shard", "4"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("is not I/N"), "{err}");
}

#[test]
fn once_for_a_unit_of_another_shard_names_the_shard_that_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 12, "");
    let (_, shard0) = served(&cfg, Some("0/2"));
    let (_, shard1) = served(&cfg, Some("1/2"));
    let elsewhere = shard1.iter().next().unwrap();
    assert!(!shard0.contains(elsewhere));
    let (code, _, err) = autosync("once", &cfg, &["--shard", "0/2", "--unit", elsewhere]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("no unit \"{elsewhere}\" in shard 0/2"))
            && err.contains("--shard 1/2"),
        "{err}"
    );
}

mod common;

/// Moving both demo units to a new store (a new shard): exported from the
/// store that published them, imported into a fresh one, the new daemon's
/// first pass posts nothing again — without the import it would take the
/// sites' latest articles (`backfill`) and post them a second time.
#[test]
fn a_unit_moved_to_another_shard_posts_nothing_twice() {
    let world = common::World::new(std::time::Duration::ZERO);
    let cfg = world.config("", "");
    let (code, out) = world.once(&cfg);
    assert_eq!(code, 0, "{out}");
    let posted = world.posts().len();
    assert!(posted > 0, "the demo posts its backfill: {out}");

    // The same config with a store of its own, as the new shard has.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let old_state = world.dir.path().join("state").display().to_string();
    let new_state = world.dir.path().join("state-new").display().to_string();
    assert!(text.contains(&old_state));
    let cfg2 = world.dir.path().join("new-shard.toml");
    std::fs::write(&cfg2, text.replace(&old_state, &new_state)).unwrap();

    for unit in ["demo-province", "demo-city"] {
        let file = world.dir.path().join(format!("{unit}.jsonl"));
        let (code, _, err) = world.run(&[
            "export-unit",
            "-c",
            cfg.to_str().unwrap(),
            "--unit",
            unit,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(&format!("unit {unit}: exported")), "{err}");
        let (code, out, err) = world.run(&[
            "import-unit",
            "-c",
            cfg2.to_str().unwrap(),
            "--unit",
            unit,
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("unit {unit}: imported")), "{out}");
    }
    let (code, out) = world.once(&cfg2);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        world.posts().len(),
        posted,
        "posted again after the move: {out}"
    );

    // And the moved unit carries on: a new article goes out once.
    world.site.add_feed_article(autosync::demo::OwnedArticle {
        path: "/kpzx/2026-11/30/content_2199.htm".into(),
        title: "市科协迁移后的第一篇科普文章".into(),
        date: "2026-11-30".into(),
        body: "<p>近日，市科协组织科普志愿者走进社区，开展健康生活专题讲座。</p><p>居民们认真聆听、踊跃提问，纷纷表示收获很大。</p>".into(),
    });
    let (code, out) = world.once(&cfg2);
    assert_eq!(code, 0, "{out}");
    assert_eq!(world.posts().len(), posted + 1, "{out}");
}

#[test]
fn importing_a_unit_this_shard_does_not_serve_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 12, "");
    let (_, shard1) = served(&cfg, Some("1/2"));
    let elsewhere = shard1.iter().next().unwrap();
    let file = dir.path().join("x.jsonl");
    std::fs::write(&file, "").unwrap();
    let (code, _, err) = autosync(
        "import-unit",
        &cfg,
        &[
            "--shard",
            "0/2",
            "--unit",
            elsewhere,
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("served by shard 1/2"), "{err}");
}

#[test]
fn shard_plan_lists_the_units_that_move() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 40, "shard = \"0/3\"");
    let (code, out, err) = autosync("shard-plan", &cfg, &["--to", "4"]);
    assert_eq!(code, 0, "{err}");
    let moves: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!moves.is_empty() && moves.len() < 40, "{out}");
    for m in &moves {
        let f: Vec<&str> = m.split('\t').collect();
        assert!(f[1].ends_with("/3") && f[2] == "3/4", "{m}");
    }
    assert!(
        out.ends_with(&format!(
            "# {} of 40 unit(s) move from 3 to 4 shard(s)\n",
            moves.len()
        )),
        "{out}"
    );
}
