//! Counting a run's tasks, the terminal rule and the outcome.

use std::collections::BTreeMap;
use std::fmt;

use super::TaskStatus;

/// How a finished run went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every task is done.
    Success,
    /// At least one task failed or is blocked.
    AttentionRequired,
}

impl Outcome {
    /// The word used in messages, logs and records: `success` or `attention-required`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::AttentionRequired => "attention-required",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The number of tasks in each status.
///
/// `done`, `failed` and `blocked` are counted by name because the plan's counts line and
/// the outcome depend on them; every other status (the runtime's in-progress ones and
/// values we do not know) is counted under its own name and summed as "other".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusTally {
    /// Tasks that are `done`.
    pub done: usize,
    /// Tasks that `failed`.
    pub failed: usize,
    /// Tasks that are `blocked`.
    pub blocked: usize,
    /// Every non-terminal status with its count, in [`TaskStatus`] order.
    pub not_terminal: BTreeMap<TaskStatus, usize>,
}

impl StatusTally {
    /// Tallies a sequence of statuses.
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a TaskStatus>) -> Self {
        let mut tally = Self::default();
        for status in statuses {
            match status {
                TaskStatus::Done => tally.done += 1,
                TaskStatus::Failed => tally.failed += 1,
                TaskStatus::Blocked => tally.blocked += 1,
                other => *tally.not_terminal.entry(other.clone()).or_default() += 1,
            }
        }
        tally
    }

    /// Tasks in any status that is not terminal, unknown ones included.
    pub fn other(&self) -> usize {
        self.not_terminal.values().sum()
    }

    /// All tasks.
    pub fn total(&self) -> usize {
        self.done + self.failed + self.blocked + self.other()
    }

    /// The terminal rule: at least one task, and every task done, failed or blocked.
    /// A run with no tasks yet has not started, so it is not finished.
    pub fn is_terminal(&self) -> bool {
        self.total() > 0 && self.other() == 0
    }

    /// `success` when nothing failed or is blocked, else `attention-required`. Meaningful
    /// for a terminal run; for a running one it tells whether attention is already needed.
    pub fn outcome(&self) -> Outcome {
        if self.failed == 0 && self.blocked == 0 {
            Outcome::Success
        } else {
            Outcome::AttentionRequired
        }
    }
}

/// The counts line of the plan, `done=12 failed=2 blocked=1 total=15`, followed by every
/// other status present (`building=3 paused=1`).
impl fmt::Display for StatusTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "done={} failed={} blocked={} total={}",
            self.done,
            self.failed,
            self.blocked,
            self.total()
        )?;
        for (status, count) in &self.not_terminal {
            write!(f, " {status}={count}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tally(raw: &[&str]) -> StatusTally {
        let statuses: Vec<_> = raw.iter().map(|s| TaskStatus::parse(s)).collect();
        StatusTally::of(&statuses)
    }

    #[test]
    fn the_plans_counts_line() {
        let mut raw = vec!["done"; 12];
        raw.extend(["failed", "failed", "blocked"]);
        let tally = tally(&raw);
        assert_eq!(tally.to_string(), "done=12 failed=2 blocked=1 total=15");
        assert!(tally.is_terminal());
        assert_eq!(tally.outcome(), Outcome::AttentionRequired);
    }

    #[test]
    fn other_statuses_follow_the_counts_in_status_order() {
        let tally = tally(&["Paused", "building", "done", "QUEUED", "building", "zzz"]);
        assert_eq!(
            tally.to_string(),
            "done=1 failed=0 blocked=0 total=6 queued=1 building=2 paused=1 zzz=1"
        );
        assert_eq!(tally.other(), 5);
    }

    #[test]
    fn no_tasks_is_not_terminal() {
        let tally = tally(&[]);
        assert!(!tally.is_terminal());
        assert_eq!(tally.to_string(), "done=0 failed=0 blocked=0 total=0");
    }

    #[test]
    fn an_unknown_status_keeps_the_run_open() {
        assert!(!tally(&["done", "done", "archived"]).is_terminal());
    }

    #[test]
    fn outcomes() {
        assert_eq!(tally(&["done", "DONE"]).outcome(), Outcome::Success);
        assert_eq!(
            tally(&["done", "failed"]).outcome(),
            Outcome::AttentionRequired
        );
        assert_eq!(tally(&["blocked"]).outcome(), Outcome::AttentionRequired);
        assert_eq!(Outcome::Success.to_string(), "success");
        assert_eq!(Outcome::AttentionRequired.to_string(), "attention-required");
    }

    fn any_status() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("queued".to_string()),
            Just("planning".to_string()),
            Just("building".to_string()),
            Just("verifying".to_string()),
            Just("reviewing".to_string()),
            Just("done".to_string()),
            Just("Failed".to_string()),
            Just("BLOCKED".to_string()),
            "[a-zA-Z ]{0,8}",
        ]
    }

    proptest! {
        #[test]
        fn counts_always_add_up(raw in prop::collection::vec(any_status(), 0..80)) {
            let statuses: Vec<_> = raw.iter().map(|s| TaskStatus::parse(s)).collect();
            let tally = StatusTally::of(&statuses);
            prop_assert_eq!(tally.total(), statuses.len());
            prop_assert_eq!(tally.done + tally.failed + tally.blocked + tally.other(), statuses.len());
        }

        #[test]
        fn terminal_iff_non_empty_and_all_terminal(raw in prop::collection::vec(any_status(), 0..80)) {
            let statuses: Vec<_> = raw.iter().map(|s| TaskStatus::parse(s)).collect();
            let expected = !statuses.is_empty() && statuses.iter().all(TaskStatus::is_terminal);
            prop_assert_eq!(StatusTally::of(&statuses).is_terminal(), expected);
        }

        #[test]
        fn success_iff_nothing_needs_attention(raw in prop::collection::vec(any_status(), 1..80)) {
            let statuses: Vec<_> = raw.iter().map(|s| TaskStatus::parse(s)).collect();
            let expected = if statuses.iter().any(TaskStatus::needs_attention) {
                Outcome::AttentionRequired
            } else {
                Outcome::Success
            };
            prop_assert_eq!(StatusTally::of(&statuses).outcome(), expected);
        }
    }
}
