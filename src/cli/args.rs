//! Flags and their environment variables. Every value is checked here, so a bad one
//! stops the program before it does anything, with exit code 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};
use tracing::level_filters::LevelFilter;

use crate::links::{RunId, RuntimeBase};
use crate::secret::Secret;
use crate::store::StoreSpec;
use crate::sweep::SweepConfig;

/// Tells a team on Discord, exactly once, when a run of their swarm runtime has finished,
/// and whether it needs attention.
#[derive(Parser)]
#[command(name = "run-notifier", version, propagate_version = true)]
pub struct Cli {
    /// Log level for this tool's messages on stderr: error, warn, info, debug or trace.
    /// Secrets never appear at any level.
    #[arg(long, env = "NOTIFIER_LOG", default_value = "info", global = true)]
    pub log_level: LevelFilter,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Watch one run and post one Discord message when it has finished.
    #[command(after_long_help = WATCH_EXIT_CODES)]
    Watch(WatchArgs),
    /// Serve a stand-in of the swarm runtime's API with scripted runs.
    Simulate(SimulateArgs),
    /// See the whole thing work in seconds: a simulated runtime, a local webhook capture,
    /// and a watched run of 15 tasks (12 done, 2 failed, 1 blocked). No network, no Discord.
    Demo(DemoArgs),
    /// Register runs for the sweeper (idempotent: a notified run is never reset).
    #[command(after_long_help = STORE_EXIT_CODES)]
    Register(RegisterArgs),
    /// Remove runs' registrations.
    #[command(after_long_help = STORE_EXIT_CODES)]
    Unregister(UnregisterArgs),
    /// One pass over every registered run: announce each finished one exactly once.
    #[command(after_long_help = STORE_EXIT_CODES)]
    Sweep(SweepArgs),
    /// Sweep every POLL_SECONDS until Ctrl-C or SIGTERM (the sweep in hand is finished).
    #[command(after_long_help = STORE_EXIT_CODES)]
    Serve(ServeArgs),
    /// Show registrations: state, last outcome and counts.
    #[command(after_long_help = STORE_EXIT_CODES)]
    Status(StatusArgs),
    /// Manage the store itself.
    #[command(subcommand)]
    Store(StoreCommand),
}

/// `run-notifier store ...`.
#[derive(Subcommand)]
pub enum StoreCommand {
    /// Create the SQLite schema or the DynamoDB table (with its sparse index, TTL and
    /// point-in-time recovery). Safe to run again.
    #[command(after_long_help = STORE_EXIT_CODES)]
    Init(StoreArgs),
}

const STORE_EXIT_CODES: &str = "\
Exit codes:
  0  done (for sweep: even when some runs could not be handled; they are retried next sweep)
  1  the store failed (unreachable, missing table, no permission, unreadable file)
  2  bad configuration";

/// Where registrations live.
#[derive(Args)]
pub struct StoreArgs {
    /// sqlite:<path> or dynamodb:<table> (region, endpoint and credentials from the
    /// standard AWS environment). Default: sqlite:$XDG_STATE_HOME/run-notifier/state.db
    /// (or ~/.local/state/run-notifier/state.db).
    #[arg(long, env = "NOTIFIER_STORE", value_parser = StoreSpec::parse)]
    pub store: Option<StoreSpec>,
}

/// `run-notifier register`.
#[derive(Args)]
pub struct RegisterArgs {
    /// The runs to register (no '/' or '..' in a registered id).
    #[arg(required = true, value_parser = run_id)]
    pub run_ids: Vec<RunId>,

    /// The runtime for these runs, when not the sweeper's BASE_URL.
    #[arg(long, value_parser = runtime_base)]
    pub base_url: Option<RuntimeBase>,

    /// Stop waiting after this many seconds: a deadline notice is posted and the run is
    /// no longer polled.
    #[arg(long, value_parser = positive_seconds)]
    pub max_wait: Option<Duration>,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// `run-notifier unregister`.
#[derive(Args)]
pub struct UnregisterArgs {
    /// The runs to forget.
    #[arg(required = true, value_parser = run_id)]
    pub run_ids: Vec<RunId>,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// `run-notifier sweep`.
#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// The Discord webhook URL. Secret: prefer the environment variable.
    #[arg(long, env = "DISCORD_WEBHOOK_URL", hide_env_values = true, value_parser = secret)]
    pub webhook_url: Secret,

    /// The runtime's API key, sent as X-API-Key when set. Secret.
    #[arg(long, env = "RUNTIME_API_KEY", hide_env_values = true, value_parser = secret)]
    pub runtime_api_key: Option<Secret>,

    #[command(flatten)]
    pub tuning: SweepTuning,
}

/// How a sweep behaves; shared by `sweep`, `serve` and the Lambda.
#[derive(Args)]
pub struct SweepTuning {
    /// The runtime's base URL, for runs registered without their own.
    #[arg(long, env = "BASE_URL", default_value = "http://127.0.0.1:5080", value_parser = runtime_base)]
    pub base_url: RuntimeBase,

    /// Seconds a claim protects a post before another sweeper may take the run over.
    #[arg(long, env = "NOTIFIER_LEASE_SECONDS", default_value = "120", value_parser = positive_seconds)]
    pub lease_seconds: Duration,

    /// Runs looked at concurrently.
    #[arg(long, env = "NOTIFIER_CONCURRENCY", default_value = "32", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Announce a stall when no task has changed for this many seconds; 0 disables.
    #[arg(long, env = "NOTIFIER_STALL_SECONDS", default_value = "1800", value_parser = seconds)]
    pub stall_seconds: Duration,

    /// Days a finished registration is kept before it is deleted.
    #[arg(long, env = "NOTIFIER_RETENTION_DAYS", default_value = "30", value_parser = clap::value_parser!(u16).range(1..))]
    pub retention_days: u16,

    /// Seconds before an HTTP request to the runtime or Discord counts as failed.
    #[arg(long, env = "HTTP_TIMEOUT_SECONDS", default_value = "10", value_parser = positive_seconds)]
    pub http_timeout_seconds: Duration,
}

impl SweepTuning {
    /// The sweep's configuration, for the claim owner `owner`, without a deadline.
    pub fn config(&self, owner: String) -> SweepConfig {
        SweepConfig {
            default_base: self.base_url.clone(),
            owner,
            lease: self.lease_seconds,
            concurrency: usize::from(self.concurrency),
            stall_after: (!self.stall_seconds.is_zero()).then_some(self.stall_seconds),
            retention: Duration::from_secs(u64::from(self.retention_days) * 86_400),
            deadline: None,
            claim_budget: Duration::ZERO,
        }
    }
}

/// `run-notifier serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,

    /// Seconds between the starts of two sweeps; decimals allowed.
    #[arg(long, env = "POLL_SECONDS", default_value = "15", value_parser = positive_seconds)]
    pub poll_seconds: Duration,
}

/// `run-notifier status`.
#[derive(Args)]
pub struct StatusArgs {
    /// Only this run.
    pub run_id: Option<String>,

    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

const WATCH_EXIT_CODES: &str = "\
Exit codes:
  0    the run finished and its message was posted
  1    the run finished attention-required and FAIL_ON_ATTENTION=1
  2    bad configuration, the runtime refused the API key, or the run is unknown
  3    MAX_WAIT_SECONDS passed: a \"still running\" notice was posted instead
  4    Discord rejected the webhook (deleted, bad token, no permission) or the message
  5    the run finished but Discord stayed unreachable until MAX_WAIT_SECONDS passed
  130  interrupted (Ctrl-C or SIGTERM)

Example:
  RUN_ID=run-abc123 DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/ID/TOKEN run-notifier watch";

/// `run-notifier watch`.
#[derive(Args)]
pub struct WatchArgs {
    /// The run to watch (surrounding whitespace is ignored).
    #[arg(long, env = "RUN_ID", value_parser = run_id)]
    pub run_id: RunId,

    /// The runtime's base URL.
    #[arg(long, env = "BASE_URL", default_value = "http://127.0.0.1:5080", value_parser = runtime_base)]
    pub base_url: RuntimeBase,

    /// The Discord webhook URL (discord.com, discordapp.com, ptb/canary, with or without
    /// /api/vN). Secret: prefer the environment variable, since flags show in `ps`.
    // Parsed, and required unless --dry-run, by the wiring: clap quotes a value it
    // rejects (token included), and its "missing argument" error names no variable.
    #[arg(long, env = "DISCORD_WEBHOOK_URL", hide_env_values = true, value_parser = secret)]
    pub webhook_url: Option<Secret>,

    /// Seconds between polls; decimals allowed (0.5).
    #[arg(long, env = "POLL_SECONDS", default_value = "15", value_parser = positive_seconds)]
    pub poll_seconds: Duration,

    /// Give up after this many seconds and post a "still running" notice instead (exit 3);
    /// 0 waits forever.
    #[arg(long, env = "MAX_WAIT_SECONDS", default_value = "0", value_parser = seconds)]
    pub max_wait_seconds: Duration,

    /// Exit 1 when the run finishes attention-required (0|1, true|false).
    #[arg(long, env = "FAIL_ON_ATTENTION", default_value = "0", value_parser = BoolishValueParser::new(),
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "1")]
    pub fail_on_attention: bool,

    /// The runtime's API key, sent as X-API-Key when set. Secret: prefer the variable.
    #[arg(long, env = "RUNTIME_API_KEY", hide_env_values = true, value_parser = secret)]
    pub runtime_api_key: Option<Secret>,

    /// Seconds before an HTTP request to the runtime or Discord counts as failed.
    #[arg(long, env = "HTTP_TIMEOUT_SECONDS", default_value = "10", value_parser = positive_seconds)]
    pub http_timeout_seconds: Duration,

    /// Print the Discord message body on stdout instead of posting it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `run-notifier simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, env = "SIMULATOR_LISTEN", default_value = "127.0.0.1:5080")]
    pub listen: SocketAddr,

    /// A JSON scenario file (`{"runs": [...]}`); without it, built-in runs are served
    /// (run-demo, run-success, run-big, run-empty, run-stalled and an odd id).
    #[arg(long, env = "SIMULATOR_SCENARIO")]
    pub scenario: Option<PathBuf>,

    /// Multiplies every scripted time: 0.1 plays runs ten times faster.
    #[arg(long, env = "SIMULATOR_TIME_SCALE", default_value = "1", value_parser = positive_factor)]
    pub time_scale: f64,

    /// Require this key in X-API-Key, like a runtime configured with one.
    #[arg(long, env = "RUNTIME_API_KEY", hide_env_values = true, value_parser = secret)]
    pub api_key: Option<Secret>,

    /// Milliseconds added to every answer (`/healthz` included), like a network round
    /// trip: for trying clients' timeouts and for benchmarks (about 50 is realistic).
    #[arg(long, env = "SIMULATOR_LATENCY_MS", default_value = "0")]
    pub latency_ms: u64,
}

/// `run-notifier demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Multiplies the demo run's scripted times (1 plays it in about 20 s).
    #[arg(long, default_value = "0.15", value_parser = positive_factor)]
    pub time_scale: f64,

    /// Seconds between polls.
    #[arg(long, default_value = "0.5", value_parser = positive_seconds)]
    pub poll_seconds: Duration,
}

fn run_id(raw: &str) -> Result<RunId, String> {
    RunId::parse(raw).map_err(|e| e.to_string())
}

fn runtime_base(raw: &str) -> Result<RuntimeBase, String> {
    RuntimeBase::parse(raw).map_err(|e| e.to_string())
}

/// Wraps a flag's value as a secret.
pub fn secret(raw: &str) -> Result<Secret, String> {
    Ok(Secret::new(raw))
}

/// Seconds as a decimal number, 0 or more.
pub fn seconds(raw: &str) -> Result<Duration, String> {
    let value: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(value).map_err(|_| format!("{raw:?} must be 0 or more seconds"))
}

/// Seconds as a decimal number, at least 0.01.
pub fn positive_seconds(raw: &str) -> Result<Duration, String> {
    match seconds(raw)? {
        duration if duration >= Duration::from_millis(10) => Ok(duration),
        _ => Err(format!("{raw:?} is too short: use at least 0.01 seconds")),
    }
}

fn positive_factor(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{raw:?} must be a number above 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seconds_take_decimals_and_refuse_nonsense() {
        assert_eq!(positive_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("0"), Ok(Duration::ZERO));
        assert!(positive_seconds("0").is_err());
        assert!(seconds("-1").is_err());
        assert!(seconds("NaN").is_err());
        assert!(seconds("1e400").is_err());
        assert!(seconds("soon").is_err());
    }
}
