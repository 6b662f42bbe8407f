//! The JSON body of a Discord webhook call (the parts this tool uses).

use serde::Serialize;

/// `POST /webhooks/{id}/{token}` body. Optional parts are left out rather than sent as
/// `null`, so the body stays small and obvious in `--dry-run`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct WebhookMessage {
    /// Plain text above the embeds (≤ 2000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Overrides the webhook's display name (1..=80 characters, without "discord" or
    /// "clyde").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The rich embeds (≤ 10).
    pub embeds: Vec<Embed>,
    /// Which mentions may ping. Always sent, always empty.
    pub allowed_mentions: AllowedMentions,
}

/// `allowed_mentions`: `{"parse": []}` makes sure no text coming from a task (a title
/// with `@everyone`, `@here` or `<@&role>`) ever pings anyone.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct AllowedMentions {
    /// Mention kinds parsed from the content: none.
    pub parse: Vec<String>,
}

/// One rich embed.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Embed {
    /// Title (≤ 256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The title's link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Body text (≤ 4096).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Side colour, 0..=0xFFFFFF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    /// ISO 8601 time shown beside the footer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Name/value pairs (≤ 25).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<EmbedField>,
    /// Footer (≤ 2048).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<EmbedFooter>,
}

/// A name/value pair of an embed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct EmbedField {
    /// Name (1..=256).
    pub name: String,
    /// Value (1..=1024).
    pub value: String,
    /// Shown side by side with neighbouring inline fields.
    pub inline: bool,
}

/// An embed's footer.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct EmbedFooter {
    /// Footer text (≤ 2048).
    pub text: String,
}
