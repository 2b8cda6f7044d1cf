//! The documented example config must always parse: it is what admins copy.

use std::path::Path;

#[test]
fn example_config_parses_and_documents_every_unit_field() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let cfg = autosync::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.units.len(), 4);
    assert_eq!(cfg.units[1].parent.as_deref(), Some("sx-kx"));
    // The example editors file is loaded and checked with it.
    assert_eq!(cfg.editors.len(), 3);
    assert!(cfg.editors[1].may_act_on("sx-kx") && !cfg.editors[1].may_act_on("other"));
    // `subtree = true` at the top: the province's editor reaches its cities.
    assert!(cfg.editors[1].may_act_on("sx-dry-run") && cfg.editors[1].may_act_on("sx-platform"));
    // `subtree = false` for one editor: exactly its unit.
    assert!(cfg.editors[2].may_act_on("sx-dry-run") && !cfg.editors[2].may_act_on("sx-kx"));
    let text = std::fs::read_to_string(&path).unwrap();
    for key in [
        "state_dir",
        "shard",
        "listen",
        "editors_file",
        "desk_secure_cookie",
        "desk_trusted_proxies",
        "timezone",
        "concurrency",
        "publish_grace_secs",
        "user_agent",
        "timeout_secs",
        "max_body_bytes",
        "max_redirects",
        "host_delay_ms",
        "respect_robots",
        "proxy",
        "backfill",
        "id",
        "account_name",
        "org_name",
        "level",
        "parent",
        "site",
        "contact",
        "allow_hosts",
        "content_selector",
        "title_selector",
        "feed",
        "list",
        "link_selector",
        "kind",
        "base_url",
        "cookie_file",
        "cookie_env",
        "dir",
        "url",
        "secret_file",
        "app_id",
        "app_secret_credential",
        "cover",
        "settle_secs",
        "daily_post_cap",
        "min_post_interval_secs",
    ] {
        assert!(
            text.contains(&format!("{key} =")),
            "config/example.toml does not document {key}"
        );
    }
}
