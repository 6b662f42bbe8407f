//! Discord's size limits and how text is cut to fit them.
//!
//! Discord counts Unicode code points after trimming surrounding whitespace, and answers
//! `400` (posting nothing) when any limit is passed, so every piece of text is cut with
//! [`truncate`] and the whole body is checked with [`check`].

use super::body::{Embed, WebhookMessage};

/// `content`.
pub const CONTENT_MAX: usize = 2000;
/// Embeds per message.
pub const EMBEDS_MAX: usize = 10;
/// Embed title.
pub const TITLE_MAX: usize = 256;
/// Embed description.
pub const DESCRIPTION_MAX: usize = 4096;
/// Fields per embed.
pub const FIELDS_MAX: usize = 25;
/// Field name.
pub const FIELD_NAME_MAX: usize = 256;
/// Field value.
pub const FIELD_VALUE_MAX: usize = 1024;
/// Footer text.
pub const FOOTER_MAX: usize = 2048;
/// Title, description, field names and values and footer text, summed over all embeds.
pub const EMBED_TOTAL_MAX: usize = 6000;
/// `username` override.
pub const USERNAME_MAX: usize = 80;
/// URLs (`embed.url`).
pub const URL_MAX: usize = 2048;

/// The marker that shows text was cut.
pub const ELLIPSIS: char = '…';

/// Length as Discord counts it: code points, after trimming.
pub fn char_len(text: &str) -> usize {
    text.trim().chars().count()
}

/// Cuts `text` (already escaped markdown) to at most `max` code points, ending with `…`
/// when anything was cut. A cut never leaves a lone escaping backslash at the end, which
/// would escape the `…` and show a stray `\`.
pub fn truncate(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let kept: String = text.chars().take(max - 1).collect();
    let mut cut = kept.trim_end().to_string();
    let trailing_backslashes = cut.chars().rev().take_while(|&c| c == '\\').count();
    if trailing_backslashes % 2 == 1 {
        cut.pop();
    }
    cut.push(ELLIPSIS);
    cut
}

/// The characters an embed spends of the 6000 shared by all embeds.
pub fn embed_chars(embed: &Embed) -> usize {
    let text = |t: &Option<String>| t.as_deref().map_or(0, char_len);
    text(&embed.title)
        + text(&embed.description)
        + embed
            .fields
            .iter()
            .map(|f| char_len(&f.name) + char_len(&f.value))
            .sum::<usize>()
        + embed.footer.as_ref().map_or(0, |f| char_len(&f.text))
}

/// Checks a body against every limit Discord enforces; `Err` names the first one passed.
/// Rendering guarantees these, and tests assert it on every body they build.
pub fn check(message: &WebhookMessage) -> Result<(), String> {
    let over = |what: &str, len: usize, max: usize| {
        if len > max {
            Err(format!("{what} has {len} characters, over Discord's {max}"))
        } else {
            Ok(())
        }
    };
    let content = message.content.as_deref().map_or(0, char_len);
    if content == 0 && message.embeds.is_empty() {
        return Err("the message is empty".into());
    }
    over("content", content, CONTENT_MAX)?;
    over("embeds", message.embeds.len(), EMBEDS_MAX)?;
    if let Some(username) = &message.username {
        over("username", char_len(username), USERNAME_MAX)?;
    }
    for embed in &message.embeds {
        over(
            "title",
            embed.title.as_deref().map_or(0, char_len),
            TITLE_MAX,
        )?;
        let description = embed.description.as_deref().map_or(0, char_len);
        over("description", description, DESCRIPTION_MAX)?;
        over("fields", embed.fields.len(), FIELDS_MAX)?;
        over("url", embed.url.as_deref().map_or(0, char_len), URL_MAX)?;
        for field in &embed.fields {
            over("field name", char_len(&field.name), FIELD_NAME_MAX)?;
            over("field value", char_len(&field.value), FIELD_VALUE_MAX)?;
            if char_len(&field.name) == 0 || char_len(&field.value) == 0 {
                return Err("a field is empty".into());
            }
        }
        let footer = embed.footer.as_ref().map_or(0, |f| char_len(&f.text));
        over("footer", footer, FOOTER_MAX)?;
    }
    let total = message.embeds.iter().map(embed_chars).sum();
    over("all embeds together", total, EMBED_TOTAL_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::body::{AllowedMentions, EmbedField};
    use proptest::prelude::*;

    #[test]
    fn short_text_is_only_trimmed() {
        assert_eq!(truncate("  hello \n", 5), "hello");
    }

    #[test]
    fn long_text_ends_with_an_ellipsis_within_the_limit() {
        assert_eq!(truncate("abcdefgh", 5), "abcd…");
        assert_eq!(truncate("abc defgh", 5), "abc…");
        assert_eq!(truncate("abcdefgh", 1), "…");
        assert_eq!(truncate("abcdefgh", 0), "");
    }

    #[test]
    fn cuts_count_code_points_not_bytes() {
        assert_eq!(truncate("ééééé", 5), "ééééé");
        assert_eq!(truncate("🚀🚀🚀🚀🚀🚀", 4), "🚀🚀🚀…");
    }

    #[test]
    fn a_cut_never_leaves_a_lone_escape() {
        assert_eq!(truncate(r"ab\*cd", 4), "ab…");
        assert_eq!(truncate(r"a\\bcd", 4), r"a\\…");
    }

    fn message(embed: Embed) -> WebhookMessage {
        WebhookMessage {
            content: None,
            username: None,
            embeds: vec![embed],
            allowed_mentions: AllowedMentions::default(),
        }
    }

    #[test]
    fn check_finds_each_limit() {
        assert!(check(&message(Embed::default())).is_ok());
        let long_title = Embed {
            title: Some("x".repeat(257)),
            ..Embed::default()
        };
        assert!(check(&message(long_title)).is_err());
        let field = |n: usize| EmbedField {
            name: "n".into(),
            value: "v".repeat(n),
            inline: false,
        };
        let many = Embed {
            description: Some("d".repeat(4000)),
            fields: vec![field(1000), field(1000)],
            ..Embed::default()
        };
        let err = check(&message(many)).expect_err("over 6000 in all");
        assert!(err.contains("6000"), "{err}");
        let empty = WebhookMessage {
            embeds: vec![],
            ..message(Embed::default())
        };
        assert!(check(&empty).is_err());
    }

    #[test]
    fn trimmed_whitespace_does_not_count() {
        let embed = Embed {
            title: Some(format!("  {}  ", "x".repeat(256))),
            ..Embed::default()
        };
        assert!(check(&message(embed)).is_ok());
    }

    proptest! {
        #[test]
        fn truncate_respects_any_limit(text in "\\PC{0,300}", max in 0usize..120) {
            let cut = truncate(&text, max);
            prop_assert!(cut.chars().count() <= max);
            if text.trim().chars().count() <= max {
                prop_assert_eq!(cut, text.trim());
            } else if max > 0 {
                prop_assert!(cut.ends_with(ELLIPSIS));
            }
        }

        #[test]
        fn truncated_escaped_text_has_no_dangling_escape(text in "[a\\\\*_ ]{0,60}", max in 1usize..30) {
            let cut = truncate(&crate::render::markdown::escape(&text), max);
            let body = cut.trim_end_matches(ELLIPSIS);
            let trailing = body.chars().rev().take_while(|&c| c == '\\').count();
            prop_assert_eq!(trailing % 2, 0);
        }
    }
}
