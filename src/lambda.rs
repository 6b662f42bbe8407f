//! The scheduled Lambda: each invocation runs the one sweep against DynamoDB, within the
//! time the invocation has. The binary `run-notifier-lambda` builds this once (clients
//! included) and hands every invocation to [`LambdaApp::invoke`].

use std::time::Duration;

use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::discord::Notifier;
use crate::registry::now_millis;
use crate::retry::RetryPolicy;
use crate::runtime::RuntimeClient;
use crate::secrets::SecretSource;
use crate::store::{Store, StoreError};
use crate::sweep::{SweepConfig, SweepSummary, Sweeper};

/// Where the sweep's time limit came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSource {
    /// The invocation's deadline, less the safety margin.
    Context,
    /// `NOTIFIER_SWEEP_BUDGET_SECONDS`: the context's deadline was unusable (in the past,
    /// as under `cargo lambda watch`, which always reports 1970).
    Budget,
}

/// How long this invocation's sweep may take. Pure.
pub fn sweep_window(
    context_deadline_ms: u64,
    now_ms: u64,
    margin: Duration,
    budget: Duration,
) -> (Duration, WindowSource) {
    if context_deadline_ms <= now_ms {
        return (budget, WindowSource::Budget);
    }
    let left = Duration::from_millis(context_deadline_ms - now_ms);
    (left.saturating_sub(margin), WindowSource::Context)
}

/// Everything an invocation needs, built once per Lambda instance.
pub struct LambdaApp<S, N, K> {
    /// The registrations.
    pub store: S,
    /// Discord.
    pub notifier: N,
    /// The runtime's API key, read on the first invocation, when configured.
    pub api_key: Option<K>,
    /// The shared HTTP client.
    pub http: reqwest::Client,
    /// Retries of runtime requests.
    pub runtime_retry: RetryPolicy,
    /// The sweep's settings; its deadline is set per invocation.
    pub config: SweepConfig,
    /// Taken off the invocation's deadline, so the function never dies mid-write.
    pub margin: Duration,
    /// The sweep's time when the invocation's deadline is unusable.
    pub budget: Duration,
    /// The runtime client, built on the first invocation whose key read succeeds.
    pub runtime: OnceCell<RuntimeClient>,
}

impl<S: Store, N: Notifier, K: SecretSource> LambdaApp<S, N, K> {
    /// One invocation: whatever the event (EventBridge rule, Scheduler, custom input),
    /// one sweep. Fails only when the store cannot be used.
    pub async fn invoke(
        &self,
        event: &Value,
        context_deadline_ms: u64,
    ) -> Result<SweepSummary, StoreError> {
        let now = u64::try_from(now_millis()).unwrap_or(0);
        let (window, source) = sweep_window(context_deadline_ms, now, self.margin, self.budget);
        let trigger = event
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("custom input");
        tracing::info!(trigger, window_seconds = window.as_secs_f64(), window_from = ?source, "sweep starts");
        let mut config = self.config.clone();
        config.deadline = Some(Instant::now() + window);
        // A claim is only taken when a whole post fits in what is left; a budget larger
        // than the window would defer every notice forever, so it is capped.
        config.claim_budget = config.claim_budget.min(window / 2);
        let keyless;
        let runtime = match self.runtime.get_or_try_init(|| self.runtime_client()).await {
            Ok(runtime) => runtime,
            Err(error) => {
                // Not cached: the key is read again on the next invocation.
                tracing::error!("{error}; this sweep reads the runtime without its API key");
                keyless = RuntimeClient::without_key(self.http.clone(), self.runtime_retry);
                &keyless
            }
        };
        let summary = Sweeper::new(&self.store, runtime, &self.notifier, &config)
            .sweep()
            .await?;
        summary.log();
        Ok(summary)
    }

    /// The runtime client, with its API key when one is configured.
    async fn runtime_client(&self) -> Result<RuntimeClient, String> {
        match &self.api_key {
            Some(source) => {
                let key = source.fetch().await?;
                RuntimeClient::new(self.http.clone(), Some(&key), self.runtime_retry)
            }
            None => Ok(RuntimeClient::without_key(
                self.http.clone(),
                self.runtime_retry,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGIN: Duration = Duration::from_secs(5);
    const BUDGET: Duration = Duration::from_secs(50);

    #[test]
    fn a_real_deadline_gives_its_time_less_the_margin() {
        assert_eq!(
            sweep_window(1_000_060_000, 1_000_000_000, MARGIN, BUDGET),
            (Duration::from_secs(55), WindowSource::Context)
        );
        assert_eq!(
            sweep_window(1_000_003_000, 1_000_000_000, MARGIN, BUDGET),
            (Duration::ZERO, WindowSource::Context)
        );
    }

    #[test]
    fn a_deadline_in_the_past_falls_back_to_the_budget() {
        // `cargo lambda watch` reports 600000 ms: 1970.
        assert_eq!(
            sweep_window(600_000, 1_800_000_000_000, MARGIN, BUDGET),
            (BUDGET, WindowSource::Budget)
        );
        assert_eq!(
            sweep_window(0, 1, MARGIN, BUDGET),
            (BUDGET, WindowSource::Budget)
        );
    }
}
