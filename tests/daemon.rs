//! `autosync run` as ops run it: a real process, killed and restarted.

mod common;

use autosync::demo::OwnedArticle;
use common::*;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `[daemon]` lines for these tests: a loopback listener, a short grace
/// and shutdown.
fn daemon_lines(listen: std::net::SocketAddr) -> String {
    format!("listen = \"{listen}\"\npublish_grace_secs = 1\nshutdown_timeout_secs = 5")
}

fn new_article(i: usize) -> OwnedArticle {
    OwnedArticle {
        path: format!("/xwzx/202611/t2026112{}_20{i:02}.html", i % 10),
        title: format!("第{i}期科普大讲堂在省科技馆举行"),
        date: format!("2026-11-2{}", i % 10),
        body: format!(
            "<p>第{i}期科普大讲堂日前在省科技馆举行，邀请专家围绕前沿科技话题作专题报告。</p><p>现场观众与专家积极互动，气氛热烈。本期讲座共吸引三百余名市民参加。</p>"
        ),
    }
}

/// How many items the store holds as published, by unit, read with no
/// daemon running (`autosync status` then opens the store itself).
fn durably_published(cfg: &Path) -> HashMap<String, usize> {
    let out = Command::new(assert_cmd::cargo::cargo_bin("autosync"))
        .args(["status", "-c"])
        .arg(cfg)
        .env("AUTOSYNC_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("from the store"),
        "status from the store: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter(|l| l.starts_with("demo-"))
        .map(|l| {
            let mut cols = l.split('\t');
            let unit = cols.next().unwrap_or_default().to_string();
            let published = cols.nth(5).unwrap_or_else(|| panic!("{l}"));
            let n = published
                .parse::<usize>()
                .unwrap_or_else(|e| panic!("{e}: {l}"));
            (unit, n)
        })
        .collect()
}

/// When a round of [`kill_9_rounds`] kills the daemon.
enum Kill {
    /// This long after its start: during start, polling or publishing,
    /// wherever that lands.
    After(Duration),
    /// As soon as the account holds one post more than at the round's start
    /// (waiting at most this long): chance alone might miss the window, this
    /// lands inside the post's held-back answer.
    AtNextPost(Duration),
}

/// `rounds` runs of `autosync run -c cfg`, each ended by SIGKILL. Before
/// round `r`, `round(r)` may put new articles on the site (the caller counts
/// what it expects) and says when that round's kill comes. `posts` counts
/// what is on the account(s) under test; `recorded` how many items of those
/// the store holds as published (read with no daemon running).
///
/// Returns the rounds whose kill landed mid-publish: the account holds a
/// post the store does not hold as published. That is the window "never
/// post blind twice" is about (the item is `publishing` on disk, its answer
/// never recorded), so a run in which no kill landed there proves nothing.
fn kill_9_rounds(
    cfg: &Path,
    log: &Path,
    rounds: usize,
    mut round: impl FnMut(usize) -> Kill,
    posts: impl Fn() -> usize,
    recorded: impl Fn() -> usize,
) -> Vec<usize> {
    let mut mid_publish = Vec::new();
    for r in 0..rounds {
        let kill = round(r);
        let before = posts();
        let mut child = start_daemon(cfg, log);
        match kill {
            Kill::After(d) => std::thread::sleep(d),
            Kill::AtNextPost(limit) => {
                let t = Instant::now();
                while posts() <= before && t.elapsed() < limit {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if posts() > recorded() {
            mid_publish.push(r);
        }
    }
    mid_publish
}

/// A last, undisturbed run on `cfg` (whose daemon listens on `listen`):
/// whether `posts()` reached `expected` within 90 s. The daemon is left
/// running; [`stop`] ends it.
fn run_until_posted(
    cfg: &Path,
    log: &Path,
    listen: SocketAddr,
    expected: usize,
    posts: impl Fn() -> usize,
) -> (Child, bool) {
    let child = start_daemon(cfg, log);
    let up = wait_for(Duration::from_secs(30), || {
        http_get(listen, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    assert!(
        up,
        "/healthz never answered\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    let done = wait_for(Duration::from_secs(90), || posts() >= expected);
    (child, done)
}

/// SIGTERM; the daemon must exit 0. Returns the log.
fn stop(mut child: Child, log: &Path) -> String {
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        exit.is_some_and(|s| s.success()),
        "daemon did not exit 0 on SIGTERM: {exit:?}\n{log_text}"
    );
    log_text
}

/// The titles that occur more than once in `titles`.
fn more_than_once<T: std::hash::Hash + Eq + std::fmt::Debug>(
    titles: impl IntoIterator<Item = T>,
) -> Vec<(T, usize)> {
    let mut n: HashMap<T, usize> = HashMap::new();
    for t in titles {
        *n.entry(t).or_default() += 1;
    }
    n.into_iter().filter(|(_, n)| *n > 1).collect()
}

#[test]
fn kill_9_at_any_moment_loses_nothing_and_posts_nothing_twice() {
    // A deliberately slow account: each publish answer comes 700 ms after the
    // article is stored, so kills land between "applied" and "answered".
    let w = World::new(Duration::from_millis(700));
    let log = w.dir.path().join("daemon.log");
    let cfg = w.config(&daemon_lines(free_addr()), "");
    let mut expected = autosync::demo::LIST_ARTICLES.len() + autosync::demo::FEED_ARTICLES.len();
    let mid_publish = kill_9_rounds(
        &cfg,
        &log,
        12,
        |round| {
            if round % 2 == 1 {
                w.site.add_list_article(new_article(round));
                expected += 1;
            }
            if round == 11 {
                // The round's new article at least is queued.
                Kill::AtNextPost(Duration::from_secs(20))
            } else {
                // Varied moments: during start, polling, publishing.
                Kill::After(Duration::from_millis(150 + (round as u64 * 271) % 1500))
            }
        },
        || w.posts().len(),
        || durably_published(&cfg).values().sum(),
    );
    assert!(
        !mid_publish.is_empty(),
        "no kill landed while a publish was in flight:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // A last, undisturbed run finishes the work.
    let listen = free_addr();
    let cfg = w.config(&daemon_lines(listen), "");
    let (child, done) = run_until_posted(&cfg, &log, listen, expected, || w.posts().len());
    // Every post may be on the account before this run has reported
    // anything: a worker sets its unit's queue depth after its first step
    // (here: reconciling what the last kill left), the daemon its footprint
    // at its first trim. Read /metrics once they have.
    let mut metrics = String::new();
    wait_for(Duration::from_secs(30), || {
        metrics = http_get(listen, "/metrics").unwrap_or_default();
        metrics.contains("autosync_queue_depth{unit=\"demo-province\"}")
            && !metrics.contains("\nautosync_store_db_bytes 0\n")
    });
    // Status comes from the running daemon.
    let status = Command::new(assert_cmd::cargo::cargo_bin("autosync"))
        .args(["status", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let status_out = String::from_utf8_lossy(&status.stdout).into_owned();
    let log_text = stop(child, &log);
    assert!(
        done,
        "only {} of {expected} posts after restarts\n{log_text}",
        w.posts().len()
    );

    let titles: Vec<String> = w.posts().into_iter().map(|p| p.title).collect();
    let twice = more_than_once(titles.iter());
    assert!(
        twice.is_empty(),
        "published more than once: {twice:?}\n{log_text}"
    );
    assert_eq!(titles.len(), expected, "{titles:?}");
    eprintln!(
        "kill -9 test: kills in rounds {mid_publish:?} landed mid-publish; {} reconciliations",
        log_text.matches("reconciled").count()
    );

    assert!(
        metrics.contains("autosync_queue_depth{unit=\"demo-province\"} 0"),
        "{metrics}"
    );
    // The account's update clock, read from the store at the worker's start
    // (this last run may have nothing left to post). A family with no series
    // yet renders nothing, so the latency histogram need not be there.
    assert!(
        metrics.contains("autosync_last_publish_timestamp_seconds{unit=\"demo-province\""),
        "{metrics}"
    );
    // The footprint gauges ops watch for the store's growth: set at start
    // and after every trim, with plausible values.
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(gauge("autosync_resident_memory_bytes") > 1e6, "{metrics}");
    assert!(gauge("autosync_store_db_bytes") > 0.0, "{metrics}");
    assert!(
        status.status.success(),
        "{status_out}{}\n{log_text}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(
        status_out.contains("from the running daemon"),
        "{status_out}"
    );
    assert!(status_out.contains("demo-province"), "{status_out}");
}

/// The `content_source_url` of each of `articles`.
fn source_urls<'a>(
    articles: impl Iterator<Item = &'a autosync::publish::wechat::mock::MockArticle>,
) -> Vec<&'a str> {
    articles.map(|a| a.content_source_url.as_str()).collect()
}

/// A feed article added at run time, for the city.
fn new_feed_article(i: usize) -> OwnedArticle {
    // Some have an image: uploaded for the body, and made the cover.
    let image = if i % 4 == 1 {
        format!("<p><img src=\"/images/activity{i}.png\" alt=\"活动现场\"></p>")
    } else {
        String::new()
    };
    OwnedArticle {
        path: format!("/kpzx/2026-11/2{}/content_21{i:02}.htm", i % 10),
        title: format!("市科协第{i}场科普讲座走进社区"),
        date: format!("2026-11-2{}", i % 10),
        body: format!(
            "<p>近日，市科协第{i}场科普讲座走进社区，专家围绕健康生活与防灾减灾作专题讲解。</p><p>居民们认真聆听、踊跃提问，纷纷表示收获很大。</p>{image}"
        ),
    }
}

/// How long the WeChat double holds back every answer after applying the
/// call. A publish is six calls or more (token, binding check, cover,
/// draft, submit, status), so this is long enough for kills to land between
/// "stored" and "answered" and short enough for the rounds to progress.
const WECHAT_DELAY: Duration = Duration::from_millis(300);

#[test]
fn kill_9_while_publishing_to_wechat_posts_each_feed_article_once() {
    use autosync::publish::wechat::mock as wechat_mock;
    // The province posts to a toutiao account answering at once; the city
    // to a slow WeChat account.
    let w = World::new(Duration::ZERO);
    let log = w.dir.path().join("daemon.log");
    let data = w.dir.path().join("wechat");
    // Settled fast (a test cannot wait 30 minutes): a submission is not
    // absent until 2 s after it, longer than any answer here takes.
    let wechat = w.wechat_city_account(&data, WECHAT_DELAY, Duration::from_secs(2));
    let config = |listen: SocketAddr| {
        let cfg = w.config(&daemon_lines(listen), "");
        w.replace_city_publisher(&cfg, &wechat);
        cfg
    };
    let cfg = config(free_addr());
    let mut feed: Vec<String> = autosync::demo::FEED_ARTICLES
        .iter()
        .map(|a| a.path.to_string())
        .collect();
    let published = || wechat_mock::load_published(&data).len();
    let started = Instant::now();
    let mid_publish = kill_9_rounds(
        &cfg,
        &log,
        10,
        |round| {
            if round % 2 == 1 {
                let a = new_feed_article(round);
                feed.push(a.path.clone());
                w.site.add_feed_article(a);
            }
            if round % 4 == 3 || round == 9 {
                // The round's new article at least is queued.
                Kill::AtNextPost(Duration::from_secs(20))
            } else {
                // Varied moments: during start, the binding check, uploads,
                // draft, submit, the status polls.
                Kill::After(Duration::from_millis(300 + (round as u64 * 613) % 2700))
            }
        },
        published,
        || {
            durably_published(&cfg)
                .get("demo-city")
                .copied()
                .unwrap_or_default()
        },
    );
    let killed = started.elapsed();
    assert!(
        !mid_publish.is_empty(),
        "no kill landed while a WeChat publish was in flight:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let listen = free_addr();
    let cfg = config(listen);
    let (child, done) = run_until_posted(&cfg, &log, listen, feed.len(), published);
    let province = wait_for(Duration::from_secs(30), || {
        w.posts().len() >= autosync::demo::LIST_ARTICLES.len()
    });
    let log_text = stop(child, &log);
    let publications = wechat_mock::load_published(&data);
    let drafts = wechat_mock::load_drafts(&data);
    let sources = source_urls(publications.iter().flat_map(|p| &p.articles));
    // A kill between draft/add and submit leaves a draft that was never
    // submitted: after restart the lookup does not find the article
    // published, the item is queued again once the grace is over, and a
    // new draft is made and submitted. Harmless to readers (never
    // submitted), so only the submitted drafts must be one per article.
    let submitted = source_urls(
        drafts
            .iter()
            .filter(|d| d.publish_id.is_some())
            .flat_map(|d| &d.articles),
    );
    let on_account = |what: String| {
        format!(
            "{what}
on the account: {sources:#?}
{log_text}"
        )
    };
    assert!(
        done,
        "{}",
        on_account(format!(
            "only {} of {} feed articles after restarts",
            publications.len(),
            feed.len()
        ))
    );
    // Nothing twice: no source URL in two submissions (nor in two
    // submitted drafts).
    for (what, urls) in [("publications", &sources), ("submitted drafts", &submitted)] {
        let twice = more_than_once(urls.iter().copied());
        assert!(
            twice.is_empty(),
            "{}",
            on_account(format!("{what}: more than once: {twice:?}"))
        );
    }
    // Nothing lost: every feed article, and nothing else.
    let mut expected: Vec<String> = feed
        .iter()
        .map(|path| format!("http://{}{path}", w.site_addr))
        .collect();
    expected.sort();
    let mut sorted = sources.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        expected,
        "{}",
        on_account("the feed, once each".into())
    );
    for p in &publications {
        assert_eq!(p.final_status, 0, "{p:?}");
    }
    // Images went through the platform's upload across the kills too.
    assert!(
        publications
            .iter()
            .flat_map(|p| &p.articles)
            .any(|a| a.content.contains("/mmbiz/")),
        "{}",
        on_account("no body image uploaded".into())
    );
    let orphans = drafts.len() - submitted.len();

    // At least one kill found its submission on the account: reconciled by
    // lookup (content_source_url), not sent again.
    let reconciled: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("reconciled: already on the account") && l.contains("demo-city"))
        .collect();
    assert!(
        !reconciled.is_empty(),
        "no WeChat item settled by lookup\n{log_text}"
    );

    // The province's posts, through the same kills: once each.
    assert!(province, "province posts: {:?}", w.posts());
    let titles: Vec<String> = w.posts().into_iter().map(|p| p.title).collect();
    let twice = more_than_once(titles.iter());
    assert!(twice.is_empty(), "toutiao: {twice:?}\n{log_text}");
    assert_eq!(titles.len(), autosync::demo::LIST_ARTICLES.len());

    eprintln!(
        "kill -9 WeChat test: kills in rounds {mid_publish:?} landed mid-publish; {} settled by lookup; {orphans} draft(s) never submitted; {} articles; kills took {:.1}s",
        reconciled.len(),
        feed.len(),
        killed.as_secs_f32()
    );
}

/// Guards a double post found by the WeChat kill test: the client knows a
/// submission the platform has not decided yet only in memory, and after a
/// kill -9 a new process's `lookup` cannot see it (`freepublish/batchget`
/// lists finished articles only). The outbox now waits the platform's
/// `listing_delay` (30 minutes for WeChat) before it sends such an item
/// again, and looks it up every few seconds meanwhile: it is found once the
/// platform publishes it.
#[test]
fn kill_9_while_wechat_decides_a_submission_does_not_submit_it_again() {
    use autosync::publish::wechat::mock as wechat_mock;
    let w = World::new(Duration::ZERO);
    let log = w.dir.path().join("daemon.log");
    let data = w.dir.path().join("wechat");
    // Longer than the platform takes to decide (8 s): the restarted daemon
    // must wait for it, and find it.
    let wechat = w.wechat_city_account(&data, Duration::ZERO, Duration::from_secs(30));
    // The first submission stays `publish_status` 1 for 8 s.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("fail_next"), "submit publishing:8000\n").unwrap();
    let config = |listen: SocketAddr| {
        let cfg = w.config(&daemon_lines(listen), "");
        w.replace_city_publisher(&cfg, &wechat);
        cfg
    };
    let published = || wechat_mock::load_published(&data).len();
    // Killed once the submission is on the account, while the client polls
    // its status; restarted after the grace (1 s).
    let cfg = config(free_addr());
    let limit = Duration::from_secs(20);
    kill_9_rounds(&cfg, &log, 1, |_| Kill::AtNextPost(limit), published, || 0);
    std::thread::sleep(Duration::from_secs(2));
    let listen = free_addr();
    let cfg = config(listen);
    let feed = autosync::demo::FEED_ARTICLES.len();
    let (child, done) = run_until_posted(&cfg, &log, listen, feed, published);
    // Time for a second submission of the first article, if one comes.
    std::thread::sleep(Duration::from_secs(3));
    let log_text = stop(child, &log);
    assert!(done, "{log_text}");
    let publications = wechat_mock::load_published(&data);
    let sources = source_urls(publications.iter().flat_map(|p| &p.articles));
    let twice = more_than_once(sources.iter().copied());
    assert!(
        twice.is_empty(),
        "submitted more than once: {twice:?}\n{sources:#?}\n{log_text}"
    );
}

#[test]
fn sighup_applies_a_good_config_and_refuses_a_bad_one() {
    let w = World::new(Duration::ZERO);
    let log = w.dir.path().join("daemon.log");
    let listen = free_addr();
    // Start with the province only.
    let full = autosync::demo::demo_config(
        &w.dir.path().join("state"),
        w.site_addr,
        w.account_addr,
        w.city_account_addr,
    );
    let province_only = full
        .split("\n[[unit]]\nid = \"demo-city\"")
        .next()
        .unwrap()
        .to_string();
    let path = w.dir.path().join("autosync.toml");
    let with_daemon = |t: &str| {
        t.replace(
            "[daemon]\n",
            &format!("[daemon]\nlisten = \"{listen}\"\nshutdown_timeout_secs = 5\n"),
        )
    };
    std::fs::write(&path, with_daemon(&province_only)).unwrap();
    let mut child = start_daemon(&path, &log);
    let list = autosync::demo::LIST_ARTICLES.len();
    assert!(wait_for(Duration::from_secs(30), || w.posts().len() >= list));

    // A bad config is refused; the daemon keeps running.
    std::fs::write(
        &path,
        with_daemon(&province_only).replace("level = \"provincial\"", "level = \"planet\""),
    )
    .unwrap();
    signal(&child, "-HUP");
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("reload refused")
    }));
    assert!(
        child.try_wait().unwrap().is_none(),
        "daemon died on a bad config"
    );

    // A good config with a new unit: the new unit's articles come.
    std::fs::write(&path, with_daemon(&full)).unwrap();
    signal(&child, "-HUP");
    let all = list + autosync::demo::FEED_ARTICLES.len();
    let ok = wait_for(Duration::from_secs(30), || w.posts().len() >= all);
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(20));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(ok, "new unit not picked up on SIGHUP\n{log_text}");
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{log_text}");
    assert_eq!(w.posts().len(), all);
}

/// The daemon logs a retention that does not fit its units at start, as
/// `check` prints it (README "Sizing the store for the whole matrix"):
/// ops who never run `check` still see it.
#[test]
fn the_daemon_logs_a_retention_that_does_not_fit_its_units_at_start() {
    use std::fmt::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let (log, listen) = (dir.path().join("daemon.log"), free_addr());
    let mut text = format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"{listen}\"\nrun_at_start = false\nshutdown_timeout_secs = 5\n"
    );
    // 3,000 units keeping every body: ~10.8 GB after six months.
    for k in 0..3_000 {
        write!(
            text,
            "\n[[unit]]\nid = \"u{k}\"\naccount_name = \"单位{k}\"\norg_name = \"第{k}单位科协\"\nlevel = \"county\"\nsite = \"http://127.0.0.1:9/\"\nschedule = \"0 3 1 1 *\"\n  [[unit.source]]\n  feed = \"http://127.0.0.1:9/{k}.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n"
        )
        .unwrap();
    }
    let path = dir.path().join("autosync.toml");
    std::fs::write(&path, text).unwrap();
    let mut child = start_daemon(&path, &log);
    let logged = wait_for(Duration::from_secs(60), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("keep_bodies_days = 0 keeps every article body for ever")
    });
    signal(&child, "-TERM");
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged, "no sizing warning in the log:\n{log_text}");
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}\n{log_text}");
}
