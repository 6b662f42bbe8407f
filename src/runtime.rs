//! The swarm runtime's side: reading a run and its tasks over HTTP.

use std::future::Future;

use reqwest::header::{HeaderValue, ACCEPT};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use url::Url;

use crate::domain::run::TaskList;
use crate::domain::{RunInfo, RunSnapshot};
use crate::http::describe;
use crate::links::{without_credentials, RunId, RuntimeBase};
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// The most tasks the runtime lists in one answer (it clamps `limit` to 1..=500). Its
/// default is 50, which silently truncates bigger runs.
pub const TASK_LIMIT: u16 = 500;

/// Retries within one poll: a few quick tries smooth over a blip; a longer outage is
/// left to the next poll.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base_delay: std::time::Duration::from_millis(250),
    max_delay: std::time::Duration::from_secs(4),
};

/// Why a run could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// 404: the runtime does not know the run (yet, or at all).
    #[error(
        "the runtime does not know run {run:?} ({url} answered 404); check RUN_ID and BASE_URL"
    )]
    NotFound {
        /// The run id.
        run: String,
        /// The URL tried.
        url: String,
    },
    /// 401/403: the API key is missing or wrong.
    #[error("the runtime refused access ({url} answered {status}); {hint}")]
    Unauthorized {
        /// The URL tried.
        url: String,
        /// 401 or 403.
        status: u16,
        /// What to do about it.
        hint: &'static str,
    },
    /// Connection errors, timeouts, 5xx, empty or unreadable answers, after retries.
    #[error("the runtime could not be read at {url} ({attempts} attempts): {reason}")]
    Unavailable {
        /// The URL tried.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// Another 4xx: the request itself is wrong.
    #[error("the runtime answered {status} at {url}: {detail}")]
    Rejected {
        /// The URL tried.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the body.
        detail: String,
    },
}

/// Something that can take a look at a run: the runtime over HTTP, or a test's stand-in.
pub trait RunSource: Send + Sync {
    /// Reads the run and its whole task list.
    fn snapshot(
        &self,
        base: &RuntimeBase,
        run: &RunId,
    ) -> impl Future<Output = Result<RunSnapshot, PollError>> + Send;
}

/// The runtime's HTTP API.
pub struct RuntimeClient {
    http: reqwest::Client,
    api_key: Option<HeaderValue>,
    retry: RetryPolicy,
}

impl RuntimeClient {
    /// A client that sends `X-API-Key` when `api_key` is given. The header is marked
    /// sensitive, so HTTP-level debugging never prints it.
    pub fn new(
        http: reqwest::Client,
        api_key: Option<&Secret>,
        retry: RetryPolicy,
    ) -> Result<Self, String> {
        let api_key = api_key
            .map(|key| {
                let mut value = HeaderValue::from_str(key.expose().trim()).map_err(|_| {
                    "RUNTIME_API_KEY has characters that cannot go in an HTTP header".to_string()
                })?;
                value.set_sensitive(true);
                Ok::<_, String>(value)
            })
            .transpose()?;
        Ok(Self {
            http,
            api_key,
            retry,
        })
    }

    /// A client that sends no API key.
    pub fn without_key(http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self {
            http,
            api_key: None,
            retry,
        }
    }

    /// GETs `url` and decodes its JSON, retrying transient failures.
    async fn get_json<T: DeserializeOwned>(&self, url: Url, run: &RunId) -> Result<T, PollError> {
        let shown = without_credentials(&url);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let reason = match self.get_once(&url).await {
                Ok((200..=299, body)) => match serde_json::from_slice(&body) {
                    Ok(value) => return Ok(value),
                    Err(_) if body.iter().all(u8::is_ascii_whitespace) => {
                        "empty answer".to_string()
                    }
                    Err(e) => format!("unreadable JSON ({e}): {}", preview(&body)),
                },
                Ok((404, _)) => {
                    return Err(PollError::NotFound {
                        run: run.to_string(),
                        url: shown,
                    })
                }
                Ok((status @ (401 | 403), _)) => {
                    let hint = if self.api_key.is_some() {
                        "RUNTIME_API_KEY is wrong: set it to the runtime's configured key"
                    } else {
                        "the runtime needs an API key: set RUNTIME_API_KEY"
                    };
                    return Err(PollError::Unauthorized {
                        url: shown,
                        status,
                        hint,
                    });
                }
                Ok((status @ (408 | 429 | 500..=599), body)) => {
                    format!("{status}: {}", preview(&body))
                }
                Ok((status, body)) => {
                    return Err(PollError::Rejected {
                        url: shown,
                        status,
                        detail: preview(&body),
                    })
                }
                Err(transport) => transport,
            };
            if attempts >= self.retry.max_attempts {
                return Err(PollError::Unavailable {
                    url: shown,
                    attempts,
                    reason,
                });
            }
            let delay = self.retry.delay(attempts);
            tracing::debug!(url = %shown, attempt = attempts, retry_in_ms = delay.as_millis() as u64, "runtime request failed: {reason}");
            tokio::time::sleep(delay).await;
        }
    }

    async fn get_once(&self, url: &Url) -> Result<(u16, Vec<u8>), String> {
        let mut request = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key.clone());
        }
        let response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(describe)?;
        Ok((status, body.to_vec()))
    }
}

impl RunSource for RuntimeClient {
    /// Reads `GET /runs/{id}` and `GET /runs/{id}/tasks?limit=500` at once. Whether the list is
    /// whole (its length equals `taskCount`) is for [`RunSnapshot::progress`] to judge.
    async fn snapshot(&self, base: &RuntimeBase, run: &RunId) -> Result<RunSnapshot, PollError> {
        // Both at once: one round trip per look. The order does not matter, since the
        // list is only trusted when its length matches taskCount either way.
        let (info, list) = tokio::try_join!(
            self.get_json::<RunInfo>(base.run_url(run), run),
            self.get_json::<TaskList>(base.tasks_url(run, Some(TASK_LIMIT)), run),
        )?;
        Ok(RunSnapshot {
            run: info,
            source: list.source,
            tasks: list.items,
            checked_at: OffsetDateTime::now_utc(),
        })
    }
}

/// The start of a body, on one line, for error messages.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "empty body".to_string()
    } else {
        line.chars().take(120).collect()
    }
}
