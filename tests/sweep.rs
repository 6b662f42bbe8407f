//! Phase 2 end to end: `register`, `sweep`, `serve` and `status` of the real binary, on
//! both stores (a SQLite temp file; a fresh DynamoDB table on a moto that serialises
//! requests as DynamoDB serialises writes to an item, see `common::sweeper`), against the
//! simulated runtime and the Discord capture over HTTP. Each finished run is announced
//! exactly once, whatever happens: concurrent sweepers, a sweeper killed mid-post, stalls,
//! deadlines, malformed records, a deleted webhook.

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::sweeper::{
    description, raw_number, s, summary, title, wait_until, Backend, Raw, SweepWorld, COMMAND_LIMIT,
};
use common::*;
use run_notifier::registry::now_millis;
use run_notifier::sim::discord::DiscordFault;
use run_notifier::sim::runtime::ScriptedTask;
use tokio::process::Command;

/// Runs each named test on both stores, as `sqlite::<name>` and `dynamodb::<name>`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::DynamoDb).await;
                }
            )*
        }
    };
}

on_both_stores!(
    concurrent_sweepers_announce_every_run_exactly_once,
    a_sweeper_killed_mid_post_loses_nothing_and_posts_once,
    a_stall_is_announced_once_per_stall,
    a_deadline_is_announced_once_and_the_run_is_no_longer_polled,
    malformed_records_are_set_aside_once_while_good_runs_are_announced,
    no_secret_in_any_output_of_a_sweep,
    register_refuses_path_like_ids_and_never_resets_a_notified_run,
);

#[tokio::test]
async fn serve_announces_a_run_and_stops_cleanly_on_sigterm() {
    serve_stops_cleanly(Backend::Sqlite).await;
}

/// (5, SQLite only) A row whose key is not text (a hand-written BLOB) is malformed like
/// any other: reported once, then out of the sweep.
#[tokio::test]
async fn a_sqlite_row_keyed_by_a_blob_is_reported_once() {
    let sw = SweepWorld::start(Backend::Sqlite).await;
    sw.store
        .put_raw(&[("runId", Raw::Odd), ("sweep", s("open"))])
        .await;
    let first = sw.sweep_ok().await;
    assert_eq!(summary(&first)["malformed"], 1, "{}", first.stderr);
    assert!(
        first.stderr.contains("runId is not a string"),
        "{}",
        first.stderr
    );
    let second = sw.sweep_ok().await;
    assert_eq!(
        summary(&second)["checked"],
        0,
        "set aside, it is not reported again:\n{}",
        second.stderr
    );
}

#[tokio::test]
async fn a_deleted_webhook_fails_the_record_not_the_sweep() {
    deleted_webhook(Backend::Sqlite).await;
}

/// A run whose tasks are all done from the start.
fn finished_run(run_id: &str) -> run_notifier::sim::runtime::ScriptedRun {
    run_of(
        run_id,
        vec![
            task("a", "Build", &[(0.0, "done")]),
            task("b", "Test", &[(0.0, "done")]),
        ],
    )
}

/// A task that is building from the start and never moves by itself.
fn stuck(id: &str) -> ScriptedTask {
    task(id, id, &[(0.0, "building")])
}

/// Sets the lease, with an HTTP timeout longer than any post the test holds.
fn with_lease<'c>(command: &'c mut Command, seconds: &str) -> &'c mut Command {
    command
        .env("NOTIFIER_LEASE_SECONDS", seconds)
        .env("HTTP_TIMEOUT_SECONDS", "30")
}

/// (1) Twenty runs finishing between 0.3 s and 4 s, eight sweeper processes each sweeping
/// in a loop: every run gets exactly one finish message, with its outcome, and nothing else
/// is posted.
async fn concurrent_sweepers_announce_every_run_exactly_once(backend: Backend) {
    const RUNS: usize = 20;
    const SWEEPERS: usize = 8;
    let sw = SweepWorld::start(backend).await;
    let ids: Vec<String> = (1..=RUNS).map(|i| format!("run-{i:02}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    sw.register(&id_refs, &[]).await;

    // run id -> (outcome, when it finishes at the earliest)
    let mut expected: BTreeMap<String, (&str, Instant)> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let end = 0.3 + 3.7 * i as f64 / (RUNS - 1) as f64;
        let last = match i % 4 {
            0 => ending("b", "Test", end, "failed", "exit code 1"),
            1 => ending("b", "Deploy", end, "blocked", "waiting for credentials"),
            _ => task("b", "Test", &[(0.0, "building"), (end, "done")]),
        };
        let outcome = if i % 4 < 2 {
            "attention-required"
        } else {
            "success"
        };
        let tasks = vec![
            task("a", "Build", &[(0.0, "building"), (end * 0.5, "done")]),
            last,
        ];
        let finishes_at = Instant::now() + Duration::from_secs_f64(end);
        sw.world.runtime.upsert_run(run_of(id, tasks));
        expected.insert(id.clone(), (outcome, finishes_at));
    }

    let started = Instant::now();
    let all_seen_at: Cell<Option<Instant>> = Cell::new(None);
    let finish_count = || {
        sw.titles()
            .iter()
            .filter(|t| t.starts_with("Run finished: "))
            .count()
    };
    let (sw, all_seen_at, finish_count) = (&sw, &all_seen_at, &finish_count);
    let sweeper = move |_: usize| async move {
        let mut sweeps = Vec::new();
        loop {
            if finish_count() >= RUNS && all_seen_at.get().is_none() {
                all_seen_at.set(Some(Instant::now()));
            }
            // One more second of sweeping after the last message: any repeat shows.
            let quiet = all_seen_at
                .get()
                .is_some_and(|at| at.elapsed() >= Duration::from_secs(1));
            if quiet || started.elapsed() > Duration::from_secs(90) {
                return sweeps;
            }
            sweeps.push(run(&mut sw.sweep(), COMMAND_LIMIT).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let sweeps: Vec<Finished> = futures_util::future::join_all((0..SWEEPERS).map(sweeper))
        .await
        .into_iter()
        .flatten()
        .collect();

    let messages = sw.messages();
    let mut by_run: BTreeMap<String, usize> = BTreeMap::new();
    for message in &messages {
        let title = title(message);
        let run_id = title
            .strip_prefix("Run finished: ")
            .unwrap_or_else(|| panic!("only finish messages are posted, got {title:?}"));
        *by_run.entry(run_id.to_string()).or_default() += 1;
        let (outcome, finishes_at) = expected
            .get(run_id)
            .unwrap_or_else(|| panic!("a message for an unknown run {run_id:?}"));
        assert!(
            description(message).contains(&format!("**{outcome}**")),
            "{run_id} should be {outcome}: {}",
            description(message)
        );
        assert!(
            message.received_at >= *finishes_at,
            "{run_id} was announced before it finished"
        );
    }
    let once: BTreeMap<String, usize> = ids.iter().map(|id| (id.clone(), 1)).collect();
    if by_run != once {
        // What the sweepers said about the runs announced other than once.
        let wrong: Vec<&String> = ids
            .iter()
            .filter(|id| by_run.get(*id) != Some(&1))
            .collect();
        let said: Vec<String> = sweeps
            .iter()
            .enumerate()
            .flat_map(|(n, done)| {
                done.stderr
                    .lines()
                    .filter(|line| wrong.iter().any(|id| line.contains(id.as_str())))
                    .map(move |line| format!("sweep {n}: {line}"))
            })
            .collect();
        panic!(
            "every run exactly once ({} sweeps ran): {by_run:?}\n{}",
            sweeps.len(),
            said.join("\n")
        );
    }
    let mut notified = 0;
    for done in &sweeps {
        assert_eq!(done.code, 0, "a sweep failed:\n{}", done.stderr);
        notified += summary(done)["notified"].as_u64().expect("notified count");
    }
    let reports: Vec<&str> = sweeps
        .iter()
        .filter(|done| summary(done)["notified"] != 0)
        .map(|done| done.stderr.as_str())
        .collect();
    assert_eq!(
        notified,
        RUNS as u64,
        "the sweeps' summaries count each run once:\n{}",
        reports.join("\n")
    );
    sw.world.assert_no_violations();
}

/// (2) A sweeper killed (SIGKILL) while its post hangs keeps its claim until the lease
/// runs out; then another sweeper posts, once.
async fn a_sweeper_killed_mid_post_loses_nothing_and_posts_once(backend: Backend) {
    let sw = SweepWorld::start(backend).await;
    sw.world.runtime.upsert_run(finished_run("run-kill"));
    sw.register(&["run-kill"], &[]).await;
    sw.world
        .discord
        .push_faults([DiscordFault::Blackhole(Duration::from_secs(60))]);

    // A's claim is taken after this, so its lease ends 2 s after this at the earliest.
    let a_started = now_millis();
    let mut a = sw.sweep();
    let mut a = with_lease(&mut a, "2").spawn().expect("sweeper A starts");
    wait_until(
        Duration::from_secs(30),
        "A's post to reach the capture",
        || sw.attempts() >= 1,
    )
    .await;
    // A waits at most half its lease (1 s) for the post: it is killed well before.
    a.start_kill().expect("SIGKILL to A");
    let killed = wait(a, COMMAND_LIMIT).await;
    assert_ne!(killed.code, 0, "A was killed, it did not finish");

    let mut second = sw.sweep();
    let second = sw.sweep_ok_with(with_lease(&mut second, "2")).await;
    assert!(
        now_millis() < a_started + 2000,
        "the machine is too slow for this check: the second sweep ended after A's lease"
    );
    assert_eq!(summary(&second)["notified"], 0, "{}", second.stderr);
    assert_eq!(summary(&second)["skipped"], 1, "{}", second.stdout);
    assert!(
        sw.messages().is_empty(),
        "nothing posted while A's lease holds"
    );
    assert_eq!(sw.attempts(), 1, "no post attempted while A's lease holds");
    let row = sw.status_of("run-kill").await;
    assert_eq!(
        row["state"], "claimed",
        "A's claim outlives A: {row}\nA said:\n{}",
        killed.stderr
    );
    let record = sw.store.raw("run-kill").await.expect("the record");
    let lease_ends = raw_number(&record, "claimUntil").expect("claimUntil");

    // After the lease, a third sweeper takes the run over and posts.
    while now_millis() <= lease_ends {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut third = sw.sweep();
    let third = sw.sweep_ok_with(with_lease(&mut third, "2")).await;
    assert_eq!(summary(&third)["notified"], 1, "{}", third.stderr);
    assert_eq!(sw.titles(), ["Run finished: run-kill"]);
    assert_eq!(sw.attempts(), 2);
    assert_eq!(sw.status_of("run-kill").await["state"], "notified");

    // And nobody posts it again.
    let fourth = sw.sweep_ok().await;
    assert_eq!(summary(&fourth)["checked"], 0, "{}", fourth.stdout);
    assert_eq!(sw.messages().len(), 1);
    sw.world.assert_no_violations();
}

/// (3) A stall is announced once; progress re-arms it; the finish is announced as such.
async fn a_stall_is_announced_once_per_stall(backend: Backend) {
    let sw = SweepWorld::start(backend).await;
    let sweep = || {
        let mut command = sw.sweep();
        command.env("NOTIFIER_STALL_SECONDS", "1");
        command
    };
    sw.register(&["run-stuck"], &[]).await;
    let mut moved = Instant::now();
    sw.world
        .runtime
        .upsert_run(run_of("run-stuck", vec![stuck("t1"), stuck("t2")]));

    let early = sw.sweep_ok_with(&mut sweep()).await;
    if moved.elapsed() < Duration::from_secs(1) {
        assert!(sw.messages().is_empty(), "no stall before 1 s");
        assert_eq!(summary(&early)["stalled"], 0);
    }

    tokio::time::sleep_until((moved + Duration::from_millis(1200)).into()).await;
    let first = sw.sweep_ok_with(&mut sweep()).await;
    assert_eq!(summary(&first)["stalled"], 1, "{}", first.stderr);
    assert_eq!(sw.titles(), ["Run stalled: run-stuck"]);
    sw.sweep_ok_with(&mut sweep()).await;
    assert_eq!(sw.messages().len(), 1, "the same stall is announced once");
    let row = sw.status_of("run-stuck").await;
    assert_eq!(row["state"], "pending", "{row}");
    assert!(
        row["note"]
            .as_str()
            .is_some_and(|note| note.contains("stall announced")),
        "{row}"
    );

    // Progress: a task moves, so it is no stall any more...
    moved = Instant::now();
    sw.world
        .runtime
        .set_task_status("run-stuck", "t1", "verifying", None);
    sw.sweep_ok_with(&mut sweep()).await;
    if moved.elapsed() < Duration::from_secs(1) {
        assert_eq!(sw.messages().len(), 1, "no stall right after progress");
    }
    // ...until nothing moves again for a second: a new stall, announced once.
    tokio::time::sleep_until((moved + Duration::from_millis(1200)).into()).await;
    let second = sw.sweep_ok_with(&mut sweep()).await;
    assert_eq!(summary(&second)["stalled"], 1, "{}", second.stderr);
    sw.sweep_ok_with(&mut sweep()).await;
    assert_eq!(
        sw.titles(),
        ["Run stalled: run-stuck", "Run stalled: run-stuck"]
    );

    // The run finishes: that is announced as a finish.
    for id in ["t1", "t2"] {
        sw.world
            .runtime
            .set_task_status("run-stuck", id, "done", None);
    }
    sw.sweep_ok_with(&mut sweep()).await;
    sw.sweep_ok_with(&mut sweep()).await;
    assert_eq!(
        sw.titles(),
        [
            "Run stalled: run-stuck",
            "Run stalled: run-stuck",
            "Run finished: run-stuck"
        ]
    );
    for stall in &sw.messages()[..2] {
        let body = stall.body.to_string();
        assert!(!body.contains("Run finished"), "{body}");
    }
    assert_eq!(sw.status_of("run-stuck").await["state"], "notified");
    sw.world.assert_no_violations();
}

/// (4) `--max-wait`: one "still running" notice when the deadline passes, then the run is
/// out of the sweep (not even polled).
async fn a_deadline_is_announced_once_and_the_run_is_no_longer_polled(backend: Backend) {
    let sw = SweepWorld::start(backend).await;
    sw.world
        .runtime
        .upsert_run(run_of("run-forever", vec![stuck("t1")]));
    let before_register = Instant::now();
    let registered = sw.register(&["run-forever"], &["--max-wait", "1"]).await;

    let early = sw.sweep_ok().await;
    if before_register.elapsed() < Duration::from_secs(1) {
        assert!(sw.messages().is_empty(), "no notice before the deadline");
        assert_eq!(summary(&early)["expired"], 0);
    }

    // The deadline is at most 1 s after `register` exited.
    tokio::time::sleep_until((registered.exited_at + Duration::from_millis(1200)).into()).await;
    let late = sw.sweep_ok().await;
    assert_eq!(summary(&late)["expired"], 1, "{}", late.stderr);
    let titles = sw.titles();
    assert_eq!(titles.len(), 1, "{titles:?}");
    assert!(
        titles[0].starts_with("Run still running: run-forever"),
        "{titles:?}"
    );
    assert_eq!(sw.status_of("run-forever").await["state"], "expired");

    let polled = sw.world.runtime.request_counts();
    let attempts = sw.attempts();
    for _ in 0..2 {
        let done = sw.sweep_ok().await;
        assert_eq!(summary(&done)["checked"], 0, "{}", done.stdout);
    }
    assert_eq!(sw.messages().len(), 1, "the deadline notice is posted once");
    assert_eq!(sw.attempts(), attempts);
    assert_eq!(
        sw.world.runtime.request_counts(),
        polled,
        "an expired run is not polled any more"
    );
    sw.world.assert_no_violations();
}

/// One hand-written bad record and the reason a sweep must give for it.
struct Bad {
    run_id: &'static str,
    extra: Vec<(&'static str, Raw)>,
    reason: &'static str,
}

fn bad(run_id: &'static str, extra: Vec<(&'static str, Raw)>, reason: &'static str) -> Bad {
    Bad {
        run_id,
        extra,
        reason,
    }
}

/// Malformed records of every kind each store can hold.
fn bad_records(backend: Backend) -> Vec<Bad> {
    let mut records = vec![
        bad(
            "bad-registered-text",
            vec![("registeredAt", s("yesterday"))],
            "registeredAt must be a number",
        ),
        bad(
            "bad-base-url",
            vec![("baseUrl", s("ftp://x"))],
            "baseUrl: the runtime URL must start with http:// or https://",
        ),
        bad("bad/slash", vec![], "must not contain '/'"),
        bad("bad..dots", vec![], "must not contain '..'"),
        bad(
            "bad-unknown-state",
            vec![("state", s("done"))],
            "unknown state \"done\"",
        ),
        bad(
            "bad-claimed-no-owner",
            vec![("state", s("claimed"))],
            "a claimed record needs claimOwner",
        ),
        bad(
            "bad-counts-type",
            vec![("counts", Raw::Odd)],
            "counts must be a string",
        ),
    ];
    match backend {
        Backend::DynamoDb => records.push(bad(
            "bad-state-number",
            vec![("state", Raw::N(5))],
            "state must be a string",
        )),
        Backend::Sqlite => {
            // A TEXT column keeps a number as text.
            records.push(bad(
                "bad-state-number",
                vec![("state", Raw::N(5))],
                "unknown state \"5\"",
            ));
            records.push(bad("", vec![], "the run id is empty"));
        }
    }
    records
}

/// (5) Malformed records are reported once each, by run id and reason, and set aside as
/// failed; good runs are announced by the same sweep.
async fn malformed_records_are_set_aside_once_while_good_runs_are_announced(backend: Backend) {
    let sw = SweepWorld::start(backend).await;
    let good = ["run-good-1", "run-good-2", "run-good-3"];
    for id in good {
        sw.world.runtime.upsert_run(finished_run(id));
    }
    sw.register(&good, &[]).await;
    let bads = bad_records(backend);
    for record in &bads {
        let mut item = vec![("runId", s(record.run_id)), ("sweep", s("open"))];
        item.extend(record.extra.iter().cloned());
        sw.store.put_raw(&item).await;
    }

    let first = sw.sweep_ok().await;
    let mut titles = sw.titles();
    titles.sort();
    assert_eq!(
        titles,
        good.map(|id| format!("Run finished: {id}")),
        "{}",
        first.stderr
    );
    assert_eq!(summary(&first)["notified"], 3);
    assert_eq!(summary(&first)["malformed"], bads.len() as u64);
    for record in &bads {
        let quoted = format!("{:?}", record.run_id);
        let lines: Vec<&str> = first
            .stderr
            .lines()
            .filter(|line| line.contains(&quoted))
            .collect();
        assert_eq!(lines.len(), 1, "{quoted} is named once:\n{}", first.stderr);
        assert!(
            lines[0].contains(record.reason),
            "{quoted}: the reason {:?} is given: {}",
            record.reason,
            lines[0]
        );
    }

    let second = sw.sweep_ok().await;
    assert_eq!(summary(&second)["checked"], 0, "{}", second.stdout);
    for record in &bads {
        let quoted = format!("{:?}", record.run_id);
        assert!(
            !second.stderr.contains(&quoted),
            "{quoted} is not reported again:\n{}",
            second.stderr
        );
    }
    assert_eq!(sw.messages().len(), 3);

    // Every set-aside record shows as failed, with the reason as its note.
    let rows = sw.status(None).await;
    let mut wrong = Vec::new();
    for record in &bads {
        let row = rows
            .iter()
            .find(|row| row["runId"] == record.run_id)
            .unwrap_or_else(|| panic!("{:?} is listed: {rows:#?}", record.run_id));
        let note = row["note"].as_str().unwrap_or_default();
        if row["state"] != "failed" || !note.contains(record.reason) {
            wrong.push(format!(
                "{row} (expected state failed, note with {:?})",
                record.reason
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "status shows set-aside records wrongly:\n{}",
        wrong.join("\n")
    );
    for id in good {
        let row = rows.iter().find(|row| row["runId"] == id).expect("listed");
        assert_eq!(row["state"], "notified", "{row}");
    }
    sw.world.assert_no_violations();
}

/// (6) `serve` announces a run that finishes while it runs, and SIGTERM stops it with 0.
async fn serve_stops_cleanly(backend: Backend) {
    let sw = SweepWorld::start(backend).await;
    sw.register(&["run-served"], &[]).await;
    let serve = sw.serve(0.3).spawn().expect("serve starts");
    let serving_since = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let finishes_at = Instant::now() + Duration::from_millis(1000);
    sw.world.runtime.upsert_run(run_of(
        "run-served",
        vec![task("a", "Build", &[(0.0, "building"), (1.0, "done")])],
    ));
    let messages = sw
        .world
        .discord
        .wait_for_messages(1, Duration::from_secs(30))
        .await;
    assert_eq!(messages.len(), 1, "serve announced the run");
    assert_eq!(title(&messages[0]), "Run finished: run-served");
    assert!(messages[0].received_at >= finishes_at);
    assert!(messages[0].received_at >= serving_since);
    // A few more sweeps: no repeat.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sw.messages().len(), 1);

    let pid = serve.id().expect("serve is running") as libc::pid_t;
    let asked = Instant::now();
    // SAFETY: sends a signal to the child this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let done = wait(serve, Duration::from_secs(10)).await;
    let took = done.exited_at.saturating_duration_since(asked);
    assert_eq!(done.code, 0, "serve exits 0 on SIGTERM:\n{}", done.stderr);
    assert!(
        took <= Duration::from_millis(2500),
        "serve took {took:?} to stop"
    );
    assert_eq!(sw.status_of("run-served").await["state"], "notified");
    sw.world.assert_no_violations();
}

/// (7) Discord says the webhook is gone: the record fails with the reason, the sweep goes
/// on (exit 0), and the webhook is never used again for it.
async fn deleted_webhook(backend: Backend) {
    let sw = SweepWorld::start(backend).await;
    sw.world.runtime.upsert_run(finished_run("run-gone"));
    sw.register(&["run-gone"], &[]).await;
    sw.world.discord.forget_webhook(WEBHOOK_ID);

    let first = sw.sweep_ok().await;
    assert_eq!(summary(&first)["failed"], 1, "{}", first.stderr);
    let attempts = sw.world.discord.attempts();
    assert_eq!(attempts.len(), 1, "one attempt, no retry of a 404");
    assert_eq!(attempts[0].status, 404);
    let row = sw.status_of("run-gone").await;
    assert_eq!(row["state"], "failed", "{row}");
    let note = row["note"].as_str().unwrap_or_default();
    assert!(note.to_lowercase().contains("webhook"), "{row}");

    for _ in 0..2 {
        let later = sw.sweep_ok().await;
        assert_eq!(summary(&later)["checked"], 0, "{}", later.stdout);
    }
    assert_eq!(sw.attempts(), 1, "later sweeps do not try again");
    assert!(sw.messages().is_empty());
    sw.world.assert_no_violations();
}

fn assert_clean(done: &Finished, case: &str) {
    let output = done.all_output();
    for secret in [TOKEN, API_KEY, "SeCrEt"] {
        assert!(
            !output.contains(secret),
            "{case}: a secret leaked ({secret}):\n{output}"
        );
    }
}

/// (8) Neither the webhook token nor the runtime API key shows in a sweep's output at
/// trace level: on success, with the runtime refusing the key (401), with a run the runtime
/// does not know (404), with the webhook deleted (404).
async fn no_secret_in_any_output_of_a_sweep(backend: Backend) {
    let sw = SweepWorld::start_with_key(backend, Some(API_KEY)).await;
    let traced = |key: &str| {
        let mut command = sw.sweep();
        command
            .env("NOTIFIER_LOG", "trace")
            .env("RUST_LOG", "trace")
            .env("RUNTIME_API_KEY", key);
        command
    };
    sw.world.runtime.upsert_run(finished_run("run-secret"));
    sw.register(&["run-secret"], &[]).await;
    let success = sw.sweep_ok_with(&mut traced(API_KEY)).await;
    assert_eq!(summary(&success)["notified"], 1, "{}", success.stderr);
    assert!(
        success.stderr.contains(&format!("{WEBHOOK_ID}/****")),
        "the redacted webhook is shown at trace level: {}",
        success.stderr
    );
    assert_clean(&success, "success");

    sw.world.runtime.upsert_run(finished_run("run-secret-2"));
    sw.register(&["run-secret-2", "run-unknown"], &[]).await;
    let refused_before = sw.world.runtime.request_counts().unauthorized;
    let refused = sw.sweep_ok_with(&mut traced("key-SeCrEt-wrong")).await;
    assert!(sw.world.runtime.request_counts().unauthorized > refused_before);
    assert_eq!(summary(&refused)["errors"], 2, "{}", refused.stderr);
    assert_clean(&refused, "runtime refused the key (401)");

    sw.world.discord.forget_webhook(WEBHOOK_ID);
    let not_found_before = sw.world.runtime.request_counts().not_found;
    let gone = sw.sweep_ok_with(&mut traced(API_KEY)).await;
    assert!(sw.world.runtime.request_counts().not_found > not_found_before);
    assert_eq!(summary(&gone)["failed"], 1, "{}", gone.stderr);
    assert_eq!(
        sw.world.discord.attempts().last().map(|a| a.status),
        Some(404)
    );
    assert_clean(&gone, "unknown run (404) and webhook deleted (404)");
    assert_eq!(sw.messages().len(), 1);
}

/// (9) `register` refuses ids a URL or a table would read as a path (exit 2, nothing
/// stored), and registering a notified run again changes nothing.
async fn register_refuses_path_like_ids_and_never_resets_a_notified_run(backend: Backend) {
    let sw = SweepWorld::start(backend).await;
    for (ids, reason) in [
        (&["bad/id"][..], "must not contain '/'"),
        (&["x..y"][..], "must not contain '..'"),
        (&["fine-run", "bad/id"][..], "must not contain '/'"),
    ] {
        let done = run(sw.command("register").args(ids), COMMAND_LIMIT).await;
        assert_eq!(done.code, 2, "{ids:?}: {}", done.stderr);
        assert!(done.stderr.contains(reason), "{ids:?}: {}", done.stderr);
        let named = ids
            .iter()
            .any(|id| id.contains(['/', '.']) && done.stderr.contains(id));
        assert!(named, "{ids:?}: the id is named: {}", done.stderr);
    }
    assert_eq!(
        sw.status(None).await,
        Vec::<serde_json::Value>::new(),
        "nothing was registered, not even the good id of a refused batch"
    );

    sw.world.runtime.upsert_run(finished_run("run-twice"));
    let first = sw.register(&["run-twice"], &[]).await;
    assert!(
        first.stdout.contains("registered run-twice"),
        "{}",
        first.stdout
    );
    sw.sweep_ok().await;
    assert_eq!(sw.titles(), ["Run finished: run-twice"]);

    let again = sw.register(&["run-twice"], &[]).await;
    assert!(
        again.stdout.contains("already registered (notified)"),
        "{}",
        again.stdout
    );
    let after = sw.sweep_ok().await;
    assert_eq!(summary(&after)["checked"], 0, "{}", after.stdout);
    assert_eq!(
        sw.messages().len(),
        1,
        "a notified run is never announced again"
    );
    assert_eq!(sw.attempts(), 1);
    assert_eq!(sw.status_of("run-twice").await["state"], "notified");
    sw.world.assert_no_violations();
}
