//! The WeChat client against the real double (`autosync mock-wechat`) on a
//! local socket, with a local "unit site" serving the article's images
//! (PNG behind hot-link protection, GIF, WebP, one over 1 MB, one broken,
//! one missing). Guards the publish contract end to end: images converted,
//! uploaded and rewritten, a cover always set, tokens cached and renewed,
//! account-level refusals pausing, acceptance not taken for success, every
//! fault mapped to the right Outcome, and no post ever submitted twice.

mod common;

use autosync::clock::{Clock, TokioClock};
use autosync::model::PauseReason;
use autosync::publish::wechat::client::{WechatParams, until_quota_resets};
use autosync::publish::wechat::mock::{
    self, Fault, FaultKind, MockOptions, load_calls, load_drafts, load_published,
};
use autosync::publish::wechat::{Call, Wechat};
use autosync::publish::{Outcome, Post, PublishError, Publisher};
use autosync::secret::Secret;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use chrono::{DateTime, Utc};
use common::HttpImages;
use image::{DynamicImage, ImageFormat};
use std::io::Cursor;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use url::Url;

const APP_ID: &str = "wx0123456789abcdef";
const APP_SECRET: &str = "AppSecret-5ca1ab1e-0ddba11-c0ffee";

type Mock = common::Double;

async fn start_mock(opts: MockOptions) -> Mock {
    start_mock_in(tempfile::tempdir().unwrap(), opts).await
}

async fn start_mock_in(data: tempfile::TempDir, opts: MockOptions) -> Mock {
    common::Double::start(data, |listener, data_dir, stop| {
        let opts = MockOptions {
            data_dir,
            app_id: APP_ID.into(),
            app_secret: APP_SECRET.into(),
            ..opts
        };
        mock::serve(listener, opts, stop)
    })
    .await
}

/// A double with these faults, the unit's site, and a client.
async fn setup(fail_next: Vec<Fault>) -> (Mock, Url, Wechat) {
    let mock = start_mock(MockOptions {
        fail_next,
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let w = client(&mock);
    (mock, site, w)
}

/// How many times the double answered `call`.
fn calls(mock: &Mock, call: Call) -> usize {
    load_calls(mock.dir())
        .iter()
        .filter(|c| c.call == call.name())
        .count()
}

/// How many answers were refusals with `errcode`.
fn refusals(mock: &Mock, errcode: i64) -> usize {
    load_calls(mock.dir())
        .iter()
        .filter(|c| c.errcode == errcode)
        .count()
}

fn encoded(img: &DynamicImage, f: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), f).unwrap();
    out
}

/// A noisy image compresses badly, like a photo.
fn noise(w: u32, h: u32, seed: u32) -> DynamicImage {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    }))
}

fn small_png(seed: u32) -> Vec<u8> {
    encoded(&noise(24, 16, seed), ImageFormat::Png)
}

static HUGE_PNG: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let png = encoded(&noise(1000, 800, 9), ImageFormat::Png);
    assert!(png.len() > 1_000_000, "{}", png.len());
    png
});

/// The unit's website: `/img/photo.png` only with the article as Referer;
/// `/img/anim.gif`, `/img/pic.webp`, `/img/huge.png` (over 1 MB),
/// `/img/broken.jpg` (JPEG magic, then garbage), `/img/missing.jpg` (404).
async fn start_site() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let article = base.join("news/2026/1.html").unwrap().to_string();
    let app = Router::new()
        .route(
            "/img/photo.png",
            common::referer_only(article, "image/png", small_png(1)),
        )
        .route(
            "/img/second.png",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], small_png(2)) }),
        )
        .route(
            "/img/anim.gif",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/gif")],
                    encoded(&noise(12, 12, 3), ImageFormat::Gif),
                )
            }),
        )
        .route(
            "/img/pic.webp",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    encoded(&noise(16, 12, 4), ImageFormat::WebP),
                )
            }),
        )
        .route(
            "/img/huge.png",
            get(|| async {
                let png = tokio::task::spawn_blocking(|| HUGE_PNG.clone())
                    .await
                    .unwrap();
                ([(header::CONTENT_TYPE, "image/png")], png)
            }),
        )
        .route(
            "/img/broken.jpg",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/jpeg")],
                    b"\xFF\xD8\xFF\xE0garbage, not a JPEG".to_vec(),
                )
            }),
        )
        .route("/img/missing.jpg", get(|| async { StatusCode::NOT_FOUND }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn cover() -> Vec<u8> {
    encoded(
        &DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            90,
            38,
            image::Rgb([0, 90, 160]),
        )),
        ImageFormat::Png,
    )
}

fn params(mock: &Mock) -> WechatParams {
    WechatParams {
        base_url: mock.base.clone(),
        app_id: APP_ID.into(),
        app_secret: Secret::new(APP_SECRET),
        account_name: "示例省科协".into(),
        cover: cover(),
    }
}

fn client_with(mock: &Mock, http: reqwest::Client) -> Wechat {
    Wechat::new(
        params(mock),
        http,
        Arc::new(HttpImages(reqwest::Client::new())),
    )
    .unwrap()
}

fn client(mock: &Mock) -> Wechat {
    client_with(
        mock,
        reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
    )
}

/// A text-only post at `path` on the site.
fn text_post(site: &Url, path: &str, title: &str) -> Post {
    Post {
        item_id: format!("unit-a/{path}"),
        title: title.into(),
        html: "<p>省科协今天举办科普讲座。来自全省的两百名教师参加。</p><p>讲座内容丰富。</p>"
            .into(),
        text: "省科协今天举办科普讲座。来自全省的两百名教师参加。\n讲座内容丰富。".into(),
        source_url: site.join(path).unwrap(),
        images: vec![],
        published_at: None,
        author: Some("科普部".into()),
        source: None,
    }
}

/// The article with images: a protected PNG (relative src), a second PNG
/// and a missing one.
fn post(site: &Url, title: &str) -> Post {
    let mut p = text_post(site, "news/2026/1.html", title);
    p.html = format!(
        "<p>第一段。</p><p><img src=\"../../img/photo.png\" alt=\"合影\"></p>\
         <p><IMG class=x src='{}'></p><p><img src=\"{}\"></p><p>完。</p>",
        site.join("img/second.png").unwrap(),
        site.join("img/missing.jpg").unwrap()
    );
    p
}

/// The `src` of every img in stored content, parsed like a browser.
fn imgs(content: &str) -> Vec<String> {
    let doc = scraper::Html::parse_fragment(content);
    let sel = scraper::Selector::parse("img").unwrap();
    doc.select(&sel)
        .map(|i| i.value().attr("src").unwrap_or("").to_string())
        .collect()
}

/// No text a test sees may carry the AppSecret or an access token (the
/// double's tokens are `MOCK_` and 64 hex digits).
fn assert_no_secret(text: &str) {
    assert!(!text.contains(APP_SECRET), "AppSecret leaked: {text}");
    let token = regex::Regex::new("MOCK_[0-9a-f]{64}|access_token=").unwrap();
    assert!(!token.is_match(text), "token leaked: {text}");
}

struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

#[tokio::test]
async fn publishes_once_with_uploaded_images_and_the_first_image_as_cover() {
    let (mock, site, w) = setup(vec![]).await;
    let p = post(&site, "省科协举办科普讲座");
    let out = w.publish(&p).await;
    assert_no_secret(&format!("{out:?}"));
    let Outcome::Published { remote, notes } = out else {
        panic!("not published: {out:?}")
    };
    assert!(notes.iter().any(|n| n.contains("missing.jpg")), "{notes:?}");
    assert_eq!(notes.len(), 1, "only the missing image is noted: {notes:?}");

    let published = load_published(mock.dir());
    assert_eq!(published.len(), 1);
    let pb = &published[0];
    assert_eq!(pb.final_status, 0);
    assert_eq!(remote.id, pb.article_id);
    assert_eq!(remote.url.as_deref(), Some(pb.url.as_str()));
    let a = &pb.articles[0];
    assert_eq!(a.title, "省科协举办科普讲座");
    assert_eq!(a.author, "科普部");
    assert_eq!(
        a.digest,
        "省科协今天举办科普讲座。来自全省的两百名教师参加。讲座内容丰富。"
    );
    assert_eq!(a.content_source_url, p.source_url.as_str());
    assert_eq!((a.need_open_comment, a.only_fans_can_comment), (0, 0));
    let found = imgs(&a.content);
    assert_eq!(found.len(), 2, "{}", a.content);
    for src in &found {
        assert!(
            src.starts_with(&mock.base.join("mmbiz/").unwrap().to_string()),
            "{src}"
        );
    }
    assert!(
        !a.content.contains(site.as_str()),
        "a site image survived: {}",
        a.content
    );
    assert!(a.content.contains("alt=\"合影\""));
    // The cover is the article's first image (the protected PNG, fetched
    // with the article as Referer), uploaded as a material.
    let cover_file = std::fs::read_dir(mock.dir().join("images"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap())
        .find(|m| m["media_id"].as_str() == Some(a.thumb_media_id.as_str()))
        .expect("the thumb is a material");
    let bytes = std::fs::read(
        mock.dir()
            .join("images")
            .join(cover_file["file"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(bytes, small_png(1));
    // One token, one draft, one submit.
    assert_eq!(calls(&mock, Call::Token), 1);
    assert_eq!(calls(&mock, Call::DraftAdd), 1);
    assert_eq!(calls(&mock, Call::Submit), 1);
    assert_eq!(load_drafts(mock.dir()).len(), 1);
    // And lookup finds it by its source URL.
    assert_eq!(w.lookup(&p).await.unwrap(), Some(remote));
    mock.stop().await;
}

#[tokio::test]
async fn articles_without_images_get_the_default_cover_uploaded_once_per_process() {
    let (mock, site, w) = setup(vec![]).await;
    for (i, title) in ["第一篇纯文字", "第二篇纯文字"].into_iter().enumerate() {
        let p = text_post(&site, &format!("news/{i}.html"), title);
        let out = w.publish(&p).await;
        assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    }
    assert_eq!(
        calls(&mock, Call::AddMaterial),
        1,
        "the default cover is uploaded once"
    );
    let published = load_published(mock.dir());
    assert_eq!(published.len(), 2);
    assert_eq!(
        published[0].articles[0].thumb_media_id,
        published[1].articles[0].thumb_media_id
    );
    mock.stop().await;
}

#[tokio::test]
async fn the_token_is_cached_and_renewed_once_when_it_expires() {
    let (mock, site, w) = setup(vec![]).await;
    assert!(matches!(
        w.publish(&text_post(&site, "a.html", "第一篇")).await,
        Outcome::Published { .. }
    ));
    assert_eq!(
        calls(&mock, Call::Token),
        1,
        "one token for the whole publish"
    );
    // The platform expires the token: the next call gets 42001.
    std::fs::write(mock.dir().join("fail_next"), "token-expired\n").unwrap();
    let out = w.publish(&text_post(&site, "b.html", "第二篇")).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(refusals(&mock, 42001), 1);
    assert_eq!(calls(&mock, Call::Token), 2, "renewed exactly once");
    assert!(
        !mock.dir().join("fail_next").exists(),
        "the knob is consumed"
    );
    assert_eq!(load_published(mock.dir()).len(), 2);
    mock.stop().await;
}

#[tokio::test]
async fn a_token_refused_again_after_renewal_waits_instead_of_looping() {
    let mock = start_mock(MockOptions {
        fail_next: vec![
            Fault::on(Call::DraftAdd, FaultKind::TokenExpired),
            Fault::on(Call::DraftAdd, FaultKind::TokenExpired),
        ],
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let out = client(&mock)
        .publish(&text_post(&site, "a.html", "令牌反复失效"))
        .await;
    assert!(matches!(out, Outcome::RetryLater { .. }), "{out:?}");
    assert_eq!(calls(&mock, Call::Token), 2);
    assert!(load_drafts(mock.dir()).is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn an_ip_missing_from_the_whitelist_pauses_with_the_ip() {
    let (mock, site, w) = setup(vec![
        Fault::any(FaultKind::IpNotWhitelisted("203.0.113.7".into())),
        Fault::on(
            Call::BatchGet,
            FaultKind::IpNotWhitelisted("203.0.113.8".into()),
        ),
    ])
    .await;
    let out = w.publish(&text_post(&site, "a.html", "白名单")).await;
    let Outcome::Paused {
        reason: PauseReason::IpNotWhitelisted { ip, detail },
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!(ip, "203.0.113.7");
    assert!(detail.contains("40164"), "{detail}");
    assert_no_secret(&format!("{out:?}"));
    let e = w.verify().await.unwrap_err();
    assert!(
        matches!(&e, PublishError::Paused(PauseReason::IpNotWhitelisted { ip, .. }) if ip == "203.0.113.8"),
        "{e:?}"
    );
    assert!(load_drafts(mock.dir()).is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn no_publishing_permission_pauses_with_the_reason() {
    let (mock, site, w) = setup(vec![
        Fault::on(
            Call::Submit,
            FaultKind::Code {
                code: 48001,
                message: "api unauthorized rid: x".into(),
            },
        ),
        Fault::on(
            Call::BatchGet,
            FaultKind::Code {
                code: 48001,
                message: "api unauthorized rid: y".into(),
            },
        ),
    ])
    .await;
    let p = text_post(&site, "a.html", "没有权限");
    let out = w.publish(&p).await;
    let Outcome::Paused {
        reason: PauseReason::NoPermission { detail },
    } = &out
    else {
        panic!("{out:?}")
    };
    assert!(
        detail.contains("48001") && detail.contains("认证"),
        "{detail}"
    );
    assert!(load_published(mock.dir()).is_empty());
    // verify probes the publishing API, so the binding check pauses too.
    assert!(matches!(
        w.verify().await,
        Err(PublishError::Paused(PauseReason::NoPermission { .. }))
    ));
    // Refused, so certainly not there.
    assert_eq!(w.lookup(&p).await.unwrap(), None);
    mock.stop().await;
}

#[tokio::test]
async fn the_daily_quota_waits_until_midnight_china_time() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    // 22:00 in Shanghai.
    let now = DateTime::parse_from_rfc3339("2026-11-26T14:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let w = client(&mock).with_clock(Arc::new(FixedClock(now)));
    std::fs::write(
        mock.dir().join("fail_next"),
        "submit code:45009:reach max api daily quota limit rid: z\n",
    )
    .unwrap();
    let p = text_post(&site, "a.html", "额度用完");
    let out = w.publish(&p).await;
    let Outcome::RetryLater { after, reason } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(*after, Duration::from_secs(2 * 3600 + 60));
    assert_eq!(*after, until_quota_resets(now));
    assert!(reason.contains("45009"), "{reason}");
    assert!(load_published(mock.dir()).is_empty());
    assert_eq!(w.lookup(&p).await.unwrap(), None);
    mock.stop().await;
}

#[tokio::test(start_paused = true)]
async fn publishing_that_takes_a_moment_is_published_within_the_polls() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(Utc::now()));
    let mock = start_mock(MockOptions {
        fail_next: vec![Fault::any(FaultKind::Publishing(Duration::from_millis(
            2500,
        )))],
        clock: clock.clone(),
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let w = client_with(&mock, reqwest::Client::new());
    let started = tokio::time::Instant::now();
    let out = w.publish(&text_post(&site, "a.html", "稍等发布")).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took <= Duration::from_secs(6),
        "{took:?}"
    );
    assert!(calls(&mock, Call::Get) >= 2);
    mock.stop().await;
}

#[tokio::test(start_paused = true)]
async fn publishing_longer_than_the_polls_is_unknown_and_lookup_settles_it_by_source_url() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(Utc::now()));
    let mock = start_mock(MockOptions {
        fail_next: vec![Fault::any(FaultKind::Publishing(Duration::from_secs(3600)))],
        clock: clock.clone(),
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let w = client_with(&mock, reqwest::Client::new());
    let p = text_post(&site, "a.html", "迟迟未发布");
    let started = tokio::time::Instant::now();
    let out = w.publish(&p).await;
    assert!(
        matches!(&out, Outcome::Unknown { reason } if reason.contains("publish_id")),
        "{out:?}"
    );
    assert!(
        started.elapsed() <= Duration::from_secs(6),
        "bounded: {:?}",
        started.elapsed()
    );
    // Still publishing: neither found nor certainly absent.
    let e = w.lookup(&p).await.unwrap_err();
    assert!(matches!(e, PublishError::Undecided(_)), "{e:?}");

    tokio::time::sleep(Duration::from_secs(3600)).await;
    let found = w.lookup(&p).await.unwrap().expect("published by now");
    let pb = &load_published(mock.dir())[0];
    assert_eq!(found.id, pb.article_id);
    // A process that never saw the submission finds it by its source URL.
    let fresh = client_with(&mock, reqwest::Client::new());
    assert_eq!(fresh.lookup(&p).await.unwrap(), Some(found));
    assert_eq!(load_published(mock.dir()).len(), 1);
    assert_eq!(load_drafts(mock.dir()).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_refusal_by_review_is_rejected_with_the_reason() {
    let (mock, site, w) = setup(vec![Fault::any(FaultKind::Ends {
        status: 4,
        reason: Some("含有违规内容".into()),
    })])
    .await;
    let p = text_post(&site, "a.html", "审核不通过");
    let out = w.publish(&p).await;
    assert!(
        matches!(&out, Outcome::Rejected { message, .. } if message.contains("含有违规内容") && message.contains("审核")),
        "{out:?}"
    );
    assert_eq!(w.lookup(&p).await.unwrap(), None, "not published");
    mock.stop().await;
}

#[tokio::test]
async fn failed_publications_are_rejected_and_ones_removed_after_publishing_never_sent_again() {
    // (publish_status, what the rejection says, whether it was out)
    let cases = [
        (2, "原创", false),
        (3, "发布失败", false),
        (5, "deleted", true),
        (6, "banned", true),
    ];
    let mock = start_mock(MockOptions {
        fail_next: cases
            .iter()
            .map(|(status, ..)| {
                Fault::any(FaultKind::Ends {
                    status: *status,
                    reason: None,
                })
            })
            .collect(),
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let w = client(&mock);
    for (i, (status, says, was_out)) in cases.into_iter().enumerate() {
        let p = text_post(&site, &format!("{i}.html"), &format!("发布状态{status}"));
        let out = w.publish(&p).await;
        assert!(
            matches!(&out, Outcome::Rejected { message, .. }
                if message.contains(says) && message.contains(&format!("publish_status {status}"))),
            "{out:?}"
        );
        // Reconciliation (in this process or another) finds the removed
        // ones as sent, so they never go out again.
        assert_eq!(
            client(&mock).lookup(&p).await.unwrap().is_some(),
            was_out,
            "{status}"
        );
    }
    mock.stop().await;
}

#[tokio::test]
async fn a_lost_submit_answer_is_unknown_and_lookup_finds_it_without_a_second_submit() {
    let (mock, site, w) = setup(vec![Fault::on(Call::Submit, FaultKind::Lose)]).await;
    let p = text_post(&site, "a.html", "答复丢失");
    let out = w.publish(&p).await;
    assert!(matches!(&out, Outcome::Unknown { .. }), "{out:?}");
    assert_no_secret(&format!("{out:?}"));
    let found = w.lookup(&p).await.unwrap().expect("it was applied");
    assert_eq!(found.id, load_published(mock.dir())[0].article_id);
    assert_eq!(calls(&mock, Call::DraftAdd), 1);
    assert_eq!(calls(&mock, Call::Submit), 1);
    assert_eq!(load_published(mock.dir()).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_lost_draft_answer_is_unknown_and_lookup_knows_nothing_was_published() {
    let (mock, site, w) = setup(vec![Fault::on(Call::DraftAdd, FaultKind::Lose)]).await;
    let p = text_post(&site, "a.html", "草稿答复丢失");
    let out = w.publish(&p).await;
    assert!(matches!(&out, Outcome::Unknown { .. }), "{out:?}");
    assert_eq!(load_drafts(mock.dir()).len(), 1, "the draft was stored");
    // A draft is not an article: certainly not published.
    assert_eq!(w.lookup(&p).await.unwrap(), None);
    assert_eq!(calls(&mock, Call::Submit), 0);
    mock.stop().await;
}

#[tokio::test]
async fn a_submit_answer_slower_than_the_client_is_unknown_and_found_later() {
    let mock = start_mock(MockOptions {
        fail_next: vec![Fault::on(
            Call::Submit,
            FaultKind::Slow(Duration::from_secs(3)),
        )],
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
    let p = text_post(&site, "a.html", "提交答复太慢");
    let out = impatient.publish(&p).await;
    assert!(matches!(&out, Outcome::Unknown { .. }), "{out:?}");
    assert_no_secret(&format!("{out:?}"));
    assert!(impatient.lookup(&p).await.unwrap().is_some());
    assert_eq!(calls(&mock, Call::Submit), 1);
    mock.stop().await;
}

#[tokio::test]
async fn slow_answers_publish_within_the_timeout_and_wait_when_beyond_it_before_posting() {
    let mock = start_mock(MockOptions {
        delay: Duration::from_millis(300),
        ..MockOptions::default()
    })
    .await;
    let site = start_site().await;
    let out = client(&mock)
        .publish(&text_post(&site, "a.html", "慢但能发"))
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let before = load_calls(mock.dir()).len();

    // An answer slower than the client's timeout on the token call: nothing
    // was posted, so it is simply tried later.
    let impatient = client_with(
        &mock,
        reqwest::Client::builder()
            .timeout(Duration::from_millis(150))
            .build()
            .unwrap(),
    );
    let out = impatient.publish(&text_post(&site, "b.html", "太慢")).await;
    assert!(matches!(&out, Outcome::RetryLater { .. }), "{out:?}");
    assert_eq!(
        load_calls(mock.dir()).len(),
        before + 1,
        "only the token call"
    );
    assert_eq!(load_published(mock.dir()).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_body_of_20000_characters_is_held_before_anything_is_sent() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let mut p = post(&site, "超长正文");
    p.html = format!(
        "<p>{}</p><img src=\"/img/second.png\">",
        "字".repeat(20_000)
    );
    let out = client(&mock).publish(&p).await;
    assert!(
        matches!(&out, Outcome::Hold { reason } if reason.contains("20000") && reason.contains("请删减")),
        "{out:?}"
    );
    assert!(load_calls(mock.dir()).is_empty(), "no call at all");
    mock.stop().await;
}

#[tokio::test]
async fn a_long_title_is_shortened_and_the_full_title_opens_the_body() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let title = "关于举办2026年全省青少年科普讲解大赛的通知——决赛名单公示及后续工作安排说明";
    assert!(title.chars().count() > 32);
    let out = client(&mock)
        .publish(&text_post(&site, "a.html", title))
        .await;
    let Outcome::Published { notes, .. } = out else {
        panic!("{out:?}")
    };
    assert!(notes.iter().any(|n| n.contains("标题已缩短")), "{notes:?}");
    let a = &load_published(mock.dir())[0].articles[0];
    assert!(
        a.title.chars().count() <= 32 && a.title.ends_with('…'),
        "{}",
        a.title
    );
    assert_eq!(a.title, autosync::publish::wechat::rules::title(title).0);
    assert!(
        a.content.starts_with(&format!("<p>{title}</p>")),
        "{}",
        a.content
    );
    mock.stop().await;
}

#[tokio::test]
async fn gif_and_webp_are_converted_large_images_shrunk_and_broken_ones_dropped_with_a_note() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let mut p = post(&site, "各种图片");
    p.html = "<p>图：</p><img src=\"/img/anim.gif\"><img src=\"/img/pic.webp\">\
              <img src=\"/img/huge.png\"><img src=\"/img/broken.jpg\"><p>完。</p>"
        .into();
    let out = client(&mock).publish(&p).await;
    let Outcome::Published { notes, .. } = out else {
        panic!("{out:?}")
    };
    let noted = |what: &str, how: &str| notes.iter().any(|n| n.contains(what) && n.contains(how));
    assert!(noted("anim.gif", "GIF 已转换为 PNG"), "{notes:?}");
    assert!(noted("pic.webp", "WebP 已转换为"), "{notes:?}");
    assert!(noted("huge.png", "已从 1000×800"), "{notes:?}");
    assert!(
        noted("broken.jpg", "已删去") && noted("broken.jpg", "decoded"),
        "{notes:?}"
    );
    let a = &load_published(mock.dir())[0].articles[0];
    let srcs = imgs(&a.content);
    assert_eq!(srcs.len(), 3, "{}", a.content);
    for src in srcs {
        let bytes = reqwest::get(src.as_str())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(bytes.len() < 1_000_000, "{src}: {}", bytes.len());
        assert!(
            bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            "{src} is neither PNG nor JPEG"
        );
    }
    mock.stop().await;
}

#[tokio::test]
async fn a_wrong_app_secret_pauses_as_not_configured_and_secrets_never_print() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let wrong = Wechat::new(
        WechatParams {
            app_secret: Secret::new("WRONG-SECRET-VALUE"),
            ..params(&mock)
        },
        reqwest::Client::new(),
        Arc::new(HttpImages(reqwest::Client::new())),
    )
    .unwrap();
    let out = wrong.publish(&text_post(&site, "a.html", "密钥错误")).await;
    let text = format!("{out:?}");
    assert!(
        matches!(&out, Outcome::Paused { reason: PauseReason::NotConfigured { detail } } if detail.contains("40125")),
        "{out:?}"
    );
    assert!(!text.contains("WRONG-SECRET-VALUE"), "{text}");
    let e = wrong.verify().await.unwrap_err();
    assert!(
        matches!(e, PublishError::Paused(PauseReason::NotConfigured { .. })),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains("WRONG-SECRET-VALUE"));

    let w = client(&mock);
    assert!(!format!("{w:?}").contains(APP_SECRET), "{w:?}");
    // Errors after a token was issued name the call, never its URL.
    w.verify().await.unwrap(); // takes a token
    std::fs::write(mock.dir().join("fail_next"), "batchget lose\n").unwrap();
    let e = w
        .lookup(&text_post(&site, "b.html", "x"))
        .await
        .unwrap_err();
    assert!(matches!(e, PublishError::Transport(_)), "{e:?}");
    let text = format!("{e} {e:?}");
    assert!(text.contains("batchget"), "{text}");
    assert_no_secret(&text);
    mock.stop().await;
}

#[tokio::test]
async fn verify_names_the_configured_account_once_the_credentials_work() {
    let mock = start_mock(MockOptions::default()).await;
    let info = client(&mock).verify().await.unwrap();
    assert_eq!(info.id, APP_ID);
    assert_eq!(info.display_name, "示例省科协");
    assert_eq!(calls(&mock, Call::Token), 1);
    assert_eq!(
        calls(&mock, Call::BatchGet),
        1,
        "publishing permission probed"
    );
    mock.stop().await;
}

#[tokio::test]
async fn an_unreachable_platform_is_retry_later_and_verify_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let site = start_site().await;
    let w = Wechat::new(
        WechatParams {
            base_url: base,
            app_id: APP_ID.into(),
            app_secret: Secret::new(APP_SECRET),
            account_name: "x".into(),
            cover: cover(),
        },
        reqwest::Client::new(),
        Arc::new(HttpImages(reqwest::Client::new())),
    )
    .unwrap();
    let out = w.publish(&text_post(&site, "a.html", "连不上")).await;
    assert!(matches!(out, Outcome::RetryLater { .. }), "{out:?}");
    assert!(!format!("{out:?}").contains(APP_SECRET));
    assert!(matches!(w.verify().await, Err(PublishError::Transport(_))));
}

#[tokio::test]
async fn the_mock_refuses_malformed_requests_like_the_platform() {
    let mock = start_mock(MockOptions::default()).await;
    let http = reqwest::Client::new();
    let url = |call: Call, token: Option<&str>, extra: &str| {
        let mut u = mock.base.join(call.path().trim_start_matches('/')).unwrap();
        let mut q = String::new();
        if let Some(t) = token {
            q.push_str(&format!("access_token={t}"));
        }
        if !extra.is_empty() {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(extra);
        }
        u.set_query((!q.is_empty()).then_some(q.as_str()));
        u
    };
    let errcode = |v: serde_json::Value| v["errcode"].as_i64().unwrap_or(0);
    let post_json = |u: Url, body: serde_json::Value| {
        let http = http.clone();
        async move {
            http.post(u)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let upload = |u: Url, part: &'static str, name: &'static str, bytes: Vec<u8>| {
        let http = http.clone();
        async move {
            let form = reqwest::multipart::Form::new()
                .part(part, reqwest::multipart::Part::bytes(bytes).file_name(name));
            http.post(u)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let token_body = |grant: &str, secret: &str| serde_json::json!({"grant_type": grant, "appid": APP_ID, "secret": secret});
    // Tokens.
    let v = post_json(
        url(Call::Token, None, ""),
        token_body("password", APP_SECRET),
    )
    .await;
    assert_eq!(errcode(v), 40002);
    let v = post_json(
        url(Call::Token, None, ""),
        token_body("client_credential", "nope"),
    )
    .await;
    assert_eq!(errcode(v.clone()), 40125);
    assert!(
        !v.to_string().contains("nope"),
        "the secret sent is not echoed"
    );
    let v = post_json(
        url(Call::Token, None, ""),
        token_body("client_credential", APP_SECRET),
    )
    .await;
    let token = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(v["expires_in"], 7200);
    // The same token while it is valid, a new one when forced.
    let again = post_json(
        url(Call::Token, None, ""),
        token_body("client_credential", APP_SECRET),
    )
    .await;
    assert_eq!(again["access_token"], token.as_str());
    let batch = serde_json::json!({"offset": 0, "count": 20, "no_content": 0});
    assert_eq!(
        errcode(post_json(url(Call::BatchGet, None, ""), batch.clone()).await),
        41001
    );
    assert_eq!(
        errcode(post_json(url(Call::BatchGet, Some("forged"), ""), batch.clone()).await),
        40001
    );
    assert_eq!(
        errcode(post_json(url(Call::BatchGet, Some(&token), ""), batch.clone()).await),
        0
    );
    let big = serde_json::json!({"offset": 0, "count": 21});
    assert_eq!(
        errcode(post_json(url(Call::BatchGet, Some(&token), ""), big).await),
        40035
    );
    let r = http
        .get(url(Call::BatchGet, Some(&token), ""))
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(r.json().await.unwrap()), 43002);

    // Uploads.
    let png = small_png(7);
    let up = url(Call::UploadImg, Some(&token), "");
    assert_eq!(
        errcode(upload(up.clone(), "file", "a.png", png.clone()).await),
        41005
    );
    assert_eq!(
        errcode(upload(up.clone(), "media", "a.jpg", png.clone()).await),
        40005
    );
    assert_eq!(
        errcode(
            upload(
                up.clone(),
                "media",
                "a.gif",
                encoded(&noise(4, 4, 1), ImageFormat::Gif)
            )
            .await
        ),
        40005
    );
    assert_eq!(
        errcode(upload(up.clone(), "media", "a.png", HUGE_PNG.clone()).await),
        40009
    );
    let ok = upload(up.clone(), "media", "a.png", png.clone()).await;
    let issued = ok["url"].as_str().unwrap().to_string();
    let mat = url(Call::AddMaterial, Some(&token), "type=image");
    assert_eq!(
        errcode(
            upload(
                url(Call::AddMaterial, Some(&token), "type=video"),
                "media",
                "a.png",
                png.clone()
            )
            .await
        ),
        40004
    );
    let thumb = upload(mat, "media", "a.png", png.clone()).await["media_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Drafts.
    let draft = |content: &str, title: &str, thumb: &str| {
        serde_json::json!({"articles": [{
            "article_type": "news", "title": title, "author": "", "digest": "",
            "content": content, "content_source_url": "https://www.example.org/a.html",
            "thumb_media_id": thumb, "need_open_comment": 0, "only_fans_can_comment": 0,
        }]})
    };
    let add = url(Call::DraftAdd, Some(&token), "");
    let refused = [
        (
            draft(
                "<p>x</p><img src=\"https://www.example.org/a.png\">",
                "外链图片",
                &thumb,
            ),
            45166,
        ),
        (
            draft("<p>x</p><script>alert(1)</script>", "脚本", &thumb),
            45166,
        ),
        (draft("<p>x</p>", &"长".repeat(33), &thumb), 45003),
        (draft("<p>x</p>", "缩略图不对", "nope"), 40007),
        (draft(&"字".repeat(20_000), "正文太长", &thumb), 45002),
        (draft("<p>x</p>", "", &thumb), 44003),
        (serde_json::json!({"articles": []}), 44003),
    ];
    for (body, code) in refused {
        assert_eq!(
            errcode(post_json(add.clone(), body.clone()).await),
            code,
            "{body}"
        );
    }
    let r = http
        .post(add.clone())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(r.json().await.unwrap()), 47001);
    assert!(
        load_drafts(mock.dir()).is_empty(),
        "nothing refused is stored"
    );
    let ok = post_json(
        add,
        draft(&format!("<p>x</p><img src=\"{issued}\">"), "正常", &thumb),
    )
    .await;
    let media_id = ok["media_id"].as_str().unwrap().to_string();

    // Submitting: once per draft.
    let submit = url(Call::Submit, Some(&token), "");
    let v = post_json(submit.clone(), serde_json::json!({"media_id": media_id})).await;
    assert_eq!(errcode(v.clone()), 0);
    assert!(
        v["publish_id"].as_str().is_some() && v["msg_data_id"].as_str().is_some(),
        "{v}"
    );
    let v = post_json(submit, serde_json::json!({"media_id": media_id})).await;
    assert_eq!(errcode(v), 40007);
    assert_eq!(load_published(mock.dir()).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn the_mock_keeps_drafts_and_publications_across_restarts_but_not_tokens() {
    let mock = start_mock(MockOptions::default()).await;
    let site = start_site().await;
    let p = post(&site, "重启之前发的");
    assert!(matches!(
        client(&mock).publish(&p).await,
        Outcome::Published { .. }
    ));
    let data = mock.stop().await;
    let mock = start_mock_in(data, MockOptions::default()).await;
    let w = client(&mock);
    assert!(w.lookup(&p).await.unwrap().is_some());
    assert_eq!(load_published(mock.dir()).len(), 1);
    assert_eq!(load_drafts(mock.dir()).len(), 1);
    let index = reqwest::get(mock.base.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(index.contains("重启之前发的"), "{index}");
    mock.stop().await;
}

#[tokio::test]
async fn the_mock_wechat_command_serves_the_double_with_its_options() {
    use std::io::BufRead;
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_autosync"))
        .args(["mock-wechat", "--listen", "127.0.0.1:0", "--app-id", APP_ID])
        .arg("--data")
        .arg(data.path())
        .env("AUTOSYNC_MOCK_WECHAT_SECRET", APP_SECRET)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mock wechat account listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let token = |secret: &'static str| {
        let addr = addr.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{addr}/cgi-bin/stable_token"))
                .json(&serde_json::json!({"grant_type": "client_credential", "appid": APP_ID, "secret": secret}))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let ok = token(APP_SECRET).await;
    let wrong = token("mock-app-secret").await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ok["access_token"].as_str().is_some(), "{ok}");
    assert_eq!(
        wrong["errcode"], 40125,
        "the secret came from the environment"
    );
    assert_eq!(load_calls(data.path()).len(), 2);
}
