//! Making untrusted text (task titles, errors, run ids) safe inside Discord markdown.

/// Characters that Discord markdown gives a meaning: emphasis, strike, spoilers, quotes,
/// code, masked links, headings and mention syntax. A backslash makes each literal, and a
/// backslash is itself escaped first so text cannot cancel our escapes.
const MARKDOWN_SPECIAL: &[char] = &['\\', '*', '_', '~', '|', '>', '<', '`', '[', ']', '#'];

/// Escapes Discord markdown so the text renders literally: `@everyone **boom**` shows as
/// written, bold markers and all (mentions are disarmed separately, by
/// `allowed_mentions`). Line breaks and other control characters become single spaces,
/// so a title cannot start a new line with a quote or a heading.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut pending_space = false;
    for ch in text.trim().chars() {
        if ch.is_whitespace() || ch.is_control() {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if MARKDOWN_SPECIAL.contains(&ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_and_mentions_render_literally() {
        assert_eq!(escape("@everyone **boom**"), r"@everyone \*\*boom\*\*");
        assert_eq!(escape("<@&123> ||spoiler||"), r"\<@&123\> \|\|spoiler\|\|");
        assert_eq!(escape("[click](http://x)"), r"\[click\](http://x)");
        assert_eq!(
            escape("`code` ~~x~~ __u__"),
            r"\`code\` \~\~x\~\~ \_\_u\_\_"
        );
    }

    #[test]
    fn backslashes_cannot_cancel_escapes() {
        assert_eq!(escape(r"\*x"), r"\\\*x");
    }

    #[test]
    fn lines_collapse_so_quotes_and_headings_cannot_start() {
        assert_eq!(
            escape("ok\n> quoted\r\n# Heading\t x "),
            r"ok \> quoted \# Heading x"
        );
    }

    #[test]
    fn plain_and_non_ascii_text_is_unchanged() {
        assert_eq!(
            escape("Build the thing — ünïcode 🚀"),
            "Build the thing — ünïcode 🚀"
        );
    }
}
