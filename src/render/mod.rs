//! Turning what we know about a run into words: the Discord message (within Discord's
//! limits, with untrusted text escaped) and the same summary as plain text.

pub mod body;
pub mod limits;
pub mod markdown;
pub mod notice;
pub mod plain;

pub use body::WebhookMessage;
