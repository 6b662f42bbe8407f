//! A webhook whose URL lives in a secret that may be rotated.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::policy::Rejection;
use super::{Delivery, DeliveryError, DiscordClient, Notifier, WebhookUrl};
use crate::render::WebhookMessage;
use crate::retry::RetryPolicy;
use crate::secrets::SecretSource;

/// Reads the webhook URL from its secret on first use and keeps the client. When
/// Discord says the webhook is gone or its token is wrong (404/401), the secret is read
/// again: if it was rotated, the message goes to the new URL before anything is marked
/// failed; if not, the refusal stands.
pub struct RotatingWebhook<S> {
    source: S,
    http: reqwest::Client,
    retry: RetryPolicy,
    max_rate_limit_wait: Duration,
    current: Mutex<Option<Arc<DiscordClient>>>,
}

impl<S: SecretSource> RotatingWebhook<S> {
    /// A webhook read from `source`, posted to like [`DiscordClient::new`].
    pub fn new(
        source: S,
        http: reqwest::Client,
        retry: RetryPolicy,
        max_rate_limit_wait: Duration,
    ) -> Self {
        Self {
            source,
            http,
            retry,
            max_rate_limit_wait,
            current: Mutex::new(None),
        }
    }

    /// The client for the current URL; `reread` fetches the secret even when one is known.
    async fn client(&self, reread: bool) -> Result<Arc<DiscordClient>, DeliveryError> {
        let mut current = self.current.lock().await;
        if let (Some(client), false) = (current.as_ref(), reread) {
            return Ok(Arc::clone(client));
        }
        // A secret that cannot be read or parsed is a configuration problem: report it
        // as unavailable, so notices are retried once it is fixed instead of failing runs.
        let unavailable = |last: String| DeliveryError::Unavailable { attempts: 0, last };
        let secret = self.source.fetch().await.map_err(unavailable)?;
        let webhook = WebhookUrl::parse(&secret)
            .map_err(|e| unavailable(format!("the webhook secret: {e}")))?;
        if let Some(client) = current
            .as_ref()
            .filter(|client| *client.webhook() == webhook)
        {
            return Ok(Arc::clone(client));
        }
        if current.is_some() {
            tracing::info!(webhook = %webhook, "the webhook secret was rotated; using the new URL");
        }
        let client = Arc::new(DiscordClient::new(
            self.http.clone(),
            webhook,
            self.retry,
            self.max_rate_limit_wait,
        ));
        *current = Some(Arc::clone(&client));
        Ok(client)
    }
}

impl<S: SecretSource> Notifier for RotatingWebhook<S> {
    async fn deliver(&self, message: &WebhookMessage) -> Result<Delivery, DeliveryError> {
        let client = self.client(false).await?;
        match client.deliver(message).await {
            Err(DeliveryError::Rejected(
                rejection @ (Rejection::UnknownWebhook | Rejection::InvalidToken),
            )) => {
                let fresh = self.client(true).await?;
                if Arc::ptr_eq(&fresh, &client) {
                    return Err(rejection.into());
                }
                fresh.deliver(message).await
            }
            other => other,
        }
    }
}
