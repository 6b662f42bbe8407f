//! `sweep` and `serve`: wiring only; the sweep itself is [`crate::sweep`].

use super::args::{ServeArgs, SweepArgs};
use super::fail;
use super::shutdown_signal;
use super::stores::{exit, open, store_failed};
use crate::discord::client::{DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_RETRY};
use crate::discord::{DiscordClient, WebhookUrl};
use crate::runtime::{self, RuntimeClient};
use crate::store::AnyStore;
use crate::sweep::{owner_id, SweepConfig, SweepSummary, Sweeper};

/// Everything a sweep needs, built once per process.
struct Parts {
    store: AnyStore,
    runtime: RuntimeClient,
    discord: DiscordClient,
    config: SweepConfig,
}

impl Parts {
    async fn build(args: SweepArgs) -> Result<Self, u8> {
        let webhook = WebhookUrl::parse(&args.webhook_url)
            .map_err(|e| fail(exit::CONFIG, &format!("DISCORD_WEBHOOK_URL: {e}")))?;
        let http = crate::http::client(args.tuning.http_timeout_seconds).map_err(|e| {
            fail(
                exit::CONFIG,
                &format!("cannot set up HTTP: {}", crate::http::describe(e)),
            )
        })?;
        let runtime = RuntimeClient::new(
            http.clone(),
            args.runtime_api_key.as_ref(),
            runtime::DEFAULT_RETRY,
        )
        .map_err(|e| fail(exit::CONFIG, &e))?;
        let store = open(&args.store).await?;
        let config = args.tuning.config(owner_id());
        tracing::debug!(owner = %config.owner, webhook = %webhook, "sweeper ready");
        let discord = DiscordClient::new(http, webhook, DEFAULT_RETRY, DEFAULT_MAX_RATE_LIMIT_WAIT);
        Ok(Self {
            store,
            runtime,
            discord,
            config,
        })
    }

    async fn sweep(&self) -> Result<SweepSummary, u8> {
        let sweeper = Sweeper::new(&self.store, &self.runtime, &self.discord, &self.config);
        let summary = sweeper.sweep().await.map_err(|e| store_failed(&e))?;
        summary.log();
        Ok(summary)
    }
}

/// `sweep`: one pass; the summary goes to stdout as JSON.
pub async fn sweep(args: SweepArgs) -> u8 {
    let parts = match Parts::build(args).await {
        Ok(parts) => parts,
        Err(code) => return code,
    };
    match parts.sweep().await {
        Ok(summary) => {
            println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            exit::OK
        }
        Err(code) => code,
    }
}

/// `serve`: sweep every `POLL_SECONDS` until asked to stop; a sweep under way when the
/// signal comes is finished first, so no claim is left half-done.
pub async fn serve(args: ServeArgs) -> u8 {
    let parts = match Parts::build(args.sweep).await {
        Ok(parts) => parts,
        Err(code) => return code,
    };
    tracing::info!(every_seconds = args.poll_seconds.as_secs_f64(), "serving");
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let started = tokio::time::Instant::now();
        let sweep = parts.sweep();
        tokio::pin!(sweep);
        let mut stopping = false;
        let result = loop {
            tokio::select! {
                result = &mut sweep => break result,
                () = &mut stop, if !stopping => {
                    stopping = true;
                    tracing::info!("stopping after the sweep in hand");
                }
            }
        };
        if let Err(code) = result {
            return code;
        }
        if stopping {
            return exit::OK;
        }
        tokio::select! {
            () = tokio::time::sleep_until(started + args.poll_seconds) => {}
            () = &mut stop => return exit::OK,
        }
    }
}
