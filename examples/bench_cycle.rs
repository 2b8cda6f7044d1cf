//! The daemon-cycle benchmark (issue 3): 2,000 units on loopback sites.
//!
//! ```text
//! cargo run --release --example bench_cycle -- --units 2000     # everything, ~10 min
//! cargo run --release --example bench_cycle -- --units 50       # smoke, seconds
//! ```
//!
//! Options: `--concurrency C` (`[daemon] concurrency`, default 256),
//! `--host-delay-ms D` (default 500, the shipped default), `--items N` (per
//! source, 20), `--idle-secs S` (60 with `--units 2000`, else 10), `--store-items M` (1,000,000 with
//! `--units 2000`, else 20,000), `--published-share F` (0.25), `--publish`
//! (also time publishing the worst case's items to a `file` account),
//! `--skip-store`, `--skip-idle`, `--skip-worst`, `--skip-baseline`, `--dir DIR` (where temp stores go),
//! `--daemon-state DIR` (the daemon starts on that store, e.g. months made by `--rotate` for the
//! same units, instead of an empty one).
//! `--steady N` adds N steady-state cycles to the baseline scenario, each
//! after the sites' cycle advances: `--changing F` of the sites gain an
//! article a cycle, `--slow F` answer after 5–20 s, `--failing F` answer 500
//! or time out, chosen by `--seed S` (`site::Churn`).
//! Other modes: `--due DIR BACKLOG STEPS` (the outbox step over a backlog,
//! `bench_cycle/due.rs`), `--spread UNITS OUT.csv` (when polls start,
//! `bench_cycle/spread.rs`), `--live-spread UNITS DIR OUT.csv` (the real daemon's polls over
//! one period, counted at the sites, `bench_cycle/live_spread.rs`), `--rotate` (months with
//! archival, below),
//! `--big-feed DIR ITEMS MAX_NEW` (a feed that suddenly lists ITEMS items,
//! `bench_cycle/big_feed.rs`).
//! With `BENCH_CONNECTION_CLOSE=1` the server refuses keep-alive, which
//! shows how much of the RSS is reqwest's pool of idle connections.
//!
//! Why separate processes: each measurement must see only its own CPU and
//! its own peak RSS. The orchestrator (this process, doing nothing heavy)
//! starts the loopback server as one child (`--serve`), each scenario's poll
//! cycles in another (`--cycles`), the real daemon in another (`--daemon`)
//! and the store fill in another (`--store`), and reads their
//! `/proc/PID/stat` and `/proc/PID/status` or the JSON they print.
//!
//! Only 127.0.0.0/8 is ever contacted; see `bench_cycle/site.rs`.

#[path = "bench_cycle/site.rs"]
mod site;

#[path = "bench_cycle/due.rs"]
mod due;

#[path = "bench_cycle/spread.rs"]
mod spread;

#[path = "bench_cycle/big_feed.rs"]
mod big_feed;

#[path = "bench_cycle/live_spread.rs"]
mod live_spread;

use anyhow::{Context as _, bail};
use autosync::clock::SystemClock;
use autosync::config::{self, Config};
use autosync::pipeline::{self, Context, UnitReport};
use autosync::store::{self, Item, State, Store};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
struct Opts {
    units: usize,
    items: usize,
    concurrency: usize,
    host_delay_ms: u64,
    idle_secs: u64,
    store_items: usize,
    published_share: f64,
    publish: bool,
    skip_store: bool,
    skip_idle: bool,
    skip_worst: bool,
    /// Only the daemon (and the store): e.g. for a heap profile of it alone.
    skip_baseline: bool,
    dir: PathBuf,
    /// Steady-state cycles after the baseline's first and unchanged ones,
    /// with the sites' churn (`site::Churn`).
    steady: usize,
    churn: site::Churn,
    /// The daemon's state directory, when it should start on a store that
    /// already has months in it (made with `--rotate` for the same units)
    /// rather than an empty one.
    daemon_state: Option<PathBuf>,
}

fn parse_opts(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts {
        units: 50,
        items: 20,
        concurrency: 256,
        host_delay_ms: 500,
        idle_secs: 0,
        store_items: 0,
        published_share: 0.25,
        publish: false,
        skip_store: false,
        skip_idle: false,
        skip_worst: false,
        skip_baseline: false,
        dir: std::env::temp_dir(),
        steady: 0,
        churn: site::Churn::default(),
        daemon_state: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--units" => o.units = val()?.parse()?,
            "--items" => o.items = val()?.parse()?,
            "--concurrency" => o.concurrency = val()?.parse()?,
            "--host-delay-ms" => o.host_delay_ms = val()?.parse()?,
            "--idle-secs" => o.idle_secs = val()?.parse()?,
            "--store-items" => o.store_items = val()?.parse()?,
            "--published-share" => o.published_share = val()?.parse()?,
            "--dir" => o.dir = PathBuf::from(val()?),
            "--publish" => o.publish = true,
            "--skip-store" => o.skip_store = true,
            "--skip-idle" => o.skip_idle = true,
            "--skip-worst" => o.skip_worst = true,
            "--skip-baseline" => o.skip_baseline = true,
            "--steady" => o.steady = val()?.parse()?,
            "--changing" => o.churn.changing = val()?.parse()?,
            "--slow" => o.churn.slow = val()?.parse()?,
            "--failing" => o.churn.failing = val()?.parse()?,
            "--seed" => o.churn.seed = val()?.parse()?,
            "--daemon-state" => o.daemon_state = Some(PathBuf::from(val()?)),
            other => bail!("unknown argument {other}"),
        }
    }
    if o.units == 0 || o.units > 250 * 250 {
        bail!("--units must be 1..=62500");
    }
    if o.items == 0 || o.items > 20 {
        // Article dates are 11-09..11-28: one a day keeps every item distinct.
        bail!("--items must be 1..=20");
    }
    if o.idle_secs == 0 {
        // The smoke mode should take seconds, not minutes.
        o.idle_secs = if o.units >= 2000 { 60 } else { 10 };
    }
    if o.store_items == 0 {
        o.store_items = if o.units >= 2000 { 1_000_000 } else { 20_000 };
    }
    Ok(o)
}

// ------------------------------------------------------------ /proc readers

/// utime + stime of a whole process (all threads), in seconds.
fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let (u, s) = cpu_user_sys(pid)?;
    Ok(u + s)
}

/// utime and stime of a whole process (all threads), in seconds.
fn cpu_user_sys(pid: u32) -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command (which may hold spaces) start at field 3.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("bad /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok((
        f[11].parse::<u64>()? as f64 / 100.0,
        f[12].parse::<u64>()? as f64 / 100.0,
    ))
    // (CLK_TCK is 100 on every Linux configuration in use.)
}

/// A `kB` line of /proc/PID/status, in MiB.
fn status_mib(pid: u32, key: &str) -> anyhow::Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix(key).and_then(|v| v.strip_prefix(':')) {
            let kb: f64 = v.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kb / 1024.0);
        }
    }
    bail!("{key} not in /proc/{pid}/status")
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Bytes a directory takes: (apparent size, allocated blocks like `du`).
fn dir_size(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut apparent = 0;
    let mut blocks = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                apparent += m.len();
                blocks += m.blocks() * 512;
            }
        }
    }
    (apparent, blocks)
}

// ------------------------------------------------------------ config

struct Scenario<'a> {
    name: &'a str,
    backfill: usize,
    state_dir: &'a Path,
    listen: &'a str,
    schedule: &'a str,
}

fn config_text(o: &Opts, port: u16, s: &Scenario<'_>, publish_dir: &Path) -> String {
    let mut t = format!(
        r#"# bench_cycle scenario {}
[daemon]
state_dir = "{}"
listen = "{}"
timezone = "UTC"
concurrency = {}
run_at_start = true

[fetch]
host_delay_ms = {}
respect_robots = true

[defaults]
backfill = {}
schedule = "{}"
jitter_secs = 30
"#,
        s.name,
        s.state_dir.display(),
        s.listen,
        o.concurrency,
        o.host_delay_ms,
        s.backfill,
        s.schedule
    );
    for i in 0..o.units {
        let ip = site::site_ip(i);
        let source = if site::is_feed(i) {
            format!("feed = \"http://{ip}:{port}/rss.xml\"")
        } else {
            format!("list = \"http://{ip}:{port}/xwzx/\"")
        };
        t.push_str(&format!(
            r#"
[[unit]]
id = "u{i:05}"
account_name = "单位{i}"
org_name = "第{i}号单位科学技术协会"
level = "county"
site = "http://{ip}:{port}/"
  [[unit.source]]
  {source}
  [unit.publisher]
  kind = "file"
  dir = "{}"
"#,
            publish_dir.join(format!("u{i:05}")).display()
        ));
    }
    t
}

// ------------------------------------------------------------ children

fn spawn_self(args: &[&str]) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    // `BENCH_WRAP="heaptrack -o /tmp/cycle"` runs the measured children
    // (not the loopback server) under a profiler.
    let wrap = std::env::var("BENCH_WRAP")
        .ok()
        .filter(|_| args.first() != Some(&"--serve"));
    let mut cmd = match wrap.as_deref().map(str::split_whitespace) {
        Some(mut w) => {
            let mut c = Command::new(w.next().context("BENCH_WRAP is empty")?);
            c.args(w).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    Ok(cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?)
}

fn read_line(out: &mut BufReader<ChildStdout>) -> anyhow::Result<String> {
    let mut line = String::new();
    if out.read_line(&mut line)? == 0 {
        bail!("child exited early");
    }
    Ok(line.trim().to_string())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

// ------------------------------------------------------------ --serve

fn serve_main(args: &[String]) -> anyhow::Result<()> {
    let usage = "--serve SITES ITEMS [CHANGING SLOW FAILING SEED]";
    let sites: usize = args.first().context(usage)?.parse()?;
    let items: usize = args.get(1).context(usage)?.parse()?;
    let share = |k: usize| args.get(k).map_or(Ok(0.0), |v| v.parse::<f64>());
    let churn = site::Churn {
        changing: share(2)?,
        slow: share(3)?,
        failing: share(4)?,
        seed: args.get(5).map_or(Ok(0), |v| v.parse())?,
    };
    // The server gets both cores' worth of workers: it must not be the
    // bottleneck of what is measured (the client side).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind("0.0.0.0:0").await?;
        println!("PORT {}", l.local_addr()?.port());
        std::io::stdout().flush()?;
        // Exit when the orchestrator goes away (stdin closes).
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
            std::process::exit(0);
        });
        let close = std::env::var_os("BENCH_CONNECTION_CLOSE").is_some();
        site::serve(l, sites, items, close, churn).await?;
        anyhow::Ok(())
    })
}

async fn server_stats(port: u16) -> anyhow::Result<site::Stats> {
    Ok(reqwest::get(format!("http://127.0.0.1:{port}/__stats"))
        .await?
        .json()
        .await?)
}

// ------------------------------------------------------------ --cycles

#[derive(Debug, Serialize, Deserialize)]
struct CycleResult {
    phase: String,
    wall: f64,
    cpu: f64,
    found: usize,
    new: usize,
    errors: usize,
    first_error: Option<String>,
    published: usize,
    requests: site::Stats,
    peak_rss_mib: f64,
    rss_mib: f64,
    store_bytes: u64,
    items: usize,
}

fn sub(a: site::Stats, b: site::Stats) -> site::Stats {
    site::Stats {
        robots: a.robots - b.robots,
        feed: a.feed - b.feed,
        list: a.list - b.list,
        article: a.article - b.article,
        not_modified: a.not_modified - b.not_modified,
        not_found: a.not_found - b.not_found,
        failed: a.failed - b.failed,
    }
}

/// One discovery cycle over all units, as the daemon's poll tasks run it:
/// at most `concurrency` units at once, each unit's sources then its due
/// article retries (`ingest::discover_unit`). Publishing is not part of it.
async fn discover_cycle(ctx: &Context, cfg: &Config) -> anyhow::Result<Vec<UnitReport>> {
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.daemon.concurrency));
    let mut set = tokio::task::JoinSet::new();
    let mut out = Vec::new();
    for unit in cfg.units.iter().cloned() {
        // Spawned when it may run, finished ones reaped as we go, as
        // `pipeline::run_pass` does: a task holds its whole future until
        // joined.
        let permit = sem.clone().acquire_owned().await?;
        while let Some(r) = set.try_join_next() {
            out.extend(r.ok());
        }
        let ctx = ctx.clone();
        set.spawn(async move {
            let _permit = permit;
            let mut r = UnitReport {
                unit: unit.id.clone(),
                ..Default::default()
            };
            autosync::ingest::discover_unit(&ctx, &unit, &mut r).await;
            r
        });
    }
    while let Some(r) = set.join_next().await {
        out.extend(r.ok());
    }
    Ok(out)
}

fn cycles_main(args: &[String]) -> anyhow::Result<()> {
    let cfg_path = PathBuf::from(args.first().context("--cycles CONFIG PORT [publish]")?);
    let port: u16 = args.get(1).context("--cycles CONFIG PORT")?.parse()?;
    let publish = args.iter().skip(2).any(|a| a == "publish");
    // `steady=N`: N more cycles, each after telling the sites a cycle began.
    let steady: usize = args
        .iter()
        .skip(2)
        .find_map(|a| a.strip_prefix("steady="))
        .map_or(Ok(0), str::parse)?;
    // Two workers: the machine the target is stated for has 2 cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let cfg = config::load(&cfg_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let ctx = Context::open(&cfg, Arc::new(SystemClock), CancellationToken::new())
            .map_err(anyhow::Error::msg)?;
        let me = std::process::id();
        let mut phases: Vec<String> = vec!["first".into(), "unchanged".into()];
        if publish {
            phases.push("publish".into());
        }
        phases.extend((1..=steady).map(|k| format!("steady{k}")));
        for phase in phases {
            if phase.starts_with("steady") {
                reqwest::get(format!("http://127.0.0.1:{port}/__cycle"))
                    .await?
                    .error_for_status()?;
            }
            let s0 = server_stats(port).await?;
            let (c0, t0) = (cpu_secs(me)?, Instant::now());
            let reports = if phase == "publish" {
                pipeline::run_pass(&ctx, &cfg, None).await
            } else {
                discover_cycle(&ctx, &cfg).await?
            };
            ctx.store.flush().await?;
            let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs(me)? - c0);
            let s1 = server_stats(port).await?;
            let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
            let res = CycleResult {
                phase: phase.clone(),
                wall,
                cpu,
                found: reports.iter().map(|r| r.found).sum(),
                new: reports.iter().map(|r| r.new).sum(),
                errors: errors.len(),
                first_error: errors.first().map(|e| e.to_string()),
                published: reports.iter().map(|r| r.published.len()).sum(),
                requests: sub(s1, s0),
                peak_rss_mib: status_mib(me, "VmHWM")?,
                rss_mib: status_mib(me, "VmRSS")?,
                store_bytes: ctx.store.size_on_disk()?,
                // From the index: loading every item (`count_states`) would
                // itself raise the peak RSS measured by the next phase.
                items: {
                    let mut n = 0;
                    for u in &cfg.units {
                        n += ctx.store.unit_counts(&u.id)?.values().sum::<usize>();
                    }
                    n
                },
            };
            println!("{}", serde_json::to_string(&res)?);
            std::io::stdout().flush()?;
        }
        anyhow::Ok(())
    })
}

// ------------------------------------------------------------ --daemon

fn daemon_main(args: &[String]) -> anyhow::Result<()> {
    let cfg_path = PathBuf::from(args.first().context("--daemon CONFIG LOG")?);
    let log = PathBuf::from(args.get(1).context("--daemon CONFIG LOG")?);
    // Logged as in production (INFO, to a file rather than the journal).
    let file = std::fs::File::create(&log)?;
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter("info")
        .init();
    // `autosync run` uses tokio's default runtime; so does this.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let cfg = config::load(&cfg_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let shutdown = CancellationToken::new();
        let ctx =
            Context::open(&cfg, Arc::new(SystemClock), shutdown).map_err(anyhow::Error::msg)?;
        let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
        autosync::daemon::run(
            cfg_path,
            cfg,
            ctx,
            autosync::systemd::Notifier::default(),
            Arc::new(autosync::metrics::Metrics::new()),
            rx,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
    })
}

/// Sum of one counter over all units in a Prometheus text page.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// ------------------------------------------------------------ --store

#[derive(Debug, Serialize, Deserialize)]
struct StoreResult {
    seen: usize,
    published: usize,
    seen_secs: f64,
    published_secs: f64,
    seen_cpu: f64,
    published_cpu: f64,
    size_after_seen: u64,
    size_after_all: u64,
    du_after_seen: u64,
    du_after_all: u64,
    apparent_after_all: u64,
    json_bytes_seen: u64,
    json_bytes_published: u64,
    peak_rss_mib: f64,
    reopen_secs: f64,
    reopen_peak_rss_mib: f64,
    #[serde(default)]
    reopen_rss_mib: f64,
}

fn store_item(unit: usize, n: usize, now: chrono::DateTime<chrono::Utc>, published: bool) -> Item {
    let host = site::site_ip(unit);
    let feed = site::is_feed(unit);
    let url = if feed {
        format!("http://{host}/kpzx/2026-11/20/content_{unit}_{n}.htm")
    } else {
        format!("http://{host}/xwzx/202611/t20261120_{n}.html")
    };
    let unit_id = format!("u{unit:05}");
    let (title, body_html) = site::sample_article(unit, n);
    let source = if feed {
        format!("feed:http://{host}/rss.xml")
    } else {
        format!("list:http://{host}/xwzx/")
    };
    let mut item = Item {
        guid: feed.then(|| url.clone()),
        title: title.clone(),
        published_at: chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+08:00").ok(),
        ..Item::new(&unit_id, &url, &source, now, State::Seen)
    };
    if published {
        // Extracted articles as the pipeline stores them: clean html and the
        // text, ~3–8 KB together.
        // Vary the size: html cut at a paragraph end at 1.5–4 KB, so html +
        // text come to ~3–8 KB.
        let want = 1500 + (unit * 7919 + n * 104_729) % 2500;
        let cut = body_html
            .match_indices("</p>")
            .map(|(k, _)| k + 4)
            .find(|k| *k >= want)
            .unwrap_or(body_html.len());
        let html = body_html[..cut].to_string();
        let text = html
            .replace("</p>", "\n\n")
            .split(['<', '>'])
            .enumerate()
            .filter(|(k, _)| k % 2 == 0)
            .map(|(_, s)| s)
            .collect::<String>();
        item.fingerprint = Some(store::fingerprint(&title, &text));
        item.author = Some("宣传部".into());
        item.origin = Some(format!("第{unit}号单位科协"));
        item.images = vec![format!("http://{host}/images/{unit}_{n}.png")];
        item.html = html;
        item.text = text;
        item.state = State::Published {
            remote_id: format!("74{unit:05}{n:08}"),
            remote_url: Some(format!(
                "https://www.toutiao.com/article/74{unit:05}{n:08}/"
            )),
            at: now,
        };
    }
    item
}

fn identities_of(item: &Item) -> Vec<String> {
    let mut ids = vec![item.url.clone()];
    if let Some(g) = &item.guid {
        ids.push(format!("guid:{g}"));
    }
    if let Some(fp) = &item.fingerprint {
        ids.push(format!("fp:{fp}"));
    }
    ids
}

/// Insert `count` items as the pipeline does: one `insert_new` per item, a
/// flush per source batch of 20. Returns (wall, CPU) seconds.
async fn fill(
    store: &Store,
    units: usize,
    now: chrono::DateTime<chrono::Utc>,
    count: usize,
    offset: usize,
    publ: bool,
    json: &mut u64,
) -> anyhow::Result<(f64, f64)> {
    let me = std::process::id();
    let (c0, t0) = (cpu_secs(me)?, Instant::now());
    for k in 0..count {
        let unit = k % units;
        let n = offset + k / units;
        let item = store_item(unit, n, now, publ);
        // The record (which leaves the body out) plus the body file's JSON.
        *json += serde_json::to_vec(&item)?.len() as u64;
        if !item.html.is_empty() || !item.text.is_empty() {
            *json += serde_json::to_vec(&serde_json::json!({"html": item.html, "text": item.text}))?
                .len() as u64;
        }
        store.insert_new(&item, &identities_of(&item)).await?;
        if k % 20 == 19 {
            store.flush().await?;
        }
    }
    store.flush().await?;
    Ok((t0.elapsed().as_secs_f64(), cpu_secs(me)? - c0))
}

fn store_main(args: &[String]) -> anyhow::Result<()> {
    let dir = PathBuf::from(args.first().context("--store DIR UNITS ITEMS SHARE")?);
    let units: usize = args.get(1).context("UNITS")?.parse()?;
    let total: usize = args.get(2).context("ITEMS")?.parse()?;
    let share: f64 = args.get(3).context("SHARE")?.parse()?;
    let published = ((total as f64) * share).round() as usize;
    let seen = total - published;
    let me = std::process::id();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let res = rt.block_on(async move {
        let store = Store::open(&dir)?;
        let now = chrono::Utc::now();
        let mut json_seen = 0u64;
        let mut json_pub = 0u64;
        let (seen_secs, seen_cpu) =
            fill(&store, units, now, seen, 0, false, &mut json_seen).await?;
        let size_after_seen = store.size_on_disk()?;
        let du_after_seen = dir_size(&dir).1;
        // Published items continue each unit's numbering after its seen ones.
        let offset = seen.div_ceil(units) + 1;
        let (published_secs, published_cpu) =
            fill(&store, units, now, published, offset, true, &mut json_pub).await?;
        let size_after_all = store.size_on_disk()?;
        let (apparent_after_all, du_after_all) = dir_size(&dir);
        let peak = status_mib(me, "VmHWM")?;
        drop(store);
        anyhow::Ok(StoreResult {
            seen,
            published,
            seen_secs,
            published_secs,
            seen_cpu,
            published_cpu,
            size_after_seen,
            size_after_all,
            du_after_seen,
            du_after_all,
            apparent_after_all,
            json_bytes_seen: json_seen,
            json_bytes_published: json_pub,
            peak_rss_mib: peak,
            reopen_secs: 0.0,
            reopen_peak_rss_mib: 0.0,
            reopen_rss_mib: 0.0,
        })
    })?;
    println!("{}", serde_json::to_string(&res)?);
    Ok(())
}

/// One round of `--rotate`: `per_unit` published articles for each of
/// `units` units, their times spread evenly over `days` days from `from`,
/// inserted through `insert_new` as the pipeline does — one unit's batch in
/// order, then a flush, like one poll — with `inflight` units' batches under
/// way at once (the daemon polls `[daemon] concurrency` units at once; each
/// body file is still fsynced with its directory, as in the daemon).
/// Returns (wall, user CPU, system CPU) seconds.
async fn fill_round(
    store: &Store,
    units: usize,
    per_unit: usize,
    offset: usize,
    from: chrono::DateTime<chrono::Utc>,
    days: i64,
    inflight: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    use futures::StreamExt as _;
    let me = std::process::id();
    let ((u0, s0), t0) = (cpu_user_sys(me)?, Instant::now());
    let step = chrono::Duration::seconds(days * 86_400 / per_unit.max(1) as i64);
    let mut batches = futures::stream::iter(0..units)
        .map(|unit| async move {
            for j in 0..per_unit {
                let at = from + step * j as i32;
                let item = store_item(unit, offset + j, at, true);
                store.insert_new(&item, &identities_of(&item)).await?;
            }
            store.flush().await?;
            anyhow::Ok(())
        })
        .buffer_unordered(inflight.max(1));
    while let Some(done) = batches.next().await {
        done?;
    }
    let (u1, s1) = cpu_user_sys(me)?;
    Ok((t0.elapsed().as_secs_f64(), u1 - u0, s1 - s0))
}

/// Months of a daemon that archives (`[daemon] archive_after_days`): each
/// round is `ROUND_DAYS` days (30 unless given) of `PER_ROUND` published
/// articles over `UNITS` units (their times spread over the round), then
/// the daemon's daily upkeep as it runs it, at the round's end: body
/// retention for what was published more than `--keep-bodies K` days ago
/// (`[daemon] keep_bodies_days`; not given: bodies kept, the shipped
/// default), then archival for what is older than `DAYS` (20 unless given;
/// `keep`: no archival, for comparison). `--inflight N` (1 unless given):
/// units' batches inserted at once (`fill_round`). After each round (or
/// each `--reopen-every R`-th, and the last) the store is reopened in a
/// child (`--reopen`) for its open time and resident size. Prints one line
/// a reported round: round, items inserted so far, items archived so far,
/// reopen peak MiB, RSS once open MiB, sled MiB, open seconds, whole state
/// directory MiB (`du`: sled, archive and body files), then live items,
/// bodies deleted so far, the round's fill wall / user / system seconds,
/// the upkeep's seconds (body retention + archival), this process's peak
/// RSS MiB.
fn rotate_main(args: &[String]) -> anyhow::Result<()> {
    let usage = "--rotate DIR UNITS PER_ROUND ROUNDS [keep|DAYS] [ROUND_DAYS] [--keep-bodies K] [--inflight N] [--reopen-every R]";
    let mut pos = Vec::new();
    let (mut keep_bodies, mut inflight, mut every) = (None::<i64>, 1usize, 1usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value; {usage}"))
        };
        match a.as_str() {
            "--keep-bodies" => keep_bodies = Some(val("--keep-bodies")?.parse()?),
            "--inflight" => inflight = val("--inflight")?.parse()?,
            "--reopen-every" => every = val("--reopen-every")?.parse::<usize>()?.max(1),
            _ => pos.push(a.clone()),
        }
    }
    let dir = PathBuf::from(pos.first().context(usage)?);
    let units: usize = pos.get(1).context("UNITS")?.parse()?;
    let per_round: usize = pos.get(2).context("PER_ROUND")?.parse()?;
    let rounds: usize = pos.get(3).context("ROUNDS")?.parse()?;
    let archive_days: Option<i64> = match pos.get(4).map(String::as_str) {
        Some("keep") => None,
        Some(d) => Some(d.parse().context("DAYS")?),
        None => Some(20),
    };
    let round_days: i64 = pos.get(5).map_or(Ok(30), |d| d.parse())?;
    if !per_round.is_multiple_of(units) {
        bail!("PER_ROUND ({per_round}) must be a multiple of UNITS ({units})");
    }
    let per_unit = per_round / units;
    // Several worker threads, as the daemon has: sled's work and the
    // blocking body writes run side by side.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let t0 = chrono::Utc::now();
    let (mut inserted, mut archived, mut dropped) = (0, 0, 0);
    let mut open: Option<Store> = None;
    for r in 0..rounds {
        let store = match open.take() {
            Some(s) => s,
            None => Store::open(&dir)?,
        };
        let from = t0 + chrono::Duration::days(round_days * r as i64);
        let end = from + chrono::Duration::days(round_days);
        let offset = r * (per_unit + 1);
        let (wall, user, sys) = rt.block_on(fill_round(
            &store, units, per_unit, offset, from, round_days, inflight,
        ))?;
        inserted += per_round;
        // The daemon's upkeep (`daemon::upkeep`), unit by unit; its two
        // passes timed apart.
        let (mut drop_secs, mut archive_secs) = (0.0, 0.0);
        rt.block_on(async {
            for u in 0..units {
                let unit = format!("u{u:05}");
                let t = Instant::now();
                if let Some(k) = keep_bodies {
                    dropped += store
                        .drop_bodies_before(&unit, end - chrono::Duration::days(k), end)
                        .await?;
                }
                let t2 = Instant::now();
                if let Some(days) = archive_days {
                    archived += store
                        .archive_before(&unit, end - chrono::Duration::days(days))
                        .await?;
                }
                drop_secs += (t2 - t).as_secs_f64();
                archive_secs += t2.elapsed().as_secs_f64();
            }
            anyhow::Ok(())
        })?;
        let upkeep = format!("{drop_secs:.1}+{archive_secs:.1}");
        if (r + 1) % every != 0 && r + 1 != rounds {
            println!(
                "# round {} filled in {wall:.1} s ({user:.1} user + {sys:.1} sys), upkeep {upkeep} s",
                r + 1
            );
            std::io::stdout().flush()?;
            open = Some(store);
            continue;
        }
        rt.block_on(store.flush())?;
        let db = store.db_size()?;
        // The child opens the same database: this process lets it go
        // meanwhile (sled holds a lock on it) and opens it again after.
        drop(store);
        let out = Command::new(std::env::current_exe()?)
            .args(["--reopen", dir.to_str().context("path")?])
            .output()?;
        let o = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = o.split_whitespace().collect();
        println!(
            "{} {inserted} {archived} {} {} {:.1} {} {:.1} {} {dropped} {wall:.1} {user:.1} {sys:.1} {upkeep} {:.1}",
            r + 1,
            f.get(1).unwrap_or(&"?"),
            f.get(3).unwrap_or(&"?"),
            db as f64 / 1048576.0,
            f.first().unwrap_or(&"?"),
            mib(dir_size(&dir).1),
            inserted - archived,
            status_mib(std::process::id(), "VmHWM")?,
        );
        std::io::stdout().flush()?;
    }
    Ok(())
}

/// Where a store's resident memory goes, tree by tree: each sled tree of
/// the store in `DIR` is copied alone into a fresh database, and each copy
/// is opened in a child of its own (`--sled-rss`) for its RSS, next to an
/// empty database's. (The one place outside `src/store.rs` that opens sled
/// directly: it measures sled itself.) Prints tree, entries, bytes, RSS MiB.
fn tree_sizes_main(args: &[String]) -> anyhow::Result<()> {
    let dir = PathBuf::from(args.first().context("--tree-sizes STORE_DIR")?);
    let tmp = tempfile::tempdir()?;
    let rss_of = |p: &Path| -> anyhow::Result<String> {
        let out = Command::new(std::env::current_exe()?)
            .arg("--sled-rss")
            .arg(p)
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    println!(
        "(empty database) 0 0 {}",
        rss_of(&tmp.path().join("empty"))?
    );
    let db = sled::open(dir.join("db"))?;
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        let label = String::from_utf8_lossy(&name).into_owned();
        let path = tmp.path().join(hex::encode(&label));
        let copy = sled::open(&path)?;
        let t = copy.open_tree("t")?;
        let (mut n, mut bytes) = (0usize, 0usize);
        for kv in tree.iter() {
            let (k, v) = kv?;
            bytes += k.len() + v.len();
            t.insert(k, v)?;
            n += 1;
        }
        copy.flush()?;
        drop((t, copy));
        println!("{label} {n} {bytes} {}", rss_of(&path)?);
    }
    Ok(())
}

/// A sled database's RSS once open (after a trim), cache as the store's.
fn sled_rss_main(args: &[String]) -> anyhow::Result<()> {
    let path = PathBuf::from(args.first().context("--sled-rss PATH")?);
    let db = sled::Config::new()
        .path(&path)
        .cache_capacity(2 * 1024 * 1024)
        .open()?;
    let _t = db.open_tree("t")?;
    autosync::memory::release_free_memory();
    println!("{:.1}", status_mib(std::process::id(), "VmRSS")?);
    Ok(())
}

/// Opening a 1M-item store (what a daemon restart pays), in its own process.
fn reopen_main(args: &[String]) -> anyhow::Result<()> {
    let dir = PathBuf::from(args.first().context("--reopen DIR")?);
    let t0 = Instant::now();
    let store = Store::open(&dir)?;
    let n = store.unit_counts("u00000")?.values().sum::<usize>();
    let secs = t0.elapsed().as_secs_f64();
    // What stays resident once the open is over: sled keeps per-page
    // metadata for the whole store, so this grows with it.
    autosync::memory::release_free_memory();
    println!(
        "{} {} {} {}",
        secs,
        status_mib(std::process::id(), "VmHWM")?,
        n,
        status_mib(std::process::id(), "VmRSS")?,
    );
    Ok(())
}

// ------------------------------------------------------------ orchestrator

fn run_cycles(
    o: &Opts,
    port: u16,
    work: &Path,
    name: &str,
    backfill: usize,
    publish: bool,
) -> anyhow::Result<Vec<CycleResult>> {
    let state = work.join(format!("state-{name}"));
    let cfg_path = work.join(format!("{name}.toml"));
    let listen = format!("127.0.0.1:{}", free_port()?);
    let sc = Scenario {
        name,
        backfill,
        state_dir: &state,
        listen: &listen,
        schedule: "*/10 * * * *",
    };
    std::fs::write(
        &cfg_path,
        config_text(o, port, &sc, &work.join(format!("published-{name}"))),
    )?;
    let port_s = port.to_string();
    let mut a = vec!["--cycles", cfg_path.to_str().context("path")?, &port_s];
    if publish {
        a.push("publish");
    }
    // The steady-state cycles follow the baseline's.
    let steady = format!("steady={}", o.steady);
    if name == "baseline" && o.steady > 0 {
        a.push(&steady);
    }
    let mut child = spawn_self(&a)?;
    let mut out = BufReader::new(child.stdout.take().context("stdout")?);
    let mut res = Vec::new();
    let mut line = String::new();
    while out.read_line(&mut line)? > 0 {
        // A profiler from `BENCH_WRAP` may talk on stdout too.
        if !line.starts_with('{') {
            eprint!("{line}");
            line.clear();
            continue;
        }
        let r: CycleResult = serde_json::from_str(line.trim())
            .with_context(|| format!("bad line from --cycles: {line}"))?;
        eprintln!(
            "[{name}] {}: {:.1}s wall, {:.1}s CPU, {} errors",
            r.phase, r.wall, r.cpu, r.errors
        );
        eprintln!("[{name}] {}", line.trim());
        res.push(r);
        line.clear();
    }
    let st = child.wait()?;
    if !st.success() {
        bail!("--cycles {name} failed: {st}");
    }
    Ok(res)
}

#[derive(Debug)]
struct IdleResult {
    first_cycle_wall: f64,
    first_cycle_cpu: f64,
    idle_secs: f64,
    idle_cpu: f64,
    rss_mib: f64,
    peak_rss_mib: f64,
    threads: usize,
}

fn run_idle(o: &Opts, port: u16, work: &Path) -> anyhow::Result<IdleResult> {
    let state = o
        .daemon_state
        .clone()
        .unwrap_or_else(|| work.join("state-daemon"));
    let cfg_path = work.join("daemon.toml");
    let listen = format!("127.0.0.1:{}", free_port()?);
    // A schedule that cannot fire during the measurement (1 January): what
    // is measured is the daemon between two cycles, whatever their spacing.
    let sc = Scenario {
        name: "daemon",
        backfill: 0,
        state_dir: &state,
        listen: &listen,
        schedule: "0 0 1 1 *",
    };
    std::fs::write(
        &cfg_path,
        config_text(o, port, &sc, &work.join("published-daemon")),
    )?;
    let log = work.join("daemon.log");
    let t0 = Instant::now();
    let mut child = spawn_self(&[
        "--daemon",
        cfg_path.to_str().context("path")?,
        log.to_str().context("path")?,
    ])?;
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let res = rt.block_on(async {
        let metrics = format!("http://{listen}/metrics");
        // The first cycle is over when every unit has polled once.
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(st) = child.try_wait()? {
                bail!("daemon exited: {st} (log: {})", log.display());
            }
            let Ok(resp) = reqwest::get(&metrics).await else {
                continue;
            };
            let text = resp.text().await?;
            if metric_sum(&text, "autosync_polls_total") as usize >= o.units {
                break;
            }
            if t0.elapsed() > Duration::from_secs(1800) {
                bail!("daemon's first cycle did not finish in 30 min");
            }
        }
        let first_cycle_wall = t0.elapsed().as_secs_f64();
        let first_cycle_cpu = cpu_secs(pid)?;
        // Let in-flight publish-worker wakeups and the last flushes settle.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (c0, t1) = (cpu_secs(pid)?, Instant::now());
        tokio::time::sleep(Duration::from_secs(o.idle_secs)).await;
        let (idle_cpu, idle_secs) = (cpu_secs(pid)? - c0, t1.elapsed().as_secs_f64());
        anyhow::Ok(IdleResult {
            first_cycle_wall,
            first_cycle_cpu,
            idle_secs,
            idle_cpu,
            rss_mib: status_mib(pid, "VmRSS")?,
            peak_rss_mib: status_mib(pid, "VmHWM")?,
            threads: threads(pid),
        })
    });
    let _ = child.kill();
    let _ = child.wait();
    res
}

fn run_store(o: &Opts, work: &Path) -> anyhow::Result<(StoreResult, PathBuf)> {
    let dir = work.join("state-1m");
    let units = o.units.to_string();
    let items = o.store_items.to_string();
    let share = o.published_share.to_string();
    let mut child = spawn_self(&[
        "--store",
        dir.to_str().context("path")?,
        &units,
        &items,
        &share,
    ])?;
    let mut out = BufReader::new(child.stdout.take().context("stdout")?);
    let line = read_line(&mut out)?;
    let mut r: StoreResult = serde_json::from_str(&line)?;
    child.wait()?;
    let out = Command::new(std::env::current_exe()?)
        .args(["--reopen", dir.to_str().context("path")?])
        .output()?;
    let s = String::from_utf8_lossy(&out.stdout);
    let mut f = s.split_whitespace();
    r.reopen_secs = f.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    r.reopen_peak_rss_mib = f.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    let _items_of_one_unit = f.next();
    r.reopen_rss_mib = f.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    Ok((r, dir))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = status_line("/proc/meminfo", "MemTotal").unwrap_or_default();
    format!("{n} CPUs ({cpu}), MemTotal {mem}")
}

fn status_line(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
}

fn orchestrate(o: Opts, cmdline: String) -> anyhow::Result<()> {
    let work = tempfile::Builder::new()
        .prefix("autosync-bench-cycle-")
        .tempdir_in(&o.dir)?;
    let started = chrono::Utc::now();
    let c = &o.churn;
    let mut server = spawn_self(&[
        "--serve",
        &o.units.to_string(),
        &o.items.to_string(),
        &c.changing.to_string(),
        &c.slow.to_string(),
        &c.failing.to_string(),
        &c.seed.to_string(),
    ])?;
    let mut sout = BufReader::new(server.stdout.take().context("stdout")?);
    let port: u16 = read_line(&mut sout)?
        .strip_prefix("PORT ")
        .context("server did not say its port")?
        .parse()?;
    eprintln!(
        "loopback server on port {port}, work dir {}",
        work.path().display()
    );

    let baseline = if o.skip_baseline {
        Vec::new()
    } else {
        run_cycles(&o, port, work.path(), "baseline", 0, false)?
    };
    let worst = if o.skip_worst {
        Vec::new()
    } else {
        run_cycles(&o, port, work.path(), "worst", o.items, o.publish)?
    };
    let idle = if o.skip_idle {
        None
    } else {
        Some(run_idle(&o, port, work.path())?)
    };
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    let store = if o.skip_store {
        None
    } else {
        Some(run_store(&o, work.path())?)
    };

    // ---- the report, markdown-ready
    let mut p = String::new();
    let w = &mut p;
    use std::fmt::Write as _;
    writeln!(
        w,
        "Run {} — `{cmdline}`",
        started.format("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(
        w,
        "Machine: {}; kernel {}",
        machine(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    )?;
    writeln!(
        w,
        "Units {} ({} feed with full content, {} GBK list pages), {} items a source; concurrency {}, host_delay {} ms, robots.txt on; poll side on a 2-worker tokio runtime.\n",
        o.units,
        o.units.div_ceil(2),
        o.units / 2,
        o.items,
        o.concurrency,
        o.host_delay_ms
    )?;
    writeln!(
        w,
        "| cycle | wall s | CPU s | CPU/wall | requests (robots/feed/list/article/304) | found | new | errors | items in store | store MiB | peak RSS MiB |"
    )?;
    writeln!(w, "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")?;
    for (name, rs) in [("backfill 0", &baseline), ("backfill 20", &worst)] {
        for r in rs {
            let q = r.requests;
            writeln!(
                w,
                "| {name}: {} | {:.1} | {:.2} | {:.0}% | {}/{}/{}/{}/{} | {} | {} | {} | {} | {:.1} | {:.1} |",
                r.phase,
                r.wall,
                r.cpu,
                100.0 * r.cpu / r.wall.max(1e-9),
                q.robots,
                q.feed,
                q.list,
                q.article,
                q.not_modified,
                r.found,
                r.new,
                r.errors,
                r.items,
                mib(r.store_bytes),
                r.peak_rss_mib
            )?;
            if let Some(e) = &r.first_error {
                writeln!(w, "|  first error: {e} |")?;
            }
            if r.published > 0 {
                writeln!(w, "|  published {} items to `file` accounts |", r.published)?;
            }
        }
    }
    // Politeness floor for the worst case: a list unit's requests are
    // sequential on one host, `host_delay` apart.
    let per_list = (o.items + 1) as f64 * o.host_delay_ms as f64 / 1000.0;
    let per_feed = o.host_delay_ms as f64 / 1000.0;
    let floor = ((o.units / 2) as f64 * per_list + o.units.div_ceil(2) as f64 * per_feed)
        / o.concurrency as f64;
    writeln!(
        w,
        "\nPoliteness floor of the backfill-20 first cycle: a list unit waits {per_list:.1} s of host_delay (robots, list, {} articles), a feed unit {per_feed:.1} s; at concurrency {} that is ≥ {:.1} s (and ≥ {per_list:.1} s whatever the concurrency).",
        o.items,
        o.concurrency,
        floor.max(per_list)
    )?;
    if let Some(i) = &idle {
        writeln!(
            w,
            "\nDaemon (`autosync::daemon::run`, default runtime, INFO log to a file), {} units, backfill 0: first cycle {:.1} s wall, {:.2} s CPU; then idle {:.0} s: **{:.3} s CPU = {:.3}% of a core**; RSS {:.1} MiB, peak {:.1} MiB, {} threads.",
            o.units,
            i.first_cycle_wall,
            i.first_cycle_cpu,
            i.idle_secs,
            i.idle_cpu,
            100.0 * i.idle_cpu / i.idle_secs,
            i.rss_mib,
            i.peak_rss_mib,
            i.threads
        )?;
    }
    if let Some((s, _)) = &store {
        let total = s.seen + s.published;
        let seen_b = s.size_after_seen as f64 / s.seen.max(1) as f64;
        let pub_b = (s.size_after_all - s.size_after_seen) as f64 / s.published.max(1) as f64;
        writeln!(
            w,
            "\nStore with {total} items ({} `seen` without body, {} `published` with html+text) over {} units:",
            s.seen, s.published, o.units
        )?;
        writeln!(w, "\n| | seen | published | all |")?;
        writeln!(w, "|---|---:|---:|---:|")?;
        writeln!(w, "| items | {} | {} | {total} |", s.seen, s.published)?;
        writeln!(
            w,
            "| JSON bytes/item (record + body file) | {:.0} | {:.0} | |",
            s.json_bytes_seen as f64 / s.seen.max(1) as f64,
            s.json_bytes_published as f64 / s.published.max(1) as f64
        )?;
        writeln!(
            w,
            "| `Store::size_on_disk` bytes/item (sled + body files) | {seen_b:.0} | {pub_b:.0} | {:.0} |",
            s.size_after_all as f64 / total.max(1) as f64
        )?;
        writeln!(
            w,
            "| size_on_disk MiB | {:.0} | +{:.0} | {:.0} |",
            mib(s.size_after_seen),
            mib(s.size_after_all - s.size_after_seen),
            mib(s.size_after_all)
        )?;
        writeln!(
            w,
            "| du MiB | {:.0} | | {:.0} (apparent {:.0}) |",
            mib(s.du_after_seen),
            mib(s.du_after_all),
            mib(s.apparent_after_all)
        )?;
        writeln!(
            w,
            "| insert_new items/s (flush per 20) | {:.0} | {:.0} | |",
            s.seen as f64 / s.seen_secs,
            s.published as f64 / s.published_secs
        )?;
        writeln!(
            w,
            "| CPU s / wall s | {:.1} / {:.1} | {:.1} / {:.1} | |",
            s.seen_cpu, s.seen_secs, s.published_cpu, s.published_secs
        )?;
        writeln!(
            w,
            "\nStore overhead: size_on_disk / JSON bytes = {:.2}; peak RSS while filling {:.1} MiB; reopening the store took {:.2} s, peak RSS {:.1} MiB, RSS once open (after a trim) {:.1} MiB.",
            s.size_after_all as f64 / (s.json_bytes_seen + s.json_bytes_published).max(1) as f64,
            s.peak_rss_mib,
            s.reopen_secs,
            s.reopen_peak_rss_mib,
            s.reopen_rss_mib
        )?;
    }
    println!("{p}");
    if let Some((_, dir)) = store {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // As `autosync`'s own main does: the measured children must use the
    // allocator the way the daemon does.
    let refused = autosync::memory::tune_allocator();
    anyhow::ensure!(refused.is_empty(), "allocator refused {refused:?}");
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve") => serve_main(&args[1..]),
        Some("--cycles") => cycles_main(&args[1..]),
        Some("--daemon") => daemon_main(&args[1..]),
        Some("--store") => store_main(&args[1..]),
        Some("--reopen") => reopen_main(&args[1..]),
        Some("--rotate") => rotate_main(&args[1..]),
        Some("--big-feed") => big_feed::main(&args[1..]),
        Some("--serve-big-feed") => big_feed::serve_main(&args[1..]),
        Some("--due") => due::due_main(&args[1..]),
        Some("--spread") => spread::spread_main(&args[1..]),
        Some("--live-spread") => live_spread::main(&args[1..]),
        Some("--tree-sizes") => tree_sizes_main(&args[1..]),
        Some("--sled-rss") => sled_rss_main(&args[1..]),
        _ => {
            let o = parse_opts(&args)?;
            let cmdline = format!(
                "cargo run --release --example bench_cycle -- {}",
                args.join(" ")
            );
            orchestrate(o, cmdline)
        }
    }
}
