//! A unit bound by its website: a `[[unit]]` with a `site` and no
//! `[[unit.source]]`, as the notice's auto-update mode binds it. At its
//! first poll the sources are discovered from the home page
//! ([`crate::source::discover`]); the choice and its reasons are recorded
//! in the store ([`crate::store::Discovered`]), logged, and shown by
//! `status`. The unit then polls those sources like configured ones —
//! the same baseline on evidence, so the first poll of a discovered source
//! takes only the `backfill` newest and never floods the account.
//!
//! Discovery runs again, at most once per [`RECHECK`], when the chosen
//! sources stopped yielding entries (or none was found) or the home page's
//! feed and section links changed (its fingerprint); after a failure to
//! read the home page, after [`RETRY`]. Configured sources always win: a
//! unit with any `[[unit.source]]` never discovers.
//!
//! A source chosen by a later discovery of a unit whose earlier sources
//! found entries starts as a source back after a stretch without entries:
//! only what is dated from the last day entries were found is new, so a
//! re-designed site's whole archive is not taken for news.

use crate::config::{Source, Unit};
use crate::fetch::Reach;
use crate::pipeline::{Context, UnitReport};
use crate::source::discover::{self, Discovery};
use crate::store::{Discovered, SourceState, StoreError, Trigger};
use chrono::{DateTime, Utc};

/// At most one re-discovery (or home page check) a unit per this long.
pub const RECHECK: chrono::Duration = chrono::Duration::hours(24);
/// After the home page could not be read, try again after this long.
pub const RETRY: chrono::Duration = chrono::Duration::hours(1);
/// A discovered source failing this many polls in a row counts as dry.
const DRY_ERRORS: u32 = 3;

/// The sources to poll for a unit bound by its site: discovered now when
/// due (see module docs), else the recorded ones. Problems land in `r`
/// (a home page that cannot be read, no source found), naming the site.
pub async fn sources_of(ctx: &Context, unit: &Unit, r: &mut UnitReport) -> Vec<Source> {
    match bind(ctx, unit, r).await {
        Ok(sources) => sources,
        Err(e) => {
            r.errors.push(format!("site {}: {e}", unit.site));
            Vec::new()
        }
    }
}

async fn bind(ctx: &Context, unit: &Unit, r: &mut UnitReport) -> Result<Vec<Source>, StoreError> {
    let store = &ctx.store;
    let now = ctx.clock.now();
    let mut rec = store.discovered(&unit.id)?;
    let scope = unit.scope();
    let reach = Reach::site(&unit.id, scope.clone());
    let Some(trigger) = due(ctx, unit, &mut rec, now, &reach).await? else {
        let sources = rec.sources();
        if sources.is_empty() {
            r.warnings.push(none_found(unit, &rec));
            r.empty_sources += 1;
        }
        return Ok(sources);
    };
    rec.at = Some(now);
    rec.checked_at = Some(now);
    rec.trigger = Some(trigger);
    rec.site = Some(unit.site.to_string());
    match discover::discover(&ctx.fetcher, &unit.site, &reach, &scope).await {
        Ok(d) => {
            log_discovery(unit, trigger, &d);
            seed_new_sources(ctx, unit, rec.discovery.as_ref(), &d)?;
            rec.discovery = Some(d);
            rec.error = None;
        }
        Err(e) => {
            let msg = e.to_string();
            tracing::warn!(unit = %unit.id, site = %unit.site, %trigger, "site discovery failed: {msg}");
            rec.error = Some(msg.clone());
            if rec.discovery.is_some() {
                // The sources found before are polled meanwhile.
                r.warnings.push(format!(
                    "{msg}; the sources discovered before are polled meanwhile"
                ));
            } else {
                r.errors.push(format!(
                    "{msg}; no source discovered yet (tried again after {} min)",
                    RETRY.num_minutes()
                ));
            }
        }
    }
    store.put_discovered(&unit.id, &rec)?;
    store.flush().await?;
    let sources = rec.sources();
    if sources.is_empty() && rec.discovery.is_some() {
        r.warnings.push(none_found(unit, &rec));
        r.empty_sources += 1;
    }
    Ok(sources)
}

/// Why discovery is due now, if it is.
async fn due(
    ctx: &Context,
    unit: &Unit,
    rec: &mut Discovered,
    now: DateTime<Utc>,
    reach: &Reach,
) -> Result<Option<Trigger>, StoreError> {
    let Some(at) = rec.at else {
        return Ok(Some(Trigger::FirstPoll));
    };
    if rec.site.as_deref() != Some(unit.site.as_str()) {
        return Ok(Some(Trigger::SiteChanged));
    }
    let Some(d) = &rec.discovery else {
        return Ok((now - at >= RETRY).then_some(Trigger::Retry));
    };
    if now - at < RECHECK {
        return Ok(None);
    }
    if dry(ctx, unit, d)? {
        return Ok(Some(Trigger::SourcesDry));
    }
    if rec.checked_at.is_some_and(|t| now - t < RECHECK) {
        return Ok(None);
    }
    rec.checked_at = Some(now);
    let scope = unit.scope();
    let changed = match discover::home_fingerprint(&ctx.fetcher, &unit.site, reach, &scope).await {
        Ok(fp) => fp != d.fingerprint,
        Err(e) => {
            // The sources may still answer: they are polled; the check
            // waits for the next day.
            tracing::warn!(unit = %unit.id, "checking the home page for changes: {e}");
            false
        }
    };
    if !changed {
        ctx.store.put_discovered(&unit.id, rec)?;
    }
    Ok(changed.then_some(Trigger::HomeChanged))
}

/// Whether none of the discovered sources yields entries any more (or none
/// was chosen).
fn dry(ctx: &Context, unit: &Unit, d: &Discovery) -> Result<bool, StoreError> {
    for s in d.sources() {
        let st = ctx.store.source_state(&unit.id, &s.key())?;
        let failing = st.consecutive_errors >= DRY_ERRORS || st.gone;
        if st.empty_since.is_none() && !failing {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Sources a re-discovery adds start after the last day the unit's earlier
/// sources found entries (module docs); a first discovery's start with no
/// state, and so take their baseline like configured ones.
fn seed_new_sources(
    ctx: &Context,
    unit: &Unit,
    before: Option<&Discovery>,
    now: &Discovery,
) -> Result<(), StoreError> {
    let Some(before) = before else {
        return Ok(());
    };
    let mut last_entries = None;
    for s in before.sources() {
        let st = ctx.store.source_state(&unit.id, &s.key())?;
        last_entries = last_entries.max(st.last_entries);
    }
    let Some(last) = last_entries else {
        return Ok(());
    };
    for s in now.sources() {
        let key = s.key();
        if ctx.store.source_state(&unit.id, &key)? != SourceState::default() {
            continue;
        }
        let st = SourceState {
            baselined: true,
            last_entries: Some(last),
            empty_since: Some(last),
            ..SourceState::default()
        };
        ctx.store.put_source_state(&unit.id, &key, &st)?;
    }
    Ok(())
}

fn log_discovery(unit: &Unit, trigger: Trigger, d: &Discovery) {
    let chosen: Vec<String> = d.chosen().map(|c| c.url.to_string()).collect();
    tracing::info!(
        unit = %unit.id,
        site = %unit.site,
        %trigger,
        chosen = %chosen.join(" "),
        "site discovery: {} source(s) chosen",
        chosen.len()
    );
    for c in &d.candidates {
        tracing::info!(unit = %unit.id, "site discovery: {c}");
    }
}

fn none_found(unit: &Unit, rec: &Discovered) -> String {
    if rec.discovery.is_none() {
        return format!(
            "site {}: no source discovered yet: {}; tried again at most every {} min",
            unit.site,
            rec.error.as_deref().unwrap_or("discovery has not run"),
            RETRY.num_minutes()
        );
    }
    let why: Vec<String> = rec
        .discovery
        .iter()
        .flat_map(|d| d.candidates.iter().map(ToString::to_string))
        .collect();
    format!(
        "site {}: no source found on the home page ({}); looked again at most once a day — add a [[unit.source]] (feed or list) or try `autosync probe {}`",
        unit.site,
        if why.is_empty() {
            "no announced feed, no news section link".to_string()
        } else {
            why.join("; ")
        },
        unit.site
    )
}
