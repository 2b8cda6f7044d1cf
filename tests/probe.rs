//! `autosync probe`, the real binary against a local site: a bare site URL
//! (discovery's suggestions, then the chosen sources), a unit's sources, a
//! list that yields nothing (an error with a hint), `--json`, times in the
//! config's zone, and no store touched.

mod site;

use assert_cmd::Command;
use site::{Article, Site, articles};
use std::path::{Path, PathBuf};

fn probe(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("autosync")
        .unwrap()
        .arg("probe")
        .args(args)
        .env("AUTOSYNC_LOG", "warn")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The GBK CMS home page, its 新闻动态 and 通知公告 columns, and 新闻中心
/// listing the same news as 新闻动态.
fn cms_site() -> Site {
    let site = Site::start();
    site.put_fixture("/", "gbk_cms_home.html");
    let news = articles("/xwzx/xwdt/", "省科协", 6);
    site.put_list("/xwzx/xwdt/", "新闻动态", &news);
    site.put_list("/xwzx/", "新闻中心", &news);
    site.put_list("/tzgg/", "通知公告", &articles("/tzgg/", "通知", 3));
    site
}

fn config(dir: &Path, site: &Site, timezone: &str, sources: &str) -> PathBuf {
    let tz = format!("timezone = \"{timezone}\"");
    site::config(dir, site, "sx-kx", &tz, sources)
}

#[test]
fn a_bare_site_gets_suggestions_with_reasons_and_the_chosen_sources_probed() {
    let site = cms_site();
    let (code, out, err) = probe(&[&site.url("/")]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("== 站点发现"), "{out}");
    assert!(out.contains("栏目链接“新闻动态”"), "{out}");
    assert!(out.contains("与 http://"), "新闻中心 lists the same: {out}");
    // Both columns probed: the block chosen and why, entries, the newest article.
    assert!(out.contains("== 来源 1：列表页"), "{out}");
    assert!(out.contains("== 来源 2：列表页"), "{out}");
    assert!(
        out.contains("选中的列表区块：div.main > ul.list：6 项，6 项带日期"),
        "{out}"
    );
    assert!(out.contains("紧邻翻页"), "{out}");
    assert!(out.contains("2026-11-20  省科协第6期工作简报发布"), "{out}");
    assert!(out.contains("标题：省科协第6期工作简报发布"), "{out}");
    assert!(out.contains("时间：2026-11-20 09:30"), "{out}");
    assert!(out.contains("来源：示例科协　作者：宣传部"), "{out}");
    assert!(out.contains("本次活动由示例科协主办"), "first lines: {out}");
    assert!(out.contains("图片：1 张"), "{out}");
    assert!(out.contains("结果：正常"), "{out}");
}

#[test]
fn json_output_carries_the_discovery_and_each_source() {
    let site = cms_site();
    let (code, out, err) = probe(&[&site.url("/"), "--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cands = v["discovery"]["candidates"].as_array().unwrap();
    let verdicts: Vec<&str> = cands
        .iter()
        .map(|c| c["verdict"]["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["chosen", "chosen", "same_as"], "{out}");
    assert_eq!(v["sources"][0]["total"], 6);
    assert_eq!(v["sources"][0]["list"]["how"], "detected");
    assert_eq!(
        v["sources"][0]["newest"]["title"],
        "省科协第6期工作简报发布"
    );
    assert_eq!(v["timezone"], "Asia/Shanghai");
}

#[test]
fn a_list_with_no_entries_is_an_error_with_a_hint_and_no_store_is_touched() {
    let site = Site::start();
    site.put_fixture("/", "gbk_cms_home.html");
    // A maintenance page that announces the site's feed.
    site.put(
        "/xwzx/xwdt/",
        "text/html; charset=utf-8",
        r#"<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head><body><p>网站维护中</p></body></html>"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        "  [[unit.source]]\n  list = \"{}\"",
        site.url("/xwzx/xwdt/")
    );
    let cfg = config(dir.path(), &site, "Asia/Shanghai", &list);
    let (code, out, err) = probe(&["-c", cfg.to_str().unwrap(), "--unit", "sx-kx"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("条目：0 条"), "{out}");
    assert!(out.contains("页面上没有像文章列表的区块"), "{out}");
    assert!(
        out.contains(&format!("可改用 feed = \"{}\"", site.url("/rss.xml"))),
        "{out}"
    );
    assert!(
        !dir.path().join("state").exists(),
        "the probe opened the store"
    );
    assert_eq!(site.hits("/"), 0, "configured sources: no discovery");
}

#[test]
fn a_selector_that_matches_nothing_says_so() {
    let site = cms_site();
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        "  [[unit.source]]\n  list = \"{}\"\n  link_selector = \"ul.news a\"",
        site.url("/xwzx/xwdt/")
    );
    let cfg = config(dir.path(), &site, "Asia/Shanghai", &list);
    let (code, out, _) = probe(&["-c", cfg.to_str().unwrap(), "--unit", "sx-kx"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("按 link_selector \"ul.news a\" 选取"), "{out}");
    assert!(
        out.contains("link_selector \"ul.news a\" 没有选中任何文章链接"),
        "{out}"
    );
}

#[test]
fn a_unit_bound_by_its_site_shows_what_the_daemon_would_choose_in_the_configs_zone() {
    let site = Site::start();
    site.put_fixture("/", "feeds_home.html");
    let news = vec![Article {
        path: "/kpzx/2026-11/21/content_2002.htm".into(),
        title: "市科协开展“科普进社区”活动".into(),
        date: "2026-11-21".into(),
    }];
    site.put_rss("/rss.xml", &news);
    site.put_atom("/atom.xml", &news);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &site, "UTC", "");
    let (code, out, err) = probe(&["-c", cfg.to_str().unwrap(), "--unit", "sx-kx"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("首页声明的订阅源"), "{out}");
    assert!(
        out.contains("不采用：不在本单位网站上"),
        "the off-site feed: {out}"
    );
    assert!(out.contains("未检验：已找到订阅源"), "{out}");
    assert!(out.contains("== 来源 1：订阅源"), "{out}");
    // 09:30 in Beijing is 01:30 UTC: times in [daemon] timezone.
    assert!(out.contains("2026-11-21 01:30  市科协开展"), "{out}");
    assert!(out.contains("时间为 UTC"), "{out}");
    assert!(!dir.path().join("state").exists());
}

#[test]
fn a_feed_url_is_probed_as_a_feed() {
    let site = Site::start();
    site.put_rss("/rss.xml", &articles("/kpzx/", "市科协", 3));
    let (code, out, err) = probe(&[&site.url("/rss.xml")]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("== 来源 1：订阅源"), "{out}");
    assert!(out.contains("条目：3 条"), "{out}");
    assert!(!out.contains("站点发现"), "{out}");
}

#[test]
fn a_site_with_no_news_sections_fails_and_says_what_to_configure() {
    let site = Site::start();
    site.put(
        "/",
        "text/html; charset=utf-8",
        r#"<html><body><a href="/about/">关于我们</a><a href="/contact/">联系我们</a></body></html>"#,
    );
    let (code, out, _) = probe(&[&site.url("/")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("首页上既没有声明订阅源"), "{out}");
    assert!(out.contains("没有找到可用的来源"), "{out}");
}

#[test]
fn probe_needs_a_url_or_a_unit() {
    let (code, _, err) = probe(&[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = probe(&["--unit", "x"]);
    assert_eq!(code, 2, "{err}");
}

/// `autosync import --probe`: each form row's site goes through the same
/// discovery as the probe and the daemon; what it chose becomes the unit's
/// sources, a site that cannot be read a comment (never a guessed source),
/// and the output passes `check`.
#[test]
fn import_probe_writes_the_sources_discovery_chose_and_a_comment_for_a_dead_site() {
    let site = cms_site();
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("form.csv");
    // A port nothing listens on: refused at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let id = |first17: &str| {
        const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = first17
            .chars()
            .zip(W)
            .map(|(c, w)| c.to_digit(10).unwrap() * w)
            .sum();
        format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
    };
    std::fs::write(
        &form,
        format!(
            "头条号名称,机构名称,登录邮箱,运营人姓名,运营人身份证,联系电话,官方网站\n\
             示例科协,示例科学技术协会,kx@example.org,张三,{},13800000001,{}\n\
             停站科协,停站科学技术协会,tz@example.org,李四,{},13800000002,http://{dead}/\n",
            id("61010219900101001"),
            site.url("/"),
            id("61010219900101002"),
        ),
    )
    .unwrap();
    let units = dir.path().join("units.toml");
    let out = Command::cargo_bin("autosync")
        .unwrap()
        .arg("import")
        .arg(&form)
        .args(["--level", "city", "--probe", "-o"])
        .arg(&units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(&units).unwrap();
    assert!(
        text.contains(&format!("list = \"{}\"", site.url("/xwzx/xwdt/"))),
        "discovery's choice not written:\n{text}\n{err}"
    );
    assert!(
        text.contains(&format!("list = \"{}\"", site.url("/tzgg/"))),
        "{text}"
    );
    // 新闻中心 lists the same articles as 新闻动态: not a second source.
    assert!(
        !text.contains(&format!("\"{}\"", site.url("/xwzx/"))),
        "{text}"
    );
    let dead_unit = text
        .split("[[unit]]")
        .find(|u| u.contains(&dead.to_string()))
        .unwrap();
    assert!(
        !dead_unit.contains("[[unit.source]]"),
        "a guess for a dead site:\n{dead_unit}"
    );
    assert!(
        dead_unit.contains('#'),
        "no comment on the dead site:\n{dead_unit}"
    );
    // With a [daemon] table and the cookie files it names, check accepts it.
    let cfg = dir.path().join("autosync.toml");
    std::fs::write(&cfg, format!("[daemon]\nstate_dir = \"state\"\n\n{text}")).unwrap();
    Command::cargo_bin("autosync")
        .unwrap()
        .args(["check", "--credentials-warn", "-c"])
        .arg(&cfg)
        .assert()
        .success();
}
