//! The toutiao client against the real mock account on a local socket, with
//! a local "unit site" serving the article's images (one hot-link protected,
//! one missing). Guards the publish contract end to end: images uploaded and
//! rewritten, titles shortened, every failure mapped to the right Outcome,
//! and no post ever sent twice.

mod common;

use autosync::publish::toutiao::{Toutiao, platform_title};
use autosync::publish::toutiao_mock::{self, Fault, MockOptions, load_articles};
use autosync::publish::{Outcome, Post, PublishError, Publisher};
use autosync::secret::Secret;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use common::HttpImages;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

const SESSION: &str = "SeSsIoN0123456789abcdef";
const CSRF: &str = "CsRf9876543210";

fn cookie() -> String {
    format!("passport_csrf_token=zzz; sessionid={SESSION}; csrftoken={CSRF}; tt_webid=1")
}

/// A 2×1 PNG and a 1×1 GIF: real headers, so the mock's format check passes.
fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&2u32.to_be_bytes());
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(b"\x08\x02\0\0\0rest-of-png");
    b
}

fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00rest-of-gif".to_vec()
}

type Mock = common::Double;

async fn start_mock(opts: MockOptions) -> Mock {
    start_mock_in(tempfile::tempdir().unwrap(), opts).await
}

async fn start_mock_in(data: tempfile::TempDir, opts: MockOptions) -> Mock {
    common::Double::start(data, |listener, data_dir, stop| {
        toutiao_mock::serve(listener, MockOptions { data_dir, ..opts }, stop)
    })
    .await
}

/// The unit's website: `/img/protected.png` only with the article as
/// Referer, `/img/plain.gif` always, `/img/missing.jpg` never.
async fn start_site() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let article = base.join("news/2026/1.html").unwrap().to_string();
    let app = Router::new()
        .route(
            "/img/protected.png",
            common::referer_only(article, "image/png", png()),
        )
        .route(
            "/img/plain.gif",
            get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], gif()) }),
        )
        .route("/img/missing.jpg", get(|| async { StatusCode::NOT_FOUND }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn client_with(mock: &Mock, http: reqwest::Client) -> Toutiao {
    Toutiao::new(
        mock.base.clone(),
        Secret::new(cookie()),
        "示例省科协".into(),
        http,
        Arc::new(HttpImages(reqwest::Client::new())),
    )
    .unwrap()
}

fn client(mock: &Mock) -> Toutiao {
    client_with(
        mock,
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    )
}

fn post(site: &Url, title: &str) -> Post {
    let source_url = site.join("news/2026/1.html").unwrap();
    let protected = site.join("img/protected.png").unwrap();
    let missing = site.join("img/missing.jpg").unwrap();
    Post {
        item_id: "unit-a/1".into(),
        title: title.into(),
        // plain.gif is referenced relatively and is not in `images`: it must
        // be handled all the same.
        html: format!(
            "<p>第一段。</p><p><img src=\"{protected}\" alt=\"合影\"></p>\
             <p><IMG class=x src='../../img/plain.gif'></p><p><img src=\"{missing}\"></p><p>完。</p>"
        ),
        text: "第一段。\n完。".into(),
        source_url,
        images: vec![protected, missing],
        published_at: None,
        author: None,
        source: Some("示例市科协".into()),
    }
}

/// No outcome text may ever carry the cookie.
fn assert_no_secret(text: &str) {
    assert!(
        !text.contains(SESSION) && !text.contains(CSRF),
        "secret leaked: {text}"
    );
}

/// The `(src, web_uri)` of every img in stored content, parsed like a browser.
fn imgs(content: &str) -> Vec<(String, Option<String>)> {
    let doc = scraper::Html::parse_fragment(content);
    let sel = scraper::Selector::parse("img").unwrap();
    doc.select(&sel)
        .map(|i| {
            (
                i.value().attr("src").unwrap_or("").to_string(),
                i.value().attr("web_uri").map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test]
async fn publish_uploads_fetchable_images_and_drops_the_broken_one_with_a_note() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let t = client(&mock);
    let out = t.publish(&post(&site, "省科协举办科普讲座")).await;
    assert_no_secret(&format!("{out:?}"));
    let Outcome::Published { remote, notes } = out else {
        panic!("not published: {out:?}")
    };
    // The note is for editors: in Chinese, naming the image.
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("已删去图片 ") && n.contains("missing.jpg")),
        "{notes:?}"
    );
    assert_eq!(notes.len(), 1, "only the broken image is noted: {notes:?}");

    let stored = load_articles(mock.dir());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].pgc_id, remote.id);
    assert_eq!(stored[0].title, "省科协举办科普讲座");
    let found = imgs(&stored[0].content);
    assert_eq!(found.len(), 2, "{}", stored[0].content);
    for (src, uri) in &found {
        assert!(
            src.starts_with(&mock.base.join("img/").unwrap().to_string()),
            "{src}"
        );
        let uri = uri.as_deref().expect("web_uri attribute");
        assert!(src.ends_with(uri), "{src} vs {uri}");
    }
    assert!(
        !stored[0].content.contains(site.as_str()),
        "a site image survived: {}",
        stored[0].content
    );
    assert!(stored[0].content.contains("alt=\"合影\""));
    let extra: serde_json::Value = serde_json::from_str(&stored[0].extra).unwrap();
    assert_eq!(extra["source_url"], post(&site, "x").source_url.as_str());
    assert_eq!(extra["content_word_cnt"], 6);
    // The uploaded images were kept by the mock.
    assert_eq!(
        std::fs::read_dir(mock.dir().join("images"))
            .unwrap()
            .count(),
        4
    );
    // The article URL came back from the list.
    assert!(remote.url.unwrap().contains(&remote.id));
    mock.stop().await;
}

#[tokio::test]
async fn a_long_title_is_shortened_the_full_title_opens_the_body_and_lookup_finds_it() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let t = client(&mock);
    let title = "关于举办2026年全省青少年科普讲解大赛的通知——决赛名单公示及后续工作安排说明";
    assert_eq!(title.chars().count(), 40);
    let p = post(&site, title);
    assert_eq!(t.lookup(&p).await.unwrap(), None, "nothing there yet");

    let Outcome::Published { remote, notes } = t.publish(&p).await else {
        panic!("not published")
    };
    assert!(notes.iter().any(|n| n.contains("标题已缩短")), "{notes:?}");
    let stored = load_articles(mock.dir());
    let sent = &stored[0].title;
    assert!(sent.ends_with('…') && sent.chars().count() <= 30, "{sent}");
    assert_eq!(sent, &platform_title(title).0);
    assert!(
        stored[0].content.starts_with(&format!("<p>{title}</p>")),
        "{}",
        stored[0].content
    );

    let found = t
        .lookup(&p)
        .await
        .unwrap()
        .expect("lookup finds the article");
    assert_eq!(found.id, remote.id);
    assert!(found.url.is_some());
    let other = post(&site, "另一篇从未发过的文章");
    assert_eq!(t.lookup(&other).await.unwrap(), None);
    mock.stop().await;
}

#[tokio::test]
async fn verify_reports_the_account_and_an_expired_login_pauses_everything() {
    let mock = start_mock(MockOptions {
        display_name: "某市科协".into(),
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let t = client(&mock);
    let info = t.verify().await.unwrap();
    assert_eq!(info.display_name, "某市科协");
    assert!(!info.id.is_empty());

    std::fs::write(mock.dir().join("expired"), b"").unwrap();
    let out = t.publish(&post(&site, "登录过期后发文")).await;
    assert!(matches!(out, Outcome::LoginExpired { .. }), "{out:?}");
    assert_no_secret(&format!("{out:?}"));
    assert!(matches!(
        t.verify().await,
        Err(PublishError::LoginExpired(_))
    ));
    assert!(matches!(
        t.lookup(&post(&site, "x")).await,
        Err(PublishError::LoginExpired(_))
    ));
    // Also with a client that does not follow the 302 to the login page.
    let no_redirects = client_with(
        &mock,
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    );
    let e = no_redirects.verify().await.unwrap_err();
    assert!(matches!(e, PublishError::LoginExpired(_)), "{e}");
    assert_no_secret(&e.to_string());
    assert!(load_articles(mock.dir()).is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn a_cookie_of_another_session_is_a_login_problem() {
    let mock = start_mock(MockOptions {
        cookie: Some("sessionid=someone-else; csrftoken=abc".into()),
        ..MockOptions::default()
    })
    .await;
    let e = client(&mock).verify().await.unwrap_err();
    assert!(matches!(e, PublishError::LoginExpired(_)), "{e}");
    mock.stop().await;
}

#[tokio::test]
async fn a_cookie_without_csrftoken_is_refused_by_the_constructor() {
    let e = Toutiao::new(
        Url::parse("http://127.0.0.1:9/").unwrap(),
        Secret::new(format!("sessionid={SESSION}")),
        "x".into(),
        reqwest::Client::new(),
        Arc::new(HttpImages(reqwest::Client::new())),
    )
    .unwrap_err();
    assert!(e.to_string().contains("csrftoken"));
    assert_no_secret(&e.to_string());
}

#[tokio::test]
async fn the_mock_refuses_wrong_part_names_foreign_images_bad_titles_and_missing_csrf() {
    let mock = start_mock(MockOptions::default()).await;
    let http = reqwest::Client::new();
    let upload = mock
        .base
        .join("mp/agw/article_material/photo/upload_picture/?type=json")
        .unwrap();
    let publish = mock
        .base
        .join("mp/agw/article/publish?source=mp&type=article")
        .unwrap();
    let json = |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.unwrap() };

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png()).file_name("a.png"),
    );
    let r = http
        .post(upload.clone())
        .header("Cookie", cookie())
        .header("X-CSRFToken", CSRF)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["code"], 1053);

    let form = reqwest::multipart::Form::new().part(
        "upfile",
        reqwest::multipart::Part::bytes(png()).file_name("a.png"),
    );
    let r = http
        .post(upload.clone())
        .header("Cookie", cookie())
        .header("X-CSRFToken", CSRF)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let up = json(r).await;
    assert_eq!(up["code"], 0, "{up}");
    assert_eq!(
        (up["width"].as_u64(), up["height"].as_u64()),
        (Some(2), Some(1))
    );
    let (web_url, web_uri) = (
        up["web_url"].as_str().unwrap(),
        up["web_uri"].as_str().unwrap(),
    );

    let send = |title: &str, content: String, csrf: Option<&str>| {
        let mut req = http
            .post(publish.clone())
            .header("Cookie", cookie())
            .form(&[
                ("pgc_id", "0"),
                ("title", title),
                ("content", content.as_str()),
                ("save", "1"),
                ("extra", "{}"),
            ]);
        if let Some(c) = csrf {
            req = req.header("X-CSRFToken", c);
        }
        req.send()
    };
    let foreign = "<p>x</p><img src=\"http://example.org/a.png\">".to_string();
    assert_eq!(
        json(send("外链图片", foreign, Some(CSRF)).await.unwrap()).await["code"],
        7115
    );
    let no_uri = format!("<p>x</p><img src=\"{web_url}\">");
    assert_eq!(
        json(send("缺少属性", no_uri, Some(CSRF)).await.unwrap()).await["code"],
        7115
    );
    let ok_body = format!("<p>x</p><img src=\"{web_url}\" web_uri=\"{web_uri}\">");
    let long = "长".repeat(31);
    assert_ne!(
        json(send(&long, ok_body.clone(), Some(CSRF)).await.unwrap()).await["code"],
        0
    );
    assert_ne!(
        json(send("短", ok_body.clone(), Some(CSRF)).await.unwrap()).await["code"],
        0
    );
    let r = send("没有令牌", ok_body.clone(), None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = send("令牌不对", ok_body.clone(), Some("wrong"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(publish.clone())
        .header("Cookie", cookie())
        .header("X-CSRFToken", CSRF)
        .form(&[("title", "缺字段")])
        .send()
        .await
        .unwrap();
    assert_ne!(json(r).await["code"], 0);
    assert!(
        load_articles(mock.dir()).is_empty(),
        "nothing refused may be stored"
    );

    assert_eq!(
        json(send("正常文章", ok_body, Some(CSRF)).await.unwrap()).await["code"],
        0
    );
    assert_eq!(load_articles(mock.dir()).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn throttling_becomes_retry_later_with_the_platforms_delay() {
    let mock = start_mock(MockOptions {
        rate_limit: Some(1),
        fail_next: vec![Fault::Status {
            status: 503,
            retry_after: Some("7".into()),
        }],
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let t = client(&mock);
    let out = t.publish(&post(&site, "第一次被挡")).await;
    assert!(
        matches!(out, Outcome::RetryLater { after, .. } if after == Duration::from_secs(7)),
        "{out:?}"
    );
    assert!(matches!(
        t.publish(&post(&site, "第二次成功")).await,
        Outcome::Published { .. }
    ));
    let out = t.publish(&post(&site, "第三次超限")).await;
    let Outcome::RetryLater { after, reason } = out else {
        panic!("{out:?}")
    };
    assert!(
        after > Duration::from_secs(50) && after <= Duration::from_secs(60),
        "{after:?}"
    );
    assert!(reason.contains("429"), "{reason}");
    assert_no_secret(&reason);

    // An HTTP-date Retry-After, through the DATA/fail_next knob.
    let at = chrono::Utc::now() + chrono::Duration::seconds(120);
    std::fs::write(
        mock.dir().join("fail_next"),
        format!(
            "status:429:retry-after={}\n",
            at.format("%a, %d %b %Y %H:%M:%S GMT")
        ),
    )
    .unwrap();
    let out = t.publish(&post(&site, "日期格式")).await;
    assert!(
        matches!(out, Outcome::RetryLater { after, .. } if after >= Duration::from_secs(100) && after <= Duration::from_secs(120)),
        "{out:?}"
    );
    assert!(
        !mock.dir().join("fail_next").exists(),
        "the knob is consumed"
    );
    assert_eq!(load_articles(mock.dir()).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_lost_answer_is_unknown_and_lookup_finds_the_article_it_stored() {
    let mock = start_mock(MockOptions {
        delay: Duration::from_secs(3),
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let impatient = client_with(
        &mock,
        reqwest::Client::builder()
            .timeout(Duration::from_millis(1500))
            .build()
            .unwrap(),
    );
    let p = post(&site, "答复丢失的文章");
    let out = impatient.publish(&p).await;
    assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
    assert_no_secret(&format!("{out:?}"));
    // Sent exactly once, and it went through.
    assert_eq!(load_articles(mock.dir()).len(), 1);
    let found = impatient
        .lookup(&p)
        .await
        .unwrap()
        .expect("the stored article is found");
    assert_eq!(found.id, load_articles(mock.dir())[0].pgc_id);
    mock.stop().await;
}

#[tokio::test]
async fn server_errors_and_garbage_after_storing_are_unknown_business_codes_are_rejected() {
    let mock = start_mock(MockOptions {
        fail_next: vec![
            Fault::StoreThenStatus(500),
            Fault::StoreThenGarbage,
            Fault::Code {
                code: 7001,
                message: "内容涉嫌违规".into(),
            },
        ],
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let t = client(&mock);
    assert!(matches!(
        t.publish(&post(&site, "五百错误")).await,
        Outcome::Unknown { .. }
    ));
    assert!(matches!(
        t.publish(&post(&site, "乱码答复")).await,
        Outcome::Unknown { .. }
    ));
    let out = t.publish(&post(&site, "违规内容")).await;
    assert!(
        matches!(&out, Outcome::Rejected { code: Some(7001), message } if message.contains("违规")),
        "{out:?}"
    );
    assert_eq!(
        load_articles(mock.dir()).len(),
        2,
        "both 'unknown' ones were applied"
    );
    assert!(t.lookup(&post(&site, "五百错误")).await.unwrap().is_some());
    mock.stop().await;
}

#[tokio::test]
async fn an_unreachable_platform_is_retry_later_before_anything_is_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let site = start_site().await;
    let mut p = post(&site, "无法连接");
    p.html = "<p>纯文字</p>".into();
    let t = Toutiao::new(
        base,
        Secret::new(cookie()),
        "x".into(),
        reqwest::Client::new(),
        Arc::new(HttpImages(reqwest::Client::new())),
    )
    .unwrap();
    let out = t.publish(&p).await;
    assert!(matches!(out, Outcome::RetryLater { .. }), "{out:?}");
    assert_no_secret(&format!("{out:?}"));
    let e = t.verify().await.unwrap_err();
    assert!(matches!(e, PublishError::Transport(_)));
    assert_no_secret(&e.to_string());
}

#[tokio::test]
async fn the_mock_keeps_articles_and_images_across_restarts() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let p = post(&site, "重启之前发的");
    assert!(matches!(
        client(&mock).publish(&p).await,
        Outcome::Published { .. }
    ));
    let data = mock.stop().await;

    let mock = start_mock_in(data, MockOptions::default()).await;
    let t = client(&mock);
    assert!(t.lookup(&p).await.unwrap().is_some());
    // Images uploaded before the restart are still accepted in a body.
    let stored = load_articles(mock.dir());
    let (src, uri) = imgs(&stored[0].content)[0].clone();
    let r = reqwest::Client::new()
        .post(
            mock.base
                .join("mp/agw/article/publish?source=mp&type=article")
                .unwrap(),
        )
        .header("Cookie", cookie())
        .header("X-CSRFToken", CSRF)
        .form(&[
            ("pgc_id", "0"),
            ("title", "重启之后再用旧图"),
            (
                "content",
                &format!("<p>x</p><img src=\"{src}\" web_uri=\"{}\">", uri.unwrap()),
            ),
            ("save", "1"),
            ("extra", "{}"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], 0);
    let stored = load_articles(mock.dir());
    assert_eq!(stored.len(), 2);
    assert!(stored[1].pgc_id > stored[0].pgc_id, "ids keep increasing");
    // The demo index lists them.
    let index = reqwest::get(mock.base.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("重启之后再用旧图"));
    mock.stop().await;
}

#[tokio::test]
async fn a_failed_upload_is_retried_once_then_only_that_image_is_dropped() {
    let mock = start_mock(MockOptions {
        // protected.png fails twice → dropped; plain.gif fails once, the
        // retry succeeds.
        fail_uploads: vec![
            Fault::Status {
                status: 500,
                retry_after: None,
            },
            Fault::Status {
                status: 502,
                retry_after: None,
            },
            Fault::Status {
                status: 502,
                retry_after: None,
            },
        ],
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let out = client(&mock).publish(&post(&site, "上传重试")).await;
    let Outcome::Published { notes, .. } = out else {
        panic!("{out:?}")
    };
    assert!(
        notes
            .iter()
            .any(|n| n.contains("protected.png") && n.contains("502")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("missing.jpg")), "{notes:?}");
    assert_eq!(notes.len(), 2, "{notes:?}");
    let stored = load_articles(mock.dir());
    let kept = imgs(&stored[0].content);
    assert_eq!(kept.len(), 1, "{}", stored[0].content);
    // The one kept is plain.gif (a GIF), uploaded on the second try.
    let bytes = reqwest::get(kept[0].0.as_str())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(bytes.starts_with(b"GIF89a"));
    mock.stop().await;
}

#[tokio::test]
async fn a_throttled_upload_gives_the_whole_post_back_before_publishing() {
    let mock = start_mock(MockOptions {
        fail_uploads: vec![Fault::Status {
            status: 429,
            retry_after: Some("30".into()),
        }],
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let out = client(&mock).publish(&post(&site, "上传被限流")).await;
    assert!(
        matches!(out, Outcome::RetryLater { after, .. } if after == Duration::from_secs(30)),
        "{out:?}"
    );
    assert!(load_articles(mock.dir()).is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn a_base_url_without_the_api_holds_posts_back_instead_of_rejecting_them() {
    let site = start_site().await;
    // The unit's site has no toutiao API: every call 404s.
    let t = Toutiao::new(
        site.clone(),
        Secret::new(cookie()),
        "x".into(),
        reqwest::Client::new(),
        Arc::new(HttpImages(reqwest::Client::new())),
    )
    .unwrap();
    let mut p = post(&site, "地址配错了");
    p.html = "<p>纯文字</p>".into();
    let out = t.publish(&p).await;
    assert!(
        matches!(&out, Outcome::RetryLater { reason, .. } if reason.contains("base_url")),
        "{out:?}"
    );
}
