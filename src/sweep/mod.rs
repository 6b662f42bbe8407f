//! Phase 2: one sweep over every open registration. The CLI's `sweep` and `serve` and
//! the Lambda all run this, and only this.
//!
//! For each open record: look at the run (concurrently, `concurrency` at a time), decide
//! with [`decide::decide`], and only when a notice is due, claim the record (a
//! conditional write: exactly one sweeper wins), post, and complete the claim. A sweep of
//! runs that need nothing makes no writes. A failure on one run is logged and counted and
//! never stops the others; only a store that cannot list open runs fails the sweep.

pub mod decide;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::discord::{DeliveryError, Notifier};
use crate::domain::RunSnapshot;
use crate::links::{RunLinks, RuntimeBase};
use crate::registry::raw::attr;
use crate::registry::{now_millis, RawRecord, Record};
use crate::render::{self, WebhookMessage};
use crate::runtime::RunSource;
use crate::store::{Claim, Completion, Stamp, Store, StoreError};
use decide::{decide, Action};

/// How a sweep behaves.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// The runtime for records without their own base URL.
    pub default_base: RuntimeBase,
    /// This sweeper's identity in claims.
    pub owner: String,
    /// How long a claim protects a post before another sweeper may take over.
    pub lease: Duration,
    /// Runs looked at at once.
    pub concurrency: usize,
    /// Announce a stall when no task moved for this long; `None` disables.
    pub stall_after: Option<Duration>,
    /// How long finished records are kept.
    pub retention: Duration,
    /// Every claim is completed or released by then (a Lambda's end, less a margin).
    pub deadline: Option<Instant>,
    /// No new claim is taken when less than this is left before `deadline`.
    pub claim_budget: Duration,
}

/// What one sweep did, per run (also the Lambda's answer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Open records looked at.
    pub checked: u64,
    /// Finish messages delivered.
    pub notified: u64,
    /// Stall notices delivered.
    pub stalled: u64,
    /// Deadline notices delivered (those runs are no longer polled).
    pub expired: u64,
    /// Records marked failed because Discord refused the webhook.
    pub failed: u64,
    /// Malformed records set aside.
    pub malformed: u64,
    /// Runs that could not be handled this time (runtime or Discord unavailable, store
    /// error on one record); they are tried again next sweep.
    pub errors: u64,
    /// Runs another sweeper holds or just finished.
    pub skipped: u64,
    /// Notices left for the next sweep: the deadline was near, or Discord unavailable.
    pub deferred: u64,
}

/// What happened to one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handled {
    Waiting,
    Notified,
    Stalled,
    Expired,
    Failed,
    Malformed,
    Error,
    Skipped,
    Deferred,
}

impl SweepSummary {
    /// One log line with every count, for the operator (and CloudWatch).
    pub fn log(&self) {
        tracing::info!(
            checked = self.checked,
            notified = self.notified,
            stalled = self.stalled,
            expired = self.expired,
            failed = self.failed,
            malformed = self.malformed,
            errors = self.errors,
            skipped = self.skipped,
            deferred = self.deferred,
            "sweep done"
        );
    }

    fn add(&mut self, handled: Handled) {
        self.checked += 1;
        match handled {
            Handled::Waiting => {}
            Handled::Notified => self.notified += 1,
            Handled::Stalled => self.stalled += 1,
            Handled::Expired => self.expired += 1,
            Handled::Failed => self.failed += 1,
            Handled::Malformed => self.malformed += 1,
            Handled::Error => self.errors += 1,
            Handled::Skipped => self.skipped += 1,
            Handled::Deferred => self.deferred += 1,
        }
    }
}

/// The pieces a sweep works with.
pub struct Sweeper<'a, S, R, N> {
    store: &'a S,
    runtime: &'a R,
    notifier: &'a N,
    config: &'a SweepConfig,
    /// Set when a delivery failed for a reason other than a refusal: Discord is down or
    /// limiting us, so the rest of this sweep takes no new claims (each would only sit
    /// through the same retries) and leaves those notices to the next sweep.
    discord_unavailable: AtomicBool,
}

impl<'a, S: Store, R: RunSource, N: Notifier> Sweeper<'a, S, R, N> {
    /// A sweeper over `store`, reading `runtime` and posting through `notifier` (one
    /// client per webhook, so its rate limits are shared by the whole sweep).
    pub fn new(store: &'a S, runtime: &'a R, notifier: &'a N, config: &'a SweepConfig) -> Self {
        Self {
            store,
            runtime,
            notifier,
            config,
            discord_unavailable: AtomicBool::new(false),
        }
    }

    /// One pass over every open registration.
    pub async fn sweep(&self) -> Result<SweepSummary, StoreError> {
        self.discord_unavailable.store(false, Ordering::Relaxed);
        let open = self.store.open_records().await?;
        let mut summary = SweepSummary::default();
        let mut handled = stream::iter(open)
            .map(|raw| self.handle(raw))
            .buffer_unordered(self.config.concurrency.max(1));
        while let Some(outcome) = handled.next().await {
            summary.add(outcome);
        }
        Ok(summary)
    }

    async fn handle(&self, raw: RawRecord) -> Handled {
        let record = match Record::parse(&raw) {
            Ok(record) => record,
            Err(malformed) => return self.set_aside(&raw, &malformed.to_string()).await,
        };
        if !record.state.is_claimable(now_millis()) {
            return Handled::Skipped;
        }
        let base = record
            .base_url
            .as_ref()
            .unwrap_or(&self.config.default_base);
        // With a deadline, a look that is still going when it comes is abandoned (only
        // reads are in flight), so a hung runtime cannot hold the sweep past its end.
        let look = self.runtime.snapshot(base, &record.run_id);
        let look = match self.config.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, look).await {
                Ok(look) => look,
                Err(_) => return Handled::Deferred,
            },
            None => look.await,
        };
        let look = match look {
            Ok(snapshot) => Some(snapshot),
            Err(error) => {
                tracing::warn!(run = %record.run_id, "{error}");
                None
            }
        };
        match decide(
            &record,
            look.as_ref(),
            OffsetDateTime::now_utc(),
            self.config.stall_after,
        ) {
            Action::Wait if look.is_none() => Handled::Error,
            Action::Wait => Handled::Waiting,
            action => self.notify(&record, base, look.as_ref(), action).await,
        }
    }

    /// Claims the record, posts the notice the action calls for, and completes the
    /// claim with what happened.
    async fn notify(
        &self,
        record: &Record,
        base: &RuntimeBase,
        look: Option<&RunSnapshot>,
        action: Action,
    ) -> Handled {
        let left = self
            .config
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left < self.config.claim_budget)
            || self.discord_unavailable.load(Ordering::Relaxed)
        {
            return Handled::Deferred;
        }
        let now = now_millis();
        let claim = Claim {
            owner: &self.config.owner,
            now,
            until: now.saturating_add(millis(self.config.lease)),
            stall: match &action {
                Action::Stall { stall, .. } => Some(stall),
                _ => None,
            },
        };
        match self.store.claim(&record.run_id, &claim).await {
            Ok(true) => {}
            Ok(false) => return Handled::Skipped,
            Err(error) => {
                tracing::error!(run = %record.run_id, "cannot claim: {error}");
                return Handled::Error;
            }
        }
        let message = self.message(record, base, look, &action, now);
        // The post must end well within the lease (or another sweeper could take over
        // and post again) and before the sweep's deadline.
        let budget = left.map_or(self.config.lease / 2, |left| {
            (self.config.lease / 2).min(left)
        });
        let delivered = match tokio::time::timeout(budget, self.notifier.deliver(&message)).await {
            Ok(delivered) => delivered,
            Err(_) => Err(DeliveryError::Unavailable {
                attempts: 0,
                last: format!(
                    "no delivery within {}s; released for the next sweep",
                    budget.as_secs()
                ),
            }),
        };
        match &delivered {
            Err(DeliveryError::Rejected(rejection)) => {
                tracing::error!(run = %record.run_id, "{rejection}")
            }
            Err(error) => {
                self.discord_unavailable.store(true, Ordering::Relaxed);
                tracing::warn!(run = %record.run_id, "{error}; released for the next sweep, and no more notices this sweep");
            }
            Ok(_) => tracing::info!(run = %record.run_id, "{} delivered", action_name(&action)),
        }
        let (completion, handled) = completion(&action, look, delivered);
        if self.complete(record, &completion).await {
            handled
        } else {
            Handled::Error
        }
    }

    fn message(
        &self,
        record: &Record,
        base: &RuntimeBase,
        look: Option<&RunSnapshot>,
        action: &Action,
        now: i64,
    ) -> WebhookMessage {
        let links = RunLinks::new(base, &record.run_id);
        match (action, look) {
            (Action::Finish(outcome), Some(snapshot)) => {
                render::notice::finished(snapshot, *outcome, &links)
            }
            (Action::Stall { since, .. }, Some(snapshot)) => {
                render::notice::stalled(snapshot, *since, &links)
            }
            _ => {
                let since = record.registered_at.or(record.deadline_at).unwrap_or(now);
                let waited = Duration::from_millis(u64::try_from(now - since).unwrap_or(0));
                render::notice::still_running(&record.run_id, look, waited, &links)
            }
        }
    }

    /// Records how the claim ended; `false` when the store failed.
    async fn complete(&self, record: &Record, completion: &Completion) -> bool {
        match self
            .store
            .complete(&record.run_id, &self.config.owner, completion, self.stamp())
            .await
        {
            Ok(true) => true,
            Ok(false) => {
                // Our lease ran out mid-post and another sweeper took the record over: it
                // may post the same notice again. Only a post slower than the lease gets here.
                tracing::warn!(run = %record.run_id, "the claim lapsed before it was completed; another sweeper may repeat this notice");
                true
            }
            Err(error) => {
                tracing::error!(run = %record.run_id, "cannot record the notice: {error}");
                false
            }
        }
    }

    /// Now, and when a record finished now may be deleted.
    fn stamp(&self) -> Stamp {
        let now = now_millis();
        let retention = i64::try_from(self.config.retention.as_secs()).unwrap_or(i64::MAX / 2);
        Stamp {
            now,
            expires_at: (now / 1000).saturating_add(retention),
        }
    }

    async fn set_aside(&self, raw: &RawRecord, reason: &str) -> Handled {
        let set_aside = match raw.get(attr::RUN_ID) {
            Some(key) => self.store.set_aside(key, reason, self.stamp()).await,
            None => Ok(false),
        };
        match set_aside {
            Ok(true) => tracing::warn!("{reason}; set aside as failed: fix it, or unregister it"),
            Ok(false) => tracing::warn!(
                "{reason}; not set aside here: another sweeper already did, or its key cannot be addressed (then delete it from the store by hand)"
            ),
            Err(error) => tracing::error!("{reason}; setting it aside failed: {error}"),
        }
        Handled::Malformed
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Finish(_) => "finish message",
        Action::Stall { .. } => "stall notice",
        Action::Deadline | Action::Wait => "deadline notice",
    }
}

/// What to record after a post, and how to count it.
fn completion(
    action: &Action,
    look: Option<&RunSnapshot>,
    delivered: Result<crate::discord::Delivery, DeliveryError>,
) -> (Completion, Handled) {
    let counts = look.map(|snapshot| snapshot.tally().to_string());
    match delivered {
        Ok(delivery) => match action {
            Action::Finish(outcome) => (
                Completion::Notified {
                    message_id: delivery.message_id,
                    outcome: *outcome,
                    counts: counts.unwrap_or_default(),
                },
                Handled::Notified,
            ),
            Action::Stall { stall, .. } => (
                Completion::StallAnnounced {
                    stall: stall.clone(),
                    message_id: delivery.message_id,
                },
                Handled::Stalled,
            ),
            Action::Deadline | Action::Wait => (
                Completion::Expired {
                    message_id: delivery.message_id,
                    counts,
                },
                Handled::Expired,
            ),
        },
        Err(DeliveryError::Rejected(rejection)) => (
            Completion::Failed {
                reason: rejection.to_string(),
            },
            Handled::Failed,
        ),
        Err(_) => (Completion::Released, Handled::Error),
    }
}

/// A claim owner id unique to this process: host, pid and a random part.
pub fn owner_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
