//! The source line: the rules on reposting require every post to name its
//! source, so each unit's posts end with a line such as `来源：某市科学技术协会`
//! and `原文链接：https://…` (the default), set per unit or in `[defaults]`
//! (`source_line`, `""` turns it off).
//!
//! The template is parsed once, when the config is read, into typed pieces:
//! an unknown placeholder is a config error naming the file, line and unit,
//! never a literal `{foo}` in a published post. Rendering is pure (unit,
//! item, zone → text and HTML) and happens in one place on the way to every
//! platform (`outbox::to_post`), from the stored item each time: a re-send
//! after a crash renders it afresh and never adds it twice. The HTML is
//! built with maud, which escapes every value.

use crate::config::Unit;
use crate::model::Item;

/// The default template: the organisation, then the article's address on
/// its own line.
pub const DEFAULT: &str = "来源：{org_name}\n原文链接：{url}";

/// The placeholders a template may use, for messages and docs.
pub const PLACEHOLDERS: &str =
    "{org_name}（单位全称）、{name}（账号名称）、{url}（原文链接）、{date}（原文日期）";

/// A parsed template: lines of pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// Shared: every unit without a template of its own holds the one
    /// parsed from `[defaults]` or the built-in one.
    lines: std::sync::Arc<[Vec<Piece>]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// The unit's full organisation name (`org_name`).
    OrgName,
    /// The unit's account name (`account_name`).
    Name,
    /// The article's source URL.
    Url,
    /// The article's date in `[daemon] timezone`, when known.
    Date,
}

/// The line as it is added to a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Plain text, one template line a line.
    pub text: String,
    /// One `<p>` a line, every value escaped; `{url}` is a link.
    pub html: String,
}

impl SourceLine {
    /// `template` parsed; `Ok(None)` when it is empty (the unit turned the
    /// line off). `{{` and `}}` write a literal brace.
    pub fn parse(template: &str) -> Result<Option<SourceLine>, String> {
        if template.trim().is_empty() {
            return Ok(None);
        }
        let lines = template
            .lines()
            .map(parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(SourceLine {
            lines: lines.into(),
        }))
    }

    /// Is this the very template `other` holds (one parse, shared)?
    #[cfg(test)]
    pub(crate) fn is_shared_with(&self, other: &SourceLine) -> bool {
        std::sync::Arc::ptr_eq(&self.lines, &other.lines)
    }

    /// The built-in template ([`DEFAULT`]).
    pub fn default_line() -> SourceLine {
        SourceLine::parse(DEFAULT)
            .ok()
            .flatten()
            .expect("the built-in source line parses")
    }
}

fn parse_line(line: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(format!(
                        "source_line: '{{{name}' is not closed with '}}'; placeholders: {PLACEHOLDERS}"
                    ));
                }
                let piece = match name.as_str() {
                    "org_name" => Piece::OrgName,
                    "name" => Piece::Name,
                    "url" => Piece::Url,
                    "date" => Piece::Date,
                    other => {
                        return Err(format!(
                            "source_line: unknown placeholder {{{other}}}; known: {PLACEHOLDERS}"
                        ));
                    }
                };
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
            }
            '}' => {
                return Err(format!(
                    "source_line: a lone '}}' (write '}}}}' for a brace); placeholders: {PLACEHOLDERS}"
                ));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// One piece's value for this unit and item; `None` when it has none (an
/// article without a date).
enum Value<'a> {
    Text(&'a str),
    Owned(String),
    Link(&'a str),
}

fn value<'a>(p: &'a Piece, unit: &'a Unit, item: &'a Item, tz: chrono_tz::Tz) -> Option<Value<'a>> {
    Some(match p {
        Piece::Text(t) => Value::Text(t),
        Piece::OrgName => Value::Text(&unit.org_name),
        Piece::Name => Value::Text(&unit.account_name),
        Piece::Url => Value::Link(&item.url),
        Piece::Date => Value::Owned(
            item.published_at?
                .with_timezone(&tz)
                .format("%Y-%m-%d")
                .to_string(),
        ),
    })
}

/// The unit's source line for `item`, or `None` when the unit turned it
/// off. A template line whose placeholder has no value (`{date}` of an
/// article without a date) is left out rather than published half empty.
pub fn render(unit: &Unit, item: &Item, tz: chrono_tz::Tz) -> Option<Rendered> {
    let template = unit.source_line.as_ref()?;
    let lines: Vec<Vec<Value>> = template
        .lines
        .iter()
        .filter_map(|l| l.iter().map(|p| value(p, unit, item, tz)).collect())
        .collect();
    if lines.is_empty() {
        return None;
    }
    let text = lines
        .iter()
        .map(|l| {
            l.iter()
                .map(|v| match v {
                    Value::Text(t) | Value::Link(t) => *t,
                    Value::Owned(s) => s.as_str(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let html = maud::html! {
        @for l in &lines {
            p {
                @for v in l {
                    @match v {
                        Value::Text(t) => (t),
                        Value::Owned(s) => (s),
                        Value::Link(u) => a href=(u) { (u) },
                    }
                }
            }
        }
    }
    .into_string();
    Some(Rendered { text, html })
}

/// `html` and `text` with the line added at the end (the body comes first,
/// the line closes the post).
pub fn append(html: &str, text: &str, line: &Rendered) -> (String, String) {
    let text = if text.trim().is_empty() {
        line.text.clone()
    } else {
        format!("{}\n\n{}", text.trim_end(), line.text)
    };
    (format!("{html}{}", line.html), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(template: Option<&str>) -> Unit {
        let text = include_str!("../../tests/fixtures/check/one_unit.toml")
            .replace("{daemon}", "")
            .replace("{schedule}", "*/10 * * * *")
            .replace("{cookie}", "cookie_file = \"cookie\"");
        let mut u = std::sync::Arc::unwrap_or_clone(
            crate::config::parse(&text, std::path::Path::new("/x/autosync.toml"))
                .unwrap()
                .units
                .remove(0),
        );
        u.source_line = template.and_then(|t| SourceLine::parse(t).unwrap());
        u
    }

    fn item(url: &str, date: Option<&str>) -> Item {
        let mut i = Item::new(
            "u",
            url,
            "feed:x",
            chrono::Utc::now(),
            crate::model::State::Queued,
        );
        i.published_at = date.map(|d| chrono::DateTime::parse_from_rfc3339(d).unwrap());
        i
    }

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn the_default_names_the_organisation_and_links_the_article() {
        let u = unit(Some(DEFAULT));
        let r = render(&u, &item("https://www.example.org/a?x=1&y=2", None), TZ).unwrap();
        assert_eq!(
            r.text,
            format!(
                "来源：{}\n原文链接：https://www.example.org/a?x=1&y=2",
                u.org_name
            )
        );
        assert_eq!(
            r.html,
            format!(
                "<p>来源：{}</p><p>原文链接：<a href=\"https://www.example.org/a?x=1&amp;y=2\">https://www.example.org/a?x=1&amp;y=2</a></p>",
                u.org_name
            )
        );
    }

    #[test]
    fn values_are_escaped_in_html() {
        let mut u = unit(Some("来源：{org_name} <b>"));
        u.org_name = "<script>科协</script>".into();
        let r = render(&u, &item("https://e.org/", None), TZ).unwrap();
        assert_eq!(
            r.html,
            "<p>来源：&lt;script&gt;科协&lt;/script&gt; &lt;b&gt;</p>"
        );
        assert_eq!(r.text, "来源：<script>科协</script> <b>");
    }

    #[test]
    fn the_date_is_in_the_zone_and_its_line_is_left_out_when_unknown() {
        let u = unit(Some("{name} 转载\n原文日期：{date}"));
        let r = render(
            &u,
            &item("https://e.org/", Some("2026-03-01T20:30:00Z")),
            TZ,
        )
        .unwrap();
        assert_eq!(
            r.text,
            format!("{} 转载\n原文日期：2026-03-02", u.account_name)
        );
        let r = render(&u, &item("https://e.org/", None), TZ).unwrap();
        assert_eq!(r.text, format!("{} 转载", u.account_name));
    }

    #[test]
    fn an_empty_template_turns_the_line_off() {
        assert_eq!(SourceLine::parse("").unwrap(), None);
        assert!(render(&unit(None), &item("https://e.org/", None), TZ).is_none());
    }

    #[test]
    fn unknown_placeholders_and_lone_braces_are_refused() {
        let e = SourceLine::parse("来源：{orgname}").unwrap_err();
        assert!(e.contains("{orgname}") && e.contains("{org_name}"), "{e}");
        assert!(SourceLine::parse("来源：{org_name").is_err());
        assert!(SourceLine::parse("a } b").is_err());
        let l = SourceLine::parse("{{x}}").unwrap().unwrap();
        let r = render(
            &Unit {
                source_line: Some(l),
                ..unit(None)
            },
            &item("https://e.org/", None),
            TZ,
        )
        .unwrap();
        assert_eq!(r.text, "{x}");
    }

    #[test]
    fn append_puts_the_line_after_the_body() {
        let r = Rendered {
            text: "来源：甲".into(),
            html: "<p>来源：甲</p>".into(),
        };
        assert_eq!(
            append("<p>正文</p>", "正文\n", &r),
            (
                "<p>正文</p><p>来源：甲</p>".into(),
                "正文\n\n来源：甲".into()
            )
        );
    }
}
