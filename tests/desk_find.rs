//! Finding items on the desk, against the real router on a loopback port:
//! the list's search, filters, paging and counts per state, the audit page
//! and its CSV, and that no desk page speaks English.

mod common;

use autosync::store::State;
use chrono::{TimeZone, Utc};
use common::desk_world::*;
use common::english::{assert_no_english, english_runs};
use reqwest::header;
use std::time::Instant;

/// A browser of the desk: logs in through the login form (whatever hidden
/// fields it carries) and sends the cookies it was given.
struct Editor {
    client: reqwest::Client,
    base: String,
    cookies: String,
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect()
}

impl Editor {
    async fn login(base: &str, token: &str) -> Editor {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = client
            .get(format!("{base}/desk/login"))
            .send()
            .await
            .unwrap();
        let mut cookies = set_cookies(&r);
        let form = r.text().await.unwrap();
        let hidden = regex::Regex::new(r#"<input[^>]*type="hidden"[^>]*>"#).unwrap();
        let attr = |tag: &str, a: &str| {
            regex::Regex::new(&format!(r#"{a}="([^"]*)""#))
                .unwrap()
                .captures(tag)
                .map(|c| c[1].to_string())
        };
        let mut fields: Vec<(String, String)> = hidden
            .find_iter(&form)
            .filter_map(|m| Some((attr(m.as_str(), "name")?, attr(m.as_str(), "value")?)))
            .collect();
        fields.push(("token".into(), token.into()));
        let r = client
            .post(format!("{base}/desk/login"))
            .header(header::COOKIE, cookies.join("; "))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "login: {}", r.status());
        cookies.extend(set_cookies(&r));
        Editor {
            client,
            base: base.to_string(),
            cookies: cookies.join("; "),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, &self.cookies)
            .send()
            .await
            .unwrap()
    }

    /// The page at `path`, which must be a 200 with no English sentence.
    async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let text = r.text().await.unwrap();
        assert_no_english(path, &text, &[]);
        text
    }

    /// Where `path` redirects to, decoded.
    async fn redirect(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        let to = r.headers()[header::LOCATION].to_str().unwrap().to_string();
        url::form_urlencoded::parse(to.as_bytes())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Rows of the list's table (links to item pages).
fn rows(page: &str) -> usize {
    page.matches(r#"<a href="/desk/item/"#).count()
}

#[tokio::test]
async fn the_list_searches_filters_pages_and_counts_per_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), &config_text(""));
    let store = &s.ctx.store;
    let tz = chrono_tz::Asia::Shanghai;
    let day = |d: u32, h: u32| tz.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap().to_utc();
    // 120 held items of the county over March 1–12, ten a day.
    for n in 0..120 {
        let found = day(1 + (n / 10) as u32, 8) + chrono::Duration::minutes(n as i64);
        put(
            store,
            "county",
            n,
            &format!("县里的稿件{n}"),
            "feed:x",
            held(),
            found,
        )
        .await;
    }
    let special = put(
        store,
        "city",
        1,
        "Autosync 科普日活动",
        "feed:x",
        State::Queued,
        day(2, 23),
    )
    .await;
    put(
        store,
        "city",
        2,
        "市里推送的文章",
        "push",
        held(),
        day(3, 9),
    )
    .await;
    put(
        store,
        "prov",
        3,
        "省里联动的文章",
        "broadcast:abc",
        State::Rejected {
            reason: "重复".into(),
        },
        day(4, 9),
    )
    .await;
    put(
        store,
        "other",
        4,
        "另一省的文章",
        "feed:y",
        held(),
        day(5, 9),
    )
    .await;
    store.flush().await.unwrap();
    let base = serve(s.clone()).await;
    let ed = Editor::login(&base, ALL).await;

    // Everything in reach, newest first, fifty a page; the counts say what
    // waits.
    let p1 = ed.page("/desk").await;
    assert_eq!(rows(&p1), 50, "{p1}");
    assert!(p1.contains("第 1 页（共 3 页），共 124 条"), "{p1}");
    assert!(
        p1.contains("待审核 122") && p1.contains("待发布 1") && p1.contains("已驳回 1"),
        "{p1}"
    );
    assert!(
        p1.contains(r#"href="/desk?state=held""#),
        "the count links to its state: {p1}"
    );
    assert!(
        p1.contains(r#"href="/desk?page=2""#) && p1.contains("下一页") && !p1.contains("上一页")
    );
    assert!(
        p1.contains(r#"href="/desk/push""#),
        "the push page is linked"
    );
    assert!(
        p1.contains("示例县科协") && !p1.contains(">county<"),
        "units by name: {p1}"
    );
    assert!(p1.contains("发现时间（Asia/Shanghai）"), "{p1}");
    let p3 = ed.page("/desk?page=3").await;
    assert_eq!(rows(&p3), 24);
    assert!(p3.contains("上一页") && !p3.contains("下一页"));
    // Pages do not overlap: the oldest county item is on the last page only.
    assert!(p3.contains("县里的稿件0<") && !p1.contains("县里的稿件0<"));

    // Search: title words regardless of case, part of a URL, a pasted URL
    // with a fragment (the store keeps it canonical), an id prefix.
    for q in [
        "autosync",
        "科普日",
        "city.example.org/news/1.html",
        "https://CITY.example.org/news/1.html#top",
        &special.id[..10],
    ] {
        let path = format!("/desk?q={}", urlencoding(q));
        let page = ed.page(&path).await;
        assert_eq!(rows(&page), 1, "{q}: {page}");
        assert!(page.contains("Autosync 科普日活动"), "{q}");
        assert!(
            page.contains("待发布 1") && page.contains("待审核 0"),
            "counts follow the search: {q}"
        );
    }
    assert_eq!(
        rows(&ed.page("/desk?q=%E7%A8%BF%E4%BB%B611").await),
        11,
        "稿件11, 稿件110–119"
    );

    // Unit, with and without what lies below it.
    let city = ed.page("/desk?unit=city").await;
    assert_eq!(rows(&city), 2, "{city}");
    let below = ed.page("/desk?unit=city&subtree=1").await;
    assert!(below.contains("共 122 条"), "{below}");
    assert!(
        below.contains(r#"name="subtree" value="1" checked"#),
        "{below}"
    );
    let prov = ed.page("/desk?unit=prov&subtree=1&state=held").await;
    assert!(
        prov.contains("共 121 条") && !prov.contains("另一省的文章"),
        "{prov}"
    );

    // State and origin.
    let rejected = ed.page("/desk?state=rejected").await;
    assert_eq!(rows(&rejected), 1);
    assert!(rejected.contains("省里联动的文章") && rejected.contains("矩阵联动"));
    let pushed = ed.page("/desk?origin=push").await;
    assert_eq!(rows(&pushed), 1);
    assert!(pushed.contains("市里推送的文章") && pushed.contains("手动推送"));
    let copies = ed.page("/desk?origin=broadcast").await;
    assert!(copies.contains("省里联动的文章") && rows(&copies) == 1);
    let site = ed.page("/desk?origin=site").await;
    assert!(site.contains("共 122 条"), "{site}");

    // Days found, in the daemon's zone: 23:00 on the 2nd in Shanghai is
    // the 2nd, though it is still the 2nd 15:00 in UTC.
    let second = ed.page("/desk?from=2026-03-02&to=2026-03-02").await;
    assert!(
        second.contains("共 11 条") && second.contains("Autosync 科普日活动"),
        "{second}"
    );
    let later = ed.page("/desk?from=2026-03-12").await;
    assert!(later.contains("共 10 条"), "{later}");

    // Bad input is refused in Chinese, naming what is wrong.
    let to = ed.redirect("/desk?from=2026-13-01").await;
    assert!(to.contains("err=日期「2026-13-01」无法识别"), "{to}");
    let to = ed.redirect("/desk?from=2026-03-05&to=2026-03-01").await;
    assert!(to.contains("晚于"), "{to}");
    let to = ed.redirect("/desk?state=done").await;
    assert!(to.contains("没有「done」这种状态"), "{to}");
    let shown = ed.page("/desk?err=%E6%97%A5%E6%9C%9F").await;
    assert!(
        shown.contains(r#"<div class="msg err">日期</div>"#),
        "{shown}"
    );

    // An editor of the city: the units offered are those in reach; another
    // province is neither offered nor shown, nor counted.
    let ced = Editor::login(&base, CITY).await;
    let mine = ced.page("/desk").await;
    assert!(
        mine.contains(r#"<option value="city">示例市科协</option>"#),
        "{mine}"
    );
    assert!(
        !mine.contains("另一省科协") && !mine.contains("另一省的文章"),
        "{mine}"
    );
    assert!(ced.redirect("/desk?unit=other").await.contains("err="));
    s.ctx.shutdown.cancel();
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_audit_page_and_csv_speak_chinese_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), &config_text(""));
    let store = &s.ctx.store;
    let now = Utc::now();
    let a = put(store, "city", 1, "市里的<稿件>", "feed:x", held(), now).await;
    let b = put(store, "prov", 2, "省里的稿件", "feed:x", held(), now).await;
    store.flush().await.unwrap();
    let config = s.config();
    let boss = config
        .editors
        .iter()
        .find(|e| e.name == "总台编辑")
        .unwrap();
    let desk = s.desk();
    desk.approve(boss, &a.id).await.unwrap();
    desk.reject(boss, &b.id, "=与上周重复").await.unwrap();
    let base = serve(s.clone()).await;
    let ed = Editor::login(&base, ALL).await;

    let log = ed.page("/desk/audit").await;
    assert!(log.contains("通过") && log.contains("驳回"), "{log}");
    assert!(
        log.contains("示例市科协") && log.contains("示例省科协"),
        "units by name: {log}"
    );
    assert!(
        log.contains(&format!(
            r#"<a href="/desk/item/{}">市里的&lt;稿件&gt;</a>"#,
            a.id
        )),
        "the item by its title, escaped, linked: {log}"
    );
    assert!(log.contains("时间（Asia/Shanghai）"), "{log}");
    assert!(log.contains("第 1 页（共 1 页），共 2 条"), "{log}");
    let only = ed.page("/desk/audit?action=reject").await;
    assert!(only.contains("共 1 条") && only.contains("省里的稿件") && !only.contains("市里的"));
    let by_unit = ed.page("/desk/audit?unit=city").await;
    assert!(by_unit.contains("共 1 条") && by_unit.contains("市里的"));
    let nobody = ed.page("/desk/audit?editor=%E5%88%AB%E4%BA%BA").await;
    assert!(nobody.contains("没有符合条件的记录"));
    assert!(
        ed.redirect("/desk/audit?action=delete")
            .await
            .contains("没有「delete」这种操作")
    );

    // The export: a BOM for Excel, Chinese headers, the zone's offset, the
    // formula guard, and the page's filters.
    let r = ed.get("/desk/audit.csv?action=reject").await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    // (Read as bytes: a client's text decoding would drop the BOM.)
    assert!(bytes.starts_with(b"\xef\xbb\xbf"), "no BOM");
    let csv = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        csv.starts_with("\u{feff}时间,编辑,操作,单位,稿件,操作前,操作后,说明\r\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.contains("+08:00") && csv.contains("\"驳回\"") && csv.contains("\"示例省科协\""),
        "{csv}"
    );
    assert!(csv.contains("\"'=与上周重复\""), "{csv}");
    s.ctx.shutdown.cancel();
}

/// Every desk page, with filters, is read for English sentences; the
/// check itself must catch one.
#[tokio::test]
async fn no_desk_page_speaks_english() {
    let caught = english_runs("<p>稿件 item 1 is published, not held</p>", &[]);
    assert_eq!(caught, vec!["is published, not held"]);
    assert!(english_runs("<p>导出 CSV，更新 Cookie；autosync 编辑台</p>", &[]).is_empty());
    assert!(
        english_runs(
            "<p>账号 Science Daily News</p>",
            &["Science", "Daily", "News"]
        )
        .is_empty()
    );
    assert_eq!(english_runs("<p>no valid token</p>", &[]).len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), &config_text(""));
    let i = put(
        &s.ctx.store,
        "city",
        1,
        "市里的稿件",
        "feed:x",
        held(),
        Utc::now(),
    )
    .await;
    s.ctx.store.flush().await.unwrap();
    let base = serve(s.clone()).await;
    // The login page, before anyone logs in.
    let login = reqwest::get(format!("{base}/desk/login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_no_english("/desk/login", &login, &[]);
    let ed = Editor::login(&base, ALL).await;
    for path in [
        "/desk".to_string(),
        "/desk?q=%E7%A8%BF&unit=prov&subtree=1&state=held&origin=site&from=2026-01-01&to=2030-01-01".into(),
        "/desk?state=seen".into(),
        "/desk/audit".into(),
        "/desk/accounts".into(),
        "/desk/report".into(),
        format!("/desk/item/{}", i.id),
    ] {
        ed.page(&path).await;
    }
    s.ctx.shutdown.cancel();
}

/// The list at ~50,000 items: a plain page and the counts come from the
/// index keys; a search reads only the records of the units asked for.
/// Prints the times (the figures in the report); bounds are generous for a
/// debug build on a loaded machine, and catch reading every record for a
/// plain page.
#[tokio::test]
async fn the_list_stays_fast_at_fifty_thousand_items() {
    const UNITS: usize = 100;
    const PER_UNIT: usize = 500;
    let mut extra = String::new();
    for u in 0..UNITS {
        extra.push_str(&format!(
            "[[unit]]\nid = \"c{u}\"\naccount_name = \"县{u}号\"\norg_name = \"第{u}县科协\"\nlevel = \"county\"\nparent = \"prov\"\nsite = \"http://127.0.0.1:9/c{u}/\"\n  [[unit.source]]\n  feed = \"http://127.0.0.1:9/c{u}/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), &config_text(&extra));
    let store = &s.ctx.store;
    let t0 = Instant::now();
    let base_time = Utc::now() - chrono::Duration::days(60);
    for u in 0..UNITS {
        for n in 0..PER_UNIT {
            let state = if n % 10 == 0 {
                held()
            } else {
                State::Rejected {
                    reason: "旧稿".into(),
                }
            };
            let found = base_time + chrono::Duration::minutes((u * PER_UNIT + n) as i64);
            put(
                store,
                &format!("c{u}"),
                n,
                &format!("第{u}县稿件{n}"),
                "feed:x",
                state,
                found,
            )
            .await;
        }
    }
    store.flush().await.unwrap();
    eprintln!("inserted {} items in {:?}", UNITS * PER_UNIT, t0.elapsed());
    let base = serve(s.clone()).await;
    let ed = Editor::login(&base, ALL).await;
    let timed = |path: &'static str| {
        let ed = &ed;
        async move {
            let t = Instant::now();
            let page = ed.page(path).await;
            (t.elapsed(), page)
        }
    };
    let (plain, page) = timed("/desk").await;
    assert!(
        page.contains("共 50000 条") && page.contains("待审核 5000"),
        "{page}"
    );
    let (deep, page) = timed("/desk?state=held&page=40").await;
    assert_eq!(rows(&page), 50);
    let (one_unit, page) = timed("/desk?unit=c7&q=%E7%A8%BF%E4%BB%B649").await;
    assert!(page.contains("共 11 条"), "稿件49, 稿件490–499: {page}");
    let (search_all, page) = timed("/desk?q=%E7%AC%AC42%E5%8E%BF%E7%A8%BF%E4%BB%B6499").await;
    assert!(page.contains("共 1 条"), "{page}");
    eprintln!(
        "50,000 items: /desk {plain:?}; held page 40 {deep:?}; search in one unit {one_unit:?}; search over all {search_all:?}"
    );
    assert!(plain.as_secs_f64() < 5.0, "{plain:?}");
    assert!(deep.as_secs_f64() < 5.0, "{deep:?}");
    assert!(one_unit.as_secs_f64() < 5.0, "{one_unit:?}");
    s.ctx.shutdown.cancel();
}
