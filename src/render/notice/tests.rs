use super::*;
use crate::domain::{RunInfo, StatusTally};
use crate::links::RuntimeBase;
use crate::render::limits::{check, embed_chars, EMBED_TOTAL_MAX};
use proptest::prelude::*;
use time::macros::datetime;

fn task(id: usize, status: &str, title: &str, error: Option<&str>) -> Task {
    Task {
        task_id: format!("task-{id}"),
        title: Some(title.to_string()),
        status: TaskStatus::parse(status),
        updated_at: None,
        error: error.map(String::from),
    }
}

fn snapshot(run_id: &str, tasks: Vec<Task>) -> RunSnapshot {
    RunSnapshot {
        run: RunInfo {
            run_id: run_id.into(),
            title: None,
            created_at: Some("2026-02-27T09:02:45.1234567+08:00".into()),
            task_count: tasks.len(),
        },
        source: Some("registry".into()),
        tasks,
        checked_at: datetime!(2026-02-27 10:00:00 UTC),
    }
}

fn links(run_id: &str) -> RunLinks {
    let base = RuntimeBase::parse("http://127.0.0.1:5080").expect("base");
    RunLinks::new(&base, &RunId::parse(run_id).expect("id"))
}

fn plan_run() -> RunSnapshot {
    let mut tasks: Vec<Task> = (0..12).map(|i| task(i, "done", "Build", None)).collect();
    tasks.push(task(12, "failed", "Run endpoints", Some("exit code 1")));
    tasks.push(task(13, "failed", "Lint", None));
    tasks.push(task(14, "blocked", "Deploy", Some("waiting for a key")));
    snapshot("run-abc123", tasks)
}

fn render(snapshot: &RunSnapshot) -> WebhookMessage {
    let outcome = snapshot.tally().outcome();
    finished(snapshot, outcome, &links(&snapshot.run.run_id))
}

fn description(message: &WebhookMessage) -> &str {
    message.embeds[0].description.as_deref().unwrap_or_default()
}

#[test]
fn the_plans_message() {
    let message = render(&plan_run());
    check(&message).expect("within Discord's limits");
    let embed = &message.embeds[0];
    assert_eq!(embed.title.as_deref(), Some("Run finished: run-abc123"));
    assert_eq!(embed.color, Some(ATTENTION_COLOR));
    assert_eq!(embed.timestamp.as_deref(), Some("2026-02-27T10:00:00Z"));
    assert_eq!(
        embed.url.as_deref(),
        Some("http://127.0.0.1:5080/runs/run-abc123")
    );
    let text = description(&message);
    assert!(text.starts_with("🚨 **attention-required**: 2 failed, 1 blocked of 15 tasks\n"));
    assert!(
        text.contains("\ndone=12 failed=2 blocked=1 total=15\n"),
        "{text}"
    );
    assert!(text.contains("🔴 failed · **Run endpoints**: exit code 1"));
    assert!(text.contains("🔴 failed · **Lint**: no error given"));
    assert!(text.contains("🟠 blocked · **Deploy**: waiting for a key"));
    assert!(!text.contains("more"));
    let created = &embed.fields[0];
    assert_eq!(created.name, "Created");
    assert_eq!(created.value, "<t:1772154165:f> (<t:1772154165:R>)");
    assert!(embed.fields[1]
        .value
        .contains("[events](http://127.0.0.1:5080/runs/run-abc123/events)"));
    assert_eq!(message.allowed_mentions.parse, Vec::<String>::new());
    assert_eq!(
        message.content.as_deref(),
        Some("🚨 Run finished: **attention-required** · run-abc123")
    );
}

#[test]
fn success_is_green_and_lists_nothing() {
    let run = snapshot(
        "run-ok",
        (0..5).map(|i| task(i, "done", "t", None)).collect(),
    );
    let message = render(&run);
    let text = description(&message);
    assert_eq!(
        text,
        "✅ **success**: all 5 tasks done\ndone=5 failed=0 blocked=0 total=5"
    );
    assert_eq!(message.embeds[0].color, Some(SUCCESS_COLOR));
}

#[test]
fn the_run_title_follows_the_id() {
    let mut run = plan_run();
    run.run.title = Some("Nightly *build*".into());
    let message = render(&run);
    assert_eq!(
        message.embeds[0].title.as_deref(),
        Some(r"Run finished: run-abc123 · Nightly \*build\*")
    );
}

#[test]
fn task_text_pings_nobody_and_renders_literally() {
    let run = snapshot(
        "run-x",
        vec![task(0, "failed", "@everyone **boom**", Some("<@&1> ||x||"))],
    );
    let message = render(&run);
    let json = serde_json::to_value(&message).expect("serializes");
    assert_eq!(json["allowed_mentions"], serde_json::json!({"parse": []}));
    let text = description(&message);
    assert!(
        text.contains(r"**@everyone \*\*boom\*\***: \<@&1\> \|\|x\|\|"),
        "{text}"
    );
}

#[test]
fn forty_long_failures_still_fit() {
    let error = "e".repeat(900);
    let tasks = (0..40)
        .map(|i| task(i, "failed", &"T".repeat(300), Some(&error)))
        .collect();
    let message = render(&snapshot("run-big", tasks));
    check(&message).expect("within Discord's limits");
    let text = description(&message);
    assert!(text.contains("\n… and "), "{text}");
    assert!(text.ends_with(" more"));
    assert!(embed_chars(&message.embeds[0]) <= EMBED_TOTAL_MAX);
}

#[test]
fn odd_ids_are_escaped_in_text_and_encoded_in_links() {
    let message = render(&snapshot("a/b?c#d_é", vec![task(0, "done", "t", None)]));
    let embed = &message.embeds[0];
    assert_eq!(embed.title.as_deref(), Some(r"Run finished: a/b?c\#d\_é"));
    assert_eq!(
        embed.url.as_deref(),
        Some("http://127.0.0.1:5080/runs/a%2Fb%3Fc%23d_%C3%A9")
    );
}

#[test]
fn a_huge_run_id_is_cut_everywhere() {
    let id = "x".repeat(5000);
    let message = render(&snapshot(&id, vec![task(0, "done", "t", None)]));
    check(&message).expect("within Discord's limits");
}

#[test]
fn still_running_is_never_called_finished() {
    let run_id = RunId::parse("run-slow").expect("id");
    let mut run = snapshot("run-slow", vec![task(0, "building", "t", None)]);
    run.run.title = Some("Slow".into());
    let links = links("run-slow");
    for (message, title) in [
        (
            still_running(&run_id, Some(&run), Duration::from_secs(600), &links),
            "Run still running: run-slow · Slow",
        ),
        (
            still_running(&run_id, None, Duration::from_secs(61), &links),
            "Run status unknown: run-slow",
        ),
    ] {
        check(&message).expect("within Discord's limits");
        let json = serde_json::to_string(&message).expect("serializes");
        assert!(!json.contains("finished"), "{json}");
        assert_eq!(message.embeds[0].title.as_deref(), Some(title));
        assert_eq!(message.embeds[0].color, Some(WAITING_COLOR));
    }
    let unknown = still_running(&run_id, None, Duration::from_secs(61), &links);
    assert!(description(&unknown).starts_with("⏳ **no answer** from the runtime for 1m 1s"));
    let message = still_running(&run_id, Some(&run), Duration::from_secs(600), &links);
    assert!(description(&message).contains("after 10m"));
    assert!(description(&message).contains("done=0 failed=0 blocked=0 total=1 building=1"));
}

#[test]
fn durations_read_naturally() {
    assert_eq!(human_duration(Duration::from_millis(400)), "0s");
    assert_eq!(human_duration(Duration::from_secs(45)), "45s");
    assert_eq!(human_duration(Duration::from_secs(600)), "10m");
    assert_eq!(human_duration(Duration::from_secs(3723)), "1h 2m 3s");
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,40}", "[*_~`|>\\\\@ #]{0,30}", "\\PC{500,1200}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_message_fits_discords_limits(
        run_id in "\\PC{1,300}",
        run_title in proptest::option::of(any_text()),
        tasks in prop::collection::vec(
            (prop_oneof![Just("done"), Just("failed"), Just("blocked")], any_text(), proptest::option::of(any_text())),
            1..60,
        ),
    ) {
        prop_assume!(RunId::parse(&run_id).is_ok());
        let tasks = tasks
            .iter()
            .enumerate()
            .map(|(i, (status, title, error))| task(i, status, title, error.as_deref()))
            .collect();
        let mut run = snapshot(&run_id, tasks);
        run.run.title = run_title;
        let message = render(&run);
        prop_assert!(check(&message).is_ok(), "{:?}", check(&message));
        let text = description(&message);
        prop_assert!(text.contains(&StatusTally::of(run.tasks.iter().map(|t| &t.status)).to_string()));
    }
}

#[test]
fn a_stall_is_its_own_notice_never_a_finish() {
    let mut run = snapshot(
        "run-stuck",
        vec![task(0, "building", "t", None), task(1, "done", "u", None)],
    );
    run.run.title = Some("Stuck".into());
    let since = datetime!(2026-02-27 09:00:00 UTC);
    let message = stalled(&run, since, &links("run-stuck"));
    check(&message).expect("within Discord's limits");
    let json = serde_json::to_string(&message).expect("serializes");
    assert!(!json.contains("Run finished"), "{json}");
    assert_eq!(
        message.embeds[0].title.as_deref(),
        Some("Run stalled: run-stuck · Stuck")
    );
    assert_eq!(message.embeds[0].color, Some(STALLED_COLOR));
    let text = description(&message);
    assert!(text.contains("no task has changed for 1h"), "{text}");
    assert!(text.contains("<t:1772182800:R>"), "{text}");
    assert!(
        text.contains("done=1 failed=0 blocked=0 total=2 building=1"),
        "{text}"
    );
}
