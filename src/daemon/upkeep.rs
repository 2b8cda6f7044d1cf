//! Daily upkeep and the footprint gauges: body retention and archival keep
//! the store (and so the daemon's memory) sized to a window, not to
//! everything ever found.

use super::Shared;

/// Daily upkeep, unit by unit: `[daemon] keep_bodies_days` deletes the
/// bodies of items published or rejected longer ago; `archive_after_days`
/// then moves items done longer ago out of the database. Errors are logged;
/// the next day tries again.
pub(super) async fn upkeep(shared: Shared) {
    let cfg = shared.config();
    let now = shared.ctx.clock.now();
    let (mut bodies, mut archived) = (0, 0);
    for u in &cfg.units {
        if shared.ctx.shutdown.is_cancelled() {
            return;
        }
        if let Some(keep) = cfg.daemon.keep_bodies {
            match shared
                .ctx
                .store
                .drop_bodies_before(&u.id, now - keep, now)
                .await
            {
                Ok(n) => bodies += n,
                Err(e) => tracing::error!(unit = %u.id, "body retention: {e}"),
            }
        }
        if let Some(after) = cfg.daemon.archive_after {
            match shared.ctx.store.archive_before(&u.id, now - after).await {
                Ok(n) => archived += n,
                Err(e) => tracing::error!(unit = %u.id, "archival: {e}"),
            }
        }
    }
    if bodies > 0 {
        tracing::info!(bodies, "body retention: old article bodies deleted");
    }
    if archived > 0 {
        tracing::info!(
            items = archived,
            "archival: items done long ago moved out of the database"
        );
    }
}

/// Resident memory and database size, for ops to watch grow (sled keeps
/// per-page metadata of the whole store resident, BENCHMARKS.md).
pub(super) fn record_footprint(shared: &Shared) {
    if let Some(rss) = crate::memory::resident_bytes() {
        shared.metrics.resident_memory(rss);
    }
    match shared.ctx.store.db_size() {
        Ok(b) => shared.metrics.store_db_bytes(b),
        Err(e) => tracing::warn!("store size: {e}"),
    }
}
