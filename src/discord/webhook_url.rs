//! The webhook URL: parsed once, posted to as `v10` with `wait=true`, never shown whole.

use std::fmt;

use url::Url;

use crate::secret::Secret;

/// Hosts that are Discord itself. Their URLs are rebuilt on `discord.com` with the API
/// version pinned, because an unversioned URL goes to an old default version.
const DISCORD_HOSTS: &[&str] = &[
    "discord.com",
    "discordapp.com",
    "ptb.discord.com",
    "canary.discord.com",
    "ptb.discordapp.com",
    "canary.discordapp.com",
];

/// The API version this tool speaks.
const API_VERSION: &str = "v10";

/// Why a webhook URL was refused. No variant carries the URL: it holds the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookUrlError {
    /// Not a URL at all.
    #[error("the Discord webhook URL is not a valid URL; copy it again from the channel's Integrations → Webhooks settings")]
    Invalid,
    /// Neither http nor https.
    #[error("the Discord webhook URL must start with https:// (got {0}://)")]
    Scheme(String),
    /// Discord itself is only reached over https.
    #[error("Discord webhook URLs must use https://, not http://")]
    InsecureDiscord,
    /// The path does not end in `/webhooks/{id}/{token}`.
    #[error("the Discord webhook URL must end in /webhooks/<id>/<token> (e.g. https://discord.com/api/webhooks/123456/abc...)")]
    Path,
    /// The `/slack` and `/github` compatibility endpoints take other bodies.
    #[error("the Discord webhook URL ends in /{0}, a compatibility endpoint with another body format; remove the /{0} suffix")]
    CompatibilitySuffix(String),
    /// The id part is not a snowflake.
    #[error("the webhook id in the Discord webhook URL must be digits")]
    Id,
    /// The token part is empty or has characters Discord never uses.
    #[error("the token in the Discord webhook URL is empty or malformed")]
    Token,
    /// `thread_id` must be a snowflake.
    #[error("the thread_id in the Discord webhook URL must be digits")]
    ThreadId,
}

/// A parsed Discord webhook URL. `Debug` and `Display` show it redacted, like
/// `https://discord.com/api/webhooks/123456/****`. Equal when they post to the same place.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    endpoint: Secret,
    redacted: String,
    webhook_id: String,
}

impl WebhookUrl {
    /// Parses any form users paste: `discord.com`, `discordapp.com`, `ptb.`/`canary.`,
    /// with or without `/api/vN`, and (for tests and proxies) any http(s) URL whose path
    /// ends in `/webhooks/{id}/{token}`. A `thread_id` query parameter is kept.
    pub fn parse(raw: &Secret) -> Result<Self, WebhookUrlError> {
        let url = Url::parse(raw.expose().trim()).map_err(|_| WebhookUrlError::Invalid)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookUrlError::Scheme(url.scheme().to_string()));
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let is_discord = DISCORD_HOSTS.contains(&host.as_str());
        if is_discord && url.scheme() != "https" {
            return Err(WebhookUrlError::InsecureDiscord);
        }
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let (prefix, webhook_id, token) = split_webhook_path(&segments)?;
        let thread_id = thread_id(&url)?;

        let mut endpoint = if is_discord {
            Url::parse(&format!("https://discord.com/api/{API_VERSION}/webhooks/"))
                .map_err(|_| WebhookUrlError::Invalid)?
        } else {
            let mut base = url.clone();
            base.set_query(None);
            base.set_fragment(None);
            base.set_path(&format!("{}/webhooks/", prefix.join("/")));
            base
        };
        let redacted = format!("{}{webhook_id}/****", endpoint.as_str());
        endpoint = endpoint
            .join(&format!("{webhook_id}/{token}"))
            .map_err(|_| WebhookUrlError::Invalid)?;
        endpoint.query_pairs_mut().append_pair("wait", "true");
        if let Some(thread_id) = thread_id {
            endpoint
                .query_pairs_mut()
                .append_pair("thread_id", &thread_id);
        }
        Ok(Self {
            endpoint: Secret::new(endpoint.as_str()),
            redacted,
            webhook_id: webhook_id.to_string(),
        })
    }

    /// The URL to post to: the secret itself, for the HTTP request only.
    pub fn endpoint(&self) -> &Secret {
        &self.endpoint
    }

    /// The webhook's id (not secret: it names the webhook, the token opens it).
    pub fn webhook_id(&self) -> &str {
        &self.webhook_id
    }
}

/// Finds `.../webhooks/{id}/{token}` at the end of the path; returns the segments before
/// it, the id and the token.
fn split_webhook_path<'a>(
    segments: &[&'a str],
) -> Result<(Vec<&'a str>, &'a str, &'a str), WebhookUrlError> {
    if let [.., "webhooks", _, _, suffix @ ("slack" | "github")] = segments {
        return Err(WebhookUrlError::CompatibilitySuffix((*suffix).to_string()));
    }
    let [prefix @ .., "webhooks", id, token] = segments else {
        return Err(WebhookUrlError::Path);
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookUrlError::Id);
    }
    let token_ok = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if token.is_empty() || !token_ok {
        return Err(WebhookUrlError::Token);
    }
    Ok((prefix.to_vec(), id, token))
}

fn thread_id(url: &Url) -> Result<Option<String>, WebhookUrlError> {
    match url.query_pairs().find(|(key, _)| key == "thread_id") {
        Some((_, value)) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(value.into_owned()))
        }
        Some(_) => Err(WebhookUrlError::ThreadId),
        None => Ok(None),
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AbC-12_x.yZ";

    fn parse(raw: &str) -> Result<WebhookUrl, WebhookUrlError> {
        WebhookUrl::parse(&Secret::new(raw))
    }

    fn endpoint(raw: &str) -> String {
        parse(raw)
            .expect("valid webhook")
            .endpoint()
            .expose()
            .to_string()
    }

    #[test]
    fn every_discord_form_posts_to_v10_with_wait() {
        let expected = format!("https://discord.com/api/v10/webhooks/123/{TOKEN}?wait=true");
        for raw in [
            format!("https://discord.com/api/webhooks/123/{TOKEN}"),
            format!("https://discordapp.com/api/webhooks/123/{TOKEN}"),
            format!("https://ptb.discord.com/api/v9/webhooks/123/{TOKEN}"),
            format!("https://canary.discord.com/api/v10/webhooks/123/{TOKEN}/"),
            format!("  https://DISCORD.com/api/v6/webhooks/123/{TOKEN}?wait=false \n"),
        ] {
            assert_eq!(endpoint(&raw), expected, "{raw}");
        }
    }

    #[test]
    fn thread_id_is_kept() {
        assert_eq!(
            endpoint(&format!(
                "https://discord.com/api/webhooks/1/{TOKEN}?thread_id=99"
            )),
            format!("https://discord.com/api/v10/webhooks/1/{TOKEN}?wait=true&thread_id=99")
        );
        assert_eq!(
            parse(&format!(
                "https://discord.com/api/webhooks/1/{TOKEN}?thread_id=x"
            ))
            .err(),
            Some(WebhookUrlError::ThreadId)
        );
    }

    #[test]
    fn other_hosts_keep_their_path() {
        assert_eq!(
            endpoint(&format!("http://127.0.0.1:9/api/webhooks/5/{TOKEN}")),
            format!("http://127.0.0.1:9/api/webhooks/5/{TOKEN}?wait=true")
        );
        assert_eq!(
            endpoint(&format!(
                "https://proxy.example/hooks/discord/webhooks/5/{TOKEN}"
            )),
            format!("https://proxy.example/hooks/discord/webhooks/5/{TOKEN}?wait=true")
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("discord.com/api/webhooks/1/t", WebhookUrlError::Invalid),
            (
                "ftp://discord.com/api/webhooks/1/t",
                WebhookUrlError::Scheme("ftp".into()),
            ),
            (
                "http://discord.com/api/webhooks/1/t",
                WebhookUrlError::InsecureDiscord,
            ),
            (
                "https://discord.com/api/channels/1/t",
                WebhookUrlError::Path,
            ),
            ("https://discord.com/api/webhooks/1", WebhookUrlError::Path),
            (
                "https://discord.com/api/webhooks/abc/t",
                WebhookUrlError::Id,
            ),
            (
                "https://discord.com/api/webhooks/1/t%20x",
                WebhookUrlError::Token,
            ),
            (
                "https://discord.com/api/webhooks/1/t/slack",
                WebhookUrlError::CompatibilitySuffix("slack".into()),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse(raw).err(), Some(expected), "{raw}");
        }
    }

    #[test]
    fn the_token_never_shows() {
        let url = parse(&format!(
            "https://discordapp.com/api/webhooks/123456/{TOKEN}"
        ))
        .expect("valid");
        assert_eq!(
            url.to_string(),
            "https://discord.com/api/v10/webhooks/123456/****"
        );
        assert!(!format!("{url:?}").contains(TOKEN));
        assert_eq!(url.webhook_id(), "123456");
        for raw in [
            "https://discord.com/api/webhooks/abc/SECRET",
            "not a url SECRET",
        ] {
            let err = parse(raw).expect_err("invalid");
            assert!(!err.to_string().contains("SECRET"), "{err}");
        }
    }
}
