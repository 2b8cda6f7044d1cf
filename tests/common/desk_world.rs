//! A desk over an in-process store, for the tests that find items: a
//! config of a province with a city and a county below it and another
//! province, two editors (one of everything, one of the city), items put
//! straight into the store, and the real router on a loopback port.

use autosync::admin::Service;
use autosync::config::Config;
use autosync::store::{Item, State, Store};
use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::{Arc, RwLock};

pub const ALL: &str = "tok-all-0123456789abcdef";
pub const CITY: &str = "tok-city-0123456789abcdef";

/// A province with a city and a county below it, and another province.
pub fn config_text(extra_units: &str) -> String {
    let unit = |id: &str, name: &str, level: &str, parent: Option<&str>| {
        format!(
            "[[unit]]\nid = \"{id}\"\naccount_name = \"{name}号\"\norg_name = \"{name}\"\nlevel = \"{level}\"\n{}site = \"http://127.0.0.1:9/{id}/\"\n  [[unit.source]]\n  feed = \"http://127.0.0.1:9/{id}/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n\n",
            parent
                .map(|p| format!("parent = \"{p}\"\n"))
                .unwrap_or_default()
        )
    };
    format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\ntimezone = \"Asia/Shanghai\"\neditors_file = \"editors.toml\"\n\n{}{}{}{}{extra_units}",
        unit("prov", "示例省科协", "provincial", None),
        unit("city", "示例市科协", "city", Some("prov")),
        unit("county", "示例县科协", "county", Some("city")),
        unit("other", "另一省科协", "provincial", None),
    )
}

pub fn service(dir: &Path, text: &str) -> Service {
    std::fs::write(
        dir.join("editors.toml"),
        format!(
            "[[editor]]\nname = \"总台编辑\"\ntoken = \"{ALL}\"\n\n[[editor]]\nname = \"市台编辑\"\ntoken = \"{CITY}\"\nunits = [\"city\"]\n"
        ),
    )
    .unwrap();
    let path = dir.join("autosync.toml");
    std::fs::write(&path, text).unwrap();
    let config: Config = autosync::config::load(&path).unwrap();
    let ctx = autosync::pipeline::Context::open(
        &config,
        Arc::new(autosync::clock::SystemClock),
        Default::default(),
    )
    .unwrap();
    let metrics: Arc<autosync::metrics::Metrics> = Default::default();
    let outboxes = Arc::new(autosync::outbox::Outboxes::new(
        ctx.clone(),
        config.daemon.timezone,
        Some(metrics.clone()),
    ));
    Service {
        ctx,
        config: Arc::new(RwLock::new(Arc::new(config))),
        metrics,
        sessions: Default::default(),
        outboxes,
        wakers: Default::default(),
    }
}

/// An item of `unit` found at `found`, stored (record only).
pub async fn put(
    store: &Store,
    unit: &str,
    n: usize,
    title: &str,
    source: &str,
    state: State,
    found: DateTime<Utc>,
) -> Item {
    let i = Item {
        title: title.to_string(),
        ..Item::new(
            unit,
            &format!("https://{unit}.example.org/news/{n}.html"),
            source,
            found,
            state,
        )
    };
    store
        .insert_new(&i, std::slice::from_ref(&i.url))
        .await
        .unwrap();
    i
}

pub fn held() -> State {
    State::Held {
        reason: "人工审核".into(),
    }
}

/// Serve the desk on a loopback port until the service's shutdown; its
/// base URL.
pub async fn serve(s: Service) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(autosync::admin::serve(listener, s));
    base
}
