//! The daemon's HTTP endpoint on `[daemon] listen` (loopback by default):
//! `/healthz`, Prometheus `/metrics`, `/status` (JSON, what `autosync
//! status` prints), the editors' JSON API under `/api` ([`api`]) and their
//! web page under `/desk` ([`web`]).

pub mod api;
pub mod client;
pub mod web;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::outbox::Outboxes;
use crate::pipeline::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::Notify;

/// What the HTTP side needs of the process it serves, and nothing of its
/// tasks: the current config (a reload swaps it), the store and clock, the
/// metrics, the editors' sessions, and the accounts' outboxes and workers'
/// bells, so that the desk sends through the very outbox the workers use
/// and wakes them. The daemon hands one in; tests can build one.
#[derive(Clone)]
pub struct Service {
    pub ctx: Context,
    pub config: Arc<RwLock<Arc<Config>>>,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<web::Sessions>,
    pub outboxes: Arc<Outboxes>,
    /// Each unit's publish worker's bell.
    pub wakers: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

impl Service {
    pub fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// The editors' desk over the current config; editor actions go
    /// through the workers' outboxes and wake the unit's worker.
    pub fn desk(&self) -> crate::desk::Desk {
        let wakers = self.wakers.clone();
        let mut desk = crate::desk::Desk::new(self.ctx.clone(), self.config());
        desk.outboxes = self.outboxes.clone();
        desk.wake = Some(Arc::new(move |unit: &str| {
            if let Some(n) = wakers.lock().expect("wakers lock").get(unit) {
                n.notify_one();
            }
        }));
        desk
    }
}

/// Request bodies larger than this get 413: nothing an editor sends is big.
pub const MAX_BODY: usize = 64 * 1024;

/// One unit's line in `autosync status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnitStatus {
    pub unit: String,
    pub account: String,
    pub last_poll: Option<chrono::DateTime<chrono::Utc>>,
    pub last_success: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub queue_depth: usize,
    pub held: usize,
    pub failed: usize,
    pub published: usize,
    /// When the account last got a post: inspections fail an account that
    /// stays silent too long.
    #[serde(default)]
    pub last_post: Option<chrono::DateTime<chrono::Utc>>,
    /// Items sent whose outcome is not known yet (looked up before any
    /// retry).
    #[serde(default)]
    pub publishing: usize,
    /// Why the account's publishing is paused, and since when.
    #[serde(default)]
    pub paused: Option<crate::model::Pause>,
    /// The platform asked for no post before this time.
    #[serde(default)]
    pub rate_limited_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Sources' warnings (no entries found).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Status of every unit of `config`, from the store.
pub fn status(
    config: &crate::config::Config,
    store: &crate::store::Store,
) -> Result<Vec<UnitStatus>, crate::store::StoreError> {
    let mut out = Vec::new();
    for u in &config.units {
        let counts = store.unit_counts(&u.id)?;
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        let mut st = UnitStatus {
            unit: u.id.clone(),
            account: u.account_name.clone(),
            last_poll: None,
            last_success: None,
            last_error: None,
            queue_depth: n("queued"),
            held: n("held"),
            failed: n("failed"),
            published: n("published"),
            last_post: store.last_published(&u.id)?,
            publishing: n("publishing"),
            paused: None,
            rate_limited_until: None,
            warnings: vec![],
        };
        let account = store.account_state(&crate::model::AccountKey {
            unit: u.id.clone(),
            account: u.account().to_string(),
        })?;
        st.paused = account.paused;
        st.rate_limited_until = account.not_before.filter(|t| *t > chrono::Utc::now());
        for s in &u.sources {
            let ss = store.source_state(&u.id, &s.key())?;
            st.last_poll = st.last_poll.max(ss.last_poll);
            st.last_success = st.last_success.max(ss.last_success);
            if let Some(e) = ss.last_error {
                st.last_error = Some(e);
            }
            st.warnings.extend(ss.warning);
        }
        out.push(st);
    }
    Ok(out)
}

/// Render statuses as the table `autosync status` prints.
pub fn format_status(rows: &[UnitStatus]) -> String {
    let t = |v: Option<chrono::DateTime<chrono::Utc>>| {
        v.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
            .unwrap_or_else(|| "never".into())
    };
    let mut out = String::from(
        "unit\tlast poll\tlast success\tqueued\theld\tfailed\tpublished\tlast post\tlast error\tpublishing\taccount\twarning\n",
    );
    for r in rows {
        let account = match (&r.paused, r.rate_limited_until) {
            (Some(p), _) => format!("paused since {}: {}", t(Some(p.since)), p.reason),
            (None, Some(until)) => format!("rate limited until {}", t(Some(until))),
            (None, None) => "ok".into(),
        };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.unit,
            t(r.last_poll),
            t(r.last_success),
            r.queue_depth,
            r.held,
            r.failed,
            r.published,
            t(r.last_post),
            r.last_error.as_deref().unwrap_or("-"),
            r.publishing,
            account,
            if r.warnings.is_empty() {
                "-".to_string()
            } else {
                r.warnings.join("; ")
            }
        ));
    }
    out
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(s): State<Service>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn status_json(State(s): State<Service>) -> impl IntoResponse {
    match status(&s.config(), &s.ctx.store) {
        Ok(rows) => (StatusCode::OK, axum::Json(serde_json::json!(rows))).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The router, for the daemon and for tests.
pub fn router(shared: Service) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/status", get(status_json))
        .merge(api::routes())
        .merge(web::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Serve until the process stops (the daemon aborts this task on shutdown).
pub async fn serve(listener: tokio::net::TcpListener, shared: Service) {
    let shutdown = shared.ctx.shutdown.clone();
    let res = axum::serve(listener, router(shared))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = res {
        tracing::error!("http endpoint: {e}");
    }
}
