//! A run as the runtime describes it, and what one look at it tells.

use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{Outcome, StatusTally, TaskStatus};

/// `GET /runs/{runId}`: the run itself. Unknown fields are ignored.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    /// The run's id as the runtime stores it.
    pub run_id: String,
    /// A human title; the runtime allows none.
    #[serde(default)]
    pub title: Option<String>,
    /// When the run was created (ISO 8601, as the runtime wrote it).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The number of tasks the run has: the only way to know whether a task list is whole.
    pub task_count: usize,
}

/// One item of `GET /runs/{runId}/tasks`. Every field is lenient: one odd task must not
/// make the whole list unreadable.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The task's id.
    #[serde(default)]
    pub task_id: String,
    /// A human title.
    #[serde(default)]
    pub title: Option<String>,
    /// The status, parsed case-insensitively; missing or null reads as unknown.
    #[serde(default = "unset_status", deserialize_with = "status_from_wire")]
    pub status: TaskStatus,
    /// When the task last changed (ISO 8601).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// What went wrong, for failed or blocked tasks.
    #[serde(default)]
    pub error: Option<String>,
}

fn unset_status() -> TaskStatus {
    TaskStatus::Other(String::new())
}

fn status_from_wire<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TaskStatus, D::Error> {
    let raw = Option::<String>::deserialize(deserializer)?;
    Ok(raw.map_or_else(unset_status, |raw| TaskStatus::parse(&raw)))
}

/// `GET /runs/{runId}/tasks`: the (possibly truncated) task list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskList {
    /// `registry` (live) or `arcadedb` (from memory after a restart).
    #[serde(default)]
    pub source: Option<String>,
    /// The tasks, at most as many as the `limit` asked for.
    pub items: Vec<Task>,
}

/// One look at a run: the run, its task list and when we looked.
#[derive(Clone, Debug)]
pub struct RunSnapshot {
    /// The run.
    pub run: RunInfo,
    /// Where the runtime read the tasks from, when it said.
    pub source: Option<String>,
    /// The tasks as listed.
    pub tasks: Vec<Task>,
    /// When the look was taken: the "completed check" time of a finished run.
    pub checked_at: OffsetDateTime,
}

/// What a snapshot says about a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The run exists but has no tasks yet: it has not started, so it is not finished.
    NotStarted,
    /// The list does not hold every task (the runtime truncates silently, and tasks can
    /// appear between the two requests), so nothing can be concluded from it.
    Partial {
        /// Tasks in the list.
        listed: usize,
        /// Tasks the run says it has.
        expected: usize,
    },
    /// Some task is not terminal.
    Running,
    /// Every task is done, failed or blocked.
    Finished(Outcome),
}

impl RunSnapshot {
    /// Tallies the listed tasks.
    pub fn tally(&self) -> StatusTally {
        StatusTally::of(self.tasks.iter().map(|task| &task.status))
    }

    /// Applies the terminal rule, trusting the list only when it is whole.
    pub fn progress(&self) -> Progress {
        let listed = self.tasks.len();
        let expected = self.run.task_count;
        if listed != expected {
            return Progress::Partial { listed, expected };
        }
        let tally = self.tally();
        if tally.total() == 0 {
            Progress::NotStarted
        } else if tally.is_terminal() {
            Progress::Finished(tally.outcome())
        } else {
            Progress::Running
        }
    }

    /// The failed tasks, then the blocked ones, each in the runtime's order.
    pub fn tasks_needing_attention(&self) -> Vec<&Task> {
        let failed = self.tasks.iter().filter(|t| t.status == TaskStatus::Failed);
        let blocked = self
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Blocked);
        failed.chain(blocked).collect()
    }

    /// When the run was created, when the runtime gave a readable time.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        self.run.created_at.as_deref().and_then(parse_timestamp)
    }
}

/// Parses an ISO 8601 timestamp as .NET writes it (up to 7 fractional digits and an
/// explicit offset, e.g. `2026-02-27T09:02:45.1234567+08:00`).
pub fn parse_timestamp(raw: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn task(status: &str) -> Task {
        Task {
            task_id: format!("task-{status}"),
            title: Some(status.to_string()),
            status: TaskStatus::parse(status),
            updated_at: None,
            error: None,
        }
    }

    fn snapshot(task_count: usize, statuses: &[&str]) -> RunSnapshot {
        RunSnapshot {
            run: RunInfo {
                run_id: "run-1".into(),
                title: None,
                created_at: None,
                task_count,
            },
            source: None,
            tasks: statuses.iter().map(|s| task(s)).collect(),
            checked_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_empty_run_has_not_started() {
        assert_eq!(snapshot(0, &[]).progress(), Progress::NotStarted);
    }

    #[test]
    fn a_truncated_list_is_never_finished() {
        let fifty_done = vec!["done"; 50];
        assert_eq!(
            snapshot(60, &fifty_done).progress(),
            Progress::Partial {
                listed: 50,
                expected: 60
            }
        );
        assert_eq!(
            snapshot(3, &[]).progress(),
            Progress::Partial {
                listed: 0,
                expected: 3
            }
        );
    }

    #[test]
    fn a_longer_list_than_announced_is_not_trusted_either() {
        assert!(matches!(
            snapshot(1, &["done", "done"]).progress(),
            Progress::Partial { .. }
        ));
    }

    #[test]
    fn whole_lists_give_running_or_finished() {
        assert_eq!(
            snapshot(2, &["done", "building"]).progress(),
            Progress::Running
        );
        assert_eq!(
            snapshot(2, &["done", "paused"]).progress(),
            Progress::Running
        );
        assert_eq!(
            snapshot(2, &["done", "DONE"]).progress(),
            Progress::Finished(Outcome::Success)
        );
        assert_eq!(
            snapshot(3, &["done", "failed", "blocked"]).progress(),
            Progress::Finished(Outcome::AttentionRequired)
        );
    }

    #[test]
    fn attention_lists_failed_before_blocked() {
        let snap = snapshot(4, &["blocked", "done", "failed", "failed"]);
        let statuses: Vec<_> = snap
            .tasks_needing_attention()
            .iter()
            .map(|t| t.status.as_str())
            .collect();
        assert_eq!(statuses, ["failed", "failed", "blocked"]);
    }

    #[test]
    fn wire_items_are_read_leniently() {
        let list: TaskList = serde_json::from_str(
            r#"{"runId":"r","source":"registry","items":[
                {"taskId":"a","title":"A","status":"DONE","updatedAt":"2026-02-27T09:02:45.1234567+00:00","error":null},
                {"taskId":"b","status":null},
                {"taskId":"c","title":null,"status":"Paused","extra":1}
            ]}"#,
        )
        .expect("valid list");
        let statuses: Vec<_> = list.items.iter().map(|t| t.status.as_str()).collect();
        assert_eq!(statuses, ["done", "unset", "paused"]);
        assert_eq!(list.source.as_deref(), Some("registry"));
    }

    #[test]
    fn run_info_needs_its_task_count() {
        let run: RunInfo = serde_json::from_str(
            r#"{"runId":"r","title":null,"createdAt":"2026-02-27T09:02:45.1234567+08:00","updatedAt":"x","taskCount":15,"artifactCount":0}"#,
        )
        .expect("valid run");
        assert_eq!(run.task_count, 15);
        assert!(serde_json::from_str::<RunInfo>(r#"{"runId":"r"}"#).is_err());
    }

    #[test]
    fn dotnet_timestamps_parse() {
        assert_eq!(
            parse_timestamp("2026-02-27T09:02:45.1234567+08:00"),
            Some(datetime!(2026-02-27 09:02:45.1234567 +08:00))
        );
        assert_eq!(
            parse_timestamp("2026-02-27T09:02:45Z"),
            Some(datetime!(2026-02-27 09:02:45 UTC))
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
