//! The editors file (`[daemon] editors_file`): who may use the desk, with
//! which token, on which units.
//!
//! Tokens are passwords, so they live in a file of their own that only the
//! service reads (0600), not in the config, which anyone on the host may
//! read (0644; see `deploy/install.sh`). The file is read after the config
//! and checked against it: every unit an editor is limited to must exist.

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
    /// The units the editor may act on (exactly these); all units when
    /// `None`.
    pub units: Option<Vec<String>>,
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
        self.units
            .as_ref()
            .is_none_or(|u| u.iter().any(|x| x == unit))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEditors {
    #[serde(default)]
    editor: Vec<RawEditor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEditor {
    name: Spanned<String>,
    token: String,
    units: Option<Vec<String>>,
    #[serde(default)]
    role: Role,
}

/// Tokens shorter than this are refused: they are the editors' passwords.
pub const MIN_TOKEN_CHARS: usize = 16;

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
        out.push(Editor {
            name,
            token: Secret::new(r.token),
            units: r.units,
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
}
