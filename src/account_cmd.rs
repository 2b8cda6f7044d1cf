//! Renewing an account's cookie: `autosync account set-cookie` and the
//! desk's accounts page share this.
//!
//! A login expires every few weeks and the account pauses with 登录已过期;
//! the cookie is its lifeline. The new cookie is checked for its shape
//! (never echoed: it is the account's password), written where the config
//! says (`cookie_file`, atomically, mode 0600), and the running daemon is
//! told: it builds the account's publisher again from the new file and
//! checks the binding at once (see [`crate::outbox::Outboxes::renewed`]), so a
//! paused account resumes without a restart and without waiting.

use crate::config::{Account, Config, Unit};
use crate::credential::Source;
use crate::publish::PublisherConfig;
use std::path::PathBuf;
use std::time::Duration;

/// The cookies the toutiao back office needs: `sessionid` is the login,
/// `csrftoken` goes back as `X-CSRFToken` on every POST.
pub const REQUIRED_COOKIES: [&str; 2] = ["sessionid", "csrftoken"];

/// Why a cookie was not written. No variant holds the cookie.
#[derive(Debug, thiserror::Error)]
pub enum SetCookieError {
    #[error("no unit {0:?} in the config")]
    UnknownUnit(String),
    #[error("unit {unit}: no account {account:?} (its accounts: {names})")]
    UnknownAccount {
        unit: String,
        account: String,
        names: String,
    },
    #[error("unit {unit} has several accounts ({names}): say which with --account")]
    WhichAccount { unit: String, names: String },
    #[error(
        "unit {unit}, account {account}: a {kind} account has no cookie (its secret is set in its own option; see the README)"
    )]
    NoCookie {
        unit: String,
        account: String,
        kind: &'static str,
    },
    #[error(
        "unit {unit}, account {account}: the config gives the cookie as {option}, not cookie_file; {hint}"
    )]
    NotAFile {
        unit: String,
        account: String,
        option: String,
        hint: &'static str,
    },
    #[error("the cookie is refused: {0} (nothing was written)")]
    Malformed(String),
    #[error("unit {unit}, account {account}: cannot write {}: {source}", path.display())]
    Write {
        unit: String,
        account: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The cookie string from what was pasted: surrounding whitespace and a
/// trailing newline go, so does a `Cookie:` header name copied with it.
/// Refused (the message never holds the value): empty, several lines,
/// characters a header cannot carry, something other than `name=value`
/// pairs, or no `sessionid` / `csrftoken`.
pub fn parse_cookie(input: &str) -> Result<String, SetCookieError> {
    let bad = |m: &str| Err(SetCookieError::Malformed(m.to_string()));
    let mut s = input.trim();
    if s.len() >= 7 && s[..7].eq_ignore_ascii_case("cookie:") {
        s = s[7..].trim();
    }
    if s.is_empty() {
        return bad("it is empty (paste the cookie string on stdin)");
    }
    if s.contains(['\n', '\r']) {
        return bad("it has several lines; paste the one cookie string");
    }
    if !s
        .chars()
        .all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic())
    {
        return bad("it holds characters a cookie cannot (non-ASCII or control characters)");
    }
    let mut names = Vec::new();
    for pair in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((name, _)) if !name.trim().is_empty() && !name.contains([' ', '\t']) => {
                names.push(name.trim())
            }
            _ => return bad("it is not name=value pairs separated by \"; \""),
        }
    }
    let missing: Vec<&str> = REQUIRED_COOKIES
        .iter()
        .copied()
        .filter(|r| !names.contains(r))
        .collect();
    if !missing.is_empty() {
        return Err(SetCookieError::Malformed(format!(
            "it has no {}; copy the whole Cookie header of a logged-in mp.toutiao.com page",
            missing.join(" or ")
        )));
    }
    Ok(s.to_string())
}

/// The unit's account whose cookie is set (`account` by name; the unit's
/// only one when `None`) and the file its cookie lives in.
pub fn target<'a>(
    config: &'a Config,
    unit: &str,
    account: Option<&str>,
) -> Result<(&'a Unit, &'a Account, PathBuf), SetCookieError> {
    let u = config
        .unit(unit)
        .ok_or_else(|| SetCookieError::UnknownUnit(unit.to_string()))?;
    let names = || u.account_names().join(", ");
    let a = match account {
        Some(name) => u.accounts.iter().find(|a| a.name == name).ok_or_else(|| {
            SetCookieError::UnknownAccount {
                unit: u.id.clone(),
                account: name.to_string(),
                names: names(),
            }
        })?,
        None if u.accounts.len() == 1 => &u.accounts[0],
        None => {
            return Err(SetCookieError::WhichAccount {
                unit: u.id.clone(),
                names: names(),
            });
        }
    };
    let secret = match &a.publisher {
        PublisherConfig::Toutiao(c) => c.secret(),
        other => {
            return Err(SetCookieError::NoCookie {
                unit: u.id.clone(),
                account: a.name.clone(),
                kind: other.kind(),
            });
        }
    };
    let not_a_file = |option: String, hint| SetCookieError::NotAFile {
        unit: u.id.clone(),
        account: a.name.clone(),
        option,
        hint,
    };
    match secret.map(|s| (s.option(), s.source)) {
        Some((_, Source::File(path))) => Ok((u, a, path)),
        Some((option, Source::Env(_))) => Err(not_a_file(
            option,
            "an environment variable cannot be changed from outside the process: set it where the service is started and restart, or switch to cookie_file",
        )),
        Some((option, Source::Credential(_))) => Err(not_a_file(
            option,
            "systemd copies credentials only when the service starts: write the file LoadCredential= names and restart, or switch to cookie_file to renew without a restart",
        )),
        None => Err(not_a_file(
            "nothing".into(),
            "give the publisher a cookie_file",
        )),
    }
}

/// The cookie as pasted on stdin. On a terminal, a prompt goes to stderr,
/// echo is off while it is read (the cookie is a password) and one line is
/// read; from a pipe or a file, all of it.
pub fn read_cookie_from_stdin() -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Read};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut s = String::new();
        stdin.lock().read_to_string(&mut s)?;
        return Ok(s);
    }
    eprint!("paste the cookie (not shown), then Enter: ");
    let _echo = EchoOff::new();
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    eprintln!();
    Ok(line)
}

/// Terminal echo off for as long as it lives (stdin's terminal).
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed termios they
        // fill in; failure (not a terminal) leaves echo as it is.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return EchoOff(None);
            }
            let old = t;
            t.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(old))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // SAFETY: restoring the settings read in `new`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, old);
            }
        }
    }
}

/// What a renewal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub unit: String,
    pub account: String,
    pub path: PathBuf,
}

/// Check `input` and write it as the cookie of `unit`'s account (see
/// [`target`]): atomically, mode 0600. Blocking (it syncs the file).
pub fn set_cookie(
    config: &Config,
    unit: &str,
    account: Option<&str>,
    input: &str,
) -> Result<Written, SetCookieError> {
    let (u, a, path) = target(config, unit, account)?;
    let cookie = parse_cookie(input)?;
    crate::credential::write_private(&path, &cookie).map_err(|source| SetCookieError::Write {
        unit: u.id.clone(),
        account: a.name.clone(),
        path: path.clone(),
        source,
    })?;
    Ok(Written {
        unit: u.id.clone(),
        account: a.name.clone(),
        path,
    })
}

/// What the running daemon said to a renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// No daemon answers on `[daemon] listen`: the next start reads the
    /// file.
    NoDaemon,
    /// The daemon read the new cookie and its binding check passed: the
    /// account publishes again.
    Resumed,
    /// The daemon read the new cookie; the account is still paused
    /// (reason, in English) after the wait.
    StillPaused(String),
    /// The daemon read the new cookie and the account was not paused.
    Renewed,
}

/// Tell the daemon on `[daemon] listen` that a credential file changed
/// (`POST /api/accounts/renewed`), then watch `/status` for up to
/// `wait` until `account` is no longer paused.
pub async fn tell_daemon(
    config: &Config,
    unit: &str,
    account: &str,
    wait: Duration,
) -> Result<Told, String> {
    let base = format!("http://{}", config.daemon.listen);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{base}/api/accounts/renewed");
    let was_paused = match paused_now(&client, &base, unit, account).await {
        Ok(p) => p.is_some(),
        Err(_) if !listening(&client, &base).await => return Ok(Told::NoDaemon),
        Err(e) => return Err(e),
    };
    let resp = match client.post(&url).send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Ok(Told::NoDaemon),
        Err(e) => return Err(format!("{url}: {e}")),
    };
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    if !was_paused {
        return Ok(Told::Renewed);
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match paused_now(&client, &base, unit, account).await? {
            None => return Ok(Told::Resumed),
            Some(p) if tokio::time::Instant::now() >= deadline => {
                return Ok(Told::StillPaused(p.reason.to_string()));
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Whether anything answers on `base`.
async fn listening(client: &reqwest::Client, base: &str) -> bool {
    !matches!(client.get(format!("{base}/healthz")).send().await, Err(e) if e.is_connect())
}

/// The account's pause as the daemon's `/status` says.
async fn paused_now(
    client: &reqwest::Client,
    base: &str,
    unit: &str,
    account: &str,
) -> Result<Option<crate::model::Pause>, String> {
    let status: crate::admin::Status = client
        .get(format!("{base}/status"))
        .send()
        .await
        .map_err(|e| format!("{base}/status: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{base}/status: {e}"))?;
    Ok(status
        .units
        .into_iter()
        .filter(|u| u.unit == unit)
        .flat_map(|u| u.accounts)
        .find(|a| a.account == account)
        .and_then(|a| a.paused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_cookie_loses_its_newline_and_header_name() {
        assert_eq!(
            parse_cookie("Cookie: sessionid=abc; csrftoken=x1\n").unwrap(),
            "sessionid=abc; csrftoken=x1"
        );
        assert_eq!(
            parse_cookie("csrftoken=x; other=1;sessionid=s\r\n").unwrap(),
            "csrftoken=x; other=1;sessionid=s"
        );
    }

    #[test]
    fn malformed_cookies_are_refused_without_echoing_them() {
        for (input, says) in [
            ("", "empty"),
            ("  \n", "empty"),
            ("sessionid=SECRETA\ncsrftoken=SECRETB", "several lines"),
            ("sessionid=SECRETA; csrftoken=秘密", "characters"),
            ("SECRETA SECRETB", "name=value"),
            ("sessionid=SECRETA", "no csrftoken"),
            ("csrftoken=SECRETB; sid_tt=SECRETA", "no sessionid"),
        ] {
            let e = parse_cookie(input).unwrap_err().to_string();
            assert!(e.contains(says), "{input:?}: {e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
    }
}
