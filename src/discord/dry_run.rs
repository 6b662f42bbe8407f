//! `--dry-run`: the message goes to stdout instead of Discord.

use std::io::Write;

use super::{Delivery, DeliveryError, Notifier};
use crate::render::WebhookMessage;

/// Prints each message's JSON body to stdout, exactly as it would be posted.
pub struct PrintBody;

impl Notifier for PrintBody {
    async fn deliver(&self, message: &WebhookMessage) -> Result<Delivery, DeliveryError> {
        let unavailable = |last: String| DeliveryError::Unavailable { attempts: 1, last };
        let body = serde_json::to_string_pretty(message).map_err(|e| unavailable(e.to_string()))?;
        writeln!(std::io::stdout(), "{body}")
            .map_err(|e| unavailable(format!("cannot write to stdout: {e}")))?;
        Ok(Delivery { message_id: None })
    }
}
