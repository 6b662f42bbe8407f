//! `run-notifier watch`: wiring only.

use std::io::Write;

use super::args::WatchArgs;
use super::{fail, shutdown_signal};
use crate::discord::client::{DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_RETRY};
use crate::discord::dry_run::PrintBody;
use crate::discord::{DiscordClient, Notifier, WebhookUrl};
use crate::runtime::{self, RuntimeClient};
use crate::watch::{self, exit, StatusLine, WatchConfig};

/// Runs the watcher and returns the exit code.
pub async fn run(args: WatchArgs) -> u8 {
    let config = WatchConfig {
        run: args.run_id,
        base: args.base_url,
        poll_interval: args.poll_seconds,
        max_wait: (!args.max_wait_seconds.is_zero()).then_some(args.max_wait_seconds),
    };
    let http = match crate::http::client(args.http_timeout_seconds) {
        Ok(http) => http,
        Err(error) => {
            return fail(
                exit::CONFIG,
                &format!("cannot set up HTTP: {}", crate::http::describe(error)),
            )
        }
    };
    let runtime = match RuntimeClient::new(
        http.clone(),
        args.runtime_api_key.as_ref(),
        runtime::DEFAULT_RETRY,
    ) {
        Ok(runtime) => runtime,
        Err(error) => return fail(exit::CONFIG, &error),
    };
    if args.dry_run {
        return watch_until_stopped(&config, &runtime, &PrintBody, args.fail_on_attention).await;
    }
    let Some(raw_url) = args.webhook_url else {
        return fail(
            exit::CONFIG,
            "set DISCORD_WEBHOOK_URL (or --webhook-url), or use --dry-run",
        );
    };
    let webhook = match WebhookUrl::parse(&raw_url) {
        Ok(webhook) => webhook,
        Err(error) => return fail(exit::CONFIG, &format!("DISCORD_WEBHOOK_URL: {error}")),
    };
    tracing::info!(run = %config.run, runtime = %config.base, webhook = %webhook, "watching");
    let discord = DiscordClient::new(http, webhook, DEFAULT_RETRY, DEFAULT_MAX_RATE_LIMIT_WAIT);
    watch_until_stopped(&config, &runtime, &discord, args.fail_on_attention).await
}

async fn watch_until_stopped<N: Notifier>(
    config: &WatchConfig,
    runtime: &RuntimeClient,
    notifier: &N,
    fail_on_attention: bool,
) -> u8 {
    let mut status = StatusLine::for_stderr();
    let result = tokio::select! {
        result = watch::watch(config, runtime, notifier, &mut status) => result,
        () = shutdown_signal() => {
            status.finish();
            return fail(exit::INTERRUPTED, "interrupted; no message was posted");
        }
    };
    match result {
        Ok(end) => {
            let (watch::WatchEnd::Finished { summary, .. } | watch::WatchEnd::GaveUp { summary }) =
                &end;
            // stdout may be closed (`| head`); the exit code still tells the result.
            let _ = write!(std::io::stdout(), "{summary}");
            end.exit_code(fail_on_attention)
        }
        Err(error) => fail(error.exit_code(), &error.to_string()),
    }
}
