//! Logs go to stderr; stdout is kept for results (the summary, `--dry-run` bodies).
//! Shared by both binaries.

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line (the Lambda with `AWS_LAMBDA_LOG_FORMAT=JSON`).
    Json,
}

/// Installs the subscriber. `level` applies to this crate; libraries stay at `warn`
/// whatever it is, because their debug output (HTTP internals) is noise for an operator
/// and has no place near request URLs that carry a webhook token.
pub fn init(level: LevelFilter, format: Format) {
    let filter = Targets::new()
        .with_default(LevelFilter::WARN.min(level))
        .with_target("run_notifier", level);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    // Installing only fails if a subscriber is already installed, which is then used.
    let _ = match format {
        Format::Json => tracing_subscriber::registry()
            .with(filter)
            .with(layer.json().flatten_event(true))
            .try_init(),
        Format::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            tracing_subscriber::registry()
                .with(filter)
                .with(layer.with_ansi(colour))
                .try_init()
        }
    };
}
