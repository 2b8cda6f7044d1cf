//! Prometheus metrics, rendered in the text exposition format at `/metrics`.
//!
//! A small registry of our own rather than a metrics crate: a dozen series,
//! all labelled by `unit` (and `account`), and the format is simple. Every
//! series is declared in [`SERIES`], so the full list is visible in one place.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Every series autosync exports: name, type, help.
pub const SERIES: &[(&str, &str, &str)] = &[
    ("autosync_polls_total", "counter", "Source polls, by unit."),
    (
        "autosync_poll_errors_total",
        "counter",
        "Failed source polls or article fetches, by unit.",
    ),
    (
        "autosync_items_found_total",
        "counter",
        "Entries announced by the unit's sources.",
    ),
    (
        "autosync_items_new_total",
        "counter",
        "Entries not seen before.",
    ),
    (
        "autosync_published_total",
        "counter",
        "Items published, by unit and account.",
    ),
    (
        "autosync_publish_failures_total",
        "counter",
        "Publish attempts that failed, by unit and account.",
    ),
    (
        "autosync_queue_depth",
        "gauge",
        "Items waiting to be published (queued or due for retry).",
    ),
    (
        "autosync_held_items",
        "gauge",
        "Items waiting for an editor.",
    ),
    (
        "autosync_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the unit's last poll without errors.",
    ),
    (
        "autosync_account_paused",
        "gauge",
        "1 while the account's publishing is paused (expired login).",
    ),
    (
        "autosync_publish_latency_seconds",
        "histogram",
        "Time from discovery to publication.",
    ),
    (
        "autosync_resident_memory_bytes",
        "gauge",
        "The daemon's resident memory (RSS) after its last periodic trim; grows with the store (~110 bytes an item, BENCHMARKS.md).",
    ),
    (
        "autosync_store_db_bytes",
        "gauge",
        "Size of the sled database on disk (without the body files).",
    ),
];

const BUCKETS: &[f64] = &[
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4.0 * 3600.0,
    24.0 * 3600.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    values: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// The registry; shared by the daemon's tasks.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn labels(l: &[(&'static str, &str)]) -> Labels {
    l.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add to a counter.
    pub fn inc(&self, name: &'static str, l: &[(&'static str, &str)], by: f64) {
        let mut g = self.inner.lock().expect("metrics lock");
        *g.values.entry((name, labels(l))).or_default() += by;
    }

    /// Set a gauge.
    pub fn set(&self, name: &'static str, l: &[(&'static str, &str)], v: f64) {
        let mut g = self.inner.lock().expect("metrics lock");
        g.values.insert((name, labels(l)), v);
    }

    /// Observe a histogram value.
    pub fn observe(&self, name: &'static str, l: &[(&'static str, &str)], v: f64) {
        let mut g = self.inner.lock().expect("metrics lock");
        let h = g.histograms.entry((name, labels(l))).or_default();
        if h.buckets.is_empty() {
            h.buckets = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                h.buckets[i] += 1;
            }
        }
        h.sum += v;
        h.count += 1;
    }

    /// Forget a unit's series (it was removed from the config).
    pub fn remove_unit(&self, unit: &str) {
        let mut g = self.inner.lock().expect("metrics lock");
        let keep = |l: &Labels| !l.iter().any(|(k, v)| *k == "unit" && v == unit);
        g.values.retain(|(_, l), _| keep(l));
        g.histograms.retain(|(_, l), _| keep(l));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let g = self.inner.lock().expect("metrics lock");
        let mut out = String::new();
        for (name, kind, help) in SERIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((n, l), v) in g.values.range((*name, Vec::new())..) {
                if n != name {
                    break;
                }
                let _ = writeln!(out, "{name}{} {v}", fmt_labels(l, None));
            }
            for ((n, l), h) in g.histograms.range((*name, Vec::new())..) {
                if n != name {
                    break;
                }
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {}",
                        fmt_labels(l, Some(&b.to_string())),
                        h.buckets[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    fmt_labels(l, Some("+Inf")),
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{} {}", fmt_labels(l, None), h.sum);
                let _ = writeln!(out, "{name}_count{} {}", fmt_labels(l, None), h.count);
            }
        }
        out
    }
}

fn fmt_labels(l: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms_with_escaped_labels() {
        let m = Metrics::new();
        m.inc("autosync_polls_total", &[("unit", "sx-kx")], 1.0);
        m.inc("autosync_polls_total", &[("unit", "sx-kx")], 2.0);
        m.set("autosync_queue_depth", &[("unit", "a\"b")], 4.0);
        m.observe(
            "autosync_publish_latency_seconds",
            &[("unit", "sx-kx")],
            45.0,
        );
        let text = m.render();
        assert!(
            text.contains("autosync_polls_total{unit=\"sx-kx\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("autosync_queue_depth{unit=\"a\\\"b\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("autosync_publish_latency_seconds_bucket{unit=\"sx-kx\",le=\"30\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("autosync_publish_latency_seconds_bucket{unit=\"sx-kx\",le=\"60\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("autosync_publish_latency_seconds_count{unit=\"sx-kx\"} 1"),
            "{text}"
        );
        m.remove_unit("sx-kx");
        assert!(!m.render().contains("sx-kx"));
    }
}
