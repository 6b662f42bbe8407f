//! Scenarios: the built-in runs, and loading runs from a file.

use std::{collections::HashSet, path::Path};

use anyhow::{anyhow, bail};

use super::{Scenario, ScriptedRun, ScriptedTask, TaskStep};

/// Built-in runs for `run-notifier simulate` without a scenario file and for the demo.
///
/// `time_scale` multiplies every step time below (the demo uses a quick pace such as
/// 0.1–0.2); a negative or non-finite scale is taken as 1. The runs, oldest first:
///
/// - `run-demo` ("Build the run notifier"): 15 tasks with realistic titles, all `queued`
///   at 0 s, then one after another `building`, `verifying` and finished, so the run ends
///   at 20 s with 12 `done`, 2 `failed` and 1 `blocked`, each with an error.
/// - `run-success` ("Nightly release check"): 5 tasks, all `done` by 10 s.
/// - `run-big` (no title): 60 tasks, all `done` by 15 s; more than the task list's default
///   page of 50.
/// - `run-empty` ("Waiting for a plan"): exists, never has tasks.
/// - `run-stalled` ("Stalled build"): 15 tasks that go to `building` at 1 s and never
///   change, as seen in real use.
/// - `run odd/id?#é` ("Odd run id"): 3 tasks, all `done` by 5 s, under an id that must be
///   percent-encoded.
pub fn builtin_scenario(time_scale: f64) -> Scenario {
    let scale = if time_scale.is_finite() && time_scale >= 0.0 {
        time_scale
    } else {
        1.0
    };
    Scenario {
        runs: vec![
            demo_run(scale),
            success_run(scale),
            big_run(scale),
            run("run-empty", Some("Waiting for a plan"), Vec::new()),
            stalled_run(scale),
            odd_id_run(scale),
        ],
    }
}

/// Titles of `run-demo`'s and `run-stalled`'s tasks.
const PROJECT_TASKS: [&str; 15] = [
    "Scaffold the notifier crate",
    "Define run and task models",
    "Poll the runtime's task list",
    "Detect when a run has finished",
    "Remember notified runs across restarts",
    "Format the Discord message",
    "Post to the Discord webhook with retries",
    "Honour Discord rate limits",
    "Percent-encode run ids in links",
    "Send the runtime API key",
    "Load the configuration file",
    "Add integration tests against the simulator",
    "Document the command line",
    "Publish the release build",
    "Review the pull request",
];

/// How `run-demo`'s task at this index ends: its status and error.
fn demo_outcome(index: usize) -> (&'static str, Option<&'static str>) {
    match index {
        6 => (
            "failed",
            Some("verification failed: 2 of 41 tests failed (webhook::retries_on_429, webhook::honours_retry_after)"),
        ),
        11 => (
            "failed",
            Some("build failed: error[E0308]: mismatched types at tests/notify.rs:88:17"),
        ),
        13 => (
            "blocked",
            Some("waiting for a human: the RELEASE_TOKEN secret is not set in CI"),
        ),
        _ => ("done", None),
    }
}

fn demo_run(scale: f64) -> ScriptedRun {
    let tasks = PROJECT_TASKS
        .iter()
        .enumerate()
        .map(|(i, title)| {
            // Tasks start building 0.9 s apart; the last one finishes at 20 s.
            let building = 1.0 + 0.9 * i as f64;
            let (status, error) = demo_outcome(i);
            let mut steps = vec![step(0.0, "queued"), step(building, "building")];
            if status == "blocked" {
                // Blocked while building: it never reaches verification.
                steps.push(failing_step(building + 2.0, status, error));
            } else {
                steps.push(step(building + 3.5, "verifying"));
                steps.push(failing_step(building + 6.4, status, error));
            }
            task(
                format!("task-demo-{:02}", i + 1),
                title,
                scaled(steps, scale),
            )
        })
        .collect();
    run("run-demo", Some("Build the run notifier"), tasks)
}

fn success_run(scale: f64) -> ScriptedRun {
    let titles = [
        "Check out the release branch",
        "Build the release binaries",
        "Run the test suite",
        "Scan dependencies for advisories",
        "Publish the checksums",
    ];
    let tasks = titles
        .iter()
        .enumerate()
        .map(|(i, title)| {
            let building = 0.5 + i as f64;
            let steps = vec![
                step(0.0, "queued"),
                step(building, "building"),
                step(building + 2.5, "verifying"),
                // The last task is done at 10 s.
                step(building + 5.5, "done"),
            ];
            task(
                format!("task-success-{:02}", i + 1),
                title,
                scaled(steps, scale),
            )
        })
        .collect();
    run("run-success", Some("Nightly release check"), tasks)
}

fn big_run(scale: f64) -> ScriptedRun {
    let tasks = (1..=60)
        .map(|n| {
            let building = 0.5 + 0.2 * f64::from(n - 1);
            let steps = vec![
                step(0.0, "queued"),
                step(building, "building"),
                // The last task is done at 15 s.
                step(building + 2.7, "done"),
            ];
            let title = format!("Migrate handler {n:02} of 60 to the new API");
            task(format!("task-big-{n:02}"), &title, scaled(steps, scale))
        })
        .collect();
    run("run-big", None, tasks)
}

fn stalled_run(scale: f64) -> ScriptedRun {
    let tasks = PROJECT_TASKS
        .iter()
        .enumerate()
        .map(|(i, title)| {
            let steps = vec![step(0.0, "queued"), step(1.0, "building")];
            task(
                format!("task-stalled-{:02}", i + 1),
                title,
                scaled(steps, scale),
            )
        })
        .collect();
    run("run-stalled", Some("Stalled build"), tasks)
}

fn odd_id_run(scale: f64) -> ScriptedRun {
    let titles = ["Créer le dépôt", "Écrire les tests", "Publier la version"];
    let tasks = titles
        .iter()
        .enumerate()
        .map(|(i, title)| {
            let building = 0.5 + i as f64;
            let steps = vec![
                step(0.0, "queued"),
                step(building, "building"),
                // The last task is done at 5 s.
                step(building + 2.5, "done"),
            ];
            task(
                format!("task-odd-{:02}", i + 1),
                title,
                scaled(steps, scale),
            )
        })
        .collect();
    run("run odd/id?#é", Some("Odd run id"), tasks)
}

fn run(run_id: &str, title: Option<&str>, tasks: Vec<ScriptedTask>) -> ScriptedRun {
    ScriptedRun {
        run_id: run_id.to_owned(),
        title: title.map(str::to_owned),
        tasks,
    }
}

fn task(task_id: String, title: &str, steps: Vec<TaskStep>) -> ScriptedTask {
    ScriptedTask {
        task_id,
        title: title.to_owned(),
        steps,
    }
}

fn step(at_seconds: f64, status: &str) -> TaskStep {
    failing_step(at_seconds, status, None)
}

fn failing_step(at_seconds: f64, status: &str, error: Option<&str>) -> TaskStep {
    TaskStep {
        at_seconds,
        status: status.to_owned(),
        error: error.map(str::to_owned),
    }
}

fn scaled(mut steps: Vec<TaskStep>, scale: f64) -> Vec<TaskStep> {
    for step in &mut steps {
        step.at_seconds *= scale;
    }
    steps
}

/// Reads a scenario file (`{"runs": [...]}`, camelCase fields as in [`ScriptedRun`]).
///
/// Beyond the JSON's shape (unknown fields are refused, to catch misspellings such as
/// `at_seconds`), it checks that run ids are non-empty, free of surrounding white space and unique, that task
/// ids are non-empty and unique within their run, that every task has a step, and that
/// every step time is a finite number of seconds ≥ 0. Errors name the file and the fault.
pub fn load_scenario(path: &Path) -> anyhow::Result<Scenario> {
    let file = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow!("cannot read scenario file {file}: {error}"))?;
    let scenario: Scenario = serde_json::from_str(&text).map_err(|error| {
        anyhow!("scenario file {file} is not a valid scenario ({{\"runs\": [...]}}): {error}")
    })?;
    validate(&scenario).map_err(|error| anyhow!("scenario file {file}: {error}"))?;
    Ok(scenario)
}

/// Checks what the JSON's shape cannot express.
fn validate(scenario: &Scenario) -> anyhow::Result<()> {
    let mut run_ids = HashSet::new();
    for (index, run) in scenario.runs.iter().enumerate() {
        let id = &run.run_id;
        if id.trim().is_empty() {
            bail!("run #{} has an empty runId", index + 1);
        }
        if id.trim() != id {
            bail!("runId {id:?} has leading or trailing white space, which the runtime trims");
        }
        if !run_ids.insert(id.as_str()) {
            bail!("runId {id:?} appears more than once");
        }
        validate_tasks(run).map_err(|error| anyhow!("run {id:?}: {error}"))?;
    }
    Ok(())
}

fn validate_tasks(run: &ScriptedRun) -> anyhow::Result<()> {
    let mut task_ids = HashSet::new();
    for (index, task) in run.tasks.iter().enumerate() {
        let id = &task.task_id;
        if id.is_empty() {
            bail!("task #{} has an empty taskId", index + 1);
        }
        if !task_ids.insert(id.as_str()) {
            bail!("taskId {id:?} appears more than once");
        }
        if task.steps.is_empty() {
            bail!("task {id:?} has no steps, so it would never appear");
        }
        for (number, step) in task.steps.iter().enumerate() {
            if !(step.at_seconds.is_finite() && step.at_seconds >= 0.0) {
                bail!(
                    "task {id:?}, step #{}: atSeconds is {}, not a number of seconds ≥ 0",
                    number + 1,
                    step.at_seconds
                );
            }
        }
    }
    Ok(())
}
