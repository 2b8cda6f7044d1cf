//! What the import writes: `[[unit]]` tables to append to the config, and
//! the private roster of the people behind each account.
//!
//! The tables carry nothing personal: operators, ID numbers, phones and
//! mailboxes go only into the roster (mode 0600). Each table says where it
//! came from (file and row) and what is left to do (the account's cookie,
//! a level to check, a probe that failed) in comments, in Chinese: the
//! centre's staff review the file before appending it.

use super::probe::{FoundSource, Probe};
use super::{ImportedUnit, Options};
use crate::roster::Table;

/// A TOML string literal (quoted and escaped).
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Comment text on one line, whatever a cell or an error held.
fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The `[[unit]]` tables of `units`, each with a toutiao publisher to fill
/// in: the cookie's credential name is prepared, the cookie is not.
pub fn units_toml(units: &[ImportedUnit], opts: &Options) -> String {
    let mut out = format!(
        "# autosync import：{} 个单位。核对后追加到配置文件，运行 autosync check，再 systemctl reload autosync。\n",
        units.len()
    );
    let level = opts.level.unwrap_or(crate::config::Level::Other);
    let level_name = toml::Value::try_from(level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "other".into());
    for u in units {
        out.push_str(&format!(
            "\n# 来自 {}\n[[unit]]\n",
            comment(&u.origin.to_string())
        ));
        out.push_str(&format!("id = {}\n", quoted(&u.id)));
        out.push_str(&format!("account_name = {}\n", quoted(&u.account_name)));
        out.push_str(&format!("org_name = {}\n", quoted(&u.org_name)));
        if opts.level.is_none() {
            out.push_str("# 级别未指定（--level），暂按 other 写入，请核对\n");
        }
        out.push_str(&format!("level = {}\n", quoted(&level_name)));
        if let Some(p) = &opts.parent {
            out.push_str(&format!("parent = {}\n", quoted(p)));
        }
        out.push_str(&format!("site = {}\n", quoted(u.site.as_str())));
        match &u.probe {
            Probe::NotAsked => out.push_str("# 未探测来源：首次轮询时从官网自动发现\n"),
            Probe::NothingFound => out.push_str(
                "# 探测：官网首页没有找到订阅源或新闻栏目，未写入来源；首次轮询时再找，或手工添加 [[unit.source]]\n",
            ),
            Probe::Failed(why) => out.push_str(&format!(
                "# 探测失败，未写入来源（不猜测）：{}\n",
                comment(why)
            )),
            Probe::Found(sources) => {
                for s in sources {
                    out.push_str("  [[unit.source]]\n");
                    match s {
                        FoundSource::Feed(u) => {
                            out.push_str(&format!("  feed = {}\n", quoted(u.as_str())))
                        }
                        FoundSource::List(u) => {
                            out.push_str(&format!("  list = {}\n", quoted(u.as_str())))
                        }
                    }
                }
            }
        }
        out.push_str(
            "  [[unit.publisher]]\n  kind = \"toutiao\"\n  base_url = \"https://mp.toutiao.com\"\n",
        );
        out.push_str(&format!(
            "  # 登录该头条号后，把 Cookie 存为 /etc/autosync/secrets/{id}（权限 0600），再 systemctl reload autosync\n  cookie_credential = {}\n",
            quoted(&format!("secrets_{}", u.id)),
            id = u.id
        ));
    }
    out
}

/// The roster's columns (`--roster FILE`).
pub const PERSONAL_COLUMNS: [(&str, &str); 12] = [
    ("unit", "单位ID"),
    ("account", "头条号名称"),
    ("org_name", "机构名称"),
    ("site", "官方网站"),
    ("email", "登录邮箱"),
    ("operator", "运营人姓名"),
    ("operator_id", "运营人身份证"),
    ("phone", "联系电话"),
    ("responsible", "负责人"),
    ("responsible_phone", "负责人手机"),
    ("file", "来源文件"),
    ("row", "行"),
];

/// The people behind the imported accounts, for `--roster` only.
pub fn personal_table(units: &[ImportedUnit]) -> Table {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let rows = units
        .iter()
        .map(|u| {
            let p = &u.personal;
            let r = p.responsible.clone().unwrap_or_default();
            vec![
                u.id.clone(),
                u.account_name.clone(),
                u.org_name.clone(),
                u.site.to_string(),
                o(&p.email),
                o(&p.operator_name),
                o(&p.operator_id),
                o(&p.phone),
                o(&r.name),
                o(&r.phone),
                u.origin.file.clone(),
                u.origin.row.to_string(),
            ]
        })
        .collect();
    Table {
        columns: PERSONAL_COLUMNS.to_vec(),
        rows,
    }
}
