//! Secrets (cookies, tokens) wrapped so that they cannot leak through `Debug`,
//! `Display` or serialisation by accident: the only way to the value is
//! [`Secret::expose`], which is easy to grep for.

use std::fmt;

/// A credential. Prints as `***` everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value; call it only where the secret is sent to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Read a secret given as a file, an environment variable or a systemd
/// credential (`LoadCredential=`: the file of that name in
/// `$CREDENTIALS_DIRECTORY`) — the first one given. `what` names the option
/// family in errors (`cookie`, `app_secret`, `secret`): `cookie_file PATH:
/// …`. Surrounding whitespace is trimmed. Read when a publisher is built,
/// so a reload reads a renewed secret.
pub fn read_secret(
    what: &str,
    file: Option<&std::path::Path>,
    env: Option<&str>,
    credential: Option<&str>,
) -> Result<Secret, String> {
    let text = match (file, env, credential) {
        (Some(path), _, _) => std::fs::read_to_string(path)
            .map_err(|e| format!("{what}_file {}: {e}", path.display()))?,
        (None, Some(var), _) => std::env::var(var)
            .map_err(|_| format!("{what}_env {var}: the environment variable is not set"))?,
        (None, None, Some(name)) => {
            let dir = std::env::var("CREDENTIALS_DIRECTORY").map_err(|_| {
                format!("{what}_credential {name}: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit file)")
            })?;
            let path = std::path::Path::new(&dir).join(name);
            std::fs::read_to_string(&path)
                .map_err(|e| format!("{what}_credential {}: {e}", path.display()))?
        }
        (None, None, None) => return Err(format!("no {what} configured")),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("sessionid=abc; csrftoken=xyz");
        assert!(!format!("{s:?}").contains("abc"));
        assert!(!format!("{s}").contains("abc"));
        assert_eq!(s.expose(), "sessionid=abc; csrftoken=xyz");
    }

    #[test]
    fn a_secret_is_read_from_a_file_and_errors_name_the_option() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "  abc\n").unwrap();
        let s = read_secret("app_secret", Some(&f), None, None).unwrap();
        assert_eq!(s.expose(), "abc");
        let e = read_secret("app_secret", Some(&dir.path().join("nope")), None, None).unwrap_err();
        assert!(e.starts_with("app_secret_file "), "{e}");
        let e = read_secret("cookie", None, Some("AUTOSYNC_TEST_UNSET_VAR"), None).unwrap_err();
        assert!(e.contains("cookie_env AUTOSYNC_TEST_UNSET_VAR"), "{e}");
        std::fs::write(&f, " \n").unwrap();
        assert!(read_secret("secret", Some(&f), None, None).is_err());
        assert_eq!(
            read_secret("secret", None, None, None).unwrap_err(),
            "no secret configured"
        );
    }
}
