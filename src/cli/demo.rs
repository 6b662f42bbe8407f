//! `run-notifier demo`: the whole tool, offline, in a few seconds. A simulated runtime
//! and a local webhook capture run in this process; the real watcher, runtime client and
//! Discord client talk to them over HTTP on 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::args::DemoArgs;
use super::shutdown_signal;
use crate::discord::client::{DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_RETRY};
use crate::discord::{DiscordClient, WebhookUrl};
use crate::links::{RunId, RuntimeBase};
use crate::runtime::{self, RuntimeClient};
use crate::secret::Secret;
use crate::sim::discord::DiscordCapture;
use crate::sim::runtime::{builtin_scenario, RuntimeSimulator};
use crate::watch::{self, exit, StatusLine, WatchConfig, WatchEnd};

/// The built-in run the demo watches: 15 tasks ending 12 done, 2 failed, 1 blocked.
const DEMO_RUN: &str = "run-demo";

/// Runs the demo and returns the exit code.
pub async fn run(args: DemoArgs) -> u8 {
    match demo(args).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: the demo could not run: {error:#}");
            1
        }
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<u8> {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(args.time_scale));
    let runtime_server = simulator.spawn(loopback).await?;
    let capture = DiscordCapture::new();
    let capture_server = capture.spawn(loopback).await?;
    let webhook = WebhookUrl::parse(&Secret::new(
        capture_server.webhook_url("100000000000000001", "demo-token"),
    ))?;
    let config = WatchConfig {
        run: RunId::parse(DEMO_RUN)?,
        base: RuntimeBase::parse(&runtime_server.base_url())?,
        poll_interval: args.poll_seconds,
        max_wait: Some(Duration::from_secs(600)),
    };
    eprintln!(
        "demo: simulated runtime at {}, webhook capture at {webhook}, watching {DEMO_RUN} every {}s\n",
        config.base,
        args.poll_seconds.as_secs_f64()
    );

    let http = crate::http::client(Duration::from_secs(10))
        .map_err(crate::http::describe)
        .map_err(anyhow::Error::msg)?;
    let runtime = RuntimeClient::new(http.clone(), None, runtime::DEFAULT_RETRY)
        .map_err(anyhow::Error::msg)?;
    let discord = DiscordClient::new(http, webhook, DEFAULT_RETRY, DEFAULT_MAX_RATE_LIMIT_WAIT);
    let mut status = StatusLine::for_stderr();
    let end = tokio::select! {
        end = watch::watch(&config, &runtime, &discord, &mut status) => end?,
        () = shutdown_signal() => return Ok(exit::INTERRUPTED),
    };

    for message in capture.messages() {
        println!("\n── The message the webhook received ──");
        println!("{}", serde_json::to_string_pretty(&message.body)?);
    }
    let (WatchEnd::Finished { summary, .. } | WatchEnd::GaveUp { summary }) = &end;
    println!("\n── The summary on stdout ──\n{summary}");
    runtime_server.shutdown().await;
    capture_server.shutdown().await;
    Ok(end.exit_code(false))
}
