//! The `autosync` command: parses the command line, loads the config, starts
//! logging and calls the library. No logic lives here.

use anyhow::{Context as _, Result};
use autosync::admin::client::{Answer, Request};
use autosync::clock::SystemClock;
use autosync::progress::{PassPrinter, Verbosity};
use autosync::{config, daemon, demo, extract, pipeline, probe, publish};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Exit code for a config error.
const EXIT_CONFIG: u8 = 2;
/// Exit code when some unit failed (the others still ran).
const EXIT_UNIT_FAILED: u8 = 3;
/// Exit code when an editor's action is refused (token, reach, state).
const EXIT_REFUSED: u8 = 4;

#[derive(Parser)]
#[command(
    name = "autosync",
    version,
    about = "Keeps official accounts in step with official websites"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        env = "AUTOSYNC_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    /// Serve only shard I of N (counted from 0) of the config's units; each
    /// shard is an independent daemon with its own store (README, "Past one
    /// box"). Overrides `[daemon] shard`.
    #[arg(long, global = true, env = "AUTOSYNC_SHARD", value_name = "I/N")]
    shard: Option<autosync::shard::Shard>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Html,
    Xlsx,
    Csv,
    Json,
}

impl From<ReportFormat> for autosync::report::Format {
    fn from(f: ReportFormat) -> Self {
        use autosync::report::Format;
        match f {
            ReportFormat::Html => Format::Html,
            ReportFormat::Xlsx => Format::Xlsx,
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Json => Format::Json,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// One pass over all units (or one): poll, discover, extract, dedupe, publish.
    Once {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// Only this unit.
        #[arg(long)]
        unit: Option<String>,
        /// Print only the units that failed (for cron); no progress bar.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Validate a config file; every error names the file, line and unit.
    Check {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// Also print each unit's next N scheduled runs.
        #[arg(long, value_name = "N")]
        next: Option<usize>,
        /// Report missing or unreadable credentials (cookie files, unset
        /// variables) as warnings, not errors. The service runs this before
        /// it starts and reloads: one account's missing cookie pauses that
        /// account in the daemon, it must not stop every unit.
        #[arg(long)]
        credentials_warn: bool,
    },
    /// Run the daemon (under systemd: Type=notify).
    Run {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
    },
    /// Rewrite the store's database with only what is live (after archival
    /// or a one-time spike), giving disk and memory back. Stop the daemon
    /// first: the store admits one process.
    Compact {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
    },
    /// Write everything this daemon's store knows of a unit (its articles,
    /// live and archived, what went out, its sources' and accounts' state,
    /// its audit entries) as JSON lines: to move it to another shard. Stop
    /// the daemon first: the store admits one process.
    ExportUnit {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        #[arg(long)]
        unit: String,
        /// Where to write (standard output when absent).
        #[arg(short = 'o', long)]
        out: Option<PathBuf>,
    },
    /// Add an `export-unit` file to this daemon's store, before the daemon
    /// polls the unit (a store that already polled it refuses). The unit
    /// must be one this shard serves.
    ImportUnit {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        #[arg(long)]
        unit: String,
        file: PathBuf,
    },
    /// Which units move to another shard when the shard count changes from
    /// the current one (`--shard` or `[daemon] shard`, else 1) to `--to N`.
    ShardPlan {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        #[arg(long, value_name = "N")]
        to: u32,
    },
    /// Each unit's last poll, last error, queue depth and published count.
    Status {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// The whole status as JSON (each account's state, since when).
        #[arg(long)]
        json: bool,
    },
    /// A report (通报) over a period: per account, posts, silences and
    /// verdict; totals per level and subtree (from the running daemon, else
    /// the store).
    Report {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// First day, YYYY-MM-DD in `[daemon] timezone`.
        #[arg(long)]
        from: String,
        /// Last day (included).
        #[arg(long)]
        to: String,
        /// Only this unit and its whole subtree.
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, default_value = "html")]
        format: ReportFormat,
        /// Write here instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Extract articles from saved pages and print one JSON object per line.
    Extract {
        /// The pages' URL, for absolute links and images.
        #[arg(long)]
        url: Option<url::Url>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve a local double of the toutiao platform API.
    MockAccount {
        #[arg(long, default_value = "127.0.0.1:8641")]
        listen: String,
        /// Where articles and images are kept (survives restarts). Creating
        /// DATA/expired makes the login expire; DATA/fail_next holds faults
        /// (`status:503`, `code:7001:message`, `store-then-status:500`, …),
        /// one per publish.
        #[arg(long)]
        data: PathBuf,
        /// The account's display name.
        #[arg(long, default_value = "示例省科协")]
        display_name: String,
        /// Only this cookie's sessionid is accepted (any, when absent).
        #[arg(long)]
        cookie: Option<String>,
        /// Hold every publish answer back this long, after storing the article.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// At most this many publishes a minute; more get 429.
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Start with the login expired.
        #[arg(long)]
        expired: bool,
    },
    /// Serve a strict local webhook receiver (signature, Idempotency-Key).
    MockWebhook {
        #[arg(long, default_value = "127.0.0.1:8642")]
        listen: String,
        /// Where posts are kept (survives restarts); DATA/fail_next holds
        /// faults (`status:503`, `reject:422:message`, `slow:1500`, `lost`),
        /// one per POST.
        #[arg(long)]
        data: PathBuf,
        /// The file holding the secret shared with autosync.
        #[arg(long)]
        secret_file: PathBuf,
    },
    /// Serve a local double of the WeChat official-account API.
    MockWechat {
        #[arg(long, default_value = "127.0.0.1:8642")]
        listen: String,
        /// Where drafts, publications and images are kept (survives
        /// restarts). DATA/fail_next holds faults, one per line
        /// (`code:45009`, `ip:1.2.3.4`, `token-expired`, `submit lose`,
        /// `publishing:3000`, `status:4:reason`, `slow:2000`).
        #[arg(long)]
        data: PathBuf,
        /// The only AppID the token call accepts.
        #[arg(long, default_value = "wx0123456789abcdef")]
        app_id: String,
        /// The only AppSecret the token call accepts.
        #[arg(
            long,
            env = "AUTOSYNC_MOCK_WECHAT_SECRET",
            default_value = "mock-app-secret",
            hide_env_values = true
        )]
        app_secret: String,
        /// The account's name (for the index page).
        #[arg(long, default_value = "示例省科协")]
        account_name: String,
        /// Hold every answer back this long, after applying the call.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
    },
    /// Run a pass against a built-in sample website and mock account.
    Demo,
    /// What the daemon would find on a site, touching no store (works while
    /// the daemon runs): a unit's sources (`-c FILE --unit ID`) or a URL
    /// (a site's home page, a list page or a feed; no config needed).
    /// Exit 1 when a source yields no entries.
    Probe {
        /// A site, list page or feed URL.
        #[arg(conflicts_with_all = ["config", "unit"], required_unless_present = "unit")]
        url: Option<url::Url>,
        #[arg(short = 'c', long = "config", requires = "unit")]
        config: Option<PathBuf>,
        /// The unit whose sources to probe.
        #[arg(long, requires = "config")]
        unit: Option<String>,
        /// One JSON object instead of the text for people.
        #[arg(long)]
        json: bool,
    },
    /// Extraction benchmark: extract every page of DIR (DIR/html/*.html.gz
    /// or DIR/*), report pages per second and, with ground truth, F1.
    Bench {
        dir: PathBuf,
        /// Ground truth JSON (default: DIR/ground-truth.json when present).
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Also write the extracted records here (JSON lines, for the scorer).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List items (editors).
    Items {
        #[command(flatten)]
        desk: DeskArgs,
        #[arg(long)]
        unit: Option<String>,
        /// held, queued, publishing, published, failed, rejected, seen.
        #[arg(long)]
        state: Option<String>,
        /// Show the N newest (at most 1000).
        #[arg(long, default_value_t = autosync::desk::DEFAULT_LIST)]
        limit: usize,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Approve a held item: it joins the publish queue. ID: the item's id
    /// or a unique prefix of at least 6 characters (as for every item
    /// command).
    Approve {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
        /// Print the item as JSON instead of one line in words.
        #[arg(long)]
        json: bool,
    },
    /// Reject an item: it will not be published.
    Reject {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
        #[arg(long)]
        reason: String,
        /// Print the item as JSON instead of one line in words.
        #[arg(long)]
        json: bool,
    },
    /// Mark an item priority: it jumps the publish queue.
    Priority {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
        /// Print the item as JSON instead of one line in words.
        #[arg(long)]
        json: bool,
    },
    /// Change the title of an item not yet published (audited).
    Title {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
        /// The new title.
        title: String,
        /// Print the item as JSON instead of one line in words.
        #[arg(long)]
        json: bool,
    },
    /// Publish an existing item now to its unit's accounts, ahead of the
    /// queue and its spacing. One line in words per account.
    PushNow {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
        /// Print the deliveries as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Fetch, extract and publish a URL to a unit's account now.
    Push {
        #[command(flatten)]
        desk: DeskArgs,
        url: String,
        #[arg(long)]
        unit: String,
        /// Push even if the unit already has this article.
        #[arg(long)]
        force: bool,
        /// Print the deliveries as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Push an item to every account in a unit's subtree.
    Broadcast {
        #[command(flatten)]
        desk: DeskArgs,
        item: String,
        #[arg(long)]
        to: String,
        /// Print the deliveries as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Read collective certification forms (.xlsx, .xls, .csv, .docx) into
    /// [[unit]] tables; every row checked, problems printed as a table.
    /// Exit 3 when a row or file is unusable (the usable rows are written).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The existing config: its ids, account names and sites count as
        /// taken, and --parent must be one of its units.
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
        /// The unit above the imported ones.
        #[arg(long)]
        parent: Option<String>,
        /// national, provincial, city, county or other.
        #[arg(long, value_parser = autosync::import::parse_level)]
        level: Option<config::Level>,
        /// Write the [[unit]] tables here (else to stdout).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Write the operators' personal data here, mode 0600 (.xlsx, .json,
        /// else CSV).
        #[arg(long)]
        roster: Option<PathBuf>,
        /// Also write the problems table here (.xlsx, .json, else CSV), to
        /// send back to the units.
        #[arg(long)]
        problems: Option<PathBuf>,
        /// Find each site's sources now (feeds, news list pages).
        #[arg(long)]
        probe: bool,
    },
    /// The matrix as it runs: one row per account in tree order, with its
    /// state and last post.
    Roster {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// xlsx, csv or json (default: from -o's extension, else csv).
        #[arg(long)]
        format: Option<autosync::roster::Format>,
        /// Write here (else to stdout; xlsx needs a file).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// The editors' audit log.
    Audit {
        #[command(flatten)]
        desk: DeskArgs,
        /// CSV instead of JSON lines.
        #[arg(long)]
        csv: bool,
    },
    /// An account's credentials (`account set-cookie`).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Renew a toutiao account's cookie: read from stdin (never echoed),
    /// written to the unit's cookie_file (mode 0600); a running daemon
    /// reads it and checks the account at once.
    SetCookie {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// The unit whose account it is.
        unit: String,
        /// The account, when the unit has several.
        #[arg(long)]
        account: Option<String>,
    },
}

/// What every editors' subcommand takes.
#[derive(clap::Args)]
struct DeskArgs {
    #[arg(short = 'c', long = "config")]
    config: PathBuf,
    /// The editor's token (or AUTOSYNC_TOKEN).
    #[arg(long, env = "AUTOSYNC_TOKEN", hide_env_values = true)]
    token: String,
}

fn main() -> ExitCode {
    // Before any thread starts: glibc reads these when it makes arenas.
    let refused = autosync::memory::tune_allocator();
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Once { quiet: true, .. });
    init_logging(cli.log_format, quiet);
    if !refused.is_empty() {
        tracing::warn!(?refused, "the C allocator refused some memory settings");
    }
    match run(cli.command, cli.shard) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("autosync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `quiet`: `once --quiet`, logging only errors unless `AUTOSYNC_LOG` says.
fn init_logging(format: LogFormat, quiet: bool) {
    use autosync::logging::{DEFAULT_DIRECTIVE, QUIET_DIRECTIVE, filter_directive};
    use std::io::IsTerminal;
    let env = std::env::var("AUTOSYNC_LOG").ok();
    let default = if quiet {
        QUIET_DIRECTIVE
    } else {
        DEFAULT_DIRECTIVE
    };
    let directive = filter_directive(env.as_deref(), default);
    let filter = tracing_subscriber::EnvFilter::try_new(&directive).unwrap_or_else(|e| {
        eprintln!("autosync: AUTOSYNC_LOG={directive:?} is not a filter ({e}); using the default");
        tracing_subscriber::EnvFilter::new(default)
    });
    let ansi = autosync::logging::use_ansi(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_config(
    path: &std::path::Path,
    shard: Option<autosync::shard::Shard>,
) -> std::result::Result<config::Config, ExitCode> {
    config::load_shard(path, shard).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Every unit of the file whatever its shard (an import's duplicates, a
/// probe, a re-shard's plan), or the printed errors' exit code.
fn load_whole_config(path: &std::path::Path) -> std::result::Result<config::Config, ExitCode> {
    config::load_all(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Run an editors' request and print its answer; non-zero exit when refused.
fn desk_call(args: DeskArgs, req: Request, lines: bool) -> Result<ExitCode> {
    desk_call_as(args, req, lines, false)
}

/// [`desk_call`]; with `words`, an action on one item prints one line in
/// words (`autosync::admin::client::said`) instead of the JSON object.
fn desk_call_as(args: DeskArgs, req: Request, lines: bool, words: bool) -> Result<ExitCode> {
    let cfg = match load_config(&args.config, None) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let rt = runtime()?;
    let answer = rt.block_on(autosync::admin::client::call(
        &cfg,
        &args.token,
        req.clone(),
    ));
    let mut out = std::io::stdout().lock();
    match answer {
        Err(e) => {
            eprintln!("autosync: refused: {e}");
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Ok(Answer::Text(t)) => {
            write!(out, "{t}")?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(Answer::Json(v)) => {
            if let Some(line) = words
                .then(|| autosync::admin::client::said(&cfg, &req, &v))
                .flatten()
            {
                writeln!(out, "{line}")?;
                // A delivery that failed still fails the command.
                let failed = v.as_array().is_some_and(|rows| {
                    rows.iter()
                        .any(|r| r.get("outcome").and_then(|o| o.as_str()) == Some("failed"))
                });
                return Ok(if failed {
                    ExitCode::from(EXIT_UNIT_FAILED)
                } else {
                    ExitCode::SUCCESS
                });
            }
            match (&req, v) {
                (_, serde_json::Value::Array(rows)) if lines => {
                    for r in rows {
                        writeln!(out, "{}", serde_json::to_string(&r)?)?;
                    }
                }
                (Request::Items { .. }, serde_json::Value::Array(rows)) => {
                    for r in rows {
                        let f =
                            |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                        writeln!(
                            out,
                            "{}\t{}\t{}\t{}\t{}",
                            f("id"),
                            f("unit"),
                            f("state"),
                            f("title"),
                            f("reason")
                        )?;
                    }
                }
                // `--json`: the deliveries as they came; a failed one still
                // fails the command.
                (
                    Request::Broadcast { .. } | Request::PushItem { .. } | Request::PushUrl { .. },
                    serde_json::Value::Array(rows),
                ) => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
                    let failed = rows
                        .iter()
                        .any(|r| r.get("outcome").and_then(|o| o.as_str()) == Some("failed"));
                    if failed {
                        return Ok(ExitCode::from(EXIT_UNIT_FAILED));
                    }
                }
                (_, v) => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                    if v.get("outcome").and_then(|o| o.as_str()) == Some("failed") {
                        return Ok(ExitCode::from(EXIT_UNIT_FAILED));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Serve a platform double on `listen` until Ctrl-C. The first line on
/// stderr names the address (tests read it when they pass port 0).
fn serve_double<F, Fut>(what: &str, listen: &str, serve: F) -> Result<()>
where
    F: FnOnce(tokio::net::TcpListener, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        eprintln!("{what} listening on http://{}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                s.cancel();
            }
        });
        serve(listener, shutdown).await?;
        Ok(())
    })
}

fn run(cmd: Command, shard: Option<autosync::shard::Shard>) -> Result<ExitCode> {
    match cmd {
        Command::Check {
            config,
            next,
            credentials_warn,
        } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let mut findings = config::lint(&config, &cfg, chrono::Utc::now());
            if credentials_warn {
                let errors = std::mem::take(&mut findings.errors);
                findings.warnings.extend(errors);
            }
            for w in &findings.warnings {
                eprintln!("warning: {w}");
            }
            if !findings.errors.is_empty() {
                for e in &findings.errors {
                    eprintln!("{e}");
                }
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            match cfg.daemon.shard {
                Some(s) => println!(
                    "{}: ok, shard {s}: {} of {} unit(s)",
                    config.display(),
                    cfg.units.len(),
                    cfg.all_units
                ),
                None => println!("{}: ok, {} unit(s)", config.display(), cfg.units.len()),
            }
            if let Some(n) = next {
                print!("{}", autosync::schedule_report(&cfg, chrono::Utc::now(), n));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let rt = runtime()?;
            rt.block_on(async {
                let shutdown = CancellationToken::new();
                let (reload_tx, reload_rx) = tokio::sync::mpsc::unbounded_channel();
                daemon::watch_signals(shutdown.clone(), reload_tx)?;
                let ctx = pipeline::Context::open(&cfg, Arc::new(SystemClock), shutdown)
                    .map_err(anyhow::Error::msg)?;
                daemon::run(
                    config,
                    cfg,
                    ctx,
                    autosync::systemd::Notifier::from_env(),
                    Arc::new(autosync::metrics::Metrics::new()),
                    reload_rx,
                )
                .await?;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ExportUnit { config, unit, out } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let store = autosync::store::Store::open(&cfg.daemon.state_dir)?;
            let done = match &out {
                Some(path) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("creating {}", path.display()))?,
                    );
                    let done = store.export_unit(&unit, chrono::Utc::now(), &mut f)?;
                    f.into_inner()
                        .map_err(|e| e.into_error())
                        .and_then(|f| f.sync_all())
                        .with_context(|| format!("writing {}", path.display()))?;
                    done
                }
                None => {
                    store.export_unit(&unit, chrono::Utc::now(), &mut std::io::stdout().lock())?
                }
            };
            if done.items + done.archived == 0 {
                eprintln!("unit {unit}: this store has no items of it");
            } else {
                eprintln!(
                    "unit {unit}: exported {} item(s), {} archived, {} source(s), {} account(s), {} audit entries",
                    done.items, done.archived, done.sources, done.accounts, done.audit
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ImportUnit { config, unit, file } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            if cfg.unit(&unit).is_none() {
                let whose = cfg
                    .daemon
                    .shard
                    .map(|s| {
                        format!(
                            " (served by shard {}/{})",
                            autosync::shard::shard_of(&unit, s.count),
                            s.count
                        )
                    })
                    .unwrap_or_default();
                eprintln!(
                    "{}: no unit {unit:?} in this daemon's config{whose}",
                    config.display()
                );
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            let store = autosync::store::Store::open(&cfg.daemon.state_dir)?;
            let mut input = std::io::BufReader::new(
                std::fs::File::open(&file)
                    .with_context(|| format!("opening {}", file.display()))?,
            );
            let done = runtime()?
                .block_on(store.import_unit(&unit, &mut input))
                .with_context(|| format!("importing {}", file.display()))?;
            println!(
                "unit {unit}: imported {} item(s) ({} already here), {} archived, {} source(s), {} account(s), {} audit entries",
                done.items,
                done.already_there,
                done.archived,
                done.sources,
                done.accounts,
                done.audit
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::ShardPlan { config, to } => {
            let all = match load_whole_config(&config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let from = shard.or(all.daemon.shard).map_or(1, |s| s.count);
            let plan = autosync::shard::plan(all.units.iter().map(|u| u.id.as_str()), from, to)?;
            print!("{plan}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Compact { config } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let c = autosync::store::compact(&cfg.daemon.state_dir)?;
            let mib = |b: u64| b as f64 / 1_048_576.0;
            println!(
                "store {}: database {:.1} MiB -> {:.1} MiB",
                cfg.daemon.state_dir.display(),
                mib(c.bytes_before),
                mib(c.bytes_after)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { config, json } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let rt = runtime()?;
            let (from, status) = rt
                .block_on(daemon::status_of(&cfg))
                .map_err(anyhow::Error::msg)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("# {from}");
            print!(
                "{}",
                autosync::admin::format_status_in(&status, cfg.daemon.timezone)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            config,
            from,
            to,
            unit,
            format,
            output,
        } => {
            use autosync::report::{self, ReportError, Source};
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let rt = runtime()?;
            let made = report::Period::parse(&from, &to).and_then(|period| {
                rt.block_on(report::produce(
                    &cfg,
                    period,
                    unit.as_deref(),
                    format.into(),
                ))
            });
            let (source, bytes) = match made {
                Ok(x) => x,
                Err(e @ (ReportError::Period(_) | ReportError::NoUnit { .. })) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
                Err(e) => return Err(e.into()),
            };
            match &output {
                Some(path) => std::fs::write(path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(&bytes)?,
            }
            let from = match source {
                Source::Daemon(url) => format!("from the running daemon at {url}"),
                Source::Store(dir) => format!("from the store at {}", dir.display()),
            };
            let to = output.map_or_else(|| "stdout".into(), |p| p.display().to_string());
            eprintln!("report written to {to} ({from})");
            Ok(ExitCode::SUCCESS)
        }
        Command::Once {
            config,
            unit,
            quiet,
        } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            if let Some(id) = &unit
                && cfg.unit(id).is_none()
            {
                match cfg.daemon.shard {
                    Some(s) if cfg.all_units > cfg.units.len() => eprintln!(
                        "{}: no unit {id:?} in shard {s} (it may be served by another shard: `--shard {}/{}`)",
                        config.display(),
                        autosync::shard::shard_of(id, s.count),
                        s.count
                    ),
                    _ => eprintln!("{}: no unit {id:?}", config.display()),
                }
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
            let verbosity = if quiet {
                Verbosity::Quiet
            } else {
                Verbosity::Normal
            };
            let printer = Arc::new(PassPrinter::new(
                Box::new(std::io::stdout()),
                verbosity,
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
            ));
            let rt = runtime()?;
            let reports = rt.block_on(async {
                let shutdown = CancellationToken::new();
                let ctx = pipeline::Context::open(&cfg, Arc::new(SystemClock), shutdown.clone())
                    .map_err(anyhow::Error::msg)?;
                let ctrl_c = shutdown.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        ctrl_c.cancel();
                    }
                });
                let reports =
                    pipeline::run_pass_watched(&ctx, &cfg, unit.as_deref(), printer.clone()).await;
                // Cron has no daemon: the pass's changes are alerted here.
                autosync::alert::after_pass(&ctx, &cfg, unit.as_deref()).await;
                ctx.store.flush().await.map_err(anyhow::Error::from)?;
                anyhow::Ok(reports)
            })?;
            printer.end(&reports);
            let failed = reports.iter().filter(|r| !r.ok()).count();
            Ok(if failed > 0 {
                ExitCode::from(EXIT_UNIT_FAILED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Extract { url, files } => {
            // One extractor for every file: building one costs more than
            // extracting a page.
            let ex = extract::Extractor::new();
            let mut out = std::io::stdout().lock();
            let mut failed = 0;
            for f in &files {
                match ex.extract_file(f, url.as_ref()) {
                    Ok(rec) => writeln!(out, "{}", serde_json::to_string(&rec)?)?,
                    Err(e) => {
                        failed += 1;
                        eprintln!("{}: {e}", f.display());
                    }
                }
            }
            Ok(if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::MockAccount {
            listen,
            data,
            display_name,
            cookie,
            delay_ms,
            rate_limit,
            expired,
        } => {
            let opts = publish::toutiao_mock::MockOptions {
                data_dir: data,
                display_name,
                cookie,
                delay: std::time::Duration::from_millis(delay_ms),
                rate_limit,
                expired,
                ..Default::default()
            };
            serve_double("mock account", &listen, |listener, shutdown| {
                publish::toutiao_mock::serve(listener, opts, shutdown)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::MockWechat {
            listen,
            data,
            app_id,
            app_secret,
            account_name,
            delay_ms,
        } => {
            let opts = publish::wechat::mock::MockOptions {
                data_dir: data,
                app_id,
                app_secret,
                account_name,
                delay: std::time::Duration::from_millis(delay_ms),
                ..Default::default()
            };
            serve_double("mock wechat account", &listen, |listener, shutdown| {
                publish::wechat::mock::serve(listener, opts, shutdown)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::MockWebhook {
            listen,
            data,
            secret_file,
        } => {
            let secret = autosync::secret::read_secret("secret", Some(&secret_file), None, None)
                .map_err(anyhow::Error::msg)?;
            let opts = publish::webhook::mock::MockOptions::new(data, secret);
            serve_double("mock webhook receiver", &listen, |listener, shutdown| {
                publish::webhook::mock::serve(listener, opts, shutdown)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Items {
            desk,
            unit,
            state,
            limit,
            json,
        } => desk_call(desk, Request::Items { unit, state, limit }, json),
        Command::Approve { desk, id, json } => {
            desk_call_as(desk, Request::Approve { id }, false, !json)
        }
        Command::Reject {
            desk,
            id,
            reason,
            json,
        } => desk_call_as(desk, Request::Reject { id, reason }, false, !json),
        Command::Priority { desk, id, json } => {
            desk_call_as(desk, Request::Priority { id }, false, !json)
        }
        Command::Title {
            desk,
            id,
            title,
            json,
        } => desk_call_as(desk, Request::Title { id, title }, false, !json),
        Command::PushNow { desk, id, json } => {
            desk_call_as(desk, Request::PushItem { id }, false, !json)
        }
        Command::Push {
            desk,
            url,
            unit,
            force,
            json,
        } => desk_call_as(desk, Request::PushUrl { url, unit, force }, false, !json),
        Command::Broadcast {
            desk,
            item,
            to,
            json,
        } => desk_call_as(desk, Request::Broadcast { item, to }, false, !json),
        Command::Audit { desk, csv } => desk_call(
            desk,
            if csv {
                Request::AuditCsv
            } else {
                Request::Audit
            },
            true,
        ),
        Command::Import {
            files,
            config,
            parent,
            level,
            output,
            roster,
            problems,
            probe,
        } => {
            // Duplicates are looked for in the whole matrix, every shard's.
            let existing = match config.as_deref().map(load_whole_config).transpose() {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            // The fetcher of the config when there is one (its user agent,
            // proxy, politeness), else the defaults.
            let finder = probe
                .then(|| {
                    let opts = existing
                        .as_ref()
                        .map(|c| c.fetch.clone())
                        .unwrap_or_default();
                    autosync::fetch::Fetcher::new(opts).map(probe::DiscoveryFinder::new)
                })
                .transpose()?;
            let req = autosync::import::Request {
                files,
                options: autosync::import::Options { parent, level },
                existing: existing.as_ref(),
                probe: finder
                    .as_ref()
                    .map(|f| f as &dyn autosync::import::probe::SourceFinder),
                output: output.clone(),
                roster,
                problems,
            };
            let done = match runtime()?.block_on(autosync::import::run(req)) {
                Ok(d) => d,
                Err(e @ autosync::import::ImportError::UnknownParent { .. }) => {
                    eprintln!("autosync import: {e}");
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
                Err(e) => return Err(e.into()),
            };
            let import = &done.import;
            match &output {
                None => print!("{}", done.toml),
                Some(path) if import.units.is_empty() => {
                    eprintln!("没有可导入的行，未写入 {}", path.display())
                }
                Some(_) => {}
            }
            if !import.problems.is_empty() {
                eprint!("{}", autosync::import::problems::table(&import.problems));
            }
            eprintln!("{}", import.summary_zh());
            Ok(if import.has_unusable() {
                ExitCode::from(EXIT_UNIT_FAILED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Roster {
            config,
            format,
            output,
        } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let format = format
                .or_else(|| {
                    output
                        .as_deref()
                        .and_then(autosync::roster::Format::of_path)
                })
                .unwrap_or(autosync::roster::Format::Csv);
            if format == autosync::roster::Format::Xlsx && output.is_none() {
                anyhow::bail!("--format xlsx needs -o FILE");
            }
            let status = runtime()?.block_on(autosync::roster::read_status(&cfg))?;
            let bytes = autosync::roster::matrix(&cfg, status.as_ref()).render(format)?;
            match output {
                Some(path) => std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(&bytes)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { dir, truth, out } => {
            let truth =
                truth.or_else(|| Some(dir.join("ground-truth.json")).filter(|p| p.is_file()));
            let report = autosync::extract::bench::run(&dir, truth.as_deref())?;
            if let Some(out) = out {
                report.write_jsonl(&out)?;
            }
            for (path, why) in &report.failures {
                eprintln!("failed: {}: {why}", path.display());
            }
            print!("{}", report.summary());
            Ok(ExitCode::SUCCESS)
        }
        Command::Account {
            command:
                AccountCommand::SetCookie {
                    config,
                    unit,
                    account,
                },
        } => {
            let cfg = match load_config(&config, shard) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let input = autosync::account_cmd::read_cookie_from_stdin()?;
            let w = match autosync::account_cmd::set_cookie(&cfg, &unit, account.as_deref(), &input)
            {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("autosync: {e}");
                    let code = match e {
                        autosync::account_cmd::SetCookieError::Write { .. } => 1,
                        autosync::account_cmd::SetCookieError::Malformed(_) => EXIT_REFUSED,
                        _ => EXIT_CONFIG,
                    };
                    return Ok(ExitCode::from(code));
                }
            };
            println!(
                "unit {}, account {}: cookie written to {} (mode 0600)",
                w.unit,
                w.account,
                w.path.display()
            );
            let rt = runtime()?;
            let told = rt.block_on(autosync::account_cmd::tell_daemon(
                &cfg,
                &w.unit,
                &w.account,
                std::time::Duration::from_secs(15),
            ));
            use autosync::account_cmd::Told;
            match told {
                Ok(Told::NoDaemon) => println!(
                    "no daemon answers on {}: it reads the new cookie when it starts",
                    cfg.daemon.listen
                ),
                Ok(Told::Resumed) => {
                    println!("the daemon checked the new cookie: the account publishes again")
                }
                Ok(Told::Renewed) => println!("the daemon reads the new cookie for the next post"),
                Ok(Told::StillPaused(why)) => {
                    println!(
                        "the daemon read the new cookie, but the account is still paused: {why}"
                    );
                    return Ok(ExitCode::from(EXIT_UNIT_FAILED));
                }
                Err(e) => {
                    eprintln!(
                        "autosync: the cookie is written, but telling the daemon failed ({e}); `systemctl reload autosync` reads it"
                    );
                    return Ok(ExitCode::from(EXIT_UNIT_FAILED));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            let rt = runtime()?;
            let mut out = std::io::stdout().lock();
            rt.block_on(demo::run(&mut out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe {
            url,
            config,
            unit,
            json,
        } => {
            // Any unit of the file, whatever the shard: the probe touches
            // no store.
            let cfg = match &config {
                Some(path) => match load_whole_config(path) {
                    Ok(c) => Some(c),
                    Err(code) => return Ok(code),
                },
                None => None,
            };
            let rt = runtime()?;
            let report = match (&cfg, unit, url) {
                (Some(cfg), Some(id), _) => {
                    let Some(u) = cfg.unit(&id) else {
                        eprintln!("{}: no unit {id:?}", cfg.path.display());
                        return Ok(ExitCode::from(EXIT_CONFIG));
                    };
                    let fetcher = autosync::fetch::Fetcher::new(cfg.fetch.clone())?;
                    rt.block_on(probe::probe_unit(&fetcher, u, cfg.daemon.timezone))?
                }
                (_, _, Some(url)) => {
                    let fetcher = autosync::fetch::Fetcher::new(Default::default())?;
                    rt.block_on(probe::probe_url(&fetcher, &url, chrono_tz::Asia::Shanghai))?
                }
                _ => anyhow::bail!("give a URL, or -c FILE --unit ID"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", probe::render::text(&report));
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
