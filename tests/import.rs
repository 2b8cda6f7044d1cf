//! `autosync import` and `autosync roster`: certification forms made here in
//! each format (xlsx by rust_xlsxwriter with a merged two-row header, a GBK
//! CSV, a docx built with the zip crate), the rules that need the whole
//! import (duplicates, also against the config), personal data kept out of
//! everything but the 0600 roster, and the round trip import → check →
//! roster.

use assert_cmd::Command;
use autosync::import::probe::{FoundSource, Probe, SourceFinder};
use autosync::import::problems::{Fault, FirstSeen, RowAt, Severity};
use autosync::import::{Column, Options, Request};
use std::path::PathBuf;
use url::Url;

#[path = "import/forms.rs"]
mod forms;
use forms::{bad_check, docx_form, gbk_csv, good_rows, xls_form, xlsx_form};

fn autosync() -> Command {
    Command::cargo_bin("autosync").unwrap()
}

/// The existing config: the province the imported units hang under.
const BASE: &str = r#"[daemon]
state_dir = "state"
listen = "127.0.0.1:1"

[[unit]]
id = "sx-kx"
account_name = "示例省科协"
org_name = "示例省科学技术协会"
level = "provincial"
site = "https://www.sxast.org.cn/"
  [[unit.source]]
  feed = "https://www.sxast.org.cn/rss.xml"
  [unit.publisher]
  kind = "file"
  dir = "out"
"#;

fn import_lib(
    files: &[PathBuf],
    existing: Option<&autosync::config::Config>,
) -> autosync::import::Import {
    let existing = existing
        .map(autosync::import::validate::Existing::of)
        .unwrap_or_default();
    autosync::import::import(files, &existing)
}

/// What one format's import must give: three units, in order, with the
/// ids, names and sites of the rows; the responsible person found.
fn assert_three_good_units(files: &[PathBuf]) {
    let imp = import_lib(files, None);
    assert!(!imp.has_unusable(), "{:#?}", imp.problems);
    let got: Vec<(&str, &str, &str)> = imp
        .units
        .iter()
        .map(|u| (u.id.as_str(), u.account_name.as_str(), u.site.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("jiakx", "甲市科协", "https://www.jiakx.org.cn/"),
            ("kx-yi", "乙县科协", "http://kx.yi.gov.cn/"),
            ("bing", "丙大学科协", "http://bing.edu.cn/"),
        ]
    );
    // The bare host is imported and said so.
    assert!(
        imp.problems
            .iter()
            .all(|p| p.severity() == Severity::Warning)
    );
    assert!(
        imp.problems
            .iter()
            .any(|p| matches!(p.fault, Fault::SiteSchemeAdded { .. }))
    );
    let p = &imp.units[1].personal;
    assert_eq!(p.phone.as_deref(), Some("029-88886666"));
    assert_eq!(p.operator_name.as_deref(), Some("李四"));
    assert_eq!(imp.units[2].personal.phone.as_deref(), Some("0917-3212345"));
    let who = imp.units[0].personal.responsible.clone().unwrap();
    assert_eq!(who.name.as_deref(), Some("赵六"));
    assert_eq!(who.phone.as_deref(), Some("13900001111"));
}

#[test]
fn xlsx_form_with_merged_two_row_header_imports() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("甲市.xlsx");
    xlsx_form(&f, &good_rows());
    assert_three_good_units(std::slice::from_ref(&f));
    // Rows are named as the spreadsheet numbers them.
    let imp = import_lib(&[f], None);
    assert_eq!(imp.units[0].origin.row, RowAt::Line(5));
    assert_eq!(imp.units[0].personal.phone.as_deref(), Some("13800000001"));
}

#[test]
fn xls_form_with_merged_two_row_header_imports() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("甲市.xls");
    xls_form(&f, &good_rows());
    assert_three_good_units(std::slice::from_ref(&f));
    let imp = import_lib(&[f], None);
    assert_eq!(imp.units[0].origin.row, RowAt::Line(5));
}

#[test]
fn gbk_csv_form_imports() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("乙县.csv");
    gbk_csv(&f, &good_rows());
    assert_three_good_units(&[f]);
}

#[test]
fn docx_form_table_imports() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("丙.docx");
    docx_form(&f, &good_rows());
    assert_three_good_units(std::slice::from_ref(&f));
    let imp = import_lib(&[f], None);
    assert_eq!(
        imp.units[0].origin.row,
        RowAt::TableRow { table: 1, row: 2 }
    );
}

#[test]
fn unreadable_and_unsupported_files_are_problems_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("old.doc");
    std::fs::write(&doc, b"\xD0\xCF\x11\xE0").unwrap();
    let broken = dir.path().join("broken.xlsx");
    std::fs::write(&broken, b"not a zip").unwrap();
    let blank = dir.path().join("blank.csv");
    std::fs::write(&blank, "随便,写点\n什么,\n").unwrap();
    let imp = import_lib(&[doc, broken, blank], None);
    let faults: Vec<&Fault> = imp.problems.iter().map(|p| &p.fault).collect();
    assert!(matches!(faults[0], Fault::UnsupportedFormat { extension } if extension == "doc"));
    assert!(matches!(faults[1], Fault::Unreadable { .. }));
    assert_eq!(faults[2], &Fault::NoHeader);
    assert!(imp.has_unusable());
}

/// One bad row among good ones: its fault, in its row and column, and the
/// good rows still imported.
fn one_bad_row(column: usize, value: &str) -> autosync::import::Import {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = good_rows();
    rows[1][column] = value.to_string();
    let f = dir.path().join("f.csv");
    gbk_csv(&f, &rows);
    let imp = import_lib(&[f], None);
    assert_eq!(imp.units.len(), 2, "{:#?}", imp.problems);
    assert!(imp.has_unusable());
    let bad: Vec<_> = imp
        .problems
        .iter()
        .filter(|p| p.severity() == Severity::Unusable)
        .collect();
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(bad[0].row, Some(RowAt::Line(5)));
    imp
}

fn unusable_fault(imp: &autosync::import::Import) -> (Column, Fault) {
    let p = imp
        .problems
        .iter()
        .find(|p| p.severity() == Severity::Unusable)
        .unwrap();
    (p.column.unwrap(), p.fault.clone())
}

#[test]
fn account_name_over_ten_characters_keeps_the_row_out() {
    let imp = one_bad_row(0, "乙县科学技术协会官方号");
    assert_eq!(
        unusable_fault(&imp),
        (Column::AccountName, Fault::AccountNameTooLong { chars: 11 })
    );
}

#[test]
fn empty_organisation_keeps_the_row_out() {
    let imp = one_bad_row(1, " ");
    assert_eq!(unusable_fault(&imp), (Column::OrgName, Fault::OrgNameEmpty));
}

#[test]
fn id_number_failing_the_check_digit_keeps_the_row_out_masked() {
    let bad = bad_check("61010219900101002");
    let imp = one_bad_row(4, &bad);
    let (col, fault) = unusable_fault(&imp);
    assert_eq!(col, Column::OperatorId);
    assert_eq!(
        fault,
        Fault::IdCheckDigit {
            masked: format!("6101**********{}", &bad[14..])
        }
    );
}

#[test]
fn phone_neither_mobile_nor_landline_with_area_code_keeps_the_row_out() {
    let imp = one_bad_row(5, "8888666");
    assert_eq!(
        unusable_fault(&imp).1,
        Fault::PhoneNoAreaCode {
            masked: "888**66".into()
        }
    );
    let imp = one_bad_row(5, "1234");
    assert!(matches!(unusable_fault(&imp).1, Fault::PhoneInvalid { .. }));
}

#[test]
fn email_without_a_domain_keeps_the_row_out() {
    let imp = one_bad_row(2, "yikx@localhost");
    assert_eq!(
        unusable_fault(&imp),
        (
            Column::Email,
            Fault::EmailNoDomain {
                value: "y**x@localhost".into()
            }
        )
    );
}

#[test]
fn site_that_is_not_http_keeps_the_row_out() {
    let imp = one_bad_row(6, "ftp://kx.yi.gov.cn/");
    assert_eq!(
        unusable_fault(&imp),
        (
            Column::Site,
            Fault::SiteNotHttp {
                value: "ftp://kx.yi.gov.cn/".into()
            }
        )
    );
}

#[test]
fn duplicate_account_name_keeps_the_second_row_out() {
    let imp = one_bad_row(0, "甲市科协");
    let (col, fault) = unusable_fault(&imp);
    assert_eq!(col, Column::AccountName);
    let Fault::DuplicateAccountName { name, first } = fault else {
        panic!("{fault:?}")
    };
    assert_eq!(name, "甲市科协");
    assert!(matches!(first, FirstSeen::Row(o) if o.row == RowAt::Line(4)));
}

#[test]
fn duplicate_site_keeps_the_second_row_out() {
    // Another scheme, no www, a trailing path slash: the same site.
    let imp = one_bad_row(6, "http://jiakx.org.cn");
    let (col, fault) = unusable_fault(&imp);
    assert_eq!(col, Column::Site);
    assert!(
        matches!(
            fault,
            Fault::DuplicateSite {
                first: FirstSeen::Row(_),
                ..
            }
        ),
        "{fault:?}"
    );
}

#[test]
fn duplicates_against_the_existing_config_keep_rows_out() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = autosync::config::parse(BASE, &dir.path().join("autosync.toml")).unwrap();
    let mut rows = good_rows();
    rows[0][0] = "示例省科协".into();
    rows[2][6] = "http://sxast.org.cn/".into();
    let f = dir.path().join("f.csv");
    gbk_csv(&f, &rows);
    let imp = import_lib(&[f], Some(&cfg));
    let faults: Vec<Fault> = imp
        .problems
        .iter()
        .filter(|p| p.severity() == Severity::Unusable)
        .map(|p| p.fault.clone())
        .collect();
    let in_config = FirstSeen::Config {
        unit: "sx-kx".into(),
    };
    assert_eq!(
        faults,
        [
            Fault::DuplicateAccountName {
                name: "示例省科协".into(),
                first: in_config.clone()
            },
            Fault::DuplicateSite {
                site: "http://sxast.org.cn/".into(),
                first: in_config
            },
        ]
    );
    assert_eq!(imp.units.len(), 1);
}

#[test]
fn a_form_imported_before_is_skipped_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.csv");
    gbk_csv(&f, &good_rows());
    let first = import_lib(std::slice::from_ref(&f), None);
    let mut text = BASE.to_string();
    text.push_str(&autosync::import::output::units_toml(
        &first.units,
        &Options::default(),
    ));
    // check wants sources today; the import's own output otherwise.
    let text = text.replace(
        "  [[unit.publisher]]\n  kind = \"toutiao\"",
        "  [[unit.source]]\n  feed = \"https://x.example/rss\"\n  [[unit.publisher]]\n  kind = \"toutiao\"",
    );
    let cfg = autosync::config::parse(&text, &dir.path().join("autosync.toml")).unwrap();
    // The same form again, one row corrected into a new unit.
    let mut rows = good_rows();
    rows[2][0] = "丁大学科协".into();
    rows[2][6] = "https://ding.edu.cn/".into();
    gbk_csv(&f, &rows);
    let again = import_lib(&[f], Some(&cfg));
    assert!(!again.has_unusable(), "{:#?}", again.problems);
    let skipped: Vec<&Fault> = again
        .problems
        .iter()
        .map(|p| &p.fault)
        .filter(|f| matches!(f, Fault::AlreadyInConfig { .. }))
        .collect();
    assert_eq!(
        skipped,
        [
            &Fault::AlreadyInConfig {
                unit: "jiakx".into()
            },
            &Fault::AlreadyInConfig {
                unit: "kx-yi".into()
            }
        ]
    );
    let ids: Vec<&str> = again.units.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["ding"]);
}

#[test]
fn ids_stay_unique_against_the_config_and_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let base = BASE.replace("id = \"sx-kx\"", "id = \"jiakx\"");
    let cfg = autosync::config::parse(&base, &dir.path().join("autosync.toml")).unwrap();
    let mut rows = good_rows();
    // Another host of the same name under another suffix.
    rows[1][6] = "https://jiakx.gov.cn/".into();
    let f = dir.path().join("f.csv");
    gbk_csv(&f, &rows);
    let imp = import_lib(&[f], Some(&cfg));
    let ids: Vec<&str> = imp.units.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["jiakx-2", "jiakx-3", "bing"]);
}

/// The CLI: usable rows written, the problems table on stderr in Chinese,
/// exit 3; no ID number or phone anywhere but the 0600 roster.
#[test]
fn unusable_row_exits_non_zero_and_personal_data_goes_only_to_the_roster() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut rows = good_rows();
    let bad_id = bad_check("61010219900101002");
    rows[1][4] = bad_id.clone();
    std::fs::create_dir(dir.path().join("乙县")).unwrap();
    gbk_csv(&dir.path().join("乙县/f.csv"), &rows);
    let out = dir.path().join("units.toml");
    let roster = dir.path().join("roster.xlsx");
    let problems = dir.path().join("problems.csv");
    let run = autosync()
        .current_dir(dir.path())
        .arg("import")
        .arg("乙县/f.csv")
        .args(["--level", "city", "-o"])
        .arg(&out)
        .arg("--roster")
        .arg(&roster)
        .arg("--problems")
        .arg(&problems)
        .assert()
        .code(3);
    let stdout = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(
        stderr.contains("级别\t文件\t行\t列\t问题\t如何修改"),
        "{stderr}"
    );
    assert!(
        stderr.contains("不可用\t乙县/f.csv\t第 5 行\t运营人身份证\t"),
        "{stderr}"
    );
    assert!(stderr.contains("共读取 3 行，导入 2 个单位"), "{stderr}");
    let toml = std::fs::read_to_string(&out).unwrap();
    assert_eq!(toml.matches("[[unit]]").count(), 2);
    assert!(toml.contains("cookie_credential = \"secrets_jiakx\""));
    assert!(toml.contains("level = \"city\""));
    // The problems file holds the printed table's rows.
    let problems = std::fs::read_to_string(&problems).unwrap();
    assert!(
        problems.starts_with("\u{FEFF}级别,文件,行,列,问题,如何修改\n"),
        "{problems}"
    );
    assert!(
        problems.contains("不可用,乙县/f.csv,第 5 行,运营人身份证,"),
        "{problems}"
    );
    // Nothing personal in the config, the output or the problems table.
    let good_id = &rows[0][4];
    for secret in [
        good_id.as_str(),
        bad_id.as_str(),
        "13800000001",
        "(0917)3212345",
        "0917-3212345",
        "张三",
        "赵六",
        "13900001111",
        "jia@jiakx.org.cn",
    ] {
        for (what, text) in [
            ("units", &toml),
            ("stdout", &stdout),
            ("stderr", &stderr),
            ("problems", &problems),
        ] {
            assert!(!text.contains(secret), "{secret} in {what}");
        }
    }
    // The roster has them, owner-only, as text cells.
    let mode = std::fs::metadata(&roster).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&roster).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let cell = |r: u32, c: u32| range.get_value((r, c)).unwrap().to_string();
    assert_eq!(cell(0, 6), "运营人身份证");
    assert_eq!(cell(1, 0), "jiakx");
    assert_eq!(cell(1, 6), *good_id);
    assert_eq!(cell(1, 7), "13800000001");
    assert_eq!(cell(1, 8), "赵六");
    assert_eq!(range.get_size().0, 3);
}

#[test]
fn parent_must_be_a_unit_of_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("autosync.toml");
    std::fs::write(&cfg, BASE).unwrap();
    let f = dir.path().join("f.csv");
    gbk_csv(&f, &good_rows());
    autosync()
        .arg("import")
        .arg(&f)
        .arg("-c")
        .arg(&cfg)
        .args(["--parent", "nope"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--parent \"nope\" is not a unit of",
        ));
}

/// Sources by host: a feed, a list page, or the site cannot be reached.
struct LocalFinder;

#[async_trait::async_trait]
impl SourceFinder for LocalFinder {
    async fn find(&self, site: &Url) -> Result<Vec<FoundSource>, String> {
        match site.host_str() {
            Some("www.jiakx.org.cn") => Ok(vec![FoundSource::Feed(site.join("rss.xml").unwrap())]),
            Some("kx.yi.gov.cn") => Ok(vec![
                FoundSource::List(site.join("xwdt/").unwrap()),
                FoundSource::List(site.join("tzgg/").unwrap()),
            ]),
            _ => Err("connection refused".into()),
        }
    }
}

/// Forms in three formats → import with probing → `autosync check`
/// accepts the config → `autosync roster` lists every account under the
/// province, in tree order, in each format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_import_check_roster() {
    let dir = tempfile::tempdir().unwrap();
    let base_path = dir.path().join("autosync.toml");
    std::fs::write(&base_path, BASE).unwrap();
    let base = autosync::config::load(&base_path).unwrap();
    let rows = good_rows();
    let (xlsx, csv, docx) = (
        dir.path().join("a.xlsx"),
        dir.path().join("b.csv"),
        dir.path().join("c.docx"),
    );
    xlsx_form(&xlsx, &rows[..1]);
    gbk_csv(&csv, &rows[1..2]);
    docx_form(&docx, &rows[2..]);
    let units = dir.path().join("units.toml");
    let done = autosync::import::run(Request {
        files: vec![xlsx, csv, docx],
        options: Options {
            parent: Some("sx-kx".into()),
            level: Some(autosync::config::Level::City),
        },
        existing: Some(&base),
        probe: Some(&LocalFinder),
        output: Some(units.clone()),
        roster: None,
        problems: None,
    })
    .await
    .unwrap();
    assert!(!done.import.has_unusable(), "{:#?}", done.import.problems);
    assert!(matches!(&done.import.units[2].probe, Probe::Failed(e) if e == "connection refused"));
    let written = std::fs::read_to_string(&units).unwrap();
    assert_eq!(written, done.toml);
    // The unreachable site gets a comment, not a guessed source.
    assert!(written.contains("# 探测失败，未写入来源（不猜测）：connection refused"));
    assert_eq!(written.matches("[[unit.source]]").count(), 3);

    // `check` today wants a source on every unit (binding a bare site is
    // site discovery's): the unreachable one gets its feed by hand.
    let written = written.replace(
        "# 探测失败，未写入来源（不猜测）：connection refused\n",
        "  [[unit.source]]\n  feed = \"http://bing.edu.cn/rss.xml\"\n",
    );
    let mut full = BASE.to_string();
    full.push_str(&written);
    std::fs::write(&base_path, &full).unwrap();
    autosync()
        .args(["check", "-c"])
        .arg(&base_path)
        .assert()
        .success()
        .stdout(predicates::str::contains("ok, 4 unit(s)"));

    let out = autosync()
        .args(["roster", "--format", "json", "-c"])
        .arg(&base_path)
        .assert()
        .success();
    let rows: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let col = |k: &str| -> Vec<&str> { rows.iter().map(|r| r[k].as_str().unwrap()).collect() };
    assert_eq!(col("unit"), ["sx-kx", "jiakx", "kx-yi", "bing"]);
    assert_eq!(col("parent"), ["", "sx-kx", "sx-kx", "sx-kx"]);
    assert_eq!(col("level"), ["省级", "市级", "市级", "市级"]);
    assert_eq!(col("platform"), ["file", "toutiao", "toutiao", "toutiao"]);
    assert_eq!(col("state"), ["尚未运行"; 4]);
    assert_eq!(
        rows[2]["sources"],
        "list http://kx.yi.gov.cn/xwdt/\nlist http://kx.yi.gov.cn/tzgg/"
    );

    // xlsx and csv carry the same rows under Chinese headings.
    let xlsx_out = dir.path().join("roster.xlsx");
    autosync()
        .args(["roster", "-c"])
        .arg(&base_path)
        .arg("-o")
        .arg(&xlsx_out)
        .assert()
        .success();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx_out).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.get_value((0, 0)).unwrap().to_string(), "层级");
    assert_eq!(range.get_value((4, 2)).unwrap().to_string(), "bing");
    let csv_out = autosync()
        .args(["roster", "-c"])
        .arg(&base_path)
        .assert()
        .success();
    let text = String::from_utf8(csv_out.get_output().stdout.clone()).unwrap();
    assert!(
        text.starts_with("\u{FEFF}层级,上级单位,单位,账号,"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + 4 + 1, "{text}"); // kx-yi's two sources span two lines
}

/// The roster reads each account's state and last post from the store, as
/// `status` does: a paused account and a post show.
#[tokio::test]
async fn roster_shows_account_state_and_last_post_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("autosync.toml");
    std::fs::write(&path, BASE).unwrap();
    let cfg = autosync::config::load(&path).unwrap();
    {
        let store = autosync::store::Store::open(&cfg.daemon.state_dir).unwrap();
        let key = autosync::model::AccountKey {
            unit: "sx-kx".into(),
            account: "示例省科协".into(),
        };
        let since = chrono::DateTime::parse_from_rfc3339("2026-11-30T02:00:00Z")
            .unwrap()
            .to_utc();
        let state = autosync::model::AccountState {
            paused: Some(autosync::model::Pause {
                reason: autosync::model::PauseReason::LoginExpired {
                    detail: "expired".into(),
                },
                since,
            }),
            ..Default::default()
        };
        store.put_account_state(&key, &state).await.unwrap();
    }
    let out = autosync()
        .args(["roster", "--format", "json", "-c"])
        .arg(&path)
        .assert()
        .success();
    let rows: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        rows[0]["state"],
        "已暂停（自 2026-11-30 10:00）：登录已过期，请更新 Cookie"
    );
    assert_eq!(rows[0]["last_post"], "从未发布");
}

/// After a real pass (`autosync once` against the sample site, a `file`
/// account), the roster shows the account's last post in `[daemon]
/// timezone` and its state as ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_shows_the_last_post_after_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let serve = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            autosync::demo::SampleSite::new()
                .serve(listener, shutdown)
                .await
        })
    };
    let cfg = dir.path().join("autosync.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[daemon]
state_dir = "state"
listen = "127.0.0.1:1"
timezone = "Asia/Shanghai"
[fetch]
host_delay_ms = 0
[[unit]]
id = "demo-city"
account_name = "示例市科协"
org_name = "示例市科学技术协会"
level = "city"
site = "http://{site}/"
backfill = 2
  [[unit.source]]
  feed = "http://{site}/rss.xml"
  [unit.publisher]
  kind = "file"
  dir = "out"
"#
        ),
    )
    .unwrap();
    let before = chrono::Utc::now();
    let cfg2 = cfg.clone();
    let once = tokio::task::spawn_blocking(move || {
        autosync().args(["once", "-c"]).arg(&cfg2).output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        once.status.success(),
        "{}",
        String::from_utf8_lossy(&once.stdout)
    );
    let cfg2 = cfg.clone();
    let out = tokio::task::spawn_blocking(move || {
        autosync()
            .args(["roster", "--format", "json", "-c"])
            .arg(&cfg2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    shutdown.cancel();
    serve.await.unwrap().unwrap();
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["state"], "正常");
    let shown = rows[0]["last_post"].as_str().unwrap();
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let t = chrono::NaiveDateTime::parse_from_str(shown, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{shown:?}: {e}"));
    let t = t.and_local_timezone(tz).unwrap().to_utc();
    // Shown to the minute, in Beijing time.
    assert!(
        t >= before - chrono::Duration::minutes(1) && t <= chrono::Utc::now(),
        "{shown}"
    );
}
