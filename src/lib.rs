//! run-notifier: tells a team on Discord, exactly once, when a run of their swarm runtime
//! has finished, and whether it needs attention.
//!
//! The crate is a functional core with a thin shell:
//! - [`domain`], [`links`] and [`render`] are pure: statuses, the terminal rule, outcomes,
//!   addresses and the messages, with no I/O;
//! - [`runtime`] and [`discord`] are the adapters to the two services, behind small traits
//!   ([`runtime::RunSource`], [`discord::Notifier`]);
//! - [`watch`] is the Phase 1 watcher built from them;
//! - [`sim`] holds stand-ins for both services, for the demo and the tests.

pub mod cli;
pub mod discord;
pub mod domain;
pub mod http;
pub mod lambda;
pub mod links;
pub mod logging;
pub mod registry;
pub mod render;
pub mod retry;
pub mod runtime;
pub mod secret;
pub mod secrets;
pub mod sim;
pub mod store;
pub mod sweep;
pub mod watch;
