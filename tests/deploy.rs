//! The systemd unit is what ops install: it must pass `systemd-analyze
//! verify` and keep the settings the service relies on.

use std::process::Command;

const UNIT: &str = include_str!("../deploy/autosync.service");

#[test]
fn service_file_has_notify_reload_and_hardening() {
    for line in [
        "Type=notify",
        "ExecStartPre=/usr/bin/autosync check -c /etc/autosync/autosync.toml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "StateDirectory=autosync",
        "DynamicUser=yes",
        "LoadCredential=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=",
        "WatchdogSec=",
    ] {
        assert!(UNIT.contains(line), "deploy/autosync.service lacks {line}");
    }
}

#[test]
fn service_file_passes_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        // Machines without systemd cannot run the check; CI's can.
        eprintln!("systemd-analyze not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("autosync");
    let unit = UNIT.replace("/usr/bin/autosync", &bin.display().to_string());
    let path = dir.path().join("autosync.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Only complaints about this unit count (the host's own units may have some).
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("autosync.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
