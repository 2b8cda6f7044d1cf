//! `autosync check`: what it refuses (exit 2, file, line and unit) and what
//! it only warns about (printed, exit 0).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn check(path: &Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("autosync")
        .unwrap()
        .args(["check", "-c"])
        .arg(path)
        .assert()
}

/// `tests/fixtures/check/one_unit.toml` in `dir`: `daemon` lines in
/// `[daemon]`, the toutiao cookie option as `cookie`, polled every 10
/// minutes.
fn config(dir: &Path, daemon: &str, cookie: &str) -> PathBuf {
    let text = include_str!("fixtures/check/one_unit.toml")
        .replace("{daemon}", daemon)
        .replace("{cookie}", cookie)
        .replace("{schedule}", "*/10 * * * *");
    let path = dir.join("autosync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_refuses_a_missing_cookie_file_and_an_unset_cookie_env_naming_file_line_and_unit() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "", "cookie_file = \"secrets/sx-kx\"");
    check(&path)
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:17: unit sx-kx: account 示例省科协: cookie_file",
            path.display()
        )))
        .stdout(predicate::str::contains("ok").not());
    // What the service runs before it starts: the same finding, a warning,
    // so that one account's missing cookie (which pauses that account in
    // the daemon) does not stop every unit.
    Command::cargo_bin("autosync")
        .unwrap()
        .args(["check", "--credentials-warn", "-c"])
        .arg(&path)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "warning: {}:17: unit sx-kx: account 示例省科协: cookie_file",
            path.display()
        )));
    let path = config(
        dir.path(),
        "",
        "cookie_env = \"AUTOSYNC_CHECK_TEST_COOKIE\"",
    );
    check(&path).code(2).stderr(predicate::str::contains(
        ":17: unit sx-kx: account 示例省科协: cookie_env AUTOSYNC_CHECK_TEST_COOKIE: the environment variable is not set",
    ));
    // Set: fine, and its value never printed.
    Command::cargo_bin("autosync")
        .unwrap()
        .args(["check", "-c"])
        .arg(&path)
        .env(
            "AUTOSYNC_CHECK_TEST_COOKIE",
            "sessionid=SEKRIT; csrftoken=SEKRIT",
        )
        .assert()
        .success()
        .stdout(predicate::str::contains("SEKRIT").not())
        .stderr(predicate::str::contains("SEKRIT").not());
}

#[test]
fn check_warns_on_a_public_listen_address_example_tokens_and_a_readable_editors_file_and_exits_0() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cookie"), "sessionid=a; csrftoken=b\n").unwrap();
    let editors = dir.path().join("editors.toml");
    std::fs::write(
        &editors,
        "[[editor]]\nname = \"总台编辑\"\ntoken = \"change-me-0000000000000000\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editors, std::fs::Permissions::from_mode(0o640)).unwrap();
    let path = config(
        dir.path(),
        "listen = \"0.0.0.0:8640\"\neditors_file = \"editors.toml\"",
        "cookie_file = \"cookie\"",
    );
    check(&path)
        .success()
        .stdout(predicate::str::contains("ok, 1 unit(s)"))
        .stderr(predicate::str::contains(format!(
            "warning: {}:3: [daemon] listen = \"0.0.0.0:8640\" is not a loopback address",
            path.display()
        )))
        .stderr(predicate::str::contains(format!(
            "warning: {}:2: editor \"总台编辑\": the token looks like an example",
            editors.display()
        )))
        .stderr(predicate::str::contains("mode 0640"))
        .stderr(predicate::str::contains("change-me").not());
}

#[test]
fn check_puts_listen_and_timezone_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cookie"), "sessionid=a; csrftoken=b\n").unwrap();
    let path = config(
        dir.path(),
        "listen = \"localhost\"\ntimezone = \"Asia/Shangai\"",
        "cookie_file = \"cookie\"",
    );
    check(&path)
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:3: [daemon] listen",
            path.display()
        )))
        .stderr(predicate::str::contains(format!(
            "{}:4: [daemon] timezone",
            path.display()
        )));
}
