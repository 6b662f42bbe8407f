//! `run-notifier-lambda`: the sweep on a schedule, as an AWS Lambda function.
//!
//! Configuration comes from the environment only (see `--help`). Clients (DynamoDB,
//! Secrets Manager, HTTP) are built once here and reused by every invocation.

use std::time::Duration;

use clap::Parser;
use lambda_runtime::{service_fn, LambdaEvent};
use run_notifier::cli::args::{positive_seconds, secret, SweepTuning};
use run_notifier::discord::client::{DEFAULT_MAX_RATE_LIMIT_WAIT, DEFAULT_RETRY};
use run_notifier::discord::rotating::RotatingWebhook;
use run_notifier::lambda::LambdaApp;
use run_notifier::logging::{self, Format};
use run_notifier::secret::Secret;
use run_notifier::secrets::{AnySecret, Fixed, SecretsManager};
use run_notifier::store::dynamodb::DynamoStore;
use run_notifier::store::StoreSpec;
use run_notifier::sweep::owner_id;
use serde_json::Value;
use tokio::sync::OnceCell;
use tracing::level_filters::LevelFilter;

/// The scheduled sweep of run-notifier, as an AWS Lambda function: each invocation (any
/// event: EventBridge rule, EventBridge Scheduler, custom input) sweeps every registered
/// run in a DynamoDB table once and answers a JSON summary.
#[derive(Parser)]
#[command(name = "run-notifier-lambda", version)]
struct Config {
    /// dynamodb:<table>.
    #[arg(long, env = "NOTIFIER_STORE", value_parser = StoreSpec::parse)]
    store: StoreSpec,

    /// The Secrets Manager secret (name or ARN) whose string is the Discord webhook URL.
    #[arg(
        long,
        env = "DISCORD_WEBHOOK_SECRET_ID",
        required_unless_present = "webhook_url"
    )]
    webhook_secret_id: Option<String>,

    /// The webhook URL itself, for local use (in AWS, use the secret).
    #[arg(long, env = "DISCORD_WEBHOOK_URL", hide_env_values = true, value_parser = secret)]
    webhook_url: Option<Secret>,

    /// The Secrets Manager secret (name or ARN) holding the runtime's API key.
    #[arg(long, env = "RUNTIME_API_KEY_SECRET_ID")]
    api_key_secret_id: Option<String>,

    /// The runtime's API key itself, for local use.
    #[arg(long, env = "RUNTIME_API_KEY", hide_env_values = true, value_parser = secret)]
    api_key: Option<Secret>,

    /// Seconds a sweep may take when the invocation's deadline is unusable (as under
    /// `cargo lambda watch`).
    #[arg(long, env = "NOTIFIER_SWEEP_BUDGET_SECONDS", default_value = "50", value_parser = positive_seconds)]
    sweep_budget_seconds: Duration,

    /// Seconds kept free before the invocation's deadline.
    #[arg(long, env = "NOTIFIER_DEADLINE_MARGIN_SECONDS", default_value = "5", value_parser = positive_seconds)]
    deadline_margin_seconds: Duration,

    /// Log level (Lambda's own setting: TRACE, DEBUG, INFO, WARN, ERROR or FATAL).
    #[arg(long, env = "AWS_LAMBDA_LOG_LEVEL", default_value = "info", value_parser = lambda_log_level)]
    log_level: LevelFilter,

    /// `JSON` for structured logs (Lambda's own setting).
    #[arg(long, env = "AWS_LAMBDA_LOG_FORMAT", default_value = "Text")]
    log_format: String,

    #[command(flatten)]
    tuning: SweepTuning,
}

/// Lambda's levels are tracing's, plus FATAL, which tracing calls ERROR.
fn lambda_log_level(raw: &str) -> Result<LevelFilter, String> {
    if raw.trim().eq_ignore_ascii_case("fatal") {
        return Ok(LevelFilter::ERROR);
    }
    raw.trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a log level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)"))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = Config::parse();
    let format = if config.log_format.eq_ignore_ascii_case("json") {
        Format::Json
    } else {
        Format::Text
    };
    logging::init(config.log_level, format);
    let StoreSpec::DynamoDb(table) = &config.store else {
        return Err("NOTIFIER_STORE must be dynamodb:<table> for the Lambda".into());
    };

    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let source = |id: Option<String>, value: Option<Secret>| match (id, value) {
        (Some(id), _) => Some(AnySecret::Manager(SecretsManager::new(secrets.clone(), id))),
        (None, Some(value)) => Some(AnySecret::Fixed(Fixed(value))),
        (None, None) => None,
    };
    let webhook = source(config.webhook_secret_id, config.webhook_url)
        .ok_or("set DISCORD_WEBHOOK_SECRET_ID (or DISCORD_WEBHOOK_URL for local use)")?;
    let http = run_notifier::http::client(config.tuning.http_timeout_seconds)?;
    let mut sweep = config.tuning.config(owner_id());
    // A claim is only taken when a whole post still fits before the deadline.
    sweep.claim_budget = config.tuning.http_timeout_seconds * 2;

    let app = LambdaApp {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table.clone()),
        notifier: RotatingWebhook::new(
            webhook,
            http.clone(),
            DEFAULT_RETRY,
            DEFAULT_MAX_RATE_LIMIT_WAIT,
        ),
        api_key: source(config.api_key_secret_id, config.api_key),
        http,
        runtime_retry: run_notifier::runtime::DEFAULT_RETRY,
        config: sweep,
        margin: config.deadline_margin_seconds,
        budget: config.sweep_budget_seconds,
        runtime: OnceCell::new(),
    };
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = event.context.deadline;
        app.invoke(&event.payload, deadline)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lambda_log_level_is_accepted() {
        for (raw, expected) in [
            ("TRACE", LevelFilter::TRACE),
            ("debug", LevelFilter::DEBUG),
            ("INFO", LevelFilter::INFO),
            ("WARN", LevelFilter::WARN),
            ("ERROR", LevelFilter::ERROR),
            ("FATAL", LevelFilter::ERROR),
            (" fatal ", LevelFilter::ERROR),
        ] {
            assert_eq!(lambda_log_level(raw), Ok(expected), "{raw}");
        }
        assert!(lambda_log_level("loud").is_err());
    }
}
