//! The `run-notifier` command line: flags (each with its environment variable), and the
//! wiring of each subcommand. Nothing here decides anything about runs.

pub mod args;
mod demo;
mod simulate;
mod stores;
mod sweep;
mod watch;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command, StoreCommand};

/// Parses the command line, runs the subcommand and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.log_level, crate::logging::Format::Text);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Watch(args) => watch::run(args).await,
            Command::Simulate(args) => simulate::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Register(args) => stores::register(args).await,
            Command::Unregister(args) => stores::unregister(args).await,
            Command::Status(args) => stores::status(args).await,
            Command::Store(StoreCommand::Init(args)) => stores::init(args).await,
            Command::Sweep(args) => sweep::sweep(args).await,
            Command::Serve(args) => sweep::serve(args).await,
        }
    });
    ExitCode::from(code)
}

/// Reports an error on stderr, as `error: <message>`, and returns the exit `code`.
pub(crate) fn fail(code: u8, message: &str) -> u8 {
    eprintln!("error: {message}");
    code
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM on Unix).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM (or a kill) can stop us.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
