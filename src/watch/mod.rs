//! Phase 1: watch one run and post one message when it is finished.
//!
//! The loop polls every `poll_interval`, so it notices a finished run at most one
//! interval late, and posts exactly once per process (it returns as soon as Discord has
//! the message). A runtime that fails is retried at the next poll; an unknown run is
//! given a short grace, since a run can be watched a moment before the runtime lists it.

mod status_line;

use std::time::Duration;

use tokio::time::Instant;

use crate::discord::{DeliveryError, Notifier};
use crate::domain::{Outcome, Progress, RunSnapshot};
use crate::links::{without_credentials, RunId, RunLinks, RuntimeBase};
use crate::render;
use crate::runtime::{PollError, RunSource};
pub use status_line::StatusLine;

/// How far past `MAX_WAIT_SECONDS` the last look at the run may go.
const LAST_LOOK: Duration = Duration::from_secs(2);

/// Consecutive 404s tolerated before the run is declared unknown.
pub const NOT_FOUND_GRACE: u32 = 3;

/// Exit codes of `run-notifier watch`.
pub mod exit {
    /// The run finished and the message was posted.
    pub const NOTIFIED: u8 = 0;
    /// The run finished with attention-required and `FAIL_ON_ATTENTION=1`.
    pub const ATTENTION: u8 = 1;
    /// Bad configuration, a runtime that refuses our key, or an unknown run.
    pub const CONFIG: u8 = 2;
    /// `MAX_WAIT_SECONDS` passed; a "still running" notice was posted instead.
    pub const TIMED_OUT: u8 = 3;
    /// Discord rejected the webhook (gone, unauthorised) or our body.
    pub const WEBHOOK_REJECTED: u8 = 4;
    /// The run finished, but Discord stayed unreachable until `MAX_WAIT_SECONDS` passed.
    pub const UNDELIVERED: u8 = 5;
    /// Interrupted by Ctrl-C or SIGTERM.
    pub const INTERRUPTED: u8 = 130;
}

/// What to watch and how.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// The run.
    pub run: RunId,
    /// The runtime.
    pub base: RuntimeBase,
    /// Time between the starts of two polls.
    pub poll_interval: Duration,
    /// Give up after this long; `None` waits forever.
    pub max_wait: Option<Duration>,
}

/// How a watch ended well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// The run finished and its message was delivered.
    Finished {
        /// How it went.
        outcome: Outcome,
        /// The plain-text summary, for stdout.
        summary: String,
    },
    /// The wait ran out; the still-running notice was sent (or could not be, which is
    /// logged: the exit code says the wait ran out either way).
    GaveUp {
        /// The plain-text summary, for stdout.
        summary: String,
    },
}

/// How a watch ended badly.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The runtime does not know the run, or refuses our key.
    #[error("{0}")]
    Runtime(PollError),
    /// Discord refused for good.
    #[error("{0}")]
    Webhook(DeliveryError),
    /// The run finished, but the message could not be delivered in time.
    #[error("run {run} finished ({outcome}) but Discord stayed unreachable until the wait ran out: {error}")]
    Undelivered {
        /// The run.
        run: String,
        /// Its outcome.
        outcome: Outcome,
        /// The last delivery failure.
        error: DeliveryError,
    },
}

impl WatchEnd {
    /// The process exit code for this end.
    pub fn exit_code(&self, fail_on_attention: bool) -> u8 {
        match self {
            Self::Finished {
                outcome: Outcome::AttentionRequired,
                ..
            } if fail_on_attention => exit::ATTENTION,
            Self::Finished { .. } => exit::NOTIFIED,
            Self::GaveUp { .. } => exit::TIMED_OUT,
        }
    }
}

impl WatchError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Runtime(_) => exit::CONFIG,
            Self::Webhook(_) => exit::WEBHOOK_REJECTED,
            Self::Undelivered { .. } => exit::UNDELIVERED,
        }
    }
}

/// Watches `config.run` until it is finished (message delivered) or the wait runs out.
pub async fn watch<S: RunSource, N: Notifier>(
    config: &WatchConfig,
    source: &S,
    notifier: &N,
    status: &mut StatusLine,
) -> Result<WatchEnd, WatchError> {
    let started = Instant::now();
    let deadline = config.max_wait.map(|wait| started + wait);
    let links = RunLinks::new(&config.base, &config.run);
    let mut last_seen: Option<RunSnapshot> = None;
    let mut undelivered: Option<(Outcome, DeliveryError)> = None;
    let mut not_found = 0;
    loop {
        let poll_started = Instant::now();
        let out_of_time = deadline.is_some_and(|deadline| poll_started >= deadline);
        // A look may take long (retries, slow answers); with a wait limit, it is cut off
        // shortly after the limit, so the watcher gives up on time.
        let look = source.snapshot(&config.base, &config.run);
        let look = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.max(poll_started) + LAST_LOOK, look)
                .await
                .unwrap_or_else(|_| {
                    Err(PollError::Unavailable {
                        url: without_credentials(&config.base.run_url(&config.run)),
                        attempts: 1,
                        reason: "no answer before MAX_WAIT_SECONDS ran out".into(),
                    })
                }),
            None => look.await,
        };
        match look {
            Ok(snapshot) => {
                not_found = 0;
                let progress = snapshot.progress();
                status.show(&snapshot, progress, started.elapsed(), config.poll_interval);
                if let Progress::Finished(outcome) = progress {
                    let message = render::notice::finished(&snapshot, outcome, &links);
                    match notifier.deliver(&message).await {
                        Ok(delivery) => {
                            status.finish();
                            match &delivery.message_id {
                                Some(id) => {
                                    tracing::info!(run = %config.run, %outcome, message_id = %id, "run finished; message delivered")
                                }
                                None => {
                                    tracing::info!(run = %config.run, %outcome, "run finished; message handed over (no message id: a dry run, or a proxy that does not wait)")
                                }
                            }
                            let summary = render::plain::finished(&snapshot, outcome, &links);
                            return Ok(WatchEnd::Finished { outcome, summary });
                        }
                        Err(error @ DeliveryError::Rejected(_)) => {
                            status.finish();
                            return Err(WatchError::Webhook(error));
                        }
                        Err(error) => {
                            tracing::warn!(run = %config.run, "run finished but the message was not delivered; trying again at the next poll: {error}");
                            undelivered = Some((outcome, error));
                        }
                    }
                }
                last_seen = Some(snapshot);
            }
            Err(error @ PollError::NotFound { .. }) => {
                not_found += 1;
                if not_found >= NOT_FOUND_GRACE {
                    status.finish();
                    return Err(WatchError::Runtime(error));
                }
                tracing::warn!(run = %config.run, "{error} ({not_found} of {NOT_FOUND_GRACE} tries)");
            }
            Err(error @ PollError::Unauthorized { .. }) => {
                status.finish();
                return Err(WatchError::Runtime(error));
            }
            Err(error) => {
                tracing::warn!(run = %config.run, "{error}; trying again at the next poll")
            }
        }
        if out_of_time {
            status.finish();
            return give_up(
                config,
                last_seen.as_ref(),
                undelivered,
                started.elapsed(),
                &links,
                notifier,
            )
            .await;
        }
        let next_poll = poll_started + config.poll_interval;
        tokio::time::sleep_until(deadline.map_or(next_poll, |d| next_poll.min(d))).await;
    }
}

/// The wait ran out: post the still-running notice, unless the run had in fact finished
/// and only the delivery failed.
async fn give_up<N: Notifier>(
    config: &WatchConfig,
    last_seen: Option<&RunSnapshot>,
    undelivered: Option<(Outcome, DeliveryError)>,
    waited: Duration,
    links: &RunLinks,
    notifier: &N,
) -> Result<WatchEnd, WatchError> {
    if let Some((outcome, error)) = undelivered {
        return Err(WatchError::Undelivered {
            run: config.run.to_string(),
            outcome,
            error,
        });
    }
    let notice = render::notice::still_running(&config.run, last_seen, waited, links);
    match notifier.deliver(&notice).await {
        Ok(_) => {
            tracing::info!(run = %config.run, "gave up waiting; still-running notice delivered")
        }
        Err(error @ DeliveryError::Rejected(_)) => return Err(WatchError::Webhook(error)),
        Err(error) => {
            tracing::error!(run = %config.run, "gave up waiting; the still-running notice was not delivered: {error}")
        }
    }
    Ok(WatchEnd::GaveUp {
        summary: render::plain::still_running(&config.run, last_seen, waited, links),
    })
}
