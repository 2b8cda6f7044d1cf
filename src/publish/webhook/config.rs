//! `kind = "webhook"` in a unit's `[unit.publisher]`: the receiver's URL,
//! where the signing secret is read from, and optionally the account's name.
//!
//! The registry of platforms (`config`) deserialises this, resolves its
//! paths against the config file's directory, collects [`validate`]'s
//! sentences with the file's line and unit, and calls [`build`] when the
//! outbox is built (so a reload reads a renewed secret).
//!
//! [`validate`]: WebhookConfig::validate
//! [`build`]: WebhookConfig::build

use super::client::Webhook;
use crate::publish::{BuildCtx, Publisher};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where posts are sent (http or https).
    pub url: String,
    /// A file holding the signing secret (relative to the config file).
    pub secret_file: Option<PathBuf>,
    /// Or an environment variable holding it.
    pub secret_env: Option<String>,
    /// Or a systemd credential (`LoadCredential=`): the file of this name in
    /// `$CREDENTIALS_DIRECTORY`.
    pub secret_credential: Option<String>,
    /// The account's name, sent as `account_name` and reported by the
    /// binding check; the unit's `account_name` when absent.
    pub account_name: Option<String>,
}

impl WebhookConfig {
    /// Make a relative `secret_file` relative to `base_dir` (the config
    /// file's directory), so the daemon finds it whatever its working
    /// directory.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        if let Some(p) = &self.secret_file
            && p.is_relative()
        {
            self.secret_file = Some(base_dir.join(p));
        }
    }

    /// Where the secret comes from (see [`crate::credential`]).
    pub fn secret(&self) -> Option<crate::credential::SecretRef> {
        crate::credential::SecretRef::first(
            "secret",
            self.secret_file.as_deref(),
            self.secret_env.as_deref(),
            self.secret_credential.as_deref(),
        )
    }

    /// What is wrong, one sentence each, naming the option; empty when
    /// nothing is. The URL is never echoed: it may carry a token.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match Url::parse(self.url.trim()) {
            Err(e) => errors.push(format!("webhook url is not a valid URL: {e}")),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => errors.push(format!(
                "webhook url must be http or https, not {}",
                u.scheme()
            )),
            Ok(u) if u.host_str().is_none() => errors.push("webhook url has no host".to_string()),
            Ok(_) => {}
        }
        let given = [
            self.secret_file.is_some(),
            self.secret_env.is_some(),
            self.secret_credential.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            errors.push(
                "webhook publisher takes exactly one of secret_file, secret_env or secret_credential"
                    .to_string(),
            );
        }
        if let Some(c) = &self.secret_credential
            && (c.is_empty() || c.contains('/'))
        {
            errors.push(format!("secret_credential {c:?} must be a plain file name"));
        }
        if let Some(v) = &self.secret_env
            && v.trim().is_empty()
        {
            errors.push("secret_env must name an environment variable".to_string());
        }
        if let Some(name) = &self.account_name
            && name.trim().is_empty()
        {
            errors.push(
                "webhook account_name must not be empty (leave it out to use the unit's)"
                    .to_string(),
            );
        }
        errors
    }

    /// The account's publisher: the secret read now (a reload reads it
    /// again), posting through the process's API client. `Err` names what
    /// is missing, never the secret or the URL's path.
    pub fn build(&self, ctx: &BuildCtx) -> Result<Arc<dyn Publisher>, String> {
        let secret = crate::secret::read_secret(
            "secret",
            self.secret_file.as_deref(),
            self.secret_env.as_deref(),
            self.secret_credential.as_deref(),
        )?;
        let url = Url::parse(self.url.trim())
            .map_err(|e| format!("webhook url is not a valid URL: {e}"))?;
        let account = self.account_name.as_deref().unwrap_or(ctx.account_name);
        let hook = Webhook::new(url, secret, ctx.unit, account, ctx.api.clone())
            .map_err(|e| format!("webhook account {account:?}: {e}"))?;
        Ok(Arc::new(hook))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{Image, ImageSource};
    use async_trait::async_trait;

    /// How the registry holds it: a variant of an internally tagged enum.
    #[derive(Debug, Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase")]
    enum Registry {
        Webhook(WebhookConfig),
    }

    fn parse(toml_text: &str) -> Result<WebhookConfig, String> {
        toml::from_str::<Registry>(toml_text)
            .map(|Registry::Webhook(c)| c)
            .map_err(|e| e.to_string())
    }

    const GOOD: &str = r#"
kind = "webhook"
url = "https://platform.example.gov.cn/autosync/in"
secret_file = "secrets/webhook.key"
"#;

    struct NoImages;
    #[async_trait]
    impl ImageSource for NoImages {
        async fn fetch_image(&self, _: &Url, _: &Url) -> Result<Image, String> {
            Err("none".into())
        }
    }

    fn ctx() -> BuildCtx<'static> {
        BuildCtx {
            unit: "sx-kx",
            account_name: "示例省科协",
            api: reqwest::Client::new(),
            images: Arc::new(NoImages),
        }
    }

    #[test]
    fn it_parses_as_a_tagged_variant_and_refuses_unknown_options() {
        let c = parse(GOOD).unwrap();
        assert_eq!(
            c.secret_file.as_deref(),
            Some(Path::new("secrets/webhook.key"))
        );
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let e = parse(&format!("{GOOD}secret = \"inline\"\n")).unwrap_err();
        assert!(e.contains("unknown field `secret`"), "{e}");
    }

    #[test]
    fn a_relative_secret_file_is_relative_to_the_config_files_directory() {
        let mut c = parse(GOOD).unwrap();
        c.resolve_paths(Path::new("/etc/autosync"));
        assert_eq!(
            c.secret_file.as_deref(),
            Some(Path::new("/etc/autosync/secrets/webhook.key"))
        );
        c.secret_file = Some(PathBuf::from("/run/k"));
        c.resolve_paths(Path::new("/etc/autosync"));
        assert_eq!(c.secret_file.as_deref(), Some(Path::new("/run/k")));
    }

    #[test]
    fn validation_names_the_option_and_never_echoes_the_url() {
        let mut c = parse(GOOD).unwrap();
        c.url = "ftp://host/TOKEN".into();
        c.secret_env = Some("X".into());
        c.secret_credential = Some("a/b".into());
        c.account_name = Some(" ".into());
        let e = c.validate();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(
            e[0].starts_with("webhook url must be http or https"),
            "{e:?}"
        );
        assert!(e[1].contains("exactly one of secret_file, secret_env or secret_credential"));
        assert!(e[2].starts_with("secret_credential \"a/b\""));
        assert!(e[3].starts_with("webhook account_name"));
        assert!(e.iter().all(|m| !m.contains("TOKEN")));
        c.url = "not a url TOKEN".into();
        assert!(c.validate()[0].starts_with("webhook url is not a valid URL"));
        assert!(c.validate().iter().all(|m| !m.contains("TOKEN")));
        let none = WebhookConfig {
            secret_file: None,
            ..parse(GOOD).unwrap()
        };
        assert!(none.validate()[0].contains("exactly one of"));
    }

    #[tokio::test]
    async fn build_reads_the_secret_and_names_the_account() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "SECRETVALUE\n").unwrap();
        let mut c = parse(GOOD).unwrap();
        c.secret_file = Some("k".into());
        c.resolve_paths(dir.path());
        let p = c.build(&ctx()).unwrap();
        assert_eq!(p.kind(), "webhook");
        assert_eq!(p.verify().await.unwrap().display_name, "示例省科协");
        c.account_name = Some("省科普平台".into());
        let p = c.build(&ctx()).unwrap();
        let info = p.verify().await.unwrap();
        assert_eq!(info.display_name, "省科普平台");
        assert_eq!(info.id, "https://platform.example.gov.cn");
    }

    #[test]
    fn build_fails_naming_the_missing_secret_and_not_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = parse(GOOD).unwrap();
        c.resolve_paths(dir.path());
        let e = c.build(&ctx()).err().unwrap();
        assert!(e.starts_with("secret_file "), "{e}");
        std::fs::write(dir.path().join("k"), "SECRETVALUE").unwrap();
        c.secret_file = Some(dir.path().join("k"));
        c.url = "mailto:x@y".into();
        let e = c.build(&ctx()).err().unwrap();
        assert!(
            e.contains("http or https") && !e.contains("SECRETVALUE"),
            "{e}"
        );
    }
}
