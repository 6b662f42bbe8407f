//! Would a message notify someone? Discord's mention semantics, from its "Allowed Mentions
//! Reference": without `allowed_mentions` every mention in `content` pings; with it, only
//! the types listed in `parse` and the ids listed in `users`/`roles` do. Mentions inside
//! embeds never ping, so only `content` is scanned.

use serde_json::Value;

/// True when `content` holds a mention that `allowed_mentions` lets through.
pub(super) fn pings_someone(body: &Value) -> bool {
    let Some(content) = body.get("content").and_then(Value::as_str) else {
        return false;
    };
    let policy = Policy::of(body);
    mentions_in(content)
        .iter()
        .any(|mention| policy.allows(mention))
}

/// A mention written in message content.
#[derive(Debug, PartialEq)]
enum Mention<'a> {
    /// `@everyone` or `@here`, both governed by the `everyone` parse type.
    Everyone,
    /// `<@id>` or `<@!id>`.
    User(&'a str),
    /// `<@&id>`.
    Role(&'a str),
}

fn mentions_in(content: &str) -> Vec<Mention<'_>> {
    let mut found = Vec::new();
    if content.contains("@everyone") || content.contains("@here") {
        found.push(Mention::Everyone);
    }
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        if let Some(mention) = tagged_mention(rest) {
            found.push(mention);
        }
    }
    found
}

/// Reads `id>`, `!id>` or `&id>` (what follows `<@`).
fn tagged_mention(after: &str) -> Option<Mention<'_>> {
    let (is_role, tail) = match after.as_bytes().first() {
        Some(b'&') => (true, &after[1..]),
        Some(b'!') => (false, &after[1..]),
        _ => (false, after),
    };
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !tail[digits..].starts_with('>') {
        return None;
    }
    let id = &tail[..digits];
    Some(if is_role {
        Mention::Role(id)
    } else {
        Mention::User(id)
    })
}

/// What `allowed_mentions` lets ping.
enum Policy {
    /// No `allowed_mentions` (or `null`): Discord parses every mention in the content.
    Everything,
    /// Only these types, and these explicitly listed ids.
    Only {
        parse: Vec<String>,
        users: Vec<String>,
        roles: Vec<String>,
    },
}

impl Policy {
    fn of(body: &Value) -> Self {
        match body.get("allowed_mentions").filter(|v| !v.is_null()) {
            None => Self::Everything,
            Some(allowed) => Self::Only {
                parse: strings(allowed.get("parse")),
                users: strings(allowed.get("users")),
                roles: strings(allowed.get("roles")),
            },
        }
    }

    fn allows(&self, mention: &Mention<'_>) -> bool {
        let Self::Only {
            parse,
            users,
            roles,
        } = self
        else {
            return true;
        };
        let parses = |kind: &str| parse.iter().any(|p| p == kind);
        match mention {
            Mention::Everyone => parses("everyone"),
            Mention::User(id) => parses("users") || users.iter().any(|u| u == id),
            Mention::Role(id) => parses("roles") || roles.iter().any(|r| r == id),
        }
    }
}

/// The items of a list as text; ids may be sent as strings or numbers.
fn strings(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}
