//! `kind = "toutiao"`: what the config says of a toutiao account, checked
//! and built here so that nothing outside this folder knows toutiao's
//! options.

use crate::publish::{BuildCtx, Publisher};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

/// 头条号 through its web API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToutiaoConfig {
    pub base_url: String,
    /// A file holding the cookie string (relative to the config file).
    pub cookie_file: Option<PathBuf>,
    /// Or an environment variable holding it.
    pub cookie_env: Option<String>,
    /// Or a systemd credential (`LoadCredential=`): the file of this name
    /// in `$CREDENTIALS_DIRECTORY`.
    pub cookie_credential: Option<String>,
}

impl ToutiaoConfig {
    /// Relative paths are relative to the config file's directory.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        if let Some(p) = &self.cookie_file
            && p.is_relative()
        {
            self.cookie_file = Some(base_dir.join(p));
        }
    }

    /// Where the cookie comes from (see [`crate::credential`]).
    pub fn secret(&self) -> Option<crate::credential::SecretRef> {
        crate::credential::SecretRef::first(
            "cookie",
            self.cookie_file.as_deref(),
            self.cookie_env.as_deref(),
            self.cookie_credential.as_deref(),
        )
    }

    /// What is wrong, as sentences naming the option.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = crate::config::parse_http_url(&self.base_url) {
            out.push(format!("publisher base_url: {e}"));
        }
        let given = [
            self.cookie_file.is_some(),
            self.cookie_env.is_some(),
            self.cookie_credential.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            out.push(
                "toutiao publisher takes exactly one of cookie_file, cookie_env or cookie_credential"
                    .into(),
            );
        }
        if let Some(cred) = &self.cookie_credential
            && (cred.is_empty() || cred.contains('/'))
        {
            out.push(format!(
                "cookie_credential {cred:?} must be a plain file name"
            ));
        }
        out
    }

    /// The account's publisher; the cookie is read now (a reload reads a
    /// renewed one).
    pub fn build(&self, ctx: &BuildCtx) -> Result<Arc<dyn Publisher>, String> {
        let cookie = crate::secret::read_secret(
            "cookie",
            self.cookie_file.as_deref(),
            self.cookie_env.as_deref(),
            self.cookie_credential.as_deref(),
        )?;
        let base =
            Url::parse(self.base_url.trim()).map_err(|e| format!("publisher base_url: {e}"))?;
        let p = super::Toutiao::new(
            base,
            cookie,
            ctx.account_name.to_string(),
            ctx.api.clone(),
            ctx.images.clone(),
        )
        .map_err(|e| format!("account {}: {e}", ctx.account_name))?;
        Ok(Arc::new(p))
    }
}
