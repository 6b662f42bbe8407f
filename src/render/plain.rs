//! The plain-text summary printed to stdout, for terminals, logs and scripts.

use std::fmt::Write;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;

use crate::domain::{Outcome, RunSnapshot, TaskStatus};
use crate::links::{RunId, RunLinks};
use crate::render::notice::human_duration;

/// The same facts as the Discord message, one per line, without markdown.
pub fn finished(snapshot: &RunSnapshot, outcome: Outcome, links: &RunLinks) -> String {
    let mut text = String::new();
    let title = snapshot
        .run
        .title
        .as_deref()
        .map(|t| format!(" · {}", one_line(t)))
        .unwrap_or_default();
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "Run finished: {}{title}",
        one_line(&snapshot.run.run_id)
    );
    let _ = writeln!(text, "outcome: {outcome}");
    let _ = writeln!(text, "counts:  {}", snapshot.tally());
    let created = snapshot.run.created_at.as_deref().unwrap_or("unknown");
    let _ = writeln!(text, "created: {}", one_line(created));
    let checked = snapshot.checked_at.format(&Rfc3339).unwrap_or_default();
    let _ = writeln!(text, "checked: {checked}");
    let _ = writeln!(text, "run:     {}", links.run);
    let _ = writeln!(text, "tasks:   {}", links.tasks);
    let _ = writeln!(text, "events:  {}", links.events);
    for task in snapshot.tasks_needing_attention() {
        let label = if task.status == TaskStatus::Failed {
            "failed: "
        } else {
            "blocked:"
        };
        let name = task.title.as_deref().unwrap_or(&task.task_id);
        let error = task.error.as_deref().unwrap_or("no error given");
        let _ = writeln!(
            text,
            "{label} {} ({}): {}",
            one_line(name),
            one_line(&task.task_id),
            one_line(error)
        );
    }
    text
}

/// The summary for a run we stopped waiting for.
pub fn still_running(
    run: &RunId,
    last_seen: Option<&RunSnapshot>,
    waited: Duration,
    links: &RunLinks,
) -> String {
    let counts = last_seen.map_or_else(
        || "the runtime never answered".to_string(),
        |s| s.tally().to_string(),
    );
    format!(
        "Run still running: {} (gave up waiting after {})\ncounts:  {counts}\nrun:     {}\n",
        one_line(run.as_str()),
        human_duration(waited),
        links.run
    )
}

/// Collapses whitespace runs (newlines included) to single spaces, so one task cannot
/// break the one-fact-per-line layout.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RunInfo, Task};
    use crate::links::RuntimeBase;
    use time::macros::datetime;

    #[test]
    fn one_fact_per_line() {
        let task = |id: &str, status: &str, error: Option<&str>| Task {
            task_id: id.into(),
            title: Some(format!("Title of\n{id}")),
            status: TaskStatus::parse(status),
            updated_at: None,
            error: error.map(String::from),
        };
        let snapshot = RunSnapshot {
            run: RunInfo {
                run_id: "run-1".into(),
                title: Some("Nightly".into()),
                created_at: Some("2026-02-27T09:02:45.1234567+00:00".into()),
                task_count: 3,
            },
            source: Some("registry".into()),
            tasks: vec![
                task("a", "done", None),
                task("b", "blocked", Some("needs a key")),
                task("c", "failed", Some("exit 1\nstack")),
            ],
            checked_at: datetime!(2026-02-27 10:00:00 UTC),
        };
        let base = RuntimeBase::parse("http://127.0.0.1:5080").expect("base");
        let links = RunLinks::new(&base, &RunId::parse("run-1").expect("id"));
        let text = finished(&snapshot, Outcome::AttentionRequired, &links);
        assert_eq!(
            text,
            "Run finished: run-1 · Nightly\n\
             outcome: attention-required\n\
             counts:  done=1 failed=1 blocked=1 total=3\n\
             created: 2026-02-27T09:02:45.1234567+00:00\n\
             checked: 2026-02-27T10:00:00Z\n\
             run:     http://127.0.0.1:5080/runs/run-1\n\
             tasks:   http://127.0.0.1:5080/runs/run-1/tasks\n\
             events:  http://127.0.0.1:5080/runs/run-1/events\n\
             failed:  Title of c (c): exit 1 stack\n\
             blocked: Title of b (b): needs a key\n"
        );
    }
}
