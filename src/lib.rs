//! autosync keeps an organisation's social-media accounts in step with its
//! official websites.
//!
//! Data flows through one module per stage:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | config | [`config`] | the TOML file, validated; every error names file, line, unit |
//! | fetch | [`fetch`], [`charset`], [`scope`] | polite, capped, conditional HTTP, every request checked before it connects; bytes to text; which hosts are a unit's site |
//! | discover | [`source`] | feeds and HTML list pages to article entries |
//! | extract | [`extract`] | article page to title, time, body, images |
//! | ingest | [`ingest`] | poll → discover → extract → dedupe → review → store; baselines only on evidence |
//! | store | [`store`], [`model`] | sled; items, the state table and its one check-and-set, per-source and per-account state; whether it can write |
//! | review | [`review`] | hold rules: word lists, personal data, missing parts |
//! | publish | [`outbox`], [`publish`] | the one path to an account (reconcile → gate → binding → take → send); the `Publisher` trait, one file per platform |
//! | pass | [`pipeline`], [`progress`] | `autosync once`: ingest then the outbox, per unit; the [`pipeline::Context`] every stage is handed; each unit's line as it finishes, a progress bar on a terminal |
//! | run | [`schedule`], [`daemon`], [`shard`] | cron schedules; one scheduler of polls and publishing turns, reload, signals; which units this daemon serves |
//! | credentials | [`credential`], [`account_cmd`] | where an account's cookie or secret lives, noticing it renewed, `account set-cookie` |
//! | editors | [`desk`], [`admin`] | approve/reject/push/broadcast; HTTP API, web desk, CLI client, over a narrow [`admin::Service`] |
//! | registration | [`import`], [`roster`] | certification forms (xlsx, xls, csv, docx) checked and written as `[[unit]]` tables; the matrix as it runs, out as xlsx/csv/json |
//! | site binding | [`site_binding`], [`probe`] | a unit bound by its website: its sources discovered at the first poll, recorded, looked for again when dry; `autosync probe` shows a unit admin what would be polled |
//! | report | [`report`] | 通报 over a period: per-account posts, silences and verdicts, totals per level and subtree; HTML with SVG charts, XLSX, CSV, JSON |
//!
//! Supporting: [`update_clock`] (each account's days without a post against
//! the inspection's deadline), [`alert`] (account health, the watch and its
//! alerts to WeCom/DingTalk/Feishu robots or a webhook), [`clock`] (wall time, passed in), [`hooks`] (pause points
//! that make race tests deterministic), [`secret`] (credentials that never
//! print), [`metrics`] (typed Prometheus series), [`systemd`] (sd_notify),
//! [`memory`] (glibc allocator tuning for a long-running process), [`demo`]
//! (a sample site for `autosync demo` and the tests), [`logging`] (what
//! `AUTOSYNC_LOG` means; colour only on a terminal). `main.rs` only parses
//! the command line and calls in here.

pub mod account_cmd;
pub mod admin;
pub mod alert;
pub mod charset;
pub mod clock;
pub mod config;
pub mod credential;
pub mod daemon;
pub mod demo;
pub mod desk;
pub mod extract;
pub mod fetch;
pub mod hooks;
pub mod import;
pub mod ingest;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod outbox;
pub mod pipeline;
pub mod probe;
pub mod progress;
pub mod publish;
pub mod report;
pub mod review;
pub mod roster;
pub mod schedule;
pub mod scope;
pub mod secret;
pub mod shard;
pub mod site_binding;
pub mod source;
pub mod store;
pub mod systemd;
pub mod update_clock;

/// Each unit's next `n` scheduled polls after `after`, as `autosync check
/// --next N` prints them.
pub fn schedule_report(
    cfg: &config::Config,
    after: chrono::DateTime<chrono::Utc>,
    n: usize,
) -> String {
    let tz = cfg.daemon.timezone;
    let mut out = String::new();
    for u in &cfg.units {
        let mut exprs = vec![u.schedule.clone()];
        for s in &u.sources {
            if let Some(e) = &s.schedule
                && !exprs.contains(e)
            {
                exprs.push(e.clone());
            }
        }
        for expr in exprs {
            let Ok(s) = schedule::Schedule::parse(&expr) else {
                continue;
            };
            // The times the daemon polls: each firing plus the unit's offset.
            let times: Vec<String> = s
                .upcoming_polls(&u.id, u.jitter, after.with_timezone(&tz), n)
                .into_iter()
                .map(|t| clock::zoned_precise(&t, tz))
                .collect();
            out.push_str(&format!("{}\t{}\t{}\n", u.id, expr, times.join(", ")));
        }
    }
    out
}
