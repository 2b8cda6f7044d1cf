//! The `file` publisher: one JSON file per published item, for dry runs.
// Placeholder until the real publisher lands (branch `publish`).
use super::*;
use std::path::PathBuf;

pub struct FilePublisher {
    #[allow(dead_code)]
    dir: PathBuf,
}

impl FilePublisher {
    pub fn new(dir: PathBuf) -> Self {
        FilePublisher { dir }
    }
}

#[async_trait]
impl Publisher for FilePublisher {
    fn kind(&self) -> &'static str {
        "file"
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
