//! The publisher table of a `kind = "wechat"` account:
//!
//! ```toml
//! [unit.publisher]
//! kind = "wechat"
//! app_id = "wx0123456789abcdef"
//! app_secret_credential = "wechat-kepu"   # or app_secret_file / app_secret_env
//! cover = "covers/kepu.png"               # relative to the config file
//! # account_name = "示例省科协"            # the unit's account_name when absent
//! # base_url = "https://api.weixin.qq.com"
//! ```
//!
//! Parsing is strict (`deny_unknown_fields`: a misspelt option is an error,
//! not a default) and validation names every problem at once, each as a
//! sentence naming its option, so `autosync check` reports them together.
//! The secret is read only when the publisher is built, so a reload reads a
//! renewed one.

use super::client::{Wechat, WechatParams};
use super::images;
use super::rules::IMAGE_MAX_BYTES;
use crate::publish::{BuildCtx, Publisher};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";

/// A WeChat official account's publisher options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatConfig {
    /// The account's AppID (`wx` and 16 hexadecimal digits).
    pub app_id: String,
    /// The AppSecret: a file holding it …
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
    /// … or an environment variable …
    #[serde(default)]
    pub app_secret_env: Option<String>,
    /// … or a systemd credential (`LoadCredential=`).
    #[serde(default)]
    pub app_secret_credential: Option<String>,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The default cover: an image file, used for articles without images.
    pub cover: PathBuf,
    /// The account's name as the operator knows it; when set and different
    /// from the unit's `account_name`, the binding check pauses the account.
    #[serde(default)]
    pub account_name: Option<String>,
    /// How long the platform may take to decide a submission (its checks
    /// take minutes). An article left under way by a crash is sent again
    /// only after this, never while the first may still appear: the lower,
    /// the sooner a crash's victim goes out, the higher the risk of a
    /// double post. 1800 (30 minutes) unless set.
    #[serde(default)]
    pub settle_secs: Option<u64>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

impl WechatConfig {
    /// Relative file paths (`app_secret_file`, `cover`) made relative to
    /// `base_dir`, the config file's directory — not to wherever the
    /// daemon happens to be started.
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        if let Some(f) = &self.app_secret_file
            && f.is_relative()
        {
            self.app_secret_file = Some(base_dir.join(f));
        }
        if self.cover.is_relative() {
            self.cover = base_dir.join(&self.cover);
        }
    }

    /// Where the secret comes from (see [`crate::credential`]).
    pub fn secret(&self) -> Option<crate::credential::SecretRef> {
        crate::credential::SecretRef::first(
            "app_secret",
            self.app_secret_file.as_deref(),
            self.app_secret_env.as_deref(),
            self.app_secret_credential.as_deref(),
        )
    }

    /// Every problem of these options, as sentences naming the option;
    /// empty when there is none. Reads the cover file (after
    /// [`resolve_paths`](Self::resolve_paths)), never the secret.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let sources = [
            self.app_secret_file.is_some(),
            self.app_secret_env.is_some(),
            self.app_secret_credential.is_some(),
        ]
        .into_iter()
        .filter(|s| *s)
        .count();
        if sources != 1 {
            problems.push(format!(
                "exactly one of app_secret_file, app_secret_env or app_secret_credential must be set ({sources} are)"
            ));
        }
        if self
            .app_secret_env
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            problems.push("app_secret_env must name an environment variable".to_string());
        }
        if let Some(c) = &self.app_secret_credential
            && (c.trim().is_empty() || c.contains('/'))
        {
            problems.push(format!(
                "app_secret_credential {c:?} must be a credential name (as in LoadCredential=NAME:…), not a path"
            ));
        }
        if !is_app_id(&self.app_id) {
            problems.push(format!(
                "app_id {:?} is not a WeChat AppID (wx followed by 16 hexadecimal digits, as shown under 开发 → 基本配置)",
                self.app_id
            ));
        }
        match Url::parse(&self.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                if u.query().is_some() || u.fragment().is_some() || u.path() != "/" {
                    problems.push(format!(
                        "base_url {:?} must be the API's origin only (like {DEFAULT_BASE_URL}), without a path or query",
                        self.base_url
                    ));
                }
            }
            Ok(_) => problems.push(format!(
                "base_url {:?} must be an http(s) URL",
                self.base_url
            )),
            Err(e) => problems.push(format!("base_url {:?} is not a URL: {e}", self.base_url)),
        }
        match std::fs::read(&self.cover) {
            Ok(bytes) => {
                if let Err(e) = images::fit_image(&bytes, IMAGE_MAX_BYTES) {
                    problems.push(format!(
                        "cover {} cannot be a WeChat cover: {e} (use a JPEG or PNG under 1 MB)",
                        self.cover.display()
                    ));
                }
            }
            Err(e) => problems.push(format!("cover {}: {e}", self.cover.display())),
        }
        if self
            .account_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            problems.push(
                "account_name must not be empty (leave it out to use the unit's)".to_string(),
            );
        }
        problems
    }

    /// The account's publisher. Reads the AppSecret and the cover now, so a
    /// reload picks up renewed ones; `Err` names what is missing.
    pub fn build(&self, ctx: &BuildCtx) -> Result<Arc<dyn Publisher>, String> {
        let app_secret = crate::secret::read_secret(
            "app_secret",
            self.app_secret_file.as_deref(),
            self.app_secret_env.as_deref(),
            self.app_secret_credential.as_deref(),
        )?;
        let base_url =
            Url::parse(&self.base_url).map_err(|e| format!("base_url {:?}: {e}", self.base_url))?;
        let cover = std::fs::read(&self.cover)
            .map_err(|e| format!("cover {}: {e}", self.cover.display()))?;
        let account_name = self
            .account_name
            .clone()
            .unwrap_or_else(|| ctx.account_name.to_string());
        let params = WechatParams {
            base_url,
            app_id: self.app_id.clone(),
            app_secret,
            account_name,
            cover,
        };
        let mut w = Wechat::new(params, ctx.api.clone(), ctx.images.clone())
            .map_err(|e| format!("unit {}: {e}", ctx.unit))?;
        if let Some(secs) = self.settle_secs {
            w = w.with_settle(std::time::Duration::from_secs(secs));
        }
        Ok(Arc::new(w))
    }
}

fn is_app_id(s: &str) -> bool {
    s.len() == 18
        && s.starts_with("wx")
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{Image, ImageSource};

    fn png() -> Vec<u8> {
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([200, 10, 10]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn parse(toml_text: &str) -> Result<WechatConfig, String> {
        toml::from_str(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn options_parse_with_defaults_and_unknown_ones_are_refused() {
        let c = parse(
            "app_id = \"wx0123456789abcdef\"\napp_secret_env = \"WX_SECRET\"\ncover = \"c.png\"\n",
        )
        .unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.account_name, None);
        let e = parse(
            "app_id = \"wx0123456789abcdef\"\napp_secret_env = \"X\"\ncover = \"c.png\"\nappsecret = \"leak\"\n",
        )
        .unwrap_err();
        assert!(e.contains("appsecret"), "{e}");
        assert!(parse("app_id = \"wx0123456789abcdef\"\napp_secret_env = \"X\"\n").is_err());
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_file() {
        let mut c = parse(
            "app_id = \"wx0123456789abcdef\"\napp_secret_file = \"secrets/wx\"\ncover = \"covers/a.png\"\n",
        )
        .unwrap();
        c.resolve_paths(Path::new("/etc/autosync"));
        assert_eq!(
            c.app_secret_file.as_deref(),
            Some(Path::new("/etc/autosync/secrets/wx"))
        );
        assert_eq!(c.cover, Path::new("/etc/autosync/covers/a.png"));
        let mut abs = c.clone();
        abs.resolve_paths(Path::new("/elsewhere"));
        assert_eq!(abs, c, "absolute paths stay");
    }

    #[test]
    fn validation_names_every_problem_by_its_option() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cover.png"), png()).unwrap();
        std::fs::write(dir.path().join("not-an-image.png"), b"<html>").unwrap();
        let mut good = parse(
            "app_id = \"wx0123456789abcdef\"\napp_secret_credential = \"wx\"\ncover = \"cover.png\"\n",
        )
        .unwrap();
        good.resolve_paths(dir.path());
        assert_eq!(good.validate(), Vec::<String>::new());

        let mut bad = parse(
            "app_id = \"WX-123\"\napp_secret_file = \"s\"\napp_secret_env = \"\"\ncover = \"not-an-image.png\"\nbase_url = \"ftp://x/\"\naccount_name = \" \"\n",
        )
        .unwrap();
        bad.resolve_paths(dir.path());
        let problems = bad.validate();
        for option in [
            "exactly one of app_secret_file",
            "app_secret_env must",
            "app_id \"WX-123\"",
            "base_url \"ftp://x/\"",
            "cover ",
            "account_name",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(option)),
                "{option}: {problems:#?}"
            );
        }
        let mut missing = good.clone();
        missing.cover = dir.path().join("nope.png");
        missing.app_secret_credential = None;
        let problems = missing.validate();
        assert!(
            problems.iter().any(|p| p.contains("(0 are)")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("nope.png")),
            "{problems:?}"
        );
        let mut path = good.clone();
        path.base_url = "https://api.weixin.qq.com/cgi-bin?x=1".into();
        assert_eq!(path.validate().len(), 1);
    }

    struct NoImages;
    #[async_trait::async_trait]
    impl ImageSource for NoImages {
        async fn fetch_image(&self, _: &Url, _: &Url) -> Result<Image, String> {
            Err("none".into())
        }
    }

    #[test]
    fn build_reads_the_secret_and_never_shows_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cover.png"), png()).unwrap();
        std::fs::write(dir.path().join("secret"), "TOPSECRETVALUE\n").unwrap();
        let mut c = parse(
            "app_id = \"wx0123456789abcdef\"\napp_secret_file = \"secret\"\ncover = \"cover.png\"\n",
        )
        .unwrap();
        c.resolve_paths(dir.path());
        let ctx = BuildCtx {
            unit: "u",
            account_name: "示例省科协",
            api: reqwest::Client::new(),
            images: Arc::new(NoImages),
        };
        let p = c.build(&ctx).unwrap();
        assert_eq!(p.kind(), "wechat");
        c.app_secret_file = Some(dir.path().join("missing"));
        let e = c.build(&ctx).err().unwrap();
        assert!(e.starts_with("app_secret_file "), "{e}");
        assert!(!format!("{c:?}").contains("TOPSECRETVALUE"));
    }
}
