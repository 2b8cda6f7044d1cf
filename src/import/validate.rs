//! Rows to units: every rule on every field, duplicates against the rows
//! before and the existing config, and each unit's stable id.
//!
//! A row with an unusable fault is not imported; its account name and site
//! still count for the duplicate checks, so the row after it that repeats
//! them is told which row it repeats. The first of two duplicates is
//! kept: forms are read in the order given.

use super::probe::Probe;
use super::problems::{Fault, FirstSeen, Problem, Severity};
use super::{Column, Form, FormRow, ImportedUnit, Personal, rules};
use crate::config::Config;
use std::collections::{BTreeSet, HashMap};
use url::Url;

/// What the existing config already holds: ids, account names and sites.
#[derive(Debug, Default)]
pub struct Existing {
    ids: BTreeSet<String>,
    accounts: HashMap<String, String>,
    sites: HashMap<String, String>,
}

impl Existing {
    pub fn of(cfg: &Config) -> Existing {
        let mut e = Existing::default();
        for u in &cfg.units {
            e.ids.insert(u.id.clone());
            for name in u.account_names() {
                e.accounts.entry(name_key(&name)).or_insert(u.id.clone());
            }
            e.sites.entry(site_key(&u.site)).or_insert(u.id.clone());
        }
        e
    }

    pub fn has_unit(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

/// Account names compare without spacing or width.
fn name_key(name: &str) -> String {
    crate::review::normalize(name)
}

/// Sites compare by host without `www.`, port and path, whatever the
/// scheme: `http://www.a.cn` and `https://a.cn/` are one site.
pub fn site_key(u: &Url) -> String {
    let host = u.host_str().unwrap_or("").to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{host}{port}{}", u.path().trim_end_matches('/'))
}

/// A stable id: from the site's host (without `www.` and the public
/// suffix: `www.sxkx.org.cn` → `sxkx`, `kx.xa.gov.cn` → `kx-xa`), else
/// from a hash of the organisation's name (a site on an IP address);
/// `-2`, `-3`… when taken.
pub fn unit_id(site: &Url, org_name: &str, taken: &BTreeSet<String>) -> String {
    let base = match site.host() {
        Some(url::Host::Domain(h)) => {
            let h = h.to_lowercase();
            let h = h.strip_prefix("www.").unwrap_or(&h).to_string();
            let stem = psl::suffix(h.as_bytes())
                .filter(|s| s.is_known() && s.as_bytes().len() < h.len())
                .map(|s| {
                    h[..h.len() - s.as_bytes().len()]
                        .trim_end_matches('.')
                        .to_string()
                })
                .unwrap_or(h);
            let id: String = stem
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            id.trim_matches('-').chars().take(48).collect::<String>()
        }
        _ => String::new(),
    };
    let base = if base.is_empty() {
        use sha2::Digest;
        let h = sha2::Sha256::digest(org_name.as_bytes());
        format!("u-{}", &hex::encode(h)[..8])
    } else {
        base
    };
    let mut id = base.clone();
    let mut n = 2;
    while taken.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// Checks every row of `forms`; the units to write and every problem.
pub fn validate(forms: &[Form], existing: &Existing) -> (Vec<ImportedUnit>, Vec<Problem>) {
    let mut units = Vec::new();
    let mut problems = Vec::new();
    let mut accounts: HashMap<String, FirstSeen> = existing
        .accounts
        .iter()
        .map(|(k, u)| (k.clone(), FirstSeen::Config { unit: u.clone() }))
        .collect();
    let mut sites: HashMap<String, FirstSeen> = existing
        .sites
        .iter()
        .map(|(k, u)| (k.clone(), FirstSeen::Config { unit: u.clone() }))
        .collect();
    let mut taken = existing.ids.clone();
    for form in forms {
        for row in &form.rows {
            let mut found = Vec::new();
            let unit = check_row(row, &mut found, &mut accounts, &mut sites);
            let unusable = found
                .iter()
                .any(|(_, f)| f.severity() == Severity::Unusable);
            problems.extend(found.into_iter().map(|(column, fault)| Problem {
                file: row.origin.file.clone(),
                row: Some(row.origin.row),
                column: Some(column),
                fault,
            }));
            if let (Some((account_name, org_name, site, mut personal)), false) = (unit, unusable) {
                personal.responsible = form.responsible.clone();
                let id = unit_id(&site, &org_name, &taken);
                taken.insert(id.clone());
                units.push(ImportedUnit {
                    origin: row.origin.clone(),
                    id,
                    account_name,
                    org_name,
                    site,
                    personal,
                    probe: Probe::NotAsked,
                });
            }
        }
    }
    (units, problems)
}

type Checked = (String, String, Url, Personal);

/// Every rule on one row; its faults pushed to `found`.
fn check_row(
    row: &FormRow,
    found: &mut Vec<(Column, Fault)>,
    accounts: &mut HashMap<String, FirstSeen>,
    sites: &mut HashMap<String, FirstSeen>,
) -> Option<Checked> {
    let cell = |c: Column| row.values.get(&c).map(String::as_str);
    fn take<T>(found: &mut Vec<(Column, Fault)>, c: Column, r: Result<T, Fault>) -> Option<T> {
        r.map_err(|f| found.push((c, f))).ok()
    }
    let account = take(
        found,
        Column::AccountName,
        rules::account_name(cell(Column::AccountName).unwrap_or("")),
    );
    let org = take(
        found,
        Column::OrgName,
        rules::org_name(cell(Column::OrgName).unwrap_or("")),
    );
    let site = take(
        found,
        Column::Site,
        rules::site(cell(Column::Site).unwrap_or("")),
    );
    // Personal fields: checked when the form has the column, warned about
    // when it is there and empty.
    let mut personal = Personal::default();
    if let Some(v) = cell(Column::OperatorId) {
        personal.operator_id = take(found, Column::OperatorId, rules::resident_id(v)).flatten();
    }
    if let Some(v) = cell(Column::Phone) {
        personal.phone = take(found, Column::Phone, rules::phone(v)).flatten();
    }
    if let Some(v) = cell(Column::Email) {
        personal.email = take(found, Column::Email, rules::email(v)).flatten();
    }
    if let Some(v) = cell(Column::OperatorName) {
        personal.operator_name = Some(v.trim().to_string()).filter(|v| !v.is_empty());
    }
    for c in [
        Column::OperatorName,
        Column::OperatorId,
        Column::Phone,
        Column::Email,
    ] {
        if cell(c).is_some_and(|v| v.trim().is_empty()) {
            found.push((c, Fault::Missing(c)));
        }
    }
    let site = site.map(|(url, warning)| {
        if let Some(w) = warning {
            found.push((Column::Site, w));
        }
        url
    });
    let account_prev = account
        .as_ref()
        .and_then(|n| accounts.get(&name_key(n)).cloned());
    let site_prev = site.as_ref().and_then(|u| sites.get(&site_key(u)).cloned());
    // The same account at the same site as a unit of the config: a form
    // imported before (sent again, corrected). Nothing to write, nothing
    // wrong.
    if let (Some(FirstSeen::Config { unit: a }), Some(FirstSeen::Config { unit: b })) =
        (&account_prev, &site_prev)
        && a == b
    {
        found.push((
            Column::AccountName,
            Fault::AlreadyInConfig { unit: a.clone() },
        ));
        return None;
    }
    if let Some(name) = &account {
        match account_prev {
            Some(first) => found.push((
                Column::AccountName,
                Fault::DuplicateAccountName {
                    name: name.clone(),
                    first,
                },
            )),
            None => {
                accounts.insert(name_key(name), FirstSeen::Row(row.origin.clone()));
            }
        }
    }
    if let Some(url) = &site {
        match site_prev {
            Some(first) => found.push((
                Column::Site,
                Fault::DuplicateSite {
                    site: url.to_string(),
                    first,
                },
            )),
            None => {
                sites.insert(site_key(url), FirstSeen::Row(row.origin.clone()));
            }
        }
    }
    Some((account?, org?, site?, personal))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn ids_come_from_the_domain_and_stay_unique() {
        let none = BTreeSet::new();
        assert_eq!(
            unit_id(&url("https://www.sxkx.org.cn/"), "x", &none),
            "sxkx"
        );
        assert_eq!(unit_id(&url("http://kx.xa.gov.cn/"), "x", &none), "kx-xa");
        assert_eq!(
            unit_id(&url("https://example.com:8443/a"), "x", &none),
            "example"
        );
        let taken: BTreeSet<String> = ["sxkx".to_string(), "sxkx-2".to_string()].into();
        assert_eq!(unit_id(&url("https://sxkx.org.cn/"), "x", &taken), "sxkx-3");
        // No domain: from the name, the same every time.
        let a = unit_id(&url("http://10.1.2.3/"), "示例市科学技术协会", &none);
        assert!(a.starts_with("u-") && a.len() == 10, "{a}");
        assert_eq!(
            a,
            unit_id(&url("http://10.1.2.4/"), "示例市科学技术协会", &none)
        );
    }

    #[test]
    fn sites_compare_without_scheme_www_and_trailing_slash() {
        assert_eq!(
            site_key(&url("http://www.A.cn")),
            site_key(&url("https://a.cn/"))
        );
        assert_ne!(
            site_key(&url("https://a.cn/")),
            site_key(&url("https://b.a.cn/"))
        );
    }
}
