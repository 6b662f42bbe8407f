//! The Discord side: the webhook URL (a secret), what Discord's answers mean, and the
//! client that posts, honouring rate limits and stopping at once on permanent refusals.

pub mod client;
pub mod dry_run;
pub mod policy;
pub mod rotating;
pub mod webhook_url;

pub use client::{Delivery, DeliveryError, DiscordClient, Notifier};
pub use webhook_url::{WebhookUrl, WebhookUrlError};
