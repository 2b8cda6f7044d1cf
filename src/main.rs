//! The `autosync` command: parses the command line, loads the config, starts
//! logging and calls the library. No logic lives here.

use anyhow::{Context as _, Result};
use autosync::admin::client::{Answer, Request};
use autosync::clock::SystemClock;
use autosync::{config, daemon, demo, extract, pipeline, publish};
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
    },
    /// Validate a config file; every error names the file, line and unit.
    Check {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
        /// Also print each unit's next N scheduled runs.
        #[arg(long, value_name = "N")]
        next: Option<usize>,
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
    /// Each unit's last poll, last error, queue depth and published count.
    Status {
        #[arg(short = 'c', long = "config")]
        config: PathBuf,
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
    /// Approve a held item: it joins the publish queue.
    Approve {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
    },
    /// Reject an item: it will not be published.
    Reject {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Mark an item priority: it jumps the publish queue.
    Priority {
        #[command(flatten)]
        desk: DeskArgs,
        id: String,
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
    },
    /// Push an item to every account in a unit's subtree.
    Broadcast {
        #[command(flatten)]
        desk: DeskArgs,
        item: String,
        #[arg(long)]
        to: String,
    },
    /// The editors' audit log.
    Audit {
        #[command(flatten)]
        desk: DeskArgs,
        /// CSV instead of JSON lines.
        #[arg(long)]
        csv: bool,
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
    init_logging(cli.log_format);
    if !refused.is_empty() {
        tracing::warn!(?refused, "the C allocator refused some memory settings");
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("autosync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTOSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,autosync=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load_config(path: &std::path::Path) -> std::result::Result<config::Config, ExitCode> {
    config::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Run an editors' request and print its answer; non-zero exit when refused.
fn desk_call(args: DeskArgs, req: Request, lines: bool) -> Result<ExitCode> {
    let cfg = match load_config(&args.config) {
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
                (
                    Request::Broadcast { .. } | Request::PushItem { .. } | Request::PushUrl { .. },
                    serde_json::Value::Array(rows),
                ) => {
                    let mut failed = false;
                    for r in rows {
                        let f =
                            |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                        failed |= f("outcome") == "failed";
                        writeln!(
                            out,
                            "{}\t{}\t{}\t{}",
                            f("unit"),
                            f("account"),
                            f("outcome"),
                            f("detail")
                        )?;
                    }
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

fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Check { config, next } => {
            let cfg = match load_config(&config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            println!("{}: ok, {} unit(s)", config.display(), cfg.units.len());
            if let Some(n) = next {
                print!("{}", autosync::schedule_report(&cfg, chrono::Utc::now(), n));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config } => {
            let cfg = match load_config(&config) {
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
        Command::Compact { config } => {
            let cfg = match load_config(&config) {
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
        Command::Status { config } => {
            let cfg = match load_config(&config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let rt = runtime()?;
            let (from, status) = rt
                .block_on(daemon::status_of(&cfg))
                .map_err(anyhow::Error::msg)?;
            println!("# {from}");
            print!("{}", autosync::admin::format_status(&status));
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
            let cfg = match load_config(&config) {
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
        Command::Once { config, unit } => {
            let cfg = match load_config(&config) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            if let Some(id) = &unit
                && cfg.unit(id).is_none()
            {
                eprintln!("{}: no unit {id:?}", config.display());
                return Ok(ExitCode::from(EXIT_CONFIG));
            }
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
                let reports = pipeline::run_pass(&ctx, &cfg, unit.as_deref()).await;
                ctx.store.flush().await.map_err(anyhow::Error::from)?;
                anyhow::Ok(reports)
            })?;
            let mut out = std::io::stdout().lock();
            for r in &reports {
                write!(out, "{r}")?;
            }
            let failed = reports.iter().filter(|r| !r.ok()).count();
            writeln!(out, "{} unit(s), {} failed", reports.len(), failed)?;
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
        Command::Approve { desk, id } => desk_call(desk, Request::Approve { id }, false),
        Command::Reject { desk, id, reason } => {
            desk_call(desk, Request::Reject { id, reason }, false)
        }
        Command::Priority { desk, id } => desk_call(desk, Request::Priority { id }, false),
        Command::Push {
            desk,
            url,
            unit,
            force,
        } => desk_call(desk, Request::PushUrl { url, unit, force }, false),
        Command::Broadcast { desk, item, to } => {
            desk_call(desk, Request::Broadcast { item, to }, false)
        }
        Command::Audit { desk, csv } => desk_call(
            desk,
            if csv {
                Request::AuditCsv
            } else {
                Request::Audit
            },
            true,
        ),
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
        Command::Demo => {
            let rt = runtime()?;
            let mut out = std::io::stdout().lock();
            rt.block_on(demo::run(&mut out))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
