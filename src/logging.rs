//! What `AUTOSYNC_LOG` means, and whether stderr gets colour codes.
//!
//! Why a mapping: `AUTOSYNC_LOG=debug` taken literally as an `EnvFilter`
//! turns on every crate's debug output — sled's page cache and html5ever's
//! tokenizer drown autosync's own lines. Ops asking for "debug" mean
//! autosync's debug, so a bare level applies to autosync and the other
//! crates stay at `warn`; anything that already names a target (a full
//! directive such as `sled=debug` or `warn,autosync::ingest=trace`) is taken
//! as written.

/// The filter used when `AUTOSYNC_LOG` is unset or empty.
pub const DEFAULT_DIRECTIVE: &str = "warn,autosync=info";

/// The same for `once --quiet`: cron mails whatever is written, and the
/// failed units' lines already say what failed, so only errors are logged.
pub const QUIET_DIRECTIVE: &str = "error";

/// The levels `EnvFilter` knows; a bare one of these is autosync's level.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The `EnvFilter` directive for the value of `AUTOSYNC_LOG`; `default`
/// when it is unset or empty.
pub fn filter_directive(env: Option<&str>, default: &str) -> String {
    let v = env.map(str::trim).unwrap_or("");
    if v.is_empty() {
        return default.to_string();
    }
    if LEVELS.iter().any(|l| l.eq_ignore_ascii_case(v)) {
        return format!("warn,autosync={}", v.to_ascii_lowercase());
    }
    v.to_string()
}

/// Colour codes only for a person at a terminal: a file, a pipe or the
/// journal would keep them as `\x1b[2m…` noise.
pub fn use_ansi(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_autosyncs_and_other_crates_stay_at_warn() {
        assert_eq!(
            filter_directive(Some("debug"), DEFAULT_DIRECTIVE),
            "warn,autosync=debug"
        );
        assert_eq!(
            filter_directive(Some("TRACE"), DEFAULT_DIRECTIVE),
            "warn,autosync=trace"
        );
        assert_eq!(
            filter_directive(Some(" info "), QUIET_DIRECTIVE),
            "warn,autosync=info"
        );
    }

    #[test]
    fn a_full_directive_is_kept_as_written() {
        assert_eq!(
            filter_directive(Some("sled=debug"), DEFAULT_DIRECTIVE),
            "sled=debug"
        );
        assert_eq!(
            filter_directive(Some("warn,autosync::ingest=trace"), DEFAULT_DIRECTIVE),
            "warn,autosync::ingest=trace"
        );
        assert_eq!(
            filter_directive(Some("debug,sled=off"), DEFAULT_DIRECTIVE),
            "debug,sled=off"
        );
    }

    #[test]
    fn unset_or_empty_is_the_default() {
        assert_eq!(filter_directive(None, DEFAULT_DIRECTIVE), DEFAULT_DIRECTIVE);
        assert_eq!(
            filter_directive(Some("  "), QUIET_DIRECTIVE),
            QUIET_DIRECTIVE
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_ansi(true, None));
        assert!(!use_ansi(false, None));
        assert!(!use_ansi(true, Some(std::ffi::OsStr::new("1"))));
        assert!(use_ansi(true, Some(std::ffi::OsStr::new(""))));
    }
}
