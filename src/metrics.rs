//! Prometheus metrics, rendered in the text exposition format (0.0.4) at
//! `/metrics`.
//!
//! Every series is one typed field of [`Metrics`] (a `prometheus-client`
//! family keyed by a label struct), registered once with its help text, and
//! callers record through typed methods ([`Metrics::poll`],
//! [`Metrics::published`], …): a series name is written once, in
//! [`Metrics::new`], so a documented series cannot silently go unexported.
//! The README lists every series; a test renders `/metrics` and checks the
//! two agree (`admin::tests`).
//!
//! Counters are registered without their `_total`: `prometheus-client`
//! appends it (and refuses a name that already has it in debug builds). A
//! family renders nothing, not even its `# HELP`, until a series of it is
//! recorded.

use chrono::{DateTime, TimeDelta, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the publish latency buckets, in seconds: from a quick
/// automatic post to one that waited a day for an editor.
const LATENCY_BUCKETS: [f64; 8] = [
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4.0 * 3600.0,
    24.0 * 3600.0,
];

/// A unit's or an account's name as a label value: one allocation per
/// name, shared by every series that carries it (20,000 units × 13
/// families would otherwise copy each name a dozen times).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name(Arc<str>);

/// Looked up by `&str`: hashes and orders as the text it holds.
impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl EncodeLabelValue for Name {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        (&*self.0).encode(encoder)
    }
}

/// Labels of a unit's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UnitLabels {
    pub unit: Name,
}

/// Labels of a unit's account's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    pub unit: Name,
    pub account: Name,
}

/// Labels of `autosync_published_total`: which path sent the post.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PublishLabels {
    pub unit: Name,
    pub account: Name,
    pub path: PublishPath,
}

/// Labels of `autosync_account_state`: the account and one of its states.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountStateLabels {
    pub unit: Name,
    pub account: Name,
    pub state: HealthState,
}

/// An account's state: the alert watch's own type (`ok`, `paused`,
/// `rate_limited`).
pub use crate::alert::HealthState;

impl EncodeLabelValue for HealthState {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.as_str().encode(encoder)
    }
}

/// How a post went out: the outbox's own type, one for both (the outbox
/// passes the path it sent by to [`Metrics::published`]).
pub use crate::outbox::PublishPath;

/// By hand rather than derived: the derive writes the variant's name
/// (`Auto`), and label values are lower case by convention.
impl EncodeLabelValue for PublishPath {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.as_str().encode(encoder)
    }
}

type LatencyFamily = Family<UnitLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every series autosync exports; shared by the daemon's tasks (the families
/// lock inside).
pub struct Metrics {
    registry: Registry,
    polls: Family<UnitLabels, Counter>,
    poll_errors: Family<UnitLabels, Counter>,
    items_found: Family<UnitLabels, Counter>,
    items_new: Family<UnitLabels, Counter>,
    published: Family<PublishLabels, Counter>,
    publish_failures: Family<AccountLabels, Counter>,
    queue_depth: Family<UnitLabels, Gauge>,
    held_items: Family<UnitLabels, Gauge>,
    last_success: Family<UnitLabels, Gauge>,
    account_paused: Family<AccountLabels, Gauge>,
    account_state: Family<AccountStateLabels, Gauge>,
    last_publish: Family<AccountLabels, Gauge>,
    days_since_last_post: Family<AccountLabels, Gauge>,
    publish_latency: LatencyFamily,
    resident_memory: Gauge,
    store_db_bytes: Gauge,
    store_writable: Gauge,
    /// Every unit's name, and the accounts its series were recorded with,
    /// so that [`Metrics::remove_unit`] finds every label set to drop (a
    /// family can only remove a label set it is given).
    names: Mutex<HashMap<Name, BTreeSet<Name>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::default(),
            polls: Family::default(),
            poll_errors: Family::default(),
            items_found: Family::default(),
            items_new: Family::default(),
            published: Family::default(),
            publish_failures: Family::default(),
            queue_depth: Family::default(),
            held_items: Family::default(),
            last_success: Family::default(),
            account_paused: Family::default(),
            account_state: Family::default(),
            last_publish: Family::default(),
            days_since_last_post: Family::default(),
            publish_latency: Family::new_with_constructor(latency_histogram),
            resident_memory: Gauge::default(),
            store_db_bytes: Gauge::default(),
            store_writable: Gauge::default(),
            names: Mutex::default(),
        };
        // The registry holds clones: the families share their values.
        let r = &mut m.registry;
        r.register("autosync_polls", "Source polls, by unit", m.polls.clone());
        r.register(
            "autosync_poll_errors",
            "Failed source polls or article fetches, by unit",
            m.poll_errors.clone(),
        );
        r.register(
            "autosync_items_found",
            "Entries announced by the unit's sources",
            m.items_found.clone(),
        );
        r.register(
            "autosync_items_new",
            "Entries not seen before",
            m.items_new.clone(),
        );
        r.register(
            "autosync_published",
            "Items published, by unit, account and path (auto: the publish worker; push, broadcast: an editor)",
            m.published.clone(),
        );
        r.register(
            "autosync_publish_failures",
            "Publish attempts that failed, by unit and account",
            m.publish_failures.clone(),
        );
        r.register(
            "autosync_queue_depth",
            "Items waiting to be published (queued or due for retry)",
            m.queue_depth.clone(),
        );
        r.register(
            "autosync_held_items",
            "Items waiting for an editor",
            m.held_items.clone(),
        );
        r.register(
            "autosync_last_success_timestamp_seconds",
            "Unix time of the unit's last poll without errors",
            m.last_success.clone(),
        );
        r.register(
            "autosync_account_paused",
            "1 while the account's publishing is paused (expired login, bad publisher config)",
            m.account_paused.clone(),
        );
        r.register(
            "autosync_account_state",
            "1 for the account's current state (ok, paused, rate_limited), 0 for the others",
            m.account_state.clone(),
        );
        r.register(
            "autosync_last_publish_timestamp_seconds",
            "Unix time of the account's last post (its update clock: inspections fail an account silent too long)",
            m.last_publish.clone(),
        );
        r.register(
            "autosync_days_since_last_post",
            "Whole days (in [daemon] timezone) since the account's last post of any kind, or since its unit was first polled when it never posted; an inspection fails it at max_silence_days",
            m.days_since_last_post.clone(),
        );
        r.register(
            "autosync_publish_latency_seconds",
            "Time from discovery to publication",
            m.publish_latency.clone(),
        );
        r.register(
            "autosync_resident_memory_bytes",
            "The daemon's resident memory (RSS) after its last periodic trim; grows with the store (~110 bytes an item, BENCHMARKS.md)",
            m.resident_memory.clone(),
        );
        r.register(
            "autosync_store_db_bytes",
            "Size of the sled database on disk (without the body files)",
            m.store_db_bytes.clone(),
        );
        r.register(
            "autosync_store_writable",
            "1 while the store can write; 0 after a failed write (disk full, read-only) until a write succeeds again (/healthz says why)",
            m.store_writable.clone(),
        );
        m
    }

    fn unit_labels(&self, unit: &str) -> UnitLabels {
        let mut names = self.names.lock().expect("metrics names lock");
        UnitLabels {
            unit: intern_unit(&mut names, unit),
        }
    }

    fn account_labels(&self, unit: &str, account: &str) -> AccountLabels {
        let mut names = self.names.lock().expect("metrics names lock");
        let unit = intern_unit(&mut names, unit);
        let accounts = names.get_mut(&*unit.0).expect("interned just now");
        let account = match accounts.get(account) {
            Some(a) => a.clone(),
            None => {
                let a = Name(Arc::from(account));
                accounts.insert(a.clone());
                a
            }
        };
        AccountLabels { unit, account }
    }

    /// One poll of a unit: entries its sources announced, how many were
    /// new, how many sources or articles failed; `ok_at` is the poll's time
    /// when nothing failed.
    pub fn poll(
        &self,
        unit: &str,
        found: usize,
        new: usize,
        errors: usize,
        ok_at: Option<DateTime<Utc>>,
    ) {
        let l = self.unit_labels(unit);
        self.polls.get_or_create(&l).inc();
        self.items_found.get_or_create(&l).inc_by(found as u64);
        self.items_new.get_or_create(&l).inc_by(new as u64);
        self.poll_errors.get_or_create(&l).inc_by(errors as u64);
        if let Some(t) = ok_at {
            self.last_success.get_or_create(&l).set(t.timestamp());
        }
    }

    /// A unit's items waiting to be published and waiting for an editor.
    pub fn queue(&self, unit: &str, queued: usize, held: usize) {
        let l = self.unit_labels(unit);
        self.queue_depth.get_or_create(&l).set(gauge_value(queued));
        self.held_items.get_or_create(&l).set(gauge_value(held));
    }

    /// A post went out to the unit's account, by `path`.
    pub fn published(&self, unit: &str, account: &str, path: PublishPath) {
        let AccountLabels { unit, account } = self.account_labels(unit, account);
        self.published
            .get_or_create(&PublishLabels {
                unit,
                account,
                path,
            })
            .inc();
    }

    /// A publish attempt failed.
    pub fn publish_failed(&self, unit: &str, account: &str) {
        let l = self.account_labels(unit, account);
        self.publish_failures.get_or_create(&l).inc();
    }

    /// Whether the account's publishing is paused.
    pub fn account_paused(&self, unit: &str, account: &str, paused: bool) {
        let l = self.account_labels(unit, account);
        self.account_paused.get_or_create(&l).set(i64::from(paused));
    }

    /// The account's current state: 1 for it, 0 for the others, so an
    /// alert rule reads `autosync_account_state{state="paused"} == 1`.
    pub fn account_state(&self, unit: &str, account: &str, now: HealthState) {
        let AccountLabels { unit, account } = self.account_labels(unit, account);
        for state in HealthState::ALL {
            self.account_state
                .get_or_create(&AccountStateLabels {
                    unit: unit.clone(),
                    account: account.clone(),
                    state,
                })
                .set(i64::from(state == now));
        }
    }

    /// When the account last got a post (at start, from the store; then at
    /// every post).
    pub fn last_publish(&self, unit: &str, account: &str, at: DateTime<Utc>) {
        let l = self.account_labels(unit, account);
        self.last_publish.get_or_create(&l).set(at.timestamp());
    }

    /// Whole days the account has gone without a post (its update clock).
    pub fn days_since_last_post(&self, unit: &str, account: &str, days: i64) {
        let l = self.account_labels(unit, account);
        self.days_since_last_post.get_or_create(&l).set(days);
    }

    /// Time from an item's discovery to its publication.
    pub fn publish_latency(&self, unit: &str, latency: TimeDelta) {
        let secs = latency.num_milliseconds() as f64 / 1000.0;
        self.publish_latency
            .get_or_create(&self.unit_labels(unit))
            .observe(secs);
    }

    /// The daemon's resident memory after a trim.
    pub fn resident_memory(&self, bytes: u64) {
        self.resident_memory
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Size of the sled database on disk.
    pub fn store_db_bytes(&self, bytes: u64) {
        self.store_db_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Whether the store can write (see `Store::write_failure`).
    pub fn store_writable(&self, writable: bool) {
        self.store_writable.set(i64::from(writable));
    }

    /// Forget every series of a unit (it was removed from the config).
    pub fn remove_unit(&self, unit: &str) {
        let Some((name, accounts)) = self
            .names
            .lock()
            .expect("metrics names lock")
            .remove_entry(unit)
        else {
            // Nothing was ever recorded for it.
            return;
        };
        let l = UnitLabels { unit: name };
        for f in [
            &self.polls,
            &self.poll_errors,
            &self.items_found,
            &self.items_new,
        ] {
            f.remove(&l);
        }
        for f in [&self.queue_depth, &self.held_items, &self.last_success] {
            f.remove(&l);
        }
        self.publish_latency.remove(&l);
        for account in accounts {
            let l = AccountLabels {
                unit: l.unit.clone(),
                account,
            };
            self.publish_failures.remove(&l);
            self.account_paused.remove(&l);
            self.last_publish.remove(&l);
            self.days_since_last_post.remove(&l);
            for state in HealthState::ALL {
                self.account_state.remove(&AccountStateLabels {
                    unit: l.unit.clone(),
                    account: l.account.clone(),
                    state,
                });
            }
            for path in PublishPath::ALL {
                self.published.remove(&PublishLabels {
                    unit: l.unit.clone(),
                    account: l.account.clone(),
                    path,
                });
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The shared name of `unit`, made on its first series.
fn intern_unit(names: &mut HashMap<Name, BTreeSet<Name>>, unit: &str) -> Name {
    if let Some((name, _)) = names.get_key_value(unit) {
        return name.clone();
    }
    let name = Name(Arc::from(unit));
    names.insert(name.clone(), BTreeSet::new());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn counters_are_exported_with_one_total_suffix() {
        let m = Metrics::new();
        m.poll("sx-kx", 3, 1, 0, None);
        m.poll("sx-kx", 2, 0, 1, None);
        m.publish_failed("sx-kx", "陕西科协");
        let text = m.render();
        assert!(
            text.contains("# TYPE autosync_polls_total counter"),
            "{text}"
        );
        assert!(!text.contains("_total_total"), "{text}");
        for (series, want) in [
            ("autosync_polls_total{unit=\"sx-kx\"}", 2.0),
            ("autosync_items_found_total{unit=\"sx-kx\"}", 5.0),
            ("autosync_items_new_total{unit=\"sx-kx\"}", 1.0),
            ("autosync_poll_errors_total{unit=\"sx-kx\"}", 1.0),
            (
                "autosync_publish_failures_total{unit=\"sx-kx\",account=\"陕西科协\"}",
                1.0,
            ),
        ] {
            assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
        }
    }

    #[test]
    fn every_publish_path_counts_under_its_own_label() {
        let m = Metrics::new();
        m.published("sx-kx", "a", PublishPath::Auto);
        m.published("sx-kx", "a", PublishPath::Auto);
        m.published("sx-kx", "a", PublishPath::Push);
        m.published("sx-xa", "b", PublishPath::Broadcast);
        let text = m.render();
        let series = |unit: &str, account: &str, path: &str| {
            value(
                &text,
                &format!(
                    "autosync_published_total{{unit=\"{unit}\",account=\"{account}\",path=\"{path}\"}}"
                ),
            )
        };
        assert_eq!(series("sx-kx", "a", "auto"), Some(2.0), "{text}");
        assert_eq!(series("sx-kx", "a", "push"), Some(1.0), "{text}");
        assert_eq!(series("sx-xa", "b", "broadcast"), Some(1.0), "{text}");
    }

    #[test]
    fn gauges_timestamps_and_footprint_render_their_last_value() {
        let m = Metrics::new();
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        m.poll("u", 0, 0, 0, Some(t));
        m.queue("u", 4, 2);
        m.queue("u", 3, 1);
        m.account_paused("u", "acc", true);
        m.last_publish("u", "acc", t);
        m.resident_memory(50 << 20);
        m.store_db_bytes(1234);
        m.store_writable(true);
        let text = m.render();
        for (series, want) in [
            (
                "autosync_last_success_timestamp_seconds{unit=\"u\"}",
                1.79e9,
            ),
            ("autosync_queue_depth{unit=\"u\"}", 3.0),
            ("autosync_held_items{unit=\"u\"}", 1.0),
            ("autosync_account_paused{unit=\"u\",account=\"acc\"}", 1.0),
            (
                "autosync_last_publish_timestamp_seconds{unit=\"u\",account=\"acc\"}",
                1.79e9,
            ),
            ("autosync_resident_memory_bytes", 52428800.0),
            ("autosync_store_db_bytes", 1234.0),
            ("autosync_store_writable", 1.0),
        ] {
            assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
        }
        m.account_paused("u", "acc", false);
        assert_eq!(
            value(
                &m.render(),
                "autosync_account_paused{unit=\"u\",account=\"acc\"}"
            ),
            Some(0.0)
        );
    }

    #[test]
    fn account_state_is_one_for_the_current_state_only() {
        let m = Metrics::new();
        m.account_state("u", "acc", HealthState::Paused);
        m.account_state("u", "acc", HealthState::RateLimited);
        let text = m.render();
        let state = |s: &str| {
            value(
                &text,
                &format!("autosync_account_state{{unit=\"u\",account=\"acc\",state=\"{s}\"}}"),
            )
        };
        assert_eq!(state("ok"), Some(0.0), "{text}");
        assert_eq!(state("paused"), Some(0.0), "{text}");
        assert_eq!(state("rate_limited"), Some(1.0), "{text}");
    }

    #[test]
    fn latency_histogram_buckets_and_escaped_labels() {
        let m = Metrics::new();
        m.publish_latency("sx-kx", TimeDelta::seconds(45));
        m.queue("a\"b", 4, 0);
        let text = m.render();
        for line in [
            "autosync_publish_latency_seconds_bucket{unit=\"sx-kx\",le=\"30\"} 0",
            "autosync_publish_latency_seconds_bucket{unit=\"sx-kx\",le=\"60\"} 1",
            "autosync_publish_latency_seconds_bucket{unit=\"sx-kx\",le=\"86400\"} 1",
            "autosync_publish_latency_seconds_bucket{unit=\"sx-kx\",le=\"+Inf\"} 1",
            "autosync_publish_latency_seconds_sum{unit=\"sx-kx\"} 45.0",
            "autosync_publish_latency_seconds_count{unit=\"sx-kx\"} 1",
            "autosync_queue_depth{unit=\"a\\\"b\"} 4",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
    }

    /// A unit dropped by a config reload leaves no series behind, whichever
    /// method recorded them; other units keep theirs.
    #[test]
    fn remove_unit_drops_every_series_of_the_unit() {
        let m = Metrics::new();
        for unit in ["gone", "kept"] {
            m.poll(unit, 1, 1, 1, Some(Utc::now()));
            m.queue(unit, 1, 1);
            m.publish_latency(unit, TimeDelta::seconds(1));
            for path in PublishPath::ALL {
                m.published(unit, "acc", path);
            }
            m.published(unit, "other-acc", PublishPath::Push);
            m.publish_failed(unit, "acc");
            m.account_paused(unit, "acc", false);
            m.account_state(unit, "acc", HealthState::Ok);
            m.last_publish(unit, "acc", Utc::now());
        }
        m.remove_unit("gone");
        let text = m.render();
        assert!(!text.contains("\"gone\""), "{text}");
        let kept = text.lines().filter(|l| l.contains("\"kept\"")).count();
        // 4 counters, 3 unit gauges, 4 published, 1 failures, 2 account
        // gauges, 3 account states, 11 histogram lines.
        assert_eq!(kept, 4 + 3 + 4 + 1 + 2 + 3 + 11, "{text}");
    }

    /// 20,000 units × a dozen families: one allocation per name, not one
    /// per series.
    #[test]
    fn every_series_of_a_unit_holds_one_shared_name() {
        let m = Metrics::new();
        m.poll("u1", 1, 1, 0, None);
        m.queue("u1", 1, 0);
        m.account_state("u1", "acc", HealthState::Ok);
        let a = m.unit_labels("u1").unit;
        let b = m.account_labels("u1", "acc");
        assert!(Arc::ptr_eq(&a.0, &b.unit.0));
        assert!(Arc::ptr_eq(
            &b.account.0,
            &m.account_labels("u1", "acc").account.0
        ));
    }
}
