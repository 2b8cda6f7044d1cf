//! Building a unit's publisher from its config: credentials read at build
//! time (so a reload re-reads a renewed cookie), images fetched through the
//! one fetcher (politeness, robots, size caps and address checks hold for
//! them too).

use crate::config::{Account, Unit};
use crate::fetch::{self, Fetcher};
use crate::publish::{self, Publisher};
use async_trait::async_trait;
use std::sync::Arc;
use url::Url;

/// The publisher of a unit's account, from its config. `Err` names what is
/// missing (a cookie file, a bad base URL).
pub fn build_publisher(
    unit: &Unit,
    account: &Account,
    fetcher: &Arc<Fetcher>,
) -> Result<Arc<dyn Publisher>, String> {
    let ctx = publish::BuildCtx {
        unit: &unit.id,
        account_name: &account.name,
        api: fetcher.api_client(),
        images: Arc::new(FetcherImages(
            fetcher.clone(),
            fetch::Reach::site(&unit.id, unit.scope()),
        )),
    };
    account.publisher.build(&ctx)
}

/// Images for publishers come through the fetcher, so politeness, robots and
/// size caps hold for them too.
/// The reach is the unit's; each image may also come from its article's site.
struct FetcherImages(Arc<Fetcher>, fetch::Reach);

#[async_trait]
impl publish::ImageSource for FetcherImages {
    async fn fetch_image(&self, url: &Url, referer: &Url) -> Result<publish::Image, String> {
        let mut req =
            fetch::Request::new(url.clone()).with_reach(self.1.clone().also_site_of(referer));
        req.referer = Some(referer.clone());
        match self.0.get(&req).await.map_err(|e| e.to_string())? {
            fetch::Response::Ok(page) => {
                let ct = page.content_type.clone();
                if let Some(ct) = &ct
                    && !ct.starts_with("image/")
                    && !ct.starts_with("application/octet-stream")
                {
                    return Err(format!("{url}: not an image ({ct})"));
                }
                Ok(publish::Image {
                    bytes: page.body,
                    content_type: ct,
                })
            }
            fetch::Response::NotModified => Err(format!("{url}: unexpected 304")),
        }
    }
}
