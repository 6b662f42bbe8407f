//! Stand-ins for the real services, used by `run-notifier simulate`, the demo, the
//! benchmarks and the integration tests: a swarm runtime that answers like the real one,
//! and a Discord webhook endpoint that enforces Discord's rules and records what it got.

pub mod discord;
pub mod runtime;
