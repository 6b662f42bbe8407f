//! Posting a message to a webhook.

use std::future::Future;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::policy::{self, Answer, Rejection, Verdict};
use super::WebhookUrl;
use crate::http::describe;
use crate::render::WebhookMessage;
use crate::retry::RetryPolicy;

/// The form Discord asks callers to send, `DiscordBot (<url>, <version>)`; the project
/// has no public URL, so its name stands in for it.
const DISCORD_USER_AGENT: &str =
    concat!("DiscordBot (run-notifier, ", env!("CARGO_PKG_VERSION"), ")");

/// At most this many 429s are waited out for one message before giving up on it for now.
const MAX_RATE_LIMITED: u32 = 8;

/// Retries of one post after 5xx answers or transport failures.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(8),
};

/// The longest rate-limit pause waited out inside one delivery; a longer one fails the
/// delivery for now (nothing is sent early) and the caller tries again later.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// A message that Discord accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message's id (Discord returns it because we post with `wait=true`).
    pub message_id: Option<String>,
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Discord refused for good: retrying cannot help, a human must act.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// Discord could not be reached or kept failing; a later attempt may succeed.
    #[error("Discord could not be reached ({attempts} attempts): {last}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Discord asks for a longer pause than we may wait now; nothing was sent early.
    #[error("Discord's rate limit asks to wait {}s before posting again", .0.as_secs_f64().ceil())]
    RateLimited(Duration),
}

/// Something that delivers messages: Discord's webhook, or a test's stand-in.
pub trait Notifier: Send + Sync {
    /// Delivers one message, retrying what is worth retrying.
    fn deliver(
        &self,
        message: &WebhookMessage,
    ) -> impl Future<Output = Result<Delivery, DeliveryError>> + Send;
}

/// Posts to one webhook.
///
/// Requests to the webhook go one at a time through a gate that remembers when the next
/// one may leave (after a 429's `retry_after`, or when `X-RateLimit-Remaining` hit 0):
/// Discord's limits are per webhook, so every caller sharing this client shares them too.
pub struct DiscordClient {
    http: reqwest::Client,
    webhook: WebhookUrl,
    retry: RetryPolicy,
    max_rate_limit_wait: Duration,
    not_before: Mutex<Option<Instant>>,
}

impl DiscordClient {
    /// A client for `webhook`. A rate-limit pause longer than `max_rate_limit_wait`
    /// is not waited out: the delivery fails with [`DeliveryError::RateLimited`] and the
    /// gate stays closed until the pause is over.
    pub fn new(
        http: reqwest::Client,
        webhook: WebhookUrl,
        retry: RetryPolicy,
        max_rate_limit_wait: Duration,
    ) -> Self {
        Self {
            http,
            webhook,
            retry,
            max_rate_limit_wait,
            not_before: Mutex::new(None),
        }
    }

    /// The webhook, for messages (it shows redacted).
    pub fn webhook(&self) -> &WebhookUrl {
        &self.webhook
    }

    async fn post(&self, body: &[u8]) -> Result<(u16, HeaderMap, Vec<u8>), String> {
        let response = self
            .http
            .post(self.webhook.endpoint().expose())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, DISCORD_USER_AGENT)
            .body(body.to_vec())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(describe)?;
        Ok((status, headers, body.to_vec()))
    }
}

impl Notifier for DiscordClient {
    async fn deliver(&self, message: &WebhookMessage) -> Result<Delivery, DeliveryError> {
        let body = serde_json::to_vec(message).map_err(|e| DeliveryError::Unavailable {
            attempts: 0,
            last: format!("cannot encode the message: {e}"),
        })?;
        let mut not_before = self.not_before.lock().await;
        let (mut failures, mut rate_limited) = (0, 0);
        loop {
            if let Some(at) = *not_before {
                let wait = at.saturating_duration_since(Instant::now());
                if wait > self.max_rate_limit_wait {
                    return Err(DeliveryError::RateLimited(wait));
                }
                tokio::time::sleep_until(at).await;
            }
            let last = match self.post(&body).await {
                Ok((status, headers, body)) => {
                    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
                    let answer = Answer {
                        status,
                        retry_after: header(RETRY_AFTER.as_str()),
                        remaining: header("x-ratelimit-remaining"),
                        reset_after: header("x-ratelimit-reset-after"),
                        body: &body,
                    };
                    *not_before = policy::bucket_wait(&answer).map(|wait| Instant::now() + wait);
                    match policy::classify(&answer) {
                        Verdict::Delivered { message_id } => return Ok(Delivery { message_id }),
                        Verdict::Rejected(rejection) => return Err(rejection.into()),
                        Verdict::RateLimited { wait, global } => {
                            tracing::warn!(webhook = %self.webhook, wait_seconds = wait.as_secs_f64(), global, "Discord rate limit: waiting before the next post");
                            *not_before = Some(Instant::now() + wait);
                            rate_limited += 1;
                            if rate_limited >= MAX_RATE_LIMITED {
                                return Err(DeliveryError::RateLimited(wait));
                            }
                            continue;
                        }
                        Verdict::Banned => {
                            tracing::warn!(webhook = %self.webhook, "Discord answered 429 without retry_after: this address is banned for a while, backing off {}s", policy::BAN_BACKOFF.as_secs());
                            *not_before = Some(Instant::now() + policy::BAN_BACKOFF);
                            return Err(DeliveryError::RateLimited(policy::BAN_BACKOFF));
                        }
                        Verdict::Transient { reason } => reason,
                    }
                }
                Err(transport) => {
                    // Discord has no idempotency key: if the post reached it before the
                    // failure, this retry posts a second copy. Timeouts are long enough
                    // for that to be rare; losing the message would be worse.
                    transport
                }
            };
            failures += 1;
            if failures >= self.retry.max_attempts {
                return Err(DeliveryError::Unavailable {
                    attempts: failures,
                    last,
                });
            }
            let delay = self.retry.delay(failures);
            tracing::warn!(webhook = %self.webhook, attempt = failures, retry_in_ms = delay.as_millis() as u64, "Discord post failed: {last}");
            tokio::time::sleep(delay).await;
        }
    }
}
