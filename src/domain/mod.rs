//! The pure domain: what a task status is, how a run's tasks tally up, when a run is
//! finished and with which outcome. No I/O lives here, so every rule is unit-tested
//! exhaustively and shared by the watcher, the sweeper and the Lambda alike.

pub mod run;
pub mod status;
pub mod tally;

pub use run::{Progress, RunInfo, RunSnapshot, Task};
pub use status::TaskStatus;
pub use tally::{Outcome, StatusTally};
