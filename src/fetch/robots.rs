//! A small robots.txt parser and matcher (RFC 9309).
//!
//! Written here rather than pulled in because the subset we need is small and
//! the rules are easy to get subtly wrong in ways a test should pin down:
//! groups are selected by our product token (`autosync`), falling back to `*`;
//! all groups naming the token are merged; within the chosen rules the
//! *longest* matching pattern wins and `Allow` wins a tie; `*` matches any run
//! of characters and a trailing `$` anchors the end of the path.
//!
//! Fetching and caching live in the parent module; this module only parses and
//! matches, so it is pure and unit-tested.

/// One `Allow`/`Disallow` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    allow: bool,
    /// Percent-encoded pattern, `$` still attached when anchored.
    pattern: String,
}

/// The rules of a robots.txt that apply to one user-agent token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    rules: Vec<Rule>,
}

/// A group being parsed: the agents it names and its rules.
#[derive(Default)]
struct Group {
    agents: Vec<String>,
    rules: Vec<Rule>,
}

impl Robots {
    /// Everything allowed: what a missing (4xx) or unreachable robots.txt means
    /// for us.
    pub fn allow_all() -> Self {
        Robots::default()
    }

    /// Parse `text` and keep the rules that apply to `token` (case-insensitive
    /// product token such as `autosync`), else those of `*`.
    pub fn parse(text: &str, token: &str) -> Self {
        let token = token.to_ascii_lowercase();
        let mut groups: Vec<Group> = Vec::new();
        // A user-agent line directly after rules starts a new group; several
        // user-agent lines in a row share one group.
        let mut in_agents = false;
        for raw in text.lines() {
            let line = match raw.find('#') {
                Some(i) => &raw[..i],
                None => raw,
            };
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group::default());
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        // Only the product token counts: "Googlebot/2.1" → "googlebot".
                        let agent: String = value
                            .chars()
                            .take_while(|c| {
                                c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '*'
                            })
                            .collect::<String>()
                            .to_ascii_lowercase();
                        g.agents.push(agent);
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    // Rules before any user-agent line belong to no group.
                    let Some(g) = groups.last_mut() else { continue };
                    // An empty Disallow means "nothing disallowed"; an empty
                    // Allow means nothing at all. Neither is a rule.
                    if value.is_empty() {
                        continue;
                    }
                    g.rules.push(Rule {
                        allow: key == "allow",
                        pattern: encode_pattern(value),
                    });
                }
                // sitemap, crawl-delay, host…: other lines do not end a group's
                // user-agent run per RFC 9309, but we do not use them.
                _ => {}
            }
        }
        let mine: Vec<Rule> = groups
            .iter()
            .filter(|g| g.agents.contains(&token))
            .flat_map(|g| g.rules.iter().cloned())
            .collect();
        let any_mine = groups.iter().any(|g| g.agents.contains(&token));
        let rules = if any_mine {
            mine
        } else {
            groups
                .iter()
                .filter(|g| g.agents.iter().any(|a| a == "*"))
                .flat_map(|g| g.rules.iter().cloned())
                .collect()
        };
        Robots { rules }
    }

    /// Whether `path_and_query` (as it appears in the URL, percent-encoded,
    /// starting with `/`) may be fetched.
    pub fn allowed(&self, path_and_query: &str) -> bool {
        if path_and_query == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for rule in &self.rules {
            if pattern_matches(&rule.pattern, path_and_query) {
                let len = rule.pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, rule.allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Percent-encode what a URL path would carry encoded (non-ASCII, spaces), so
/// that a pattern written with raw UTF-8 (`Disallow: /新闻/`) matches the
/// encoded path we compare against. Existing `%XX` escapes are uppercased.
fn encode_pattern(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            out.push('%');
            out.push(bytes[i + 1].to_ascii_uppercase() as char);
            out.push(bytes[i + 2].to_ascii_uppercase() as char);
            i += 3;
            continue;
        }
        if b.is_ascii() && b > b' ' && b != 0x7f {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// Uppercase the hex digits of `%xx` escapes so `%e6` and `%E6` compare equal.
fn normalise_escapes(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            out.push('%');
            out.push(bytes[i + 1].to_ascii_uppercase() as char);
            out.push(bytes[i + 2].to_ascii_uppercase() as char);
            i += 3;
        } else {
            // The path is ASCII (URL-encoded); anything else is pushed as-is.
            let ch = path[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// `pattern` matches a prefix of `path`; `*` is any run, a final `$` anchors.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let path = normalise_escapes(path);
    let (pat, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let p = pat.as_bytes();
    let s = path.as_bytes();
    // Greedy wildcard matching with backtracking to the last `*`: linear-ish
    // and without recursion, so hostile patterns cannot blow the stack.
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi == p.len() {
            if !anchored || si == s.len() {
                return true;
            }
        } else if p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
            continue;
        } else if si < s.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
            continue;
        }
        // Mismatch (or anchored end not reached): let the last `*` eat one more.
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp + 1;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# comment line
User-agent: Googlebot
Disallow: /

User-agent: *
Disallow: /private/
Disallow: /*.pdf$
Allow: /private/public/

Sitemap: https://example.gov.cn/sitemap.xml
";

    #[test]
    fn star_group_applies_when_our_token_is_not_named() {
        let r = Robots::parse(SAMPLE, "autosync");
        assert!(r.allowed("/news/1.html"));
        assert!(!r.allowed("/private/x.html"));
        assert!(r.allowed("/private/public/x.html"), "longer Allow wins");
        assert!(!r.allowed("/files/a.pdf"));
        assert!(r.allowed("/files/a.pdf?x=1"), "$ anchors the end");
    }

    #[test]
    fn our_group_replaces_star_group_and_token_is_case_insensitive() {
        let text = "User-agent: *\nDisallow: /\n\nUser-agent: AutoSync/1.0\nDisallow: /admin\n";
        let r = Robots::parse(text, "autosync");
        assert!(r.allowed("/news/"));
        assert!(!r.allowed("/admin/login"));
    }

    #[test]
    fn consecutive_user_agent_lines_share_a_group_and_groups_merge() {
        let text = "User-agent: a\nUser-agent: autosync\nDisallow: /x\n\nUser-agent: autosync\nDisallow: /y\n";
        let r = Robots::parse(text, "autosync");
        assert!(!r.allowed("/x1"));
        assert!(!r.allowed("/y1"));
        assert!(r.allowed("/z"));
    }

    #[test]
    fn equal_length_tie_goes_to_allow() {
        let text = "User-agent: *\nDisallow: /page\nAllow: /page\n";
        assert!(Robots::parse(text, "autosync").allowed("/page"));
    }

    #[test]
    fn empty_disallow_allows_everything() {
        let text = "User-agent: *\nDisallow:\n";
        assert!(Robots::parse(text, "autosync").allowed("/anything"));
    }

    #[test]
    fn wildcard_in_the_middle() {
        let text = "User-agent: *\nDisallow: /*/print/*.html\n";
        let r = Robots::parse(text, "autosync");
        assert!(!r.allowed("/a/b/print/c.html"));
        assert!(r.allowed("/a/b/view/c.html"));
    }

    #[test]
    fn non_ascii_pattern_matches_encoded_path() {
        let text = "User-agent: *\nDisallow: /新闻/\n";
        let r = Robots::parse(text, "autosync");
        assert!(!r.allowed("/%e6%96%b0%e9%97%bb/1.html"));
        assert!(r.allowed("/news/1.html"));
    }

    #[test]
    fn robots_txt_itself_is_always_allowed() {
        let text = "User-agent: *\nDisallow: /\n";
        let r = Robots::parse(text, "autosync");
        assert!(r.allowed("/robots.txt"));
        assert!(!r.allowed("/"));
    }

    #[test]
    fn garbage_allows_everything() {
        let r = Robots::parse("<html><body>404 not found</body></html>", "autosync");
        assert!(r.allowed("/x"));
    }

    #[test]
    fn anchored_pattern_with_star_backtracks() {
        assert!(pattern_matches("/*a$", "/bab/ca"));
        assert!(!pattern_matches("/*a$", "/bab/cab"));
        assert!(pattern_matches("/**x", "/yyx"));
    }
}
