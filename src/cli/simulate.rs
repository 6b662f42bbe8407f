//! `run-notifier simulate`: wiring only.

use std::time::Duration;

use tokio::net::TcpListener;

use super::args::SimulateArgs;
use super::{fail, shutdown_signal};
use crate::sim::runtime::{builtin_scenario, load_scenario, RuntimeSimulator};
use crate::watch::exit;

/// Serves the simulated runtime until Ctrl-C or SIGTERM.
pub async fn run(args: SimulateArgs) -> u8 {
    let scenario = match &args.scenario {
        Some(path) => match load_scenario(path) {
            Ok(scenario) => scenario,
            Err(error) => return fail(exit::CONFIG, &format!("{error:#}")),
        },
        None => builtin_scenario(args.time_scale),
    };
    let run_ids: Vec<String> = scenario
        .runs
        .iter()
        .map(|run| format!("{:?}", run.run_id))
        .collect();
    let api_key = args.api_key.as_ref().map(|key| key.expose().to_string());
    let simulator = RuntimeSimulator::with_scenario(api_key, scenario);
    simulator.set_latency(Duration::from_millis(args.latency_ms));
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            return fail(
                exit::CONFIG,
                &format!(
                    "cannot listen on {}: {error}; pick another --listen address",
                    args.listen
                ),
            )
        }
    };
    eprintln!(
        "simulated swarm runtime on http://{} serving runs {}{}{}; Ctrl-C stops it",
        args.listen,
        run_ids.join(", "),
        if args.api_key.is_some() {
            " (X-API-Key required)"
        } else {
            ""
        },
        if args.latency_ms > 0 {
            format!(" (every answer delayed {} ms)", args.latency_ms)
        } else {
            String::new()
        }
    );
    tokio::select! {
        served = simulator.serve(listener) => match served {
            Ok(()) => 0,
            Err(error) => fail(exit::CONFIG, &format!("the simulator stopped: {error}")),
        },
        () = shutdown_signal() => 0,
    }
}
