//! The command line: exit codes and messages ops rely on.

use assert_cmd::Command;
use predicates::prelude::*;

fn autosync() -> Command {
    Command::cargo_bin("autosync").unwrap()
}

/// The example config, its relative paths made absolute so that it can be
/// written anywhere.
fn example() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    std::fs::read_to_string(dir.join("example.toml"))
        .unwrap()
        .replace("\"words/", &format!("\"{}/words/", dir.display()))
        .replace("\"covers/", &format!("\"{}/covers/", dir.display()))
        .replace(
            "\"editors.example.toml\"",
            &format!("\"{}/editors.example.toml\"", dir.display()),
        )
}

#[test]
fn check_accepts_the_example_config() {
    autosync()
        .args(["check", "-c", "config/example.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok, 4 unit(s)"));
}

#[test]
fn check_names_file_line_and_unit_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = example().replace(
        "account_name = \"试运行\"",
        "account_name = \"试运行单位的官方账号名称\"",
    );
    std::fs::write(&path, text).unwrap();
    autosync()
        .args(["check", "-c"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml:"))
        .stderr(predicate::str::contains("unit sx-dry-run"))
        .stderr(predicate::str::contains("account_name"));
}

#[test]
fn check_of_a_missing_file_exits_2() {
    autosync()
        .args(["check", "-c", "/nonexistent/autosync.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn once_with_an_unknown_unit_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.toml");
    let text = example().replace(
        "/var/lib/autosync",
        &dir.path().join("state").display().to_string(),
    );
    std::fs::write(&path, text).unwrap();
    autosync()
        .args(["once", "-c"])
        .arg(&path)
        .args(["--unit", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no unit \"nope\""));
}

#[test]
fn check_next_prints_each_units_next_runs() {
    let out = autosync()
        .args(["check", "-c", "config/example.toml", "--next", "3"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let line = out
        .lines()
        .find(|l| l.starts_with("sx-kx\t*/5 8-20 * * *"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(line.matches(", ").count(), 2, "three runs: {line}");
}

#[test]
fn a_schedule_that_never_fires_is_a_config_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.toml");
    std::fs::write(
        &path,
        example().replace("\"*/5 8-20 * * *\"", "\"0 0 31 2 *\""),
    )
    .unwrap();
    autosync()
        .args(["check", "-c"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unit sx-kx"))
        .stderr(predicate::str::contains("0 0 31 2 *"));
}

/// `compact` rewrites the store (the daemon stopped) and says what it did;
/// while another process holds the store it refuses, naming the store.
#[test]
fn compact_rewrites_the_store_and_refuses_a_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.toml");
    let state = dir.path().join("state");
    let text = example().replace("/var/lib/autosync", &state.display().to_string());
    std::fs::write(&path, text).unwrap();
    autosync()
        .args(["compact", "-c"])
        .arg(&path)
        .assert()
        .success()
        .stdout(predicate::str::contains("database").and(predicate::str::contains("MiB")));
    let _in_use = autosync::store::Store::open(&state).unwrap();
    autosync()
        .args(["compact", "-c"])
        .arg(&path)
        .assert()
        .failure()
        .stderr(predicate::str::contains(state.display().to_string()));
}
