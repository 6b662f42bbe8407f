//! Telling the operator how the run is doing while we wait.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::domain::{Progress, RunSnapshot};
use crate::render::notice::human_duration;

/// On a terminal, one live line on stderr (counts, elapsed, next poll), rewritten in
/// place. Elsewhere (CI logs, journald), one log line each time the counts change, so a
/// long run does not flood the log.
pub struct StatusLine {
    live: bool,
    last: Option<String>,
}

impl StatusLine {
    /// Live when stderr is a terminal.
    pub fn for_stderr() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    /// A status line that is `live` or logs changes.
    pub fn new(live: bool) -> Self {
        Self { live, last: None }
    }

    /// Reports one look at the run.
    pub fn show(
        &mut self,
        snapshot: &RunSnapshot,
        progress: Progress,
        elapsed: Duration,
        poll: Duration,
    ) {
        let state = describe(snapshot, progress);
        if self.live {
            let line = format!(
                "{}: {state} · {} elapsed · polling every {}s",
                snapshot.run.run_id,
                human_duration(elapsed),
                poll.as_secs_f64()
            );
            // A status line that cannot be written is not worth failing the watch for.
            let _ = write!(std::io::stderr(), "\r\x1b[2K{line}");
        } else if self.last.as_deref() != Some(state.as_str()) {
            tracing::info!(run = %snapshot.run.run_id, "{state}");
        }
        self.last = Some(state);
    }

    /// Ends the live line so that what follows starts on a line of its own.
    pub fn finish(&mut self) {
        if self.live && self.last.take().is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn describe(snapshot: &RunSnapshot, progress: Progress) -> String {
    let tally = snapshot.tally();
    match progress {
        Progress::NotStarted => "no tasks yet".to_string(),
        Progress::Partial { listed, expected } => {
            format!("{tally} (the runtime listed {listed} of {expected} tasks; waiting for a whole list)")
        }
        Progress::Running => tally.to_string(),
        Progress::Finished(outcome) => format!("{tally} → {outcome}"),
    }
}
