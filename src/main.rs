//! The `run-notifier` command: see `run-notifier --help`.

fn main() -> std::process::ExitCode {
    run_notifier::cli::main()
}
