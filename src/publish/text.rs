//! Text helpers every platform client needs: titles shortened to a
//! platform's limit, and short excerpts for notes and error messages.
//!
//! Title shortening lives here rather than in one platform because every
//! platform has a limit (头条号 30 characters, WeChat 32) and the rule must be
//! the same deterministic one: a client's `lookup` may find a post again by
//! the title it sent.

/// A title shortened to at most `max_chars` characters, and whether it had
/// to be. Deterministic and idempotent on its own output.
///
/// Whitespace runs are collapsed. A longer title is cut at the last natural
/// break (punctuation, a space, `——`, `：`) that leaves room for the appended
/// `…`; with no break in reach it is cut hard.
pub fn shorten_title(title: &str, max_chars: usize) -> (String, bool) {
    let title = normalise_space(title);
    let chars: Vec<char> = title.chars().collect();
    if chars.len() <= max_chars {
        return (title, false);
    }
    let room = max_chars.saturating_sub(1).max(1); // leave one for "…"
    // A break too early would throw most of the title away; below this a hard
    // cut keeps more meaning.
    let min_keep = (room / 2).max(1);
    let mut cut = None;
    for i in (min_keep..=room).rev() {
        let before = chars[i - 1];
        let at = chars.get(i).copied();
        let break_before = at.is_some_and(is_break_char) || at.is_some_and(is_opening);
        let break_after = is_closing(before) || matches!(before, '。' | '！' | '？' | '!' | '?');
        if break_before || break_after {
            cut = Some(i);
            break;
        }
    }
    let head: String = chars[..cut.unwrap_or(room)].iter().collect();
    let mut head = head
        .trim_end_matches(|c: char| {
            c.is_whitespace()
                || (is_break_char(c) && !matches!(c, '。' | '！' | '？' | '!' | '?'))
                || is_opening(c)
        })
        .to_string();
    // A head of one character says nothing; cut hard instead.
    if head.chars().count() < 2 {
        head = chars[..room].iter().collect();
    }
    head.push('…');
    (head, true)
}

pub(crate) fn is_break_char(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '，' | '。'
                | '！'
                | '？'
                | '；'
                | '：'
                | '、'
                | '—'
                | '…'
                | '·'
                | '|'
                | '｜'
                | ','
                | '.'
                | '!'
                | '?'
                | ';'
                | ':'
                | '-'
                | '/'
        )
}

fn is_opening(c: char) -> bool {
    matches!(c, '（' | '(' | '《' | '【' | '“' | '‘' | '「' | '[' | '〔')
}

fn is_closing(c: char) -> bool {
    matches!(c, '）' | ')' | '》' | '】' | '”' | '’' | '」' | ']' | '〕')
}

/// Whitespace runs collapsed to one space, trimmed.
pub fn normalise_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first 200 characters of an answer body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let mut out: String = s.chars().take(200).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// At most 80 characters of `s` (a URL in a note).
pub(crate) fn short(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_platforms_own() {
        let t = "关于举办2026年全省青少年科普讲解大赛的通知——决赛名单公示及后续安排说明";
        let (thirty, _) = shorten_title(t, 30);
        let (thirty_two, _) = shorten_title(t, 32);
        assert!(thirty.chars().count() <= 30 && thirty_two.chars().count() <= 32);
        let hard: String = "科".repeat(45);
        assert_eq!(shorten_title(&hard, 32).0.chars().count(), 32);
        assert_eq!(shorten_title(&hard, 30).0.chars().count(), 30);
        let (s, _) = shorten_title(&thirty_two, 32);
        assert_eq!(s, thirty_two, "idempotent on its output");
    }
}
