//! Logs go to stderr; stdout is kept for results (the summary, `--dry-run` bodies).

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the subscriber. `level` applies to this crate; libraries stay at `warn`
/// whatever it is, because their debug output (HTTP internals) is noise for an operator
/// and has no place near request URLs that carry a webhook token.
pub fn init(level: LevelFilter) {
    let filter = Targets::new()
        .with_default(LevelFilter::WARN.min(level))
        .with_target("run_notifier", level);
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let format = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false);
    // Only fails if a subscriber is already installed, in which case that one is used.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init();
}
