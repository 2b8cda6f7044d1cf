//! The toutiao (头条号) platform client.
// Placeholder until the real client lands (branch `publish`).
use super::*;
use crate::secret::Secret;
use std::sync::Arc;

pub struct Toutiao;

impl Toutiao {
    pub fn new(
        _base_url: Url,
        _cookie: Secret,
        _account_name: String,
        _http: reqwest::Client,
        _images: Arc<dyn ImageSource>,
    ) -> Result<Self, PublishError> {
        Err(PublishError::Io("not implemented".into()))
    }
}

#[async_trait]
impl Publisher for Toutiao {
    fn kind(&self) -> &'static str {
        "toutiao"
    }
    async fn verify(&self) -> Result<AccountInfo, PublishError> {
        Err(PublishError::Io("not implemented".into()))
    }
    async fn publish(&self, _post: &Post) -> Outcome {
        Outcome::Unknown {
            reason: "not implemented".into(),
        }
    }
    async fn lookup(&self, _post: &Post) -> Result<Option<Remote>, PublishError> {
        Err(PublishError::Io("not implemented".into()))
    }
}
