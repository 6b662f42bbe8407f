//! What a scripted run looks like at a given moment, in the runtime's JSON shapes.

use std::time::Instant;

use serde::{Serialize, Serializer};
use time::{macros::format_description, OffsetDateTime};

use super::{ScriptedRun, ScriptedTask, TaskStep};

/// A run being served: its script and the clock its steps are timed against.
pub(super) struct LiveRun {
    seq: u64,
    script: ScriptedRun,
    /// Wall-clock creation time: what `createdAt` reports and what step times are added to.
    created_at: OffsetDateTime,
    /// Monotonic creation time: what elapsed time is measured from, so that a wall-clock
    /// jump cannot move a run back or forward in its script.
    started: Instant,
}

/// One entry of `GET /runs/{runId}/tasks`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskItem {
    task_id: String,
    title: String,
    status: String,
    #[serde(serialize_with = "serialize_timestamp")]
    updated_at: OffsetDateTime,
    error: Option<String>,
}

/// The body of `GET /runs/{runId}/tasks`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskPage {
    run_id: String,
    /// Always `registry`: the simulator is a runtime that has not restarted.
    source: &'static str,
    items: Vec<TaskItem>,
}

/// The body of `GET /runs/{runId}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RunDetail {
    run_id: String,
    title: Option<String>,
    #[serde(serialize_with = "serialize_timestamp")]
    created_at: OffsetDateTime,
    #[serde(serialize_with = "serialize_timestamp")]
    updated_at: OffsetDateTime,
    task_count: usize,
    /// Always 0: the simulator's runs produce no artifacts.
    artifact_count: u32,
}

/// One entry of `GET /runs`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RunListEntry {
    run_id: String,
    title: Option<String>,
    #[serde(serialize_with = "serialize_timestamp")]
    created_at: OffsetDateTime,
    status: &'static str,
    /// Always `null`: the simulator's runs open no pull requests.
    feature_branch: Option<String>,
}

impl LiveRun {
    /// Starts a run's clock now. `seq` orders runs by creation.
    pub(super) fn start(mut script: ScriptedRun, seq: u64) -> Self {
        for task in &mut script.tasks {
            // Stable, so steps given for the same time keep their order (the later wins).
            task.steps
                .sort_by(|a, b| a.at_seconds.total_cmp(&b.at_seconds));
        }
        Self {
            seq,
            script,
            created_at: OffsetDateTime::now_utc(),
            started: Instant::now(),
        }
    }

    /// The run's creation order.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Gives the task a new step at the current elapsed time, creating the task (titled
    /// with its id) if it is missing.
    pub(super) fn set_task_status(&mut self, task_id: &str, status: &str, error: Option<&str>) {
        let step = TaskStep {
            at_seconds: self.elapsed_seconds(),
            status: status.to_owned(),
            error: error.map(str::to_owned),
        };
        match self.script.tasks.iter_mut().find(|t| t.task_id == task_id) {
            Some(task) => {
                // After every step already due, before the scripted ones still to come.
                let at = task
                    .steps
                    .partition_point(|s| s.at_seconds <= step.at_seconds);
                task.steps.insert(at, step);
            }
            None => self.script.tasks.push(ScriptedTask {
                task_id: task_id.to_owned(),
                title: task_id.to_owned(),
                steps: vec![step],
            }),
        }
    }

    /// The task list as it is now, cut to `limit` items in script order.
    pub(super) fn task_page(&self, limit: usize) -> TaskPage {
        TaskPage {
            run_id: self.script.run_id.clone(),
            source: "registry",
            items: self.current_tasks().take(limit).collect(),
        }
    }

    /// The run's details as they are now.
    pub(super) fn detail(&self) -> RunDetail {
        let tasks: Vec<TaskItem> = self.current_tasks().collect();
        let updated_at = tasks
            .iter()
            .map(|t| t.updated_at)
            .max()
            .unwrap_or(self.created_at);
        RunDetail {
            run_id: self.script.run_id.clone(),
            title: self.script.title.clone(),
            created_at: self.created_at,
            updated_at,
            task_count: tasks.len(),
            artifact_count: 0,
        }
    }

    /// The run's entry in the run list, with a lifecycle status derived from its tasks.
    pub(super) fn list_entry(&self) -> RunListEntry {
        let tasks: Vec<TaskItem> = self.current_tasks().collect();
        let status = if tasks.is_empty() {
            // Nothing planned yet: the runtime's first lifecycle state.
            "accepted"
        } else if tasks.iter().all(|t| is_terminal(&t.status)) {
            "done"
        } else {
            "executing"
        };
        RunListEntry {
            run_id: self.script.run_id.clone(),
            title: self.script.title.clone(),
            created_at: self.created_at,
            status,
            feature_branch: None,
        }
    }

    fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The tasks that exist now (those with a step due), each as of its latest due step.
    fn current_tasks(&self) -> impl Iterator<Item = TaskItem> + '_ {
        let elapsed = self.elapsed_seconds();
        self.script.tasks.iter().filter_map(move |task| {
            let step = task.steps.iter().rev().find(|s| s.at_seconds <= elapsed)?;
            Some(TaskItem {
                task_id: task.task_id.clone(),
                title: task.title.clone(),
                status: step.status.clone(),
                updated_at: self.step_time(step),
                error: step.error.clone(),
            })
        })
    }

    /// The wall-clock time of a step: creation time plus its offset. An offset too large
    /// for the calendar (only possible through the Rust API) saturates to creation time.
    fn step_time(&self, step: &TaskStep) -> OffsetDateTime {
        time::Duration::checked_seconds_f64(step.at_seconds)
            .and_then(|offset| self.created_at.checked_add(offset))
            .unwrap_or(self.created_at)
    }
}

/// The terminal task statuses of the notification plan, compared case-insensitively.
fn is_terminal(status: &str) -> bool {
    ["done", "failed", "blocked"]
        .iter()
        .any(|terminal| status.eq_ignore_ascii_case(terminal))
}

/// Formats a time like .NET writes a `DateTimeOffset`: seven fractional digits and an
/// explicit offset, e.g. `2026-02-27T09:02:45.1234567+00:00`.
pub(super) fn format_timestamp(time: OffsetDateTime) -> Result<String, time::error::Format> {
    time.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7][offset_hour sign:mandatory]:[offset_minute]"
    ))
}

fn serialize_timestamp<S: Serializer>(
    time: &OffsetDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let text = format_timestamp(*time).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(&text)
}
