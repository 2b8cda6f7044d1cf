//! `autosync once` as ops and cron see it: a line per unit as it finishes,
//! `--quiet` printing only failures, and logs without other crates' debug
//! or colour codes when stderr is not a terminal.

mod common;

use autosync::demo::Fault;
use common::World;
use std::time::Duration;

/// The demo units plus one whose list page answers 500.
fn world_with_a_failing_unit() -> (World, std::path::PathBuf) {
    let w = World::new(Duration::ZERO);
    let extra = format!(
        r#"
[[unit]]
id = "broken-site"
account_name = "测试坏站"
org_name = "测试单位"
level = "county"
site = "http://{site}/"
  [[unit.source]]
  list = "http://{site}/broken/"
  [unit.publisher]
  kind = "toutiao"
  base_url = "http://{account}"
  cookie_file = "cookie"
"#,
        site = w.site_addr,
        account = w.account_addr
    );
    w.site.set_fault("/broken/", Some(Fault::Status(500)));
    let cfg = w.config("", &extra);
    (w, cfg)
}

#[test]
fn once_prints_a_line_per_unit_and_the_count() {
    let (w, cfg) = world_with_a_failing_unit();
    let (code, out, err) = w.run(&["once", "-c", cfg.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}{err}");
    for line in [
        "ok     demo-province:",
        "ok     demo-city:",
        "FAILED broken-site:",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(line)),
            "no {line:?} in\n{out}"
        );
    }
    assert!(out.ends_with("3 unit(s), 1 failed\n"), "{out}");
    // stderr is a pipe here: no progress bar, no colour codes.
    assert!(!err.contains('\u{1b}'), "escape codes on a pipe:\n{err}");
    assert!(!err.contains("units"), "a progress bar on a pipe:\n{err}");
}

#[test]
fn once_quiet_prints_only_the_units_that_failed() {
    let (w, cfg) = world_with_a_failing_unit();
    // Unset AUTOSYNC_LOG: only errors on stderr (`run` sets it to warn).
    let out = assert_cmd::Command::cargo_bin("autosync")
        .unwrap()
        .args(["once", "--quiet", "-c", cfg.to_str().unwrap()])
        .env_remove("AUTOSYNC_LOG")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let (code, err) = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!err.contains(" WARN "), "warnings on a quiet pass:\n{err}");
    assert_eq!(code, 3, "exit code still says a unit failed: {out}{err}");
    assert!(out.starts_with("FAILED broken-site:"), "{out}");
    assert!(out.contains("500"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("ok ")), "{out}");
    assert!(!out.contains("unit(s)"), "{out}");

    // All healthy: nothing at all for cron to mail.
    let c = cfg.to_str().unwrap();
    let (code, out, err) = w.run(&["once", "-q", "-c", c, "--unit", "demo-province"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "", "{err}");
}

#[test]
fn autosync_log_debug_is_autosyncs_debug_only() {
    let (w, cfg) = world_with_a_failing_unit();
    let (_, _, err) = w.run_logging("debug", &["once", "-c", cfg.to_str().unwrap()]);
    assert!(
        err.lines()
            .any(|l| l.contains("DEBUG") && l.contains("autosync")),
        "no autosync debug line:\n{err}"
    );
    let foreign: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("DEBUG") && !l.contains(" autosync"))
        .collect();
    assert!(
        foreign.is_empty(),
        "other crates' debug:\n{}",
        foreign.join("\n")
    );
    assert!(!err.contains('\u{1b}'), "escape codes on a pipe");
}
