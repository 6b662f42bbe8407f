//! Tests that talk real HTTP to a spawned simulator.

use std::{
    future::IntoFuture,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use time::{macros::datetime, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    builtin_scenario, load_scenario, timeline::format_timestamp, RuntimeFault, RuntimeSimulator,
    Scenario, ScriptedRun, ScriptedTask, SimulatorHandle, TaskStep,
};

type TestResult = anyhow::Result<()>;

async fn spawn(simulator: &RuntimeSimulator) -> anyhow::Result<SimulatorHandle> {
    Ok(simulator.spawn(([127, 0, 0, 1], 0).into()).await?)
}

/// Percent-encodes a run id as one path segment, as clients must.
fn segment(run_id: &str) -> String {
    utf8_percent_encode(run_id, NON_ALPHANUMERIC).to_string()
}

fn tasks_url(handle: &SimulatorHandle, run_id: &str, query: &str) -> String {
    format!(
        "{}/runs/{}/tasks{query}",
        handle.base_url(),
        segment(run_id)
    )
}

fn run_url(handle: &SimulatorHandle, run_id: &str) -> String {
    format!("{}/runs/{}", handle.base_url(), segment(run_id))
}

/// GETs `url` (with an API key, if given) and returns the status and the raw body.
async fn get_raw(url: &str, key: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut request = reqwest::Client::new().get(url);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

async fn get_json(url: &str) -> anyhow::Result<(u16, Value)> {
    let (status, body) = get_raw(url, None).await?;
    let json = serde_json::from_str(&body).with_context(|| format!("not JSON: {body:?}"))?;
    Ok((status, json))
}

/// The items of a task list answer.
fn items(page: &Value) -> anyhow::Result<&Vec<Value>> {
    page["items"].as_array().context("items is not an array")
}

fn task(task_id: &str, steps: &[(f64, &str)]) -> ScriptedTask {
    ScriptedTask {
        task_id: task_id.to_owned(),
        title: format!("Title of {task_id}"),
        steps: steps
            .iter()
            .map(|&(at_seconds, status)| TaskStep {
                at_seconds,
                status: status.to_owned(),
                error: None,
            })
            .collect(),
    }
}

fn scripted(run_id: &str, tasks: Vec<ScriptedTask>) -> ScriptedRun {
    ScriptedRun {
        run_id: run_id.to_owned(),
        title: None,
        tasks,
    }
}

/// A run of `count` tasks that are done from the start.
fn done_run(run_id: &str, count: usize) -> ScriptedRun {
    let tasks = (1..=count)
        .map(|n| task(&format!("t{n:03}"), &[(0.0, "done")]))
        .collect();
    scripted(run_id, tasks)
}

fn parse_timestamp(text: &str) -> anyhow::Result<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7][offset_hour sign:mandatory]:[offset_minute]"
    );
    OffsetDateTime::parse(text, format).with_context(|| format!("bad timestamp {text:?}"))
}

#[test]
fn timestamps_have_seven_fraction_digits_and_an_explicit_offset() -> TestResult {
    let utc = datetime!(2026-02-27 09:02:45.123456789 UTC);
    assert_eq!(format_timestamp(utc)?, "2026-02-27T09:02:45.1234567+00:00");
    let east = datetime!(2026-02-27 09:02:45 +08:00);
    assert_eq!(format_timestamp(east)?, "2026-02-27T09:02:45.0000000+08:00");
    let west = datetime!(2026-01-02 03:04:05.5 -05:30);
    assert_eq!(format_timestamp(west)?, "2026-01-02T03:04:05.5000000-05:30");
    Ok(())
}

#[tokio::test]
async fn task_list_defaults_to_50_and_returns_all_60_with_limit_500() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(0.0));
    let handle = spawn(&simulator).await?;

    let (status, page) = get_json(&tasks_url(&handle, "run-big", "")).await?;
    assert_eq!(status, 200);
    assert_eq!(page["runId"], "run-big");
    assert_eq!(page["source"], "registry");
    let first_page = items(&page)?;
    assert_eq!(first_page.len(), 50);
    // Truncation keeps script order and adds no marker.
    assert_eq!(first_page[0]["taskId"], "task-big-01");
    assert_eq!(first_page[49]["taskId"], "task-big-50");
    let keys: Vec<&String> = page.as_object().context("not an object")?.keys().collect();
    assert_eq!(keys, ["items", "runId", "source"]);

    let (_, page) = get_json(&tasks_url(&handle, "run-big", "?limit=500")).await?;
    assert_eq!(items(&page)?.len(), 60);
    let (_, run) = get_json(&run_url(&handle, "run-big")).await?;
    assert_eq!(run["taskCount"], 60);
    assert_eq!(run["artifactCount"], 0);
    assert_eq!(run["title"], Value::Null);
    assert_eq!(simulator.request_counts().tasks, 2);
    assert_eq!(simulator.request_counts().run, 1);
    Ok(())
}

#[tokio::test]
async fn limit_is_clamped_to_1_through_500() -> TestResult {
    let simulator = RuntimeSimulator::new(None);
    simulator.upsert_run(done_run("huge", 600));
    let handle = spawn(&simulator).await?;

    for (query, expected) in [
        ("?limit=0", 1),
        ("?limit=-7", 1),
        ("?limit=1", 1),
        ("?limit=%2012", 12),
        ("?limit=9999", 500),
        ("?other=1", 50),
    ] {
        let (status, page) = get_json(&tasks_url(&handle, "huge", query)).await?;
        assert_eq!(status, 200, "{query}");
        assert_eq!(items(&page)?.len(), expected, "{query}");
    }
    let (status, body) = get_json(&tasks_url(&handle, "huge", "?limit=many")).await?;
    assert_eq!(status, 400);
    assert_eq!(body["errors"]["limit"][0], "The value 'many' is not valid.");
    Ok(())
}

#[tokio::test]
async fn a_run_without_tasks_answers_an_empty_list() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(0.0));
    let handle = spawn(&simulator).await?;

    let (status, page) = get_json(&tasks_url(&handle, "run-empty", "")).await?;
    assert_eq!(status, 200);
    assert_eq!(page["items"], json!([]));
    let (_, run) = get_json(&run_url(&handle, "run-empty")).await?;
    assert_eq!(run["taskCount"], 0);
    assert_eq!(run["updatedAt"], run["createdAt"]);
    assert_eq!(run["title"], "Waiting for a plan");
    Ok(())
}

#[tokio::test]
async fn an_unknown_run_answers_404_with_the_runtimes_body() -> TestResult {
    let simulator = RuntimeSimulator::new(None);
    let handle = spawn(&simulator).await?;

    let events_url = format!("{}/runs/nope/events", handle.base_url());
    for url in [
        tasks_url(&handle, "nope", ""),
        run_url(&handle, "nope"),
        events_url,
    ] {
        let (status, body) = get_json(&url).await?;
        assert_eq!(status, 404, "{url}");
        assert_eq!(body, json!({ "error": "run not found", "runId": "nope" }));
    }
    let counts = simulator.request_counts();
    assert_eq!(
        (counts.not_found, counts.run, counts.tasks, counts.events),
        (3, 1, 1, 1)
    );
    Ok(())
}

#[tokio::test]
async fn the_api_key_is_required_except_on_healthz() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(Some("s3cret".into()), builtin_scenario(0.0));
    let handle = spawn(&simulator).await?;
    let url = tasks_url(&handle, "run-success", "");

    assert_eq!(get_raw(&url, None).await?, (401, String::new()));
    assert_eq!(get_raw(&url, Some("wrong")).await?, (401, String::new()));
    let runs_url = format!("{}/runs", handle.base_url());
    assert_eq!(get_raw(&runs_url, None).await?, (401, String::new()));

    let (status, body) = get_raw(&url, Some("s3cret")).await?;
    assert_eq!(status, 200);
    let page: Value = serde_json::from_str(&body)?;
    assert_eq!(items(&page)?.len(), 5);

    let health = get_raw(&format!("{}/healthz", handle.base_url()), None).await?;
    assert_eq!(health, (200, r#"{"ok":true}"#.to_owned()));
    let counts = simulator.request_counts();
    assert_eq!(
        (counts.unauthorized, counts.tasks, counts.runs_list),
        (3, 1, 0)
    );
    Ok(())
}

#[tokio::test]
async fn odd_run_ids_round_trip_as_one_encoded_segment() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(0.0));
    simulator.upsert_run(done_run("a/b", 1));
    simulator.upsert_run(done_run("a", 2));
    let handle = spawn(&simulator).await?;

    let odd = "run odd/id?#é";
    let url = tasks_url(&handle, odd, "");
    assert!(
        url.contains("/runs/run%20odd%2Fid%3F%23%C3%A9/tasks"),
        "{url}"
    );
    let (status, page) = get_json(&url).await?;
    assert_eq!(status, 200);
    assert_eq!(page["runId"], odd);
    assert_eq!(items(&page)?.len(), 3);
    assert!(items(&page)?.iter().all(|t| t["status"] == "done"));
    let (_, run) = get_json(&run_url(&handle, odd)).await?;
    assert_eq!(run["runId"], odd);
    let events_url = format!("{}/events", run_url(&handle, odd));
    let (status, events) = get_json(&events_url).await?;
    assert_eq!(
        (status, events),
        (200, json!({ "items": [], "nextCursor": null }))
    );

    // "a/b" is its own run, not "a" with something after it.
    let (_, page) = get_json(&tasks_url(&handle, "a/b", "")).await?;
    assert_eq!(
        (page["runId"].clone(), items(&page)?.len()),
        (json!("a/b"), 1)
    );
    Ok(())
}

#[tokio::test]
async fn error_faults_are_served_in_order_then_normal_answers_resume() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(0.0));
    let handle = spawn(&simulator).await?;
    let url = tasks_url(&handle, "run-success", "");
    simulator.push_faults([
        RuntimeFault::ServerError,
        RuntimeFault::HtmlErrorPage,
        RuntimeFault::EmptyBody,
        RuntimeFault::TruncatedJson,
    ]);

    let (status, body) = get_raw(&url, None).await?;
    assert_eq!(status, 500);
    assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body}");

    let response = reqwest::get(&url).await?;
    assert_eq!(response.status().as_u16(), 502);
    let content_type = response.headers().get("content-type").cloned();
    assert_eq!(
        content_type.as_ref().map(|v| v.as_bytes()),
        Some(&b"text/html"[..])
    );
    assert!(response.text().await?.contains("<html>"));

    assert_eq!(get_raw(&url, None).await?, (200, String::new()));

    let response = reqwest::get(&url).await?;
    assert_eq!(response.status().as_u16(), 200);
    let declared = response.content_length();
    let body = response.bytes().await?;
    assert_eq!(declared, Some(body.len() as u64));
    assert!(!body.is_empty());
    assert!(serde_json::from_slice::<Value>(&body).is_err());

    let (status, page) = get_json(&url).await?;
    assert_eq!((status, items(&page)?.len()), (200, 5));
    let counts = simulator.request_counts();
    // Only the truncated answer and the last one reached the endpoint.
    assert_eq!((counts.faulted, counts.tasks), (4, 2));
    Ok(())
}

#[tokio::test]
async fn healthz_does_not_consume_faults() -> TestResult {
    let simulator = RuntimeSimulator::new(None);
    let handle = spawn(&simulator).await?;
    simulator.push_faults([RuntimeFault::ServerError]);

    let (status, _) = get_raw(&format!("{}/healthz", handle.base_url()), None).await?;
    assert_eq!(status, 200);
    let (status, _) = get_raw(&format!("{}/runs", handle.base_url()), None).await?;
    assert_eq!(status, 500);
    Ok(())
}

#[tokio::test]
async fn a_connection_reset_gives_the_client_no_status() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(0.0));
    let handle = spawn(&simulator).await?;
    let url = tasks_url(&handle, "run-demo", "");
    let client = reqwest::Client::new();
    // A first answer leaves a pooled connection, which the reset must break too.
    assert_eq!(client.get(&url).send().await?.status().as_u16(), 200);

    simulator.push_faults([RuntimeFault::ConnectionReset]);
    let error = match client.get(&url).send().await {
        Ok(response) => anyhow::bail!("expected no answer, got {}", response.status()),
        Err(error) => error,
    };
    assert!(error.status().is_none());

    let response = client.get(&url).send().await?;
    assert_eq!(response.status().as_u16(), 200);

    // On the wire: not a single byte of an answer comes back.
    simulator.push_faults([RuntimeFault::ConnectionReset]);
    let mut stream = tokio::net::TcpStream::connect(handle.addr()).await?;
    stream
        .write_all(b"GET /runs HTTP/1.1\r\nHost: sim\r\n\r\n")
        .await?;
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received).await;
    assert!(
        received.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    // The zero linger time turns the close into a reset.
    let kind = read.err().map(|e| e.kind());
    assert_eq!(kind, Some(std::io::ErrorKind::ConnectionReset));
    Ok(())
}

#[tokio::test]
async fn without_kill_switches_a_reset_still_breaks_the_answer() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(0.0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/runs", listener.local_addr()?);
    let server = tokio::spawn(axum::serve(listener, simulator.router()).into_future());

    simulator.push_faults([RuntimeFault::ConnectionReset]);
    // Whether hyper had sent the status before the body broke is up to its buffering.
    let outcome = match reqwest::get(&url).await {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(error) => Err(error),
    };
    assert!(outcome.is_err());
    server.abort();
    Ok(())
}

#[tokio::test]
async fn slow_faults_and_latency_delay_correct_answers() -> TestResult {
    let simulator = RuntimeSimulator::with_scenario(None, builtin_scenario(0.0));
    let handle = spawn(&simulator).await?;
    let url = tasks_url(&handle, "run-success", "");

    simulator.push_faults([RuntimeFault::Slow(Duration::from_millis(300))]);
    let started = Instant::now();
    let (status, page) = get_json(&url).await?;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!((status, items(&page)?.len()), (200, 5));

    simulator.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    let (status, _) = get_raw(&format!("{}/healthz", handle.base_url()), None).await?;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(status, 200);
    Ok(())
}

/// The status of the task with this id in a task list answer, if it is listed.
fn status_of(page: &Value, task_id: &str) -> anyhow::Result<Option<String>> {
    Ok(items(page)?
        .iter()
        .find(|t| t["taskId"] == task_id)
        .map(|t| t["status"].as_str().unwrap_or_default().to_owned()))
}

#[tokio::test]
async fn tasks_follow_their_script_as_time_passes() -> TestResult {
    let simulator = RuntimeSimulator::new(None);
    let handle = spawn(&simulator).await?;
    let url = tasks_url(&handle, "timed", "");
    simulator.upsert_run(scripted(
        "timed",
        vec![
            task("a", &[(0.0, "queued"), (0.2, "building"), (1.2, "DONE")]),
            task("late", &[(0.2, "paused")]),
        ],
    ));

    let (_, page) = get_json(&url).await?;
    assert_eq!(status_of(&page, "a")?.as_deref(), Some("queued"));
    assert_eq!(status_of(&page, "late")?, None);
    let (_, run) = get_json(&run_url(&handle, "timed")).await?;
    assert_eq!(run["taskCount"], 1);

    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, page) = get_json(&url).await?;
    assert_eq!(status_of(&page, "a")?.as_deref(), Some("building"));
    assert_eq!(status_of(&page, "late")?.as_deref(), Some("paused"));
    let (_, run) = get_json(&run_url(&handle, "timed")).await?;
    assert_eq!(run["taskCount"], 2);
    // updatedAt is the creation time plus the step's offset, to the tick.
    let created = parse_timestamp(run["createdAt"].as_str().context("createdAt")?)?;
    let updated = parse_timestamp(run["updatedAt"].as_str().context("updatedAt")?)?;
    let offset = updated - created;
    ensure!((offset - time::Duration::milliseconds(200)).abs() <= time::Duration::nanoseconds(100));

    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (_, page) = get_json(&url).await?;
    assert_eq!(status_of(&page, "a")?.as_deref(), Some("DONE"));
    Ok(())
}

#[tokio::test]
async fn set_task_status_remove_run_and_the_run_list() -> TestResult {
    let simulator = RuntimeSimulator::new(None);
    let handle = spawn(&simulator).await?;
    simulator.upsert_run(scripted("older", vec![task("x", &[(0.0, "done")])]));
    simulator.set_task_status("newer", "t1", "building", None);

    let (_, runs) = get_json(&format!("{}/runs", handle.base_url())).await?;
    let expected = json!([
        { "runId": "newer", "title": null, "status": "executing", "featureBranch": null },
        { "runId": "older", "title": null, "status": "done", "featureBranch": null },
    ]);
    let mut without_times = runs.clone();
    for run in without_times.as_array_mut().context("not an array")? {
        let created = run["createdAt"].take();
        parse_timestamp(created.as_str().context("createdAt")?)?;
        run.as_object_mut()
            .context("not an object")?
            .remove("createdAt");
    }
    assert_eq!(without_times, expected);

    simulator.set_task_status("newer", "t1", "failed", Some("tests failed"));
    let (_, page) = get_json(&tasks_url(&handle, "newer", "")).await?;
    let item = &items(&page)?[0];
    assert_eq!(
        (&item["title"], &item["status"]),
        (&json!("t1"), &json!("failed"))
    );
    assert_eq!(item["error"], "tests failed");
    parse_timestamp(item["updatedAt"].as_str().context("updatedAt")?)?;

    simulator.remove_run("newer");
    let (status, _) = get_json(&tasks_url(&handle, "newer", "")).await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
async fn shutdown_stops_the_server_and_serve_uses_a_given_listener() -> TestResult {
    let simulator = RuntimeSimulator::new(None);
    let handle = spawn(&simulator).await?;
    let url = format!("{}/healthz", handle.base_url());
    assert_eq!(get_raw(&url, None).await?.0, 200);
    handle.shutdown().await;
    assert!(get_raw(&url, None).await.is_err());

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/runs", listener.local_addr()?);
    let serving = simulator.clone();
    let server = tokio::spawn(async move { serving.serve(listener).await });
    assert_eq!(get_json(&url).await?, (200, json!([])));
    assert_eq!(simulator.request_counts().runs_list, 1);
    server.abort();
    Ok(())
}

/// Counts a run's final statuses, as (done, failed, blocked, other).
fn final_counts(run: &ScriptedRun) -> (usize, usize, usize, usize) {
    let mut counts = (0, 0, 0, 0);
    for task in &run.tasks {
        match task.steps.last().map(|s| s.status.as_str()) {
            Some("done") => counts.0 += 1,
            Some("failed") => counts.1 += 1,
            Some("blocked") => counts.2 += 1,
            _ => counts.3 += 1,
        }
    }
    counts
}

#[test]
fn the_builtin_scenario_has_the_documented_runs() -> TestResult {
    let scenario = builtin_scenario(1.0);
    let run = |id: &str| {
        scenario
            .runs
            .iter()
            .find(|r| r.run_id == id)
            .context(id.to_owned())
    };
    let last_step = |run: &ScriptedRun| {
        let times = run
            .tasks
            .iter()
            .flat_map(|t| &t.steps)
            .map(|s| s.at_seconds);
        times.fold(0.0, f64::max)
    };

    let demo = run("run-demo")?;
    assert_eq!(final_counts(demo), (12, 2, 1, 0));
    assert!(demo.tasks.iter().all(|t| {
        let last = t.steps.last();
        last.is_some_and(|s| (s.status == "done") == s.error.is_none())
    }));
    assert!((last_step(demo) - 20.0).abs() < 1e-9);
    assert_eq!(final_counts(run("run-success")?), (5, 0, 0, 0));
    assert!((last_step(run("run-success")?) - 10.0).abs() < 1e-9);
    assert_eq!(final_counts(run("run-big")?), (60, 0, 0, 0));
    assert!((last_step(run("run-big")?) - 15.0).abs() < 1e-9);
    assert!(run("run-empty")?.tasks.is_empty());
    let stalled = run("run-stalled")?;
    assert_eq!(final_counts(stalled), (0, 0, 0, 15));
    assert!(stalled
        .tasks
        .iter()
        .all(|t| t.steps.last().is_some_and(|s| s.status == "building")));
    assert_eq!(final_counts(run("run odd/id?#é")?), (3, 0, 0, 0));

    let quick = builtin_scenario(0.1);
    let quick_demo = quick
        .runs
        .iter()
        .find(|r| r.run_id == "run-demo")
        .context("run-demo")?;
    assert!((last_step(quick_demo) - 2.0).abs() < 1e-9);
    Ok(())
}

#[test]
fn load_scenario_reads_a_file_and_explains_bad_ones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let good = dir.path().join("good.json");
    std::fs::write(&good, serde_json::to_string(&builtin_scenario(1.0))?)?;
    let loaded: Scenario = load_scenario(&good)?;
    assert_eq!(loaded.runs.len(), 6);

    let cases = [
        ("broken.json", r#"{"runs": [{"runId": "r""#, "line 1"),
        (
            "snake.json",
            r#"{"runs": [{"run_id": "r", "tasks": []}]}"#,
            "run_id",
        ),
        (
            "negative.json",
            r#"{"runs": [{"runId": "r", "tasks": [{"taskId": "t", "title": "T",
                "steps": [{"atSeconds": -1, "status": "queued"}]}]}]}"#,
            "atSeconds is -1",
        ),
        (
            "twice.json",
            r#"{"runs": [{"runId": "r", "tasks": []}, {"runId": "r", "tasks": []}]}"#,
            "more than once",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text)?;
        let error = match load_scenario(&path) {
            Ok(_) => anyhow::bail!("{name} loaded"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains(expected), "{error}");
    }
    let missing = load_scenario(&dir.path().join("missing.json"));
    assert!(missing.is_err_and(|e| e.to_string().contains("cannot read")));
    Ok(())
}
