//! What a sweep should do about one open record, given one look at its run. Pure.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::domain::run::parse_timestamp;
use crate::domain::{Outcome, Progress, RunSnapshot};
use crate::registry::Record;

/// The notice a record needs now, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to say yet.
    Wait,
    /// The run finished: announce it.
    Finish(Outcome),
    /// No task has moved for the stall period: announce the stall once.
    Stall {
        /// Identifies this stall: the newest task `updatedAt`, normalised.
        stall: String,
        /// When the last task moved.
        since: OffsetDateTime,
    },
    /// The registration's deadline passed: say so once and stop polling.
    Deadline,
}

/// Decides, in this order: a finished run is announced (even past its deadline: the
/// news is better than a timeout notice); then a passed deadline; then a stall that was
/// not announced yet. `look` is `None` when the runtime could not be read.
pub fn decide(
    record: &Record,
    look: Option<&RunSnapshot>,
    now: OffsetDateTime,
    stall_after: Option<Duration>,
) -> Action {
    let progress = look.map(RunSnapshot::progress);
    if let Some(Progress::Finished(outcome)) = progress {
        return Action::Finish(outcome);
    }
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    if record
        .deadline_at
        .is_some_and(|deadline| now_ms >= deadline)
    {
        return Action::Deadline;
    }
    match (look, progress, stall_after) {
        (Some(snapshot), Some(Progress::Running), Some(after)) => {
            stall(record, snapshot, now, after)
        }
        _ => Action::Wait,
    }
}

fn stall(record: &Record, snapshot: &RunSnapshot, now: OffsetDateTime, after: Duration) -> Action {
    let Some(since) = snapshot
        .tasks
        .iter()
        .filter_map(|task| task.updated_at.as_deref().and_then(parse_timestamp))
        .max()
    else {
        return Action::Wait;
    };
    if now - since < after {
        return Action::Wait;
    }
    let Ok(stall) = since.to_offset(time::UtcOffset::UTC).format(&Rfc3339) else {
        return Action::Wait;
    };
    if record.stall_notified_for.as_deref() == Some(stall.as_str()) {
        return Action::Wait;
    }
    Action::Stall { stall, since }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RunInfo, Task, TaskStatus};
    use crate::links::RunId;
    use crate::registry::State;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);
    const HALF_HOUR: Duration = Duration::from_secs(1800);

    fn record() -> Record {
        Record {
            run_id: RunId::parse("run-1").expect("id"),
            base_url: None,
            registered_at: None,
            deadline_at: None,
            state: State::Pending,
            stall_notified_for: None,
            outcome: None,
            counts: None,
            message_id: None,
            finished_at: None,
            failure: None,
        }
    }

    fn look(statuses: &[(&str, &str)]) -> RunSnapshot {
        RunSnapshot {
            run: RunInfo {
                run_id: "run-1".into(),
                title: None,
                created_at: None,
                task_count: statuses.len(),
            },
            source: None,
            tasks: statuses
                .iter()
                .map(|(status, updated)| Task {
                    task_id: "t".into(),
                    title: None,
                    status: TaskStatus::parse(status),
                    updated_at: Some((*updated).to_string()),
                    error: None,
                })
                .collect(),
            checked_at: NOW,
        }
    }

    const LONG_AGO: &str = "2026-03-01T10:00:00.0000000+00:00";
    const RECENT: &str = "2026-03-01T11:59:00.1234567+00:00";

    #[test]
    fn a_finished_run_is_announced_even_past_its_deadline() {
        let mut record = record();
        record.deadline_at = Some(0);
        let snapshot = look(&[("done", LONG_AGO), ("blocked", LONG_AGO)]);
        assert_eq!(
            decide(&record, Some(&snapshot), NOW, Some(HALF_HOUR)),
            Action::Finish(Outcome::AttentionRequired)
        );
    }

    #[test]
    fn a_passed_deadline_wins_over_waiting_and_stalls_even_without_a_look() {
        let mut record = record();
        record.deadline_at = Some(NOW.unix_timestamp() * 1000);
        assert_eq!(decide(&record, None, NOW, None), Action::Deadline);
        let stalled = look(&[("building", LONG_AGO)]);
        assert_eq!(
            decide(&record, Some(&stalled), NOW, Some(HALF_HOUR)),
            Action::Deadline
        );
        record.deadline_at = Some(NOW.unix_timestamp() * 1000 + 1);
        assert_eq!(decide(&record, None, NOW, None), Action::Wait);
    }

    #[test]
    fn a_stall_is_announced_once_and_again_only_after_progress() {
        let mut record = record();
        let stalled = look(&[("building", LONG_AGO), ("done", "2026-03-01T09:00:00Z")]);
        let Action::Stall { stall, since } = decide(&record, Some(&stalled), NOW, Some(HALF_HOUR))
        else {
            panic!("stalled for two hours");
        };
        assert_eq!(stall, "2026-03-01T10:00:00Z");
        assert_eq!(since, datetime!(2026-03-01 10:00:00 UTC));
        record.stall_notified_for = Some(stall);
        assert_eq!(
            decide(&record, Some(&stalled), NOW, Some(HALF_HOUR)),
            Action::Wait
        );
        let moved = look(&[("building", RECENT)]);
        assert_eq!(
            decide(&record, Some(&moved), NOW, Some(HALF_HOUR)),
            Action::Wait
        );
        let stalled_again = look(&[("verifying", "2026-03-01T11:00:00+00:00")]);
        assert!(matches!(
            decide(&record, Some(&stalled_again), NOW, Some(HALF_HOUR)),
            Action::Stall { .. }
        ));
    }

    #[test]
    fn no_stall_without_the_setting_a_whole_list_or_timestamps() {
        let stalled = look(&[("building", LONG_AGO)]);
        assert_eq!(decide(&record(), Some(&stalled), NOW, None), Action::Wait);
        let mut partial = stalled.clone();
        partial.run.task_count = 2;
        assert_eq!(
            decide(&record(), Some(&partial), NOW, Some(HALF_HOUR)),
            Action::Wait
        );
        let undated = look(&[("building", "not a time")]);
        assert_eq!(
            decide(&record(), Some(&undated), NOW, Some(HALF_HOUR)),
            Action::Wait
        );
        assert_eq!(
            decide(&record(), Some(&look(&[])), NOW, Some(HALF_HOUR)),
            Action::Wait
        );
    }
}
