//! What `autosync check` says beyond what loading refuses: the state of the
//! host around a valid config.
//!
//! Why apart from loading: the daemon loads the config at start and on
//! every reload, and one unit's missing cookie must not stop the others
//! (that unit's account pauses, named). `check` is where an admin asks
//! "is everything in place?", so there a credential the daemon could not
//! read is an error, with the file, line and unit; and what is allowed but
//! probably a mistake — a desk on a public address, the example's editor
//! tokens, an editors file others can read, polling more than once a
//! minute, a retention that does not fit the number of units (`sizing`) —
//! is a warning (printed, exit 0).

use super::error::{Lines, line_of};
use super::{Config, ConfigError, Unit};
use crate::credential::Source;
use std::collections::HashMap;
use std::path::Path;

/// Tokens with fewer different characters than this are guessable.
const MIN_DISTINCT_TOKEN_CHARS: usize = 8;

/// Words that mark a token copied from an example or made up in a hurry.
const EXAMPLE_TOKEN_WORDS: [&str; 5] = ["change-me", "changeme", "example", "password", "token"];

/// A schedule firing more often than this is warned about.
const MIN_POLL_GAP: chrono::Duration = chrono::Duration::seconds(60);

/// What `check` found: errors (exit 2) and warnings (printed, exit 0).
#[derive(Debug, Default)]
pub struct Findings {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

/// Check what `config` (loaded from `path`) relies on outside itself.
/// `now` anchors the schedule look-ahead.
pub fn lint(path: &Path, config: &Config, now: chrono::DateTime<chrono::Utc>) -> Findings {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let doc = Doc::new(&text);
    let mut f = Findings::default();
    let at = |line: Option<usize>, unit: Option<&str>, message: String| {
        ConfigError::new(path, line, unit, message)
    };
    for u in &config.units {
        let region = doc.unit_region(&u.id);
        secrets(&mut f, &doc, region, u, &at);
        schedules(&mut f, &doc, region, u, config.daemon.timezone, now, &at);
    }
    let listen = config.daemon.listen;
    if !listen.ip().is_loopback() {
        f.warnings.push(at(
            key_line(&doc, (0, text.len()), "listen", 0),
            None,
            format!(
                "[daemon] listen = \"{listen}\" is not a loopback address: /metrics, /status and the desk's login page are open to that network; keep 127.0.0.1 and put a TLS proxy in front"
            ),
        ));
    }
    // Retention that does not fit the units served (`sizing`): at the
    // option's line when the file sets it.
    for w in super::store_sizing(config.units.len(), &config.daemon) {
        let line = key_line(&doc, (0, text.len()), w.option(), 0);
        f.warnings.push(at(line, None, w.to_string()));
    }
    if let Some(editors) = &config.daemon.editors_file {
        editor_tokens(&mut f, editors, config);
        f.warnings
            .extend(super::editors::reach_warnings(editors, config));
    }
    f
}

/// The config's text with its line starts and each unit's table found once
/// (per unit, a search from the top made `check` quadratic in the units).
struct Doc<'a> {
    text: &'a str,
    lines: Lines,
    /// Unit id → the byte range of its table (from its `[[unit]]` to the
    /// next one).
    regions: HashMap<String, (usize, usize)>,
}

impl<'a> Doc<'a> {
    fn new(text: &'a str) -> Doc<'a> {
        let header = regex::Regex::new(r"(?m)^[ \t]*\[\[unit\]\]").expect("static regex");
        let id = regex::Regex::new(r#"(?m)^\s*id\s*=\s*"([^"]*)""#).expect("static regex");
        let starts: Vec<usize> = header.find_iter(text).map(|m| m.start()).collect();
        let mut regions = HashMap::new();
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            if let Some(c) = id.captures(&text[start..end]) {
                regions.entry(c[1].to_string()).or_insert((start, end));
            }
        }
        Doc {
            text,
            lines: Lines::new(text),
            regions,
        }
    }

    /// The byte range of unit `id`'s table; the whole text when it cannot
    /// be told.
    fn unit_region(&self, id: &str) -> (usize, usize) {
        self.regions
            .get(id)
            .copied()
            .unwrap_or((0, self.text.len()))
    }
}

/// The line of the `nth` (from 0) `key =` inside `region` of `text`.
fn key_line(doc: &Doc, region: (usize, usize), key: &str, nth: usize) -> Option<usize> {
    // At a line's start or inside an inline table; never in a comment.
    let re = regex::Regex::new(&format!(
        r"(?m)(?:^[ \t]*|[{{,][ \t]*)({})[ \t]*=",
        regex::escape(key)
    ))
    .expect("escaped regex");
    let part = &doc.text[region.0..region.1];
    re.captures_iter(part)
        .nth(nth)
        .and_then(|c| c.get(1))
        .map(|m| doc.lines.line(region.0 + m.start()))
}

/// Each account's credential can be read: a cookie file that is missing,
/// unreadable or empty, an unset `cookie_env` (and the same for the other
/// platforms' secrets) — errors at the option's line. A `…_credential` is
/// checked only under systemd (`$CREDENTIALS_DIRECTORY` set), where it is
/// read.
fn secrets(
    f: &mut Findings,
    doc: &Doc,
    region: (usize, usize),
    u: &Unit,
    at: &impl Fn(Option<usize>, Option<&str>, String) -> ConfigError,
) {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for a in &u.accounts {
        let Some(secret) = a.publisher.secret() else {
            continue;
        };
        let option = secret.option();
        let nth = seen.entry(option.clone()).or_default();
        let line = key_line(doc, region, &option, *nth).or_else(|| key_line(doc, region, "id", 0));
        *nth += 1;
        // Where it is read from (for messages) and what it holds.
        let (place, value) = match &secret.source {
            Source::File(p) => (
                format!("{option} {}", p.display()),
                std::fs::read_to_string(p).map_err(|e| e.to_string()),
            ),
            Source::Env(var) => (
                format!("{option} {var}"),
                std::env::var(var).map_err(|_| "the environment variable is not set".into()),
            ),
            Source::Credential(name) => match secret.path() {
                Some(p) => (
                    format!("{option} {name} ({})", p.display()),
                    std::fs::read_to_string(&p).map_err(|e| e.to_string()),
                ),
                // Read only under systemd: nothing to check here.
                None => continue,
            },
        };
        let problem = match value {
            Err(e) => Some(e),
            Ok(v) if v.trim().is_empty() => Some("it is empty".to_string()),
            // A toutiao cookie the client would refuse (no csrftoken…):
            // said now, not when the account pauses. Never the value.
            Ok(v) if matches!(a.publisher, crate::publish::PublisherConfig::Toutiao(_)) => {
                crate::account_cmd::parse_cookie(&v)
                    .err()
                    .map(|e| e.to_string())
            }
            Ok(_) => None,
        }
        .map(|p| format!("{place}: {p}"));
        if let Some(p) = problem {
            f.errors
                .push(at(line, Some(&u.id), format!("account {}: {p}", a.name)));
        }
    }
}

/// A schedule that fires more often than once a minute (a seconds field):
/// allowed, but a site polled that often notices.
#[allow(clippy::too_many_arguments)]
fn schedules(
    f: &mut Findings,
    doc: &Doc,
    region: (usize, usize),
    u: &Unit,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
    at: &impl Fn(Option<usize>, Option<&str>, String) -> ConfigError,
) {
    let mut exprs = vec![u.schedule.as_str()];
    exprs.extend(u.sources.iter().filter_map(|s| s.schedule.as_deref()));
    exprs.dedup();
    let mut warned = std::collections::HashSet::new();
    for expr in exprs {
        if !warned.insert(expr) {
            continue;
        }
        let Ok(s) = crate::schedule::Schedule::parse(expr) else {
            continue;
        };
        let times = s.upcoming(now.with_timezone(&tz), 10);
        let Some(gap) = times.windows(2).map(|w| w[1] - w[0]).min() else {
            continue;
        };
        if gap < MIN_POLL_GAP {
            let quoted = format!("\"{expr}\"");
            let line = doc.text[region.0..region.1]
                .find(&quoted)
                .map(|o| region.0 + o)
                .or_else(|| doc.text.find(&quoted))
                .map(|o| doc.lines.line(o));
            f.warnings.push(at(
                line,
                Some(&u.id),
                format!(
                    "schedule {quoted} polls every {} s, more often than once a minute: the site may take it for an attack (use 5 fields, minute first)",
                    gap.num_seconds()
                ),
            ));
        }
    }
}

/// Editors' tokens that look like the example's or hold whitespace, and an
/// editors file that others than its owner may read.
fn editor_tokens(f: &mut Findings, path: &Path, config: &Config) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let at = |line: Option<usize>, message: String| ConfigError::new(path, line, None, message);
    for ed in &config.editors {
        let line = regex::Regex::new(&format!(
            r#"(?m)^\s*name\s*=\s*"{}""#,
            regex::escape(&ed.name)
        ))
        .ok()
        .and_then(|re| re.find(&text))
        .map(|m| line_of(&text, m.start()));
        let token = ed.token.expose();
        let lower = token.to_lowercase();
        let distinct = token
            .chars()
            .collect::<std::collections::HashSet<_>>()
            .len();
        if EXAMPLE_TOKEN_WORDS.iter().any(|w| lower.contains(w))
            || distinct < MIN_DISTINCT_TOKEN_CHARS
        {
            f.warnings.push(at(
                line,
                format!(
                    "editor {:?}: the token looks like an example or is easy to guess; make one with: head -c 24 /dev/urandom | base64",
                    ed.name
                ),
            ));
        }
        if token.chars().any(char::is_whitespace) {
            f.warnings.push(at(
                line,
                format!(
                    "editor {:?}: the token holds whitespace (the desk trims what is typed, so a token with spaces at its ends never matches)",
                    ed.name
                ),
            ));
        }
    }
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path) {
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            f.warnings.push(at(
                None,
                format!(
                    "mode {mode:04o}: the editors' tokens are readable by other users; chmod 600 {}",
                    path.display()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// `tests/fixtures/check/one_unit.toml` (shared with `tests/check.rs`)
    /// in `dir`, its placeholders filled.
    fn config_in(dir: &Path, daemon: &str, cookie: &str, schedule: &str) -> std::path::PathBuf {
        let text = include_str!("../../tests/fixtures/check/one_unit.toml")
            .replace("{daemon}", daemon)
            .replace("{cookie}", cookie)
            .replace("{schedule}", schedule);
        let path = dir.join("autosync.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn findings(path: &Path) -> (Vec<String>, Vec<String>) {
        let cfg = crate::config::load(path).unwrap_or_else(|e| panic!("{e}"));
        let f = lint(path, &cfg, chrono::Utc::now());
        let s = |v: Vec<ConfigError>| v.iter().map(ToString::to_string).collect();
        (s(f.errors), s(f.warnings))
    }

    #[test]
    fn a_missing_cookie_file_and_an_unset_cookie_env_are_errors_with_file_line_and_unit() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_in(
            dir.path(),
            "",
            "cookie_file = \"secrets/sx-kx\"",
            "*/10 * * * *",
        );
        let (errors, _) = findings(&path);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let want = format!(
            "{}:17: unit sx-kx: account 示例省科协: cookie_file ",
            path.display()
        );
        assert!(errors[0].starts_with(&want), "{errors:?}");
        // Present: fine. Empty: an error too.
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/sx-kx"), "sessionid=a; csrftoken=b").unwrap();
        assert!(findings(&path).0.is_empty());
        std::fs::write(dir.path().join("secrets/sx-kx"), "\n").unwrap();
        assert!(findings(&path).0[0].contains("it is empty"));
        // A cookie the client would refuse, without its value.
        std::fs::write(dir.path().join("secrets/sx-kx"), "sessionid=SEKRIT").unwrap();
        let e = &findings(&path).0[0];
        assert!(e.contains("no csrftoken") && !e.contains("SEKRIT"), "{e}");
        let path = config_in(
            dir.path(),
            "",
            "cookie_env = \"AUTOSYNC_LINT_TEST_UNSET\"",
            "*/10 * * * *",
        );
        let (errors, _) = findings(&path);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains(":17: unit sx-kx:"), "{errors:?}");
        assert!(
            errors[0].contains(
                "cookie_env AUTOSYNC_LINT_TEST_UNSET: the environment variable is not set"
            )
        );
    }

    #[test]
    fn a_public_listen_address_and_a_schedule_by_the_second_are_warnings_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c"), "sessionid=a; csrftoken=b").unwrap();
        let path = config_in(
            dir.path(),
            "listen = \"0.0.0.0:8640\"",
            "cookie_file = \"c\"",
            "*/10 * * * * *",
        );
        let (errors, warnings) = findings(&path);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains(":11: unit sx-kx: schedule \"*/10 * * * * *\" polls every 10 s"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains(":3: [daemon] listen = \"0.0.0.0:8640\" is not a loopback"),
            "{warnings:?}"
        );
        // Loopback and once a minute: nothing to say.
        let path = config_in(
            dir.path(),
            "listen = \"[::1]:8640\"",
            "cookie_file = \"c\"",
            "* * * * *",
        );
        assert_eq!(findings(&path), (vec![], vec![]));
    }

    #[test]
    fn example_or_spaced_editor_tokens_and_a_readable_editors_file_are_warnings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c"), "sessionid=a; csrftoken=b").unwrap();
        let editors = dir.path().join("editors.toml");
        std::fs::write(
            &editors,
            "[[editor]]\nname = \"甲\"\ntoken = \"change-me-0000000000000000\"\n\n\
             [[editor]]\nname = \"乙\"\ntoken = \"Zq8 vT3kLm9Pw2Rx7Ny\"\n\n\
             [[editor]]\nname = \"丙\"\ntoken = \"Hk4Jd8Qs2Lp6Wm1Vz9Xc\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&editors, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = config_in(
            dir.path(),
            "editors_file = \"editors.toml\"",
            "cookie_file = \"c\"",
            "* * * * *",
        );
        let (errors, warnings) = findings(&path);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("editors.toml:2: editor \"甲\": the token looks like an example"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("editors.toml:6: editor \"乙\": the token holds whitespace"),
            "{warnings:?}"
        );
        assert!(warnings[2].contains("mode 0644"), "{warnings:?}");
        // No warning prints a token.
        assert!(
            !warnings
                .iter()
                .any(|w| w.contains("change-me") || w.contains("Zq8"))
        );
        std::fs::set_permissions(&editors, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(findings(&path).1.len(), 2);
    }

    /// `n` units with the `[daemon]` lines `daemon`, file publishers.
    fn matrix(dir: &Path, daemon: &str, n: usize) -> std::path::PathBuf {
        use std::fmt::Write as _;
        let mut text = format!("[daemon]\nstate_dir = \"state\"\n{daemon}\n");
        for k in 0..n {
            write!(
                text,
                "\n[[unit]]\nid = \"u{k}\"\naccount_name = \"单位{k}\"\norg_name = \"第{k}单位科协\"\nlevel = \"county\"\nsite = \"https://u{k}.example.org/\"\n  [[unit.source]]\n  feed = \"https://u{k}.example.org/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n"
            )
            .unwrap();
        }
        let path = dir.join("autosync.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn retention_that_does_not_fit_the_matrix_is_warned_at_its_line_with_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = matrix(dir.path(), "archive_after_days = 60", 5_000);
        let (errors, warnings) = findings(&path);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        // The window at its line (3), with the one that fits 5,000 units.
        assert!(
            warnings[0].contains(":3: [daemon] archive_after_days = 60 with 5000 units")
                && warnings[0].contains("set archive_after_days = 40"),
            "{warnings:?}"
        );
        // Bodies for ever by default: no line to name.
        assert!(
            warnings[1].contains("keep_bodies_days = 0 keeps every article body for ever")
                && warnings[1].contains("set keep_bodies_days = 30"),
            "{warnings:?}"
        );
        // What the warnings say to set silences them.
        let path = matrix(
            dir.path(),
            "archive_after_days = 40\nkeep_bodies_days = 30",
            5_000,
        );
        assert_eq!(findings(&path).1, Vec::<String>::new());
    }

    #[test]
    fn a_small_config_with_the_default_retention_gets_no_sizing_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = matrix(dir.path(), "", 300);
        assert_eq!(findings(&path), (vec![], vec![]));
    }
}
