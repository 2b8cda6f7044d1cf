//! `--probe`: the sources each imported site offers, found before the
//! config is written so that the centre reviews them with the rest.
//!
//! The finding itself is site discovery's job (feeds the home page
//! announces, then its news sections' list pages), shared with the daemon's
//! binding of a site at its first poll; the import only asks through
//! [`SourceFinder`] and records the answer. A site that cannot be reached
//! is recorded as such — a comment in the output, never a guessed source.

use super::ImportedUnit;
use url::Url;

/// A source found on a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundSource {
    Feed(Url),
    List(Url),
}

/// What probing a site gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Probe {
    /// Not asked (`--probe` not given): the daemon finds the sources at the
    /// unit's first poll.
    #[default]
    NotAsked,
    /// These sources, best first.
    Found(Vec<FoundSource>),
    /// The site answered but offers nothing recognisable as news.
    NothingFound,
    /// The site could not be reached or read: why.
    Failed(String),
}

/// Finds the sources of a site. Implemented by the site discovery; tests
/// use a local one.
#[async_trait::async_trait]
pub trait SourceFinder: Send + Sync {
    /// The sources of `site`, best first; an error says why the site could
    /// not be read.
    async fn find(&self, site: &Url) -> Result<Vec<FoundSource>, String>;
}

/// Probes every unit's site, `concurrency` at a time (sites of one import
/// are mostly different hosts; the finder's fetcher keeps per-host
/// politeness).
pub async fn probe_all(units: &mut [ImportedUnit], finder: &dyn SourceFinder, concurrency: usize) {
    use futures::StreamExt;
    let found: Vec<Probe> = futures::stream::iter(units.iter().map(|u| u.site.clone()))
        .map(|site| async move {
            match finder.find(&site).await {
                Ok(s) if s.is_empty() => Probe::NothingFound,
                Ok(s) => Probe::Found(s),
                Err(e) => Probe::Failed(e),
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    for (u, p) in units.iter_mut().zip(found) {
        if let Probe::Failed(why) = &p {
            tracing::warn!(unit = %u.id, site = %u.site, "probe failed: {why}");
        }
        u.probe = p;
    }
}
