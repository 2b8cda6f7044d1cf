//! The editors file (`[daemon] editors_file`): who may use the desk, with
//! which token, on which units.
//!
//! Tokens are passwords, so they live in a file of their own that only the
//! service reads (0600), not in the config, which anyone on the host may
//! read (0644; see `deploy/install.sh`). The file is read after the config
//! and checked against it: every unit an editor is limited to must exist.
//!
//! An editor's `units` reach their subtrees (a province's editor acts on
//! its cities and counties) when the file says `subtree = true`, or the
//! editor does. Absent, a listed unit means exactly that unit: files
//! written before subtrees existed listed exact units, and widening an
//! editor's reach without anyone asking would be a security change made by
//! an upgrade. `check` warns about a file that lists units and does not
//! say which. The reach is resolved here, against the config's tree, each
//! time the file is loaded (at start and on every reload), so a county
//! added under a province joins its editor's reach, and
//! [`Editor::may_act_on`] stays a look-up that every caller (desk, API,
//! accounts and report pages, broadcast targets) follows unchanged.

use super::error::{line_of, not_toml, unreadable};
use super::{Config, ConfigError, ConfigErrors};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;
use toml::Spanned;

/// An editor of the desk, from `[daemon] editors_file`.
#[derive(Debug, Clone)]
pub struct Editor {
    pub name: String,
    pub token: Secret,
    /// The units the editor may act on, resolved at load: the listed
    /// units, with their subtrees when the file or the editor says
    /// `subtree = true`; all units when `None`. A set: a list page asks
    /// once per unit, and a province's reach is thousands of units.
    pub units: Option<HashSet<String>>,
    /// What the editor may do besides items (`role = "admin"`: renew the
    /// accounts' cookies on the desk); `editor` when not given.
    pub role: Role,
}

/// An editor's role. Renewing a cookie hands an account to whoever's
/// login it is, so it takes more than acting on items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Acts on the items of the units in reach.
    #[default]
    Editor,
    /// Also renews the cookies of the accounts in reach.
    Admin,
}

impl Editor {
    /// Whether the editor may renew the cookie of `unit`'s accounts.
    pub fn may_manage_accounts_of(&self, unit: &str) -> bool {
        self.role == Role::Admin && self.may_act_on(unit)
    }

    pub fn may_act_on(&self, unit: &str) -> bool {
        self.units.as_ref().is_none_or(|u| u.contains(unit))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEditors {
    /// Whether listed units reach their subtrees, for every editor that
    /// does not say; exact units when absent (see the module's doc).
    subtree: Option<bool>,
    #[serde(default)]
    editor: Vec<RawEditor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEditor {
    name: Spanned<String>,
    token: String,
    units: Option<Vec<String>>,
    /// Overrides the file's `subtree` for this editor.
    subtree: Option<bool>,
    #[serde(default)]
    role: Role,
}

/// Tokens shorter than this are refused: they are the editors' passwords.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The units `listed` reach in `config`: themselves, and with `subtree`
/// every unit below them, each once.
fn reach(config: &Config, listed: &[String], subtree: bool) -> HashSet<String> {
    let mut out = HashSet::new();
    for id in listed {
        if subtree {
            out.extend(config.subtree(id).iter().map(|u| u.id.clone()));
        } else {
            out.insert(id.clone());
        }
    }
    out
}

/// What `check` says of an editors file that loads: listing units without
/// saying whether they reach their subtrees (today exact, maybe not what
/// was meant), and listing a unit with one of its descendants when
/// subtrees are on (the descendant is reached already). Each names the
/// editor's line.
pub fn reach_warnings(path: &Path, config: &Config) -> Vec<ConfigError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(raw) = toml::from_str::<RawEditors>(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &raw.editor {
        let line = Some(line_of(&text, r.name.span().start));
        let name = r.name.get_ref();
        let Some(listed) = &r.units else { continue };
        match r.subtree.or(raw.subtree) {
            None => out.push(ConfigError::new(
                path,
                line,
                None,
                format!(
                    "editor {name:?}: units reach exactly the listed units, not their cities and counties; say `subtree = true` (at the top of the file, or for this editor) to include them, or `subtree = false` to keep them exact"
                ),
            )),
            Some(true) => {
                for u in listed {
                    if let Some(above) = listed
                        .iter()
                        .find(|a| *a != u && config.subtree(a).iter().any(|x| &x.id == u))
                    {
                        out.push(ConfigError::new(
                            path,
                            line,
                            None,
                            format!(
                                "editor {name:?}: unit {u:?} is in the subtree of {above:?}, listed too; with `subtree = true` it need not be listed"
                            ),
                        ));
                    }
                }
            }
            Some(false) => {}
        }
    }
    out
}

/// Read the editors file; unit names are checked against `config`.
pub fn load_editors(path: &Path, config: &Config) -> Result<Vec<Editor>, ConfigErrors> {
    let one = |line: Option<usize>, message: String| ConfigError::new(path, line, None, message);
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
    let raw: RawEditors = toml::from_str(&text).map_err(|e| not_toml(path, &text, &e, None))?;
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut tokens = HashSet::new();
    let mut out = Vec::new();
    for r in raw.editor {
        let line = Some(line_of(&text, r.name.span().start));
        let name = r.name.into_inner();
        if name.trim().is_empty() || !names.insert(name.clone()) {
            errors.push(one(
                line,
                format!("editor name {name:?} is empty or used twice"),
            ));
        }
        if r.token.chars().count() < MIN_TOKEN_CHARS {
            errors.push(one(
                line,
                format!("editor {name:?}: token shorter than {MIN_TOKEN_CHARS} characters"),
            ));
        }
        if !tokens.insert(r.token.clone()) {
            errors.push(one(
                line,
                format!("editor {name:?}: token used by another editor"),
            ));
        }
        for u in r.units.iter().flatten() {
            if config.unit(u).is_none() {
                errors.push(one(
                    line,
                    format!("editor {name:?}: unit {u:?} is not in the config"),
                ));
            }
        }
        let subtree = r.subtree.or(raw.subtree).unwrap_or(false);
        out.push(Editor {
            name,
            token: Secret::new(r.token),
            units: r.units.map(|listed| reach(config, &listed, subtree)),
            role: r.role,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The role defaults to a plain editor (renewing a cookie is for
    /// admins only), and a misspelt role is an error, not an editor.
    #[test]
    fn the_role_defaults_to_editor_and_an_unknown_role_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::parse(
            super::super::tests::MINIMAL,
            &dir.path().join("autosync.toml"),
        )
        .unwrap();
        let path = dir.path().join("editors.toml");
        std::fs::write(
            &path,
            "[[editor]]\nname = \"甲\"\ntoken = \"0123456789abcdefAA\"\n\n\
             [[editor]]\nname = \"乙\"\ntoken = \"0123456789abcdefBB\"\nrole = \"admin\"\nunits = [\"sx-kx\"]\n",
        )
        .unwrap();
        let eds = load_editors(&path, &cfg).unwrap();
        assert_eq!(eds[0].role, Role::Editor);
        assert!(!eds[0].may_manage_accounts_of("sx-kx"));
        assert_eq!(eds[1].role, Role::Admin);
        assert!(eds[1].may_manage_accounts_of("sx-kx") && !eds[1].may_manage_accounts_of("cast"));
        std::fs::write(
            &path,
            "[[editor]]\nname = \"甲\"\ntoken = \"0123456789abcdefAA\"\nrole = \"root\"\n",
        )
        .unwrap();
        let e = load_editors(&path, &cfg).unwrap_err().to_string();
        assert!(e.contains("editors.toml:4") && e.contains("root"), "{e}");
    }

    /// A province, its city and the city's county, and a sibling city;
    /// `extra` appends units (a reload that adds one).
    fn matrix(dir: &Path, extra: &str) -> Config {
        let unit = |id: &str, level: &str, parent: Option<&str>| {
            format!(
                "[[unit]]\nid = \"{id}\"\naccount_name = \"{id}号\"\norg_name = \"{id}科协\"\nlevel = \"{level}\"\n{}site = \"https://{id}.example.org/\"\n  [[unit.source]]\n  feed = \"https://{id}.example.org/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n\n",
                parent
                    .map(|p| format!("parent = \"{p}\"\n"))
                    .unwrap_or_default()
            )
        };
        let text = format!(
            "[daemon]\nstate_dir = \"state\"\n\n{}{}{}{}{extra}",
            unit("sx", "provincial", None),
            unit("sx-ty", "city", Some("sx")),
            unit("sx-ty-qx", "county", Some("sx-ty")),
            unit("sx-dt", "city", Some("sx")),
        );
        crate::config::parse(&text, &dir.join("autosync.toml")).unwrap()
    }

    const EDITORS: &str = "subtree = true\n\n\
        [[editor]]\nname = \"省编辑\"\ntoken = \"0123456789abcdefAA\"\nunits = [\"sx\"]\n\n\
        [[editor]]\nname = \"县编辑\"\ntoken = \"0123456789abcdefBB\"\nunits = [\"sx-ty-qx\"]\n\n\
        [[editor]]\nname = \"市编辑\"\ntoken = \"0123456789abcdefCC\"\nunits = [\"sx-ty\"]\nsubtree = false\n";

    /// Issue 15: a province's editor acts on its cities and counties
    /// without listing each; a county's editor reaches only its county;
    /// `subtree = false` keeps an editor's units exact.
    #[test]
    fn a_province_editor_reaches_its_counties_and_a_county_editor_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = matrix(dir.path(), "");
        let path = dir.path().join("editors.toml");
        std::fs::write(&path, EDITORS).unwrap();
        let eds = load_editors(&path, &cfg).unwrap();
        let (province, county, city) = (&eds[0], &eds[1], &eds[2]);
        for u in ["sx", "sx-ty", "sx-ty-qx", "sx-dt"] {
            assert!(province.may_act_on(u), "{u}");
        }
        assert!(county.may_act_on("sx-ty-qx"));
        for u in ["sx", "sx-ty", "sx-dt"] {
            assert!(!county.may_act_on(u), "county editor reaches {u}");
        }
        assert!(city.may_act_on("sx-ty"));
        assert!(
            !city.may_act_on("sx-ty-qx"),
            "subtree = false must stay exact"
        );
        assert!(reach_warnings(&path, &cfg).is_empty());
    }

    /// A county added under a province by a reload joins the province
    /// editor's reach: the file is resolved against each config loaded.
    #[test]
    fn a_county_added_by_a_reload_joins_the_province_editors_reach() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("editors.toml");
        std::fs::write(&path, EDITORS).unwrap();
        let before = load_editors(&path, &matrix(dir.path(), "")).unwrap();
        assert!(!before[0].may_act_on("sx-dt-yg"));
        let added = "[[unit]]\nid = \"sx-dt-yg\"\naccount_name = \"阳高号\"\norg_name = \"阳高科协\"\nlevel = \"county\"\nparent = \"sx-dt\"\nsite = \"https://yg.example.org/\"\n  [[unit.source]]\n  feed = \"https://yg.example.org/rss.xml\"\n  [unit.publisher]\n  kind = \"file\"\n  dir = \"out\"\n";
        let after = load_editors(&path, &matrix(dir.path(), added)).unwrap();
        assert!(after[0].may_act_on("sx-dt-yg"));
        assert!(!after[1].may_act_on("sx-dt-yg") && !after[2].may_act_on("sx-dt-yg"));
    }

    /// Files written before subtrees meant exact units: without a word on
    /// `subtree` they stay exact (an upgrade widens no one's reach), and
    /// `check` says so; a unit listed with its province is redundant.
    #[test]
    fn an_editors_file_that_does_not_say_subtree_keeps_exact_units_and_is_warned() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = matrix(dir.path(), "");
        let path = dir.path().join("editors.toml");
        std::fs::write(
            &path,
            "[[editor]]\nname = \"省编辑\"\ntoken = \"0123456789abcdefAA\"\nunits = [\"sx\"]\n",
        )
        .unwrap();
        let eds = load_editors(&path, &cfg).unwrap();
        assert!(eds[0].may_act_on("sx") && !eds[0].may_act_on("sx-ty"));
        let w = reach_warnings(&path, &cfg);
        assert_eq!(w.len(), 1, "{w:?}");
        let w = w[0].to_string();
        assert!(
            w.contains("editors.toml:2") && w.contains("subtree = true"),
            "{w}"
        );
        std::fs::write(
            &path,
            "subtree = true\n[[editor]]\nname = \"省编辑\"\ntoken = \"0123456789abcdefAA\"\nunits = [\"sx\", \"sx-ty-qx\"]\n",
        )
        .unwrap();
        let w = reach_warnings(&path, &cfg);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].to_string()
                .contains("\"sx-ty-qx\" is in the subtree of \"sx\""),
            "{w:?}"
        );
        // A misspelt key is an error, not a silently exact reach.
        std::fs::write(&path, "subtrees = true\n").unwrap();
        assert!(load_editors(&path, &cfg).is_err());
    }
}
