//! `[[daemon.alert]]` targets and the `[daemon]` options of the watch
//! (`failing_polls`, `summary_every_mins`), from the file as written to
//! what the daemon uses.
//!
//! A robot's webhook URL is a secret in itself (whoever has it can post to
//! the office's group), so it is held as a [`Secret`] from the moment it is
//! read and no message here ever echoes it; a target is named by its kind
//! and line instead.

use crate::config::ConfigError;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A unit failing this many polls in a row is alerted, unless
/// `[daemon] failing_polls` says otherwise.
pub const DEFAULT_FAILING_POLLS: u32 = 3;

/// The daemon's summary line comes this often, unless
/// `[daemon] summary_every_mins` says otherwise (0: never).
pub const DEFAULT_SUMMARY_EVERY_MINS: u64 = 60;

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// A WeCom (企业微信) group robot.
    Wecom,
    /// A DingTalk (钉钉) group robot, optionally signed.
    Dingtalk,
    /// A Feishu (飞书) custom bot, optionally signed.
    Feishu,
    /// Any HTTP endpoint taking a plain JSON body.
    Webhook,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Wecom => "wecom",
            AlertKind::Dingtalk => "dingtalk",
            AlertKind::Feishu => "feishu",
            AlertKind::Webhook => "webhook",
        }
    }

    /// Whether the robot knows a signing secret.
    fn signs(self) -> bool {
        matches!(self, AlertKind::Dingtalk | AlertKind::Feishu)
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[daemon.alert]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    pub kind: Spanned<AlertKind>,
    pub url: Spanned<String>,
    pub units: Option<Vec<Spanned<String>>>,
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    pub secret_credential: Option<String>,
}

/// The watch's part of `[daemon]`, as written.
#[derive(Debug, Default)]
pub struct RawAlerting {
    pub alert: Vec<RawAlert>,
    pub failing_polls: Option<Spanned<u32>>,
    pub summary_every_mins: Option<u64>,
}

/// Where a signing secret is read from (the first given), read at every
/// send so a renewed secret needs no reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSource {
    pub file: Option<PathBuf>,
    pub env: Option<String>,
    pub credential: Option<String>,
}

impl SecretSource {
    pub fn read(&self) -> Result<Secret, String> {
        crate::secret::read_secret(
            "secret",
            self.file.as_deref(),
            self.env.as_deref(),
            self.credential.as_deref(),
        )
    }
}

/// One alert target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: AlertKind,
    /// The robot's webhook URL: never printed.
    pub url: Secret,
    /// Only these units' alerts (`None`: every unit's).
    pub units: Option<BTreeSet<String>>,
    /// The robot's signing secret, when it has one (DingTalk, Feishu).
    pub secret: Option<SecretSource>,
    /// Where the target is written: how logs name it.
    pub line: usize,
}

impl Target {
    /// Whether the target takes `unit`'s alerts.
    pub fn covers(&self, unit: &str) -> bool {
        self.units.as_ref().is_none_or(|u| u.contains(unit))
    }

    /// A stable name for the target that does not reveal its URL, under
    /// which undelivered alerts wait in the store: a reload that moves the
    /// table keeps it, one that changes the URL makes a new target.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.kind.as_str().as_bytes());
        h.update([0]);
        h.update(self.url.expose().as_bytes());
        hex::encode(&h.finalize()[..8])
    }

    /// How logs name it: kind and line, never the URL.
    pub fn name(&self) -> String {
        format!("{} alert target (line {})", self.kind, self.line)
    }
}

/// What the daemon watches and where it tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerting {
    pub targets: Vec<Target>,
    /// A unit is failing once one of its sources failed this many polls in
    /// a row.
    pub failing_polls: u32,
    /// How often the daemon logs its summary line (`None`: never).
    pub summary_every: Option<Duration>,
}

impl Default for Alerting {
    fn default() -> Self {
        Alerting {
            targets: Vec::new(),
            failing_polls: DEFAULT_FAILING_POLLS,
            summary_every: Some(Duration::from_secs(DEFAULT_SUMMARY_EVERY_MINS * 60)),
        }
    }
}

/// Check the watch's part of `[daemon]` of `path`: `line` turns a byte
/// offset into a line, `unit_known` says whether a unit id is in the file,
/// `base_dir` anchors a relative `secret_file`. Every problem is returned,
/// none echoes a URL.
pub fn check(
    raw: RawAlerting,
    path: &Path,
    base_dir: &Path,
    line: &dyn Fn(usize) -> usize,
    unit_known: &dyn Fn(&str) -> bool,
) -> (Alerting, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let mut error = |line: usize, message: String| {
        errors.push(ConfigError {
            file: path.to_path_buf(),
            line: Some(line),
            unit: None,
            message,
        });
    };
    let failing_polls = match raw.failing_polls {
        Some(n) if *n.get_ref() == 0 => {
            error(
                line(n.span().start),
                "[daemon] failing_polls = 0: at least 1 (a unit is alerted after this many failed polls in a row)".into(),
            );
            DEFAULT_FAILING_POLLS
        }
        Some(n) => n.into_inner(),
        None => DEFAULT_FAILING_POLLS,
    };
    let summary_every = match raw.summary_every_mins.unwrap_or(DEFAULT_SUMMARY_EVERY_MINS) {
        0 => None,
        n => Some(Duration::from_secs(n.saturating_mul(60))),
    };
    let mut targets = Vec::new();
    for a in raw.alert {
        let at = line(a.url.span().start);
        let kind = *a.kind.get_ref();
        let what = format!("[[daemon.alert]] kind = \"{kind}\"");
        match url::Url::parse(a.url.get_ref().trim()) {
            Err(e) => error(at, format!("{what}: url is not a valid URL: {e}")),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => error(
                at,
                format!("{what}: url must be http or https, not {}", u.scheme()),
            ),
            Ok(u) if u.host_str().is_none() => error(at, format!("{what}: url has no host")),
            Ok(_) => {}
        }
        let units = a.units.map(|list| {
            let mut set = BTreeSet::new();
            for u in list {
                if !unit_known(u.get_ref()) {
                    error(
                        line(u.span().start),
                        format!("{what}: units: no unit {:?} in this file", u.get_ref()),
                    );
                }
                set.insert(u.into_inner());
            }
            set
        });
        if units.as_ref().is_some_and(BTreeSet::is_empty) {
            error(
                at,
                format!("{what}: units = []: leave it out for every unit"),
            );
        }
        let given = [
            a.secret_file.is_some(),
            a.secret_env.is_some(),
            a.secret_credential.is_some(),
        ]
        .into_iter()
        .filter(|g| *g)
        .count();
        let secret = match given {
            0 => None,
            _ if !kind.signs() => {
                error(
                    at,
                    format!("{what}: only dingtalk and feishu robots take a signing secret"),
                );
                None
            }
            1 => Some(SecretSource {
                file: a
                    .secret_file
                    .map(|p| if p.is_relative() { base_dir.join(p) } else { p }),
                env: a.secret_env,
                credential: a.secret_credential,
            }),
            _ => {
                error(
                    at,
                    format!("{what}: at most one of secret_file, secret_env or secret_credential"),
                );
                None
            }
        };
        if let Some(c) = secret.as_ref().and_then(|s| s.credential.as_ref())
            && (c.is_empty() || c.contains('/'))
        {
            error(
                at,
                format!("{what}: secret_credential {c:?} must be a plain file name"),
            );
        }
        targets.push(Target {
            kind,
            url: Secret::new(a.url.into_inner().trim()),
            units,
            secret,
            line: at,
        });
    }
    (
        Alerting {
            targets,
            failing_polls,
            summary_every,
        },
        errors,
    )
}
